//! Configuration from environment variables, validated at start-up with a message naming each
//! missing or bad value. The same names are used on Lambda (SAM), locally and in tests.

/// The variable naming the lake bucket.
pub const LAKE_BUCKET_VAR: &str = "PINPIPE_LAKE_BUCKET";

/// The variable holding the naming prefix of topics (`<prefix>.pin`) and streams (`streaming-<prefix>-pin`).
pub const PREFIX_VAR: &str = "PINPIPE_PREFIX";

/// A missing or invalid setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    /// A variable holds a value that cannot be used.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The value of a required, non-empty variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty()).ok_or(ConfigError::Missing(name))
}

/// The Kafka topic of `table` for a naming prefix: `<prefix>.<table>` (SPEC §2).
pub fn topic_name(prefix: &str, table: &str) -> String {
    format!("{prefix}.{table}")
}

/// The Kinesis stream of `table` for a naming prefix: `streaming-<prefix>-<table>` (SPEC §2).
pub fn stream_name(prefix: &str, table: &str) -> String {
    format!("streaming-{prefix}-{table}")
}

/// The lake bucket from [`LAKE_BUCKET_VAR`], checked against the S3 bucket naming rules.
pub fn lake_bucket() -> Result<String, ConfigError> {
    let bucket = required(LAKE_BUCKET_VAR)?;
    validate_bucket_name(&bucket).map_err(|reason| ConfigError::Invalid {
        name: LAKE_BUCKET_VAR,
        value: bucket.clone(),
        reason,
    })?;
    Ok(bucket)
}

/// The naming prefix from [`PREFIX_VAR`], checked by [`validate_prefix`].
pub fn prefix() -> Result<String, ConfigError> {
    let prefix = required(PREFIX_VAR)?;
    validate_prefix(&prefix).map_err(|reason| ConfigError::Invalid {
        name: PREFIX_VAR,
        value: prefix.clone(),
        reason,
    })?;
    Ok(prefix)
}

/// Checks a naming prefix as the SAM template's `PinpipePrefix` does: 1–40 characters of
/// `A-Z a-z 0-9 _ -`, starting with a letter or digit (valid in Kafka topic and Kinesis stream names).
pub fn validate_prefix(prefix: &str) -> Result<(), &'static str> {
    if !(1..=40).contains(&prefix.len()) {
        return Err("a prefix has 1 to 40 characters");
    }
    if !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err("a prefix has only letters, digits, '_' and '-'");
    }
    if !prefix.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("a prefix starts with a letter or digit");
    }
    Ok(())
}

/// Checks the S3 bucket naming rules: 3–63 characters of `a-z 0-9 . -`, starting and ending with a
/// letter or digit.
pub fn validate_bucket_name(bucket: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&bucket.len()) {
        return Err("a bucket name has 3 to 63 characters");
    }
    if !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        return Err("a bucket name has only lowercase letters, digits, dots and hyphens");
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(bucket.as_bytes()[0]) || !edge_ok(bucket.as_bytes()[bucket.len() - 1]) {
        return Err("a bucket name starts and ends with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_the_s3_rules() {
        assert!(validate_bucket_name("pinpipe-lake-123").is_ok());
        assert!(validate_bucket_name("my.lake").is_ok());
        assert!(validate_bucket_name("ab").is_err());
        assert!(validate_bucket_name("Upper").is_err());
        assert!(validate_bucket_name("-lead").is_err());
        assert!(validate_bucket_name("trail.").is_err());
        assert!(validate_bucket_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn prefixes_follow_the_template_rules() {
        assert!(validate_prefix("0a1b2c3d4e5f").is_ok());
        assert!(validate_prefix("pinpipe-prod_2").is_ok());
        assert!(validate_prefix(&"a".repeat(40)).is_ok());
        assert!(validate_prefix("").is_err());
        assert!(validate_prefix(&"a".repeat(41)).is_err());
        assert!(validate_prefix("-lead").is_err());
        assert!(validate_prefix("has.dot").is_err());
        assert!(validate_prefix("has space").is_err());
    }
}
