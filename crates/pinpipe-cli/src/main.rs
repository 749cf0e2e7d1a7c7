//! `pinpipe`: the command line of the pipeline.

mod lake;
mod local;
mod replay;
mod report;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: pinpipe_allocator::Allocator = pinpipe_allocator::Allocator {};

/// pinpipe: ingest, land, clean and analyse Pinterest-style posts.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Clean raw records and compute every query offline, writing the canonical CSVs.
    ///
    /// Runs the batch transform's exact code path, minus S3.
    Transform {
        /// A folder holding pin.jsonl, geo.jsonl and user.jsonl, or a lake folder with topics/.
        #[arg(long)]
        input: PathBuf,
        /// Where the 14 CSVs, rejected.jsonl and manifest.json go (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate synthetic posts from the deterministic source (same seed, same bytes): dump them to
    /// files, or post them to an ingestion API.
    ///
    /// With --api, each post's pin, geo and user records go to the topics <prefix>.pin|geo|user
    /// (--mode batch, Kafka REST Proxy v2 format) or the streams streaming-<prefix>-pin|geo|user
    /// (--mode stream, Kinesis-proxy format); a summary follows (acknowledged, failed by reason, rate,
    /// latency). Exits with status 1 when a record was not acknowledged.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["dump", "api"])))]
    Emulate {
        /// Write pin.jsonl, geo.jsonl and user.jsonl (as-posted records) into this folder.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// Post to the ingestion API at this base URL (e.g. http://127.0.0.1:8080).
        #[arg(long)]
        api: Option<String>,
        /// With --api: batch (Kafka topics) or stream (Kinesis streams).
        #[arg(long, value_enum, default_value_t = PostMode::Batch, requires = "api")]
        mode: PostMode,
        /// Posts to generate (one record per table each).
        #[arg(long, default_value_t = 30_000)]
        rows: usize,
        /// With --api: records per second to aim at (default: as fast as the API answers).
        #[arg(long, requires = "api")]
        rate: Option<f64>,
        /// With --api: requests in flight at once.
        #[arg(long, default_value_t = 4, requires = "api")]
        concurrency: usize,
        /// With --api: records per request (stream mode: 1 uses PutRecord, more PutRecords).
        #[arg(long, default_value_t = 1, requires = "api")]
        batch_size: usize,
        /// Seed of the source tables and the draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Rows in each source table posts are drawn from (with replacement). The default is the
        /// original's size, so most of many posts are duplicates; 10 × --rows makes over 90 % distinct.
        #[arg(long, default_value_t = pinpipe_emulate::SOURCE_ROWS as u64, conflicts_with = "source",
              value_parser = clap::value_parser!(u64).range(1..=pinpipe_emulate::MAX_SOURCE_ROWS as u64))]
        source_rows: u64,
        /// With --api: the naming prefix of the topics and streams.
        #[arg(long, env = "PINPIPE_PREFIX", default_value = "pinpipe")]
        prefix: String,
        /// With --api: replay pin.jsonl, geo.jsonl and user.jsonl from this folder (e.g.
        /// data/real-sample) instead of generating posts.
        #[arg(long, requires = "api")]
        source: Option<PathBuf>,
    },
    /// Run the whole pipeline once on this machine: the ingestion API on 127.0.0.1, topics and
    /// streams, the landing and stream functions fed as Lambda feeds them, the emulator posting
    /// --rows posts through the API, then the batch transform; writes the run's HTML report (query
    /// results, data quality, accounts) and prints its path, then the accounts, the last line as JSON.
    Run(local::RunArgs),
    /// Write the HTML report of a batch run from a lake folder or a deployed lake bucket: every query
    /// as a chart and a table, the data-quality counts with examples of refused records.
    ///
    /// The page is self-contained (it opens offline). Without --date, the latest run the lake holds.
    Report(report::ReportArgs),
    /// Send what the pipeline set aside through the handlers again, once its cause is fixed: the
    /// batches a trigger gave up on (aws/lambda/) and the records a stage refused (rejected/), on a
    /// lake folder or a deployed lake bucket. Replaying twice lands nothing twice.
    Replay(replay::ReplayArgs),
    /// Start the same pipeline and keep it up until interrupted: post to the printed API URL with
    /// any client; what is acknowledged lands within seconds and the batch runs periodically.
    Serve(local::ServeArgs),
}

/// Where `pinpipe emulate --api` sends records.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PostMode {
    /// Kafka topics through POST /topics/{topic}.
    Batch,
    /// Kinesis streams through PUT /streams/{stream}/record(s).
    Stream,
}

/// `pinpipe transform`: the batch over local files, and what it did per table.
async fn transform(input: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    let manifest = pinpipe_batch::transform_dir(input, out).await?;
    for (table, counts) in &manifest.tables {
        println!(
            "{table}: {} records in, {} cleaned, {} duplicates dropped, {} rejected",
            counts.records_in,
            counts.records_cleaned,
            counts.duplicates_dropped,
            counts.rejected_total()
        );
    }
    println!(
        "wrote 14 CSVs, rejected.jsonl, manifest.json and {} to {} in {} ms",
        pinpipe_batch::REPORT_FILE,
        out.display(),
        manifest.timings_ms.get("total").copied().unwrap_or_default()
    );
    println!("report: {}", out.join(pinpipe_batch::REPORT_FILE).display());
    Ok(())
}

/// The progress bar of `pinpipe emulate --dump` on the terminal (hidden when stderr is not one).
fn dump_progress(rows: usize) -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(rows as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("writing posts {wide_bar} {pos}/{len} ({per_sec}, eta {eta})")
            .expect("a valid template"),
    );
    bar
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let command = Cli::parse().command;
    if !matches!(command, Command::Serve(_)) {
        // A command that ends when its work does; `serve` gives memory back after a batch's peak.
        pinpipe_allocator::keep_freed_memory();
    }
    match command {
        Command::Transform { input, out } => transform(&input, &out).await?,
        Command::Emulate {
            api: Some(api),
            mode,
            rows,
            rate,
            concurrency,
            batch_size,
            seed,
            source_rows,
            prefix,
            source,
            ..
        } => {
            use pinpipe_emulate::post::{Mode, PostOptions};
            let mode = match mode {
                PostMode::Batch => Mode::Batch,
                PostMode::Stream => Mode::Stream,
            };
            let options = PostOptions {
                rate,
                concurrency,
                batch_size,
                seed,
                source_rows: usize::try_from(source_rows)?,
                prefix,
                source,
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
                ..PostOptions::new(api, mode, rows)
            };
            let summary = pinpipe_emulate::post::post(&options).await?;
            println!("{summary}");
            if summary.failed_total() > 0 {
                std::process::exit(1);
            }
        }
        Command::Run(args) => local::run(args, started).await?,
        Command::Report(args) => report::report(args).await?,
        Command::Replay(args) => replay::replay(args).await?,
        Command::Serve(args) => local::serve(args).await?,
        Command::Emulate { dump, rows, seed, source_rows, .. } => {
            let dump = dump.expect("clap requires --dump or --api");
            let source_rows = usize::try_from(source_rows)?;
            let bar = dump_progress(rows);
            let follower = bar.clone();
            let summary = tokio::task::spawn_blocking(move || {
                let generator = pinpipe_emulate::Generator::with_source_rows(seed, source_rows);
                pinpipe_emulate::dump_with_progress(&dump, rows, generator, |written| {
                    follower.set_position(written as u64)
                })
            })
            .await;
            bar.finish_and_clear();
            let summary = summary??;
            println!(
                "wrote {} posts ({} distinct, {} bytes) to {}",
                summary.rows,
                summary.distinct_rows,
                summary.bytes,
                summary.files[0].parent().map_or_else(String::new, |dir| dir.display().to_string())
            );
        }
    }
    Ok(())
}
