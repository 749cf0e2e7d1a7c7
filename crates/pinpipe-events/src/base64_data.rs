//! Bytes as the events carry them: standard base64, padded (a Kinesis record's `data`, a Kafka record's
//! `value`), decoded with SIMD where the CPU has it (`base64-simd`, AVX2 or NEON found at run time): the
//! `base64` crate took a third of the stream processor's event parse (`stream/stage/event_json`).

use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Why a text is not standard padded base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Error {
    reason: String,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Base64Error {}

/// The bytes `encoded` holds in standard padded base64, or why it holds none.
pub fn decode_base64(encoded: &str) -> Result<Vec<u8>, Base64Error> {
    base64_simd::STANDARD.decode_to_vec(encoded).map_err(|_| Base64Error { reason: explain(encoded) })
}

/// Where and why `encoded` is not base64: the SIMD decoder only says that it is not; the `base64` crate
/// (as strict: canonical padding and final bits) names the symbol and its offset.
fn explain(encoded: &str) -> String {
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Err(error) => error.to_string(),
        Ok(_) => "not canonical standard base64".to_string(),
    }
}

/// A base64 field of an event, decoded as it is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Base64Bytes(pub Vec<u8>);

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Base64Visitor)
    }
}

struct Base64Visitor;

impl Visitor<'_> for Base64Visitor {
    type Value = Base64Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: de::Error>(self, encoded: &str) -> Result<Self::Value, E> {
        decode_base64(encoded).map(Base64Bytes).map_err(|error| E::custom(format_args!("not base64: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_the_base64_crate_decodes_and_refuses_what_it_refuses() {
        let engine = base64::engine::general_purpose::STANDARD;
        // Every length up to three SIMD blocks, every byte value.
        for length in 0..100 {
            let bytes: Vec<u8> = (0..length).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(decode_base64(&engine.encode(&bytes)), Ok(bytes));
        }
        for bad in ["QR==", "QQ", "QQ=", "Q", "QUJD\n", " QUJD", "QU-D", "QU_D", "%%%", "QUJD====", "QQ==QQ=="] {
            let reason = engine.decode(bad).expect_err(bad).to_string();
            assert_eq!(decode_base64(bad), Err(Base64Error { reason }), "{bad}");
        }
        assert_eq!(decode_base64("%%%").unwrap_err().to_string(), "Invalid symbol 37, offset 0.");
    }

    #[test]
    fn a_field_is_read_escaped_or_not_and_a_bad_one_says_why() {
        let read = |json: &str| serde_json::from_str::<Base64Bytes>(json);
        assert_eq!(read(r#""eyJhIjogMX0=""#).unwrap(), Base64Bytes(br#"{"a": 1}"#.to_vec()));
        assert_eq!(read(r#""Pz8\/""#).unwrap(), Base64Bytes(b"???".to_vec()));
        let error = read(r#""QR==""#).unwrap_err().to_string();
        assert!(error.starts_with("not base64: Invalid last symbol 82, offset 1."), "{error}");
        assert!(read("12").is_err());
    }
}
