//! camt.029.001.09, resolution of investigation: the answer to a camt.056 recall.
//!
//! `Sts/Conf` is checked against [`InvestigationConfirmation`], `TxCxlSts` against
//! [`CancellationStatus`] and rejection reasons against [`CancellationRejection`].
//! Encode writes XSD-valid XML; decoding what it wrote gives the same value.

use crate::camt056::{
    decode_assignment, encode_assignment, encode_case, opt_case, Assignment, Case,
};
use crate::codes::{CancellationRejection, CancellationStatus, InvestigationConfirmation};
use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::reference::*;
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of camt.029.001.09.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.029.001.09";

/// A resolution of investigation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Camt029 {
    /// Assignment (header).
    pub assignment: Assignment,
    /// The case resolved.
    pub resolved_case: Option<Case>,
    /// The outcome.
    pub status: InvestigationStatus,
    /// Per-group and per-transaction cancellation outcomes (`CxlDtls`).
    pub cancellation_details: Vec<CancellationDetails>,
}

/// `InvestigationStatus5Choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
// Values are decoded once and moved; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum InvestigationStatus {
    /// `Conf`: e.g. CNCL (cancelled as requested) or RJCR (refused).
    Confirmation(InvestigationConfirmation),
    /// `RjctdMod`: modification rejected, with reasons.
    RejectedModification(Vec<CodeChoice>),
    /// `DplctOf`: duplicate of another case.
    DuplicateOf(Case),
    /// `AssgnmtCxlConf`: assignment cancellation confirmed or not.
    AssignmentCancellation(bool),
}

impl Default for InvestigationStatus {
    fn default() -> Self {
        InvestigationStatus::Confirmation(InvestigationConfirmation::Pending)
    }
}

/// One `CxlDtls` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancellationDetails {
    /// Group-level status (`OrgnlGrpInfAndSts`).
    pub group: Option<GroupCancellationStatus>,
    /// Transaction-level statuses (`TxInfAndSts`).
    pub transactions: Vec<CancellationTxStatus>,
}

/// Group-level cancellation status (`OriginalGroupHeader14`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCancellationStatus {
    /// Original group cancellation id.
    pub cancellation_id: Option<String>,
    /// Original group.
    pub original: OriginalGroup,
    /// `GrpCxlSts` (PACR, RJCR, ACCR, PDCR).
    pub status: Option<String>,
    /// Reasons.
    pub reasons: Vec<CancellationStatusReason>,
}

/// Transaction-level cancellation status (`PaymentTransaction102`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancellationTxStatus {
    /// Cancellation status id.
    pub status_id: Option<String>,
    /// Resolved case.
    pub resolved_case: Option<Case>,
    /// Identifiers of the original transaction.
    pub original: OriginalIds,
    /// `TxCxlSts`.
    pub status: Option<CancellationStatus>,
    /// Reasons (for a refusal).
    pub reasons: Vec<CancellationStatusReason>,
    /// Original interbank settlement amount.
    pub original_amount: Option<Amount>,
    /// Original interbank settlement date.
    pub original_settlement_date: Option<String>,
    /// Assigner.
    pub assigner: Option<PartyOrAgent>,
    /// Assignee.
    pub assignee: Option<PartyOrAgent>,
    /// Reference to the original transaction.
    pub original_ref: Option<OriginalTxRef>,
}

/// A cancellation status reason (`CancellationStatusReason4`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancellationStatusReason {
    /// Originator.
    pub originator: Option<Party>,
    /// Reason code.
    pub reason: Option<CancellationRejection>,
    /// Proprietary reason.
    pub proprietary: Option<String>,
    /// Narrative.
    pub additional_info: Vec<String>,
}

fn decode_reasons<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<Vec<CancellationStatusReason>, DecodeError> {
    let mut v = Vec::new();
    for (i, r) in el.children_named("CxlStsRsnInf").enumerate() {
        let r_at = at.child("CxlStsRsnInf", Some(i + 1));
        let (reason, proprietary) = decode_reason(
            r,
            &r_at,
            "cancellation rejection reason (ExternalPaymentCancellationRejection1Code)",
            CancellationRejection::from_code,
        )?;
        v.push(CancellationStatusReason {
            originator: opt_party(r, &r_at, "Orgtr")?,
            reason,
            proprietary,
            additional_info: additional_info(r, &r_at)?,
        });
    }
    Ok(v)
}

fn encode_reasons(w: &mut Writer, reasons: &[CancellationStatusReason]) {
    for r in reasons {
        w.open("CxlStsRsnInf");
        if let Some(o) = &r.originator {
            encode_party(w, "Orgtr", o);
        }
        encode_reason(w, r.reason.map(|c| c.code()), r.proprietary.as_deref());
        for a in &r.additional_info {
            w.leaf("AddtlInf", a);
        }
        w.close("CxlStsRsnInf");
    }
}

/// Decode a camt.029.001.09 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Camt029, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Camt029, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

fn decode_status<'d, N: Node<'d>>(el: N, at: &At) -> Result<InvestigationStatus, DecodeError> {
    let first = el.children().next().map(|c| c.name());
    match first.as_deref() {
        Some("Conf") => {
            let text = req_text(el, at, "Conf", 4)?;
            InvestigationConfirmation::from_code(&text)
                .map(InvestigationStatus::Confirmation)
                .ok_or_else(|| {
                    at.err_at(
                        "Conf",
                        ErrorKind::Invalid(format!(
                            "{text:?} is not a known investigation confirmation \
                             (ExternalInvestigationExecutionConfirmation1Code)"
                        )),
                    )
                })
        }
        Some("RjctdMod") => {
            let mut v = Vec::new();
            for (i, m) in el.children_named("RjctdMod").enumerate() {
                v.push(decode_choice(m, &at.child("RjctdMod", Some(i + 1)), 4)?);
            }
            Ok(InvestigationStatus::RejectedModification(v))
        }
        Some("DplctOf") => Ok(InvestigationStatus::DuplicateOf(
            opt_case(el, at, "DplctOf")?.ok_or_else(|| at.err_at("DplctOf", ErrorKind::Missing))?,
        )),
        Some("AssgnmtCxlConf") => {
            let v = req_checked(el, at, "AssgnmtCxlConf", "boolean", |s| {
                matches!(s, "true" | "false" | "1" | "0")
            })?;
            Ok(InvestigationStatus::AssignmentCancellation(v == "true" || v == "1"))
        }
        _ => Err(at.err(ErrorKind::Invalid(
            "choice needs one of Conf, RjctdMod, DplctOf, AssgnmtCxlConf".into(),
        ))),
    }
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Camt029, DecodeError> {
    let (body, at) = document_body(root, ns, NAMESPACE, "RsltnOfInvstgtn")?;
    let assignment = decode_assignment(req(body, &at, "Assgnmt")?, &at.child("Assgnmt", None))?;
    let resolved_case = opt_case(body, &at, "RslvdCase")?;
    let status = decode_status(req(body, &at, "Sts")?, &at.child("Sts", None))?;
    let blocks = bounded_children(body, &at, "CxlDtls", limits.max_transactions)?;
    let mut cancellation_details = Vec::with_capacity(blocks.len());
    let mut total = 0usize;
    for (i, d) in blocks.into_iter().enumerate() {
        let d_at = at.child("CxlDtls", Some(i + 1));
        let group = match d.child("OrgnlGrpInfAndSts") {
            Some(g) => {
                let g_at = d_at.child("OrgnlGrpInfAndSts", None);
                Some(GroupCancellationStatus {
                    cancellation_id: opt_text(g, &g_at, "OrgnlGrpCxlId", 35)?,
                    original: decode_original_group(g, &g_at)?,
                    status: opt_checked(g, &g_at, "GrpCxlSts", "group cancellation status", |s| {
                        matches!(s, "PACR" | "RJCR" | "ACCR" | "PDCR")
                    })?,
                    reasons: decode_reasons(g, &g_at)?,
                })
            }
            None => None,
        };
        let txs = bounded_children(d, &d_at, "TxInfAndSts", limits.max_transactions)?;
        total = total.saturating_add(txs.len());
        if total > limits.max_transactions {
            return Err(at.err(ErrorKind::TooLarge(format!(
                "more than {} transactions (Limits.max_transactions)",
                limits.max_transactions
            ))));
        }
        let mut transactions = Vec::with_capacity(txs.len());
        for (j, tx) in txs.into_iter().enumerate() {
            let t_at = d_at.child("TxInfAndSts", Some(j + 1));
            let status = match opt_text(tx, &t_at, "TxCxlSts", 4)? {
                Some(s) => Some(CancellationStatus::from_code(&s).ok_or_else(|| {
                    t_at.err_at(
                        "TxCxlSts",
                        ErrorKind::Invalid(format!("{s:?} is not RJCR, ACCR or PDCR")),
                    )
                })?),
                None => None,
            };
            transactions.push(CancellationTxStatus {
                status_id: opt_text(tx, &t_at, "CxlStsId", 35)?,
                resolved_case: opt_case(tx, &t_at, "RslvdCase")?,
                original: decode_original_ids(tx, &t_at)?,
                status,
                reasons: decode_reasons(tx, &t_at)?,
                original_amount: opt_amount(tx, &t_at, "OrgnlIntrBkSttlmAmt")?,
                original_settlement_date: opt_date(tx, &t_at, "OrgnlIntrBkSttlmDt")?,
                assigner: opt_party_or_agent(tx, &t_at, "Assgnr")?,
                assignee: opt_party_or_agent(tx, &t_at, "Assgne")?,
                original_ref: opt_original_tx_ref(tx, &t_at)?,
            });
        }
        cancellation_details.push(CancellationDetails { group, transactions });
    }
    Ok(Camt029 { assignment, resolved_case, status, cancellation_details })
}

/// Encode a camt.029.001.09 document.
pub fn encode(msg: &Camt029) -> String {
    let mut w = Writer::new(1024 + 1024 * msg.cancellation_details.len());
    w.open_with("Document", &[("xmlns", NAMESPACE)]).open("RsltnOfInvstgtn");
    encode_assignment(&mut w, &msg.assignment);
    if let Some(c) = &msg.resolved_case {
        encode_case(&mut w, "RslvdCase", c);
    }
    w.open("Sts");
    match &msg.status {
        InvestigationStatus::Confirmation(c) => {
            w.leaf("Conf", c.code());
        }
        InvestigationStatus::RejectedModification(v) => {
            for m in v {
                encode_choice(&mut w, "RjctdMod", m);
            }
        }
        InvestigationStatus::DuplicateOf(c) => encode_case(&mut w, "DplctOf", c),
        InvestigationStatus::AssignmentCancellation(b) => {
            w.leaf("AssgnmtCxlConf", if *b { "true" } else { "false" });
        }
    }
    w.close("Sts");
    for d in &msg.cancellation_details {
        w.open("CxlDtls");
        if let Some(g) = &d.group {
            w.open("OrgnlGrpInfAndSts").opt_leaf("OrgnlGrpCxlId", g.cancellation_id.as_deref());
            encode_original_group_leaves(&mut w, &g.original);
            w.opt_leaf("GrpCxlSts", g.status.as_deref());
            encode_reasons(&mut w, &g.reasons);
            w.close("OrgnlGrpInfAndSts");
        }
        for tx in &d.transactions {
            w.open("TxInfAndSts").opt_leaf("CxlStsId", tx.status_id.as_deref());
            if let Some(c) = &tx.resolved_case {
                encode_case(&mut w, "RslvdCase", c);
            }
            encode_original_ids(&mut w, &tx.original, false);
            w.opt_leaf("TxCxlSts", tx.status.map(|s| s.code()));
            encode_reasons(&mut w, &tx.reasons);
            encode_opt_amount(&mut w, "OrgnlIntrBkSttlmAmt", tx.original_amount.as_ref());
            w.opt_leaf("OrgnlIntrBkSttlmDt", tx.original_settlement_date.as_deref());
            if let Some(a) = &tx.assigner {
                encode_party_or_agent(&mut w, "Assgnr", a);
            }
            if let Some(a) = &tx.assignee {
                encode_party_or_agent(&mut w, "Assgne", a);
            }
            if let Some(r) = &tx.original_ref {
                encode_original_tx_ref(&mut w, r);
            }
            w.close("TxInfAndSts");
        }
        w.close("CxlDtls");
    }
    w.close("RsltnOfInvstgtn").close("Document");
    w.finish()
}
