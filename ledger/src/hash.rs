//! A fast hasher for the ledger's integer keys (account and transfer ids).
//!
//! Guarantees: deterministic (no random seed, so runs replay identically) and a few
//! multiply-rotate steps per key instead of SipHash's rounds, on the per-transfer path.
//! Must not be used for keys an outsider can choose freely: it offers no protection against
//! collision flooding. The switch derives transfer ids itself, never taking a bank's raw id.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Odd 64-bit constant (from the golden ratio) that spreads low bits into high ones.
const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// Multiply-rotate hasher for integer keys.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // Fold the well-mixed high half into the low bits the table indexes with.
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (w, b) in word.iter_mut().zip(chunk) {
                *w = *b;
            }
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_u128(&mut self, n: u128) {
        self.mix(n as u64);
        self.mix((n >> 64) as u64);
    }
}

/// A map keyed by ids, hashed with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash<T: Hash>(t: T) -> u64 {
        let mut h = IdHasher::default();
        t.hash(&mut h);
        h.finish()
    }

    #[test]
    fn sequential_ids_spread_over_low_bits() {
        let mut buckets = [0u32; 256];
        for id in 0u128..25_600 {
            buckets[(hash(id) & 255) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| n > 50 && n < 150), "{buckets:?}");
        assert_ne!(hash(1u128), hash(1u128 << 64));
    }
}
