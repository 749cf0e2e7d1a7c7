//! Independent readers: Python's `deltalake` (delta-rs for Python) and Polars' `read_delta` read the
//! stream tables an embedded `pinpipe run` wrote, and find exactly the rows its accounts count, each
//! record once, and the shards' positions in the logs (`txn`).
//!
//! The readers come from `PINPIPE_PYTHON`, a Python with `deltalake` and `polars` (`scripts/test.sh`
//! makes one); without it the test says it was skipped.

use std::process::Command;

use pinpipe_contract::{Names, Table};
use pinpipe_local::{run, Paths, RunOptions, StackOptions};

const READ: &str = r#"
import json, sys
import deltalake, polars as pl
lake, prefix = sys.argv[1], sys.argv[2]
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
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reads_the_stream_tables_a_run_wrote() {
    let Some(python) = std::env::var_os("PINPIPE_PYTHON") else {
        eprintln!("skipped: PINPIPE_PYTHON names no Python with deltalake and polars (scripts/test.sh makes one)");
        return;
    };
    let lake = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(StackOptions::embedded("readers", lake.path()), 200);
    options.paths = Paths::Stream;
    let report = run(options).await.unwrap();
    assert_eq!((report.accounts.streamed, report.accounts.lost, report.accounts.doubled), (600, 0, 0));

    let output = Command::new(python).args(["-c", READ]).arg(lake.path()).arg("readers").output().unwrap();
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
}
