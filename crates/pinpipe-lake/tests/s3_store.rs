//! [`S3Store`] against a real S3-compatible server: moto, as `scripts/services.sh start` runs it.
//!
//! The endpoint comes from `AWS_ENDPOINT_URL` (default `http://127.0.0.1:5000`); each test works in a
//! bucket of its own, so tests run in parallel and never see each other's objects.
#![cfg(feature = "local-servers")]

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use pinpipe_lake::testing::{fresh_s3_store as fresh_store, local_environment, unique_bucket};
use pinpipe_lake::{get_many, ObjectStore, S3Store, StoreError};

fn keys(objects: &[pinpipe_lake::ObjectMeta]) -> Vec<&str> {
    objects.iter().map(|o| o.key.as_str()).collect()
}

#[tokio::test]
async fn put_get_and_list_round_trip() {
    let store = fresh_store("roundtrip").await;
    store.check().await.unwrap();
    assert!(store.list("").await.unwrap().is_empty());

    let body = Bytes::from_static(b"{\"index\":1}\n{\"index\":2}\n");
    store.put("topics/p.pin/partition=0/p.pin+0+0000000000.json", body.clone()).await.unwrap();
    store.put("cleaned/pin/part.parquet", Bytes::from_static(b"PAR1")).await.unwrap();

    assert_eq!(store.get("topics/p.pin/partition=0/p.pin+0+0000000000.json").await.unwrap(), body);
    let raw = store.list("topics/").await.unwrap();
    assert_eq!(keys(&raw), ["topics/p.pin/partition=0/p.pin+0+0000000000.json"]);
    assert_eq!(raw[0].size, body.len() as u64);
    assert!(!raw[0].version.is_empty());

    // Rewriting an object changes its version.
    store.put("topics/p.pin/partition=0/p.pin+0+0000000000.json", Bytes::from_static(b"{}\n")).await.unwrap();
    assert_ne!(store.list("topics/").await.unwrap()[0].version, raw[0].version);
}

#[tokio::test]
async fn list_pages_through_more_than_a_thousand_keys_in_order() {
    let store = fresh_store("pages").await;
    // Written in scrambled order, concurrently; 1,100 keys need two ListObjectsV2 pages.
    let written: Vec<String> = (0..1_100).map(|i| format!("many/{:04}.json", (i * 7_919) % 1_100)).collect();
    stream::iter(&written)
        .map(|key| store.put(key, Bytes::from(key.clone())))
        .buffer_unordered(32)
        .try_collect::<()>()
        .await
        .unwrap();
    store.put("other/x.json", Bytes::new()).await.unwrap();
    store.put("many.json", Bytes::new()).await.unwrap();

    let listed = store.list("many/").await.unwrap();
    let mut expected = written.clone();
    expected.sort();
    assert_eq!(keys(&listed), expected);
    assert!(listed.iter().all(|o| o.size == 14));
    assert_eq!(store.list("").await.unwrap().len(), 1_102);
    assert_eq!(keys(&store.list("many").await.unwrap()).first(), Some(&"many.json"));
}

#[tokio::test]
async fn missing_object_and_missing_bucket_are_named() {
    let store = fresh_store("missing").await;
    let err = store.get("no/such.json").await.unwrap_err();
    let expected = format!("{}no/such.json", store.location());
    assert!(matches!(&err, StoreError::NotFound(url) if *url == expected), "{err}");

    let absent = unique_bucket("absent");
    let absent_url = format!("s3://{absent}");
    let missing = S3Store::new(S3Store::client_from_env().await, absent);
    for err in
        [missing.check().await.unwrap_err(), missing.list("").await.unwrap_err(), missing.get("k").await.unwrap_err()]
    {
        assert!(matches!(&err, StoreError::LocationMissing(url) if *url == absent_url), "{err}");
        assert!(err.to_string().contains(&absent_url), "{err}");
    }
}

#[tokio::test]
async fn delete_removes_and_ignores_missing_objects() {
    let store = fresh_store("delete").await;
    store.put("a.json", Bytes::from_static(b"1")).await.unwrap();
    store.delete("a.json").await.unwrap();
    assert!(matches!(store.get("a.json").await, Err(StoreError::NotFound(_))));
    assert!(store.list("").await.unwrap().is_empty());
    store.delete("a.json").await.unwrap();
}

#[tokio::test]
async fn get_many_keeps_the_order_of_keys() {
    let store = fresh_store("getmany").await;
    let keys: Vec<String> = (0..40).map(|i| format!("k/{:02}", (i * 13) % 40)).collect();
    for key in &keys {
        store.put(key, Bytes::from(key.clone())).await.unwrap();
    }
    let bodies = get_many(&store, &keys, 8).await.unwrap();
    assert_eq!(bodies.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<Vec<_>>(), keys);

    let with_missing = [keys[0].clone(), "k/missing".to_string()];
    assert!(matches!(get_many(&store, &with_missing, 8).await, Err(StoreError::NotFound(_))));
}

#[tokio::test]
async fn other_failures_name_the_operation_the_object_and_the_cause() {
    local_environment();
    // Nothing listens on loopback port 9: the request cannot even connect.
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&shared).force_path_style(true).build();
    let store = S3Store::new(aws_sdk_s3::Client::from_conf(config), "lake");
    let err = store.put("topics/a.json", Bytes::new()).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Io { operation: "put", .. }), "{message}");
    assert!(message.starts_with("put s3://lake/topics/a.json: "), "{message}");
    assert!(message.to_lowercase().contains("connect"), "{message}");
}
