//! ISO external codes are checked against the codec's tables on decode, for every message
//! type that carries one: real samples decode with their codes typed, a code outside its set
//! (or from another set) is refused with the element path and the code, and the answer the
//! switch owes is CH16. The fast decoder and its DOM twin agree on each case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;
use common::*;

use iso20022::codes::{
    CancellationReason, CancellationRejection, CancellationStatus, InvestigationConfirmation,
    ReturnReason, StatusReason, TxStatus,
};
use iso20022::pain002::StatusReasonInfo;
use iso20022::{pacs002, DecodeError, Limits, Message, Reject};

fn sample(name: &str) -> String {
    std::fs::read_to_string(schemas().join("samples").join(name)).unwrap()
}

/// `xml` with the first `from` replaced by `to`, decoded both ways: must fail the same way.
fn refused(xml: &str, from: &str, to: &str) -> DecodeError {
    assert!(xml.contains(from), "{from} not in the sample");
    let bad = xml.replacen(from, to, 1);
    let err = iso20022::decode(bad.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(iso20022::decode_dom(bad.as_bytes(), &Limits::default()), Err(err.clone()));
    err
}

fn assert_code_error(err: &DecodeError, path: &str, code: &str, set: &str) {
    assert_eq!(err.path, path, "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("\"{code}\"")), "{text}");
    assert!(text.contains(set), "{text}");
    assert_eq!(err.reject(), Reject::Business(StatusReason::ElementContentFormallyIncorrect));
}

#[test]
fn pacs002_status_and_reasons_are_checked() {
    let xml = sample("pacs.002/fedwire-cct-s2.xml");
    let tx = "/Document/FIToFIPmtStsRpt/TxInfAndSts[1]";
    let e = refused(&xml, "<TxSts>RJCT<", "<TxSts>RJCX<");
    assert_code_error(&e, &format!("{tx}/TxSts"), "RJCX", "transaction status");
    // A reason code from another set: TECH is a cancellation reason, not a status reason.
    let e = refused(&xml, "<Prtry>E433</Prtry>", "<Cd>TECH</Cd>");
    assert_code_error(&e, &format!("{tx}/StsRsnInf/Rsn/Cd"), "TECH", "ExternalStatusReason1Code");
    // The second of two reasons is checked too, and named by its index.
    let two = xml.replacen(
        "</StsRsnInf>",
        "</StsRsnInf><StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf>",
        1,
    );
    let e = refused(&two, "<Cd>AM04</Cd>", "<Cd>AM99</Cd>");
    assert_code_error(&e, &format!("{tx}/StsRsnInf[2]/Rsn/Cd"), "AM99", "status reason");
    // A reason naming both Cd and Prtry breaks the XSD choice.
    let e = refused(&xml, "<Prtry>E433</Prtry>", "<Cd>AM04</Cd><Prtry>E433</Prtry>");
    assert_eq!(e.path, format!("{tx}/StsRsnInf/Rsn"));
}

#[test]
fn pacs002_proprietary_further_reasons_and_group_status_survive_a_round_trip() {
    let xml = sample("pacs.002/fedwire-cct-s2.xml");
    let m = pacs002::decode(xml.as_bytes(), &Limits::default()).unwrap();
    let tx = &m.transactions[0];
    assert_eq!(tx.status, TxStatus::Rejected);
    assert_eq!((tx.reason, tx.proprietary_reason.as_deref()), (None, Some("E433")));
    let mut m = m.clone();
    m.original_msg_id = Some("ORIG-1".into());
    m.original_msg_name = Some("pacs.008.001.08".into());
    m.original_group_status = Some("PART".into());
    m.original_group_reasons = vec![StatusReasonInfo {
        reason: Some(StatusReason::Narrative),
        additional_info: vec!["one of two rejected".into()],
        ..Default::default()
    }];
    m.transactions[0].more_additional_info = vec!["second line".into()];
    m.transactions[0].further_reasons = vec![
        StatusReasonInfo { reason: Some(StatusReason::InsufficientFunds), ..Default::default() },
        StatusReasonInfo { proprietary: Some("E999".into()), ..Default::default() },
    ];
    let out = pacs002::encode(&m);
    assert_xsd_valid(&out, "pacs.002.001.10.xsd");
    assert_eq!(pacs002::decode(out.as_bytes(), &Limits::default()).unwrap(), m);
    assert_eq!(pacs002::decode_dom(out.as_bytes(), &Limits::default()).unwrap(), m);
    let e = refused(&out, "<GrpSts>PART<", "<GrpSts>PRTL<");
    assert_code_error(
        &e,
        "/Document/FIToFIPmtStsRpt/OrgnlGrpInfAndSts/GrpSts",
        "PRTL",
        "ExternalPaymentGroupStatus1Code",
    );
    let e = refused(&out, "<Cd>NARR</Cd>", "<Cd>NARX</Cd>");
    assert_code_error(
        &e,
        "/Document/FIToFIPmtStsRpt/OrgnlGrpInfAndSts/StsRsnInf[1]/Rsn/Cd",
        "NARX",
        "status reason",
    );
}

#[test]
fn pacs004_return_reasons_are_checked() {
    let xml = sample("pacs.004/fedwire-return-s1.xml");
    let Message::Pacs004(m) = iso20022::decode(xml.as_bytes(), &Limits::default()).unwrap() else {
        panic!()
    };
    assert_eq!(m.transactions[0].reasons[0].reason, Some(ReturnReason::DuplicatePayment));
    let at = "/Document/PmtRtr/TxInf[1]/RtrRsnInf[1]/Rsn/Cd";
    let e = refused(&xml, "<Cd>DUPL</Cd>", "<Cd>XX01</Cd>");
    assert_code_error(&e, at, "XX01", "ExternalReturnReason1Code");
    // BE23 is a status reason (proxy invalid), not a return reason.
    let e = refused(&xml, "<Cd>DUPL</Cd>", "<Cd>BE23</Cd>");
    assert_code_error(&e, at, "BE23", "return reason");
    // Lower case is not the code.
    let e = refused(&xml, "<Cd>DUPL</Cd>", "<Cd>dupl</Cd>");
    assert_code_error(&e, at, "dupl", "return reason");
}

#[test]
fn camt056_cancellation_reasons_are_checked() {
    let xml = sample("camt.056/fedwire-return-s1.xml");
    let Message::Camt056(m) = iso20022::decode(xml.as_bytes(), &Limits::default()).unwrap() else {
        panic!()
    };
    let tx = &m.underlying[0].transactions[0];
    assert_eq!(tx.reasons[0].reason, Some(CancellationReason::DuplicatePayment));
    let e = refused(&xml, "<Cd>DUPL</Cd>", "<Cd>FOCR</Cd>");
    assert!(e.path.ends_with("/CxlRsnInf[1]/Rsn/Cd"), "{e}");
    assert_code_error(&e, &e.path.clone(), "FOCR", "ExternalCancellationReason1Code");
}

#[test]
fn camt029_confirmation_status_and_rejection_reasons_are_checked() {
    let xml = sample("camt.029/fedwire-return-s2.xml");
    let Message::Camt029(m) = iso20022::decode(xml.as_bytes(), &Limits::default()).unwrap() else {
        panic!()
    };
    assert_eq!(
        m.status,
        iso20022::camt029::InvestigationStatus::Confirmation(
            InvestigationConfirmation::RejectedCancellationRequest
        )
    );
    let tx = &m.cancellation_details[0].transactions[0];
    assert_eq!(tx.reasons[0].reason, Some(CancellationRejection::Narrative));
    let e = refused(&xml, "<Conf>RJCR<", "<Conf>NOPE<");
    assert_code_error(&e, "/Document/RsltnOfInvstgtn/Sts/Conf", "NOPE", "confirmation");
    let t = "/Document/RsltnOfInvstgtn/CxlDtls[1]/TxInfAndSts[1]";
    let e = refused(&xml, "<Cd>NARR</Cd>", "<Cd>DUPL</Cd>");
    assert_code_error(
        &e,
        &format!("{t}/CxlStsRsnInf[1]/Rsn/Cd"),
        "DUPL",
        "ExternalPaymentCancellationRejection1Code",
    );
    if xml.contains("<TxCxlSts>") {
        let e = refused(&xml, "<TxCxlSts>", "<TxCxlSts>X");
        assert_eq!(e.path, format!("{t}/TxCxlSts"));
        assert_eq!(e.reject(), Reject::Business(StatusReason::ElementContentFormallyIncorrect));
    }
}

#[test]
fn pain014_transaction_status_is_checked() {
    let xml = sample("pain.014/fedwire-drawdown-s1.xml");
    let e = refused(&xml, "<TxSts>ACTC<", "<TxSts>ACTX<");
    assert!(e.path.ends_with("/TxInfAndSts[1]/TxSts"), "{e}");
    assert_code_error(&e, &e.path.clone(), "ACTX", "transaction status");
}

/// Every code the switch and the adapters put in a message (grep of `switch/src` and
/// `adapters/src`, 2026-11-24), in the set it is sent in: the switch's own messages go
/// through this decoder, so each must be an official code of that set.
#[test]
fn every_code_the_switch_emits_is_in_the_set_it_is_sent_in() {
    for c in ["ACSC", "ACCC", "ACSP", "RJCT", "PDNG"] {
        assert!(TxStatus::from_code(c).is_some(), "TxSts {c}");
    }
    let status_reasons = [
        "AB05", "AB08", "AC02", "AC03", "AG01", "AG10", "AG11", "AG12", "AG13", "AGNT", "AM01",
        "AM02", "AM04", "AM05", "AM09", "AM12", "AM13", "AM14", "AM23", "BE23", "CH21", "DS0G",
        "ED06", "MS03", "NARR", "RC10", "TM01",
    ];
    for c in status_reasons {
        assert!(StatusReason::from_code(c).is_some(), "status reason {c}");
    }
    for c in ["FOCR", "MD06"] {
        assert!(ReturnReason::from_code(c).is_some(), "return reason {c}");
    }
    for c in ["DUPL", "FRAD"] {
        assert!(CancellationReason::from_code(c).is_some(), "cancellation reason {c}");
    }
    for c in ["CNCL", "RJCR", "PDCR", "PDNG"] {
        assert!(InvestigationConfirmation::from_code(c).is_some(), "Conf {c}");
    }
    for c in ["ACCR", "RJCR", "PDCR"] {
        assert!(CancellationStatus::from_code(c).is_some(), "TxCxlSts {c}");
    }
    for c in ["AGNT", "ARDT", "ARPL", "NARR", "NOAS", "NOOR"] {
        assert!(CancellationRejection::from_code(c).is_some(), "rejection reason {c}");
    }
}
