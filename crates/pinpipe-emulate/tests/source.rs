//! The synthetic source against docs/SPEC.md §1: value domains and shares over drawn posts, and dumps.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use pinpipe_emulate::{dump, json_text, DumpSummary, Generator, Pin, Post, SourceTables, SOURCE_ROWS};
use serde_json::Value;

const SEED: u64 = 11;
const DRAWS: usize = 20_000;
const CATEGORIES: [&str; 13] = [
    "art",
    "beauty",
    "christmas",
    "diy-and-crafts",
    "education",
    "event-planning",
    "finance",
    "home-decor",
    "mens-fashion",
    "quotes",
    "tattoos",
    "travel",
    "vehicles",
];
const STORY: &str = "multi-video(story page format)";
const NO_TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
const USER_INFO_ERROR: &str = "User Info Error";

/// The generator of seed [`SEED`] and its first [`DRAWS`] posts, made once for all tests.
struct Fixture {
    generator: Generator,
    posts: Vec<Post>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut generator = Generator::new(SEED);
        let posts = generator.by_ref().take(DRAWS).collect();
        Fixture { generator, posts }
    })
}

fn posts() -> &'static [Post] {
    &fixture().posts
}

/// Every row of the generator's source tables, in key order.
fn source_rows() -> Vec<Post> {
    let tables: &SourceTables = fixture().generator.tables();
    (0..tables.rows()).map(|row| tables.post(row)).collect()
}

fn share(test: impl Fn(&Post) -> bool) -> f64 {
    posts().iter().filter(|post| test(post)).count() as f64 / DRAWS as f64
}

fn assert_share(what: &str, test: impl Fn(&Post) -> bool, expected: RangeInclusive<f64>) {
    let share = share(test);
    assert!(expected.contains(&share), "{what}: share {share:.4} outside {expected:?}");
}

/// `2020-08-28 03:52:47`, `2020-08-28T03:52:47` or `2020:08:28 03:52:47` as
/// (`YYYY-MM-DD HH:MM:SS`, form index 0/1/2); `None` for anything else.
fn datetime(text: &str) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let digits_at = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let shaped = bytes.len() == 19
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19].into_iter().all(digits_at)
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !shaped {
        return None;
    }
    let form = match (bytes[4], bytes[7], bytes[10]) {
        (b'-', b'-', b' ') => 0,
        (b'-', b'-', b'T') => 1,
        (b':', b':', b' ') => 2,
        _ => return None,
    };
    let canonical = format!("{}-{}-{} {}", &text[..4], &text[5..7], &text[8..10], &text[11..]);
    Some((canonical, form))
}

/// `^\d+(\.\d+)?[kM]?$`
fn is_follower_shape(text: &str) -> bool {
    let number = text.strip_suffix(['k', 'M']).unwrap_or(text);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "1"));
    [whole, fraction].iter().all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
}

fn is_uuid_v4(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && text.bytes().all(|byte| byte == b'-' || matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b'])
}

#[test]
fn every_triple_shares_its_key() {
    for post in posts() {
        assert_eq!(post.pin.index, post.geo.ind);
        assert_eq!(post.pin.index, post.user.ind);
        assert!((post.key() as usize) < SOURCE_ROWS, "{}", post.key());
    }
}

#[test]
fn posts_are_drawn_with_replacement_so_duplicates_occur() {
    let mut by_key: HashMap<u32, &Post> = HashMap::new();
    let mut repeats = 0;
    for post in posts() {
        if let Some(earlier) = by_key.insert(post.key(), post) {
            // A source row is always the same triple: same text, same datetime form.
            assert_eq!(earlier, post);
            repeats += 1;
        }
    }
    assert!(repeats > DRAWS / 4, "only {repeats} repeated posts");
}

#[test]
fn media_kinds_have_the_spec_shares() {
    let kind = |post: &Post, label: &str| post.pin.is_image_or_video == label;
    assert_share("image", |post| kind(post, "image"), 0.87..=0.93);
    assert_share("story", |post| kind(post, STORY), 0.05..=0.09);
    assert_share("video", |post| kind(post, "video"), 0.02..=0.045);
}

#[test]
fn all_13_categories_occur_and_name_the_save_location() {
    let seen: HashSet<&str> = posts().iter().map(|post| post.pin.category.as_str()).collect();
    assert_eq!(seen, HashSet::from(CATEGORIES));
    for post in posts() {
        let expected = format!("Local save in /data/{}", post.pin.category);
        assert_eq!(post.pin.save_location, expected);
    }
}

#[test]
fn broken_story_posts_carry_every_placeholder_together() {
    let broken: Vec<&Pin> =
        posts().iter().map(|post| &post.pin).filter(|pin| pin.title == "No Title Data Available").collect();
    assert!(broken.len() > DRAWS / 500, "only {} broken posts", broken.len());
    for pin in broken {
        assert_eq!(pin.is_image_or_video, STORY);
        assert_eq!(pin.description, "No description available Story format");
        assert_eq!(pin.poster_name, USER_INFO_ERROR);
        assert_eq!(pin.follower_count, USER_INFO_ERROR);
        assert_eq!(pin.tag_list, NO_TAGS);
        assert_eq!(pin.image_src, "Image src error.");
        assert_eq!(pin.downloaded, 0);
    }
}

#[test]
fn every_story_post_and_only_story_posts_say_story_format() {
    for pin in posts().iter().map(|post| &post.pin) {
        let story = pin.is_image_or_video == STORY;
        assert_eq!(pin.description == "No description available Story format", story);
    }
}

#[test]
fn other_placeholders_occur_at_small_shares() {
    let small = 0.0002..=0.03;
    assert_share(
        "description `No description available`",
        |post| post.pin.description == "No description available",
        small.clone(),
    );
    assert_share("description `Untitled`", |post| post.pin.description == "Untitled", small.clone());
    assert_share("title `\"\"`", |post| post.pin.title.is_empty(), small.clone());
    assert_share("image_src error", |post| post.pin.image_src == "Image src error.", small.clone());
    assert_share(
        "tags missing on intact posts",
        |post| post.pin.tag_list == NO_TAGS && post.pin.poster_name != USER_INFO_ERROR,
        small,
    );
}

#[test]
fn downloaded_is_0_exactly_when_the_image_is_missing() {
    for pin in posts().iter().map(|post| &post.pin) {
        let missing = pin.image_src == "Image src error.";
        assert_eq!(pin.downloaded, u8::from(!missing), "{pin:?}");
        assert!(missing || pin.image_src.starts_with("https://i.pinimg.com/"), "{}", pin.image_src);
    }
}

#[test]
fn follower_counts_are_strings_of_the_source_shapes() {
    for pin in posts().iter().map(|post| &post.pin) {
        let count = &pin.follower_count;
        assert!(is_follower_shape(count) || count == USER_INFO_ERROR, "{count:?}");
    }
    let unit = |post: &Post| {
        let count = &post.pin.follower_count;
        let last = count.chars().last();
        is_follower_shape(count).then(|| last.filter(|unit| matches!(unit, 'k' | 'M')))
    };
    assert_share("plain counts", |post| unit(post) == Some(None), 0.05..=0.4);
    assert_share("thousands", |post| unit(post) == Some(Some('k')), 0.4..=0.85);
    assert_share("millions", |post| unit(post) == Some(Some('M')), 0.02..=0.2);
    assert_share("decimal thousands (1.5k)", |post| post.pin.follower_count.contains('.'), 0.0005..=0.03);
}

#[test]
fn unique_ids_are_uuid_v4_and_unique_per_source_row() {
    let rows = source_rows();
    let ids: HashSet<&str> = rows.iter().map(|post| post.pin.unique_id.as_str()).collect();
    assert_eq!(ids.len(), SOURCE_ROWS);
    for id in ids {
        assert!(is_uuid_v4(id), "{id}");
    }
}

#[test]
fn source_tables_run_through_the_categories_in_key_order() {
    let posts = source_rows();
    assert_eq!(posts.len(), SOURCE_ROWS);
    for (row, post) in posts.iter().enumerate() {
        assert_eq!(post.key() as usize, row);
    }
    for pair in posts.windows(2) {
        assert!(pair[0].pin.category <= pair[1].pin.category, "keys {} and {}", pair[0].key(), pair[1].key());
    }
}

#[test]
fn free_text_has_commas_newlines_no_break_spaces_and_non_ascii() {
    let some = 0.0005..=0.9;
    assert_share("title with a comma", |post| post.pin.title.contains(','), some.clone());
    assert_share("title with a newline", |post| post.pin.title.contains('\n'), some.clone());
    assert_share("title with non-ASCII", |post| !post.pin.title.is_ascii(), some.clone());
    assert_share("description with a comma", |post| post.pin.description.contains(','), some.clone());
    assert_share("description ending in U+00A0", |post| post.pin.description.ends_with('\u{a0}'), some);
}

#[test]
fn ages_run_from_20_to_60_and_about_19_percent_are_20() {
    let ages: HashSet<u8> = posts().iter().map(|post| post.user.age).collect();
    assert_eq!(ages.iter().min(), Some(&20));
    assert_eq!(ages.iter().max(), Some(&60));
    assert_share("age 20", |post| post.user.age == 20, 0.15..=0.24);
}

#[test]
fn datetimes_fall_in_their_windows_in_three_forms() {
    let mut forms = [[0usize; 3]; 2];
    for post in posts() {
        let fields = [
            (&post.geo.timestamp, "2017-10-01 00:00:00"..="2022-10-31 23:59:59"),
            (&post.user.date_joined, "2015-10-01 00:00:00"..="2017-10-31 23:59:59"),
        ];
        for (field, (text, window)) in fields.into_iter().enumerate() {
            let (canonical, form) = datetime(text).unwrap_or_else(|| panic!("bad datetime {text:?}"));
            assert!(window.contains(&canonical.as_str()), "{text} outside {window:?}");
            forms[field][form] += 1;
        }
    }
    for counts in forms {
        let [spaced, iso, colons] = counts.map(|count| count as f64 / DRAWS as f64);
        assert!(spaced > 0.85, "{counts:?}");
        assert!((0.005..=0.08).contains(&iso) && (0.005..=0.08).contains(&colons), "{counts:?}");
    }
}

#[test]
fn coordinates_are_numbers_in_range_with_few_digits() {
    for geo in posts().iter().map(|post| &post.geo) {
        assert!((-90.0..=90.0).contains(&geo.latitude), "{}", geo.latitude);
        assert!((-180.0..=180.0).contains(&geo.longitude), "{}", geo.longitude);
        for value in [geo.latitude, geo.longitude] {
            let digits = value.abs().to_string().trim_start_matches(['0', '.']).replace('.', "").len();
            assert!(digits <= 6, "{value}");
        }
    }
}

#[test]
fn about_240_countries_skewed_to_names_starting_with_a() {
    let countries: HashSet<&str> = posts().iter().map(|post| post.geo.country.as_str()).collect();
    assert!((200..=250).contains(&countries.len()), "{} countries", countries.len());
    // 15 of ~240 names start with A; in the source a fifth or more of posts come from them.
    assert_share("country starting with A", |post| post.geo.country.starts_with('A'), 0.15..=0.45);
}

#[test]
fn the_same_person_recurs_under_several_keys_with_one_location() {
    let mut persons: HashMap<(&str, &str, u8, &str), HashSet<u32>> = HashMap::new();
    let mut places: HashMap<(&str, &str, u8, &str), (String, String)> = HashMap::new();
    for post in posts() {
        let user = &post.user;
        let person = (user.first_name.as_str(), user.last_name.as_str(), user.age, user.date_joined.as_str());
        persons.entry(person).or_default().insert(post.key());
        let place = (post.geo.country.clone(), format!("{} {}", post.geo.latitude, post.geo.longitude));
        assert_eq!(places.entry(person).or_insert_with(|| place.clone()), &place);
    }
    let recurring = persons.values().filter(|keys| keys.len() >= 2).count();
    let most = persons.values().map(HashSet::len).max().unwrap_or(0);
    assert!(recurring > 300, "{recurring} persons under several keys");
    assert!(most >= 20, "the most frequent person has only {most} keys");
}

#[test]
fn dump_is_byte_identical_for_a_seed_and_matches_the_generator() {
    let rows = 1_000;
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let summaries: Vec<DumpSummary> =
        dirs.iter().zip([SEED, SEED, SEED + 1]).map(|(dir, seed)| dump(dir.path(), rows, seed).unwrap()).collect();
    let mut expected = [String::new(), String::new(), String::new()];
    for post in &posts()[..rows] {
        for (text, record) in expected.iter_mut().zip(post.json_texts()) {
            text.push_str(&record);
            text.push('\n');
        }
    }
    for (name, text) in ["pin.jsonl", "geo.jsonl", "user.jsonl"].into_iter().zip(&expected) {
        let [first, second, other] = dirs.each_ref().map(|dir| fs::read(dir.path().join(name)).unwrap());
        assert_eq!(first, text.as_bytes(), "{name}");
        assert_eq!(first, second, "{name}");
        assert_ne!(first, other, "{name}");
    }
    let numbers = |summary: &DumpSummary| (summary.rows, summary.distinct_rows, summary.bytes);
    let keys: HashSet<u32> = posts()[..rows].iter().map(Post::key).collect();
    let bytes = expected.iter().map(|text| text.len() as u64).sum();
    assert_eq!(numbers(&summaries[0]), (rows, keys.len(), bytes));
    assert_eq!(numbers(&summaries[1]), numbers(&summaries[0]));
    let files = ["pin.jsonl", "geo.jsonl", "user.jsonl"].map(|name| dirs[0].path().join(name));
    assert_eq!(summaries[0].files, files);
}

#[test]
fn a_dump_reports_its_progress_and_writes_the_same_bytes() {
    let rows = 2 * pinpipe_emulate::DUMP_PROGRESS_EVERY + 7;
    let (plain, watched) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    dump(plain.path(), rows, SEED).unwrap();
    let mut reported = Vec::new();
    let generator = Generator::new(SEED);
    pinpipe_emulate::dump_with_progress(watched.path(), rows, generator, |written| reported.push(written)).unwrap();
    let every = pinpipe_emulate::DUMP_PROGRESS_EVERY;
    assert_eq!(reported, [every, 2 * every, rows]);
    for name in ["pin.jsonl", "geo.jsonl", "user.jsonl"] {
        assert!(fs::read(plain.path().join(name)).unwrap() == fs::read(watched.path().join(name)).unwrap(), "{name}");
    }
}

/// A field name and the test of its JSON type.
type Field = (&'static str, fn(&Value) -> bool);

#[test]
fn dumped_lines_keep_the_sample_field_order_and_json_types() {
    let post = &posts()[0];
    let records: [(String, &[Field]); 3] = [
        (
            json_text(&post.pin),
            &[
                ("index", Value::is_u64),
                ("unique_id", Value::is_string),
                ("title", Value::is_string),
                ("description", Value::is_string),
                ("poster_name", Value::is_string),
                ("follower_count", Value::is_string),
                ("tag_list", Value::is_string),
                ("is_image_or_video", Value::is_string),
                ("image_src", Value::is_string),
                ("downloaded", Value::is_u64),
                ("save_location", Value::is_string),
                ("category", Value::is_string),
            ],
        ),
        (
            json_text(&post.geo),
            &[
                ("ind", Value::is_u64),
                ("timestamp", Value::is_string),
                ("latitude", Value::is_f64),
                ("longitude", Value::is_f64),
                ("country", Value::is_string),
            ],
        ),
        (
            json_text(&post.user),
            &[
                ("ind", Value::is_u64),
                ("first_name", Value::is_string),
                ("last_name", Value::is_string),
                ("age", Value::is_u64),
                ("date_joined", Value::is_string),
            ],
        ),
    ];
    for (line, fields) in records {
        assert!(!line.contains('\n'), "{line}");
        let value: Value = serde_json::from_str(&line).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), fields.len(), "{line}");
        let mut previous = 0;
        for (name, has_type) in fields {
            let at = line.find(&format!("\"{name}\": ")).unwrap_or_else(|| panic!("{name} missing in {line}"));
            assert!(at >= previous, "{name} out of order in {line}");
            assert!(has_type(&object[*name]), "{name} has the wrong type in {line}");
            previous = at;
        }
    }
}
