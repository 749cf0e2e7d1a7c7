//! Amazon MSK IAM authentication tokens for SASL OAUTHBEARER, as the aws-msk-iam-sasl-signer libraries
//! make them:
//!
//! 1. the request `GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect` is presigned
//!    with SigV4 in the query string (service `kafka-cluster`, 900 s expiry, the session token signed as
//!    `X-Amz-Security-Token`, only the `host` header signed);
//! 2. a `User-Agent` query parameter naming the signer is appended (unsigned);
//! 3. the URL is encoded as unpadded URL-safe base64: that is the token;
//! 4. it expires at the signing time (`X-Amz-Date`) plus 900 s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use base64::Engine;

/// The service name MSK IAM signs for.
pub const SIGNING_NAME: &str = "kafka-cluster";
/// The action every token asks for.
pub const ACTION: &str = "kafka-cluster:Connect";
/// How long a token is valid.
pub const TOKEN_EXPIRY: Duration = Duration::from_secs(900);
/// The signer's `User-Agent` (the reference signers send `<library>/<version>`).
pub const USER_AGENT: &str = concat!("pinpipe-msk-iam-sasl-signer/", env!("CARGO_PKG_VERSION"));

/// An MSK IAM token and when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthToken {
    /// Unpadded URL-safe base64 of the presigned URL.
    pub token: String,
    /// Expiry in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The access key id or the secret key is empty.
    #[error("AWS credentials are empty")]
    EmptyCredentials,
    /// The system clock reads a time before the Unix epoch.
    #[error("the clock is before 1970")]
    ClockBeforeEpoch,
    /// The SigV4 signing parameters could not be built.
    #[error("MSK IAM signing parameters: {0}")]
    Params(aws_sigv4::sign::v4::signing_params::BuildError),
    /// The request to presign could not be made.
    #[error("MSK IAM request: {0}")]
    Request(aws_sigv4::http_request::SigningError),
    /// The request could not be signed.
    #[error("MSK IAM signing: {0}")]
    Signing(aws_sigv4::http_request::SigningError),
}

/// Makes the token for `region` with `credentials`, signed at `now`.
pub fn auth_token(credentials: &Credentials, region: &str, now: SystemTime) -> Result<AuthToken, SignError> {
    if credentials.access_key_id().is_empty() || credentials.secret_access_key().is_empty() {
        return Err(SignError::EmptyCredentials);
    }
    // SigV4 works in whole seconds: X-Amz-Date is `now` truncated, and so is the expiry.
    let signed_at = now.duration_since(UNIX_EPOCH).map_err(|_| SignError::ClockBeforeEpoch)?.as_secs();
    let now = UNIX_EPOCH + Duration::from_secs(signed_at);
    let endpoint = format!("https://kafka.{region}.amazonaws.com/");
    let url = format!("{endpoint}?Action={}", encode(ACTION));
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_EXPIRY);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_NAME)
        .time(now)
        .settings(settings)
        .build()
        .map_err(SignError::Params)?
        .into();
    let request =
        SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::empty()).map_err(SignError::Request)?;
    let (instructions, _signature) = sign(request, &params).map_err(SignError::Signing)?.into_parts();
    let mut signed = url;
    for (name, value) in instructions.params() {
        signed.push('&');
        signed.push_str(&encode(name));
        signed.push('=');
        signed.push_str(&encode(value));
    }
    signed.push_str("&User-Agent=");
    signed.push_str(&encode(USER_AGENT));
    Ok(AuthToken {
        token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signed.as_bytes()),
        expires_at_ms: ((signed_at + TOKEN_EXPIRY.as_secs()) * 1000) as i64,
    })
}

/// Percent-encodes everything but the URI-unreserved characters, as SigV4 canonicalizes query strings.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn decode_query(url: &str) -> BTreeMap<String, String> {
        let query = url.split_once('?').unwrap().1;
        query
            .split('&')
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap();
                (unescape(name), unescape(value))
            })
            .collect()
    }

    fn unescape(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] == b'%' {
                out.push(u8::from_str_radix(&text[index + 1..index + 3], 16).unwrap());
                index += 3;
            } else {
                out.push(bytes[index]);
                index += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_token_is_a_presigned_connect_url_in_unpadded_url_safe_base64() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("FwoGZXIvYXdzE+session/token==".to_string()),
            None,
            "test",
        );
        // 2026-01-02T03:04:05.678Z
        let now = UNIX_EPOCH + Duration::from_millis(1_767_323_045_678);
        let token = auth_token(&credentials, "eu-west-1", now).unwrap();

        assert!(!token.token.contains(['=', '+', '/']), "{}", token.token);
        let url =
            String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token.token).unwrap()).unwrap();
        assert!(url.starts_with("https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect&"), "{url}");
        let query = decode_query(&url);
        assert_eq!(query["Action"], "kafka-cluster:Connect");
        assert_eq!(query["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(query["X-Amz-Credential"], "AKIDEXAMPLE/20260102/eu-west-1/kafka-cluster/aws4_request");
        assert_eq!(query["X-Amz-Date"], "20260102T030405Z");
        assert_eq!(query["X-Amz-Expires"], "900");
        assert_eq!(query["X-Amz-SignedHeaders"], "host");
        assert_eq!(query["X-Amz-Security-Token"], "FwoGZXIvYXdzE+session/token==");
        let signature = &query["X-Amz-Signature"];
        assert_eq!(signature.len(), 64);
        assert!(signature.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(query["User-Agent"].starts_with("pinpipe-msk-iam-sasl-signer/"));
        assert!(url.ends_with(&format!("&User-Agent={}", encode(USER_AGENT))), "the user agent comes last, unsigned");
        assert_eq!(query.len(), 9);
        assert_eq!(token.expires_at_ms, 1_767_323_045_000 + 900_000);

        // Deterministic for the same inputs; a different second signs differently.
        assert_eq!(auth_token(&credentials, "eu-west-1", now).unwrap(), token);
        let later = auth_token(&credentials, "eu-west-1", now + Duration::from_secs(1)).unwrap();
        assert_ne!(
            decode_query(
                &String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&later.token).unwrap())
                    .unwrap()
            )["X-Amz-Signature"],
            *signature
        );
    }

    #[test]
    fn without_a_session_token_none_is_sent_and_empty_credentials_are_refused() {
        let credentials = Credentials::new("AKID", "secret", None, None, "test");
        let token = auth_token(&credentials, "us-east-1", SystemTime::now()).unwrap();
        let url =
            String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token.token).unwrap()).unwrap();
        assert!(!decode_query(&url).contains_key("X-Amz-Security-Token"));
        let empty = Credentials::new("", "", None, None, "test");
        assert!(matches!(auth_token(&empty, "us-east-1", SystemTime::now()), Err(SignError::EmptyCredentials)));
    }
}
