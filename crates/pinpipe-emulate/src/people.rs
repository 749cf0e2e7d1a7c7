//! The persons behind the posts: each is one poster, with one user record and one location.
//!
//! Persons are ranked by popularity. A low rank means many rows (the person recurs under many
//! keys), many followers, and low quantiles for every attribute: young, joined early, names and
//! countries early in the alphabet, coordinates near -90/-180. Attributes agree only loosely
//! (each scales the person's quantile by its own noise), as in the real source.
//!
//! The seeded tables hold a [`Population`] of [`PERSONS`] persons. Tables built row by row hold a
//! [`LazyPopulation`] sized to their rows, whose persons are made on demand from their rank.

use crate::records::{Geo, User};
use crate::rng::{Rand, Stream};
use crate::time::{self, JOINED};
use crate::vocab::{ADJECTIVES, BRAND_NOUNS, CATEGORIES, COUNTRIES, FIRST_NAMES, LAST_NAMES};

/// Distinct persons (posters) behind the [`crate::SOURCE_ROWS`] rows of the seeded tables.
pub(crate) const PERSONS: usize = 6_000;
/// Rows pick the person of rank `⌊persons·u^POPULARITY⌋`, `u` uniform: low ranks post most.
const POPULARITY: f64 = 2.3;
/// Share of a poster's pins in their home category; the others are in a uniformly drawn one.
pub(crate) const HOME_CATEGORY_SHARE: f64 = 0.94;
/// Ranks whose home categories [`LazyPopulation::category_shares`] sums one by one; the rest of the
/// popularity mass, spread over millions of persons, is split evenly.
const EXACT_SHARE_RANKS: usize = 1 << 20;
/// Each attribute scales the odds `q / (1 - q)` of the person's quantile by `2^x`, `x` uniform in
/// `±ATTRIBUTE_NOISE`.
const ATTRIBUTE_NOISE: f64 = 1.0;

/// Ages run from `YOUNGEST` to `YOUNGEST + AGE_SPAN - 1` = 60.
const YOUNGEST: u8 = 20;
const AGE_SPAN: f64 = 41.0;
/// Significant digits of a coordinate.
const COORDINATE_DIGITS: i32 = 6;

/// log10(followers) is `FOLLOWERS_TOP - FOLLOWERS_SLOPE * quantile`, plus triangular noise of
/// half-width `FOLLOWER_JITTER`: popular posters tend to have many followers, but not all do.
const FOLLOWERS_TOP: f64 = 5.25;
const FOLLOWERS_SLOPE: f64 = 3.5;
const FOLLOWER_JITTER: f64 = 2.0;
/// The largest count: `15M`.
const MAX_FOLLOWERS: f64 = 15_000_000.0;
/// Share of persons with 1,000–9,999 followers whose count is written with a decimal (`1.5k`).
const DECIMAL_THOUSANDS_SHARE: f64 = 0.05;

/// One person: a poster, their user record and their location.
pub(crate) struct Person {
    first_name: &'static str,
    last_name: &'static str,
    age: u8,
    date_joined: String,
    country: &'static str,
    latitude: f64,
    longitude: f64,
    pub(crate) poster_name: String,
    pub(crate) follower_count: String,
}

impl Person {
    /// The person at popularity `quantile` (see [`quantile`]): every attribute centres on it.
    fn generate(rng: &mut Rand, quantile: f64) -> Self {
        let first_name = at_quantile(FIRST_NAMES, attribute(rng, quantile));
        let last_name = at_quantile(LAST_NAMES, attribute(rng, quantile));
        let joined = JOINED.at(attribute(rng, quantile));
        let followers = attribute(rng, quantile);
        Self {
            first_name,
            last_name,
            age: YOUNGEST + (attribute(rng, quantile) * AGE_SPAN) as u8,
            date_joined: time::stamp(rng, joined),
            country: at_quantile(COUNTRIES, attribute(rng, quantile)),
            latitude: coordinate(attribute(rng, quantile), 90.0),
            longitude: coordinate(attribute(rng, quantile), 180.0),
            poster_name: poster_name(rng, first_name, last_name),
            follower_count: follower_count(rng, followers),
        }
    }

    /// The geo record of this person's post `key` made at `timestamp`.
    pub(crate) fn geo(&self, key: u32, timestamp: String) -> Geo {
        Geo {
            ind: key,
            timestamp,
            latitude: self.latitude,
            longitude: self.longitude,
            country: self.country.to_owned(),
        }
    }

    /// This person's user record under `key`.
    pub(crate) fn user(&self, key: u32) -> User {
        User {
            ind: key,
            first_name: self.first_name.to_owned(),
            last_name: self.last_name.to_owned(),
            age: self.age,
            date_joined: self.date_joined.clone(),
        }
    }
}

/// Everyone who posts in the seeded tables, made from one random stream.
pub(crate) struct Population {
    /// By popularity rank, then the person whose posts hide the poster.
    persons: Vec<Person>,
    /// Each person's home category: the one most of their pins are in (an index into
    /// [`CATEGORIES`]).
    homes: Vec<usize>,
}

impl Population {
    pub(crate) fn generate(rng: &mut Rand) -> Self {
        let mut persons = Vec::with_capacity(PERSONS + 1);
        let mut homes = Vec::with_capacity(PERSONS + 1);
        let mut add = |rng: &mut Rand, rank: usize| {
            persons.push(Person::generate(rng, quantile(rank, PERSONS)));
            homes.push(rng.below(CATEGORIES.len()));
        };
        for rank in 0..PERSONS {
            add(rng, rank);
        }
        // Broken story posts show `User Info Error` as poster: one more, popular, person.
        let rank = popular_rank(rng, PERSONS);
        add(rng, rank);
        Self { persons, homes }
    }

    /// A poster, drawn by popularity, and their home category.
    pub(crate) fn draw(&self, rng: &mut Rand) -> (&Person, usize) {
        let rank = popular_rank(rng, PERSONS);
        (&self.persons[rank], self.homes[rank])
    }

    /// The person behind every post whose poster shows as `User Info Error`.
    pub(crate) fn hidden(&self) -> &Person {
        &self.persons[PERSONS]
    }
}

/// Everyone who posts in tables built row by row: `persons` persons, each made on demand from the
/// seed and their rank (their own random streams), so memory does not grow with the population.
/// Ranks, popularity and attributes follow [`Population`]'s distributions.
pub(crate) struct LazyPopulation {
    seed: u64,
    persons: usize,
    hidden: Person,
}

impl LazyPopulation {
    /// `persons` (at least 1) persons of `seed`.
    pub(crate) fn new(seed: u64, persons: usize) -> Self {
        let persons = persons.max(1);
        // As in [`Population`], one more, popular, person hides behind broken story posts.
        let mut rng = Rand::keyed(seed, Stream::Persons, persons as u64);
        let rank = popular_rank(&mut rng, persons);
        let hidden = Person::generate(&mut rng, quantile(rank, persons));
        Self { seed, persons, hidden }
    }

    /// The person of popularity `rank`.
    fn person(&self, rank: usize) -> Person {
        Person::generate(&mut Rand::keyed(self.seed, Stream::Persons, rank as u64), quantile(rank, self.persons))
    }

    /// The home category of the person of popularity `rank`, made without the person.
    fn home(&self, rank: usize) -> usize {
        Rand::keyed(self.seed, Stream::Homes, rank as u64).below(CATEGORIES.len())
    }

    /// A poster of a pin in `category`, drawn as [`Population::draw`] and the category draw after
    /// it would pick them, given that the pin is in `category`: a poster drawn by popularity is kept
    /// always when it is their home category, else with the odds of a stray pin.
    pub(crate) fn draw_in(&self, rng: &mut Rand, category: usize) -> Person {
        let stray = (1.0 - HOME_CATEGORY_SHARE) / CATEGORIES.len() as f64;
        loop {
            let rank = popular_rank(rng, self.persons);
            if self.home(rank) == category || rng.chance(stray / (HOME_CATEGORY_SHARE + stray)) {
                return self.person(rank);
            }
        }
    }

    /// The person behind every post whose poster shows as `User Info Error`.
    pub(crate) fn hidden(&self) -> &Person {
        &self.hidden
    }

    /// The share of pins in each category, as posters drawn by popularity and their home category
    /// make them.
    pub(crate) fn category_shares(&self) -> [f64; CATEGORIES.len()] {
        let stray = (1.0 - HOME_CATEGORY_SHARE) / CATEGORIES.len() as f64;
        let mut shares = [stray; CATEGORIES.len()];
        let exact = self.persons.min(EXACT_SHARE_RANKS);
        let below = |rank: usize| (rank as f64 / self.persons as f64).powf(POPULARITY.recip());
        for rank in 0..exact {
            shares[self.home(rank)] += HOME_CATEGORY_SHARE * (below(rank + 1) - below(rank));
        }
        let rest = HOME_CATEGORY_SHARE * (1.0 - below(exact)) / CATEGORIES.len() as f64;
        shares.map(|share| share + rest)
    }
}

/// The quantile every attribute of the person of popularity `rank` among `persons` centres on:
/// `(rank + ½) / persons`.
fn quantile(rank: usize, persons: usize) -> f64 {
    (rank as f64 + 0.5) / persons as f64
}

/// A rank in `0..persons`, low ranks far more often.
fn popular_rank(rng: &mut Rand, persons: usize) -> usize {
    ((persons as f64 * rng.unit().powf(POPULARITY)) as usize).min(persons - 1)
}

/// One attribute's quantile: the person's quantile with this attribute's noise.
fn attribute(rng: &mut Rand, quantile: f64) -> f64 {
    let octaves = ATTRIBUTE_NOISE * (2.0 * rng.unit() - 1.0);
    let odds = quantile / (1.0 - quantile) * octaves.exp2();
    odds / (1.0 + odds)
}

fn at_quantile<T: Copy>(items: &[T], quantile: f64) -> T {
    let index = (quantile * items.len() as f64) as usize;
    items[index.min(items.len() - 1)]
}

/// The coordinate at `quantile` of `-bound..bound`, to [`COORDINATE_DIGITS`] significant digits.
fn coordinate(quantile: f64, bound: f64) -> f64 {
    let value = bound * (2.0 * quantile - 1.0);
    if value == 0.0 {
        return value;
    }
    let magnitude = value.abs().log10().floor() as i32;
    let scale = 10f64.powi(COORDINATE_DIGITS - 1 - magnitude);
    (value * scale).round() / scale
}

fn poster_name(rng: &mut Rand, first: &str, last: &str) -> String {
    let adjective = rng.pick(ADJECTIVES);
    let noun = rng.pick(BRAND_NOUNS);
    match rng.below(6) {
        0 | 1 => format!("{first} {last}"),
        2 => format!("The {adjective} {noun}"),
        3 => format!("{first}'s {adjective} {noun}"),
        4 => format!("{adjective}{noun}.com"),
        _ => format!("{adjective} {noun} | {first} {last}"),
    }
}

/// The follower count of a person at popularity `quantile`, as the source writes it.
fn follower_count(rng: &mut Rand, quantile: f64) -> String {
    let jitter = FOLLOWER_JITTER * (rng.unit() + rng.unit() - 1.0);
    let followers = 10f64.powf(FOLLOWERS_TOP - FOLLOWERS_SLOPE * quantile + jitter);
    let count = followers.clamp(1.0, MAX_FOLLOWERS).round() as u64;
    follower_text(count, rng.chance(DECIMAL_THOUSANDS_SHARE))
}

/// `437`, `26k`, `991k`, `2M`; with `decimal`, 1,000–9,999 as `1.5k` (unless the tenth is 0).
fn follower_text(count: u64, decimal: bool) -> String {
    let tenths = (count + 50) / 100;
    let (whole, fraction) = (tenths / 10, tenths % 10);
    match count {
        0..=999 => count.to_string(),
        _ if decimal && whole < 10 && fraction > 0 => format!("{whole}.{fraction}k"),
        1_000..=999_499 => format!("{}k", (count + 500) / 1_000),
        _ => format!("{}M", (count + 500_000) / 1_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follower_counts_are_written_like_the_source() {
        let cases = [
            (437, false, "437"),
            (26_400, false, "26k"),
            (991_000, false, "991k"),
            (999_500, false, "1M"),
            (15_000_000, false, "15M"),
            (1_540, true, "1.5k"),
            (4_010, true, "4k"),
            (26_400, true, "26k"),
        ];
        for (count, decimal, text) in cases {
            assert_eq!(follower_text(count, decimal), text, "{count}");
        }
    }

    #[test]
    fn coordinates_keep_six_significant_digits() {
        assert_eq!(coordinate(0.0, 90.0), -90.0);
        assert_eq!(coordinate(0.006_501_1, 90.0), -88.8298);
        assert_eq!(coordinate(0.500_134_708_3, 180.0), 0.0484950);
    }
}
