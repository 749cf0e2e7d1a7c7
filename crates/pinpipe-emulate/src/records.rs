//! The three source records of a post (docs/SPEC.md §1) and their as-posted JSON text.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// A pin record; fields in the order the source posts them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pin {
    /// Row key, shared with the post's geo and user records.
    pub index: u32,
    /// UUID v4, lowercase and hyphenated.
    pub unique_id: String,
    /// Free text, or a placeholder.
    pub title: String,
    /// Free text, or a placeholder.
    pub description: String,
    /// Who posted it, or `User Info Error`.
    pub poster_name: String,
    /// `437`, `26k`, `1.5k`, `2M` … or `User Info Error` (a string, as sent).
    pub follower_count: String,
    /// Comma-separated tags, or the spelled-out `No Tags Available` placeholder.
    pub tag_list: String,
    /// `image`, `video` or `multi-video(story page format)`.
    pub is_image_or_video: String,
    /// A pinimg URL, or `Image src error.`.
    pub image_src: String,
    /// 1, or 0 when the image could not be fetched.
    pub downloaded: u8,
    /// `Local save in /data/<category>`.
    pub save_location: String,
    /// One of the 13 categories.
    pub category: String,
}

/// A geo record: where and when the post was made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Geo {
    /// Row key.
    pub ind: u32,
    /// Post time, naive, in one of the three datetime forms.
    pub timestamp: String,
    /// -90..90.
    pub latitude: f64,
    /// -180..180.
    pub longitude: f64,
    /// Country or territory name.
    pub country: String,
}

/// A user record: the person behind the poster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    /// Row key.
    pub ind: u32,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// 20..=60.
    pub age: u8,
    /// Join time, naive, in one of the three datetime forms.
    pub date_joined: String,
}

/// One emulated post: the triple of records sharing one key.
#[derive(Clone, Debug, PartialEq)]
pub struct Post {
    /// The pin record.
    pub pin: Pin,
    /// The geo record.
    pub geo: Geo,
    /// The user record.
    pub user: User,
}

impl Post {
    /// The key the three records share.
    pub fn key(&self) -> u32 {
        self.pin.index
    }

    /// The pin, geo and user records as JSON text, each as [`json_text`] writes it.
    pub fn json_texts(&self) -> [String; 3] {
        [json_text(&self.pin), json_text(&self.geo), json_text(&self.user)]
    }
}

/// A record as the source posts it: one line of JSON, fields in declaration order, `", "` and
/// `": "` separators, non-ASCII text as raw UTF-8 (control characters escaped), no line end.
pub fn json_text<T: Serialize>(record: &T) -> String {
    let mut out = Vec::with_capacity(512);
    record
        .serialize(&mut serde_json::Serializer::with_formatter(&mut out, SpacedFormatter))
        .expect("records hold only strings and finite numbers");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// serde_json's compact output with a space after each `,` and `:` between object members.
struct SpacedFormatter;

impl Formatter for SpacedFormatter {
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_spaces_members_and_keeps_field_order() {
        let geo = Geo {
            ind: 4,
            timestamp: "2022-07-07 00:18:41".into(),
            latitude: -88.8298,
            longitude: 0.0485475,
            country: "Côte\n".into(),
        };
        let expected = concat!(
            r#"{"ind": 4, "timestamp": "2022-07-07 00:18:41", "#,
            r#""latitude": -88.8298, "longitude": 0.0485475, "country": "Côte\n"}"#,
        );
        assert_eq!(json_text(&geo), expected);
    }
}
