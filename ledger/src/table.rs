//! The ledger's transfer table: every remembered transfer, found by id.
//! PERFORMANCE CRITICAL PATH: each reserve, post and compaction goes through here.
//!
//! Layout, chosen for the cache: records (id and content, 64 bytes, one cache line) live in
//! a dense slab; the hash index holds only 4-byte slot numbers, so for the live set of a
//! switch (tens of thousands of transfers) the index stays in the L2 cache while the slab
//! does not. Freed slots are reused first in, first out: transfers are finalized and
//! compacted roughly in the order they were created, so new records are written in address
//! order and the hardware prefetcher sees a stream instead of random cold lines. Compaction
//! drops a transfer by its slot and stored hash without reading its record.
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

/// Transfers by id: a slab of records and an index of slot numbers.
#[derive(Debug, Clone, Default)]
pub(crate) struct TransferTable {
    index: HashTable<u32>,
    slab: Vec<Entry>,
    /// Slots freed by `remove`, reused oldest first.
    free: VecDeque<u32>,
}

/// The hash of a transfer id (what `remove` needs back).
#[inline]
pub(crate) fn hash_id(id: TransferId) -> u64 {
    BuildHasherDefault::<IdHasher>::default().hash_one(id)
}

impl TransferTable {
    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Make room for `additional` more records without growing on the per-transfer path.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let slab = &self.slab;
        self.index.reserve(additional, |&s| slot_hash(slab, s));
        let spare = self.free.len() + (self.slab.capacity() - self.slab.len());
        self.slab.reserve(additional.saturating_sub(spare));
    }

    /// The slot holding `id`, if any.
    #[inline]
    pub(crate) fn find(&self, id: TransferId, hash: u64) -> Option<u32> {
        let slab = &self.slab;
        self.index.find(hash, |&s| slab.get(s as usize).is_some_and(|e| e.id == id)).copied()
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
        let entry = Entry { id, record };
        let slot = match self.free.pop_front() {
            Some(s) => {
                if let Some(e) = self.slab.get_mut(s as usize) {
                    *e = entry;
                }
                s
            }
            None => {
                // The ledger caps transfers far below u32::MAX (its `transfers_max`).
                let s = u32::try_from(self.slab.len()).unwrap_or(u32::MAX);
                self.slab.push(entry);
                s
            }
        };
        let slab = &self.slab;
        self.index.insert_unique(hash, slot, |&s| slot_hash(slab, s));
        slot
    }

    /// Forget the record in `slot`, whose id hashes to `hash`, without reading the record.
    /// Returns false if no such record is indexed (nothing changes then).
    #[inline]
    pub(crate) fn remove(&mut self, hash: u64, slot: u32) -> bool {
        match self.index.find_entry(hash, |&s| s == slot) {
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
        self.index.iter().filter_map(|&s| self.slab.get(s as usize).map(|e| (e.id, &e.record)))
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
    fn slots_are_reused_oldest_first_and_ids_stay_unique() {
        let mut t = TransferTable::default();
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
