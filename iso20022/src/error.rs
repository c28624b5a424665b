//! Decode errors: where in the document, what is wrong, and which answer the switch owes.
//!
//! Every error carries the element path (`/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/...`) and
//! a kind. [`DecodeError::reject`] maps the kind to the answer a bank receives: a technical
//! reject (admi.002) for documents that are not well-formed, not ISO 20022 or over a limit, or
//! a business reject (pacs.002 RJCT) with an ISO 20022 status reason for content errors: CH21
//! for a missing element, and for an invalid value the most specific code for the element it
//! is in (AM12 amount, FF08 end-to-end id, RC01 BIC, RC08/RC09/RC10 clearing member id,
//! AC02/AC03 debtor/creditor account, AC01 an IBAN in any other account, CH16 an ISO external
//! code that is not in its code set), FF02 otherwise.

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
            ErrorKind::Invalid(_) => Reject::Business(invalid_reason(&self.path)),
        }
    }
}

/// The status reason for an invalid value, chosen by the element it is in: the most specific
/// ISO code the switch can give (the bank then knows which field to fix), FF02 otherwise.
/// A status, reason or confirmation code outside its ISO code set (`.../Rsn/Cd`, `TxSts`,
/// `GrpSts`, `Conf`, `TxCxlSts`, `GrpCxlSts`) is CH16: the XSD took it, its content is wrong.
fn invalid_reason(path: &str) -> StatusReason {
    let leaf = path.rsplit('/').next().unwrap_or_default();
    let leaf = leaf.split('[').next().unwrap_or_default();
    let within = |el: &str| path.split('/').any(|p| p == el || p.starts_with(&format!("{el}[")));
    let parent = path.rsplit('/').nth(1).unwrap_or_default();
    match leaf {
        "Cd" if parent == "Rsn" => StatusReason::ElementContentFormallyIncorrect,
        "TxSts" | "GrpSts" | "Conf" | "TxCxlSts" | "GrpCxlSts" => {
            StatusReason::ElementContentFormallyIncorrect
        }
        "IntrBkSttlmAmt" | "InstdAmt" | "RtrdIntrBkSttlmAmt" | "Amt" | "TtlIntrBkSttlmAmt" => {
            StatusReason::InvalidAmount
        }
        "EndToEndId" => StatusReason::InvalidEndToEndId,
        "BICFI" | "BIC" | "AnyBIC" => StatusReason::BankIdentifierIncorrect,
        "MmbId" if within("DbtrAgt") => StatusReason::InvalidDebtorClearingSystemMemberIdentifier,
        "MmbId" if within("CdtrAgt") => StatusReason::InvalidCreditorClearingSystemMemberIdentifier,
        "MmbId" => StatusReason::InvalidClearingSystemMemberIdentifier,
        _ if within("CdtrAcct") => StatusReason::InvalidCreditorAccountNumber,
        _ if within("DbtrAcct") => StatusReason::InvalidDebtorAccountNumber,
        "IBAN" => StatusReason::IncorrectAccountNumber,
        _ => StatusReason::SyntaxError,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(path: &str) -> Reject {
        DecodeError::new(path, ErrorKind::Invalid("x".into())).reject()
    }

    #[test]
    fn invalid_values_map_to_the_most_specific_reason() {
        let tx = "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]";
        let b = Reject::Business;
        assert_eq!(reason(&format!("{tx}/IntrBkSttlmAmt")), b(StatusReason::InvalidAmount));
        assert_eq!(reason(&format!("{tx}/PmtId/EndToEndId")), b(StatusReason::InvalidEndToEndId));
        assert_eq!(
            reason(&format!("{tx}/CdtrAgt/FinInstnId/BICFI")),
            b(StatusReason::BankIdentifierIncorrect)
        );
        assert_eq!(
            reason(&format!("{tx}/DbtrAgt/FinInstnId/ClrSysMmbId/MmbId")),
            b(StatusReason::InvalidDebtorClearingSystemMemberIdentifier)
        );
        assert_eq!(
            reason(&format!("{tx}/CdtrAcct/Id/IBAN")),
            b(StatusReason::InvalidCreditorAccountNumber)
        );
        assert_eq!(
            reason(&format!("{tx}/DbtrAcct/Id/Othr/Id")),
            b(StatusReason::InvalidDebtorAccountNumber)
        );
        assert_eq!(
            reason("/Document/FIToFICstmrCdtTrf/GrpHdr/MsgId"),
            b(StatusReason::SyntaxError)
        );
        assert_eq!(
            reason("/Document/FIToFIPmtRtr/TxInf[1]/OrgnlTxRef/UltmtCdtrAcct/Id/IBAN"),
            b(StatusReason::IncorrectAccountNumber)
        );
        for p in [
            "/Document/FIToFIPmtStsRpt/TxInfAndSts[1]/StsRsnInf/Rsn/Cd",
            "/Document/FIToFIPmtStsRpt/TxInfAndSts[1]/TxSts",
            "/Document/PmtRtr/TxInf[1]/RtrRsnInf[1]/Rsn/Cd",
            "/Document/FIToFIPmtCxlReq/Undrlyg[1]/TxInf[1]/CxlRsnInf[1]/Rsn/Cd",
            "/Document/RsltnOfInvstgtn/Sts/Conf",
            "/Document/RsltnOfInvstgtn/CxlDtls[1]/TxInfAndSts[1]/TxCxlSts",
        ] {
            assert_eq!(reason(p), b(StatusReason::ElementContentFormallyIncorrect), "{p}");
        }
        // Other `Cd` leaves (purpose, category purpose) are not reason codes.
        assert_eq!(reason(&format!("{tx}/Purp/Cd")), b(StatusReason::SyntaxError));
        let missing = DecodeError::new("/Document/X/Y", ErrorKind::Missing).reject();
        assert_eq!(missing, b(StatusReason::RequiredCompulsoryElementMissing));
    }
}
