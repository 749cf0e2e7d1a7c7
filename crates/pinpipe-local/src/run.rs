//! `pinpipe run`: the whole pipeline once, on one machine. Emulated posts go through the HTTP API on
//! the chosen paths; the loops land and stream them; the batch runs once; the accounts are settled.

use std::time::{Duration, Instant};

use batch_transform::RunSummary;
use pinpipe_emulate::post::{post, Ack, Mode, PostOptions, PostSummary};
use polars::prelude::DataFrame;

use pinpipe_contract::Table;

use crate::accounting::{inventory, settle, Accounts};
use crate::error::LocalError;
use crate::progress::{Delivery, RunProgress};
use crate::report::{write_run_report, RunReportPage};
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
    /// Rows of the emulator's source tables (`pinpipe_emulate::Generator::with_source_rows`).
    pub source_rows: usize,
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
            source_rows: pinpipe_emulate::SOURCE_ROWS,
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
    /// Its query results: id, title, rows.
    pub results: Vec<(String, String, DataFrame)>,
    /// The run's report, rewritten in the lake with the accounts, if the batch ran.
    pub report: Option<RunReportPage>,
    /// Each phase of the run and its wall time: posting, delivery, batch, accounts.
    pub phases: Vec<(String, Duration)>,
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
    let mut phases = Phases::start();
    let bars = RunProgress::new(options.progress);
    let posted = post_and_deliver(stack, options, &modes, &bars, &mut phases).await?;

    let batch = if modes.contains(&Mode::Batch) {
        let spinner = bars.spinner("batch");
        spinner.set_message("cleaning and computing q1…q9");
        let summary = stack.run_batch(chrono::Utc::now()).await;
        spinner.finish_and_clear();
        phases.end("batch");
        Some(summary?)
    } else {
        None
    };

    let held = inventory(stack.store.as_ref(), &stack.names).await?;
    let acks: Vec<Ack> = posted.iter().flat_map(|(_, summary)| summary.acks.iter().cloned()).collect();
    let sent = posted.iter().map(|(_, summary)| summary.sent).sum();
    let cleaned = batch.iter().flat_map(|summary| summary.tables.values()).map(|table| table.records_cleaned).sum();
    let accounts = settle(sent, &acks, &held, cleaned);
    phases.end("accounts");

    let (results, report) = match &batch {
        Some(summary) => {
            let (results, page) =
                write_run_report(stack.store.as_ref(), &summary.run_date, &accounts, &phases.done).await?;
            (results, Some(page))
        }
        None => (Vec::new(), None),
    };
    let (landing, streaming) = stack.status();
    let invocations = (landing.invocations, streaming.invocations);
    Ok(RunReport {
        posted,
        batch,
        results,
        report,
        phases: phases.done,
        accounts,
        api_url: stack.api_url.clone(),
        invocations,
    })
}

/// Posts on every path of `modes` at once and waits until the loops delivered everything, with a bar
/// per path for posting and one for its delivery.
async fn post_and_deliver(
    stack: &Stack,
    options: &RunOptions,
    modes: &[Mode],
    bars: &RunProgress,
    phases: &mut Phases,
) -> Result<Vec<(Mode, PostSummary)>, LocalError> {
    let (landing, streaming) = stack.status_updates();
    let records = options.rows as u64 * Table::ALL.len() as u64;
    let deliveries: Vec<Delivery> = modes
        .iter()
        .map(|mode| match mode {
            Mode::Batch => bars.delivery("landing (topics)", records, landing.clone()),
            Mode::Stream => bars.delivery("streaming", records, streaming.clone()),
        })
        .collect();
    let posts = modes.iter().map(|&mode| {
        let post_options = PostOptions {
            concurrency: options.concurrency,
            batch_size: options.batch_size,
            seed: options.seed,
            source_rows: options.source_rows,
            prefix: stack.names.prefix().to_string(),
            progress: bars.visible(),
            progress_group: bars.posting_group(),
            keep_acks: true,
            ..PostOptions::new(stack.api_url.clone(), mode, options.rows)
        };
        async move { post(&post_options).await.map(|summary| (mode, summary)) }
    });
    let posted = futures::future::try_join_all(posts).await;
    let delivered = match posted {
        Ok(_) => {
            phases.end("posting");
            stack.wait_until_delivered(options.delivery_timeout).await
        }
        Err(_) => Ok(()),
    };
    deliveries.into_iter().for_each(Delivery::finish);
    let posted = posted?;
    delivered?;
    phases.end("delivery");
    Ok(posted)
}

/// The wall time of each phase of a run, as they end.
struct Phases {
    done: Vec<(String, Duration)>,
    since: Instant,
}

impl Phases {
    fn start() -> Self {
        Self { done: Vec::new(), since: Instant::now() }
    }

    /// The phase `name` ended now; the next starts.
    fn end(&mut self, name: &str) {
        self.done.push((name.to_string(), self.since.elapsed()));
        self.since = Instant::now();
    }
}
