//! The canonical row order of docs/SPEC.md §5: ascending by every column left to right, NULL first,
//! `age_group` in its natural order, lists element by element.

use polars::prelude::*;

use crate::age_group::AGE_GROUPS;

/// Sorts rows ascending by every column left to right, NULL first; `age_group` in its natural order
/// and lists element by element.
pub fn canonical_order(frame: &DataFrame) -> PolarsResult<DataFrame> {
    frame.take(&canonical_indices(frame)?)
}

/// The rows of `frame` in [`canonical_order`], as row indices: what Polars' sort gathers every column
/// by (the same keys and the same `arg_sort`), for a caller that gathers a few rows at a time.
pub fn canonical_indices(frame: &DataFrame) -> PolarsResult<IdxCa> {
    let mut keys = Vec::new();
    for column in frame.columns() {
        let name = column.name().as_str();
        match column.dtype() {
            DataType::List(_) => {
                // Coordinates are pairs; a NULL list sorts first through its first element.
                keys.push(col(name).list().get(lit(0), true));
                keys.push(col(name).list().get(lit(1), true));
            }
            _ if name == "age_group" => keys.push(age_group_rank()),
            _ => keys.push(col(name)),
        }
    }
    let height = frame.height() as IdxSize;
    if keys.is_empty() || height == 0 {
        return Ok(IdxCa::from_vec("row".into(), (0..height).collect()));
    }
    let keys = keys.into_iter().enumerate().map(|(i, key)| key.alias(format!("key{i}"))).collect::<Vec<_>>();
    let keys = frame.clone().lazy().select(keys).collect()?;
    let options = SortMultipleOptions::default().with_nulls_last(false).with_maintain_order(true);
    sort::arg_sort(keys.columns(), options)
}

/// The rank of `age_group` in the natural order (NULL for anything else), to sort by.
fn age_group_rank() -> Expr {
    AGE_GROUPS
        .iter()
        .zip(0..AGE_GROUPS.len() as u32)
        .rev()
        .fold(lit(NULL).cast(DataType::UInt32), |otherwise, ((name, _, _), rank)| {
            when(col("age_group").eq(lit(*name))).then(lit(rank)).otherwise(otherwise)
        })
}
