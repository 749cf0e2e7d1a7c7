//! `pinpipe run`: the whole pipeline once, on one machine. Emulated posts go through the HTTP API on
//! the chosen paths; the loops land and stream them; the batch runs once; the accounts are settled.

use std::time::Duration;

use batch_transform::RunSummary;
use pinpipe_emulate::post::{post, Ack, Mode, PostOptions, PostSummary};
use polars::prelude::DataFrame;

use crate::accounting::{inventory, Accounts};
use crate::error::LocalError;
use crate::report;
use crate::stack::{Stack, StackOptions};

/// Which paths a run posts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paths {
    /// Kafka topics, then the batch.
    Batch,
    /// Kinesis streams.
    Stream,
    /// Both, at the same time.
    Both,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The stack.
    pub stack: StackOptions,
    /// Posts to send per path (three records each).
    pub rows: usize,
    /// The paths.
    pub paths: Paths,
    /// Seed of the emulated posts.
    pub seed: u64,
    /// Records per request.
    pub batch_size: usize,
    /// Requests in flight per path.
    pub concurrency: usize,
    /// Draw progress bars.
    pub progress: bool,
    /// How long the loops may take to deliver everything after the last post.
    pub delivery_timeout: Duration,
}

impl RunOptions {
    /// `rows` posts on both paths over `stack`: 100 records per request, 4 requests in flight.
    pub fn new(stack: StackOptions, rows: usize) -> Self {
        Self {
            stack,
            rows,
            paths: Paths::Both,
            seed: 0,
            batch_size: 100,
            concurrency: 4,
            progress: false,
            delivery_timeout: Duration::from_secs(300),
        }
    }
}

/// What a run did.
pub struct RunReport {
    /// What the emulator saw, per path posted.
    pub posted: Vec<(Mode, PostSummary)>,
    /// The batch run, if the batch path ran.
    pub batch: Option<RunSummary>,
    /// Its query results: id, question, rows.
    pub results: Vec<(String, String, DataFrame)>,
    /// The accounts.
    pub accounts: Accounts,
    /// Where the API listened.
    pub api_url: String,
    /// Handler invocations of the landing and the stream loop.
    pub invocations: (u64, u64),
}

/// Runs the pipeline once: starts the stack, posts, waits for delivery, runs the batch, settles the
/// accounts and stops the stack.
pub async fn run(options: RunOptions) -> Result<RunReport, LocalError> {
    let stack = Stack::start(options.stack.clone()).await?;
    let outcome = drive(&stack, &options).await;
    let stopped = stack.shutdown(Duration::from_secs(30)).await;
    let report = outcome?;
    stopped?;
    Ok(report)
}

async fn drive(stack: &Stack, options: &RunOptions) -> Result<RunReport, LocalError> {
    let modes: Vec<Mode> = match options.paths {
        Paths::Batch => vec![Mode::Batch],
        Paths::Stream => vec![Mode::Stream],
        Paths::Both => vec![Mode::Batch, Mode::Stream],
    };
    let posts = modes.iter().map(|&mode| {
        let post_options = PostOptions {
            concurrency: options.concurrency,
            batch_size: options.batch_size,
            seed: options.seed,
            prefix: stack.names.prefix().to_string(),
            progress: options.progress,
            keep_acks: true,
            ..PostOptions::new(stack.api_url.clone(), mode, options.rows)
        };
        async move { post(&post_options).await.map(|summary| (mode, summary)) }
    });
    let posted: Vec<(Mode, PostSummary)> = futures::future::try_join_all(posts).await?;
    stack.wait_until_delivered(options.delivery_timeout).await?;

    let (batch, results) = if modes.contains(&Mode::Batch) {
        let summary = stack.run_batch(chrono::Utc::now()).await?;
        let results = report::results(stack.store.as_ref(), &summary.run_date).await?;
        (Some(summary), results)
    } else {
        (None, Vec::new())
    };

    let held = inventory(stack.store.as_ref(), &stack.names).await?;
    let acks: Vec<Ack> = posted.iter().flat_map(|(_, summary)| summary.acks.iter().cloned()).collect();
    let sent = posted.iter().map(|(_, summary)| summary.sent).sum();
    let cleaned = batch.iter().flat_map(|summary| summary.tables.values()).map(|table| table.records_cleaned).sum();
    let accounts = Accounts::settle(sent, &acks, &held, cleaned);
    let (landing, streaming) = stack.status();
    let invocations = (landing.invocations, streaming.invocations);
    Ok(RunReport { posted, batch, results, accounts, api_url: stack.api_url.clone(), invocations })
}
