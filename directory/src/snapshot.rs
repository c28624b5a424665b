//! Snapshots: the whole state of a [`Directory`] (and of the switch's separate [`AntiScan`] and
//! [`SeededRandom`]) as bytes, so that a restart loads the snapshot and replays only the
//! journal written after it, instead of the whole history.
//!
//! Layout of every snapshot: the magic `DIRSNAP\0` (8 bytes), the format version (u16), the kind
//! (u8: 1 directory, 2 anti-scan buckets, 3 random source), a zero byte, the body length (u64),
//! the body, and a 64-bit checksum of everything before it. Integers are little-endian; strings
//! are a u32 length then UTF-8, at most [`crate::events::FIELD_LEN_MAX`] bytes, as in the
//! journal. The directory's body holds the counters (sequence, next claim and report ids), the
//! entries sorted by key, the claims and reports sorted by id with the order in which they are
//! dropped, the fraud counts, and per participant its VSync digests, its change log and how
//! far that log was cut.
//!
//! Guarantees: a snapshot captures everything that decides the directory's future answers
//! (what the configuration and id rules decide is given again at decode); the same state gives
//! the same bytes (maps are written in sorted order, never in hash order); decoding checks the
//! magic, version, kind, length, checksum, every field, the order of entries, claims and
//! reports, and the links between them, and refuses with a specific [`SnapshotError`]; no
//! count read from the bytes reserves more memory than the bytes can fill.
//! Must not: read or write files (the caller stores the bytes, with its journal position),
//! depend on the hash seed, or panic on any input.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::antiscan::{Bucket, Category, UserId, UserPolicy};
use crate::claims::{Claim, ClaimBook};
use crate::events::{DecodeError, Reader, Writer};
use crate::fraud::{FraudCounts, InfractionReport, ReportBook, ReportStatus};
use crate::sync::{Change, ChangeKind, Cid, SyncState};
use crate::{
    AntiScan, AntiScanConfig, BrazilIds, CompactStore, Directory, DirectoryConfig, EntryStore,
    IdRules, Key, OwnerType, SeededRandom,
};

/// The first 8 bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"DIRSNAP\0";
/// The format version written, and the only one read.
pub const SNAPSHOT_VERSION: u16 = 1;
/// Bytes before the body: magic, version, kind, a zero byte, body length.
pub const SNAPSHOT_HEADER_LEN: usize = 20;
/// Bytes after the body: the checksum.
pub const SNAPSHOT_TRAILER_LEN: usize = 8;

/// What a snapshot holds (the byte after the version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotKind {
    /// A [`Directory`].
    Directory,
    /// An [`AntiScan`]'s buckets.
    AntiScan,
    /// A [`SeededRandom`]'s state.
    Random,
}

impl SnapshotKind {
    fn byte(self) -> u8 {
        match self {
            SnapshotKind::Directory => 1,
            SnapshotKind::AntiScan => 2,
            SnapshotKind::Random => 3,
        }
    }
}

/// Why bytes are not a snapshot of the expected kind. Nothing was built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The bytes do not start with [`SNAPSHOT_MAGIC`]: not a snapshot.
    #[error("not a directory snapshot (magic number missing)")]
    Magic,
    /// A format version this build does not read: load it with the build that wrote it, or
    /// rebuild from the journal.
    #[error("snapshot format version {0} is not supported (this build reads version 1)")]
    Version(u16),
    /// A snapshot of another kind (say, anti-scan buckets given as a directory).
    #[error("snapshot holds kind {found}, expected kind {expected}")]
    Kind {
        /// The kind byte expected.
        expected: u8,
        /// The kind byte found.
        found: u8,
    },
    /// The header is damaged (its reserved byte is not zero).
    #[error("snapshot header damaged")]
    Header,
    /// Fewer or more bytes than the header says: the snapshot was cut or appended to.
    #[error("snapshot is {actual} bytes, its header says {declared}")]
    Length {
        /// Bytes the header announces (header, body and checksum).
        declared: u64,
        /// Bytes given.
        actual: u64,
    },
    /// The checksum does not match: the bytes were damaged; rebuild from the journal.
    #[error("snapshot checksum mismatch: the bytes are damaged")]
    Checksum,
    /// A field of the body is not valid.
    #[error("snapshot body: {0}")]
    Field(#[from] DecodeError),
    /// A count in the body is larger than the bytes left could hold.
    #[error("snapshot count of {0} exceeds what the bytes could hold")]
    Count(&'static str),
    /// The body contradicts itself (what, in words): it was not written by this directory.
    #[error("snapshot is inconsistent: {0}")]
    Inconsistent(&'static str),
    /// Bytes left in the body after its last field.
    #[error("{0} bytes after the snapshot body")]
    Trailing(usize),
}

/// A 64-bit checksum of `bytes`: four lanes of xor-multiply-xorshift steps (each step a
/// bijection of the lane, so a change to any one 8-byte word always changes the result).
pub fn snapshot_checksum(bytes: &[u8]) -> u64 {
    const K: [u64; 4] = [
        0x9e37_79b9_7f4a_7c15,
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0xd6e8_feb8_6659_fd93,
    ];
    let mut lanes = [0x736e_6170_7368_6f74u64, 0x6469_7265_6374_6f72, 0x1234_5678, !0];
    let step = |h: u64, w: u64, k: u64| {
        let h = (h ^ w).wrapping_mul(k);
        h ^ (h >> 32)
    };
    let word = |c: &[u8]| {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(c) {
            *d = *s;
        }
        u64::from_le_bytes(b)
    };
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        let mut words = block.chunks_exact(8);
        for (lane, k) in lanes.iter_mut().zip(K) {
            *lane = step(*lane, words.next().map_or(0, word), k);
        }
    }
    for (i, c) in blocks.remainder().chunks(8).enumerate() {
        if let (Some(lane), Some(k)) = (lanes.get_mut(i), K.get(i)) {
            *lane = step(*lane, word(c), *k);
        }
    }
    let mut h = bytes.len() as u64;
    for (lane, k) in lanes.into_iter().zip(K) {
        h = step(h, lane, k);
    }
    h
}

/// Write the header, let `body` write the body, then fix the length and add the checksum.
fn write_framed(out: &mut Vec<u8>, kind: SnapshotKind, body: impl FnOnce(&mut Writer)) {
    let start = out.len();
    let mut w = Writer(std::mem::take(out));
    w.0.extend_from_slice(&SNAPSHOT_MAGIC);
    w.0.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    w.u8(kind.byte());
    w.u8(0);
    let len_at = w.0.len();
    w.u64(0);
    body(&mut w);
    let body_len = (w.0.len() - len_at - 8) as u64;
    if let Some(slot) = w.0.get_mut(len_at..len_at + 8) {
        slot.copy_from_slice(&body_len.to_le_bytes());
    }
    let sum = snapshot_checksum(w.0.get(start..).unwrap_or_default());
    w.u64(sum);
    *out = w.0;
}

/// Check the frame of a snapshot of `kind` and return its body.
fn read_framed(bytes: &[u8], kind: SnapshotKind) -> Result<&[u8], SnapshotError> {
    if bytes.get(..8) != Some(SNAPSHOT_MAGIC.as_slice()) {
        return Err(SnapshotError::Magic);
    }
    let header = bytes.get(..SNAPSHOT_HEADER_LEN).ok_or(SnapshotError::Length {
        declared: SNAPSHOT_HEADER_LEN as u64,
        actual: bytes.len() as u64,
    })?;
    let field = |from: usize, to: usize| header.get(from..to).unwrap_or_default();
    let version = u16::from_le_bytes(field(8, 10).try_into().unwrap_or([0xff; 2]));
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::Version(version));
    }
    let (found, reserved) = (header.get(10).copied(), header.get(11).copied());
    let found = found.unwrap_or(0);
    if found != kind.byte() {
        return Err(SnapshotError::Kind { expected: kind.byte(), found });
    }
    if reserved != Some(0) {
        return Err(SnapshotError::Header);
    }
    let len: [u8; 8] = field(12, 20).try_into().unwrap_or([0xff; 8]);
    let body_len = u64::from_le_bytes(len);
    let framing = (SNAPSHOT_HEADER_LEN + SNAPSHOT_TRAILER_LEN) as u64;
    let declared = body_len.saturating_add(framing);
    if declared != bytes.len() as u64 {
        return Err(SnapshotError::Length { declared, actual: bytes.len() as u64 });
    }
    let (covered, sum) = bytes.split_at(bytes.len() - SNAPSHOT_TRAILER_LEN);
    let sum: [u8; 8] = sum.try_into().map_err(|_| SnapshotError::Checksum)?;
    if snapshot_checksum(covered) != u64::from_le_bytes(sum) {
        return Err(SnapshotError::Checksum);
    }
    Ok(covered.get(SNAPSHOT_HEADER_LEN..).unwrap_or_default())
}

/// A count of items of at least `min_bytes` each, refused when the bytes left cannot hold it
/// (so a damaged count never reserves memory the bytes do not back).
fn count(r: &mut Reader<'_>, min_bytes: usize, what: &'static str) -> Result<usize, SnapshotError> {
    let n = r.u64()?;
    let room = (r.rest.len() / min_bytes.max(1)) as u64;
    if n > room {
        return Err(SnapshotError::Count(what));
    }
    usize::try_from(n).map_err(|_| SnapshotError::Count(what))
}

fn put_len(w: &mut Writer, n: usize) {
    w.u64(n as u64);
}

fn put_counts(w: &mut Writer, c: &FraudCounts) {
    w.u64(u64::from(c.reported));
    w.u64(u64::from(c.confirmed));
}

fn get_counts(r: &mut Reader<'_>) -> Result<FraudCounts, SnapshotError> {
    let mut one = || -> Result<u32, SnapshotError> {
        u32::try_from(r.u64()?).map_err(|_| SnapshotError::Inconsistent("fraud count too large"))
    };
    Ok(FraudCounts { reported: one()?, confirmed: one()? })
}

fn get_cid(r: &mut Reader<'_>) -> Result<Cid, SnapshotError> {
    let mut c = [0u8; 32];
    c.copy_from_slice(r.take(32)?);
    Ok(c)
}

/// Smallest encoded sizes, for [`count`].
const MIN_ENTRY: usize = 1 + 4 * 9 + 1 + 16 + 16;
const MIN_CLAIM: usize = 8 + 1 + MIN_ENTRY + 4 + 1 + 40 + 3;
const MIN_REPORT: usize = 8 + 4 + 4 + 1 + 16 + 4 + 2 + 4 + 4 + 1 + 1 + 4 + 16;
const MIN_STR: usize = 4;

impl<S: EntryStore> Directory<S> {
    /// Append a snapshot of the whole directory to `out` (see the module documentation): the
    /// same state always gives the same bytes. It reads every entry and sorts them by key, so
    /// the caller takes it off the hot path, and journals its position alongside.
    pub fn encode_snapshot(&self, out: &mut Vec<u8>) {
        out.reserve(self.entries.len().saturating_mul(192));
        write_framed(out, SnapshotKind::Directory, |w| {
            w.u64(self.sync.seq);
            w.u64(self.claims.next_id);
            w.u64(self.reports.next_id);
            let count_at = w.0.len();
            w.u64(0);
            let mut n = 0u64;
            self.entries.for_each_in_key_order(&mut |k, v| {
                w.entry_view(k, v);
                n += 1;
            });
            if let Some(slot) = w.0.get_mut(count_at..count_at + 8) {
                slot.copy_from_slice(&n.to_le_bytes());
            }
            write_claims(w, &self.claims);
            write_reports(w, &self.reports);
            write_sync(w, &self.sync);
        });
    }

    /// The directory a snapshot holds, over the store `S`, with the given limits and id rules
    /// (those in force when it was written, normally; the hash seed may differ). Refuses
    /// damaged or inconsistent bytes with a specific error, building nothing.
    pub fn decode_snapshot_with(
        bytes: &[u8],
        config: DirectoryConfig,
        rules: Arc<dyn IdRules>,
    ) -> Result<Self, SnapshotError> {
        let body = read_framed(bytes, SnapshotKind::Directory)?;
        let mut d: Directory<S> = Directory::with_store(config, Arc::clone(&rules));
        let mut r = Reader { rest: body, rules: rules.as_ref() };
        let (seq, next_claim, next_report) = (r.u64()?, r.u64()?, r.u64()?);
        let n = count(&mut r, MIN_ENTRY, "entries")?;
        d.entries.reserve(n);
        let mut last: Option<Key> = None;
        for _ in 0..n {
            let (key, view) = r.entry_view()?;
            if last.as_ref().is_some_and(|l| *l >= key) {
                return Err(SnapshotError::Inconsistent("entries not in strict key order"));
            }
            d.entries.insert_view(&key, &view);
            last = Some(key);
        }
        d.claims = read_claims(&mut r)?;
        d.claims.next_id = next_claim;
        d.reports = read_reports(&mut r)?;
        d.reports.next_id = next_report;
        d.sync = read_sync(&mut r, seq)?;
        if !r.rest.is_empty() {
            return Err(SnapshotError::Trailing(r.rest.len()));
        }
        check_ids(&d)?;
        Ok(d)
    }
}

impl Directory<CompactStore> {
    /// [`Directory::decode_snapshot_with`] over the compact store with Brazil's id rules: what
    /// the switch loads at restart before replaying the journal after the snapshot.
    pub fn decode_snapshot(bytes: &[u8], config: DirectoryConfig) -> Result<Self, SnapshotError> {
        Directory::decode_snapshot_with(bytes, config, Arc::new(BrazilIds))
    }
}

/// Claim and report ids below the next ones given.
fn check_ids<S: EntryStore>(d: &Directory<S>) -> Result<(), SnapshotError> {
    if d.claims.claims.keys().any(|id| *id >= d.claims.next_id) {
        return Err(SnapshotError::Inconsistent("a claim id is not below the next claim id"));
    }
    if d.reports.reports.keys().any(|id| *id >= d.reports.next_id) {
        return Err(SnapshotError::Inconsistent("a report id is not below the next report id"));
    }
    Ok(())
}

fn write_claims(w: &mut Writer, book: &ClaimBook) {
    let mut claims: Vec<&Claim> = book.claims.values().collect();
    claims.sort_unstable_by_key(|c| c.id);
    put_len(w, claims.len());
    for c in claims {
        w.claim(c);
    }
    put_len(w, book.finished.len());
    for id in &book.finished {
        w.u64(*id);
    }
}

/// The claims; the lock of each key is the claim on it still open.
fn read_claims(r: &mut Reader<'_>) -> Result<ClaimBook, SnapshotError> {
    let mut book = ClaimBook::default();
    let n = count(r, MIN_CLAIM, "claims")?;
    book.claims.reserve(n);
    let mut last = None;
    for _ in 0..n {
        let c = r.claim()?;
        if last.is_some_and(|l| l >= c.id) {
            return Err(SnapshotError::Inconsistent("claims not in strict id order"));
        }
        last = Some(c.id);
        if c.status.is_open() && book.open_by_key.insert(c.key().clone(), c.id).is_some() {
            return Err(SnapshotError::Inconsistent("two open claims on one key"));
        }
        book.claims.insert(c.id, c);
    }
    let n = count(r, 8, "finished claims")?;
    let mut seen = HashSet::with_capacity(n);
    for _ in 0..n {
        let id = r.u64()?;
        let finished = book.claims.get(&id).is_some_and(|c| !c.status.is_open());
        if !finished || !seen.insert(id) {
            return Err(SnapshotError::Inconsistent("finished claims list a claim not finished"));
        }
        book.finished.push_back(id);
    }
    if book.finished.len() + book.open_by_key.len() != book.claims.len() {
        return Err(SnapshotError::Inconsistent("a finished claim is missing from its list"));
    }
    Ok(book)
}

fn write_reports(w: &mut Writer, book: &ReportBook) {
    let mut reports: Vec<&InfractionReport> = book.reports.values().collect();
    reports.sort_unstable_by_key(|r| r.id);
    put_len(w, reports.len());
    for r in reports {
        w.report(r);
    }
    put_len(w, book.order.len());
    for id in &book.order {
        w.u64(*id);
    }
    w.u64(book.open as u64);
    let mut by_key: Vec<_> = book.by_key.iter().collect();
    by_key.sort_unstable_by(|a, b| a.0.cmp(b.0));
    put_len(w, by_key.len());
    for (k, c) in by_key {
        w.key(k);
        put_counts(w, c);
    }
    let mut by_owner: Vec<_> = book.by_owner.iter().collect();
    by_owner.sort_unstable_by(|a, b| a.0.cmp(b.0));
    put_len(w, by_owner.len());
    for (o, c) in by_owner {
        w.str(o);
        put_counts(w, c);
    }
    let mut by_account: Vec<_> = book.by_account.iter().collect();
    by_account.sort_unstable_by(|a, b| a.0.cmp(b.0));
    put_len(w, by_account.len());
    for (a, c) in by_account {
        w.account(a);
        put_counts(w, c);
    }
}

fn read_reports(r: &mut Reader<'_>) -> Result<ReportBook, SnapshotError> {
    let mut book = ReportBook::default();
    let n = count(r, MIN_REPORT, "reports")?;
    book.reports.reserve(n);
    let mut last = None;
    for _ in 0..n {
        let rep = r.report()?;
        if last.is_some_and(|l| l >= rep.id) {
            return Err(SnapshotError::Inconsistent("reports not in strict id order"));
        }
        last = Some(rep.id);
        book.reports.insert(rep.id, rep);
    }
    let n = count(r, 8, "report order")?;
    let mut seen = HashSet::with_capacity(n);
    for _ in 0..n {
        let id = r.u64()?;
        if !book.reports.contains_key(&id) || !seen.insert(id) {
            return Err(SnapshotError::Inconsistent("report order lists an unknown report"));
        }
        book.order.push_back(id);
    }
    if book.order.len() != book.reports.len() {
        return Err(SnapshotError::Inconsistent("a report is missing from the report order"));
    }
    book.open = usize::try_from(r.u64()?).map_err(|_| SnapshotError::Count("open reports"))?;
    let waiting = |s: ReportStatus| matches!(s, ReportStatus::Open | ReportStatus::Acknowledged);
    if book.reports.values().filter(|x| waiting(x.status)).count() > book.open {
        return Err(SnapshotError::Inconsistent("more reports open than counted"));
    }
    book.by_key = read_map(r, 1 + MIN_STR + 16, "fraud counts by key", |r| r.key())?;
    book.by_owner = read_map(r, MIN_STR + 16, "fraud counts by owner", |r| r.str())?;
    book.by_account = read_map(r, 4 * MIN_STR + 16, "fraud counts by account", |r| r.account())?;
    Ok(book)
}

/// A map of fraud counts written in strict key order.
fn read_map<K: Ord + Clone + std::hash::Hash + Eq>(
    r: &mut Reader<'_>,
    min: usize,
    what: &'static str,
    mut key: impl FnMut(&mut Reader<'_>) -> Result<K, DecodeError>,
) -> Result<HashMap<K, FraudCounts>, SnapshotError> {
    let n = count(r, min, what)?;
    let mut map = HashMap::with_capacity(n);
    let mut last: Option<K> = None;
    for _ in 0..n {
        let k = key(r)?;
        if last.as_ref().is_some_and(|l| *l >= k) {
            return Err(SnapshotError::Inconsistent("fraud counts not in strict key order"));
        }
        last = Some(k.clone());
        map.insert(k, get_counts(r)?);
    }
    Ok(map)
}

fn write_sync(w: &mut Writer, s: &SyncState) {
    let mut vsync: Vec<_> = s.vsync.iter().collect();
    vsync.sort_unstable_by(|a, b| a.0.cmp(b.0));
    put_len(w, vsync.len());
    for (p, cids) in vsync {
        w.str(p);
        for c in cids {
            w.0.extend_from_slice(c);
        }
    }
    let mut changes: Vec<_> = s.changes.iter().collect();
    changes.sort_unstable_by(|a, b| a.0.cmp(b.0));
    put_len(w, changes.len());
    for (p, log) in changes {
        w.str(p);
        put_len(w, log.len());
        for c in log {
            w.u64(c.seq);
            w.key(&c.key);
            w.u8(u8::from(c.kind == ChangeKind::Removed));
            w.0.extend_from_slice(&c.cid);
        }
    }
    let mut dropped: Vec<_> = s.dropped_to.iter().collect();
    dropped.sort_unstable_by(|a, b| a.0.cmp(b.0));
    put_len(w, dropped.len());
    for (p, seq) in dropped {
        w.str(p);
        w.u64(*seq);
    }
}

/// A participant name written in strict order after `last`.
fn next_name(r: &mut Reader<'_>, last: &mut Option<String>) -> Result<String, SnapshotError> {
    let p = r.str()?;
    if last.as_ref().is_some_and(|l| *l >= p) {
        return Err(SnapshotError::Inconsistent("participants not in strict order"));
    }
    *last = Some(p.clone());
    Ok(p)
}

fn read_sync(r: &mut Reader<'_>, seq: u64) -> Result<SyncState, SnapshotError> {
    let mut s = SyncState { seq, ..SyncState::default() };
    let n = count(r, MIN_STR + 5 * 32, "VSync participants")?;
    let mut last = None;
    for _ in 0..n {
        let p = next_name(r, &mut last)?;
        let mut cids = [[0u8; 32]; 5];
        for c in &mut cids {
            *c = get_cid(r)?;
        }
        s.vsync.insert(p, cids);
    }
    let n = count(r, MIN_STR + 8, "change logs")?;
    let mut last = None;
    for _ in 0..n {
        let p = next_name(r, &mut last)?;
        let m = count(r, 8 + 1 + MIN_STR + 1 + 32, "changes")?;
        let mut log = VecDeque::with_capacity(m);
        for _ in 0..m {
            let c = Change {
                seq: r.u64()?,
                key: r.key()?,
                kind: match r.u8()? {
                    0 => ChangeKind::Added,
                    1 => ChangeKind::Removed,
                    tag => return Err(DecodeError::Tag { field: "change kind", tag }.into()),
                },
                cid: get_cid(r)?,
            };
            if c.seq > seq || log.back().is_some_and(|b: &Change| b.seq > c.seq) {
                return Err(SnapshotError::Inconsistent("change log out of sequence order"));
            }
            log.push_back(c);
        }
        s.changes.insert(p, log);
    }
    let n = count(r, MIN_STR + 8, "dropped change marks")?;
    let mut last = None;
    for _ in 0..n {
        let p = next_name(r, &mut last)?;
        s.dropped_to.insert(p, r.u64()?);
    }
    Ok(s)
}

const CATEGORIES: [Category; 6] =
    [Category::A, Category::B, Category::C, Category::D, Category::E, Category::F];
const POLICIES: [UserPolicy; 2] = [UserPolicy::V1, UserPolicy::V2];

fn put_bucket(w: &mut Writer, b: &Bucket) {
    w.0.extend_from_slice(&b.scaled.to_le_bytes());
    w.u64(b.last_ms);
}

fn get_bucket(r: &mut Reader<'_>) -> Result<Bucket, SnapshotError> {
    let mut s = [0u8; 16];
    s.copy_from_slice(r.take(16)?);
    Ok(Bucket { scaled: u128::from_le_bytes(s), last_ms: r.u64()? })
}

impl AntiScan {
    /// Append a snapshot of the buckets and participant categories to `out` (the parameters
    /// are given again at decode). The same state always gives the same bytes.
    pub fn encode_snapshot(&self, out: &mut Vec<u8>) {
        write_framed(out, SnapshotKind::AntiScan, |w| {
            let mut cats: Vec<_> = self.categories.iter().collect();
            cats.sort_unstable_by(|a, b| a.0.cmp(b.0));
            put_len(w, cats.len());
            for (p, c) in cats {
                w.str(p);
                w.tag(&CATEGORIES, *c);
            }
            let mut parts: Vec<_> = self.participants.iter().collect();
            parts.sort_unstable_by(|a, b| a.0.cmp(b.0));
            put_len(w, parts.len());
            for (p, b) in parts {
                w.str(p);
                put_bucket(w, b);
            }
            let mut users: Vec<_> = self.users.iter().collect();
            let order = |u: &UserId| (u.participant.clone(), u.payer.clone(), u.policy as u8);
            users.sort_unstable_by_key(|(u, _)| order(u));
            put_len(w, users.len());
            for (u, (b, owner)) in users {
                w.str(&u.participant);
                w.str(&u.payer);
                w.tag(&POLICIES, u.policy);
                put_bucket(w, b);
                w.tag(&crate::events::OWNER_TYPES, *owner);
            }
        });
    }

    /// The buckets a snapshot holds, under the given parameters.
    pub fn decode_snapshot(
        bytes: &[u8],
        config: AntiScanConfig,
    ) -> Result<AntiScan, SnapshotError> {
        let body = read_framed(bytes, SnapshotKind::AntiScan)?;
        let mut r = Reader { rest: body, rules: &BrazilIds };
        let mut scan = AntiScan::new(config);
        let n = count(&mut r, MIN_STR + 1, "participant categories")?;
        let mut last = None;
        for _ in 0..n {
            let p = next_name(&mut r, &mut last)?;
            scan.categories.insert(p, r.tag(&CATEGORIES, "category")?);
        }
        let n = count(&mut r, MIN_STR + 24, "participant buckets")?;
        let mut last = None;
        for _ in 0..n {
            let p = next_name(&mut r, &mut last)?;
            scan.participants.insert(p, get_bucket(&mut r)?);
        }
        let n = count(&mut r, 2 * MIN_STR + 26, "end-user buckets")?;
        let mut last: Option<(String, String, u8)> = None;
        for _ in 0..n {
            let id = UserId {
                participant: r.str()?,
                payer: r.str()?,
                policy: r.tag(&POLICIES, "user policy")?,
            };
            let order = (id.participant.clone(), id.payer.clone(), id.policy as u8);
            if last.as_ref().is_some_and(|l| *l >= order) {
                return Err(SnapshotError::Inconsistent("end-user buckets not in strict order"));
            }
            last = Some(order);
            let bucket = get_bucket(&mut r)?;
            let owner: OwnerType = r.tag(&crate::events::OWNER_TYPES, "owner type")?;
            scan.users.insert(id, (bucket, owner));
        }
        if !r.rest.is_empty() {
            return Err(SnapshotError::Trailing(r.rest.len()));
        }
        Ok(scan)
    }
}

impl SeededRandom {
    /// Append a snapshot of the generator's state to `out`.
    pub fn encode_snapshot(&self, out: &mut Vec<u8>) {
        write_framed(out, SnapshotKind::Random, |w| w.u64(self.0));
    }

    /// The generator a snapshot holds: it draws what the snapshotted one would have drawn.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<SeededRandom, SnapshotError> {
        let body = read_framed(bytes, SnapshotKind::Random)?;
        let mut r = Reader { rest: body, rules: &BrazilIds };
        let state = r.u64()?;
        if !r.rest.is_empty() {
            return Err(SnapshotError::Trailing(r.rest.len()));
        }
        Ok(SeededRandom(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_sees_every_word_change() {
        let base: Vec<u8> = (0..100u8).collect();
        let sum = snapshot_checksum(&base);
        for i in 0..base.len() {
            let mut b = base.clone();
            b[i] ^= 1;
            assert_ne!(snapshot_checksum(&b), sum, "byte {i}");
        }
        assert_ne!(snapshot_checksum(&base[..99]), sum);
    }

    #[test]
    fn the_random_source_resumes_where_it_was() {
        let mut a = SeededRandom(9);
        let mut x = [0u8; 16];
        crate::RandomSource::fill(&mut a, &mut x);
        let mut bytes = Vec::new();
        a.encode_snapshot(&mut bytes);
        let mut b = SeededRandom::decode_snapshot(&bytes).unwrap();
        let (mut p, mut q) = ([0u8; 16], [0u8; 16]);
        crate::RandomSource::fill(&mut a, &mut p);
        crate::RandomSource::fill(&mut b, &mut q);
        assert_eq!(p, q);
        assert_eq!(
            AntiScan::decode_snapshot(&bytes, AntiScanConfig::default()).unwrap_err(),
            SnapshotError::Kind { expected: 2, found: 3 }
        );
    }
}
