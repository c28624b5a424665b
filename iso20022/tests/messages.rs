//! Every sample of every supported type decodes, re-encodes to XSD-valid XML (checked with
//! xmllint against the official schema) and decodes again to an equal typed value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;
#[allow(unused_imports)]
use common::*;

use iso20022::codes::{CancellationReason, InvestigationConfirmation, ReturnReason};
use iso20022::{
    camt029, camt056, envelope, head001, pacs004, pacs028, DecodeError, ErrorKind, Limits, Message,
    MessageType,
};

/// Decode every sample of `kind` generically, check its type, round-trip through the XSD.
fn round_trip_all(kind: &str, expect: &[MessageType]) -> Vec<Message> {
    let mut out = Vec::new();
    for f in files(kind) {
        let bytes = std::fs::read(&f).unwrap();
        let msg = iso20022::decode(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let t = msg.message_type();
        assert!(expect.contains(&t), "{}: {t}", f.display());
        assert_eq!(iso20022::check(&bytes, &Limits::default()).unwrap(), t);
        let xml = iso20022::encode(&msg);
        assert_xsd_valid(&xml, &format!("{}.xsd", t.name()));
        let again = iso20022::decode(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(again, msg, "{}", f.display());
        out.push(msg);
    }
    out
}

#[test]
fn pacs004_samples_round_trip_and_encode_as_09() {
    let msgs = round_trip_all("pacs.004", &[MessageType::Pacs004V10]);
    for m in msgs {
        let Message::Pacs004(m) = m else { panic!() };
        assert_eq!(m.version, pacs004::Version::V10);
        // The same value written as .09 is valid against the .09 XSD and keeps everything
        // but the return-chain accounts, which .09 does not have.
        let xml = pacs004::encode_as(&m, pacs004::Version::V09);
        assert_xsd_valid(&xml, "pacs.004.001.09.xsd");
        let back = pacs004::decode(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(back.version, pacs004::Version::V09);
        assert_eq!(back.transactions.len(), m.transactions.len());
        let mut expect = m.clone();
        expect.version = pacs004::Version::V09;
        for tx in &mut expect.transactions {
            if let Some(c) = &mut tx.chain {
                c.debtor_account = None;
                c.creditor_account = None;
            }
        }
        assert_eq!(back, expect);
    }
}

#[test]
fn pacs004_fields_are_read_exactly() {
    let bytes = std::fs::read(schemas().join("samples/pacs.004/fedwire-return-s1.xml")).unwrap();
    let m = pacs004::decode(&bytes, &Limits::default()).unwrap();
    let tx = &m.transactions[0];
    assert_eq!(m.header.msg_id, "20250310ISOTEST1000912");
    assert_eq!((tx.returned_amount.minor, tx.returned_amount.currency.as_str()), (15100074, "USD"));
    assert_eq!(tx.original.uetr.as_deref(), Some("8a562c67-ca16-48ba-b074-65581be6f011"));
    assert_eq!(tx.original.group.as_ref().unwrap().msg_name, "pacs.008.001.08");
    assert_eq!(tx.reasons[0].reason, Some(ReturnReason::DuplicatePayment));
    let chain = tx.chain.as_ref().unwrap();
    assert_eq!(chain.debtor_account.as_ref().unwrap().id.as_str(), "567876543");
    assert_eq!(chain.debtor_agent.as_ref().unwrap().member_id.as_deref(), Some("021040078"));
}

#[test]
fn pacs028_samples_round_trip() {
    let msgs = round_trip_all("pacs.028", &[MessageType::Pacs028]);
    let Message::Pacs028(m) = &msgs[0] else { panic!() };
    assert_eq!(m.transactions[0].original.end_to_end_id.as_deref(), Some("Scenario01EtoEId001"));
    let bytes = std::fs::read(schemas().join("samples/pacs.028/fedwire-cct-s3.xml")).unwrap();
    assert_eq!(&pacs028::decode(&bytes, &Limits::default()).unwrap(), m);
}

#[test]
fn camt056_samples_round_trip_with_reasons_checked() {
    let msgs = round_trip_all("camt.056", &[MessageType::Camt056]);
    let reasons: Vec<_> = msgs
        .iter()
        .flat_map(|m| match m {
            Message::Camt056(m) => m.underlying.clone(),
            _ => panic!(),
        })
        .flat_map(|u| u.transactions)
        .flat_map(|t| t.reasons)
        .filter_map(|r| r.reason)
        .collect();
    assert!(reasons.contains(&CancellationReason::DuplicatePayment));
    assert!(reasons.contains(&CancellationReason::ServiceNotRendered));
    let bytes = std::fs::read(schemas().join("samples/camt.056/fedwire-return-s1.xml")).unwrap();
    let text = String::from_utf8(bytes).unwrap().replace("<Cd>DUPL</Cd>", "<Cd>ZZZZ</Cd>");
    let err = camt056::decode(text.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/FIToFIPmtCxlReq/Undrlyg[1]/TxInf[1]/CxlRsnInf[1]/Rsn/Cd: \"ZZZZ\" is not a \
         known cancellation reason (ExternalCancellationReason1Code)"
    );
}

#[test]
fn camt029_samples_round_trip_with_confirmation_checked() {
    let msgs = round_trip_all("camt.029", &[MessageType::Camt029]);
    let confs: Vec<_> = msgs
        .iter()
        .map(|m| match m {
            Message::Camt029(m) => m.status.clone(),
            _ => panic!(),
        })
        .collect();
    assert!(confs.contains(&camt029::InvestigationStatus::Confirmation(
        InvestigationConfirmation::CancelledAsPerRequest
    )));
    assert!(confs.contains(&camt029::InvestigationStatus::Confirmation(
        InvestigationConfirmation::RejectedCancellationRequest
    )));
    let bytes = std::fs::read(schemas().join("samples/camt.029/fedwire-return-s1.xml")).unwrap();
    let text = String::from_utf8(bytes).unwrap().replace("<Conf>CNCL<", "<Conf>XXXX<");
    let err = camt029::decode(text.as_bytes(), &Limits::default()).unwrap_err();
    assert!(err.to_string().starts_with("/Document/RsltnOfInvstgtn/Sts/Conf: \"XXXX\""), "{err}");
}

#[test]
fn head001_samples_round_trip() {
    let msgs = round_trip_all("head.001", &[MessageType::Head001]);
    let Message::Head001(h) = &msgs[1] else { panic!() };
    assert_eq!(h.msg_def_id, "pacs.008.001.08");
    assert_eq!(h.biz_msg_id, "20230604111111111Sc01Step1MsgId");
}

#[test]
fn fednow_envelopes_decode_and_our_envelope_round_trips() {
    for f in files("fednow-envelope") {
        let bytes = std::fs::read(&f).unwrap();
        let env = envelope::decode(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(env.header.msg_def_id, env.message.message_type().name());
        let xml = envelope::encode(&env);
        assert_eq!(iso20022::roundtrip(&bytes, &Limits::default()).unwrap(), xml);
        assert!(xml.contains("<Envelope xmlns=\"urn:instant-payment-switch:envelope:1\">"));
        assert_eq!(envelope::decode(xml.as_bytes(), &Limits::default()).unwrap(), env);
        assert_eq!(
            iso20022::check(xml.as_bytes(), &Limits::default()).unwrap(),
            env.message.message_type()
        );
        // Each part on its own is valid against its XSD.
        assert_xsd_valid(&head001::encode(&env.header), "head.001.001.02.xsd");
        let t = env.message.message_type();
        assert_xsd_valid(&iso20022::encode(&env.message), &format!("{}.xsd", t.name()));
    }
}

#[test]
fn envelope_header_must_name_the_document_type() {
    let f = schemas().join("samples/fednow-envelope/sample-participant-to-fednow-message.xml");
    let text = std::fs::read_to_string(f).unwrap();
    let bad = text.replace("<MsgDefIdr>pacs.008.001.08<", "<MsgDefIdr>pacs.002.001.10<");
    let err: DecodeError = envelope::decode(bad.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(err.path, "/AppHdr/MsgDefIdr");
    assert!(matches!(err.kind, ErrorKind::Invalid(_)));
}

#[test]
fn pain013_and_pain014_samples_round_trip() {
    let reqs = round_trip_all("pain.013", &[MessageType::Pain013]);
    let Message::Pain013(r) = &reqs[0] else { panic!() };
    let tx = &r.payments[0].transactions[0];
    assert!(tx.creditor_agent.is_some() && tx.charge_bearer.is_some());
    let reports = round_trip_all("pain.014", &[MessageType::Pain014]);
    let Message::Pain002(rep) = &reports[0] else { panic!() };
    assert_eq!(rep.kind, iso20022::pain002::ReportKind::Pain014);
    assert!(rep.payments[0].transactions[0].status.is_some());
    // pain.013 makes the creditor agent mandatory per transaction.
    let bytes = std::fs::read(schemas().join("samples/pain.013/fedwire-drawdown-s1.xml")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let start = text.find("<CdtrAgt>").unwrap();
    let end = text.find("</CdtrAgt>").unwrap() + "</CdtrAgt>".len();
    let bad = format!("{}{}", &text[..start], &text[end..]);
    let err = iso20022::pain013::decode(bad.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/Document/CdtrPmtActvtnReq/PmtInf[1]/CdtTrfTx[1]/CdtrAgt: mandatory element missing"
    );
}

#[test]
fn iban_check_digits_are_checked_on_request_with_a_path_and_reason() {
    use iso20022::codes::StatusReason;
    use iso20022::{pacs008, Reject};
    let l = Limits::default();
    // An official Fedwire sample: its debtor IBAN has the right pattern but wrong check
    // digits, so it decodes (XSD facets) and fails the scheme check.
    let bytes = std::fs::read(schemas().join("samples/pacs.008/fedwire-cct-s5.xml")).unwrap();
    let msg = pacs008::decode(&bytes, &l).unwrap();
    let e = pacs008::check_iban_digits(&msg).unwrap_err();
    assert_eq!(e.path, "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/DbtrAcct/Id/IBAN");
    assert!(e.to_string().contains("check digits"), "{e}");
    assert_eq!(e.reject(), Reject::Business(StatusReason::InvalidDebtorAccountNumber));
    // The creditor side maps to AC03; a valid IBAN passes.
    let mut msg = msg;
    let tx = &mut msg.transactions[0];
    tx.debtor_account.as_mut().unwrap().id =
        iso20022::AccountId::Iban("DE89370400440532013000".into());
    tx.creditor_account.as_mut().unwrap().id =
        iso20022::AccountId::Iban("DE89370400440532013001".into());
    let e = pacs008::check_iban_digits(&msg).unwrap_err();
    assert_eq!(e.path, "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/CdtrAcct/Id/IBAN");
    assert_eq!(e.reject(), Reject::Business(StatusReason::InvalidCreditorAccountNumber));
    msg.transactions[0].creditor_account.as_mut().unwrap().id =
        iso20022::AccountId::Iban("GB82WEST12345698765432".into());
    assert_eq!(pacs008::check_iban_digits(&msg), Ok(()));
}

#[test]
fn tax_and_related_remittance_survive_a_round_trip() {
    use iso20022::pacs008;
    let l = Limits::default();
    let read = |name: &str| std::fs::read(schemas().join("samples/pacs.008").join(name)).unwrap();

    let msg = pacs008::decode(&read("fedwire-cct-s4.xml"), &l).unwrap();
    let tax = msg.transactions[0].structured_remittance[0].tax.as_ref().expect("TaxRmt read");
    assert_eq!(tax.creditor.as_ref().unwrap().tax_id.as_deref(), Some("123456789"));
    let rec = &tax.records[0];
    assert_eq!(rec.kind.as_deref(), Some("09455"));
    let prd = rec.period.as_ref().unwrap();
    assert_eq!((prd.year.as_deref(), prd.kind.as_deref()), (Some("2025-12-31"), Some("MM04")));
    let out = pacs008::encode(&msg);
    assert!(out.contains("<TaxRmt><Cdtr><TaxId>123456789</TaxId></Cdtr><Rcrd><Tp>09455</Tp>"));
    assert_xsd_valid(&out, "pacs.008.001.08.xsd");
    assert_eq!(pacs008::decode(out.as_bytes(), &l).unwrap(), msg);

    let msg = pacs008::decode(&read("fedwire-cct-var2.xml"), &l).unwrap();
    let rel = &msg.transactions[0].related_remittance;
    assert_eq!(rel.len(), 1);
    assert_eq!(rel[0].id.as_deref(), Some("Scenario01Var2RemittanceId001"));
    assert_eq!(rel[0].locations[0].method, "EMAL");
    assert_eq!(
        rel[0].locations[0].electronic_address.as_deref(),
        Some("CustomerService@CorporationB.com")
    );
    let out = pacs008::encode(&msg);
    assert_xsd_valid(&out, "pacs.008.001.08.xsd");
    assert_eq!(pacs008::decode(out.as_bytes(), &l).unwrap(), msg);

    // Facets are checked: a bad period code and an 11th related block are refused by path.
    let bad = String::from_utf8(read("fedwire-cct-s4.xml")).unwrap().replace("MM04", "MM13");
    let e = pacs008::decode(bad.as_bytes(), &l).unwrap_err();
    assert_eq!(
        e.path,
        "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/RmtInf/Strd[1]/TaxRmt/Rcrd[1]/Prd/Tp"
    );
    let var2 = String::from_utf8(read("fedwire-cct-var2.xml")).unwrap();
    let (head, tail) = var2.split_once("<RltdRmtInf>").unwrap();
    let block = format!("<RltdRmtInf>{}", tail.split_once("<RmtInf>").map_or(tail, |t| t.0));
    let block = block.split("</RltdRmtInf>").next().unwrap().to_string() + "</RltdRmtInf>";
    let eleven = format!("{head}{}{}", block.repeat(10), &var2[head.len()..]);
    let e = pacs008::decode(eleven.as_bytes(), &l).unwrap_err();
    assert!(e.path.ends_with("CdtTrfTxInf[1]/RltdRmtInf"), "{e}");
}

#[test]
fn every_part_of_structured_remittance_survives_a_round_trip() {
    use iso20022::{pacs008, pain001};
    let l = Limits::default();
    let xml = with_rich_remittance("pacs.008/fedwire-cct-s4.xml", RICH_RELATED);
    let msg = pacs008::decode(xml.as_bytes(), &l).unwrap();
    let tx = &msg.transactions[0];
    assert_eq!(tx.remittance, ["Invoices 1-3"]);
    assert_eq!(tx.related_remittance[0].locations.len(), 2);
    let [s, second] = &tx.structured_remittance[..] else { panic!("two Strd blocks") };
    assert_eq!(second.reference.as_deref(), Some("SECOND-BLOCK"));
    assert_eq!(
        (s.document_number.as_deref(), s.document_issuer.as_deref()),
        (Some("INV-1"), Some("Seller Inc"))
    );
    let more: Vec<_> = s.further_documents.iter().map(|d| d.number.as_deref()).collect();
    assert_eq!(more, [Some("INV-2"), Some("INV-3")]);
    assert_eq!(s.further_documents[1].date.as_deref(), Some("2026-11-03"));
    assert_eq!(s.further_documents[1].lines[0].ids[0].number.as_deref(), Some("L3"));
    assert_eq!(s.further_documents[1].lines[0].description.as_deref(), Some("Service"));
    let [l1, l2] = &s.document_lines[..] else { panic!("two lines in the first document") };
    assert_eq!(l1.ids.len(), 2);
    assert_eq!(l1.ids[0].kind.as_ref().map(|k| k.as_str()), Some("ADPI"));
    assert_eq!(l1.ids[1].date.as_deref(), Some("2026-11-01"));
    let la = l1.amounts.as_ref().unwrap();
    assert_eq!((la.discounts[0].amount.minor, la.remitted.as_ref().unwrap().minor), (50, 5950));
    assert_eq!((l2.ids[0].number.as_deref(), l2.amounts.as_ref()), (Some("L2"), None));
    let a = s.document_amounts.as_ref().unwrap();
    assert_eq!(a.due_payable.as_ref().unwrap().minor, 12_000);
    assert_eq!(a.discounts.iter().map(|d| d.amount.minor).collect::<Vec<_>>(), [550, 100]);
    assert_eq!(a.taxes[0].amount.minor, 725);
    assert_eq!(a.adjustments[0].credit_debit.as_deref(), Some("DBIT"));
    assert_eq!(a.adjustments[0].reason.as_deref(), Some("DMGD"));
    assert_eq!(
        (a.credit_note.as_ref().unwrap().minor, a.remitted.as_ref().unwrap().minor),
        (1000, 10_800)
    );
    assert_eq!(s.invoicer.as_ref().unwrap().name.as_deref(), Some("Seller Inc"));
    assert_eq!(s.invoicer.as_ref().unwrap().country.as_deref(), Some("US"));
    assert_eq!(s.invoicee.as_ref().unwrap().name.as_deref(), Some("Buyer LLC"));
    assert_eq!(s.tax.as_ref().unwrap().sequence_number.as_deref(), Some("12.0"));
    let g = s.garnishment.as_ref().unwrap();
    assert_eq!(g.kind.as_str(), "GNCS");
    assert_eq!(g.administrator.as_ref().unwrap().name.as_deref(), Some("Child Support Agency"));
    assert_eq!(g.remitted.as_ref().unwrap().minor, 25_000);
    assert_eq!((g.family_medical_insurance, g.employee_termination), (Some(true), Some(false)));
    assert_eq!(s.additional_info, ["First line", "Second line", "Third line"]);

    let out = pacs008::encode(&msg);
    assert_xsd_valid(&out, "pacs.008.001.08.xsd");
    assert_eq!(pacs008::decode(out.as_bytes(), &l).unwrap(), msg);
    assert_eq!(iso20022::decode(out.as_bytes(), &l), iso20022::decode_dom(out.as_bytes(), &l));

    // pain.001.001.09 carries the same blocks and its related remittance.
    let xml = with_rich_remittance("pain.001/v09-de-sct-inst.xml", RICH_RELATED);
    let p = pain001::decode(xml.as_bytes(), &l).unwrap();
    let tx = &p.payments[0].transactions[0];
    assert_eq!(tx.related_remittance[0].id.as_deref(), Some("ADVICE-1"));
    let r = tx.remittance.as_ref().unwrap();
    assert_eq!(&r.creditor_refs[..], &msg.transactions[0].structured_remittance[..]);
    let out = pain001::encode(&p);
    assert_xsd_valid(&out, "pain.001.001.09.xsd");
    assert_eq!(pain001::decode(out.as_bytes(), &l).unwrap(), p);
}

#[test]
fn structured_remittance_facets_are_refused_by_path() {
    use iso20022::pacs008;
    let l = Limits::default();
    let xml = with_rich_remittance("pacs.008/fedwire-cct-s4.xml", "");
    let strd = "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/RmtInf/Strd[1]";
    let cases = [
        (
            "<AddtlRmtInf>Third line</AddtlRmtInf>",
            "<AddtlRmtInf>3</AddtlRmtInf><AddtlRmtInf>4</AddtlRmtInf>",
            "/AddtlRmtInf",
            "more than 3",
        ),
        (
            "<CdtDbtInd>DBIT</CdtDbtInd>",
            "<CdtDbtInd>DEBT</CdtDbtInd>",
            "/RfrdDocAmt/AdjstmntAmtAndRsn[1]/CdtDbtInd",
            "credit/debit",
        ),
        (
            "<Rsn>DMGD</Rsn>",
            "<Rsn>DAMAGED</Rsn>",
            "/RfrdDocAmt/AdjstmntAmtAndRsn[1]/Rsn",
            "at most 4",
        ),
        (
            "<Amt Ccy=\"USD\">5.5</Amt>",
            "<Amt Ccy=\"USD\">5.123456</Amt>",
            "/RfrdDocAmt/DscntApldAmt[1]/Amt",
            "fraction digits",
        ),
        ("<Amt Ccy=\"USD\">1</Amt>", "<Amt>1</Amt>", "/RfrdDocAmt/DscntApldAmt[2]/Amt", "ccy"),
        ("<Nb>INV-3</Nb>", "<Nb></Nb>", "/RfrdDocInf[3]/Nb", "empty"),
        ("<Cd>CINV</Cd>", "<Cd>XINV</Cd>", "/RfrdDocInf[1]/Tp/CdOrPrtry/Cd", "document type"),
        ("<Cd>SCOR</Cd>", "<Cd>CINV</Cd>", "/CdtrRefInf/Tp/CdOrPrtry/Cd", "creditor reference"),
        (
            "<Nb>INV-3</Nb>",
            "<Tp><CdOrPrtry><Cd>NOPE</Cd></CdOrPrtry></Tp><Nb>INV-3</Nb>",
            "/RfrdDocInf[3]/Tp/CdOrPrtry/Cd",
            "document type",
        ),
        ("<Id><Nb>L2</Nb></Id>", "<Desc>x</Desc>", "/RfrdDocInf[1]/LineDtls[2]/Id", "missing"),
        (
            "<Nb>L3</Nb>",
            "<Nb>L3</Nb><RltdDt>3</RltdDt>",
            "/RfrdDocInf[3]/LineDtls[1]/Id[1]/RltdDt",
            "",
        ),
        (
            "<Amt Ccy=\"USD\">0.50</Amt>",
            "<Amt Ccy=\"USD\">0.505</Amt>",
            "/RfrdDocInf[1]/LineDtls[1]/Amt/DscntApldAmt[1]/Amt",
            "usd",
        ),
        ("<RltdDt>2026-11-03</RltdDt>", "<RltdDt>2026-13-03</RltdDt>", "/RfrdDocInf[3]/RltdDt", ""),
        (
            "<MplyeeTermntnInd>false</MplyeeTermntnInd>",
            "<MplyeeTermntnInd>no</MplyeeTermntnInd>",
            "/GrnshmtRmt/MplyeeTermntnInd",
            "boolean",
        ),
        (
            "<Tp><CdOrPrtry><Cd>GNCS</Cd></CdOrPrtry><Issr>State court</Issr></Tp>",
            "",
            "/GrnshmtRmt/Tp",
            "missing",
        ),
        (
            "<Invcee><Nm>Buyer LLC</Nm></Invcee>",
            "<Invcee><CtryOfRes>USA</CtryOfRes></Invcee>",
            "/Invcee/CtryOfRes",
            "",
        ),
        ("<SeqNb>12.0</SeqNb>", "<SeqNb>12.5</SeqNb>", "/TaxRmt/SeqNb", "number"),
        (
            "<RmtdAmt Ccy=\"USD\">250.00</RmtdAmt>",
            "<RmtdAmt Ccy=\"USD\">250.001</RmtdAmt>",
            "/GrnshmtRmt/RmtdAmt",
            "",
        ),
    ];
    for (from, to, path, reason) in cases {
        assert!(xml.contains(from), "{from}");
        let bad = xml.replacen(from, to, 1);
        let e = pacs008::decode(bad.as_bytes(), &l).unwrap_err();
        assert_eq!(e.path, format!("{strd}{path}"), "{to}: {e}");
        assert!(e.to_string().to_lowercase().contains(reason), "{to}: {e}");
        assert_eq!(pacs008::decode_dom(bad.as_bytes(), &l).unwrap_err(), e, "{to}");
    }
    // An unbounded list has an explicit cap.
    let doc = "<RfrdDocInf><Nb>X</Nb></RfrdDocInf>";
    let many = xml.replacen("<RfrdDocAmt>", &format!("{}<RfrdDocAmt>", doc.repeat(48)), 1);
    let e = pacs008::decode(many.as_bytes(), &l).unwrap_err();
    assert_eq!(e.path, format!("{strd}/RfrdDocInf"), "{e}");
    let fifty = xml.replacen("<RfrdDocAmt>", &format!("{}<RfrdDocAmt>", doc.repeat(47)), 1);
    assert_eq!(
        pacs008::decode(fifty.as_bytes(), &l).unwrap().transactions[0].structured_remittance[0]
            .further_documents
            .len(),
        49
    );
}

#[test]
fn pain001_v03_remittance_amounts_and_related_location_are_carried_into_v09() {
    use iso20022::pain001;
    let l = Limits::default();
    // pain.001.001.03 shapes: bare discount and tax amounts, a flat related location.
    let related = r#"<RltdRmtInf><RmtId>ADV-3</RmtId><RmtLctnMtd>POST</RmtLctnMtd>
<RmtLctnPstlAdr><Nm>Seller</Nm><Adr><TwnNm>Vilnius</TwnNm><Ctry>LT</Ctry></Adr>
</RmtLctnPstlAdr></RltdRmtInf>"#;
    let rmt = r#"<RmtInf><Strd><RfrdDocInf><Nb>F-1</Nb></RfrdDocInf><RfrdDocAmt>
<DuePyblAmt Ccy="EUR">10.00</DuePyblAmt><DscntApldAmt Ccy="EUR">1.00</DscntApldAmt>
<TaxAmt Ccy="EUR">2.10</TaxAmt><RmtdAmt Ccy="EUR">9.00</RmtdAmt></RfrdDocAmt>
<Invcr><Nm>Seller</Nm></Invcr><AddtlRmtInf>v03 line</AddtlRmtInf></Strd></RmtInf>"#;
    let xml = std::fs::read_to_string(schemas().join("samples/pain.001/v03-lt-sepa.xml")).unwrap();
    let (head, rest) = xml.split_once("<RmtInf>").unwrap();
    let tail = rest.split_once("</RmtInf>").unwrap().1;
    let xml = format!("{head}{related}{rmt}{tail}");
    assert_xsd_valid(&xml, "pain.001.001.03.xsd");
    let p = pain001::decode(xml.as_bytes(), &l).unwrap();
    assert_eq!(p.version, pain001::Version::V03);
    let tx = &p.payments[0].transactions[0];
    let loc = &tx.related_remittance[0].locations[0];
    assert_eq!((loc.method.as_str(), loc.postal.as_ref().unwrap().0.as_str()), ("POST", "Seller"));
    let s = &tx.remittance.as_ref().unwrap().creditor_refs[0];
    let a = s.document_amounts.as_ref().unwrap();
    assert_eq!((a.discounts[0].amount.minor, a.taxes[0].amount.minor), (100, 210));
    assert_eq!(s.additional_info, ["v03 line"]);
    let out = pain001::encode(&p);
    assert_xsd_valid(&out, "pain.001.001.09.xsd");
    let again = pain001::decode(out.as_bytes(), &l).unwrap();
    assert_eq!(again.payments, p.payments);
}

#[test]
fn pacs004_original_remittance_carries_every_structured_part() {
    let l = Limits::default();
    let xml = std::fs::read_to_string(schemas().join("samples/pacs.004/fedwire-return-s1.xml"));
    let xml = xml.unwrap().replacen("</PmtTpInf>", &format!("</PmtTpInf>{RICH_REMITTANCE}"), 1);
    assert_xsd_valid(&xml, "pacs.004.001.10.xsd");
    let m = pacs004::decode(xml.as_bytes(), &l).unwrap();
    let r = m.transactions[0].original_ref.as_ref().unwrap().remittance.as_ref().unwrap();
    let s = &r.creditor_refs[0];
    assert_eq!((s.further_documents.len(), s.document_lines.len()), (2, 2));
    assert!(s.garnishment.is_some() && s.invoicer.is_some() && s.document_amounts.is_some());
    for version in [pacs004::Version::V10, pacs004::Version::V09] {
        let out = pacs004::encode_as(&m, version);
        let xsd =
            if version == pacs004::Version::V10 { "pacs.004.001.10" } else { "pacs.004.001.09" };
        assert_xsd_valid(&out, &format!("{xsd}.xsd"));
        let back = pacs004::decode(out.as_bytes(), &l).unwrap();
        assert_eq!(back.transactions[0].original_ref, m.transactions[0].original_ref);
    }
}
