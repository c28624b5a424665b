//! Forwarding a transaction by copying its bytes (`iso20022::splice`): the output is
//! XSD-valid, decodes to the received transaction with exactly the switch's changes, and keeps
//! every element the codec does not model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;
use common::*;

use iso20022::common::{Account, AccountId, Agent, Proxy};
use iso20022::pacs008::{self, Pacs008};
use iso20022::splice::{Forward, Layout};
use iso20022::{Limits, Message};

const NS: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08";

fn agent(bic: &str) -> Agent {
    Agent { bic: Some(bic.into()), ..Agent::default() }
}

fn forward_of<'a>(debtor: &'a Agent, creditor: &'a Agent) -> Forward<'a> {
    Forward {
        msg_id: "SWFWD42",
        created: "2026-11-24T10:00:00Z",
        clearing_system: "IPS",
        instructing_agent: debtor,
        instructed_agent: creditor,
        acceptance: "2026-11-24T10:00:00.123Z",
        creditor: None,
    }
}

/// The pacs.008 inside `bytes` (a bare document or an envelope).
fn decoded(bytes: &[u8]) -> Pacs008 {
    match iso20022::decode_message(bytes, &Limits::default()).unwrap().1 {
        Message::Pacs008(m) => m,
        other => panic!("not a pacs.008: {:?}", other.message_type()),
    }
}

/// What the forwarded message of transaction `i` must decode to: the received transaction
/// with the switch's agents (and acceptance time when it had none), under the switch's header.
fn expected(received: &Pacs008, i: usize, f: &Forward) -> Pacs008 {
    let mut tx = received.transactions[i].clone();
    tx.instructing_agent = Some(f.instructing_agent.clone());
    tx.instructed_agent = Some(f.instructed_agent.clone());
    tx.acceptance.get_or_insert_with(|| f.acceptance.to_string());
    if let Some((agent, account)) = f.creditor {
        tx.creditor_agent = agent.clone();
        tx.creditor_account = Some(account.clone());
    }
    let h = &received.header;
    Pacs008 {
        header: pacs008::GroupHeader {
            msg_id: f.msg_id.into(),
            created: f.created.into(),
            settlement_method: "CLRG".into(),
            clearing_system: Some(f.clearing_system.into()),
            settlement_date: h.settlement_date.clone(),
            payment_type: h.payment_type.clone(),
            ..pacs008::GroupHeader::default()
        },
        transactions: vec![tx],
    }
}

#[test]
fn every_sample_transaction_is_forwarded_valid_and_unchanged_but_for_the_agents() {
    let mut files = files("pacs.008");
    files.push(schemas().join("samples/fednow-envelope/sample-participant-to-fednow-message.xml"));
    let (debtor, creditor) = (agent("BANKBRSPXXX"), agent("BANKBRRJXXX"));
    let f = forward_of(&debtor, &creditor);
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let received = decoded(&bytes);
        let bytes = String::from_utf8(bytes).unwrap();
        let layout = Layout::of(&bytes).unwrap_or_else(|| panic!("{}: no layout", file.display()));
        assert_eq!(layout.transactions(), received.transactions.len(), "{}", file.display());
        for i in 0..layout.transactions() {
            let xml = layout.forward(&bytes, i, &f).unwrap();
            assert_xsd_valid(&xml, "pacs.008.001.08.xsd");
            let again = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap();
            assert_eq!(again, expected(&received, i, &f), "{}", file.display());
        }
        assert!(layout.forward(&bytes, layout.transactions(), &f).is_none());
    }
}

/// A transaction with parts the codec does not model, spread over lines with a comment, no
/// agents and no acceptance time, in a message of two.
fn rich_message() -> String {
    let tx = |n: u32, extra: &str| {
        format!(
            r#"
  <CdtTrfTxInf>
    <PmtId><EndToEndId>E2E{n}</EndToEndId><TxId>TX{n}</TxId></PmtId>
    <IntrBkSttlmAmt Ccy="BRL">1{n}.50</IntrBkSttlmAmt>
    <SttlmPrty>HIGH</SttlmPrty>
    <ChrgBr>SLEV</ChrgBr>
    <PrvsInstgAgt1><FinInstnId><BICFI>PREVBRSPXXX</BICFI></FinInstnId></PrvsInstgAgt1>
    <!-- a comment the bank wrote -->
    <Dbtr><Nm>Ana &amp; Filhos</Nm></Dbtr>
    <DbtrAcct><Id><Othr><Id>0001-{n}</Id></Othr></Id></DbtrAcct>
    <DbtrAgt><FinInstnId><BICFI>BANKBRSPXXX</BICFI></FinInstnId></DbtrAgt>
    <DbtrAgtAcct><Id><Othr><Id>RESERVES-1</Id></Othr></Id></DbtrAgtAcct>
    <CdtrAgt><FinInstnId><BICFI>BANKBRRJXXX</BICFI></FinInstnId></CdtrAgt>
    <Cdtr><Nm>Bruno</Nm></Cdtr>
    <CdtrAcct><Id><Othr><Id>0002-{n}</Id></Othr></Id></CdtrAcct>
    <InstrForCdtrAgt><InstrInf>Credit before noon</InstrInf></InstrForCdtrAgt>
    <RgltryRptg><DbtCdtRptgInd>CRED</DbtCdtRptgInd></RgltryRptg>
    <RmtInf><Ustrd>Invoice {n}</Ustrd></RmtInf>{extra}
  </CdtTrfTxInf>"#
        )
    };
    let supplementary = r#"
    <SplmtryData><Envlp><x:Note xmlns:x="urn:example:note">kept</x:Note></Envlp></SplmtryData>"#;
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS}">
 <FIToFICstmrCdtTrf>
  <GrpHdr>
    <MsgId>BANK-MSG-7</MsgId><CreDtTm>2026-11-24T09:59:59Z</CreDtTm><NbOfTxs>2</NbOfTxs>
    <IntrBkSttlmDt>2026-11-24</IntrBkSttlmDt>
    <SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf>
    <PmtTpInf><LclInstrm><Prtry>INST</Prtry></LclInstrm></PmtTpInf>
  </GrpHdr>{}{}
 </FIToFICstmrCdtTrf>
</Document>
"#,
        tx(1, ""),
        tx(2, supplementary)
    )
}

#[test]
fn parts_the_codec_does_not_model_reach_the_creditor_and_missing_agents_are_inserted_in_order() {
    let input = rich_message();
    let received = decoded(input.as_bytes());
    let layout = Layout::of(&input).unwrap();
    assert_eq!(layout.transactions(), 2);
    let (debtor, creditor) = (agent("BANKBRSPXXX"), agent("BANKBRRJXXX"));
    let f = forward_of(&debtor, &creditor);
    let kept = [
        "<SttlmPrty>HIGH</SttlmPrty>",
        "<PrvsInstgAgt1><FinInstnId><BICFI>PREVBRSPXXX</BICFI></FinInstnId></PrvsInstgAgt1>",
        "<DbtrAgtAcct><Id><Othr><Id>RESERVES-1</Id></Othr></Id></DbtrAgtAcct>",
        "<InstrForCdtrAgt><InstrInf>Credit before noon</InstrInf></InstrForCdtrAgt>",
        "<RgltryRptg><DbtCdtRptgInd>CRED</DbtCdtRptgInd></RgltryRptg>",
        "<Nm>Ana &amp; Filhos</Nm>",
        "<!-- a comment the bank wrote -->",
        "<IntrBkSttlmDt>2026-11-24</IntrBkSttlmDt>",
        "<PmtTpInf><LclInstrm><Prtry>INST</Prtry></LclInstrm></PmtTpInf>",
    ];
    // Re-encoding the decoded value loses them (why the switch copies bytes).
    let reencoded = pacs008::encode(&received);
    assert!(!reencoded.contains("InstrForCdtrAgt") && !reencoded.contains("RgltryRptg"));
    for i in 0..2 {
        let xml = layout.forward(&input, i, &f).unwrap();
        assert_xsd_valid(&xml, "pacs.008.001.08.xsd");
        for part in kept {
            assert!(xml.contains(part), "transaction {i} lost {part}:\n{xml}");
        }
        assert_eq!(xml.contains("<x:Note xmlns:x=\"urn:example:note\">kept</x:Note>"), i == 1);
        assert!(xml.contains(&format!("<EndToEndId>E2E{}</EndToEndId>", i + 1)));
        assert!(!xml.contains(&format!("E2E{}", 2 - i)), "the other transaction leaked");
        // Inserted where the schema puts them: acceptance before ChrgBr, agents after the
        // previous instructing agent and before Dbtr.
        let at = |s: &str| xml.find(s).unwrap_or_else(|| panic!("{s} missing:\n{xml}"));
        assert!(at("<SttlmPrty>") < at("<AccptncDtTm>") && at("<AccptncDtTm>") < at("<ChrgBr>"));
        assert!(at("</PrvsInstgAgt1>") < at("<InstgAgt>"));
        assert!(at("<InstgAgt>") < at("<InstdAgt>") && at("<InstdAgt>") < at("<Dbtr>"));
        let again = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(again, expected(&received, i, &f));
    }
}

#[test]
fn agents_the_debtor_wrote_are_replaced_and_a_resolved_alias_replaces_creditor_agent_and_account() {
    let input = format!(
        r#"<Document xmlns="{NS}"><FIToFICstmrCdtTrf><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-24T09:00:00Z</CreDtTm><NbOfTxs>1</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr><CdtTrfTxInf><PmtId><EndToEndId>E1</EndToEndId></PmtId><IntrBkSttlmAmt Ccy="BRL">5.00</IntrBkSttlmAmt><AccptncDtTm>2026-11-24T08:59:00Z</AccptncDtTm><ChrgBr>SLEV</ChrgBr><InstgAgt><FinInstnId><BICFI>FAKEBRSPXXX</BICFI></FinInstnId></InstgAgt><InstdAgt><FinInstnId><BICFI>FAKEBRRJXXX</BICFI></FinInstnId></InstdAgt><Dbtr><Nm>A</Nm></Dbtr><DbtrAgt><FinInstnId><BICFI>BANKBRSPXXX</BICFI></FinInstnId></DbtrAgt><CdtrAgt><FinInstnId><BICFI>NOTKNOWNXXX</BICFI></FinInstnId></CdtrAgt><Cdtr><Nm>B</Nm></Cdtr><CdtrAcct><Id><Othr><Id>NOTPROVIDED</Id></Othr></Id><Prxy><Tp><Cd>TELE</Cd></Tp><Id>+5511999990000</Id></Prxy></CdtrAcct></CdtTrfTxInf></FIToFICstmrCdtTrf></Document>"#
    );
    let received = decoded(input.as_bytes());
    let layout = Layout::of(&input).unwrap();
    let (debtor, creditor) = (agent("BANKBRSPXXX"), agent("BANKBRRJXXX"));
    let resolved = Account {
        id: AccountId::Other("98765-4".into()),
        kind: Some("CACC".into()),
        proxy: Some(Proxy { kind: Some("TELE".into()), id: "+5511999990000".into() }),
        ..Account::default()
    };
    let mut f = forward_of(&debtor, &creditor);
    f.creditor = Some((&creditor, &resolved));
    let xml = layout.forward(&input, 0, &f).unwrap();
    assert_xsd_valid(&xml, "pacs.008.001.08.xsd");
    assert!(!xml.contains("FAKEBR") && !xml.contains("NOTKNOWN") && !xml.contains("NOTPROVIDED"));
    assert_eq!(xml.matches("<InstgAgt>").count(), 1);
    assert!(xml.contains("<AccptncDtTm>2026-11-24T08:59:00Z</AccptncDtTm>"), "the debtor's kept");
    let again = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(again, expected(&received, 0, &f));
    assert_eq!(again.transactions[0].creditor_account.as_ref(), Some(&resolved));
}

#[test]
fn only_the_group_header_lends_its_settlement_date_and_payment_type() {
    // A body-level element that is not the group header (the XSD forbids it, the decoder
    // ignores it) does not pass its children off as the header's.
    let input = rich_message()
        .replace("<IntrBkSttlmDt>2026-11-24</IntrBkSttlmDt>", "")
        .replace("<PmtTpInf><LclInstrm><Prtry>INST</Prtry></LclInstrm></PmtTpInf>", "")
        .replace(
            "</GrpHdr>",
            "</GrpHdr><Stray><PmtTpInf><LclInstrm><Prtry>X</Prtry></LclInstrm></PmtTpInf></Stray>",
        );
    let layout = Layout::of(&input).unwrap();
    let (debtor, creditor) = (agent("BANKBRSPXXX"), agent("BANKBRRJXXX"));
    let xml = layout.forward(&input, 0, &forward_of(&debtor, &creditor)).unwrap();
    assert!(!xml.contains("<Prtry>X</Prtry>") && !xml.contains("Stray"), "{xml}");
    assert_xsd_valid(&xml, "pacs.008.001.08.xsd");
}

#[test]
fn a_prefix_declared_outside_the_copied_part_leaves_no_layout() {
    // Every element prefixed, declared on the root: the transaction cannot be copied alone.
    let prefixed = rich_message()
        .replace("<Document xmlns=", "<p:Document xmlns:p=")
        .replace("</Document>", "</p:Document>");
    let prefixed = prefixed
        .replace("<CdtTrfTxInf>", "<p:CdtTrfTxInf>")
        .replace("</CdtTrfTxInf>", "</p:CdtTrfTxInf>");
    assert!(Layout::of(&prefixed).is_none());
    // An attribute with an outside prefix too.
    let attr = rich_message()
        .replace("<Document xmlns=", "<Document xmlns:q=\"urn:q\" xmlns=")
        .replace("<Cdtr><Nm>", "<Cdtr q:tag=\"1\"><Nm>");
    assert!(Layout::of(&attr).is_none());
    // A DOCTYPE is never copied (the decoder refuses it anyway).
    assert!(Layout::of("<!DOCTYPE x><Document/>").is_none());
    // Nothing to forward in a document without transactions.
    assert!(Layout::of(&format!("<Document xmlns=\"{NS}\"/>")).is_none());
}

proptest::proptest! {
    /// Whatever the bytes: a layout or none, a forward or none, never a panic. And when the
    /// decoder accepts the bytes (all the switch ever passes), each forward is the received
    /// transaction with the switch's changes.
    #[test]
    fn any_text_gives_a_layout_or_none_without_panicking(
        cut in 0usize..4000,
        junk in "[<>/=\"':a-zA-Z !?\\[\\]-]{0,40}",
    ) {
        let base = rich_message();
        let at = base.char_indices().map(|(i, _)| i).take_while(|i| *i <= cut).last().unwrap_or(0);
        let input = format!("{}{junk}{}", &base[..at], &base[at..]);
        let Some(layout) = Layout::of(&input) else { return Ok(()) };
        let (debtor, creditor) = (agent("BANKBRSPXXX"), agent("BANKBRRJXXX"));
        let f = forward_of(&debtor, &creditor);
        let accepted = pacs008::decode(input.as_bytes(), &Limits::default()).ok();
        for i in 0..=layout.transactions() {
            let xml = layout.forward(&input, i, &f);
            if let (Some(received), Some(xml)) = (&accepted, &xml) {
                let again = pacs008::decode(xml.as_bytes(), &Limits::default());
                proptest::prop_assert_eq!(again.ok(), Some(expected(received, i, &f)));
            }
        }
    }
}
