//! pacs.008.001.08, FI to FI customer credit transfer: the message that moves money.
//!
//! Decode checks the facets that matter for routing and settlement (mandatory elements, id
//! lengths, BIC/IBAN/UUID patterns, amount facets and the currency exponent, transaction count
//! against `NbOfTxs` and the configured limit). Encode writes an XSD-valid message from the
//! typed value; decoding what it wrote gives the same value.

use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::reference::{
    encode_payment_type, encode_remittance_parts, opt_payment_type, opt_remittance, CreditorRef,
    PaymentType, Remittance,
};
use crate::remittance::{encode_related, related, RelatedRemittance};
use crate::tape;
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of pacs.008.001.08.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08";

/// A decoded pacs.008 message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pacs008 {
    /// Group header.
    pub header: GroupHeader,
    /// One or more credit transfer transactions.
    pub transactions: Vec<CreditTransfer>,
}

/// Group header (`GroupHeader93`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupHeader {
    /// Message id (`MsgId`), unique per instructing agent.
    pub msg_id: String,
    /// Creation date and time.
    pub created: String,
    /// Settlement method (`SttlmInf/SttlmMtd`), e.g. CLRG.
    pub settlement_method: String,
    /// Clearing system (`SttlmInf/ClrSys/Cd` or `Prtry`).
    pub clearing_system: Option<String>,
    /// Instructing agent at group level.
    pub instructing_agent: Option<Agent>,
    /// Instructed agent at group level.
    pub instructed_agent: Option<Agent>,
    /// Whether the clearing system was given as a code (`ClrSys/Cd`) rather than `Prtry`.
    pub clearing_system_is_code: bool,
    /// Total interbank settlement amount.
    pub total_amount: Option<Amount>,
    /// Interbank settlement date at group level.
    pub settlement_date: Option<String>,
    /// Payment type at group level.
    pub payment_type: Option<PaymentType>,
}

/// One credit transfer transaction (`CreditTransferTransaction39`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditTransfer {
    /// Instruction id.
    pub instr_id: Option<String>,
    /// End-to-end id, set by the debtor and carried unchanged.
    pub end_to_end_id: String,
    /// Transaction id, set by the instructing agent.
    pub tx_id: Option<String>,
    /// Unique end-to-end transaction reference (UUIDv4).
    pub uetr: Option<String>,
    /// Interbank settlement amount.
    pub amount: Amount,
    /// Interbank settlement date.
    pub settlement_date: Option<String>,
    /// Acceptance date and time.
    pub acceptance: Option<String>,
    /// Charge bearer (DEBT, CRED, SHAR, SLEV).
    pub charge_bearer: String,
    /// Instructing agent.
    pub instructing_agent: Option<Agent>,
    /// Instructed agent.
    pub instructed_agent: Option<Agent>,
    /// Debtor.
    pub debtor: Party,
    /// Debtor account.
    pub debtor_account: Option<Account>,
    /// Debtor agent (the paying bank).
    pub debtor_agent: Agent,
    /// Creditor agent (the receiving bank).
    pub creditor_agent: Agent,
    /// Creditor.
    pub creditor: Party,
    /// Creditor account, possibly only a proxy (alias) with a placeholder id.
    pub creditor_account: Option<Account>,
    /// Purpose code (`Purp/Cd`).
    pub purpose: Option<String>,
    /// Unstructured remittance information.
    pub remittance: Vec<String>,
    /// Payment type (service level, local instrument, category purpose).
    pub payment_type: Option<PaymentType>,
    /// Instructed amount, before charges and conversion.
    pub instructed_amount: Option<Amount>,
    /// Exchange rate (`XchgRate`), as written.
    pub exchange_rate: Option<String>,
    /// Charges (`ChrgsInf`): amount and the agent that took it.
    pub charges: Vec<(Amount, Agent)>,
    /// Intermediary agents 1 to 3, in order.
    pub intermediary_agents: Vec<Agent>,
    /// Ultimate debtor.
    pub ultimate_debtor: Option<Party>,
    /// Initiating party.
    pub initiating_party: Option<Party>,
    /// Ultimate creditor.
    pub ultimate_creditor: Option<Party>,
    /// Structured remittance blocks (`RmtInf/Strd`).
    pub structured_remittance: Vec<CreditorRef>,
    /// Proprietary purpose (`Purp/Prtry`), when no purpose code is used.
    pub purpose_proprietary: Option<String>,
    /// Related remittance information (`RltdRmtInf`, at most 10).
    pub related_remittance: Vec<RelatedRemittance>,
}

/// Decode a pacs.008.001.08 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Pacs008, DecodeError> {
    let tape = tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// Decode through the owned tree ([`xml::parse`]) instead of the borrowed index: slower, the
/// reference [`decode`] is checked against (same value, same error).
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Pacs008, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Pacs008, DecodeError> {
    let at = At::root("Document");
    if !root.is("Document") || ns != Some(NAMESPACE) {
        return Err(at.err(ErrorKind::WrongMessage(format!(
            "expected Document in {NAMESPACE}, found {} in {}",
            root.name(),
            ns.unwrap_or("no namespace")
        ))));
    }
    let body = req(root, &at, "FIToFICstmrCdtTrf")?;
    let at = at.child("FIToFICstmrCdtTrf", None);
    let header = decode_header(req(body, &at, "GrpHdr")?, &at.child("GrpHdr", None))?;
    let declared = req_text(req(body, &at, "GrpHdr")?, &at.child("GrpHdr", None), "NbOfTxs", 15)?;
    let count = body.children_named("CdtTrfTxInf").count();
    if count == 0 {
        return Err(at.err_at("CdtTrfTxInf", ErrorKind::Missing));
    }
    if count > limits.max_transactions {
        return Err(at.err(ErrorKind::TooLarge(format!(
            "{count} transactions, at most {}",
            limits.max_transactions
        ))));
    }
    if declared.parse::<usize>().ok() != Some(count) {
        return Err(at.child("GrpHdr", None).err_at(
            "NbOfTxs",
            ErrorKind::Invalid(format!("says {declared:?} but the message has {count}")),
        ));
    }
    // Every slot made once, in place (a `CreditTransfer` is over 5 KB), then filled.
    let mut transactions: Vec<CreditTransfer> = Vec::new();
    transactions.resize_with(count, CreditTransfer::default);
    let txs = body.children_named("CdtTrfTxInf");
    for (i, (tx, slot)) in txs.zip(transactions.iter_mut()).enumerate() {
        decode_tx(tx, &at.child("CdtTrfTxInf", Some(i + 1)), slot)?;
    }
    Ok(Pacs008 { header, transactions })
}

fn decode_header<'d, N: Node<'d>>(el: N, at: &At) -> Result<GroupHeader, DecodeError> {
    let sttlm = req(el, at, "SttlmInf")?;
    let s_at = at.child("SttlmInf", None);
    let mut clearing_system_is_code = false;
    let clearing_system = match sttlm.child("ClrSys") {
        Some(c) => {
            let c_at = s_at.child("ClrSys", None);
            match (c.child("Cd"), c.child("Prtry")) {
                (Some(_), None) => {
                    clearing_system_is_code = true;
                    opt_text(c, &c_at, "Cd", 3)?
                }
                (None, Some(_)) => opt_text(c, &c_at, "Prtry", 35)?,
                _ => {
                    return Err(c_at
                        .err(ErrorKind::Invalid("choice needs exactly one of Cd, Prtry".into())))
                }
            }
        }
        None => None,
    };
    Ok(GroupHeader {
        msg_id: req_text(el, at, "MsgId", 35)?,
        created: req_checked(el, at, "CreDtTm", "ISO date-time", is_iso_datetime)?,
        settlement_method: req_checked(sttlm, &s_at, "SttlmMtd", "settlement method", |s| {
            matches!(s, "INDA" | "INGA" | "COVE" | "CLRG")
        })?,
        clearing_system,
        instructing_agent: opt_agent(el, at, "InstgAgt")?,
        instructed_agent: opt_agent(el, at, "InstdAgt")?,
        clearing_system_is_code,
        total_amount: opt_amount(el, at, "TtlIntrBkSttlmAmt")?,
        settlement_date: opt_date(el, at, "IntrBkSttlmDt")?,
        payment_type: opt_payment_type(el, at)?,
    })
}

/// `BaseOneRate`: a decimal with at most 11 digits, 10 after the point.
fn is_base_one_rate(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let fraction = s.split_once('.').map_or(0, |(_, f)| f.len());
    !s.is_empty()
        && s.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        && s.bytes().filter(|c| *c == b'.').count() <= 1
        && (1..=11).contains(&digits)
        && fraction <= 10
}

/// The single-valued children of a `CreditTransferTransaction39` the decoder reads, found in
/// one pass ([`first_children`]); the order here is only the order of the array.
const TX_FIELDS: [&str; 22] = [
    "PmtId",
    "IntrBkSttlmAmt",
    "IntrmyAgt1",
    "IntrmyAgt2",
    "IntrmyAgt3",
    "Purp",
    "IntrBkSttlmDt",
    "AccptncDtTm",
    "ChrgBr",
    "InstgAgt",
    "InstdAgt",
    "Dbtr",
    "DbtrAcct",
    "DbtrAgt",
    "CdtrAgt",
    "Cdtr",
    "CdtrAcct",
    "InstdAmt",
    "XchgRate",
    "UltmtDbtr",
    "InitgPty",
    "UltmtCdtr",
];

fn decode_tx<'d, N: Node<'d>>(el: N, at: &At, t: &mut CreditTransfer) -> Result<(), DecodeError> {
    let [pmt, amt, i1, i2, i3, purp, sttlm_dt, accptnc, chrg_br, instg, instd, dbtr, dbtr_acct, dbtr_agt, cdtr_agt, cdtr, cdtr_acct, instd_amt, xchg, ultmt_dbtr, initg, ultmt_cdtr] =
        first_children(el, &TX_FIELDS);
    let need = |c: Option<N>, name: &str| c.ok_or_else(|| at.err_at(name, ErrorKind::Missing));
    let agent =
        |c: Option<N>, name: &str| c.map(|a| decode_agent(a, &at.child(name, None))).transpose();
    let account =
        |c: Option<N>, name: &str| c.map(|a| decode_account(a, &at.child(name, None))).transpose();
    let pmt = need(pmt, "PmtId")?;
    let p_at = at.child("PmtId", None);
    let amount_el = need(amt, "IntrBkSttlmAmt")?;
    let amount = decode_amount(amount_el, &at.child("IntrBkSttlmAmt", None))?;
    let Remittance { unstructured: remittance, creditor_refs: structured_remittance } =
        opt_remittance(el, at)?.unwrap_or_default();
    let mut charges = Vec::new();
    for (i, c) in el.children_named("ChrgsInf").enumerate() {
        let c_at = at.child("ChrgsInf", Some(i + 1));
        charges.push((req_amount(c, &c_at, "Amt")?, req_agent(c, &c_at, "Agt")?));
    }
    let mut intermediary_agents = Vec::new();
    for (c, name) in [(i1, "IntrmyAgt1"), (i2, "IntrmyAgt2"), (i3, "IntrmyAgt3")] {
        match agent(c, name)? {
            Some(a) => intermediary_agents.push(a),
            None => break,
        }
    }
    let (purpose, purpose_proprietary) = match purp {
        Some(p) => code_or_proprietary(p, &at.child("Purp", None), 4)?,
        None => (None, None),
    };
    // Field by field in the order the literal form had (the order errors are found in),
    // straight into the caller's slot: a `CreditTransfer` is over 5 KB, not worth moving.
    t.instr_id = opt_text(pmt, &p_at, "InstrId", 35)?;
    t.end_to_end_id = req_text(pmt, &p_at, "EndToEndId", 35)?;
    t.tx_id = opt_text(pmt, &p_at, "TxId", 35)?;
    t.uetr = opt_checked(pmt, &p_at, "UETR", "UUIDv4", is_uuid_v4)?;
    t.amount = amount;
    t.settlement_date = checked_of(sttlm_dt, at, "IntrBkSttlmDt", "ISO date", is_iso_date)?;
    t.acceptance = checked_of(accptnc, at, "AccptncDtTm", "ISO date-time", is_iso_datetime)?;
    t.charge_bearer = checked_of(chrg_br, at, "ChrgBr", "charge bearer", |s| {
        matches!(s, "DEBT" | "CRED" | "SHAR" | "SLEV")
    })?
    .ok_or_else(|| at.err_at("ChrgBr", ErrorKind::Missing))?;
    // Agents and parties (about 500 bytes each) are decoded in their slots, not moved.
    opt_agent_into(instg, at, "InstgAgt", &mut t.instructing_agent)?;
    opt_agent_into(instd, at, "InstdAgt", &mut t.instructed_agent)?;
    decode_party_into(need(dbtr, "Dbtr")?, &at.child("Dbtr", None), &mut t.debtor)?;
    t.debtor_account = account(dbtr_acct, "DbtrAcct")?;
    decode_agent_into(need(dbtr_agt, "DbtrAgt")?, &at.child("DbtrAgt", None), &mut t.debtor_agent)?;
    let cdtr_agt = need(cdtr_agt, "CdtrAgt")?;
    decode_agent_into(cdtr_agt, &at.child("CdtrAgt", None), &mut t.creditor_agent)?;
    decode_party_into(need(cdtr, "Cdtr")?, &at.child("Cdtr", None), &mut t.creditor)?;
    t.creditor_account = account(cdtr_acct, "CdtrAcct")?;
    t.purpose = purpose;
    t.purpose_proprietary = purpose_proprietary;
    t.remittance = remittance;
    t.payment_type = opt_payment_type(el, at)?;
    t.instructed_amount =
        instd_amt.map(|a| decode_amount(a, &at.child("InstdAmt", None))).transpose()?;
    t.exchange_rate = checked_of(xchg, at, "XchgRate", "rate (BaseOneRate)", is_base_one_rate)?;
    t.charges = charges;
    t.intermediary_agents = intermediary_agents;
    opt_party_into(ultmt_dbtr, at, "UltmtDbtr", &mut t.ultimate_debtor)?;
    opt_party_into(initg, at, "InitgPty", &mut t.initiating_party)?;
    opt_party_into(ultmt_cdtr, at, "UltmtCdtr", &mut t.ultimate_creditor)?;
    t.structured_remittance = structured_remittance;
    t.related_remittance = related(el, at)?;
    Ok(())
}

/// The IBAN check digits (ISO 13616 modulo 97) of every debtor and creditor account, in
/// document order; the first wrong one is an error at its path
/// (`/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[i]/CdtrAcct/Id/IBAN`) whose
/// [`DecodeError::reject`] is AC02 (debtor) or AC03 (creditor). Separate from [`decode`],
/// which checks the XSD pattern only (official samples carry IBANs that fail this check).
pub fn check_iban_digits(msg: &Pacs008) -> Result<(), DecodeError> {
    for (i, tx) in msg.transactions.iter().enumerate() {
        let at = format!("/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[{}]", i + 1);
        if let Some(a) = &tx.debtor_account {
            check_account_iban(a, &format!("{at}/DbtrAcct"))?;
        }
        if let Some(a) = &tx.creditor_account {
            check_account_iban(a, &format!("{at}/CdtrAcct"))?;
        }
    }
    Ok(())
}

/// Encode a pacs.008.001.08 document.
pub fn encode(msg: &Pacs008) -> String {
    let mut w = Writer::new(1024 + 1536 * msg.transactions.len());
    w.open_with("Document", &[("xmlns", NAMESPACE)]).open("FIToFICstmrCdtTrf");
    let h = &msg.header;
    w.open("GrpHdr").leaf("MsgId", &h.msg_id).leaf("CreDtTm", &h.created);
    w.leaf("NbOfTxs", &msg.transactions.len().to_string());
    if let Some(a) = &h.total_amount {
        encode_amount(&mut w, "TtlIntrBkSttlmAmt", a);
    }
    w.opt_leaf("IntrBkSttlmDt", h.settlement_date.as_deref());
    w.open("SttlmInf").leaf("SttlmMtd", &h.settlement_method);
    if let Some(c) = &h.clearing_system {
        let tag = if h.clearing_system_is_code { "Cd" } else { "Prtry" };
        w.open("ClrSys").leaf(tag, c).close("ClrSys");
    }
    w.close("SttlmInf");
    if let Some(p) = &h.payment_type {
        encode_payment_type(&mut w, p, true);
    }
    if let Some(a) = &h.instructing_agent {
        encode_agent(&mut w, "InstgAgt", a);
    }
    if let Some(a) = &h.instructed_agent {
        encode_agent(&mut w, "InstdAgt", a);
    }
    w.close("GrpHdr");
    for tx in &msg.transactions {
        encode_tx(&mut w, tx);
    }
    w.close("FIToFICstmrCdtTrf").close("Document");
    w.finish()
}

fn encode_tx(w: &mut Writer, tx: &CreditTransfer) {
    w.open("CdtTrfTxInf").open("PmtId");
    w.opt_leaf("InstrId", tx.instr_id.as_deref()).leaf("EndToEndId", &tx.end_to_end_id);
    w.opt_leaf("TxId", tx.tx_id.as_deref()).opt_leaf("UETR", tx.uetr.as_deref());
    w.close("PmtId");
    if let Some(p) = &tx.payment_type {
        encode_payment_type(w, p, true);
    }
    encode_amount(w, "IntrBkSttlmAmt", &tx.amount);
    w.opt_leaf("IntrBkSttlmDt", tx.settlement_date.as_deref());
    w.opt_leaf("AccptncDtTm", tx.acceptance.as_deref());
    if let Some(a) = &tx.instructed_amount {
        encode_amount(w, "InstdAmt", a);
    }
    w.opt_leaf("XchgRate", tx.exchange_rate.as_deref());
    w.leaf("ChrgBr", &tx.charge_bearer);
    for (amount, agent) in &tx.charges {
        w.open("ChrgsInf");
        encode_amount(w, "Amt", amount);
        encode_agent(w, "Agt", agent);
        w.close("ChrgsInf");
    }
    if let Some(a) = &tx.instructing_agent {
        encode_agent(w, "InstgAgt", a);
    }
    if let Some(a) = &tx.instructed_agent {
        encode_agent(w, "InstdAgt", a);
    }
    for (a, name) in tx.intermediary_agents.iter().zip(["IntrmyAgt1", "IntrmyAgt2", "IntrmyAgt3"]) {
        encode_agent(w, name, a);
    }
    if let Some(p) = &tx.ultimate_debtor {
        encode_party(w, "UltmtDbtr", p);
    }
    if let Some(p) = &tx.initiating_party {
        encode_party(w, "InitgPty", p);
    }
    encode_party(w, "Dbtr", &tx.debtor);
    if let Some(a) = &tx.debtor_account {
        encode_account(w, "DbtrAcct", a);
    }
    encode_agent(w, "DbtrAgt", &tx.debtor_agent);
    encode_agent(w, "CdtrAgt", &tx.creditor_agent);
    encode_party(w, "Cdtr", &tx.creditor);
    if let Some(a) = &tx.creditor_account {
        encode_account(w, "CdtrAcct", a);
    }
    if let Some(p) = &tx.ultimate_creditor {
        encode_party(w, "UltmtCdtr", p);
    }
    if let Some(p) = &tx.purpose {
        w.open("Purp").leaf("Cd", p).close("Purp");
    } else if let Some(p) = &tx.purpose_proprietary {
        w.open("Purp").leaf("Prtry", p).close("Purp");
    }
    encode_related(w, &tx.related_remittance);
    if !tx.remittance.is_empty() || !tx.structured_remittance.is_empty() {
        encode_remittance_parts(w, &tx.remittance, &tx.structured_remittance);
    }
    w.close("CdtTrfTxInf");
}
