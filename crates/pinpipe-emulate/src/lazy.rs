//! Source tables made row by row: any row count but the default's, millions included.

use crate::people::{LazyPopulation, PERSONS};
use crate::pins::Kind;
use crate::records::Post;
use crate::rng::{Rand, Stream};
use crate::tables::{Draft, SOURCE_ROWS};
use crate::vocab::CATEGORIES;

/// Tables whose row `k` is made on demand from the seed and `k` alone (its own random stream), so
/// they hold no rows. The category of key `k` follows from its place among the keys, which run
/// through the categories in order, each taking its share of the rows; the poster is drawn among
/// those who post in that category; everything else is drawn as in the seeded tables.
pub(crate) struct LazyTables {
    seed: u64,
    rows: usize,
    population: LazyPopulation,
    /// The key after the last row of each category.
    category_ends: [usize; CATEGORIES.len()],
}

impl LazyTables {
    /// The `rows` rows (1 to [`crate::MAX_SOURCE_ROWS`]) of `seed`.
    pub(crate) fn new(seed: u64, rows: usize) -> Self {
        // As many persons per row as the seeded tables have.
        let persons = (PERSONS as f64 * rows as f64 / SOURCE_ROWS as f64).round() as usize;
        let population = LazyPopulation::new(seed, persons);
        let shares = population.category_shares();
        let total: f64 = shares.iter().sum();
        let mut category_ends = [rows; CATEGORIES.len()];
        let mut before = 0.0;
        for (end, share) in category_ends.iter_mut().zip(shares) {
            before += share / total;
            *end = ((before * rows as f64).round() as usize).min(rows);
        }
        category_ends[CATEGORIES.len() - 1] = rows;
        Self { seed, rows, population, category_ends }
    }

    /// Rows in each table.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Row `row` of the three tables.
    pub(crate) fn post(&self, row: usize) -> Post {
        assert!(row < self.rows, "row {row} of {} source rows", self.rows);
        let key = u32::try_from(row).expect("keys are int32");
        let mut rng = Rand::keyed(self.seed, Stream::Rows, u64::from(key));
        let category = self.category(row);
        let kind = Kind::draw(&mut rng);
        // A broken story post hides whoever posted it.
        let poster = (!kind.hides_poster()).then(|| self.population.draw_in(&mut rng, category));
        let person = poster.as_ref().unwrap_or_else(|| self.population.hidden());
        Draft { category, kind, person }.build(&mut rng, key)
    }

    /// The category of row `row` (an index into [`CATEGORIES`]).
    fn category(&self, row: usize) -> usize {
        self.category_ends.partition_point(|&end| end <= row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_take_their_shares_of_the_keys_in_order() {
        let tables = LazyTables::new(3, 100_000);
        let counts = (0..tables.rows()).fold([0usize; CATEGORIES.len()], |mut counts, row| {
            counts[tables.category(row)] += 1;
            counts
        });
        assert_eq!(counts.iter().sum::<usize>(), 100_000);
        // Shares near 1/13 each, not exactly: popular posters weigh on their home categories.
        for count in counts {
            assert!((3_000..=13_000).contains(&count), "{counts:?}");
        }
        assert_eq!(tables.category(0), 0);
        assert_eq!(tables.category(99_999), CATEGORIES.len() - 1);
    }

    #[test]
    fn a_row_is_the_same_whenever_it_is_made() {
        let tables = LazyTables::new(3, 1_000);
        let later = LazyTables::new(3, 1_000);
        assert_eq!(tables.post(517), later.post(517));
        assert_eq!(tables.post(517).key(), 517);
        assert_ne!(tables.post(517).pin.unique_id, tables.post(518).pin.unique_id);
    }
}
