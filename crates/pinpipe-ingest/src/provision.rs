//! Creating the topics and streams the API writes to, where nothing else does: on local servers
//! (`pinpipe run --services local`, the tests). On AWS the SAM template and the MSK cluster's
//! operators create them.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// How long a created stream may take to become active.
const STREAM_ACTIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why topics or streams could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// librdkafka refused to make an admin client.
    #[error("creating a Kafka admin client for {bootstrap}: {error}")]
    AdminClient {
        /// The bootstrap list.
        bootstrap: String,
        /// librdkafka's error.
        error: KafkaError,
    },
    /// The create request failed as a whole.
    #[error("cannot create topics at {bootstrap} (is the broker running?): {error}")]
    CreateTopics {
        /// The bootstrap list.
        bootstrap: String,
        /// librdkafka's error.
        error: KafkaError,
    },
    /// The broker refused one topic.
    #[error("cannot create topic {topic}: {code}")]
    Topic {
        /// The topic.
        topic: String,
        /// The broker's answer.
        code: RDKafkaErrorCode,
    },
    /// Kinesis refused to create a stream.
    #[error("cannot create stream {stream} at {endpoint}: {detail}")]
    CreateStream {
        /// The stream.
        stream: String,
        /// `AWS_ENDPOINT_URL`, or the default endpoint.
        endpoint: String,
        /// The SDK's error, with its causes.
        detail: String,
    },
    /// A stream could not be described while waiting for it.
    #[error("describing stream {stream}: {detail}")]
    DescribeStream {
        /// The stream.
        stream: String,
        /// The SDK's error, with its causes.
        detail: String,
    },
    /// A stream did not become active in time.
    #[error("stream {stream} did not become active within {STREAM_ACTIVE_TIMEOUT:?}")]
    NotActive {
        /// The stream.
        stream: String,
    },
}

/// Creates `topics` with `partitions` partitions each (one replica) at the plaintext broker
/// `bootstrap`; existing topics are kept as they are.
pub async fn create_topics(bootstrap: &str, topics: &[String], partitions: i32) -> Result<(), ProvisionError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|error| ProvisionError::AdminClient { bootstrap: bootstrap.to_string(), error })?;
    let new: Vec<NewTopic> =
        topics.iter().map(|topic| NewTopic::new(topic, partitions, TopicReplication::Fixed(1))).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    let results = admin
        .create_topics(&new, &options)
        .await
        .map_err(|error| ProvisionError::CreateTopics { bootstrap: bootstrap.to_string(), error })?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(ProvisionError::Topic { topic, code }),
        }
    }
    Ok(())
}

/// Creates `streams` with `shards` shards each, keeping those that exist, and waits until they are
/// active.
pub async fn create_streams(
    client: &aws_sdk_kinesis::Client,
    streams: &[String],
    shards: i32,
) -> Result<(), ProvisionError> {
    for stream in streams {
        if let Err(error) = client.create_stream().stream_name(stream).shard_count(shards).send().await {
            if error.code() != Some("ResourceInUseException") {
                return Err(ProvisionError::CreateStream {
                    stream: stream.clone(),
                    endpoint: std::env::var("AWS_ENDPOINT_URL")
                        .unwrap_or_else(|_| "the default Kinesis endpoint".into()),
                    detail: DisplayErrorContext(&error).to_string(),
                });
            }
        }
    }
    for stream in streams {
        wait_until_active(client, stream).await?;
    }
    Ok(())
}

/// Waits until `stream` is active, at most [`STREAM_ACTIVE_TIMEOUT`].
async fn wait_until_active(client: &aws_sdk_kinesis::Client, stream: &str) -> Result<(), ProvisionError> {
    let deadline = Instant::now() + STREAM_ACTIVE_TIMEOUT;
    loop {
        let summary = client.describe_stream_summary().stream_name(stream).send().await.map_err(|error| {
            ProvisionError::DescribeStream {
                stream: stream.to_string(),
                detail: DisplayErrorContext(&error).to_string(),
            }
        })?;
        let status = summary.stream_description_summary().map(|summary| summary.stream_status().clone());
        if status == Some(aws_sdk_kinesis::types::StreamStatus::Active) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(ProvisionError::NotActive { stream: stream.to_string() });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
