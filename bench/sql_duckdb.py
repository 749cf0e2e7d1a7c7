"""Runs pinpipe's query files (sql/<id>.sql, docs/SPEC.md section 5) verbatim on DuckDB.

    python sql_duckdb.py --tables DIR --sql DIR --out DIR ID...

DIR given by --tables holds the cleaned tables as pin.parquet, geo.parquet and user.parquet; they are
registered as the views pin, geo and user, each file <--sql>/<id>.sql is executed as it is written, and its
result goes to <--out>/<id>.parquet (in the engine's order: the caller puts rows in canonical order).
The crate's test tests/sql_engines.rs runs this and compares with the results of Polars SQL.
"""

import argparse
import os

import duckdb


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", required=True)
    parser.add_argument("--sql", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("ids", nargs="+")
    args = parser.parse_args()

    con = duckdb.connect()
    # The cleaned datetimes are naive; no session time zone may shift a year.
    con.execute("SET TimeZone = 'UTC'")
    for table in ("pin", "geo", "user"):
        path = os.path.join(args.tables, f"{table}.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW \"{table}\" AS SELECT * FROM read_parquet('{path}')")
    for query_id in args.ids:
        with open(os.path.join(args.sql, f"{query_id}.sql"), encoding="utf-8") as file:
            text = file.read()
        try:
            con.sql(text).write_parquet(os.path.join(args.out, f"{query_id}.parquet"))
        except duckdb.Error as error:
            raise SystemExit(f"{query_id}.sql on DuckDB {duckdb.__version__}: {error}") from error
    print(duckdb.__version__)


if __name__ == "__main__":
    main()
