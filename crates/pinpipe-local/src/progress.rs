//! The progress bars of `pinpipe run` on the terminal: posting (the emulator's bars), delivery (the
//! landing and stream loops against what is being posted) and the batch; hidden when not asked for
//! (`pinpipe run` asks when stderr is a terminal).

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::delivery::LoopStatus;

/// The bars of one run, drawn together.
pub(crate) struct RunProgress {
    group: MultiProgress,
    visible: bool,
}

impl RunProgress {
    /// Bars on stderr when `visible`, else bars that draw nothing.
    pub(crate) fn new(visible: bool) -> Self {
        let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        Self { group: MultiProgress::with_draw_target(target), visible }
    }

    /// The group the emulator's posting bars join, when bars are drawn.
    pub(crate) fn posting_group(&self) -> Option<MultiProgress> {
        self.visible.then(|| self.group.clone())
    }

    /// Whether the bars are drawn.
    pub(crate) fn visible(&self) -> bool {
        self.visible
    }

    /// A bar of the records `status` has delivered out of `total`, named `name`, following the loop
    /// until the returned task is aborted.
    pub(crate) fn delivery(&self, name: &'static str, total: u64, mut status: watch::Receiver<LoopStatus>) -> Delivery {
        let bar = self.group.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>18} {spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} records {msg}",
            )
            .expect("a valid template"),
        );
        bar.set_prefix(name);
        let follower = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                let (delivered, failed) = {
                    let status = status.borrow_and_update();
                    (status.records_delivered, status.failed_invocations)
                };
                // A batch delivered twice (redelivery) counts twice: the bar stops at what was posted.
                follower.set_position(delivered.min(follower.length().unwrap_or(u64::MAX)));
                if failed > 0 {
                    follower.set_message(format!("({failed} failed invocations, retried)"));
                }
                if status.changed().await.is_err() {
                    break;
                }
            }
        });
        Delivery { bar, task }
    }

    /// A spinner for a step with no measure of its own (the batch).
    pub(crate) fn spinner(&self, name: &'static str) -> ProgressBar {
        let bar = self.group.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>18} {spinner} [{elapsed_precise}] {msg}").expect("a valid template"),
        );
        bar.set_prefix(name);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

/// A delivery bar and the task following its loop.
pub(crate) struct Delivery {
    bar: ProgressBar,
    task: JoinHandle<()>,
}

impl Delivery {
    /// Stops following the loop and clears the bar.
    pub(crate) fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
