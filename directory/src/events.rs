//! The journal form of the directory: every change is one [`DirectoryEvent`]. The caller
//! journals the events an operation returns; after a restart, [`Directory::apply`] replays them
//! in order into a fresh directory and reproduces the same state.
//!
//! Guarantees: `apply` is deterministic (no clock, no randomness, no hash-order dependence) and
//! refuses an event that does not fit the state (without changing anything); the binary
//! encoding ([`DirectoryEvent::to_bytes`]) is versioned, length-prefixed, and decoding checks
//! every length, tag and key, with every string capped at [`FIELD_LEN_MAX`] bytes.
//! Must not: depend on serde or on the limits in force (replay ignores limits, so lowering a
//! limit never makes an old journal unreadable).

use crate::claims::{Claim, ClaimReason, ClaimSide, ClaimStatus, ClaimType};
use crate::fraud::{InfractionReport, InfractionType, ReportResult, ReportStatus, ReportedBy};
use crate::OwnerType;
use crate::{AccountRef, BrazilIds, Directory, Entry, IdRules, Key, KeyType, Masked, Notice};
use std::sync::Arc;

/// Version byte at the start of every encoded event.
pub const FORMAT_VERSION: u8 = 1;
/// Longest string field in an encoded event, in bytes.
pub const FIELD_LEN_MAX: usize = 8_192;

/// One change to the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirectoryEvent {
    /// A key was registered (the entry carries its dates and request id).
    Registered {
        /// The new entry (shared with the index: journaling it copies nothing).
        entry: Arc<Entry>,
    },
    /// A key was pointed to another account or its owner renamed.
    Updated {
        /// The entry as it is now.
        entry: Arc<Entry>,
        /// When (ms).
        at_ms: u64,
    },
    /// A key was deleted by its participant.
    Deleted {
        /// The key.
        key: Key,
        /// The participant that held it.
        participant: String,
        /// When (ms).
        at_ms: u64,
    },
    /// A claim was opened.
    ClaimOpened {
        /// The claim as opened.
        claim: Claim,
    },
    /// The donor acknowledged a claim.
    ClaimAcknowledged {
        /// Claim id.
        claim_id: u64,
        /// When (ms).
        at_ms: u64,
    },
    /// The donor (or the deadline) confirmed a claim: the key left the donor.
    ClaimConfirmed {
        /// Claim id.
        claim_id: u64,
        /// Why.
        reason: ClaimReason,
        /// When (ms).
        at_ms: u64,
        /// From when the claimer may complete (ms).
        completion_period_end_ms: u64,
        /// Until when the claimer may complete (ms).
        completion_deadline_ms: u64,
    },
    /// A claim was cancelled.
    ClaimCancelled {
        /// Claim id.
        claim_id: u64,
        /// Which side.
        by: ClaimSide,
        /// Why.
        reason: ClaimReason,
        /// When (ms).
        at_ms: u64,
    },
    /// A claim was completed: the key points to the claimer's account.
    ClaimCompleted {
        /// Claim id.
        claim_id: u64,
        /// When (ms).
        at_ms: u64,
    },
    /// An infraction report was filed.
    ReportFiled {
        /// The report as filed.
        report: InfractionReport,
    },
    /// An infraction report was acknowledged.
    ReportAcknowledged {
        /// Report id.
        report_id: u64,
        /// When (ms).
        at_ms: u64,
    },
    /// An infraction report was closed.
    ReportClosed {
        /// Report id.
        report_id: u64,
        /// The result.
        result: ReportResult,
        /// The analysis text.
        analysis: Masked<String>,
        /// When (ms).
        at_ms: u64,
    },
    /// An infraction report was cancelled by its reporter.
    ReportCancelled {
        /// Report id.
        report_id: u64,
        /// When (ms).
        at_ms: u64,
    },
}

/// Why an event does not apply to the current state (a journal out of order or from another
/// directory). Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The event contradicts the state; the text says how.
    #[error("event does not apply: {0}")]
    Conflict(&'static str),
}

/// Why bytes are not an encoded event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Unknown format version.
    #[error("unknown event format version {0}")]
    Version(u8),
    /// The bytes end in the middle of a field.
    #[error("event truncated")]
    Truncated,
    /// Unknown tag for the named field.
    #[error("unknown tag {tag} for {field}")]
    Tag {
        /// The field.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A string longer than the limit.
    #[error("field longer than {FIELD_LEN_MAX} bytes")]
    TooLong,
    /// A string that is not UTF-8.
    #[error("field is not UTF-8")]
    Utf8,
    /// A key that is not valid for its type.
    #[error("key is not valid for its type")]
    Key,
    /// Bytes left over after the event.
    #[error("{0} bytes after the event")]
    Trailing(usize),
}

impl<S: crate::EntryStore> Directory<S> {
    /// Replay one journaled event. Deterministic: the same events in the same order give the
    /// same state. An event that does not fit is refused and changes nothing.
    pub fn apply(&mut self, event: &DirectoryEvent) -> Result<(), ApplyError> {
        self.apply_with_notices(event).map(|_| ())
    }

    pub(crate) fn apply_with_notices(
        &mut self,
        event: &DirectoryEvent,
    ) -> Result<Vec<Notice>, ApplyError> {
        let before = self.sync.seq;
        self.sync.seq = before.saturating_add(1);
        let result = self.apply_inner(event);
        if result.is_err() {
            self.sync.seq = before;
        }
        result
    }

    fn apply_inner(&mut self, event: &DirectoryEvent) -> Result<Vec<Notice>, ApplyError> {
        match event {
            DirectoryEvent::Registered { entry } => {
                if self.entries.contains_key(&entry.key) {
                    return Err(ApplyError::Conflict("key already registered"));
                }
                if self.claims.lock_on(&entry.key).is_some() {
                    return Err(ApplyError::Conflict("key locked by a claim"));
                }
                self.insert_entry(Arc::clone(entry));
                Ok(Vec::new())
            }
            DirectoryEvent::Updated { entry, .. } => {
                match self.entries.get(&entry.key) {
                    Some(old) if old.participant == entry.participant => {}
                    _ => return Err(ApplyError::Conflict("no such key at this participant")),
                }
                self.remove_entry(&entry.key);
                self.insert_entry(Arc::clone(entry));
                Ok(Vec::new())
            }
            DirectoryEvent::Deleted { key, participant, .. } => {
                match self.entries.get(key) {
                    Some(old) if old.participant == *participant => {}
                    _ => return Err(ApplyError::Conflict("no such key at this participant")),
                }
                self.remove_entry(key);
                Ok(Vec::new())
            }
            DirectoryEvent::ClaimOpened { .. }
            | DirectoryEvent::ClaimAcknowledged { .. }
            | DirectoryEvent::ClaimConfirmed { .. }
            | DirectoryEvent::ClaimCancelled { .. }
            | DirectoryEvent::ClaimCompleted { .. } => self.apply_claim(event),
            DirectoryEvent::ReportFiled { .. }
            | DirectoryEvent::ReportAcknowledged { .. }
            | DirectoryEvent::ReportClosed { .. }
            | DirectoryEvent::ReportCancelled { .. } => self.apply_report(event),
        }
    }
}

pub(crate) const OWNER_TYPES: [OwnerType; 2] = [OwnerType::Natural, OwnerType::Legal];
const CLAIM_TYPES: [ClaimType; 2] = [ClaimType::Ownership, ClaimType::Portability];
const CLAIM_STATUSES: [ClaimStatus; 5] = [
    ClaimStatus::Open,
    ClaimStatus::WaitingResolution,
    ClaimStatus::Confirmed,
    ClaimStatus::Cancelled,
    ClaimStatus::Completed,
];
const CLAIM_REASONS: [ClaimReason; 5] = [
    ClaimReason::UserRequested,
    ClaimReason::AccountClosure,
    ClaimReason::Fraud,
    ClaimReason::DefaultOperation,
    ClaimReason::Reconciliation,
];
const CLAIM_SIDES: [ClaimSide; 2] = [ClaimSide::Claimer, ClaimSide::Donor];
const INFRACTION_TYPES: [InfractionType; 3] =
    [InfractionType::Fraud, InfractionType::RefundRequest, InfractionType::RefundCancelled];
const REPORTED_BY: [ReportedBy; 2] =
    [ReportedBy::DebitedParticipant, ReportedBy::CreditedParticipant];
const REPORT_STATUSES: [ReportStatus; 4] =
    [ReportStatus::Open, ReportStatus::Acknowledged, ReportStatus::Closed, ReportStatus::Cancelled];
const REPORT_RESULTS: [ReportResult; 2] = [ReportResult::Agreed, ReportResult::Disagreed];

pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn str(&mut self, s: &str) {
        // Strings over u32::MAX bytes cannot occur (every field is validated far below that).
        self.0.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    pub(crate) fn tag<T: PartialEq + Copy>(&mut self, all: &[T], v: T) {
        let i = all.iter().position(|x| *x == v).unwrap_or(0);
        self.u8(u8::try_from(i).unwrap_or(0));
    }
    pub(crate) fn opt_tag<T: PartialEq + Copy>(&mut self, all: &[T], v: Option<T>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.tag(all, v);
            }
        }
    }
    pub(crate) fn key(&mut self, k: &Key) {
        self.u8(k.key_type().to_u8());
        self.str(k.as_str());
    }
    pub(crate) fn account(&mut self, a: &AccountRef) {
        self.str(&a.participant);
        self.str(&a.branch);
        self.str(&a.account.0);
        self.str(&a.account_type);
    }
    pub(crate) fn entry(&mut self, e: &Entry) {
        self.entry_view(&e.key, &crate::EntryView::of(e));
    }
    /// The same bytes as [`Writer::entry`], from a key and a view.
    pub(crate) fn entry_view(&mut self, key: &Key, e: &crate::EntryView<'_>) {
        self.key(key);
        self.str(e.participant);
        self.str(e.branch);
        self.str(e.account.0);
        self.str(e.account_type);
        self.str(e.owner_name.0);
        self.tag(&OWNER_TYPES, e.owner_type);
        self.str(e.owner_tax_id.0);
        self.str(e.trade_name.0);
        self.u64(e.created_at_ms);
        self.u64(e.owned_since_ms);
        self.0.extend_from_slice(&e.request_id);
    }
    pub(crate) fn claim(&mut self, c: &Claim) {
        self.u64(c.id);
        self.tag(&CLAIM_TYPES, c.claim_type);
        self.entry(&c.claimer);
        self.str(&c.donor_participant);
        self.tag(&CLAIM_STATUSES, c.status);
        for v in [
            c.opened_at_ms,
            c.updated_at_ms,
            c.resolution_period_end_ms,
            c.completion_period_end_ms,
            c.completion_deadline_ms,
        ] {
            self.u64(v);
        }
        self.opt_tag(&CLAIM_REASONS, c.confirm_reason);
        self.opt_tag(&CLAIM_SIDES, c.cancelled.map(|(s, _)| s));
        self.opt_tag(&CLAIM_REASONS, c.cancelled.map(|(_, r)| r));
    }
    pub(crate) fn report(&mut self, r: &InfractionReport) {
        self.u64(r.id);
        self.str(&r.reporter);
        self.str(&r.counterparty);
        match &r.key {
            None => self.u8(0),
            Some(k) => {
                self.u8(1);
                self.key(k);
            }
        }
        self.account(&r.account);
        self.str(&r.owner_tax_id.0);
        self.tag(&INFRACTION_TYPES, r.infraction_type);
        self.tag(&REPORTED_BY, r.reported_by);
        self.str(&r.transaction_id);
        self.str(&r.details.0);
        self.tag(&REPORT_STATUSES, r.status);
        self.opt_tag(&REPORT_RESULTS, r.result);
        self.str(&r.analysis.0);
        self.u64(r.opened_at_ms);
        self.u64(r.updated_at_ms);
    }
}

pub(crate) struct Reader<'a> {
    pub(crate) rest: &'a [u8],
    pub(crate) rules: &'a dyn IdRules,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.take(1)?.first().copied().ok_or(DecodeError::Truncated)
    }
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| DecodeError::Truncated)?;
        Ok(u64::from_le_bytes(b))
    }
    pub(crate) fn str(&mut self) -> Result<String, DecodeError> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| DecodeError::Truncated)?;
        let n = usize::try_from(u32::from_le_bytes(b)).map_err(|_| DecodeError::TooLong)?;
        if n > FIELD_LEN_MAX {
            return Err(DecodeError::TooLong);
        }
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Utf8)
    }
    /// A string borrowed from the bytes (no allocation), with the limits of [`Reader::str`].
    pub(crate) fn str_ref(&mut self) -> Result<&'a str, DecodeError> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| DecodeError::Truncated)?;
        let n = usize::try_from(u32::from_le_bytes(b)).map_err(|_| DecodeError::TooLong)?;
        if n > FIELD_LEN_MAX {
            return Err(DecodeError::TooLong);
        }
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::Utf8)
    }
    /// What [`Writer::entry`] wrote, as a key and a view borrowing the bytes.
    pub(crate) fn entry_view(&mut self) -> Result<(Key, crate::EntryView<'a>), DecodeError> {
        let key = self.key()?;
        let view = crate::EntryView {
            participant: self.str_ref()?,
            branch: self.str_ref()?,
            account: Masked(self.str_ref()?),
            account_type: self.str_ref()?,
            owner_name: Masked(self.str_ref()?),
            owner_type: self.tag(&OWNER_TYPES, "owner type")?,
            owner_tax_id: Masked(self.str_ref()?),
            trade_name: Masked(self.str_ref()?),
            created_at_ms: self.u64()?,
            owned_since_ms: self.u64()?,
            request_id: self.take(16)?.try_into().map_err(|_| DecodeError::Truncated)?,
        };
        Ok((key, view))
    }
    pub(crate) fn masked(&mut self) -> Result<Masked<String>, DecodeError> {
        self.str().map(Masked)
    }
    pub(crate) fn tag<T: Copy>(
        &mut self,
        all: &[T],
        field: &'static str,
    ) -> Result<T, DecodeError> {
        let tag = self.u8()?;
        all.get(usize::from(tag)).copied().ok_or(DecodeError::Tag { field, tag })
    }
    pub(crate) fn opt_tag<T: Copy>(
        &mut self,
        all: &[T],
        field: &'static str,
    ) -> Result<Option<T>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.tag(all, field).map(Some),
            tag => Err(DecodeError::Tag { field, tag }),
        }
    }
    pub(crate) fn key(&mut self) -> Result<Key, DecodeError> {
        let t = self.u8()?;
        let kind = KeyType::from_u8(t).ok_or(DecodeError::Tag { field: "key type", tag: t })?;
        let text = self.str()?;
        Key::from_parts(kind, &text, self.rules).ok_or(DecodeError::Key)
    }
    pub(crate) fn account(&mut self) -> Result<AccountRef, DecodeError> {
        Ok(AccountRef {
            participant: self.str()?,
            branch: self.str()?,
            account: self.masked()?,
            account_type: self.str()?,
        })
    }
    pub(crate) fn entry(&mut self) -> Result<Entry, DecodeError> {
        Ok(Entry {
            key: self.key()?,
            participant: self.str()?,
            branch: self.str()?,
            account: self.masked()?,
            account_type: self.str()?,
            owner_name: self.masked()?,
            owner_type: self.tag(&OWNER_TYPES, "owner type")?,
            owner_tax_id: self.masked()?,
            trade_name: self.masked()?,
            created_at_ms: self.u64()?,
            owned_since_ms: self.u64()?,
            request_id: self.take(16)?.try_into().map_err(|_| DecodeError::Truncated)?,
        })
    }
    pub(crate) fn claim(&mut self) -> Result<Claim, DecodeError> {
        let id = self.u64()?;
        let claim_type = self.tag(&CLAIM_TYPES, "claim type")?;
        let claimer = self.entry()?;
        let donor_participant = self.str()?;
        let status = self.tag(&CLAIM_STATUSES, "claim status")?;
        let (opened_at_ms, updated_at_ms) = (self.u64()?, self.u64()?);
        let resolution_period_end_ms = self.u64()?;
        let completion_period_end_ms = self.u64()?;
        let completion_deadline_ms = self.u64()?;
        let confirm_reason = self.opt_tag(&CLAIM_REASONS, "claim reason")?;
        let side = self.opt_tag(&CLAIM_SIDES, "claim side")?;
        let reason = self.opt_tag(&CLAIM_REASONS, "claim reason")?;
        Ok(Claim {
            id,
            claim_type,
            claimer,
            donor_participant,
            status,
            opened_at_ms,
            updated_at_ms,
            resolution_period_end_ms,
            completion_period_end_ms,
            completion_deadline_ms,
            confirm_reason,
            cancelled: side.zip(reason),
        })
    }
    pub(crate) fn report(&mut self) -> Result<InfractionReport, DecodeError> {
        let id = self.u64()?;
        let reporter = self.str()?;
        let counterparty = self.str()?;
        let key = match self.u8()? {
            0 => None,
            1 => Some(self.key()?),
            tag => return Err(DecodeError::Tag { field: "report key", tag }),
        };
        Ok(InfractionReport {
            id,
            reporter,
            counterparty,
            key,
            account: self.account()?,
            owner_tax_id: self.masked()?,
            infraction_type: self.tag(&INFRACTION_TYPES, "infraction type")?,
            reported_by: self.tag(&REPORTED_BY, "reported by")?,
            transaction_id: self.str()?,
            details: self.masked()?,
            status: self.tag(&REPORT_STATUSES, "report status")?,
            result: self.opt_tag(&REPORT_RESULTS, "report result")?,
            analysis: self.masked()?,
            opened_at_ms: self.u64()?,
            updated_at_ms: self.u64()?,
        })
    }
}

impl DirectoryEvent {
    /// The event's binary form: a version byte, a tag, then the fields (integers little-endian,
    /// strings as a u32 length then UTF-8).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(128));
        w.u8(FORMAT_VERSION);
        match self {
            DirectoryEvent::Registered { entry } => {
                w.u8(1);
                w.entry(entry);
            }
            DirectoryEvent::Updated { entry, at_ms } => {
                w.u8(2);
                w.entry(entry);
                w.u64(*at_ms);
            }
            DirectoryEvent::Deleted { key, participant, at_ms } => {
                w.u8(3);
                w.key(key);
                w.str(participant);
                w.u64(*at_ms);
            }
            DirectoryEvent::ClaimOpened { claim } => {
                w.u8(10);
                w.claim(claim);
            }
            DirectoryEvent::ClaimAcknowledged { claim_id, at_ms } => {
                w.u8(11);
                w.u64(*claim_id);
                w.u64(*at_ms);
            }
            DirectoryEvent::ClaimConfirmed {
                claim_id,
                reason,
                at_ms,
                completion_period_end_ms,
                completion_deadline_ms,
            } => {
                w.u8(12);
                w.u64(*claim_id);
                w.tag(&CLAIM_REASONS, *reason);
                w.u64(*at_ms);
                w.u64(*completion_period_end_ms);
                w.u64(*completion_deadline_ms);
            }
            DirectoryEvent::ClaimCancelled { claim_id, by, reason, at_ms } => {
                w.u8(13);
                w.u64(*claim_id);
                w.tag(&CLAIM_SIDES, *by);
                w.tag(&CLAIM_REASONS, *reason);
                w.u64(*at_ms);
            }
            DirectoryEvent::ClaimCompleted { claim_id, at_ms } => {
                w.u8(14);
                w.u64(*claim_id);
                w.u64(*at_ms);
            }
            DirectoryEvent::ReportFiled { report } => {
                w.u8(20);
                w.report(report);
            }
            DirectoryEvent::ReportAcknowledged { report_id, at_ms } => {
                w.u8(21);
                w.u64(*report_id);
                w.u64(*at_ms);
            }
            DirectoryEvent::ReportClosed { report_id, result, analysis, at_ms } => {
                w.u8(22);
                w.u64(*report_id);
                w.tag(&REPORT_RESULTS, *result);
                w.str(&analysis.0);
                w.u64(*at_ms);
            }
            DirectoryEvent::ReportCancelled { report_id, at_ms } => {
                w.u8(23);
                w.u64(*report_id);
                w.u64(*at_ms);
            }
        }
        w.0
    }

    /// Decode an event written by [`DirectoryEvent::to_bytes`] (Brazil's id rules for keys).
    pub fn from_bytes(bytes: &[u8]) -> Result<DirectoryEvent, DecodeError> {
        DirectoryEvent::from_bytes_with(bytes, &BrazilIds)
    }

    /// Decode an event, checking keys with the given id rules.
    pub fn from_bytes_with(
        bytes: &[u8],
        rules: &dyn IdRules,
    ) -> Result<DirectoryEvent, DecodeError> {
        let mut r = Reader { rest: bytes, rules };
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::Version(version));
        }
        let tag = r.u8()?;
        let event = match tag {
            1 => DirectoryEvent::Registered { entry: Arc::new(r.entry()?) },
            2 => DirectoryEvent::Updated { entry: Arc::new(r.entry()?), at_ms: r.u64()? },
            3 => DirectoryEvent::Deleted { key: r.key()?, participant: r.str()?, at_ms: r.u64()? },
            10 => DirectoryEvent::ClaimOpened { claim: r.claim()? },
            11 => DirectoryEvent::ClaimAcknowledged { claim_id: r.u64()?, at_ms: r.u64()? },
            12 => DirectoryEvent::ClaimConfirmed {
                claim_id: r.u64()?,
                reason: r.tag(&CLAIM_REASONS, "claim reason")?,
                at_ms: r.u64()?,
                completion_period_end_ms: r.u64()?,
                completion_deadline_ms: r.u64()?,
            },
            13 => DirectoryEvent::ClaimCancelled {
                claim_id: r.u64()?,
                by: r.tag(&CLAIM_SIDES, "claim side")?,
                reason: r.tag(&CLAIM_REASONS, "claim reason")?,
                at_ms: r.u64()?,
            },
            14 => DirectoryEvent::ClaimCompleted { claim_id: r.u64()?, at_ms: r.u64()? },
            20 => DirectoryEvent::ReportFiled { report: r.report()? },
            21 => DirectoryEvent::ReportAcknowledged { report_id: r.u64()?, at_ms: r.u64()? },
            22 => DirectoryEvent::ReportClosed {
                report_id: r.u64()?,
                result: r.tag(&REPORT_RESULTS, "report result")?,
                analysis: r.masked()?,
                at_ms: r.u64()?,
            },
            23 => DirectoryEvent::ReportCancelled { report_id: r.u64()?, at_ms: r.u64()? },
            tag => return Err(DecodeError::Tag { field: "event", tag }),
        };
        if !r.rest.is_empty() {
            return Err(DecodeError::Trailing(r.rest.len()));
        }
        Ok(event)
    }
}

impl<S: crate::EntryStore> Directory<S> {
    /// A SHA-256 over the whole journaled state (entries, claims, reports, counters), in a fixed
    /// order: two directories with the same digest hold the same state. For checking a replay
    /// after restart; it reads everything, so it is not for the hot path.
    pub fn state_digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut w = Writer(Vec::new());
        w.u64(self.sync.seq);
        w.u64(self.claims.next_id);
        w.u64(self.reports.next_id);
        let mut entries: Vec<Entry> = Vec::with_capacity(self.entries.len());
        self.entries.for_each(&mut |e| entries.push(e.clone()));
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        for e in &entries {
            w.entry(e);
        }
        let mut claims: Vec<&Claim> = self.claims.claims.values().collect();
        claims.sort_by_key(|c| c.id);
        for c in claims {
            w.claim(c);
        }
        let mut reports: Vec<&InfractionReport> = self.reports.reports.values().collect();
        reports.sort_by_key(|r| r.id);
        for r in reports {
            w.report(r);
        }
        Sha256::digest(&w.0).into()
    }
}
