//! `pinpipe run` and `pinpipe serve`: the whole pipeline on this machine (see `pinpipe_local`).

use std::future::Future as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use pinpipe_local::report::RunReportPage;
use pinpipe_local::{LocalError, Paths, RunOptions, RunSummary, Services, Stack, StackOptions};

/// The file marking a lake folder `pinpipe run` made, which a later run may empty.
const LAKE_MARKER: &str = ".pinpipe-lake";

/// Where topics, streams and the lake live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServicesKind {
    /// In the process, the lake in a local folder: nothing to set up.
    Embedded,
    /// On local servers: a Kafka-protocol broker (PINPIPE_KAFKA_BOOTSTRAP) and moto for S3 and
    /// Kinesis (AWS_ENDPOINT_URL); `scripts/services.sh start moto tansu` starts both.
    Local,
}

/// Which paths `run` posts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PathsArg {
    /// Kafka topics, landing, then the batch transform.
    Batch,
    /// Kinesis streams and the stream processor.
    Stream,
    /// Both.
    Both,
}

/// Where the stack runs (shared by `run` and `serve`).
#[derive(Args, Debug)]
pub struct StackArgs {
    /// Embedded (default) or local protocol servers.
    #[arg(long, value_enum, default_value_t = ServicesKind::Embedded)]
    services: ServicesKind,
    /// The naming prefix of topics (<prefix>.pin|geo|user) and streams (streaming-<prefix>-…);
    /// default `pinpipe` (`run --services local`: a fresh `run-<time>` each run).
    #[arg(long)]
    prefix: Option<String>,
    /// Embedded: the lake folder.
    #[arg(long, default_value = crate::lake::DEFAULT_LAKE)]
    lake: PathBuf,
    /// Local services: the lake bucket (created if missing); default `pinpipe-<prefix>`.
    #[arg(long, env = "PINPIPE_LAKE_BUCKET")]
    bucket: Option<String>,
    /// Local services: the Kafka bootstrap list.
    #[arg(long, env = "PINPIPE_KAFKA_BOOTSTRAP", default_value = "127.0.0.1:9092")]
    kafka: String,
    /// Retries of a failing batch before the landing and stream loops give it up and keep it under
    /// aws/lambda/ in the lake for `pinpipe replay`, as Lambda's MaximumRetryAttempts (default: retry
    /// until it succeeds).
    #[arg(long)]
    max_retry_attempts: Option<u32>,
}

/// `pinpipe run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Posts per path (one pin, geo and user record each).
    #[arg(long, default_value_t = 30_000)]
    rows: usize,
    /// The paths to post to.
    #[arg(long, value_enum, default_value_t = PathsArg::Both)]
    mode: PathsArg,
    /// Seed of the emulated posts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Records per request.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Requests in flight per path.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

/// `pinpipe serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The API's port on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Seconds between batch runs.
    #[arg(long, default_value_t = 60)]
    batch_every: u64,
}

impl StackArgs {
    fn options(&self, fresh_prefix: bool, port: u16) -> anyhow::Result<StackOptions> {
        let prefix = match (&self.prefix, fresh_prefix && self.services == ServicesKind::Local) {
            (Some(prefix), _) => prefix.clone(),
            (None, true) => format!("run-{}", chrono::Utc::now().format("%Y%m%d%H%M%S")),
            (None, false) => "pinpipe".to_string(),
        };
        let mut options = StackOptions::embedded(prefix.clone(), self.lake.clone());
        options.api_address = SocketAddr::from(([127, 0, 0, 1], port));
        options.batching.max_retry_attempts = self.max_retry_attempts;
        if self.services == ServicesKind::Local {
            options.services = Services::Local {
                kafka_bootstrap: self.kafka.clone(),
                bucket: self.bucket.clone().unwrap_or_else(|| format!("pinpipe-{prefix}")),
            };
        }
        Ok(options)
    }

    fn lake_description(&self, options: &StackOptions) -> String {
        match &options.services {
            Services::Embedded { lake } => lake.display().to_string(),
            Services::Local { bucket, .. } => format!("s3://{bucket}"),
        }
    }
}

/// Makes `lake` an empty folder for a new run: a folder an earlier run made is emptied; any other
/// non-empty folder is refused.
fn fresh_lake(lake: &Path) -> anyhow::Result<()> {
    if lake.exists() {
        let mut entries = std::fs::read_dir(lake).with_context(|| format!("reading {}", lake.display()))?;
        if entries.next().is_some() {
            if !lake.join(LAKE_MARKER).is_file() {
                bail!(
                    "{} is not empty and was not made by `pinpipe run`; choose another --lake or empty it",
                    lake.display()
                );
            }
            std::fs::remove_dir_all(lake).with_context(|| format!("emptying {}", lake.display()))?;
        }
    }
    std::fs::create_dir_all(lake).with_context(|| format!("creating {}", lake.display()))?;
    std::fs::write(lake.join(LAKE_MARKER), "a lake folder made by `pinpipe run`; the next run empties it\n")?;
    Ok(())
}

/// `pinpipe run`: prints the results and the accounts, the JSON line last; fails when a record
/// was lost or doubled.
pub async fn run(args: RunArgs, started: Instant) -> anyhow::Result<()> {
    let stack = args.stack.options(true, 0)?;
    if let Services::Embedded { lake } = &stack.services {
        fresh_lake(lake)?;
    }
    let lake = args.stack.lake_description(&stack);
    let lake_folder = match &stack.services {
        Services::Embedded { lake } => Some(lake.clone()),
        Services::Local { .. } => None,
    };
    let options = RunOptions {
        paths: match args.mode {
            PathsArg::Batch => Paths::Batch,
            PathsArg::Stream => Paths::Stream,
            PathsArg::Both => Paths::Both,
        },
        seed: args.seed,
        batch_size: args.batch_size,
        concurrency: args.concurrency,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ..RunOptions::new(stack, args.rows)
    };
    eprintln!("pinpipe run: {} posts per path into {lake}", args.rows);
    let report = pinpipe_local::run(options).await?;
    for (mode, summary) in &report.posted {
        println!("posted ({mode:?} path) through {}:\n{summary}\n", report.api_url);
    }
    if let Some(batch) = &report.batch {
        for (table, counts) in &batch.tables {
            println!(
                "batch {}: {table}: {} records in, {} cleaned, {} duplicates dropped, {} rejected",
                batch.run_date,
                counts.records_in,
                counts.records_cleaned,
                counts.duplicates_dropped,
                counts.rejected_total()
            );
        }
        println!();
    }
    if !report.results.is_empty() {
        let rows: Vec<String> =
            report.results.iter().map(|(id, _, frame)| format!("{id} {}", frame.height())).collect();
        println!("query results (rows): {}", rows.join(", "));
    }
    let accounts = &report.accounts;
    println!(
        "\naccounts: {} posted, {} acknowledged, {} landed raw, {} cleaned, {} streamed, {} rejected, {} lost, {} doubled",
        accounts.posted,
        accounts.acknowledged,
        accounts.landed_raw,
        accounts.cleaned,
        accounts.streamed,
        accounts.rejected,
        accounts.lost,
        accounts.doubled
    );
    match &report.report {
        Some(page) => println!("report: {}", run_report_path(page, lake_folder.as_deref())?.display()),
        None => println!("report: none (no batch ran on the stream path alone)"),
    }
    let mut line = serde_json::to_value(accounts)?;
    line["lake"] = lake.into();
    line["wall_seconds"] = ((started.elapsed().as_secs_f64() * 100.0).round() / 100.0).into();
    println!("{line}");
    if accounts.lost > 0 || accounts.doubled > 0 {
        bail!("{} records lost and {} doubled", accounts.lost, accounts.doubled);
    }
    Ok(())
}

/// Where the report of a run can be opened: in the lake folder, or (the lake being a bucket) in a
/// copy written to the current folder as `pinpipe report` would.
fn run_report_path(page: &RunReportPage, lake_folder: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(folder) = lake_folder {
        return Ok(folder.join(&page.key));
    }
    let path = crate::report::default_report_path(&page.run_date);
    std::fs::write(&path, &page.html).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// What one periodic batch run of `pinpipe serve` did, or why it failed.
fn report_batch(stack: &Stack, result: Result<RunSummary, LocalError>, batch_every: u64) {
    match result {
        Ok(summary) => {
            let cleaned: u64 = summary.tables.values().map(|table| table.records_cleaned).sum();
            let (landing, streaming) = stack.status();
            println!(
                "batch {}: {} raw objects of the day, {cleaned} records cleaned; {} records landed, {} streamed since start",
                summary.run_date, summary.inputs_consumed, landing.records_delivered, streaming.records_delivered
            );
        }
        Err(error) => eprintln!("{error} (it runs again in {batch_every} s)"),
    }
}

/// `pinpipe serve`: runs until Ctrl-C, the batch every `--batch-every` seconds.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // One Ctrl-C listener for the whole life of the server, installed before anything else (polling the
    // future once installs it), so that no signal is lost: one arriving during a batch run abandons the
    // run, which is safe (a run commits each table whole, its ledger after its cleaned tables, and the
    // next run of its date redoes it).
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let installed = std::future::poll_fn(|context| std::task::Poll::Ready(interrupted.as_mut().poll(context))).await;
    if installed.is_ready() {
        bail!("cannot listen for Ctrl-C: {installed:?}");
    }
    let options = args.stack.options(false, args.port)?;
    let lake = args.stack.lake_description(&options);
    let stack = Stack::start(options).await?;
    println!(
        "pinpipe API on {} (topics {}, streams {}), lake {lake}",
        stack.api_url,
        stack.names.topics().join(", "),
        stack.names.streams().join(", ")
    );
    println!(
        "post with e.g. `pinpipe emulate --api {} --prefix {}`; Ctrl-C stops",
        stack.api_url,
        stack.names.prefix()
    );
    let mut every = tokio::time::interval(Duration::from_secs(args.batch_every.max(1)));
    // A batch that takes longer than the period is followed by a whole period, not by a burst of runs.
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            biased;
            _ = &mut interrupted => break,
            _ = every.tick() => {
                tokio::select! {
                    biased;
                    _ = &mut interrupted => {
                        eprintln!("interrupted during a batch run: the run is abandoned (the next run of its date redoes it)");
                        break;
                    }
                    result = stack.run_batch(chrono::Utc::now()) => report_batch(&stack, result, args.batch_every),
                }
            }
        }
    }
    eprintln!("stopping: no new requests; delivering what is stored for up to {SERVE_DRAIN:?}");
    match stack.shutdown(SERVE_DRAIN).await {
        // What is left is kept: in the journal (embedded) or in the servers' topics and streams, and
        // delivered on the next start.
        Err(LocalError::Unfinished(_)) => {
            eprintln!("stopped; what was not delivered yet is kept and delivered at the next start");
            Ok(())
        }
        result => Ok(result?),
    }
}

/// How long `pinpipe serve` goes on delivering after Ctrl-C: short, so that it stops within 2 s; what
/// it does not deliver is not lost.
const SERVE_DRAIN: Duration = Duration::from_millis(1_500);
