//! The age groups of docs/SPEC.md §5 (`18-24`, `25-35`, `36-50`, `+50`; under 18 has none), in their
//! natural order. The queries (`sql/`) spell them as a `CASE`; a test holds the two the same.

/// The age groups, in their natural order: name, lowest and highest age (inclusive).
pub const AGE_GROUPS: [(&str, i32, i32); 4] =
    [("18-24", 18, 24), ("25-35", 25, 35), ("36-50", 36, 50), ("+50", 51, i32::MAX)];
