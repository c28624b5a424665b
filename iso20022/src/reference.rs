//! Building blocks the follow-up messages share: payment type, the reference to an original
//! transaction (`OrgnlTxRef`), code-or-proprietary choices and remittance information.
//!
//! Guarantees: every decoder checks the facets of what it reads and names the element path in
//! its errors; every encoder writes elements in XSD sequence order. Must not: do I/O or keep
//! anything beyond the typed value.

use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::remittance::{
    additional_remittance, check_code, document_lines, encode_document, encode_document_amounts,
    encode_garnishment, encode_tax, further_documents, is_creditor_reference_type,
    is_document_type, opt_document_amounts, opt_garnishment, opt_tax, DocumentAmounts,
    DocumentLine, Garnishment, ReferredDocument, TaxRemittance,
};
use crate::xml::{Node, Writer};

/// An ISO choice between an external code (`Cd`) and a proprietary text (`Prtry`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CodeChoice {
    /// `Cd`: an external code (1-4 characters).
    Code(String),
    /// `Prtry`: proprietary text (1-35 characters).
    Proprietary(String),
}

impl Default for CodeChoice {
    fn default() -> Self {
        CodeChoice::Proprietary(String::from("NOTPROVIDED"))
    }
}

impl CodeChoice {
    /// The code or text.
    pub fn as_str(&self) -> &str {
        match self {
            CodeChoice::Code(s) | CodeChoice::Proprietary(s) => s,
        }
    }
}

/// Decode a `Cd`/`Prtry` choice element, `Cd` at most `code_max` characters.
pub fn decode_choice<'d, N: Node<'d>>(
    el: N,
    at: &At,
    code_max: usize,
) -> Result<CodeChoice, DecodeError> {
    match code_or_proprietary(el, at, code_max)? {
        (Some(c), _) => Ok(CodeChoice::Code(c)),
        (None, Some(p)) => Ok(CodeChoice::Proprietary(p)),
        (None, None) => Err(at.err(ErrorKind::Missing)),
    }
}

/// Optional choice child.
pub fn opt_choice<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
    code_max: usize,
) -> Result<Option<CodeChoice>, DecodeError> {
    el.child(name).map(|c| decode_choice(c, &at.child(name, None), code_max)).transpose()
}

/// Write a choice element.
pub fn encode_choice(w: &mut Writer, name: &str, c: &CodeChoice) {
    w.open(name);
    match c {
        CodeChoice::Code(s) => w.leaf("Cd", s),
        CodeChoice::Proprietary(s) => w.leaf("Prtry", s),
    };
    w.close(name);
}

/// Write an optional choice element.
pub fn encode_opt_choice(w: &mut Writer, name: &str, c: Option<&CodeChoice>) {
    if let Some(c) = c {
        encode_choice(w, name, c);
    }
}

/// Payment type information (`PaymentTypeInformation26/27/28`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PaymentType {
    /// Instruction priority (HIGH, NORM).
    pub instruction_priority: Option<String>,
    /// Clearing channel (RTGS, RTNS, MPNS, BOOK); not in pain.001.
    pub clearing_channel: Option<String>,
    /// Service levels (e.g. SEPA, INST).
    pub service_levels: Vec<CodeChoice>,
    /// Local instrument (e.g. INST, CTRC).
    pub local_instrument: Option<CodeChoice>,
    /// Category purpose (e.g. SALA, SUPP, GOVT).
    pub category_purpose: Option<CodeChoice>,
}

/// Optional `PmtTpInf` child.
pub fn opt_payment_type<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<Option<PaymentType>, DecodeError> {
    let Some(p) = el.child("PmtTpInf") else { return Ok(None) };
    let at = at.child("PmtTpInf", None);
    let mut service_levels = Vec::new();
    for (i, s) in p.children_named("SvcLvl").enumerate() {
        service_levels.push(decode_choice(s, &at.child("SvcLvl", Some(i + 1)), 4)?);
    }
    Ok(Some(PaymentType {
        instruction_priority: opt_checked(p, &at, "InstrPrty", "priority", |s| {
            matches!(s, "HIGH" | "NORM")
        })?,
        clearing_channel: opt_checked(p, &at, "ClrChanl", "clearing channel", |s| {
            matches!(s, "RTGS" | "RTNS" | "MPNS" | "BOOK")
        })?,
        service_levels,
        local_instrument: opt_choice(p, &at, "LclInstrm", 35)?,
        category_purpose: opt_choice(p, &at, "CtgyPurp", 4)?,
    }))
}

/// Write a `PmtTpInf` element; `with_channel` false for messages without `ClrChanl`.
pub fn encode_payment_type(w: &mut Writer, p: &PaymentType, with_channel: bool) {
    w.open("PmtTpInf").opt_leaf("InstrPrty", p.instruction_priority.as_deref());
    if with_channel {
        w.opt_leaf("ClrChanl", p.clearing_channel.as_deref());
    }
    for s in &p.service_levels {
        encode_choice(w, "SvcLvl", s);
    }
    encode_opt_choice(w, "LclInstrm", p.local_instrument.as_ref());
    encode_opt_choice(w, "CtgyPurp", p.category_purpose.as_ref());
    w.close("PmtTpInf");
}

/// Remittance information (`RemittanceInformation16`): the unstructured lines, and the
/// creditor references of structured blocks (`Strd/CdtrRefInf/Ref`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Remittance {
    /// `Ustrd` lines (each at most 140 characters).
    pub unstructured: Vec<String>,
    /// `Strd/CdtrRefInf` references, one per structured block.
    pub creditor_refs: Vec<CreditorRef>,
}

/// One structured remittance block (`Strd`, `StructuredRemittanceInformation16`): the first
/// referred document in flat fields and the others in `further_documents`, the referred
/// document amounts, the creditor reference (`CreditorReferenceInformation2`), invoicer and
/// invoicee, tax and garnishment remittance, and the additional lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CreditorRef {
    /// Referred document type (`RfrdDocInf/Tp/CdOrPrtry`, e.g. code CINV).
    pub document_kind: Option<CodeChoice>,
    /// Referred document number (`RfrdDocInf/Nb`).
    pub document_number: Option<String>,
    /// Referred document date (`RfrdDocInf/RltdDt`).
    pub document_date: Option<String>,
    /// Reference type (`Tp/CdOrPrtry`, e.g. code SCOR) if given.
    pub kind: Option<CodeChoice>,
    /// Issuer of the reference type.
    pub issuer: Option<String>,
    /// The reference (`Ref`).
    pub reference: Option<String>,
    /// Tax remittance (`TaxRmt`).
    pub tax: Option<TaxRemittance>,
    /// Issuer of the first referred document's type (`RfrdDocInf/Tp/Issr`).
    pub document_issuer: Option<String>,
    /// Lines of the first referred document (`RfrdDocInf/LineDtls`).
    pub document_lines: Vec<DocumentLine>,
    /// The referred documents after the first (`RfrdDocInf[2..]`).
    pub further_documents: Vec<ReferredDocument>,
    /// Referred document amounts (`RfrdDocAmt`).
    pub document_amounts: Option<DocumentAmounts>,
    /// Invoicer (`Invcr`).
    pub invoicer: Option<Party>,
    /// Invoicee (`Invcee`).
    pub invoicee: Option<Party>,
    /// Garnishment remittance (`GrnshmtRmt`).
    pub garnishment: Option<Garnishment>,
    /// Additional remittance lines (`AddtlRmtInf`, at most 3 of 140 characters).
    pub additional_info: Vec<String>,
}

/// Optional `RmtInf` child.
pub fn opt_remittance<'d, N: Node<'d>>(el: N, at: &At) -> Result<Option<Remittance>, DecodeError> {
    let Some(r) = el.child("RmtInf") else { return Ok(None) };
    let at = at.child("RmtInf", None);
    let mut out = Remittance::default();
    for (i, u) in r.children_named("Ustrd").enumerate() {
        out.unstructured.push(check_text(u.text(), &at.child("Ustrd", Some(i + 1)), 140)?);
    }
    // A `CreditorRef` is about 3 KB: each is filled in its place in the vector, sized once.
    out.creditor_refs.reserve_exact(r.children_named("Strd").count());
    for (i, s) in r.children_named("Strd").enumerate() {
        let s_at = at.child("Strd", Some(i + 1));
        out.creditor_refs.push(CreditorRef::default());
        let Some(cref) = out.creditor_refs.last_mut() else { break };
        if let Some(d) = s.child("RfrdDocInf") {
            // Indexed when the block refers to more than one document, so paths are exact.
            let many = s.children_named("RfrdDocInf").nth(1).is_some();
            let d_at = s_at.child("RfrdDocInf", many.then_some(1));
            if let Some(tp) = d.child("Tp") {
                let t_at = d_at.child("Tp", None);
                let cp = req(tp, &t_at, "CdOrPrtry")?;
                let cp_at = t_at.child("CdOrPrtry", None);
                let kind = decode_choice(cp, &cp_at, 4)?;
                check_code(&kind, &cp_at, "document type", is_document_type)?;
                cref.document_kind = Some(kind);
                cref.document_issuer = opt_text(tp, &t_at, "Issr", 35)?;
            }
            cref.document_number = opt_text(d, &d_at, "Nb", 35)?;
            cref.document_date = opt_date(d, &d_at, "RltdDt")?;
            cref.document_lines = document_lines(d, &d_at)?;
        }
        if let Some(c) = s.child("CdtrRefInf") {
            let c_at = s_at.child("CdtrRefInf", None);
            if let Some(tp) = c.child("Tp") {
                let t_at = c_at.child("Tp", None);
                let cp = req(tp, &t_at, "CdOrPrtry")?;
                let cp_at = t_at.child("CdOrPrtry", None);
                let kind = decode_choice(cp, &cp_at, 4)?;
                check_code(&kind, &cp_at, "creditor reference type", is_creditor_reference_type)?;
                cref.kind = Some(kind);
                cref.issuer = opt_text(tp, &t_at, "Issr", 35)?;
            }
            cref.reference = opt_text(c, &c_at, "Ref", 35)?;
        }
        cref.further_documents = further_documents(s, &s_at)?;
        cref.document_amounts = opt_document_amounts(s, &s_at)?;
        cref.invoicer = opt_party(s, &s_at, "Invcr")?;
        cref.invoicee = opt_party(s, &s_at, "Invcee")?;
        cref.tax = opt_tax(s, &s_at)?;
        cref.garnishment = opt_garnishment(s, &s_at)?;
        cref.additional_info = additional_remittance(s, &s_at)?;
    }
    Ok(Some(out))
}

/// Write an `RmtInf` element.
pub fn encode_remittance(w: &mut Writer, r: &Remittance) {
    encode_remittance_parts(w, &r.unstructured, &r.creditor_refs);
}

/// Write an `RmtInf` element from its unstructured lines and structured blocks.
pub fn encode_remittance_parts(w: &mut Writer, unstructured: &[String], refs: &[CreditorRef]) {
    w.open("RmtInf");
    for u in unstructured {
        w.leaf("Ustrd", u);
    }
    for c in refs {
        encode_structured(w, c);
    }
    w.close("RmtInf");
}

/// Write one `Strd` element in `StructuredRemittanceInformation16` order.
fn encode_structured(w: &mut Writer, c: &CreditorRef) {
    w.open("Strd");
    let first = c.document_kind.is_some()
        || c.document_number.is_some()
        || c.document_date.is_some()
        || !c.document_lines.is_empty()
        || !c.further_documents.is_empty();
    if first {
        let d = ReferredDocument {
            kind: c.document_kind.clone(),
            issuer: c.document_issuer.clone(),
            number: c.document_number.clone(),
            date: c.document_date.clone(),
            lines: c.document_lines.clone(),
        };
        encode_document(w, &d);
    }
    for d in &c.further_documents {
        encode_document(w, d);
    }
    if let Some(a) = &c.document_amounts {
        encode_document_amounts(w, a);
    }
    if c.kind.is_some() || c.issuer.is_some() || c.reference.is_some() {
        w.open("CdtrRefInf");
        if let Some(k) = &c.kind {
            w.open("Tp");
            encode_choice(w, "CdOrPrtry", k);
            w.opt_leaf("Issr", c.issuer.as_deref()).close("Tp");
        }
        w.opt_leaf("Ref", c.reference.as_deref()).close("CdtrRefInf");
    }
    if let Some(p) = &c.invoicer {
        encode_party(w, "Invcr", p);
    }
    if let Some(p) = &c.invoicee {
        encode_party(w, "Invcee", p);
    }
    if let Some(t) = &c.tax {
        encode_tax(w, t);
    }
    if let Some(g) = &c.garnishment {
        encode_garnishment(w, g);
    }
    for l in &c.additional_info {
        w.leaf("AddtlRmtInf", l);
    }
    w.close("Strd");
}

/// Key fields of the original transaction (`OriginalTransactionReference28/32`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OriginalTxRef {
    /// Original interbank settlement amount.
    pub settlement_amount: Option<Amount>,
    /// Original interbank settlement date.
    pub settlement_date: Option<String>,
    /// Original payment type.
    pub payment_type: Option<PaymentType>,
    /// Original remittance information.
    pub remittance: Option<Remittance>,
    /// Original debtor.
    pub debtor: Option<PartyOrAgent>,
    /// Original debtor account.
    pub debtor_account: Option<Account>,
    /// Original debtor agent.
    pub debtor_agent: Option<Agent>,
    /// Original creditor agent.
    pub creditor_agent: Option<Agent>,
    /// Original creditor.
    pub creditor: Option<PartyOrAgent>,
    /// Original creditor account.
    pub creditor_account: Option<Account>,
}

/// Optional `OrgnlTxRef` child.
pub fn opt_original_tx_ref<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<Option<OriginalTxRef>, DecodeError> {
    let Some(r) = el.child("OrgnlTxRef") else { return Ok(None) };
    let at = at.child("OrgnlTxRef", None);
    Ok(Some(OriginalTxRef {
        settlement_amount: opt_amount(r, &at, "IntrBkSttlmAmt")?,
        settlement_date: opt_date(r, &at, "IntrBkSttlmDt")?,
        payment_type: opt_payment_type(r, &at)?,
        remittance: opt_remittance(r, &at)?,
        debtor: opt_party_or_agent(r, &at, "Dbtr")?,
        debtor_account: opt_account(r, &at, "DbtrAcct")?,
        debtor_agent: opt_agent(r, &at, "DbtrAgt")?,
        creditor_agent: opt_agent(r, &at, "CdtrAgt")?,
        creditor: opt_party_or_agent(r, &at, "Cdtr")?,
        creditor_account: opt_account(r, &at, "CdtrAcct")?,
    }))
}

/// Write an `OrgnlTxRef` element.
pub fn encode_original_tx_ref(w: &mut Writer, r: &OriginalTxRef) {
    w.open("OrgnlTxRef");
    encode_opt_amount(w, "IntrBkSttlmAmt", r.settlement_amount.as_ref());
    w.opt_leaf("IntrBkSttlmDt", r.settlement_date.as_deref());
    if let Some(p) = &r.payment_type {
        encode_payment_type(w, p, true);
    }
    if let Some(rm) = &r.remittance {
        encode_remittance(w, rm);
    }
    if let Some(d) = &r.debtor {
        encode_party_or_agent(w, "Dbtr", d);
    }
    encode_opt_account(w, "DbtrAcct", r.debtor_account.as_ref());
    encode_opt_agent(w, "DbtrAgt", r.debtor_agent.as_ref());
    encode_opt_agent(w, "CdtrAgt", r.creditor_agent.as_ref());
    if let Some(c) = &r.creditor {
        encode_party_or_agent(w, "Cdtr", c);
    }
    encode_opt_account(w, "CdtrAcct", r.creditor_account.as_ref());
    w.close("OrgnlTxRef");
}

/// The identifiers of an original transaction that follow-up messages repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OriginalIds {
    /// Original group (`OrgnlGrpInf`).
    pub group: Option<OriginalGroup>,
    /// Original instruction id.
    pub instr_id: Option<String>,
    /// Original end-to-end id.
    pub end_to_end_id: Option<String>,
    /// Original transaction id.
    pub tx_id: Option<String>,
    /// Original UETR.
    pub uetr: Option<String>,
    /// Original clearing system reference.
    pub clearing_ref: Option<String>,
}

/// Decode the original-id leaves of `el`.
pub fn decode_original_ids<'d, N: Node<'d>>(el: N, at: &At) -> Result<OriginalIds, DecodeError> {
    Ok(OriginalIds {
        group: opt_original_group(el, at, "OrgnlGrpInf")?,
        instr_id: opt_text(el, at, "OrgnlInstrId", 35)?,
        end_to_end_id: opt_text(el, at, "OrgnlEndToEndId", 35)?,
        tx_id: opt_text(el, at, "OrgnlTxId", 35)?,
        uetr: opt_uuid(el, at, "OrgnlUETR")?,
        clearing_ref: opt_text(el, at, "OrgnlClrSysRef", 35)?,
    })
}

/// Write `OrgnlGrpInf`, `OrgnlInstrId`, `OrgnlEndToEndId`, `OrgnlTxId`, then UETR and
/// clearing reference in the order the message wants (`uetr_first`: UETR before ClrSysRef).
pub fn encode_original_ids(w: &mut Writer, ids: &OriginalIds, uetr_first: bool) {
    if let Some(g) = &ids.group {
        encode_original_group(w, "OrgnlGrpInf", g);
    }
    w.opt_leaf("OrgnlInstrId", ids.instr_id.as_deref());
    w.opt_leaf("OrgnlEndToEndId", ids.end_to_end_id.as_deref());
    w.opt_leaf("OrgnlTxId", ids.tx_id.as_deref());
    if uetr_first {
        w.opt_leaf("OrgnlUETR", ids.uetr.as_deref());
        w.opt_leaf("OrgnlClrSysRef", ids.clearing_ref.as_deref());
    } else {
        w.opt_leaf("OrgnlClrSysRef", ids.clearing_ref.as_deref());
        w.opt_leaf("OrgnlUETR", ids.uetr.as_deref());
    }
}

/// A settlement instruction (`SettlementInstruction7/8`): method and clearing system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Settlement {
    /// Method (INDA, INGA, COVE, CLRG).
    pub method: String,
    /// Clearing system (`ClrSys/Cd` or `Prtry`).
    pub clearing_system: Option<CodeChoice>,
}

/// Decode a mandatory `SttlmInf` child.
pub fn req_settlement<'d, N: Node<'d>>(el: N, at: &At) -> Result<Settlement, DecodeError> {
    let s = req(el, at, "SttlmInf")?;
    let at = at.child("SttlmInf", None);
    Ok(Settlement {
        method: req_checked(s, &at, "SttlmMtd", "settlement method", |m| {
            matches!(m, "INDA" | "INGA" | "COVE" | "CLRG")
        })?,
        clearing_system: opt_choice(s, &at, "ClrSys", 3)?,
    })
}

/// Write a `SttlmInf` element.
pub fn encode_settlement(w: &mut Writer, s: &Settlement) {
    w.open("SttlmInf").leaf("SttlmMtd", &s.method);
    encode_opt_choice(w, "ClrSys", s.clearing_system.as_ref());
    w.close("SttlmInf");
}
