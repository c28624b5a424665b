//! head.001.001.02, the business application header (`AppHdr`) that travels with every
//! message: who sends, to whom, which message definition, when.
//!
//! Decode checks mandatory elements, the `Fr`/`To` choices, lengths and dates; encode writes
//! XSD-valid XML. The signature (`Sgntr`) and related headers (`Rltd`) are not modelled: a
//! header that carries them decodes, and re-encodes without them.

use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of head.001.001.02.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:head.001.001.02";

/// A business application header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppHdr {
    /// Character set.
    pub char_set: Option<String>,
    /// Sender (`Fr`): an organisation (`OrgId`) or a financial institution (`FIId`).
    pub from: PartyOrAgent,
    /// Receiver (`To`).
    pub to: PartyOrAgent,
    /// Business message id (`BizMsgIdr`), usually the document's MsgId.
    pub biz_msg_id: String,
    /// Message definition id (`MsgDefIdr`), e.g. `pacs.008.001.08`.
    pub msg_def_id: String,
    /// Business service (`BizSvc`).
    pub business_service: Option<String>,
    /// Market practice: registry and id (`MktPrctc/Regy`, `MktPrctc/Id`).
    pub market_practice: Option<(String, String)>,
    /// Creation date-time (`CreDt`).
    pub created: String,
    /// Business processing date-time.
    pub processing_date: Option<String>,
    /// Copy/duplicate indicator (CODU, COPY, DUPL).
    pub copy_duplicate: Option<String>,
    /// Possible duplicate.
    pub possible_duplicate: Option<bool>,
    /// Priority (`Prty`).
    pub priority: Option<String>,
}

fn decode_party44<'d, N: Node<'d>>(el: N, at: &At) -> Result<PartyOrAgent, DecodeError> {
    match (el.child("OrgId"), el.child("FIId")) {
        (Some(p), None) => Ok(PartyOrAgent::Party(decode_party(p, &at.child("OrgId", None))?)),
        (None, Some(a)) => Ok(PartyOrAgent::Agent(decode_agent(a, &at.child("FIId", None))?)),
        _ => Err(at.err(ErrorKind::Invalid("choice needs exactly one of OrgId, FIId".into()))),
    }
}

fn encode_party44(w: &mut Writer, name: &str, p: &PartyOrAgent) {
    w.open(name);
    match p {
        PartyOrAgent::Party(p) => encode_party(w, "OrgId", p),
        PartyOrAgent::Agent(a) => encode_agent(w, "FIId", a),
    }
    w.close(name);
}

fn is_bool(s: &str) -> bool {
    matches!(s, "true" | "false" | "1" | "0")
}

/// Decode a head.001.001.02 document (root `AppHdr`).
pub fn decode(input: &[u8], limits: &Limits) -> Result<AppHdr, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns())
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<AppHdr, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref())
}

/// Decode from an already parsed `AppHdr` element.
pub fn decode_element<'d, N: Node<'d>>(el: N, ns: Option<&str>) -> Result<AppHdr, DecodeError> {
    let at = At::root("AppHdr");
    if !el.is("AppHdr") || ns != Some(NAMESPACE) {
        return Err(at.err(ErrorKind::WrongMessage(format!(
            "expected AppHdr in {NAMESPACE}, found {} in {}",
            el.name(),
            ns.unwrap_or("no namespace")
        ))));
    }
    let market_practice = match el.child("MktPrctc") {
        Some(m) => {
            let m_at = at.child("MktPrctc", None);
            Some((req_text(m, &m_at, "Regy", 350)?, req_text(m, &m_at, "Id", 2048)?))
        }
        None => None,
    };
    Ok(AppHdr {
        char_set: opt_text(el, &at, "CharSet", 35)?,
        from: decode_party44(req(el, &at, "Fr")?, &at.child("Fr", None))?,
        to: decode_party44(req(el, &at, "To")?, &at.child("To", None))?,
        biz_msg_id: req_text(el, &at, "BizMsgIdr", 35)?,
        msg_def_id: req_text(el, &at, "MsgDefIdr", 35)?,
        business_service: opt_text(el, &at, "BizSvc", 35)?,
        market_practice,
        created: req_datetime(el, &at, "CreDt")?,
        processing_date: opt_datetime(el, &at, "BizPrcgDt")?,
        copy_duplicate: opt_checked(el, &at, "CpyDplct", "copy/duplicate code", |s| {
            matches!(s, "CODU" | "COPY" | "DUPL")
        })?,
        possible_duplicate: opt_checked(el, &at, "PssblDplct", "boolean", is_bool)?
            .map(|s| s == "true" || s == "1"),
        priority: opt_text(el, &at, "Prty", 4)?,
    })
}

/// Encode a head.001.001.02 document.
pub fn encode(h: &AppHdr) -> String {
    let mut w = Writer::new(1024);
    encode_into(&mut w, h);
    w.finish()
}

/// Write the `AppHdr` element into `w` (used by the envelope).
pub fn encode_into(w: &mut Writer, h: &AppHdr) {
    w.open_with("AppHdr", &[("xmlns", NAMESPACE)]);
    w.opt_leaf("CharSet", h.char_set.as_deref());
    encode_party44(w, "Fr", &h.from);
    encode_party44(w, "To", &h.to);
    w.leaf("BizMsgIdr", &h.biz_msg_id).leaf("MsgDefIdr", &h.msg_def_id);
    w.opt_leaf("BizSvc", h.business_service.as_deref());
    if let Some((regy, id)) = &h.market_practice {
        w.open("MktPrctc").leaf("Regy", regy).leaf("Id", id).close("MktPrctc");
    }
    w.leaf("CreDt", &h.created).opt_leaf("BizPrcgDt", h.processing_date.as_deref());
    w.opt_leaf("CpyDplct", h.copy_duplicate.as_deref());
    if let Some(d) = h.possible_duplicate {
        w.leaf("PssblDplct", if d { "true" } else { "false" });
    }
    w.opt_leaf("Prty", h.priority.as_deref());
    w.close("AppHdr");
}
