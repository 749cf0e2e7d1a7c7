//! The object-store port: the few operations the pipeline needs from S3 or a local folder.

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{self, FuturesOrdered, Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
pub use url::Url;

/// One stored object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object's key, relative to the store's root (`topics/…`, `cleaned/…`).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// A token that changes whenever the object's content is rewritten (the S3 ETag; size and
    /// modification time for a local file).
    pub version: String,
}

/// Why a store operation failed. Every message names the object or location involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bucket or lake folder itself does not exist.
    #[error("lake location {0} does not exist")]
    LocationMissing(String),
    /// The object does not exist.
    #[error("object {0} does not exist")]
    NotFound(String),
    /// Any other failure, with the operation, the object and the cause.
    #[error("{operation} {location}: {message}")]
    Io {
        /// What was attempted (`get`, `put`, `list`, `delete`, `check`).
        operation: &'static str,
        /// The full location (`s3://bucket/key` or a path).
        location: String,
        /// The cause, as the backend reported it.
        message: String,
    },
}

/// The lake's storage. Keys are `/`-separated and relative to the store's root.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// A human-readable name of the lake root, such as `s3://bucket/prefix/` or a folder path.
    fn location(&self) -> String;

    /// The lake root as a URL ending in `/` (`s3://bucket/`, `file:///abs/folder/`), for what addresses
    /// the lake by URL: its Delta tables.
    fn url(&self) -> Url;

    /// Fails with [`StoreError::LocationMissing`] unless the bucket or folder exists.
    async fn check(&self) -> Result<(), StoreError>;

    /// Every object whose key starts with `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// The whole content of one object.
    async fn get(&self, key: &str) -> Result<Bytes, StoreError>;

    /// Writes one object whole, replacing any object at that key. A failed put leaves no partial object.
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError>;

    /// Removes one object; removing a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Reads many objects with up to `concurrency` requests in flight, returning bodies in the order of `keys`.
pub async fn get_many(store: &dyn ObjectStore, keys: &[String], concurrency: usize) -> Result<Vec<Bytes>, StoreError> {
    stream::iter(keys).map(|key| store.get(key)).buffered(concurrency.max(1)).try_collect().await
}

/// How far [`get_in_order`] reads ahead of its consumer.
#[derive(Debug, Clone, Copy)]
pub struct ReadAhead {
    /// Requests in flight at most.
    pub requests: usize,
    /// Bytes in flight at most, by the objects' listed sizes (one object larger than this is still read).
    pub bytes: u64,
}

/// Reads `objects` in their order, yielding each body as soon as it and those before it are read, with
/// at most `ahead` requests and bytes in flight: a consumer that drops each body once used holds those
/// bytes, not every object.
pub fn get_in_order<'a>(
    store: &'a dyn ObjectStore,
    objects: &'a [ObjectMeta],
    ahead: ReadAhead,
) -> impl Stream<Item = Result<Bytes, StoreError>> + Send + 'a {
    let mut waiting = objects.iter().peekable();
    let mut in_flight: FuturesOrdered<BoxFuture<'a, (u64, Result<Bytes, StoreError>)>> = FuturesOrdered::new();
    let mut bytes_in_flight = 0u64;
    stream::poll_fn(move |context| {
        while let Some(next) = waiting.peek() {
            let fits = in_flight.is_empty()
                || (in_flight.len() < ahead.requests.max(1) && bytes_in_flight + next.size <= ahead.bytes);
            if !fits {
                break;
            }
            let object = waiting.next().expect("peeked");
            bytes_in_flight += object.size;
            in_flight.push_back(Box::pin(async move { (object.size, store.get(&object.key).await) }));
        }
        in_flight.poll_next_unpin(context).map(|read| {
            read.map(|(size, body)| {
                bytes_in_flight -= size;
                body
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::LocalStore;

    /// A folder lake whose reads take a few turns of the runtime, counting the bytes being read.
    struct Counting {
        inner: LocalStore,
        in_flight: AtomicU64,
        most_in_flight: AtomicU64,
    }

    #[async_trait]
    impl ObjectStore for Counting {
        fn location(&self) -> String {
            self.inner.location()
        }
        fn url(&self) -> Url {
            self.inner.url()
        }
        async fn check(&self) -> Result<(), StoreError> {
            self.inner.check().await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
            self.inner.list(prefix).await
        }
        async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
            let size = self.inner.list(key).await?.first().map_or(0, |object| object.size);
            let now = self.in_flight.fetch_add(size, Ordering::SeqCst) + size;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            for _ in 0..5 {
                tokio::task::yield_now().await;
            }
            let body = self.inner.get(key).await;
            self.in_flight.fetch_sub(size, Ordering::SeqCst);
            body
        }
        async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
            self.inner.put(key, body).await
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.inner.delete(key).await
        }
    }

    #[tokio::test]
    async fn get_in_order_keeps_the_order_and_reads_ahead_within_its_bytes() {
        let folder = tempfile::tempdir().unwrap();
        let store = Counting { inner: LocalStore::new(folder.path()), in_flight: 0.into(), most_in_flight: 0.into() };
        // 30 objects of 100 to 390 bytes, and one of 5,000 (larger than the read-ahead).
        let mut keys: Vec<String> = Vec::new();
        for index in 0..31u64 {
            let key = format!("o/{index:02}");
            let size = if index == 17 { 5_000 } else { 100 + (index * 37) % 300 };
            store.put(&key, Bytes::from(vec![b'a' + (index % 26) as u8; size as usize])).await.unwrap();
            keys.push(key);
        }
        let objects = store.list("o/").await.unwrap();
        let ahead = ReadAhead { requests: 8, bytes: 1_000 };
        let small: Vec<ObjectMeta> = objects.iter().filter(|object| object.size < 1_000).cloned().collect();
        let _: Vec<Bytes> = get_in_order(&store, &small, ahead).try_collect().await.unwrap();
        let most = store.most_in_flight.load(Ordering::SeqCst);
        assert!(most > 390 && most <= 1_000, "it reads ahead, within its bytes: {most} in flight at most");

        let bodies: Vec<Bytes> = get_in_order(&store, &objects, ahead).try_collect().await.unwrap();
        let expected = futures::future::try_join_all(keys.iter().map(|key| store.inner.get(key))).await.unwrap();
        assert_eq!(bodies, expected, "every body, the larger one too, in the order of the objects");

        let mut with_missing = objects[..2].to_vec();
        with_missing.push(ObjectMeta { key: "o/missing".into(), size: 1, version: String::new() });
        let read: Result<Vec<Bytes>, _> = get_in_order(&store, &with_missing, ahead).try_collect().await;
        assert!(matches!(read, Err(StoreError::NotFound(_))));
    }
}
