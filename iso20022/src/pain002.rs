//! pain.002.001.10 and pain.014.001.07 (same shape, see [`ReportKind`]), customer payment
//! status report: the answer to a pain.001, per file, per
//! payment instruction and per transaction (e.g. which beneficiaries of a bulk disbursement
//! were paid and which were rejected, and why).
//!
//! Status codes are checked against [`TxStatus`] (plus `PART` at group level), reasons against
//! [`StatusReason`]. Encode writes XSD-valid XML; decoding it gives the same value.

use crate::codes::{StatusReason, TxStatus};
use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of pain.002.001.10.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10";
/// The namespace of pain.014.001.07, which shares this model.
pub const NAMESPACE_PAIN014: &str = "urn:iso:std:iso:20022:tech:xsd:pain.014.001.07";

/// Which status report: pain.002 (answer to a pain.001) or pain.014 (answer to a pain.013).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// pain.002.001.10 `CstmrPmtStsRpt`.
    #[default]
    Pain002,
    /// pain.014.001.07 `CdtrPmtActvtnReqStsRpt` (initiating party mandatory).
    Pain014,
}

impl ReportKind {
    fn namespace(self) -> &'static str {
        match self {
            ReportKind::Pain002 => NAMESPACE,
            ReportKind::Pain014 => NAMESPACE_PAIN014,
        }
    }

    fn body(self) -> &'static str {
        match self {
            ReportKind::Pain002 => "CstmrPmtStsRpt",
            ReportKind::Pain014 => "CdtrPmtActvtnReqStsRpt",
        }
    }
}

/// A customer payment status report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pain002 {
    /// pain.002 or pain.014.
    pub kind: ReportKind,
    /// Message id.
    pub msg_id: String,
    /// Creation date-time.
    pub created: String,
    /// Initiating party.
    pub initiating_party: Option<Party>,
    /// Debtor agent.
    pub debtor_agent: Option<Agent>,
    /// Creditor agent.
    pub creditor_agent: Option<Agent>,
    /// The original file and its overall status (`OrgnlGrpInfAndSts`).
    pub original: OriginalGroupStatus,
    /// Per payment instruction (`OrgnlPmtInfAndSts`).
    pub payments: Vec<PaymentStatus>,
}

/// Group status (`OriginalGroupHeader17`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalGroupStatus {
    /// The original message.
    pub group: OriginalGroup,
    /// Original number of transactions.
    pub original_count: Option<String>,
    /// Group status (ExternalPaymentGroupStatus1Code: a transaction status or PART).
    pub status: Option<String>,
    /// Reasons.
    pub reasons: Vec<StatusReasonInfo>,
}

/// A status reason (`StatusReasonInformation12`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReasonInfo {
    /// Reason code.
    pub reason: Option<StatusReason>,
    /// Proprietary reason.
    pub proprietary: Option<String>,
    /// Narrative.
    pub additional_info: Vec<String>,
}

/// Status of one payment instruction (`OriginalPaymentInstruction32`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentStatus {
    /// Original payment information id.
    pub original_id: String,
    /// Status (a transaction status or PART).
    pub status: Option<String>,
    /// Reasons.
    pub reasons: Vec<StatusReasonInfo>,
    /// Per transaction.
    pub transactions: Vec<TransactionStatus>,
}

/// Status of one transaction (`PaymentTransaction105`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionStatus {
    /// Status id.
    pub status_id: Option<String>,
    /// Original instruction id.
    pub original_instr_id: Option<String>,
    /// Original end-to-end id.
    pub original_end_to_end_id: Option<String>,
    /// Original UETR.
    pub original_uetr: Option<String>,
    /// Status.
    pub status: Option<TxStatus>,
    /// Reasons.
    pub reasons: Vec<StatusReasonInfo>,
    /// Acceptance date-time.
    pub acceptance: Option<String>,
    /// Clearing system reference.
    pub clearing_ref: Option<String>,
}

/// Whether `s` is an ExternalPaymentGroupStatus1Code: a transaction status or `PART`.
pub(crate) fn is_group_status(s: &str) -> bool {
    s == "PART" || TxStatus::from_code(s).is_some()
}

/// Every `StsRsnInf` child of `el`, codes checked against [`StatusReason`].
pub(crate) fn decode_reasons<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<Vec<StatusReasonInfo>, DecodeError> {
    decode_reasons_after(el, at, 0)
}

/// The `StsRsnInf` children of `el` after the first `skip` (paths keep their place).
pub(crate) fn decode_reasons_after<'d, N: Node<'d>>(
    el: N,
    at: &At,
    skip: usize,
) -> Result<Vec<StatusReasonInfo>, DecodeError> {
    let mut v = Vec::new();
    for (i, r) in el.children_named("StsRsnInf").enumerate().skip(skip) {
        let r_at = at.child("StsRsnInf", Some(i + 1));
        let (reason, proprietary) = decode_reason(
            r,
            &r_at,
            "status reason (ExternalStatusReason1Code)",
            StatusReason::from_code,
        )?;
        v.push(StatusReasonInfo {
            reason,
            proprietary,
            additional_info: additional_info(r, &r_at)?,
        });
    }
    Ok(v)
}

/// Write one `StsRsnInf` per reason.
pub(crate) fn encode_reasons(w: &mut Writer, reasons: &[StatusReasonInfo]) {
    for r in reasons {
        w.open("StsRsnInf");
        encode_reason(w, r.reason.map(|c| c.code()), r.proprietary.as_deref());
        for a in &r.additional_info {
            w.leaf("AddtlInf", a);
        }
        w.close("StsRsnInf");
    }
}

/// Decode a pain.002.001.10 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Pain002, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Pain002, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Pain002, DecodeError> {
    let kind =
        if ns == Some(NAMESPACE_PAIN014) { ReportKind::Pain014 } else { ReportKind::Pain002 };
    let (body, at) = document_body(root, ns, kind.namespace(), kind.body())?;
    let hdr = req(body, &at, "GrpHdr")?;
    let h_at = at.child("GrpHdr", None);
    let og = req(body, &at, "OrgnlGrpInfAndSts")?;
    let o_at = at.child("OrgnlGrpInfAndSts", None);
    let original = OriginalGroupStatus {
        group: decode_original_group(og, &o_at)?,
        original_count: opt_checked(og, &o_at, "OrgnlNbOfTxs", "number", is_max15_numeric)?,
        status: opt_checked(og, &o_at, "GrpSts", "group status", is_group_status)?,
        reasons: decode_reasons(og, &o_at)?,
    };
    let mut payments = Vec::new();
    let mut total = 0usize;
    for (i, p) in bounded_children(body, &at, "OrgnlPmtInfAndSts", limits.max_transactions)?
        .into_iter()
        .enumerate()
    {
        let p_at = at.child("OrgnlPmtInfAndSts", Some(i + 1));
        let txs = bounded_children(p, &p_at, "TxInfAndSts", limits.max_transactions)?;
        total = total.saturating_add(txs.len());
        if total > limits.max_transactions {
            return Err(p_at.err(ErrorKind::TooLarge(format!(
                "more than {} transactions (Limits.max_transactions)",
                limits.max_transactions
            ))));
        }
        let mut transactions = Vec::with_capacity(txs.len());
        for (j, tx) in txs.into_iter().enumerate() {
            let t_at = p_at.child("TxInfAndSts", Some(j + 1));
            let status = match opt_text(tx, &t_at, "TxSts", 4)? {
                Some(s) => Some(TxStatus::from_code(&s).ok_or_else(|| {
                    t_at.err_at(
                        "TxSts",
                        ErrorKind::Invalid(format!("{s:?} is not a known transaction status")),
                    )
                })?),
                None => None,
            };
            transactions.push(TransactionStatus {
                status_id: opt_text(tx, &t_at, "StsId", 35)?,
                original_instr_id: opt_text(tx, &t_at, "OrgnlInstrId", 35)?,
                original_end_to_end_id: opt_text(tx, &t_at, "OrgnlEndToEndId", 35)?,
                original_uetr: opt_uuid(tx, &t_at, "OrgnlUETR")?,
                status,
                reasons: decode_reasons(tx, &t_at)?,
                acceptance: opt_datetime(tx, &t_at, "AccptncDtTm")?,
                clearing_ref: opt_text(tx, &t_at, "ClrSysRef", 35)?,
            });
        }
        payments.push(PaymentStatus {
            original_id: req_text(p, &p_at, "OrgnlPmtInfId", 35)?,
            status: opt_checked(p, &p_at, "PmtInfSts", "payment status", is_group_status)?,
            reasons: decode_reasons(p, &p_at)?,
            transactions,
        });
    }
    if kind == ReportKind::Pain014 && hdr.child("InitgPty").is_none() {
        return Err(h_at.err_at("InitgPty", ErrorKind::Missing));
    }
    Ok(Pain002 {
        kind,
        msg_id: req_text(hdr, &h_at, "MsgId", 35)?,
        created: req_datetime(hdr, &h_at, "CreDtTm")?,
        initiating_party: opt_party(hdr, &h_at, "InitgPty")?,
        debtor_agent: opt_agent(hdr, &h_at, "DbtrAgt")?,
        creditor_agent: opt_agent(hdr, &h_at, "CdtrAgt")?,
        original,
        payments,
    })
}

/// Encode a pain.002.001.10 document.
pub fn encode(msg: &Pain002) -> String {
    let n: usize = msg.payments.iter().map(|p| p.transactions.len()).sum();
    let mut w = Writer::new(1024 + 512 * n);
    let kind = msg.kind;
    w.open_with("Document", &[("xmlns", kind.namespace())]).open(kind.body());
    w.open("GrpHdr").leaf("MsgId", &msg.msg_id).leaf("CreDtTm", &msg.created);
    match (&msg.initiating_party, kind) {
        (Some(p), _) => encode_party(&mut w, "InitgPty", p),
        // pain.014 makes it mandatory; an empty party is its emptiest valid form.
        (None, ReportKind::Pain014) => encode_party(&mut w, "InitgPty", &Party::default()),
        (None, ReportKind::Pain002) => {}
    }
    encode_opt_agent(&mut w, "DbtrAgt", msg.debtor_agent.as_ref());
    encode_opt_agent(&mut w, "CdtrAgt", msg.creditor_agent.as_ref());
    w.close("GrpHdr");
    let o = &msg.original;
    w.open("OrgnlGrpInfAndSts");
    encode_original_group_leaves(&mut w, &o.group);
    w.opt_leaf("OrgnlNbOfTxs", o.original_count.as_deref());
    w.opt_leaf("GrpSts", o.status.as_deref());
    encode_reasons(&mut w, &o.reasons);
    w.close("OrgnlGrpInfAndSts");
    for p in &msg.payments {
        w.open("OrgnlPmtInfAndSts").leaf("OrgnlPmtInfId", &p.original_id);
        w.opt_leaf("PmtInfSts", p.status.as_deref());
        encode_reasons(&mut w, &p.reasons);
        for t in &p.transactions {
            w.open("TxInfAndSts").opt_leaf("StsId", t.status_id.as_deref());
            w.opt_leaf("OrgnlInstrId", t.original_instr_id.as_deref());
            w.opt_leaf("OrgnlEndToEndId", t.original_end_to_end_id.as_deref());
            w.opt_leaf("OrgnlUETR", t.original_uetr.as_deref());
            w.opt_leaf("TxSts", t.status.map(|s| s.code()));
            encode_reasons(&mut w, &t.reasons);
            w.opt_leaf("AccptncDtTm", t.acceptance.as_deref());
            w.opt_leaf("ClrSysRef", t.clearing_ref.as_deref());
            w.close("TxInfAndSts");
        }
        w.close("OrgnlPmtInfAndSts");
    }
    w.close(kind.body()).close("Document");
    w.finish()
}
