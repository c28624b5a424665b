//! pain.013.001.07, creditor payment activation request (request to pay): a creditor asks a
//! debtor to pay; the answer is a pain.014. Shares its transaction model with pain.001.
//!
//! Decode checks mandatory elements (pain.013 makes the charge bearer, creditor agent and
//! creditor mandatory per transaction), choices, lengths, patterns, amounts, `NbOfTxs` and
//! `CtrlSum`. Encode writes XSD-valid XML.

use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::pain001::{
    amount_decimal, check_control_sum, decode_tx, encode_tx_as, CreditTransferInstruction,
    ExecutionDate, InitiationHeader,
};
use crate::reference::*;
use crate::xml::{self, Limits, Node, Writer};
use rust_decimal::Decimal;

/// The namespace of pain.013.001.07.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.013.001.07";

/// A request to pay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pain013 {
    /// Group header (`GroupHeader78`; no forwarding agent in this message).
    pub header: InitiationHeader,
    /// Payment instructions.
    pub payments: Vec<ActivationRequest>,
}

/// One payment instruction of a request to pay (`PaymentInstruction31`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivationRequest {
    /// Payment information id.
    pub id: Option<String>,
    /// Payment method (TRF, CHK).
    pub method: String,
    /// Payment type.
    pub payment_type: Option<PaymentType>,
    /// Requested execution date.
    pub execution_date: ExecutionDate,
    /// Expiry date of the request.
    pub expiry_date: Option<ExecutionDate>,
    /// Debtor (who is asked to pay).
    pub debtor: Party,
    /// Debtor account.
    pub debtor_account: Option<Account>,
    /// Debtor agent.
    pub debtor_agent: Agent,
    /// Ultimate debtor.
    pub ultimate_debtor: Option<Party>,
    /// Charge bearer.
    pub charge_bearer: Option<String>,
    /// Requested transfers (`CdtTrfTx`).
    pub transactions: Vec<CreditTransferInstruction>,
}

fn date_choice<'d, N: Node<'d>>(el: N, at: &At) -> Result<ExecutionDate, DecodeError> {
    match (el.child("Dt"), el.child("DtTm")) {
        (Some(_), None) => {
            Ok(ExecutionDate::Date(req_checked(el, at, "Dt", "ISO date", is_iso_date)?))
        }
        (None, Some(_)) => Ok(ExecutionDate::DateTime(req_datetime(el, at, "DtTm")?)),
        _ => Err(at.err(ErrorKind::Invalid("choice needs exactly one of Dt, DtTm".into()))),
    }
}

fn encode_date_choice(w: &mut Writer, name: &str, d: &ExecutionDate) {
    w.open(name);
    match d {
        ExecutionDate::Date(s) => w.leaf("Dt", s),
        ExecutionDate::DateTime(s) => w.leaf("DtTm", s),
    };
    w.close(name);
}

/// Decode a pain.013.001.07 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Pain013, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Pain013, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Pain013, DecodeError> {
    let (body, at) = document_body(root, ns, NAMESPACE, "CdtrPmtActvtnReq")?;
    let hdr = req(body, &at, "GrpHdr")?;
    let h_at = at.child("GrpHdr", None);
    let pmts = bounded_children(body, &at, "PmtInf", limits.max_transactions)?;
    if pmts.is_empty() {
        return Err(at.err_at("PmtInf", ErrorKind::Missing));
    }
    let mut payments = Vec::with_capacity(pmts.len());
    let mut count = 0usize;
    let mut total = Decimal::ZERO;
    let mut overflow = false;
    for (i, p) in pmts.into_iter().enumerate() {
        let p_at = at.child("PmtInf", Some(i + 1));
        let txs = bounded_children(p, &p_at, "CdtTrfTx", limits.max_transactions)?;
        if txs.is_empty() {
            return Err(p_at.err_at("CdtTrfTx", ErrorKind::Missing));
        }
        count = count.saturating_add(txs.len());
        if count > limits.max_transactions {
            return Err(p_at.err(ErrorKind::TooLarge(format!(
                "more than {} transactions (Limits.max_transactions)",
                limits.max_transactions
            ))));
        }
        let mut transactions = Vec::with_capacity(txs.len());
        for (j, t) in txs.into_iter().enumerate() {
            let t_at = p_at.child("CdtTrfTx", Some(j + 1));
            let tx = decode_tx(t, &t_at)?;
            for (present, name) in [
                (tx.charge_bearer.is_some(), "ChrgBr"),
                (tx.creditor_agent.is_some(), "CdtrAgt"),
                (tx.creditor.is_some(), "Cdtr"),
            ] {
                if !present {
                    return Err(t_at.err_at(name, ErrorKind::Missing));
                }
            }
            match total.checked_add(amount_decimal(&tx.amount)) {
                Some(s) => total = s,
                None => overflow = true,
            }
            transactions.push(tx);
        }
        let d_at = p_at.child("ReqdExctnDt", None);
        payments.push(ActivationRequest {
            id: opt_text(p, &p_at, "PmtInfId", 35)?,
            method: req_checked(p, &p_at, "PmtMtd", "payment method", |s| {
                matches!(s, "TRF" | "CHK")
            })?,
            payment_type: opt_payment_type(p, &p_at)?,
            execution_date: date_choice(req(p, &p_at, "ReqdExctnDt")?, &d_at)?,
            expiry_date: p
                .child("XpryDt")
                .map(|d| date_choice(d, &p_at.child("XpryDt", None)))
                .transpose()?,
            debtor: decode_party(req(p, &p_at, "Dbtr")?, &p_at.child("Dbtr", None))?,
            debtor_account: opt_account(p, &p_at, "DbtrAcct")?,
            debtor_agent: req_agent(p, &p_at, "DbtrAgt")?,
            ultimate_debtor: opt_party(p, &p_at, "UltmtDbtr")?,
            charge_bearer: opt_charge_bearer(p, &p_at)?,
            transactions,
        });
    }
    req_checked(hdr, &h_at, "NbOfTxs", "number of transactions", is_max15_numeric)?;
    check_count(hdr, &h_at, "NbOfTxs", count)?;
    Ok(Pain013 {
        header: InitiationHeader {
            msg_id: req_text(hdr, &h_at, "MsgId", 35)?,
            created: req_datetime(hdr, &h_at, "CreDtTm")?,
            control_sum: check_control_sum(hdr, &h_at, total, overflow)?,
            initiating_party: decode_party(
                req(hdr, &h_at, "InitgPty")?,
                &h_at.child("InitgPty", None),
            )?,
            forwarding_agent: None,
        },
        payments,
    })
}

/// Encode a pain.013.001.07 document. Missing mandatory parts of a transaction are written
/// as their emptiest valid form (charge bearer SLEV, empty creditor agent and creditor).
pub fn encode(msg: &Pain013) -> String {
    let n: usize = msg.payments.iter().map(|p| p.transactions.len()).sum();
    let mut w = Writer::new(1024 + 1024 * n);
    w.open_with("Document", &[("xmlns", NAMESPACE)]).open("CdtrPmtActvtnReq");
    let h = &msg.header;
    w.open("GrpHdr").leaf("MsgId", &h.msg_id).leaf("CreDtTm", &h.created);
    w.leaf("NbOfTxs", &n.to_string()).opt_leaf("CtrlSum", h.control_sum.as_deref());
    encode_party(&mut w, "InitgPty", &h.initiating_party);
    w.close("GrpHdr");
    for p in &msg.payments {
        w.open("PmtInf").opt_leaf("PmtInfId", p.id.as_deref()).leaf("PmtMtd", &p.method);
        if let Some(t) = &p.payment_type {
            encode_payment_type(&mut w, t, false);
        }
        encode_date_choice(&mut w, "ReqdExctnDt", &p.execution_date);
        if let Some(d) = &p.expiry_date {
            encode_date_choice(&mut w, "XpryDt", d);
        }
        encode_party(&mut w, "Dbtr", &p.debtor);
        encode_opt_account(&mut w, "DbtrAcct", p.debtor_account.as_ref());
        encode_agent(&mut w, "DbtrAgt", &p.debtor_agent);
        if let Some(u) = &p.ultimate_debtor {
            encode_party(&mut w, "UltmtDbtr", u);
        }
        w.opt_leaf("ChrgBr", p.charge_bearer.as_deref());
        for tx in &p.transactions {
            encode_tx_as(&mut w, "CdtTrfTx", tx, Some("SLEV"));
        }
        w.close("PmtInf");
    }
    w.close("CdtrPmtActvtnReq").close("Document");
    w.finish()
}
