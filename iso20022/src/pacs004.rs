//! pacs.004.001.09 (and .10), payment return: money going back to the debtor's bank.
//!
//! Decode reads both versions into one model (the version is kept in [`Pacs004::version`]);
//! encode writes the version the value carries, .09 by default. Return reasons are checked
//! against [`ReturnReason`]. Version .09 has no accounts in the return chain: encoding a value
//! decoded from .10 as .09 drops them (documented loss, nothing else is lost).

use crate::codes::ReturnReason;
use crate::common::*;
use crate::error::DecodeError;
use crate::reference::*;
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of pacs.004.001.09.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.004.001.09";
/// The namespace of pacs.004.001.10.
pub const NAMESPACE_V10: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.004.001.10";

/// Which pacs.004 version a value was read from or is written as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// pacs.004.001.09.
    #[default]
    V09,
    /// pacs.004.001.10.
    V10,
}

/// A payment return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pacs004 {
    /// Schema version.
    pub version: Version,
    /// Group header.
    pub header: ReturnHeader,
    /// Returned transactions.
    pub transactions: Vec<PaymentReturn>,
}

/// Group header (`GroupHeader90`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnHeader {
    /// Message id.
    pub msg_id: String,
    /// Creation date-time.
    pub created: String,
    /// Total returned interbank settlement amount.
    pub total_returned: Option<Amount>,
    /// Interbank settlement date.
    pub settlement_date: Option<String>,
    /// Settlement instruction.
    pub settlement: Settlement,
    /// Instructing agent.
    pub instructing_agent: Option<Agent>,
    /// Instructed agent.
    pub instructed_agent: Option<Agent>,
}

/// One returned transaction (`PaymentTransaction112/118`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentReturn {
    /// Return id.
    pub return_id: Option<String>,
    /// Identifiers of the original transaction.
    pub original: OriginalIds,
    /// Original interbank settlement amount.
    pub original_amount: Option<Amount>,
    /// Original settlement date.
    pub original_settlement_date: Option<String>,
    /// Returned interbank settlement amount.
    pub returned_amount: Amount,
    /// Settlement date of the return.
    pub settlement_date: Option<String>,
    /// Returned instructed amount.
    pub returned_instructed_amount: Option<Amount>,
    /// Charge bearer.
    pub charge_bearer: Option<String>,
    /// Clearing system reference.
    pub clearing_ref: Option<String>,
    /// Instructing agent.
    pub instructing_agent: Option<Agent>,
    /// Instructed agent.
    pub instructed_agent: Option<Agent>,
    /// Return chain (parties of the return).
    pub chain: Option<ReturnChain>,
    /// Return reasons.
    pub reasons: Vec<ReturnReasonInfo>,
    /// Reference to the original transaction.
    pub original_ref: Option<OriginalTxRef>,
}

/// The parties of the return (`TransactionParties7/8`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnChain {
    /// Debtor (of the return: the original creditor).
    pub debtor: PartyOrAgent,
    /// Debtor account (.10 only).
    pub debtor_account: Option<Account>,
    /// Debtor agent.
    pub debtor_agent: Option<Agent>,
    /// Creditor agent.
    pub creditor_agent: Option<Agent>,
    /// Creditor (of the return: the original debtor).
    pub creditor: PartyOrAgent,
    /// Creditor account (.10 only).
    pub creditor_account: Option<Account>,
}

/// A return reason (`PaymentReturnReason6`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnReasonInfo {
    /// Originator of the return.
    pub originator: Option<Party>,
    /// The reason code.
    pub reason: Option<ReturnReason>,
    /// A proprietary reason, when no code is used.
    pub proprietary: Option<String>,
    /// Narrative.
    pub additional_info: Vec<String>,
}

/// Decode a pacs.004.001.09 or .10 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Pacs004, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Pacs004, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Pacs004, DecodeError> {
    let version = if ns == Some(NAMESPACE_V10) { Version::V10 } else { Version::V09 };
    let expected = if version == Version::V10 { NAMESPACE_V10 } else { NAMESPACE };
    let (body, at) = document_body(root, ns, expected, "PmtRtr")?;
    let hdr = req(body, &at, "GrpHdr")?;
    let h_at = at.child("GrpHdr", None);
    let header = ReturnHeader {
        msg_id: req_text(hdr, &h_at, "MsgId", 35)?,
        created: req_datetime(hdr, &h_at, "CreDtTm")?,
        total_returned: opt_amount(hdr, &h_at, "TtlRtrdIntrBkSttlmAmt")?,
        settlement_date: opt_date(hdr, &h_at, "IntrBkSttlmDt")?,
        settlement: req_settlement(hdr, &h_at)?,
        instructing_agent: opt_agent(hdr, &h_at, "InstgAgt")?,
        instructed_agent: opt_agent(hdr, &h_at, "InstdAgt")?,
    };
    req_checked(hdr, &h_at, "NbOfTxs", "number of transactions", is_max15_numeric)?;
    let txs = bounded_children(body, &at, "TxInf", limits.max_transactions)?;
    check_count(hdr, &h_at, "NbOfTxs", txs.len())?;
    let mut transactions = Vec::with_capacity(txs.len());
    for (i, tx) in txs.into_iter().enumerate() {
        transactions.push(decode_tx(tx, &at.child("TxInf", Some(i + 1)))?);
    }
    Ok(Pacs004 { version, header, transactions })
}

fn decode_tx<'d, N: Node<'d>>(el: N, at: &At) -> Result<PaymentReturn, DecodeError> {
    let chain = match el.child("RtrChain") {
        Some(c) => {
            let c_at = at.child("RtrChain", None);
            Some(ReturnChain {
                debtor: decode_party_or_agent(req(c, &c_at, "Dbtr")?, &c_at.child("Dbtr", None))?,
                debtor_account: opt_account(c, &c_at, "DbtrAcct")?,
                debtor_agent: opt_agent(c, &c_at, "DbtrAgt")?,
                creditor_agent: opt_agent(c, &c_at, "CdtrAgt")?,
                creditor: decode_party_or_agent(req(c, &c_at, "Cdtr")?, &c_at.child("Cdtr", None))?,
                creditor_account: opt_account(c, &c_at, "CdtrAcct")?,
            })
        }
        None => None,
    };
    let mut reasons = Vec::new();
    for (i, r) in el.children_named("RtrRsnInf").enumerate() {
        let r_at = at.child("RtrRsnInf", Some(i + 1));
        let (reason, proprietary) = decode_reason(
            r,
            &r_at,
            "return reason (ExternalReturnReason1Code)",
            ReturnReason::from_code,
        )?;
        reasons.push(ReturnReasonInfo {
            originator: opt_party(r, &r_at, "Orgtr")?,
            reason,
            proprietary,
            additional_info: additional_info(r, &r_at)?,
        });
    }
    Ok(PaymentReturn {
        return_id: opt_text(el, at, "RtrId", 35)?,
        original: decode_original_ids(el, at)?,
        original_amount: opt_amount(el, at, "OrgnlIntrBkSttlmAmt")?,
        original_settlement_date: opt_date(el, at, "OrgnlIntrBkSttlmDt")?,
        returned_amount: req_amount(el, at, "RtrdIntrBkSttlmAmt")?,
        settlement_date: opt_date(el, at, "IntrBkSttlmDt")?,
        returned_instructed_amount: opt_amount(el, at, "RtrdInstdAmt")?,
        charge_bearer: opt_charge_bearer(el, at)?,
        clearing_ref: opt_text(el, at, "ClrSysRef", 35)?,
        instructing_agent: opt_agent(el, at, "InstgAgt")?,
        instructed_agent: opt_agent(el, at, "InstdAgt")?,
        chain,
        reasons,
        original_ref: opt_original_tx_ref(el, at)?,
    })
}

/// Encode in the version the value carries (`msg.version`).
pub fn encode(msg: &Pacs004) -> String {
    encode_as(msg, msg.version)
}

/// Encode as the given version. As .09, return-chain accounts are left out (no such element).
pub fn encode_as(msg: &Pacs004, version: Version) -> String {
    let ns = if version == Version::V10 { NAMESPACE_V10 } else { NAMESPACE };
    let mut w = Writer::new(1024 + 2048 * msg.transactions.len());
    w.open_with("Document", &[("xmlns", ns)]).open("PmtRtr");
    let h = &msg.header;
    w.open("GrpHdr").leaf("MsgId", &h.msg_id).leaf("CreDtTm", &h.created);
    w.leaf("NbOfTxs", &msg.transactions.len().to_string());
    encode_opt_amount(&mut w, "TtlRtrdIntrBkSttlmAmt", h.total_returned.as_ref());
    w.opt_leaf("IntrBkSttlmDt", h.settlement_date.as_deref());
    encode_settlement(&mut w, &h.settlement);
    encode_opt_agent(&mut w, "InstgAgt", h.instructing_agent.as_ref());
    encode_opt_agent(&mut w, "InstdAgt", h.instructed_agent.as_ref());
    w.close("GrpHdr");
    for tx in &msg.transactions {
        encode_tx(&mut w, tx, version);
    }
    w.close("PmtRtr").close("Document");
    w.finish()
}

fn encode_tx(w: &mut Writer, tx: &PaymentReturn, version: Version) {
    w.open("TxInf").opt_leaf("RtrId", tx.return_id.as_deref());
    encode_original_ids(w, &tx.original, true);
    encode_opt_amount(w, "OrgnlIntrBkSttlmAmt", tx.original_amount.as_ref());
    w.opt_leaf("OrgnlIntrBkSttlmDt", tx.original_settlement_date.as_deref());
    encode_amount(w, "RtrdIntrBkSttlmAmt", &tx.returned_amount);
    w.opt_leaf("IntrBkSttlmDt", tx.settlement_date.as_deref());
    encode_opt_amount(w, "RtrdInstdAmt", tx.returned_instructed_amount.as_ref());
    w.opt_leaf("ChrgBr", tx.charge_bearer.as_deref());
    w.opt_leaf("ClrSysRef", tx.clearing_ref.as_deref());
    encode_opt_agent(w, "InstgAgt", tx.instructing_agent.as_ref());
    encode_opt_agent(w, "InstdAgt", tx.instructed_agent.as_ref());
    if let Some(c) = &tx.chain {
        w.open("RtrChain");
        encode_party_or_agent(w, "Dbtr", &c.debtor);
        if version == Version::V10 {
            encode_opt_account(w, "DbtrAcct", c.debtor_account.as_ref());
        }
        encode_opt_agent(w, "DbtrAgt", c.debtor_agent.as_ref());
        encode_opt_agent(w, "CdtrAgt", c.creditor_agent.as_ref());
        encode_party_or_agent(w, "Cdtr", &c.creditor);
        if version == Version::V10 {
            encode_opt_account(w, "CdtrAcct", c.creditor_account.as_ref());
        }
        w.close("RtrChain");
    }
    for r in &tx.reasons {
        w.open("RtrRsnInf");
        if let Some(o) = &r.originator {
            encode_party(w, "Orgtr", o);
        }
        encode_reason(w, r.reason.map(|c| c.code()), r.proprietary.as_deref());
        for a in &r.additional_info {
            w.leaf("AddtlInf", a);
        }
        w.close("RtrRsnInf");
    }
    if let Some(r) = &tx.original_ref {
        encode_original_tx_ref(w, r);
    }
    w.close("TxInf");
}
