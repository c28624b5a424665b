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
//!     }],
//! };
//! let out = pacs002::encode(&report);
//! assert_eq!(pacs002::decode(out.as_bytes(), &Limits::default()).unwrap(), report);
//! ```
//!
//! Pure: no I/O, no tokio, no clock. Amounts cross the XML edge as `rust_decimal` and live as
//! integer minor units. Errors name the element path and map to the switch's answer
//! ([`error::Reject`]): admi.002 for unreadable documents, pacs.002 RJCT for content errors.

pub mod admi002;
pub mod codes;
pub mod common;
pub mod error;
pub mod pacs002;
pub mod pacs008;
pub mod xml;

pub use common::{Account, AccountId, Agent, Amount, Currency, Party, Proxy};
pub use error::{DecodeError, ErrorKind, Reject};
pub use xml::Limits;

/// The message types the switch can identify by namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageType {
    /// pacs.008.001.08
    Pacs008,
    /// pacs.002.001.10
    Pacs002,
    /// admi.002.001.01
    Admi002,
}

impl MessageType {
    /// The ISO message name id, e.g. `pacs.008.001.08`.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Pacs008 => "pacs.008.001.08",
            MessageType::Pacs002 => "pacs.002.001.10",
            MessageType::Admi002 => "admi.002.001.01",
        }
    }
}

/// A decoded message of any supported type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A credit transfer.
    Pacs008(pacs008::Pacs008),
    /// A status report.
    Pacs002(pacs002::Pacs002),
    /// A message reject.
    Admi002(admi002::Admi002),
}

/// Decode any supported message, choosing the decoder by the document's namespace.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Message, DecodeError> {
    let (root, ns) = xml::parse(input, limits)?;
    match ns.as_deref() {
        Some(pacs008::NAMESPACE) => {
            pacs008::decode_element(&root, ns.as_deref(), limits).map(Message::Pacs008)
        }
        Some(pacs002::NAMESPACE) => {
            pacs002::decode_element(&root, ns.as_deref(), limits).map(Message::Pacs002)
        }
        Some(admi002::NAMESPACE) => admi002::decode(input, limits).map(Message::Admi002),
        other => Err(DecodeError::new(
            "/Document",
            ErrorKind::WrongMessage(format!(
                "unsupported message namespace {}",
                other.unwrap_or("(none)")
            )),
        )),
    }
}
