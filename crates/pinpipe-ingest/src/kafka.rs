//! The Kafka adapter: a [`TopicProducer`] over librdkafka (the `rdkafka` crate): idempotent, `acks=all`,
//! LZ4-compressed, keyed by the record key when one is given. With `iam` it speaks TLS and SASL
//! OAUTHBEARER with MSK IAM tokens ([`crate::msk_iam`]); the brokers come from the bootstrap list or
//! from the MSK cluster's `GetBootstrapBrokers`, resolved on first use (and again after a failure).

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use futures::future::join_all;
use rdkafka::client::{ClientContext, OAuthToken};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use tokio::sync::Mutex;

use crate::config::{KafkaAuth, KafkaConfig};
use crate::msk_iam;
use crate::ports::{Offset, ProduceError, TopicProducer, TopicRecord};

/// The principal name given with each OAUTHBEARER token (MSK reads the identity from the token).
const OAUTH_PRINCIPAL: &str = "pinpipe-ingest";
/// How long fetching AWS credentials for a token may take.
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between two attempts to reconnect to a broker (librdkafka's
/// `reconnect.backoff.max.ms`, 10 s by default). It also bounds how late a record waiting for a broker
/// that is down fails: librdkafka (2.12) notices an expired `message.timeout.ms` of a record queued for
/// a broker only when that broker's thread wakes up, and while the broker is down the thread sleeps
/// until its next reconnect attempt (the expiry it computes for the queued records is dropped in
/// `rd_kafka_broker_toppar_msgq_scan`). With the default backoff (100 ms doubling to 10 s) a 3 s
/// delivery timeout took 8 to 11 s to fail; with this cap a request answers within the delivery timeout
/// and this much.
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long handing a record to librdkafka may wait while its queue is full (100,000 records or 1 GiB
/// waiting): then the brokers are far behind and the record fails (503) rather than eat into the
/// delivery timeout, which starts once the record is queued.
pub const QUEUE_FULL_WAIT: Duration = Duration::from_secs(1);

/// The librdkafka client context: supplies MSK IAM tokens when the brokers ask for them.
pub struct IngestContext {
    iam: Option<IamSigner>,
}

struct IamSigner {
    region: String,
    credentials: SharedCredentialsProvider,
    runtime: tokio::runtime::Handle,
}

/// Why an MSK IAM token could not be made for librdkafka.
#[derive(Debug, thiserror::Error)]
enum TokenError {
    /// The producer was not configured for IAM.
    #[error("OAUTHBEARER tokens are only made with PINPIPE_KAFKA_AUTH=iam")]
    NotIam,
    /// The thread fetching the credentials panicked.
    #[error("the credentials thread panicked")]
    CredentialsThread,
    /// Fetching the credentials took longer than [`CREDENTIALS_TIMEOUT`].
    #[error("fetching AWS credentials timed out")]
    CredentialsTimeout,
    /// The credentials provider failed.
    #[error("fetching AWS credentials: {0}")]
    Credentials(aws_credential_types::provider::error::CredentialsError),
    /// The token could not be signed.
    #[error(transparent)]
    Sign(#[from] msk_iam::SignError),
}

impl IamSigner {
    fn token(&self) -> Result<OAuthToken, TokenError> {
        // librdkafka asks from its own thread; the credentials provider is async and needs the runtime.
        // A scoped thread may block on it whatever thread this is.
        let credentials = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.runtime.block_on(async {
                        tokio::time::timeout(CREDENTIALS_TIMEOUT, self.credentials.provide_credentials()).await
                    })
                })
                .join()
        })
        .map_err(|_| TokenError::CredentialsThread)?
        .map_err(|_| TokenError::CredentialsTimeout)?
        .map_err(TokenError::Credentials)?;
        let token = msk_iam::auth_token(&credentials, &self.region, SystemTime::now())?;
        Ok(OAuthToken {
            token: token.token,
            principal_name: OAUTH_PRINCIPAL.to_string(),
            lifetime_ms: token.expires_at_ms,
        })
    }
}

impl ClientContext for IngestContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, _oauthbearer_config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        let token = match &self.iam {
            Some(signer) => signer.token().inspect_err(|err| {
                tracing::error!(error = %err, "cannot make an MSK IAM token");
            }),
            None => Err(TokenError::NotIam),
        };
        Ok(token?)
    }
}

/// Why the Kafka producer could not be made: its brokers unknown, or librdkafka refusing the settings.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSetupError {
    /// Neither a bootstrap list nor a cluster ARN is configured.
    #[error("Kafka has neither a bootstrap list nor a cluster ARN")]
    NoBrokers,
    /// A cluster ARN is configured but no AWS configuration was given to resolve it.
    #[error("no AWS configuration to resolve the MSK cluster")]
    NoAwsToResolve,
    /// `GetBootstrapBrokers` failed.
    #[error("GetBootstrapBrokers for {arn} failed: {detail}")]
    GetBootstrapBrokers {
        /// The cluster ARN.
        arn: String,
        /// The SDK's error, with its causes.
        detail: String,
    },
    /// The cluster has no brokers for the configured authentication.
    #[error("the MSK cluster {arn} has no {access} brokers (is {access} access enabled on it?)")]
    NoClusterBrokers {
        /// The cluster ARN.
        arn: String,
        /// `IAM` or `plaintext`.
        access: &'static str,
    },
    /// IAM authentication without an AWS configuration.
    #[error("no AWS configuration to sign MSK IAM tokens")]
    NoAwsToSign,
    /// IAM authentication without a region (neither in the cluster ARN nor in the AWS configuration).
    #[error("no AWS region for MSK IAM tokens (set AWS_REGION)")]
    NoRegion,
    /// IAM authentication without a credentials provider.
    #[error("no AWS credentials provider for MSK IAM tokens")]
    NoCredentials,
    /// IAM authentication outside a Tokio runtime.
    #[error("MSK IAM needs a Tokio runtime")]
    NoRuntime,
    /// librdkafka refused to create the producer.
    #[error("cannot create the Kafka producer: {0}")]
    Create(KafkaError),
}

type Inner = FutureProducer<IngestContext>;

/// A [`TopicProducer`] over librdkafka.
pub struct KafkaProducer {
    config: KafkaConfig,
    sdk: Option<aws_config::SdkConfig>,
    producer: Mutex<Option<Arc<Inner>>>,
}

impl KafkaProducer {
    /// A producer for `config`. `sdk` (the AWS configuration) is needed to resolve a cluster ARN and
    /// to sign IAM tokens; nothing connects before the first record.
    pub fn new(config: KafkaConfig, sdk: Option<aws_config::SdkConfig>) -> Self {
        Self { config, sdk, producer: Mutex::new(None) }
    }

    /// A producer for `config`, loading the AWS configuration the standard way when it needs one.
    pub async fn from_config(config: KafkaConfig) -> Self {
        let needs_aws = config.auth == KafkaAuth::Iam || config.bootstrap.is_none();
        let sdk = if needs_aws {
            Some(aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await)
        } else {
            None
        };
        Self::new(config, sdk)
    }

    /// Resolves the brokers and creates the librdkafka producer now rather than on the first record
    /// (the Lambda does this while it starts). A failure is returned, and tried again on first use.
    pub async fn connect(&self) -> Result<(), KafkaSetupError> {
        self.producer().await.map(|_| ())
    }

    /// The librdkafka producer, created (and the brokers resolved) on first use, and again after a
    /// fatal error.
    async fn producer(&self) -> Result<Arc<Inner>, KafkaSetupError> {
        let mut slot = self.producer.lock().await;
        if let Some(producer) = slot.as_ref() {
            match producer.client().fatal_error() {
                None => return Ok(producer.clone()),
                Some((code, reason)) => {
                    tracing::error!(?code, reason, "the Kafka producer failed fatally; making a new one");
                }
            }
        }
        let bootstrap = self.bootstrap().await?;
        let producer = Arc::new(self.create(&bootstrap)?);
        tracing::info!(bootstrap, auth = ?self.config.auth, "Kafka producer created");
        *slot = Some(producer.clone());
        Ok(producer)
    }

    async fn bootstrap(&self) -> Result<String, KafkaSetupError> {
        if let Some(list) = &self.config.bootstrap {
            return Ok(list.clone());
        }
        let arn = self.config.cluster_arn.as_deref().ok_or(KafkaSetupError::NoBrokers)?;
        let sdk = self.sdk.as_ref().ok_or(KafkaSetupError::NoAwsToResolve)?;
        let answer =
            aws_sdk_kafka::Client::new(sdk).get_bootstrap_brokers().cluster_arn(arn).send().await.map_err(|err| {
                KafkaSetupError::GetBootstrapBrokers {
                    arn: arn.to_string(),
                    detail: aws_sdk_kafka::error::DisplayErrorContext(&err).to_string(),
                }
            })?;
        let (list, access) = match self.config.auth {
            KafkaAuth::Iam => (answer.bootstrap_broker_string_sasl_iam(), "IAM"),
            KafkaAuth::None => (answer.bootstrap_broker_string(), "plaintext"),
        };
        list.filter(|list| !list.is_empty())
            .map(str::to_string)
            .ok_or_else(|| KafkaSetupError::NoClusterBrokers { arn: arn.to_string(), access })
    }

    fn create(&self, bootstrap: &str) -> Result<Inner, KafkaSetupError> {
        let timeout_ms = self.config.delivery_timeout.as_millis().max(1).to_string();
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", bootstrap)
            .set("client.id", "pinpipe-ingest")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.codec", "lz4")
            // A request hands all its records over at once; waiting longer for more only delays single records.
            .set("linger.ms", "1")
            .set("message.timeout.ms", &timeout_ms)
            .set("request.timeout.ms", &timeout_ms)
            // See RECONNECT_BACKOFF_MAX: a record waiting for a dead broker fails at the delivery timeout, not
            // up to 10 s later.
            .set("reconnect.backoff.max.ms", RECONNECT_BACKOFF_MAX.as_millis().to_string())
            // A topic that does not exist fails its records quickly instead of at the delivery timeout.
            .set("topic.metadata.propagation.max.ms", "1000");
        let iam = match self.config.auth {
            KafkaAuth::None => {
                client.set("security.protocol", "plaintext");
                None
            }
            KafkaAuth::Iam => {
                // The brokers' certificates chain to public roots: find the system's CA bundle wherever
                // this OpenSSL build looks by default (a vendored OpenSSL looks in the wrong place).
                client
                    .set("security.protocol", "sasl_ssl")
                    .set("sasl.mechanism", "OAUTHBEARER")
                    .set("ssl.ca.location", "probe");
                let sdk = self.sdk.as_ref().ok_or(KafkaSetupError::NoAwsToSign)?;
                let region = self
                    .config
                    .cluster_region()
                    .map(str::to_string)
                    .or_else(|| sdk.region().map(|region| region.to_string()))
                    .ok_or(KafkaSetupError::NoRegion)?;
                let credentials = sdk.credentials_provider().ok_or(KafkaSetupError::NoCredentials)?;
                let runtime = tokio::runtime::Handle::try_current().map_err(|_| KafkaSetupError::NoRuntime)?;
                Some(IamSigner { region, credentials, runtime })
            }
        };
        client.create_with_context(IngestContext { iam }).map_err(KafkaSetupError::Create)
    }
}

#[async_trait]
impl TopicProducer for KafkaProducer {
    async fn produce(&self, topic: &str, records: &[TopicRecord]) -> Vec<Result<Offset, ProduceError>> {
        let producer = match self.producer().await {
            Ok(producer) => producer,
            Err(reason) => {
                let reason = format!("Kafka is unavailable: {reason}");
                return records.iter().map(|_| Err(ProduceError::Unavailable(reason.clone()))).collect();
            }
        };
        let queue_timeout = Timeout::After(self.config.delivery_timeout.min(QUEUE_FULL_WAIT));
        let sends = records.iter().map(|record| {
            let mut message = FutureRecord::<[u8], [u8]>::to(topic).payload(&record.value[..]);
            if let Some(key) = &record.key {
                message = message.key(&key[..]);
            }
            if let Some(partition) = record.partition {
                message = message.partition(partition);
            }
            producer.send(message, queue_timeout)
        });
        let (mut stale, mut timed_out) = (false, 0);
        let results: Vec<Result<Offset, ProduceError>> = join_all(sends)
            .await
            .into_iter()
            .map(|result| match result {
                Ok(delivery) => Ok(Offset { partition: delivery.partition, offset: delivery.offset }),
                Err((error, _message)) => {
                    let code = error.rdkafka_error_code();
                    stale |= code.is_some_and(rejects_producer_state);
                    timed_out += usize::from(code == Some(RDKafkaErrorCode::MessageTimedOut));
                    Err(produce_error(topic, &error))
                }
            })
            .collect();
        if results.iter().any(Result::is_err) {
            if let Some((code, reason)) = producer.client().fatal_error() {
                tracing::error!(?code, reason, "the Kafka producer failed fatally; the next request makes a new one");
            } else if stale || timed_out == records.len() {
                // A producer that lost every record (the brokers unreachable) or whose idempotence state
                // the broker refused starts over: the next request makes a new one (new connections, a
                // new producer id), so a restarted broker never sees this one's old sequence numbers.
                tracing::warn!(stale, timed_out, "the next request makes a new Kafka producer");
                let mut slot = self.producer.lock().await;
                if slot.as_ref().is_some_and(|current| Arc::ptr_eq(current, &producer)) {
                    *slot = None;
                }
            }
        }
        // Dropping the last handle of a producer purges it, flushes for up to 500 ms and joins its
        // polling thread: not on the runtime's threads, and not in the answer's time.
        if Arc::strong_count(&producer) == 1 {
            tokio::task::spawn_blocking(move || drop(producer));
        }
        results
    }
}

/// Whether the broker refused a record for the producer's idempotence state (its producer id, epoch
/// or sequence), as a broker that lost or never had that state does after a restart. Such a producer
/// keeps failing; a new one (a new producer id) does not. Records it failed were reported as failed,
/// so nothing acknowledged is lost by starting over.
fn rejects_producer_state(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Unknown
            | RDKafkaErrorCode::UnknownProducerId
            | RDKafkaErrorCode::InvalidProducerEpoch
            | RDKafkaErrorCode::OutOfOrderSequenceNumber
            | RDKafkaErrorCode::InvalidProducerIdMapping
    )
}

fn produce_error(topic: &str, error: &KafkaError) -> ProduceError {
    let detail = format!("{topic}: {error}");
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            ProduceError::UnknownTopic(detail)
        }
        Some(RDKafkaErrorCode::UnknownPartition) => ProduceError::UnknownPartition(detail),
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => ProduceError::TooLarge(detail),
        _ => ProduceError::Unavailable(format!("Kafka did not acknowledge the record: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;
    use base64::Engine;

    use super::*;

    fn iam_config() -> (KafkaConfig, aws_config::SdkConfig) {
        let config = KafkaConfig {
            auth: KafkaAuth::Iam,
            cluster_arn: Some("arn:aws:kafka:eu-west-1:123456789012:cluster/pinpipe/0b1c2d3e-4f5a".into()),
            ..KafkaConfig::plaintext("127.0.0.1:9")
        };
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "test");
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        (config, sdk)
    }

    #[tokio::test]
    async fn the_iam_producer_is_built_with_tls_and_oauthbearer_and_signs_for_the_clusters_region() {
        let (config, sdk) = iam_config();
        let producer = KafkaProducer::new(config, Some(sdk));
        // librdkafka refuses sasl_ssl / OAUTHBEARER when built without TLS: creating it proves the build.
        let inner = producer.create("127.0.0.1:9").expect("librdkafka takes the MSK IAM settings");
        let token = inner.context().generate_oauth_token(None).expect("a token");
        assert_eq!(token.principal_name, OAUTH_PRINCIPAL);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token.token).unwrap();
        let url = String::from_utf8(url).unwrap();
        assert!(url.starts_with("https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect&"), "{url}");
        assert!(url.contains("X-Amz-Credential=AKIDEXAMPLE%2F"), "{url}");
        let now_ms = SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        assert!((now_ms + 800_000..=now_ms + 900_000).contains(&token.lifetime_ms));
    }

    #[tokio::test]
    async fn a_plaintext_producer_makes_no_tokens() {
        let producer = KafkaProducer::new(KafkaConfig::plaintext("127.0.0.1:9"), None);
        let inner = producer.create("127.0.0.1:9").unwrap();
        assert!(inner.context().generate_oauth_token(None).is_err());
    }

    #[test]
    fn broker_errors_map_to_answers() {
        let error = |code| KafkaError::MessageProduction(code);
        assert!(matches!(
            produce_error("t", &error(RDKafkaErrorCode::UnknownTopicOrPartition)),
            ProduceError::UnknownTopic(_)
        ));
        assert!(matches!(
            produce_error("t", &error(RDKafkaErrorCode::UnknownPartition)),
            ProduceError::UnknownPartition(_)
        ));
        assert!(matches!(produce_error("t", &error(RDKafkaErrorCode::MessageSizeTooLarge)), ProduceError::TooLarge(_)));
        assert!(matches!(produce_error("t", &error(RDKafkaErrorCode::MessageTimedOut)), ProduceError::Unavailable(_)));
    }
}
