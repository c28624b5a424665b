//! The transfer pipeline, sans-IO: a deterministic state machine.
//!
//! `decide_*` look at the state and an input (a decoded message, a tick) and return the
//! [`Event`]s that follow; they change nothing. [`Core::apply`] applies one event: it moves
//! the ledger, updates transfers, timers and idempotency records, and appends the messages
//! the event causes to the participants' outbound streams ([`Core::drain_outbound`]).
//! The runtime journals each event, applies it, syncs the batch, and only then lets the
//! drained messages out. Replaying the journal through `apply` rebuilds the same state and
//! the same outbound streams with the same sequence numbers.
//!
//! Hot path: every transfer passes here. No I/O, no clock, no logging, no locks.

use crate::events::{Event, Ids};
use directory::{CompactStore, Directory, DirectoryConfig, Entry, EntryView, Key, Masked};
use iso20022::codes::{StatusReason, TxStatus};
use iso20022::pacs002::{Pacs002, TxStatusReport};
use iso20022::pacs008::{CreditTransfer, GroupHeader, Pacs008};
use iso20022::{Account, AccountId, Agent, Currency};
use ledger::{AccountFlags, Ledger, TransferError};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Ledger account of the scheme's funding side (the central bank's RTGS counterpart).
pub const FUNDING_ACCOUNT: u64 = 1;
/// Ledger ids of funding transfers start here (transfer ids are below 2^64).
const FUNDING_ID_BASE: u128 = 1 << 64;
/// Prefix of the MsgId the switch gives forwarded pacs.008s; the number is the transfer id.
pub const FORWARD_PREFIX: &str = "IPSF";

/// A pacs.008 as it was received: its bytes and where its transactions lie in them, so each
/// is forwarded exactly as the debtor bank wrote it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The body the bank sent (a document or an envelope).
    pub text: Box<str>,
    /// Where its parts are.
    pub layout: iso20022::splice::Layout,
}

impl Received {
    /// The layout of `body`, a body the pacs.008 decoder accepted; `None` when its
    /// transactions cannot be copied alone (they are then re-encoded).
    pub fn of(body: &[u8]) -> Option<Received> {
        let text = std::str::from_utf8(body).ok()?;
        let layout = iso20022::splice::Layout::of(text)?;
        Some(Received { text: text.into(), layout })
    }
}

/// A participant as the core knows it.
#[derive(Debug, Clone)]
pub struct Participant {
    /// BIC.
    pub bic: String,
    /// Display name.
    pub name: String,
    /// Clearing member id.
    pub member_id: Option<String>,
    /// Suspended: its payments get AG10, payments to it AG11.
    pub suspended: bool,
    /// Largest amount it may send in one transaction (AM14 above it).
    pub amount_max_minor: Option<u64>,
    /// Deferred net settlement: its net debit cap (AM23 beyond it); `None`: gross,
    /// prefunded (AM04 beyond its balance).
    pub net_debit_cap_minor: Option<u64>,
}

impl Participant {
    pub(crate) fn agent(&self) -> Agent {
        Agent { bic: Some(self.bic.clone()), ..Agent::default() }
    }

    pub(crate) fn ledger_account(index: u32) -> u64 {
        100 + u64::from(index)
    }
}

/// Scheme rules the core applies.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Scheme name (clearing system in forwarded messages).
    pub scheme: String,
    /// Settlement currency.
    pub currency: Currency,
    /// Creditor answer window.
    pub creditor_timeout_ms: u64,
    /// Largest transaction amount.
    pub amount_max_minor: u64,
    /// Unacknowledged messages per participant before it counts as offline.
    pub outbox_max: u64,
    /// Night limit for natural persons (AM02 above it).
    pub night: Option<NightLimit>,
    /// Returns, recalls, enquiries and fraud holds.
    pub exceptions: crate::exceptions::ExceptionRules,
    /// How long finished transfers stay in memory.
    pub retention: Retention,
}

/// How long finished transfers stay in the core's memory. The journal (and its archive)
/// keeps every transfer; memory keeps, per finished transfer, a full record (about 750
/// bytes of memory with its indexes, measured by `switchctl bench retention`: returns,
/// recalls, enquiries and resends work on it) for `finished_keep_ms` or until
/// `finished_kept_max` are held, then a compact duplicate-detection record (about 120 bytes)
/// until `duplicates_kept_max` are held. A pacs.008 created before the newest
/// forgotten record finished is refused (DT01), so forgetting never lets a payment be
/// made twice. Retirement is journaled ([`Event::Retired`]): replays and snapshots agree
/// whatever the configuration was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Full records of finished transfers stay at least this long (unless the count
    /// limit below is reached first).
    pub finished_keep_ms: u64,
    /// Full records of finished transfers held at most.
    pub finished_kept_max: u64,
    /// Compact duplicate-detection records held at most.
    pub duplicates_kept_max: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            finished_keep_ms: 90 * 86_400_000,
            finished_kept_max: 5_000_000,
            duplicates_kept_max: 20_000_000,
        }
    }
}

/// What retention holds ([`Core::retention_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionStats {
    /// Finished transfers held in full (queued for retirement).
    pub finished_held: usize,
    /// Duplicate-detection records of retired transfers.
    pub retired_records: usize,
    /// pacs.008s created before this are refused (0: nothing forgotten yet).
    pub forgotten_before_ms: u64,
}

/// Transfers retired by one [`Event::Retired`] at most (bounds the pause it causes).
pub const RETIRE_PER_EVENT_MAX: usize = 4_096;

/// What the core remembers of a retired transfer: enough to answer a resent pacs.008 with
/// its outcome, or refuse one that reuses its ids for other content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredRecord {
    /// Transfer id.
    pub id: u64,
    /// Content fingerprint.
    pub fingerprint: u64,
    /// Outcome: `None` settled, else the reject reason.
    pub reason: Option<StatusReason>,
    /// When it finished.
    pub finished_ms: u64,
}

/// A time-of-day limit for payments by natural persons (Pix's night limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightLimit {
    /// Largest amount at night, minor units.
    pub amount_max_minor: u64,
    /// Local hour the night starts.
    pub start_hour: u8,
    /// Local hour the night ends.
    pub end_hour: u8,
    /// Local time offset from UTC, minutes.
    pub utc_offset_minutes: i32,
}

impl NightLimit {
    /// Whether `now_ms` (UTC) is night in the scheme's local time.
    pub fn is_night(&self, now_ms: u64) -> bool {
        let local_s = (now_ms / 1000) as i64 + i64::from(self.utc_offset_minutes) * 60;
        let hour = local_s.rem_euclid(86_400) / 3600;
        let (start, end) = (i64::from(self.start_hour), i64::from(self.end_hour));
        if start <= end {
            hour >= start && hour < end
        } else {
            hour >= start || hour < end
        }
    }
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Reserved, waiting for the creditor until the deadline.
    Reserved {
        /// Deadline.
        deadline_ms: u64,
    },
    /// Settled: posted.
    Settled,
    /// Rejected, with the reason sent to the debtor.
    Rejected(StatusReason),
}

/// One transfer.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Id.
    pub id: u64,
    /// Debtor participant.
    pub debtor: u32,
    /// Creditor participant, if it was resolved.
    pub creditor: Option<u32>,
    /// Amount, minor units.
    pub amount_minor: u64,
    /// Debtor's ids.
    pub ids: Ids,
    /// Content fingerprint.
    pub fingerprint: u64,
    /// State.
    pub state: State,
    /// Created at.
    pub created_ms: u64,
    /// Last change at.
    pub updated_ms: u64,
    /// Returned so far (sum of settled pacs.004s), minor units.
    pub returned_minor: u64,
    /// The alias key the creditor was resolved by.
    pub creditor_key: Option<Box<str>>,
    /// The recall currently open on this transfer.
    pub recall: Option<u64>,
}

impl Transfer {
    /// A transfer that is not kept, only answered: a duplicate refused, or a resend of a
    /// retired transfer. `(id, debtor, amount_minor)`.
    fn answer_only(
        (id, debtor, amount_minor): (u64, u32, u64),
        ids: &Ids,
        state: State,
        at_ms: u64,
    ) -> Transfer {
        Transfer {
            id,
            debtor,
            creditor: None,
            amount_minor,
            ids: ids.clone(),
            fingerprint: 0,
            state,
            created_ms: at_ms,
            updated_ms: at_ms,
            returned_minor: 0,
            creditor_key: None,
            recall: None,
        }
    }
}

/// A message for a participant, with its place in that participant's stream.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Participant index.
    pub participant: u32,
    /// Sequence number in the participant's stream.
    pub seq: u64,
    /// ISO message name id.
    pub msg_type: &'static str,
    /// The message, shared with the delivery queue (the core keeps it until acknowledged).
    pub xml: std::sync::Arc<String>,
}

/// What a command does besides its events: the answer to the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Taken: `transactions` were processed (accepted for processing or rejected with a
    /// pacs.002 that follows on the stream).
    Taken {
        /// Transactions processed.
        transactions: u32,
    },
    /// The message refers to something unknown or not the sender's; nothing changed.
    Refused {
        /// Stable error code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Counters for the summary and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Transfers settled.
    pub settled: u64,
    /// Transfers rejected (by the switch, the creditor or a timeout).
    pub rejected: u64,
    /// Transfers in flight.
    pub in_flight: u64,
    /// Answers that came after a transfer was final.
    pub late_answers: u64,
    /// Returns settled (pacs.004).
    pub returns: u64,
    /// Recalls opened (camt.056 forwarded).
    pub recalls: u64,
    /// Status enquiries answered (pacs.028).
    pub enquiries: u64,
    /// Cautionary holds placed.
    pub holds: u64,
}

/// A participant's settlement position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// BIC.
    pub bic: String,
    /// Posted balance, minor units.
    pub balance_minor: i128,
    /// Reserved for transfers in flight.
    pub reserved_minor: u64,
    /// Funded in total.
    pub funded_minor: u64,
    /// What it can still be debited: available balance, plus its net debit cap when it
    /// settles deferred net.
    pub headroom_minor: i128,
    /// Its net debit cap (deferred net), or `None` (gross, prefunded).
    pub net_debit_cap_minor: Option<u64>,
}

/// A map that only ever grows to millions of entries (transfers held, idempotency keys, retired
/// records). It doubles without a pause: `griddle` moves the old table's entries into the new
/// one a few per insert, where std's map moves them all in the one insert that crosses the
/// load factor (measured: the transfers map doubling at 229,000 entries stalled the core
/// thread long enough to push that second's p99 from 29 to 198 ms at 20,000 payments/s).
pub(crate) type GrowingMap<K, V> = griddle::HashMap<K, V>;

/// The switch's state.
#[derive(Debug)]
pub struct Core {
    pub(crate) rules: Rules,
    pub(crate) participants: Vec<Participant>,
    pub(crate) by_bic: HashMap<String, u32>,
    pub(crate) by_member: HashMap<String, u32>,
    pub(crate) ledger: Ledger,
    pub(crate) directory: Directory<CompactStore>,
    pub(crate) transfers: GrowingMap<u64, Transfer>,
    pub(crate) by_key: GrowingMap<u128, u64>,
    pub(crate) deadlines: BTreeSet<(u64, u64)>,
    pub(crate) next_id: u64,
    pub(crate) funded: Vec<u64>,
    pub(crate) funding_count: u64,
    pub(crate) stream_next: Vec<u64>,
    pub(crate) stream_acked: Vec<u64>,
    pub(crate) outbound: Vec<Outbound>,
    /// Every participant's messages above its acknowledged sequence, oldest first: what a
    /// restart must deliver again (kept here so a snapshot carries them).
    pub(crate) unacked: Vec<std::collections::VecDeque<Outbound>>,
    pub(crate) counters: Counters,
    /// Per participant: whether a journaled event set its status (else the configuration's
    /// initial status holds).
    pub(crate) status_journaled: Vec<bool>,
    pub(crate) late: Vec<(u64, String)>,
    pub(crate) ledger_transfers_max: usize,
    pub(crate) finished_since_compact: u64,
    pub(crate) scan: directory::AntiScan,
    pub(crate) rng: directory::SeededRandom,
    pub(crate) exc: crate::exceptions::ExceptionState,
    pub(crate) windows: std::collections::BTreeMap<u64, (ledger::WindowReport, Option<u64>)>,
    /// Finished transfers still held in full, in the order they finished: (when, id).
    pub(crate) finished: VecDeque<(u64, u64)>,
    /// Retired transfers by the hash of their idempotency key ([`Core::key_hash`]).
    pub(crate) retired: GrowingMap<u128, RetiredRecord>,
    /// The keys of `retired`, oldest first.
    pub(crate) retired_order: VecDeque<u128>,
    /// When the newest forgotten duplicate-detection record finished (0: none forgotten):
    /// pacs.008s created before it are refused.
    pub(crate) forgotten_before_ms: u64,
}

/// The answer of the directory API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryAnswer {
    /// HTTP status.
    pub status: u16,
    /// Headers (content type, rate-limit headers).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: String,
}

/// Settlement window reports kept for operators (the most recent).
const WINDOWS_KEPT: usize = 1_000;
/// Finished transfers between two ledger compactions.
const COMPACT_EVERY: u64 = 4_096;
/// Finalized transfers stay in the ledger this long (the core keeps its own idempotency
/// records; the ledger only needs reservations).
const LEDGER_KEEP_MS: u64 = 60_000;

/// FNV-1a, stable across builds and versions, for content fingerprints.
pub(crate) fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

impl Core {
    /// A core with these participants; ledger accounts are created for each.
    pub fn new(rules: Rules, participants: Vec<Participant>) -> Result<Core, String> {
        let mut ledger = Ledger::default();
        ledger.create_account(FUNDING_ACCOUNT, AccountFlags::FUNDING).map_err(|e| e.to_string())?;
        let mut by_bic = HashMap::new();
        let mut by_member = HashMap::new();
        for (i, p) in participants.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| "too many participants".to_string())?;
            match p.net_debit_cap_minor {
                Some(cap) => ledger.create_net_account(Participant::ledger_account(i), cap),
                None => {
                    ledger.create_account(Participant::ledger_account(i), AccountFlags::SETTLEMENT)
                }
            }
            .map_err(|e| e.to_string())?;
            by_bic.insert(p.bic.clone(), i);
            if let Some(m) = &p.member_id {
                by_member.insert(m.clone(), i);
            }
        }
        let n = participants.len();
        Ok(Core {
            rules,
            participants,
            by_bic,
            by_member,
            ledger,
            directory: Directory::compact(DirectoryConfig::default()),
            transfers: GrowingMap::new(),
            by_key: GrowingMap::new(),
            deadlines: BTreeSet::new(),
            next_id: 1,
            funded: vec![0; n],
            funding_count: 0,
            stream_next: vec![1; n],
            stream_acked: vec![0; n],
            outbound: Vec::new(),
            unacked: (0..n).map(|_| std::collections::VecDeque::new()).collect(),
            counters: Counters::default(),
            status_journaled: vec![false; n],
            late: Vec::new(),
            ledger_transfers_max: ledger::LedgerLimits::default().transfers_max.saturating_sub(1),
            finished_since_compact: 0,
            scan: directory::AntiScan::new(directory::AntiScanConfig::default()),
            rng: directory::SeededRandom(0x5eed_2026),
            exc: crate::exceptions::ExceptionState::default(),
            windows: std::collections::BTreeMap::new(),
            finished: VecDeque::new(),
            retired: GrowingMap::new(),
            retired_order: VecDeque::new(),
            forgotten_before_ms: 0,
        })
    }

    /// What participant `p` can still be debited: its available balance (gross), or that
    /// plus its net debit cap (deferred net).
    pub fn headroom(&self, p: u32) -> i128 {
        self.ledger.position(Participant::ledger_account(p)).and_then(|p| p.headroom).unwrap_or(0)
    }

    /// The scheme's settlement currency.
    pub fn currency(&self) -> Currency {
        self.rules.currency
    }

    /// Participant index of a BIC.
    pub fn participant_index(&self, bic: &str) -> Option<u32> {
        self.by_bic.get(bic).copied()
    }

    /// The participants.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }

    /// A transfer by id.
    pub fn transfer(&self, id: u64) -> Option<&Transfer> {
        self.transfers.get(&id)
    }

    /// A transfer by the debtor's ids (as the idempotency record knows them).
    pub fn transfer_by_ids(&self, debtor: u32, ids: &Ids) -> Option<&Transfer> {
        self.by_key_hash(Self::key_hash(debtor, ids))
    }

    /// Counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// What retention holds now.
    pub fn retention_stats(&self) -> RetentionStats {
        RetentionStats {
            finished_held: self.finished.len(),
            retired_records: self.retired.len(),
            forgotten_before_ms: self.forgotten_before_ms,
        }
    }

    /// Late answers recorded for operators: (transfer id, status).
    pub fn late_answers(&self) -> &[(u64, String)] {
        &self.late
    }

    /// Every transfer, in no particular order.
    pub fn transfers(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.values()
    }

    /// Every participant's position.
    pub fn positions(&self) -> Vec<Position> {
        self.participants
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let a = self.ledger.account(Participant::ledger_account(i as u32));
                Position {
                    bic: p.bic.clone(),
                    balance_minor: a.map_or(0, |a| a.balance()),
                    reserved_minor: a.map_or(0, |a| a.debits_reserved),
                    funded_minor: self.funded.get(i).copied().unwrap_or(0),
                    headroom_minor: self.headroom(i as u32),
                    net_debit_cap_minor: p.net_debit_cap_minor,
                }
            })
            .collect()
    }

    /// Conservation: participants' balances add up to what was funded, the ledger audit
    /// passes, and nothing is reserved that is not in flight.
    pub fn conserved(&self) -> Result<(), String> {
        self.ledger.audit()?;
        let balances: i128 = self.positions().iter().map(|p| p.balance_minor).sum();
        let funded: i128 = self.funded.iter().map(|f| i128::from(*f)).sum();
        if balances != funded {
            return Err(format!("balances {balances} != funded {funded}"));
        }
        Ok(())
    }

    /// Whether a participant has ever been funded.
    pub fn is_funded(&self, participant: u32) -> bool {
        self.funded.get(participant as usize).is_some_and(|f| *f > 0)
    }

    /// Whether an alias is registered.
    pub fn alias(&self, key: &Key) -> Option<EntryView<'_>> {
        self.directory.resolve_view(key)
    }

    /// Messages produced by applied events since the last drain.
    pub fn drain_outbound(&mut self) -> Vec<Outbound> {
        std::mem::take(&mut self.outbound)
    }

    /// Every message a participant has not acknowledged, oldest first (what a restart
    /// delivers again).
    pub fn unacked(&self, participant: u32) -> impl Iterator<Item = &Outbound> {
        self.unacked.get(participant as usize).into_iter().flatten()
    }

    /// Last acknowledged sequence of a participant's stream.
    pub fn acked(&self, participant: u32) -> u64 {
        self.stream_acked.get(participant as usize).copied().unwrap_or(0)
    }

    /// The idempotency key of a transfer: the first 128 bits of a SHA-256 of the UETR if the
    /// debtor sent one, else of the debtor, its MsgId, EndToEndId and TxId (stable across
    /// builds, so snapshots keep it; a collision would need a SHA-256 one).
    pub(crate) fn key_hash(debtor: u32, ids: &Ids) -> u128 {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        match &ids.uetr {
            Some(u) => {
                h.update(b"U");
                h.update(u.as_bytes());
            }
            None => {
                // 0xff never occurs in UTF-8: the parts cannot run into each other.
                h.update(b"M");
                h.update(debtor.to_le_bytes());
                h.update(ids.msg_id.as_bytes());
                h.update([0xff]);
                h.update(ids.end_to_end_id.as_bytes());
                h.update([0xff]);
                h.update(ids.tx_id.as_deref().unwrap_or("").as_bytes());
            }
        }
        let digest = h.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        u128::from_le_bytes(first)
    }

    /// The transfer the references name, if it was retired (its full record left memory).
    pub(crate) fn retired_by_key(&self, debtor: u32, ids: &Ids) -> Option<&RetiredRecord> {
        if self.retired.is_empty() {
            return None;
        }
        self.retired.get(&Self::key_hash(debtor, ids))
    }

    /// The transfer with idempotency key `key` ([`Core::key_hash`]).
    pub(crate) fn by_key_hash(&self, key: u128) -> Option<&Transfer> {
        self.by_key.get(&key).and_then(|id| self.transfers.get(id))
    }

    /// Whether transfer `id` existed and was retired (every id below `next_id` was given
    /// to a transfer, and only retirement removes one).
    pub(crate) fn was_retired(&self, id: u64) -> bool {
        id > 0 && id < self.next_id && !self.transfers.contains_key(&id)
    }

    /// Why references name no transfer, for a refusal: retired, or unknown.
    pub(crate) fn unknown_transfer_why(&self, id: Option<u64>) -> String {
        match id.filter(|id| self.was_retired(*id)) {
            Some(id) => format!(
                "transfer {id} is no longer held: retired after {} s or {} transfers \
                 ([retention]); the journal archive keeps it",
                self.rules.retention.finished_keep_ms / 1000,
                self.rules.retention.finished_kept_max
            ),
            None => "no transfer of yours matches these references".to_string(),
        }
    }

    // ----- decisions -----

    /// Process a pacs.008 from participant `from`: one event per transaction, each applied
    /// before the next transaction is decided. Returns the events to journal.
    pub fn process_pacs008(
        &mut self,
        from: u32,
        msg: &Pacs008,
        now_ms: u64,
    ) -> (Vec<Event>, Answer) {
        self.process_pacs008_received(from, msg, None, now_ms)
    }

    /// [`Core::process_pacs008`] with the bytes the message arrived as: each transaction is
    /// forwarded as the debtor bank wrote it (see [`iso20022::splice`]), every element kept,
    /// instead of re-encoded from the decoded value.
    pub fn process_pacs008_received(
        &mut self,
        from: u32,
        msg: &Pacs008,
        received: Option<&Received>,
        now_ms: u64,
    ) -> (Vec<Event>, Answer) {
        let mut events = Vec::with_capacity(msg.transactions.len());
        for (i, tx) in msg.transactions.iter().enumerate() {
            let original = received.map(|r| (r, i));
            if let Some(e) = self.decide_transaction(from, &msg.header, tx, original, now_ms) {
                self.apply(&e);
                events.push(e);
            }
        }
        let n = msg.transactions.len() as u32;
        (events, Answer::Taken { transactions: n })
    }

    fn ids_of(header: &GroupHeader, tx: &CreditTransfer) -> Ids {
        Ids {
            msg_id: header.msg_id.clone(),
            instr_id: tx.instr_id.clone(),
            end_to_end_id: tx.end_to_end_id.clone(),
            tx_id: tx.tx_id.clone(),
            uetr: tx.uetr.clone(),
        }
    }

    fn fingerprint(tx: &CreditTransfer) -> u64 {
        let acct = tx.creditor_account.as_ref();
        fnv(&[
            &tx.amount.minor.to_le_bytes(),
            tx.amount.currency.as_str().as_bytes(),
            acct.map_or("", |a| a.id.as_str()).as_bytes(),
            acct.and_then(|a| a.proxy.as_ref()).map_or("", |p| p.id.as_str()).as_bytes(),
            tx.creditor_agent.bic.as_deref().unwrap_or("").as_bytes(),
            tx.debtor_account.as_ref().map_or("", |a| a.id.as_str()).as_bytes(),
        ])
    }

    fn decide_transaction(
        &mut self,
        from: u32,
        header: &GroupHeader,
        tx: &CreditTransfer,
        original: Option<(&Received, usize)>,
        now_ms: u64,
    ) -> Option<Event> {
        let ids = Self::ids_of(header, tx);
        let fingerprint = Self::fingerprint(tx);
        let key = Self::key_hash(from, &ids);
        if let Some(existing) = self.by_key_hash(key) {
            if existing.fingerprint != fingerprint {
                return Some(Event::DuplicateRefused { debtor: from, at_ms: now_ms, ids });
            }
            return match existing.state {
                State::Reserved { .. } => None,
                State::Settled | State::Rejected(_) => {
                    Some(Event::Resent { id: existing.id, at_ms: now_ms })
                }
            };
        }
        if let Some(r) = self.retired.get(&key) {
            if r.fingerprint != fingerprint {
                return Some(Event::DuplicateRefused { debtor: from, at_ms: now_ms, ids });
            }
            return Some(Event::ResentRetired {
                id: r.id,
                at_ms: now_ms,
                debtor: from,
                amount_minor: tx.amount.minor,
                ids,
                reason: r.reason.map_or(String::new(), |r| r.code().to_string()),
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        let amount_minor = tx.amount.minor;
        let reject = |reason: StatusReason| Event::Rejected {
            id,
            at_ms: now_ms,
            debtor: from,
            amount_minor,
            ids: ids.clone(),
            fingerprint,
            reason: reason.code().to_string(),
        };
        if self.forgotten_before_ms > 0
            && crate::time::parse_iso_datetime_ms(&header.created)
                .is_none_or(|created| created < self.forgotten_before_ms)
        {
            // It could resend a payment whose duplicate-detection record is forgotten.
            return Some(reject(StatusReason::InvalidDate));
        }
        let Some(me) = self.participants.get(from as usize) else {
            return Some(reject(StatusReason::IncorrectAgent));
        };
        if !tx.debtor_agent.is(&me.bic, me.member_id.as_deref()) {
            return Some(reject(StatusReason::SignerNotAuthorised));
        }
        if me.suspended {
            return Some(reject(StatusReason::AgentSuspended));
        }
        // An IBAN whose ISO 13616 check digits are wrong names no account, in any scheme.
        let bad_iban = |a: Option<&Account>| {
            a.is_some_and(|a| {
                matches!(&a.id, AccountId::Iban(i) if !iso20022::common::iban_check_digits_ok(i))
            })
        };
        if bad_iban(tx.debtor_account.as_ref()) {
            return Some(reject(StatusReason::InvalidDebtorAccountNumber));
        }
        if bad_iban(tx.creditor_account.as_ref()) {
            return Some(reject(StatusReason::InvalidCreditorAccountNumber));
        }
        if tx.amount.currency != self.rules.currency {
            return Some(reject(StatusReason::InvalidAmount));
        }
        if amount_minor == 0 {
            return Some(reject(StatusReason::ZeroAmount));
        }
        if amount_minor > self.rules.amount_max_minor {
            return Some(reject(StatusReason::AmountExceedsClearingSystemLimit));
        }
        if me.amount_max_minor.is_some_and(|max| amount_minor > max) {
            return Some(reject(StatusReason::AmountExceedsAgreedLimit));
        }
        let natural_person = tx.debtor.id.as_ref().is_none_or(|id| id.private);
        if let Some(night) = &self.rules.night {
            if natural_person && amount_minor > night.amount_max_minor && night.is_night(now_ms) {
                return Some(reject(StatusReason::NotAllowedAmount));
            }
        }
        let (creditor, account, creditor_key) = match self.route(tx) {
            Ok(r) => r,
            Err(reason) => return Some(reject(reason)),
        };
        if creditor == from {
            return Some(reject(StatusReason::NotAllowedBookTransfer));
        }
        if self.participants.get(creditor as usize).is_some_and(|p| p.suspended) {
            return Some(reject(StatusReason::CreditorAgentSuspended));
        }
        let next = self.stream_next.get(creditor as usize).copied().unwrap_or(1);
        if next.saturating_sub(1).saturating_sub(self.acked(creditor)) >= self.rules.outbox_max {
            return Some(reject(StatusReason::OfflineCreditorAgent));
        }
        if self.ledger.transfers_len() >= self.ledger_transfers_max {
            // The ledger is at its explicit limit of remembered transfers: refuse cleanly.
            return Some(reject(StatusReason::SettlementSystemNotAvailable));
        }
        if self.headroom(from) < i128::from(amount_minor) {
            return Some(reject(match me.net_debit_cap_minor {
                Some(_) => StatusReason::AmountExceedsSettlementLimit,
                None => StatusReason::InsufficientFunds,
            }));
        }
        let deadline_ms = now_ms.saturating_add(self.rules.creditor_timeout_ms);
        if let Some(key) = &creditor_key {
            // DICT's anti-scan rule: a payment sent after a lookup gives a token back to the
            // payer (`Dbtr/Id/.../Othr/Id`, the PI-PayerId of the lookup) and to its bank.
            let payer = tx.debtor.id.as_ref().and_then(|i| i.others.first());
            if let Some(payer) = payer {
                self.scan.payment_sent(&me.bic, &payer.id, key.key_type(), now_ms);
            }
        }
        let forward_xml = self.forward(id, (from, creditor), header, tx, account, original, now_ms);
        Some(Event::ReservedRouted {
            id,
            at_ms: now_ms,
            deadline_ms,
            debtor: from,
            creditor,
            amount_minor,
            ids,
            fingerprint,
            forward_xml,
            creditor_key: creditor_key.map(|k| k.as_str().to_string()).unwrap_or_default(),
        })
    }

    /// Find the creditor participant and account: by alias when the creditor account
    /// carries a proxy, otherwise by the creditor agent.
    #[allow(clippy::type_complexity)]
    fn route(
        &self,
        tx: &CreditTransfer,
    ) -> Result<(u32, Option<Account>, Option<Key>), StatusReason> {
        let acct = tx.creditor_account.as_ref();
        if let Some(proxy) = acct.and_then(|a| a.proxy.as_ref()) {
            let key = Key::parse(&proxy.id).map_err(|_| StatusReason::AccountProxyInvalid)?;
            let entry =
                self.directory.resolve_view(&key).ok_or(StatusReason::AccountProxyInvalid)?;
            let creditor =
                *self.by_bic.get(entry.participant).ok_or(StatusReason::IncorrectAgent)?;
            // Forward-compatible with fields the codec adds to `Account`.
            #[allow(clippy::needless_update)]
            let account = Account {
                id: AccountId::Other(entry.account.expose().to_string()),
                kind: Some(entry.account_type.to_string()),
                proxy: Some(proxy.clone()),
                ..Account::default()
            };
            return Ok((creditor, Some(account), Some(key)));
        }
        let agent = &tx.creditor_agent;
        let creditor = agent
            .bic
            .as_ref()
            .and_then(|b| self.by_bic.get(b))
            .or_else(|| agent.member_id.as_ref().and_then(|m| self.by_member.get(m)))
            .copied()
            .ok_or(StatusReason::InvalidCreditorClearingSystemMemberIdentifier)?;
        match acct {
            Some(a) if a.id.as_str() != iso20022::common::NOT_PROVIDED => {
                Ok((creditor, None, None))
            }
            _ => Err(StatusReason::InvalidCreditorAccountNumber),
        }
    }

    /// The pacs.008 that carries transaction `tx` (with the switch's id `id`) from `debtor`
    /// to `creditor`: the received bytes with the agents changed when they are at hand,
    /// otherwise encoded from the decoded value (which carries only what the codec models).
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        id: u64,
        (debtor, creditor): (u32, u32),
        header: &GroupHeader,
        tx: &CreditTransfer,
        account: Option<Account>,
        original: Option<(&Received, usize)>,
        now_ms: u64,
    ) -> String {
        let agent =
            |i: u32| self.participants.get(i as usize).map(Participant::agent).unwrap_or_default();
        let (instructing, instructed) = (agent(debtor), agent(creditor));
        let msg_id = format!("{FORWARD_PREFIX}{id}");
        let created = crate::time::iso_datetime(now_ms);
        if let Some((r, i)) = original {
            let f = iso20022::splice::Forward {
                msg_id: &msg_id,
                created: &created,
                clearing_system: &self.rules.scheme,
                instructing_agent: &instructing,
                instructed_agent: &instructed,
                acceptance: &created,
                creditor: account.as_ref().map(|a| (&instructed, a)),
            };
            if let Some(xml) = r.layout.forward(&r.text, i, &f) {
                return xml;
            }
        }
        let mut out = tx.clone();
        out.instructing_agent = Some(instructing);
        out.instructed_agent = Some(instructed.clone());
        if let Some(a) = account {
            out.creditor_agent = instructed;
            out.creditor_account = Some(a);
        }
        if out.acceptance.is_none() {
            out.acceptance = Some(created.clone());
        }
        let msg = Pacs008 {
            header: GroupHeader {
                msg_id,
                created,
                settlement_method: "CLRG".into(),
                clearing_system: Some(self.rules.scheme.clone()),
                // Group-level settlement date and payment type apply to every transaction.
                settlement_date: header.settlement_date.clone(),
                payment_type: header.payment_type.clone(),
                ..GroupHeader::default()
            },
            transactions: vec![out],
        };
        iso20022::pacs008::encode(&msg)
    }

    /// Process a pacs.002 from participant `from` (a creditor bank's answer). Returns the
    /// applied events to journal.
    pub fn process_pacs002(
        &mut self,
        from: u32,
        msg: &Pacs002,
        now_ms: u64,
    ) -> (Vec<Event>, Answer) {
        let (events, answer) = self.decide_pacs002(from, msg, now_ms);
        for e in &events {
            self.apply(e);
        }
        (events, answer)
    }

    fn decide_pacs002(&self, from: u32, msg: &Pacs002, now_ms: u64) -> (Vec<Event>, Answer) {
        let mut events = Vec::new();
        for (i, report) in msg.transactions.iter().enumerate() {
            let id = msg
                .original_msg_id
                .as_deref()
                .and_then(|m| m.strip_prefix(FORWARD_PREFIX))
                .or_else(|| {
                    report.clearing_ref.as_deref().and_then(|r| r.strip_prefix(FORWARD_PREFIX))
                })
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(id) = id.filter(|id| self.was_retired(*id)) {
                let why = self.unknown_transfer_why(Some(id));
                return (
                    Vec::new(),
                    Answer::Refused {
                        code: "UNKNOWN_ORIGINAL",
                        message: format!(
                            "TxInfAndSts[{}]: {why}; nothing of this message was applied",
                            i + 1
                        ),
                    },
                );
            }
            let Some(t) = id.and_then(|id| self.transfers.get(&id)) else {
                return (
                    Vec::new(),
                    Answer::Refused {
                        code: "UNKNOWN_ORIGINAL",
                        message: format!(
                            "TxInfAndSts[{}]: no transfer for OrgnlMsgId {:?} or ClrSysRef \
                             {:?}; answer with the MsgId of the pacs.008 the switch sent you \
                             (as OrgnlMsgId, or as each report's ClrSysRef); nothing of this \
                             message was applied",
                            i + 1,
                            msg.original_msg_id,
                            report.clearing_ref
                        ),
                    },
                );
            };
            if t.creditor != Some(from) {
                return (
                    Vec::new(),
                    Answer::Refused {
                        code: "NOT_CREDITOR",
                        message: format!(
                            "TxInfAndSts[{}]: transfer {} was not sent to you; nothing of this \
                             message was applied",
                            i + 1,
                            t.id
                        ),
                    },
                );
            }
            if events.iter().any(|e| Self::answers(e) == Some(t.id)) {
                return (
                    Vec::new(),
                    Answer::Refused {
                        code: "DUPLICATE_REPORT",
                        message: format!(
                            "TxInfAndSts[{}]: transfer {} is answered twice in this message; \
                             answer each transfer once; nothing of this message was applied",
                            i + 1,
                            t.id
                        ),
                    },
                );
            }
            let accept = report.status.is_accept();
            let e = match t.state {
                State::Reserved { deadline_ms } if now_ms <= deadline_ms => {
                    if accept {
                        Event::Accepted { id: t.id, at_ms: now_ms }
                    } else {
                        let reason =
                            report.reason.unwrap_or(StatusReason::NotSpecifiedReasonAgentGenerated);
                        Event::Declined {
                            id: t.id,
                            at_ms: now_ms,
                            reason: reason.code().to_string(),
                        }
                    }
                }
                State::Reserved { .. } => {
                    events.push(Event::Expired { id: t.id, at_ms: now_ms });
                    Event::LateAnswer {
                        id: t.id,
                        at_ms: now_ms,
                        status: report.status.code().to_string(),
                    }
                }
                State::Settled | State::Rejected(_) => Event::LateAnswer {
                    id: t.id,
                    at_ms: now_ms,
                    status: report.status.code().to_string(),
                },
            };
            events.push(e);
        }
        let n = events.len() as u32;
        (Self::grouped(from, now_ms, events), Answer::Taken { transactions: n })
    }

    /// The transfer a creditor's answer event is about.
    fn answers(e: &Event) -> Option<u64> {
        match e {
            Event::Accepted { id, .. }
            | Event::Declined { id, .. }
            | Event::Expired { id, .. }
            | Event::LateAnswer { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// Several plain accepts and declines of one pacs.002 become one [`Event::Answered`]
    /// (one confirmation to the creditor); anything else stays as it is.
    fn grouped(creditor: u32, at_ms: u64, events: Vec<Event>) -> Vec<Event> {
        if events.len() < 2 {
            return events;
        }
        let answers: Option<Vec<(u64, String)>> = events
            .iter()
            .map(|e| match e {
                Event::Accepted { id, .. } => Some((*id, String::new())),
                Event::Declined { id, reason, .. } => Some((*id, reason.clone())),
                _ => None,
            })
            .collect();
        match answers {
            Some(answers) => vec![Event::Answered { at_ms, creditor, answers }],
            None => events,
        }
    }

    /// Expire transfers whose creditor deadline has passed (at most `max`). Returns the
    /// applied events to journal.
    pub fn process_timeouts(&mut self, now_ms: u64, max: usize) -> Vec<Event> {
        let events: Vec<Event> = self
            .deadlines
            .iter()
            .take_while(|(d, _)| *d < now_ms)
            .take(max)
            .map(|(_, id)| Event::Expired { id: *id, at_ms: now_ms })
            .collect();
        for e in &events {
            self.apply(e);
        }
        let mut events = events;
        events.extend(self.exception_timeouts(now_ms, max));
        events.extend(self.process_retention(now_ms));
        events
    }

    /// Retire finished transfers that are past `[retention]` (at most
    /// [`RETIRE_PER_EVENT_MAX`] at a time), skipping those a recall still needs. Returns the
    /// applied event, if any.
    pub fn process_retention(&mut self, now_ms: u64) -> Option<Event> {
        let keep = self.rules.retention;
        let held = self.finished.len() as u64;
        let mut ids = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut front_to_drop = false;
        for (n, (finished_ms, id)) in self.finished.iter().enumerate() {
            let over_count = held.saturating_sub(n as u64) > keep.finished_kept_max;
            if !over_count && finished_ms.saturating_add(keep.finished_keep_ms) > now_ms {
                break;
            }
            if ids.len() >= RETIRE_PER_EVENT_MAX || n >= RETIRE_PER_EVENT_MAX * 4 {
                break;
            }
            match self.transfers.get(id) {
                Some(t) if t.recall.is_none() => {
                    if seen.insert(*id) {
                        ids.push(*id);
                    }
                }
                // A recall holds it (it comes back when the recall ends), or it was
                // queued twice and already went.
                _ => front_to_drop |= n == 0,
            }
        }
        let kept = (self.retired.len() + ids.len()) as u64;
        let forget = kept.saturating_sub(keep.duplicates_kept_max).min(u64::from(u32::MAX)) as u32;
        if ids.is_empty() && forget == 0 && !front_to_drop {
            return None;
        }
        let e = Event::Retired { at_ms: now_ms, ids, forget };
        self.apply(&e);
        Some(e)
    }

    /// Move liquidity into a participant's settlement account. Returns the applied event.
    pub fn process_funding(
        &mut self,
        participant: u32,
        amount_minor: u64,
        now_ms: u64,
    ) -> Result<Event, String> {
        if participant as usize >= self.participants.len() || amount_minor == 0 {
            return Err("unknown participant or zero amount".into());
        }
        let e = Event::Funded { participant, amount_minor, at_ms: now_ms };
        self.try_apply(&e)?;
        Ok(e)
    }

    /// Register an alias for a participant's account. Returns the applied event, or `None`
    /// when the same registration exists already.
    pub fn process_alias(
        &mut self,
        key: &Key,
        participant: u32,
        branch: &str,
        account: &str,
        owner: &str,
    ) -> Result<Option<Event>, String> {
        let bic = &self.participants.get(participant as usize).ok_or("unknown participant")?.bic;
        if let Some(e) = self.directory.resolve_view(key) {
            if e.participant == bic && *e.account.expose() == account {
                return Ok(None);
            }
            return Err("key already registered to another account".into());
        }
        let e = Event::AliasRegistered {
            key: key.as_str().to_string(),
            participant,
            branch: branch.to_string(),
            account: account.to_string(),
            owner: owner.to_string(),
        };
        self.try_apply(&e)?;
        Ok(Some(e))
    }

    /// Close the open settlement window (the next one opens in the same step). Returns the
    /// applied event; its report is in [`Core::windows`].
    pub fn process_close_window(&mut self, now_ms: u64) -> Result<Event, String> {
        let e = Event::WindowClosed { window: self.ledger.current_window(), at_ms: now_ms };
        self.try_apply(&e)?;
        Ok(e)
    }

    /// Record that the RTGS settled closed window `window`. `None` if it was settled already.
    pub fn process_settle_window(
        &mut self,
        window: u64,
        now_ms: u64,
    ) -> Result<Option<Event>, String> {
        if self.windows.get(&window).is_some_and(|w| w.1.is_some()) {
            return Ok(None);
        }
        let e = Event::WindowSettled { window, at_ms: now_ms };
        self.try_apply(&e)?;
        Ok(Some(e))
    }

    /// The open window and the most recent closed ones: (window, report, settled at).
    pub fn windows(&self) -> (u64, Vec<(u64, ledger::WindowReport, Option<u64>)>) {
        let closed = self.windows.iter().map(|(w, (r, s))| (*w, r.clone(), *s)).collect();
        (self.ledger.current_window(), closed)
    }

    /// The BIC of a ledger account, for reports.
    pub fn bic_of_account(&self, account: u64) -> Option<&str> {
        let i = usize::try_from(account.checked_sub(100)?).ok()?;
        self.participants.get(i).map(|p| p.bic.as_str())
    }

    /// Suspend or re-activate a participant. Returns the applied event if the status changed.
    pub fn process_status(
        &mut self,
        participant: u32,
        suspended: bool,
        now_ms: u64,
    ) -> Result<Option<Event>, String> {
        let p = self.participants.get(participant as usize).ok_or("unknown participant")?;
        if p.suspended == suspended {
            return Ok(None);
        }
        let e = Event::StatusChanged { participant, suspended, at_ms: now_ms };
        self.apply(&e);
        Ok(Some(e))
    }

    /// Serve one request of the participant-facing directory API (`/api/v1/directory/...`,
    /// described in `schemas/directory-openapi.yaml`). The directory applies the change
    /// itself; the returned events are journaled before the answer leaves. Anti-scanning
    /// buckets are soft state: they start full after a restart.
    pub fn process_directory(
        &mut self,
        participant: u32,
        method: &str,
        path: &str,
        payer_id: Option<&str>,
        body: &[u8],
        now_ms: u64,
    ) -> (Vec<Event>, DirectoryAnswer) {
        let Some(bic) = self.participants.get(participant as usize).map(|p| p.bic.clone()) else {
            let body = r#"{"type":"UnknownParticipant","title":"unknown participant"}"#.to_string();
            return (Vec::new(), DirectoryAnswer { status: 403, headers: Vec::new(), body });
        };
        let ctx = directory::api::Context { participant: &bic, now_ms, rng: &mut self.rng };
        let req = directory::api::Request { method, path, payer_id, body };
        let resp = directory::api::handle(&mut self.directory, &mut self.scan, ctx, req);
        let events =
            resp.applied.events.iter().map(|e| Event::Directory { bytes: e.to_bytes() }).collect();
        (events, DirectoryAnswer { status: resp.status, headers: resp.headers, body: resp.body })
    }

    /// Record a participant's acknowledgement. Returns the applied event if it moved.
    pub fn process_ack(&mut self, participant: u32, up_to: u64) -> Option<Event> {
        let next = self.stream_next.get(participant as usize).copied()?;
        let up_to = up_to.min(next.saturating_sub(1));
        if up_to <= self.acked(participant) {
            return None;
        }
        let e = Event::Acked { participant, up_to };
        self.apply(&e);
        Some(e)
    }

    // ----- applying events -----

    /// Apply one event. Events come from `decide_*` on this state, or from the journal.
    /// A journaled event that cannot apply means the journal and the code disagree: that is
    /// a broken invariant, and the process stops.
    pub fn apply(&mut self, event: &Event) {
        if let Err(e) = self.try_apply(event) {
            eprintln!("fatal: cannot apply journaled event {event:?}: {e}");
            std::process::abort();
        }
    }

    fn try_apply(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::Funded { participant, amount_minor, .. } => {
                self.funding_count += 1;
                let id = FUNDING_ID_BASE + u128::from(self.funding_count);
                self.ledger
                    .transfer(
                        id,
                        FUNDING_ACCOUNT,
                        Participant::ledger_account(*participant),
                        *amount_minor,
                    )
                    .map_err(|e| e.to_string())?;
                let f = self.funded.get_mut(*participant as usize).ok_or("no such participant")?;
                *f = f.checked_add(*amount_minor).ok_or("funding overflow")?;
            }
            Event::AliasRegistered { key, participant, branch, account, owner } => {
                let key = Key::parse(key).map_err(|e| e.to_string())?;
                let bic =
                    &self.participants.get(*participant as usize).ok_or("no such participant")?.bic;
                let mut entry = Entry::new(key, bic, branch, account, owner);
                entry.owner_name = Masked(owner.clone());
                self.directory.register(entry).map_err(|e| e.to_string())?;
            }
            Event::Reserved {
                id,
                at_ms,
                deadline_ms,
                debtor,
                creditor,
                amount_minor,
                ids,
                fingerprint,
                forward_xml,
            } => self.apply_reserved(
                (*id, *at_ms, *deadline_ms),
                (*debtor, *creditor, *amount_minor),
                ids,
                *fingerprint,
                forward_xml,
                None,
            )?,
            Event::ReservedRouted {
                id,
                at_ms,
                deadline_ms,
                debtor,
                creditor,
                amount_minor,
                ids,
                fingerprint,
                forward_xml,
                creditor_key,
            } => self.apply_reserved(
                (*id, *at_ms, *deadline_ms),
                (*debtor, *creditor, *amount_minor),
                ids,
                *fingerprint,
                forward_xml,
                (!creditor_key.is_empty()).then(|| creditor_key.as_str().into()),
            )?,
            Event::Notice { .. }
            | Event::ReturnSettled { .. }
            | Event::RecallOpened { .. }
            | Event::RecallAnswered { .. }
            | Event::RecallExpired { .. }
            | Event::HoldReleased { .. } => self.apply_exception(event)?,
            Event::WindowClosed { window, at_ms } => {
                let report = self
                    .ledger
                    .close_window_numbered(*window, *at_ms)
                    .map_err(|e| e.to_string())?;
                self.windows.insert(*window, (report, None));
                while self.windows.len() > WINDOWS_KEPT {
                    self.windows.pop_first();
                }
            }
            Event::WindowSettled { window, at_ms } => {
                self.ledger
                    .settle_window(*window, FUNDING_ACCOUNT, *at_ms)
                    .map_err(|e| e.to_string())?;
                if let Some(w) = self.windows.get_mut(window) {
                    w.1 = Some(*at_ms);
                }
            }
            Event::Rejected { id, at_ms, debtor, amount_minor, ids, fingerprint, reason } => {
                let reason = StatusReason::from_code(reason).ok_or("unknown reason code")?;
                self.next_id = self.next_id.max(id + 1);
                self.by_key.insert(Self::key_hash(*debtor, ids), *id);
                let t = Transfer {
                    id: *id,
                    debtor: *debtor,
                    creditor: None,
                    amount_minor: *amount_minor,
                    ids: ids.clone(),
                    fingerprint: *fingerprint,
                    state: State::Rejected(reason),
                    created_ms: *at_ms,
                    updated_ms: *at_ms,
                    returned_minor: 0,
                    creditor_key: None,
                    recall: None,
                };
                self.counters.rejected += 1;
                self.report_to_debtor(&t, *at_ms);
                self.transfers.insert(*id, t);
                self.finished.push_back((*at_ms, *id));
            }
            Event::Accepted { id, at_ms } => {
                let t = self.conclude(*id, *at_ms, "")?;
                self.confirm_to_creditor(&t, *at_ms);
            }
            Event::Answered { at_ms, creditor, answers } => {
                let mut done = Vec::with_capacity(answers.len());
                for (id, reason) in answers {
                    let t = self.conclude(*id, *at_ms, reason)?;
                    if t.creditor != Some(*creditor) {
                        return Err(format!("transfer {id} is not to participant {creditor}"));
                    }
                    done.push(t);
                }
                let reports = done.iter().map(|t| Self::tx_report(t, Self::creditor_status(t)));
                let xml = self.report_many(*creditor, reports.collect(), *at_ms, None, 'C');
                self.emit(*creditor, "pacs.002.001.10", xml);
            }
            Event::Declined { id, at_ms, reason } => {
                let t = self.conclude(*id, *at_ms, reason)?;
                self.confirm_to_creditor(&t, *at_ms);
            }
            Event::Expired { id, at_ms } => {
                match self.ledger.void(u128::from(*id)) {
                    Ok(()) | Err(TransferError::ReservedTransferAlreadyVoided) => {}
                    Err(e) => return Err(e.to_string()),
                }
                self.finish(*id, *at_ms, State::Rejected(StatusReason::TimeoutCreditorAgent))?;
            }
            Event::LateAnswer { id, status, at_ms } => {
                self.counters.late_answers += 1;
                self.late.push((*id, status.clone()));
                let creditor = self.transfers.get(id).and_then(|t| t.creditor);
                self.exc.investigate(crate::exceptions::Investigation {
                    kind: crate::exceptions::InvestigationKind::LateAcceptance,
                    transfer: *id,
                    recall: None,
                    participant: creditor
                        .and_then(|c| self.participants.get(c as usize))
                        .map(|p| p.bic.clone())
                        .unwrap_or_default(),
                    at_ms: *at_ms,
                    detail: format!("{status} after the transfer was final; nothing posted"),
                });
            }
            Event::Resent { id, at_ms } => {
                let t = self.transfers.get(id).cloned().ok_or("no such transfer")?;
                self.report_to_debtor(&t, *at_ms);
            }
            Event::DuplicateRefused { debtor, at_ms, ids } => {
                let state = State::Rejected(StatusReason::Duplication);
                let t = Transfer::answer_only((0, *debtor, 0), ids, state, *at_ms);
                self.report_to_debtor(&t, *at_ms);
            }
            Event::Retired { ids, forget, .. } => self.apply_retired(ids, *forget)?,
            Event::ResentRetired { id, at_ms, debtor, amount_minor, ids, reason } => {
                let state = match reason.as_str() {
                    "" => State::Settled,
                    code => {
                        State::Rejected(StatusReason::from_code(code).ok_or("unknown reason code")?)
                    }
                };
                let t = Transfer::answer_only((*id, *debtor, *amount_minor), ids, state, *at_ms);
                self.report_to_debtor(&t, *at_ms);
            }
            Event::Directory { bytes } => {
                let e = directory::DirectoryEvent::from_bytes(bytes).map_err(|e| e.to_string())?;
                self.directory.apply(&e).map_err(|e| e.to_string())?;
            }
            Event::StatusChanged { participant, suspended, .. } => {
                let p = self
                    .participants
                    .get_mut(*participant as usize)
                    .ok_or("no such participant")?;
                p.suspended = *suspended;
                if let Some(j) = self.status_journaled.get_mut(*participant as usize) {
                    *j = true;
                }
            }
            Event::Acked { participant, up_to } => {
                let a = self
                    .stream_acked
                    .get_mut(*participant as usize)
                    .ok_or("no such participant")?;
                *a = (*a).max(*up_to);
                let acked = *a;
                if let Some(q) = self.unacked.get_mut(*participant as usize) {
                    while q.front().is_some_and(|o| o.seq <= acked) {
                        q.pop_front();
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_reserved(
        &mut self,
        (id, at_ms, deadline_ms): (u64, u64, u64),
        (debtor, creditor, amount_minor): (u32, u32, u64),
        ids: &Ids,
        fingerprint: u64,
        forward_xml: &str,
        creditor_key: Option<Box<str>>,
    ) -> Result<(), String> {
        self.ledger
            .reserve(
                u128::from(id),
                Participant::ledger_account(debtor),
                Participant::ledger_account(creditor),
                amount_minor,
                deadline_ms,
            )
            .map_err(|e| e.to_string())?;
        self.next_id = self.next_id.max(id + 1);
        self.by_key.insert(Self::key_hash(debtor, ids), id);
        self.deadlines.insert((deadline_ms, id));
        self.transfers.insert(
            id,
            Transfer {
                id,
                debtor,
                creditor: Some(creditor),
                amount_minor,
                ids: ids.clone(),
                fingerprint,
                state: State::Reserved { deadline_ms },
                created_ms: at_ms,
                updated_ms: at_ms,
                returned_minor: 0,
                creditor_key,
                recall: None,
            },
        );
        self.counters.in_flight += 1;
        self.emit(creditor, "pacs.008.001.08", forward_xml.to_string());
        Ok(())
    }

    /// Retire `ids` (finished, no open recall), then forget the `forget` oldest
    /// duplicate-detection records.
    fn apply_retired(&mut self, ids: &[u64], forget: u32) -> Result<(), String> {
        for id in ids {
            let t = self.transfers.get(id).ok_or("retirement of an unknown transfer")?;
            let reason = match t.state {
                State::Reserved { .. } => return Err(format!("transfer {id} is in flight")),
                _ if t.recall.is_some() => return Err(format!("transfer {id} has a recall")),
                State::Settled => None,
                State::Rejected(r) => Some(r),
            };
            let hash = Self::key_hash(t.debtor, &t.ids);
            let record = RetiredRecord {
                id: *id,
                fingerprint: t.fingerprint,
                reason,
                finished_ms: t.updated_ms,
            };
            if self.by_key.get(&hash) == Some(id) {
                self.by_key.remove(&hash);
            }
            self.transfers.remove(id);
            if self.retired.insert(hash, record).is_none() {
                self.retired_order.push_back(hash);
            }
        }
        // Drop what left the front, and transfers a recall holds: the recall's end queues
        // them again ([`Core::requeue_finished`]).
        while let Some(&(_, id)) = self.finished.front() {
            if self.transfers.get(&id).is_some_and(|t| t.recall.is_none()) {
                break;
            }
            self.finished.pop_front();
        }
        for _ in 0..forget {
            let hash = self.retired_order.pop_front().ok_or("nothing left to forget")?;
            if let Some(r) = self.retired.remove(&hash) {
                self.forgotten_before_ms = self.forgotten_before_ms.max(r.finished_ms);
            }
        }
        Ok(())
    }

    /// A recall on finished transfer `id` ended: it may be retired again, from `at_ms`.
    pub(crate) fn requeue_finished(&mut self, id: u64, at_ms: u64) {
        self.finished.push_back((at_ms, id));
    }

    fn finish(&mut self, id: u64, at_ms: u64, state: State) -> Result<(), String> {
        let t = self.finish_quietly(id, at_ms, state)?;
        self.confirm_to_creditor(&t, at_ms);
        Ok(())
    }

    /// The creditor's answer to transfer `id` applied: an acceptance (`reason` empty) posts
    /// it, a decline (`reason` its ISO code) voids it; then it finishes and its debtor is told.
    fn conclude(&mut self, id: u64, at_ms: u64, reason: &str) -> Result<Transfer, String> {
        let state = if reason.is_empty() {
            self.ledger.post(u128::from(id), at_ms).map_err(|e| e.to_string())?;
            State::Settled
        } else {
            let reason = StatusReason::from_code(reason).ok_or("unknown reason code")?;
            self.ledger.void(u128::from(id)).map_err(|e| e.to_string())?;
            State::Rejected(reason)
        };
        self.finish_quietly(id, at_ms, state)
    }

    /// Tell the creditor of finished transfer `t` whether to credit it (one pacs.002).
    fn confirm_to_creditor(&mut self, t: &Transfer, at_ms: u64) {
        if let Some(c) = t.creditor {
            let status = Self::creditor_status(t);
            let xml = self.report(t, c, status, at_ms, format!("{FORWARD_PREFIX}{}", t.id), 'C');
            self.emit(c, "pacs.002.001.10", xml);
        }
    }

    /// What the creditor is told of a finished transfer: credit it (ACCC), or not (RJCT).
    fn creditor_status(t: &Transfer) -> TxStatus {
        match t.state {
            State::Settled => TxStatus::AcceptedCreditSettlementCompleted,
            _ => TxStatus::Rejected,
        }
    }

    /// Allocate now what a switch running at `peak_tps` payments per second fills: the
    /// ledger's live set (the finalized transfers it keeps for [`LEDGER_KEEP_MS`] plus those in
    /// flight for the creditor's window) and the queues of finished and retired transfers up
    /// to the retention limits. Their pages are touched in order as they fill, so this costs
    /// address space, not memory, until used; what it removes is the doubling of a large
    /// table on the per-payment path. Returns the ledger transfers allocated for.
    pub fn preallocate(&mut self, peak_tps: u32) -> usize {
        if peak_tps == 0 {
            return 0;
        }
        let window_ms = LEDGER_KEEP_MS.saturating_add(self.rules.creditor_timeout_ms);
        let live = u64::from(peak_tps).saturating_mul(window_ms) / 1_000;
        let live = usize::try_from(live).unwrap_or(usize::MAX).min(self.ledger_transfers_max);
        self.ledger.preallocate(live);
        let cap = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let finished = cap(self.rules.retention.finished_kept_max);
        self.finished.reserve(finished.saturating_sub(self.finished.len()));
        let retired = cap(self.rules.retention.duplicates_kept_max);
        self.retired_order.reserve(retired.saturating_sub(self.retired_order.len()));
        live
    }

    /// Finish transfer `id` and tell its debtor; the creditor's confirmation is the caller's.
    fn finish_quietly(&mut self, id: u64, at_ms: u64, state: State) -> Result<Transfer, String> {
        let t = self.transfers.get_mut(&id).ok_or("no such transfer")?;
        let State::Reserved { deadline_ms } = t.state else {
            return Err(format!("transfer {id} is not in flight"));
        };
        t.state = state;
        t.updated_ms = at_ms;
        let t = t.clone();
        self.finished.push_back((at_ms, id));
        self.deadlines.remove(&(deadline_ms, id));
        self.counters.in_flight = self.counters.in_flight.saturating_sub(1);
        self.finished_since_compact += 1;
        if self.finished_since_compact >= COMPACT_EVERY {
            // Deterministic: driven by journaled events and their times, live and on replay.
            self.finished_since_compact = 0;
            self.ledger.compact(at_ms.saturating_sub(LEDGER_KEEP_MS));
        }
        match state {
            State::Settled => self.counters.settled += 1,
            _ => self.counters.rejected += 1,
        }
        self.report_to_debtor(&t, at_ms);
        Ok(t)
    }

    pub(crate) fn report_to_debtor(&mut self, t: &Transfer, at_ms: u64) {
        let status = match t.state {
            State::Settled => TxStatus::AcceptedSettlementCompleted,
            State::Rejected(_) => TxStatus::Rejected,
            State::Reserved { .. } => return,
        };
        let xml = self.report(t, t.debtor, status, at_ms, t.ids.msg_id.clone(), 'D');
        self.emit(t.debtor, "pacs.002.001.10", xml);
    }

    pub(crate) fn report(
        &self,
        t: &Transfer,
        to: u32,
        status: TxStatus,
        at_ms: u64,
        original_msg_id: String,
        side: char,
    ) -> String {
        self.report_many(to, vec![Self::tx_report(t, status)], at_ms, Some(original_msg_id), side)
    }

    /// The status report of transfer `t` inside a pacs.002.
    fn tx_report(t: &Transfer, status: TxStatus) -> TxStatusReport {
        let reason = match t.state {
            State::Rejected(r) => Some(r),
            _ => None,
        };
        TxStatusReport {
            original_instr_id: t.ids.instr_id.clone(),
            original_end_to_end_id: Some(t.ids.end_to_end_id.clone()),
            original_tx_id: t.ids.tx_id.clone(),
            original_uetr: t.ids.uetr.clone(),
            status,
            reason,
            additional_info: reason.map(|r| r.name().to_string()),
            clearing_ref: (t.id != 0).then(|| format!("{FORWARD_PREFIX}{}", t.id)),
            ..TxStatusReport::default()
        }
    }

    /// A pacs.002 to `to` with `reports`; `original_msg_id` names the one pacs.008 they all
    /// answer (none when they answer several: each report's `ClrSysRef` names its transfer).
    fn report_many(
        &self,
        to: u32,
        reports: Vec<TxStatusReport>,
        at_ms: u64,
        original_msg_id: Option<String>,
        side: char,
    ) -> String {
        let seq = self.stream_next.get(to as usize).copied().unwrap_or(0);
        let msg = Pacs002 {
            msg_id: format!("IPS{side}{}-{seq}", to),
            created: crate::time::iso_datetime(at_ms),
            instructed_agent: self.participants.get(to as usize).map(Participant::agent),
            original_msg_name: original_msg_id.is_some().then(|| "pacs.008.001.08".into()),
            original_msg_id,
            transactions: reports,
            ..Pacs002::default()
        };
        iso20022::pacs002::encode(&msg)
    }

    pub(crate) fn emit(&mut self, participant: u32, msg_type: &'static str, xml: String) {
        let Some(next) = self.stream_next.get_mut(participant as usize) else { return };
        let seq = *next;
        *next += 1;
        let o = Outbound { participant, seq, msg_type, xml: std::sync::Arc::new(xml) };
        if let Some(q) = self.unacked.get_mut(participant as usize) {
            q.push_back(o.clone());
        }
        self.outbound.push(o);
    }
}
