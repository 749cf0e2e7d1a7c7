//! `pinpipe report`: the HTML report of a batch run, made from what a lake holds (a local folder or
//! a deployed S3 bucket), and where `pinpipe run` and `pinpipe report` put a report on this machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};
use chrono::NaiveDate;
use clap::{ArgGroup, Args};
use pinpipe_lake::{config::validate_bucket_name, LocalStore, ObjectStore, S3Store};

/// The lake folder `pinpipe run` uses when told nothing else.
const DEFAULT_LAKE: &str = "pinpipe-lake";

/// `pinpipe report`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("where").args(["lake", "bucket"])))]
pub struct ReportArgs {
    /// A lake folder (default: pinpipe-lake, the lake of `pinpipe run`).
    #[arg(long)]
    lake: Option<PathBuf>,
    /// A lake bucket on S3, read with the standard AWS credential chain (environment, profile, SSO
    /// cache, instance role) and region; AWS_ENDPOINT_URL points at another S3 server.
    #[arg(long)]
    bucket: Option<String>,
    /// The run date, YYYY-MM-DD (default: the latest run the lake holds).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Where to write the page (default: pinpipe-report-<date>.html in the current folder).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Open the page in the default browser (xdg-open, or open on macOS) when there is one.
    #[arg(long)]
    open: bool,
}

/// Where a report of `run_date` goes when no file is named.
pub fn default_report_path(run_date: &str) -> PathBuf {
    PathBuf::from(format!("pinpipe-report-{run_date}.html"))
}

/// `pinpipe report`: reads the run from the lake, writes its report, prints where it is.
pub async fn report(args: ReportArgs) -> anyhow::Result<()> {
    let store: Box<dyn ObjectStore> = match (&args.bucket, &args.lake) {
        (Some(bucket), _) => {
            validate_bucket_name(bucket).with_context(|| format!("--bucket {bucket:?}"))?;
            Box::new(S3Store::from_env(bucket).await)
        }
        (None, lake) => {
            let lake = lake.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_LAKE));
            if !lake.is_dir() {
                bail!(
                    "no lake folder {} (run `pinpipe run` first, or name one with --lake or --bucket)",
                    lake.display()
                );
            }
            Box::new(LocalStore::new(lake))
        }
    };
    store.check().await?;
    let date = args.date.map(|date| date.format("%Y-%m-%d").to_string());
    let run = pinpipe_batch::report::read_run(store.as_ref(), date.as_deref()).await?;
    let html = run.render(&store.location(), None)?;
    let path = args.out.unwrap_or_else(|| default_report_path(&run.run_date));
    std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
    println!("report of the run of {} in {}: {}", run.run_date, store.location(), path.display());
    if args.open {
        open(&path);
    }
    Ok(())
}

/// Opens `path` in the default browser, or says why not (on stderr).
pub fn open(path: &Path) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let spawned =
        Command::new(opener).arg(path).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    if let Err(error) = spawned {
        eprintln!("cannot open {} with {opener} ({error}): open it in a browser", path.display());
    }
}
