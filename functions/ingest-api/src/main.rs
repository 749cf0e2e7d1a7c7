//! Lambda entry point of `ingest-api`; all logic lives in the library.

use std::sync::Arc;

use lambda_http::{run, service_fn, Error};
use pinpipe_ingest::{Ingest, IngestConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pinpipe_metrics::log::init();
    let config = IngestConfig::from_env()?;
    let ingest = Arc::new(Ingest::from_config(&config).await);
    run(service_fn(move |request| {
        let ingest = ingest.clone();
        async move {
            let (response, metrics) = ingest_api::handle_measured(&ingest, request).await?;
            metrics.emit();
            Ok::<_, Error>(response)
        }
    }))
    .await
}
