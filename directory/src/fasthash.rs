//! A fast seeded hasher for the directory's maps (hot path: every resolve hashes a key).
//!
//! std's SipHash was 12% of bulk-load time. This one folds 8 bytes at a time with a 64x64->128
//! multiply. Guarantees: same seed, same hashes (only iteration order depends on it, and no
//! result does). Must not: be used where an attacker sees hashes; seed it from a random
//! source in production ([`crate::DirectoryConfig::hash_seed`]) so crafted keys cannot be
//! aimed at one bucket.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    (p as u64) ^ ((p >> 64) as u64)
}

/// Builds [`FastHasher`]s with one seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeededState(pub(crate) u64);

impl Default for SeededState {
    /// A fixed seed, for maps whose keys no outsider chooses (participants).
    fn default() -> Self {
        SeededState(0x0d1c_7000_5eed_0002)
    }
}

impl BuildHasher for SeededState {
    type Hasher = FastHasher;
    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0 ^ K)
    }
}

/// The hasher.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = fold(self.0 ^ u64::from_le_bytes(w), K);
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(rest) {
            *d = *s;
        }
        let len = bytes.len() as u64;
        self.0 = fold(self.0 ^ u64::from_le_bytes(w), K ^ len.rotate_left(32));
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = fold(self.0 ^ i, K);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        fold(self.0, K.rotate_left(17))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn hashes_spread_and_depend_on_the_seed() {
        let s = SeededState(1);
        let hashes: HashSet<u64> =
            (0..100_000).map(|i| s.hash_one(format!("user{i}@example.com"))).collect();
        assert_eq!(hashes.len(), 100_000);
        // The low 7 bits (hashbrown's control byte) and the low 16 bits spread too.
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0xffff).collect();
        // 100,000 random values in 65,536 slots fill about 51,300 of them.
        assert!(low.len() > 50_000, "{}", low.len());
        assert_ne!(s.hash_one("a"), SeededState(2).hash_one("a"));
        assert_eq!(s.hash_one("a"), SeededState(1).hash_one("a"));
        assert_ne!(s.hash_one("ab"), s.hash_one("ab\0"));
    }
}
