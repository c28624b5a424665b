//! Building blocks shared by the messages: amounts, agents, parties, accounts, proxies, and
//! the facet checks of the XSD simple types they use.
//!
//! Amounts are `rust_decimal` only while crossing the XML edge; inside they are integer minor
//! units (`amount_minor: u64`) with the currency's own exponent.

use crate::error::{DecodeError, ErrorKind};
use crate::xml::{Element, Writer};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// The element path being decoded, for precise errors.
#[derive(Debug)]
pub struct At {
    path: String,
}

impl At {
    /// A root path.
    pub fn root(name: &str) -> Self {
        At { path: format!("/{name}") }
    }

    /// The path as text.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A child path, `[i]` (1-based) appended when `index` is given.
    pub fn child(&self, name: &str, index: Option<usize>) -> At {
        match index {
            Some(i) => At { path: format!("{}/{}[{}]", self.path, name, i) },
            None => At { path: format!("{}/{}", self.path, name) },
        }
    }

    /// An error at this path.
    pub fn err(&self, kind: ErrorKind) -> DecodeError {
        DecodeError::new(&self.path, kind)
    }

    /// An error at child `name` of this path.
    pub fn err_at(&self, name: &str, kind: ErrorKind) -> DecodeError {
        DecodeError::new(&format!("{}/{}", self.path, name), kind)
    }
}

/// Mandatory child element.
pub fn req<'a>(el: &'a Element, at: &At, name: &str) -> Result<&'a Element, DecodeError> {
    el.child(name).ok_or_else(|| at.err_at(name, ErrorKind::Missing))
}

/// Mandatory text child with a maximum length (`MaxNNText`).
pub fn req_text(el: &Element, at: &At, name: &str, max: usize) -> Result<String, DecodeError> {
    let child = req(el, at, name)?;
    check_text(&child.text, &at.child(name, None), max)
}

/// Optional text child with a maximum length.
pub fn opt_text(
    el: &Element,
    at: &At,
    name: &str,
    max: usize,
) -> Result<Option<String>, DecodeError> {
    match el.child(name) {
        Some(child) => check_text(&child.text, &at.child(name, None), max).map(Some),
        None => Ok(None),
    }
}

/// Check a `MaxNNText` value: 1 to `max` characters.
pub fn check_text(text: &str, at: &At, max: usize) -> Result<String, DecodeError> {
    let n = text.chars().count();
    if n == 0 {
        return Err(at.err(ErrorKind::Invalid("empty, at least 1 character".into())));
    }
    if n > max {
        return Err(at.err(ErrorKind::Invalid(format!("{n} characters, at most {max}"))));
    }
    Ok(text.to_string())
}

/// Optional code child that must match `pattern_ok`.
pub fn opt_checked(
    el: &Element,
    at: &At,
    name: &str,
    what: &str,
    ok: fn(&str) -> bool,
) -> Result<Option<String>, DecodeError> {
    match el.child(name) {
        Some(child) if ok(&child.text) => Ok(Some(child.text.clone())),
        Some(child) => Err(
            at.err_at(name, ErrorKind::Invalid(format!("{:?} is not a valid {what}", child.text)))
        ),
        None => Ok(None),
    }
}

/// Mandatory code child that must match `ok`.
pub fn req_checked(
    el: &Element,
    at: &At,
    name: &str,
    what: &str,
    ok: fn(&str) -> bool,
) -> Result<String, DecodeError> {
    opt_checked(el, at, name, what, ok)?.ok_or_else(|| at.err_at(name, ErrorKind::Missing))
}

/// `BICFIDec2014Identifier`: `[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?`.
pub fn is_bic(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() == 8 || b.len() == 11)
        && b.iter().enumerate().all(|(i, c)| {
            if (4..6).contains(&i) {
                c.is_ascii_uppercase()
            } else {
                c.is_ascii_uppercase() || c.is_ascii_digit()
            }
        })
}

/// `IBAN2007Identifier`: `[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}`.
pub fn is_iban(s: &str) -> bool {
    let b = s.as_bytes();
    (5..=34).contains(&b.len())
        && b.iter().enumerate().all(|(i, c)| match i {
            0 | 1 => c.is_ascii_uppercase(),
            2 | 3 => c.is_ascii_digit(),
            _ => c.is_ascii_alphanumeric(),
        })
}

/// `UUIDv4Identifier`: lowercase-hex UUID version 4, variant 8/9/a/b.
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    b.iter().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => *c == b'-',
        14 => *c == b'4',
        19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
        _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
    })
}

/// `ISODate`: `YYYY-MM-DD` with a real month and day.
pub fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(_), Some(m), Some(d)) => (1..=12).contains(&m) && (1..=31).contains(&d),
        _ => false,
    }
}

/// `ISODateTime`: `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`.
pub fn is_iso_datetime(s: &str) -> bool {
    let Some((date, time)) = s.split_once('T') else { return false };
    if !is_iso_date(date) {
        return false;
    }
    let t = time.as_bytes();
    if t.len() < 8 || t.get(2) != Some(&b':') || t.get(5) != Some(&b':') {
        return false;
    }
    let digits =
        |r: std::ops::Range<usize>| t.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if !(digits(0..2) && digits(3..5) && digits(6..8)) {
        return false;
    }
    let mut rest = t.get(8..).unwrap_or_default();
    if rest.first() == Some(&b'.') {
        let n = rest.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = rest.get(1 + n..).unwrap_or_default();
    }
    match rest {
        [] | [b'Z'] => true,
        [sign, h1, h2, b':', m1, m2] => {
            matches!(sign, b'+' | b'-') && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// `ActiveCurrencyCode`: three uppercase letters.
pub fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|c| c.is_ascii_uppercase())
}

/// A three-letter ISO 4217 currency. The default is `XXX`, ISO's "no currency".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Default for Currency {
    fn default() -> Self {
        Currency(*b"XXX")
    }
}

impl Currency {
    /// Parse three uppercase ASCII letters.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        match b {
            [a, b, c] if is_currency(s) => Some(Currency([*a, *b, *c])),
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Minor-unit exponent (ISO 4217): 2 for most, 0 for JPY/KRW/..., 3 for BHD/KWD/...
    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            _ => 2,
        }
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount in integer minor units of its currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Amount {
    /// Minor units (cents for USD/EUR/BRL).
    pub minor: u64,
    /// Currency; its exponent defines the minor unit.
    pub currency: Currency,
}

impl Amount {
    /// Decimal text for XML (`12.30`).
    pub fn to_decimal_string(&self) -> String {
        let d = Decimal::from_i128_with_scale(i128::from(self.minor), self.currency.exponent());
        d.to_string()
    }
}

/// Decode an `ActiveCurrencyAndAmount` element: `<X Ccy="EUR">12.30</X>`.
///
/// Enforces the XSD facets (at most 5 fraction digits, 18 digits in all, not negative) and the
/// currency's own exponent: an amount with more fraction digits than the currency has is
/// refused rather than rounded.
pub fn decode_amount(el: &Element, at: &At) -> Result<Amount, DecodeError> {
    let ccy_text =
        el.attr("Ccy").ok_or_else(|| at.err(ErrorKind::Invalid("Ccy attribute missing".into())))?;
    let currency = Currency::parse(ccy_text).ok_or_else(|| {
        at.err(ErrorKind::Invalid(format!("{ccy_text:?} is not a currency code")))
    })?;
    let text = el.text.trim();
    if text.is_empty()
        || !text.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        || text.bytes().filter(|c| *c == b'.').count() > 1
    {
        return Err(at.err(ErrorKind::Invalid(format!("{text:?} is not a decimal amount"))));
    }
    let fraction = text.split_once('.').map_or(0, |(_, f)| f.len());
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if fraction > 5 {
        return Err(at.err(ErrorKind::Invalid(format!("{fraction} fraction digits, at most 5"))));
    }
    if digits > 18 {
        return Err(at.err(ErrorKind::Invalid(format!("{digits} digits, at most 18"))));
    }
    let d = Decimal::from_str(text)
        .map_err(|e| at.err(ErrorKind::Invalid(format!("{text:?}: {e}"))))?;
    let exp = currency.exponent();
    let scaled = d
        .checked_mul(Decimal::from(10u64.pow(exp)))
        .ok_or_else(|| at.err(ErrorKind::Invalid("amount out of range".into())))?;
    if !scaled.fract().is_zero() {
        return Err(at.err(ErrorKind::Invalid(format!(
            "{text} has more fraction digits than {currency} allows ({exp})"
        ))));
    }
    let minor =
        scaled.to_u64().ok_or_else(|| at.err(ErrorKind::Invalid("amount out of range".into())))?;
    Ok(Amount { minor, currency })
}

/// Write an amount element.
pub fn encode_amount(w: &mut Writer, name: &str, amount: &Amount) {
    w.leaf_with(name, &[("Ccy", amount.currency.as_str())], &amount.to_decimal_string());
}

/// A financial institution (`BranchAndFinancialInstitutionIdentification6`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Agent {
    /// BIC (`BICFI`).
    pub bic: Option<String>,
    /// Clearing system code (`ClrSysMmbId/ClrSysId/Cd`), e.g. `USABA`.
    pub clearing_system: Option<String>,
    /// Clearing system member id (`ClrSysMmbId/MmbId`), e.g. an ABA routing number or ISPB.
    pub member_id: Option<String>,
    /// LEI.
    pub lei: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Other identification (`Othr/Id`).
    pub other_id: Option<String>,
}

impl Agent {
    /// An agent known by its BIC.
    pub fn bic(bic: &str) -> Self {
        Agent { bic: Some(bic.to_string()), ..Agent::default() }
    }

    /// Whether this agent designates the participant with `bic` or clearing `member_id`.
    pub fn is(&self, bic: &str, member_id: Option<&str>) -> bool {
        self.bic.as_deref() == Some(bic)
            || (member_id.is_some() && self.member_id.as_deref() == member_id)
    }
}

/// Decode an agent element.
pub fn decode_agent(el: &Element, at: &At) -> Result<Agent, DecodeError> {
    let fi_at = at.child("FinInstnId", None);
    let fi = req(el, at, "FinInstnId")?;
    let mut agent = Agent {
        bic: opt_checked(fi, &fi_at, "BICFI", "BIC", is_bic)?,
        lei: opt_text(fi, &fi_at, "LEI", 20)?,
        name: opt_text(fi, &fi_at, "Nm", 140)?,
        ..Agent::default()
    };
    if let Some(m) = fi.child("ClrSysMmbId") {
        let m_at = fi_at.child("ClrSysMmbId", None);
        agent.member_id = Some(req_text(m, &m_at, "MmbId", 35)?);
        if let Some(sys) = m.child("ClrSysId") {
            let s_at = m_at.child("ClrSysId", None);
            agent.clearing_system = match (sys.child("Cd"), sys.child("Prtry")) {
                (Some(_), _) => opt_text(sys, &s_at, "Cd", 5)?,
                (None, Some(_)) => opt_text(sys, &s_at, "Prtry", 35)?,
                (None, None) => {
                    return Err(s_at.err(ErrorKind::Invalid("choice needs Cd or Prtry".into())))
                }
            };
        }
    }
    if let Some(o) = fi.child("Othr") {
        agent.other_id = Some(req_text(o, &fi_at.child("Othr", None), "Id", 35)?);
    }
    Ok(agent)
}

/// Write an agent element.
pub fn encode_agent(w: &mut Writer, name: &str, a: &Agent) {
    w.open(name).open("FinInstnId");
    w.opt_leaf("BICFI", a.bic.as_deref());
    if let Some(m) = &a.member_id {
        w.open("ClrSysMmbId");
        if let Some(sys) = &a.clearing_system {
            w.open("ClrSysId").leaf("Cd", sys).close("ClrSysId");
        }
        w.leaf("MmbId", m).close("ClrSysMmbId");
    }
    w.opt_leaf("LEI", a.lei.as_deref()).opt_leaf("Nm", a.name.as_deref());
    if let Some(o) = &a.other_id {
        w.open("Othr").leaf("Id", o).close("Othr");
    }
    w.close("FinInstnId").close(name);
}

/// A party (`PartyIdentification135`): the subset the switch routes and reports on.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Party {
    /// Name (personal data: redacted in `Debug`).
    pub name: Option<String>,
    /// Country of residence.
    pub country: Option<String>,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Party")
            .field("name", &self.name.as_ref().map(|_| "<redacted>"))
            .field("country", &self.country)
            .finish()
    }
}

/// Decode a party element.
pub fn decode_party(el: &Element, at: &At) -> Result<Party, DecodeError> {
    Ok(Party {
        name: opt_text(el, at, "Nm", 140)?,
        country: opt_checked(el, at, "CtryOfRes", "country code", |s| {
            s.len() == 2 && s.bytes().all(|c| c.is_ascii_uppercase())
        })?,
    })
}

/// Write a party element.
pub fn encode_party(w: &mut Writer, name: &str, p: &Party) {
    w.open(name);
    w.opt_leaf("Nm", p.name.as_deref()).opt_leaf("CtryOfRes", p.country.as_deref());
    w.close(name);
}

/// An account identifier.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum AccountId {
    /// IBAN.
    Iban(String),
    /// Other identification (`Othr/Id`, up to 34 characters).
    Other(String),
}

impl Default for AccountId {
    fn default() -> Self {
        AccountId::Other(NOT_PROVIDED.to_string())
    }
}

impl AccountId {
    /// The identifier text.
    pub fn as_str(&self) -> &str {
        match self {
            AccountId::Iban(s) | AccountId::Other(s) => s,
        }
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountId(<redacted>)")
    }
}

/// A proxy (alias) of an account (`ProxyAccountIdentification1`).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Proxy {
    /// Proxy type code (`Tp/Cd`, ExternalProxyAccountType1Code: TELE, EMAL, ...) if given.
    pub kind: Option<String>,
    /// The alias itself (personal data).
    pub id: String,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy").field("kind", &self.kind).field("id", &"<redacted>").finish()
    }
}

/// A cash account (`CashAccount38`) with an optional proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Account {
    /// Identification.
    pub id: AccountId,
    /// Account type code (`Tp/Cd`, e.g. CACC, SVGS).
    pub kind: Option<String>,
    /// Proxy (alias) of the account.
    pub proxy: Option<Proxy>,
}

/// The placeholder account id a debtor bank puts when it pays by alias and does not know the
/// creditor's account; the switch fills in the resolved account before forwarding.
pub const NOT_PROVIDED: &str = "NOTPROVIDED";

/// Decode a `CashAccount38`.
pub fn decode_account(el: &Element, at: &At) -> Result<Account, DecodeError> {
    let id_at = at.child("Id", None);
    let id_el = req(el, at, "Id")?;
    let id = match (id_el.child("IBAN"), id_el.child("Othr")) {
        (Some(iban), None) if is_iban(&iban.text) => AccountId::Iban(iban.text.clone()),
        (Some(iban), None) => {
            return Err(
                id_at.err_at("IBAN", ErrorKind::Invalid(format!("{:?} is not an IBAN", iban.text)))
            )
        }
        (None, Some(o)) => AccountId::Other(req_text(o, &id_at.child("Othr", None), "Id", 34)?),
        _ => {
            return Err(
                id_at.err(ErrorKind::Invalid("choice needs exactly one of IBAN, Othr".into()))
            )
        }
    };
    let kind = match el.child("Tp") {
        Some(tp) => opt_text(tp, &at.child("Tp", None), "Cd", 4)?,
        None => None,
    };
    let proxy = match el.child("Prxy") {
        Some(p) => {
            let p_at = at.child("Prxy", None);
            let kind = match p.child("Tp") {
                Some(tp) => match (tp.child("Cd"), tp.child("Prtry")) {
                    (Some(_), _) => opt_text(tp, &p_at.child("Tp", None), "Cd", 4)?,
                    (None, Some(_)) => opt_text(tp, &p_at.child("Tp", None), "Prtry", 35)?,
                    (None, None) => None,
                },
                None => None,
            };
            Some(Proxy { kind, id: req_text(p, &p_at, "Id", 2048)? })
        }
        None => None,
    };
    Ok(Account { id, kind, proxy })
}

/// Write a `CashAccount38`.
pub fn encode_account(w: &mut Writer, name: &str, a: &Account) {
    w.open(name).open("Id");
    match &a.id {
        AccountId::Iban(s) => {
            w.leaf("IBAN", s);
        }
        AccountId::Other(s) => {
            w.open("Othr").leaf("Id", s).close("Othr");
        }
    }
    w.close("Id");
    if let Some(k) = &a.kind {
        w.open("Tp").leaf("Cd", k).close("Tp");
    }
    if let Some(p) = &a.proxy {
        w.open("Prxy");
        if let Some(k) = &p.kind {
            w.open("Tp").leaf("Cd", k).close("Tp");
        }
        w.leaf("Id", &p.id).close("Prxy");
    }
    w.close(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(xml: &str) -> Result<Amount, DecodeError> {
        let (el, _) = crate::xml::parse(xml.as_bytes(), &crate::xml::Limits::default()).unwrap();
        decode_amount(&el, &At::root("Amt"))
    }

    #[test]
    fn amounts_become_minor_units() {
        assert_eq!(amount(r#"<A Ccy="USD">51.74</A>"#).unwrap().minor, 5174);
        assert_eq!(amount(r#"<A Ccy="USD">51.7</A>"#).unwrap().minor, 5170);
        assert_eq!(amount(r#"<A Ccy="JPY">1000</A>"#).unwrap().minor, 1000);
        assert_eq!(amount(r#"<A Ccy="KWD">1.005</A>"#).unwrap().minor, 1005);
        assert_eq!(amount(r#"<A Ccy="EUR">0.10000</A>"#).unwrap().minor, 10);
    }

    #[test]
    fn amounts_with_bad_facets_are_refused() {
        let e = amount(r#"<A Ccy="USD">1.000001</A>"#).unwrap_err();
        assert_eq!(e.to_string(), "/Amt: 6 fraction digits, at most 5");
        assert!(amount(r#"<A Ccy="USD">1.001</A>"#)
            .unwrap_err()
            .to_string()
            .contains("USD allows"));
        assert!(amount(r#"<A Ccy="USD">-1</A>"#).is_err());
        assert!(amount(r#"<A Ccy="usd">1</A>"#).is_err());
        assert!(amount(r#"<A>1</A>"#).is_err());
        assert!(amount(r#"<A Ccy="USD">1234567890123456789</A>"#).is_err());
    }

    #[test]
    fn amount_round_trip_text() {
        let a = Amount { minor: 5170, currency: Currency::parse("USD").unwrap() };
        assert_eq!(a.to_decimal_string(), "51.70");
        let j = Amount { minor: 12, currency: Currency::parse("JPY").unwrap() };
        assert_eq!(j.to_decimal_string(), "12");
    }

    #[test]
    fn patterns() {
        assert!(
            is_bic("BANKBRSP")
                && is_bic("BANKBRSPXXX")
                && !is_bic("bankbrsp")
                && !is_bic("BANK12SP")
        );
        assert!(is_iban("DE89370400440532013000") && !is_iban("D89370400440532013000"));
        assert!(is_uuid_v4("8a562c67-ca16-48ba-b074-65581be6f011"));
        assert!(!is_uuid_v4("8a562c67-ca16-38ba-b074-65581be6f011"));
        assert!(
            is_iso_datetime("2023-06-04T10:55:26-04:00")
                && is_iso_datetime("2023-06-04T10:55:26.123Z")
        );
        assert!(!is_iso_datetime("2023-06-04 10:55:26") && !is_iso_date("2023-13-01"));
    }
}
