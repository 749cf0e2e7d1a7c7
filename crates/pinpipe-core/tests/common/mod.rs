//! Builders and readers shared by pinpipe-core's integration tests.
//!
//! Inputs are built as JSON lines (the as-posted form) and go through `decode` + `clean` or
//! `batch::transform`, so every test exercises the real path. Each test binary uses only some of
//! these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use pinpipe_contract::Table;
use pinpipe_core::clean::{clean, NullCounts};
use pinpipe_core::decode::{decode, Decoded, Line, RawSource};
use pinpipe_core::export::{write_cleaned_csv, write_csv, write_result_csvs};
use pinpipe_core::queries::CleanedTables;
use pinpipe_core::transform::{transform, TransformOutput};
use polars::prelude::*;
use serde_json::{json, Value};

/// A complete, valid pin record with `fields` laid over the defaults.
pub fn pin(ind: i64, fields: Value) -> Value {
    merged(
        json!({
            "index": ind,
            "unique_id": format!("00000000-0000-4000-8000-{ind:012}"),
            "title": format!("Title {ind}"),
            "description": "A description",
            "poster_name": "Poster",
            "follower_count": "100",
            "tag_list": "tag one,tag two",
            "is_image_or_video": "image",
            "image_src": "https://i.pinimg.com/originals/x.jpg",
            "downloaded": 1,
            "save_location": "Local save in /data/art",
            "category": "art",
        }),
        fields,
    )
}

/// A complete, valid geo record with `fields` laid over the defaults.
pub fn geo(ind: i64, fields: Value) -> Value {
    merged(
        json!({
            "ind": ind,
            "timestamp": "2020-01-01 00:00:00",
            "latitude": 1.5,
            "longitude": -2.5,
            "country": "Aland Islands",
        }),
        fields,
    )
}

/// A complete, valid user record with `fields` laid over the defaults.
pub fn user(ind: i64, fields: Value) -> Value {
    merged(
        json!({
            "ind": ind,
            "first_name": "Ann",
            "last_name": "Lee",
            "age": 30,
            "date_joined": "2016-01-01 00:00:00",
        }),
        fields,
    )
}

fn merged(mut record: Value, fields: Value) -> Value {
    let Value::Object(fields) = fields else { panic!("overrides must be a JSON object, got {fields}") };
    let object = record.as_object_mut().expect("records are objects");
    for (name, value) in fields {
        object.insert(name, value);
    }
    record
}

/// The record without `field`.
pub fn without(mut record: Value, field: &str) -> Value {
    record.as_object_mut().expect("records are objects").remove(field);
    record
}

/// Records as JSON lines, one per line, each line ending in `\n`.
pub fn lines(records: &[Value]) -> String {
    records.iter().map(|record| format!("{record}\n")).collect()
}

/// One input named `name` holding `text`.
pub fn source(name: &str, text: impl Into<String>) -> RawSource {
    RawSource { name: name.to_string(), bytes: text.into().into_bytes().into() }
}

/// Decodes `text` (as the single input `test.jsonl`) as records of `table`.
pub fn decode_text(table: Table, text: &str) -> Decoded<Line> {
    decode(table, &[source("test.jsonl", text)]).expect("decoding never fails as a whole")
}

/// What decoding and cleaning some records produced.
#[derive(Debug)]
pub struct CleanedRecords {
    /// The cleaned frame, in input order.
    pub frame: DataFrame,
    /// The NULLs cleaning produced.
    pub nulls: NullCounts,
    /// Values of the wrong JSON type, per field (from decoding).
    pub invalid_values: BTreeMap<String, u64>,
}

/// Decodes and cleans `records` of `table`; every record must be accepted.
pub fn clean_records(table: Table, records: &[Value]) -> CleanedRecords {
    let decoded = decode_text(table, &lines(records));
    assert_eq!(decoded.refused, vec![], "every test record is meant to be accepted");
    let cleaned = clean(table, decoded.frame).expect("cleaning");
    CleanedRecords { frame: cleaned.frame, nulls: cleaned.nulls, invalid_values: decoded.invalid_values }
}

/// A map with its zero entries left out.
pub fn nonzero(counts: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    counts.iter().filter(|(_, count)| **count > 0).map(|(name, count)| (name.clone(), *count)).collect()
}

/// A `column → count` map from pairs.
pub fn counts<const N: usize>(pairs: [(&str, u64); N]) -> BTreeMap<String, u64> {
    pairs.into_iter().map(|(name, count)| (name.to_string(), count)).collect()
}

/// A text column's values.
pub fn strs(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
    let column = frame.column(name).unwrap_or_else(|e| panic!("column {name}: {e}"));
    column.str().unwrap_or_else(|e| panic!("column {name}: {e}")).iter().map(|v| v.map(str::to_owned)).collect()
}

/// An int32 column's values.
pub fn i32s(frame: &DataFrame, name: &str) -> Vec<Option<i32>> {
    let column = frame.column(name).unwrap_or_else(|e| panic!("column {name}: {e}"));
    column.i32().unwrap_or_else(|e| panic!("column {name}: {e}")).iter().collect()
}

/// A naive (zone-less) datetime column's values.
pub fn datetimes(frame: &DataFrame, name: &str) -> Vec<Option<NaiveDateTime>> {
    let column = frame.column(name).unwrap_or_else(|e| panic!("column {name}: {e}"));
    let DataType::Datetime(unit, None) = column.dtype() else {
        panic!("column {name} is {}, not a naive datetime", column.dtype())
    };
    let unit = *unit;
    column
        .datetime()
        .expect("a datetime column")
        .physical()
        .iter()
        .map(|value| {
            value.map(|v| {
                match unit {
                    TimeUnit::Nanoseconds => DateTime::from_timestamp_nanos(v),
                    TimeUnit::Microseconds => DateTime::from_timestamp_micros(v).expect("in range"),
                    TimeUnit::Milliseconds => DateTime::from_timestamp_millis(v).expect("in range"),
                }
                .naive_utc()
            })
        })
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` as a naive datetime.
pub fn at(date: (i32, u32, u32), time: (u32, u32, u32), micros: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(date.0, date.1, date.2)
        .and_then(|day| day.and_hms_micro_opt(time.0, time.1, time.2, micros))
        .expect("a valid test datetime")
}

/// A list-of-f64 column's values.
pub fn float_lists(frame: &DataFrame, name: &str) -> Vec<Option<Vec<Option<f64>>>> {
    let column = frame.column(name).unwrap_or_else(|e| panic!("column {name}: {e}"));
    let lists = column.list().unwrap_or_else(|e| panic!("column {name}: {e}"));
    (0..lists.len())
        .map(|row| lists.get_as_series(row).map(|series| series.f64().expect("f64 items").iter().collect()))
        .collect()
}

/// Column names and dtypes, in order.
pub fn schema_of(frame: &DataFrame) -> Vec<(String, DataType)> {
    frame.columns().iter().map(|column| (column.name().to_string(), column.dtype().clone())).collect()
}

/// `frame` as canonical CSV, rows as they are (no re-sorting).
pub fn csv(frame: &DataFrame) -> String {
    let mut out = Vec::new();
    write_csv(frame, &mut out).expect("writing CSV to memory");
    String::from_utf8(out).expect("canonical CSV is UTF-8")
}

/// The JSON lines of the three tables, to be run through [`transform`].
#[derive(Debug, Default, Clone)]
pub struct Posts {
    text: BTreeMap<Table, String>,
}

impl Posts {
    /// No records yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one record of `table` as a JSON line.
    pub fn record(&mut self, table: Table, record: Value) -> &mut Self {
        self.line(table, &record.to_string())
    }

    /// Appends one line of `table` as it is.
    pub fn line(&mut self, table: Table, line: &str) -> &mut Self {
        let text = self.text.entry(table).or_default();
        text.push_str(line);
        text.push('\n');
        self
    }

    /// Appends a pin record (defaults overridden by `fields`).
    pub fn pin(&mut self, ind: i64, fields: Value) -> &mut Self {
        self.record(Table::Pin, pin(ind, fields))
    }

    /// Appends a geo record (defaults overridden by `fields`).
    pub fn geo(&mut self, ind: i64, fields: Value) -> &mut Self {
        self.record(Table::Geo, geo(ind, fields))
    }

    /// Appends a user record (defaults overridden by `fields`).
    pub fn user(&mut self, ind: i64, fields: Value) -> &mut Self {
        self.record(Table::User, user(ind, fields))
    }

    /// Appends a whole post: the pin, geo and user records sharing `ind`.
    pub fn post(&mut self, ind: i64, pin_fields: Value, geo_fields: Value, user_fields: Value) -> &mut Self {
        self.pin(ind, pin_fields).geo(ind, geo_fields).user(ind, user_fields)
    }

    /// The inputs of a run: one source per table, named `<table>.jsonl`.
    pub fn sources(&self) -> BTreeMap<Table, Vec<RawSource>> {
        self.text.iter().map(|(table, text)| (*table, vec![source(&format!("{table}.jsonl"), text.clone())])).collect()
    }

    /// The batch computation over these posts, with no earlier runs.
    pub fn transform(&self) -> TransformOutput {
        transform(self.sources()).expect("transform")
    }
}

/// The result of query `id`.
pub fn result<'a>(output: &'a TransformOutput, id: &str) -> &'a DataFrame {
    output
        .results
        .iter()
        .find(|(query, _)| query.id == id)
        .map(|(_, frame)| frame)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

/// The canonical CSV of query `id`'s result, as the run produced it.
pub fn result_csv(output: &TransformOutput, id: &str) -> String {
    csv(result(output, id))
}

/// Writes a run's 14 canonical CSVs into `dir`, as `pinpipe transform` names them.
pub fn write_all_csvs(dir: &std::path::Path, output: TransformOutput) {
    let CleanedTables { pin, geo, user } = output.all_cleaned;
    for (table, frame) in [(Table::Pin, pin), (Table::Geo, geo), (Table::User, user)] {
        write_cleaned_csv(dir, table, frame).expect("cleaned CSV written");
    }
    write_result_csvs(dir, &output.results).expect("result CSVs written");
}
