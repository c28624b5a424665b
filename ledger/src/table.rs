//! The ledger's transfer table: every remembered transfer, found by id.
//! PERFORMANCE CRITICAL PATH: each reserve, post and compaction goes through here.
//!
//! Layout, chosen for the cache: records (id and content, 64 bytes, one cache line) live in
//! a dense slab; the hash index holds only 4-byte words, a slot number with a few more bits
//! of the id's hash above it (a tag), so for the live set of a switch (tens of thousands of
//! transfers) the index stays in the L2 cache while the slab does not, and looking up a new
//! id almost never reads a slab line (the tag tells it apart first). Freed slots are reused
//! first in, first out: transfers are finalized and compacted roughly in the order they were
//! created, so new records are written in address order and the hardware prefetcher sees a
//! stream instead of random cold lines. Compaction drops a transfer by its slot and stored
//! hash without reading its record. An insertion writes the index before the (probably
//! cold) slab line, so that a lookup right after it does not wait behind that store.
//!
//! Guarantees: at most one record per id; a slot number stays valid until that record is
//! removed. Must not: decide anything about money (the ledger does), or allocate on the
//! per-transfer path once the live set has been reached.

use std::collections::VecDeque;
use std::hash::{BuildHasher, BuildHasherDefault};

use hashbrown::HashTable;

use crate::hash::IdHasher;
use crate::{TransferId, TransferRecord};

/// One slab entry: the id beside its record, one 64-byte cache line.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: TransferId,
    record: TransferRecord,
}

/// Transfers by id: a slab of records and an index of tagged slot numbers.
#[derive(Debug, Clone)]
pub(crate) struct TransferTable {
    /// Each word: `tag << slot_bits | slot`.
    index: HashTable<u32>,
    slab: Vec<Entry>,
    /// Slots freed by `remove`, reused oldest first.
    free: VecDeque<u32>,
    /// Bits of an index word holding the slot (at most 32); the rest hold the tag.
    slot_bits: u32,
    /// `(1 << slot_bits) - 1`.
    mask: u32,
}

impl Default for TransferTable {
    fn default() -> Self {
        TransferTable::with_slots_max(u32::MAX as usize)
    }
}

/// The hash of a transfer id (what `remove` needs back).
#[inline]
pub(crate) fn hash_id(id: TransferId) -> u64 {
    BuildHasherDefault::<IdHasher>::default().hash_one(id)
}

impl TransferTable {
    /// A table that will never hold more than `slots_max` records at once (the ledger's
    /// `transfers_max`): the fewer slot bits, the longer the tag.
    pub(crate) fn with_slots_max(slots_max: usize) -> TransferTable {
        let highest = slots_max.clamp(2, u32::MAX as usize) - 1;
        let slot_bits = usize::BITS - highest.leading_zeros();
        let mask = ((1u64 << slot_bits) - 1) as u32;
        TransferTable {
            index: HashTable::new(),
            slab: Vec::new(),
            free: VecDeque::new(),
            slot_bits,
            mask,
        }
    }

    #[inline]
    fn slot_mask(&self) -> u32 {
        self.mask
    }

    /// The index word of `slot` for an id hashing to `hash`: the tag is hash bits 32 and up
    /// (apart from the bits the table indexes with and from the 7 top bits it keeps in its
    /// control bytes), shifted above the slot; with 32 slot bits there is no tag.
    #[inline]
    fn word(&self, hash: u64, slot: u32) -> u32 {
        (((hash >> 32) << self.slot_bits) as u32) | slot
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Make room for `additional` more records without growing on the per-transfer path.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let (slab, mask) = (&self.slab, self.slot_mask());
        self.index.reserve(additional, |&w| slot_hash(slab, w & mask));
        let spare = self.free.len() + (self.slab.capacity() - self.slab.len());
        self.slab.reserve(additional.saturating_sub(spare));
    }

    /// The slot holding `id`, if any.
    #[inline]
    pub(crate) fn find(&self, id: TransferId, hash: u64) -> Option<u32> {
        let (slab, mask) = (&self.slab, self.slot_mask());
        let tag = self.word(hash, 0);
        let eq = |&w: &u32| {
            w & !mask == tag && slab.get((w & mask) as usize).is_some_and(|e| e.id == id)
        };
        self.index.find(hash, eq).map(|&w| w & mask)
    }

    /// The record of `id`, if any.
    #[inline]
    pub(crate) fn get(&self, id: TransferId) -> Option<&TransferRecord> {
        let s = self.find(id, hash_id(id))?;
        self.slab.get(s as usize).map(|e| &e.record)
    }

    /// The record of `id` with its slot, if any.
    #[inline]
    pub(crate) fn get_mut(&mut self, id: TransferId) -> Option<(u32, &mut TransferRecord)> {
        let s = self.find(id, hash_id(id))?;
        self.slab.get_mut(s as usize).map(|e| (s, &mut e.record))
    }

    /// Add a record for an id that is not present (the caller checked with `find`); returns
    /// its slot. `hash` is `hash_id(id)`.
    #[inline]
    pub(crate) fn insert_new(&mut self, id: TransferId, hash: u64, record: TransferRecord) -> u32 {
        let reused = self.free.pop_front();
        // The ledger never remembers more than `transfers_max` transfers (`check_room`), so
        // the slab never grows past the slots the index words have room for.
        let slot = reused.unwrap_or_else(|| u32::try_from(self.slab.len()).unwrap_or(u32::MAX));
        let mask = self.slot_mask();
        if slot > mask {
            crate::invariant_broken("transfer slot beyond transfers_max");
        }
        // Index first (hot lines), slab line last: see the module documentation. A rehash
        // here must not read the slab at `slot`, which still holds an older record.
        let word = self.word(hash, slot);
        let slab = &self.slab;
        let rehash = |&w: &u32| if w & mask == slot { hash } else { slot_hash(slab, w & mask) };
        self.index.insert_unique(hash, word, rehash);
        let entry = Entry { id, record };
        match reused {
            Some(s) => {
                if let Some(e) = self.slab.get_mut(s as usize) {
                    *e = entry;
                }
            }
            None => self.slab.push(entry),
        }
        slot
    }

    /// Forget the record in `slot`, whose id hashes to `hash`, without reading the record.
    /// Returns false if no such record is indexed (nothing changes then).
    #[inline]
    pub(crate) fn remove(&mut self, hash: u64, slot: u32) -> bool {
        let word = self.word(hash, slot);
        match self.index.find_entry(hash, |&w| w == word) {
            Ok(entry) => {
                entry.remove();
                self.free.push_back(slot);
                true
            }
            Err(_) => false,
        }
    }

    /// Every record with its id, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (TransferId, &TransferRecord)> {
        let mask = self.slot_mask();
        self.index
            .iter()
            .filter_map(move |&w| self.slab.get((w & mask) as usize).map(|e| (e.id, &e.record)))
    }

    /// The id and record in slot `s` (meaningful only while that record is indexed).
    pub(crate) fn entry_at(&self, s: u32) -> Option<(TransferId, &TransferRecord)> {
        self.slab.get(s as usize).map(|e| (e.id, &e.record))
    }

    /// The id stored in slot `s`.
    pub(crate) fn id_at(&self, s: u32) -> Option<TransferId> {
        self.slab.get(s as usize).map(|e| e.id)
    }
}

fn slot_hash(slab: &[Entry], s: u32) -> u64 {
    slab.get(s as usize).map_or(0, |e| hash_id(e.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Kind, State};

    fn rec(amount: u64) -> TransferRecord {
        TransferRecord {
            debit: 0,
            credit: 1,
            amount,
            returned: 0,
            expires_at_ms: 0,
            kind: Kind::Transfer,
            state: State::Posted,
        }
    }

    #[test]
    fn tags_sit_above_the_slot_bits() {
        assert_eq!(TransferTable::with_slots_max(1 << 24).slot_bits, 24);
        assert_eq!(TransferTable::with_slots_max((1 << 24) + 1).slot_bits, 25);
        assert_eq!(TransferTable::with_slots_max(0).slot_bits, 1);
        assert_eq!(TransferTable::default().slot_bits, 32);
        let t = TransferTable::with_slots_max(1 << 24);
        assert_eq!(t.word(0xabcd_ef12_0000_0000, 5), 0x1200_0005);
    }

    #[test]
    fn slots_are_reused_oldest_first_and_ids_stay_unique() {
        for t in [TransferTable::default(), TransferTable::with_slots_max(2_000)] {
            slots_are_reused_oldest_first(t);
        }
    }

    fn slots_are_reused_oldest_first(mut t: TransferTable) {
        let slots: Vec<u32> = (1..=4u128).map(|id| t.insert_new(id, hash_id(id), rec(1))).collect();
        assert_eq!(slots, vec![0, 1, 2, 3]);
        assert!(t.remove(hash_id(2), 1));
        assert!(t.remove(hash_id(1), 0));
        assert!(!t.remove(hash_id(1), 0), "already gone");
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(1), None);
        assert_eq!(t.insert_new(9, hash_id(9), rec(9)), 1, "first freed, first reused");
        assert_eq!(t.insert_new(10, hash_id(10), rec(10)), 0);
        assert_eq!(t.get(9).map(|r| r.amount), Some(9));
        assert_eq!(t.get(3).map(|r| r.amount), Some(1));
        assert_eq!(t.id_at(0), Some(10));
        t.reserve(1_000);
        for id in 100..1_100u128 {
            t.insert_new(id, hash_id(id), rec(id as u64));
        }
        assert!((100..1_100u128).all(|id| t.get(id).map(|r| r.amount) == Some(id as u64)));
        assert_eq!(t.len(), 1_004);
    }
}
