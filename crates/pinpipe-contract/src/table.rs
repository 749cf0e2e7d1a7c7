//! The three source tables: the raw fields each record may carry (docs/SPEC.md §1), the columns of a
//! cleaned table (§4) and the lineage columns of the stream tables (§3).

use serde::{Deserialize, Serialize};

/// One of the three source tables; every post is a triple of records sharing one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// The pin itself: title, poster, follower count, category…
    Pin,
    /// Where and when it was posted.
    Geo,
    /// Who posted it.
    User,
}

/// How a raw field is read from JSON before cleaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// The record key: a JSON integer in the int32 range, or the record is rejected.
    Key,
    /// Text as posted; a number or boolean is kept as its JSON text.
    Text,
    /// A whole number in the int32 range.
    Integer,
    /// A floating-point number.
    Float,
}

/// One raw field: its JSON name, the other name it may arrive under, and how it is read.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The name in the records as the source tables post them.
    pub name: &'static str,
    /// Another accepted name (pin's key arrives as `index` or `ind`).
    pub alias: Option<&'static str>,
    /// How the value is read.
    pub kind: FieldKind,
}

const fn field(name: &'static str, kind: FieldKind) -> Field {
    Field { name, alias: None, kind }
}

/// The name of the key column in every raw and cleaned frame.
pub const KEY_COLUMN: &str = "ind";

/// The column holding each raw record's 128-bit content hash, used to drop exact duplicates.
pub const RAW_HASH_COLUMN: &str = "_raw_hash";

/// The stream tables' lineage column naming the shard a row came from.
pub const SHARD_ID_COLUMN: &str = "_shard_id";

/// The stream tables' lineage column holding the Kinesis sequence number of a row's record: with
/// [`SHARD_ID_COLUMN`], it names the record exactly, so readers can tell a redelivered record from
/// an equal but distinct one.
pub const SEQUENCE_NUMBER_COLUMN: &str = "_sequence_number";

/// The stream tables' column holding when Kinesis stored a row's record (its
/// `approximateArrivalTimestamp`, UTC, as a naive timestamp).
pub const ARRIVAL_TIME_COLUMN: &str = "_arrival_time";

/// The stream tables' partition column: the UTC date of [`ARRIVAL_TIME_COLUMN`].
pub const ARRIVAL_DATE_COLUMN: &str = "arrival_date";

/// The partition column of the cleaned and result tables: the date of the batch run that wrote a row.
pub const RUN_DATE_COLUMN: &str = "run_date";

const PIN_FIELDS: &[Field] = &[
    Field { name: "index", alias: Some("ind"), kind: FieldKind::Key },
    field("unique_id", FieldKind::Text),
    field("title", FieldKind::Text),
    field("description", FieldKind::Text),
    field("poster_name", FieldKind::Text),
    field("follower_count", FieldKind::Text),
    field("tag_list", FieldKind::Text),
    field("is_image_or_video", FieldKind::Text),
    field("image_src", FieldKind::Text),
    field("downloaded", FieldKind::Integer),
    field("save_location", FieldKind::Text),
    field("category", FieldKind::Text),
];

const GEO_FIELDS: &[Field] = &[
    field("ind", FieldKind::Key),
    field("timestamp", FieldKind::Text),
    field("latitude", FieldKind::Float),
    field("longitude", FieldKind::Float),
    field("country", FieldKind::Text),
];

const USER_FIELDS: &[Field] = &[
    field("ind", FieldKind::Key),
    field("first_name", FieldKind::Text),
    field("last_name", FieldKind::Text),
    field("age", FieldKind::Integer),
    field("date_joined", FieldKind::Text),
];

impl Table {
    /// All tables, in their canonical order.
    pub const ALL: [Table; 3] = [Table::Pin, Table::Geo, Table::User];

    /// The table's name as used in topics, lake keys and file names (`pin`, `geo`, `user`).
    pub fn name(self) -> &'static str {
        match self {
            Table::Pin => "pin",
            Table::Geo => "geo",
            Table::User => "user",
        }
    }

    /// The table with that name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|table| table.name() == name)
    }

    /// The cleaned columns, in docs/SPEC.md §4 order (a cleaned table's files add [`RAW_HASH_COLUMN`]).
    pub fn cleaned_columns(self) -> &'static [&'static str] {
        match self {
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

    /// The cleaned columns that hold datetimes.
    pub fn datetime_columns(self) -> &'static [&'static str] {
        match self {
            Table::Pin => &[],
            Table::Geo => &["timestamp"],
            Table::User => &["date_joined"],
        }
    }

    /// The raw fields of this table's records, key first. The raw frame has one column per field,
    /// named as the field (the key column is always [`KEY_COLUMN`]).
    pub fn fields(self) -> &'static [Field] {
        match self {
            Table::Pin => PIN_FIELDS,
            Table::Geo => GEO_FIELDS,
            Table::User => USER_FIELDS,
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
