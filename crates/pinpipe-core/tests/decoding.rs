//! Decoding JSON lines as posted: bad lines are refused with their reason, source and line number;
//! the good lines around them are kept.

mod common;

use common::*;
use pinpipe_contract::{Payload, RejectKind, Table};
use pinpipe_core::decode::decode;
use pinpipe_core::quality::TableQuality;
use serde_json::json;

/// (line, what happens to it): `Ok(ind)` kept with that key, `Err(kind)` refused, `None` skipped.
type Case = (&'static str, Option<Result<i32, RejectKind>>);

fn pin_cases() -> Vec<Case> {
    use RejectKind::*;
    vec![
        (r#"{"index": 1, "title": "first"}"#, Some(Ok(1))),
        ("this is not JSON", Some(Err(NotJson))),
        (r#"{"index": 2, "title": "cut off"#, Some(Err(NotJson))),
        (r#"{"index": 2} trailing"#, Some(Err(NotJson))),
        (r#"[{"index": 2}]"#, Some(Err(NotObject))),
        ("42", Some(Err(NotObject))),
        (r#""a string""#, Some(Err(NotObject))),
        ("null", Some(Err(NotObject))),
        ("", None),
        (r#"{"title": "no key"}"#, Some(Err(MissingKey))),
        (r#"{"index": null, "title": "null key"}"#, Some(Err(MissingKey))),
        (r#"{"index": "12"}"#, Some(Err(KeyNotInteger))),
        (r#"{"index": 12.5}"#, Some(Err(KeyNotInteger))),
        (r#"{"index": 12.0}"#, Some(Err(KeyNotInteger))),
        (r#"{"index": true}"#, Some(Err(KeyNotInteger))),
        (r#"{"index": [12]}"#, Some(Err(KeyNotInteger))),
        (r#"{"index": 2147483648}"#, Some(Err(KeyOutOfRange))),
        (r#"{"index": -2147483649}"#, Some(Err(KeyOutOfRange))),
        (r#"{"index": 18446744073709551615}"#, Some(Err(KeyOutOfRange))),
        (r#"{"index": 3, "ind": 3}"#, Some(Err(DuplicateField))),
        ("   \t ", None),
        (r#"{"index": 2147483647, "title": "max key"}"#, Some(Ok(i32::MAX))),
        (r#"{"index": -2147483648}"#, Some(Ok(i32::MIN))),
        (r#"{"ind": 5, "unknown": {"nested": [1, 2]}, "downloaded": "x"}"#, Some(Ok(5))),
        ("{\"index\": 6, \"title\": \"crlf\"}\r", Some(Ok(6))),
        (r#"{"title": "key last", "unique_id": "u", "index": 7}"#, Some(Ok(7))),
        (r#"{"index": 8, "title": "a", "unique_id": "u", "title": "b"}"#, Some(Err(DuplicateField))),
        (r#"{"unique_id": "u", "ind": 9, "unique_id": "v"}"#, Some(Err(DuplicateField))),
    ]
}

#[test]
fn bad_lines_are_refused_with_kind_source_and_line_while_good_lines_are_kept() {
    let cases = pin_cases();
    let text: String = cases.iter().map(|(line, _)| format!("{line}\n")).collect();
    let decoded = decode(Table::Pin, &[source("topics/x.pin/partition=0/x.pin+0+0000000000.json", text)]).unwrap();

    let kept: Vec<Option<i32>> = cases
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            Some(Ok(ind)) => Some(Some(*ind)),
            _ => None,
        })
        .collect();
    assert_eq!(i32s(&decoded.frame, "ind"), kept);
    assert_eq!(
        strs(&decoded.frame, "title"),
        vec![Some("first".into()), Some("max key".into()), None, None, Some("crlf".into()), Some("key last".into())]
    );

    let refused: Vec<(u64, RejectKind, &str)> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, (line, outcome))| match outcome {
            Some(Err(kind)) => Some((i as u64 + 1, *kind, *line)),
            _ => None,
        })
        .collect();
    let got: Vec<(u64, RejectKind, &str)> =
        decoded.refused.iter().map(|r| (r.at.number, r.kind, payload_text(&r.payload))).collect();
    assert_eq!(got, refused);
    for refused in &decoded.refused {
        assert_eq!(refused.at.source, "topics/x.pin/partition=0/x.pin+0+0000000000.json");
        assert!(!refused.reason.is_empty(), "line {} has a reason", refused.at.number);
    }
    // Reasons name the problem.
    let reason_of = |line: u64| &decoded.refused.iter().find(|r| r.at.number == line).unwrap().reason;
    assert!(reason_of(10).contains("index"), "{}", reason_of(10));
    assert!(reason_of(17).contains("2147483648"), "{}", reason_of(17));

    let quality = TableQuality::from_decoded(&decoded);
    let non_blank = cases.iter().filter(|(_, outcome)| outcome.is_some()).count() as u64;
    assert_eq!(quality.records_in, non_blank);
    assert_eq!(quality.rejected_total(), refused.len() as u64);
    assert_eq!(quality.rejected.get(&RejectKind::NotJson), Some(&3));
    assert_eq!(quality.rejected.get(&RejectKind::NotObject), Some(&4));
    assert_eq!(quality.rejected.get(&RejectKind::MissingKey), Some(&2));
    assert_eq!(quality.rejected.get(&RejectKind::KeyNotInteger), Some(&5));
    assert_eq!(quality.rejected.get(&RejectKind::KeyOutOfRange), Some(&3));
    assert_eq!(quality.rejected.get(&RejectKind::DuplicateField), Some(&3));
    // `downloaded: "x"` is a value of the wrong type, not a reason to refuse the record.
    assert_eq!(decoded.invalid_values, counts([("downloaded", 1)]));
}

#[test]
fn each_source_numbers_its_own_lines() {
    let first = lines(&[geo(1, json!({})), geo(2, json!({}))]) + "oops\n";
    let second = format!("\n{}{{\"ind\": \"4\"}}\n{}", lines(&[geo(3, json!({}))]), geo(5, json!({})));
    let decoded = decode(Table::Geo, &[source("a.jsonl", first), source("b.jsonl", second)]).unwrap();

    assert_eq!(i32s(&decoded.frame, "ind"), vec![Some(1), Some(2), Some(3), Some(5)]);
    let got: Vec<(&str, u64, RejectKind)> =
        decoded.refused.iter().map(|r| (r.at.source.as_str(), r.at.number, r.kind)).collect();
    assert_eq!(got, vec![("a.jsonl", 3, RejectKind::NotJson), ("b.jsonl", 3, RejectKind::KeyNotInteger)]);
}

#[test]
fn geo_and_user_keys_are_ind_only() {
    let geo_text = lines(&[without(geo(1, json!({ "index": 1 })), "ind"), geo(2, json!({}))]);
    let decoded = decode_text(Table::Geo, &geo_text);
    assert_eq!(i32s(&decoded.frame, "ind"), vec![Some(2)]);
    assert_eq!(decoded.refused.len(), 1);
    assert_eq!((decoded.refused[0].at.number, decoded.refused[0].kind), (1, RejectKind::MissingKey));

    let user_text = lines(&[user(1, json!({})), without(user(2, json!({})), "ind")]);
    let decoded = decode_text(Table::User, &user_text);
    assert_eq!(i32s(&decoded.frame, "ind"), vec![Some(1)]);
    assert_eq!(
        decoded.refused.iter().map(|r| (r.at.number, r.kind)).collect::<Vec<_>>(),
        vec![(2, RejectKind::MissingKey)]
    );
}

#[test]
fn invalid_utf8_and_a_missing_final_newline() {
    let mut bytes = b"{\"ind\": 1, \"first_name\": \"\xff\xfe\"}\n".to_vec();
    bytes.extend_from_slice(br#"{"ind": 2, "first_name": "Zoe"}"#);
    let source = pinpipe_core::decode::RawSource { name: "u.jsonl".into(), bytes: bytes.into() };
    let decoded = decode(Table::User, &[source]).unwrap();
    assert_eq!(i32s(&decoded.frame, "ind"), vec![Some(2)]);
    assert_eq!(strs(&decoded.frame, "first_name"), vec![Some("Zoe".into())]);
    assert_eq!(decoded.refused.len(), 1);
    assert_eq!((decoded.refused[0].at.number, decoded.refused[0].kind), (1, RejectKind::NotJson));
    // Not UTF-8: the payload keeps the exact bytes, in base64.
    assert!(matches!(decoded.refused[0].payload, Payload::Base64(_)));
    assert_eq!(decoded.refused[0].payload.to_bytes().unwrap(), b"{\"ind\": 1, \"first_name\": \"\xff\xfe\"}");
}

#[test]
fn no_input_gives_an_empty_frame_with_every_raw_column() {
    let decoded = decode(Table::Pin, &[]).unwrap();
    assert_eq!(decoded.frame.height(), 0);
    assert!(decoded.refused.is_empty());
    let names: Vec<String> = schema_of(&decoded.frame).into_iter().map(|(name, _)| name).collect();
    for field in ["ind", "title", "follower_count", "downloaded", "category"] {
        assert!(names.iter().any(|name| name == field), "{field} in {names:?}");
    }
    let blank = decode_text(Table::Pin, "\n\n  \n");
    assert_eq!((blank.frame.height(), blank.refused.len()), (0, 0));
    assert_eq!(TableQuality::from_decoded(&blank).records_in, 0, "blank lines are not records");
}

#[test]
fn line_numbers_stay_right_across_parallel_chunks() {
    // Decoding splits inputs into chunks of many thousand lines; numbering must not restart.
    const LINES: u64 = 40_000;
    let bad = [16_384u64, 16_385, 32_769, 39_999];
    let blank = [16_386u64, 20_000];
    let mut text = String::new();
    for line in 1..=LINES {
        if bad.contains(&line) {
            text.push_str(&format!("{{\"ind\": \"bad {line}\"}}\n"));
        } else if blank.contains(&line) {
            text.push('\n');
        } else {
            text.push_str(&format!("{{\"ind\": {line}}}\n"));
        }
    }
    let decoded = decode_text(Table::Geo, &text);
    assert_eq!(decoded.refused.iter().map(|r| r.at.number).collect::<Vec<_>>(), bad);
    for refused in &decoded.refused {
        assert_eq!(payload_text(&refused.payload), format!("{{\"ind\": \"bad {}\"}}", refused.at.number));
    }
    let keys = i32s(&decoded.frame, "ind");
    assert_eq!(keys.len() as u64, LINES - bad.len() as u64 - blank.len() as u64);
    let want: Vec<Option<i32>> =
        (1..=LINES).filter(|line| !bad.contains(line) && !blank.contains(line)).map(|line| Some(line as i32)).collect();
    assert_eq!(keys, want, "records keep their input order");
}

/// The text of a payload that is UTF-8.
fn payload_text(payload: &Payload) -> &str {
    match payload {
        Payload::Text(text) => text,
        Payload::Base64(encoded) => panic!("a UTF-8 payload, not base64 {encoded}"),
    }
}

#[test]
fn integer_fields_take_whole_floats_of_the_i32_range_both_ends_included() {
    let ages = [json!(-2147483648.0), json!(2147483647.0), json!(2147483648.0), json!(-2147483649.0), json!(30.5)];
    let text =
        lines(&ages.iter().enumerate().map(|(i, age)| user(i as i64, json!({ "age": age }))).collect::<Vec<_>>());
    let decoded = decode_text(Table::User, &text);
    assert_eq!(i32s(&decoded.frame, "age"), vec![Some(i32::MIN), Some(i32::MAX), None, None, None]);
    assert_eq!(decoded.invalid_values, counts([("age", 3)]));
}
