//! Every cleaning rule of docs/SPEC.md §4, fed as JSON lines through `decode` + `clean`.

mod common;

use common::*;
use pinpipe_contract::Table;
use pinpipe_core::clean::NullCounts;
use polars::prelude::*;
use serde_json::{json, Value};

/// What a follower_count value must become, and which NULL rule (if any) accounts for it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Count(i32),
    /// `""` → NULL (rule 2).
    Empty,
    /// `User Info Error` → NULL (rule 3).
    Placeholder,
    /// Not a count, or above int32 → NULL (rule 4).
    Unparseable,
    /// JSON null: NULL, and no rule made it so.
    AlreadyNull,
}

#[test]
fn follower_count_parses_suffixes_rounds_half_up_and_nulls_the_rest() {
    use Expect::*;
    let cases: Vec<(Value, Expect)> = vec![
        (json!("0"), Count(0)),
        (json!("437"), Count(437)),
        (json!("26k"), Count(26_000)),
        (json!("991k"), Count(991_000)),
        (json!("1.5k"), Count(1_500)),
        (json!("12K"), Count(12_000)),
        (json!("1M"), Count(1_000_000)),
        (json!("15M"), Count(15_000_000)),
        (json!("1.5m"), Count(1_500_000)),
        (json!("2.25M"), Count(2_250_000)),
        // Half-up at the first dropped digit.
        (json!("1.0005k"), Count(1_001)),
        (json!("1.0004k"), Count(1_000)),
        (json!("1.00049999k"), Count(1_000)),
        (json!("2.5"), Count(3)),
        (json!("2.4"), Count(2)),
        (json!("0.5"), Count(1)),
        (json!("0.0000005M"), Count(1)),
        (json!("0.0000004M"), Count(0)),
        (json!("1.2345675M"), Count(1_234_568)),
        // Exactly, without floating-point error (0.29 × 1000 is 289.99999999999997 in f64).
        (json!("0.29k"), Count(290)),
        (json!("2147483647"), Count(i32::MAX)),
        (json!("007"), Count(7)),
        (json!("0012.50k"), Count(12_500)),
        (json!("2147483.647k"), Count(i32::MAX)),
        // Sent as JSON numbers.
        (json!(437), Count(437)),
        (json!(2.5), Count(3)),
        (json!("2147483648"), Unparseable),
        (json!("2147483647.5"), Unparseable),
        (json!("2148M"), Unparseable),
        (json!("99999999999999999999999"), Unparseable),
        (json!("abc"), Unparseable),
        (json!("1,000"), Unparseable),
        (json!(" 437"), Unparseable),
        (json!("437 "), Unparseable),
        (json!("-5"), Unparseable),
        (json!("1.5.5"), Unparseable),
        (json!("k"), Unparseable),
        (json!("1.k"), Unparseable),
        (json!(".5k"), Unparseable),
        (json!("5kk"), Unparseable),
        (json!("5B"), Unparseable),
        (json!("1e3"), Unparseable),
        (json!("\u{ff11}\u{ff12}"), Unparseable),
        (json!("\u{663}k"), Unparseable),
        (json!("5\u{20ac}"), Unparseable),
        (json!(""), Empty),
        (json!("User Info Error"), Placeholder),
        (Value::Null, AlreadyNull),
    ];
    let records: Vec<Value> =
        cases.iter().enumerate().map(|(i, (value, _))| pin(i as i64, json!({ "follower_count": value }))).collect();
    let cleaned = clean_records(Table::Pin, &records);

    assert_eq!(cleaned.frame.column("follower_count").unwrap().dtype(), &DataType::Int32);
    let got = i32s(&cleaned.frame, "follower_count");
    assert_eq!(got.len(), cases.len());
    for ((input, expect), got) in cases.iter().zip(&got) {
        let want = match expect {
            Count(n) => Some(*n),
            _ => None,
        };
        assert_eq!(*got, want, "follower_count {input} ({expect:?})");
    }
    let tally = |kind: Expect| cases.iter().filter(|(_, expect)| *expect == kind).count() as u64;
    assert_eq!(cleaned.nulls.unparseable_follower_count, tally(Unparseable));
    assert_eq!(nonzero(&cleaned.nulls.empty_text), counts([("follower_count", tally(Empty))]));
    assert_eq!(nonzero(&cleaned.nulls.placeholder), counts([("follower_count", tally(Placeholder))]));
    assert_eq!(nonzero(&cleaned.nulls.unparseable_datetime), counts([]));
    assert_eq!(cleaned.invalid_values, counts([]), "numbers are valid follower_count values");
}

/// Each placeholder of docs/SPEC.md §4 rule 3 with its column.
const PLACEHOLDERS: [(&str, &str); 8] = [
    ("title", "No Title Data Available"),
    ("description", "No description available Story format"),
    ("description", "No description available"),
    ("description", "Untitled"),
    ("poster_name", "User Info Error"),
    ("follower_count", "User Info Error"),
    ("tag_list", "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"),
    ("image_src", "Image src error."),
];

#[test]
fn each_placeholder_is_null_in_its_own_column_only() {
    // Every placeholder in its own column, then the same text in every text column it is not a
    // placeholder of.
    let text_columns = ["title", "description", "poster_name", "tag_list", "image_src", "category"];
    let is_placeholder_of = |column: &str, text: &str| PLACEHOLDERS.contains(&(column, text));
    let mut records = Vec::new();
    let mut nulled = Vec::new(); // (row, column, text) that must become NULL
    let mut kept = Vec::new(); // (row, column, text) that must survive
    for (column, placeholder) in PLACEHOLDERS {
        nulled.push((records.len(), column, placeholder));
        records.push(pin(records.len() as i64, json!({ column: placeholder })));
        for other in text_columns.iter().filter(|other| !is_placeholder_of(other, placeholder)) {
            kept.push((records.len(), *other, placeholder));
            records.push(pin(records.len() as i64, json!({ *other: placeholder })));
        }
    }
    let cleaned = clean_records(Table::Pin, &records);

    for (row, column, placeholder) in nulled {
        let is_null = cleaned.frame.column(column).unwrap().is_null().get(row).unwrap();
        assert!(is_null, "{placeholder:?} in {column} must become NULL");
    }
    assert!(kept.len() > 30, "each placeholder is tried in other columns");
    for (row, column, text) in &kept {
        assert_eq!(strs(&cleaned.frame, column)[*row].as_deref(), Some(*text), "{text:?} in {column} is data");
    }
    assert_eq!(
        nonzero(&cleaned.nulls.placeholder),
        counts([
            ("title", 1),
            ("description", 3),
            ("poster_name", 1),
            ("follower_count", 1),
            ("tag_list", 1),
            ("image_src", 1),
        ])
    );
    assert_eq!(nonzero(&cleaned.nulls.empty_text), counts([]));
    // "User Info Error" in follower_count is a placeholder, not an unparseable count.
    assert_eq!(cleaned.nulls.unparseable_follower_count, 0);
}

#[test]
fn placeholders_match_the_whole_value_exactly_and_real_text_is_kept() {
    let texts = [
        ("title", "No Title Data Available "),
        ("title", "no title data available"),
        ("title", "5,237 points • 127 comments"),
        ("title", "Loading..."),
        ("description", "Untitled Story"),
        ("description", "untitled"),
        ("description", " No description available"),
        ("description", "Nice place\u{a0}"),
        ("poster_name", "User Info Error!"),
        ("tag_list", "N,o, ,T,a,g,s"),
        ("image_src", "Image src error"),
    ];
    let records: Vec<Value> =
        texts.iter().enumerate().map(|(i, (column, text))| pin(i as i64, json!({ *column: text }))).collect();
    let cleaned = clean_records(Table::Pin, &records);
    for (i, (column, text)) in texts.iter().enumerate() {
        assert_eq!(strs(&cleaned.frame, column)[i].as_deref(), Some(*text), "{column}");
    }
    assert_eq!(nonzero(&cleaned.nulls.placeholder), counts([]));
}

#[test]
fn empty_text_is_null_in_every_pin_text_column_and_counted() {
    let columns = [
        "unique_id",
        "title",
        "description",
        "poster_name",
        "follower_count",
        "tag_list",
        "is_image_or_video",
        "image_src",
        "save_location",
        "category",
    ];
    let mut records: Vec<Value> =
        columns.iter().enumerate().map(|(i, column)| pin(i as i64, json!({ *column: "" }))).collect();
    // A second empty title, and whitespace, which is text.
    records.push(pin(100, json!({ "title": "" })));
    records.push(pin(101, json!({ "title": " " })));
    let cleaned = clean_records(Table::Pin, &records);
    for (i, column) in columns.iter().enumerate() {
        let is_null = cleaned.frame.column(column).unwrap().is_null().get(i).unwrap();
        assert!(is_null, "\"\" in {column} must become NULL");
    }
    assert_eq!(strs(&cleaned.frame, "title")[columns.len()], None);
    assert_eq!(strs(&cleaned.frame, "title")[columns.len() + 1].as_deref(), Some(" "));
    let mut want = counts([]);
    for column in columns {
        want.insert(column.to_string(), 1);
    }
    want.insert("title".to_string(), 2);
    assert_eq!(nonzero(&cleaned.nulls.empty_text), want);
    assert_eq!(cleaned.nulls.unparseable_follower_count, 0, "\"\" is counted as empty text only");
    assert_eq!(nonzero(&cleaned.nulls.placeholder), counts([]));
}

#[test]
fn save_location_loses_its_prefix() {
    let cases = [
        ("Local save in /data/art", "/data/art"),
        ("Local save in /data/diy-and-crafts", "/data/diy-and-crafts"),
        ("Local save in    /data/travel", "/data/travel"),
        ("/data/mens-fashion", "/data/mens-fashion"),
        ("Not a Local save in /data/x", "Not a Local save in /data/x"),
        ("Local save in\u{2003}\u{a0}\t/data/tattoos", "/data/tattoos"),
        ("Local save in/data/beauty", "/data/beauty"),
        ("local save in /data/art", "local save in /data/art"),
        ("Local save in /data/x ", "/data/x "),
    ];
    let records: Vec<Value> =
        cases.iter().enumerate().map(|(i, (raw, _))| pin(i as i64, json!({ "save_location": raw }))).collect();
    let cleaned = clean_records(Table::Pin, &records);
    let want: Vec<Option<String>> = cases.iter().map(|(_, clean)| Some(clean.to_string())).collect();
    assert_eq!(strs(&cleaned.frame, "save_location"), want);
}

#[test]
fn pin_key_arrives_as_index_or_ind_and_downloaded_is_dropped() {
    let as_index = pin(7, json!({ "downloaded": 0 }));
    let as_ind = merged_ind(pin(8, json!({})));
    let cleaned = clean_records(Table::Pin, &[as_index, as_ind]);

    assert_eq!(i32s(&cleaned.frame, "ind"), vec![Some(7), Some(8)]);
    let columns: Vec<(String, DataType)> =
        schema_of(&cleaned.frame).into_iter().filter(|(name, _)| !name.starts_with('_')).collect();
    let want: Vec<(String, DataType)> = [
        ("ind", DataType::Int32),
        ("unique_id", DataType::String),
        ("title", DataType::String),
        ("description", DataType::String),
        ("follower_count", DataType::Int32),
        ("poster_name", DataType::String),
        ("tag_list", DataType::String),
        ("is_image_or_video", DataType::String),
        ("image_src", DataType::String),
        ("save_location", DataType::String),
        ("category", DataType::String),
    ]
    .into_iter()
    .map(|(name, dtype)| (name.to_string(), dtype))
    .collect();
    assert_eq!(columns, want);
    // Ordinary values pass through unchanged.
    assert_eq!(strs(&cleaned.frame, "unique_id")[0].as_deref(), Some("00000000-0000-4000-8000-000000000007"));
    assert_eq!(strs(&cleaned.frame, "is_image_or_video")[1].as_deref(), Some("image"));
    assert_eq!(strs(&cleaned.frame, "tag_list")[1].as_deref(), Some("tag one,tag two"));
    assert_eq!(cleaned.nulls, all_zero(&cleaned.nulls));
}

/// The record with its `index` renamed to `ind`.
fn merged_ind(record: Value) -> Value {
    let ind = record["index"].clone();
    let mut record = without(record, "index");
    record.as_object_mut().unwrap().insert("ind".into(), ind);
    record
}

/// The same counts with every entry zero.
fn all_zero(nulls: &NullCounts) -> NullCounts {
    let zero = |map: &std::collections::BTreeMap<String, u64>| map.keys().map(|k| (k.clone(), 0)).collect();
    NullCounts {
        empty_text: zero(&nulls.empty_text),
        placeholder: zero(&nulls.placeholder),
        unparseable_follower_count: 0,
        unparseable_datetime: zero(&nulls.unparseable_datetime),
    }
}

/// Raw datetime texts and what each must become (`None`: NULL, and counted as unparseable).
fn datetime_cases() -> Vec<(&'static str, Option<chrono::NaiveDateTime>)> {
    let t = at((2020, 8, 28), (3, 52, 47), 0);
    vec![
        ("2020-08-28 03:52:47", Some(t)),
        ("2020-08-28T03:52:47", Some(t)),
        ("2020-08-28T03:52:47.123456", Some(at((2020, 8, 28), (3, 52, 47), 123_456))),
        ("2020-08-28T03:52:47.5", Some(at((2020, 8, 28), (3, 52, 47), 500_000))),
        ("2020:08:28 03:52:47", Some(t)),
        ("2017-10-01 00:00:00", Some(at((2017, 10, 1), (0, 0, 0), 0))),
        ("2020-13-01 00:00:00", None),
        ("2020-02-30 00:00:00", None),
        ("2020-08-28 25:00:00", None),
        ("yesterday", None),
        ("", None),
        ("2020-08-28", None),
        ("2020-08-28 03:52", None),
        ("2020-08-28T03:52:47Z", None),
        ("2020-08-28T03:52:47+02:00", None),
        ("28/08/2020 03:52:47", None),
        ("2020/08/28 03:52:47", None),
    ]
}

#[test]
fn geo_timestamps_accept_three_forms_and_count_the_rest() {
    let cases = datetime_cases();
    let mut records: Vec<Value> =
        cases.iter().enumerate().map(|(i, (raw, _))| geo(i as i64, json!({ "timestamp": raw }))).collect();
    records.push(geo(1000, json!({ "timestamp": null })));
    let cleaned = clean_records(Table::Geo, &records);

    let mut want: Vec<_> = cases.iter().map(|(_, parsed)| *parsed).collect();
    want.push(None);
    assert_eq!(datetimes(&cleaned.frame, "timestamp"), want);
    let bad = cases.iter().filter(|(_, parsed)| parsed.is_none()).count() as u64;
    assert_eq!(nonzero(&cleaned.nulls.unparseable_datetime), counts([("timestamp", bad)]), "JSON null is not counted");
    assert_eq!(cleaned.nulls.unparseable_follower_count, 0);
    assert_eq!(nonzero(&cleaned.nulls.empty_text), counts([]));
}

#[test]
fn user_date_joined_accepts_three_forms_and_counts_the_rest() {
    let cases = datetime_cases();
    let records: Vec<Value> =
        cases.iter().enumerate().map(|(i, (raw, _))| user(i as i64, json!({ "date_joined": raw }))).collect();
    let cleaned = clean_records(Table::User, &records);

    let want: Vec<_> = cases.iter().map(|(_, parsed)| *parsed).collect();
    assert_eq!(datetimes(&cleaned.frame, "date_joined"), want);
    let bad = cases.iter().filter(|(_, parsed)| parsed.is_none()).count() as u64;
    assert_eq!(nonzero(&cleaned.nulls.unparseable_datetime), counts([("date_joined", bad)]));
}

#[test]
fn geo_has_its_columns_and_coordinates_are_lat_then_lon() {
    let records = [
        geo(1, json!({ "latitude": -88.8298, "longitude": -170.188, "country": "Albania" })),
        geo(2, json!({ "latitude": 0, "longitude": 180, "country": "Côte d'Ivoire" })),
        geo(3, json!({ "latitude": 45.5, "longitude": null })),
        geo(4, json!({ "latitude": "12.25", "longitude": "-7.5" })),
    ];
    let cleaned = clean_records(Table::Geo, &records);

    let schema: Vec<(String, DataType)> =
        schema_of(&cleaned.frame).into_iter().filter(|(name, _)| !name.starts_with('_')).collect();
    let names: Vec<&str> = schema.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["ind", "country", "coordinates", "timestamp"]);
    assert_eq!(schema[0].1, DataType::Int32);
    assert_eq!(schema[1].1, DataType::String);
    assert_eq!(schema[2].1, DataType::List(Box::new(DataType::Float64)));
    assert!(matches!(schema[3].1, DataType::Datetime(_, None)), "timestamp is a naive datetime: {}", schema[3].1);

    assert_eq!(
        float_lists(&cleaned.frame, "coordinates"),
        vec![
            Some(vec![Some(-88.8298), Some(-170.188)]),
            Some(vec![Some(0.0), Some(180.0)]),
            None,
            Some(vec![Some(12.25), Some(-7.5)]),
        ]
    );
    assert_eq!(
        strs(&cleaned.frame, "country"),
        vec![
            Some("Albania".into()),
            Some("Côte d'Ivoire".into()),
            Some("Aland Islands".into()),
            Some("Aland Islands".into())
        ]
    );
}

#[test]
fn user_name_joins_both_parts_or_is_null() {
    let records = [
        user(1, json!({ "first_name": "Adam", "last_name": "Acosta", "age": 20 })),
        user(2, json!({ "first_name": null, "last_name": "Baker" })),
        user(3, json!({ "first_name": "Holly", "last_name": null })),
        without(user(4, json!({})), "last_name"),
        user(5, json!({ "first_name": null, "last_name": null, "age": "25" })),
    ];
    let cleaned = clean_records(Table::User, &records);

    let schema: Vec<(String, DataType)> =
        schema_of(&cleaned.frame).into_iter().filter(|(name, _)| !name.starts_with('_')).collect();
    let names: Vec<&str> = schema.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["ind", "user_name", "age", "date_joined"]);
    assert_eq!(schema[0].1, DataType::Int32);
    assert_eq!(schema[1].1, DataType::String);
    assert_eq!(schema[2].1, DataType::Int32);
    assert!(matches!(schema[3].1, DataType::Datetime(_, None)));

    assert_eq!(strs(&cleaned.frame, "user_name"), vec![Some("Adam Acosta".into()), None, None, None, None]);
    assert_eq!(i32s(&cleaned.frame, "age"), vec![Some(20), Some(30), Some(30), Some(30), Some(25)]);
}

#[test]
fn wrong_json_types_become_null_and_are_counted_as_invalid() {
    let pins = [
        pin(1, json!({ "title": { "text": "an object" } })),
        pin(2, json!({ "title": ["an", "array"], "description": {} })),
        pin(3, json!({ "title": "fine" })),
    ];
    let cleaned = clean_records(Table::Pin, &pins);
    assert_eq!(strs(&cleaned.frame, "title"), vec![None, None, Some("fine".into())]);
    assert_eq!(
        strs(&cleaned.frame, "description"),
        vec![Some("A description".into()), None, Some("A description".into())]
    );
    assert_eq!(cleaned.invalid_values, counts([("description", 1), ("title", 2)]));
    assert_eq!(nonzero(&cleaned.nulls.placeholder), counts([]), "invalid values are not placeholders");
    assert_eq!(nonzero(&cleaned.nulls.empty_text), counts([]));

    let users = [
        user(1, json!({ "age": "abc" })),
        user(2, json!({ "age": { "years": 3 } })),
        user(3, json!({ "age": 41 })),
        user(4, json!({ "age": true })),
        user(5, json!({ "age": 3_000_000_000i64 })),
        user(6, json!({ "age": "29" })),
    ];
    let cleaned = clean_records(Table::User, &users);
    assert_eq!(i32s(&cleaned.frame, "age"), vec![None, None, Some(41), None, None, Some(29)]);
    assert_eq!(cleaned.invalid_values, counts([("age", 4)]));

    let geos = [geo(1, json!({ "latitude": "north", "timestamp": { "at": 1 } })), geo(2, json!({}))];
    let cleaned = clean_records(Table::Geo, &geos);
    assert_eq!(float_lists(&cleaned.frame, "coordinates"), vec![None, Some(vec![Some(1.5), Some(-2.5)])]);
    assert_eq!(datetimes(&cleaned.frame, "timestamp"), vec![None, Some(at((2020, 1, 1), (0, 0, 0), 0))]);
    assert_eq!(cleaned.invalid_values, counts([("latitude", 1), ("timestamp", 1)]));
    assert_eq!(
        nonzero(&cleaned.nulls.unparseable_datetime),
        counts([]),
        "an invalid value is not an unparseable datetime"
    );
}

#[test]
fn null_counts_per_rule_match_a_mixed_batch() {
    // A broken story post (docs/SPEC.md §1): several placeholders at once.
    let broken = pin(
        1,
        json!({
            "title": "No Title Data Available",
            "description": "No description available Story format",
            "poster_name": "User Info Error",
            "follower_count": "User Info Error",
            "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
            "image_src": "Image src error.",
            "downloaded": 0,
            "is_image_or_video": "multi-video(story page format)",
        }),
    );
    let records = [
        broken,
        pin(2, json!({ "title": "", "follower_count": "12x" })),
        pin(3, json!({ "description": "Untitled", "follower_count": "" })),
        pin(4, json!({ "follower_count": "3000000000" })),
        pin(5, json!({})),
    ];
    let cleaned = clean_records(Table::Pin, &records);
    assert_eq!(
        cleaned.nulls,
        NullCounts {
            empty_text: with_zeros(&cleaned.nulls.empty_text, counts([("title", 1), ("follower_count", 1)])),
            placeholder: with_zeros(
                &cleaned.nulls.placeholder,
                counts([
                    ("title", 1),
                    ("description", 2),
                    ("poster_name", 1),
                    ("follower_count", 1),
                    ("tag_list", 1),
                    ("image_src", 1),
                ])
            ),
            unparseable_follower_count: 2,
            unparseable_datetime: with_zeros(&cleaned.nulls.unparseable_datetime, counts([])),
        }
    );
    // Exactly the counted values are NULL, and nothing else.
    assert_eq!(i32s(&cleaned.frame, "follower_count"), vec![None, None, None, None, Some(100)]);
    assert_eq!(strs(&cleaned.frame, "is_image_or_video")[0].as_deref(), Some("multi-video(story page format)"));
    let total_nulls: usize = ["title", "description", "poster_name", "follower_count", "tag_list", "image_src"]
        .iter()
        .map(|column| cleaned.frame.column(column).unwrap().null_count())
        .sum();
    assert_eq!(total_nulls, 6 + 2 + 2 + 1);
}

/// `want`, plus a zero for every other key `actual` reports.
fn with_zeros(
    actual: &std::collections::BTreeMap<String, u64>,
    want: std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    let mut all: std::collections::BTreeMap<String, u64> = actual.keys().map(|k| (k.clone(), 0)).collect();
    all.extend(want);
    all
}
