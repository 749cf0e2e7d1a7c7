"""docs/SPEC.md's batch transform in PySpark (local mode, the engine of the original pipeline): read the
three JSON-lines files, drop exact duplicates, clean (docs/SPEC.md §4), run q1…q9 (docs/SPEC.md §5) and write the
14 canonical CSVs with Spark's CSV writer.

    python pyspark_pipeline.py --input DIR --out DIR

Environment: SPARK_MASTER (default local[2]), SPARK_DRIVER_MEMORY (default 8g).
"""

import glob
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from canonical import (  # noqa: E402
    AGE_GROUPS, CSV_NAMES, DATETIME_PATTERN, FOLLOWER_COUNT_PATTERN, INT32_MAX, INT32_MIN, JOIN_YEARS,
    PIN_TEXT_COLUMNS, PLACEHOLDERS, POST_YEARS, RAW_FIELDS, SAVE_LOCATION_PREFIX, Phases, parse_args,
)

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

KIND = {"key": T.LongType(), "text": T.StringType(), "int": T.LongType(), "float": T.DoubleType()}


def java_regex(pattern):
    """Java's `$` also matches before a final line break; SPEC's patterns mean the end of the text."""
    return pattern[:-1] + r"\z" if pattern.endswith("$") else pattern


def q(text):
    """A Spark SQL string literal (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def spark_session():
    return (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[2]"))
        .appName("pinpipe-bench")
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "8g"))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )


def read_raw(spark, path, table):
    """raw_<table>: the distinct raw records with an int32 key (`ind`)."""
    fields = RAW_FIELDS[table]
    schema = T.StructType([T.StructField(name, KIND[kind]) for name, kind in fields])
    if table == "pin":
        schema = schema.add(T.StructField("ind", T.LongType()))  # a producer may send pin's key as `ind`
    spark.read.schema(schema).json(path).createOrReplaceTempView(f"json_{table}")
    key = "coalesce(`index`, ind)" if table == "pin" else "ind"
    # Spark's DISTINCT makes -0.0 and 0.0 one value (and writes 0.0): floats go through it as their
    # exact decimal text, so records differing only there stay apart and keep their sign.
    others = ", ".join(f"CAST(`{name}` AS STRING) AS `{name}`" if kind == "float" else f"`{name}`"
                       for name, kind in fields[1:])
    restored = ", ".join(f"CAST(`{name}` AS DOUBLE) AS `{name}`" if kind == "float" else f"`{name}`"
                         for name, kind in fields[1:])
    spark.sql(f"""
        SELECT ind, {restored} FROM (
            SELECT DISTINCT CAST({key} AS INT) AS ind, {others} FROM json_{table}
            WHERE {key} BETWEEN {INT32_MIN} AND {INT32_MAX})
    """).createOrReplaceTempView(f"raw_{table}")


def follower_count(text):
    pattern = q(java_regex(FOLLOWER_COUNT_PATTERN))
    whole = f"CAST(regexp_extract({text}, {pattern}, 1) AS DECIMAL(38, 0))"
    fraction = f"rpad(regexp_extract({text}, {pattern}, 2), 7, '0')"
    suffix = f"lower(regexp_extract({text}, {pattern}, 3))"

    def scaled(digits, multiplier):
        kept = "0" if digits == 0 else f"CAST(substr({fraction}, 1, {digits}) AS BIGINT)"
        round_up = f"CAST(substr({fraction}, {digits + 1}, 1) >= '5' AS INT)"
        return f"(CAST({whole} AS BIGINT) * {multiplier} + {kept} + {round_up})"

    value = (f"CASE {suffix} WHEN 'k' THEN {scaled(3, 1000)} WHEN 'm' THEN {scaled(6, 1000000)} "
             f"ELSE {scaled(0, 1)} END")
    return (f"CASE WHEN {text} RLIKE {pattern} AND {whole} <= {INT32_MAX} THEN "
            f"CASE WHEN {value} <= {INT32_MAX} THEN CAST({value} AS INT) END END")


def parse_datetime(text):
    normalised = f"replace(regexp_replace({text}, '^([0-9]{{4}}):([0-9]{{2}}):([0-9]{{2}}) ', '$1-$2-$3 '), 'T', ' ')"
    micros = f"CAST(rpad(substr({normalised}, 21, 6), 6, '0') AS BIGINT)"
    seconds = f"to_timestamp(substr({normalised}, 1, 19), 'yyyy-MM-dd HH:mm:ss')"
    return (f"CASE WHEN {text} RLIKE {q(java_regex(DATETIME_PATTERN))} "
            f"THEN timestamp_micros(unix_micros({seconds}) + {micros}) END")


def pin_text(name):
    nothing = [q("")] + [q(p) for p in PLACEHOLDERS.get(name, [])]
    return f"CASE WHEN `{name}` IN ({', '.join(nothing)}) THEN NULL ELSE `{name}` END"


def clean(spark):
    text = {name: pin_text(name) for name in PIN_TEXT_COLUMNS}
    text["follower_count"] = follower_count(f"({text['follower_count']})")
    text["save_location"] = f"regexp_replace({text['save_location']}, {q(SAVE_LOCATION_PREFIX)}, '')"
    pin = ", ".join(f"{text[name]} AS {name}" for name in [
        "unique_id", "title", "description", "follower_count", "poster_name", "tag_list", "is_image_or_video",
        "image_src", "save_location", "category"])
    spark.sql(f"SELECT ind, {pin} FROM raw_pin").cache().createOrReplaceTempView("pin")
    spark.sql(f"""
        SELECT ind, country,
            CASE WHEN latitude IS NOT NULL AND longitude IS NOT NULL THEN array(latitude, longitude) END AS coordinates,
            {parse_datetime('`timestamp`')} AS `timestamp`
        FROM raw_geo
    """).cache().createOrReplaceTempView("geo")
    spark.sql(f"""
        SELECT ind, concat(first_name, ' ', last_name) AS user_name,
            CASE WHEN age BETWEEN {INT32_MIN} AND {INT32_MAX} THEN CAST(age AS INT) END AS age,
            {parse_datetime('date_joined')} AS date_joined
        FROM raw_user
    """).cache().createOrReplaceTempView("user")


def age_group(age):
    cases = " ".join(f"WHEN {age} BETWEEN {low} AND {high} THEN '{name}'" for name, low, high in AGE_GROUPS)
    return f"CASE {cases} END"


def median(column):
    """The exact lower median of the non-NULL values: sorted, the element at ⌈n/2⌉."""
    values = f"array_sort(collect_list({column}))"
    return (f"CASE WHEN size({values}) > 0 THEN CAST(element_at({values}, CAST(ceil(size({values}) / 2) AS INT)) "
            "AS INT) END AS median_follower_count")


def queries():
    post_years = f"post_year BETWEEN {POST_YEARS[0]} AND {POST_YEARS[1]}"
    join_years = f"join_year BETWEEN {JOIN_YEARS[0]} AND {JOIN_YEARS[1]}"

    def most_popular(counts, group):
        return (f"SELECT * FROM (SELECT *, max(category_count) OVER (PARTITION BY {group}) AS top FROM ({counts})) "
                "WHERE category_count = top")

    def drop_top(sql, columns):
        return f"SELECT {columns} FROM ({sql})"

    q2a = (f"SELECT post_year, category, count(*) AS category_count FROM pin_geo WHERE {post_years} "
           "GROUP BY post_year, category")
    q3a = ("SELECT DISTINCT country, poster_name, follower_count FROM (SELECT *, max(follower_count) OVER "
           "(PARTITION BY country) AS top FROM pin_geo WHERE follower_count IS NOT NULL) WHERE follower_count = top")
    return {
        "q1": drop_top(most_popular("SELECT country, category, count(*) AS category_count FROM pin_geo "
                                    "GROUP BY country, category", "country"), "country, category, category_count"),
        "q2a": q2a,
        "q2b": drop_top(most_popular(q2a, "post_year"), "post_year, category, category_count"),
        "q3a": q3a,
        "q3b": f"SELECT country, follower_count FROM ({q3a}) ORDER BY follower_count DESC, country ASC LIMIT 1",
        "q4": drop_top(most_popular("SELECT age_group, category, count(*) AS category_count FROM pin_user "
                                    "WHERE age_group IS NOT NULL GROUP BY age_group, category", "age_group"),
                       "age_group, category, category_count"),
        "q5": f"SELECT age_group, {median('follower_count')} FROM pin_user WHERE age_group IS NOT NULL GROUP BY age_group",
        "q6": ("SELECT join_year AS post_year, count(*) AS number_users_joined FROM "
               "(SELECT DISTINCT user_name, age, date_joined, year(date_joined) AS join_year FROM user) "
               f"WHERE {join_years} GROUP BY join_year"),
        "q7": (f"SELECT join_year AS post_year, {median('follower_count')} FROM pin_user WHERE {join_years} "
               "GROUP BY join_year"),
        "q8": (f"SELECT age_group, join_year AS post_year, {median('follower_count')} FROM pin_user "
               f"WHERE age_group IS NOT NULL AND {join_years} GROUP BY age_group, join_year"),
        "q9": (f"SELECT age_group, post_year, {median('follower_count')} FROM pin_geo_user "
               f"WHERE age_group IS NOT NULL AND {post_years} GROUP BY age_group, post_year"),
    }


def plain_float(x):
    """Shortest round-trip decimal, no exponent, at least one fractional digit (docs/SPEC.md §5), from Java's
    Double.toString (which switches to `1.0E-4` form outside [1e-3, 1e7))."""
    text = f"CAST({x} AS STRING)"
    pattern = q(r"^(-?)([0-9]+)\.?([0-9]*)E(-?[0-9]+)$")
    sign, whole = (f"regexp_extract({text}, {pattern}, {i})" for i in (1, 2))
    frac = f"regexp_replace(regexp_extract({text}, {pattern}, 3), '0+$', '')"
    exponent = f"CAST(regexp_extract({text}, {pattern}, 4) AS INT)"
    digits = f"concat({whole}, {frac})"
    point = f"(length({whole}) + {exponent})"
    n = f"length({digits})"
    from_exponent = (f"concat({sign}, CASE WHEN {point} <= 0 THEN concat('0.', repeat('0', -{point}), {digits}) "
                     f"WHEN {point} >= {n} THEN concat({digits}, repeat('0', {point} - {n}), '.0') "
                     f"ELSE concat(substr({digits}, 1, {point}), '.', substr({digits}, {point} + 1)) END)")
    return f"CASE WHEN {text} LIKE '%E%' THEN {from_exponent} ELSE {text} END"


def export(spark, sql, path):
    """Writes the rows in canonical order (every column ascending, NULL first, age_group naturally)."""
    frame = spark.sql(sql)
    keys, cells = [], []
    for field in frame.schema.fields:
        ident = f"`{field.name}`"
        if isinstance(field.dataType, T.ArrayType):
            keys += [f"element_at({ident}, 1)", f"element_at({ident}, 2)"]
            cells.append(f"CASE WHEN {ident} IS NOT NULL THEN concat('[', {plain_float(f'element_at({ident}, 1)')}, "
                         f"', ', {plain_float(f'element_at({ident}, 2)')}, ']') END AS {ident}")
        elif field.name == "age_group":
            ranks = " ".join(f"WHEN '{g}' THEN {i}" for i, (g, _, _) in enumerate(AGE_GROUPS))
            keys.append(f"CASE {ident} {ranks} END")
            cells.append(ident)
        else:
            keys.append(ident)
            if isinstance(field.dataType, T.TimestampType):
                cells.append(f"date_format({ident}, 'yyyy-MM-dd HH:mm:ss') AS {ident}")
            elif isinstance(field.dataType, T.StringType):
                cells.append(f"nullif({ident}, '') AS {ident}")  # "" and NULL are both an empty field
            else:
                cells.append(ident)
    from pyspark.sql import functions as F

    ordered = frame.coalesce(1).sortWithinPartitions(*[F.expr(key).asc_nulls_first() for key in keys])
    rows = ordered.selectExpr(*cells)
    tmp = tempfile.mkdtemp(dir=os.path.dirname(path), prefix=".spark-")
    (rows.write.mode("overwrite")
     .option("header", "true").option("sep", ",").option("quote", '"').option("escape", '"')
     .option("nullValue", "").option("lineSep", "\n").option("encoding", "UTF-8")
     .option("ignoreLeadingWhiteSpace", "false").option("ignoreTrailingWhiteSpace", "false")
     .csv(os.path.join(tmp, "out")))
    parts = sorted(glob.glob(os.path.join(tmp, "out", "part-*")))
    if parts:
        shutil.move(parts[0], path)
    else:  # an empty result: Spark writes no part file
        with open(path, "w", encoding="utf-8") as out:
            out.write(",".join(field.name for field in rows.schema.fields) + "\n")
    shutil.rmtree(tmp)


def main():
    args = parse_args(__doc__)
    phases = Phases()
    spark = spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    phases.mark("start_spark")
    for table in ("pin", "geo", "user"):
        read_raw(spark, os.path.join(args.input, f"{table}.jsonl"), table)
    clean(spark)
    spark.sql(f"""SELECT *, {age_group('age')} AS age_group, year(date_joined) AS join_year FROM user"""
              ).createOrReplaceTempView("user_y")
    spark.sql("SELECT *, year(`timestamp`) AS post_year FROM geo").createOrReplaceTempView("geo_y")
    spark.sql("SELECT * FROM pin JOIN geo_y USING (ind)").createOrReplaceTempView("pin_geo")
    spark.sql("SELECT * FROM pin JOIN user_y USING (ind)").createOrReplaceTempView("pin_user")
    spark.sql("SELECT * FROM pin JOIN geo_y USING (ind) JOIN user_y USING (ind)").createOrReplaceTempView("pin_geo_user")
    relations = {"cleaned_pin": "SELECT * FROM pin", "cleaned_geo": "SELECT * FROM geo",
                 "cleaned_user": "SELECT * FROM user"}
    relations.update(queries())
    for name, sql in relations.items():
        export(spark, sql, os.path.join(args.out, CSV_NAMES[name]))
    phases.mark("compute_write")
    spark.stop()
    phases.report()


if __name__ == "__main__":
    main()
