//! The canonical row order of docs/SPEC.md §5: ascending by every column left to right, NULL first,
//! `age_group` in its natural order, lists element by element.

use polars::prelude::*;

use crate::age_group::AGE_GROUPS;

/// Sorts rows ascending by every column left to right, NULL first; `age_group` in its natural order
/// and lists element by element.
pub fn canonical_order(frame: &DataFrame) -> PolarsResult<DataFrame> {
    match order_by_first_column(frame)? {
        Some(order) => frame.take(&order),
        None => sorted_by_every_column(frame),
    }
}

/// [`canonical_order`] by sorting on every column.
fn sorted_by_every_column(frame: &DataFrame) -> PolarsResult<DataFrame> {
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
    if keys.is_empty() {
        return Ok(frame.clone());
    }
    frame
        .clone()
        .lazy()
        .sort_by_exprs(keys, SortMultipleOptions::default().with_nulls_last(false).with_maintain_order(true))
        .collect()
}

/// The order of the rows when the first column alone gives it: an integer column with no two rows
/// equal (as a cleaned table's `ind` is on mostly distinct data). Sorting by it then orders the rows
/// exactly as sorting by every column does, without encoding every column as a sort key (a copy of
/// the whole frame). `None` otherwise.
fn order_by_first_column(frame: &DataFrame) -> PolarsResult<Option<IdxCa>> {
    let Some(first) = frame.columns().first() else { return Ok(None) };
    if !first.dtype().is_integer() || first.null_count() > 1 || first.n_unique()? < frame.height() {
        return Ok(None);
    }
    let options = SortOptions::default().with_nulls_last(false).with_maintain_order(true);
    Ok(Some(first.as_materialized_series().arg_sort(options)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distinct_first_column_orders_rows_as_every_column_does() {
        let frame = df!(
            "ind" => [Some(7i64), None, Some(-3), Some(12), Some(0)],
            "text" => ["g", "n", "m", "a", "z"],
        )
        .unwrap();
        assert!(order_by_first_column(&frame).unwrap().is_some());
        let ordered = canonical_order(&frame).unwrap();
        assert!(ordered.equals_missing(&sorted_by_every_column(&frame).unwrap()));
        assert_eq!(ordered.column("text").unwrap().str().unwrap().get(0), Some("n"), "NULL first");
        // Ties, two NULLs or a first column that is not an integer: every column decides.
        let ties = df!("ind" => [2i64, 1, 2, 1], "text" => ["b", "d", "a", "c"]).unwrap();
        let nulls = df!("ind" => [None, Some(1i64), None], "text" => ["b", "a", "a"]).unwrap();
        let text = df!("text" => ["b", "a"], "n" => [1i64, 2]).unwrap();
        for frame in [ties, nulls, text] {
            assert!(order_by_first_column(&frame).unwrap().is_none());
            assert!(canonical_order(&frame).unwrap().equals_missing(&sorted_by_every_column(&frame).unwrap()));
        }
    }
}
