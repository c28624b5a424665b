//! Fraud marks: infraction reports that participants file against a key or an account, and
//! the counts a lookup returns so the payer's bank can warn or refuse.
//!
//! States (DICT): `Open` -> `Acknowledged` -> `Closed` (result agreed or disagreed), or
//! `Cancelled` by the reporter at any time, even after closing. Counts: a fraud report counts as
//! *reported* until cancelled, and as *confirmed* once closed as agreed (until cancelled); counts
//! are kept per key, per owner (national id / tax id) and per account.
//!
//! Guarantees: every transition is one replayable [`DirectoryEvent`]; the counterparty (the
//! participant holding the key or account) and the reporter get [`Notice`]s. Must not: keep
//! reports without bound (finished ones are dropped oldest first past `reports_max`; counts stay).

use std::collections::{HashMap, VecDeque};

use crate::{
    AccountRef, Applied, Directory, DirectoryError, DirectoryEvent, Entry, Key, Masked, Notice,
    NoticeKind,
};

/// What the report is about (DICT `InfractionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InfractionType {
    /// Fraud: counts in the fraud marks.
    Fraud,
    /// A refund request (MED).
    RefundRequest,
    /// A refund request was cancelled.
    RefundCancelled,
}

/// Which side of the payment reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportedBy {
    /// The payer's participant.
    DebitedParticipant,
    /// The payee's participant.
    CreditedParticipant,
}

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    /// Filed.
    Open,
    /// The counterparty acknowledged it.
    Acknowledged,
    /// The counterparty closed it with a result.
    Closed,
    /// The reporter cancelled it (final).
    Cancelled,
}

/// The counterparty's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportResult {
    /// The fraud is confirmed.
    Agreed,
    /// Not a fraud.
    Disagreed,
}

/// What a report is filed against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// A registered key (its account and owner are counted too).
    Key(Key),
    /// An account, with its owner's id if known (may be empty).
    Account(AccountRef, Masked<String>),
}

/// A new report, as the reporter files it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// The reporting participant.
    pub reporter: String,
    /// Against what.
    pub target: ReportTarget,
    /// Fraud, refund request, refund cancelled.
    pub infraction_type: InfractionType,
    /// Which side reports.
    pub reported_by: ReportedBy,
    /// The payment's end-to-end id (8 to 32 letters, digits or `_`).
    pub transaction_id: String,
    /// Free text (personal data possible), at most `report_text_max` characters.
    pub details: Masked<String>,
}

/// One infraction report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfractionReport {
    /// Id, given by the directory in order.
    pub id: u64,
    /// The reporting participant.
    pub reporter: String,
    /// The participant holding the key or account (answers the report).
    pub counterparty: String,
    /// The key, when filed against a key.
    pub key: Option<Key>,
    /// The account (for a key: where it pointed at filing).
    pub account: AccountRef,
    /// The owner's id (for a key: at filing); may be empty.
    pub owner_tax_id: Masked<String>,
    /// Fraud, refund request, refund cancelled.
    pub infraction_type: InfractionType,
    /// Which side reported.
    pub reported_by: ReportedBy,
    /// The payment's end-to-end id.
    pub transaction_id: String,
    /// Reporter's text.
    pub details: Masked<String>,
    /// Where it stands.
    pub status: ReportStatus,
    /// The result, once closed.
    pub result: Option<ReportResult>,
    /// The counterparty's analysis, once closed.
    pub analysis: Masked<String>,
    /// When filed (ms).
    pub opened_at_ms: u64,
    /// Last change (ms).
    pub updated_at_ms: u64,
}

/// Fraud counts for one key, owner or account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FraudCounts {
    /// Fraud reports filed and not cancelled.
    pub reported: u32,
    /// Fraud reports closed as agreed and not cancelled.
    pub confirmed: u32,
}

/// The fraud counts a lookup returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FraudMarks {
    /// Against the key.
    pub key: FraudCounts,
    /// Against the owner (by national id or tax id).
    pub owner: FraudCounts,
    /// Against the account.
    pub account: FraudCounts,
}

/// Why a report operation was refused. [`ReportError::code`] gives the stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// No report with this id (finished reports are kept only up to a limit).
    #[error("infraction report not found")]
    NotFound,
    /// The key reported is not registered.
    #[error("reported key not registered")]
    KeyNotRegistered,
    /// This participant may not do this on the report.
    #[error("this participant may not do this on the report")]
    NotAllowed,
    /// The report is not in a state that allows this.
    #[error("report is {0:?}; this operation is not allowed in that state")]
    WrongStatus(ReportStatus),
    /// The transaction id is not 8 to 32 letters, digits or `_`.
    #[error("transaction id must be 8 to 32 letters, digits or '_'")]
    TransactionId,
    /// Details or analysis text too long, or with control characters other than new lines.
    #[error("text must be at most {0} characters")]
    Text(usize),
    /// Reporting against one's own key or account.
    #[error("a participant cannot report its own key or account")]
    OwnTarget,
    /// Too many reports open.
    #[error("too many infraction reports open (limit {0})")]
    TooMany(usize),
}

impl ReportError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ReportError::NotFound => "InfractionReportNotFound",
            ReportError::KeyNotRegistered => "InfractionReportKeyNotFound",
            ReportError::NotAllowed => "InfractionReportOperationForbidden",
            ReportError::WrongStatus(_) => "InfractionReportInvalidStatus",
            ReportError::TransactionId => "InfractionReportInvalidTransactionId",
            ReportError::Text(_) => "InfractionReportInvalidText",
            ReportError::OwnTarget => "InfractionReportOwnTarget",
            ReportError::TooMany(_) => "InfractionReportLimitExceeded",
        }
    }
}

/// The reports and counts held by the directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReportBook {
    pub(crate) reports: HashMap<u64, InfractionReport>,
    pub(crate) order: VecDeque<u64>,
    pub(crate) next_id: u64,
    pub(crate) open: usize,
    pub(crate) by_key: HashMap<Key, FraudCounts>,
    pub(crate) by_owner: HashMap<String, FraudCounts>,
    pub(crate) by_account: HashMap<AccountRef, FraudCounts>,
}

fn text_ok(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(|c| c.is_control() && c != '\n')
}

fn transaction_id_ok(s: &str) -> bool {
    (8..=32).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

impl<S: crate::EntryStore> Directory<S> {
    /// File an infraction report. Returns its id; the counterparty gets a notice.
    pub fn file_report(
        &mut self,
        report: NewReport,
        now_ms: u64,
    ) -> Result<(u64, Applied), DirectoryError> {
        let max = self.config.report_text_max;
        if !transaction_id_ok(&report.transaction_id) {
            return Err(ReportError::TransactionId.into());
        }
        if !text_ok(&report.details.0, max) {
            return Err(ReportError::Text(max).into());
        }
        let (key, account, owner) = match report.target {
            ReportTarget::Key(k) => {
                let e = self.entries.get(&k).ok_or(ReportError::KeyNotRegistered)?;
                (Some(k), e.account_ref(), e.owner_tax_id.clone())
            }
            ReportTarget::Account(a, owner) => (None, a, owner),
        };
        if account.participant.is_empty() || account.account.0.is_empty() {
            return Err(DirectoryError::Invalid {
                field: "account",
                reason: "a reported account needs its participant and account number",
            });
        }
        if account.participant == report.reporter {
            return Err(ReportError::OwnTarget.into());
        }
        if self.reports.open >= self.config.reports_max {
            return Err(ReportError::TooMany(self.config.reports_max).into());
        }
        let r = InfractionReport {
            id: self.reports.next_id,
            reporter: report.reporter,
            counterparty: account.participant.clone(),
            key,
            account,
            owner_tax_id: owner,
            infraction_type: report.infraction_type,
            reported_by: report.reported_by,
            transaction_id: report.transaction_id,
            details: report.details,
            status: ReportStatus::Open,
            result: None,
            analysis: Masked(String::new()),
            opened_at_ms: now_ms,
            updated_at_ms: now_ms,
        };
        let id = r.id;
        self.commit(DirectoryEvent::ReportFiled { report: r }).map(|a| (id, a))
    }

    /// A report.
    pub fn report(&self, id: u64) -> Option<&InfractionReport> {
        self.reports.reports.get(&id)
    }

    fn report_for(
        &self,
        id: u64,
        counterparty: bool,
        p: &str,
    ) -> Result<&InfractionReport, ReportError> {
        let r = self.reports.reports.get(&id).ok_or(ReportError::NotFound)?;
        let who = if counterparty { &r.counterparty } else { &r.reporter };
        if who != p {
            return Err(ReportError::NotAllowed);
        }
        Ok(r)
    }

    /// The counterparty acknowledges a report. A repeat changes nothing.
    pub fn acknowledge_report(
        &mut self,
        id: u64,
        counterparty: &str,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        let r = self.report_for(id, true, counterparty)?;
        match r.status {
            ReportStatus::Open => {
                self.commit(DirectoryEvent::ReportAcknowledged { report_id: id, at_ms: now_ms })
            }
            ReportStatus::Acknowledged => Ok(Applied::default()),
            s => Err(ReportError::WrongStatus(s).into()),
        }
    }

    /// The counterparty closes a report (from open or acknowledged) with its result.
    pub fn close_report(
        &mut self,
        id: u64,
        counterparty: &str,
        result: ReportResult,
        analysis: Masked<String>,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        let max = self.config.report_text_max;
        let r = self.report_for(id, true, counterparty)?;
        if !matches!(r.status, ReportStatus::Open | ReportStatus::Acknowledged) {
            return Err(ReportError::WrongStatus(r.status).into());
        }
        if !text_ok(&analysis.0, max) {
            return Err(ReportError::Text(max).into());
        }
        self.commit(DirectoryEvent::ReportClosed { report_id: id, result, analysis, at_ms: now_ms })
    }

    /// The reporter cancels a report, at any time (it stops counting).
    pub fn cancel_report(
        &mut self,
        id: u64,
        reporter: &str,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        let r = self.report_for(id, false, reporter)?;
        if r.status == ReportStatus::Cancelled {
            return Ok(Applied::default());
        }
        self.commit(DirectoryEvent::ReportCancelled { report_id: id, at_ms: now_ms })
    }

    /// The fraud counts for an entry's key, owner and account.
    pub fn fraud_marks(&self, entry: &Entry) -> FraudMarks {
        self.fraud_marks_of(&entry.key, &crate::EntryView::of(entry))
    }

    /// [`Directory::fraud_marks`] for a key and the view of its entry.
    pub(crate) fn fraud_marks_of(&self, key: &Key, e: &crate::EntryView<'_>) -> FraudMarks {
        let b = &self.reports;
        FraudMarks {
            // Most directories have few marks: skip hashing when a map is empty.
            key: if b.by_key.is_empty() {
                FraudCounts::default()
            } else {
                b.by_key.get(key).copied().unwrap_or_default()
            },
            owner: if e.owner_tax_id.0.is_empty() || b.by_owner.is_empty() {
                FraudCounts::default()
            } else {
                b.by_owner.get(e.owner_tax_id.0).copied().unwrap_or_default()
            },
            account: if b.by_account.is_empty() {
                FraudCounts::default()
            } else {
                let account = AccountRef {
                    participant: e.participant.to_string(),
                    branch: e.branch.to_string(),
                    account: Masked(e.account.0.to_string()),
                    account_type: e.account_type.to_string(),
                };
                b.by_account.get(&account).copied().unwrap_or_default()
            },
        }
    }

    /// Apply a report event; returns the notices.
    pub(crate) fn apply_report(
        &mut self,
        event: &DirectoryEvent,
    ) -> Result<Vec<Notice>, crate::ApplyError> {
        use crate::ApplyError as E;
        let notice = |p: &str, kind| Notice { participant: p.to_string(), kind };
        let book = &mut self.reports;
        match event {
            DirectoryEvent::ReportFiled { report } => {
                if book.reports.contains_key(&report.id) {
                    return Err(E::Conflict("report already exists"));
                }
                book.next_id = book.next_id.max(report.id.saturating_add(1));
                book.count(report, |c| c.reported += 1);
                book.reports.insert(report.id, report.clone());
                book.open += 1;
                book.order.push_back(report.id);
                book.trim(self.config.reports_max);
                Ok(vec![notice(&report.counterparty, NoticeKind::ReportFiled(report.id))])
            }
            DirectoryEvent::ReportAcknowledged { report_id, at_ms } => {
                let r = book.reports.get_mut(report_id).ok_or(E::Conflict("report not found"))?;
                if r.status != ReportStatus::Open {
                    return Err(E::Conflict("report not open"));
                }
                r.status = ReportStatus::Acknowledged;
                r.updated_at_ms = *at_ms;
                Ok(vec![notice(&r.reporter, NoticeKind::ReportAcknowledged(*report_id))])
            }
            DirectoryEvent::ReportClosed { report_id, result, analysis, at_ms } => {
                let r = book.reports.get_mut(report_id).ok_or(E::Conflict("report not found"))?;
                if !matches!(r.status, ReportStatus::Open | ReportStatus::Acknowledged) {
                    return Err(E::Conflict("report already finished"));
                }
                r.status = ReportStatus::Closed;
                book.open = book.open.saturating_sub(1);
                r.result = Some(*result);
                r.analysis = analysis.clone();
                r.updated_at_ms = *at_ms;
                let r = r.clone();
                if *result == ReportResult::Agreed {
                    book.count(&r, |c| c.confirmed += 1);
                }
                Ok(vec![notice(&r.reporter, NoticeKind::ReportClosed(*report_id))])
            }
            DirectoryEvent::ReportCancelled { report_id, at_ms } => {
                let r = book.reports.get_mut(report_id).ok_or(E::Conflict("report not found"))?;
                if r.status == ReportStatus::Cancelled {
                    return Err(E::Conflict("report already cancelled"));
                }
                let was_agreed = r.result == Some(ReportResult::Agreed);
                if matches!(r.status, ReportStatus::Open | ReportStatus::Acknowledged) {
                    book.open = book.open.saturating_sub(1);
                }
                r.status = ReportStatus::Cancelled;
                r.updated_at_ms = *at_ms;
                let r = r.clone();
                book.count(&r, |c| c.reported = c.reported.saturating_sub(1));
                if was_agreed {
                    book.count(&r, |c| c.confirmed = c.confirmed.saturating_sub(1));
                }
                Ok(vec![notice(&r.counterparty, NoticeKind::ReportCancelled(*report_id))])
            }
            _ => Ok(Vec::new()),
        }
    }
}

impl ReportBook {
    /// Change the fraud counts of a fraud report's key, owner and account.
    fn count(&mut self, r: &InfractionReport, f: impl Fn(&mut FraudCounts)) {
        if r.infraction_type != InfractionType::Fraud {
            return;
        }
        if let Some(k) = &r.key {
            f(self.by_key.entry(k.clone()).or_default());
        }
        if !r.owner_tax_id.0.is_empty() {
            f(self.by_owner.entry(r.owner_tax_id.0.clone()).or_default());
        }
        f(self.by_account.entry(r.account.clone()).or_default());
    }

    /// Drop the oldest finished reports past the limit (counts stay).
    fn trim(&mut self, max: usize) {
        let mut kept = VecDeque::new();
        while self.reports.len() > max {
            let Some(id) = self.order.pop_front() else { break };
            match self.reports.get(&id) {
                Some(r) if matches!(r.status, ReportStatus::Open | ReportStatus::Acknowledged) => {
                    kept.push_back(id)
                }
                _ => {
                    self.reports.remove(&id);
                }
            }
        }
        while let Some(id) = kept.pop_back() {
            self.order.push_front(id);
        }
    }
}
