//! `pinpipe report`: the HTML report of a batch run, made from what a lake holds (a local folder or
//! a deployed S3 bucket), and where `pinpipe run` and `pinpipe report` put a report on this machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;

use crate::lake::LakeArgs;

/// `pinpipe report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    lake: LakeArgs,
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
    let store = args.lake.open().await?;
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
