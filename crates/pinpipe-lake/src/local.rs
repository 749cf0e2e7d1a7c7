//! The lake in a local folder: what `pinpipe run` and the tests use when no S3 is at hand.

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use bytes::Bytes;
use url::Url;

use crate::store::{ObjectMeta, ObjectStore, StoreError};

/// Names of in-flight writes start with this; listings never show them.
const TEMP_PREFIX: &str = ".pinpipe-tmp.";

/// Makes every temporary file name of this process unique, even for concurrent puts of one key.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An [`ObjectStore`] keeping each object as a file under a root folder: key `a/b/c.json` is the file
/// `<root>/a/b/c.json`.
///
/// Writes go to a temporary file beside the target and are renamed into place, so readers and listings
/// see either the old object or the new one, never a partial one.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root`. Nothing is touched until the first operation; [`ObjectStore::check`]
    /// tells whether the folder exists.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file of `key`, refusing keys that could leave the root (absolute, `.`/`..`, empty segments)
    /// or that would be taken for an in-flight write.
    fn path_of(&self, operation: &'static str, key: &str) -> Result<PathBuf, StoreError> {
        let valid = !key.is_empty()
            && key.split('/').all(|segment| !matches!(segment, "" | "." | "..") && !segment.starts_with(TEMP_PREFIX))
            && Path::new(key).components().all(|c| matches!(c, Component::Normal(_)));
        if valid {
            Ok(self.root.join(key))
        } else {
            Err(StoreError::Io {
                operation,
                location: self.root.join(key).display().to_string(),
                message: "not a valid object key (expected relative `/`-separated names)".to_string(),
            })
        }
    }
}

/// A [`StoreError::Io`] for a failed file-system call on `path`.
fn io_error(operation: &'static str, path: &Path, err: io::Error) -> StoreError {
    StoreError::Io { operation, location: path.display().to_string(), message: err.to_string() }
}

/// Runs blocking file-system work off the async runtime.
async fn blocking<T: Send + 'static>(
    operation: &'static str,
    path: &Path,
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join_err| Err(io_error(operation, path, io::Error::other(join_err))))
}

/// Every object file under `dir` (recursively) whose key starts with `prefix`; `dir_key` is the key
/// prefix of `dir` itself (empty or ending in `/`).
fn walk(dir: &Path, dir_key: &str, prefix: &str, out: &mut Vec<ObjectMeta>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // A folder removed while we walk holds nothing any more.
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue; // not a key this store could have written
        };
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let key = format!("{dir_key}{name}");
        // Follows symbolic links, so a linked folder or file reads as if it were here.
        let meta = match std::fs::metadata(entry.path()) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        if meta.is_dir() {
            let sub_key = format!("{key}/");
            // Descend only where keys matching the prefix can be.
            if sub_key.starts_with(prefix) || prefix.starts_with(&sub_key) {
                walk(&entry.path(), &sub_key, prefix, out)?;
            }
        } else if key.starts_with(prefix) {
            let mtime_nanos = meta.modified()?.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos());
            out.push(ObjectMeta { key, size: meta.len(), version: format!("{}-{mtime_nanos}", meta.len()) });
        }
    }
    Ok(())
}

/// Writes `body` to a temporary file in `path`'s folder, flushes it to disk and renames it to `path`.
fn write_atomically(path: &Path, body: &[u8]) -> io::Result<()> {
    let dir = path.parent().expect("an object path is inside the root");
    std::fs::create_dir_all(dir)?;
    let temp =
        dir.join(format!("{TEMP_PREFIX}{}.{}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let written = std::fs::File::create(&temp).and_then(|mut file| {
        file.write_all(body)?;
        file.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        // Best effort: the temporary file is invisible to listings anyway.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn url(&self) -> Url {
        let root = std::path::absolute(&self.root).unwrap_or_else(|_| self.root.clone());
        Url::from_directory_path(&root).expect("an absolute path is a file URL")
    }

    async fn check(&self) -> Result<(), StoreError> {
        match tokio::fs::metadata(&self.root).await {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::Io {
                operation: "check",
                location: self.location(),
                message: "exists but is not a folder".to_string(),
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(StoreError::LocationMissing(self.location())),
            Err(err) => Err(io_error("check", &self.root, err)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.check().await?;
        let (root, prefix) = (self.root.clone(), prefix.to_string());
        blocking("list", &self.root, move || {
            let mut objects = Vec::new();
            walk(&root, "", &prefix, &mut objects).map_err(|err| io_error("list", &root.join(&prefix), err))?;
            objects.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            Ok(objects)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let path = self.path_of("get", key)?;
        match tokio::fs::read(&path).await {
            Ok(body) => Ok(Bytes::from(body)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound(path.display().to_string())),
            Err(err) => Err(io_error("get", &path, err)),
        }
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        let path = self.path_of("put", key)?;
        let target = path.clone();
        blocking("put", &path, move || write_atomically(&target, &body).map_err(|err| io_error("put", &target, err)))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of("delete", key)?;
        match tokio::fs::remove_file(&path).await {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(io_error("delete", &path, err)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        (dir, store)
    }

    fn keys(objects: &[ObjectMeta]) -> Vec<&str> {
        objects.iter().map(|o| o.key.as_str()).collect()
    }

    #[tokio::test]
    async fn check_names_a_missing_folder() {
        let (dir, _) = store();
        let missing = dir.path().join("nope");
        let err = LocalStore::new(&missing).check().await.unwrap_err();
        assert!(matches!(&err, StoreError::LocationMissing(path) if *path == missing.display().to_string()), "{err}");
        assert!(matches!(LocalStore::new(&missing).list("").await, Err(StoreError::LocationMissing(_))));
        LocalStore::new(dir.path()).check().await.unwrap();
    }

    #[tokio::test]
    async fn put_creates_folders_and_get_reads_back() {
        let (dir, store) = store();
        store.put("topics/p.pin/partition=0/a.json", Bytes::from_static(b"{\"a\":1}\n")).await.unwrap();
        assert!(dir.path().join("topics/p.pin/partition=0/a.json").is_file());
        assert_eq!(store.get("topics/p.pin/partition=0/a.json").await.unwrap(), Bytes::from_static(b"{\"a\":1}\n"));
    }

    #[tokio::test]
    async fn put_replaces_and_leaves_no_temporary_file() {
        let (dir, store) = store();
        store.put("x/y.json", Bytes::from_static(b"old")).await.unwrap();
        let before = store.list("").await.unwrap();
        store.put("x/y.json", Bytes::from_static(b"newer")).await.unwrap();
        let after = store.list("").await.unwrap();
        assert_eq!(store.get("x/y.json").await.unwrap(), Bytes::from_static(b"newer"));
        assert_eq!((after[0].size, after.len()), (5, 1));
        assert_ne!(before[0].version, after[0].version);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("x")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["y.json"]);
    }

    #[tokio::test]
    async fn list_is_recursive_sorted_and_filtered_by_any_prefix() {
        let (dir, store) = store();
        for key in ["b/2.json", "a/z/1.json", "b/10.json", "a/1.json", "c.json", "b/1.json"] {
            store.put(key, Bytes::from(key.to_string())).await.unwrap();
        }
        // An in-flight write is never listed.
        std::fs::write(dir.path().join("b").join(format!("{TEMP_PREFIX}1.2.3.json")), b"partial").unwrap();

        let all = store.list("").await.unwrap();
        assert_eq!(keys(&all), ["a/1.json", "a/z/1.json", "b/1.json", "b/10.json", "b/2.json", "c.json"]);
        let meta = &all[0];
        assert_eq!(meta.size, 8);
        assert!(meta.version.starts_with("8-") && meta.version[2..].parse::<u128>().is_ok(), "{}", meta.version);

        assert_eq!(keys(&store.list("b/").await.unwrap()), ["b/1.json", "b/10.json", "b/2.json"]);
        assert_eq!(keys(&store.list("b/1").await.unwrap()), ["b/1.json", "b/10.json"]);
        assert_eq!(keys(&store.list("a").await.unwrap()), ["a/1.json", "a/z/1.json"]);
        assert_eq!(keys(&store.list("a/z/").await.unwrap()), ["a/z/1.json"]);
        assert!(store.list("nothing/here/").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn missing_objects() {
        let (dir, store) = store();
        let err = store.get("no/such.json").await.unwrap_err();
        let expected = dir.path().join("no/such.json").display().to_string();
        assert!(matches!(&err, StoreError::NotFound(path) if *path == expected), "{err}");
        store.delete("no/such.json").await.unwrap();

        store.put("k.json", Bytes::from_static(b"1")).await.unwrap();
        store.delete("k.json").await.unwrap();
        assert!(matches!(store.get("k.json").await, Err(StoreError::NotFound(_))));
        assert!(store.list("").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_root() {
        let (_dir, store) = store();
        for key in
            ["", "/etc/passwd", "../x.json", "a/../../x.json", "a//b.json", "a/./b.json", "a/", "a/.pinpipe-tmp.1"]
        {
            let err = store.put(key, Bytes::new()).await.unwrap_err();
            assert!(matches!(err, StoreError::Io { operation: "put", .. }), "{key}: {err}");
            assert!(matches!(store.get(key).await, Err(StoreError::Io { operation: "get", .. })), "{key}");
        }
    }
}
