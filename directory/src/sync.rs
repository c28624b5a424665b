//! Consistency between the directory and each participant's copy, as DICT does it: every entry
//! has a content id (CID), `lowercase_hex(HMAC-SHA256(request id bytes, entry attributes))`, and
//! the participant's *VSync* for one key type is the XOR of the CIDs of its keys of that type; a
//! participant compares its own VSync with the directory's, and fetches the changes since a
//! sequence number to catch up.
//!
//! Guarantees: the VSync follows every insert and removal exactly (XOR in, XOR out); the change
//! log per participant keeps the last `changes_per_participant_max` changes and says so when an
//! older point is asked for (then the participant rebuilds from [`Directory::cids_of`]).
//! Must not: hash anything but the attributes DICT names, in DICT's order.

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

use crate::fasthash::SeededState;

use crate::{Directory, Entry, Key, KeyType};

/// A content id: HMAC-SHA256 of the entry's attributes.
pub type Cid = [u8; 32];

/// Whether a key entered or left a participant's set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The key was added (registered, updated, claimed).
    Added,
    /// The key was removed (deleted, updated, claimed away).
    Removed,
}

/// One change in a participant's set of keys. An update is a removal of the old CID then an
/// addition of the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Sequence number of the event that made it (see [`Directory::seq`]).
    pub seq: u64,
    /// The key.
    pub key: Key,
    /// Added or removed.
    pub kind: ChangeKind,
    /// The CID added or removed.
    pub cid: Cid,
}

/// One page of changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangePage {
    /// Changes after the asked sequence, oldest first.
    pub changes: Vec<Change>,
    /// Ask from here for the next page (the last change's sequence, or the asked one).
    pub next_since: u64,
    /// Whether more changes follow.
    pub more: bool,
}

/// Why changes since a point cannot be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The log no longer reaches back that far: rebuild from the full CID list.
    #[error("changes before sequence {oldest_seq} are no longer kept; resynchronize fully")]
    HistoryTruncated {
        /// The oldest change still kept is after this sequence.
        oldest_seq: u64,
    },
}

impl SyncError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::HistoryTruncated { .. } => "SyncHistoryTruncated",
        }
    }
}

/// The directory's consistency state.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncState {
    pub(crate) seq: u64,
    /// Per participant, per key type (by [`KeyType::to_u8`]).
    pub(crate) vsync: HashMap<String, [Cid; 5], SeededState>,
    pub(crate) changes: HashMap<String, VecDeque<Change>, SeededState>,
    /// Per participant: changes up to this sequence were dropped.
    pub(crate) dropped_to: HashMap<String, u64, SeededState>,
}

impl SyncState {
    /// Account for an entry entering or leaving its participant's set.
    pub(crate) fn record(&mut self, entry: &Entry, kind: ChangeKind, max_changes: usize) {
        self.record_cid(entry, cid(entry), kind, max_changes)
    }

    /// [`SyncState::record`] with the entry's CID computed already.
    pub(crate) fn record_cid(
        &mut self,
        entry: &Entry,
        cid: Cid,
        kind: ChangeKind,
        max_changes: usize,
    ) {
        let p = &entry.participant;
        if !self.vsync.contains_key(p) {
            self.vsync.insert(p.clone(), [[0; 32]; 5]);
        }
        let slot = usize::from(entry.key.key_type().to_u8());
        if let Some(v) = self.vsync.get_mut(p).and_then(|all| all.get_mut(slot)) {
            xor_into(v, &cid);
        }
        if max_changes == 0 {
            set_dropped(&mut self.dropped_to, p, self.seq);
            return;
        }
        if !self.changes.contains_key(p) {
            self.changes.insert(p.clone(), VecDeque::new());
        }
        let Some(log) = self.changes.get_mut(p) else { return };
        let mut dropped = None;
        while log.len() >= max_changes {
            match log.pop_front() {
                Some(old) => dropped = Some(old.seq),
                None => break,
            }
        }
        log.push_back(Change { seq: self.seq, key: entry.key.clone(), kind, cid });
        if let Some(seq) = dropped {
            set_dropped(&mut self.dropped_to, p, seq);
        }
    }
}

/// Record that a participant's changes up to `seq` were dropped (no allocation once known).
fn set_dropped(map: &mut HashMap<String, u64, SeededState>, participant: &str, seq: u64) {
    match map.get_mut(participant) {
        Some(v) => *v = seq,
        None => {
            map.insert(participant.to_string(), seq);
        }
    }
}

fn xor_into(acc: &mut Cid, cid: &Cid) {
    for (a, c) in acc.iter_mut().zip(cid.iter()) {
        *a ^= c;
    }
}

/// HMAC-SHA256 (RFC 2104) with a key of at most 64 bytes (longer keys are hashed first).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    hmac_sha256_parts(key, &[msg])
}

/// HMAC-SHA256 of the concatenation of `parts` (no copy of the message is made).
pub fn hmac_sha256_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        for (b, k) in block.iter_mut().zip(Sha256::digest(key).iter()) {
            *b = *k;
        }
    } else {
        for (b, k) in block.iter_mut().zip(key.iter()) {
            *b = *k;
        }
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The entry attributes DICT hashes, in its order, `&`-separated: key type, key, owner tax id,
/// owner name, trade name, participant, branch, account number, account type.
pub fn entry_attributes(e: &Entry) -> String {
    [
        e.key.key_type().dict_name(),
        e.key.as_str(),
        &e.owner_tax_id.0,
        &e.owner_name.0,
        &e.trade_name.0,
        &e.participant,
        &e.branch,
        &e.account.0,
        &e.account_type,
    ]
    .join("&")
}

/// The entry's CID.
pub fn cid(e: &Entry) -> Cid {
    let fields: [&str; 9] = [
        e.key.key_type().dict_name(),
        e.key.as_str(),
        &e.owner_tax_id.0,
        &e.owner_name.0,
        &e.trade_name.0,
        &e.participant,
        &e.branch,
        &e.account.0,
        &e.account_type,
    ];
    // Usually the attributes fit a small buffer: hashing one slice is faster than 17 parts.
    let mut buf = [0u8; 512];
    let mut n = 0usize;
    for (i, f) in fields.iter().enumerate() {
        let sep = usize::from(i > 0);
        let Some(dst) = buf.get_mut(n..n + sep + f.len()) else {
            n = usize::MAX;
            break;
        };
        if let Some((first, rest)) = dst.split_first_mut().filter(|_| sep == 1) {
            *first = b'&';
            rest.copy_from_slice(f.as_bytes());
        } else {
            dst.copy_from_slice(f.as_bytes());
        }
        n += sep + f.len();
    }
    if let Some(msg) = buf.get(..n) {
        return hmac_sha256_parts(&e.request_id, &[msg]);
    }
    let mut parts: [&[u8]; 17] = [b"&"; 17];
    for (slot, f) in parts.iter_mut().step_by(2).zip(fields) {
        *slot = f.as_bytes();
    }
    hmac_sha256_parts(&e.request_id, &parts)
}

/// Lower-case hex of a CID or VSync (64 characters).
pub fn to_hex(c: &Cid) -> String {
    c.iter().map(|b| format!("{b:02x}")).collect()
}

impl<S: crate::EntryStore> Directory<S> {
    /// The sequence number of the last event applied (0 before any).
    pub fn seq(&self) -> u64 {
        self.sync.seq
    }

    /// The participant's VSync for one key type: XOR of the CIDs of its keys of that type
    /// (all zeros for none).
    pub fn vsync(&self, participant: &str, key_type: KeyType) -> Cid {
        let slot = usize::from(key_type.to_u8());
        self.sync.vsync.get(participant).and_then(|all| all.get(slot)).copied().unwrap_or_default()
    }

    /// Whether a participant's VSync matches the directory's (DICT sync verification OK/NOK).
    pub fn verify_vsync(&self, participant: &str, key_type: KeyType, theirs: &Cid) -> bool {
        self.vsync(participant, key_type) == *theirs
    }

    /// Every CID of the participant's keys of one type, sorted (a full resynchronization; it
    /// scans the whole directory, so callers rate-limit it).
    pub fn cids_of(&self, participant: &str, key_type: KeyType) -> Vec<Cid> {
        let mut v: Vec<Cid> = Vec::new();
        self.entries.for_each(&mut |e| {
            if e.participant == participant && e.key.key_type() == key_type {
                v.push(cid(e));
            }
        });
        v.sort_unstable();
        v
    }

    /// At most `max` changes to the participant's keys after sequence `since`, oldest first.
    pub fn changes_since(
        &self,
        participant: &str,
        since: u64,
        max: usize,
    ) -> Result<ChangePage, SyncError> {
        if let Some(&dropped) = self.sync.dropped_to.get(participant) {
            if since < dropped {
                return Err(SyncError::HistoryTruncated { oldest_seq: dropped });
            }
        }
        let Some(log) = self.sync.changes.get(participant) else {
            return Ok(ChangePage { changes: Vec::new(), next_since: since, more: false });
        };
        let start = log.partition_point(|c| c.seq <= since);
        let mut changes: Vec<Change> = Vec::new();
        for c in log.iter().skip(start) {
            // Never split one event's changes (an update is two) across pages.
            if changes.len() >= max && changes.last().map(|l| l.seq) != Some(c.seq) {
                break;
            }
            changes.push(c.clone());
        }
        let next_since = changes.last().map_or(since, |c| c.seq);
        let more = log.back().is_some_and(|c| c.seq > next_since);
        Ok(ChangePage { changes, next_since, more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountUpdate, Masked, OwnerType};

    #[test]
    fn cid_matches_the_published_test_vector() {
        let attrs = "PHONE&+5511987654321&11122233300&João Silva&&12345678&00001&0007654321&CACC";
        let key: Vec<u8> = (1..=16).collect();
        assert_eq!(
            to_hex(&hmac_sha256(&key, attrs.as_bytes())),
            "28c06eb41c4dc9c3ae114831efcac7446c8747777fca8b145ecd31ff8480ae88"
        );
        let mut e = Entry::new(
            Key::parse("+5511987654321").unwrap(),
            "12345678",
            "00001",
            "0007654321",
            "João Silva",
        );
        e.owner_tax_id = Masked("11122233300".into());
        e.request_id = core::array::from_fn(|i| i as u8 + 1);
        assert_eq!(entry_attributes(&e), attrs);
        assert_eq!(
            to_hex(&cid(&e)),
            "28c06eb41c4dc9c3ae114831efcac7446c8747777fca8b145ecd31ff8480ae88"
        );
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            to_hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn entry(i: u8, participant: &str) -> Entry {
        let mut e = Entry::new(
            Key::parse(&format!("user{i}@example.com")).unwrap(),
            participant,
            "1",
            &format!("{i}"),
            "Ana",
        );
        e.request_id = [i; 16];
        e
    }

    #[test]
    fn vsync_is_the_xor_of_cids_and_follows_every_change() {
        let mut d = Directory::default();
        assert_eq!(d.vsync("BANKA", KeyType::Email), [0; 32]);
        for i in 0..10 {
            d.register_entry(entry(i, "BANKA"), 1).unwrap();
        }
        d.register_entry(entry(10, "BANKB"), 1).unwrap();
        let expected = d.cids_of("BANKA", KeyType::Email).iter().fold([0u8; 32], |mut acc, c| {
            xor_into(&mut acc, c);
            acc
        });
        assert_eq!(d.vsync("BANKA", KeyType::Email), expected);
        assert!(d.verify_vsync("BANKA", KeyType::Email, &expected));
        assert_eq!(d.vsync("BANKA", KeyType::Phone), [0; 32]);
        let k3 = entry(3, "BANKA").key;
        let upd = AccountUpdate {
            branch: "9".into(),
            account: Masked("999".into()),
            account_type: "CACC".into(),
            owner_name: Masked("Ana".into()),
            trade_name: Masked::default(),
        };
        d.update_account(&k3, "BANKA", upd, 2).unwrap();
        d.delete_entry(&entry(4, "BANKA").key, "BANKA", 3).unwrap();
        let expected = d.cids_of("BANKA", KeyType::Email).iter().fold([0u8; 32], |mut acc, c| {
            xor_into(&mut acc, c);
            acc
        });
        assert_eq!(d.cids_of("BANKA", KeyType::Email).len(), 9);
        assert_eq!(d.vsync("BANKA", KeyType::Email), expected);
        for i in 0..10 {
            if i != 4 {
                d.delete_entry(&entry(i, "BANKA").key, "BANKA", 4).unwrap();
            }
        }
        assert_eq!(d.vsync("BANKA", KeyType::Email), [0; 32]);
        let _ = OwnerType::Natural;
    }

    #[test]
    fn changes_since_pages_through_a_participants_changes() {
        let mut d = Directory::default();
        for i in 0..5 {
            d.register_entry(entry(i, "BANKA"), 1).unwrap();
            d.register_entry(entry(100 + i, "BANKB"), 1).unwrap();
        }
        let seq_mid = d.seq();
        d.delete_entry(&entry(0, "BANKA").key, "BANKA", 2).unwrap();
        let page = d.changes_since("BANKA", 0, 3).unwrap();
        assert_eq!(page.changes.len(), 3);
        assert!(page.more);
        assert!(page.changes.iter().all(|c| c.kind == ChangeKind::Added));
        let rest = d.changes_since("BANKA", page.next_since, 100).unwrap();
        assert_eq!(rest.changes.len(), 3);
        assert!(!rest.more);
        let last = rest.changes.last().unwrap();
        assert_eq!(
            (last.kind, &last.key, last.seq),
            (ChangeKind::Removed, &entry(0, "BANKA").key, seq_mid + 1)
        );
        assert_eq!(last.cid, cid(&entry(0, "BANKA")));
        let none = d.changes_since("BANKA", d.seq(), 10).unwrap();
        assert!(none.changes.is_empty() && !none.more && none.next_since == d.seq());
        assert!(d.changes_since("NOBODY", 0, 10).unwrap().changes.is_empty());
    }

    #[test]
    fn an_update_is_never_split_across_pages() {
        let mut d = Directory::default();
        let e = entry(1, "BANKA");
        d.register_entry(e.clone(), 1).unwrap();
        let upd = AccountUpdate {
            branch: "2".into(),
            account: Masked("2".into()),
            account_type: "CACC".into(),
            owner_name: Masked("Ana".into()),
            trade_name: Masked::default(),
        };
        d.update_account(&e.key, "BANKA", upd, 2).unwrap();
        let p = d.changes_since("BANKA", 1, 1).unwrap();
        assert_eq!(p.changes.len(), 2, "removal and addition of one update come together");
        assert_eq!(p.next_since, 2);
        assert!(!p.more);
    }

    #[test]
    fn a_truncated_log_says_to_resynchronize() {
        let mut d = Directory::new(crate::DirectoryConfig {
            changes_per_participant_max: 2,
            ..crate::DirectoryConfig::default()
        });
        for i in 0..4 {
            d.register_entry(entry(i, "BANKA"), 1).unwrap();
        }
        assert_eq!(
            d.changes_since("BANKA", 0, 10),
            Err(SyncError::HistoryTruncated { oldest_seq: 2 })
        );
        let p = d.changes_since("BANKA", 2, 10).unwrap();
        assert_eq!(p.changes.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![3, 4]);
    }
}
