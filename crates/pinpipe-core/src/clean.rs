//! The cleaning rules of docs/SPEC.md §4, written once as passes in Rust over the columns of a raw Polars
//! frame of any size. The batch transform and the stream processor both call [`clean`]; only the batch
//! drops duplicates (see [`crate::transform`]).

use std::collections::BTreeMap;

use polars::prelude::*;
use polars_arrow::array::Array;
use polars_arrow::bitmap::Bitmap;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use pinpipe_contract::table::{Table, RAW_HASH_COLUMN};

/// Placeholders that mean "no value", each only in its own column (docs/SPEC.md §4 rule 3).
pub const PLACEHOLDERS: &[(&str, &[&str])] = &[
    ("title", &["No Title Data Available"]),
    ("description", &["No description available Story format", "No description available", "Untitled"]),
    ("poster_name", &["User Info Error"]),
    ("follower_count", &["User Info Error"]),
    ("tag_list", &["N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"]),
    ("image_src", &["Image src error."]),
];

/// The text columns of pin, in which `""` becomes NULL.
const PIN_TEXT_COLUMNS: &[&str] = &[
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

/// NULLs the cleaning produced, per rule and column (docs/SPEC.md §6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NullCounts {
    /// `""` turned into NULL, per column.
    pub empty_text: BTreeMap<String, u64>,
    /// Placeholders turned into NULL, per column.
    pub placeholder: BTreeMap<String, u64>,
    /// follower_count values that are not a count (nor a placeholder).
    pub unparseable_follower_count: u64,
    /// Datetimes in none of the accepted forms, per column.
    pub unparseable_datetime: BTreeMap<String, u64>,
}

impl NullCounts {
    /// Adds another batch's counts to these.
    pub fn add(&mut self, other: &NullCounts) {
        for (mine, theirs) in [
            (&mut self.empty_text, &other.empty_text),
            (&mut self.placeholder, &other.placeholder),
            (&mut self.unparseable_datetime, &other.unparseable_datetime),
        ] {
            for (column, count) in theirs {
                *mine.entry(column.clone()).or_insert(0) += count;
            }
        }
        self.unparseable_follower_count += other.unparseable_follower_count;
    }
}

/// A cleaned frame and the NULLs its cleaning produced.
#[derive(Debug)]
pub struct Cleaned {
    /// The cleaned columns of [`Table::cleaned_columns`], then [`RAW_HASH_COLUMN`].
    pub frame: DataFrame,
    /// What the rules turned into NULL.
    pub nulls: NullCounts,
}

/// Cleans a raw frame of `table` (as [`crate::decode::decode`] makes it): each rule is one pass in Rust
/// over its columns, the rules run side by side on Polars' pool. No Polars query is planned: the batch
/// cleans a table in hundreds of parts and the stream processor one per shard and table, and planning three
/// queries a call took about 2 % of a batch run.
pub fn clean(table: Table, raw: DataFrame) -> PolarsResult<Cleaned> {
    let rules = rules(table);
    let applied: Vec<(Column, NullCounts)> =
        THREAD_POOL.install(|| rules.par_iter().map(|rule| rule.apply(&raw)).collect::<PolarsResult<_>>())?;
    let mut nulls = NullCounts::default();
    let mut columns = Vec::with_capacity(table.cleaned_columns().len() + 1);
    for &name in table.cleaned_columns() {
        match rules.iter().position(|rule| rule.column() == name) {
            Some(i) => {
                let (column, rule_nulls) = &applied[i];
                nulls.add(rule_nulls);
                columns.push(column.clone());
            }
            None => columns.push(raw.column(name)?.clone()),
        }
    }
    columns.push(raw.column(RAW_HASH_COLUMN)?.clone());
    Ok(Cleaned { frame: DataFrame::new(raw.height(), columns)?, nulls })
}

/// A cleaning rule: the cleaned column it makes, from raw columns of the same table.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Rules 2 and 3 on a pin text column, then rule 4 on `follower_count` and rule 6 on `save_location`.
    PinText(&'static str),
    /// geo's `coordinates` from `latitude` and `longitude`.
    Coordinates,
    /// user's `user_name` from `first_name` and `last_name`.
    UserName,
    /// A datetime column of [`Table::datetime_columns`].
    Datetime(&'static str),
}

/// Every cleaned column that is not a raw column taken as it is, by the rule computing it.
fn rules(table: Table) -> Vec<Rule> {
    let own = match table {
        Table::Pin => PIN_TEXT_COLUMNS.iter().map(|&name| Rule::PinText(name)).collect(),
        Table::Geo => vec![Rule::Coordinates],
        Table::User => vec![Rule::UserName],
    };
    own.into_iter().chain(table.datetime_columns().iter().map(|&name| Rule::Datetime(name))).collect()
}

impl Rule {
    /// The cleaned column the rule makes.
    fn column(self) -> &'static str {
        match self {
            Rule::PinText(name) | Rule::Datetime(name) => name,
            Rule::Coordinates => "coordinates",
            Rule::UserName => "user_name",
        }
    }

    /// The cleaned column, and the NULLs the rule made.
    fn apply(self, raw: &DataFrame) -> PolarsResult<(Column, NullCounts)> {
        let mut nulls = NullCounts::default();
        let column = match self {
            Rule::PinText(name) => {
                let text = null_if_empty_or_placeholder(raw.column(name)?.str()?, name, &mut nulls);
                match name {
                    "follower_count" => {
                        let (counts, unparseable) = read_each::<Int32Type>(&text, follower_count);
                        nulls.record(NullRule::UnparseableFollowerCount, name, unparseable);
                        counts.into_column()
                    }
                    "save_location" => {
                        text.iter().map(|value| value.map(save_location)).collect::<StringChunked>().into_column()
                    }
                    _ => text.into_column(),
                }
            }
            Rule::Coordinates => coordinates(raw.column("latitude")?.f64()?, raw.column("longitude")?.f64()?),
            Rule::UserName => {
                hor_str_concat(&[raw.column("first_name")?.str()?, raw.column("last_name")?.str()?], " ", false)?
                    .into_column()
            }
            Rule::Datetime(name) => {
                let (micros, unparseable) = read_each::<Int64Type>(raw.column(name)?.str()?, datetime_micros);
                nulls.record(NullRule::UnparseableDatetime, name, unparseable);
                micros.into_column().cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
            }
        };
        Ok((column.with_name(self.column().into()), nulls))
    }
}

/// Rules 2 and 3: `""` and the column's own placeholders become NULL, each counted in `nulls`. Only the
/// column's validity changes: its values are shared, not copied (`when/then/otherwise` made a new view of
/// every value, 150 MB for pin's text columns at a million records).
fn null_if_empty_or_placeholder(text: &StringChunked, name: &str, nulls: &mut NullCounts) -> StringChunked {
    let placeholders = placeholders(name);
    let (mut empty, mut placeholder) = (0, 0);
    let chunks: Vec<_> = text
        .downcast_iter()
        .map(|values| {
            let kept: Bitmap = values
                .iter()
                .map(|value| match value {
                    Some("") => {
                        empty += 1;
                        false
                    }
                    Some(value) if placeholders.contains(&value) => {
                        placeholder += 1;
                        false
                    }
                    _ => true,
                })
                .collect();
            let validity = match values.validity() {
                Some(valid) => valid & &kept,
                None => kept,
            };
            values.clone().with_validity(Some(validity))
        })
        .collect();
    nulls.record(NullRule::EmptyText, name, empty);
    if !placeholders.is_empty() {
        nulls.record(NullRule::Placeholder, name, placeholder);
    }
    StringChunked::from_chunk_iter(text.name().clone(), chunks)
}

/// The column's own placeholders (none for a column without any).
fn placeholders(name: &str) -> &'static [&'static str] {
    PLACEHOLDERS.iter().find(|(column, _)| *column == name).map_or(&[], |(_, values)| values)
}

/// `text`'s values each read by `read` (NULL, and what `read` refuses, become NULL), and how many
/// values `read` refused.
///
/// One pass in Rust over the strings for rule 4 and the datetimes of §1, rather than regex captures and
/// arithmetic as Polars expressions: the expression form took three captures per value and, without
/// Polars' common subexpression elimination (not in our feature set), evaluated them several times over.
fn read_each<T>(text: &StringChunked, read: fn(&str) -> Option<T::Native>) -> (ChunkedArray<T>, u64)
where
    T: PolarsNumericType,
    ChunkedArray<T>: FromIterator<Option<T::Native>>,
{
    let mut refused = 0;
    let values: ChunkedArray<T> = text
        .iter()
        .map(|value| {
            let read = value.and_then(read);
            refused += u64::from(value.is_some() && read.is_none());
            read
        })
        .collect();
    (values.with_name(text.name().clone()), refused)
}

/// Rule 4 on one value: digits, an optional `.` and fraction digits, an optional `k`/`K` (×1,000)
/// or `m`/`M` (×1,000,000), nothing else (ASCII digits only, no sign, no spaces): `26k` → 26000,
/// `1.5M` → 1500000, `12.5` → 13, rounded half-up exactly (decimal digits, no floating point).
/// Anything else, or more than `i32::MAX`, is `None`.
pub fn follower_count(text: &str) -> Option<i32> {
    let (number, multiplier, scale_digits) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 1_000i64, 3),
        b'm' | b'M' => (&text[..text.len() - 1], 1_000_000i64, 6),
        _ => (text, 1i64, 0),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, "0"),
    };
    let digits_only = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if !digits_only(whole) || !digits_only(fraction) {
        return None;
    }
    // Leading zeros are fine; more than i64 is not a count.
    let whole: i64 = whole.parse().ok()?;
    if whole > i64::from(i32::MAX) {
        return None;
    }
    let fraction = fraction.as_bytes();
    let digit = |position: usize| fraction.get(position).map_or(0, |byte| i64::from(byte - b'0'));
    let kept = (0..scale_digits).fold(0, |kept, position| kept * 10 + digit(position));
    let round_up = i64::from(digit(scale_digits) >= 5);
    i32::try_from(whole * multiplier + kept + round_up).ok()
}

/// Rule 6 on one value: without a leading `Local save in` and the whitespace after it (Unicode
/// White_Space, as `char::is_whitespace` reads it); any other value as it is.
pub fn save_location(text: &str) -> &str {
    text.strip_prefix("Local save in").map_or(text, str::trim_start)
}

/// geo's `coordinates` (docs/SPEC.md §4): `[latitude, longitude]` where both are present, else NULL.
/// Built in one pass: Polars' `concat_list` under `when/then` made and then masked a list per row.
fn coordinates(latitude: &Float64Chunked, longitude: &Float64Chunked) -> Column {
    let mut pairs = ListPrimitiveChunkedBuilder::<Float64Type>::new(
        latitude.name().clone(),
        latitude.len(),
        2 * latitude.len(),
        DataType::Float64,
    );
    for pair in latitude.iter().zip(longitude.iter()) {
        match pair {
            (Some(latitude), Some(longitude)) => pairs.append_slice(&[latitude, longitude]),
            _ => pairs.append_null(),
        }
    }
    pairs.finish().into_column()
}

/// One value in a datetime form of docs/SPEC.md §1, `2020-08-28 03:52:47`, `2020-08-28T03:52:47` (both
/// with an optional fraction of 1 to 9 digits) or `2020:08:28 03:52:47`, as microseconds since
/// 1970-01-01 00:00:00 (a fraction truncated to microseconds; second 60 is a leap second, read as chrono
/// reads it); `None` for anything else, or a date or time that does not exist.
pub fn datetime_micros(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 {
        return None;
    }
    let fraction = match (bytes[4], bytes[7], bytes[10], bytes[13], bytes[16]) {
        (b'-', b'-', b' ' | b'T', b':', b':') => &bytes[19..],
        (b':', b':', b' ', b':', b':') if bytes.len() == 19 => &[],
        _ => return None,
    };
    let number = |digits: &[u8]| {
        digits
            .iter()
            .try_fold(0i64, |number, &digit| digit.is_ascii_digit().then(|| number * 10 + i64::from(digit - b'0')))
    };
    let nanos = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => number(digits)? * 10i64.pow(9 - digits.len() as u32),
        _ => return None,
    };
    let [year, month, day, hour, minute, second] =
        [0..4, 5..7, 8..10, 11..13, 14..16, 17..19].map(|range| number(&bytes[range]));
    let date = chrono::NaiveDate::from_ymd_opt(year? as i32, month? as u32, day? as u32)?;
    let (hour, minute, second) = (hour?, minute?, second?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let midnight = date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
    Some((midnight + (hour * 60 + minute) * 60 + second) * 1_000_000 + nanos / 1_000)
}

/// The rules whose NULLs are counted (docs/SPEC.md §6).
#[derive(Debug, Clone, Copy)]
enum NullRule {
    EmptyText,
    Placeholder,
    UnparseableFollowerCount,
    UnparseableDatetime,
}

impl NullCounts {
    fn record(&mut self, rule: NullRule, column: &str, count: u64) {
        let per_column = match rule {
            NullRule::EmptyText => &mut self.empty_text,
            NullRule::Placeholder => &mut self.placeholder,
            NullRule::UnparseableDatetime => &mut self.unparseable_datetime,
            NullRule::UnparseableFollowerCount => {
                self.unparseable_follower_count += count;
                return;
            }
        };
        per_column.insert(column.to_string(), count);
    }
}

/// Keeps only the cleaned columns (drops [`RAW_HASH_COLUMN`]).
pub fn without_hash(frame: &DataFrame) -> PolarsResult<DataFrame> {
    frame.select(frame.get_column_names().into_iter().filter(|name| name.as_str() != RAW_HASH_COLUMN).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule as Polars expressions (what the datetime rule was): the §1 pattern, the forms rewritten
    /// to one, and Polars' `to_datetime` with chrono's format.
    fn reference(text: Expr) -> Expr {
        const PATTERN: &str = r"^[0-9]{4}(-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?|:[0-9]{2}:[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})$";
        let normalised = text
            .clone()
            .str()
            .replace(lit(r"^([0-9]{4}):([0-9]{2}):([0-9]{2}) "), lit("$1-$2-$3 "), false)
            .str()
            .replace(lit("T"), lit(" "), true);
        let options =
            StrptimeOptions { format: Some("%Y-%m-%d %H:%M:%S%.f".into()), strict: false, exact: true, cache: false };
        when(text.str().contains(lit(PATTERN), true))
            .then(normalised.str().to_datetime(Some(TimeUnit::Microseconds), None, options, lit("raise")))
            .otherwise(lit(NULL).cast(DataType::Datetime(TimeUnit::Microseconds, None)))
    }

    /// Texts near the §1 forms: every field in and out of range, every separator, fractions of 0 to
    /// 10 digits, and stray characters.
    fn near_datetimes(rng: &mut fastrand::Rng, count: usize) -> Vec<String> {
        let two = |rng: &mut fastrand::Rng, max: u32| format!("{:02}", rng.u32(0..=max));
        (0..count)
            .map(|_| {
                let year =
                    *rng.choice(&["2020", "2000", "1900", "2100", "2024", "0000", "1969", "9999", "20x0"]).unwrap();
                let date_separator = *rng.choice(&["-", "-", "-", ":", "/"]).unwrap();
                let time_separator = *rng.choice(&[" ", "T", " ", "t", "_"]).unwrap();
                let mut text = format!(
                    "{year}{date_separator}{}{date_separator}{}{time_separator}{}:{}:{}",
                    two(rng, 13),
                    two(rng, 32),
                    two(rng, 25),
                    two(rng, 61),
                    two(rng, 61)
                );
                if rng.u8(0..3) == 0 {
                    text.push('.');
                    (0..rng.usize(0..=10)).for_each(|_| text.push(rng.digit(10)));
                }
                match rng.u8(0..20) {
                    0 => text.push('Z'),
                    1 => text.insert(rng.usize(0..text.len()), rng.char('!'..='~')),
                    2 => text.truncate(rng.usize(0..text.len())),
                    3 => text.push('é'),
                    _ => {}
                }
                text
            })
            .collect()
    }

    #[test]
    fn datetimes_read_as_the_expression_rule_read_them() {
        let mut rng = fastrand::Rng::with_seed(17);
        let mut texts = near_datetimes(&mut rng, 200_000);
        texts.extend(
            ["2020-08-28 03:52:47", "2020-08-28T03:52:47.123456789", "2020:08:28 03:52:47", "2020-12-31 23:59:60.5"]
                .map(String::from),
        );
        let frame = df!("text" => &texts).unwrap();
        let (datetime, _) = Rule::Datetime("text").apply(&frame).unwrap();
        let both = frame
            .lazy()
            .select([reference(col("text")).alias("reference")])
            .collect()
            .unwrap()
            .hstack(&[datetime.with_name("ours".into())])
            .unwrap();
        let micros = |name: &str| -> Vec<Option<i64>> {
            both.column(name).unwrap().datetime().unwrap().physical().iter().collect()
        };
        let (ours, reference) = (micros("ours"), micros("reference"));
        let parsed = ours.iter().filter(|micros| micros.is_some()).count();
        assert!(parsed > 20_000, "too few valid datetimes among the cases: {parsed}");
        for ((text, ours), reference) in texts.iter().zip(&ours).zip(&reference) {
            assert_eq!(ours, reference, "{text:?}");
        }
    }
}
