//! `pinpipe`: the command line of the pipeline.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Generate synthetic posts from the deterministic source (same seed, same bytes).
    Emulate {
        /// Write pin.jsonl, geo.jsonl and user.jsonl (as-posted records) into this folder.
        #[arg(long)]
        dump: PathBuf,
        /// Posts to generate (one record per table each).
        #[arg(long, default_value_t = 30_000)]
        rows: usize,
        /// Seed of the source tables and the draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Transform { input, out } => {
            let manifest = pinpipe_core::batch::transform_dir(&input, &out).await?;
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
                "wrote 14 CSVs, rejected.jsonl and manifest.json to {} in {} ms",
                out.display(),
                manifest.timings_ms.get("total").copied().unwrap_or_default()
            );
        }
        Command::Emulate { dump, rows, seed } => {
            let summary = tokio::task::spawn_blocking(move || pinpipe_emulate::dump(&dump, rows, seed)).await??;
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
