//! The source tables posts are drawn from.

use crate::people::{Person, Population};
use crate::pins::{self, Kind};
use crate::records::Post;
use crate::rng::{Rand, Stream};
use crate::time::{self, POSTED};
use crate::vocab::CATEGORIES;

/// Rows in each source table (docs/SPEC.md §1: about 11,150).
pub const SOURCE_ROWS: usize = 11_150;
/// Share of a poster's pins in their home category.
const HOME_CATEGORY_SHARE: f64 = 0.94;

/// The pin, geo and user source tables: [`SOURCE_ROWS`] rows each, row `k` of each table holding
/// key `k`. Built deterministically from a seed.
pub struct SourceTables {
    posts: Vec<Post>,
    /// Each post's three records as JSON lines (with `\n`), rendered once for fast dumps.
    lines: Vec<[String; 3]>,
}

impl SourceTables {
    /// The tables for `seed`: the same seed always gives the same tables.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rand::new(seed, Stream::Tables);
        let population = Population::generate(&mut rng);
        let mut drafts: Vec<Draft> = (0..SOURCE_ROWS).map(|_| Draft::draw(&mut rng, &population)).collect();
        // Keys run through the categories in order, as in the real tables.
        drafts.sort_by_key(|draft| draft.category);
        let posts: Vec<Post> = drafts.iter().zip(0..).map(|(draft, key)| draft.build(&mut rng, key)).collect();
        let lines = posts.iter().map(|post| post.json_texts().map(|text| text + "\n")).collect();
        Self { posts, lines }
    }

    /// Every source row as a post, in key order (row `k` has key `k`).
    pub fn posts(&self) -> &[Post] {
        &self.posts
    }

    /// Row `row`'s pin, geo and user JSON lines.
    pub(crate) fn lines(&self, row: usize) -> &[String; 3] {
        &self.lines[row]
    }
}

/// A source row before it has its key.
struct Draft<'a> {
    category: usize,
    kind: Kind,
    person: &'a Person,
}

impl<'a> Draft<'a> {
    fn draw(rng: &mut Rand, population: &'a Population) -> Self {
        let poster = population.draw(rng);
        let category = if rng.chance(HOME_CATEGORY_SHARE) { poster.home_category } else { rng.below(CATEGORIES.len()) };
        let kind = Kind::draw(rng);
        let person = if kind.hides_poster() { population.hidden() } else { poster };
        Self { category, kind, person }
    }

    fn build(&self, rng: &mut Rand, key: u32) -> Post {
        let pin = pins::pin(rng, key, &CATEGORIES[self.category], self.kind, self.person);
        let posted = POSTED.at(rng.unit());
        Post { pin, geo: self.person.geo(key, time::stamp(rng, posted)), user: self.person.user(key) }
    }
}
