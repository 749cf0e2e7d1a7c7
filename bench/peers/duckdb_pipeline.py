"""docs/SPEC.md's batch transform in DuckDB SQL: read the three JSON-lines files, drop exact duplicates,
clean (docs/SPEC.md §4), run q1…q9 (docs/SPEC.md §5) and write the 14 canonical CSVs with COPY.

    python duckdb_pipeline.py --input DIR --out DIR
"""

import os
import sys

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from canonical import (  # noqa: E402
    AGE_GROUPS, CSV_NAMES, DATETIME_PATTERN, FOLLOWER_COUNT_PATTERN, INT32_MAX, INT32_MIN, JOIN_YEARS,
    PIN_TEXT_COLUMNS, PLACEHOLDERS, POST_YEARS, RAW_FIELDS, SAVE_LOCATION_PREFIX, Phases, parse_args,
)

KIND = {"key": "BIGINT", "text": "VARCHAR", "int": "BIGINT", "float": "DOUBLE"}


def q(text):
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def read_raw(con, path, table):
    """raw_<table>: the distinct raw records with an int32 key (`ind`)."""
    fields = RAW_FIELDS[table]
    columns = {name: KIND[kind] for name, kind in fields}
    if table == "pin":
        columns["ind"] = "BIGINT"  # a producer may send pin's key as `ind`
    spec = "{" + ", ".join(f"{q(name)}: {q(kind)}" for name, kind in columns.items()) + "}"
    key = 'coalesce("index", ind)' if table == "pin" else "ind"
    others = ", ".join(f'"{name}"' for name, _ in fields[1:])
    con.execute(f"""
        CREATE TEMP TABLE raw_{table} AS
        SELECT DISTINCT CAST({key} AS INTEGER) AS ind, {others}
        FROM read_json({q(path)}, format = 'newline_delimited', columns = {spec})
        WHERE {key} BETWEEN {INT32_MIN} AND {INT32_MAX}
    """)


def follower_count(text):
    pattern = q(FOLLOWER_COUNT_PATTERN)
    whole = f"TRY_CAST(regexp_extract({text}, {pattern}, 1) AS HUGEINT)"
    fraction = f"rpad(regexp_extract({text}, {pattern}, 2), 7, '0')"
    suffix = f"lower(regexp_extract({text}, {pattern}, 3))"

    def scaled(digits, multiplier):
        kept = "0" if digits == 0 else f"CAST(substr({fraction}, 1, {digits}) AS HUGEINT)"
        round_up = f"CAST(substr({fraction}, {digits + 1}, 1) >= '5' AS HUGEINT)"
        return f"({whole} * {multiplier} + {kept} + {round_up})"

    value = (f"CASE {suffix} WHEN 'k' THEN {scaled(3, 1000)} WHEN 'm' THEN {scaled(6, 1000000)} "
             f"ELSE {scaled(0, 1)} END")
    return (f"CASE WHEN regexp_full_match({text}, {pattern}) AND {whole} <= {INT32_MAX} AND {value} <= {INT32_MAX} "
            f"THEN CAST({value} AS INTEGER) END")


def parse_datetime(text):
    normalised = f"replace(regexp_replace({text}, '^([0-9]{{4}}):([0-9]{{2}}):([0-9]{{2}}) ', '\\1-\\2-\\3 '), 'T', ' ')"
    micros = f"CAST(rpad(substr({normalised}, 21, 6), 6, '0') AS BIGINT)"
    parsed = f"try_strptime(substr({normalised}, 1, 19), '%Y-%m-%d %H:%M:%S') + to_microseconds({micros})"
    return f"CASE WHEN regexp_full_match({text}, {q(DATETIME_PATTERN)}) THEN {parsed} END"


def pin_text(name):
    nothing = [q("")] + [q(p) for p in PLACEHOLDERS.get(name, [])]
    return f"CASE WHEN \"{name}\" IN ({', '.join(nothing)}) THEN NULL ELSE \"{name}\" END"


def clean(con):
    text = {name: pin_text(name) for name in PIN_TEXT_COLUMNS}
    text["follower_count"] = follower_count(f"({text['follower_count']})")
    text["save_location"] = f"regexp_replace({text['save_location']}, {q(SAVE_LOCATION_PREFIX)}, '')"
    con.execute(f"""
        CREATE TEMP TABLE pin AS SELECT ind,
            {text['unique_id']} AS unique_id, {text['title']} AS title, {text['description']} AS description,
            {text['follower_count']} AS follower_count, {text['poster_name']} AS poster_name,
            {text['tag_list']} AS tag_list, {text['is_image_or_video']} AS is_image_or_video,
            {text['image_src']} AS image_src, {text['save_location']} AS save_location,
            {text['category']} AS category
        FROM raw_pin;
        CREATE TEMP TABLE geo AS SELECT ind, country,
            CASE WHEN latitude IS NOT NULL AND longitude IS NOT NULL THEN [latitude, longitude] END AS coordinates,
            {parse_datetime('"timestamp"')} AS "timestamp"
        FROM raw_geo;
        CREATE TEMP TABLE "user" AS SELECT ind, first_name || ' ' || last_name AS user_name,
            TRY_CAST(age AS INTEGER) AS age, {parse_datetime('date_joined')} AS date_joined
        FROM raw_user;
    """)


def age_group(age):
    cases = " ".join(f"WHEN {age} BETWEEN {low} AND {high} THEN '{name}'" for name, low, high in AGE_GROUPS)
    return f"CASE {cases} END"


MEDIAN = "CAST(quantile_disc(follower_count, 0.5) AS INTEGER) AS median_follower_count"


def queries():
    """Each query's SELECT, over the views pin_geo, pin_user and pin_geo_user."""
    post_years = f"post_year BETWEEN {POST_YEARS[0]} AND {POST_YEARS[1]}"
    join_years = f"join_year BETWEEN {JOIN_YEARS[0]} AND {JOIN_YEARS[1]}"

    def most_popular(counts, group):
        return (f"SELECT * FROM ({counts}) QUALIFY category_count = max(category_count) OVER (PARTITION BY {group})")

    q2a = (f"SELECT post_year, category, count(*) AS category_count FROM pin_geo WHERE {post_years} "
           "GROUP BY ALL")
    q3a = ("SELECT DISTINCT country, poster_name, follower_count FROM pin_geo WHERE follower_count IS NOT NULL "
           "QUALIFY follower_count = max(follower_count) OVER (PARTITION BY country)")
    return {
        "q1": most_popular("SELECT country, category, count(*) AS category_count FROM pin_geo GROUP BY ALL", "country"),
        "q2a": q2a,
        "q2b": most_popular(q2a, "post_year"),
        "q3a": q3a,
        "q3b": f"SELECT country, follower_count FROM ({q3a}) ORDER BY follower_count DESC, country ASC LIMIT 1",
        "q4": most_popular("SELECT age_group, category, count(*) AS category_count FROM pin_user "
                           "WHERE age_group IS NOT NULL GROUP BY ALL", "age_group"),
        "q5": f"SELECT age_group, {MEDIAN} FROM pin_user WHERE age_group IS NOT NULL GROUP BY ALL",
        "q6": ("SELECT join_year AS post_year, count(*) AS number_users_joined FROM "
               "(SELECT DISTINCT user_name, age, date_joined, year(date_joined) AS join_year FROM \"user\") "
               f"WHERE {join_years} GROUP BY ALL"),
        "q7": f"SELECT join_year AS post_year, {MEDIAN} FROM pin_user WHERE {join_years} GROUP BY ALL",
        "q8": (f"SELECT age_group, join_year AS post_year, {MEDIAN} FROM pin_user "
               f"WHERE age_group IS NOT NULL AND {join_years} GROUP BY ALL"),
        "q9": (f"SELECT age_group, post_year, {MEDIAN} FROM pin_geo_user "
               f"WHERE age_group IS NOT NULL AND {post_years} GROUP BY ALL"),
    }


def plain_float(x):
    """Shortest round-trip decimal, no exponent, at least one fractional digit (docs/SPEC.md §5)."""
    text = f"CAST({x} AS VARCHAR)"
    pattern = "'^(-?)([0-9]+)\\.?([0-9]*)[eE]\\+?(-?[0-9]+)$'"
    sign, whole, frac = (f"regexp_extract({text}, {pattern}, {i})" for i in (1, 2, 3))
    exponent = f"CAST(regexp_extract({text}, {pattern}, 4) AS INTEGER)"
    digits = f"({whole} || {frac})"
    point = f"(length({whole}) + {exponent})"
    n = f"length({digits})"
    from_exponent = (f"{sign} || CASE WHEN {point} <= 0 THEN '0.' || repeat('0', -{point}) || {digits} "
                     f"WHEN {point} >= {n} THEN {digits} || repeat('0', {point} - {n}) || '.0' "
                     f"ELSE substr({digits}, 1, {point}) || '.' || substr({digits}, {point} + 1) END")
    plain = f"CASE WHEN regexp_matches({text}, '[.n]') THEN {text} ELSE {text} || '.0' END"
    return f"CASE WHEN regexp_matches({text}, '[eE]') THEN {from_exponent} ELSE {plain} END"


def csv_field(text):
    """One CSV field from a VARCHAR: NULL and "" as nothing, quoted only when it holds , " CR or LF."""
    return (f"CASE WHEN {text} IS NULL THEN '' WHEN regexp_matches({text}, '[,\"\\n\\r]') "
            f"THEN '\"' || replace({text}, '\"', '\"\"') || '\"' ELSE {text} END")


def export(con, relation, path):
    """COPY the relation in canonical order (every column ascending, NULL first, age_group naturally).

    DuckDB's CSV writer also quotes any value holding `#`, which RFC 4180 does not need, so each line
    is built in SQL (fields quoted only when needed) and COPY writes the lines as they are."""
    columns = con.execute(f"DESCRIBE {relation}").fetchall()
    keys, cells = [], []
    for name, dtype, *_ in columns:
        ident = f'"{name}"'
        if dtype.endswith("[]"):
            keys += [f"{ident}[1]", f"{ident}[2]"]
            cells.append(f"'[' || {plain_float(ident + '[1]')} || ', ' || {plain_float(ident + '[2]')} || ']'")
        elif name == "age_group":
            ranks = " ".join(f"WHEN '{g}' THEN {i}" for i, (g, _, _) in enumerate(AGE_GROUPS))
            keys.append(f"CASE {ident} {ranks} END")
            cells.append(ident)
        else:
            keys.append(ident)
            if dtype.startswith("TIMESTAMP"):
                cells.append(f"strftime({ident}, '%Y-%m-%d %H:%M:%S')")
            else:
                cells.append(f"CAST({ident} AS VARCHAR)")
    line = " || ',' || ".join(csv_field(cell) for cell in cells)
    header = ",".join(name for name, *_ in columns).replace('"', '""')
    order = ", ".join(f"{key} ASC NULLS FIRST" for key in keys)
    con.execute(f'COPY (SELECT {line} AS "{header}" FROM {relation} ORDER BY {order}) TO {q(path)} '
                "(FORMAT csv, HEADER true, DELIMITER '\x01', QUOTE '', ESCAPE '')")


def main():
    args = parse_args(__doc__)
    phases = Phases()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("pin", "geo", "user"):
        read_raw(con, os.path.join(args.input, f"{table}.jsonl"), table)
    clean(con)
    phases.mark("read_clean")
    con.execute(f"""
        CREATE TEMP VIEW geo_y AS SELECT *, year("timestamp") AS post_year FROM geo;
        CREATE TEMP VIEW user_y AS SELECT *, {age_group('age')} AS age_group, year(date_joined) AS join_year FROM "user";
        CREATE TEMP VIEW pin_geo AS SELECT * FROM pin JOIN geo_y USING (ind);
        CREATE TEMP VIEW pin_user AS SELECT * FROM pin JOIN user_y USING (ind);
        CREATE TEMP VIEW pin_geo_user AS SELECT * FROM pin JOIN geo_y USING (ind) JOIN user_y USING (ind);
    """)
    for name, sql in queries().items():
        con.execute(f"CREATE TEMP TABLE result_{name} AS {sql}")
    phases.mark("queries")
    relations = {"cleaned_pin": "pin", "cleaned_geo": "geo", "cleaned_user": '"user"'}
    relations.update({name: f"result_{name}" for name in queries()})
    for name, relation in relations.items():
        export(con, relation, os.path.join(args.out, CSV_NAMES[name]))
    phases.mark("write")
    phases.report()


if __name__ == "__main__":
    main()
