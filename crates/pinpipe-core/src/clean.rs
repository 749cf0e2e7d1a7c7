//! The cleaning rules of SPEC §4, written once as Polars expressions over a raw frame of any size.
//! The batch transform and the stream processor both call [`clean`]; only the batch drops duplicates
//! (see [`crate::batch`]).

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::table::{Table, RAW_HASH_COLUMN};

/// Placeholders that mean "no value", each only in its own column (SPEC §4 rule 3).
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

/// The cleaned columns of each table, in SPEC §4 order.
pub fn cleaned_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Pin => &[
            "ind",
            "unique_id",
            "title",
            "description",
            "follower_count",
            "poster_name",
            "tag_list",
            "is_image_or_video",
            "image_src",
            "save_location",
            "category",
        ],
        Table::Geo => &["ind", "country", "coordinates", "timestamp"],
        Table::User => &["ind", "user_name", "age", "date_joined"],
    }
}

/// The datetime columns of each cleaned table.
pub fn datetime_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Pin => &[],
        Table::Geo => &["timestamp"],
        Table::User => &["date_joined"],
    }
}

/// NULLs the cleaning produced, per rule and column (SPEC §6).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    /// The cleaned columns of [`cleaned_columns`], then [`RAW_HASH_COLUMN`].
    pub frame: DataFrame,
    /// What the rules turned into NULL.
    pub nulls: NullCounts,
}

/// The prefix of the temporary column holding a cleaned value beside its raw one.
const CLEAN: &str = "__clean_";

/// Cleans a raw frame of `table` (as [`crate::decode::decode`] makes it).
pub fn clean(table: Table, raw: DataFrame) -> PolarsResult<Cleaned> {
    let rules = rules(table);
    let both = raw
        .lazy()
        .with_columns(rules.iter().map(|(name, expr)| expr.clone().alias(format!("{CLEAN}{name}"))).collect::<Vec<_>>())
        .collect()?;
    let nulls = count_nulls(table, &both)?;
    let mut output: Vec<Expr> = cleaned_columns(table)
        .iter()
        .map(|name| {
            if rules.iter().any(|(rule, _)| rule == name) {
                col(format!("{CLEAN}{name}")).alias(*name)
            } else {
                col(*name)
            }
        })
        .collect();
    output.push(col(RAW_HASH_COLUMN));
    let frame = both.lazy().select(output).collect()?;
    Ok(Cleaned { frame, nulls })
}

/// Every cleaned column that is not a raw column taken as it is, with the expression computing it.
fn rules(table: Table) -> Vec<(&'static str, Expr)> {
    match table {
        Table::Pin => PIN_TEXT_COLUMNS
            .iter()
            .map(|&name| {
                let text = null_if_empty_or_placeholder(name);
                let cleaned = match name {
                    "follower_count" => parse_follower_count(text),
                    "save_location" => strip_save_location_prefix(text),
                    _ => text,
                };
                (name, cleaned)
            })
            .collect(),
        Table::Geo => vec![
            (
                "coordinates",
                when(col("latitude").is_not_null().and(col("longitude").is_not_null()))
                    .then(concat_list([col("latitude"), col("longitude")]).expect("two columns"))
                    .otherwise(lit(NULL).cast(DataType::List(Box::new(DataType::Float64)))),
            ),
            ("timestamp", parse_datetime(col("timestamp"))),
        ],
        Table::User => vec![
            ("user_name", concat_str([col("first_name"), col("last_name")], " ", false)),
            ("date_joined", parse_datetime(col("date_joined"))),
        ],
    }
}

/// Rules 2 and 3: `""` and the column's own placeholders become NULL.
fn null_if_empty_or_placeholder(name: &str) -> Expr {
    let is_nothing = col(name).eq(lit("")).or(is_placeholder(name));
    when(is_nothing).then(lit(NULL).cast(DataType::String)).otherwise(col(name))
}

/// True where the column holds one of its own placeholders (never in a column without any).
fn is_placeholder(name: &str) -> Expr {
    let placeholders = PLACEHOLDERS.iter().find(|(column, _)| *column == name).map_or(&[][..], |(_, values)| values);
    placeholders.iter().fold(lit(false), |any, placeholder| any.or(col(name).eq(lit(*placeholder))))
}

/// The follower-count shape of rule 4: digits, an optional fraction, an optional k/K/m/M.
pub const FOLLOWER_COUNT_PATTERN: &str = r"^([0-9]+)(?:\.([0-9]+))?([kKmM]?)$";

/// Rule 4: `26k` → 26000, `1.5M` → 1500000, rounded half-up, exactly (decimal digits, no floating
/// point); anything else, or more than `i32::MAX`, → NULL.
pub fn parse_follower_count(text: Expr) -> Expr {
    let whole = text.clone().str().extract(lit(FOLLOWER_COUNT_PATTERN), 1).cast(DataType::Int64);
    // The fraction, padded to 7 digits: enough for ×1,000,000 plus the rounding digit.
    let fraction =
        text.clone().str().extract(lit(FOLLOWER_COUNT_PATTERN), 2).fill_null(lit("")).str().pad_end(lit(7), '0');
    let suffix = text.str().extract(lit(FOLLOWER_COUNT_PATTERN), 3).str().to_lowercase();
    let scaled = |digits: i64, multiplier: i64| {
        let kept = if digits == 0 {
            lit(0i64)
        } else {
            fraction.clone().str().slice(lit(0), lit(digits as u64)).cast(DataType::Int64)
        };
        let round_up = fraction
            .clone()
            .str()
            .slice(lit(digits), lit(1u64))
            .cast(DataType::Int64)
            .gt_eq(lit(5i64))
            .cast(DataType::Int64);
        whole.clone() * lit(multiplier) + kept + round_up
    };
    let value = when(suffix.clone().eq(lit("k")))
        .then(scaled(3, 1_000))
        .when(suffix.eq(lit("m")))
        .then(scaled(6, 1_000_000))
        .otherwise(scaled(0, 1));
    // Checking the whole part first keeps the multiplication far from i64 overflow.
    when(whole.lt_eq(lit(i32::MAX as i64)).and(value.clone().lt_eq(lit(i32::MAX as i64))))
        .then(value.cast(DataType::Int32))
        .otherwise(lit(NULL).cast(DataType::Int32))
}

/// Rule 6: `Local save in /data/art` → `/data/art`.
fn strip_save_location_prefix(text: Expr) -> Expr {
    text.str().replace(lit(r"^Local save in\s*"), lit(""), false)
}

/// The accepted datetime forms (SPEC §1): `2020-08-28 03:52:47`, `2020-08-28T03:52:47` (both with an
/// optional fraction) and `2020:08:28 03:52:47`.
pub const DATETIME_PATTERN: &str = r"^[0-9]{4}(-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?|:[0-9]{2}:[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})$";

/// Parses the datetime forms of SPEC §1 as naive UTC microsecond datetimes; anything else → NULL.
pub fn parse_datetime(text: Expr) -> Expr {
    let normalised = text
        .clone()
        .str()
        .replace(lit(r"^([0-9]{4}):([0-9]{2}):([0-9]{2}) "), lit("$1-$2-$3 "), false)
        .str()
        .replace(lit("T"), lit(" "), true);
    let options =
        StrptimeOptions { format: Some("%Y-%m-%d %H:%M:%S%.f".into()), strict: false, exact: true, cache: true };
    when(text.str().contains(lit(DATETIME_PATTERN), true))
        .then(normalised.str().to_datetime(Some(TimeUnit::Microseconds), None, options, lit("raise")))
        .otherwise(lit(NULL).cast(DataType::Datetime(TimeUnit::Microseconds, None)))
}

/// The rules whose NULLs are counted (SPEC §6).
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

/// Counts what the rules turned into NULL, comparing each raw column with its cleaned twin.
fn count_nulls(table: Table, both: &DataFrame) -> PolarsResult<NullCounts> {
    let cleaned = |name: &str| col(format!("{CLEAN}{name}"));
    let mut counters: Vec<(NullRule, &str, Expr)> = Vec::new();
    if table == Table::Pin {
        for &name in PIN_TEXT_COLUMNS {
            counters.push((NullRule::EmptyText, name, col(name).eq(lit(""))));
        }
        for &(name, _) in PLACEHOLDERS {
            counters.push((NullRule::Placeholder, name, is_placeholder(name)));
        }
        let raw = col("follower_count");
        let was_count = raw.clone().is_not_null().and(raw.neq(lit(""))).and(is_placeholder("follower_count").not());
        let unparseable = was_count.and(cleaned("follower_count").is_null());
        counters.push((NullRule::UnparseableFollowerCount, "follower_count", unparseable));
    }
    for &name in datetime_columns(table) {
        let unparseable = col(name).is_not_null().and(cleaned(name).is_null());
        counters.push((NullRule::UnparseableDatetime, name, unparseable));
    }
    let mut nulls = NullCounts::default();
    if counters.is_empty() {
        return Ok(nulls);
    }
    let sums: Vec<Expr> = counters
        .iter()
        .enumerate()
        .map(|(i, (_, _, predicate))| predicate.clone().cast(DataType::UInt64).sum().alias(format!("{i}")))
        .collect();
    let counts = both.clone().lazy().select(sums).collect()?;
    for (i, (rule, column, _)) in counters.iter().enumerate() {
        nulls.record(*rule, column, counts.column(&format!("{i}"))?.u64()?.get(0).unwrap_or(0));
    }
    Ok(nulls)
}

/// Keeps only the cleaned columns (drops [`RAW_HASH_COLUMN`]).
pub fn without_hash(frame: &DataFrame) -> PolarsResult<DataFrame> {
    frame.select(frame.get_column_names().into_iter().filter(|name| name.as_str() != RAW_HASH_COLUMN).cloned())
}
