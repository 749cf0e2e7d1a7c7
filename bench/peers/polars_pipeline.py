"""docs/SPEC.md's batch transform in Python Polars (lazy): read the three JSON-lines files, drop exact
duplicates, clean (docs/SPEC.md §4), run q1…q9 (docs/SPEC.md §5) and write the 14 canonical CSVs.

    python polars_pipeline.py --input DIR --out DIR
"""

import os
import sys

import polars as pl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from canonical import (  # noqa: E402
    AGE_GROUPS, CLEANED_COLUMNS, CSV_NAMES, DATETIME_PATTERN, FOLLOWER_COUNT_PATTERN, INT32_MAX,
    INT32_MIN, JOIN_YEARS, PIN_TEXT_COLUMNS, PLACEHOLDERS, POST_YEARS, RAW_FIELDS, Phases, parse_args,
)

KIND = {"key": pl.Int64, "text": pl.String, "int": pl.Int64, "float": pl.Float64}


def read_raw(path, table):
    """The raw records of one table: every field of docs/SPEC.md §1 (absent → NULL), key as `ind`."""
    schema = {name: KIND[kind] for name, kind in RAW_FIELDS[table]}
    if table == "pin":
        schema["ind"] = pl.Int64  # a producer may send pin's key as `ind`
    frame = pl.scan_ndjson(path, schema=schema)
    if table == "pin":
        frame = frame.with_columns(pl.coalesce("index", "ind").alias("ind")).drop("index")
    # Records without an int32 key are refused (not cleaned).
    frame = frame.filter(pl.col("ind").is_between(INT32_MIN, INT32_MAX))
    # docs/SPEC.md §4 rule 1: exact duplicate raw records are dropped.
    return frame.unique().with_columns(pl.col("ind").cast(pl.Int32))


def follower_count(text):
    whole = text.str.extract(FOLLOWER_COUNT_PATTERN, 1).cast(pl.Int64, strict=False)
    fraction = text.str.extract(FOLLOWER_COUNT_PATTERN, 2).fill_null("").str.pad_end(7, "0")
    suffix = text.str.extract(FOLLOWER_COUNT_PATTERN, 3).str.to_lowercase()

    def scaled(digits, multiplier):
        kept = pl.lit(0, pl.Int64) if digits == 0 else fraction.str.slice(0, digits).cast(pl.Int64)
        round_up = (fraction.str.slice(digits, 1).cast(pl.Int64) >= 5).cast(pl.Int64)
        return whole * multiplier + kept + round_up

    value = (
        pl.when(suffix == "k").then(scaled(3, 1_000))
        .when(suffix == "m").then(scaled(6, 1_000_000))
        .otherwise(scaled(0, 1))
    )
    return pl.when((whole <= INT32_MAX) & (value <= INT32_MAX)).then(value.cast(pl.Int32)).otherwise(None)


def parse_datetime(text):
    normalised = text.str.replace(r"^([0-9]{4}):([0-9]{2}):([0-9]{2}) ", "$1-$2-$3 ").str.replace("T", " ", literal=True)
    parsed = normalised.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False, exact=True)
    return pl.when(text.str.contains(DATETIME_PATTERN)).then(parsed).otherwise(None)


def clean_pin(raw):
    def text(name):
        nothing = pl.col(name) == ""
        for placeholder in PLACEHOLDERS.get(name, []):
            nothing = nothing | (pl.col(name) == placeholder)
        return pl.when(nothing).then(None).otherwise(pl.col(name))

    cleaned = {name: text(name) for name in PIN_TEXT_COLUMNS}
    cleaned["follower_count"] = follower_count(cleaned["follower_count"])
    cleaned["save_location"] = cleaned["save_location"].str.replace(r"^Local save in\s*", "")
    return raw.select(pl.col("ind"), *[cleaned[name].alias(name) for name in CLEANED_COLUMNS["pin"][1:]])


def clean_geo(raw):
    both = pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null()
    return raw.select(
        "ind",
        "country",
        pl.when(both).then(pl.concat_list("latitude", "longitude")).otherwise(None).alias("coordinates"),
        parse_datetime(pl.col("timestamp")).alias("timestamp"),
    )


def clean_user(raw):
    return raw.select(
        "ind",
        pl.concat_str("first_name", "last_name", separator=" ").alias("user_name"),
        pl.col("age").cast(pl.Int32, strict=False),
        parse_datetime(pl.col("date_joined")).alias("date_joined"),
    )


def age_group():
    expr = pl.lit(None, pl.String)
    for name, low, high in reversed(AGE_GROUPS):
        expr = pl.when(pl.col("age").is_between(low, high)).then(pl.lit(name)).otherwise(expr)
    return expr.alias("age_group")


def count_per(frame, keys):
    return frame.group_by(keys).agg(pl.len().cast(pl.Int64).alias("category_count"))


def most_popular(counts, group):
    return counts.filter(pl.col("category_count") == pl.col("category_count").max().over(group))


def median_per(frame, keys):
    median = pl.col("follower_count").quantile(0.5, interpolation="lower").cast(pl.Int32)
    return frame.group_by(keys).agg(median.alias("median_follower_count"))


def queries(pin, geo, user):
    geo = geo.with_columns(pl.col("timestamp").dt.year().alias("post_year"))
    user = user.with_columns(age_group(), pl.col("date_joined").dt.year().alias("join_year"))
    pin_geo = pin.join(geo, on="ind")
    pin_user = pin.join(user, on="ind")
    pin_geo_user = pin_geo.join(user, on="ind")
    in_post_years = pl.col("post_year").is_between(*POST_YEARS)
    in_join_years = pl.col("join_year").is_between(*JOIN_YEARS)
    has_group = pl.col("age_group").is_not_null()

    q2a = count_per(pin_geo.filter(in_post_years), ["post_year", "category"])
    q3a = (
        pin_geo.filter(pl.col("follower_count").is_not_null())
        .filter(pl.col("follower_count") == pl.col("follower_count").max().over("country"))
        .select("country", "poster_name", "follower_count")
        .unique()
    )
    q3b = q3a.sort(["follower_count", "country"], descending=[True, False]).head(1).select("country", "follower_count")
    q6 = (
        user.select("user_name", "age", "date_joined", "join_year").unique()
        .filter(in_join_years)
        .group_by(pl.col("join_year").alias("post_year"))
        .agg(pl.len().cast(pl.Int64).alias("number_users_joined"))
    )
    joined = pin_user.filter(in_join_years).with_columns(pl.col("join_year").alias("post_year"))
    return {
        "q1": most_popular(count_per(pin_geo, ["country", "category"]), "country"),
        "q2a": q2a,
        "q2b": most_popular(q2a, "post_year"),
        "q3a": q3a,
        "q3b": q3b,
        "q4": most_popular(count_per(pin_user.filter(has_group), ["age_group", "category"]), "age_group"),
        "q5": median_per(pin_user.filter(has_group), ["age_group"]),
        "q6": q6,
        "q7": median_per(joined, ["post_year"]),
        "q8": median_per(joined.filter(has_group), ["age_group", "post_year"]),
        "q9": median_per(pin_geo_user.filter(has_group & in_post_years), ["age_group", "post_year"]),
    }


def plain_float(expr):
    """Shortest round-trip decimal, no exponent, at least one fractional digit (docs/SPEC.md §5)."""
    text = expr.cast(pl.String)
    pattern = r"^(-?)([0-9]+)\.?([0-9]*)[eE]\+?(-?[0-9]+)$"
    sign = text.str.extract(pattern, 1)
    digits = text.str.extract(pattern, 2) + text.str.extract(pattern, 3)
    point = text.str.extract(pattern, 2).str.len_chars().cast(pl.Int64) + text.str.extract(pattern, 4).cast(pl.Int64)
    zeros = pl.lit("0" * 400)
    n = digits.str.len_chars().cast(pl.Int64)
    from_exponent = sign + (
        pl.when(point <= 0).then(pl.lit("0.") + zeros.str.slice(0, -point) + digits)
        .when(point >= n).then(digits + zeros.str.slice(0, point - n) + pl.lit(".0"))
        .otherwise(digits.str.slice(0, point) + pl.lit(".") + digits.str.slice(point))
    )
    plain = pl.when(text.str.contains(r"[.eEn]")).then(text).otherwise(text + pl.lit(".0"))
    return pl.when(text.str.contains("[eE]")).then(from_exponent).otherwise(plain)


def canonical(frame):
    """Rows sorted by every column, NULL first, age_group naturally; then every cell as its CSV text."""
    schema = frame.collect_schema()
    keys = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.List):
            keys += [pl.col(name).list.get(0, null_on_oob=True), pl.col(name).list.get(1, null_on_oob=True)]
        elif name == "age_group":
            keys.append(pl.col(name).replace_strict([g[0] for g in AGE_GROUPS], range(len(AGE_GROUPS)), default=None))
        else:
            keys.append(pl.col(name))
    frame = frame.sort(keys, nulls_last=False, maintain_order=True)
    cells = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.List):
            items = pl.col(name).list
            cell = pl.format("[{}, {}]", plain_float(items.get(0)), plain_float(items.get(1)))
        elif dtype == pl.Datetime:
            cell = pl.col(name).dt.strftime("%Y-%m-%d %H:%M:%S")
        elif dtype == pl.String:
            # "" and NULL are both written as an empty field.
            cell = pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name))
        else:
            cell = pl.col(name).cast(pl.String)
        cells.append(cell.alias(name))
    return frame.select(cells)


def main():
    args = parse_args(__doc__)
    phases = Phases()
    pin = clean_pin(read_raw(os.path.join(args.input, "pin.jsonl"), "pin"))
    geo = clean_geo(read_raw(os.path.join(args.input, "geo.jsonl"), "geo"))
    user = clean_user(read_raw(os.path.join(args.input, "user.jsonl"), "user"))
    # The cleaned tables once (they feed every query), then every query in one plan. (Polars' streaming
    # engine is no faster here, and its unique() turns -0.0 into 0.0.)
    pin, geo, user = (frame.lazy() for frame in pl.collect_all([pin, geo, user]))
    phases.mark("read_clean")
    plans = {"cleaned_pin": pin, "cleaned_geo": geo, "cleaned_user": user, **queries(pin, geo, user)}
    frames = pl.collect_all([canonical(plan) for plan in plans.values()])
    phases.mark("queries")
    for name, frame in zip(plans, frames):
        frame.write_csv(os.path.join(args.out, CSV_NAMES[name]), quote_style="necessary", null_value="")
    phases.mark("write")
    phases.report()


if __name__ == "__main__":
    main()
