//! Parsing one record: a JSON object as posted → its key and the values of the table's fields,
//! borrowed from the input where possible, or the reason it is refused.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use pinpipe_contract::table::Field;
use pinpipe_contract::RejectKind;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use xxhash_rust::xxh3::Xxh3;

/// A JSON value as posted, borrowed from the line where possible.
#[derive(Debug, Clone, PartialEq)]
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
    pub(super) fn hash_into(&self, hasher: &mut Xxh3) {
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

/// Reads one JSON object, keeping only the table's fields, in the table's field order. A problem
/// that serde can only report as a message (a missing key, a field twice) is also noted in
/// `problem`, so that the refusal is classified by its kind, never by the text of the message.
struct RecordSeed<'p> {
    fields: &'static [Field],
    problem: &'p Cell<Option<RejectKind>>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Vec<Posted<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Vec<Posted<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![Posted::Null; self.fields.len()];
        let mut seen = vec![false; self.fields.len()];
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let position =
                self.fields.iter().position(|field| field.name == name || field.alias == Some(name.as_ref()));
            match position {
                Some(i) if seen[i] => {
                    self.problem.set(Some(RejectKind::DuplicateField));
                    return Err(de::Error::custom(format_args!("duplicate field `{name}`")));
                }
                Some(i) => {
                    values[i] = map.next_value()?;
                    seen[i] = true;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen[0] {
            self.problem.set(Some(RejectKind::MissingKey));
            return Err(de::Error::custom("missing key"));
        }
        Ok(values)
    }
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

/// One record's key and field values (in the table's field order, the key first), or why it is
/// refused.
pub(super) fn parse_record<'a>(fields: &'static [Field], record: &'a [u8]) -> Result<(i32, Vec<Posted<'a>>), Refusal> {
    let problem = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(record);
    let values = RecordSeed { fields, problem: &problem }
        .deserialize(&mut deserializer)
        .and_then(|values| deserializer.end().map(|()| values))
        .map_err(|error| classify(&error, problem.get(), fields[0].name))?;
    let key = record_key(&values[0], fields[0].name)?;
    Ok((key, values))
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
