//! Source tables of any size (`pinpipe emulate --source-rows`): the default unchanged, many rows
//! making mostly distinct posts, with the default's values and dirty values.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use pinpipe_emulate::{
    dump, dump_with_progress, DumpSummary, Generator, Post, SourceTables, MAX_SOURCE_ROWS, SOURCE_ROWS,
};

const SEED: u64 = 11;
const FILES: [&str; 3] = ["pin.jsonl", "geo.jsonl", "user.jsonl"];
const NO_TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";

/// FNV-1a, 64 bits: a fingerprint of a file, computed the same way on every platform.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

fn dump_rows(dir: &Path, posts: usize, seed: u64, source_rows: usize) -> DumpSummary {
    dump_with_progress(dir, posts, Generator::with_source_rows(seed, source_rows), |_| {}).unwrap()
}

fn files(dir: &Path) -> [Vec<u8>; 3] {
    FILES.map(|name| fs::read(dir.join(name)).unwrap())
}

#[test]
fn the_default_dump_is_the_one_made_before_source_rows_could_change() {
    // Fingerprints and sizes of `dump(dir, 20_000, 1)` taken on the code before `--source-rows`:
    // BENCHMARKS.md's numbers and other crates' tests rely on these bytes.
    let expected =
        [(0x3b01_8369_3d05_44bf, 14_572_600), (0xae55_748c_2917_39b2, 2_395_355), (0x18e9_4531_07f3_61fe, 2_200_073)];
    let (plain, explicit) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    dump(plain.path(), 20_000, 1).unwrap();
    dump_rows(explicit.path(), 20_000, 1, SOURCE_ROWS);
    let [made, asked] = [&plain, &explicit].map(|dir| files(dir.path()));
    for ((name, bytes), expected) in FILES.iter().zip(&made).zip(expected) {
        assert_eq!((fnv1a(bytes), bytes.len()), expected, "{name}");
    }
    assert!(made == asked, "--source-rows {SOURCE_ROWS} is the default");
}

#[test]
fn ten_times_more_source_rows_than_posts_make_over_90_percent_distinct_records() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dump_rows(dir.path(), 10_000, SEED, 100_000);
    for (name, bytes) in FILES.iter().zip(files(dir.path())) {
        let lines: Vec<&[u8]> = bytes.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()).collect();
        let distinct = lines.iter().collect::<HashSet<_>>().len();
        assert_eq!(lines.len(), 10_000, "{name}");
        assert_eq!(distinct, summary.distinct_rows, "{name}");
        assert!(distinct >= 9_000, "{name}: {distinct} distinct of 10,000");
    }
}

#[test]
fn a_seed_and_source_row_count_always_give_the_same_bytes() {
    let dirs = [(); 4].map(|()| tempfile::tempdir().unwrap());
    let made = [(SEED, 100_000), (SEED, 100_000), (SEED + 1, 100_000), (SEED, 100_001)]
        .iter()
        .zip(&dirs)
        .map(|(&(seed, source_rows), dir)| {
            dump_rows(dir.path(), 2_000, seed, source_rows);
            files(dir.path())
        })
        .collect::<Vec<_>>();
    assert!(made[0] == made[1]);
    for other in &made[2..] {
        for table in 0..3 {
            assert!(made[0][table] != other[table], "{}", FILES[table]);
        }
    }
}

/// Row by row tables of fewer and of more rows than the default: keys through the categories in
/// order, every category, one UUID per row, keys of the int32 range.
#[test]
fn source_tables_of_any_size_run_through_the_categories_in_key_order() {
    for rows in [2_000, 30_000] {
        let tables = SourceTables::with_rows(SEED, rows);
        assert_eq!(tables.rows(), rows);
        let posts: Vec<Post> = (0..rows).map(|row| tables.post(row)).collect();
        for (row, post) in posts.iter().enumerate() {
            assert_eq!((post.key() as usize, post.geo.ind, post.user.ind), (row, post.key(), post.key()));
        }
        for pair in posts.windows(2) {
            assert!(pair[0].pin.category <= pair[1].pin.category, "keys {} and {}", pair[0].key(), pair[1].key());
        }
        let categories: HashSet<&str> = posts.iter().map(|post| post.pin.category.as_str()).collect();
        assert_eq!(categories.len(), 13, "{rows} rows");
        let ids: HashSet<&str> = posts.iter().map(|post| post.pin.unique_id.as_str()).collect();
        assert_eq!(ids.len(), rows);
    }
    let largest = SourceTables::with_rows(SEED, MAX_SOURCE_ROWS);
    assert_eq!(i64::from(largest.post(MAX_SOURCE_ROWS - 1).key()), i64::from(i32::MAX));
    assert_eq!(largest.post(0).pin.category, "art");
}

/// The population grows with the rows: many more persons, each still recurring under several keys.
#[test]
fn posters_are_many_more_but_still_recur() {
    let persons = |posts: &[Post]| {
        let mut keys: HashMap<(String, String, u8, String), usize> = HashMap::new();
        for user in posts.iter().map(|post| &post.user) {
            let person = (user.first_name.clone(), user.last_name.clone(), user.age, user.date_joined.clone());
            *keys.entry(person).or_default() += 1;
        }
        keys
    };
    let default: Vec<Post> = Generator::new(SEED).take(20_000).collect();
    let many: Vec<Post> = Generator::with_source_rows(SEED, 200_000).take(20_000).collect();
    let (few, more) = (persons(&default), persons(&many));
    assert!(more.len() > 2 * few.len(), "{} persons with 200,000 source rows, {} by default", more.len(), few.len());
    let recurring = more.values().filter(|&&keys| keys >= 2).count();
    let most = more.values().max().copied().unwrap_or(0);
    assert!(recurring > 300 && most >= 20, "{recurring} persons under several keys, at most {most}");
}

type Marker = (&'static str, fn(&Post) -> bool);

/// Kinds of dirty and skewed values the batch cleans or counts.
const MARKERS: [Marker; 17] = [
    ("story posts", |post| post.pin.is_image_or_video == "multi-video(story page format)"),
    ("video posts", |post| post.pin.is_image_or_video == "video"),
    ("poster `User Info Error`", |post| post.pin.poster_name == "User Info Error"),
    ("image_src `Image src error.`", |post| post.pin.image_src == "Image src error."),
    ("tag_list placeholder", |post| post.pin.tag_list == NO_TAGS),
    ("description `No description available`", |post| post.pin.description == "No description available"),
    ("description `Untitled`", |post| post.pin.description == "Untitled"),
    ("title `\"\"`", |post| post.pin.title.is_empty()),
    ("title ending in a newline", |post| post.pin.title.ends_with('\n')),
    ("description cut off (U+00A0)", |post| post.pin.description.ends_with('\u{a0}')),
    ("follower count `1.5k`", |post| post.pin.follower_count.contains('.')),
    ("follower count in millions", |post| post.pin.follower_count.ends_with('M')),
    ("follower count without unit", |post| post.pin.follower_count.bytes().all(|byte| byte.is_ascii_digit())),
    ("timestamp not `YYYY-MM-DD HH:MM:SS`", |post| !spaced(&post.geo.timestamp)),
    ("date_joined not `YYYY-MM-DD HH:MM:SS`", |post| !spaced(&post.user.date_joined)),
    ("age 20", |post| post.user.age == 20),
    ("country starting with A", |post| post.geo.country.starts_with('A')),
];

fn spaced(datetime: &str) -> bool {
    let bytes = datetime.as_bytes();
    bytes.len() == 19 && bytes[4] == b'-' && bytes[10] == b' '
}

fn share(posts: &[Post], marker: fn(&Post) -> bool) -> f64 {
    posts.iter().filter(|post| marker(post)).count() as f64 / posts.len() as f64
}

#[test]
fn dirty_values_occur_at_the_default_rates_with_many_source_rows() {
    let default: Vec<Post> = Generator::new(SEED).take(20_000).collect();
    let many: Vec<Post> = Generator::with_source_rows(SEED, 200_000).take(20_000).collect();
    for (what, marker) in MARKERS {
        let (expected, found) = (share(&default, marker), share(&many, marker));
        // Within 30 %: the default's 11,150 rows and 6,000 posters are a sample themselves.
        assert!(
            found > 0.0 && (found - expected).abs() <= 0.3 * expected + 0.002,
            "{what}: {found:.4} vs {expected:.4}"
        );
    }
}
