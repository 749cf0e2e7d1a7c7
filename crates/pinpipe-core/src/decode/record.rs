//! Parsing one record: a JSON object as posted → its key and the values of the table's fields,
//! borrowed from the input where possible, or the reason it is refused.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use pinpipe_contract::table::Field;
use pinpipe_contract::RejectKind;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use xxhash_rust::xxh3::Xxh3Default;

/// A JSON value as posted, borrowed from the line where possible.
#[derive(Debug, PartialEq)]
pub(super) enum Posted<'a> {
    Null,
    Text(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    /// An array or object: no field holds one.
    Nested(&'static str),
}

impl Posted<'_> {
    fn describe(&self) -> String {
        match self {
            Posted::Null => "null".into(),
            Posted::Text(text) => format!("the string {text:?}"),
            Posted::Int(v) => v.to_string(),
            Posted::UInt(v) => v.to_string(),
            Posted::Float(v) => format!("{v:?}"),
            Posted::Bool(v) => v.to_string(),
            Posted::Nested(kind) => format!("an {kind}"),
        }
    }

    /// Feeds the value into a record hash; every variant is tagged so `"1"` and `1` differ.
    pub(super) fn hash_into(&self, hasher: &mut Xxh3Default) {
        match self {
            Posted::Null => hasher.update(&[0]),
            Posted::Text(text) => {
                hasher.update(&[1]);
                hasher.update(&(text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
            Posted::Int(v) => {
                hasher.update(&[2]);
                hasher.update(&v.to_le_bytes());
            }
            Posted::UInt(v) => {
                hasher.update(&[3]);
                hasher.update(&v.to_le_bytes());
            }
            Posted::Float(v) => {
                hasher.update(&[4]);
                hasher.update(&v.to_bits().to_le_bytes());
            }
            Posted::Bool(v) => hasher.update(&[5, u8::from(*v)]),
            Posted::Nested(kind) => {
                hasher.update(&[6]);
                hasher.update(kind.as_bytes());
            }
        }
    }
}

impl<'de> de::Deserialize<'de> for Posted<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PostedVisitor)
    }
}

struct PostedVisitor;

impl<'de> Visitor<'de> for PostedVisitor {
    type Value = Posted<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Posted::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Posted::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Posted::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Posted::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Posted::UInt(v), Posted::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Posted::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Posted::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Posted::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Posted::Text(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Posted::Nested("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Posted::Nested("object"))
    }
}

/// Reads one JSON object into `values`, keeping only the table's fields, in the table's field order. A
/// problem that serde can only report as a message (a missing key, a field twice) is also noted in
/// `problem`, so that the refusal is classified by its kind, never by the text of the message.
struct RecordSeed<'p, 'v, 'de> {
    fields: &'static [Field],
    problem: &'p Cell<Option<RejectKind>>,
    values: &'v mut Vec<Posted<'de>>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let values = self.values;
        values.clear();
        values.resize_with(self.fields.len(), || Posted::Null);
        // Bit i: field i was seen (every table has fewer than 64 fields: tested below).
        let mut seen = 0u64;
        // Clients mostly send the fields in the table's order: the one after the last found is tried first.
        let mut expected = 0;
        while let Some(name) = map.next_key_seed(KeySeed)? {
            match field_position(self.fields, &name, expected) {
                Some(i) if seen & (1 << i) != 0 => {
                    self.problem.set(Some(RejectKind::DuplicateField));
                    return Err(de::Error::custom(format_args!("duplicate field `{name}`")));
                }
                Some(i) => {
                    values[i] = map.next_value()?;
                    seen |= 1 << i;
                    expected = i + 1;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen & 1 == 0 {
            self.problem.set(Some(RejectKind::MissingKey));
            return Err(de::Error::custom("missing key"));
        }
        Ok(())
    }
}

/// Reads a key, borrowed from the record unless it holds escapes (serde's own `Cow` always copies).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The position of the field `name` (its name or alias) in `fields`, trying `expected` first.
fn field_position(fields: &[Field], name: &str, expected: usize) -> Option<usize> {
    let is = |field: &Field| field.name == name || field.alias == Some(name);
    if fields.get(expected).is_some_and(is) {
        return Some(expected);
    }
    fields.iter().position(is)
}

/// Why a record is refused: the kind, for counting, and the problem in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The kind of problem.
    pub kind: RejectKind,
    /// The specific problem.
    pub reason: String,
}

impl Refusal {
    fn new(kind: RejectKind, reason: String) -> Self {
        Refusal { kind, reason }
    }
}

/// One record's key, its field values put in `values` (in the table's field order, the key first; a
/// caller decoding many records passes the same `Vec` each time, so a record allocates none), or why
/// it is refused.
pub(super) fn parse_record<'a>(
    fields: &'static [Field],
    record: &'a [u8],
    values: &mut Vec<Posted<'a>>,
) -> Result<i32, Refusal> {
    let problem = Cell::new(None);
    // The whole record's UTF-8 is checked at once (SIMD), not string by string as the byte reader
    // does; a record that is not UTF-8 goes through the byte reader, whose error says where.
    let read = match simdutf8::basic::from_utf8(record) {
        Ok(text) => read_record(fields, &mut serde_json::Deserializer::from_str(text), &problem, values),
        Err(_) => read_record(fields, &mut serde_json::Deserializer::from_slice(record), &problem, values),
    };
    read.map_err(|error| classify(&error, problem.get(), fields[0].name))?;
    record_key(&values[0], fields[0].name)
}

/// Puts in `values` the values of `fields` in the one JSON object `deserializer` holds (nothing may
/// follow it).
fn read_record<'de, R: serde_json::de::Read<'de>>(
    fields: &'static [Field],
    deserializer: &mut serde_json::Deserializer<R>,
    problem: &Cell<Option<RejectKind>>,
    values: &mut Vec<Posted<'de>>,
) -> Result<(), serde_json::Error> {
    RecordSeed { fields, problem, values }.deserialize(&mut *deserializer)?;
    deserializer.end()
}

fn classify(error: &serde_json::Error, problem: Option<RejectKind>, key: &str) -> Refusal {
    match (problem, error.classify()) {
        (Some(RejectKind::MissingKey), _) => {
            Refusal::new(RejectKind::MissingKey, format!("missing integer key `{key}`"))
        }
        (Some(kind), _) => Refusal::new(kind, format!("ambiguous record: {error}")),
        (None, serde_json::error::Category::Data) => {
            Refusal::new(RejectKind::NotObject, format!("not a JSON object: {error}"))
        }
        (None, _) => Refusal::new(RejectKind::NotJson, format!("not valid JSON: {error}")),
    }
}

fn record_key(value: &Posted<'_>, key: &str) -> Result<i32, Refusal> {
    let out_of_range = |v: &dyn fmt::Display| {
        Refusal::new(RejectKind::KeyOutOfRange, format!("key `{key}` {v} is outside the int32 range"))
    };
    match value {
        Posted::Int(v) => i32::try_from(*v).map_err(|_| out_of_range(v)),
        Posted::UInt(v) => Err(out_of_range(v)),
        Posted::Null => Err(Refusal::new(RejectKind::MissingKey, format!("key `{key}` is null"))),
        other => {
            Err(Refusal::new(RejectKind::KeyNotInteger, format!("key `{key}` is {}, not an integer", other.describe())))
        }
    }
}

#[cfg(test)]
mod tests {
    use pinpipe_contract::Table;

    use super::*;

    #[test]
    fn every_table_has_fewer_fields_than_the_bits_that_mark_them_seen() {
        assert!(Table::ALL.iter().all(|table| table.fields().len() < u64::BITS as usize));
    }

    #[test]
    fn keys_are_read_with_or_without_escapes() {
        let fields = Table::Geo.fields();
        let mut values = Vec::new();
        let key = parse_record(fields, br#"{"\u0069nd": 7, "country": "Chad", "co\"untry": 1}"#, &mut values).unwrap();
        assert_eq!(key, 7);
        assert_eq!(values[4], Posted::Text("Chad".into()));
        let twice =
            parse_record(fields, br#"{"ind": 7, "country": "Chad", "c\u006Funtry": "Peru"}"#, &mut values).unwrap_err();
        assert_eq!(twice.kind, RejectKind::DuplicateField);
    }

    #[test]
    fn a_record_keeps_none_of_the_values_of_the_record_before() {
        let fields = Table::Geo.fields();
        let mut values = Vec::new();
        assert_eq!(parse_record(fields, br#"{"ind": 7, "country": "Chad"}"#, &mut values), Ok(7));
        assert_eq!(parse_record(fields, br#"{"ind": 8}"#, &mut values), Ok(8));
        assert_eq!(values, vec![Posted::Int(8), Posted::Null, Posted::Null, Posted::Null, Posted::Null]);
    }

    #[test]
    fn a_field_is_found_by_name_or_alias_wherever_it_is_expected() {
        let fields = Table::Pin.fields();
        let last = fields.len() - 1;
        assert_eq!(field_position(fields, "ind", 0), Some(0));
        assert_eq!(field_position(fields, "index", last), Some(0));
        assert_eq!(field_position(fields, fields[last].name, 0), Some(last));
        assert_eq!(field_position(fields, fields[1].name, fields.len()), Some(1));
        assert_eq!(field_position(fields, "no such field", 1), None);
    }
}
