//! Where entries live: the [`EntryStore`] interface, and [`SharedStore`], the store that keeps
//! each [`Entry`] whole (shared with the event that made it) so [`crate::Directory::resolve`]
//! can hand out `&Entry`. [`crate::compact::CompactStore`] is the memory-lean one; a store
//! beyond one machine's memory (ScyllaDB) implements the same interface later.
//!
//! Guarantees: a store only indexes; every rule (limits, owners, claims) is checked by the
//! directory before it calls `insert` or `remove`, so every store gives the same answers.
//! Must not: check rules, journal, or depend on the hash seed for any result.

use std::borrow::{Borrow, Cow};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::fasthash::SeededState;
use crate::{AccountRef, Entry, Key, Masked, OwnerType};

/// The four parts naming an account (participant, branch, account number, account type), the
/// unit the per-account key limit counts on.
pub type AccountParts<'a> = [&'a str; 4];

/// The parts of an entry's account.
pub fn account_parts(e: &Entry) -> AccountParts<'_> {
    [&e.participant, &e.branch, &e.account.0, &e.account_type]
}

/// An entry as a store holds it, borrowed: what a payer's bank needs to route and show, read
/// without building an [`Entry`] (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryView<'a> {
    /// Participant (BIC) holding the account.
    pub participant: &'a str,
    /// Branch.
    pub branch: &'a str,
    /// Account number.
    pub account: Masked<&'a str>,
    /// Account type.
    pub account_type: &'a str,
    /// Owner's name.
    pub owner_name: Masked<&'a str>,
    /// Natural person or legal entity.
    pub owner_type: OwnerType,
    /// Owner's national id or tax id (may be empty).
    pub owner_tax_id: Masked<&'a str>,
    /// Trade name (may be empty).
    pub trade_name: Masked<&'a str>,
    /// When the key was registered (ms).
    pub created_at_ms: u64,
    /// Since when the owner holds the key (ms).
    pub owned_since_ms: u64,
    /// The creating request's id.
    pub request_id: [u8; 16],
}

impl<'a> EntryView<'a> {
    /// The view of a whole entry.
    pub fn of(e: &'a Entry) -> EntryView<'a> {
        EntryView {
            participant: &e.participant,
            branch: &e.branch,
            account: Masked(&e.account.0),
            account_type: &e.account_type,
            owner_name: Masked(&e.owner_name.0),
            owner_type: e.owner_type,
            owner_tax_id: Masked(&e.owner_tax_id.0),
            trade_name: Masked(&e.trade_name.0),
            created_at_ms: e.created_at_ms,
            owned_since_ms: e.owned_since_ms,
            request_id: e.request_id,
        }
    }

    /// The whole entry for `key` (allocates its strings).
    pub fn to_entry(&self, key: Key) -> Entry {
        Entry {
            key,
            participant: self.participant.to_string(),
            branch: self.branch.to_string(),
            account: Masked(self.account.0.to_string()),
            account_type: self.account_type.to_string(),
            owner_name: Masked(self.owner_name.0.to_string()),
            owner_type: self.owner_type,
            owner_tax_id: Masked(self.owner_tax_id.0.to_string()),
            trade_name: Masked(self.trade_name.0.to_string()),
            created_at_ms: self.created_at_ms,
            owned_since_ms: self.owned_since_ms,
            request_id: self.request_id,
        }
    }
}

/// The index of entries by key, with the per-account key counts. The directory checks every
/// rule; a store only keeps what it is given.
pub trait EntryStore: fmt::Debug + Clone + Send + Sync {
    /// An empty store whose hash tables use `seed` (results never depend on it).
    fn with_seed(seed: u64) -> Self;
    /// Number of entries.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Make room for `additional` more entries.
    fn reserve(&mut self, additional: usize);
    /// Whether the key is registered.
    fn contains_key(&self, key: &Key) -> bool;
    /// The entry of a key, borrowed where the store keeps whole entries, built otherwise.
    fn get(&self, key: &Key) -> Option<Cow<'_, Entry>>;
    /// The entry of a key as a borrowed view (no allocation).
    fn view(&self, key: &Key) -> Option<EntryView<'_>>;
    /// The views of many keys at once, in order (`out` is cleared first). A store may overlap
    /// the memory reads of the keys of one call; the answers are those of [`EntryStore::view`].
    fn view_many<'s>(&'s self, keys: &[Key], out: &mut Vec<Option<EntryView<'s>>>) {
        out.clear();
        out.extend(keys.iter().map(|k| self.view(k)));
    }
    /// Read the memory that looking up this key and account will read, so that a bulk load can
    /// overlap the reads of coming entries; returns a value to keep the reads from being
    /// optimized away. Changes nothing; a store without such memory returns 0.
    fn warm(&self, _key: &Key, _account: AccountParts<'_>) -> u64 {
        0
    }
    /// Add an entry whose key is not registered (the directory checked it).
    fn insert(&mut self, entry: Arc<Entry>);
    /// Remove a key's entry, returning it.
    fn remove(&mut self, key: &Key) -> Option<Arc<Entry>>;
    /// How many keys point to the account.
    fn keys_of_account(&self, account: AccountParts<'_>) -> u32;
    /// Call `f` on every entry, in no particular order (full scans: digests, resynchronization).
    fn for_each(&self, f: &mut dyn FnMut(&Entry));
    /// Call `f` on every entry in key order (snapshots). The default gathers whole entries and
    /// sorts them; a store may do it with less memory.
    fn for_each_in_key_order(&self, f: &mut dyn FnMut(&Key, &EntryView<'_>)) {
        let mut all: Vec<Entry> = Vec::with_capacity(self.len());
        self.for_each(&mut |e| all.push(e.clone()));
        all.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        for e in &all {
            f(&e.key, &EntryView::of(e));
        }
    }
    /// Add an entry, given as a key and a view, whose key is not registered (snapshot loading:
    /// the view borrows the snapshot's bytes). The default builds the [`Entry`].
    fn insert_view(&mut self, key: &Key, view: &EntryView<'_>) {
        self.insert(Arc::new(view.to_entry(key.clone())));
    }
}

/// The store that keeps each entry whole, behind an `Arc` shared with the event that made it
/// (journaling copies nothing), in 8-byte index slots found by the entry's own key.
#[derive(Debug, Clone)]
pub struct SharedStore {
    entries: HashSet<Slot, SeededState>,
    account_keys: HashMap<AcctKey, u32, SeededState>,
}

impl SharedStore {
    /// The entry of a key, borrowed.
    #[inline]
    pub fn get_ref(&self, key: &Key) -> Option<&Entry> {
        self.entries.get(key).map(|s| s.0.as_ref())
    }
}

impl EntryStore for SharedStore {
    fn with_seed(seed: u64) -> Self {
        SharedStore {
            entries: HashSet::with_hasher(SeededState(seed)),
            account_keys: HashMap::with_hasher(SeededState(seed.rotate_left(32))),
        }
    }
    fn len(&self) -> usize {
        self.entries.len()
    }
    fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }
    fn contains_key(&self, key: &Key) -> bool {
        self.entries.contains(key)
    }
    fn get(&self, key: &Key) -> Option<Cow<'_, Entry>> {
        self.get_ref(key).map(Cow::Borrowed)
    }
    fn view(&self, key: &Key) -> Option<EntryView<'_>> {
        self.get_ref(key).map(EntryView::of)
    }
    fn insert(&mut self, entry: Arc<Entry>) {
        let probe = PartsKey(account_parts(&entry));
        match self.account_keys.get_mut(&probe as &dyn AccountKey) {
            Some(n) => *n = n.saturating_add(1),
            None => {
                self.account_keys.insert(AcctKey(entry.account_ref()), 1);
            }
        }
        self.entries.replace(Slot(entry));
    }
    fn remove(&mut self, key: &Key) -> Option<Arc<Entry>> {
        let entry = self.entries.take(key).map(|s| s.0)?;
        let probe = PartsKey(account_parts(&entry));
        if let Some(n) = self.account_keys.get_mut(&probe as &dyn AccountKey) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.account_keys.remove(&probe as &dyn AccountKey);
            }
        }
        Some(entry)
    }
    fn keys_of_account(&self, account: AccountParts<'_>) -> u32 {
        let probe = PartsKey(account);
        self.account_keys.get(&probe as &dyn AccountKey).copied().unwrap_or(0)
    }
    fn for_each(&self, f: &mut dyn FnMut(&Entry)) {
        for s in &self.entries {
            f(&s.0);
        }
    }
    fn for_each_in_key_order(&self, f: &mut dyn FnMut(&Key, &EntryView<'_>)) {
        let mut all: Vec<&Entry> = self.entries.iter().map(|s| s.0.as_ref()).collect();
        all.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        for e in all {
            f(&e.key, &EntryView::of(e));
        }
    }
}

#[derive(Debug, Clone)]
struct Slot(Arc<Entry>);

impl Hash for Slot {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.key.hash(h)
    }
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}

impl Eq for Slot {}

impl Borrow<Key> for Slot {
    fn borrow(&self) -> &Key {
        &self.0.key
    }
}

/// An account looked up by its parts, without building an [`AccountRef`] (four allocations).
trait AccountKey {
    fn parts(&self) -> AccountParts<'_>;
}

impl Hash for dyn AccountKey + '_ {
    fn hash<H: Hasher>(&self, h: &mut H) {
        for p in self.parts() {
            h.write(p.as_bytes());
            h.write_u8(0xff);
        }
    }
}

impl PartialEq for dyn AccountKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn AccountKey + '_ {}

struct PartsKey<'a>(AccountParts<'a>);

impl AccountKey for PartsKey<'_> {
    fn parts(&self) -> AccountParts<'_> {
        self.0
    }
}

/// The key of the per-account count: an account, hashed and compared by its parts.
#[derive(Debug, Clone)]
struct AcctKey(AccountRef);

impl AccountKey for AcctKey {
    fn parts(&self) -> AccountParts<'_> {
        let a = &self.0;
        [&a.participant, &a.branch, &a.account.0, &a.account_type]
    }
}

impl Hash for AcctKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (self as &dyn AccountKey).hash(h)
    }
}

impl PartialEq for AcctKey {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for AcctKey {}

impl<'a> Borrow<dyn AccountKey + 'a> for AcctKey {
    fn borrow(&self) -> &(dyn AccountKey + 'a) {
        self
    }
}
