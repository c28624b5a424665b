//! admi.002.001.01, message reject: the technical answer to a message the switch could not
//! read (not well-formed, not ISO 20022, over a limit, schema-invalid).

use crate::common::*;
use crate::error::{DecodeError, ErrorKind};
use crate::xml::{self, Limits, Node, Writer};

/// The namespace of admi.002.001.01.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:admi.002.001.01";

/// A message reject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admi002 {
    /// Reference of the rejected message (its MsgId, or `NOTAVAILABLE`).
    pub related_ref: String,
    /// Rejecting party's reason (Max35Text; the switch uses stable codes from `ops/`).
    pub reason: String,
    /// When it was rejected.
    pub rejected_at: Option<String>,
    /// Where in the message the error is (element path).
    pub location: Option<String>,
    /// What is wrong, in words.
    pub description: Option<String>,
}

/// Truncate to at most `max` characters, on a character boundary.
pub fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Encode an admi.002.001.01 document. Over-long texts are clipped to their XSD lengths.
pub fn encode(msg: &Admi002) -> String {
    let mut w = Writer::new(768);
    w.open_with("Document", &[("xmlns", NAMESPACE)]).open("admi.002.001.01");
    w.open("RltdRef").leaf("Ref", &clip(&msg.related_ref, 35)).close("RltdRef");
    w.open("Rsn").leaf("RjctgPtyRsn", &clip(&msg.reason, 35));
    w.opt_leaf("RjctnDtTm", msg.rejected_at.as_deref());
    w.opt_leaf("ErrLctn", msg.location.as_ref().map(|s| clip(s, 350)).as_deref());
    w.opt_leaf("RsnDesc", msg.description.as_ref().map(|s| clip(s, 350)).as_deref());
    w.close("Rsn").close("admi.002.001.01").close("Document");
    w.finish()
}

/// Decode an admi.002.001.01 document.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Admi002, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_element(tape.root(), tape.root_ns())
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Admi002, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    decode_element(&root, ns.as_deref())
}

/// Decode from an already parsed `Document` element.
pub fn decode_element<'d, N: Node<'d>>(root: N, ns: Option<&str>) -> Result<Admi002, DecodeError> {
    let at = At::root("Document");
    if !root.is("Document") || ns != Some(NAMESPACE) {
        return Err(at.err(ErrorKind::WrongMessage(format!("expected Document in {NAMESPACE}"))));
    }
    let body = req(root, &at, "admi.002.001.01")?;
    let at = at.child("admi.002.001.01", None);
    let rltd = req(body, &at, "RltdRef")?;
    let rsn = req(body, &at, "Rsn")?;
    let r_at = at.child("Rsn", None);
    Ok(Admi002 {
        related_ref: req_text(rltd, &at.child("RltdRef", None), "Ref", 35)?,
        reason: req_text(rsn, &r_at, "RjctgPtyRsn", 35)?,
        rejected_at: opt_checked(rsn, &r_at, "RjctnDtTm", "ISO date-time", is_iso_datetime)?,
        location: opt_text(rsn, &r_at, "ErrLctn", 350)?,
        description: opt_text(rsn, &r_at, "RsnDesc", 350)?,
    })
}
