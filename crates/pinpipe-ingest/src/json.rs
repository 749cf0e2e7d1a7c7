//! Small helpers over raw JSON text: what kind of value it is, and its compact form.

use serde_json::value::RawValue;

/// The kind of a JSON value, read off its first character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Null,
    Other,
}

/// The kind of a (valid) raw JSON value.
pub(crate) fn kind(raw: &RawValue) -> Kind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b'n') => Kind::Null,
        _ => Kind::Other,
    }
}

/// The compact text of a valid JSON value: every whitespace character outside strings removed, and
/// nothing else changed (member order, number spelling and string escapes stay exactly as sent). This
/// is what a Kafka REST proxy and API Gateway's `$input.json` store: one line of JSON, so the lake's
/// JSON-lines objects stay one record per line whatever formatting the client used.
pub fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keeps_order_numbers_and_escapes() {
        let text = "{ \"b\" : [1 , 2.50, -0.0, 1e5],\n\t\"a\": \"x \\\" y\\n, z\" , \"c\":{ } }";
        assert_eq!(compact(text), r#"{"b":[1,2.50,-0.0,1e5],"a":"x \" y\n, z","c":{}}"#);
        assert_eq!(compact(r#""a\\" "#), r#""a\\""#);
        assert_eq!(compact("\"Côte d’Ivoire \u{a0}\""), "\"Côte d’Ivoire \u{a0}\"");
    }

    #[test]
    fn compact_text_of_an_as_posted_record() {
        let spaced = r#"{"ind": 4, "timestamp": "2022-07-07 00:18:41", "latitude": -88.8298, "country": "A, B: C"}"#;
        assert_eq!(
            compact(spaced),
            r#"{"ind":4,"timestamp":"2022-07-07 00:18:41","latitude":-88.8298,"country":"A, B: C"}"#
        );
    }

    #[test]
    fn kinds_are_read_off_the_first_character() {
        let raw = |text: &str| serde_json::from_str::<Box<RawValue>>(text).unwrap();
        assert_eq!(kind(&raw(" {}")), Kind::Object);
        assert_eq!(kind(&raw("[1]")), Kind::Array);
        assert_eq!(kind(&raw("\"s\"")), Kind::String);
        assert_eq!(kind(&raw("null")), Kind::Null);
        assert_eq!(kind(&raw("12")), Kind::Other);
        assert_eq!(kind(&raw("true")), Kind::Other);
    }
}
