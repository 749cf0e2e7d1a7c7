"""Sums a CPU profile of `pinpipe transform` by phase: the table "The profile when issue 17 was
filed, and now" in BENCHMARKS.md.

    perf record -e cpu-clock -F 249 --call-graph dwarf,65528 -o perf.data -- pinpipe transform ...
    perf script --no-inline -i perf.data | python3 bench/profile_phases.py --frequency 249

Each sample is counted once, in the first phase with a function on its stack (in the order of
PHASES); CPU seconds are samples divided by the sampling frequency.
"""

import argparse
import collections
import sys

# (phase, substrings of function names): the first phase matching any frame of a sample takes it.
PHASES = [
    ("kernel: page faults", ["exc_page_fault"]),
    ("kernel: reading and writing files", ["ksys_write", "__x64_sys_write", "ksys_read", "__x64_sys_read"]),
    ("JSON decoding (serde_json, the columns, the record hash)", ["parse_record", "push_line", "serde_json::"]),
    ("CSV text", ["pinpipe_core::export", "csv_lines", "write_text", "Cells"]),
    ("sorting and gathering rows", ["arg_sort", "sort_by", "take_unchecked", "gather", "::sort", "polars_row"]),
    (
        "cleaning and queries (Polars' expressions, joins, group-bys)",
        ["pinpipe_core::clean", "pinpipe_core::queries", "polars_sql", "if_then_else", "comparisons",
         "temporal", "hot_groups", "hash_keys", "polars_expr", "polars_ops", "polars_mem_engine"],
    ),
    ("the line index and duplicates", ["DistinctLines", "DistinctBlocks", "LineIndex", "distinct::"]),
]
OTHER = "other"


def samples(lines):
    """The function names of each sample's stack in `perf script` output (a header line, then one
    indented line per frame, then a blank line)."""
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line[0] in " \t":
            parts = line.strip().split(" ", 1)
            frames.append(parts[1].split("+0x")[0] if len(parts) > 1 else "?")
    if frames:
        yield frames


def phase_of(frames):
    for phase, needles in PHASES:
        if any(needle in frame for frame in frames for needle in needles):
            return phase
    return OTHER


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frequency", type=float, required=True, help="perf record's -F")
    args = parser.parse_args()
    counts = collections.Counter(phase_of(frames) for frames in samples(sys.stdin))
    total = sum(counts.values())
    if total == 0:
        sys.exit("no samples with call stacks on standard input")
    for phase in [name for name, _ in PHASES] + [OTHER]:
        print(f"{counts[phase] / args.frequency:7.2f} s  {100 * counts[phase] / total:5.1f} %  {phase}")
    print(f"{total / args.frequency:7.2f} s  100.0 %  CPU in all ({total} samples)")


if __name__ == "__main__":
    main()
