"""What every peer shares: the docs/SPEC.md §4/§5 constants and the canonical CSV names (no engine code).

Each peer (pyspark_pipeline.py, polars_pipeline.py, duckdb_pipeline.py) does all the cleaning,
the queries, the canonical ordering and the CSV writing in its own engine; this module only holds
the constants of docs/SPEC.md so the three read the same rules.
"""

import argparse
import os
import time

# docs/SPEC.md §4 rule 3: placeholders, each only in its own column.
PLACEHOLDERS = {
    "title": ["No Title Data Available"],
    "description": ["No description available Story format", "No description available", "Untitled"],
    "poster_name": ["User Info Error"],
    "follower_count": ["User Info Error"],
    "tag_list": ["N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"],
    "image_src": ["Image src error."],
}

# docs/SPEC.md §4 rule 2: the pin text columns in which "" becomes NULL.
PIN_TEXT_COLUMNS = [
    "unique_id", "title", "description", "poster_name", "follower_count", "tag_list",
    "is_image_or_video", "image_src", "save_location", "category",
]

# The raw fields of each table (docs/SPEC.md §1), key first, as (name, kind); kind is text|int|float.
RAW_FIELDS = {
    "pin": [("index", "key"), ("unique_id", "text"), ("title", "text"), ("description", "text"),
            ("poster_name", "text"), ("follower_count", "text"), ("tag_list", "text"),
            ("is_image_or_video", "text"), ("image_src", "text"), ("downloaded", "int"),
            ("save_location", "text"), ("category", "text")],
    "geo": [("ind", "key"), ("timestamp", "text"), ("latitude", "float"), ("longitude", "float"),
            ("country", "text")],
    "user": [("ind", "key"), ("first_name", "text"), ("last_name", "text"), ("age", "int"),
             ("date_joined", "text")],
}

CLEANED_COLUMNS = {
    "pin": ["ind", "unique_id", "title", "description", "follower_count", "poster_name", "tag_list",
            "is_image_or_video", "image_src", "save_location", "category"],
    "geo": ["ind", "country", "coordinates", "timestamp"],
    "user": ["ind", "user_name", "age", "date_joined"],
}

# docs/SPEC.md §4 rule 4 (digits, optional fraction, optional k/K/m/M).
FOLLOWER_COUNT_PATTERN = r"^([0-9]+)(?:\.([0-9]+))?([kKmM]?)$"
# docs/SPEC.md §1 datetimes: 2020-08-28 03:52:47, 2020-08-28T03:52:47 (optional fraction), 2020:08:28 03:52:47.
DATETIME_PATTERN = (
    r"^[0-9]{4}(-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"|:[0-9]{2}:[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})$"
)
INT32_MAX = 2_147_483_647
INT32_MIN = -2_147_483_648

AGE_GROUPS = [("18-24", 18, 24), ("25-35", 25, 35), ("36-50", 36, 50), ("+50", 51, INT32_MAX)]
POST_YEARS = (2018, 2022)
JOIN_YEARS = (2015, 2020)

CSV_NAMES = {
    "cleaned_pin": "cleaned_pin.csv",
    "cleaned_geo": "cleaned_geo.csv",
    "cleaned_user": "cleaned_user.csv",
    "q1": "q1_popular_category_by_country.csv",
    "q2a": "q2a_posts_per_category_by_year.csv",
    "q2b": "q2b_popular_category_by_year.csv",
    "q3a": "q3a_top_user_by_country.csv",
    "q3b": "q3b_top_country.csv",
    "q4": "q4_popular_category_by_age_group.csv",
    "q5": "q5_median_follower_by_age_group.csv",
    "q6": "q6_users_joined_by_year.csv",
    "q7": "q7_median_follower_by_join_year.csv",
    "q8": "q8_median_follower_by_join_year_age_group.csv",
    "q9": "q9_median_follower_by_post_year_age_group.csv",
}


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--input", required=True, help="folder with pin.jsonl, geo.jsonl, user.jsonl")
    parser.add_argument("--out", required=True, help="where the 14 canonical CSVs go")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


class Phases:
    """Wall time per phase, printed as one JSON line at the end (read by bench/batch.py)."""

    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.ms = {}

    def mark(self, name):
        now = time.perf_counter()
        self.ms[name] = round((now - self.last) * 1000)
        self.last = now

    def report(self):
        import json

        self.ms["total"] = round((time.perf_counter() - self.start) * 1000)
        print("PHASES " + json.dumps(self.ms), flush=True)

# docs/SPEC.md §4 rule 6: the leading `Local save in` and the whitespace after it (Unicode White_Space, as the
# Rust regex `\s` reads it; spelled out for engines whose `\s` is ASCII only).
SAVE_LOCATION_PREFIX = (
    r"^Local save in[\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]*"
)
