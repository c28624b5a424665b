//! camt.052/053/054.001.08: the switch's account reports encode XSD-valid (xmllint) and decode
//! back to the same value; a real but broken camt.053 is refused, and decodes once repaired.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;
#[allow(unused_imports)]
use common::*;

use iso20022::camt05x::{
    self, AccountReport, Balance, BankTxCode, CashReport, Entry, EntryTx, Kind,
};
use iso20022::common::{Account, AccountId, Amount, Currency, Party, PartyOrAgent};
use iso20022::pain001::ExecutionDate;
use iso20022::reference::CodeChoice;
use iso20022::{Limits, MessageType};

fn brl(minor: u64) -> Amount {
    Amount { minor, currency: Currency::parse("BRL").unwrap() }
}

fn report(kind: Kind) -> CashReport {
    CashReport {
        kind,
        msg_id: "SW-STMT-20261123-0001".into(),
        created: "2026-11-23T23:59:59Z".into(),
        reports: vec![AccountReport {
            id: "SETTLEMENT-12345678-20261123".into(),
            sequence: Some("42".into()),
            created: Some("2026-11-23T23:59:59Z".into()),
            period: Some(("2026-11-23T00:00:00Z".into(), "2026-11-23T23:59:59Z".into())),
            account: Account {
                id: AccountId::Other("12345678".into()),
                currency: Some("BRL".into()),
                ..Account::default()
            },
            balances: vec![
                Balance {
                    kind: CodeChoice::Code("OPBD".into()),
                    amount: brl(1_000_000),
                    credit: true,
                    date: ExecutionDate::Date("2026-11-23".into()),
                },
                Balance {
                    kind: CodeChoice::Code("CLBD".into()),
                    amount: brl(987_655),
                    credit: true,
                    date: ExecutionDate::Date("2026-11-23".into()),
                },
            ],
            entries: vec![Entry {
                reference: Some("T-0001".into()),
                amount: brl(12_345),
                credit: false,
                status: CodeChoice::Code("BOOK".into()),
                booking_date: Some(ExecutionDate::DateTime("2026-11-23T10:00:01Z".into())),
                value_date: Some(ExecutionDate::Date("2026-11-23".into())),
                servicer_ref: Some("SW-TX-0001".into()),
                bank_tx_code: BankTxCode {
                    domain: Some(("PMNT".into(), "ICDT".into(), "ESCT".into())),
                    proprietary: None,
                },
                details: vec![EntryTx {
                    end_to_end_id: Some("E1234567820261123100000000000001".into()),
                    uetr: Some("8a562c67-ca16-48ba-b074-65581be6f011".into()),
                    amount: Some(brl(12_345)),
                    credit: Some(false),
                    creditor: Some(PartyOrAgent::Party(Party {
                        name: Some("Maria".into()),
                        ..Party::default()
                    })),
                    ..EntryTx::default()
                }],
                ..Entry::default()
            }],
            additional_info: None,
        }],
    }
}

#[test]
fn reports_statements_and_notifications_encode_xsd_valid_and_round_trip() {
    for (kind, xsd, t) in [
        (Kind::Report, "camt.052.001.08.xsd", MessageType::Camt052),
        (Kind::Statement, "camt.053.001.08.xsd", MessageType::Camt053),
        (Kind::Notification, "camt.054.001.08.xsd", MessageType::Camt054),
    ] {
        let mut msg = report(kind);
        if kind == Kind::Notification {
            msg.reports[0].balances.clear();
        }
        let xml = camt05x::encode(&msg);
        assert_xsd_valid(&xml, xsd);
        assert_eq!(camt05x::decode(xml.as_bytes(), &Limits::default()).unwrap(), msg);
        assert_eq!(iso20022::check(xml.as_bytes(), &Limits::default()).unwrap(), t);
    }
}

#[test]
fn a_statement_needs_a_group_header_and_a_balance() {
    let path = schemas().join("samples-invalid/camt.053-missing-grphdr.xml");
    let text = std::fs::read_to_string(path).unwrap();
    let err = camt05x::decode(text.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "/Document/BkToCstmrStmt/GrpHdr: mandatory element missing");
    // The real file has two more faults the decoder names one after the other.
    let with_header = text.replacen(
        "<BkToCstmrStmt>",
        "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-04-10T18:00:00Z</CreDtTm></GrpHdr>",
        1,
    );
    let err = camt05x::decode(with_header.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "/Document/BkToCstmrStmt/Stmt[1]/Bal: mandatory element missing");
    let with_balance = with_header.replacen(
        "<Ntry>",
        "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">150.00</Amt>\
         <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-04-10</Dt></Dt></Bal><Ntry>",
        1,
    );
    let err = camt05x::decode(with_balance.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/BkTxCd: mandatory element missing"
    );
    let with_code = with_balance.replacen(
        "<NtryDtls>",
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>\
         </Domn></BkTxCd><NtryDtls>",
        1,
    );
    // Entry status was a plain code before version .08; now it is a Cd/Prtry choice.
    let err = camt05x::decode(with_code.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Sts: choice needs exactly one of Cd, Prtry"
    );
    let fixed = with_code.replacen("<Sts>BOOK</Sts>", "<Sts><Cd>BOOK</Cd></Sts>", 1);
    let msg = camt05x::decode(fixed.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(msg.kind, Kind::Statement);
    assert_eq!(msg.reports[0].entries[0].amount.minor, 15_000);
    let xml = camt05x::encode(&msg);
    assert_xsd_valid(&xml, "camt.053.001.08.xsd");
    assert_eq!(camt05x::decode(xml.as_bytes(), &Limits::default()).unwrap(), msg);
    let no_balance = camt05x::encode(&CashReport {
        reports: vec![AccountReport {
            balances: vec![],
            ..report(Kind::Statement).reports[0].clone()
        }],
        ..report(Kind::Statement)
    });
    let err = camt05x::decode(no_balance.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "/Document/BkToCstmrStmt/Stmt[1]/Bal: mandatory element missing");
}
