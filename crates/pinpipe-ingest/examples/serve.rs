//! Serves the ingestion API on loopback with axum, configured like the Lambda (PINPIPE_PREFIX,
//! PINPIPE_KAFKA_BOOTSTRAP, ... and the AWS SDK's variables), for local runs and measurements:
//!
//! ```sh
//! PINPIPE_PREFIX=pinpipe PINPIPE_KAFKA_BOOTSTRAP=127.0.0.1:9092 \
//!   cargo run --release -p pinpipe-ingest --features server --example serve -- 127.0.0.1:8080
//! ```

use std::sync::Arc;

use pinpipe_ingest::{Ingest, IngestConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let config = IngestConfig::from_env()?;
    let ingest = Arc::new(Ingest::from_config(&config).await);
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!(address = %listener.local_addr()?, prefix = config.prefix, "serving the ingestion API");
    pinpipe_ingest::server::serve(listener, ingest).await?;
    Ok(())
}
