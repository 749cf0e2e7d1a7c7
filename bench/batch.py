"""The batch benchmark: `pinpipe transform` against PySpark, Python Polars and DuckDB on
the same emulated files, each peer's 14 CSVs checked byte for byte against ours.

Run it through bench/run.sh, which makes the venv (bench/.venv) with the pinned peers first:

    bench/run.sh                      # N = 30,000, 300,000, 1,000,000; 3 runs each (PySpark 2 at 1M)
    bench/run.sh --smoke              # N = 2,000, one run, ours + Polars + DuckDB: does the harness work?
    bench/run.sh --sizes 30000 --runs 5 --engines ours,duckdb --workload distinct

Two workloads, both by default: seed-like draws N posts from the emulator's default 11,150 source rows
(mostly exact duplicates, as the original emulator made them); distinct draws them from 10 × N source
rows (`--source-rows`), so over 90 % of the records are distinct.

Data goes to bench/data/<N>/ and bench/data/<N>-distinct/ (made once with `pinpipe emulate --dump`),
outputs to bench/out/ (the same names),
results to bench/results/ (batch.json with every run, summary.csv, summary.md, batch.png), and the
table between the markers in BENCHMARKS.md is replaced (not in --smoke). Exit status 1 when a peer's
CSVs differ from ours or a run fails.
"""

import argparse
import csv
import datetime
import filecmp
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
PEERS = os.path.join(BENCH, "peers")
sys.path.insert(0, PEERS)
from canonical import CSV_NAMES  # noqa: E402

ENGINES = ["ours", "polars", "duckdb", "pyspark"]
LABELS = {"ours": "pinpipe (Rust)", "polars": "Python Polars", "duckdb": "DuckDB", "pyspark": "PySpark local[2]"}
# Workload: (suffix of its data and output folders, source rows for N records per table or None for the
# emulator's default).
WORKLOADS = {"seed-like": ("", lambda n: None), "distinct": ("-distinct", lambda n: 10 * n)}
# The workload of the hand-made fixture and the real sample (--smoke).
FIXED = "fixed"
MARK_START = "<!-- bench:results:start -->"
MARK_END = "<!-- bench:results:end -->"


def binary():
    path = os.environ.get("PINPIPE_BIN", "target/release/pinpipe")
    return path if os.path.isabs(path) else os.path.join(REPO, path)


def command(engine, data, out):
    if engine == "ours":
        return [binary(), "transform", "--input", data, "--out", out]
    return [sys.executable, os.path.join(PEERS, f"{engine}_pipeline.py"), "--input", data, "--out", out]


def tree_rss_kb(root):
    """Resident memory of `root` and all its descendants, in KiB (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, IndexError, ValueError):
            pass
    return total


def measure(cmd, log_path, env=None):
    """Runs `cmd`; returns wall seconds, peak RSS (KiB) and exit status.

    Peak RSS is the larger of the kernel's max RSS of the process (wait4, exact for one process) and
    the sum over the process tree sampled every 50 ms (PySpark's JVM is a child of its Python driver).
    """
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        peak_tree = 0
        done = threading.Event()

        def sample():
            nonlocal peak_tree
            while not done.wait(0.05):
                peak_tree = max(peak_tree, tree_rss_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, max(usage.ru_maxrss, peak_tree), proc.returncode


def dataset(n, workload):
    """The name of the data and output folders of N records per table of a workload: `30000`, `30000-distinct`."""
    return f"{n}{WORKLOADS[workload][0]}" if workload in WORKLOADS else str(n)


def generate(n, seed, workload):
    """bench/data/<dataset>/ with pin.jsonl, geo.jsonl, user.jsonl from `pinpipe emulate --dump`."""
    data = os.path.join(BENCH, "data", dataset(n, workload))
    source_rows = WORKLOADS[workload][1](n)
    options = [] if source_rows is None else ["--source-rows", str(source_rows)]
    stamp, made = os.path.join(data, "SEED"), " ".join([str(seed)] + options)
    if os.path.exists(stamp) and open(stamp).read().strip() == made:
        return data
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    print(f"generating {n:,} records per table ({workload}, seed {seed}) into {os.path.relpath(data, REPO)}",
          flush=True)
    subprocess.run([binary(), "emulate", "--dump", data, "--rows", str(n), "--seed", str(seed)] + options,
                   check=True, stdout=subprocess.DEVNULL)
    with open(stamp, "w") as out:
        out.write(f"{made}\n")
    return data


def input_bytes(data):
    return sum(os.path.getsize(os.path.join(data, f"{t}.jsonl")) for t in ("pin", "geo", "user"))


def warm(data):
    """Reads the inputs once so every engine starts with them in the page cache."""
    for table in ("pin", "geo", "user"):
        with open(os.path.join(data, f"{table}.jsonl"), "rb") as f:
            while f.read(1 << 24):
                pass


def first_difference(ours, theirs):
    """Where two CSV files first differ, for the report."""
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        for number, (x, y) in enumerate(zip(a, b), 1):
            if x != y:
                return f"line {number}: ours {x[:200]!r} vs peer {y[:200]!r}"
        rest_a, rest_b = a.read(), b.read()
    return f"one file is longer (ours has {len(rest_a)} more bytes, peer {len(rest_b)})"


def compare(ours_dir, peer_dir):
    """The CSV names that differ (or are missing), each with its first difference."""
    problems = {}
    for name in CSV_NAMES.values():
        ours, theirs = os.path.join(ours_dir, name), os.path.join(peer_dir, name)
        if not os.path.exists(theirs):
            problems[name] = "missing"
        elif not filecmp.cmp(ours, theirs, shallow=False):
            problems[name] = first_difference(ours, theirs)
    return problems


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kb = int(info.readline().split()[1])
    versions = {}
    for module in ("polars", "duckdb", "pyspark"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": java[0] if java else None,
        "versions": versions,
    }


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def workload_of(run):
    """A run's workload; runs recorded before there were workloads were seed-like (or fixed files)."""
    return run.get("workload", "seed-like" if isinstance(run["n"], int) else FIXED)


def summarise(runs, datasets, engines):
    """One row per (workload, N) of `datasets` and engine."""
    rows = []
    for workload, n in datasets:
        here = [r for r in runs if workload_of(r) == workload and r["n"] == n]
        base = [r for r in here if r["engine"] == "ours" and r["status"] == 0]
        base_wall = statistics.median(r["wall_s"] for r in base) if base else None
        base_rss = statistics.median(r["rss_kb"] for r in base) if base else None
        for engine in engines:
            mine = [r for r in here if r["engine"] == engine]
            ok = [r for r in mine if r["status"] == 0]
            if not mine:
                continue
            wall = statistics.median(r["wall_s"] for r in ok) if ok else None
            rss = statistics.median(r["rss_kb"] for r in ok) if ok else None
            rows.append({
                "workload": workload,
                "records_per_table": n,
                "input_mb": round(mine[0]["input_bytes"] / 1e6, 1),
                "engine": engine,
                "runs": len(ok),
                "wall_median_s": round(wall, 3) if wall else None,
                "wall_min_s": round(min(r["wall_s"] for r in ok), 3) if ok else None,
                "wall_max_s": round(max(r["wall_s"] for r in ok), 3) if ok else None,
                "peak_rss_mb": round(rss / 1024, 1) if rss else None,
                "rss_per_input": round(rss * 1024 / mine[0]["input_bytes"], 2) if rss else None,
                "wall_vs_ours": round(wall / base_wall, 2) if wall and base_wall else None,
                "rss_vs_ours": round(rss / base_rss, 2) if rss and base_rss else None,
                "same_csvs": all(r.get("same_csvs", True) for r in mine),
                "load_avg": round(statistics.median(r["load_before"] for r in mine), 1),
            })
    return rows


def label(n):
    return f"{n:,}" if isinstance(n, int) else n


def markdown(rows):
    lines = [
        "| workload | records/table | input | engine | runs | wall median (min–max) | peak RSS | RSS / input | "
        "wall × ours | RSS × ours | 14 CSVs = ours |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        wall = (f"{row['wall_median_s']:.2f} s ({row['wall_min_s']:.2f}–{row['wall_max_s']:.2f})"
                if row["wall_median_s"] else "failed")
        lines.append(
            f"| {row['workload']} | {label(row['records_per_table'])} | {row['input_mb']:,.1f} MB | "
            f"{LABELS[row['engine']]} | {row['runs']} | "
            f"{wall} | {row['peak_rss_mb'] or 0:,.0f} MiB | {row['rss_per_input'] or 0:.2f} | "
            f"{row['wall_vs_ours'] or 0:.1f} | {row['rss_vs_ours'] or 0:.1f} | "
            f"{'yes' if row['same_csvs'] else '**NO**'} |")
    return "\n".join(lines) + "\n"


def chart(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One group of bars per workload and size.
    groups = sorted({(row["workload"], row["records_per_table"]) for row in rows
                     if isinstance(row["records_per_table"], int)},
                    key=lambda group: (group[1], list(WORKLOADS).index(group[0])))
    engines = [e for e in ENGINES if any(row["engine"] == e for row in rows)]
    colours = {"ours": "#d9480f", "polars": "#1971c2", "duckdb": "#f2b705", "pyspark": "#7048e8"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    width = 0.8 / len(engines)
    for axis, key, title, unit in ((axes[0], "wall_median_s", "Wall time (median)", "s"),
                                   (axes[1], "peak_rss_mb", "Peak memory (RSS, median)", "MiB")):
        for i, engine in enumerate(engines):
            values = []
            for group in groups:
                match = [row[key] for row in rows
                         if row["engine"] == engine and (row["workload"], row["records_per_table"]) == group]
                values.append(match[0] if match and match[0] else 0)
            xs = [x + (i - (len(engines) - 1) / 2) * width for x in range(len(groups))]
            bars = axis.bar(xs, values, width, label=LABELS[engine], color=colours[engine])
            for bar, value in zip(bars, values):
                if value:
                    text = f"{value:.1f}" if value < 100 else f"{value:,.0f}"
                    axis.annotate(text, (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom",
                                  fontsize=7, xytext=(0, 1), textcoords="offset points")
        axis.set_yscale("log")
        inputs = {(row["workload"], row["records_per_table"]): row["input_mb"] for row in rows}
        axis.set_xticks(range(len(groups)),
                        [f"{n:,} {workload}\n({inputs[workload, n]:,.0f} MB)" for workload, n in groups],
                        fontsize=7 if len(groups) > 3 else None)
        axis.set_xlabel("records per table, workload")
        axis.set_ylabel(f"{unit} (log scale)")
        axis.set_title(title)
        axis.grid(axis="y", which="both", alpha=0.25)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(engines), fontsize=9, frameon=False)
    fig.suptitle("pinpipe transform vs peers: the same 14 CSVs from the same files (2 cores)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_benchmarks_md(table, info):
    path = os.path.join(REPO, "BENCHMARKS.md")
    if not os.path.exists(path):
        return
    text = open(path, encoding="utf-8").read()
    if MARK_START not in text or MARK_END not in text:
        return
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"{MARK_START}\n_Measured {when}; load average before the runs {info}._\n\n{table}{MARK_END}")
    text = re.sub(re.escape(MARK_START) + ".*?" + re.escape(MARK_END), lambda _: block, text, flags=re.S)
    open(path, "w", encoding="utf-8").write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30000,300000,1000000", help="records per table, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per engine and size")
    parser.add_argument("--spark-runs", type=int, default=None, help="PySpark runs below 1,000,000 (default: --runs)")
    parser.add_argument("--spark-runs-large", type=int, default=2, help="PySpark runs at N >= 1,000,000")
    parser.add_argument("--engines", default=",".join(ENGINES), help="any of " + ",".join(ENGINES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workload", default=",".join(WORKLOADS),
                        help="any of " + ",".join(WORKLOADS) + ": seed-like draws from the emulator's default "
                             "11,150 source rows (mostly duplicates), distinct from 10 x N (over 90%% distinct)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the runs in bench/results/batch.json of the engines, sizes and workloads not "
                             "measured now")
    parser.add_argument("--smoke", action="store_true",
                        help="N=2,000, one run, ours+polars+duckdb, byte compare only; results to bench/out/smoke")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.runs, args.engines = "2000", 1, "ours,polars,duckdb"
    sizes = [int(n) for n in args.sizes.split(",")]
    workloads = [w for w in WORKLOADS if w in args.workload.split(",")]
    unknown = set(args.workload.split(",")) - set(WORKLOADS)
    if unknown or not workloads:
        sys.exit(f"--workload takes any of {','.join(WORKLOADS)}, not {args.workload}")
    engines = [e for e in ENGINES if e in args.engines.split(",")]
    # The byte comparison needs our output: without "ours" among the engines, it is made (not timed)
    # unless bench/out/<N>[-distinct]/ours already holds it.
    reference_only = "ours" not in engines
    if reference_only:
        engines.insert(0, "ours")
    if not os.access(binary(), os.X_OK):
        sys.exit(f"no pinpipe binary at {binary()} (set PINPIPE_BIN, or cargo build --release)")

    results_dir = os.path.join(BENCH, "out", "smoke") if args.smoke else os.path.join(BENCH, "results")
    os.makedirs(results_dir, exist_ok=True)
    info = machine()
    info["binary"] = os.path.relpath(binary(), REPO)
    print(json.dumps(info), flush=True)
    runs, failures = [], []
    datasets = [(w, n, generate(n, args.seed, w)) for w in workloads for n in sizes]
    if args.smoke:
        # The hand-made corner cases of docs/SPEC.md §4/§5, and the real sample (data/real-sample).
        datasets.append((FIXED, "edge", os.path.join(BENCH, "fixtures", "edge")))
        datasets.append((FIXED, "real-sample", os.path.join(REPO, "data", "real-sample")))
    for workload, n, data in datasets:
        size = input_bytes(data)
        warm(data)
        count = args.runs
        folder = dataset(n, workload)
        ours_dir = os.path.join(BENCH, "out", folder, "ours")
        have_reference = all(os.path.exists(os.path.join(ours_dir, name)) for name in CSV_NAMES.values())
        for run in range(count):
            for engine in engines:
                if engine == "ours" and reference_only and (have_reference or run > 0):
                    continue
                if engine == "pyspark":
                    large = isinstance(n, int) and n >= 1_000_000
                    limit = args.spark_runs_large if large else (args.spark_runs or args.runs)
                    if run >= limit:
                        continue
                out = os.path.join(BENCH, "out", folder, engine)
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
                # The previous run's output is still being written back to disk: flush it first, so that
                # no engine's time includes another's writeback.
                os.sync()
                load = load_average()
                wall, rss, status = measure(command(engine, data, out), os.path.join(out, "..", f"{engine}.log"))
                record = {"workload": workload, "n": n, "engine": engine, "run": run + 1, "wall_s": round(wall, 4),
                          "rss_kb": rss, "status": status, "input_bytes": size, "load_before": load}
                if status != 0:
                    failures.append(f"{engine} at {workload} N={n} exited {status} "
                                    f"(see bench/out/{folder}/{engine}.log)")
                elif engine != "ours":
                    problems = compare(ours_dir, out)
                    record["same_csvs"] = not problems
                    for csv_name, problem in problems.items():
                        failures.append(f"{engine} at {workload} N={n}: {csv_name} differs from ours: {problem}")
                if not (engine == "ours" and reference_only):
                    runs.append(record)
                print(f"{workload:<9} N={n:>9} {engine:<8} run {run + 1}: {wall:7.2f} s  {rss / 1024:8.0f} MB  "
                      f"exit {status}  load {load:.1f}" + ("" if record.get("same_csvs", True) else "  CSVs DIFFER"),
                      flush=True)
    if args.merge and os.path.exists(os.path.join(results_dir, "batch.json")):
        measured = {(workload_of(r), r["n"], r["engine"]) for r in runs}
        with open(os.path.join(results_dir, "batch.json")) as previous:
            kept = [r for r in json.load(previous)["runs"] if (workload_of(r), r["n"], r["engine"]) not in measured]
        runs = kept + runs
    order = list(WORKLOADS) + [FIXED]
    all_datasets = sorted({(workload_of(r), r["n"]) for r in runs},
                          key=lambda d: (order.index(d[0]), d[1] if isinstance(d[1], int) else 0, str(d[1])))
    all_engines = [e for e in ENGINES if any(r["engine"] == e for r in runs)]
    rows = summarise(runs, all_datasets, all_engines)
    table = markdown(rows)
    print("\n" + table)
    with open(os.path.join(results_dir, "batch.json"), "w") as out:
        json.dump({"machine": info, "runs": runs, "summary": rows}, out, indent=1)
    with open(os.path.join(results_dir, "summary.csv"), "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(results_dir, "summary.md"), "w") as out:
        out.write(table)
    if any(isinstance(row["records_per_table"], int) for row in rows):
        chart(rows, os.path.join(results_dir, "batch.png"))
    if not args.smoke:
        loads = sorted({row["load_avg"] for row in rows})
        update_benchmarks_md(table, f"{loads[0]}–{loads[-1]}")
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"all peers' CSVs are byte-identical to ours; results in {os.path.relpath(results_dir, REPO)}")


if __name__ == "__main__":
    main()
