//! Lambda entry point of `batch-transform`; all logic lives in the library.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Error};
use pinpipe_lake::{config, ObjectStore, S3Store};

#[global_allocator]
static ALLOCATOR: pinpipe_allocator::Allocator = pinpipe_allocator::Allocator {};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pinpipe_allocator::keep_freed_memory();
    pinpipe_metrics::log::init();
    let bucket = config::lake_bucket()?;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::from_env(&bucket).await);
    run(service_fn(move |event| {
        let store = store.clone();
        async move {
            let (answer, metrics) = batch_transform::handle_measured(store, event).await?;
            if let Some(metrics) = metrics {
                metrics.emit();
            }
            Ok::<_, Error>(answer)
        }
    }))
    .await
}
