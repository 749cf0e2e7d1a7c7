//! Topic and stream names (docs/SPEC.md §2): topics `<prefix>.pin|geo|user`, streams
//! `streaming-<prefix>-pin|geo|user`, the prefix being configuration. Which table a name feeds is
//! decided here and nowhere else.

use crate::table::Table;

/// Why a naming prefix cannot be used (the rules of the SAM template's `PinpipePrefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// Empty or longer than 40 characters.
    #[error("a prefix has 1 to 40 characters")]
    Length,
    /// A character that is not a letter, digit, `_` or `-`.
    #[error("a prefix has only letters, digits, '_' and '-'")]
    Character,
    /// Starts with `_` or `-`.
    #[error("a prefix starts with a letter or digit")]
    Start,
}

/// Checks a naming prefix: 1–40 characters of `A-Z a-z 0-9 _ -`, starting with a letter or digit
/// (valid in Kafka topic and Kinesis stream names).
pub fn validate_prefix(prefix: &str) -> Result<(), PrefixError> {
    if !(1..=40).contains(&prefix.len()) {
        return Err(PrefixError::Length);
    }
    if !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(PrefixError::Character);
    }
    if !prefix.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(PrefixError::Start);
    }
    Ok(())
}

/// The Kafka topic of `table` for a naming prefix: `<prefix>.<table>`.
pub fn topic_name(prefix: &str, table: Table) -> String {
    format!("{prefix}.{table}")
}

/// The Kinesis stream of `table` for a naming prefix: `streaming-<prefix>-<table>`.
pub fn stream_name(prefix: &str, table: Table) -> String {
    format!("streaming-{prefix}-{table}")
}

/// The table a topic of any prefix feeds (`<prefix>.pin` → pin; a bare `pin` too), for the stages
/// that land whatever topics they are given without knowing the prefix.
pub fn table_of_any_topic(topic: &str) -> Option<Table> {
    Table::from_name(topic.rsplit('.').next().unwrap_or(topic))
}

/// Kafka's rule for a topic name: 1–249 characters of `A-Z a-z 0-9 . _ -`, and neither `.` nor `..`.
pub fn is_kafka_topic_name(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic != "."
        && topic != ".."
        && topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The stream name of `arn:aws:kinesis:<region>:<account>:stream/<name>` (an enhanced fan-out
/// consumer's `…:stream/<name>/consumer/…` too).
pub fn stream_name_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let resource = parts.nth(2)?;
    if arn_word != "arn" || service != "kinesis" {
        return None;
    }
    let name = resource.strip_prefix("stream/")?.split('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// The three topics and three streams of one prefix, made once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    prefix: String,
    topics: [String; 3],
    streams: [String; 3],
}

impl Names {
    /// The names of `prefix` (check it first with [`validate_prefix`]).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            topics: Table::ALL.map(|table| topic_name(prefix, table)),
            streams: Table::ALL.map(|table| stream_name(prefix, table)),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`, in [`Table::ALL`] order.
    pub fn topics(&self) -> &[String; 3] {
        &self.topics
    }

    /// `streaming-<prefix>-pin`, `-geo`, `-user`, in [`Table::ALL`] order.
    pub fn streams(&self) -> &[String; 3] {
        &self.streams
    }

    /// The topic of `table`.
    pub fn topic(&self, table: Table) -> &str {
        &self.topics[table as usize]
    }

    /// The stream of `table`.
    pub fn stream(&self, table: Table) -> &str {
        &self.streams[table as usize]
    }

    /// The table `topic` feeds, if it is one of the three topics.
    pub fn table_of_topic(&self, topic: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|&table| self.topic(table) == topic)
    }

    /// The table `stream` feeds, if it is one of the three streams.
    pub fn table_of_stream(&self, stream: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|&table| self.stream(table) == stream)
    }
}

/// Orders two Kinesis sequence numbers (decimal strings without leading zeros, or zero-padded to
/// one width).
pub fn compare_sequence_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_prefixes_three_topics_and_streams_are_known() {
        let names = Names::new("0a1b2c");
        assert_eq!(names.topics(), &["0a1b2c.pin", "0a1b2c.geo", "0a1b2c.user"]);
        assert_eq!(names.streams(), &["streaming-0a1b2c-pin", "streaming-0a1b2c-geo", "streaming-0a1b2c-user"]);
        assert_eq!(names.table_of_topic("0a1b2c.geo"), Some(Table::Geo));
        assert_eq!(names.table_of_topic("0a1b2c.comments"), None);
        assert_eq!(names.table_of_topic("other.pin"), None);
        assert_eq!(names.table_of_topic("streaming-0a1b2c-pin"), None);
        assert_eq!(names.table_of_stream("streaming-0a1b2c-user"), Some(Table::User));
        assert_eq!(names.table_of_stream("0a1b2c.user"), None);
        assert_eq!(names.table_of_stream("streaming-0a1b2c-pin2"), None);
        assert_eq!(names.stream(Table::Pin), "streaming-0a1b2c-pin");
        assert_eq!(names.topic(Table::User), "0a1b2c.user");
    }

    #[test]
    fn any_prefix_topics_feed_their_table() {
        assert_eq!(table_of_any_topic("0a1b.pin"), Some(Table::Pin));
        assert_eq!(table_of_any_topic("my-prefix.geo"), Some(Table::Geo));
        assert_eq!(table_of_any_topic("user"), Some(Table::User));
        assert_eq!(table_of_any_topic("0a1b.clicks"), None);
        assert_eq!(table_of_any_topic("streaming-0a1b-pin"), None);
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        use std::cmp::Ordering;
        assert_eq!(compare_sequence_numbers("9", "10"), Ordering::Less);
        assert_eq!(compare_sequence_numbers("0010", "10"), Ordering::Equal);
        assert_eq!(
            compare_sequence_numbers(
                "49658370122746823958214527451932187136412563480199577602",
                "49658370122746823958214527451932187136412563480192237570"
            ),
            Ordering::Greater
        );
    }

    #[test]
    fn prefixes_follow_the_template_rules() {
        assert_eq!(validate_prefix("0a1b2c3d4e5f"), Ok(()));
        assert_eq!(validate_prefix("pinpipe-prod_2"), Ok(()));
        assert_eq!(validate_prefix(&"a".repeat(40)), Ok(()));
        assert_eq!(validate_prefix(""), Err(PrefixError::Length));
        assert_eq!(validate_prefix(&"a".repeat(41)), Err(PrefixError::Length));
        assert_eq!(validate_prefix("-lead"), Err(PrefixError::Start));
        assert_eq!(validate_prefix("has.dot"), Err(PrefixError::Character));
        assert_eq!(validate_prefix("has space"), Err(PrefixError::Character));
    }

    #[test]
    fn topic_names_and_stream_arns() {
        assert!(is_kafka_topic_name("0a1b.pin"));
        assert!(!is_kafka_topic_name("../x.pin"));
        assert!(!is_kafka_topic_name(".."));
        assert!(!is_kafka_topic_name(&"a".repeat(250)));
        assert_eq!(stream_name_of_arn("arn:aws:kinesis:us-east-1:1:stream/s"), Some("s"));
        assert_eq!(stream_name_of_arn("arn:aws:kinesis:us-east-1:1:stream/s/consumer/c:1"), Some("s"));
        assert_eq!(stream_name_of_arn("arn:aws:sqs:us-east-1:1:s"), None);
        assert_eq!(stream_name_of_arn("arn:aws:kinesis:us-east-1:1:stream/"), None);
    }
}
