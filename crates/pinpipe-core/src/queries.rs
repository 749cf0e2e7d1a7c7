//! The daily analytics q1 … q9 of docs/SPEC.md §5.
//!
//! Their one definition is SQL: `sql/<id>.sql` at the root of the repository, one file per query,
//! included in the binary. The files are written in the SQL that Polars, DuckDB, Spark and Athena
//! (Trino) all run alike (`sql/README.md`) and read only the three cleaned tables, as `pin`, `geo` and
//! `user`. Here Polars SQL runs them in the process; every result then comes back in canonical order
//! (`crate::order`), which no query needs to state.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use pinpipe_contract::Table;
use polars::prelude::*;
use polars::sql::SQLContext;

use crate::clean::without_hash;
use crate::order::canonical_order;
use crate::transform::cleaned_schema;

/// One query of docs/SPEC.md §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// Its id, also the name of its SQL file (`sql/<id>.sql`) and of its result table (`q1`, `q2a`, …).
    pub id: &'static str,
    /// Its canonical CSV file name.
    pub csv_name: &'static str,
    /// Its SQL (the text of `sql/<id>.sql`): one `SELECT` over `pin`, `geo` and `user`.
    pub sql: &'static str,
}

/// A query with its SQL file.
macro_rules! query {
    ($id:literal, $csv_name:literal) => {
        Query { id: $id, csv_name: $csv_name, sql: include_str!(concat!("../../../sql/", $id, ".sql")) }
    };
}

/// Every query, in docs/SPEC.md order.
pub const QUERIES: [Query; 11] = [
    query!("q1", "q1_popular_category_by_country.csv"),
    query!("q2a", "q2a_posts_per_category_by_year.csv"),
    query!("q2b", "q2b_popular_category_by_year.csv"),
    query!("q3a", "q3a_top_user_by_country.csv"),
    query!("q3b", "q3b_top_country.csv"),
    query!("q4", "q4_popular_category_by_age_group.csv"),
    query!("q5", "q5_median_follower_by_age_group.csv"),
    query!("q6", "q6_users_joined_by_year.csv"),
    query!("q7", "q7_median_follower_by_join_year.csv"),
    query!("q8", "q8_median_follower_by_join_year_age_group.csv"),
    query!("q9", "q9_median_follower_by_post_year_age_group.csv"),
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

impl CleanedTables {
    /// Each table's rows.
    pub fn heights(&self) -> BTreeMap<Table, u64> {
        [(Table::Pin, &self.pin), (Table::Geo, &self.geo), (Table::User, &self.user)]
            .into_iter()
            .map(|(table, frame)| (table, frame.height() as u64))
            .collect()
    }
}

/// The columns of `table`'s cleaned rows (as [`crate::transform::cleaned_schema`] names them) that some
/// query reads: the rest may be dropped before the queries run. Found from the SQL itself, once per
/// process (the SQL is part of the binary): every query is planned over empty tables, each column left
/// out in turn, and a query that reads the column does not plan without it.
pub fn columns_read(table: Table) -> PolarsResult<Vec<PlSmallStr>> {
    static COLUMNS_READ: OnceLock<BTreeMap<Table, Vec<PlSmallStr>>> = OnceLock::new();
    let all = match COLUMNS_READ.get() {
        Some(all) => all,
        None => {
            let found = find_columns_read()?;
            COLUMNS_READ.get_or_init(|| found)
        }
    };
    Ok(all[&table].clone())
}

/// [`columns_read`] of every table.
fn find_columns_read() -> PolarsResult<BTreeMap<Table, Vec<PlSmallStr>>> {
    let mut tables = BTreeMap::new();
    for table in Table::ALL {
        tables.insert(table, without_hash(&DataFrame::empty_with_schema(&cleaned_schema(table)?))?);
    }
    let mut read = BTreeMap::new();
    for table in Table::ALL {
        let all = tables[&table].clone();
        let mut columns = Vec::new();
        for column in all.get_column_names() {
            tables.insert(table, all.drop(column)?);
            if !QUERIES.iter().all(|query| plan(&tables, query).is_ok()) {
                columns.push(column.clone());
            }
        }
        tables.insert(table, all);
        read.insert(table, columns);
    }
    Ok(read)
}

/// `query` planned over `tables` (its output schema resolved, which names every column it reads).
fn plan(tables: &BTreeMap<Table, DataFrame>, query: &Query) -> PolarsResult<SchemaRef> {
    let mut context = SQLContext::new();
    for (table, frame) in tables {
        context.register(table.name(), frame.clone().lazy());
    }
    context.execute(query.sql)?.collect_schema()
}

/// Runs every query over the tables in memory, returning each result (in canonical order) with its query.
pub fn run_queries(tables: &CleanedTables) -> PolarsResult<Vec<(Query, DataFrame)>> {
    run_queries_on(tables.pin.clone().lazy(), tables.geo.clone().lazy(), tables.user.clone().lazy())
}

/// Runs every query over the three cleaned tables as lazy frames (e.g. scans of Parquet files, which
/// then read only the columns the queries use), returning each result (in canonical order).
pub fn run_queries_on(pin: LazyFrame, geo: LazyFrame, user: LazyFrame) -> PolarsResult<Vec<(Query, DataFrame)>> {
    let mut context = SQLContext::new();
    context.register("pin", pin);
    context.register("geo", geo);
    context.register("user", user);
    let plans = QUERIES
        .iter()
        .map(|query| context.execute(query.sql).map(|plan| plan.logical_plan).map_err(|e| e.context(query.id.into())))
        .collect::<PolarsResult<Vec<_>>>()?;
    // Collected together: the queries run side by side, and Polars may compute a part several plans share
    // (q2b repeats q2a's counts, q3b q3a's rows, every query a scan of its tables) once.
    let frames = LazyFrame::collect_all_with_engine(plans, Engine::Auto, OptFlags::default())?;
    QUERIES.iter().zip(frames).map(|(query, frame)| Ok((*query, canonical_order(&frame)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::age_group::AGE_GROUPS;
    use crate::transform::transform;

    #[test]
    fn the_sql_folder_holds_one_file_per_query() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql");
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let mut expected: Vec<String> = QUERIES.iter().map(|query| format!("{}.sql", query.id)).collect();
        expected.sort();
        assert_eq!(files, expected);
    }

    #[test]
    fn every_query_reads_only_the_columns_it_uses() {
        let empty = transform(BTreeMap::new()).unwrap().all_cleaned;
        let mut context = SQLContext::new();
        context.register("pin", empty.pin.lazy());
        context.register("geo", empty.geo.lazy());
        context.register("user", empty.user.lazy());
        for query in QUERIES {
            let plan = context.execute(query.sql).unwrap().describe_optimized_plan().unwrap();
            // A scan that reads every column of its table shows `PROJECT */<n> COLUMNS`.
            assert!(plan.contains(" COLUMNS") && !plan.contains("PROJECT */"), "{}:\n{plan}", query.id);
        }
    }

    /// `text` with every run of whitespace made one space.
    fn words(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn every_query_file_groups_ages_by_the_age_groups() {
        let cases: Vec<String> = AGE_GROUPS
            .iter()
            .map(|(name, low, high)| match *high {
                i32::MAX => format!("WHEN u.age >= {low} THEN '{name}'"),
                high => format!("WHEN u.age BETWEEN {low} AND {high} THEN '{name}'"),
            })
            .collect();
        let case = format!("CASE {} END AS age_group", cases.join(" "));
        let grouping: Vec<&str> =
            QUERIES.iter().filter(|query| query.sql.contains("age_group")).map(|query| query.id).collect();
        assert_eq!(grouping, ["q4", "q5", "q8", "q9"]);
        for query in QUERIES.iter().filter(|query| query.sql.contains("age_group")) {
            assert!(words(query.sql).contains(&case), "{}.sql groups ages by `{case}`", query.id);
        }
    }
}
