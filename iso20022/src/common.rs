//! Building blocks shared by the messages: amounts, agents, parties, accounts, proxies, and
//! the facet checks of the XSD simple types they use.
//!
//! Amounts are integer minor units (`minor: u64`) with the currency's own exponent; the XML
//! decimal text is converted digit by digit, never through a float.

use crate::error::{DecodeError, ErrorKind};
use crate::xml::{Node, Writer};
use std::fmt;

/// The element path being decoded, for precise errors.
///
/// Built lazily: a child path is a link to its parent plus a name, and the text
/// (`/Document/.../CdtTrfTxInf[2]/IntrBkSttlmAmt`) is only written when an error or
/// [`At::path`] needs it, so decoding a valid message allocates nothing for paths.
#[derive(Debug)]
pub struct At<'a> {
    base: Base<'a>,
    rendered: std::cell::OnceCell<String>,
}

#[derive(Debug)]
enum Base<'a> {
    /// `/first` or `/first/second`.
    Root(&'a str, Option<&'a str>),
    Child {
        parent: &'a At<'a>,
        name: &'a str,
        index: Option<usize>,
    },
}

impl<'a> At<'a> {
    /// A root path.
    pub fn root(name: &'a str) -> Self {
        At { base: Base::Root(name, None), rendered: std::cell::OnceCell::new() }
    }

    /// The path `/root/child`, owning no parent.
    pub fn root_child(root: &'a str, child: &'a str) -> Self {
        At { base: Base::Root(root, Some(child)), rendered: std::cell::OnceCell::new() }
    }

    /// The path as text.
    pub fn path(&self) -> &str {
        self.rendered.get_or_init(|| self.render())
    }

    fn write(&self, out: &mut String) {
        if let Some(p) = self.rendered.get() {
            out.push_str(p);
            return;
        }
        match &self.base {
            Base::Root(first, second) => {
                out.push('/');
                out.push_str(first);
                if let Some(s) = second {
                    out.push('/');
                    out.push_str(s);
                }
            }
            Base::Child { parent, name, index } => {
                parent.write(out);
                out.push('/');
                out.push_str(name);
                if let Some(i) = index {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write(&mut out);
        out
    }

    /// A child path, `[i]` (1-based) appended when `index` is given.
    pub fn child<'b>(&'b self, name: &'b str, index: Option<usize>) -> At<'b> {
        At { base: Base::Child { parent: self, name, index }, rendered: std::cell::OnceCell::new() }
    }

    /// An error at this path.
    pub fn err(&self, kind: ErrorKind) -> DecodeError {
        DecodeError { path: self.render(), kind }
    }

    /// An error at child `name` of this path.
    pub fn err_at(&self, name: &str, kind: ErrorKind) -> DecodeError {
        let mut path = self.render();
        path.push('/');
        path.push_str(name);
        DecodeError { path, kind }
    }
}

/// Mandatory child element.
pub fn req<'d, N: Node<'d>>(el: N, at: &At, name: &str) -> Result<N, DecodeError> {
    el.child(name).ok_or_else(|| at.err_at(name, ErrorKind::Missing))
}

/// Mandatory text child with a maximum length (`MaxNNText`).
pub fn req_text<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
    max: usize,
) -> Result<String, DecodeError> {
    let child = req(el, at, name)?;
    check_text_at(child.text(), at, name, max)
}

/// [`check_text`] for child `name` of `at`, building the path only on error.
fn check_text_at(text: &str, at: &At, name: &str, max: usize) -> Result<String, DecodeError> {
    if text.is_empty() {
        return Err(at.err_at(name, ErrorKind::Invalid("empty, at least 1 character".into())));
    }
    // Byte length bounds the character count from above: most values skip the count.
    if text.len() > max {
        let n = text.chars().count();
        if n > max {
            return Err(
                at.err_at(name, ErrorKind::Invalid(format!("{n} characters, at most {max}")))
            );
        }
    }
    Ok(text.to_string())
}

/// Optional text child with a maximum length.
pub fn opt_text<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
    max: usize,
) -> Result<Option<String>, DecodeError> {
    match el.child(name) {
        Some(child) => check_text_at(child.text(), at, name, max).map(Some),
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
pub fn opt_checked<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
    what: &str,
    ok: fn(&str) -> bool,
) -> Result<Option<String>, DecodeError> {
    match el.child(name) {
        Some(child) if ok(child.text()) => Ok(Some(child.text().to_string())),
        Some(child) => Err(at
            .err_at(name, ErrorKind::Invalid(format!("{:?} is not a valid {what}", child.text())))),
        None => Ok(None),
    }
}

/// Mandatory code child that must match `ok`.
pub fn req_checked<'d, N: Node<'d>>(
    el: N,
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

/// ISO 13616 check digits of an IBAN: the number formed by moving the first four characters
/// to the end and replacing each letter by 10..35 is 1 modulo 97. Checks a value that already
/// matches [`is_iban`]; any other character makes it false.
pub fn iban_check_digits_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    for c in b.iter().skip(4).chain(b.iter().take(4)) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            b'a'..=b'z' => u32::from(c - b'a') + 10,
            _ => return false,
        };
        rem = if v < 10 { (rem * 10 + v) % 97 } else { (rem * 100 + v) % 97 };
    }
    rem == 1
}

/// The IBAN check digits of an account, as an error at `path` (the account element's path,
/// e.g. `/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/CdtrAcct`). Not part of decoding: the
/// XSD only constrains the pattern, and official samples carry IBANs whose check digits fail;
/// a scheme that wants the check applies it to the decoded message (see
/// [`crate::pacs008::check_iban_digits`]). The error maps to AC03 / AC02 under `CdtrAcct` /
/// `DbtrAcct` and to AC01 elsewhere ([`DecodeError::reject`]).
pub fn check_account_iban(account: &Account, path: &str) -> Result<(), DecodeError> {
    match &account.id {
        AccountId::Iban(iban) if !iban_check_digits_ok(iban) => Err(DecodeError::new(
            &format!("{path}/Id/IBAN"),
            ErrorKind::Invalid("IBAN check digits are wrong (ISO 13616 modulo 97)".into()),
        )),
        _ => Ok(()),
    }
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
        (Some(y), Some(m), Some(d)) => {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => return false,
            };
            y >= 1 && (1..=days).contains(&d)
        }
        _ => false,
    }
}

/// `ISODateTime`: `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`, with real ranges (hour 00-23, or
/// 24:00:00 exactly; minute and second 00-59; zone offset at most 14:00).
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
    let two = |i: usize| -> u32 {
        let d = |j: usize| t.get(j).map_or(0, |c| u32::from(c.saturating_sub(b'0')));
        d(i) * 10 + d(i + 1)
    };
    let (h, m, sec) = (two(0), two(3), two(6));
    let mut rest = t.get(8..).unwrap_or_default();
    let mut fraction_zero = true;
    if rest.first() == Some(&b'.') {
        let n = rest.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        fraction_zero = rest.iter().skip(1).take(n).all(|c| *c == b'0');
        rest = rest.get(1 + n..).unwrap_or_default();
    }
    let time_ok =
        (h < 24 && m < 60 && sec < 60) || (h == 24 && m == 0 && sec == 0 && fraction_zero);
    time_ok
        && match rest {
            [] | [b'Z'] => true,
            [sign, h1, h2, b':', m1, m2] => {
                let zone = [h1, h2, m1, m2];
                matches!(sign, b'+' | b'-') && zone.iter().all(|c| c.is_ascii_digit()) && {
                    let zh = u32::from(*h1 - b'0') * 10 + u32::from(*h2 - b'0');
                    let zm = u32::from(*m1 - b'0') * 10 + u32::from(*m2 - b'0');
                    zm < 60 && (zh < 14 || (zh == 14 && zm == 0))
                }
            }
            _ => false,
        }
}

/// `CountryCode`: two uppercase letters.
pub fn is_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|c| c.is_ascii_uppercase())
}

/// `LEIIdentifier`: `[A-Z0-9]{18}[0-9]{2}`.
pub fn is_lei(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| {
            if i < 18 {
                c.is_ascii_uppercase() || c.is_ascii_digit()
            } else {
                c.is_ascii_digit()
            }
        })
}

/// `Max15NumericText`: 1 to 15 digits.
pub fn is_max15_numeric(s: &str) -> bool {
    (1..=15).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit())
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
        let exp = self.currency.exponent();
        if exp == 0 {
            return self.minor.to_string();
        }
        let unit = 10u64.pow(exp);
        format!("{}.{:0width$}", self.minor / unit, self.minor % unit, width = exp as usize)
    }
}

/// Decode an `ActiveCurrencyAndAmount` element: `<X Ccy="EUR">12.30</X>`.
///
/// Enforces the XSD facets (at most 5 fraction digits, 18 digits in all, not negative) and the
/// currency's own exponent: an amount with more fraction digits than the currency has is
/// refused rather than rounded.
pub fn decode_amount<'d, N: Node<'d>>(el: N, at: &At) -> Result<Amount, DecodeError> {
    let ccy_text =
        el.attr("Ccy").ok_or_else(|| at.err(ErrorKind::Invalid("Ccy attribute missing".into())))?;
    let currency = Currency::parse(ccy_text).ok_or_else(|| {
        at.err(ErrorKind::Invalid(format!("{ccy_text:?} is not a currency code")))
    })?;
    let text = el.text().trim();
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
    if digits == 0 {
        return Err(at.err(ErrorKind::Invalid(format!("{text:?} is not a decimal amount"))));
    }
    // Integer arithmetic on the digits (at most 18, so u128 cannot overflow): the amount in
    // minor units is the digits with the point moved `exp` places right; any non-zero digit
    // beyond the currency's exponent is refused, never rounded.
    let exp = currency.exponent();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((text, ""));
    let kept = frac_part.get(..frac_part.len().min(exp as usize)).unwrap_or_default();
    let dropped = frac_part.get(kept.len()..).unwrap_or_default();
    if dropped.bytes().any(|c| c != b'0') {
        return Err(at.err(ErrorKind::Invalid(format!(
            "{text} has more fraction digits than {currency} allows ({exp})"
        ))));
    }
    let mut minor: u128 = 0;
    for c in int_part.bytes().chain(kept.bytes()) {
        minor = minor * 10 + u128::from(c - b'0');
    }
    for _ in kept.len()..exp as usize {
        minor *= 10;
    }
    let minor = u64::try_from(minor)
        .map_err(|_| at.err(ErrorKind::Invalid("amount out of range".into())))?;
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
    /// Postal address (`FinInstnId/PstlAdr`).
    pub address: Option<PostalAddress>,
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
pub fn decode_agent<'d, N: Node<'d>>(el: N, at: &At) -> Result<Agent, DecodeError> {
    let mut agent = Agent::default();
    decode_agent_into(el, at, &mut agent)?;
    Ok(agent)
}

/// The children of `FinInstnId` the decoder reads, found in one pass.
const AGENT_FIELDS: [&str; 7] = ["BICFI", "BIC", "LEI", "Nm", "PstlAdr", "ClrSysMmbId", "Othr"];

/// [`decode_agent`] into `agent` (hot path: an agent is about 500 bytes, not worth moving
/// through a `Result`). Same checks in the same order; on error `agent` is left part-filled.
pub fn decode_agent_into<'d, N: Node<'d>>(
    el: N,
    at: &At,
    agent: &mut Agent,
) -> Result<(), DecodeError> {
    let fi_at = at.child("FinInstnId", None);
    let fi = req(el, at, "FinInstnId")?;
    let [bicfi, bic, lei, nm, adr, mmb, othr] = first_children(fi, &AGENT_FIELDS);
    // `BIC` is the 2009 messages' name (pain.001.001.03) for what later ones call `BICFI`.
    agent.bic = match checked_of(bicfi, &fi_at, "BICFI", "BIC", is_bic)? {
        Some(b) => Some(b),
        None => checked_of(bic, &fi_at, "BIC", "BIC", is_bic)?,
    };
    agent.lei = checked_of(lei, &fi_at, "LEI", "LEI", is_lei)?;
    agent.name = text_of(nm, &fi_at, "Nm", 140)?;
    agent.address = None;
    if let Some(a) = adr {
        let slot = agent.address.insert(PostalAddress::default());
        decode_address_into(a, &fi_at.child("PstlAdr", None), slot)?;
    }
    agent.member_id = None;
    agent.clearing_system = None;
    if let Some(m) = mmb {
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
    agent.other_id = match othr {
        Some(o) => Some(req_text(o, &fi_at.child("Othr", None), "Id", 35)?),
        None => None,
    };
    Ok(())
}

/// Decode the optional agent `c` (child `name` of the element at `at`) into `slot`.
pub fn opt_agent_into<'d, N: Node<'d>>(
    c: Option<N>,
    at: &At,
    name: &str,
    slot: &mut Option<Agent>,
) -> Result<(), DecodeError> {
    *slot = None;
    match c {
        Some(a) => decode_agent_into(a, &at.child(name, None), slot.insert(Agent::default())),
        None => Ok(()),
    }
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
    if let Some(adr) = &a.address {
        encode_address(w, adr);
    }
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
    /// Postal address (personal data: redacted in `Debug`).
    pub address: Option<PostalAddress>,
    /// Organisation or private identification (`Id`).
    pub id: Option<PartyId>,
    /// Contact details (`CtctDtls`; personal data: redacted in `Debug`). Boxed: most parties
    /// have none, and a party sits in every transaction several times.
    pub contact: Option<Box<Contact>>,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Party")
            .field("name", &self.name.as_ref().map(|_| "<redacted>"))
            .field("country", &self.country)
            .field("address", &self.address.as_ref().map(|_| "<redacted>"))
            .field("id", &self.id)
            .field("contact", &self.contact.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Contact details of a party (`Contact4`; read from `ContactDetails2` in pain.001.001.03).
/// Every value is personal data: `Debug` shows only which fields are set.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Contact {
    /// Name prefix (`NmPrfx`, NamePrefix2Code: DOCT, MADM, MISS, MIST, MIKS).
    pub name_prefix: Option<String>,
    /// Name (`Nm`, up to 140 characters).
    pub name: Option<String>,
    /// Phone number (`PhneNb`, `+<country code>-<number>`).
    pub phone: Option<String>,
    /// Mobile number (`MobNb`, same pattern).
    pub mobile: Option<String>,
    /// Fax number (`FaxNb`, same pattern).
    pub fax: Option<String>,
    /// E-mail address (`EmailAdr`, up to 2048 characters).
    pub email: Option<String>,
    /// E-mail purpose (`EmailPurp`, up to 35 characters).
    pub email_purpose: Option<String>,
    /// Job title (`JobTitl`, up to 35 characters).
    pub job_title: Option<String>,
    /// Responsibility (`Rspnsblty`, up to 35 characters).
    pub responsibility: Option<String>,
    /// Department (`Dept`, up to 70 characters).
    pub department: Option<String>,
    /// Other channels (`Othr`), at most [`MAX_OTHER_CONTACTS`].
    pub others: Vec<OtherContact>,
    /// Preferred contact method (`PrefrdMtd`: LETT, MAIL, PHON, FAXX, CELL).
    pub preferred_method: Option<String>,
}

/// One other contact channel (`OtherContact1`).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct OtherContact {
    /// Channel type (`ChanlTp`, up to 4 characters). pain.001.001.03's bare `Othr` text is
    /// carried with channel [`OTHER_CONTACT_V03`].
    pub channel: String,
    /// Identifier on that channel (`Id`, up to 128 characters).
    pub id: Option<String>,
}

/// Most `CtctDtls/Othr` channels accepted per party (the XSD leaves it unbounded).
pub const MAX_OTHER_CONTACTS: usize = 16;

/// Channel type given to pain.001.001.03's `Othr` (a bare Max35Text, no channel).
pub const OTHER_CONTACT_V03: &str = "OTHR";

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("Contact")
            .field("name_prefix", &self.name_prefix)
            .field("name", &set(&self.name))
            .field("phone", &set(&self.phone))
            .field("mobile", &set(&self.mobile))
            .field("fax", &set(&self.fax))
            .field("email", &set(&self.email))
            .field("others", &self.others.len())
            .field("preferred_method", &self.preferred_method)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OtherContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtherContact").field("channel", &self.channel).finish_non_exhaustive()
    }
}

/// `PhoneNumber`: `\+[0-9]{1,3}-[0-9()+\-]{1,30}`.
pub fn is_phone_number(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('+') else { return false };
    let Some((cc, nb)) = rest.split_once('-') else { return false };
    (1..=3).contains(&cc.len())
        && cc.bytes().all(|b| b.is_ascii_digit())
        && (1..=30).contains(&nb.len())
        && nb.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'(' | b')' | b'+' | b'-'))
}

/// Decode `CtctDtls` (Contact4, or ContactDetails2 whose `Othr` is bare text).
pub fn decode_contact<'d, N: Node<'d>>(el: N, at: &At) -> Result<Contact, DecodeError> {
    let phone = |name| opt_checked(el, at, name, "phone number (+NNN-NNNN)", is_phone_number);
    let mut others = Vec::new();
    for (i, o) in el.children_named("Othr").enumerate() {
        let o_at = at.child("Othr", Some(i + 1));
        if i >= MAX_OTHER_CONTACTS {
            return Err(o_at.err(ErrorKind::TooLarge(format!(
                "more than {MAX_OTHER_CONTACTS} other contact channels"
            ))));
        }
        others.push(if o.children().next().is_none() {
            let id = check_text(o.text(), &o_at, 35)?;
            OtherContact { channel: OTHER_CONTACT_V03.to_string(), id: Some(id) }
        } else {
            OtherContact {
                channel: req_text(o, &o_at, "ChanlTp", 4)?,
                id: opt_text(o, &o_at, "Id", 128)?,
            }
        });
    }
    Ok(Contact {
        name_prefix: opt_checked(el, at, "NmPrfx", "name prefix (NamePrefix2Code)", |s| {
            matches!(s, "DOCT" | "MADM" | "MISS" | "MIST" | "MIKS")
        })?,
        name: opt_text(el, at, "Nm", 140)?,
        phone: phone("PhneNb")?,
        mobile: phone("MobNb")?,
        fax: phone("FaxNb")?,
        email: opt_text(el, at, "EmailAdr", 2048)?,
        email_purpose: opt_text(el, at, "EmailPurp", 35)?,
        job_title: opt_text(el, at, "JobTitl", 35)?,
        responsibility: opt_text(el, at, "Rspnsblty", 35)?,
        department: opt_text(el, at, "Dept", 70)?,
        others,
        preferred_method: opt_checked(
            el,
            at,
            "PrefrdMtd",
            "preferred contact method (PreferredContactMethod1Code)",
            |s| matches!(s, "LETT" | "MAIL" | "PHON" | "FAXX" | "CELL"),
        )?,
    })
}

/// Write `CtctDtls` as Contact4.
pub fn encode_contact(w: &mut Writer, c: &Contact) {
    w.open("CtctDtls");
    w.opt_leaf("NmPrfx", c.name_prefix.as_deref()).opt_leaf("Nm", c.name.as_deref());
    w.opt_leaf("PhneNb", c.phone.as_deref()).opt_leaf("MobNb", c.mobile.as_deref());
    w.opt_leaf("FaxNb", c.fax.as_deref()).opt_leaf("EmailAdr", c.email.as_deref());
    w.opt_leaf("EmailPurp", c.email_purpose.as_deref());
    w.opt_leaf("JobTitl", c.job_title.as_deref());
    w.opt_leaf("Rspnsblty", c.responsibility.as_deref());
    w.opt_leaf("Dept", c.department.as_deref());
    for o in &c.others {
        w.open("Othr").leaf("ChanlTp", &o.channel).opt_leaf("Id", o.id.as_deref());
        w.close("Othr");
    }
    w.opt_leaf("PrefrdMtd", c.preferred_method.as_deref());
    w.close("CtctDtls");
}

/// Decode a party element.
pub fn decode_party<'d, N: Node<'d>>(el: N, at: &At) -> Result<Party, DecodeError> {
    let mut p = Party::default();
    decode_party_into(el, at, &mut p)?;
    Ok(p)
}

/// The children of a party the decoder reads, found in one pass.
const PARTY_FIELDS: [&str; 5] = ["Nm", "CtryOfRes", "PstlAdr", "Id", "CtctDtls"];

/// [`decode_party`] into `p` (hot path: a party is about 500 bytes, not worth moving through
/// a `Result`). Same checks in the same order; on error `p` is left part-filled.
pub fn decode_party_into<'d, N: Node<'d>>(
    el: N,
    at: &At,
    p: &mut Party,
) -> Result<(), DecodeError> {
    let [nm, ctry, adr, id, ctct] = first_children(el, &PARTY_FIELDS);
    p.name = text_of(nm, at, "Nm", 140)?;
    p.country = checked_of(ctry, at, "CtryOfRes", "country code", is_country)?;
    p.address = None;
    if let Some(a) = adr {
        let slot = p.address.insert(PostalAddress::default());
        decode_address_into(a, &at.child("PstlAdr", None), slot)?;
    }
    p.id = match id {
        Some(id) => Some(decode_party_id(id, &at.child("Id", None))?),
        None => None,
    };
    p.contact = match ctct {
        Some(c) => Some(Box::new(decode_contact(c, &at.child("CtctDtls", None))?)),
        None => None,
    };
    Ok(())
}

/// Decode the optional party `c` (child `name` of the element at `at`) into `slot`.
pub fn opt_party_into<'d, N: Node<'d>>(
    c: Option<N>,
    at: &At,
    name: &str,
    slot: &mut Option<Party>,
) -> Result<(), DecodeError> {
    *slot = None;
    match c {
        Some(p) => decode_party_into(p, &at.child(name, None), slot.insert(Party::default())),
        None => Ok(()),
    }
}

/// Write a party element.
pub fn encode_party(w: &mut Writer, name: &str, p: &Party) {
    w.open(name);
    w.opt_leaf("Nm", p.name.as_deref());
    if let Some(a) = &p.address {
        encode_address(w, a);
    }
    if let Some(id) = &p.id {
        encode_party_id(w, id);
    }
    w.opt_leaf("CtryOfRes", p.country.as_deref());
    if let Some(c) = &p.contact {
        encode_contact(w, c);
    }
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
    /// Account currency (`Ccy`).
    pub currency: Option<String>,
    /// Account name (`Nm`, personal data).
    pub name: Option<String>,
    /// Scheme of an `Othr` identification (`Id/Othr/SchmeNm/Cd`, e.g. BBAN).
    pub other_scheme: Option<String>,
}

/// The placeholder account id a debtor bank puts when it pays by alias and does not know the
/// creditor's account; the switch fills in the resolved account before forwarding.
pub const NOT_PROVIDED: &str = "NOTPROVIDED";

/// Decode a `CashAccount38`.
pub fn decode_account<'d, N: Node<'d>>(el: N, at: &At) -> Result<Account, DecodeError> {
    let id_at = at.child("Id", None);
    let id_el = req(el, at, "Id")?;
    let mut other_scheme = None;
    let id = match (id_el.child("IBAN"), id_el.child("Othr")) {
        (Some(iban), None) if is_iban(iban.text()) => AccountId::Iban(iban.text().to_string()),
        (Some(iban), None) => {
            return Err(id_at
                .err_at("IBAN", ErrorKind::Invalid(format!("{:?} is not an IBAN", iban.text()))))
        }
        (None, Some(o)) => {
            let o_at = id_at.child("Othr", None);
            if let Some(sch) = o.child("SchmeNm") {
                other_scheme = Some(decode_scheme_code(sch, &o_at.child("SchmeNm", None))?);
            }
            AccountId::Other(req_text(o, &o_at, "Id", 34)?)
        }
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
    Ok(Account {
        id,
        kind,
        proxy,
        currency: opt_checked(el, at, "Ccy", "currency code", is_currency)?,
        name: opt_text(el, at, "Nm", 70)?,
        other_scheme,
    })
}

fn decode_scheme_code<'d, N: Node<'d>>(el: N, at: &At) -> Result<String, DecodeError> {
    match code_or_proprietary(el, at, 4)? {
        (Some(c), _) => Ok(c),
        _ => Err(at.err(ErrorKind::Invalid("only a scheme code (Cd) is supported here".into()))),
    }
}

/// Write a `CashAccount38`.
pub fn encode_account(w: &mut Writer, name: &str, a: &Account) {
    w.open(name).open("Id");
    match &a.id {
        AccountId::Iban(s) => {
            w.leaf("IBAN", s);
        }
        AccountId::Other(s) => {
            w.open("Othr").leaf("Id", s);
            if let Some(sch) = &a.other_scheme {
                w.open("SchmeNm").leaf("Cd", sch).close("SchmeNm");
            }
            w.close("Othr");
        }
    }
    w.close("Id");
    if let Some(k) = &a.kind {
        w.open("Tp").leaf("Cd", k).close("Tp");
    }
    w.opt_leaf("Ccy", a.currency.as_deref()).opt_leaf("Nm", a.name.as_deref());
    if let Some(p) = &a.proxy {
        w.open("Prxy");
        if let Some(k) = &p.kind {
            w.open("Tp").leaf("Cd", k).close("Tp");
        }
        w.leaf("Id", &p.id).close("Prxy");
    }
    w.close(name);
}

/// A postal address (`PostalAddress24`; `PostalAddress6` of the 2009 messages reads into it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PostalAddress {
    /// Department.
    pub department: Option<String>,
    /// Sub-department.
    pub sub_department: Option<String>,
    /// Street name.
    pub street: Option<String>,
    /// Building number.
    pub building_number: Option<String>,
    /// Building name.
    pub building_name: Option<String>,
    /// Floor.
    pub floor: Option<String>,
    /// Post box.
    pub post_box: Option<String>,
    /// Room.
    pub room: Option<String>,
    /// Post code.
    pub post_code: Option<String>,
    /// Town name.
    pub town: Option<String>,
    /// Town location name.
    pub town_location: Option<String>,
    /// District name.
    pub district: Option<String>,
    /// Country subdivision (state, province).
    pub country_sub_division: Option<String>,
    /// Country (ISO 3166 alpha-2).
    pub country: Option<String>,
    /// Unstructured address lines (at most 7).
    pub lines: Vec<String>,
}

/// Decode the optional `PstlAdr` child of `el`.
pub fn opt_address<'d, N: Node<'d>>(el: N, at: &At) -> Result<Option<PostalAddress>, DecodeError> {
    let Some(a) = el.child("PstlAdr") else { return Ok(None) };
    decode_address_element(a, &at.child("PstlAdr", None)).map(Some)
}

/// Decode a `PostalAddress24` element itself (whatever its name).
pub fn decode_address_element<'d, N: Node<'d>>(
    a: N,
    at: &At,
) -> Result<PostalAddress, DecodeError> {
    let mut out = PostalAddress::default();
    decode_address_into(a, at, &mut out)?;
    Ok(out)
}

/// [`decode_address_element`] into `out` (hot path: no move of the 360-byte value through a
/// `Result`). `out` is overwritten field by field; on error it is left part-filled.
pub fn decode_address_into<'d, N: Node<'d>>(
    a: N,
    at: &At,
    out: &mut PostalAddress,
) -> Result<(), DecodeError> {
    let lines = a
        .children_named("AdrLine")
        .enumerate()
        .map(|(i, l)| check_text(l.text(), &at.child("AdrLine", Some(i + 1)), 70))
        .collect::<Result<Vec<_>, _>>()?;
    if lines.len() > 7 {
        return Err(
            at.err_at("AdrLine", ErrorKind::Invalid(format!("{} lines, at most 7", lines.len())))
        );
    }
    let [dept, sub, street, b_nb, b_nm, flr, pbx, room, pcd, town, t_loc, dstrct, subdv, ctry] =
        first_children(a, &ADDRESS_FIELDS);
    out.department = text_of(dept, at, "Dept", 70)?;
    out.sub_department = text_of(sub, at, "SubDept", 70)?;
    out.street = text_of(street, at, "StrtNm", 70)?;
    out.building_number = text_of(b_nb, at, "BldgNb", 16)?;
    out.building_name = text_of(b_nm, at, "BldgNm", 35)?;
    out.floor = text_of(flr, at, "Flr", 70)?;
    out.post_box = text_of(pbx, at, "PstBx", 16)?;
    out.room = text_of(room, at, "Room", 70)?;
    out.post_code = text_of(pcd, at, "PstCd", 16)?;
    out.town = text_of(town, at, "TwnNm", 35)?;
    out.town_location = text_of(t_loc, at, "TwnLctnNm", 35)?;
    out.district = text_of(dstrct, at, "DstrctNm", 35)?;
    out.country_sub_division = text_of(subdv, at, "CtrySubDvsn", 35)?;
    out.country = checked_of(ctry, at, "Ctry", "country code", is_country)?;
    out.lines = lines;
    Ok(())
}

/// The single-valued children of a `PostalAddress24`, in the order they are decoded.
const ADDRESS_FIELDS: [&str; 14] = [
    "Dept",
    "SubDept",
    "StrtNm",
    "BldgNb",
    "BldgNm",
    "Flr",
    "PstBx",
    "Room",
    "PstCd",
    "TwnNm",
    "TwnLctnNm",
    "DstrctNm",
    "CtrySubDvsn",
    "Ctry",
];

/// The first child of `el` with each of `names`: the same as `names.map(|n| el.child(n))`,
/// in one pass over the children (a lookup per name would walk them once per name).
pub fn first_children<'d, N: Node<'d>, const K: usize>(el: N, names: &[&str; K]) -> [Option<N>; K] {
    let mut out = [None; K];
    for c in el.children() {
        let name = c.name_bytes();
        for (slot, want) in out.iter_mut().zip(names) {
            // Length and first byte tell most names apart without a call to `memcmp`.
            let want = want.as_bytes();
            if name.len() == want.len() && name.first() == want.first() && name == want {
                if slot.is_none() {
                    *slot = Some(c);
                }
                break;
            }
        }
    }
    out
}

/// [`opt_text`] for a child already found (`child` is `el.child(name)`).
pub fn text_of<'d, N: Node<'d>>(
    child: Option<N>,
    at: &At,
    name: &str,
    max: usize,
) -> Result<Option<String>, DecodeError> {
    match child {
        Some(c) => check_text_at(c.text(), at, name, max).map(Some),
        None => Ok(None),
    }
}

/// [`opt_checked`] for a child already found (`child` is `el.child(name)`).
pub fn checked_of<'d, N: Node<'d>>(
    child: Option<N>,
    at: &At,
    name: &str,
    what: &str,
    ok: fn(&str) -> bool,
) -> Result<Option<String>, DecodeError> {
    match child {
        Some(c) if ok(c.text()) => Ok(Some(c.text().to_string())),
        Some(c) => {
            Err(at
                .err_at(name, ErrorKind::Invalid(format!("{:?} is not a valid {what}", c.text()))))
        }
        None => Ok(None),
    }
}

/// Write a `PstlAdr` element in `PostalAddress24` order.
pub fn encode_address(w: &mut Writer, a: &PostalAddress) {
    encode_address_named(w, "PstlAdr", a);
}

/// Write a `PostalAddress24` element named `name`.
pub fn encode_address_named(w: &mut Writer, name: &str, a: &PostalAddress) {
    w.open(name);
    w.opt_leaf("Dept", a.department.as_deref());
    w.opt_leaf("SubDept", a.sub_department.as_deref());
    w.opt_leaf("StrtNm", a.street.as_deref());
    w.opt_leaf("BldgNb", a.building_number.as_deref());
    w.opt_leaf("BldgNm", a.building_name.as_deref());
    w.opt_leaf("Flr", a.floor.as_deref());
    w.opt_leaf("PstBx", a.post_box.as_deref());
    w.opt_leaf("Room", a.room.as_deref());
    w.opt_leaf("PstCd", a.post_code.as_deref());
    w.opt_leaf("TwnNm", a.town.as_deref());
    w.opt_leaf("TwnLctnNm", a.town_location.as_deref());
    w.opt_leaf("DstrctNm", a.district.as_deref());
    w.opt_leaf("CtrySubDvsn", a.country_sub_division.as_deref());
    w.opt_leaf("Ctry", a.country.as_deref());
    for l in &a.lines {
        w.leaf("AdrLine", l);
    }
    w.close(name);
}

/// One generic identification (`GenericOrganisationIdentification1` and its person twin).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GenericId {
    /// The identifier.
    pub id: String,
    /// Scheme name code (`SchmeNm/Cd`), e.g. TXID, CUST, NIDN.
    pub scheme_code: Option<String>,
    /// Proprietary scheme name (`SchmeNm/Prtry`).
    pub scheme_proprietary: Option<String>,
    /// Issuer.
    pub issuer: Option<String>,
}

/// A party identification (`Party38Choice`): organisation or private person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PartyId {
    /// True for `PrvtId` (a person), false for `OrgId`.
    pub private: bool,
    /// `OrgId/AnyBIC`.
    pub any_bic: Option<String>,
    /// `OrgId/LEI`.
    pub lei: Option<String>,
    /// `Othr` identifications.
    pub others: Vec<GenericId>,
}

fn decode_generic_ids<'d, N: Node<'d>>(el: N, at: &At) -> Result<Vec<GenericId>, DecodeError> {
    let mut v = Vec::new();
    for (i, o) in el.children_named("Othr").enumerate() {
        let o_at = at.child("Othr", Some(i + 1));
        let (scheme_code, scheme_proprietary) = match o.child("SchmeNm") {
            Some(s) => code_or_proprietary(s, &o_at.child("SchmeNm", None), 4)?,
            None => (None, None),
        };
        v.push(GenericId {
            id: req_text(o, &o_at, "Id", 35)?,
            scheme_code,
            scheme_proprietary,
            issuer: opt_text(o, &o_at, "Issr", 35)?,
        });
    }
    Ok(v)
}

/// Decode a `Cd`/`Prtry` choice: exactly one must be present.
pub fn code_or_proprietary<'d, N: Node<'d>>(
    el: N,
    at: &At,
    code_max: usize,
) -> Result<(Option<String>, Option<String>), DecodeError> {
    match (el.child("Cd"), el.child("Prtry")) {
        (Some(_), None) => Ok((opt_text(el, at, "Cd", code_max)?, None)),
        (None, Some(_)) => Ok((None, opt_text(el, at, "Prtry", 35)?)),
        _ => Err(at.err(ErrorKind::Invalid("choice needs exactly one of Cd, Prtry".into()))),
    }
}

/// Decode a `Party38Choice`.
pub fn decode_party_id<'d, N: Node<'d>>(el: N, at: &At) -> Result<PartyId, DecodeError> {
    match (el.child("OrgId"), el.child("PrvtId")) {
        (Some(o), None) => {
            let o_at = at.child("OrgId", None);
            Ok(PartyId {
                private: false,
                any_bic: opt_checked(o, &o_at, "AnyBIC", "BIC", is_bic)?,
                lei: opt_checked(o, &o_at, "LEI", "LEI", is_lei)?,
                others: decode_generic_ids(o, &o_at)?,
            })
        }
        (None, Some(p)) => Ok(PartyId {
            private: true,
            others: decode_generic_ids(p, &at.child("PrvtId", None))?,
            ..PartyId::default()
        }),
        _ => Err(at.err(ErrorKind::Invalid("choice needs exactly one of OrgId, PrvtId".into()))),
    }
}

/// Write a `Party38Choice` as `Id`.
pub fn encode_party_id(w: &mut Writer, id: &PartyId) {
    let tag = if id.private { "PrvtId" } else { "OrgId" };
    w.open("Id").open(tag);
    if !id.private {
        w.opt_leaf("AnyBIC", id.any_bic.as_deref()).opt_leaf("LEI", id.lei.as_deref());
    }
    for o in &id.others {
        w.open("Othr").leaf("Id", &o.id);
        if let Some(c) = &o.scheme_code {
            w.open("SchmeNm").leaf("Cd", c).close("SchmeNm");
        } else if let Some(p) = &o.scheme_proprietary {
            w.open("SchmeNm").leaf("Prtry", p).close("SchmeNm");
        }
        w.opt_leaf("Issr", o.issuer.as_deref()).close("Othr");
    }
    w.close(tag).close("Id");
}

/// `Party40Choice`: a party or a financial institution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartyOrAgent {
    /// `Pty`.
    Party(Party),
    /// `Agt`.
    Agent(Agent),
}

impl Default for PartyOrAgent {
    fn default() -> Self {
        PartyOrAgent::Agent(Agent::default())
    }
}

/// Decode a `Party40Choice` element.
pub fn decode_party_or_agent<'d, N: Node<'d>>(el: N, at: &At) -> Result<PartyOrAgent, DecodeError> {
    match (el.child("Pty"), el.child("Agt")) {
        (Some(p), None) => Ok(PartyOrAgent::Party(decode_party(p, &at.child("Pty", None))?)),
        (None, Some(a)) => Ok(PartyOrAgent::Agent(decode_agent(a, &at.child("Agt", None))?)),
        _ => Err(at.err(ErrorKind::Invalid("choice needs exactly one of Pty, Agt".into()))),
    }
}

/// Write a `Party40Choice` element.
pub fn encode_party_or_agent(w: &mut Writer, name: &str, p: &PartyOrAgent) {
    w.open(name);
    match p {
        PartyOrAgent::Party(p) => encode_party(w, "Pty", p),
        PartyOrAgent::Agent(a) => encode_agent(w, "Agt", a),
    }
    w.close(name);
}

/// Optional `Party40Choice` child.
pub fn opt_party_or_agent<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<PartyOrAgent>, DecodeError> {
    el.child(name).map(|c| decode_party_or_agent(c, &at.child(name, None))).transpose()
}

/// The original message a report, return or request refers to (`OriginalGroupInformation29`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OriginalGroup {
    /// Original message id.
    pub msg_id: String,
    /// Original message name id, e.g. `pacs.008.001.08`.
    pub msg_name: String,
    /// Original creation date-time.
    pub created: Option<String>,
}

/// Decode an `OriginalGroupInformation29`-shaped element.
pub fn decode_original_group<'d, N: Node<'d>>(
    el: N,
    at: &At,
) -> Result<OriginalGroup, DecodeError> {
    Ok(OriginalGroup {
        msg_id: req_text(el, at, "OrgnlMsgId", 35)?,
        msg_name: req_text(el, at, "OrgnlMsgNmId", 35)?,
        created: opt_datetime(el, at, "OrgnlCreDtTm")?,
    })
}

/// Optional `OriginalGroupInformation29` child.
pub fn opt_original_group<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<OriginalGroup>, DecodeError> {
    el.child(name).map(|c| decode_original_group(c, &at.child(name, None))).transpose()
}

/// Write the three leaves of an original group (without the enclosing element).
pub fn encode_original_group_leaves(w: &mut Writer, g: &OriginalGroup) {
    w.leaf("OrgnlMsgId", &g.msg_id).leaf("OrgnlMsgNmId", &g.msg_name);
    w.opt_leaf("OrgnlCreDtTm", g.created.as_deref());
}

/// Write an original group element.
pub fn encode_original_group(w: &mut Writer, name: &str, g: &OriginalGroup) {
    w.open(name);
    encode_original_group_leaves(w, g);
    w.close(name);
}

/// Optional agent child.
pub fn opt_agent<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<Agent>, DecodeError> {
    el.child(name).map(|a| decode_agent(a, &at.child(name, None))).transpose()
}

/// Mandatory agent child.
pub fn req_agent<'d, N: Node<'d>>(el: N, at: &At, name: &str) -> Result<Agent, DecodeError> {
    decode_agent(req(el, at, name)?, &at.child(name, None))
}

/// Write an optional agent.
pub fn encode_opt_agent(w: &mut Writer, name: &str, a: Option<&Agent>) {
    if let Some(a) = a {
        encode_agent(w, name, a);
    }
}

/// Optional account child.
pub fn opt_account<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<Account>, DecodeError> {
    el.child(name).map(|a| decode_account(a, &at.child(name, None))).transpose()
}

/// Write an optional account.
pub fn encode_opt_account(w: &mut Writer, name: &str, a: Option<&Account>) {
    if let Some(a) = a {
        encode_account(w, name, a);
    }
}

/// Optional party child.
pub fn opt_party<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<Party>, DecodeError> {
    el.child(name).map(|p| decode_party(p, &at.child(name, None))).transpose()
}

/// Optional amount child.
pub fn opt_amount<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<Amount>, DecodeError> {
    el.child(name).map(|a| decode_amount(a, &at.child(name, None))).transpose()
}

/// Mandatory amount child.
pub fn req_amount<'d, N: Node<'d>>(el: N, at: &At, name: &str) -> Result<Amount, DecodeError> {
    decode_amount(req(el, at, name)?, &at.child(name, None))
}

/// Write an optional amount.
pub fn encode_opt_amount(w: &mut Writer, name: &str, a: Option<&Amount>) {
    if let Some(a) = a {
        encode_amount(w, name, a);
    }
}

/// Optional `ISODate` child.
pub fn opt_date<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<String>, DecodeError> {
    opt_checked(el, at, name, "ISO date", is_iso_date)
}

/// Optional `ISODateTime` child.
pub fn opt_datetime<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<String>, DecodeError> {
    opt_checked(el, at, name, "ISO date-time", is_iso_datetime)
}

/// Mandatory `ISODateTime` child.
pub fn req_datetime<'d, N: Node<'d>>(el: N, at: &At, name: &str) -> Result<String, DecodeError> {
    req_checked(el, at, name, "ISO date-time", is_iso_datetime)
}

/// Optional `UUIDv4Identifier` child.
pub fn opt_uuid<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
) -> Result<Option<String>, DecodeError> {
    opt_checked(el, at, name, "UUIDv4", is_uuid_v4)
}

/// Optional `ChargeBearerType1Code` child.
pub fn opt_charge_bearer<'d, N: Node<'d>>(el: N, at: &At) -> Result<Option<String>, DecodeError> {
    opt_checked(el, at, "ChrgBr", "charge bearer", |s| {
        matches!(s, "DEBT" | "CRED" | "SHAR" | "SLEV")
    })
}

/// All `name` children, refusing more than `max` of them before decoding any.
pub fn bounded_children<'a, 'd, N: Node<'d>>(
    el: N,
    at: &At,
    name: &'a str,
    max: usize,
) -> Result<Vec<N>, DecodeError> {
    let v: Vec<N> = el.children_named(name).collect();
    if v.len() > max {
        return Err(at.err(ErrorKind::TooLarge(format!(
            "{} {name} elements, at most {max} (Limits.max_transactions)",
            v.len()
        ))));
    }
    Ok(v)
}

/// Check a declared `NbOfTxs` against the count found.
pub fn check_count<'d, N: Node<'d>>(
    el: N,
    at: &At,
    name: &str,
    found: usize,
) -> Result<(), DecodeError> {
    if let Some(c) = el.child(name) {
        if !is_max15_numeric(c.text()) || c.text().parse::<usize>().ok() != Some(found) {
            return Err(at.err_at(
                name,
                ErrorKind::Invalid(format!("says {:?} but the message has {found}", c.text())),
            ));
        }
    }
    Ok(())
}

/// Decode a mandatory `Document` root in namespace `ns_expected` and its body child.
pub fn document_body<'a, 'd, N: Node<'d>>(
    root: N,
    ns: Option<&str>,
    ns_expected: &str,
    body: &'a str,
) -> Result<(N, At<'a>), DecodeError> {
    let at = At::root("Document");
    if !root.is("Document") || ns != Some(ns_expected) {
        return Err(at.err(ErrorKind::WrongMessage(format!(
            "expected Document in {ns_expected}, found {} in {}",
            root.name(),
            ns.unwrap_or("no namespace")
        ))));
    }
    let b = req(root, &at, body)?;
    Ok((b, At::root_child("Document", body)))
}

/// Decode an optional coded reason (`Rsn/Cd` or `Rsn/Prtry`) checked against a code table.
///
/// Returns the code if `Cd` was used, the proprietary text if `Prtry` was used.
pub fn decode_reason<'d, T, N: Node<'d>>(
    el: N,
    at: &At,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<(Option<T>, Option<String>), DecodeError> {
    let Some(rsn) = el.child("Rsn") else { return Ok((None, None)) };
    let r_at = at.child("Rsn", None);
    let (cd, prtry) = code_or_proprietary(rsn, &r_at, 4)?;
    match cd {
        Some(cd) => match parse(&cd) {
            Some(code) => Ok((Some(code), None)),
            None => {
                Err(r_at.err_at("Cd", ErrorKind::Invalid(format!("{cd:?} is not a known {what}"))))
            }
        },
        None => Ok((None, prtry)),
    }
}

/// Write `Rsn/Cd` or `Rsn/Prtry` if either is set.
pub fn encode_reason(w: &mut Writer, code: Option<&str>, proprietary: Option<&str>) {
    if let Some(c) = code {
        w.open("Rsn").leaf("Cd", c).close("Rsn");
    } else if let Some(p) = proprietary {
        w.open("Rsn").leaf("Prtry", p).close("Rsn");
    }
}

/// All `AddtlInf` children, each `Max105Text`.
pub fn additional_info<'d, N: Node<'d>>(el: N, at: &At) -> Result<Vec<String>, DecodeError> {
    el.children_named("AddtlInf")
        .enumerate()
        .map(|(i, t)| check_text(t.text(), &at.child("AddtlInf", Some(i + 1)), 105))
        .collect()
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
        let e = amount(r#"<A Ccy="KWD">999999999999999999</A>"#).unwrap_err();
        assert_eq!(e.to_string(), "/Amt: amount out of range");
        assert!(amount(r#"<A Ccy="USD">.</A>"#).is_err());
        assert!(amount(r#"<A Ccy="USD">1.2.3</A>"#).is_err());
        assert_eq!(amount(r#"<A Ccy="USD">.5</A>"#).unwrap().minor, 50);
        assert_eq!(amount(r#"<A Ccy="USD">7.</A>"#).unwrap().minor, 700);
        assert_eq!(amount(r#"<A Ccy="JPY">12.000</A>"#).unwrap().minor, 12);
        assert!(amount(r#"<A Ccy="JPY">12.5</A>"#).unwrap_err().to_string().contains("JPY"));
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
        assert!(iban_check_digits_ok("DE89370400440532013000"));
        assert!(iban_check_digits_ok("GB82WEST12345698765432"));
        assert!(iban_check_digits_ok("BR9700360305000010009795493P1"));
        assert!(!iban_check_digits_ok("DE88370400440532013000"));
        // An official Fedwire sample's IBAN: right pattern, wrong check digits.
        assert!(is_iban("BE34001216371411") && !iban_check_digits_ok("BE34001216371411"));
        assert!(is_uuid_v4("8a562c67-ca16-48ba-b074-65581be6f011"));
        assert!(!is_uuid_v4("8a562c67-ca16-38ba-b074-65581be6f011"));
        assert!(
            is_iso_datetime("2023-06-04T10:55:26-04:00")
                && is_iso_datetime("2023-06-04T10:55:26.123Z")
        );
        assert!(!is_iso_datetime("2023-06-04 10:55:26") && !is_iso_date("2023-13-01"));
        assert!(is_iso_date("2024-02-29") && !is_iso_date("2023-02-29"));
        assert!(!is_iso_date("2026-04-31") && !is_iso_date("2000-00-10"));
        assert!(is_iso_date("2000-02-29") && !is_iso_date("1900-02-29"));
        assert!(
            !is_iso_datetime("2023-06-04T25:00:00Z") && !is_iso_datetime("2023-06-04T10:60:00")
        );
        assert!(is_iso_datetime("2023-06-04T24:00:00") && !is_iso_datetime("2023-06-04T24:00:01"));
        assert!(!is_iso_datetime("2023-06-04T10:00:00+15:00"));
    }
}
