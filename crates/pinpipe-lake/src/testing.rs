//! Test support (feature `test-support`): lakes in fresh folders and, with the feature `local-servers`,
//! in fresh buckets of the local S3 server (moto, as `scripts/services.sh start` runs it). Shared by
//! every crate's tests that touch a lake.

use std::future::Future;
use std::sync::{Arc, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{LocalStore, ObjectStore, S3Store};

/// Runs `test` on a lake in a fresh folder and, with the feature `local-servers` (which
/// `scripts/test.sh` turns on), again on a fresh bucket of the local S3 server named after `name`.
pub async fn on_each_lake<F, Fut>(name: &str, test: F)
where
    F: Fn(Arc<dyn ObjectStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let folder = tempfile::tempdir().expect("a temporary folder");
    test(Arc::new(LocalStore::new(folder.path()))).await;
    if cfg!(feature = "local-servers") {
        test(Arc::new(fresh_s3_store(name).await)).await;
    }
}

/// Fills in what the SDK needs to reach moto on loopback, keeping whatever the caller already set.
pub fn local_environment() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (name, value) in [
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            if std::env::var_os(name).is_none() {
                // SAFETY: runs once, before any test of this process reads the environment.
                unsafe { std::env::set_var(name, value) };
            }
        }
    });
}

/// A bucket name no other test (or earlier run) uses.
pub fn unique_bucket(test: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos();
    format!("pinpipe-{test}-{}-{nanos}", std::process::id())
}

/// A store over a fresh, empty bucket of the local S3 server.
pub async fn fresh_s3_store(test: &str) -> S3Store {
    local_environment();
    let client = S3Store::client_from_env().await;
    let bucket = unique_bucket(test);
    client.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|err| {
        panic!(
            "cannot create bucket {bucket} at {} (is moto running? `scripts/services.sh start`): {}",
            std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
            aws_sdk_s3::error::DisplayErrorContext(&err)
        )
    });
    S3Store::new(client, bucket)
}

/// A store over a bucket that does not exist on the local S3 server: every write fails.
pub async fn missing_s3_store() -> S3Store {
    local_environment();
    S3Store::new(S3Store::client_from_env().await, unique_bucket("absent"))
}

/// A new, empty folder for a benchmark's folder lake (`name` and the process id in its name): in
/// `/dev/shm` where there is one, so that the `fsync` of [`crate::LocalStore`]'s writes costs
/// nothing and a benchmark measures its CPU rather than the disk (S3 is not a local disk either);
/// else in the temporary folder. The caller removes it.
pub fn scratch_folder(name: &str) -> std::path::PathBuf {
    let memory = std::path::Path::new("/dev/shm");
    let parent = if memory.is_dir() { memory.to_path_buf() } else { std::env::temp_dir() };
    let folder = parent.join(format!("pinpipe-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap_or_else(|err| panic!("creating {}: {err}", folder.display()));
    folder
}

/// The 2,178 real record triples in the repository (`data/real-sample`).
pub fn real_sample_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/real-sample")
}

/// Every object of `store` under `prefix` with its content, to compare a lake before and after.
pub async fn snapshot(
    store: &dyn crate::ObjectStore,
    prefix: &str,
) -> std::collections::BTreeMap<String, bytes::Bytes> {
    let mut objects = std::collections::BTreeMap::new();
    for object in store.list(prefix).await.expect("listing the lake") {
        let body = store.get(&object.key).await.expect("reading a listed object");
        objects.insert(object.key, body);
    }
    objects
}
