//! Times a dump: `cargo run --release -p pinpipe-emulate --example dump -- DIR [ROWS] [SEED]`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().context("usage: dump DIR [ROWS] [SEED]")?);
    let rows = args.next().map_or(Ok(1_000_000), |rows| rows.parse())?;
    let seed = args.next().map_or(Ok(0), |seed| seed.parse())?;
    let started = Instant::now();
    let summary = pinpipe_emulate::dump(&dir, rows, seed)?;
    println!(
        "{} posts ({} distinct source rows), {} bytes in {:.2?}",
        summary.rows,
        summary.distinct_rows,
        summary.bytes,
        started.elapsed()
    );
    Ok(())
}
