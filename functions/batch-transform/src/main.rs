//! Lambda entry point of `batch-transform`; all logic lives in the library.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Error};
use pinpipe_lake::{config, ObjectStore, S3Store};

#[tokio::main]
async fn main() -> Result<(), Error> {
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
