//! The daily analytics q1 … q9 of docs/SPEC.md §5, as Polars lazy queries over the cleaned tables.
//!
//! Joins are inner joins on `ind`; medians are exact lower medians of the non-NULL values; "most
//! popular" keeps every row tied at the maximum. Every result comes back in canonical order.

use polars::prelude::*;

use crate::age_group::age_group;
use crate::order::canonical_order;

/// One query of docs/SPEC.md §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// Its id, also the name of its Parquet result (`q1`, `q2a`, …).
    pub id: &'static str,
    /// Its canonical CSV file name.
    pub csv_name: &'static str,
}

/// Every query, in docs/SPEC.md order.
pub const QUERIES: [Query; 11] = [
    Query { id: "q1", csv_name: "q1_popular_category_by_country.csv" },
    Query { id: "q2a", csv_name: "q2a_posts_per_category_by_year.csv" },
    Query { id: "q2b", csv_name: "q2b_popular_category_by_year.csv" },
    Query { id: "q3a", csv_name: "q3a_top_user_by_country.csv" },
    Query { id: "q3b", csv_name: "q3b_top_country.csv" },
    Query { id: "q4", csv_name: "q4_popular_category_by_age_group.csv" },
    Query { id: "q5", csv_name: "q5_median_follower_by_age_group.csv" },
    Query { id: "q6", csv_name: "q6_users_joined_by_year.csv" },
    Query { id: "q7", csv_name: "q7_median_follower_by_join_year.csv" },
    Query { id: "q8", csv_name: "q8_median_follower_by_join_year_age_group.csv" },
    Query { id: "q9", csv_name: "q9_median_follower_by_post_year_age_group.csv" },
];

/// The three cleaned tables, with the columns of `Table::cleaned_columns`.
#[derive(Debug, Clone)]
pub struct CleanedTables {
    /// Cleaned pin rows.
    pub pin: DataFrame,
    /// Cleaned geo rows.
    pub geo: DataFrame,
    /// Cleaned user rows.
    pub user: DataFrame,
}

/// Post years the queries look at.
const POST_YEARS: (i32, i32) = (2018, 2022);
/// Join years the queries look at.
const JOIN_YEARS: (i32, i32) = (2015, 2020);

/// Runs every query, returning each result (in canonical order) with its query.
pub fn run_queries(tables: &CleanedTables) -> PolarsResult<Vec<(Query, DataFrame)>> {
    let pin = tables.pin.clone().lazy();
    let geo = tables.geo.clone().lazy().with_column(col("timestamp").dt().year().alias("post_year"));
    let user =
        tables.user.clone().lazy().with_columns([age_group(), col("date_joined").dt().year().alias("join_year")]);
    let pin_geo = pin.clone().inner_join(geo.clone(), col("ind"), col("ind"));
    let pin_user = pin.inner_join(user.clone(), col("ind"), col("ind"));
    let pin_geo_user = pin_geo.clone().inner_join(user.clone(), col("ind"), col("ind"));

    let q2a = count_per(in_years(pin_geo.clone(), "post_year", POST_YEARS), &["post_year", "category"]);
    let q3a = pin_geo
        .clone()
        .filter(col("follower_count").is_not_null())
        .filter(col("follower_count").eq(col("follower_count").max().over([col("country")])?))
        .select([col("country"), col("poster_name"), col("follower_count")])
        .unique_stable(None, UniqueKeepStrategy::First);
    let q3b = q3a
        .clone()
        .sort_by_exprs(
            [col("follower_count"), col("country")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]).with_nulls_last(false),
        )
        .limit(1)
        .select([col("country"), col("follower_count")]);
    let with_age_group = |frame: LazyFrame| frame.filter(col("age_group").is_not_null());
    let q6 = user
        .clone()
        .select([col("user_name"), col("age"), col("date_joined"), col("join_year")])
        .unique_stable(None, UniqueKeepStrategy::First)
        .filter(col("join_year").is_between(lit(JOIN_YEARS.0), lit(JOIN_YEARS.1), ClosedInterval::Both))
        .group_by([col("join_year").alias("post_year")])
        .agg([len().cast(DataType::Int64).alias("number_users_joined")]);
    let joined_in_years =
        |frame: LazyFrame| in_years(frame, "join_year", JOIN_YEARS).with_column(col("join_year").alias("post_year"));

    let plans: [(&str, LazyFrame); 11] = [
        ("q1", most_popular(count_per(pin_geo.clone(), &["country", "category"]), "country")?),
        ("q2a", q2a.clone()),
        ("q2b", most_popular(q2a, "post_year")?),
        ("q3a", q3a),
        ("q3b", q3b),
        ("q4", most_popular(count_per(with_age_group(pin_user.clone()), &["age_group", "category"]), "age_group")?),
        ("q5", median_per(with_age_group(pin_user.clone()), &["age_group"])),
        ("q6", q6),
        ("q7", median_per(joined_in_years(pin_user.clone()), &["post_year"])),
        ("q8", median_per(joined_in_years(with_age_group(pin_user)), &["age_group", "post_year"])),
        (
            "q9",
            median_per(in_years(with_age_group(pin_geo_user), "post_year", POST_YEARS), &["age_group", "post_year"]),
        ),
    ];
    // One plan for all queries, so the joins they share are computed once.
    let frames = LazyFrame::collect_all_with_engine(
        plans.into_iter().map(|(_, plan)| plan.logical_plan).collect(),
        Engine::Auto,
        OptFlags::default(),
    )?;
    QUERIES.iter().zip(frames).map(|(query, frame)| Ok((*query, canonical_order(&frame)?))).collect()
}

fn in_years(frame: LazyFrame, year: &str, (first, last): (i32, i32)) -> LazyFrame {
    frame.filter(col(year).is_between(lit(first), lit(last), ClosedInterval::Both))
}

/// Rows per group, as `category_count` (int64).
fn count_per(frame: LazyFrame, keys: &[&str]) -> LazyFrame {
    frame
        .group_by(keys.iter().map(|key| col(*key)).collect::<Vec<_>>())
        .agg([len().cast(DataType::Int64).alias("category_count")])
}

/// Every (group, category) row whose count is the group's maximum: ties are kept.
fn most_popular(counts: LazyFrame, group: &str) -> PolarsResult<LazyFrame> {
    let group_max = col("category_count").max().over([col(group)])?;
    Ok(counts.filter(col("category_count").eq(group_max)))
}

/// The exact lower median of the non-NULL follower counts per group, as `median_follower_count`.
fn median_per(frame: LazyFrame, keys: &[&str]) -> LazyFrame {
    frame.group_by(keys.iter().map(|key| col(*key)).collect::<Vec<_>>()).agg([col("follower_count")
        .quantile(lit(0.5), QuantileMethod::Lower)
        .cast(DataType::Int32)
        .alias("median_follower_count")])
}
