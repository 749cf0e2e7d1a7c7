//! Which lake a command reads: a local folder, or a deployed lake bucket.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::{ArgGroup, Args};
use pinpipe_lake::{config::validate_bucket_name, LocalStore, ObjectStore, S3Store};

/// The lake folder `pinpipe run` uses when told nothing else.
pub const DEFAULT_LAKE: &str = "pinpipe-lake";

/// `--lake DIR` or `--bucket NAME`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("where").args(["lake", "bucket"])))]
pub struct LakeArgs {
    /// A lake folder (default: pinpipe-lake, the lake of `pinpipe run`).
    #[arg(long)]
    lake: Option<PathBuf>,
    /// A lake bucket on S3, read with the standard AWS credential chain (environment, profile, SSO
    /// cache, instance role) and region; AWS_ENDPOINT_URL points at another S3 server.
    #[arg(long)]
    bucket: Option<String>,
}

impl LakeArgs {
    /// The lake named, checked to be there.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn ObjectStore>> {
        let store: Arc<dyn ObjectStore> = match (&self.bucket, &self.lake) {
            (Some(bucket), _) => {
                validate_bucket_name(bucket).with_context(|| format!("--bucket {bucket:?}"))?;
                Arc::new(S3Store::from_env(bucket).await)
            }
            (None, lake) => {
                let lake = lake.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_LAKE));
                if !lake.is_dir() {
                    bail!(
                        "no lake folder {} (run `pinpipe run` first, or name one with --lake or --bucket)",
                        lake.display()
                    );
                }
                Arc::new(LocalStore::new(lake))
            }
        };
        store.check().await?;
        Ok(store)
    }
}
