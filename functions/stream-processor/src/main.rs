//! Lambda entry point of `stream-processor`; all logic lives in the library.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Error};
use pinpipe_contract::Names;
use pinpipe_lake::{config, ObjectStore, S3Store};
use stream_processor::Processor;

/// mimalloc instead of glibc's malloc: the handler allocates and frees per record, and glibc's
/// malloc and free were 28 % of its time (BENCHMARKS.md, stream processor).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let bucket = config::lake_bucket()?;
    let prefix = config::prefix()?;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::from_env(&bucket).await);
    let processor = Processor::new(store, Names::new(&prefix));
    run(service_fn(move |event| {
        let processor = processor.clone();
        async move { processor.handle(event).await.map_err(Error::from) }
    }))
    .await
}
