//! Remittance details beyond the references: tax remittance (`Strd/TaxRmt`,
//! `TaxInformation7`) and related remittance information (`RltdRmtInf`,
//! `RemittanceLocation7`), so that a decoded and re-encoded message still carries them.
//!
//! Guarantees: decoding checks every facet of what it reads (text lengths, ISO dates, amounts,
//! the period and location-method code lists, numbers and rates) and names the element path
//! in its errors; encoding writes elements in XSD sequence order. Must not: do I/O or keep
//! anything beyond the typed value.

use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::reference::{decode_choice, encode_choice, encode_opt_choice, opt_choice, CodeChoice};
use crate::xml::{Node, Writer};

/// Tax remittance (`TaxInformation7`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaxRemittance {
    /// Tax creditor (`Cdtr`, `TaxParty1`: no authorisation).
    pub creditor: Option<TaxParty>,
    /// Tax debtor (`Dbtr`).
    pub debtor: Option<TaxParty>,
    /// Ultimate tax debtor (`UltmtDbtr`).
    pub ultimate_debtor: Option<TaxParty>,
    /// Administration zone (`AdmstnZone`).
    pub administration_zone: Option<String>,
    /// Reference number (`RefNb`).
    pub reference_number: Option<String>,
    /// Method (`Mtd`).
    pub method: Option<String>,
    /// Total taxable base amount (`TtlTaxblBaseAmt`).
    pub total_taxable_base: Option<Amount>,
    /// Total tax amount (`TtlTaxAmt`).
    pub total_tax: Option<Amount>,
    /// Date (`Dt`, ISO date).
    pub date: Option<String>,
    /// Sequence number (`SeqNb`, an integer of at most 18 digits), as written.
    pub sequence_number: Option<String>,
    /// Tax records (`Rcrd`).
    pub records: Vec<TaxRecord>,
}

/// A tax party (`TaxParty1` / `TaxParty2`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaxParty {
    /// Tax identification (`TaxId`).
    pub tax_id: Option<String>,
    /// Registration identification (`RegnId`).
    pub registration_id: Option<String>,
    /// Tax type (`TaxTp`).
    pub tax_type: Option<String>,
    /// Authorisation title (`Authstn/Titl`; debtors only).
    pub authorisation_title: Option<String>,
    /// Authorisation name (`Authstn/Nm`; debtors only).
    pub authorisation_name: Option<String>,
}

/// One tax record (`TaxRecord2`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaxRecord {
    /// Type (`Tp`).
    pub kind: Option<String>,
    /// Category (`Ctgy`).
    pub category: Option<String>,
    /// Category details (`CtgyDtls`).
    pub category_details: Option<String>,
    /// Debtor status (`DbtrSts`).
    pub debtor_status: Option<String>,
    /// Certificate id (`CertId`).
    pub certificate_id: Option<String>,
    /// Forms code (`FrmsCd`).
    pub forms_code: Option<String>,
    /// Period (`Prd`).
    pub period: Option<TaxPeriod>,
    /// Tax amount (`TaxAmt`).
    pub amount: Option<TaxAmount>,
    /// Additional information (`AddtlInf`).
    pub additional_info: Option<String>,
}

/// A tax period (`TaxPeriod2`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaxPeriod {
    /// Year (`Yr`, an ISO date).
    pub year: Option<String>,
    /// Period code (`Tp`: MM01-MM12, QTR1-QTR4, HLF1, HLF2).
    pub kind: Option<String>,
    /// From and to dates (`FrToDt/FrDt`, `FrToDt/ToDt`).
    pub from_to: Option<(String, String)>,
}

/// A tax amount (`TaxAmount2`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaxAmount {
    /// Rate (`Rate`, a percentage of at most 11 digits, 10 after the point), as written.
    pub rate: Option<String>,
    /// Taxable base amount (`TaxblBaseAmt`).
    pub taxable_base: Option<Amount>,
    /// Total amount (`TtlAmt`).
    pub total: Option<Amount>,
    /// Details (`Dtls`): an optional period and an amount each.
    pub details: Vec<(Option<TaxPeriod>, Amount)>,
}

/// Related remittance information (`RemittanceLocation7`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RelatedRemittance {
    /// Remittance identification (`RmtId`).
    pub id: Option<String>,
    /// Where the remittance advice is sent (`RmtLctnDtls`).
    pub locations: Vec<RemittanceLocation>,
}

/// One remittance location (`RemittanceLocationData1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RemittanceLocation {
    /// Method (`Mtd`: FAXI, EDIC, URID, EMAL, POST, SMSM).
    pub method: String,
    /// Electronic address (`ElctrncAdr`).
    pub electronic_address: Option<String>,
    /// Postal name and address (`PstlAdr/Nm`, `PstlAdr/Adr`).
    pub postal: Option<(String, PostalAddress)>,
}

/// Most `RltdRmtInf` per transaction (the XSD's `maxOccurs`).
pub const RELATED_REMITTANCE_MAX: usize = 10;

fn is_period_code(s: &str) -> bool {
    matches!(
        s,
        "MM01"
            | "MM02"
            | "MM03"
            | "MM04"
            | "MM05"
            | "MM06"
            | "MM07"
            | "MM08"
            | "MM09"
            | "MM10"
            | "MM11"
            | "MM12"
            | "QTR1"
            | "QTR2"
            | "QTR3"
            | "QTR4"
            | "HLF1"
            | "HLF2"
    )
}

/// `Number` (`xs:decimal`, `fractionDigits` 0, `totalDigits` 18): any decimal literal whose
/// value is an integer of at most 18 significant digits, so "12", "+12.0", "0012." and ".0"
/// are numbers, "12.5" and 19 significant digits are not. XML whitespace around it is allowed
/// (the XSD collapses it).
fn is_number(s: &str) -> bool {
    let s = s.trim_matches([' ', '\t', '\n', '\r']);
    let d = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = d.split_once('.').unwrap_or((d, ""));
    let significant = int.trim_start_matches('0').len();
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|c| c.is_ascii_digit())
        && frac.bytes().all(|c| c == b'0')
        && significant <= 18
}

/// `PercentageRate`: a decimal of at most 11 digits, 10 after the point, optionally signed.
fn is_percentage_rate(s: &str) -> bool {
    let d = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits = d.bytes().filter(u8::is_ascii_digit).count();
    let fraction = d.split_once('.').map_or(0, |(_, f)| f.len());
    d.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        && d.bytes().filter(|c| *c == b'.').count() <= 1
        && (1..=11).contains(&digits)
        && fraction <= 10
}

fn decode_tax_party<'d, N: Node<'d>>(
    el: N,
    at: &At,
    with_authorisation: bool,
) -> Result<TaxParty, DecodeError> {
    let mut p = TaxParty {
        tax_id: opt_text(el, at, "TaxId", 35)?,
        registration_id: opt_text(el, at, "RegnId", 35)?,
        tax_type: opt_text(el, at, "TaxTp", 35)?,
        ..TaxParty::default()
    };
    if with_authorisation {
        if let Some(a) = el.child("Authstn") {
            let a_at = at.child("Authstn", None);
            p.authorisation_title = opt_text(a, &a_at, "Titl", 35)?;
            p.authorisation_name = opt_text(a, &a_at, "Nm", 140)?;
        }
    }
    Ok(p)
}

fn opt_tax_party<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
    with_authorisation: bool,
) -> Result<Option<TaxParty>, DecodeError> {
    el.child(name)
        .map(|p| decode_tax_party(p, &at.child(name, None), with_authorisation))
        .transpose()
}

fn opt_period<'d, N: Node<'d>>(el: N, at: &At) -> Result<Option<TaxPeriod>, DecodeError> {
    let Some(p) = el.child("Prd") else { return Ok(None) };
    let at = at.child("Prd", None);
    let from_to = match p.child("FrToDt") {
        Some(f) => {
            let f_at = at.child("FrToDt", None);
            let from = req_checked(f, &f_at, "FrDt", "ISO date", is_iso_date)?;
            Some((from, req_checked(f, &f_at, "ToDt", "ISO date", is_iso_date)?))
        }
        None => None,
    };
    Ok(Some(TaxPeriod {
        year: opt_date(p, &at, "Yr")?,
        kind: opt_checked(p, &at, "Tp", "tax period code", is_period_code)?,
        from_to,
    }))
}

fn decode_tax_amount<'d, N: Node<'d>>(el: N, at: &At) -> Result<TaxAmount, DecodeError> {
    let mut details = Vec::new();
    for (i, d) in el.children_named("Dtls").enumerate() {
        let d_at = at.child("Dtls", Some(i + 1));
        details.push((opt_period(d, &d_at)?, req_amount(d, &d_at, "Amt")?));
    }
    Ok(TaxAmount {
        rate: opt_checked(el, at, "Rate", "percentage rate", is_percentage_rate)?,
        taxable_base: opt_amount(el, at, "TaxblBaseAmt")?,
        total: opt_amount(el, at, "TtlAmt")?,
        details,
    })
}

fn decode_record<'d, N: Node<'d>>(el: N, at: &At) -> Result<TaxRecord, DecodeError> {
    Ok(TaxRecord {
        kind: opt_text(el, at, "Tp", 35)?,
        category: opt_text(el, at, "Ctgy", 35)?,
        category_details: opt_text(el, at, "CtgyDtls", 35)?,
        debtor_status: opt_text(el, at, "DbtrSts", 35)?,
        certificate_id: opt_text(el, at, "CertId", 35)?,
        forms_code: opt_text(el, at, "FrmsCd", 35)?,
        period: opt_period(el, at)?,
        amount: el
            .child("TaxAmt")
            .map(|a| decode_tax_amount(a, &at.child("TaxAmt", None)))
            .transpose()?,
        additional_info: opt_text(el, at, "AddtlInf", 140)?,
    })
}

/// Optional `TaxRmt` child (of a `Strd` block).
pub fn opt_tax<'d, N: Node<'d>>(el: N, at: &At) -> Result<Option<TaxRemittance>, DecodeError> {
    let Some(t) = el.child("TaxRmt") else { return Ok(None) };
    let at = at.child("TaxRmt", None);
    let mut records = Vec::new();
    for (i, r) in t.children_named("Rcrd").enumerate() {
        records.push(decode_record(r, &at.child("Rcrd", Some(i + 1)))?);
    }
    Ok(Some(TaxRemittance {
        creditor: opt_tax_party(t, &at, "Cdtr", false)?,
        debtor: opt_tax_party(t, &at, "Dbtr", true)?,
        ultimate_debtor: opt_tax_party(t, &at, "UltmtDbtr", true)?,
        administration_zone: opt_text(t, &at, "AdmstnZone", 35)?,
        reference_number: opt_text(t, &at, "RefNb", 140)?,
        method: opt_text(t, &at, "Mtd", 35)?,
        total_taxable_base: opt_amount(t, &at, "TtlTaxblBaseAmt")?,
        total_tax: opt_amount(t, &at, "TtlTaxAmt")?,
        date: opt_date(t, &at, "Dt")?,
        sequence_number: opt_checked(t, &at, "SeqNb", "number", is_number)?,
        records,
    }))
}

fn encode_tax_party(w: &mut Writer, name: &str, p: &TaxParty, with_authorisation: bool) {
    w.open(name);
    w.opt_leaf("TaxId", p.tax_id.as_deref()).opt_leaf("RegnId", p.registration_id.as_deref());
    w.opt_leaf("TaxTp", p.tax_type.as_deref());
    if with_authorisation && (p.authorisation_title.is_some() || p.authorisation_name.is_some()) {
        w.open("Authstn").opt_leaf("Titl", p.authorisation_title.as_deref());
        w.opt_leaf("Nm", p.authorisation_name.as_deref()).close("Authstn");
    }
    w.close(name);
}

fn encode_period(w: &mut Writer, p: &TaxPeriod) {
    w.open("Prd").opt_leaf("Yr", p.year.as_deref()).opt_leaf("Tp", p.kind.as_deref());
    if let Some((from, to)) = &p.from_to {
        w.open("FrToDt").leaf("FrDt", from).leaf("ToDt", to).close("FrToDt");
    }
    w.close("Prd");
}

fn encode_record(w: &mut Writer, r: &TaxRecord) {
    w.open("Rcrd").opt_leaf("Tp", r.kind.as_deref()).opt_leaf("Ctgy", r.category.as_deref());
    w.opt_leaf("CtgyDtls", r.category_details.as_deref());
    w.opt_leaf("DbtrSts", r.debtor_status.as_deref());
    w.opt_leaf("CertId", r.certificate_id.as_deref());
    w.opt_leaf("FrmsCd", r.forms_code.as_deref());
    if let Some(p) = &r.period {
        encode_period(w, p);
    }
    if let Some(a) = &r.amount {
        w.open("TaxAmt").opt_leaf("Rate", a.rate.as_deref());
        encode_opt_amount(w, "TaxblBaseAmt", a.taxable_base.as_ref());
        encode_opt_amount(w, "TtlAmt", a.total.as_ref());
        for (period, amount) in &a.details {
            w.open("Dtls");
            if let Some(p) = period {
                encode_period(w, p);
            }
            encode_amount(w, "Amt", amount);
            w.close("Dtls");
        }
        w.close("TaxAmt");
    }
    w.opt_leaf("AddtlInf", r.additional_info.as_deref()).close("Rcrd");
}

/// Write a `TaxRmt` element in `TaxInformation7` order.
pub fn encode_tax(w: &mut Writer, t: &TaxRemittance) {
    w.open("TaxRmt");
    if let Some(p) = &t.creditor {
        encode_tax_party(w, "Cdtr", p, false);
    }
    if let Some(p) = &t.debtor {
        encode_tax_party(w, "Dbtr", p, true);
    }
    if let Some(p) = &t.ultimate_debtor {
        encode_tax_party(w, "UltmtDbtr", p, true);
    }
    w.opt_leaf("AdmstnZone", t.administration_zone.as_deref());
    w.opt_leaf("RefNb", t.reference_number.as_deref()).opt_leaf("Mtd", t.method.as_deref());
    encode_opt_amount(w, "TtlTaxblBaseAmt", t.total_taxable_base.as_ref());
    encode_opt_amount(w, "TtlTaxAmt", t.total_tax.as_ref());
    w.opt_leaf("Dt", t.date.as_deref()).opt_leaf("SeqNb", t.sequence_number.as_deref());
    for r in &t.records {
        encode_record(w, r);
    }
    w.close("TaxRmt");
}

/// All `RltdRmtInf` children of a transaction, at most [`RELATED_REMITTANCE_MAX`].
pub fn related<'d, N: Node<'d>>(el: N, at: &At) -> Result<Vec<RelatedRemittance>, DecodeError> {
    let mut out = Vec::new();
    for (i, r) in el.children_named("RltdRmtInf").enumerate() {
        if i >= RELATED_REMITTANCE_MAX {
            return Err(at.err_at(
                "RltdRmtInf",
                ErrorKind::Invalid(format!(
                    "more than {RELATED_REMITTANCE_MAX} related remittance blocks"
                )),
            ));
        }
        let r_at = at.child("RltdRmtInf", Some(i + 1));
        let mut locations = Vec::new();
        for (j, l) in r.children_named("RmtLctnDtls").enumerate() {
            let l_at = r_at.child("RmtLctnDtls", Some(j + 1));
            let postal = match l.child("PstlAdr") {
                Some(p) => {
                    let p_at = l_at.child("PstlAdr", None);
                    let name = req_text(p, &p_at, "Nm", 140)?;
                    let adr = req(p, &p_at, "Adr")?;
                    let adr = decode_address_element(adr, &p_at.child("Adr", None))?;
                    Some((name, adr))
                }
                None => None,
            };
            locations.push(RemittanceLocation {
                method: req_checked(
                    l,
                    &l_at,
                    "Mtd",
                    "remittance location method",
                    is_location_method,
                )?,
                electronic_address: opt_text(l, &l_at, "ElctrncAdr", 2048)?,
                postal,
            });
        }
        let id = opt_text(r, &r_at, "RmtId", 35)?;
        // pain.001.001.03 (`RemittanceLocation2`) gives at most one location, in flat fields.
        if let Some(l) = location_v03(r, &r_at)? {
            locations.push(l);
        }
        out.push(RelatedRemittance { id, locations });
    }
    Ok(out)
}

fn is_location_method(s: &str) -> bool {
    matches!(s, "FAXI" | "EDIC" | "URID" | "EMAL" | "POST" | "SMSM")
}

/// The location of a pain.001.001.03 `RltdRmtInf` (`RmtLctnMtd`, `RmtLctnElctrncAdr`,
/// `RmtLctnPstlAdr`), read only when it names its method.
fn location_v03<'d, N: Node<'d>>(r: N, at: &At) -> Result<Option<RemittanceLocation>, DecodeError> {
    let what = "remittance location method";
    let Some(method) = opt_checked(r, at, "RmtLctnMtd", what, is_location_method)? else {
        return Ok(None);
    };
    let postal = match r.child("RmtLctnPstlAdr") {
        Some(p) => {
            let p_at = at.child("RmtLctnPstlAdr", None);
            let name = req_text(p, &p_at, "Nm", 140)?;
            let adr = decode_address_element(req(p, &p_at, "Adr")?, &p_at.child("Adr", None))?;
            Some((name, adr))
        }
        None => None,
    };
    Ok(Some(RemittanceLocation {
        method,
        electronic_address: opt_text(r, at, "RmtLctnElctrncAdr", 2048)?,
        postal,
    }))
}

/// Write the `RltdRmtInf` elements of a transaction.
pub fn encode_related(w: &mut Writer, related: &[RelatedRemittance]) {
    for r in related {
        w.open("RltdRmtInf").opt_leaf("RmtId", r.id.as_deref());
        for l in &r.locations {
            w.open("RmtLctnDtls").leaf("Mtd", &l.method);
            w.opt_leaf("ElctrncAdr", l.electronic_address.as_deref());
            if let Some((name, adr)) = &l.postal {
                w.open("PstlAdr").leaf("Nm", name);
                encode_address_named(w, "Adr", adr);
                w.close("PstlAdr");
            }
            w.close("RmtLctnDtls");
        }
        w.close("RltdRmtInf");
    }
}

/// Most repetitions read of any unbounded list inside one structured remittance block
/// (`RfrdDocInf`, `DscntApldAmt`, `TaxAmt`, `AdjstmntAmtAndRsn`): the XSD sets no bound, the
/// codec does.
pub const STRUCTURED_LIST_MAX: usize = 50;

/// Most `AddtlRmtInf` lines per structured block (the XSD's `maxOccurs`).
pub const ADDITIONAL_REMITTANCE_MAX: usize = 3;

/// A referred document (`ReferredDocumentInformation7`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ReferredDocument {
    /// Document type (`Tp/CdOrPrtry`, e.g. code CINV).
    pub kind: Option<CodeChoice>,
    /// Issuer of the document type (`Tp/Issr`).
    pub issuer: Option<String>,
    /// Document number (`Nb`).
    pub number: Option<String>,
    /// Document date (`RltdDt`, ISO date).
    pub date: Option<String>,
    /// Document lines (`LineDtls`, at most [`STRUCTURED_LIST_MAX`]).
    pub lines: Vec<DocumentLine>,
}

/// One document line (`DocumentLineInformation1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DocumentLine {
    /// Line identifications (`Id`, at least one, at most [`STRUCTURED_LIST_MAX`]).
    pub ids: Vec<DocumentLineId>,
    /// Description (`Desc`, at most 2048 characters).
    pub description: Option<String>,
    /// Line amounts (`Amt`, `RemittanceAmount3`: the same parts as [`DocumentAmounts`]).
    pub amounts: Option<DocumentAmounts>,
}

/// A document line identification (`DocumentLineIdentification1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DocumentLineId {
    /// Line type (`Tp/CdOrPrtry`).
    pub kind: Option<CodeChoice>,
    /// Issuer of the line type (`Tp/Issr`).
    pub issuer: Option<String>,
    /// Line number (`Nb`).
    pub number: Option<String>,
    /// Line date (`RltdDt`, ISO date).
    pub date: Option<String>,
}

/// An amount with an optional type (`DiscountAmountAndType1`, `TaxAmountAndType1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TypedAmount {
    /// Type (`Tp`: external code of at most 4 characters, or proprietary text).
    pub kind: Option<CodeChoice>,
    /// Amount (`Amt`).
    pub amount: Amount,
}

/// An adjustment of the document amount (`DocumentAdjustment1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Adjustment {
    /// Amount (`Amt`).
    pub amount: Amount,
    /// Credit or debit (`CdtDbtInd`: CRDT, DBIT).
    pub credit_debit: Option<String>,
    /// Reason (`Rsn`, at most 4 characters).
    pub reason: Option<String>,
    /// Additional information (`AddtlInf`).
    pub additional_info: Option<String>,
}

/// Referred document amounts (`RfrdDocAmt`, `RemittanceAmount2`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DocumentAmounts {
    /// Due payable amount (`DuePyblAmt`).
    pub due_payable: Option<Amount>,
    /// Discounts applied (`DscntApldAmt`).
    pub discounts: Vec<TypedAmount>,
    /// Credit note amount (`CdtNoteAmt`).
    pub credit_note: Option<Amount>,
    /// Tax amounts (`TaxAmt`).
    pub taxes: Vec<TypedAmount>,
    /// Adjustments and their reasons (`AdjstmntAmtAndRsn`).
    pub adjustments: Vec<Adjustment>,
    /// Remitted amount (`RmtdAmt`).
    pub remitted: Option<Amount>,
}

/// Garnishment remittance (`GrnshmtRmt`, `Garnishment3`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Garnishment {
    /// Type (`Tp/CdOrPrtry`: external code of at most 4 characters, or proprietary text).
    pub kind: CodeChoice,
    /// Issuer of the type (`Tp/Issr`).
    pub issuer: Option<String>,
    /// Garnishee (`Grnshee`).
    pub garnishee: Option<Party>,
    /// Garnishment administrator (`GrnshmtAdmstr`).
    pub administrator: Option<Party>,
    /// Reference number (`RefNb`).
    pub reference_number: Option<String>,
    /// Date (`Dt`, ISO date).
    pub date: Option<String>,
    /// Remitted amount (`RmtdAmt`).
    pub remitted: Option<Amount>,
    /// Family medical insurance indicator (`FmlyMdclInsrncInd`).
    pub family_medical_insurance: Option<bool>,
    /// Employee termination indicator (`MplyeeTermntnInd`).
    pub employee_termination: Option<bool>,
}

/// All `name` children of `el`, refusing more than `max` with the element path.
fn capped<'d, N: Node<'d>>(el: N, at: &At, name: &str, max: usize) -> Result<Vec<N>, DecodeError> {
    let mut out = Vec::new();
    for c in el.children_named(name) {
        if out.len() >= max {
            return Err(at.err_at(
                name,
                ErrorKind::Invalid(format!("more than {max} {name} elements in one block")),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

/// Decode a `CdOrPrtry` type holder (`Tp`) with its optional `Issr`.
/// A code list to check a `Cd` against: its name (for the error) and its check.
type CodeList<'a> = Option<(&'a str, fn(&str) -> bool)>;

/// `codes`, when given, names the code list `Cd` must belong to and its check.
fn decode_typed<'d, N: Node<'d>>(
    tp: N,
    at: &At,
    codes: CodeList<'_>,
) -> Result<(CodeChoice, Option<String>), DecodeError> {
    let cp = req(tp, at, "CdOrPrtry")?;
    let cp_at = at.child("CdOrPrtry", None);
    let kind = decode_choice(cp, &cp_at, 4)?;
    if let Some((what, ok)) = codes {
        check_code(&kind, &cp_at, what, ok)?;
    }
    Ok((kind, opt_text(tp, at, "Issr", 35)?))
}

/// Refuse a `Cd` choice outside its code list, naming the `Cd` element under `at`.
pub fn check_code(
    kind: &CodeChoice,
    at: &At,
    what: &str,
    ok: fn(&str) -> bool,
) -> Result<(), DecodeError> {
    match kind {
        CodeChoice::Code(c) if !ok(c) => {
            Err(at.err_at("Cd", ErrorKind::Invalid(format!("{c:?} is not a valid {what}"))))
        }
        _ => Ok(()),
    }
}

/// `DocumentType6Code`: the type of a referred document.
pub fn is_document_type(s: &str) -> bool {
    matches!(
        s,
        "MSIN"
            | "CNFA"
            | "DNFA"
            | "CINV"
            | "CREN"
            | "DEBN"
            | "HIRI"
            | "SBIN"
            | "CMCN"
            | "SOAC"
            | "DISP"
            | "BOLD"
            | "VCHR"
            | "AROI"
            | "TSUT"
            | "PUOR"
    )
}

/// `DocumentType3Code`: the type of a creditor reference.
pub fn is_creditor_reference_type(s: &str) -> bool {
    matches!(s, "RADM" | "RPIN" | "FXDR" | "DISP" | "PUOR" | "SCOR")
}

/// The `Tp`, `Nb` and `RltdDt` children shared by documents and document lines.
fn decode_identity<'d, N: Node<'d>>(
    el: N,
    at: &At,
    codes: CodeList<'_>,
) -> Result<DocumentLineId, DecodeError> {
    let (kind, issuer) = match el.child("Tp") {
        Some(tp) => {
            let (k, i) = decode_typed(tp, &at.child("Tp", None), codes)?;
            (Some(k), i)
        }
        None => (None, None),
    };
    Ok(DocumentLineId {
        kind,
        issuer,
        number: opt_text(el, at, "Nb", 35)?,
        date: opt_date(el, at, "RltdDt")?,
    })
}

fn encode_identity(w: &mut Writer, id: &DocumentLineId) {
    if let Some(k) = &id.kind {
        w.open("Tp");
        encode_choice(w, "CdOrPrtry", k);
        w.opt_leaf("Issr", id.issuer.as_deref()).close("Tp");
    }
    w.opt_leaf("Nb", id.number.as_deref()).opt_leaf("RltdDt", id.date.as_deref());
}

/// The `LineDtls` children of a referred document.
pub fn document_lines<'d, N: Node<'d>>(el: N, at: &At) -> Result<Vec<DocumentLine>, DecodeError> {
    let mut out = Vec::new();
    for (i, l) in capped(el, at, "LineDtls", STRUCTURED_LIST_MAX)?.into_iter().enumerate() {
        let l_at = at.child("LineDtls", Some(i + 1));
        let mut ids = Vec::new();
        for (j, id) in capped(l, &l_at, "Id", STRUCTURED_LIST_MAX)?.into_iter().enumerate() {
            ids.push(decode_identity(id, &l_at.child("Id", Some(j + 1)), None)?);
        }
        if ids.is_empty() {
            return Err(l_at.err_at("Id", ErrorKind::Missing));
        }
        out.push(DocumentLine {
            ids,
            description: opt_text(l, &l_at, "Desc", 2048)?,
            amounts: l
                .child("Amt")
                .map(|a| decode_amounts(a, &l_at.child("Amt", None)))
                .transpose()?,
        });
    }
    Ok(out)
}

/// Write the `LineDtls` elements of a referred document.
pub fn encode_document_lines(w: &mut Writer, lines: &[DocumentLine]) {
    for l in lines {
        w.open("LineDtls");
        for id in &l.ids {
            w.open("Id");
            encode_identity(w, id);
            w.close("Id");
        }
        w.opt_leaf("Desc", l.description.as_deref());
        if let Some(a) = &l.amounts {
            encode_amounts_named(w, "Amt", a);
        }
        w.close("LineDtls");
    }
}

/// Decode one `RfrdDocInf` element.
pub fn decode_document<'d, N: Node<'d>>(el: N, at: &At) -> Result<ReferredDocument, DecodeError> {
    let id = decode_identity(el, at, Some(("document type", is_document_type)))?;
    Ok(ReferredDocument {
        kind: id.kind,
        issuer: id.issuer,
        number: id.number,
        date: id.date,
        lines: document_lines(el, at)?,
    })
}

/// Write one `RfrdDocInf` element.
pub fn encode_document(w: &mut Writer, d: &ReferredDocument) {
    w.open("RfrdDocInf");
    let id = DocumentLineId {
        kind: d.kind.clone(),
        issuer: d.issuer.clone(),
        number: d.number.clone(),
        date: d.date.clone(),
    };
    encode_identity(w, &id);
    encode_document_lines(w, &d.lines);
    w.close("RfrdDocInf");
}

fn typed_amounts<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Vec<TypedAmount>, DecodeError> {
    let mut out = Vec::new();
    for (i, t) in capped(el, at, name, STRUCTURED_LIST_MAX)?.into_iter().enumerate() {
        let t_at = at.child(name, Some(i + 1));
        // pain.001.001.03 (`RemittanceAmount1`) has a bare amount here, without type.
        if t.attr("Ccy").is_some() {
            out.push(TypedAmount { kind: None, amount: decode_amount(t, &t_at)? });
            continue;
        }
        out.push(TypedAmount {
            kind: opt_choice(t, &t_at, "Tp", 4)?,
            amount: req_amount(t, &t_at, "Amt")?,
        });
    }
    Ok(out)
}

/// Optional `RfrdDocAmt` child.
pub fn opt_document_amounts<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<Option<DocumentAmounts>, DecodeError> {
    el.child("RfrdDocAmt").map(|a| decode_amounts(a, &at.child("RfrdDocAmt", None))).transpose()
}

/// Decode a `RemittanceAmount2` / `RemittanceAmount3` element.
fn decode_amounts<'d, N: Node<'d>>(a: N, at: &At) -> Result<DocumentAmounts, DecodeError> {
    let mut adjustments = Vec::new();
    let adj = capped(a, at, "AdjstmntAmtAndRsn", STRUCTURED_LIST_MAX)?;
    for (i, j) in adj.into_iter().enumerate() {
        let j_at = at.child("AdjstmntAmtAndRsn", Some(i + 1));
        adjustments.push(Adjustment {
            amount: req_amount(j, &j_at, "Amt")?,
            credit_debit: opt_checked(j, &j_at, "CdtDbtInd", "credit/debit code", |s| {
                matches!(s, "CRDT" | "DBIT")
            })?,
            reason: opt_text(j, &j_at, "Rsn", 4)?,
            additional_info: opt_text(j, &j_at, "AddtlInf", 140)?,
        });
    }
    Ok(DocumentAmounts {
        due_payable: opt_amount(a, at, "DuePyblAmt")?,
        discounts: typed_amounts(a, at, "DscntApldAmt")?,
        credit_note: opt_amount(a, at, "CdtNoteAmt")?,
        taxes: typed_amounts(a, at, "TaxAmt")?,
        adjustments,
        remitted: opt_amount(a, at, "RmtdAmt")?,
    })
}

fn encode_typed_amount(w: &mut Writer, name: &str, t: &TypedAmount) {
    w.open(name);
    encode_opt_choice(w, "Tp", t.kind.as_ref());
    encode_amount(w, "Amt", &t.amount);
    w.close(name);
}

/// Write a `RfrdDocAmt` element in `RemittanceAmount2` order.
pub fn encode_document_amounts(w: &mut Writer, a: &DocumentAmounts) {
    encode_amounts_named(w, "RfrdDocAmt", a);
}

/// Write a `RemittanceAmount2` / `RemittanceAmount3` element named `name`.
fn encode_amounts_named(w: &mut Writer, name: &str, a: &DocumentAmounts) {
    w.open(name);
    encode_opt_amount(w, "DuePyblAmt", a.due_payable.as_ref());
    for d in &a.discounts {
        encode_typed_amount(w, "DscntApldAmt", d);
    }
    encode_opt_amount(w, "CdtNoteAmt", a.credit_note.as_ref());
    for t in &a.taxes {
        encode_typed_amount(w, "TaxAmt", t);
    }
    for j in &a.adjustments {
        w.open("AdjstmntAmtAndRsn");
        encode_amount(w, "Amt", &j.amount);
        w.opt_leaf("CdtDbtInd", j.credit_debit.as_deref()).opt_leaf("Rsn", j.reason.as_deref());
        w.opt_leaf("AddtlInf", j.additional_info.as_deref()).close("AdjstmntAmtAndRsn");
    }
    encode_opt_amount(w, "RmtdAmt", a.remitted.as_ref());
    w.close(name);
}

/// `TrueFalseIndicator` (`xs:boolean`): true, false, 1 or 0.
fn opt_indicator<'d, N: Node<'d>>(el: N, at: &At, name: &str) -> Result<Option<bool>, DecodeError> {
    match el.child(name).map(|c| c.text().trim_matches([' ', '\t', '\n', '\r'])) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(other) => Err(at.err_at(
            name,
            ErrorKind::Invalid(format!("{other:?} is not a boolean (true, false, 1, 0)")),
        )),
    }
}

/// Optional `GrnshmtRmt` child.
pub fn opt_garnishment<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<Option<Garnishment>, DecodeError> {
    let Some(g) = el.child("GrnshmtRmt") else { return Ok(None) };
    let at = at.child("GrnshmtRmt", None);
    let (kind, issuer) = decode_typed(req(g, &at, "Tp")?, &at.child("Tp", None), None)?;
    Ok(Some(Garnishment {
        kind,
        issuer,
        garnishee: opt_party(g, &at, "Grnshee")?,
        administrator: opt_party(g, &at, "GrnshmtAdmstr")?,
        reference_number: opt_text(g, &at, "RefNb", 140)?,
        date: opt_date(g, &at, "Dt")?,
        remitted: opt_amount(g, &at, "RmtdAmt")?,
        family_medical_insurance: opt_indicator(g, &at, "FmlyMdclInsrncInd")?,
        employee_termination: opt_indicator(g, &at, "MplyeeTermntnInd")?,
    }))
}

/// Write a `GrnshmtRmt` element in `Garnishment3` order.
pub fn encode_garnishment(w: &mut Writer, g: &Garnishment) {
    w.open("GrnshmtRmt").open("Tp");
    encode_choice(w, "CdOrPrtry", &g.kind);
    w.opt_leaf("Issr", g.issuer.as_deref()).close("Tp");
    if let Some(p) = &g.garnishee {
        encode_party(w, "Grnshee", p);
    }
    if let Some(p) = &g.administrator {
        encode_party(w, "GrnshmtAdmstr", p);
    }
    w.opt_leaf("RefNb", g.reference_number.as_deref()).opt_leaf("Dt", g.date.as_deref());
    encode_opt_amount(w, "RmtdAmt", g.remitted.as_ref());
    let text = |b: Option<bool>| b.map(|b| if b { "true" } else { "false" });
    w.opt_leaf("FmlyMdclInsrncInd", text(g.family_medical_insurance));
    w.opt_leaf("MplyeeTermntnInd", text(g.employee_termination)).close("GrnshmtRmt");
}

/// The `RfrdDocInf` elements after the first, at most [`STRUCTURED_LIST_MAX`] in all.
pub fn further_documents<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<Vec<ReferredDocument>, DecodeError> {
    let docs = capped(el, at, "RfrdDocInf", STRUCTURED_LIST_MAX)?;
    let mut out = Vec::new();
    for (i, d) in docs.into_iter().enumerate().skip(1) {
        out.push(decode_document(d, &at.child("RfrdDocInf", Some(i + 1)))?);
    }
    Ok(out)
}

/// The `AddtlRmtInf` lines of a structured block, at most [`ADDITIONAL_REMITTANCE_MAX`].
pub fn additional_remittance<'d, N: Node<'d>>(el: N, at: &At) -> Result<Vec<String>, DecodeError> {
    let lines = capped(el, at, "AddtlRmtInf", ADDITIONAL_REMITTANCE_MAX)?;
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.into_iter().enumerate() {
        out.push(check_text(l.text(), &at.child("AddtlRmtInf", Some(i + 1)), 140)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_and_rate_facets() {
        assert!(is_number("123456789012345678") && !is_number("1234567890123456789"));
        assert!(is_number("-5") && !is_number("1.5") && !is_number(""));
        // Decimal forms whose value is an integer are numbers, as xmllint agrees.
        for ok in ["12.0", "12.", "+12.00", ".0", "-0012.000", " 12 ", "0000000000000000000001"] {
            assert!(is_number(ok), "{ok}");
        }
        assert!(is_number("123456789012345678.0"));
        for bad in [".", "+", "-.", "1.0.0", "12.01", "1e3", "1 2", "0x1"] {
            assert!(!is_number(bad), "{bad}");
        }
        assert!(is_percentage_rate("12.5") && is_percentage_rate("0.1234567890"));
        assert!(!is_percentage_rate("0.12345678901") && !is_percentage_rate("1.2.3"));
        assert!(is_period_code("QTR4") && !is_period_code("MM13"));
    }
}
