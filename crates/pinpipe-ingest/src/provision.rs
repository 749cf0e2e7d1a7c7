//! Creating the topics and streams the API writes to, where nothing else does: on local servers
//! (`pinpipe run --services local`, the tests). On AWS the SAM template and the MSK cluster's
//! operators create them.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;

/// How long a created stream may take to become active.
const STREAM_ACTIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates `topics` with `partitions` partitions each (one replica) at the plaintext broker
/// `bootstrap`; existing topics are kept as they are.
pub async fn create_topics(bootstrap: &str, topics: &[String], partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .with_context(|| format!("creating a Kafka admin client for {bootstrap}"))?;
    let new: Vec<NewTopic> =
        topics.iter().map(|topic| NewTopic::new(topic, partitions, TopicReplication::Fixed(1))).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    let results = admin
        .create_topics(&new, &options)
        .await
        .with_context(|| format!("cannot create topics at {bootstrap} (is the broker running?)"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("cannot create topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// Creates `streams` with `shards` shards each, keeping those that exist, and waits until they are
/// active.
pub async fn create_streams(client: &aws_sdk_kinesis::Client, streams: &[String], shards: i32) -> anyhow::Result<()> {
    for stream in streams {
        if let Err(error) = client.create_stream().stream_name(stream).shard_count(shards).send().await {
            if error.code() != Some("ResourceInUseException") {
                bail!(
                    "cannot create stream {stream} at {}: {}",
                    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "the default Kinesis endpoint".into()),
                    DisplayErrorContext(&error)
                );
            }
        }
    }
    for stream in streams {
        let deadline = Instant::now() + STREAM_ACTIVE_TIMEOUT;
        loop {
            let summary = client
                .describe_stream_summary()
                .stream_name(stream)
                .send()
                .await
                .map_err(|error| anyhow::anyhow!("describing stream {stream}: {}", DisplayErrorContext(&error)))?;
            let status = summary.stream_description_summary().map(|summary| summary.stream_status().clone());
            if status == Some(aws_sdk_kinesis::types::StreamStatus::Active) {
                break;
            }
            if Instant::now() > deadline {
                bail!("stream {stream} did not become active within {STREAM_ACTIVE_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}
