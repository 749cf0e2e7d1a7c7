//! The ingestion API's configuration, from environment variables (the names the SAM template sets),
//! validated at start-up with a message naming each missing or bad value.
//!
//! | variable | meaning |
//! |---|---|
//! | `PINPIPE_PREFIX` | naming prefix: topics `<prefix>.pin\|geo\|user`, streams `streaming-<prefix>-pin\|geo\|user` (required) |
//! | `PINPIPE_KAFKA_BOOTSTRAP` | Kafka bootstrap list `host:port,...`; overrides the brokers of the cluster ARN |
//! | `PINPIPE_MSK_CLUSTER_ARN` | an Amazon MSK cluster whose bootstrap brokers are asked for (GetBootstrapBrokers) |
//! | `PINPIPE_KAFKA_AUTH` | `iam` (TLS + SASL OAUTHBEARER with an MSK IAM token) or `none` (plaintext); default `iam` with a cluster ARN, else `none` |
//!
//! With neither a bootstrap list nor a cluster ARN the API has no Kafka: its topic route answers 503.

use std::time::Duration;

use pinpipe_lake::config::{self, ConfigError};

/// The variable holding the Kafka bootstrap list.
pub const KAFKA_BOOTSTRAP_VAR: &str = "PINPIPE_KAFKA_BOOTSTRAP";
/// The variable holding the MSK cluster ARN.
pub const MSK_CLUSTER_ARN_VAR: &str = "PINPIPE_MSK_CLUSTER_ARN";
/// The variable choosing the Kafka authentication.
pub const KAFKA_AUTH_VAR: &str = "PINPIPE_KAFKA_AUTH";

/// How long a produced record may wait for its acknowledgement before the request fails (503). API
/// Gateway gives the function 12 s and the function has 10 s.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// How the producer authenticates to the brokers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KafkaAuth {
    /// TLS and SASL OAUTHBEARER with an MSK IAM token signed with the function's credentials.
    Iam,
    /// Plaintext, no authentication (a local broker).
    None,
}

/// Where Kafka is and how to talk to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaConfig {
    /// An explicit bootstrap list; wins over the cluster's own.
    pub bootstrap: Option<String>,
    /// The MSK cluster; its bootstrap brokers are resolved when no list is given.
    pub cluster_arn: Option<String>,
    /// The authentication.
    pub auth: KafkaAuth,
    /// See [`DEFAULT_DELIVERY_TIMEOUT`].
    pub delivery_timeout: Duration,
}

impl KafkaConfig {
    /// Plaintext Kafka at `bootstrap` (a local broker).
    pub fn plaintext(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap: Some(bootstrap.into()),
            cluster_arn: None,
            auth: KafkaAuth::None,
            delivery_timeout: DEFAULT_DELIVERY_TIMEOUT,
        }
    }

    /// The region of the cluster ARN, if there is one.
    pub fn cluster_region(&self) -> Option<&str> {
        self.cluster_arn.as_deref().and_then(|arn| arn.split(':').nth(3))
    }
}

/// The whole configuration of the ingestion API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestConfig {
    /// The naming prefix.
    pub prefix: String,
    /// Kafka, when configured.
    pub kafka: Option<KafkaConfig>,
}

impl IngestConfig {
    /// Reads and checks the variables of the table above.
    pub fn from_env() -> Result<Self, IngestConfigError> {
        let prefix = config::prefix()?;
        let bootstrap = optional(KAFKA_BOOTSTRAP_VAR);
        let cluster_arn = optional(MSK_CLUSTER_ARN_VAR);
        if let Some(list) = &bootstrap {
            validate_bootstrap(list).map_err(|reason| IngestConfigError::Bootstrap { value: list.clone(), reason })?;
        }
        if let Some(arn) = &cluster_arn {
            validate_cluster_arn(arn).map_err(|reason| IngestConfigError::ClusterArn { value: arn.clone(), reason })?;
        }
        let auth = match optional(KAFKA_AUTH_VAR) {
            None if cluster_arn.is_some() => KafkaAuth::Iam,
            None => KafkaAuth::None,
            Some(value) => parse_auth(&value).map_err(|reason| IngestConfigError::Auth { value, reason })?,
        };
        let kafka = (bootstrap.is_some() || cluster_arn.is_some()).then_some(KafkaConfig {
            bootstrap,
            cluster_arn,
            auth,
            delivery_timeout: DEFAULT_DELIVERY_TIMEOUT,
        });
        Ok(Self { prefix, kafka })
    }
}

/// Why the ingestion API's environment cannot be used; the message names the variable and its value.
#[derive(Debug, thiserror::Error)]
pub enum IngestConfigError {
    /// `PINPIPE_PREFIX` is missing or breaks the naming rules.
    #[error(transparent)]
    Prefix(#[from] ConfigError),
    /// [`KAFKA_BOOTSTRAP_VAR`] is not a bootstrap list.
    #[error("environment variable {KAFKA_BOOTSTRAP_VAR}={value:?} is invalid: {reason}")]
    Bootstrap {
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: BootstrapError,
    },
    /// [`MSK_CLUSTER_ARN_VAR`] is not an MSK cluster ARN.
    #[error("environment variable {MSK_CLUSTER_ARN_VAR}={value:?} is invalid: {reason}")]
    ClusterArn {
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: ClusterArnError,
    },
    /// [`KAFKA_AUTH_VAR`] is neither `iam` nor `none`.
    #[error("environment variable {KAFKA_AUTH_VAR}={value:?} is invalid: {reason}")]
    Auth {
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: AuthError,
    },
}

/// A bootstrap list that is not `host:port` entries separated by commas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a bootstrap list is host:port entries separated by commas")]
pub struct BootstrapError;

/// A value that is not an MSK cluster ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an MSK cluster ARN looks like arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>")]
pub struct ClusterArnError;

/// A Kafka authentication other than `iam` and `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Kafka authentication is `iam` or `none`")]
pub struct AuthError;

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|value| value.trim().to_string()).filter(|value| !value.is_empty())
}

/// `iam` or `none`, in any case.
pub fn parse_auth(value: &str) -> Result<KafkaAuth, AuthError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "iam" => Ok(KafkaAuth::Iam),
        "none" => Ok(KafkaAuth::None),
        _ => Err(AuthError),
    }
}

/// A bootstrap list: `host:port` entries separated by commas.
pub fn validate_bootstrap(list: &str) -> Result<(), BootstrapError> {
    for broker in list.split(',').map(str::trim) {
        let (host, port) = broker.rsplit_once(':').ok_or(BootstrapError)?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |port| port == 0) {
            return Err(BootstrapError);
        }
    }
    Ok(())
}

/// An MSK cluster ARN: `arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>`.
pub fn validate_cluster_arn(arn: &str) -> Result<(), ClusterArnError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kafka"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("cluster/")
        && parts[5].split('/').count() == 3;
    well_formed.then_some(()).ok_or(ClusterArnError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists_and_arns_are_checked() {
        assert!(validate_bootstrap("127.0.0.1:9092").is_ok());
        assert!(validate_bootstrap("b-1.x.kafka.us-east-1.amazonaws.com:9098, b-2.x:9098").is_ok());
        assert!(validate_bootstrap("localhost").is_err());
        assert!(validate_bootstrap("host:port").is_err());
        assert!(validate_bootstrap("a:9092,,b:9092").is_err());
        let arn = "arn:aws:kafka:eu-west-1:123456789012:cluster/pinpipe/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e-2";
        assert!(validate_cluster_arn(arn).is_ok());
        assert!(validate_cluster_arn("arn:aws:kafka:eu-west-1:123:cluster/x/y").is_err());
        assert!(validate_cluster_arn("arn:aws:s3:::bucket").is_err());
        let config = KafkaConfig { cluster_arn: Some(arn.into()), ..KafkaConfig::plaintext("b:9098") };
        assert_eq!(config.cluster_region(), Some("eu-west-1"));
        assert_eq!(parse_auth("IAM"), Ok(KafkaAuth::Iam));
        assert_eq!(parse_auth("none"), Ok(KafkaAuth::None));
        assert_eq!(parse_auth("scram"), Err(AuthError));
    }
}
