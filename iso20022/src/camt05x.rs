//! camt.052.001.08 (account report), camt.053.001.08 (statement) and camt.054.001.08
//! (debit/credit notification): what the switch tells participants about their settlement
//! accounts. The three share one model ([`CashReport`]); [`Kind`] says which one it is.
//!
//! Encode writes XSD-valid XML (a camt.053 needs at least one balance per statement: encode
//! does not invent one, the caller must give it, and decode refuses a statement without).
//! Decode checks mandatory elements, choices, codes and amounts, and bounds the number of
//! entries by [`Limits::max_transactions`]. Must not: do I/O.

use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::pain001::ExecutionDate as DateOrDateTime;
use crate::reference::*;
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of camt.052.001.08.
pub const NAMESPACE_052: &str = "urn:iso:std:iso:20022:tech:xsd:camt.052.001.08";
/// The namespace of camt.053.001.08.
pub const NAMESPACE_053: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08";
/// The namespace of camt.054.001.08.
pub const NAMESPACE_054: &str = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08";

/// Which of the three messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Kind {
    /// camt.052 intraday account report (`BkToCstmrAcctRpt/Rpt`).
    Report,
    /// camt.053 statement (`BkToCstmrStmt/Stmt`).
    #[default]
    Statement,
    /// camt.054 debit/credit notification (`BkToCstmrDbtCdtNtfctn/Ntfctn`).
    Notification,
}

impl Kind {
    /// The namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Kind::Report => NAMESPACE_052,
            Kind::Statement => NAMESPACE_053,
            Kind::Notification => NAMESPACE_054,
        }
    }

    fn body(self) -> &'static str {
        match self {
            Kind::Report => "BkToCstmrAcctRpt",
            Kind::Statement => "BkToCstmrStmt",
            Kind::Notification => "BkToCstmrDbtCdtNtfctn",
        }
    }

    fn item(self) -> &'static str {
        match self {
            Kind::Report => "Rpt",
            Kind::Statement => "Stmt",
            Kind::Notification => "Ntfctn",
        }
    }

    fn additional(self) -> &'static str {
        match self {
            Kind::Report => "AddtlRptInf",
            Kind::Statement => "AddtlStmtInf",
            Kind::Notification => "AddtlNtfctnInf",
        }
    }
}

/// A report, statement or notification message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CashReport {
    /// Which message.
    pub kind: Kind,
    /// Message id.
    pub msg_id: String,
    /// Creation date-time.
    pub created: String,
    /// Reports / statements / notifications, one per account.
    pub reports: Vec<AccountReport>,
}

/// One account's report (`AccountReport25`, `AccountStatement9`, `AccountNotification17`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountReport {
    /// Id.
    pub id: String,
    /// Electronic sequence number.
    pub sequence: Option<String>,
    /// Creation date-time.
    pub created: Option<String>,
    /// Period covered (`FrToDt/FrDtTm`, `FrToDt/ToDtTm`).
    pub period: Option<(String, String)>,
    /// The account.
    pub account: Account,
    /// Balances (not in camt.054; at least one in camt.053).
    pub balances: Vec<Balance>,
    /// Entries.
    pub entries: Vec<Entry>,
    /// Additional information.
    pub additional_info: Option<String>,
}

/// A balance (`CashBalance8`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balance {
    /// Type (`Tp/CdOrPrtry`), e.g. code OPBD, CLBD, ITBD.
    pub kind: CodeChoice,
    /// Amount.
    pub amount: Amount,
    /// Credit (true) or debit (false).
    pub credit: bool,
    /// Date.
    pub date: DateOrDateTime,
}

/// A bank transaction code (`BankTransactionCodeStructure4`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankTxCode {
    /// ISO domain, family and sub-family codes, e.g. (PMNT, RCDT, ESCT).
    pub domain: Option<(String, String, String)>,
    /// Proprietary code and issuer.
    pub proprietary: Option<(String, Option<String>)>,
}

/// An entry (`ReportEntry10`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Entry reference.
    pub reference: Option<String>,
    /// Amount.
    pub amount: Amount,
    /// Credit (true) or debit (false).
    pub credit: bool,
    /// Reversal indicator.
    pub reversal: Option<bool>,
    /// Status (`Sts/Cd`, e.g. BOOK, PDNG, INFO).
    pub status: CodeChoice,
    /// Booking date.
    pub booking_date: Option<DateOrDateTime>,
    /// Value date.
    pub value_date: Option<DateOrDateTime>,
    /// Account servicer reference.
    pub servicer_ref: Option<String>,
    /// Bank transaction code.
    pub bank_tx_code: BankTxCode,
    /// Transaction details (`NtryDtls/TxDtls`, one `NtryDtls` block).
    pub details: Vec<EntryTx>,
    /// Additional entry information.
    pub additional_info: Option<String>,
}

/// One transaction of an entry (`EntryTransaction10`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryTx {
    /// Message id of the underlying message.
    pub msg_id: Option<String>,
    /// Account servicer reference.
    pub servicer_ref: Option<String>,
    /// Instruction id.
    pub instr_id: Option<String>,
    /// End-to-end id.
    pub end_to_end_id: Option<String>,
    /// UETR.
    pub uetr: Option<String>,
    /// Transaction id.
    pub tx_id: Option<String>,
    /// Clearing system reference.
    pub clearing_ref: Option<String>,
    /// Amount.
    pub amount: Option<Amount>,
    /// Credit (true) or debit (false).
    pub credit: Option<bool>,
    /// Debtor.
    pub debtor: Option<PartyOrAgent>,
    /// Debtor account.
    pub debtor_account: Option<Account>,
    /// Creditor.
    pub creditor: Option<PartyOrAgent>,
    /// Creditor account.
    pub creditor_account: Option<Account>,
    /// Debtor agent.
    pub debtor_agent: Option<Agent>,
    /// Creditor agent.
    pub creditor_agent: Option<Agent>,
    /// Remittance information.
    pub remittance: Option<Remittance>,
}

fn is_bool(s: &str) -> bool {
    matches!(s, "true" | "false" | "1" | "0")
}

fn credit_debit<'d, N: Node<'d>>(el: N, at: &At) -> Result<bool, DecodeError> {
    let s = req_checked(el, at, "CdtDbtInd", "CRDT or DBIT", |s| matches!(s, "CRDT" | "DBIT"))?;
    Ok(s == "CRDT")
}

fn cd(credit: bool) -> &'static str {
    if credit {
        "CRDT"
    } else {
        "DBIT"
    }
}

fn date_choice<'d, N: Node<'d>>(el: N, at: &At) -> Result<DateOrDateTime, DecodeError> {
    match (el.child("Dt"), el.child("DtTm")) {
        (Some(_), None) => {
            Ok(DateOrDateTime::Date(req_checked(el, at, "Dt", "ISO date", is_iso_date)?))
        }
        (None, Some(_)) => Ok(DateOrDateTime::DateTime(req_datetime(el, at, "DtTm")?)),
        _ => Err(at.err(ErrorKind::Invalid("choice needs exactly one of Dt, DtTm".into()))),
    }
}

fn opt_date_choice<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<DateOrDateTime>, DecodeError> {
    el.child(name).map(|d| date_choice(d, &at.child(name, None))).transpose()
}

fn encode_date_choice(w: &mut Writer, name: &str, d: &DateOrDateTime) {
    w.open(name);
    match d {
        DateOrDateTime::Date(s) => w.leaf("Dt", s),
        DateOrDateTime::DateTime(s) => w.leaf("DtTm", s),
    };
    w.close(name);
}

fn decode_entry_tx<'d, N: Node<'d>>(el: N, at: &At) -> Result<EntryTx, DecodeError> {
    let mut tx = EntryTx {
        amount: opt_amount(el, at, "Amt")?,
        credit: match el.child("CdtDbtInd") {
            Some(_) => Some(credit_debit(el, at)?),
            None => None,
        },
        remittance: opt_remittance(el, at)?,
        ..EntryTx::default()
    };
    if let Some(r) = el.child("Refs") {
        let r_at = at.child("Refs", None);
        tx.msg_id = opt_text(r, &r_at, "MsgId", 35)?;
        tx.servicer_ref = opt_text(r, &r_at, "AcctSvcrRef", 35)?;
        tx.instr_id = opt_text(r, &r_at, "InstrId", 35)?;
        tx.end_to_end_id = opt_text(r, &r_at, "EndToEndId", 35)?;
        tx.uetr = opt_uuid(r, &r_at, "UETR")?;
        tx.tx_id = opt_text(r, &r_at, "TxId", 35)?;
        tx.clearing_ref = opt_text(r, &r_at, "ClrSysRef", 35)?;
    }
    if let Some(p) = el.child("RltdPties") {
        let p_at = at.child("RltdPties", None);
        tx.debtor = opt_party_or_agent(p, &p_at, "Dbtr")?;
        tx.debtor_account = opt_account(p, &p_at, "DbtrAcct")?;
        tx.creditor = opt_party_or_agent(p, &p_at, "Cdtr")?;
        tx.creditor_account = opt_account(p, &p_at, "CdtrAcct")?;
    }
    if let Some(a) = el.child("RltdAgts") {
        let a_at = at.child("RltdAgts", None);
        tx.debtor_agent = opt_agent(a, &a_at, "DbtrAgt")?;
        tx.creditor_agent = opt_agent(a, &a_at, "CdtrAgt")?;
    }
    Ok(tx)
}

fn encode_entry_tx(w: &mut Writer, tx: &EntryTx) {
    w.open("TxDtls");
    let refs = [
        ("MsgId", &tx.msg_id),
        ("AcctSvcrRef", &tx.servicer_ref),
        ("InstrId", &tx.instr_id),
        ("EndToEndId", &tx.end_to_end_id),
        ("UETR", &tx.uetr),
        ("TxId", &tx.tx_id),
        ("ClrSysRef", &tx.clearing_ref),
    ];
    if refs.iter().any(|(_, v)| v.is_some()) {
        w.open("Refs");
        for (name, v) in refs {
            w.opt_leaf(name, v.as_deref());
        }
        w.close("Refs");
    }
    encode_opt_amount(w, "Amt", tx.amount.as_ref());
    w.opt_leaf("CdtDbtInd", tx.credit.map(cd));
    let parties = tx.debtor.is_some()
        || tx.debtor_account.is_some()
        || tx.creditor.is_some()
        || tx.creditor_account.is_some();
    if parties {
        w.open("RltdPties");
        if let Some(d) = &tx.debtor {
            encode_party_or_agent(w, "Dbtr", d);
        }
        encode_opt_account(w, "DbtrAcct", tx.debtor_account.as_ref());
        if let Some(c) = &tx.creditor {
            encode_party_or_agent(w, "Cdtr", c);
        }
        encode_opt_account(w, "CdtrAcct", tx.creditor_account.as_ref());
        w.close("RltdPties");
    }
    if tx.debtor_agent.is_some() || tx.creditor_agent.is_some() {
        w.open("RltdAgts");
        encode_opt_agent(w, "DbtrAgt", tx.debtor_agent.as_ref());
        encode_opt_agent(w, "CdtrAgt", tx.creditor_agent.as_ref());
        w.close("RltdAgts");
    }
    if let Some(r) = &tx.remittance {
        encode_remittance(w, r);
    }
    w.close("TxDtls");
}

fn decode_entry<'d, N: Node<'d>>(el: N, at: &At, limits: &Limits) -> Result<Entry, DecodeError> {
    let code = req(el, at, "BkTxCd")?;
    let c_at = at.child("BkTxCd", None);
    let domain = match code.child("Domn") {
        Some(d) => {
            let d_at = c_at.child("Domn", None);
            let f = req(d, &d_at, "Fmly")?;
            let f_at = d_at.child("Fmly", None);
            Some((
                req_text(d, &d_at, "Cd", 4)?,
                req_text(f, &f_at, "Cd", 4)?,
                req_text(f, &f_at, "SubFmlyCd", 4)?,
            ))
        }
        None => None,
    };
    let proprietary = match code.child("Prtry") {
        Some(p) => {
            let p_at = c_at.child("Prtry", None);
            Some((req_text(p, &p_at, "Cd", 35)?, opt_text(p, &p_at, "Issr", 35)?))
        }
        None => None,
    };
    let mut details = Vec::new();
    for (i, d) in el.children_named("NtryDtls").enumerate() {
        let d_at = at.child("NtryDtls", Some(i + 1));
        for (j, t) in
            bounded_children(d, &d_at, "TxDtls", limits.max_transactions)?.into_iter().enumerate()
        {
            details.push(decode_entry_tx(t, &d_at.child("TxDtls", Some(j + 1)))?);
        }
    }
    Ok(Entry {
        reference: opt_text(el, at, "NtryRef", 35)?,
        amount: req_amount(el, at, "Amt")?,
        credit: credit_debit(el, at)?,
        reversal: opt_checked(el, at, "RvslInd", "boolean", is_bool)?
            .map(|s| s == "true" || s == "1"),
        status: decode_choice(req(el, at, "Sts")?, &at.child("Sts", None), 4)?,
        booking_date: opt_date_choice(el, at, "BookgDt")?,
        value_date: opt_date_choice(el, at, "ValDt")?,
        servicer_ref: opt_text(el, at, "AcctSvcrRef", 35)?,
        bank_tx_code: BankTxCode { domain, proprietary },
        details,
        additional_info: opt_text(el, at, "AddtlNtryInf", 500)?,
    })
}

fn encode_entry(w: &mut Writer, e: &Entry) {
    w.open("Ntry").opt_leaf("NtryRef", e.reference.as_deref());
    encode_amount(w, "Amt", &e.amount);
    w.leaf("CdtDbtInd", cd(e.credit));
    if let Some(r) = e.reversal {
        w.leaf("RvslInd", if r { "true" } else { "false" });
    }
    encode_choice(w, "Sts", &e.status);
    if let Some(d) = &e.booking_date {
        encode_date_choice(w, "BookgDt", d);
    }
    if let Some(d) = &e.value_date {
        encode_date_choice(w, "ValDt", d);
    }
    w.opt_leaf("AcctSvcrRef", e.servicer_ref.as_deref());
    w.open("BkTxCd");
    if let Some((d, f, s)) = &e.bank_tx_code.domain {
        w.open("Domn").leaf("Cd", d).open("Fmly").leaf("Cd", f).leaf("SubFmlyCd", s);
        w.close("Fmly").close("Domn");
    }
    if let Some((c, issuer)) = &e.bank_tx_code.proprietary {
        w.open("Prtry").leaf("Cd", c).opt_leaf("Issr", issuer.as_deref()).close("Prtry");
    }
    w.close("BkTxCd");
    if !e.details.is_empty() {
        w.open("NtryDtls");
        for t in &e.details {
            encode_entry_tx(w, t);
        }
        w.close("NtryDtls");
    }
    w.opt_leaf("AddtlNtryInf", e.additional_info.as_deref()).close("Ntry");
}

/// Decode a camt.052, camt.053 or camt.054 (.001.08) document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<CashReport, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns(), limits)
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<CashReport, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref(), limits)
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<CashReport, DecodeError> {
    let kind = match ns {
        Some(NAMESPACE_052) => Kind::Report,
        Some(NAMESPACE_054) => Kind::Notification,
        _ => Kind::Statement,
    };
    let (body, at) = document_body(root, ns, kind.namespace(), kind.body())?;
    let hdr = req(body, &at, "GrpHdr")?;
    let h_at = at.child("GrpHdr", None);
    let items = bounded_children(body, &at, kind.item(), limits.max_transactions)?;
    if items.is_empty() {
        return Err(at.err_at(kind.item(), ErrorKind::Missing));
    }
    let mut reports = Vec::with_capacity(items.len());
    let mut total = 0usize;
    for (i, r) in items.into_iter().enumerate() {
        let r_at = at.child(kind.item(), Some(i + 1));
        let mut balances = Vec::new();
        for (j, b) in r.children_named("Bal").enumerate() {
            let b_at = r_at.child("Bal", Some(j + 1));
            let tp = req(b, &b_at, "Tp")?;
            let t_at = b_at.child("Tp", None);
            balances.push(Balance {
                kind: decode_choice(
                    req(tp, &t_at, "CdOrPrtry")?,
                    &t_at.child("CdOrPrtry", None),
                    4,
                )?,
                amount: req_amount(b, &b_at, "Amt")?,
                credit: credit_debit(b, &b_at)?,
                date: date_choice(req(b, &b_at, "Dt")?, &b_at.child("Dt", None))?,
            });
        }
        if kind == Kind::Statement && balances.is_empty() {
            return Err(r_at.err_at("Bal", ErrorKind::Missing));
        }
        let entries_el = bounded_children(r, &r_at, "Ntry", limits.max_transactions)?;
        total = total.saturating_add(entries_el.len());
        if total > limits.max_transactions {
            return Err(r_at.err(ErrorKind::TooLarge(format!(
                "more than {} entries (Limits.max_transactions)",
                limits.max_transactions
            ))));
        }
        let mut entries = Vec::with_capacity(entries_el.len());
        for (j, e) in entries_el.into_iter().enumerate() {
            entries.push(decode_entry(e, &r_at.child("Ntry", Some(j + 1)), limits)?);
        }
        let period = match r.child("FrToDt") {
            Some(p) => {
                let p_at = r_at.child("FrToDt", None);
                Some((req_datetime(p, &p_at, "FrDtTm")?, req_datetime(p, &p_at, "ToDtTm")?))
            }
            None => None,
        };
        let acct = req(r, &r_at, "Acct")?;
        reports.push(AccountReport {
            id: req_text(r, &r_at, "Id", 35)?,
            sequence: opt_checked(r, &r_at, "ElctrncSeqNb", "number (at most 18 digits)", |s| {
                (1..=18).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit())
            })?,
            created: opt_datetime(r, &r_at, "CreDtTm")?,
            period,
            account: decode_account(acct, &r_at.child("Acct", None))?,
            balances: if kind == Kind::Notification { Vec::new() } else { balances },
            entries,
            additional_info: opt_text(r, &r_at, kind.additional(), 500)?,
        });
    }
    Ok(CashReport {
        kind,
        msg_id: req_text(hdr, &h_at, "MsgId", 35)?,
        created: req_datetime(hdr, &h_at, "CreDtTm")?,
        reports,
    })
}

/// Encode the message its `kind` says.
pub fn encode(msg: &CashReport) -> String {
    let n: usize = msg.reports.iter().map(|r| r.entries.len()).sum();
    let mut w = Writer::new(1024 + 1024 * n);
    let kind = msg.kind;
    w.open_with("Document", &[("xmlns", kind.namespace())]).open(kind.body());
    w.open("GrpHdr").leaf("MsgId", &msg.msg_id).leaf("CreDtTm", &msg.created).close("GrpHdr");
    for r in &msg.reports {
        w.open(kind.item()).leaf("Id", &r.id).opt_leaf("ElctrncSeqNb", r.sequence.as_deref());
        w.opt_leaf("CreDtTm", r.created.as_deref());
        if let Some((from, to)) = &r.period {
            w.open("FrToDt").leaf("FrDtTm", from).leaf("ToDtTm", to).close("FrToDt");
        }
        encode_account(&mut w, "Acct", &r.account);
        if kind != Kind::Notification {
            for b in &r.balances {
                w.open("Bal").open("Tp");
                encode_choice(&mut w, "CdOrPrtry", &b.kind);
                w.close("Tp");
                encode_amount(&mut w, "Amt", &b.amount);
                w.leaf("CdtDbtInd", cd(b.credit));
                encode_date_choice(&mut w, "Dt", &b.date);
                w.close("Bal");
            }
        }
        for e in &r.entries {
            encode_entry(&mut w, e);
        }
        w.opt_leaf(kind.additional(), r.additional_info.as_deref()).close(kind.item());
    }
    w.close(kind.body()).close("Document");
    w.finish()
}
