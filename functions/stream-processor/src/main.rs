//! Lambda entry point of `stream-processor`; all logic lives in the library.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Error};
use pinpipe_contract::Names;
use pinpipe_lake::{config, ObjectStore, S3Store};
use stream_processor::Processor;

#[global_allocator]
static ALLOCATOR: pinpipe_allocator::Allocator = pinpipe_allocator::Allocator {};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pinpipe_allocator::keep_freed_memory();
    pinpipe_metrics::log::init();
    let bucket = config::lake_bucket()?;
    let prefix = config::prefix()?;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::from_env(&bucket).await);
    let processor = Processor::new(store, Names::new(&prefix));
    run(service_fn(move |event| {
        let processor = processor.clone();
        async move {
            let (response, metrics) = processor.handle_measured(event).await?;
            metrics.emit();
            Ok::<_, Error>(response)
        }
    }))
    .await
}
