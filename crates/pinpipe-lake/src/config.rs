//! Configuration from environment variables, validated at start-up with a message naming each
//! missing or bad value. The same names are used on Lambda (SAM), locally and in tests.

use pinpipe_contract::names::{validate_prefix, PrefixError};

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
    /// The naming prefix breaks the naming rules.
    #[error("environment variable {PREFIX_VAR}={value:?} is invalid: {reason}")]
    InvalidPrefix {
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: PrefixError,
    },
    /// The bucket name breaks the S3 naming rules.
    #[error("environment variable {LAKE_BUCKET_VAR}={value:?} is invalid: {reason}")]
    InvalidBucket {
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: BucketNameError,
    },
}

/// The value of a required, non-empty variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty()).ok_or(ConfigError::Missing(name))
}

/// The lake bucket from [`LAKE_BUCKET_VAR`], checked against the S3 bucket naming rules.
pub fn lake_bucket() -> Result<String, ConfigError> {
    let bucket = required(LAKE_BUCKET_VAR)?;
    validate_bucket_name(&bucket).map_err(|reason| ConfigError::InvalidBucket { value: bucket.clone(), reason })?;
    Ok(bucket)
}

/// The naming prefix from [`PREFIX_VAR`], checked by [`validate_prefix`].
pub fn prefix() -> Result<String, ConfigError> {
    let prefix = required(PREFIX_VAR)?;
    validate_prefix(&prefix).map_err(|reason| ConfigError::InvalidPrefix { value: prefix.clone(), reason })?;
    Ok(prefix)
}

/// Why a bucket name breaks the S3 naming rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BucketNameError {
    /// Shorter than 3 or longer than 63 characters.
    #[error("a bucket name has 3 to 63 characters")]
    Length,
    /// A character other than a lowercase letter, digit, dot or hyphen.
    #[error("a bucket name has only lowercase letters, digits, dots and hyphens")]
    Character,
    /// Starts or ends with a dot or hyphen.
    #[error("a bucket name starts and ends with a letter or digit")]
    Edge,
}

/// Checks the S3 bucket naming rules: 3–63 characters of `a-z 0-9 . -`, starting and ending with a
/// letter or digit.
pub fn validate_bucket_name(bucket: &str) -> Result<(), BucketNameError> {
    if !(3..=63).contains(&bucket.len()) {
        return Err(BucketNameError::Length);
    }
    if !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        return Err(BucketNameError::Character);
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(bucket.as_bytes()[0]) || !edge_ok(bucket.as_bytes()[bucket.len() - 1]) {
        return Err(BucketNameError::Edge);
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
}
