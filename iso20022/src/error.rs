//! Decode errors: where in the document, what is wrong, and which answer the switch owes.
//!
//! Every error carries the element path (`/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/...`) and
//! a kind. [`DecodeError::reject`] maps the kind to the answer a bank receives: a technical
//! reject (admi.002) for documents that are not well-formed, not ISO 20022 or over a limit, or
//! a business reject (pacs.002 RJCT) with an ISO 20022 status reason for content errors.

use crate::codes::StatusReason;
use std::fmt;

/// What is wrong with a document or one of its elements.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not well-formed XML. Fix the producer; nothing of the message was processed.
    Malformed(String),
    /// A forbidden construct (DOCTYPE, DTD, entity declaration).
    Forbidden(String),
    /// Over a configured limit (size, depth, elements, transactions).
    TooLarge(String),
    /// The root element or namespace is not the message this decoder reads.
    WrongMessage(String),
    /// A mandatory element is missing.
    Missing,
    /// An element is present but its value breaks an XSD facet or a code list.
    Invalid(String),
}

/// A decode failure at a given element path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Element path, e.g. `/Document/FIToFICstmrCdtTrf/GrpHdr/MsgId`.
    pub path: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// How the switch answers a message that failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Technical reject: admi.002 (the message could not be read as the claimed type).
    Technical,
    /// Business reject: pacs.002 RJCT with this status reason.
    Business(StatusReason),
}

impl DecodeError {
    /// An error at `path`.
    pub fn new(path: &str, kind: ErrorKind) -> Self {
        DecodeError { path: path.to_string(), kind }
    }

    /// The answer the switch sends for this error.
    pub fn reject(&self) -> Reject {
        match &self.kind {
            ErrorKind::Malformed(_)
            | ErrorKind::Forbidden(_)
            | ErrorKind::TooLarge(_)
            | ErrorKind::WrongMessage(_) => Reject::Technical,
            ErrorKind::Missing => Reject::Business(StatusReason::RequiredCompulsoryElementMissing),
            ErrorKind::Invalid(_) => Reject::Business(StatusReason::SyntaxError),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Malformed(m) => write!(f, "{}: not well-formed XML: {m}", self.path),
            ErrorKind::Forbidden(m) => write!(f, "{}: forbidden: {m}", self.path),
            ErrorKind::TooLarge(m) => write!(f, "{}: over limit: {m}", self.path),
            ErrorKind::WrongMessage(m) => write!(f, "{}: wrong message: {m}", self.path),
            ErrorKind::Missing => write!(f, "{}: mandatory element missing", self.path),
            ErrorKind::Invalid(m) => write!(f, "{}: {m}", self.path),
        }
    }
}

impl std::error::Error for DecodeError {}
