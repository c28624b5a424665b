//! pain.001.001.09 (and .03 read-only), customer credit transfer initiation: the file a
//! company or a government sends to pay many beneficiaries at once (payroll, benefits,
//! suppliers).
//!
//! Bulk files may carry thousands of transactions, so decode streams: each `CdtTrfTxInf` is
//! decoded and dropped as soon as it is complete ([`xml::parse_split`]), and only the typed
//! values are kept. The transaction count is checked against [`Limits::max_transactions`] as
//! they arrive, so an oversized file is refused early; `NbOfTxs` and `CtrlSum` (group and
//! payment level) must match what the file really holds. Encode writes .09.
//!
//! Must not: allocate in proportion to anything the limits do not bound.

use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::reference::*;
use crate::remittance::{encode_related, related, RelatedRemittance};
use crate::xml::{self, Element, Limits, Node, Writer};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The namespace of pain.001.001.09.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";
/// The namespace of pain.001.001.03 (decode only).
pub const NAMESPACE_V03: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03";

/// The version a value was read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// pain.001.001.09.
    #[default]
    V09,
    /// pain.001.001.03 (encoded as .09).
    V03,
}

/// A credit transfer initiation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pain001 {
    /// Version read.
    pub version: Version,
    /// Group header.
    pub header: InitiationHeader,
    /// Payment instructions (`PmtInf`), each with its transactions.
    pub payments: Vec<PaymentInstruction>,
}

/// Group header (`GroupHeader85`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitiationHeader {
    /// Message id.
    pub msg_id: String,
    /// Creation date-time.
    pub created: String,
    /// Control sum (sum of all instructed amounts), as written.
    pub control_sum: Option<String>,
    /// Initiating party.
    pub initiating_party: Party,
    /// Forwarding agent.
    pub forwarding_agent: Option<Agent>,
}

/// Requested execution date (`DateAndDateTime2Choice`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExecutionDate {
    /// `Dt`.
    Date(String),
    /// `DtTm`.
    DateTime(String),
}

impl Default for ExecutionDate {
    fn default() -> Self {
        ExecutionDate::Date(String::from("1970-01-01"))
    }
}

/// A payment instruction (`PaymentInstruction30`): one debtor account, many transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentInstruction {
    /// Payment information id.
    pub id: String,
    /// Payment method (TRF, CHK, TRA).
    pub method: String,
    /// Batch booking.
    pub batch_booking: Option<bool>,
    /// Control sum, as written.
    pub control_sum: Option<String>,
    /// Payment type.
    pub payment_type: Option<PaymentType>,
    /// Requested execution date.
    pub execution_date: ExecutionDate,
    /// Debtor.
    pub debtor: Party,
    /// Debtor account.
    pub debtor_account: Account,
    /// Debtor agent.
    pub debtor_agent: Agent,
    /// Ultimate debtor.
    pub ultimate_debtor: Option<Party>,
    /// Charge bearer.
    pub charge_bearer: Option<String>,
    /// Whether `NbOfTxs` was given (it is checked, and rewritten from the real count).
    pub declares_count: bool,
    /// Transactions.
    pub transactions: Vec<CreditTransferInstruction>,
}

/// One transaction (`CreditTransferTransaction34`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditTransferInstruction {
    /// Instruction id.
    pub instr_id: Option<String>,
    /// End-to-end id.
    pub end_to_end_id: String,
    /// UETR.
    pub uetr: Option<String>,
    /// Payment type.
    pub payment_type: Option<PaymentType>,
    /// Instructed amount (`Amt/InstdAmt`).
    pub amount: Amount,
    /// Charge bearer.
    pub charge_bearer: Option<String>,
    /// Ultimate debtor.
    pub ultimate_debtor: Option<Party>,
    /// Creditor agent.
    pub creditor_agent: Option<Agent>,
    /// Creditor.
    pub creditor: Option<Party>,
    /// Creditor account.
    pub creditor_account: Option<Account>,
    /// Ultimate creditor.
    pub ultimate_creditor: Option<Party>,
    /// Purpose.
    pub purpose: Option<CodeChoice>,
    /// Remittance information.
    pub remittance: Option<Remittance>,
    /// Related remittance information (`RltdRmtInf`, at most 10; read in the .09 shape).
    pub related_remittance: Vec<RelatedRemittance>,
}

impl Pain001 {
    /// Number of transactions over all payment instructions.
    pub fn transaction_count(&self) -> usize {
        self.payments.iter().map(|p| p.transactions.len()).sum()
    }
}

fn is_bool(s: &str) -> bool {
    matches!(s, "true" | "false" | "1" | "0")
}

/// `DecimalNumber`: at most 18 digits, 17 of them after the point, not negative here.
pub(crate) fn parse_decimal_number(text: &str, at: &At) -> Result<Decimal, DecodeError> {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let fraction = text.split_once('.').map_or(0, |(_, f)| f.len());
    let shape_ok = !text.is_empty()
        && text.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        && text.bytes().filter(|c| *c == b'.').count() <= 1;
    if !shape_ok {
        return Err(at.err(ErrorKind::Invalid(format!("{text:?} is not a decimal number"))));
    }
    if digits > 18 {
        return Err(at.err(ErrorKind::Invalid(format!("{digits} digits, at most 18"))));
    }
    if fraction > 17 {
        return Err(at.err(ErrorKind::Invalid(format!("{fraction} fraction digits, at most 17"))));
    }
    Decimal::from_str(text).map_err(|e| at.err(ErrorKind::Invalid(format!("{text:?}: {e}"))))
}

pub(crate) fn amount_decimal(a: &Amount) -> Decimal {
    Decimal::from_i128_with_scale(i128::from(a.minor), a.currency.exponent())
}

pub(crate) fn check_control_sum<'d, N: Node<'d>>(
    el: N,
    at: &At,
    sum: Decimal,
    overflow: bool,
) -> Result<Option<String>, DecodeError> {
    let Some(c) = el.child("CtrlSum") else { return Ok(None) };
    let c_at = at.child("CtrlSum", None);
    let declared = parse_decimal_number(c.text(), &c_at)?;
    if overflow || declared != sum {
        return Err(c_at.err(ErrorKind::Invalid(format!(
            "says {} but the transactions add up to {}",
            c.text(),
            if overflow { "more than can be represented".to_string() } else { sum.to_string() }
        ))));
    }
    Ok(Some(c.text().to_string()))
}

pub(crate) fn decode_tx<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<CreditTransferInstruction, DecodeError> {
    let pmt = req(el, at, "PmtId")?;
    let p_at = at.child("PmtId", None);
    let amt = req(el, at, "Amt")?;
    let a_at = at.child("Amt", None);
    let amount = match (amt.child("InstdAmt"), amt.child("EqvtAmt")) {
        (Some(a), None) => decode_amount(a, &a_at.child("InstdAmt", None))?,
        (None, Some(_)) => {
            return Err(a_at.err_at(
                "EqvtAmt",
                ErrorKind::Invalid(
                    "equivalent amounts (currency conversion) are not supported".into(),
                ),
            ))
        }
        _ => {
            return Err(a_at
                .err(ErrorKind::Invalid("choice needs exactly one of InstdAmt, EqvtAmt".into())))
        }
    };
    Ok(CreditTransferInstruction {
        instr_id: opt_text(pmt, &p_at, "InstrId", 35)?,
        end_to_end_id: req_text(pmt, &p_at, "EndToEndId", 35)?,
        uetr: opt_uuid(pmt, &p_at, "UETR")?,
        payment_type: opt_payment_type(el, at)?,
        amount,
        charge_bearer: opt_charge_bearer(el, at)?,
        ultimate_debtor: opt_party(el, at, "UltmtDbtr")?,
        creditor_agent: opt_agent(el, at, "CdtrAgt")?,
        creditor: opt_party(el, at, "Cdtr")?,
        creditor_account: opt_account(el, at, "CdtrAcct")?,
        ultimate_creditor: opt_party(el, at, "UltmtCdtr")?,
        purpose: opt_choice(el, at, "Purp", 4)?,
        related_remittance: related(el, at)?,
        remittance: opt_remittance(el, at)?,
    })
}

fn decode_payment_header<'d, N: Node<'d>>(
    el: N,
    at: &At,
    version: Version,
) -> Result<PaymentInstruction, DecodeError> {
    let execution_date = match version {
        Version::V03 => {
            ExecutionDate::Date(req_checked(el, at, "ReqdExctnDt", "ISO date", is_iso_date)?)
        }
        Version::V09 => {
            let d = req(el, at, "ReqdExctnDt")?;
            let d_at = at.child("ReqdExctnDt", None);
            match (d.child("Dt"), d.child("DtTm")) {
                (Some(_), None) => {
                    ExecutionDate::Date(req_checked(d, &d_at, "Dt", "ISO date", is_iso_date)?)
                }
                (None, Some(_)) => ExecutionDate::DateTime(req_datetime(d, &d_at, "DtTm")?),
                _ => {
                    return Err(
                        d_at.err(ErrorKind::Invalid("choice needs exactly one of Dt, DtTm".into()))
                    )
                }
            }
        }
    };
    Ok(PaymentInstruction {
        id: req_text(el, at, "PmtInfId", 35)?,
        method: req_checked(el, at, "PmtMtd", "payment method", |s| {
            matches!(s, "TRF" | "CHK" | "TRA")
        })?,
        batch_booking: opt_checked(el, at, "BtchBookg", "boolean", is_bool)?
            .map(|s| s == "true" || s == "1"),
        control_sum: None,
        payment_type: opt_payment_type(el, at)?,
        execution_date,
        debtor: decode_party(req(el, at, "Dbtr")?, &at.child("Dbtr", None))?,
        debtor_account: decode_account(req(el, at, "DbtrAcct")?, &at.child("DbtrAcct", None))?,
        debtor_agent: req_agent(el, at, "DbtrAgt")?,
        ultimate_debtor: opt_party(el, at, "UltmtDbtr")?,
        charge_bearer: opt_charge_bearer(el, at)?,
        declares_count: el.child("NbOfTxs").is_some(),
        transactions: Vec::new(),
    })
}

/// Decode a pain.001.001.09 or .03 document, streaming its transactions.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Pain001, DecodeError> {
    // Transactions decoded so far: (index of their PmtInf, 1-based; the transaction).
    let mut txs: Vec<(usize, CreditTransferInstruction)> = Vec::new();
    let mut current = (0usize, 0usize); // (PmtInf index, transactions seen in it)
    let mut on_tx = |stack: &[Element], el: Element| -> Result<(), DecodeError> {
        let [doc, body, pmt] = stack else {
            return Err(DecodeError::new(
                "/Document",
                ErrorKind::Invalid("CdtTrfTxInf outside Document/CstmrCdtTrfInitn/PmtInf".into()),
            ));
        };
        match doc.xmlns.as_deref() {
            Some(NAMESPACE) | Some(NAMESPACE_V03) => {}
            other => {
                return Err(DecodeError::new(
                    "/Document",
                    ErrorKind::WrongMessage(format!(
                        "expected Document in {NAMESPACE}, found {}",
                        other.unwrap_or("no namespace")
                    )),
                ))
            }
        }
        if doc.name != "Document" || body.name != "CstmrCdtTrfInitn" || pmt.name != "PmtInf" {
            return Err(DecodeError::new(
                "/Document",
                ErrorKind::Invalid("CdtTrfTxInf outside Document/CstmrCdtTrfInitn/PmtInf".into()),
            ));
        }
        let pmt_index = body.children.iter().filter(|c| c.name == "PmtInf").count() + 1;
        if current.0 != pmt_index {
            current = (pmt_index, 0);
        }
        current.1 += 1;
        let body_at = At::root_child("Document", "CstmrCdtTrfInitn");
        let pmt_at = body_at.child("PmtInf", Some(pmt_index));
        let at = pmt_at.child("CdtTrfTxInf", Some(current.1));
        if txs.len() >= limits.max_transactions {
            return Err(at.err(ErrorKind::TooLarge(format!(
                "more than {} transactions (Limits.max_transactions)",
                limits.max_transactions
            ))));
        }
        txs.push((pmt_index, decode_tx(&el, &at)?));
        Ok(())
    };
    let (root, ns) = xml::parse_split(input, limits, "CdtTrfTxInf", &mut on_tx)?;
    assemble(&root, ns.as_deref(), txs)
}

/// Decode from an already parsed `Document` element (the transactions still attached).
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Pain001, DecodeError> {
    let mut txs = Vec::new();
    let at = At::root_child("Document", "CstmrCdtTrfInitn");
    if let Some(body) = root.child("CstmrCdtTrfInitn") {
        for (i, p) in body.children_named("PmtInf").enumerate() {
            for (j, tx) in p.children_named("CdtTrfTxInf").enumerate() {
                let p_at = at.child("PmtInf", Some(i + 1));
                let t_at = p_at.child("CdtTrfTxInf", Some(j + 1));
                if txs.len() >= limits.max_transactions {
                    return Err(t_at.err(ErrorKind::TooLarge(format!(
                        "more than {} transactions (Limits.max_transactions)",
                        limits.max_transactions
                    ))));
                }
                txs.push((i + 1, decode_tx(tx, &t_at)?));
            }
        }
    }
    assemble(root, ns, txs)
}

fn assemble<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    txs: Vec<(usize, CreditTransferInstruction)>,
) -> Result<Pain001, DecodeError> {
    let version = if ns == Some(NAMESPACE_V03) { Version::V03 } else { Version::V09 };
    let expected = if version == Version::V03 { NAMESPACE_V03 } else { NAMESPACE };
    let (body, at) = document_body(root, ns, expected, "CstmrCdtTrfInitn")?;
    let hdr = req(body, &at, "GrpHdr")?;
    let h_at = at.child("GrpHdr", None);
    let mut header = InitiationHeader {
        msg_id: req_text(hdr, &h_at, "MsgId", 35)?,
        created: req_datetime(hdr, &h_at, "CreDtTm")?,
        control_sum: None,
        initiating_party: decode_party(
            req(hdr, &h_at, "InitgPty")?,
            &h_at.child("InitgPty", None),
        )?,
        forwarding_agent: opt_agent(hdr, &h_at, "FwdgAgt")?,
    };
    let pmts: Vec<N> = body.children_named("PmtInf").collect();
    if pmts.is_empty() {
        return Err(at.err_at("PmtInf", ErrorKind::Missing));
    }
    let mut payments = Vec::with_capacity(pmts.len());
    let mut txs = txs.into_iter().peekable();
    let mut total = Decimal::ZERO;
    let mut overflow = false;
    for (i, p) in pmts.into_iter().enumerate() {
        let p_at = at.child("PmtInf", Some(i + 1));
        let mut payment = decode_payment_header(p, &p_at, version)?;
        let mut sum = Decimal::ZERO;
        let mut p_overflow = false;
        while let Some((_, tx)) = txs.next_if(|(idx, _)| *idx == i + 1) {
            match sum.checked_add(amount_decimal(&tx.amount)) {
                Some(s) => sum = s,
                None => p_overflow = true,
            }
            payment.transactions.push(tx);
        }
        if payment.transactions.is_empty() {
            return Err(p_at.err_at("CdtTrfTxInf", ErrorKind::Missing));
        }
        check_count(p, &p_at, "NbOfTxs", payment.transactions.len())?;
        payment.control_sum = check_control_sum(p, &p_at, sum, p_overflow)?;
        match total.checked_add(sum) {
            Some(t) if !p_overflow => total = t,
            _ => overflow = true,
        }
        payments.push(payment);
    }
    let count: usize = payments.iter().map(|p| p.transactions.len()).sum();
    req_checked(hdr, &h_at, "NbOfTxs", "number of transactions", is_max15_numeric)?;
    check_count(hdr, &h_at, "NbOfTxs", count)?;
    header.control_sum = check_control_sum(hdr, &h_at, total, overflow)?;
    Ok(Pain001 { version, header, payments })
}

/// Encode as pain.001.001.09. `NbOfTxs` is written from the real counts; control sums as
/// carried (decode guarantees they match).
pub fn encode(msg: &Pain001) -> String {
    let mut w = Writer::new(1024 + 1024 * msg.transaction_count());
    w.open_with("Document", &[("xmlns", NAMESPACE)]).open("CstmrCdtTrfInitn");
    let h = &msg.header;
    w.open("GrpHdr").leaf("MsgId", &h.msg_id).leaf("CreDtTm", &h.created);
    w.leaf("NbOfTxs", &msg.transaction_count().to_string());
    w.opt_leaf("CtrlSum", h.control_sum.as_deref());
    encode_party(&mut w, "InitgPty", &h.initiating_party);
    encode_opt_agent(&mut w, "FwdgAgt", h.forwarding_agent.as_ref());
    w.close("GrpHdr");
    for p in &msg.payments {
        w.open("PmtInf").leaf("PmtInfId", &p.id).leaf("PmtMtd", &p.method);
        if let Some(b) = p.batch_booking {
            w.leaf("BtchBookg", if b { "true" } else { "false" });
        }
        if p.declares_count {
            w.leaf("NbOfTxs", &p.transactions.len().to_string());
        }
        w.opt_leaf("CtrlSum", p.control_sum.as_deref());
        if let Some(t) = &p.payment_type {
            encode_payment_type(&mut w, t, false);
        }
        w.open("ReqdExctnDt");
        match &p.execution_date {
            ExecutionDate::Date(d) => w.leaf("Dt", d),
            ExecutionDate::DateTime(d) => w.leaf("DtTm", d),
        };
        w.close("ReqdExctnDt");
        encode_party(&mut w, "Dbtr", &p.debtor);
        encode_account(&mut w, "DbtrAcct", &p.debtor_account);
        encode_agent(&mut w, "DbtrAgt", &p.debtor_agent);
        if let Some(u) = &p.ultimate_debtor {
            encode_party(&mut w, "UltmtDbtr", u);
        }
        w.opt_leaf("ChrgBr", p.charge_bearer.as_deref());
        for tx in &p.transactions {
            encode_tx(&mut w, tx);
        }
        w.close("PmtInf");
    }
    w.close("CstmrCdtTrfInitn").close("Document");
    w.finish()
}

pub(crate) fn encode_tx(w: &mut Writer, tx: &CreditTransferInstruction) {
    encode_tx_as(w, "CdtTrfTxInf", tx, None);
}

/// Write a transaction as element `name`; `defaults` (pain.013) fills the charge bearer, the
/// creditor agent and the creditor that pain.013 makes mandatory when the value has none.
pub(crate) fn encode_tx_as(
    w: &mut Writer,
    name: &str,
    tx: &CreditTransferInstruction,
    defaults: Option<&str>,
) {
    w.open(name).open("PmtId");
    w.opt_leaf("InstrId", tx.instr_id.as_deref()).leaf("EndToEndId", &tx.end_to_end_id);
    w.opt_leaf("UETR", tx.uetr.as_deref()).close("PmtId");
    if let Some(t) = &tx.payment_type {
        encode_payment_type(w, t, false);
    }
    w.open("Amt");
    encode_amount(w, "InstdAmt", &tx.amount);
    w.close("Amt").opt_leaf("ChrgBr", tx.charge_bearer.as_deref().or(defaults));
    if let Some(u) = &tx.ultimate_debtor {
        encode_party(w, "UltmtDbtr", u);
    }
    match (&tx.creditor_agent, defaults) {
        (Some(a), _) => encode_agent(w, "CdtrAgt", a),
        (None, Some(_)) => encode_agent(w, "CdtrAgt", &Agent::default()),
        (None, None) => {}
    }
    match (&tx.creditor, defaults) {
        (Some(c), _) => encode_party(w, "Cdtr", c),
        (None, Some(_)) => encode_party(w, "Cdtr", &Party::default()),
        (None, None) => {}
    }
    encode_opt_account(w, "CdtrAcct", tx.creditor_account.as_ref());
    if let Some(u) = &tx.ultimate_creditor {
        encode_party(w, "UltmtCdtr", u);
    }
    encode_opt_choice(w, "Purp", tx.purpose.as_ref());
    encode_related(w, &tx.related_remittance);
    if let Some(r) = &tx.remittance {
        encode_remittance(w, r);
    }
    w.close(name);
}
