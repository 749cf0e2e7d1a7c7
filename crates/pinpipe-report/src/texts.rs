//! What each query is called in the report, the question docs/SPEC.md §5 asks, and its rule in words,
//! plus what each kind of refusal means (docs/SPEC.md §3).

use pinpipe_contract::RejectKind;

/// The words the report shows for one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryText {
    /// The query id (`q1`, …).
    pub id: &'static str,
    /// The title a reader understands.
    pub title: &'static str,
    /// The question of docs/SPEC.md §5, verbatim.
    pub question: &'static str,
    /// How the result is computed, in words (docs/SPEC.md §5).
    pub rule: &'static str,
}

/// The median every median query takes (docs/SPEC.md §5).
pub const MEDIAN_RULE: &str = "The median is the exact lower median of the non-NULL follower counts, one value per \
    joined post row: sorted, the value at 1-based position ⌈n/2⌉. A group with no non-NULL value has a NULL median.";

/// The age groups every age query uses (docs/SPEC.md §5).
pub const AGE_GROUP_RULE: &str = "Age groups are 18-24, 25-35, 36-50 and +50 (inclusive; above 50 is +50); users \
    under 18 or without an age have no group and are left out.";

/// Every query's words, in docs/SPEC.md order.
pub const QUERY_TEXTS: [QueryText; 11] = [
    QueryText {
        id: "q1",
        title: "Most popular category in each country",
        question: "most popular category per country (pin⋈geo)",
        rule: "Every pin joined to its geolocation (inner join on ind). Posts are counted per country and category; \
            for each country, every category tied at the highest count is kept. A NULL country or category forms \
            its own group.",
    },
    QueryText {
        id: "q2a",
        title: "Posts per category and year, 2018–2022",
        question: "posts per category per post year, 2018–2022 (pin⋈geo)",
        rule: "Every pin joined to its geolocation (inner join on ind). The post year is the year of the geo \
            timestamp; posts of 2018 to 2022 are counted per post year and category.",
    },
    QueryText {
        id: "q2b",
        title: "Most popular category each year, 2018–2022",
        question: "most popular category per post year, 2018–2022",
        rule: "From the counts per post year and category (q2a, 2018 to 2022): for each post year, every category \
            tied at the highest count is kept.",
    },
    QueryText {
        id: "q3a",
        title: "Most-followed user in each country",
        question: "user(s) with most followers per country: per country the max non-NULL follower_count, all distinct (country, poster_name, count) rows at it",
        rule: "Every pin joined to its geolocation (inner join on ind). For each country, the highest non-NULL \
            follower_count among its posts, and every distinct (country, poster_name, follower_count) row that has \
            it.",
    },
    QueryText {
        id: "q3b",
        title: "The country with the most-followed user",
        question: "country with the most-followed user: one row, from q3a ordered by follower_count desc, country asc",
        rule: "One row: the first row of q3a ordered by follower_count descending, then country ascending.",
    },
    QueryText {
        id: "q4",
        title: "Most popular category per age group",
        question: "most popular category per age group (pin⋈user)",
        rule: "Every pin joined to its user (inner join on ind). Posts are counted per age group and category; for \
            each age group, every category tied at the highest count is kept.",
    },
    QueryText {
        id: "q5",
        title: "Median follower count per age group",
        question: "median follower_count per age group (pin⋈user)",
        rule: "Every pin joined to its user (inner join on ind); the median follower count of each age group.",
    },
    QueryText {
        id: "q6",
        title: "Users who joined each year, 2015–2020",
        question: "users joined per year 2015–2020: distinct (user_name, age, date_joined) persons by join year",
        rule: "Distinct persons, a person being a distinct (user_name, age, date_joined), counted by the year of \
            date_joined, 2015 to 2020. The year column is named post_year, as in the original queries, but holds \
            the join year.",
    },
    QueryText {
        id: "q7",
        title: "Median follower count by year joined, 2015–2020",
        question: "median follower_count by join year 2015–2020 (pin⋈user, every age)",
        rule: "Every pin joined to its user (inner join on ind), every age included; the median follower count per \
            join year (the year of date_joined, 2015 to 2020, in the column post_year).",
    },
    QueryText {
        id: "q8",
        title: "Median follower count by age group and year joined, 2015–2020",
        question: "median follower_count by age group and join year 2015–2020 (pin⋈user)",
        rule: "Every pin joined to its user (inner join on ind); the median follower count per age group and join \
            year (the year of date_joined, 2015 to 2020, in the column post_year).",
    },
    QueryText {
        id: "q9",
        title: "Median follower count by age group and post year, 2018–2022",
        question: "median follower_count by age group and post year 2018–2022 (pin⋈geo⋈user)",
        rule: "Every pin joined to its geolocation and its user (inner joins on ind); the median follower count per \
            age group and post year (the year of the geo timestamp, 2018 to 2022).",
    },
];

/// The words of query `id`, if it is one of docs/SPEC.md §5.
pub fn query_text(id: &str) -> Option<&'static QueryText> {
    QUERY_TEXTS.iter().find(|text| text.id == id)
}

/// Whether query `id` uses age groups or medians, so its rule is followed by theirs.
pub(crate) fn uses_age_groups(id: &str) -> bool {
    matches!(id, "q4" | "q5" | "q8" | "q9")
}

/// Whether query `id` computes medians.
pub(crate) fn uses_medians(id: &str) -> bool {
    matches!(id, "q5" | "q7" | "q8" | "q9")
}

/// What a kind of refusal means (docs/SPEC.md §3).
pub fn reject_kind_meaning(kind: RejectKind) -> &'static str {
    match kind {
        RejectKind::NotJson => "the record is not valid JSON",
        RejectKind::NotObject => "the record is JSON but not an object",
        RejectKind::MissingKey => "the object has no key field (index/ind), or it is null",
        RejectKind::KeyNotInteger => "the key is not a JSON integer",
        RejectKind::KeyOutOfRange => "the key is an integer outside the int32 range",
        RejectKind::DuplicateField => "a field occurs twice in the object, so its value is ambiguous",
        RejectKind::MissingValue => "the Kafka record has no value",
        RejectKind::NotBase64 => "the Kafka record's value is not base64",
        RejectKind::NotUtf8 => "the record's bytes are not UTF-8",
        RejectKind::LineBreak => "the value holds a raw line break",
        RejectKind::UnknownTopic => "the topic feeds no table",
        RejectKind::UnknownStream => "the stream feeds no table",
    }
}

/// The kind named `name` in a manifest (`not_json`, …), if it is one pinpipe knows.
pub(crate) fn reject_kind(name: &str) -> Option<RejectKind> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinpipe_core::queries::QUERIES;

    #[test]
    fn every_query_has_its_words_and_its_question_is_the_specs() {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/SPEC.md")).unwrap();
        let section = &spec[spec.find("## 5.").unwrap()..spec.find("## 6.").unwrap()];
        for (query, text) in QUERIES.iter().zip(&QUERY_TEXTS) {
            assert_eq!(query.id, text.id);
            let row = format!("| {} | {} |", text.id, text.question);
            assert!(section.contains(&row), "docs/SPEC.md §5 has no row {row}");
        }
        assert_eq!(query_text("q3b").unwrap().title, "The country with the most-followed user");
        assert!(query_text("q10").is_none());
    }

    #[test]
    fn kinds_are_read_by_their_manifest_names() {
        assert_eq!(reject_kind("not_json"), Some(RejectKind::NotJson));
        assert_eq!(reject_kind("key_out_of_range"), Some(RejectKind::KeyOutOfRange));
        assert_eq!(reject_kind("something_new"), None);
    }
}
