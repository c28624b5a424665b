//! pacs.028.001.03, FI to FI payment status request: "what happened to my payment?".
//!
//! A bank that sent a pacs.008 and has no answer asks the switch; the switch answers with a
//! pacs.002. Decode checks ids, UUIDs, dates and agents; encode writes XSD-valid XML.

use crate::common::*;
use crate::error::DecodeError;
use crate::reference::*;
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of pacs.028.001.03.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.028.001.03";

/// A payment status request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pacs028 {
    /// Message id.
    pub msg_id: String,
    /// Creation date-time.
    pub created: String,
    /// Instructing agent (group header).
    pub instructing_agent: Option<Agent>,
    /// Instructed agent (group header).
    pub instructed_agent: Option<Agent>,
    /// Original groups asked about as a whole (`OrgnlGrpInf`).
    pub original_groups: Vec<OriginalGroup>,
    /// Transactions asked about.
    pub transactions: Vec<StatusRequestTx>,
}

/// One transaction asked about (`PaymentTransaction113`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusRequestTx {
    /// Status request id.
    pub request_id: Option<String>,
    /// Identifiers of the original transaction.
    pub original: OriginalIds,
    /// Acceptance date-time of the original.
    pub acceptance: Option<String>,
    /// Clearing system reference of the original.
    pub clearing_ref: Option<String>,
    /// Instructing agent.
    pub instructing_agent: Option<Agent>,
    /// Instructed agent.
    pub instructed_agent: Option<Agent>,
    /// Reference to the original transaction.
    pub original_ref: Option<OriginalTxRef>,
}

/// Decode a pacs.028.001.03 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Pacs028, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Pacs028, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Pacs028, DecodeError> {
    let (body, at) = document_body(root, ns, NAMESPACE, "FIToFIPmtStsReq")?;
    let hdr = req(body, &at, "GrpHdr")?;
    let h_at = at.child("GrpHdr", None);
    let mut original_groups = Vec::new();
    for (i, g) in
        bounded_children(body, &at, "OrgnlGrpInf", limits.max_transactions)?.into_iter().enumerate()
    {
        original_groups.push(decode_original_group(g, &at.child("OrgnlGrpInf", Some(i + 1)))?);
    }
    let txs = bounded_children(body, &at, "TxInf", limits.max_transactions)?;
    let mut transactions = Vec::with_capacity(txs.len());
    for (i, tx) in txs.into_iter().enumerate() {
        let t_at = at.child("TxInf", Some(i + 1));
        transactions.push(StatusRequestTx {
            request_id: opt_text(tx, &t_at, "StsReqId", 35)?,
            // pacs.028 has no OrgnlClrSysRef; the original's reference travels in ClrSysRef.
            original: OriginalIds { clearing_ref: None, ..decode_original_ids(tx, &t_at)? },
            acceptance: opt_datetime(tx, &t_at, "AccptncDtTm")?,
            clearing_ref: opt_text(tx, &t_at, "ClrSysRef", 35)?,
            instructing_agent: opt_agent(tx, &t_at, "InstgAgt")?,
            instructed_agent: opt_agent(tx, &t_at, "InstdAgt")?,
            original_ref: opt_original_tx_ref(tx, &t_at)?,
        });
    }
    Ok(Pacs028 {
        msg_id: req_text(hdr, &h_at, "MsgId", 35)?,
        created: req_datetime(hdr, &h_at, "CreDtTm")?,
        instructing_agent: opt_agent(hdr, &h_at, "InstgAgt")?,
        instructed_agent: opt_agent(hdr, &h_at, "InstdAgt")?,
        original_groups,
        transactions,
    })
}

/// Encode a pacs.028.001.03 document.
pub fn encode(msg: &Pacs028) -> String {
    let mut w = Writer::new(768 + 1024 * msg.transactions.len());
    w.open_with("Document", &[("xmlns", NAMESPACE)]).open("FIToFIPmtStsReq");
    w.open("GrpHdr").leaf("MsgId", &msg.msg_id).leaf("CreDtTm", &msg.created);
    encode_opt_agent(&mut w, "InstgAgt", msg.instructing_agent.as_ref());
    encode_opt_agent(&mut w, "InstdAgt", msg.instructed_agent.as_ref());
    w.close("GrpHdr");
    for g in &msg.original_groups {
        encode_original_group(&mut w, "OrgnlGrpInf", g);
    }
    for tx in &msg.transactions {
        w.open("TxInf").opt_leaf("StsReqId", tx.request_id.as_deref());
        let ids = &tx.original;
        if let Some(g) = &ids.group {
            encode_original_group(&mut w, "OrgnlGrpInf", g);
        }
        w.opt_leaf("OrgnlInstrId", ids.instr_id.as_deref());
        w.opt_leaf("OrgnlEndToEndId", ids.end_to_end_id.as_deref());
        w.opt_leaf("OrgnlTxId", ids.tx_id.as_deref()).opt_leaf("OrgnlUETR", ids.uetr.as_deref());
        w.opt_leaf("AccptncDtTm", tx.acceptance.as_deref());
        w.opt_leaf("ClrSysRef", tx.clearing_ref.as_deref());
        encode_opt_agent(&mut w, "InstgAgt", tx.instructing_agent.as_ref());
        encode_opt_agent(&mut w, "InstdAgt", tx.instructed_agent.as_ref());
        if let Some(r) = &tx.original_ref {
            encode_original_tx_ref(&mut w, r);
        }
        w.close("TxInf");
    }
    w.close("FIToFIPmtStsReq").close("Document");
    w.finish()
}
