//! Contact details (`CtctDtls`) of a party survive decode and encode: every Contact4 field,
//! XSD-valid output (xmllint), pain.001.001.03's ContactDetails2 carried into .09, facets
//! refused with the element path, and the fast decoder agrees with its DOM twin.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;
use common::*;

use iso20022::common::{Contact, OtherContact, MAX_OTHER_CONTACTS, OTHER_CONTACT_V03};
use iso20022::{pacs008, pain001, ErrorKind, Limits};

fn expected() -> Contact {
    Contact {
        name_prefix: Some("MADM".into()),
        name: Some("Ana Souza".into()),
        phone: Some("+55-11-5555-0100".into()),
        mobile: Some("+55-(11)99999-0000".into()),
        fax: Some("+1-212-555-0199".into()),
        email: Some("ana@example.com".into()),
        email_purpose: Some("billing".into()),
        job_title: Some("Treasurer".into()),
        responsibility: Some("Payments".into()),
        department: Some("Finance".into()),
        others: vec![
            OtherContact { channel: "PIXK".into(), id: Some("ana@example.com".into()) },
            OtherContact { channel: "TLGM".into(), id: None },
        ],
        preferred_method: Some("CELL".into()),
    }
}

#[test]
fn pacs008_debtor_contact_survives_a_round_trip_through_the_xsd() {
    let xml = with_debtor_contact("pacs.008/fednow-participant.xml", RICH_CONTACT);
    let m = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(m, pacs008::decode_dom(xml.as_bytes(), &Limits::default()).unwrap());
    assert_eq!(m.transactions[0].debtor.contact.as_deref(), Some(&expected()));
    // Personal data stays out of Debug.
    assert!(!format!("{m:?}").contains("ana@example.com"));
    let out = pacs008::encode(&m);
    assert_xsd_valid(&out, "pacs.008.001.08.xsd");
    assert!(out.contains("<PhneNb>+55-11-5555-0100</PhneNb>"));
    assert_eq!(pacs008::decode(out.as_bytes(), &Limits::default()).unwrap(), m);
}

#[test]
fn pain001_contacts_are_carried_and_v03_other_becomes_a_channel() {
    let xml = with_debtor_contact("pain.001/v09-us-rtp.xml", RICH_CONTACT);
    let m = pain001::decode(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(
        iso20022::decode_dom(xml.as_bytes(), &Limits::default()).unwrap(),
        iso20022::Message::Pain001(m.clone())
    );
    assert_eq!(m.payments[0].debtor.contact.as_deref(), Some(&expected()));
    let out = pain001::encode(&m);
    assert_xsd_valid(&out, "pain.001.001.09.xsd");
    assert_eq!(pain001::decode(out.as_bytes(), &Limits::default()).unwrap(), m);

    let v03 = "<CtctDtls><NmPrfx>DOCT</NmPrfx><Nm>Jonas</Nm><MobNb>+370-61234567</MobNb>\
               <EmailAdr>j@example.lt</EmailAdr><Othr>skype:jonas</Othr></CtctDtls>";
    let xml = with_debtor_contact("pain.001/v03-lt-sepa.xml", v03);
    let m = pain001::decode(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(
        iso20022::decode_dom(xml.as_bytes(), &Limits::default()).unwrap(),
        iso20022::Message::Pain001(m.clone())
    );
    let c = m.payments[0].debtor.contact.clone().unwrap();
    assert_eq!(c.mobile.as_deref(), Some("+370-61234567"));
    assert_eq!(
        c.others,
        vec![OtherContact { channel: OTHER_CONTACT_V03.into(), id: Some("skype:jonas".into()) }]
    );
    // Encoded as .09 (the only version written): the contact is all there.
    let out = pain001::encode(&m);
    assert_xsd_valid(&out, "pain.001.001.09.xsd");
    let back = pain001::decode(out.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(back.version, pain001::Version::V09);
    assert_eq!(back.payments[0].debtor.contact, Some(c));
}

#[test]
fn contact_facets_are_refused_by_path() {
    let at = "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/Dbtr/CtctDtls";
    let cases = [
        ("<PhneNb>+55 11 5555</PhneNb>", "PhneNb", "phone number"),
        ("<MobNb>55-119999</MobNb>", "MobNb", "phone number"),
        ("<FaxNb>+1234-5</FaxNb>", "FaxNb", "phone number"),
        ("<NmPrfx>SIR</NmPrfx>", "NmPrfx", "NamePrefix2Code"),
        ("<PrefrdMtd>SMS</PrefrdMtd>", "PrefrdMtd", "PreferredContactMethod1Code"),
        ("<EmailAdr></EmailAdr>", "EmailAdr", "empty"),
        ("<Othr><Id>x</Id></Othr>", "Othr[1]/ChanlTp", "missing"),
        ("<Othr><ChanlTp>TOOLONG</ChanlTp></Othr>", "Othr[1]/ChanlTp", "at most 4"),
    ];
    for (inner, leaf, what) in cases {
        let xml = with_debtor_contact(
            "pacs.008/fednow-participant.xml",
            &format!("<CtctDtls>{inner}</CtctDtls>"),
        );
        let e = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(pacs008::decode_dom(xml.as_bytes(), &Limits::default()), Err(e.clone()));
        assert_eq!(e.path, format!("{at}/{leaf}"), "{inner}: {e}");
        assert!(e.to_string().contains(what), "{inner}: {e}");
    }
    let many = "<Othr><ChanlTp>X</ChanlTp></Othr>".repeat(MAX_OTHER_CONTACTS + 1);
    let xml = with_debtor_contact(
        "pacs.008/fednow-participant.xml",
        &format!("<CtctDtls>{many}</CtctDtls>"),
    );
    let e = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::TooLarge(_)), "{e}");
    assert_eq!(e.path, format!("{at}/Othr[{}]", MAX_OTHER_CONTACTS + 1));
}
