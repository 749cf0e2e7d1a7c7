//! `pinpipe replay`: failed invocations and refused records through the handlers again
//! ([`pinpipe_local::replay`]).

use anyhow::bail;
use clap::{Args, ValueEnum};
use pinpipe_local::replay::{replay as replay_lake, ReplayOptions};

use crate::lake::LakeArgs;

/// What `--only` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Only {
    /// The failed invocations kept under aws/lambda/.
    Failed,
    /// The refused records under rejected/.
    Rejected,
}

/// `pinpipe replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// The naming prefix of the topics and streams the records came from.
    #[arg(long, env = "PINPIPE_PREFIX", default_value = "pinpipe")]
    prefix: String,
    /// Only failed invocations, or only refused records (default: both).
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Keep each failed-invocation object after its replay (default: delete it once its event was
    /// taken whole).
    #[arg(long)]
    keep: bool,
}

/// Replays, prints what was done (JSON); fails when a failed invocation is still failing.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    pinpipe_contract::names::validate_prefix(&args.prefix)
        .map_err(|error| anyhow::anyhow!("--prefix {:?}: {error}", args.prefix))?;
    let store = args.lake.open().await?;
    let options = ReplayOptions {
        failed: args.only != Some(Only::Rejected),
        rejected: args.only != Some(Only::Failed),
        keep: args.keep,
    };
    let summary = replay_lake(store, &pinpipe_contract::Names::new(&args.prefix), options).await?;
    println!("{}", serde_json::to_string(&summary)?);
    if !summary.still_failing.is_empty() {
        bail!("{} failed invocation(s) are still failing and were left in place", summary.still_failing.len());
    }
    Ok(())
}
