//! Drawing posts from the source tables.

use crate::records::Post;
use crate::rng::{Rand, Stream};
use crate::tables::{SourceTables, SOURCE_ROWS};

/// An endless, deterministic stream of posts: rows of the seed's [`SourceTables`] drawn uniformly
/// **with replacement**, as the original emulator did, so exact duplicate posts occur (few when the
/// tables have many more rows than posts are drawn).
///
/// The same seed and row count always give the same tables and the same sequence of posts.
pub struct Generator {
    tables: SourceTables,
    rng: Rand,
}

impl Generator {
    /// The generator for `seed`, drawing from [`SOURCE_ROWS`] source rows.
    pub fn new(seed: u64) -> Self {
        Self::with_source_rows(seed, SOURCE_ROWS)
    }

    /// The generator for `seed`, drawing from `source_rows` source rows
    /// ([`SourceTables::with_rows`], whose panics it shares).
    pub fn with_source_rows(seed: u64, source_rows: usize) -> Self {
        Self { tables: SourceTables::with_rows(seed, source_rows), rng: Rand::new(seed, Stream::Draws) }
    }

    /// The tables posts are drawn from.
    pub fn tables(&self) -> &SourceTables {
        &self.tables
    }

    /// The next post (a copy of a randomly drawn source row).
    pub fn next_post(&mut self) -> Post {
        let row = self.next_row();
        self.tables.post(row)
    }

    /// The next drawn source row; [`Generator::next_post`] returns its post.
    pub(crate) fn next_row(&mut self) -> usize {
        self.rng.below(self.tables.rows())
    }
}

/// Never ends: take as many posts as needed.
impl Iterator for Generator {
    type Item = Post;

    fn next(&mut self) -> Option<Post> {
        Some(self.next_post())
    }
}
