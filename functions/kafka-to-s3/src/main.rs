//! Lambda entry point of `kafka-to-s3`; all logic lives in the library.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Error};
use pinpipe_lake::{config, ObjectStore, S3Store};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let bucket = config::lake_bucket()?;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::from_env(&bucket).await);
    run(service_fn(move |event| {
        let store = store.clone();
        async move { kafka_to_s3::handle(store, event).await.map_err(Error::from) }
    }))
    .await
}
