//! The queries of docs/SPEC.md §5 and the canonical CSV, over records posted as JSON lines and run through
//! `batch::transform` (decode → drop duplicates → clean → queries).

mod common;

use std::collections::BTreeMap;

use common::*;
use pinpipe_contract::table::RAW_HASH_COLUMN;
use pinpipe_contract::Table;
use pinpipe_core::queries::QUERIES;
use pinpipe_core::transform::clean_new;
use polars::prelude::*;
use serde_json::json;

/// A post in `country` of `category`, posted by an adult, joined in a year the queries look at.
fn in_country(posts: &mut Posts, ind: i64, country: &str, category: &str) {
    posts.post(ind, json!({ "category": category }), json!({ "country": country }), json!({}));
}

#[test]
fn q1_keeps_every_category_tied_at_a_countrys_maximum() {
    let mut posts = Posts::new();
    for (ind, country, category) in [
        (1, "Aland", "art"),
        (2, "Aland", "beauty"),
        (3, "Aland", "art"),
        (4, "Aland", "diy-and-crafts"),
        (5, "Aland", "beauty"),
        (6, "Brazil", "travel"),
        (7, "Brazil", "finance"),
        (8, "Brazil", "travel"),
    ] {
        in_country(&mut posts, ind, country, category);
    }
    // Inner joins: a pin without geo, and geo without a pin, count nowhere.
    posts.pin(9, json!({ "category": "finance" })).user(9, json!({}));
    posts.pin(10, json!({ "category": "finance" }));
    posts.geo(11, json!({ "country": "Chile" }));

    let output = posts.transform();
    assert_eq!(
        result_csv(&output, "q1"),
        "country,category,category_count\nAland,art,2\nAland,beauty,2\nBrazil,travel,2\n"
    );
}

#[test]
fn duplicate_raw_records_count_once() {
    let mut posts = Posts::new();
    let art_pin = pin(1, json!({ "category": "art" })).to_string();
    let art_geo = geo(1, json!({ "country": "Aland" })).to_string();
    for _ in 0..3 {
        posts.line(Table::Pin, &art_pin).line(Table::Geo, &art_geo);
    }
    // Two records sharing a key but differing in a field are not duplicates.
    in_country(&mut posts, 2, "Aland", "beauty");
    posts.pin(2, json!({ "category": "beauty", "title": "another title" }));

    let output = posts.transform();
    assert_eq!(result_csv(&output, "q1"), "country,category,category_count\nAland,beauty,2\n");
    let pin_quality = &output.quality[&Table::Pin];
    assert_eq!((pin_quality.records_in, pin_quality.duplicates_dropped, pin_quality.records_cleaned), (5, 2, 3));
    let geo_quality = &output.quality[&Table::Geo];
    assert_eq!((geo_quality.records_in, geo_quality.duplicates_dropped), (4, 2));
    assert_eq!(output.all_cleaned.pin.height(), 3);

    // A later run that sees the same records again, checked against the first run's record hashes,
    // cleans nothing.
    let first = clean_new(posts.sources(), BTreeMap::new()).unwrap();
    let seen: BTreeMap<Table, LazyFrame> =
        first.cleaned.iter().map(|(table, frame)| (*table, frame.select([RAW_HASH_COLUMN]).unwrap().lazy())).collect();
    let again = clean_new(posts.sources(), seen).unwrap();
    assert_eq!(again.quality[&Table::Pin].duplicates_dropped, 5);
    assert_eq!(again.quality[&Table::Pin].records_cleaned, 0);
    assert_eq!(again.cleaned[&Table::Pin].height(), 0);
    assert_eq!(again.quality[&Table::Geo].records_cleaned, 0);
}

#[test]
fn q2_counts_post_years_2018_to_2022_only() {
    let mut posts = Posts::new();
    for (ind, timestamp, category) in [
        (1, "2017-12-31 23:59:59", "art"),
        (2, "2018-01-01 00:00:00", "art"),
        (3, "2018-06-01 12:00:00", "beauty"),
        (4, "2018-07-01T08:30:00.25", "beauty"),
        (5, "2022-12-31 23:59:59", "travel"),
        (6, "2022-05-05 05:05:05", "art"),
        (7, "2023-01-01 00:00:00", "travel"),
        (8, "2020:03:03 10:00:00", "quotes"),
        (9, "yesterday", "quotes"),
        (10, "2023-06-01 00:00:00", "quotes"),
    ] {
        posts.post(ind, json!({ "category": category }), json!({ "timestamp": timestamp }), json!({}));
    }
    let output = posts.transform();
    assert_eq!(
        result_csv(&output, "q2a"),
        "post_year,category,category_count\n2018,art,1\n2018,beauty,2\n2020,quotes,1\n2022,art,1\n2022,travel,1\n"
    );
    assert_eq!(
        result_csv(&output, "q2b"),
        "post_year,category,category_count\n2018,beauty,2\n2020,quotes,1\n2022,art,1\n2022,travel,1\n"
    );
}

#[test]
fn q3a_keeps_all_posters_tied_at_a_countrys_max_and_q3b_picks_one_country() {
    let mut posts = Posts::new();
    for (ind, country, poster, followers) in [
        (1, "Chile", "Zed", "15M"),
        (2, "Brazil", "Ann", "15M"),
        (3, "Brazil", "Bob", "1M"),
        (4, "Aland", "P1", "5k"),
        (5, "Aland", "P1", "5k"), // the same poster on another post: one row
        (6, "Aland", "P2", "5000"),
        (7, "Aland", "User Info Error", "5.0k"), // NULL poster at the max: a row of its own
        (8, "Aland", "P3", "100"),
        (9, "Aland", "P4", "User Info Error"),
        (10, "Denmark", "Q", "User Info Error"), // no follower count at all: no row
        (11, "Denmark", "R", "abc"),
    ] {
        posts.post(
            ind,
            json!({ "poster_name": poster, "follower_count": followers }),
            json!({ "country": country }),
            json!({}),
        );
    }
    let output = posts.transform();
    assert_eq!(
        result_csv(&output, "q3a"),
        "country,poster_name,follower_count\n\
         Aland,,5000\n\
         Aland,P1,5000\n\
         Aland,P2,5000\n\
         Brazil,Ann,15000000\n\
         Chile,Zed,15000000\n"
    );
    // Brazil and Chile tie at 15M: the first country in ascending order wins, whatever the input order.
    assert_eq!(result_csv(&output, "q3b"), "country,follower_count\nBrazil,15000000\n");
}

#[test]
fn q3b_takes_the_highest_follower_count_first() {
    let mut posts = Posts::new();
    for (ind, country, followers) in [(1, "Aland", "2M"), (2, "Zambia", "2.5M"), (3, "Brazil", "999k")] {
        posts.post(ind, json!({ "follower_count": followers }), json!({ "country": country }), json!({}));
    }
    let output = posts.transform();
    assert_eq!(result_csv(&output, "q3b"), "country,follower_count\nZambia,2500000\n");
}

#[test]
fn q4_groups_ages_inclusively_and_drops_the_under_18s() {
    let mut posts = Posts::new();
    let ages: [(serde_json::Value, &str); 16] = [
        (json!(17), "tattoos"),
        (json!(17), "tattoos"),
        (json!(17), "tattoos"),
        (json!(18), "art"),
        (json!(24), "art"),
        (json!(20), "beauty"),
        (json!(25), "diy-and-crafts"),
        (json!(35), "diy-and-crafts"),
        (json!(30), "finance"),
        (json!(36), "home-decor"),
        (json!(50), "home-decor"),
        (json!(40), "quotes"),
        (json!(51), "travel"),
        (json!(60), "travel"),
        (json!(55), "vehicles"),
        (json!(null), "education"),
    ];
    for (ind, (age, category)) in ages.iter().enumerate() {
        posts.post(ind as i64, json!({ "category": category }), json!({}), json!({ "age": age }));
    }
    posts.post(100, json!({ "category": "education" }), json!({}), json!({ "age": "unknown" }));
    posts.post(101, json!({ "category": "education" }), json!({}), json!({ "age": 0 }));
    let output = posts.transform();
    // Each group's winner has 2 posts only if both of its edge ages fall in it.
    assert_eq!(
        result_csv(&output, "q4"),
        "age_group,category,category_count\n\
         18-24,art,2\n\
         25-35,diy-and-crafts,2\n\
         36-50,home-decor,2\n\
         +50,travel,2\n"
    );
}

#[test]
fn q4_keeps_ties_within_an_age_group() {
    let mut posts = Posts::new();
    for (ind, category) in [(1, "art"), (2, "beauty"), (3, "art"), (4, "beauty"), (5, "quotes")] {
        posts.post(ind, json!({ "category": category }), json!({}), json!({ "age": 22 }));
    }
    let output = posts.transform();
    assert_eq!(result_csv(&output, "q4"), "age_group,category,category_count\n18-24,art,2\n18-24,beauty,2\n");
}

#[test]
fn q5_is_the_lower_median_of_non_null_counts_per_age_group() {
    let mut posts = Posts::new();
    let rows: [(i64, &str, &str); 16] = [
        // 18-24: 10, 20, 30, 40 and a NULL → 20 (an interpolated median would be 25).
        (20, "40", "P"),
        (21, "10", "P"),
        (22, "User Info Error", "P"),
        (23, "30", "P"),
        (24, "20", "P"),
        // 25-35: 5, 7, 1000 → 7.
        (25, "5", "P"),
        (30, "1000", "P"),
        (35, "7", "P"),
        // 36-50: one value per post, not per poster: 1, 1, 1, 100, 200 → 1.
        (40, "1", "Same"),
        (41, "1", "Same"),
        (42, "1", "Same"),
        (43, "100", "P"),
        (44, "200", "P"),
        // +50: 100, 200 → 100.
        (70, "200", "P"),
        (51, "100", "P"),
        // Under 18: no group.
        (17, "999999", "P"),
    ];
    for (ind, (age, followers, poster)) in rows.iter().enumerate() {
        posts.post(
            ind as i64,
            json!({ "follower_count": followers, "poster_name": poster }),
            json!({}),
            json!({ "age": age }),
        );
    }
    let output = posts.transform();
    assert_eq!(result_csv(&output, "q5"), "age_group,median_follower_count\n18-24,20\n25-35,7\n36-50,1\n+50,100\n");
}

#[test]
fn q6_counts_distinct_persons_per_join_year_2015_to_2020() {
    let mut posts = Posts::new();
    for (ind, first, last, age, joined) in [
        (1, "Ann", "Lee", 30, "2016-01-01 00:00:00"),
        (2, "Ann", "Lee", 30, "2016-01-01 00:00:00"),
        (3, "Ann", "Lee", 30, "2016-01-01T00:00:00"), // the same person, written another way
        (4, "Ann", "Lee", 31, "2016-01-01 00:00:00"), // another person of the same name
        (5, "Bob", "Ray", 40, "2014-12-31 23:59:59"),
        (6, "Cy", "Doe", 22, "2015-01-01 00:00:00"),
        (7, "Cy", "Doe", 22, "2015:01:01 00:00:00"),
        (8, "Di", "Fox", 50, "2020-12-31 23:59:59"),
        (9, "Ed", "Gu", 45, "2021-01-01 00:00:00"),
        (10, "Fay", "Ho", 45, "2016-03-01 00:00:00"),
    ] {
        posts.user(ind, json!({ "first_name": first, "last_name": last, "age": age, "date_joined": joined }));
    }
    let output = posts.transform();
    assert_eq!(result_csv(&output, "q6"), "post_year,number_users_joined\n2015,1\n2016,3\n2020,1\n");
}

#[test]
fn q7_and_q8_take_join_years_2015_to_2020() {
    let mut posts = Posts::new();
    for (ind, followers, age, joined) in [
        (1, "10", 20, "2014-12-31 23:59:59"),
        (2, "20", 20, "2015-01-01 00:00:00"),
        (3, "40", 30, "2015-06-01 00:00:00"),
        (4, "30", 20, "2015-07-01 00:00:00"),
        (5, "50", 60, "2020-12-31 23:59:59"),
        (6, "70", 17, "2020-01-01 00:00:00"), // no age group: in q7, not in q8
        (7, "90", 30, "2021-01-01 00:00:00"),
        (9, "User Info Error", 40, "2017-03-01 00:00:00"), // the only post of 2017: a NULL median
    ] {
        posts.post(
            ind,
            json!({ "follower_count": followers }),
            json!({}),
            json!({ "age": age, "date_joined": joined }),
        );
    }
    posts.pin(8, json!({ "follower_count": "1" })).geo(8, json!({})); // no user: in neither
    let output = posts.transform();
    assert_eq!(result_csv(&output, "q7"), "post_year,median_follower_count\n2015,30\n2017,\n2020,50\n");
    assert_eq!(
        result_csv(&output, "q8"),
        "age_group,post_year,median_follower_count\n18-24,2015,20\n25-35,2015,40\n36-50,2017,\n+50,2020,50\n"
    );
}

#[test]
fn q9_takes_post_years_2018_to_2022_over_all_three_tables() {
    let mut posts = Posts::new();
    for (ind, followers, age, timestamp) in [
        (1, "5", 20, "2017-12-31 23:59:59"),
        (2, "10", 20, "2018-01-01 00:00:00"),
        (3, "30", 20, "2018-03-01 00:00:00"),
        (4, "20", 20, "2018-04-01 00:00:00"),
        (5, "User Info Error", 20, "2018-05-01 00:00:00"),
        (6, "1000", 51, "2022-12-31 23:59:59"),
        (7, "7", 51, "2023-01-01 00:00:00"),
        (8, "300", 40, "2020-02-02 02:02:02"),
    ] {
        posts.post(
            ind,
            json!({ "follower_count": followers }),
            json!({ "timestamp": timestamp }),
            json!({ "age": age }),
        );
    }
    posts.pin(9, json!({ "follower_count": "1" })).user(9, json!({ "age": 40 })); // no geo
    let output = posts.transform();
    assert_eq!(
        result_csv(&output, "q9"),
        "age_group,post_year,median_follower_count\n18-24,2018,20\n36-50,2020,300\n+50,2022,1000\n"
    );
}

/// Column names and dtypes of every result (docs/SPEC.md §5: counts int64, years int32, medians int32).
fn expected_schemas() -> Vec<(&'static str, Vec<(&'static str, DataType)>)> {
    use DataType::{Int32, Int64, String as Text};
    vec![
        ("q1", vec![("country", Text), ("category", Text), ("category_count", Int64)]),
        ("q2a", vec![("post_year", Int32), ("category", Text), ("category_count", Int64)]),
        ("q2b", vec![("post_year", Int32), ("category", Text), ("category_count", Int64)]),
        ("q3a", vec![("country", Text), ("poster_name", Text), ("follower_count", Int32)]),
        ("q3b", vec![("country", Text), ("follower_count", Int32)]),
        ("q4", vec![("age_group", Text), ("category", Text), ("category_count", Int64)]),
        ("q5", vec![("age_group", Text), ("median_follower_count", Int32)]),
        ("q6", vec![("post_year", Int32), ("number_users_joined", Int64)]),
        ("q7", vec![("post_year", Int32), ("median_follower_count", Int32)]),
        ("q8", vec![("age_group", Text), ("post_year", Int32), ("median_follower_count", Int32)]),
        ("q9", vec![("age_group", Text), ("post_year", Int32), ("median_follower_count", Int32)]),
    ]
}

fn assert_schemas(output: &pinpipe_core::transform::TransformOutput, rows_expected: bool) {
    let ids: Vec<&str> = output.results.iter().map(|(query, _)| query.id).collect();
    let want = expected_schemas();
    assert_eq!(ids, want.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    for (id, columns) in want {
        let frame = result(output, id);
        let columns: Vec<(String, DataType)> =
            columns.into_iter().map(|(name, dtype)| (name.to_string(), dtype)).collect();
        assert_eq!(schema_of(frame), columns, "{id}");
        assert_eq!(frame.height() > 0, rows_expected, "{id} has {} rows", frame.height());
    }
}

#[test]
fn every_result_has_its_columns_and_types() {
    let mut posts = Posts::new();
    posts.post(
        1,
        json!({ "follower_count": "26k" }),
        json!({ "timestamp": "2019-05-05 05:05:05" }),
        json!({ "age": 20, "date_joined": "2016-02-02 02:02:02" }),
    );
    assert_schemas(&posts.transform(), true);
}

#[test]
fn no_input_gives_every_result_empty_with_its_columns_and_types() {
    assert_schemas(&Posts::new().transform(), false);
}

#[test]
fn query_csv_names_follow_the_spec() {
    let names: Vec<(&str, &str)> = QUERIES.iter().map(|query| (query.id, query.csv_name)).collect();
    assert_eq!(
        names,
        [
            ("q1", "q1_popular_category_by_country.csv"),
            ("q2a", "q2a_posts_per_category_by_year.csv"),
            ("q2b", "q2b_popular_category_by_year.csv"),
            ("q3a", "q3a_top_user_by_country.csv"),
            ("q3b", "q3b_top_country.csv"),
            ("q4", "q4_popular_category_by_age_group.csv"),
            ("q5", "q5_median_follower_by_age_group.csv"),
            ("q6", "q6_users_joined_by_year.csv"),
            ("q7", "q7_median_follower_by_join_year.csv"),
            ("q8", "q8_median_follower_by_join_year_age_group.csv"),
            ("q9", "q9_median_follower_by_post_year_age_group.csv"),
        ]
    );
}

/// A pin record with every field given, so the expected CSV row is plain to see.
#[allow(clippy::too_many_arguments)]
fn full_pin(
    ind: i64,
    unique_id: &str,
    title: &str,
    description: &str,
    poster: &str,
    followers: &str,
    tags: &str,
    image_src: &str,
) -> serde_json::Value {
    json!({
        "index": ind, "unique_id": unique_id, "title": title, "description": description,
        "poster_name": poster, "follower_count": followers, "tag_list": tags,
        "is_image_or_video": "image", "image_src": image_src, "downloaded": 1,
        "save_location": "Local save in /data/art", "category": "art",
    })
}

#[test]
fn cleaned_tables_have_their_exact_canonical_csv_bytes() {
    let mut posts = Posts::new();
    posts
        .record(
            Table::Pin,
            full_pin(
                2,
                "u2",
                "He said \"hi\", twice",
                "line one\nline two",
                "Smith, Jane",
                "1.5k",
                "a,b",
                "https://i.pinimg.com/2.jpg",
            ),
        )
        .record(
            Table::Pin,
            full_pin(
                1,
                "u1",
                "No Title Data Available",
                "Nice place\u{a0}",
                "User Info Error",
                "User Info Error",
                "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
                "Image src error.",
            ),
        )
        .record(Table::Pin, full_pin(1, "", "Zebra", "Plain", "Ann", "7", "x", "https://i.pinimg.com/1.jpg"));
    posts
        .geo(2, json!({ "country": "Bonaire, Sint Eustatius and Saba", "latitude": 12, "longitude": -170.188, "timestamp": "yesterday" }))
        .geo(1, json!({ "country": "Côte d'Ivoire", "latitude": -0.375174, "longitude": 128.0, "timestamp": "2020-08-28T03:52:47.999999" }))
        .geo(1, json!({ "country": null, "latitude": 10.5, "longitude": 20.25, "timestamp": "2019:01:01 00:00:00" }))
        .geo(3, json!({ "country": "Aland", "latitude": 0.0000001, "longitude": -45, "timestamp": "2018-02-03 04:05:06" }))
        .geo(3, json!({ "country": "Aland", "latitude": null, "longitude": 5, "timestamp": "2018-02-03 04:05:06" }));
    posts
        .user(
            2,
            json!({ "first_name": "Zoë", "last_name": "O'Brien", "age": 44, "date_joined": "2015-10-21T21:26:45" }),
        )
        .user(1, json!({ "first_name": null, "last_name": "X", "age": "abc", "date_joined": "" }));
    let output = posts.transform();
    let dir = tempfile::tempdir().unwrap();
    write_all_csvs(dir.path(), output);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();

    assert_eq!(
        read("cleaned_pin.csv"),
        "ind,unique_id,title,description,follower_count,poster_name,tag_list,is_image_or_video,image_src,save_location,category\n\
         1,,Zebra,Plain,7,Ann,x,image,https://i.pinimg.com/1.jpg,/data/art,art\n\
         1,u1,,Nice place\u{a0},,,,image,,/data/art,art\n\
         2,u2,\"He said \"\"hi\"\", twice\",\"line one\nline two\",1500,\"Smith, Jane\",\"a,b\",image,https://i.pinimg.com/2.jpg,/data/art,art\n"
    );
    assert_eq!(
        read("cleaned_geo.csv"),
        "ind,country,coordinates,timestamp\n\
         1,,\"[10.5, 20.25]\",2019-01-01 00:00:00\n\
         1,Côte d'Ivoire,\"[-0.375174, 128.0]\",2020-08-28 03:52:47\n\
         2,\"Bonaire, Sint Eustatius and Saba\",\"[12.0, -170.188]\",\n\
         3,Aland,,2018-02-03 04:05:06\n\
         3,Aland,\"[0.0000001, -45.0]\",2018-02-03 04:05:06\n"
    );
    assert_eq!(read("cleaned_user.csv"), "ind,user_name,age,date_joined\n1,,,\n2,Zoë O'Brien,44,2015-10-21 21:26:45\n");
    for name in QUERIES.iter().map(|query| query.csv_name) {
        assert!(read(name).ends_with('\n'), "{name} is written");
    }
}

#[test]
fn query_results_have_their_exact_canonical_csv_bytes() {
    let mut posts = Posts::new();
    for (ind, country, poster, followers, age) in [
        (1, "Aland", "User Info Error", "500", 60),
        (2, "Aland", "\"Q\" Co", "500", 20),
        (3, "Aland", "Smith, Jane", "0.5k", 30),
        (4, "Aland", "Low", "499", 40),
        (5, "Zambia", "Zed", "1k", 20),
        (6, "Österreich", "Olga", "2k", 20),
    ] {
        posts.post(
            ind,
            json!({ "poster_name": poster, "follower_count": followers }),
            json!({ "country": country }),
            json!({ "age": age }),
        );
    }
    let output = posts.transform();
    let dir = tempfile::tempdir().unwrap();
    write_all_csvs(dir.path(), output);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();

    // NULL first and empty; quoting only where needed; byte order (Z before Ö).
    assert_eq!(
        read("q3a_top_user_by_country.csv"),
        "country,poster_name,follower_count\n\
         Aland,,500\n\
         Aland,\"\"\"Q\"\" Co\",500\n\
         Aland,\"Smith, Jane\",500\n\
         Zambia,Zed,1000\n\
         Österreich,Olga,2000\n"
    );
    // Age groups in their natural order, not text order (which would put +50 first).
    assert_eq!(
        read("q5_median_follower_by_age_group.csv"),
        "age_group,median_follower_count\n18-24,1000\n25-35,500\n36-50,499\n+50,500\n"
    );
    assert_eq!(read("q3b_top_country.csv"), "country,follower_count\nÖsterreich,2000\n");
}
