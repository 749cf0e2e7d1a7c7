//! The common record read without serde: one flat JSON object whose keys and strings hold no escapes
//! and whose values are strings, numbers, `true`, `false` or `null`, as nearly every posted record is.
//!
//! [`read`] gives exactly the values serde_json's reading (`super::record`) gives such a record, or
//! `None` for anything else (an escape, a nested value, a field twice, no key, not such an object), which
//! serde_json then reads, and refuses with its reason if need be. Numbers other than plain integers are
//! handed to serde_json one by one, so that every float is the one its reading gives.

use std::borrow::Cow;

use pinpipe_contract::table::Field;

use super::record::{field_position, Posted};

/// The values of `fields` in `text` (one JSON object, nothing else but whitespace), key first, or
/// `None` when `text` is not such a plain record.
pub(super) fn read<'a>(fields: &'static [Field], text: &'a str) -> Option<Vec<Posted<'a>>> {
    let mut reader = Reader { text, at: 0 };
    let mut values = vec![Posted::Null; fields.len()];
    // As in `super::record`: bit i is field i seen; the field after the last one found is tried first.
    let (mut seen, mut expected) = (0u64, 0);
    reader.skip_whitespace();
    reader.eat(b'{')?;
    loop {
        reader.skip_whitespace();
        reader.eat(b'"')?;
        let name = reader.string()?;
        reader.skip_whitespace();
        reader.eat(b':')?;
        reader.skip_whitespace();
        let value = reader.value()?;
        if let Some(i) = field_position(fields, name, expected) {
            if seen & (1 << i) != 0 {
                return None;
            }
            values[i] = value;
            seen |= 1 << i;
            expected = i + 1;
        }
        reader.skip_whitespace();
        match reader.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    reader.skip_whitespace();
    (reader.at == text.len() && seen & 1 != 0).then_some(values)
}

/// A position in the record's text.
struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&self) -> &'a [u8] {
        &self.text.as_bytes()[self.at..]
    }

    fn next(&mut self) -> Option<u8> {
        let byte = *self.bytes().first()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// Skips JSON's whitespace (what serde_json skips).
    fn skip_whitespace(&mut self) {
        self.at += self.bytes().iter().take_while(|byte| matches!(byte, b' ' | b'\n' | b'\t' | b'\r')).count();
    }

    /// The rest of a string whose opening quote was read, when it holds no escape and no control character.
    fn string(&mut self) -> Option<&'a str> {
        let length = memchr::memchr(b'"', self.bytes())?;
        let content = &self.bytes()[..length];
        // Without an early exit, so that the check runs over many bytes at once.
        let plain = content.iter().fold(true, |plain, &byte| plain & (byte >= 0x20) & (byte != b'\\'));
        if !plain {
            return None;
        }
        let start = self.at;
        self.at += length + 1;
        // The record is valid UTF-8 and a quote is a character of its own: a valid slice.
        self.text.get(start..start + length)
    }

    fn value(&mut self) -> Option<Posted<'a>> {
        match *self.bytes().first()? {
            b'"' => {
                self.at += 1;
                self.string().map(|text| Posted::Text(Cow::Borrowed(text)))
            }
            b't' => self.literal("true", Posted::Bool(true)),
            b'f' => self.literal("false", Posted::Bool(false)),
            b'n' => self.literal("null", Posted::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Posted<'a>) -> Option<Posted<'a>> {
        self.bytes().starts_with(word.as_bytes()).then(|| {
            self.at += word.len();
            value
        })
    }

    /// A number: an integer of up to 18 digits read here, any other form read by serde_json (which also
    /// refuses what is not a JSON number).
    fn number(&mut self) -> Option<Posted<'a>> {
        let length = self
            .bytes()
            .iter()
            .take_while(|byte| matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        let token = &self.text[self.at..self.at + length];
        self.at += length;
        let (negative, digits) = match token.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, token),
        };
        // No leading zero (nor `-0`, which serde_json reads as the float -0.0), at most 18 digits (no overflow).
        let integer = (1..=18).contains(&digits.len())
            && digits.bytes().all(|byte| byte.is_ascii_digit())
            && (!digits.starts_with('0') || (digits == "0" && !negative));
        if integer {
            let magnitude = digits.bytes().fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'));
            return Some(Posted::Int(if negative { -magnitude } else { magnitude }));
        }
        serde_json::from_str(token).ok()
    }
}

#[cfg(test)]
mod tests {
    use pinpipe_contract::Table;

    use super::super::record::parse_record;
    use super::*;

    /// What `super::record` gives for `text`, by serde_json alone.
    fn by_serde(fields: &'static [Field], text: &str) -> Result<String, String> {
        super::super::record::parse_with_serde(fields, text.as_bytes())
            .map(|values| format!("{values:?}"))
            .map_err(|refusal| format!("{refusal:?}"))
    }

    /// `read` answers only when it agrees with serde_json, to the bit (`-0.0` and `0.0` differ in `Debug`).
    fn agrees(fields: &'static [Field], text: &str) -> bool {
        match read(fields, text) {
            Some(values) => {
                assert_eq!(Ok(format!("{values:?}")), by_serde(fields, text), "{text:?}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn plain_records_are_read_as_serde_json_reads_them() {
        let fields = Table::Geo.fields();
        let plain = [
            r#"{"ind": 7, "timestamp": "2020-08-28 03:52:47", "latitude": -1.5, "longitude": 2, "country": "Aruba"}"#,
            "\t{\"ind\":0,\"latitude\":1e3,\"longitude\":-0.0,\"country\":null,\"extra\":true}\r\n ",
            r#"{"country": "Ch\u00e1d is not plain", "ind": 8}"#,
            r#"{"ind": 123456789012345678, "latitude": 12345678901234567890, "longitude": -0, "timestamp": false}"#,
            r#"{"ind": -42, "latitude": 0.1000000000000000055511151231257827, "longitude": 1E-7, "country": "Åland"}"#,
        ];
        let read_plainly: Vec<bool> = plain.iter().map(|text| agrees(fields, text)).collect();
        assert_eq!(read_plainly, [true, true, false, true, true]);
        let not_plain = [
            "",
            "{}",
            "[1]",
            r#"{"ind": 1,}"#,
            r#"{"ind": 1} {"ind": 2}"#,
            r#"{"ind": 01}"#,
            r#"{"ind": 1, "ind": 2}"#,
            r#"{"ind": 1, "country": ["nested"]}"#,
            r#"{"ind": 1, "other": {"nested": 1}}"#,
            r#"{"ind": 1, "country": "tab	inside"}"#,
            r#"{"country": "no key"}"#,
            r#"{"ind": 1, "latitude": 1.5.3}"#,
            r#"{"ind": 1, "latitude": -}"#,
            r#"{"ind": 1, "country": tru}"#,
            r#"{"ind": 1 "country": "Peru"}"#,
            r#"{"ind": 1, "country": "unterminated}"#,
        ];
        for text in not_plain {
            assert!(!agrees(fields, text), "{text:?} is not a plain record");
        }
    }

    #[test]
    fn the_real_sample_is_read_plainly_and_alike_and_so_is_every_byte_changed() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/real-sample");
        for table in Table::ALL {
            let text = std::fs::read_to_string(format!("{folder}/{}.jsonl", table.name())).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            // Every record without an escape is read plainly, and those are most of them.
            let plainly = lines.iter().filter(|line| agrees(table.fields(), line)).count();
            let without_escapes = lines.iter().filter(|line| !line.contains('\\')).count();
            assert_eq!(plainly, without_escapes, "{table:?}");
            assert!(plainly * 10 > lines.len() * 9, "{table:?}: {plainly} of {}", lines.len());
            // Every byte of a few records replaced by bytes that matter to JSON: `read` still never
            // answers otherwise than serde_json.
            for line in lines.iter().take(3) {
                for at in (0..line.len()).filter(|&at| line.is_char_boundary(at) && line.is_char_boundary(at + 1)) {
                    for replacement in ["\"", "\\", ",", ":", "}", "{", "[", " ", "0", "-", ".", "e", "\u{1}", "x"] {
                        agrees(table.fields(), &format!("{}{replacement}{}", &line[..at], &line[at + 1..]));
                    }
                }
            }
        }
        // And the record as a whole decodes as before.
        let (key, _) = parse_record(Table::User.fields(), br#"{"ind": 5, "age": 30}"#).unwrap();
        assert_eq!(key, 5);
    }
}
