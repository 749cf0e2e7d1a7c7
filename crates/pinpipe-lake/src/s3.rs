//! The lake in an Amazon S3 bucket, or any S3-compatible server (moto in the tests).

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;

use crate::store::{ObjectMeta, ObjectStore, StoreError, Url};

/// The environment variables that point the SDK at a server other than AWS.
const ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"];

/// An [`ObjectStore`] keeping each object as the S3 object of the same key in one bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// A store over `bucket`, using a client configured by the caller.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// A store over `bucket` with a client from [`S3Store::client_from_env`].
    pub async fn from_env(bucket: &str) -> Self {
        Self::new(Self::client_from_env().await, bucket)
    }

    /// An S3 client configured the standard AWS way (environment, profile, Lambda role). When
    /// `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3` names another server (moto, a local S3), buckets are
    /// addressed by path (`http://host/bucket/key`), since such servers have no per-bucket host names.
    pub async fn client_from_env() -> Client {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let custom_endpoint =
            ENDPOINT_VARIABLES.iter().any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
        let config = aws_sdk_s3::config::Builder::from(&shared).force_path_style(custom_endpoint).build();
        Client::from_conf(config)
    }

    /// `s3://bucket/key`, or `s3://bucket` for an empty key.
    fn url(&self, key: &str) -> String {
        if key.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{key}", self.bucket)
        }
    }

    /// Turns an SDK failure on `key` (empty for the bucket itself) into a [`StoreError`].
    fn error<E>(&self, operation: &'static str, key: &str, err: SdkError<E, HttpResponse>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err.code() {
            // "NotFound" is the SDK's code for a bare 404, as HEAD requests (HeadBucket) get.
            Some("NoSuchKey" | "NotFound") if !key.is_empty() => StoreError::NotFound(self.url(key)),
            Some("NoSuchBucket" | "NotFound") => StoreError::LocationMissing(self.url("")),
            _ => StoreError::Io { operation, location: self.url(key), message: DisplayErrorContext(&err).to_string() },
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn location(&self) -> String {
        format!("s3://{}/", self.bucket)
    }

    fn url(&self) -> Url {
        Url::parse(&self.location()).expect("a valid bucket name makes a valid s3 URL")
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(drop)
            .map_err(|err| self.error("check", "", err))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        let mut objects = Vec::new();
        // S3 lists keys in UTF-8 byte order, which is the order of Rust strings: no sorting needed.
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.error("list", prefix, err))?;
            objects.extend(page.contents().iter().map(|object| ObjectMeta {
                key: object.key().unwrap_or_default().to_string(),
                size: object.size().and_then(|size| u64::try_from(size).ok()).unwrap_or(0),
                version: object.e_tag().unwrap_or_default().to_string(),
            }));
        }
        Ok(objects)
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| self.error("get", key, err))?;
        let body = output.body.collect().await.map_err(|err| StoreError::Io {
            operation: "get",
            location: self.url(key),
            message: DisplayErrorContext(&err).to_string(),
        })?;
        Ok(body.into_bytes())
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        // A PutObject is atomic: the object appears whole or not at all.
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .map_err(|err| self.error("put", key, err))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        // S3 answers a delete of a missing key with success, as the port asks.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(|err| self.error("delete", key, err))
    }
}
