//! The age groups of docs/SPEC.md §5 (`18-24`, `25-35`, `36-50`, `+50`; under 18 has none), in their
//! natural order, and how an age falls into one.

use polars::prelude::*;

/// The age groups, in their natural order: name, lowest and highest age (inclusive).
pub const AGE_GROUPS: [(&str, i32, i32); 4] =
    [("18-24", 18, 24), ("25-35", 25, 35), ("36-50", 36, 50), ("+50", 51, i32::MAX)];

/// The age group of `age` (`18-24`, `25-35`, `36-50`, `+50`), NULL under 18.
pub fn age_group() -> Expr {
    AGE_GROUPS
        .iter()
        .rev()
        .fold(lit(NULL).cast(DataType::String), |otherwise, (name, low, high)| {
            when(col("age").is_between(lit(*low), lit(*high), ClosedInterval::Both))
                .then(lit(*name))
                .otherwise(otherwise)
        })
        .alias("age_group")
}
