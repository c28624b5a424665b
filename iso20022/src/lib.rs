//! ISO 20022 messages for the instant-payment switch: typed models, decoders and encoders.
//!
//! A tour:
//!
//! ```
//! use iso20022::{pacs008, pacs002, codes::{TxStatus, StatusReason}, Limits};
//!
//! let xml = include_str!("../../schemas/iso20022/samples/pacs.008/fednow-participant.xml");
//! let msg = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap();
//! let tx = &msg.transactions[0];
//! assert_eq!(tx.amount.minor, 5174); // USD 51.74, integer minor units inside
//!
//! // A reject the switch would send back, XSD-valid by construction.
//! let report = pacs002::Pacs002 {
//!     msg_id: "SW0001".into(),
//!     created: "2026-01-01T00:00:00Z".into(),
//!     instructing_agent: None,
//!     instructed_agent: None,
//!     original_msg_id: Some(msg.header.msg_id.clone()),
//!     original_msg_name: Some("pacs.008.001.08".into()),
//!     transactions: vec![pacs002::TxStatusReport {
//!         original_instr_id: tx.instr_id.clone(),
//!         original_end_to_end_id: Some(tx.end_to_end_id.clone()),
//!         original_tx_id: tx.tx_id.clone(),
//!         original_uetr: tx.uetr.clone(),
//!         status: TxStatus::Rejected,
//!         reason: Some(StatusReason::AccountProxyInvalid),
//!         additional_info: None,
//!         acceptance: None,
//!         clearing_ref: None,
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let out = pacs002::encode(&report);
//! assert_eq!(pacs002::decode(out.as_bytes(), &Limits::default()).unwrap(), report);
//! ```
//!
//! Supported (typed model, `decode`, `encode` in each module):
//!
//! | message | module | notes |
//! |---|---|---|
//! | pacs.008.001.08 | [`pacs008`] | one or many transactions |
//! | pacs.002.001.10 | [`pacs002`] | |
//! | pacs.004.001.09 / .10 | [`pacs004`] | both decode; encodes the version the value carries |
//! | pacs.028.001.03 | [`pacs028`] | |
//! | camt.056.001.08 / camt.029.001.09 | [`camt056`], [`camt029`] | reasons checked in [`codes`] |
//! | admi.002.001.01 | [`admi002`] | |
//! | head.001.001.02 | [`head001`], [`envelope`] | AppHdr alone, or AppHdr + Document |
//! | pain.001.001.09 / .03 | [`pain001`] | streamed per transaction; .03 decode only |
//! | pain.002.001.10 / pain.014.001.07 | [`pain002`] | one model, [`pain002::ReportKind`] |
//! | pain.013.001.07 | [`pain013`] | |
//! | camt.052/053/054.001.08 | [`camt05x`] | one model, [`camt05x::Kind`] |
//!
//! [`decode`] picks the decoder by namespace, [`encode`] writes any [`Message`], [`check`]
//! says what a document is or why it is refused (for `switchctl iso check`), and
//! [`decode_message`] reads what a bank sends the switch (a bare Document, or an AppHdr +
//! Document envelope, whose header it returns too).
//!
//! How decoding reads XML: [`tape::parse`] makes one pass over the input into a flat index
//! whose names and text borrow the input (a scanner specialised for the plain shape ISO 20022
//! producers write, quick-xml for anything else); the typed decoders read it through
//! [`xml::Node`]. Every `decode` has a `decode_dom` twin that reads the owned tree of
//! [`xml::parse`] instead, with the same typed-decoding code: slower, kept as the reference
//! the fast path is checked against (`tests/differential.rs`, `fuzz` target `differential`):
//! same value, same error path and reason, for every input.
//!
//! Limits ([`Limits`]): size, nesting depth, element count and transactions per message are
//! all explicit. The defaults suit FI-to-FI messages; a bulk pain.001 of tens of thousands of
//! transactions needs larger `max_bytes`, `max_elements` and `max_transactions`, and is then
//! decoded one transaction at a time (memory: the typed result plus one transaction's tree).
//! DOCTYPE declarations are refused, so no DTD, entity expansion or external entity is ever
//! processed. Fuzz targets for every decoder are in `fuzz/` (see `fuzz/README.md`).
//!
pub mod admi002;
pub mod camt029;
pub mod camt056;
pub mod camt05x;
pub mod codes;
pub mod common;
pub mod envelope;
pub mod error;
pub mod head001;
pub mod pacs002;
pub mod pacs004;
pub mod pacs008;
pub mod pacs028;
pub mod pain001;
pub mod pain002;
pub mod pain013;
pub mod reference;
pub mod remittance;
pub mod splice;
pub mod tape;
pub mod xml;

pub use common::{Account, AccountId, Agent, Amount, Currency, Party, Proxy};
pub use error::{DecodeError, ErrorKind, Reject};
pub use xml::Limits;

/// The message types the switch can identify by namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageType {
    /// pacs.008.001.08
    Pacs008,
    /// pacs.002.001.10
    Pacs002,
    /// admi.002.001.01
    Admi002,
    /// pacs.004.001.09
    Pacs004,
    /// pacs.004.001.10 (decoded into the same model as .09)
    Pacs004V10,
    /// pacs.028.001.03
    Pacs028,
    /// camt.056.001.08
    Camt056,
    /// camt.029.001.09
    Camt029,
    /// head.001.001.02 (a business application header on its own)
    Head001,
    /// pain.001.001.09
    Pain001,
    /// pain.001.001.03 (decoded into the .09 model)
    Pain001V03,
    /// pain.002.001.10
    Pain002,
    /// camt.052.001.08
    Camt052,
    /// camt.053.001.08
    Camt053,
    /// camt.054.001.08
    Camt054,
    /// pain.013.001.07
    Pain013,
    /// pain.014.001.07 (decoded into the pain.002 model)
    Pain014,
}

impl MessageType {
    /// Every supported type.
    pub const ALL: &'static [MessageType] = &[
        MessageType::Pacs008,
        MessageType::Pacs002,
        MessageType::Admi002,
        MessageType::Pacs004,
        MessageType::Pacs004V10,
        MessageType::Pacs028,
        MessageType::Camt056,
        MessageType::Camt029,
        MessageType::Head001,
        MessageType::Pain001,
        MessageType::Pain001V03,
        MessageType::Pain002,
        MessageType::Camt052,
        MessageType::Camt053,
        MessageType::Camt054,
        MessageType::Pain013,
        MessageType::Pain014,
    ];

    /// The ISO message name id, e.g. `pacs.008.001.08`.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Pacs008 => "pacs.008.001.08",
            MessageType::Pacs002 => "pacs.002.001.10",
            MessageType::Admi002 => "admi.002.001.01",
            MessageType::Pacs004 => "pacs.004.001.09",
            MessageType::Pacs004V10 => "pacs.004.001.10",
            MessageType::Pacs028 => "pacs.028.001.03",
            MessageType::Camt056 => "camt.056.001.08",
            MessageType::Camt029 => "camt.029.001.09",
            MessageType::Head001 => "head.001.001.02",
            MessageType::Pain001 => "pain.001.001.09",
            MessageType::Pain001V03 => "pain.001.001.03",
            MessageType::Pain002 => "pain.002.001.10",
            MessageType::Camt052 => "camt.052.001.08",
            MessageType::Camt053 => "camt.053.001.08",
            MessageType::Camt054 => "camt.054.001.08",
            MessageType::Pain013 => "pain.013.001.07",
            MessageType::Pain014 => "pain.014.001.07",
        }
    }

    /// The XML namespace of the type.
    pub fn namespace(self) -> &'static str {
        match self {
            MessageType::Pacs008 => pacs008::NAMESPACE,
            MessageType::Pacs002 => pacs002::NAMESPACE,
            MessageType::Admi002 => admi002::NAMESPACE,
            MessageType::Pacs004 => pacs004::NAMESPACE,
            MessageType::Pacs004V10 => pacs004::NAMESPACE_V10,
            MessageType::Pacs028 => pacs028::NAMESPACE,
            MessageType::Camt056 => camt056::NAMESPACE,
            MessageType::Camt029 => camt029::NAMESPACE,
            MessageType::Head001 => head001::NAMESPACE,
            MessageType::Pain001 => pain001::NAMESPACE,
            MessageType::Pain001V03 => pain001::NAMESPACE_V03,
            MessageType::Pain002 => pain002::NAMESPACE,
            MessageType::Camt052 => camt05x::NAMESPACE_052,
            MessageType::Camt053 => camt05x::NAMESPACE_053,
            MessageType::Camt054 => camt05x::NAMESPACE_054,
            MessageType::Pain013 => pain013::NAMESPACE,
            MessageType::Pain014 => pain002::NAMESPACE_PAIN014,
        }
    }

    /// The type whose namespace is `ns`.
    pub fn from_namespace(ns: &str) -> Option<MessageType> {
        MessageType::ALL.iter().copied().find(|t| t.namespace() == ns)
    }
}

impl std::fmt::Display for MessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded message of any supported type.
#[derive(Debug, Clone, PartialEq, Eq)]
// Values are decoded once and moved; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum Message {
    /// A credit transfer.
    Pacs008(pacs008::Pacs008),
    /// A status report.
    Pacs002(pacs002::Pacs002),
    /// A message reject.
    Admi002(admi002::Admi002),
    /// A payment return (.09 or .10, see its `version`).
    Pacs004(pacs004::Pacs004),
    /// A payment status request.
    Pacs028(pacs028::Pacs028),
    /// A cancellation (recall) request.
    Camt056(camt056::Camt056),
    /// A resolution of investigation.
    Camt029(camt029::Camt029),
    /// A business application header on its own.
    Head001(head001::AppHdr),
    /// A customer credit transfer initiation (.09 or .03, see its `version`).
    Pain001(pain001::Pain001),
    /// A customer payment status report (pain.002, or pain.014: see its `kind`).
    Pain002(pain002::Pain002),
    /// A request to pay.
    Pain013(pain013::Pain013),
    /// An account report, statement or notification (camt.052/053/054, see its `kind`).
    Camt05x(camt05x::CashReport),
}

impl Message {
    /// The type of this message.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Pacs008(_) => MessageType::Pacs008,
            Message::Pacs002(_) => MessageType::Pacs002,
            Message::Admi002(_) => MessageType::Admi002,
            Message::Pacs004(m) => match m.version {
                pacs004::Version::V09 => MessageType::Pacs004,
                pacs004::Version::V10 => MessageType::Pacs004V10,
            },
            Message::Pacs028(_) => MessageType::Pacs028,
            Message::Camt056(_) => MessageType::Camt056,
            Message::Camt029(_) => MessageType::Camt029,
            Message::Head001(_) => MessageType::Head001,
            Message::Pain001(m) => match m.version {
                pain001::Version::V09 => MessageType::Pain001,
                pain001::Version::V03 => MessageType::Pain001V03,
            },
            Message::Pain002(m) => match m.kind {
                pain002::ReportKind::Pain002 => MessageType::Pain002,
                pain002::ReportKind::Pain014 => MessageType::Pain014,
            },
            Message::Pain013(_) => MessageType::Pain013,
            Message::Camt05x(m) => match m.kind {
                camt05x::Kind::Report => MessageType::Camt052,
                camt05x::Kind::Statement => MessageType::Camt053,
                camt05x::Kind::Notification => MessageType::Camt054,
            },
        }
    }
}

/// Whether `input` is a pain.001 (routed to its streaming decoder).
fn is_bulk(input: &[u8], limits: &Limits) -> bool {
    input.len() <= limits.max_bytes
        && matches!(
            xml::root_namespace(input).as_deref(),
            Some(pain001::NAMESPACE) | Some(pain001::NAMESPACE_V03)
        )
}

/// Decode any supported message, choosing the decoder by the document's namespace.
///
/// Reads through the borrowed index of [`tape`] (a bulk pain.001 streams through
/// [`pain001::decode`]); [`decode_dom`] gives the same value or error through the owned tree.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Message, DecodeError> {
    if is_bulk(input, limits) {
        return pain001::decode(input, limits).map(Message::Pain001);
    }
    let tape = tape::parse(input, limits)?;
    decode_root(tape.root(), tape.root_ns(), limits)
}

/// [`decode`] through the owned tree ([`xml::parse`]): slower, the reference the fast path
/// is checked against.
pub fn decode_dom(input: &[u8], limits: &Limits) -> Result<Message, DecodeError> {
    if is_bulk(input, limits) {
        return pain001::decode(input, limits).map(Message::Pain001);
    }
    let (root, ns) = xml::parse(input, limits)?;
    decode_root(&root, ns.as_deref(), limits)
}

/// What the switch reads from a bank: a bare `Document` of a supported type, or an `AppHdr`
/// plus `Document` envelope (then the header comes back too). Fast path ([`tape`]); the same
/// result as parsing with [`xml::parse`] and calling [`decode_root`] or
/// [`envelope::decode_parsed`] (see [`decode_message_dom`]). A pain.001 is decoded whole here;
/// [`pain001::decode`] streams a bulk file one transaction at a time.
pub fn decode_message(
    input: &[u8],
    limits: &Limits,
) -> Result<(Option<head001::AppHdr>, Message), DecodeError> {
    let tape = tape::parse(input, limits)?;
    read_message(tape.root(), tape.root_ns(), limits)
}

/// [`decode_message`] through the owned tree: the reference for the differential tests.
pub fn decode_message_dom(
    input: &[u8],
    limits: &Limits,
) -> Result<(Option<head001::AppHdr>, Message), DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    read_message(&root, ns.as_deref(), limits)
}

fn read_message<'d, N: xml::Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<(Option<head001::AppHdr>, Message), DecodeError> {
    if ns.and_then(MessageType::from_namespace).is_none() && envelope::find_parts(root).is_some() {
        return envelope::decode_parsed(root, limits).map(|e| (Some(e.header), e.message));
    }
    decode_root(root, ns, limits).map(|m| (None, m))
}

/// Decode an already parsed root element (`Document` or `AppHdr`) by its namespace: an owned
/// [`xml::Element`] or a [`tape::TapeNode`].
pub fn decode_root<'d, N: xml::Node<'d>>(
    root: N,
    ns: Option<&str>,
    limits: &Limits,
) -> Result<Message, DecodeError> {
    let Some(kind) = ns.and_then(MessageType::from_namespace) else {
        return Err(DecodeError::new(
            &format!("/{}", root.name()),
            ErrorKind::WrongMessage(format!(
                "unsupported message namespace {}",
                ns.unwrap_or("(none)")
            )),
        ));
    };
    Ok(match kind {
        MessageType::Pacs008 => Message::Pacs008(pacs008::decode_element(root, ns, limits)?),
        MessageType::Pacs002 => Message::Pacs002(pacs002::decode_element(root, ns, limits)?),
        MessageType::Admi002 => Message::Admi002(admi002::decode_element(root, ns)?),
        MessageType::Pacs004 | MessageType::Pacs004V10 => {
            Message::Pacs004(pacs004::decode_element(root, ns, limits)?)
        }
        MessageType::Pacs028 => Message::Pacs028(pacs028::decode_element(root, ns, limits)?),
        MessageType::Camt056 => Message::Camt056(camt056::decode_element(root, ns, limits)?),
        MessageType::Camt029 => Message::Camt029(camt029::decode_element(root, ns, limits)?),
        MessageType::Head001 => Message::Head001(head001::decode_element(root, ns)?),
        MessageType::Pain001 | MessageType::Pain001V03 => {
            Message::Pain001(pain001::decode_element(root, ns, limits)?)
        }
        MessageType::Pain002 | MessageType::Pain014 => {
            Message::Pain002(pain002::decode_element(root, ns, limits)?)
        }
        MessageType::Pain013 => Message::Pain013(pain013::decode_element(root, ns, limits)?),
        MessageType::Camt052 | MessageType::Camt053 | MessageType::Camt054 => {
            Message::Camt05x(camt05x::decode_element(root, ns, limits)?)
        }
    })
}

/// Encode any message with its own encoder.
pub fn encode(msg: &Message) -> String {
    match msg {
        Message::Pacs008(m) => pacs008::encode(m),
        Message::Pacs002(m) => pacs002::encode(m),
        Message::Admi002(m) => admi002::encode(m),
        Message::Pacs004(m) => pacs004::encode(m),
        Message::Pacs028(m) => pacs028::encode(m),
        Message::Camt056(m) => camt056::encode(m),
        Message::Camt029(m) => camt029::encode(m),
        Message::Head001(m) => head001::encode(m),
        Message::Pain001(m) => pain001::encode(m),
        Message::Pain002(m) => pain002::encode(m),
        Message::Pain013(m) => pain013::encode(m),
        Message::Camt05x(m) => camt05x::encode(m),
    }
}

/// Decode `input` as any supported message (or an AppHdr + Document envelope) and say which
/// type it is. This is what `switchctl iso check` prints: `OK <type>` or the error, whose
/// `Display` is `<element path>: <reason>`. For an envelope the type of its Document is given.
pub fn check(input: &[u8], limits: &Limits) -> Result<MessageType, DecodeError> {
    if is_bulk(input, limits) {
        return pain001::decode(input, limits).map(|m| Message::Pain001(m).message_type());
    }
    decode_message(input, limits).map(|(_, m)| m.message_type())
}

/// Decode `input` (a bare document or an AppHdr + Document envelope) and encode it again:
/// the codec's view of the message, as `switchctl iso roundtrip` prints it. An envelope comes
/// back in the switch's own wrapper ([`envelope::ROOT`]).
pub fn roundtrip(input: &[u8], limits: &Limits) -> Result<String, DecodeError> {
    if is_bulk(input, limits) {
        return pain001::decode(input, limits).map(|m| pain001::encode(&m));
    }
    match decode_message(input, limits)? {
        (Some(header), message) => Ok(envelope::encode(&envelope::Envelope { header, message })),
        (None, message) => Ok(encode(&message)),
    }
}
