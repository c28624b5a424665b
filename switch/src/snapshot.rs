//! The core's whole state as bytes, so that a restart starts from a snapshot and replays only
//! the journal records written after it (`store::FileJournal::write_snapshot`).
//!
//! What is in it: the ledger (its own snapshot, `ledger::Ledger::encode_snapshot`), the alias
//! directory and its anti-scanning buckets (their own snapshots), every transfer and idempotency record, funding, every participant's stream
//! position (next and acknowledged sequence) with the messages it has not acknowledged,
//! counters, late answers, settlement window reports, the exception flows (returns, recalls,
//! holds, their idempotency records, timers and investigations), the compaction counter and
//! the random source. Timers of transfers in flight and the idempotency index are rebuilt
//! from the transfers. Strings are a u32 length then UTF-8; counts are u64.
//! What is not: the rules and the participants' identities come from the configuration; the
//! snapshot records each participant's BIC, member id and net debit cap and refuses to load
//! against a configuration whose participants differ ([`SnapshotError::ParticipantsDiffer`]).
//! A participant's status is taken from the snapshot only when a journaled event set it;
//! otherwise the configuration's initial status holds, as in a replay from the first record.
//!
//! Guarantees: a core restored from `encode_snapshot` answers every later input exactly as the
//! core it came from (same events, same messages with the same sequence numbers), and
//! re-encodes to the same bytes (the encoding is canonical: maps are written sorted). Decoding
//! checks the magic, the version, the length and a checksum of the body, every count against
//! the bytes left, every reference (participant indexes, transfer ids), and the ledger's
//! invariants; damaged or foreign bytes get a specific [`SnapshotError`], never a panic, and
//! leave the core untouched.
//! Must not: do I/O (the journal stores the bytes), read the clock, or change the core it
//! encodes. Taken at a batch boundary, after the batch's messages were drained.
//!
//! Format, version 2, little-endian: magic `IPSWCORE`, version u32, body length u64, checksum
//! u64 of the body, then the body: participants, scalars, per-participant vectors, counters,
//! ledger, directory, anti-scanning buckets, transfers (by id), unacknowledged messages,
//! late answers, windows, exception state, retention (finished transfers in the order they
//! finished, retired transfers' duplicate-detection records oldest first, the forgetting
//! horizon). Version 1 is version 2 without the retention part.

use crate::core::{Core, Counters, GrowingMap, Outbound, RetiredRecord, State, Transfer};
use crate::events::Ids;
use crate::exceptions::{ExceptionState, Investigation, InvestigationKind, Recall, RecallState};
use iso20022::codes::StatusReason;
use ledger::WindowReport;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Magic bytes opening every core snapshot.
pub const CORE_SNAPSHOT_MAGIC: [u8; 8] = *b"IPSWCORE";
/// The format this build writes. It reads this one and version 1 (before retention: its
/// finished transfers are queued for retirement in the order they finished).
pub const CORE_SNAPSHOT_VERSION: u32 = 2;
/// Bytes before the body: magic, version, body length, checksum.
pub const CORE_SNAPSHOT_HEADER_BYTES: usize = 8 + 4 + 8 + 8;

/// Largest snapshot the switch writes or reads (`store::JournalOptions::snapshot_bytes_max`
/// for the switch's journal): about 200 bytes per transfer held, so some 80 million.
pub const SNAPSHOT_BYTES_MAX: u64 = 16 << 30;

/// Message types a stream may hold (a snapshot names them by text).
const MSG_TYPES: [&str; 5] =
    ["pacs.008.001.08", "pacs.002.001.10", "pacs.004.001.09", "camt.056.001.08", "camt.029.001.09"];

/// Why a core snapshot could not be written or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The bytes do not start with [`CORE_SNAPSHOT_MAGIC`]: not a core snapshot.
    #[error("not a switch core snapshot (bad magic)")]
    BadMagic,
    /// Written by a format version this build does not read: run the build that wrote it,
    /// or remove the snapshot and replay the whole journal.
    #[error(
        "core snapshot format version {0} is not supported (this build reads {v})",
        v = CORE_SNAPSHOT_VERSION
    )]
    UnsupportedVersion(u32),
    /// The bytes end before the field named: the snapshot was cut short.
    #[error("core snapshot truncated at byte {at} reading {what}")]
    Truncated {
        /// Offset where the field should start.
        at: usize,
        /// Which field.
        what: &'static str,
    },
    /// The body does not match its checksum: the snapshot is damaged.
    #[error("core snapshot checksum mismatch (stored {stored:016x}, computed {computed:016x})")]
    ChecksumMismatch {
        /// Checksum in the header.
        stored: u64,
        /// Checksum of the body read.
        computed: u64,
    },
    /// Bytes follow the body the header announces.
    #[error("core snapshot has {0} bytes after its body")]
    TrailingBytes(usize),
    /// The configuration's participants are not those the snapshot was taken with (BIC,
    /// member id or settlement model differ, or one was added or removed). Restore the
    /// configuration, or remove the snapshots and replay the whole journal.
    #[error("core snapshot taken with other participants: {0}")]
    ParticipantsDiffer(String),
    /// A field holds a value the core could never have written; the message says which.
    #[error("core snapshot invalid: {0}")]
    Invalid(String),
    /// The ledger part was refused.
    #[error("core snapshot: ledger part refused: {0}")]
    Ledger(#[from] ledger::SnapshotError),
    /// The directory part could not be written or read; the message says why.
    #[error("core snapshot: directory part: {0}")]
    Directory(String),
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, SnapshotError> {
    Err(SnapshotError::Invalid(msg.into()))
}

/// A checksum of the body: 64-bit, word at a time. Every step is a bijection of the state
/// for a given word, so any change of one word changes the result.
fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = K ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    for b in chunks.remainder() {
        h = (h ^ u64::from(*b)).wrapping_mul(K).rotate_left(29);
    }
    h ^ (h >> 31)
}

/// Output bytes, and whether a string was too long for its 32-bit length.
struct Writer(Vec<u8>, bool);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    /// A string: u32 length, UTF-8 (strings come from bounded messages; one over 4 GiB
    /// marks the snapshot as not writable).
    fn str(&mut self, s: &str) {
        match u32::try_from(s.len()) {
            Ok(n) => self.u32(n),
            Err(_) => {
                self.1 = true;
                self.u32(0);
                return;
            }
        }
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
            None => self.u8(0),
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    /// Offset of the body in the whole snapshot, for error positions.
    base: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let end = self.at.checked_add(n);
        match end.and_then(|end| self.b.get(self.at..end)) {
            Some(s) => {
                self.at += n;
                Ok(s)
            }
            None => Err(SnapshotError::Truncated { at: self.base + self.at, what }),
        }
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, SnapshotError> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn bool(&mut self, what: &'static str) -> Result<bool, SnapshotError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            v => invalid(format!("{what}: flag {v} is neither 0 nor 1")),
        }
    }
    /// A count of items of at least `min_bytes` each: never more than the bytes left allow,
    /// so a damaged count cannot make the reader allocate without bound.
    fn count(&mut self, min_bytes: usize, what: &'static str) -> Result<usize, SnapshotError> {
        let at = self.base + self.at;
        let n = self.u64(what)?;
        let left = self.b.len().saturating_sub(self.at) as u64;
        if n.saturating_mul(min_bytes.max(1) as u64) > left {
            return Err(SnapshotError::Truncated { at, what });
        }
        usize::try_from(n).map_err(|_| SnapshotError::Truncated { at, what })
    }
    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let n = self.count(1, what)?;
        self.take(n, what)
    }
    fn string(&mut self, what: &'static str) -> Result<String, SnapshotError> {
        let n = self.u32(what)? as usize;
        let b = self.take(n, what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => invalid(format!("{what}: not UTF-8")),
        }
    }
    fn opt_string(&mut self, what: &'static str) -> Result<Option<String>, SnapshotError> {
        Ok(if self.bool(what)? { Some(self.string(what)?) } else { None })
    }
    fn opt_u64(&mut self, what: &'static str) -> Result<Option<u64>, SnapshotError> {
        Ok(if self.bool(what)? { Some(self.u64(what)?) } else { None })
    }
}

/// Everything decoded, before it replaces the core's state (all or nothing).
struct Decoded {
    status: Vec<Option<bool>>,
    next_id: u64,
    funding_count: u64,
    finished_since_compact: u64,
    rng: u64,
    funded: Vec<u64>,
    stream_next: Vec<u64>,
    stream_acked: Vec<u64>,
    counters: Counters,
    ledger: ledger::Ledger,
    directory: directory::Directory<directory::CompactStore>,
    scan: directory::AntiScan,
    transfers: GrowingMap<u64, Transfer>,
    by_key: GrowingMap<u128, u64>,
    deadlines: BTreeSet<(u64, u64)>,
    unacked: Vec<VecDeque<Outbound>>,
    late: Vec<(u64, String)>,
    windows: BTreeMap<u64, (WindowReport, Option<u64>)>,
    exc: ExceptionState,
    retention: Retained,
}

/// The retention state of a snapshot.
#[derive(Default)]
struct Retained {
    finished: VecDeque<(u64, u64)>,
    retired: GrowingMap<u128, RetiredRecord>,
    retired_order: VecDeque<u128>,
    forgotten_before_ms: u64,
}

impl Core {
    /// The core's state as snapshot bytes (see the module header for what is in it). Take it
    /// at a batch boundary: messages not yet drained are not part of it (those not yet
    /// acknowledged are, through the unacknowledged streams).
    pub fn encode_snapshot(&self) -> Result<Vec<u8>, SnapshotError> {
        let guess = self.transfers.len().saturating_mul(256).saturating_add(256 * 1024);
        let mut w = Writer(Vec::with_capacity(guess.min(SNAPSHOT_BYTES_MAX as usize)), false);
        w.0.extend_from_slice(&[0u8; CORE_SNAPSHOT_HEADER_BYTES]);
        self.encode_body(&mut w)?;
        if w.1 {
            return invalid("a string is over 4 GiB");
        }
        let body = w.0.get(CORE_SNAPSHOT_HEADER_BYTES..).unwrap_or_default();
        let (len, sum) = (body.len() as u64, checksum(body));
        let mut header = Vec::with_capacity(CORE_SNAPSHOT_HEADER_BYTES);
        header.extend_from_slice(&CORE_SNAPSHOT_MAGIC);
        header.extend_from_slice(&CORE_SNAPSHOT_VERSION.to_le_bytes());
        header.extend_from_slice(&len.to_le_bytes());
        header.extend_from_slice(&sum.to_le_bytes());
        if let Some(h) = w.0.get_mut(..CORE_SNAPSHOT_HEADER_BYTES) {
            h.copy_from_slice(&header);
        }
        Ok(w.0)
    }

    /// Replace this core's state by a snapshot's. The core must come from the same
    /// configuration the snapshot was taken with (`node::core_from_config`): its rules stay,
    /// its participants must match. On any error the core is left as it was.
    pub fn restore_snapshot(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let d = self.decode(bytes)?;
        // A status set by a journaled event stands; otherwise the configuration's, as a
        // replay from the first record would have it.
        for ((p, s), j) in
            self.participants.iter_mut().zip(d.status).zip(self.status_journaled.iter_mut())
        {
            *j = s.is_some();
            if let Some(s) = s {
                p.suspended = s;
            }
        }
        self.next_id = d.next_id;
        self.funding_count = d.funding_count;
        self.finished_since_compact = d.finished_since_compact;
        self.rng = directory::SeededRandom(d.rng);
        self.funded = d.funded;
        self.stream_next = d.stream_next;
        self.stream_acked = d.stream_acked;
        self.counters = d.counters;
        self.ledger = d.ledger;
        self.directory = d.directory;
        self.scan = d.scan;
        self.transfers = d.transfers;
        self.by_key = d.by_key;
        self.deadlines = d.deadlines;
        self.outbound.clear();
        self.unacked = d.unacked;
        self.late = d.late;
        self.windows = d.windows;
        self.exc = d.exc;
        self.finished = d.retention.finished;
        self.retired = d.retention.retired;
        self.retired_order = d.retention.retired_order;
        self.forgotten_before_ms = d.retention.forgotten_before_ms;
        Ok(())
    }

    fn encode_body(&self, w: &mut Writer) -> Result<(), SnapshotError> {
        w.len(self.participants.len());
        for p in &self.participants {
            w.str(&p.bic);
            w.opt_str(p.member_id.as_deref());
            w.opt_u64(p.net_debit_cap_minor);
        }
        // Status: 0 as configured (no journaled change), 1 active, 2 suspended.
        for (p, journaled) in self.participants.iter().zip(&self.status_journaled) {
            w.u8(if !journaled {
                0
            } else if p.suspended {
                2
            } else {
                1
            });
        }
        w.u64(self.next_id);
        w.u64(self.funding_count);
        w.u64(self.finished_since_compact);
        w.u64(self.rng.0);
        for v in [&self.funded, &self.stream_next, &self.stream_acked] {
            v.iter().for_each(|x| w.u64(*x));
        }
        let c = &self.counters;
        for v in [
            c.settled,
            c.rejected,
            c.in_flight,
            c.late_answers,
            c.returns,
            c.recalls,
            c.enquiries,
            c.holds,
        ] {
            w.u64(v);
        }
        let mut ledger = Vec::new();
        self.ledger.encode_snapshot(&mut ledger);
        w.bytes(&ledger);
        self.encode_directory(w)?;
        let mut ids: Vec<u64> = self.transfers.keys().copied().collect();
        ids.sort_unstable();
        let transfers: Vec<&Transfer> =
            ids.iter().filter_map(|id| self.transfers.get(id)).collect();
        w.len(transfers.len());
        for t in transfers {
            encode_transfer(w, t);
        }
        for q in &self.unacked {
            w.len(q.len());
            for o in q {
                w.u64(o.seq);
                w.str(o.msg_type);
                w.str(&o.xml);
            }
        }
        w.len(self.late.len());
        for (id, status) in &self.late {
            w.u64(*id);
            w.str(status);
        }
        w.len(self.windows.len());
        for (window, (report, settled)) in &self.windows {
            w.u64(*window);
            encode_report(w, report);
            w.opt_u64(*settled);
        }
        encode_exceptions(w, &self.exc);
        encode_retention(w, self);
        Ok(())
    }

    /// The directory part: the directory's and the anti-scanning buckets' own snapshots.
    fn encode_directory(&self, w: &mut Writer) -> Result<(), SnapshotError> {
        let mut part = Vec::new();
        self.directory.encode_snapshot(&mut part);
        w.bytes(&part);
        part.clear();
        self.scan.encode_snapshot(&mut part);
        w.bytes(&part);
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, SnapshotError> {
        let mut h = Reader { b: bytes, at: 0, base: 0 };
        if h.take(8, "magic").ok() != Some(&CORE_SNAPSHOT_MAGIC[..]) {
            return Err(SnapshotError::BadMagic);
        }
        let version = h.u32("version")?;
        if !(1..=CORE_SNAPSHOT_VERSION).contains(&version) {
            return Err(SnapshotError::UnsupportedVersion(version));
        }
        let len = h.u64("body length")?;
        let stored = h.u64("checksum")?;
        let left = bytes.len().saturating_sub(CORE_SNAPSHOT_HEADER_BYTES) as u64;
        if len > left {
            return Err(SnapshotError::Truncated { at: bytes.len(), what: "body" });
        }
        if len < left {
            return Err(SnapshotError::TrailingBytes((left - len) as usize));
        }
        let body = bytes.get(CORE_SNAPSHOT_HEADER_BYTES..).unwrap_or_default();
        let computed = checksum(body);
        if computed != stored {
            return Err(SnapshotError::ChecksumMismatch { stored, computed });
        }
        let mut r = Reader { b: body, at: 0, base: CORE_SNAPSHOT_HEADER_BYTES };
        let d = self.decode_body(&mut r, version)?;
        if r.at != body.len() {
            return Err(SnapshotError::TrailingBytes(body.len() - r.at));
        }
        Ok(d)
    }

    /// The participants' identities, checked against the configuration's, then their
    /// journaled status (`None`: as configured).
    fn decode_participants(&self, r: &mut Reader<'_>) -> Result<Vec<Option<bool>>, SnapshotError> {
        let n = r.count(4 + 1 + 1 + 1, "participants")?;
        if n != self.participants.len() {
            return Err(SnapshotError::ParticipantsDiffer(format!(
                "the snapshot has {n} participants, the configuration {}",
                self.participants.len()
            )));
        }
        for (i, p) in self.participants.iter().enumerate() {
            let bic = r.string("participant BIC")?;
            let member = r.opt_string("participant member id")?;
            let cap = r.opt_u64("participant net debit cap")?;
            if bic != p.bic || member != p.member_id || cap != p.net_debit_cap_minor {
                return Err(SnapshotError::ParticipantsDiffer(format!(
                    "participant {i}: snapshot has {bic} (member {member:?}, net debit cap \
                     {cap:?}), the configuration {} (member {:?}, net debit cap {:?})",
                    p.bic, p.member_id, p.net_debit_cap_minor
                )));
            }
        }
        let mut status = Vec::with_capacity(n);
        for i in 0..n {
            status.push(match r.u8("participant status")? {
                0 => None,
                1 => Some(false),
                2 => Some(true),
                v => return invalid(format!("participant {i}: status {v}")),
            });
        }
        Ok(status)
    }

    fn decode_body(&self, r: &mut Reader<'_>, version: u32) -> Result<Decoded, SnapshotError> {
        let n = self.participants.len();
        let status = self.decode_participants(r)?;
        let next_id = r.u64("next transfer id")?;
        let funding_count = r.u64("funding count")?;
        let finished_since_compact = r.u64("compaction counter")?;
        let rng = r.u64("random source")?;
        let mut vecs: [Vec<u64>; 3] = Default::default();
        for (v, what) in vecs.iter_mut().zip(["funded", "stream next", "stream acknowledged"]) {
            for _ in 0..n {
                v.push(r.u64(what)?);
            }
        }
        let [funded, stream_next, stream_acked] = vecs;
        let mut c = [0u64; 8];
        for v in &mut c {
            *v = r.u64("counters")?;
        }
        let [settled, rejected, in_flight, late_answers, returns, recalls, enquiries, holds] = c;
        let counters = Counters {
            settled,
            rejected,
            in_flight,
            late_answers,
            returns,
            recalls,
            enquiries,
            holds,
        };
        let ledger = ledger::Ledger::decode_snapshot(r.bytes("ledger")?)?;
        let config = self.directory.config().clone();
        let directory = directory::Directory::decode_snapshot(r.bytes("directory")?, config)
            .map_err(|e| SnapshotError::Directory(e.to_string()))?;
        let scan = directory::AntiScan::decode_snapshot(
            r.bytes("anti-scanning buckets")?,
            self.scan.config().clone(),
        )
        .map_err(|e| SnapshotError::Directory(format!("anti-scanning buckets: {e}")))?;
        let count = r.count(8, "transfers")?;
        let mut transfers = GrowingMap::with_capacity(count);
        let mut deadlines = BTreeSet::new();
        let mut last = 0;
        for _ in 0..count {
            let t = decode_transfer(r, n)?;
            if t.id <= last || t.id >= next_id {
                return invalid(format!("transfer {} out of order or not below next id", t.id));
            }
            last = t.id;
            if let State::Reserved { deadline_ms } = t.state {
                deadlines.insert((deadline_ms, t.id));
            }
            transfers.insert(t.id, t);
        }
        if deadlines.len() as u64 != counters.in_flight {
            return invalid(format!(
                "{} transfers in flight but the counter says {}",
                deadlines.len(),
                counters.in_flight
            ));
        }
        // The idempotency index is rebuilt: live, each transfer's key is inserted when its
        // id is given, in increasing id order, so the last transfer with a key holds it.
        let mut ids: Vec<u64> = transfers.keys().copied().collect();
        ids.sort_unstable();
        let mut by_key = GrowingMap::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = transfers.get(&id) {
                by_key.insert(Core::key_hash(t.debtor, &t.ids), id);
            }
        }
        let unacked = decode_unacked(r, &stream_next, &stream_acked)?;
        let count = r.count(8 + 4, "late answers")?;
        let mut late = Vec::with_capacity(count);
        for _ in 0..count {
            late.push((r.u64("late answer id")?, r.string("late answer status")?));
        }
        let count = r.count(8 + 8 + 16 + 1, "windows")?;
        let mut windows = BTreeMap::new();
        for _ in 0..count {
            let window = r.u64("window")?;
            let report = decode_report(r)?;
            let settled = r.opt_u64("window settled at")?;
            if windows.insert(window, (report, settled)).is_some() {
                return invalid(format!("window {window} twice"));
            }
        }
        let exc = decode_exceptions(r, &transfers, next_id)?;
        let retention = decode_retention(r, &transfers, version)?;
        Ok(Decoded {
            status,
            next_id,
            funding_count,
            finished_since_compact,
            rng,
            funded,
            stream_next,
            stream_acked,
            counters,
            ledger,
            directory,
            scan,
            transfers,
            by_key,
            deadlines,
            unacked,
            late,
            windows,
            exc,
            retention,
        })
    }
}

/// Retention: finished transfers held in full, in the order they finished; retired
/// transfers' duplicate-detection records, oldest first; the forgetting horizon.
fn encode_retention(w: &mut Writer, core: &Core) {
    w.len(core.finished.len());
    for (at, id) in &core.finished {
        w.u64(*at);
        w.u64(*id);
    }
    // Counted as written, so that the count always matches the records that follow.
    w.len(core.retired_order.iter().filter(|h| core.retired.contains_key(*h)).count());
    for hash in &core.retired_order {
        let Some(r) = core.retired.get(hash) else { continue };
        w.bytes(&hash.to_le_bytes());
        w.u64(r.id);
        w.u64(r.fingerprint);
        w.str(r.reason.map_or("", |r| r.code()));
        w.u64(r.finished_ms);
    }
    w.u64(core.forgotten_before_ms);
}

/// What [`encode_retention`] wrote; for a version 1 snapshot, the finished transfers in the
/// order they finished (time, then id) and nothing retired.
fn decode_retention(
    r: &mut Reader<'_>,
    transfers: &GrowingMap<u64, Transfer>,
    version: u32,
) -> Result<Retained, SnapshotError> {
    let mut kept = Retained::default();
    if version == 1 {
        let mut done: Vec<(u64, u64)> = transfers
            .values()
            .filter(|t| !matches!(t.state, State::Reserved { .. }) && t.recall.is_none())
            .map(|t| (t.updated_ms, t.id))
            .collect();
        done.sort_unstable();
        kept.finished = done.into();
        return Ok(kept);
    }
    let count = r.count(16, "finished transfers")?;
    for _ in 0..count {
        let (at, id) = (r.u64("finished at")?, r.u64("finished transfer")?);
        kept.finished.push_back((at, id));
    }
    let count = r.count(4 + 16 + 8 + 8 + 4 + 8, "retired transfers")?;
    for _ in 0..count {
        let hash: [u8; 16] = r
            .bytes("retired key")?
            .try_into()
            .map_err(|_| SnapshotError::Invalid("retired key is not 16 bytes".into()))?;
        let hash = u128::from_le_bytes(hash);
        let id = r.u64("retired id")?;
        if transfers.contains_key(&id) {
            return invalid(format!("transfer {id} is both held and retired"));
        }
        let fingerprint = r.u64("retired fingerprint")?;
        let reason = match r.string("retired reason")?.as_str() {
            "" => None,
            code => Some(StatusReason::from_code(code).ok_or_else(|| {
                SnapshotError::Invalid(format!("retired {id}: unknown reason {code}"))
            })?),
        };
        let finished_ms = r.u64("retired at")?;
        let record = RetiredRecord { id, fingerprint, reason, finished_ms };
        if kept.retired.insert(hash, record).is_some() {
            return invalid(format!("retired key of transfer {id} twice"));
        }
        kept.retired_order.push_back(hash);
    }
    kept.forgotten_before_ms = r.u64("forgotten before")?;
    Ok(kept)
}

fn encode_ids(w: &mut Writer, ids: &Ids) {
    w.str(&ids.msg_id);
    w.opt_str(ids.instr_id.as_deref());
    w.str(&ids.end_to_end_id);
    w.opt_str(ids.tx_id.as_deref());
    w.opt_str(ids.uetr.as_deref());
}

fn decode_ids(r: &mut Reader<'_>) -> Result<Ids, SnapshotError> {
    Ok(Ids {
        msg_id: r.string("MsgId")?,
        instr_id: r.opt_string("InstrId")?,
        end_to_end_id: r.string("EndToEndId")?,
        tx_id: r.opt_string("TxId")?,
        uetr: r.opt_string("UETR")?,
    })
}

fn encode_transfer(w: &mut Writer, t: &Transfer) {
    w.u64(t.id);
    w.u32(t.debtor);
    match t.creditor {
        Some(c) => {
            w.u8(1);
            w.u32(c);
        }
        None => w.u8(0),
    }
    w.u64(t.amount_minor);
    encode_ids(w, &t.ids);
    w.u64(t.fingerprint);
    match t.state {
        State::Reserved { deadline_ms } => {
            w.u8(0);
            w.u64(deadline_ms);
        }
        State::Settled => w.u8(1),
        State::Rejected(reason) => {
            w.u8(2);
            w.str(reason.code());
        }
    }
    w.u64(t.created_ms);
    w.u64(t.updated_ms);
    w.u64(t.returned_minor);
    w.opt_str(t.creditor_key.as_deref());
    w.opt_u64(t.recall);
}

fn participant(r: &mut Reader<'_>, n: usize, what: &'static str) -> Result<u32, SnapshotError> {
    let p = r.u32(what)?;
    if p as usize >= n {
        return invalid(format!("{what}: participant {p} of {n}"));
    }
    Ok(p)
}

fn decode_transfer(r: &mut Reader<'_>, n: usize) -> Result<Transfer, SnapshotError> {
    let id = r.u64("transfer id")?;
    let debtor = participant(r, n, "transfer debtor")?;
    let creditor =
        if r.bool("transfer creditor")? { Some(participant(r, n, "creditor")?) } else { None };
    let amount_minor = r.u64("transfer amount")?;
    let ids = decode_ids(r)?;
    let fingerprint = r.u64("transfer fingerprint")?;
    let state = match r.u8("transfer state")? {
        0 => State::Reserved { deadline_ms: r.u64("transfer deadline")? },
        1 => State::Settled,
        2 => {
            let code = r.string("transfer reason")?;
            match StatusReason::from_code(&code) {
                Some(reason) => State::Rejected(reason),
                None => return invalid(format!("transfer {id}: unknown reason code {code:?}")),
            }
        }
        v => return invalid(format!("transfer {id}: unknown state {v}")),
    };
    Ok(Transfer {
        id,
        debtor,
        creditor,
        amount_minor,
        ids,
        fingerprint,
        state,
        created_ms: r.u64("transfer created")?,
        updated_ms: r.u64("transfer updated")?,
        returned_minor: r.u64("transfer returned")?,
        creditor_key: r.opt_string("transfer creditor key")?.map(String::into_boxed_str),
        recall: r.opt_u64("transfer recall")?,
    })
}

fn encode_keys(w: &mut Writer, keys: &HashMap<String, u64>) {
    let mut sorted: Vec<(&String, &u64)> = keys.iter().collect();
    sorted.sort_unstable();
    w.len(sorted.len());
    for (k, v) in sorted {
        w.str(k);
        w.u64(*v);
    }
}

fn decode_keys(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<HashMap<String, u64>, SnapshotError> {
    let count = r.count(4 + 8, what)?;
    let mut keys = HashMap::with_capacity(count);
    let mut last: Option<String> = None;
    for _ in 0..count {
        let k = r.string(what)?;
        let v = r.u64(what)?;
        if last.as_ref().is_some_and(|l| *l >= k) {
            return invalid(format!("{what}: {k:?} out of order"));
        }
        keys.insert(k.clone(), v);
        last = Some(k);
    }
    Ok(keys)
}

fn decode_unacked(
    r: &mut Reader<'_>,
    next: &[u64],
    acked: &[u64],
) -> Result<Vec<VecDeque<Outbound>>, SnapshotError> {
    let mut all = Vec::with_capacity(next.len());
    for (i, (next, acked)) in next.iter().zip(acked).enumerate() {
        if *acked >= *next {
            return invalid(format!("participant {i}: acknowledged {acked} but next is {next}"));
        }
        let count = r.count(8 + 4 + 4, "unacknowledged messages")?;
        let mut q = VecDeque::with_capacity(count);
        let mut last = *acked;
        for _ in 0..count {
            let seq = r.u64("message sequence")?;
            if seq <= last || seq >= *next {
                return invalid(format!("participant {i}: message {seq} out of its stream"));
            }
            last = seq;
            let name = r.string("message type")?;
            let Some(msg_type) = MSG_TYPES.iter().find(|t| **t == name) else {
                return invalid(format!("unknown message type {name:?}"));
            };
            let xml = r.string("message")?;
            q.push_back(Outbound {
                participant: i as u32,
                seq,
                msg_type,
                xml: std::sync::Arc::new(xml),
            });
        }
        all.push(q);
    }
    Ok(all)
}

fn encode_report(w: &mut Writer, report: &WindowReport) {
    let mut b = Vec::new();
    report.encode_into(&mut b);
    w.bytes(&b);
}

fn decode_report(r: &mut Reader<'_>) -> Result<WindowReport, SnapshotError> {
    Ok(WindowReport::decode_from(r.bytes("window report")?)?)
}

const RECALL_STATES: [RecallState; 5] = [
    RecallState::Open,
    RecallState::Accepted,
    RecallState::Refused,
    RecallState::Returned,
    RecallState::Expired,
];
const INVESTIGATION_KINDS: [InvestigationKind; 4] = [
    InvestigationKind::LateAcceptance,
    InvestigationKind::RecallUnanswered,
    InvestigationKind::RecallAcceptedNotReturned,
    InvestigationKind::ReturnFailed,
];

fn index_of<T: PartialEq>(all: &[T], v: &T) -> u8 {
    all.iter().position(|x| x == v).unwrap_or(0) as u8
}

fn encode_set(w: &mut Writer, set: &BTreeSet<(u64, u64)>) {
    w.len(set.len());
    for (a, b) in set {
        w.u64(*a);
        w.u64(*b);
    }
}

fn decode_set(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<BTreeSet<(u64, u64)>, SnapshotError> {
    let count = r.count(16, what)?;
    let mut set = BTreeSet::new();
    for _ in 0..count {
        set.insert((r.u64(what)?, r.u64(what)?));
    }
    if set.len() != count {
        return invalid(format!("{what}: an entry twice"));
    }
    Ok(set)
}

fn encode_exceptions(w: &mut Writer, exc: &ExceptionState) {
    let mut returns: Vec<_> = exc.returns.values().collect();
    returns.sort_unstable_by_key(|r| r.id);
    w.len(returns.len());
    for r in returns {
        w.u64(r.id);
        w.u64(r.original);
        w.u64(r.amount_minor);
        w.str(&r.reason);
        w.u64(r.at_ms);
        w.u64(r.fingerprint);
    }
    encode_keys(w, &exc.return_by_key);
    w.u64(exc.next_return);
    let mut recalls: Vec<_> = exc.recalls.values().collect();
    recalls.sort_unstable_by_key(|r| r.id);
    w.len(recalls.len());
    for r in recalls {
        w.u64(r.id);
        w.u64(r.transfer);
        w.str(&r.assignment_id);
        w.str(&r.case_id);
        w.str(&r.reason);
        w.u64(r.fingerprint);
        w.u8(index_of(&RECALL_STATES, &r.state));
        w.u64(r.opened_ms);
        w.u64(r.expires_ms);
        w.u64(r.hold_minor);
        w.u64(r.hold_until_ms);
        w.u8(u8::from(r.hold_active));
        w.str(&r.answer_reason);
    }
    encode_keys(w, &exc.recall_by_key);
    w.u64(exc.next_recall);
    encode_set(w, &exc.recall_deadlines);
    encode_set(w, &exc.hold_deadlines);
    w.len(exc.investigations.len());
    for i in &exc.investigations {
        w.u8(index_of(&INVESTIGATION_KINDS, &i.kind));
        w.u64(i.transfer);
        w.opt_u64(i.recall);
        w.str(&i.participant);
        w.u64(i.at_ms);
        w.str(&i.detail);
    }
}

/// Decode the exception state. A return or an ended recall may name a transfer that was
/// retired (below `next_id`, no longer held); an open or accepted recall holds its transfer.
fn decode_exceptions(
    r: &mut Reader<'_>,
    transfers: &GrowingMap<u64, Transfer>,
    next_id: u64,
) -> Result<ExceptionState, SnapshotError> {
    let mut exc = ExceptionState::default();
    let count = r.count(44, "returns")?;
    for _ in 0..count {
        let rec = crate::exceptions::ReturnRecord {
            id: r.u64("return id")?,
            original: r.u64("return original")?,
            amount_minor: r.u64("return amount")?,
            reason: r.string("return reason")?,
            at_ms: r.u64("return at")?,
            fingerprint: r.u64("return fingerprint")?,
        };
        if rec.original >= next_id {
            return invalid(format!("return {} of unknown transfer {}", rec.id, rec.original));
        }
        exc.returns.insert(rec.id, rec);
    }
    exc.return_by_key = decode_keys(r, "return keys")?;
    exc.next_return = r.u64("next return")?;
    let count = r.count(80, "recalls")?;
    for _ in 0..count {
        let id = r.u64("recall id")?;
        let transfer = r.u64("recall transfer")?;
        let assignment_id = r.string("recall assignment")?;
        let case_id = r.string("recall case")?;
        let reason = r.string("recall reason")?;
        let fingerprint = r.u64("recall fingerprint")?;
        let state = r.u8("recall state")?;
        let Some(state) = RECALL_STATES.get(state as usize).copied() else {
            return invalid(format!("recall {id}: unknown state {state}"));
        };
        let holds = matches!(state, RecallState::Open | RecallState::Accepted);
        if transfer >= next_id || (holds && !transfers.contains_key(&transfer)) {
            return invalid(format!("recall {id} of unknown transfer {transfer}"));
        }
        let recall = Recall {
            id,
            transfer,
            assignment_id,
            case_id,
            reason,
            fingerprint,
            state,
            opened_ms: r.u64("recall opened")?,
            expires_ms: r.u64("recall expires")?,
            hold_minor: r.u64("recall hold")?,
            hold_until_ms: r.u64("recall hold until")?,
            hold_active: r.bool("recall hold active")?,
            answer_reason: r.string("recall answer")?,
        };
        exc.recalls.insert(id, recall);
    }
    exc.recall_by_key = decode_keys(r, "recall keys")?;
    exc.next_recall = r.u64("next recall")?;
    exc.recall_deadlines = decode_set(r, "recall deadlines")?;
    exc.hold_deadlines = decode_set(r, "hold deadlines")?;
    let count = r.count(1 + 8 + 1 + 4 + 8 + 4, "investigations")?;
    if count > crate::exceptions::INVESTIGATIONS_KEPT {
        return invalid(format!("{count} investigations, more than are ever kept"));
    }
    for _ in 0..count {
        let kind = r.u8("investigation kind")?;
        let Some(kind) = INVESTIGATION_KINDS.get(kind as usize).copied() else {
            return invalid(format!("unknown investigation kind {kind}"));
        };
        exc.investigations.push_back(Investigation {
            kind,
            transfer: r.u64("investigation transfer")?,
            recall: r.opt_u64("investigation recall")?,
            participant: r.string("investigation participant")?,
            at_ms: r.u64("investigation at")?,
            detail: r.string("investigation detail")?,
        });
    }
    Ok(exc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_sees_every_byte() {
        let data: Vec<u8> = (0..100u8).collect();
        let base = checksum(&data);
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 1;
            assert_ne!(checksum(&d), base, "byte {i}");
        }
        assert_ne!(checksum(&data[..99]), base);
    }
}
