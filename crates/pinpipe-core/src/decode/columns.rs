//! Building one table's raw frame: each accepted record's key, field values and record hash appended
//! to typed column builders, values of the wrong JSON type counted as invalid.

use std::collections::BTreeMap;

use pinpipe_contract::table::{FieldKind, Table, KEY_COLUMN, RAW_HASH_COLUMN};
use polars::prelude::*;
use xxhash_rust::xxh3::Xxh3Default;

use super::record::{parse_record, Posted, Refusal};
use super::{Decoded, Refused};

/// Column builders for one table's raw frame, from records that live for `'a`.
pub(super) struct ColumnBuilders<'a> {
    table: Table,
    /// The values of the record being decoded: one `Vec` for all of them.
    values: Vec<Posted<'a>>,
    keys: PrimitiveChunkedBuilder<Int32Type>,
    columns: Vec<ColumnBuilder>,
    hashes: BinaryChunkedBuilder,
    invalid: InvalidCounts,
}

/// Per field of a table (by index), how many values had a JSON type the field cannot hold.
pub(super) struct InvalidCounts(Vec<u64>);

impl InvalidCounts {
    pub(super) fn new(table: Table) -> Self {
        InvalidCounts(vec![0; table.fields().len()])
    }

    /// Counts one record's invalid values: the bits of their fields' indexes.
    pub(super) fn add(&mut self, mut fields: u64) {
        while fields != 0 {
            self.0[fields.trailing_zeros() as usize] += 1;
            fields &= fields - 1;
        }
    }

    /// The counts by field name, fields without invalid values left out.
    pub(super) fn by_name(&self, table: Table) -> BTreeMap<String, u64> {
        self.0
            .iter()
            .zip(table.fields())
            .filter(|(count, _)| **count > 0)
            .map(|(count, field)| (field.name.to_string(), *count))
            .collect()
    }
}

enum ColumnBuilder {
    Text(StringChunkedBuilder),
    Integer(PrimitiveChunkedBuilder<Int32Type>),
    Float(PrimitiveChunkedBuilder<Float64Type>),
}

impl<'a> ColumnBuilders<'a> {
    pub(super) fn new(table: Table, capacity: usize) -> Self {
        let fields = table.fields();
        let columns = fields[1..]
            .iter()
            .map(|field| {
                let name = PlSmallStr::from_static(field.name);
                match field.kind {
                    FieldKind::Text => ColumnBuilder::Text(StringChunkedBuilder::new(name, capacity)),
                    FieldKind::Integer => ColumnBuilder::Integer(PrimitiveChunkedBuilder::new(name, capacity)),
                    FieldKind::Float => ColumnBuilder::Float(PrimitiveChunkedBuilder::new(name, capacity)),
                    FieldKind::Key => unreachable!("only the first field is the key"),
                }
            })
            .collect();
        ColumnBuilders {
            table,
            values: Vec::with_capacity(fields.len()),
            keys: PrimitiveChunkedBuilder::new(KEY_COLUMN.into(), capacity),
            columns,
            hashes: BinaryChunkedBuilder::new(RAW_HASH_COLUMN.into(), capacity),
            invalid: InvalidCounts::new(table),
        }
    }

    /// Decodes one line into the builders, or says why it is refused. Gives the bits (by field
    /// index) of the fields whose values had a JSON type the field cannot hold (they became NULL).
    pub(super) fn push_line(&mut self, line: &'a [u8]) -> Result<u64, Refusal> {
        let key = parse_record(self.table.fields(), line, &mut self.values)?;
        let mut hasher = Xxh3Default::new();
        let mut invalid = 0u64;
        self.keys.append_value(key);
        hasher.update(&key.to_le_bytes());
        for (i, (value, column)) in self.values[1..].iter().zip(&mut self.columns).enumerate() {
            value.hash_into(&mut hasher);
            if !column.push(value) {
                invalid |= 1 << (i + 1);
            }
        }
        self.hashes.append_value(hasher.digest128().to_le_bytes());
        Ok(invalid)
    }

    /// Decodes one record, or files it in `refused` with where it was (`at`, made only then) and why.
    pub(super) fn push_or_reject<P>(
        &mut self,
        record: &'a [u8],
        at: impl FnOnce() -> P,
        refused: &mut Vec<Refused<P>>,
    ) {
        match self.push_line(record) {
            Ok(invalid) => self.invalid.add(invalid),
            Err(refusal) => refused.push(Refused::new(at(), refusal, record)),
        }
    }

    /// The decoded frame of everything pushed, with the records refused along the way.
    pub(super) fn into_decoded<P>(self, refused: Vec<Refused<P>>) -> PolarsResult<Decoded<P>> {
        let invalid_values = self.invalid.by_name(self.table);
        Ok(Decoded { frame: self.finish()?, refused, invalid_values })
    }

    pub(super) fn finish(self) -> PolarsResult<DataFrame> {
        let mut columns = Vec::with_capacity(self.columns.len() + 2);
        columns.push(self.keys.finish().into_column());
        columns.extend(self.columns.into_iter().map(ColumnBuilder::finish));
        columns.push(self.hashes.finish().into_column());
        DataFrame::new_infer_height(columns)
    }
}

impl ColumnBuilder {
    /// Appends one value; false when its JSON type does not fit the column (NULL is appended).
    fn push(&mut self, value: &Posted<'_>) -> bool {
        match self {
            ColumnBuilder::Text(builder) => match value {
                Posted::Null => builder.append_null(),
                Posted::Text(text) => builder.append_value(text.as_ref()),
                Posted::Int(v) => builder.append_value(v.to_string()),
                Posted::UInt(v) => builder.append_value(v.to_string()),
                Posted::Float(v) => builder.append_value(format!("{v:?}")),
                Posted::Bool(v) => builder.append_value(v.to_string()),
                Posted::Nested(_) => {
                    builder.append_null();
                    return false;
                }
            },
            ColumnBuilder::Integer(builder) => {
                let parsed = match value {
                    Posted::Null => {
                        builder.append_null();
                        return true;
                    }
                    Posted::Int(v) => i32::try_from(*v).ok(),
                    Posted::Text(text) => text.trim().parse().ok(),
                    Posted::Float(v) if v.fract() == 0.0 && (i32::MIN as f64..=i32::MAX as f64).contains(v) => {
                        Some(*v as i32)
                    }
                    _ => None,
                };
                builder.append_option(parsed);
                return parsed.is_some();
            }
            ColumnBuilder::Float(builder) => {
                let parsed = match value {
                    Posted::Null => {
                        builder.append_null();
                        return true;
                    }
                    Posted::Int(v) => Some(*v as f64),
                    Posted::UInt(v) => Some(*v as f64),
                    Posted::Float(v) => Some(*v),
                    Posted::Text(text) => text.trim().parse().ok().filter(|v: &f64| v.is_finite()),
                    _ => None,
                };
                builder.append_option(parsed);
                return parsed.is_some();
            }
        }
        true
    }

    fn finish(self) -> Column {
        match self {
            ColumnBuilder::Text(builder) => builder.finish().into_column(),
            ColumnBuilder::Integer(builder) => builder.finish().into_column(),
            ColumnBuilder::Float(builder) => builder.finish().into_column(),
        }
    }
}
