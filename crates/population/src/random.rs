//! The crate's own pseudo-random generator, SplitMix64.
//!
//! Written here rather than taken from `rand` so that a population depends only on its seed:
//! a dependency upgrade that changes a generator's algorithm or its sampling would silently
//! change every citizen, and with them the demo and the tests that name them.
//! SplitMix64 is Steele, Lea and Flood, "Fast splittable pseudorandom number generators"
//! (OOPSLA 2014); the constants are the reference ones.

/// A SplitMix64 stream: 64 bits of state, one output per step.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream starting from `seed`; the same seed always gives the same stream.
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    ///
    /// Multiply-and-shift (Lemire, "Fast random integer generation in an interval", 2019)
    /// without the rejection step: the bias is below 2⁻⁴⁰ for the small bounds used here, and
    /// a fixed number of draws per call keeps the stream easy to reason about.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        // The high half of a 64×64-bit product always fits in 64 bits.
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// A number in `low..=high` (`low` when the range is empty).
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.below(high - low + 1)
    }

    /// True with probability `percent` / 100.
    pub(crate) fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index into a collection of `len` items (0 when empty).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        let bound = u64::try_from(len).unwrap_or(u64::MAX);
        usize::try_from(self.below(bound)).unwrap_or(0)
    }

    /// One item of `items`, or `fallback` when `items` is empty.
    ///
    /// The tables this crate picks from are constant and non-empty (a test says so); the
    /// fallback exists only because indexing would otherwise be a panic path.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T], fallback: &'a T) -> &'a T {
        let at = self.index(items.len());
        items.get(at).unwrap_or(fallback)
    }

    /// `count` decimal digits.
    pub(crate) fn digits(&mut self, count: usize) -> String {
        (0..count)
            .map(|_| char::from(b'0' + u8::try_from(self.below(10)).unwrap_or(0)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_gives_the_reference_outputs_for_seed_zero() {
        // First outputs of the reference C implementation (Vigna, prng.di.unimi.it/splitmix64.c)
        // seeded with 0: if these change, every population changes.
        let mut random = SplitMix64::new(0);
        assert_eq!(random.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(random.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(random.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn between_stays_inside_its_bounds() {
        let mut random = SplitMix64::new(7);
        for _ in 0..10_000 {
            let n = random.between(3, 9);
            assert!((3..=9).contains(&n));
        }
        assert_eq!(random.between(5, 5), 5);
        assert_eq!(random.between(6, 5), 6);
    }

    #[test]
    fn digits_gives_exactly_that_many_decimal_digits() {
        let mut random = SplitMix64::new(1);
        let digits = random.digits(13);
        assert_eq!(digits.len(), 13);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn pick_falls_back_only_on_an_empty_table() {
        let mut random = SplitMix64::new(1);
        assert_eq!(*random.pick(&[] as &[u8], &9), 9);
        assert_eq!(*random.pick(&[4], &9), 4);
    }
}
