//! The allow-list of topics and streams, built from the naming prefix (SPEC §2): topics
//! `<prefix>.pin|geo|user`, streams `streaming-<prefix>-pin|geo|user`. Nothing else is served.

/// The three source tables, in the order the API lists them.
pub const TABLES: [&str; 3] = ["pin", "geo", "user"];

/// The topic and stream names of one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    prefix: String,
    topics: [String; 3],
    streams: [String; 3],
}

impl Names {
    /// The names of `prefix` (validated by the caller, see `pinpipe_lake::config::validate_prefix`).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            topics: TABLES.map(|table| topic_name(prefix, table)),
            streams: TABLES.map(|table| stream_name(prefix, table)),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`.
    pub fn topics(&self) -> &[String; 3] {
        &self.topics
    }

    /// `streaming-<prefix>-pin`, `-geo`, `-user`.
    pub fn streams(&self) -> &[String; 3] {
        &self.streams
    }

    /// Whether `topic` is one of the three topics.
    pub fn is_topic(&self, topic: &str) -> bool {
        self.topics.iter().any(|known| known == topic)
    }

    /// Whether `stream` is one of the three streams.
    pub fn is_stream(&self, stream: &str) -> bool {
        self.streams.iter().any(|known| known == stream)
    }
}

pub use pinpipe_lake::config::{stream_name, topic_name};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_prefixes_three_topics_and_streams_are_known() {
        let names = Names::new("0a1b2c");
        assert_eq!(names.topics(), &["0a1b2c.pin", "0a1b2c.geo", "0a1b2c.user"]);
        assert_eq!(names.streams(), &["streaming-0a1b2c-pin", "streaming-0a1b2c-geo", "streaming-0a1b2c-user"]);
        assert!(names.is_topic("0a1b2c.geo"));
        assert!(!names.is_topic("0a1b2c.comments"));
        assert!(!names.is_topic("other.pin"));
        assert!(!names.is_topic("streaming-0a1b2c-pin"));
        assert!(names.is_stream("streaming-0a1b2c-user"));
        assert!(!names.is_stream("0a1b2c.user"));
        assert!(!names.is_stream("streaming-0a1b2c-pin2"));
    }
}
