//! The codec against the real sample corpus in `schemas/iso20022/` and the official XSDs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;
#[allow(unused_imports)]
use common::*;

use iso20022::{admi002, pacs002, pacs008, Limits, Message};

#[test]
fn every_pacs008_sample_decodes_and_round_trips_through_the_xsd() {
    for f in files("pacs.008") {
        let bytes = std::fs::read(&f).unwrap();
        let msg = pacs008::decode(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!msg.transactions.is_empty());
        let out = pacs008::encode(&msg);
        assert_xsd_valid(&out, "pacs.008.001.08.xsd");
        let again = pacs008::decode(out.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(again, msg, "{}", f.display());
    }
}

#[test]
fn every_pacs002_sample_decodes_and_round_trips_through_the_xsd() {
    for f in files("pacs.002") {
        let bytes = std::fs::read(&f).unwrap();
        let msg = pacs002::decode(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let out = pacs002::encode(&msg);
        assert_xsd_valid(&out, "pacs.002.001.10.xsd");
        assert_eq!(pacs002::decode(out.as_bytes(), &Limits::default()).unwrap(), msg);
    }
}

#[test]
fn fednow_sample_fields_are_read_exactly() {
    let bytes = std::fs::read(schemas().join("samples/pacs.008/fednow-participant.xml")).unwrap();
    let msg = pacs008::decode(&bytes, &Limits::default()).unwrap();
    let tx = &msg.transactions[0];
    assert_eq!(msg.header.msg_id, "20230604111111111Sc01Step1MsgId");
    assert_eq!(tx.end_to_end_id, "Scenario01EtoEId001");
    assert_eq!(tx.uetr.as_deref(), Some("8a562c67-ca16-48ba-b074-65581be6f011"));
    assert_eq!((tx.amount.minor, tx.amount.currency.as_str()), (5174, "USD"));
    assert_eq!(tx.debtor_agent.member_id.as_deref(), Some("111111111"));
    assert_eq!(tx.creditor_agent.member_id.as_deref(), Some("333333333"));
    assert_eq!(tx.creditor_account.as_ref().unwrap().id.as_str(), "55555555555");
}

#[test]
fn admi002_sample_decodes_and_encoder_output_is_xsd_valid() {
    let bytes = std::fs::read(schemas().join("samples/admi.002/fednow-admi002.xml")).unwrap();
    let msg = admi002::decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(msg.reason, "T505");
    let long = admi002::Admi002 {
        related_ref: "X".repeat(80),
        reason: "ISW-DECODE-MALFORMED-AND-MORE-THAN-35-CHARS".into(),
        rejected_at: Some("2026-11-23T10:00:00Z".into()),
        location: Some("/Document/FIToFICstmrCdtTrf".into()),
        description: Some("é".repeat(400)),
    };
    let out = admi002::encode(&long);
    assert_xsd_valid(&out, "admi.002.001.01.xsd");
}

#[test]
fn invalid_samples_are_rejected_with_specific_errors() {
    let dir = schemas().join("samples-invalid");
    let expect = [
        ("pacs.008-missing-lt.xml", "not well-formed"),
        ("pacs.008-comment-before-xmldecl.xml", "not well-formed"),
        ("pain.002-no-namespace.xml", "unsupported message namespace"),
        ("admi.002-empty-reason.xml", "empty"),
    ];
    for (file, needle) in expect {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let err = iso20022::decode(&bytes, &Limits::default())
            .map(|m: Message| format!("{m:?}"))
            .expect_err(file);
        assert!(err.to_string().contains(needle), "{file}: {err}");
    }
}

#[test]
fn errors_name_the_element_path() {
    let bytes = std::fs::read(schemas().join("samples/pacs.008/fednow-participant.xml")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let bad = text.replace(">51.74<", ">51.741234<");
    let err = pacs008::decode(bad.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/IntrBkSttlmAmt: 6 fraction digits, at most 5"
    );
    let missing = text.replace("<EndToEndId>Scenario01EtoEId001</EndToEndId>", "");
    let err = pacs008::decode(missing.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/PmtId/EndToEndId: mandatory element missing"
    );
    assert_eq!(
        err.reject(),
        iso20022::Reject::Business(iso20022::codes::StatusReason::RequiredCompulsoryElementMissing)
    );
}
