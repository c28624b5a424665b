//! camt.056.001.08, FI to FI payment cancellation request: a recall of a credit transfer.
//!
//! In instant payments the transfer has settled, so a recall asks the creditor's bank to send
//! the money back (pacs.004) or to refuse (camt.029). Cancellation reasons are checked against
//! [`CancellationReason`]; encode writes XSD-valid XML.

use crate::codes::CancellationReason;
use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::reference::*;
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of camt.056.001.08.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.056.001.08";

/// A case assignment (`CaseAssignment5`), the header of investigation messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Assignment id (the message id).
    pub id: String,
    /// Assigner.
    pub assigner: PartyOrAgent,
    /// Assignee.
    pub assignee: PartyOrAgent,
    /// Creation date-time.
    pub created: String,
}

/// An investigation case (`Case5`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Case {
    /// Case id.
    pub id: String,
    /// Creator.
    pub creator: PartyOrAgent,
    /// Reopen indicator.
    pub reopen: Option<bool>,
}

/// A cancellation request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Camt056 {
    /// Assignment (header).
    pub assignment: Assignment,
    /// Case.
    pub case: Option<Case>,
    /// Declared number of transactions (`CtrlData/NbOfTxs`), checked on decode.
    pub declared_count: Option<String>,
    /// Underlying groups (`Undrlyg`), each with its transactions.
    pub underlying: Vec<Underlying>,
}

/// One `Undrlyg` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Underlying {
    /// Whole-group cancellation (`OrgnlGrpInfAndCxl`).
    pub group: Option<GroupCancellation>,
    /// Transactions to cancel.
    pub transactions: Vec<CancellationTx>,
}

/// Whole-group cancellation (`OriginalGroupHeader15`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCancellation {
    /// Group cancellation id.
    pub cancellation_id: Option<String>,
    /// Original group.
    pub original: OriginalGroup,
    /// Reasons.
    pub reasons: Vec<CancellationReasonInfo>,
}

/// One transaction to cancel (`PaymentTransaction106`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancellationTx {
    /// Cancellation id.
    pub cancellation_id: Option<String>,
    /// Identifiers of the original transaction.
    pub original: OriginalIds,
    /// Original interbank settlement amount.
    pub original_amount: Option<Amount>,
    /// Original interbank settlement date.
    pub original_settlement_date: Option<String>,
    /// Assigner agent.
    pub assigner: Option<Agent>,
    /// Assignee agent.
    pub assignee: Option<Agent>,
    /// Reasons.
    pub reasons: Vec<CancellationReasonInfo>,
    /// Reference to the original transaction.
    pub original_ref: Option<OriginalTxRef>,
}

/// A cancellation reason (`PaymentCancellationReason5`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancellationReasonInfo {
    /// Originator.
    pub originator: Option<Party>,
    /// Reason code.
    pub reason: Option<CancellationReason>,
    /// Proprietary reason.
    pub proprietary: Option<String>,
    /// Narrative.
    pub additional_info: Vec<String>,
}

/// Decode a `CaseAssignment5`.
pub fn decode_assignment<'d, N: Node<'d>>(el: N, at: &At) -> Result<Assignment, DecodeError> {
    Ok(Assignment {
        id: req_text(el, at, "Id", 35)?,
        assigner: decode_party_or_agent(req(el, at, "Assgnr")?, &at.child("Assgnr", None))?,
        assignee: decode_party_or_agent(req(el, at, "Assgne")?, &at.child("Assgne", None))?,
        created: req_datetime(el, at, "CreDtTm")?,
    })
}

/// Write a `CaseAssignment5` as `Assgnmt`.
pub fn encode_assignment(w: &mut Writer, a: &Assignment) {
    w.open("Assgnmt").leaf("Id", &a.id);
    encode_party_or_agent(w, "Assgnr", &a.assigner);
    encode_party_or_agent(w, "Assgne", &a.assignee);
    w.leaf("CreDtTm", &a.created).close("Assgnmt");
}

fn is_bool(s: &str) -> bool {
    matches!(s, "true" | "false" | "1" | "0")
}

/// Decode a `Case5`.
pub fn decode_case<'d, N: Node<'d>>(el: N, at: &At) -> Result<Case, DecodeError> {
    Ok(Case {
        id: req_text(el, at, "Id", 35)?,
        creator: decode_party_or_agent(req(el, at, "Cretr")?, &at.child("Cretr", None))?,
        reopen: opt_checked(el, at, "ReopCaseIndctn", "boolean", is_bool)?
            .map(|s| s == "true" || s == "1"),
    })
}

/// Optional `Case5` child.
pub fn opt_case<'d, N: Node<'d>>(el: N, at: &At, name: &str) -> Result<Option<Case>, DecodeError> {
    el.child(name).map(|c| decode_case(c, &at.child(name, None))).transpose()
}

/// Write a `Case5`.
pub fn encode_case(w: &mut Writer, name: &str, c: &Case) {
    w.open(name).leaf("Id", &c.id);
    encode_party_or_agent(w, "Cretr", &c.creator);
    if let Some(r) = c.reopen {
        w.leaf("ReopCaseIndctn", if r { "true" } else { "false" });
    }
    w.close(name);
}

fn decode_reasons<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<Vec<CancellationReasonInfo>, DecodeError> {
    let mut v = Vec::new();
    for (i, r) in el.children_named("CxlRsnInf").enumerate() {
        let r_at = at.child("CxlRsnInf", Some(i + 1));
        let (reason, proprietary) = decode_reason(
            r,
            &r_at,
            "cancellation reason (ExternalCancellationReason1Code)",
            CancellationReason::from_code,
        )?;
        v.push(CancellationReasonInfo {
            originator: opt_party(r, &r_at, "Orgtr")?,
            reason,
            proprietary,
            additional_info: additional_info(r, &r_at)?,
        });
    }
    Ok(v)
}

fn encode_reasons(w: &mut Writer, reasons: &[CancellationReasonInfo]) {
    for r in reasons {
        w.open("CxlRsnInf");
        if let Some(o) = &r.originator {
            encode_party(w, "Orgtr", o);
        }
        encode_reason(w, r.reason.map(|c| c.code()), r.proprietary.as_deref());
        for a in &r.additional_info {
            w.leaf("AddtlInf", a);
        }
        w.close("CxlRsnInf");
    }
}

/// Decode a camt.056.001.08 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Camt056, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Camt056, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Camt056, DecodeError> {
    let (body, at) = document_body(root, ns, NAMESPACE, "FIToFIPmtCxlReq")?;
    let assignment = decode_assignment(req(body, &at, "Assgnmt")?, &at.child("Assgnmt", None))?;
    let case = opt_case(body, &at, "Case")?;
    let blocks = bounded_children(body, &at, "Undrlyg", limits.max_transactions)?;
    if blocks.is_empty() {
        return Err(at.err_at("Undrlyg", ErrorKind::Missing));
    }
    let mut underlying = Vec::with_capacity(blocks.len());
    let mut total = 0usize;
    for (i, u) in blocks.into_iter().enumerate() {
        let u_at = at.child("Undrlyg", Some(i + 1));
        let group = match u.child("OrgnlGrpInfAndCxl") {
            Some(g) => {
                let g_at = u_at.child("OrgnlGrpInfAndCxl", None);
                Some(GroupCancellation {
                    cancellation_id: opt_text(g, &g_at, "GrpCxlId", 35)?,
                    original: decode_original_group(g, &g_at)?,
                    reasons: decode_reasons(g, &g_at)?,
                })
            }
            None => None,
        };
        let txs = bounded_children(u, &u_at, "TxInf", limits.max_transactions)?;
        total = total.saturating_add(txs.len());
        if total > limits.max_transactions {
            return Err(at.err(ErrorKind::TooLarge(format!(
                "more than {} transactions (Limits.max_transactions)",
                limits.max_transactions
            ))));
        }
        let mut transactions = Vec::with_capacity(txs.len());
        for (j, tx) in txs.into_iter().enumerate() {
            let t_at = u_at.child("TxInf", Some(j + 1));
            transactions.push(CancellationTx {
                cancellation_id: opt_text(tx, &t_at, "CxlId", 35)?,
                original: decode_original_ids(tx, &t_at)?,
                original_amount: opt_amount(tx, &t_at, "OrgnlIntrBkSttlmAmt")?,
                original_settlement_date: opt_date(tx, &t_at, "OrgnlIntrBkSttlmDt")?,
                assigner: opt_agent(tx, &t_at, "Assgnr")?,
                assignee: opt_agent(tx, &t_at, "Assgne")?,
                reasons: decode_reasons(tx, &t_at)?,
                original_ref: opt_original_tx_ref(tx, &t_at)?,
            });
        }
        underlying.push(Underlying { group, transactions });
    }
    let declared_count = match body.child("CtrlData") {
        Some(c) => {
            let c_at = at.child("CtrlData", None);
            let n = req_checked(c, &c_at, "NbOfTxs", "number", is_max15_numeric)?;
            check_count(c, &c_at, "NbOfTxs", total)?;
            Some(n)
        }
        None => None,
    };
    Ok(Camt056 { assignment, case, declared_count, underlying })
}

/// Encode a camt.056.001.08 document. `CtrlData/NbOfTxs` is written (as the real count)
/// when `declared_count` is set.
pub fn encode(msg: &Camt056) -> String {
    let mut w = Writer::new(1024 + 1536 * msg.underlying.len());
    w.open_with("Document", &[("xmlns", NAMESPACE)]).open("FIToFIPmtCxlReq");
    encode_assignment(&mut w, &msg.assignment);
    if let Some(c) = &msg.case {
        encode_case(&mut w, "Case", c);
    }
    if msg.declared_count.is_some() {
        let n: usize = msg.underlying.iter().map(|u| u.transactions.len()).sum();
        w.open("CtrlData").leaf("NbOfTxs", &n.to_string()).close("CtrlData");
    }
    for u in &msg.underlying {
        w.open("Undrlyg");
        if let Some(g) = &u.group {
            w.open("OrgnlGrpInfAndCxl").opt_leaf("GrpCxlId", g.cancellation_id.as_deref());
            encode_original_group_leaves(&mut w, &g.original);
            encode_reasons(&mut w, &g.reasons);
            w.close("OrgnlGrpInfAndCxl");
        }
        for tx in &u.transactions {
            w.open("TxInf").opt_leaf("CxlId", tx.cancellation_id.as_deref());
            encode_original_ids(&mut w, &tx.original, true);
            encode_opt_amount(&mut w, "OrgnlIntrBkSttlmAmt", tx.original_amount.as_ref());
            w.opt_leaf("OrgnlIntrBkSttlmDt", tx.original_settlement_date.as_deref());
            encode_opt_agent(&mut w, "Assgnr", tx.assigner.as_ref());
            encode_opt_agent(&mut w, "Assgne", tx.assignee.as_ref());
            encode_reasons(&mut w, &tx.reasons);
            if let Some(r) = &tx.original_ref {
                encode_original_tx_ref(&mut w, r);
            }
            w.close("TxInf");
        }
        w.close("Undrlyg");
    }
    w.close("FIToFIPmtCxlReq").close("Document");
    w.finish()
}
