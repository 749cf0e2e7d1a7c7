//! Independent readers: Python's `deltalake` (delta-rs for Python) and Polars' `read_delta` read
//! every table an embedded `pinpipe run` wrote, and find exactly the rows its accounts and its batch
//! run count: the stream tables each record once with the shards' positions in the logs (`txn`), the
//! cleaned and result tables the run's rows under its `run_date` with the run's `txn`.
//!
//! The readers come from `PINPIPE_PYTHON`, a Python with `deltalake` and `polars` (`scripts/test.sh`
//! makes one); without it the test says it was skipped.

use std::process::Command;

use pinpipe_contract::table::RUN_DATE_COLUMN;
use pinpipe_contract::{layout, Names, Table};
use pinpipe_local::{run, Paths, RunOptions, StackOptions};

const READ: &str = r#"
import json, sys
import deltalake, polars as pl
lake, prefix, run_date, queries = sys.argv[1:5]
out = {}
for table in ["pin", "geo", "user"]:
    path = f"{lake}/stream/{table}"
    dt = deltalake.DeltaTable(path)
    rows = pl.read_delta(path)
    shards = sorted(rows["_shard_id"].unique().to_list())
    stream = f"streaming-{prefix}-{table}"
    out[table] = {
        "rows": rows.height,
        "distinct": rows.select(["_shard_id", "_sequence_number"]).unique().height,
        "partitions": sorted(rows["arrival_date"].cast(pl.String).unique().to_list()),
        "positions": {s: dt.transaction_version(f"{stream}/{s}#7") for s in shards},
    }
for path in [f"cleaned/{t}" for t in ["pin", "geo", "user"]] + [f"results/{q}" for q in queries.split(",")]:
    dt = deltalake.DeltaTable(f"{lake}/{path}")
    rows = pl.read_delta(f"{lake}/{path}")
    out[path] = {
        "rows": {str(d): n for d, n in rows.group_by("run_date").len().iter_rows()},
        "run_txn": dt.transaction_version(f"batch-transform/{run_date}#7"),
        "partition_columns": dt.metadata().partition_columns,
    }
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reads_every_table_a_run_wrote() {
    let Some(python) = std::env::var_os("PINPIPE_PYTHON") else {
        eprintln!("skipped: PINPIPE_PYTHON names no Python with deltalake and polars (scripts/test.sh makes one)");
        return;
    };
    let lake = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(StackOptions::embedded("readers", lake.path()), 200);
    options.paths = Paths::Both;
    let report = run(options).await.unwrap();
    assert_eq!((report.accounts.streamed, report.accounts.lost, report.accounts.doubled), (600, 0, 0));
    let batch = report.batch.as_ref().expect("the batch ran");
    let queries: Vec<&str> = batch.results.keys().map(String::as_str).collect();
    assert_eq!(queries.len(), 11, "{queries:?}");

    let output = Command::new(python)
        .args(["-c", READ])
        .arg(lake.path())
        .arg("readers")
        .arg(&batch.run_date)
        .arg(queries.join(","))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names = Names::new("readers");
    let mut rows = 0;
    for table in Table::ALL {
        let of_table = &read[table.name()];
        assert_eq!(of_table["rows"], of_table["distinct"], "{table}: each record once");
        rows += of_table["rows"].as_u64().unwrap();
        assert_eq!(of_table["partitions"].as_array().unwrap().len(), 1, "{table}: arrived today: {of_table}");
        let positions = of_table["positions"].as_object().unwrap();
        assert!(!positions.is_empty(), "{table}");
        assert!(
            positions.values().all(|version| version.as_i64().is_some()),
            "{table}: {positions:?} of {}",
            names.stream(table)
        );
    }
    assert_eq!(rows, report.accounts.streamed);

    let expected = Table::ALL
        .iter()
        .map(|table| (layout::cleaned_table(*table), batch.tables[table].records_cleaned))
        .chain(queries.iter().map(|id| (layout::result_table(id), batch.results[*id])));
    for (path, rows) in expected {
        let of_table = &read[&path];
        assert_eq!(of_table["rows"], serde_json::json!({ batch.run_date.clone(): rows }), "{path}: the run's rows");
        assert_eq!(of_table["run_txn"], 1, "{path}: the run's commit in the log");
        assert_eq!(of_table["partition_columns"], serde_json::json!([RUN_DATE_COLUMN]), "{path}");
    }
}
