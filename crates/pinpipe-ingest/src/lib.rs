//! pinpipe's ingestion API (docs/SPEC.md §2): posts arrive over HTTP in the Kafka REST Proxy v2 and the API
//! Gateway Kinesis-proxy wire formats and are produced to Kafka or put into Kinesis, so existing
//! clients work with only the base URL changed.
//!
//! Ports and adapters:
//! * [`Ingest`] is the handler, free of any HTTP framework: [`Ingest::handle`] takes an
//!   [`IngestRequest`] (method, path, content type, body) and answers an [`IngestResponse`]. The
//!   `ingest-api` Lambda feeds it API Gateway events; [`server`] (feature `server`) serves it with axum.
//! * [`wire`] parses and checks request bodies and shapes the answers; [`error`] is the REST-proxy
//!   error envelope with every code; the allow-list of topics and streams is the contract's
//!   [`Names`] of the naming prefix.
//! * [`TopicProducer`] and [`StreamWriter`] are the ports; [`KafkaProducer`] (librdkafka, MSK IAM via
//!   [`msk_iam`]) and [`KinesisWriter`] (aws-sdk-kinesis) are their adapters.
//! * [`config`] reads the environment; [`provision`] creates topics and streams on local servers.

pub mod config;
pub mod error;
mod handler;
mod json;
pub mod kafka;
pub mod kinesis;
pub mod msk_iam;
pub mod ports;
pub mod provision;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod wire;

use std::sync::Arc;

pub use config::{IngestConfig, IngestConfigError, KafkaAuth, KafkaConfig};
pub use error::ApiError;
pub use handler::{
    Ingest, IngestRequest, IngestResponse, RecordCounts, Route, APPLICATION_JSON, KAFKA_JSON_V2_JSON, KAFKA_V2_JSON,
};
pub use json::compact;
pub use kafka::{KafkaProducer, KafkaSetupError};
pub use kinesis::KinesisWriter;
pub use pinpipe_contract::Names;
pub use ports::{
    Offset, ProduceError, RecordFailure, Stored, StreamError, StreamRecord, StreamWriter, TopicProducer, TopicRecord,
};

impl Ingest {
    /// The API as `config` describes it, with the real adapters: Kafka through librdkafka when
    /// configured (its brokers resolved now), Kinesis through the AWS SDK (configured the standard AWS
    /// way).
    pub async fn from_config(config: &IngestConfig) -> Self {
        let kafka: Option<Arc<dyn TopicProducer>> = match &config.kafka {
            Some(kafka) => {
                let producer = KafkaProducer::from_config(kafka.clone()).await;
                if let Err(reason) = producer.connect().await {
                    tracing::warn!(%reason, "Kafka is not reachable yet; the first topic request tries again");
                }
                Some(Arc::new(producer))
            }
            None => {
                tracing::warn!("no PINPIPE_KAFKA_BOOTSTRAP or PINPIPE_MSK_CLUSTER_ARN: the topic route answers 503");
                None
            }
        };
        let streams: Arc<dyn StreamWriter> = Arc::new(KinesisWriter::from_env().await);
        Self::new(Names::new(&config.prefix), kafka, Some(streams))
    }
}
