//! The seeded random source behind every generated value.

use rand_pcg::rand_core::Rng;
use rand_pcg::Pcg64Mcg;

/// Independent random streams of one seed: building the source tables, drawing posts, and (for
/// tables built row by row, see [`Rand::keyed`]) one stream per source row, per person and per
/// person's home category.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Tables = 1,
    Draws = 2,
    Rows = 3,
    Persons = 4,
    Homes = 5,
}

/// A seeded random source whose output depends on nothing but the seed.
///
/// Only PCG's raw 64-bit output is used (a fixed, published algorithm); floats, ranges and picks
/// are derived here, so a seed gives the same values on every platform and with every version of
/// the `rand` crates.
pub(crate) struct Rand(Pcg64Mcg);

impl Rand {
    /// The generator for `stream` of `seed`; nearby seeds give unrelated sequences.
    pub(crate) fn new(seed: u64, stream: Stream) -> Self {
        Self::from_state(stream_state(seed, stream))
    }

    /// The generator of item `key` (a row, a person) in `stream` of `seed`: each item has its own
    /// sequence, so any item can be made alone, in any order. Distinct keys start from distinct
    /// states.
    pub(crate) fn keyed(seed: u64, stream: Stream, key: u64) -> Self {
        let mut state = stream_state(seed, stream);
        Self::from_state(splitmix64(&mut state) ^ key)
    }

    fn from_state(mut state: u64) -> Self {
        let high = splitmix64(&mut state);
        let low = splitmix64(&mut state);
        Self(Pcg64Mcg::new((u128::from(high) << 64) | u128::from(low)))
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in `0..n` (multiply-shift: the bias is below 2⁻⁵⁰ for the `n` used here).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.0.next_u64()) * n as u128) >> 64) as usize
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniformly chosen element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An item chosen with probability proportional to its share.
    pub(crate) fn weighted<T: Copy>(&mut self, shares: &[(T, f64)]) -> T {
        let total: f64 = shares.iter().map(|&(_, share)| share).sum();
        let mut rest = self.unit() * total;
        for &(item, share) in shares {
            if rest < share {
                return item;
            }
            rest -= share;
        }
        shares[shares.len() - 1].0
    }

    /// 16 random bytes.
    pub(crate) fn bytes16(&mut self) -> [u8; 16] {
        let high = self.0.next_u64().to_le_bytes();
        let low = self.0.next_u64().to_le_bytes();
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&high);
        bytes[8..].copy_from_slice(&low);
        bytes
    }

    /// 32 random lowercase hexadecimal digits.
    pub(crate) fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.0.next_u64(), self.0.next_u64())
    }
}

fn stream_state(seed: u64, stream: Stream) -> u64 {
    seed ^ (stream as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// SplitMix64: spreads a seed's bits over the whole state, so seeds 0, 1, 2… start far apart.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_stream() {
        // Pinned values: a change here changes every dump made from a seed.
        let mut rng = Rand::new(42, Stream::Tables);
        let first: Vec<usize> = (0..4).map(|_| rng.below(1_000_000)).collect();
        assert_eq!(first, PINNED_SEED_42);
    }

    #[test]
    fn streams_and_seeds_differ() {
        let mut a = Rand::new(7, Stream::Tables);
        let mut b = Rand::new(7, Stream::Draws);
        let mut c = Rand::new(8, Stream::Tables);
        let (x, y, z) = (a.hex32(), b.hex32(), c.hex32());
        assert!(x != y && x != z && y != z);
    }

    #[test]
    fn keyed_streams_are_fixed_per_key_and_differ_between_keys() {
        let first = |seed, key| Rand::keyed(seed, Stream::Rows, key).hex32();
        assert_eq!(first(7, 3), first(7, 3));
        let distinct: std::collections::HashSet<String> = (0..1_000).map(|key| first(7, key)).collect();
        assert_eq!(distinct.len(), 1_000);
        assert_ne!(first(7, 3), first(8, 3));
        assert_ne!(first(7, 3), Rand::keyed(7, Stream::Persons, 3).hex32());
    }

    #[test]
    fn weighted_follows_the_shares() {
        let mut rng = Rand::new(1, Stream::Draws);
        let hits = (0..10_000).filter(|_| rng.weighted(&[(true, 0.2), (false, 0.8)])).count();
        assert!((1_800..2_200).contains(&hits), "{hits}");
    }

    const PINNED_SEED_42: [usize; 4] = [77713, 941555, 893081, 565285];
}
