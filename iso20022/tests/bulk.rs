//! pain.001 bulk initiation and pain.002 status report against the real corpus and the XSDs,
//! plus the bulk limits: transaction count, NbOfTxs and CtrlSum must match the file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;
#[allow(unused_imports)]
use common::*;

use iso20022::codes::{StatusReason, TxStatus};
use iso20022::{pain001, pain002, ErrorKind, Limits, Message, MessageType};

#[test]
fn every_pain001_sample_decodes_and_round_trips_through_the_09_xsd() {
    let mut v03 = 0;
    for f in files("pain.001") {
        let bytes = std::fs::read(&f).unwrap();
        let msg = pain001::decode(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(msg.transaction_count() > 0);
        let generic = iso20022::decode(&bytes, &Limits::default()).unwrap();
        assert_eq!(generic, Message::Pain001(msg.clone()));
        let xml = pain001::encode(&msg);
        assert_xsd_valid(&xml, "pain.001.001.09.xsd");
        let mut again = pain001::decode(xml.as_bytes(), &Limits::default()).unwrap();
        if msg.version == pain001::Version::V03 {
            v03 += 1;
            assert_eq!(again.version, pain001::Version::V09);
            again.version = pain001::Version::V03;
        }
        assert_eq!(again, msg, "{}", f.display());
    }
    assert_eq!(v03, 4);
}

#[test]
fn pain001_fields_are_read_exactly() {
    let bytes = std::fs::read(schemas().join("samples/pain.001/v09-de-salary-bulk.xml")).unwrap();
    let msg = pain001::decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(iso20022::check(&bytes, &Limits::default()).unwrap(), MessageType::Pain001);
    let p = &msg.payments[0];
    assert_eq!(p.transactions.len(), 2);
    assert_eq!(msg.header.control_sum.as_deref().map(|s| !s.is_empty()), Some(true));
    let sum: u64 = p.transactions.iter().map(|t| t.amount.minor).sum();
    assert!(sum > 0);
    let v03 = std::fs::read(schemas().join("samples/pain.001/v03-gist-bulk3.xml")).unwrap();
    assert_eq!(iso20022::check(&v03, &Limits::default()).unwrap(), MessageType::Pain001V03);
    assert_eq!(pain001::decode(&v03, &Limits::default()).unwrap().transaction_count(), 3);
}

/// A pain.001.001.09 with `n` transactions of EUR 1.25 each, generated from one template.
fn bulk(n: usize, declared: usize, ctrl_sum: &str) -> String {
    let mut s = String::new();
    s.push_str(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn><GrpHdr>
<MsgId>GOV-BENEFITS-0001</MsgId><CreDtTm>2026-11-23T08:00:00Z</CreDtTm>"#,
    );
    s.push_str(&format!("<NbOfTxs>{declared}</NbOfTxs><CtrlSum>{ctrl_sum}</CtrlSum>"));
    s.push_str(
        r#"<InitgPty><Nm>Ministry of Social Welfare</Nm></InitgPty></GrpHdr><PmtInf>
<PmtInfId>BEN-2026-11</PmtInfId><PmtMtd>TRF</PmtMtd><ReqdExctnDt><Dt>2026-11-24</Dt></ReqdExctnDt>
<Dbtr><Nm>Treasury</Nm></Dbtr><DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>
<DbtrAgt><FinInstnId><BICFI>MARKDEFFXXX</BICFI></FinInstnId></DbtrAgt>"#,
    );
    for i in 0..n {
        s.push_str(&format!(
            "<CdtTrfTxInf><PmtId><EndToEndId>BEN{i:08}</EndToEndId></PmtId><Amt>\
             <InstdAmt Ccy=\"EUR\">1.25</InstdAmt></Amt><Cdtr><Nm>Beneficiary {i}</Nm></Cdtr>\
             <CdtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></CdtrAcct>\
             </CdtTrfTxInf>\n"
        ));
    }
    s.push_str("</PmtInf></CstmrCdtTrfInitn></Document>");
    s
}

fn bulk_limits() -> Limits {
    Limits {
        max_bytes: 64 << 20,
        max_elements: 2_000_000,
        max_transactions: 20_000,
        ..Limits::default()
    }
}

#[test]
fn a_bulk_file_of_ten_thousand_transactions_decodes_within_configured_limits() {
    let xml = bulk(10_000, 10_000, "12500.00");
    let msg = pain001::decode(xml.as_bytes(), &bulk_limits()).unwrap();
    assert_eq!(msg.transaction_count(), 10_000);
    assert_eq!(msg.payments[0].transactions[9_999].end_to_end_id, "BEN00009999");
    // The default limits refuse it, naming the first transaction over the limit.
    let err = pain001::decode(
        xml.as_bytes(),
        &Limits { max_bytes: 64 << 20, max_elements: 2_000_000, ..Limits::default() },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[1001]: over limit: more than 1000 \
         transactions (Limits.max_transactions)"
    );
    assert!(matches!(err.kind, ErrorKind::TooLarge(_)));
    assert_eq!(err.reject(), iso20022::Reject::Technical);
}

#[test]
fn bulk_counts_and_control_sums_must_match_the_file() {
    let err = pain001::decode(bulk(3, 4, "3.75").as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/CstmrCdtTrfInitn/GrpHdr/NbOfTxs: says \"4\" but the message has 3"
    );
    let err = pain001::decode(bulk(3, 3, "3.76").as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/CstmrCdtTrfInitn/GrpHdr/CtrlSum: says 3.76 but the transactions add up to 3.75"
    );
    let bad = bulk(3, 3, "3.75").replace(
        "<EndToEndId>BEN00000001</EndToEndId></PmtId><Amt><InstdAmt Ccy=\"EUR\">1.25<",
        "<EndToEndId>BEN00000001</EndToEndId></PmtId><Amt><InstdAmt Ccy=\"EUR\">1.255<",
    );
    let err = pain001::decode(bad.as_bytes(), &Limits::default()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "/Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[2]/Amt/InstdAmt: 1.255 has more"
        ),
        "{err}"
    );
}

#[test]
fn pain002_encodes_xsd_valid_and_round_trips() {
    let report = pain002::Pain002 {
        msg_id: "SW-PAIN002-1".into(),
        created: "2026-11-23T08:05:00Z".into(),
        original: pain002::OriginalGroupStatus {
            group: iso20022::common::OriginalGroup {
                msg_id: "GOV-BENEFITS-0001".into(),
                msg_name: "pain.001.001.09".into(),
                created: Some("2026-11-23T08:00:00Z".into()),
            },
            original_count: Some("3".into()),
            status: Some("PART".into()),
            reasons: vec![],
        },
        payments: vec![pain002::PaymentStatus {
            original_id: "BEN-2026-11".into(),
            status: Some("PART".into()),
            reasons: vec![],
            transactions: vec![
                pain002::TransactionStatus {
                    original_end_to_end_id: Some("BEN00000000".into()),
                    status: Some(TxStatus::AcceptedSettlementCompleted),
                    ..Default::default()
                },
                pain002::TransactionStatus {
                    original_end_to_end_id: Some("BEN00000001".into()),
                    status: Some(TxStatus::Rejected),
                    reasons: vec![pain002::StatusReasonInfo {
                        reason: Some(StatusReason::ClosedCreditorAccountNumber),
                        proprietary: None,
                        additional_info: vec!["account closed 2026-10-01".into()],
                    }],
                    ..Default::default()
                },
            ],
        }],
        ..Default::default()
    };
    let xml = pain002::encode(&report);
    assert_xsd_valid(&xml, "pain.002.001.10.xsd");
    assert_eq!(pain002::decode(xml.as_bytes(), &Limits::default()).unwrap(), report);
    assert_eq!(iso20022::check(xml.as_bytes(), &Limits::default()).unwrap(), MessageType::Pain002);
    let bad = xml.replace("<TxSts>RJCT<", "<TxSts>NOPE<");
    let err = pain002::decode(bad.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts[2]/TxSts: \"NOPE\" is not a \
         known transaction status"
    );
}
