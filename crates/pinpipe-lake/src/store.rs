//! The object-store port: the few operations the pipeline needs from S3 or a local folder.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
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
