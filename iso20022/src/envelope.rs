//! A business message as it travels: the business application header (head.001 `AppHdr`)
//! and the message (`Document`) in one XML document.
//!
//! ISO 20022 leaves the wrapper to each network. The switch writes
//!
//! ```xml
//! <Envelope xmlns="urn:instant-payment-switch:envelope:1">
//!   <AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">...</AppHdr>
//!   <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">...</Document>
//! </Envelope>
//! ```
//!
//! and reads any wrapper, at any depth, whose element holds an `AppHdr` in the head.001
//! namespace followed by a `Document` that declares its own namespace: FedNow's
//! `FedNowIncoming/FedNowIncomingMessage/FedNowCustomerCreditTransfer` decodes unchanged.
//! The `AppHdr` and the `Document` each validate against their own XSD.
//!
//! Guarantees: the header's `MsgDefIdr` must name the document's message type, so a header
//! cannot claim one message and carry another. Must not: do I/O; the whole input is bounded by
//! the same [`Limits`] as a bare document.

use crate::error::{DecodeError, ErrorKind};
use crate::head001::{self, AppHdr};
use crate::xml::{self, Limits, Node, Writer};
use crate::{decode_root, encode as encode_message, Message};

/// The namespace of the switch's own wrapper element.
pub const NAMESPACE: &str = "urn:instant-payment-switch:envelope:1";

/// The wrapper element the switch writes.
pub const ROOT: &str = "Envelope";

/// A header and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The business application header.
    pub header: AppHdr,
    /// The message.
    pub message: Message,
}

/// Find the first element (breadth-first) holding an `AppHdr` and a `Document` child.
pub fn find_parts<'d, N: Node<'d>>(root: N) -> Option<(N, N)> {
    let mut queue: std::collections::VecDeque<N> = std::collections::VecDeque::new();
    queue.push_back(root);
    while let Some(el) = queue.pop_front() {
        if let (Some(h), Some(d)) = (el.child("AppHdr"), el.child("Document")) {
            return Some((h, d));
        }
        queue.extend(el.children());
    }
    None
}

/// Decode an envelope.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Envelope, DecodeError> {
    let tape = crate::tape::parse(input, limits)?;
    decode_parsed(tape.root(), limits)
}

/// [`decode`] through the owned tree: the reference the fast path is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Envelope, DecodeError> {
    let (root, _) = xml::parse(input, limits)?;
    decode_parsed(&root, limits)
}

/// Decode an envelope from an already parsed root element (owned or [`crate::tape`]).
pub fn decode_parsed<'d, N: Node<'d>>(root: N, limits: &Limits) -> Result<Envelope, DecodeError> {
    let Some((hdr, doc)) = find_parts(root) else {
        return Err(DecodeError::new(
            &format!("/{}", root.name()),
            ErrorKind::WrongMessage("no element holds both an AppHdr and a Document".into()),
        ));
    };
    let header = head001::decode_element(hdr, hdr.xmlns())?;
    let message = decode_root(doc, doc.xmlns(), limits)?;
    let kind = message.message_type();
    if header.msg_def_id != kind.name() {
        return Err(DecodeError::new(
            "/AppHdr/MsgDefIdr",
            ErrorKind::Invalid(format!(
                "says {:?} but the Document is {}",
                header.msg_def_id,
                kind.name()
            )),
        ));
    }
    Ok(Envelope { header, message })
}

fn without_declaration(doc: &str) -> &str {
    match doc.strip_prefix("<?xml") {
        Some(rest) => match rest.find("?>") {
            Some(i) => rest.get(i + 2..).unwrap_or_default().trim_start(),
            None => doc,
        },
        None => doc,
    }
}

/// Encode an envelope in the switch's own wrapper (see the module documentation).
pub fn encode(env: &Envelope) -> String {
    let doc = encode_message(&env.message);
    let mut w = Writer::new(doc.len() + 1024);
    w.open_with(ROOT, &[("xmlns", NAMESPACE)]);
    head001::encode_into(&mut w, &env.header);
    let mut out = w.finish();
    out.push_str(without_declaration(&doc));
    out.push_str("</");
    out.push_str(ROOT);
    out.push('>');
    out
}
