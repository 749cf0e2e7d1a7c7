//! The source tables posts are drawn from.

use std::borrow::Cow;

use crate::lazy::LazyTables;
use crate::people::{Person, Population, HOME_CATEGORY_SHARE};
use crate::pins::{self, Kind};
use crate::records::Post;
use crate::rng::{Rand, Stream};
use crate::time::{self, POSTED};
use crate::vocab::CATEGORIES;

/// Rows in each source table by default (docs/SPEC.md §1: about 11,150).
pub const SOURCE_ROWS: usize = 11_150;
/// The most rows a source table can have: keys run from 0 to `rows - 1`, and a key is an int32
/// (docs/SPEC.md §1).
pub const MAX_SOURCE_ROWS: usize = 1 << 31;

/// The pin, geo and user source tables, row `k` of each table holding key `k`, built
/// deterministically from a seed and a row count.
///
/// With [`SOURCE_ROWS`] rows (the default), the tables are made whole from one random stream, as
/// the original emulator's database was, and held in memory. With any other count they are made
/// row by row: row `k` comes from its own random stream of the seed and `k`, and is made each time
/// it is asked for, so millions of rows cost no memory; posters are drawn from a population that
/// grows with the rows. Both follow the same distributions, and keys run through the categories in
/// order.
pub struct SourceTables(Tables);

enum Tables {
    Seeded(SeededTables),
    /// Boxed: a few hundred bytes, against the seeded tables' two vectors.
    Lazy(Box<LazyTables>),
}

impl SourceTables {
    /// The [`SOURCE_ROWS`] tables of `seed`: the same seed always gives the same tables.
    pub fn new(seed: u64) -> Self {
        Self(Tables::Seeded(SeededTables::new(seed)))
    }

    /// The tables of `seed` with `rows` rows each: the same seed and count always give the same
    /// tables; [`SOURCE_ROWS`] gives [`SourceTables::new`]'s.
    ///
    /// # Panics
    ///
    /// When `rows` is 0 or above [`MAX_SOURCE_ROWS`].
    pub fn with_rows(seed: u64, rows: usize) -> Self {
        assert!((1..=MAX_SOURCE_ROWS).contains(&rows), "source tables hold 1 to {MAX_SOURCE_ROWS} rows, not {rows}");
        if rows == SOURCE_ROWS {
            Self::new(seed)
        } else {
            Self(Tables::Lazy(Box::new(LazyTables::new(seed, rows))))
        }
    }

    /// Rows in each table.
    pub fn rows(&self) -> usize {
        match &self.0 {
            Tables::Seeded(tables) => tables.posts.len(),
            Tables::Lazy(tables) => tables.rows(),
        }
    }

    /// Row `row` of the three tables as a post (key `row`).
    ///
    /// # Panics
    ///
    /// When `row` is not below [`SourceTables::rows`].
    pub fn post(&self, row: usize) -> Post {
        match &self.0 {
            Tables::Seeded(tables) => tables.posts[row].clone(),
            Tables::Lazy(tables) => tables.post(row),
        }
    }

    /// Row `row`'s pin, geo and user JSON lines (with `\n`).
    pub(crate) fn lines(&self, row: usize) -> Cow<'_, [String; 3]> {
        match &self.0 {
            Tables::Seeded(tables) => Cow::Borrowed(&tables.lines[row]),
            Tables::Lazy(tables) => Cow::Owned(lines(&tables.post(row))),
        }
    }
}

/// A post's three records as JSON lines, each with its `\n`.
fn lines(post: &Post) -> [String; 3] {
    post.json_texts().map(|text| text + "\n")
}

/// The [`SOURCE_ROWS`] tables of a seed, made from one random stream and held whole.
struct SeededTables {
    posts: Vec<Post>,
    /// Each post's three records as JSON lines, rendered once for fast dumps.
    lines: Vec<[String; 3]>,
}

impl SeededTables {
    fn new(seed: u64) -> Self {
        let mut rng = Rand::new(seed, Stream::Tables);
        let population = Population::generate(&mut rng);
        let mut drafts: Vec<Draft> = (0..SOURCE_ROWS).map(|_| Draft::draw(&mut rng, &population)).collect();
        // Keys run through the categories in order, as in the real tables.
        drafts.sort_by_key(|draft| draft.category);
        let posts: Vec<Post> = drafts.iter().zip(0..).map(|(draft, key)| draft.build(&mut rng, key)).collect();
        let lines = posts.iter().map(lines).collect();
        Self { posts, lines }
    }
}

/// A source row before it has its key.
pub(crate) struct Draft<'a> {
    /// An index into [`CATEGORIES`].
    pub(crate) category: usize,
    pub(crate) kind: Kind,
    pub(crate) person: &'a Person,
}

impl<'a> Draft<'a> {
    fn draw(rng: &mut Rand, population: &'a Population) -> Self {
        let (poster, home) = population.draw(rng);
        let category = if rng.chance(HOME_CATEGORY_SHARE) { home } else { rng.below(CATEGORIES.len()) };
        let kind = Kind::draw(rng);
        let person = if kind.hides_poster() { population.hidden() } else { poster };
        Self { category, kind, person }
    }

    /// The row of key `key`: its pin's text, and when it was posted.
    pub(crate) fn build(&self, rng: &mut Rand, key: u32) -> Post {
        let pin = pins::pin(rng, key, &CATEGORIES[self.category], self.kind, self.person);
        let posted = POSTED.at(rng.unit());
        Post { pin, geo: self.person.geo(key, time::stamp(rng, posted)), user: self.person.user(key) }
    }
}
