//! Exception flows of the sans-IO core: status enquiries (pacs.028), returns (pacs.004),
//! recalls (camt.056 answered by camt.029), cautionary fraud holds, and the investigations
//! operators work from.
//!
//! Same discipline as the payment flow in [`crate::core`]: `process_*` decide, each decision
//! is an [`Event`] applied at once and returned for the journal, and every message a bank
//! receives is emitted while applying an event, so streams replay identically.
//!
//! Guarantees:
//! - a return moves money back from the creditor to the debtor as a new ledger transfer
//!   linked to the original; the returns of one transfer never sum to more than it;
//! - the same return, recall or answer sent twice is applied once (the duplicate is answered
//!   again, never re-applied); the same ids with different content are refused (AM05);
//! - a participant only learns about transfers it is party to: an enquiry, return or recall
//!   about another's transfer gets the same answer as one about an unknown transfer;
//! - a fraud hold only ever earmarks money the creditor holds, and is released when the
//!   recall ends, a return settles, or the hold lapses.
//!
//! Must not: do I/O, read the clock, or log. Low volume: clarity before speed here.

use crate::core::{fnv, Answer, Core, Participant, State, Transfer, FORWARD_PREFIX};
use crate::events::{Event, Ids};
use iso20022::camt029::{
    Camt029, CancellationDetails, CancellationStatusReason, CancellationTxStatus,
    InvestigationStatus,
};
use iso20022::camt056::{Assignment, Camt056, CancellationTx, Case};
use iso20022::codes::{
    CancellationReason, CancellationRejection, CancellationStatus, InvestigationConfirmation,
    StatusReason, TxStatus,
};
use iso20022::common::{OriginalGroup, PartyOrAgent};
use iso20022::pacs002::{Pacs002, TxStatusReport};
use iso20022::pacs004::{Pacs004, PaymentReturn, ReturnHeader};
use iso20022::pacs028::{Pacs028, StatusRequestTx};
use iso20022::reference::{OriginalIds, Settlement};
use iso20022::{Agent, Amount};
use std::collections::{BTreeSet, HashMap};

/// Ledger ids of returns: this base plus the return id.
const RETURN_ID_BASE: u128 = 2 << 64;
/// Ledger ids of fraud holds: this base plus the recall id.
const HOLD_ID_BASE: u128 = 3 << 64;
/// Prefix of the MsgId of pacs.004s the switch forwards; the number is the return id.
pub const RETURN_PREFIX: &str = "IPSR";
/// Prefix of the assignment id of camt.056s the switch forwards; the number is the recall id.
pub const RECALL_PREFIX: &str = "IPSC";
const DAY_MS: u64 = 86_400_000;
/// The switch's own BIC, as the assigner of the camt.029s it writes itself.
pub const SWITCH_BIC: &str = adapters::SWITCH_BIC;

/// The scheme's rules for exception flows (`[exceptions]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRules {
    /// How long after settlement a creditor bank may return a transfer.
    pub return_window_ms: u64,
    /// How long a recall may stay unanswered, or accepted without its return, before it
    /// expires and both banks are told.
    pub recall_expiry_ms: u64,
    /// Cautionary hold on fraud recalls; `None` disables holds.
    pub fraud_hold: Option<FraudHold>,
}

impl Default for ExceptionRules {
    fn default() -> Self {
        ExceptionRules {
            return_window_ms: 90 * DAY_MS,
            recall_expiry_ms: 10 * DAY_MS,
            fraud_hold: Some(FraudHold::default()),
        }
    }
}

/// When and how long the switch holds a creditor's money on a fraud recall (in the spirit
/// of Pix's MED): the recall's reason is FRAD, and the key the transfer was paid to has at
/// least `min_reports` fraud reports (or `min_confirmed` confirmed ones) in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FraudHold {
    /// Hold duration.
    pub hold_ms: u64,
    /// Open (not cancelled) fraud reports against the key, its owner or its account that
    /// trigger a hold.
    pub min_reports: u32,
    /// Confirmed fraud reports that trigger a hold on their own.
    pub min_confirmed: u32,
}

impl Default for FraudHold {
    fn default() -> Self {
        FraudHold { hold_ms: 72 * 3_600_000, min_reports: 1, min_confirmed: 1 }
    }
}

/// What a [`Event::Notice`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum NoticeKind {
    /// pacs.002 answering a pacs.028.
    EnquiryAnswer = 1,
    /// pacs.002 RJCT refusing a pacs.004.
    ReturnRefused = 2,
    /// camt.029 RJCR refusing a camt.056 on the switch's own authority.
    RecallRefused = 3,
    /// pacs.002 ACSC re-sent for a duplicate of a settled return.
    ReturnRepeated = 4,
}

impl NoticeKind {
    fn from_u8(v: u8) -> Option<NoticeKind> {
        [Self::EnquiryAnswer, Self::ReturnRefused, Self::RecallRefused, Self::ReturnRepeated]
            .into_iter()
            .find(|k| *k as u8 == v)
    }

    fn msg_type(self) -> &'static str {
        match self {
            NoticeKind::RecallRefused => "camt.029.001.09",
            _ => "pacs.002.001.10",
        }
    }
}

/// A settled return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRecord {
    /// Return id.
    pub id: u64,
    /// The original transfer.
    pub original: u64,
    /// Amount, minor units.
    pub amount_minor: u64,
    /// Return reason code.
    pub reason: String,
    /// When it settled.
    pub at_ms: u64,
    /// Content fingerprint.
    pub fingerprint: u64,
}

/// Where a recall stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RecallState {
    /// Forwarded to the creditor bank, no answer yet.
    Open,
    /// The creditor bank accepted; its return is awaited.
    Accepted,
    /// The creditor bank refused.
    Refused,
    /// The money came back.
    Returned,
    /// Unanswered, or accepted and never returned, until the expiry.
    Expired,
}

/// A recall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recall {
    /// Recall id.
    pub id: u64,
    /// The transfer recalled.
    pub transfer: u64,
    /// `Assgnmt/Id` of the debtor's camt.056.
    pub assignment_id: String,
    /// `Case/Id`.
    pub case_id: String,
    /// Cancellation reason.
    pub reason: String,
    /// Fingerprint of the request.
    pub fingerprint: u64,
    /// State.
    pub state: RecallState,
    /// Opened at.
    pub opened_ms: u64,
    /// Expires at.
    pub expires_ms: u64,
    /// Hold placed, minor units (0: none).
    pub hold_minor: u64,
    /// Hold lapses at.
    pub hold_until_ms: u64,
    /// The hold is still in place.
    pub hold_active: bool,
    /// The creditor's rejection reason, if refused.
    pub answer_reason: String,
}

/// Why a case needs an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum InvestigationKind {
    /// The creditor accepted after the switch had timed the transfer out: nothing posted.
    LateAcceptance,
    /// A recall expired without an answer.
    RecallUnanswered,
    /// A recall was accepted but the return never came.
    RecallAcceptedNotReturned,
    /// A return was refused by the switch (insufficient funds, over the original, ...).
    ReturnFailed,
}

/// A case for operators.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Investigation {
    /// What happened.
    pub kind: InvestigationKind,
    /// The transfer concerned (0 when the message matched none).
    pub transfer: u64,
    /// The recall concerned.
    pub recall: Option<u64>,
    /// The participant concerned.
    pub participant: String,
    /// When.
    pub at_ms: u64,
    /// Details (codes and reasons).
    pub detail: String,
}

/// The exception-flow part of the core's state.
#[derive(Debug, Default)]
pub struct ExceptionState {
    pub(crate) returns: HashMap<u64, ReturnRecord>,
    pub(crate) return_by_key: HashMap<String, u64>,
    pub(crate) next_return: u64,
    pub(crate) recalls: HashMap<u64, Recall>,
    pub(crate) recall_by_key: HashMap<String, u64>,
    pub(crate) next_recall: u64,
    pub(crate) recall_deadlines: BTreeSet<(u64, u64)>,
    pub(crate) hold_deadlines: BTreeSet<(u64, u64)>,
    pub(crate) investigations: std::collections::VecDeque<Investigation>,
}

/// Investigations kept in memory for the operator API; older ones drop out (oldest first).
pub const INVESTIGATIONS_KEPT: usize = 100_000;

impl ExceptionState {
    pub(crate) fn investigate(&mut self, case: Investigation) {
        if self.investigations.len() >= INVESTIGATIONS_KEPT {
            self.investigations.pop_front();
        }
        self.investigations.push_back(case);
    }
}

fn ids_text(o: &OriginalIds) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}",
        o.group.as_ref().map_or("", |g| g.msg_id.as_str()),
        o.instr_id.as_deref().unwrap_or(""),
        o.end_to_end_id.as_deref().unwrap_or(""),
        o.tx_id.as_deref().unwrap_or(""),
        o.uetr.as_deref().unwrap_or(""),
        o.clearing_ref.as_deref().unwrap_or(""),
    )
}

/// The id in one of the switch's own references (`prefix` then the number), if `o` carries
/// one: as the clearing reference, or as the original MsgId (the message the switch sent).
fn switch_ref(o: &OriginalIds, prefix: &str) -> Option<u64> {
    prefixed_id(o.clearing_ref.as_deref(), prefix)
        .or_else(|| prefixed_id(o.group.as_ref().map(|g| g.msg_id.as_str()), prefix))
}

fn prefixed_id(text: Option<&str>, prefix: &str) -> Option<u64> {
    text.and_then(|t| t.strip_prefix(prefix)).and_then(|n| n.parse().ok())
}

/// A refusal decided by the switch: the ISO code and why.
type Refusal<C> = (C, String);

impl Core {
    // ----- read side -----

    /// Cases for operators, oldest first (the most recent [`INVESTIGATIONS_KEPT`]; every
    /// case stays in the journal, where `switchctl investigations` finds it).
    pub fn investigations(&self) -> Vec<Investigation> {
        self.exc.investigations.iter().cloned().collect()
    }

    /// A recall by id.
    pub fn recall(&self, id: u64) -> Option<&Recall> {
        self.exc.recalls.get(&id)
    }

    /// Every recall, in no particular order.
    pub fn recalls(&self) -> impl Iterator<Item = &Recall> {
        self.exc.recalls.values()
    }

    /// The settled returns of a transfer.
    pub fn returns_of(&self, transfer: u64) -> Vec<&ReturnRecord> {
        let mut v: Vec<&ReturnRecord> =
            self.exc.returns.values().filter(|r| r.original == transfer).collect();
        v.sort_by_key(|r| r.id);
        v
    }

    /// Find the transfer `o` refers to, if `party` is its debtor or creditor. References
    /// that work: the switch's clearing reference (`IPSF<id>`, on every pacs.002 and as the
    /// MsgId of the forwarded pacs.008), the UETR, or the debtor's own MsgId + EndToEndId
    /// (+ TxId when it sent one).
    pub fn find_for(&self, party: u32, o: &OriginalIds) -> Option<&Transfer> {
        let id = switch_ref(o, FORWARD_PREFIX)
            .or_else(|| {
                let ids = Ids { uetr: o.uetr.clone(), ..Ids::default() };
                o.uetr.as_ref().and_then(|_| self.by_key.get(&Core::key_hash(party, &ids)).copied())
            })
            .or_else(|| {
                let ids = Ids {
                    msg_id: o.group.as_ref()?.msg_id.clone(),
                    end_to_end_id: o.end_to_end_id.clone()?,
                    tx_id: o.tx_id.clone(),
                    ..Ids::default()
                };
                self.by_key.get(&Core::key_hash(party, &ids)).copied()
            })?;
        let t = self.transfers.get(&id)?;
        (t.id != 0 && (t.debtor == party || t.creditor == Some(party))).then_some(t)
    }

    /// Why `o` names no transfer of `party`'s: it was retired (said with the retention),
    /// or it is unknown.
    fn unknown_why(&self, party: u32, o: &OriginalIds) -> String {
        let retired = switch_ref(o, FORWARD_PREFIX).or_else(|| {
            let ids = Ids {
                msg_id: o.group.as_ref().map(|g| g.msg_id.clone()).unwrap_or_default(),
                end_to_end_id: o.end_to_end_id.clone().unwrap_or_default(),
                tx_id: o.tx_id.clone(),
                uetr: o.uetr.clone(),
                ..Ids::default()
            };
            self.retired_by_key(party, &ids).map(|r| r.id)
        });
        self.unknown_transfer_why(retired)
    }

    fn agent_of(&self, p: u32) -> Agent {
        self.participants.get(p as usize).map(Participant::agent).unwrap_or_default()
    }

    fn bic_of(&self, p: u32) -> String {
        self.participants.get(p as usize).map(|p| p.bic.clone()).unwrap_or_default()
    }

    /// The transfer's ids as `party` knows them.
    fn ids_for(&self, t: &Transfer, party: u32) -> OriginalIds {
        let group = if party == t.debtor {
            OriginalGroup {
                msg_id: t.ids.msg_id.clone(),
                msg_name: "pacs.008.001.08".into(),
                created: None,
            }
        } else {
            OriginalGroup {
                msg_id: format!("{FORWARD_PREFIX}{}", t.id),
                msg_name: "pacs.008.001.08".into(),
                created: None,
            }
        };
        OriginalIds {
            group: Some(group),
            instr_id: t.ids.instr_id.clone(),
            end_to_end_id: Some(t.ids.end_to_end_id.clone()),
            tx_id: t.ids.tx_id.clone(),
            uetr: t.ids.uetr.clone(),
            clearing_ref: Some(format!("{FORWARD_PREFIX}{}", t.id)),
        }
    }

    fn amount(&self, minor: u64) -> Amount {
        Amount { minor, currency: self.rules.currency }
    }

    fn next_seq(&self, p: u32) -> u64 {
        self.stream_next.get(p as usize).copied().unwrap_or(0)
    }

    // ----- pacs.028 -----

    /// Answer a status enquiry: one pacs.002 per requested transaction with the transfer's
    /// current status (PDNG while in flight, ACSC/ACCC when settled, RJCT with the reason
    /// when rejected). Never re-executes anything.
    pub fn process_pacs028(
        &mut self,
        from: u32,
        msg: &Pacs028,
        now_ms: u64,
    ) -> (Vec<Event>, Answer) {
        if msg.transactions.is_empty() {
            return (
                Vec::new(),
                Self::refused(
                    "NO_TRANSACTION",
                    "name each transaction you ask about in TxInf (OrgnlEndToEndId with \
                     OrgnlUETR, or ClrSysRef IPSF<id>); a status request for a whole message \
                     is not supported",
                ),
            );
        }
        let mut events = Vec::with_capacity(msg.transactions.len());
        for tx in &msg.transactions {
            // pacs.028 names the switch's reference `ClrSysRef`; the lookup reads it as the
            // original's clearing reference.
            let mut tx = tx.clone();
            if tx.original.clearing_ref.is_none() {
                tx.original.clearing_ref = tx.clearing_ref.clone();
            }
            let tx = &tx;
            let xml = self.enquiry_answer(from, msg, tx, now_ms, events.len());
            let transfer = self.find_for(from, &tx.original).map_or(0, |t| t.id);
            let e = Event::Notice {
                participant: from,
                transfer,
                at_ms: now_ms,
                kind: NoticeKind::EnquiryAnswer as u8,
                xml,
            };
            self.apply(&e);
            events.push(e);
        }
        let n = msg.transactions.len() as u32;
        (events, Answer::Taken { transactions: n })
    }

    fn enquiry_answer(
        &self,
        from: u32,
        msg: &Pacs028,
        tx: &StatusRequestTx,
        now_ms: u64,
        index: usize,
    ) -> String {
        let found = self.find_for(from, &tx.original);
        let (status, reason, info, clearing_ref) = match found {
            None => (
                TxStatus::Rejected,
                Some(StatusReason::Narrative),
                format!("UNKNOWN_TRANSFER: {}", self.unknown_why(from, &tx.original)),
                None,
            ),
            Some(t) => {
                let (status, reason) = match t.state {
                    State::Reserved { .. } => (TxStatus::Pending, None),
                    State::Settled if t.debtor == from => {
                        (TxStatus::AcceptedSettlementCompleted, None)
                    }
                    State::Settled => (TxStatus::AcceptedCreditSettlementCompleted, None),
                    State::Rejected(r) => (TxStatus::Rejected, Some(r)),
                };
                let mut info = reason.map(|r| r.name().to_string()).unwrap_or_default();
                if t.returned_minor > 0 {
                    info = format!("{info} returned {} of {}", t.returned_minor, t.amount_minor)
                        .trim()
                        .to_string();
                }
                (status, reason, info, Some(format!("{FORWARD_PREFIX}{}", t.id)))
            }
        };
        let original_group = found.map(|t| self.ids_for(t, from)).and_then(|o| o.group);
        let report = Pacs002 {
            msg_id: format!("IPSE{from}-{}-{index}", self.next_seq(from)),
            created: crate::time::iso_datetime(now_ms),
            instructed_agent: Some(self.agent_of(from)),
            original_msg_id: Some(
                original_group.as_ref().map_or_else(|| msg.msg_id.clone(), |g| g.msg_id.clone()),
            ),
            original_msg_name: Some(
                original_group.map_or_else(|| "pacs.028.001.03".into(), |g| g.msg_name),
            ),
            transactions: vec![TxStatusReport {
                original_instr_id: tx.original.instr_id.clone(),
                original_end_to_end_id: tx.original.end_to_end_id.clone(),
                original_tx_id: tx.original.tx_id.clone(),
                original_uetr: tx.original.uetr.clone(),
                status,
                reason,
                additional_info: (!info.is_empty()).then_some(info),
                clearing_ref,
                ..TxStatusReport::default()
            }],
            ..Pacs002::default()
        };
        iso20022::pacs002::encode(&report)
    }

    // ----- pacs.004 -----

    /// Take a return from a creditor bank. Each returned transaction settles at once (money
    /// moves from the creditor back to the debtor, who gets the pacs.004; the creditor gets
    /// a pacs.002 ACSC), or is refused with a pacs.002 RJCT naming the reason.
    pub fn process_pacs004(
        &mut self,
        from: u32,
        msg: &Pacs004,
        now_ms: u64,
    ) -> (Vec<Event>, Answer) {
        if msg.transactions.is_empty() {
            return (Vec::new(), Self::refused("NO_TRANSACTION", "a pacs.004 needs TxInf"));
        }
        let mut events = Vec::new();
        for tx in &msg.transactions {
            for e in self.decide_return(from, msg, tx, now_ms) {
                self.apply(&e);
                events.push(e);
            }
        }
        let n = msg.transactions.len() as u32;
        (events, Answer::Taken { transactions: n })
    }

    fn return_key(from: u32, msg_id: &str, rtr_id: &str) -> String {
        format!("{from}|{msg_id}|{rtr_id}")
    }

    fn decide_return(
        &self,
        from: u32,
        msg: &Pacs004,
        tx: &PaymentReturn,
        now_ms: u64,
    ) -> Vec<Event> {
        let rtr_id =
            tx.return_id.clone().or_else(|| tx.original.end_to_end_id.clone()).unwrap_or_default();
        let reason = tx.reasons.iter().find_map(|r| r.reason).map(|r| r.code().to_string());
        let fingerprint = fnv(&[
            ids_text(&tx.original).as_bytes(),
            &tx.returned_amount.minor.to_le_bytes(),
            tx.returned_amount.currency.as_str().as_bytes(),
            reason.as_deref().unwrap_or("").as_bytes(),
        ]);
        let key = Self::return_key(from, &msg.header.msg_id, &rtr_id);
        let found = self.find_for(from, &tx.original);
        let refuse = |this: &Core, (code, why): Refusal<StatusReason>| {
            let transfer = found.map_or(0, |t| t.id);
            let xml = this.return_status(from, msg, tx, transfer, None, Some((code, why)), now_ms);
            vec![Event::Notice {
                participant: from,
                transfer,
                at_ms: now_ms,
                kind: NoticeKind::ReturnRefused as u8,
                xml,
            }]
        };
        if let Some(r) = self.exc.return_by_key.get(&key).and_then(|id| self.exc.returns.get(id)) {
            if r.fingerprint != fingerprint {
                let why = format!(
                    "return {rtr_id} of message {} exists with other content",
                    msg.header.msg_id
                );
                return refuse(self, (StatusReason::Duplication, why));
            }
            let xml = self.return_status(from, msg, tx, r.original, Some(r.id), None, now_ms);
            return vec![Event::Notice {
                participant: from,
                transfer: r.original,
                at_ms: now_ms,
                kind: NoticeKind::ReturnRepeated as u8,
                xml,
            }];
        }
        let returns_a_return = switch_ref(&tx.original, RETURN_PREFIX).is_some();
        if returns_a_return {
            let why = "a return cannot itself be returned".to_string();
            return refuse(self, (StatusReason::ForbiddenReturnPayment, why));
        }
        let Some(t) = found else {
            let why = format!("NOOR: {}", self.unknown_why(from, &tx.original));
            return refuse(self, (StatusReason::Narrative, why));
        };
        let amount = tx.returned_amount.minor;
        let checks: [(bool, StatusReason, String); 7] = [
            (
                t.creditor != Some(from),
                StatusReason::SignerNotAuthorised,
                "only the creditor bank of a transfer can return it".into(),
            ),
            (
                t.state != State::Settled,
                StatusReason::TransactionForbidden,
                "the original transfer is not settled".into(),
            ),
            (
                reason.is_none(),
                StatusReason::RequiredCompulsoryElementMissing,
                "RtrRsnInf/Rsn/Cd with an ExternalReturnReason1Code is required".into(),
            ),
            (
                tx.returned_amount.currency != self.rules.currency,
                StatusReason::InvalidAmount,
                format!("the scheme settles in {}", self.rules.currency.as_str()),
            ),
            (amount == 0, StatusReason::ZeroAmount, "returned amount is zero".into()),
            (
                now_ms > t.updated_ms.saturating_add(self.rules.exceptions.return_window_ms),
                StatusReason::InvalidCutOffTime,
                format!(
                    "the return window of {} days after settlement has passed",
                    self.rules.exceptions.return_window_ms / DAY_MS
                ),
            ),
            (
                t.returned_minor.checked_add(amount).is_none_or(|s| s > t.amount_minor),
                StatusReason::WrongAmount,
                format!(
                    "returns would exceed the original: {} returned of {}, {} more asked",
                    t.returned_minor, t.amount_minor, amount
                ),
            ),
        ];
        if let Some((_, code, why)) = checks.into_iter().find(|(bad, _, _)| *bad) {
            return refuse(self, (code, why));
        }
        let debtor = t.debtor;
        let recall = t.recall.and_then(|r| self.exc.recalls.get(&r));
        let hold_release = recall.filter(|r| r.hold_active).map(|r| (r.id, r.hold_minor));
        let available =
            self.headroom(from).saturating_add(i128::from(hold_release.map_or(0, |(_, h)| h)));
        if available < i128::from(amount) {
            let why = format!("available balance {available} is below the return of {amount}");
            return refuse(self, (StatusReason::InsufficientFunds, why));
        }
        let return_id = self.exc.next_return + 1;
        let forward_xml = self.forward_return(t, debtor, from, msg, tx, return_id, now_ms);
        let mut events = Vec::with_capacity(2);
        if let Some((recall, _)) = hold_release {
            events.push(Event::HoldReleased { recall, at_ms: now_ms });
        }
        events.push(Event::ReturnSettled {
            return_id,
            original: t.id,
            at_ms: now_ms,
            amount_minor: amount,
            msg_id: msg.header.msg_id.clone(),
            rtr_id,
            reason: reason.unwrap_or_default(),
            fingerprint,
            forward_xml,
        });
        events
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_return(
        &self,
        t: &Transfer,
        debtor: u32,
        creditor: u32,
        msg: &Pacs004,
        tx: &PaymentReturn,
        return_id: u64,
        now_ms: u64,
    ) -> String {
        let mut out = tx.clone();
        out.original = self.ids_for(t, debtor);
        out.clearing_ref = Some(format!("{RETURN_PREFIX}{return_id}"));
        out.instructing_agent = None;
        out.instructed_agent = None;
        if out.settlement_date.is_none() {
            out.settlement_date = Some(crate::time::iso_date(now_ms));
        }
        if out.original_amount.is_none() {
            out.original_amount = Some(self.amount(t.amount_minor));
        }
        let m = Pacs004 {
            version: iso20022::pacs004::Version::V09,
            header: ReturnHeader {
                msg_id: format!("{RETURN_PREFIX}{return_id}"),
                created: crate::time::iso_datetime(now_ms),
                total_returned: None,
                settlement_date: None,
                settlement: Settlement {
                    method: "CLRG".into(),
                    clearing_system: msg.header.settlement.clearing_system.clone(),
                },
                instructing_agent: Some(self.agent_of(creditor)),
                instructed_agent: Some(self.agent_of(debtor)),
            },
            transactions: vec![out],
        };
        iso20022::pacs004::encode(&m)
    }

    /// The pacs.002 answering a creditor's pacs.004: ACSC with the return's reference, or
    /// RJCT with the reason.
    #[allow(clippy::too_many_arguments)]
    fn return_status(
        &self,
        to: u32,
        msg: &Pacs004,
        tx: &PaymentReturn,
        transfer: u64,
        return_id: Option<u64>,
        refusal: Option<Refusal<StatusReason>>,
        now_ms: u64,
    ) -> String {
        let (status, reason, info) = match refusal {
            Some((code, why)) => (TxStatus::Rejected, Some(code), Some(why)),
            None => (TxStatus::AcceptedSettlementCompleted, None, None),
        };
        let report = Pacs002 {
            msg_id: format!("IPSD{to}-{}", self.next_seq(to)),
            created: crate::time::iso_datetime(now_ms),
            instructed_agent: Some(self.agent_of(to)),
            original_msg_id: Some(msg.header.msg_id.clone()),
            original_msg_name: Some(match msg.version {
                iso20022::pacs004::Version::V09 => "pacs.004.001.09".into(),
                iso20022::pacs004::Version::V10 => "pacs.004.001.10".into(),
            }),
            transactions: vec![TxStatusReport {
                original_instr_id: tx.return_id.clone(),
                original_end_to_end_id: tx.original.end_to_end_id.clone(),
                original_tx_id: tx.original.tx_id.clone(),
                original_uetr: tx.original.uetr.clone(),
                status,
                reason,
                additional_info: info.map(|i| i.chars().take(105).collect()),
                clearing_ref: return_id
                    .map(|r| format!("{RETURN_PREFIX}{r}"))
                    .or_else(|| (transfer != 0).then(|| format!("{FORWARD_PREFIX}{transfer}"))),
                ..TxStatusReport::default()
            }],
            ..Pacs002::default()
        };
        iso20022::pacs002::encode(&report)
    }

    // ----- camt.056 -----

    /// Take a recall from a debtor bank: forwarded to the creditor bank with an expiry, or
    /// refused at once with a camt.029 RJCR naming why (unknown transfer, not yours, still
    /// in flight, not settled, already returned, already recalled).
    pub fn process_camt056(
        &mut self,
        from: u32,
        msg: &Camt056,
        now_ms: u64,
    ) -> (Vec<Event>, Answer) {
        if msg.underlying.iter().all(|u| u.transactions.is_empty()) {
            return (
                Vec::new(),
                Self::refused(
                    "NO_TRANSACTION",
                    "name each transaction to recall in Undrlyg/TxInf; recalling a whole \
                     message is not supported",
                ),
            );
        }
        let mut events = Vec::new();
        let mut n = 0u32;
        for (i, tx) in msg.underlying.iter().flat_map(|u| u.transactions.iter()).enumerate() {
            n += 1;
            if let Some(e) = self.decide_recall(from, msg, tx, i, now_ms) {
                self.apply(&e);
                events.push(e);
            }
        }
        (events, Answer::Taken { transactions: n })
    }

    fn decide_recall(
        &self,
        from: u32,
        msg: &Camt056,
        tx: &CancellationTx,
        index: usize,
        now_ms: u64,
    ) -> Option<Event> {
        let reason = tx.reasons.iter().find_map(|r| r.reason);
        let fingerprint =
            fnv(&[ids_text(&tx.original).as_bytes(), reason.map_or("", |r| r.code()).as_bytes()]);
        let sub = tx.cancellation_id.clone().unwrap_or_else(|| index.to_string());
        let key = format!("{from}|{}|{sub}", msg.assignment.id);
        let found = self.find_for(from, &tx.original);
        let refuse = |this: &Core, (code, why): Refusal<CancellationRejection>| {
            let transfer = found.map_or(0, |t| t.id);
            let xml = this.recall_refusal(from, msg, tx, code, &why, now_ms);
            Some(Event::Notice {
                participant: from,
                transfer,
                at_ms: now_ms,
                kind: NoticeKind::RecallRefused as u8,
                xml,
            })
        };
        if let Some(r) = self.exc.recall_by_key.get(&key).and_then(|id| self.exc.recalls.get(id)) {
            if r.fingerprint == fingerprint {
                // The same recall again: it is being handled; nothing to do twice.
                return None;
            }
            let why = format!("assignment {} exists with other content", msg.assignment.id);
            return refuse(self, (CancellationRejection::Narrative, why));
        }
        let Some(t) = found else {
            let why = self.unknown_why(from, &tx.original);
            return refuse(self, (CancellationRejection::NoOriginalTransactionReceived, why));
        };
        let checks: [(bool, CancellationRejection, String); 6] = [
            (
                t.debtor != from,
                CancellationRejection::IncorrectAgent,
                "only the debtor bank of a transfer can recall it".into(),
            ),
            (
                matches!(t.state, State::Reserved { .. }),
                CancellationRejection::AwaitingReply,
                "the transfer is still in flight: its final status follows; recall it once \
                 settled"
                    .into(),
            ),
            (
                matches!(t.state, State::Rejected(_)),
                CancellationRejection::NoOriginalTransactionReceived,
                "the transfer was rejected: nothing was paid".into(),
            ),
            (
                t.returned_minor >= t.amount_minor,
                CancellationRejection::AlreadyReturned,
                "the transfer has been returned in full".into(),
            ),
            (
                t.recall.is_some(),
                CancellationRejection::Narrative,
                format!("recall {} is already open on this transfer", t.recall.unwrap_or(0)),
            ),
            (
                reason.is_none(),
                CancellationRejection::Narrative,
                "CxlRsnInf/Rsn/Cd with an ExternalCancellationReason1Code is required".into(),
            ),
        ];
        if let Some((_, code, why)) = checks.into_iter().find(|(bad, _, _)| *bad) {
            return refuse(self, (code, why));
        }
        let creditor = t.creditor?;
        let recall = self.exc.next_recall + 1;
        let (hold_minor, hold_until_ms) = match (reason, &self.rules.exceptions.fraud_hold) {
            (Some(CancellationReason::FraudulentOrigin), Some(rule)) if self.marked(t, rule) => {
                let available = self.headroom(creditor);
                let open = t.amount_minor.saturating_sub(t.returned_minor);
                let hold = u64::try_from(available.clamp(0, i128::from(open))).unwrap_or(0);
                (hold, now_ms.saturating_add(rule.hold_ms))
            }
            _ => (0, 0),
        };
        let forward_xml = self.forward_recall(t, creditor, msg, tx, recall, now_ms);
        Some(Event::RecallOpened {
            recall,
            transfer: t.id,
            at_ms: now_ms,
            expires_ms: now_ms.saturating_add(self.rules.exceptions.recall_expiry_ms),
            assignment_id: msg.assignment.id.clone(),
            case_id: msg.case.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
            cancellation_id: sub,
            reason: reason.map(|r| r.code().to_string()).unwrap_or_default(),
            fingerprint,
            forward_xml,
            hold_minor,
            hold_until_ms: if hold_minor > 0 { hold_until_ms } else { 0 },
        })
    }

    /// Whether the key the transfer was paid to carries enough fraud marks for a hold.
    fn marked(&self, t: &Transfer, rule: &FraudHold) -> bool {
        let Some(entry) = t
            .creditor_key
            .as_deref()
            .and_then(|k| directory::Key::parse(k).ok())
            .and_then(|k| self.directory.resolve_entry(&k))
        else {
            return false;
        };
        let m = self.directory.fraud_marks(&entry);
        let reported = m.key.reported.max(m.owner.reported).max(m.account.reported);
        let confirmed = m.key.confirmed.max(m.owner.confirmed).max(m.account.confirmed);
        (rule.min_reports > 0 && reported >= rule.min_reports)
            || (rule.min_confirmed > 0 && confirmed >= rule.min_confirmed)
    }

    fn forward_recall(
        &self,
        t: &Transfer,
        creditor: u32,
        msg: &Camt056,
        tx: &CancellationTx,
        recall: u64,
        now_ms: u64,
    ) -> String {
        let mut out = tx.clone();
        out.original = self.ids_for(t, creditor);
        if out.original_amount.is_none() {
            out.original_amount = Some(self.amount(t.amount_minor));
        }
        let m = Camt056 {
            assignment: Assignment {
                id: format!("{RECALL_PREFIX}{recall}"),
                assigner: PartyOrAgent::Agent(self.agent_of(t.debtor)),
                assignee: PartyOrAgent::Agent(self.agent_of(creditor)),
                created: crate::time::iso_datetime(now_ms),
            },
            case: msg.case.clone(),
            declared_count: None,
            underlying: vec![iso20022::camt056::Underlying {
                group: None,
                transactions: vec![out],
            }],
        };
        iso20022::camt056::encode(&m)
    }

    fn recall_refusal(
        &self,
        to: u32,
        msg: &Camt056,
        tx: &CancellationTx,
        code: CancellationRejection,
        why: &str,
        now_ms: u64,
    ) -> String {
        let status = CancellationTxStatus {
            original: tx.original.clone(),
            status: Some(CancellationStatus::RejectedCancellationRequest),
            reasons: vec![CancellationStatusReason {
                reason: Some(code),
                additional_info: vec![why.chars().take(105).collect()],
                ..CancellationStatusReason::default()
            }],
            ..CancellationTxStatus::default()
        };
        let assignment_id = format!("IPSX{to}-{}", self.next_seq(to));
        self.camt029(assignment_id, to, msg.case.clone(), false, status, now_ms)
    }

    fn camt029(
        &self,
        assignment_id: String,
        to: u32,
        case: Option<Case>,
        accepted: bool,
        status: CancellationTxStatus,
        now_ms: u64,
    ) -> String {
        let switch = Agent { bic: Some(SWITCH_BIC.to_string()), ..Agent::default() };
        let m = Camt029 {
            assignment: Assignment {
                id: assignment_id,
                assigner: PartyOrAgent::Agent(switch),
                assignee: PartyOrAgent::Agent(self.agent_of(to)),
                created: crate::time::iso_datetime(now_ms),
            },
            resolved_case: case,
            status: InvestigationStatus::Confirmation(if accepted {
                InvestigationConfirmation::CancelledAsPerRequest
            } else {
                InvestigationConfirmation::RejectedCancellationRequest
            }),
            cancellation_details: vec![CancellationDetails {
                group: None,
                transactions: vec![status],
            }],
        };
        iso20022::camt029::encode(&m)
    }

    // ----- camt.029 -----

    /// Take a creditor bank's answer to a recall. The whole message is checked first: if
    /// any part refers to no open recall of this creditor, nothing is applied and the
    /// sender gets a refusal naming it.
    pub fn process_camt029(
        &mut self,
        from: u32,
        msg: &Camt029,
        now_ms: u64,
    ) -> (Vec<Event>, Answer) {
        let group_accept = match &msg.status {
            InvestigationStatus::Confirmation(InvestigationConfirmation::CancelledAsPerRequest) => {
                Some(true)
            }
            InvestigationStatus::Confirmation(
                InvestigationConfirmation::RejectedCancellationRequest,
            ) => Some(false),
            _ => None,
        };
        let mut decided: Vec<Event> = Vec::new();
        let txs: Vec<&CancellationTxStatus> =
            msg.cancellation_details.iter().flat_map(|d| d.transactions.iter()).collect();
        if txs.is_empty() {
            return (
                Vec::new(),
                Self::refused("NO_TRANSACTION", "CxlDtls/TxInfAndSts is required"),
            );
        }
        for tx in txs {
            let accept = match tx.status {
                Some(CancellationStatus::AcceptedCancellationRequest) => Some(true),
                Some(CancellationStatus::RejectedCancellationRequest) => Some(false),
                _ => group_accept,
            };
            let pending = matches!(tx.status, Some(CancellationStatus::PendingCancellationRequest))
                || matches!(
                    msg.status,
                    InvestigationStatus::Confirmation(
                        InvestigationConfirmation::PendingCancellationRequest
                            | InvestigationConfirmation::Pending
                    )
                );
            let Some(accepted) = accept else {
                if pending {
                    // Pending answers change nothing; the recall stays open until its expiry.
                    continue;
                }
                return (
                    Vec::new(),
                    Self::refused(
                        "UNSUPPORTED_RESOLUTION",
                        "answer a recall with Conf CNCL or RJCR (or TxCxlSts ACCR/RJCR); \
                         PDCR/PDNG are taken and change nothing",
                    ),
                );
            };
            let Some(t) = self.find_for(from, &tx.original) else {
                return (
                    Vec::new(),
                    Self::refused(
                        "UNKNOWN_TRANSFER",
                        "no transfer of yours matches these references",
                    ),
                );
            };
            if t.creditor != Some(from) {
                return (
                    Vec::new(),
                    Self::refused("NOT_CREDITOR", "only the creditor bank answers a recall"),
                );
            }
            let Some(r) = t.recall.and_then(|r| self.exc.recalls.get(&r)) else {
                let answered = self
                    .exc
                    .recalls
                    .values()
                    .any(|r| r.transfer == t.id && r.state != RecallState::Expired);
                if answered {
                    continue; // A repeated answer: already applied.
                }
                return (
                    Vec::new(),
                    Self::refused("NO_OPEN_RECALL", "no recall is open on this transfer"),
                );
            };
            let answered_here = decided
                .iter()
                .any(|e| matches!(e, Event::RecallAnswered { recall, .. } if *recall == r.id));
            if r.state != RecallState::Open || answered_here {
                continue; // Accepted already, or earlier in this message: a repeated answer.
            }
            let reason = tx
                .reasons
                .iter()
                .find_map(|x| x.reason)
                .map(|c| c.code().to_string())
                .unwrap_or_default();
            if !accepted && r.hold_active {
                decided.push(Event::HoldReleased { recall: r.id, at_ms: now_ms });
            }
            let mut fwd = tx.clone();
            fwd.original = self.ids_for(t, t.debtor);
            fwd.status = Some(if accepted {
                CancellationStatus::AcceptedCancellationRequest
            } else {
                CancellationStatus::RejectedCancellationRequest
            });
            let case = Some(Case {
                id: if r.case_id.is_empty() { r.assignment_id.clone() } else { r.case_id.clone() },
                creator: PartyOrAgent::Agent(self.agent_of(t.debtor)),
                reopen: None,
            });
            let forward_xml = self.camt029(
                format!("{RECALL_PREFIX}{}-A", r.id),
                t.debtor,
                case,
                accepted,
                fwd,
                now_ms,
            );
            decided.push(Event::RecallAnswered {
                recall: r.id,
                at_ms: now_ms,
                accepted,
                reason,
                forward_xml,
            });
        }
        let n = decided.iter().filter(|e| matches!(e, Event::RecallAnswered { .. })).count() as u32;
        for e in &decided {
            self.apply(e);
        }
        (decided, Answer::Taken { transactions: n })
    }

    fn refused(code: &'static str, message: &str) -> Answer {
        Answer::Refused { code, message: message.to_string() }
    }

    // ----- timers -----

    /// Expire recalls and lapse holds whose time has passed (at most `max` events).
    pub(crate) fn exception_timeouts(&mut self, now_ms: u64, max: usize) -> Vec<Event> {
        let mut events = Vec::new();
        let due: Vec<u64> = self
            .exc
            .recall_deadlines
            .iter()
            .take_while(|(d, _)| *d < now_ms)
            .take(max)
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            if self.exc.recalls.get(&id).is_some_and(|r| r.hold_active) {
                events.push(Event::HoldReleased { recall: id, at_ms: now_ms });
            }
            events.push(Event::RecallExpired { recall: id, at_ms: now_ms });
        }
        let lapsed: Vec<u64> = self
            .exc
            .hold_deadlines
            .iter()
            .take_while(|(d, _)| *d < now_ms)
            .take(max)
            .map(|(_, id)| *id)
            .filter(|id| {
                !events
                    .iter()
                    .any(|e| matches!(e, Event::HoldReleased { recall, .. } if recall == id))
            })
            .collect();
        events
            .extend(lapsed.into_iter().map(|recall| Event::HoldReleased { recall, at_ms: now_ms }));
        for e in &events {
            self.apply(e);
        }
        events
    }

    // ----- applying -----

    pub(crate) fn apply_exception(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::Notice { participant, transfer, at_ms, kind, xml } => {
                let kind = NoticeKind::from_u8(*kind).ok_or("unknown notice kind")?;
                match kind {
                    NoticeKind::EnquiryAnswer => self.counters.enquiries += 1,
                    NoticeKind::ReturnRefused => {
                        self.exc.investigate(Investigation {
                            kind: InvestigationKind::ReturnFailed,
                            transfer: *transfer,
                            recall: self.transfers.get(transfer).and_then(|t| t.recall),
                            participant: self.bic_of(*participant),
                            at_ms: *at_ms,
                            detail: notice_reason(xml),
                        });
                    }
                    NoticeKind::RecallRefused | NoticeKind::ReturnRepeated => {}
                }
                self.emit(*participant, kind.msg_type(), xml.clone());
            }
            Event::ReturnSettled {
                return_id,
                original,
                at_ms,
                amount_minor,
                msg_id,
                rtr_id,
                reason,
                fingerprint,
                forward_xml,
            } => {
                let t = self.transfers.get(original).ok_or("return of an unknown transfer")?;
                let (debtor, creditor) = (t.debtor, t.creditor.ok_or("transfer without creditor")?);
                let returned = t
                    .returned_minor
                    .checked_add(*amount_minor)
                    .filter(|r| *r <= t.amount_minor)
                    .ok_or("returns exceed the original")?;
                self.ledger
                    .transfer(
                        RETURN_ID_BASE + u128::from(*return_id),
                        Participant::ledger_account(creditor),
                        Participant::ledger_account(debtor),
                        *amount_minor,
                    )
                    .map_err(|e| e.to_string())?;
                let recall = t.recall;
                if let Some(t) = self.transfers.get_mut(original) {
                    t.returned_minor = returned;
                    t.recall = None;
                    t.updated_ms = t.updated_ms.max(*at_ms);
                }
                if recall.is_some() {
                    self.requeue_finished(*original, *at_ms);
                }
                if let Some(r) = recall.and_then(|r| self.exc.recalls.get_mut(&r)) {
                    r.state = RecallState::Returned;
                    self.exc.recall_deadlines.remove(&(r.expires_ms, r.id));
                }
                self.exc.next_return = self.exc.next_return.max(*return_id);
                self.exc
                    .return_by_key
                    .insert(Self::return_key(creditor, msg_id, rtr_id), *return_id);
                self.exc.returns.insert(
                    *return_id,
                    ReturnRecord {
                        id: *return_id,
                        original: *original,
                        amount_minor: *amount_minor,
                        reason: reason.clone(),
                        at_ms: *at_ms,
                        fingerprint: *fingerprint,
                    },
                );
                self.counters.returns += 1;
                self.emit(debtor, "pacs.004.001.09", forward_xml.clone());
                let ack = self.return_ack(creditor, msg_id, rtr_id, *original, *return_id, *at_ms);
                self.emit(creditor, "pacs.002.001.10", ack);
            }
            Event::RecallOpened {
                recall,
                transfer,
                at_ms,
                expires_ms,
                assignment_id,
                case_id,
                cancellation_id,
                reason,
                fingerprint,
                forward_xml,
                hold_minor,
                hold_until_ms,
            } => {
                let t = self.transfers.get(transfer).ok_or("recall of an unknown transfer")?;
                let (debtor, creditor) = (t.debtor, t.creditor.ok_or("transfer without creditor")?);
                if t.recall.is_some() {
                    return Err(format!("transfer {transfer} has an open recall"));
                }
                if *hold_minor > 0 {
                    self.ledger
                        .reserve(
                            HOLD_ID_BASE + u128::from(*recall),
                            Participant::ledger_account(creditor),
                            Participant::ledger_account(debtor),
                            *hold_minor,
                            *hold_until_ms,
                        )
                        .map_err(|e| e.to_string())?;
                    self.exc.hold_deadlines.insert((*hold_until_ms, *recall));
                    self.counters.holds += 1;
                }
                if let Some(t) = self.transfers.get_mut(transfer) {
                    t.recall = Some(*recall);
                }
                self.exc.next_recall = self.exc.next_recall.max(*recall);
                self.exc
                    .recall_by_key
                    .insert(format!("{debtor}|{assignment_id}|{cancellation_id}"), *recall);
                self.exc.recall_deadlines.insert((*expires_ms, *recall));
                self.exc.recalls.insert(
                    *recall,
                    Recall {
                        id: *recall,
                        transfer: *transfer,
                        assignment_id: assignment_id.clone(),
                        case_id: case_id.clone(),
                        reason: reason.clone(),
                        fingerprint: *fingerprint,
                        state: RecallState::Open,
                        opened_ms: *at_ms,
                        expires_ms: *expires_ms,
                        hold_minor: *hold_minor,
                        hold_until_ms: *hold_until_ms,
                        hold_active: *hold_minor > 0,
                        answer_reason: String::new(),
                    },
                );
                self.counters.recalls += 1;
                self.emit(creditor, "camt.056.001.08", forward_xml.clone());
            }
            Event::RecallAnswered { recall, at_ms, accepted, reason, forward_xml } => {
                let r = self.exc.recalls.get_mut(recall).ok_or("answer to an unknown recall")?;
                if r.state != RecallState::Open {
                    return Err(format!("recall {recall} is not open"));
                }
                let transfer = r.transfer;
                r.answer_reason = reason.clone();
                if *accepted {
                    r.state = RecallState::Accepted;
                } else {
                    r.state = RecallState::Refused;
                    self.exc.recall_deadlines.remove(&(r.expires_ms, r.id));
                    if let Some(t) = self.transfers.get_mut(&transfer) {
                        t.recall = None;
                    }
                    self.requeue_finished(transfer, *at_ms);
                }
                let debtor =
                    self.transfers.get(&transfer).map(|t| t.debtor).ok_or("no transfer")?;
                self.emit(debtor, "camt.029.001.09", forward_xml.clone());
            }
            Event::RecallExpired { recall, at_ms } => {
                let r = self.exc.recalls.get_mut(recall).ok_or("expiry of an unknown recall")?;
                let kind = match r.state {
                    RecallState::Open => InvestigationKind::RecallUnanswered,
                    RecallState::Accepted => InvestigationKind::RecallAcceptedNotReturned,
                    _ => return Err(format!("recall {recall} already ended")),
                };
                r.state = RecallState::Expired;
                self.exc.recall_deadlines.remove(&(r.expires_ms, r.id));
                let r = r.clone();
                let t = self.transfers.get_mut(&r.transfer).ok_or("no transfer")?;
                t.recall = None;
                let t = t.clone();
                self.requeue_finished(t.id, *at_ms);
                let creditor = t.creditor.unwrap_or(t.debtor);
                self.exc.investigate(Investigation {
                    kind,
                    transfer: t.id,
                    recall: Some(r.id),
                    participant: self.bic_of(creditor),
                    at_ms: *at_ms,
                    detail: format!(
                        "recall {} ({}) opened at {} expired {}",
                        r.id,
                        r.reason,
                        crate::time::iso_datetime(r.opened_ms),
                        if kind == InvestigationKind::RecallUnanswered {
                            "without an answer"
                        } else {
                            "accepted but never returned"
                        }
                    ),
                });
                for party in [t.debtor, creditor] {
                    let xml = self.expiry_notice(&t, &r, party, *at_ms);
                    self.emit(party, "camt.029.001.09", xml);
                }
            }
            Event::HoldReleased { recall, .. } => {
                let r = self.exc.recalls.get_mut(recall).ok_or("release of an unknown hold")?;
                if !r.hold_active {
                    return Err(format!("hold of recall {recall} is not active"));
                }
                r.hold_active = false;
                self.exc.hold_deadlines.remove(&(r.hold_until_ms, r.id));
                match self.ledger.void(HOLD_ID_BASE + u128::from(*recall)) {
                    Ok(()) | Err(ledger::TransferError::ReservedTransferAlreadyVoided) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            other => return Err(format!("not an exception event: {other:?}")),
        }
        Ok(())
    }

    fn return_ack(
        &self,
        to: u32,
        msg_id: &str,
        rtr_id: &str,
        original: u64,
        return_id: u64,
        at_ms: u64,
    ) -> String {
        let t = self.transfers.get(&original);
        let report = Pacs002 {
            msg_id: format!("IPSD{to}-{}", self.next_seq(to)),
            created: crate::time::iso_datetime(at_ms),
            instructed_agent: Some(self.agent_of(to)),
            original_msg_id: Some(msg_id.to_string()),
            original_msg_name: Some("pacs.004.001.09".into()),
            transactions: vec![TxStatusReport {
                original_instr_id: Some(rtr_id.to_string()),
                original_end_to_end_id: t.map(|t| t.ids.end_to_end_id.clone()),
                original_uetr: t.and_then(|t| t.ids.uetr.clone()),
                status: TxStatus::AcceptedSettlementCompleted,
                clearing_ref: Some(format!("{RETURN_PREFIX}{return_id}")),
                ..TxStatusReport::default()
            }],
            ..Pacs002::default()
        };
        iso20022::pacs002::encode(&report)
    }

    fn expiry_notice(&self, t: &Transfer, r: &Recall, to: u32, at_ms: u64) -> String {
        let status = CancellationTxStatus {
            original: self.ids_for(t, to),
            status: Some(CancellationStatus::RejectedCancellationRequest),
            reasons: vec![CancellationStatusReason {
                reason: Some(CancellationRejection::NoAnswerFromCustomer),
                additional_info: vec![format!(
                    "recall {} expired at {}",
                    r.id,
                    crate::time::iso_datetime(r.expires_ms)
                )],
                ..CancellationStatusReason::default()
            }],
            ..CancellationTxStatus::default()
        };
        let case = Some(Case {
            id: if r.case_id.is_empty() { r.assignment_id.clone() } else { r.case_id.clone() },
            creator: PartyOrAgent::Agent(self.agent_of(t.debtor)),
            reopen: None,
        });
        self.camt029(format!("{RECALL_PREFIX}{}-X{to}", r.id), to, case, false, status, at_ms)
    }
}

/// The reason code and text of a refusal notice, for the investigation list.
fn notice_reason(xml: &str) -> String {
    let code =
        xml.split_once("<Cd>").and_then(|(_, r)| r.split_once("</Cd>")).map_or("", |(c, _)| c);
    let info = xml
        .split_once("<AddtlInf>")
        .and_then(|(_, r)| r.split_once("</AddtlInf>"))
        .map_or("", |(c, _)| c);
    format!("{code} {info}").trim().to_string()
}
