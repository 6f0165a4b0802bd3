//! A small deterministic generator, so a seed always writes the same data.
use super::*;

/// splitmix64: tiny, fast and well mixed. For test data only, never secrets.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; 0 when `n` is 0. Multiply-shift rather than `%`:
    /// no division, and a bias of at most n / 2^64, nothing for test data.
    pub(super) fn below(&mut self, n: usize) -> usize {
        // a 64-bit draw times n, shifted down by 64, is below n: it always
        // fits, and the fallback is never taken
        usize::try_from((u128::from(self.next_u64()) * n as u128) >> 64).unwrap_or(0)
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let width = u128::from(hi.abs_diff(lo)) + 1;
        // below width, so lo + offset is at most hi: neither fallback is taken
        let offset = (u128::from(self.next_u64()) * width) >> 64;
        lo.checked_add_unsigned(u64::try_from(offset).unwrap_or(0))
            .unwrap_or(hi)
    }

    pub(super) fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    /// A uniform draw from `items`; `T::default()` for an empty list,
    /// which no caller passes.
    pub(super) fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        nth(items, self.below(items.len()))
    }

    /// A well-formed version 4 UUID made of PRNG bytes.
    pub(super) fn uuid(&mut self) -> Uuid {
        let high = self.next_u64();
        let low = self.next_u64();
        let bytes = ((u128::from(high) << 64) | u128::from(low)).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// `items[i % len]`, round and round; `T::default()` for an empty list,
/// which no caller passes.
pub(super) fn nth<T: Copy + Default>(items: &[T], i: usize) -> T {
    i.checked_rem(items.len())
        .and_then(|i| items.get(i))
        .copied()
        .unwrap_or_default()
}

/// Gives each tenant its own stream, so that "demo" and "scale-1" seeded
/// with the same number do not share ids.
pub(super) fn stream_seed(seed: u64, slug: &str) -> u64 {
    // FNV-1a
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in slug.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    seed ^ h
}
