//! The Kinesis adapter: a [`StreamWriter`] over `aws-sdk-kinesis` (`PutRecord`, `PutRecords`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;

use crate::ports::{RecordFailure, Stored, StreamError, StreamRecord, StreamWriter};

/// How long one Kinesis call may take, retries included (the function has 10 s).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// A [`StreamWriter`] over Amazon Kinesis (or any endpoint `AWS_ENDPOINT_URL` names, such as moto).
#[derive(Clone, Debug)]
pub struct KinesisWriter {
    client: Client,
}

impl KinesisWriter {
    /// A writer using `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A writer with a client configured the standard AWS way (environment, profile, Lambda role).
    pub async fn from_env() -> Self {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&shared)
    }

    /// A writer with a client from `shared`.
    pub fn from_sdk_config(shared: &aws_config::SdkConfig) -> Self {
        let config = aws_sdk_kinesis::config::Builder::from(shared)
            .timeout_config(TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).build())
            .build();
        Self::new(Client::from_conf(config))
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn stream_error<E>(stream: &str, err: SdkError<E, aws_sdk_kinesis::config::http::HttpResponse>) -> StreamError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // A service error reads best as its code and message; anything else (timeouts, connections) in full.
    let detail = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{stream}: {code}: {message}"),
        (Some(code), None) => format!("{stream}: {code}"),
        _ => format!("{stream}: {}", DisplayErrorContext(&err)),
    };
    match err.code() {
        Some("ResourceNotFoundException") => StreamError::NotFound(detail),
        Some("InvalidArgumentException" | "ValidationException") => StreamError::Invalid(detail),
        _ => StreamError::Unavailable(detail),
    }
}

#[async_trait]
impl StreamWriter for KinesisWriter {
    async fn put_record(&self, stream: &str, record: &StreamRecord) -> Result<Stored, StreamError> {
        let answer = self
            .client
            .put_record()
            .stream_name(stream)
            .data(Blob::new(record.data.clone()))
            .partition_key(&record.partition_key)
            .send()
            .await
            .map_err(|err| stream_error(stream, err))?;
        Ok(Stored {
            sequence_number: answer.sequence_number().to_string(),
            shard_id: answer.shard_id().to_string(),
            encryption_type: answer.encryption_type().map(|kind| kind.as_str().to_string()),
        })
    }

    async fn put_records(
        &self,
        stream: &str,
        records: &[StreamRecord],
    ) -> Result<Vec<Result<Stored, RecordFailure>>, StreamError> {
        let entries = records
            .iter()
            .map(|record| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(record.data.clone()))
                    .partition_key(&record.partition_key)
                    .build()
                    .map_err(|err| StreamError::Invalid(err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let answer = self
            .client
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|err| stream_error(stream, err))?;
        let encryption_type = answer.encryption_type().map(|kind| kind.as_str().to_string());
        Ok(answer
            .records()
            .iter()
            .map(|entry| match (entry.error_code(), entry.sequence_number(), entry.shard_id()) {
                (None, Some(sequence_number), Some(shard_id)) => Ok(Stored {
                    sequence_number: sequence_number.to_string(),
                    shard_id: shard_id.to_string(),
                    encryption_type: encryption_type.clone(),
                }),
                (code, _, _) => Err(RecordFailure {
                    error_code: code.unwrap_or("InternalFailure").to_string(),
                    error_message: entry
                        .error_message()
                        .unwrap_or("Kinesis returned no sequence number for the record")
                        .to_string(),
                }),
            })
            .collect())
    }
}
