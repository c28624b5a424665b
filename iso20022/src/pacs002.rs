//! pacs.002.001.10, FI to FI payment status report: accept or reject, with a reason.
//!
//! The switch receives these from creditor banks (their accept or reject of a forwarded
//! pacs.008) and sends them to debtor banks (final outcome) and creditor banks (confirmation).

use crate::codes::{StatusReason, TxStatus};
use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::pain002::{
    decode_reasons, decode_reasons_after, encode_reasons, is_group_status, StatusReasonInfo,
};
use crate::tape;
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of pacs.002.001.10.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10";

/// A decoded or to-be-encoded pacs.002.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pacs002 {
    /// Message id of this report.
    pub msg_id: String,
    /// Creation date and time.
    pub created: String,
    /// Instructing agent (group header).
    pub instructing_agent: Option<Agent>,
    /// Instructed agent (group header).
    pub instructed_agent: Option<Agent>,
    /// The original message the report is about (`OrgnlGrpInfAndSts`).
    pub original_msg_id: Option<String>,
    /// Its message name id, e.g. `pacs.008.001.08`.
    pub original_msg_name: Option<String>,
    /// Status of the original message as a whole (`OrgnlGrpInfAndSts/GrpSts`,
    /// ExternalPaymentGroupStatus1Code: a [`TxStatus`] code or `PART`). Encoded only with
    /// `original_msg_id` and `original_msg_name`.
    pub original_group_status: Option<String>,
    /// Reasons for the group status (`OrgnlGrpInfAndSts/StsRsnInf`), codes checked.
    pub original_group_reasons: Vec<StatusReasonInfo>,
    /// One status per transaction.
    pub transactions: Vec<TxStatusReport>,
}

/// Status of one original transaction (`PaymentTransaction110`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxStatusReport {
    /// Original instruction id.
    pub original_instr_id: Option<String>,
    /// Original end-to-end id.
    pub original_end_to_end_id: Option<String>,
    /// Original transaction id.
    pub original_tx_id: Option<String>,
    /// Original UETR.
    pub original_uetr: Option<String>,
    /// Status.
    pub status: TxStatus,
    /// Reason, for rejects.
    pub reason: Option<StatusReason>,
    /// Narrative for the reason.
    pub additional_info: Option<String>,
    /// Proprietary reason (`StsRsnInf/Rsn/Prtry`), when the first reason is not an ISO code.
    pub proprietary_reason: Option<String>,
    /// Further `AddtlInf` lines of the first reason, after `additional_info`.
    pub more_additional_info: Vec<String>,
    /// Every `StsRsnInf` after the first, codes checked like the first.
    pub further_reasons: Vec<StatusReasonInfo>,
    /// Acceptance date-time.
    pub acceptance: Option<String>,
    /// Clearing system reference (the switch's own transfer id).
    pub clearing_ref: Option<String>,
}

/// Decode a pacs.002.001.10 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Pacs002, DecodeError> {
    let tape = tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// Decode through the owned tree ([`xml::parse`]) instead of the borrowed index: slower, the
/// reference [`decode`] is checked against (same value, same error).
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Pacs002, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Pacs002, DecodeError> {
    let at = At::root("Document");
    if !root.is("Document") || ns != Some(NAMESPACE) {
        return Err(at.err(ErrorKind::WrongMessage(format!(
            "expected Document in {NAMESPACE}, found {} in {}",
            root.name(),
            ns.unwrap_or("no namespace")
        ))));
    }
    let body = req(root, &at, "FIToFIPmtStsRpt")?;
    let at = at.child("FIToFIPmtStsRpt", None);
    let hdr = req(body, &at, "GrpHdr")?;
    let h_at = at.child("GrpHdr", None);
    let mut original_group_status = None;
    let mut original_group_reasons = Vec::new();
    let (original_msg_id, original_msg_name) = match body.child("OrgnlGrpInfAndSts") {
        Some(o) => {
            let o_at = at.child("OrgnlGrpInfAndSts", None);
            let ids = (
                Some(req_text(o, &o_at, "OrgnlMsgId", 35)?),
                Some(req_text(o, &o_at, "OrgnlMsgNmId", 35)?),
            );
            original_group_status = opt_checked(
                o,
                &o_at,
                "GrpSts",
                "group status (ExternalPaymentGroupStatus1Code)",
                is_group_status,
            )?;
            original_group_reasons = decode_reasons(o, &o_at)?;
            ids
        }
        None => (None, None),
    };
    let count = body.children_named("TxInfAndSts").count();
    if count > limits.max_transactions {
        return Err(at.err(ErrorKind::TooLarge(format!(
            "{count} transactions, at most {}",
            limits.max_transactions
        ))));
    }
    let mut transactions = Vec::with_capacity(count);
    for (i, tx) in body.children_named("TxInfAndSts").enumerate() {
        transactions.push(decode_tx(tx, &at.child("TxInfAndSts", Some(i + 1)))?);
    }
    Ok(Pacs002 {
        msg_id: req_text(hdr, &h_at, "MsgId", 35)?,
        created: req_checked(hdr, &h_at, "CreDtTm", "ISO date-time", is_iso_datetime)?,
        instructing_agent: hdr
            .child("InstgAgt")
            .map(|a| decode_agent(a, &h_at.child("InstgAgt", None)))
            .transpose()?,
        instructed_agent: hdr
            .child("InstdAgt")
            .map(|a| decode_agent(a, &h_at.child("InstdAgt", None)))
            .transpose()?,
        original_msg_id,
        original_msg_name,
        original_group_status,
        original_group_reasons,
        transactions,
    })
}

fn decode_tx<'d, N: Node<'d>>(el: N, at: &At) -> Result<TxStatusReport, DecodeError> {
    let status_text = req_text(el, at, "TxSts", 4)?;
    let status = TxStatus::from_code(&status_text).ok_or_else(|| {
        at.err_at(
            "TxSts",
            ErrorKind::Invalid(format!("{status_text:?} is not a known transaction status")),
        )
    })?;
    let first = first_reason(el, at)?;
    // Every `StsRsnInf` after the first (`StsRsnInf[2]` on), codes checked like the first.
    let further_reasons = decode_reasons_after(el, at, 1)?;
    Ok(TxStatusReport {
        original_instr_id: opt_text(el, at, "OrgnlInstrId", 35)?,
        original_end_to_end_id: opt_text(el, at, "OrgnlEndToEndId", 35)?,
        original_tx_id: opt_text(el, at, "OrgnlTxId", 35)?,
        original_uetr: opt_checked(el, at, "OrgnlUETR", "UUIDv4", is_uuid_v4)?,
        status,
        reason: first.reason,
        additional_info: first.additional_info,
        proprietary_reason: first.proprietary,
        more_additional_info: first.more_additional_info,
        further_reasons,
        acceptance: opt_checked(el, at, "AccptncDtTm", "ISO date-time", is_iso_datetime)?,
        clearing_ref: opt_text(el, at, "ClrSysRef", 35)?,
    })
}

/// The first `StsRsnInf` of a transaction, read straight into the report's own fields.
#[derive(Default)]
struct FirstReason {
    reason: Option<StatusReason>,
    proprietary: Option<String>,
    additional_info: Option<String>,
    more_additional_info: Vec<String>,
}

/// The first `StsRsnInf`, its code checked against [`StatusReason`]. A single one is
/// addressed without an index (`.../StsRsnInf/Rsn/Cd`), one of several as `StsRsnInf[1]`; so
/// is a single `AddtlInf` in it. No allocation beyond the values themselves.
fn first_reason<'d, N: Node<'d>>(el: N, at: &At) -> Result<FirstReason, DecodeError> {
    let mut infos = el.children_named("StsRsnInf");
    let Some(info) = infos.next() else { return Ok(FirstReason::default()) };
    let i_at = at.child("StsRsnInf", infos.next().is_some().then_some(1));
    let (reason, proprietary) = decode_reason(
        info,
        &i_at,
        "status reason (ExternalStatusReason1Code)",
        StatusReason::from_code,
    )?;
    let mut lines = info.children_named("AddtlInf");
    let single = info.children_named("AddtlInf").nth(1).is_none();
    let additional_info = match lines.next() {
        Some(l) => {
            Some(check_text(l.text(), &i_at.child("AddtlInf", (!single).then_some(1)), 105)?)
        }
        None => None,
    };
    let mut more_additional_info = Vec::new();
    for (i, l) in lines.enumerate() {
        more_additional_info.push(check_text(l.text(), &i_at.child("AddtlInf", Some(i + 2)), 105)?);
    }
    Ok(FirstReason { reason, proprietary, additional_info, more_additional_info })
}

/// Encode a pacs.002.001.10 document.
pub fn encode(msg: &Pacs002) -> String {
    let mut w = Writer::new(768 + 512 * msg.transactions.len());
    w.open_with("Document", &[("xmlns", NAMESPACE)]).open("FIToFIPmtStsRpt");
    w.open("GrpHdr").leaf("MsgId", &msg.msg_id).leaf("CreDtTm", &msg.created);
    if let Some(a) = &msg.instructing_agent {
        encode_agent(&mut w, "InstgAgt", a);
    }
    if let Some(a) = &msg.instructed_agent {
        encode_agent(&mut w, "InstdAgt", a);
    }
    w.close("GrpHdr");
    if let (Some(id), Some(name)) = (&msg.original_msg_id, &msg.original_msg_name) {
        w.open("OrgnlGrpInfAndSts").leaf("OrgnlMsgId", id).leaf("OrgnlMsgNmId", name);
        w.opt_leaf("GrpSts", msg.original_group_status.as_deref());
        encode_reasons(&mut w, &msg.original_group_reasons);
        w.close("OrgnlGrpInfAndSts");
    }
    for tx in &msg.transactions {
        w.open("TxInfAndSts");
        w.opt_leaf("OrgnlInstrId", tx.original_instr_id.as_deref());
        w.opt_leaf("OrgnlEndToEndId", tx.original_end_to_end_id.as_deref());
        w.opt_leaf("OrgnlTxId", tx.original_tx_id.as_deref());
        w.opt_leaf("OrgnlUETR", tx.original_uetr.as_deref());
        w.leaf("TxSts", tx.status.code());
        let first_has = tx.reason.is_some()
            || tx.proprietary_reason.is_some()
            || tx.additional_info.is_some()
            || !tx.more_additional_info.is_empty();
        if first_has || !tx.further_reasons.is_empty() {
            w.open("StsRsnInf");
            encode_reason(&mut w, tx.reason.map(|r| r.code()), tx.proprietary_reason.as_deref());
            w.opt_leaf("AddtlInf", tx.additional_info.as_deref());
            for a in &tx.more_additional_info {
                w.leaf("AddtlInf", a);
            }
            w.close("StsRsnInf");
        }
        encode_reasons(&mut w, &tx.further_reasons);
        w.opt_leaf("AccptncDtTm", tx.acceptance.as_deref());
        w.opt_leaf("ClrSysRef", tx.clearing_ref.as_deref());
        w.close("TxInfAndSts");
    }
    w.close("FIToFIPmtStsRpt").close("Document");
    w.finish()
}
