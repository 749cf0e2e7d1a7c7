//! Pin records: media kind, free text, tags, image URL and the placeholders of docs/SPEC.md §1.

use crate::people::Person;
use crate::records::Pin;
use crate::rng::Rand;
use crate::vocab::{Category, ADJECTIVES, AUDIENCES, EMOJI, TAG_PREFIXES, TAG_SUFFIXES};

const NO_TITLE: &str = "No Title Data Available";
const STORY_DESCRIPTION: &str = "No description available Story format";
const USER_INFO_ERROR: &str = "User Info Error";
const NO_TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
const IMAGE_SRC_ERROR: &str = "Image src error.";

/// What a pin shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Media {
    Image,
    Video,
    Story,
}

const MEDIA_SHARES: [(Media, f64); 3] = [(Media::Image, 0.90), (Media::Story, 0.07), (Media::Video, 0.03)];

/// How much of a story pin the scraper got.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Damage {
    /// Everything.
    Intact,
    /// All but the image (`Image src error.`, downloaded 0).
    NoImage,
    /// Nothing: title, poster, follower count, tags and image are all placeholders.
    Broken,
}

const STORY_DAMAGE_SHARES: [(Damage, f64); 3] =
    [(Damage::Intact, 0.65), (Damage::NoImage, 0.24), (Damage::Broken, 0.11)];

/// Descriptions of image and video pins: mostly text, sometimes a placeholder.
const DESCRIPTION_PLACEHOLDERS: [(Option<&str>, f64); 3] =
    [(None, 0.983), (Some("No description available"), 0.015), (Some("Untitled"), 0.002)];

/// Share of pins whose title is `""`.
const EMPTY_TITLE_SHARE: f64 = 0.002;
/// Share of titles ending in a newline.
const TITLE_NEWLINE_SHARE: f64 = 0.003;
/// Share of otherwise intact pins whose tags are missing.
const MISSING_TAGS_SHARE: f64 = 0.007;
/// Share of descriptions long enough to be cut off (with `…` and U+00A0).
const LONG_DESCRIPTION_SHARE: f64 = 0.3;
/// Characters a description keeps before it is cut off.
const DESCRIPTION_LIMIT: usize = 176;
const TAGS_PER_PIN: usize = 9;
const IMAGE_EXTENSIONS: [(&str, f64); 4] = [("jpg", 0.82), ("png", 0.15), ("webp", 0.02), ("gif", 0.01)];

/// The media kind of a source row and how much of it was scraped.
#[derive(Clone, Copy)]
pub(crate) struct Kind {
    media: Media,
    damage: Damage,
}

impl Kind {
    /// A kind with the shares of docs/SPEC.md §1: image ~90%, story ~7%, video ~3%.
    pub(crate) fn draw(rng: &mut Rand) -> Self {
        let media = rng.weighted(&MEDIA_SHARES);
        let damage = match media {
            Media::Story => rng.weighted(&STORY_DAMAGE_SHARES),
            Media::Image | Media::Video => Damage::Intact,
        };
        Self { media, damage }
    }

    /// True when the pin shows `User Info Error` instead of its poster.
    pub(crate) fn hides_poster(self) -> bool {
        self.damage == Damage::Broken
    }

    fn label(self) -> &'static str {
        match self.media {
            Media::Image => "image",
            Media::Video => "video",
            Media::Story => "multi-video(story page format)",
        }
    }
}

/// The pin record of source row `key`, posted by `poster` in `category`.
pub(crate) fn pin(rng: &mut Rand, key: u32, category: &Category, kind: Kind, poster: &Person) -> Pin {
    let broken = kind.hides_poster();
    let (poster_name, follower_count) = if broken {
        (USER_INFO_ERROR.to_owned(), USER_INFO_ERROR.to_owned())
    } else {
        (poster.poster_name.clone(), poster.follower_count.clone())
    };
    let tags_missing = broken || rng.chance(MISSING_TAGS_SHARE);
    Pin {
        index: key,
        unique_id: uuid::Builder::from_random_bytes(rng.bytes16()).into_uuid().to_string(),
        title: if broken { NO_TITLE.to_owned() } else { title(rng, category.topics) },
        description: description(rng, kind, category.topics),
        poster_name,
        follower_count,
        tag_list: if tags_missing { NO_TAGS.to_owned() } else { tags(rng, category.topics) },
        is_image_or_video: kind.label().to_owned(),
        image_src: match kind.damage {
            Damage::Intact => image_src(rng, kind.media),
            Damage::NoImage | Damage::Broken => IMAGE_SRC_ERROR.to_owned(),
        },
        downloaded: u8::from(kind.damage == Damage::Intact),
        save_location: format!("Local save in /data/{}", category.name),
        category: category.name.to_owned(),
    }
}

fn title(rng: &mut Rand, topics: &[&str]) -> String {
    if rng.chance(EMPTY_TITLE_SHARE) {
        return String::new();
    }
    let mut title = headline(rng, topics);
    if rng.chance(TITLE_NEWLINE_SHARE) {
        title.push('\n');
    }
    title
}

fn headline(rng: &mut Rand, topics: &[&str]) -> String {
    let topic = rng.pick(topics);
    let other = rng.pick(topics);
    let adjective = rng.pick(ADJECTIVES);
    match rng.below(8) {
        0 => format!("{} {adjective} {topic} Ideas", 5 + rng.below(60)),
        1 => format!("{topic}, {other} and More"),
        2 => format!("How to Get Started with {topic}: Step by Step"),
        3 => format!("The Ultimate Guide to {topic}"),
        4 => format!("{adjective} {topic} for {}", rng.pick(AUDIENCES)),
        5 => format!("{topic} {}", rng.pick(EMOJI)),
        6 => format!("Best {topic} of {}", 2017 + rng.below(6)),
        _ => (*topic).to_owned(),
    }
}

fn description(rng: &mut Rand, kind: Kind, topics: &[&str]) -> String {
    if kind.media == Media::Story {
        return STORY_DESCRIPTION.to_owned();
    }
    match rng.weighted(&DESCRIPTION_PLACEHOLDERS) {
        Some(placeholder) => placeholder.to_owned(),
        None => prose(rng, topics),
    }
}

fn prose(rng: &mut Rand, topics: &[&str]) -> String {
    let sentences = if rng.chance(LONG_DESCRIPTION_SHARE) { 5 } else { 1 + rng.below(2) };
    let text: Vec<String> = (0..sentences).map(|_| sentence(rng, topics)).collect();
    cut_off(text.join(" "))
}

fn sentence(rng: &mut Rand, topics: &[&str]) -> String {
    let subject = rng.pick(topics);
    let topic = subject.to_lowercase();
    let other = rng.pick(topics).to_lowercase();
    let adjective = rng.pick(ADJECTIVES).to_lowercase();
    let count = 5 + rng.below(60);
    match rng.below(6) {
        0 => format!("Looking for {adjective} {topic}? Here are {count} ideas you will love."),
        1 => format!("{subject} made simple: tips, tricks and inspiration for every budget."),
        2 => format!("Save this pin for later and find more {topic} on the blog!"),
        3 => format!("Find the best {topic}, {other} and more in one place."),
        4 => format!("Our mission is to make {topic} easy — without the stress."),
        _ => format!("{},{:03} points • {count} comments", 1 + count % 9, rng.below(1000)),
    }
}

/// Long text cut off the way the source cuts it: at [`DESCRIPTION_LIMIT`] characters, then `…`
/// and a no-break space.
fn cut_off(text: String) -> String {
    if text.chars().count() <= DESCRIPTION_LIMIT {
        return text;
    }
    let kept: String = text.chars().take(DESCRIPTION_LIMIT - 1).collect();
    format!("{}…\u{a0}", kept.trim_end())
}

fn tags(rng: &mut Rand, topics: &[&str]) -> String {
    let tags: Vec<String> = (0..TAGS_PER_PIN).map(|_| tag(rng, topics)).collect();
    tags.join(",")
}

fn tag(rng: &mut Rand, topics: &[&str]) -> String {
    let topic = rng.pick(topics);
    match rng.below(3) {
        0 => (*topic).to_owned(),
        1 => format!("{} {topic}", rng.pick(TAG_PREFIXES)),
        _ => format!("{topic} {}", rng.pick(TAG_SUFFIXES)),
    }
}

/// A pinimg URL: the original image, or a video's thumbnail.
fn image_src(rng: &mut Rand, media: Media) -> String {
    let hash = rng.hex32();
    let folders = format!("{}/{}/{}", &hash[..2], &hash[2..4], &hash[4..6]);
    match media {
        Media::Image => {
            let extension = rng.weighted(&IMAGE_EXTENSIONS);
            format!("https://i.pinimg.com/originals/{folders}/{hash}.{extension}")
        }
        Media::Video | Media::Story => {
            format!("https://i.pinimg.com/videos/thumbnails/originals/{folders}/{hash}.0000001.jpg")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_off_with_an_ellipsis_and_no_break_space() {
        let long = "word, ".repeat(60);
        let cut = cut_off(long);
        assert!(cut.ends_with("word, w…\u{a0}"), "{cut:?}");
        assert!(cut.chars().count() <= DESCRIPTION_LIMIT + 1);
        assert_eq!(cut_off("short".to_owned()), "short");
    }
}
