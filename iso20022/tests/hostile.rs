//! Hostile input: entity tricks, oversized and overdeep documents, huge attributes and texts,
//! too many transactions, and random mutations of real samples. Each must be refused with a
//! specific error (never a panic), within the configured limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;
#[allow(unused_imports)]
use common::*;

use iso20022::{pacs008, DecodeError, ErrorKind, Limits, Reject};
use proptest::prelude::*;

fn err(input: &[u8]) -> DecodeError {
    iso20022::check(input, &Limits::default()).expect_err("must be refused")
}

fn pacs008_sample() -> String {
    std::fs::read_to_string(schemas().join("samples/pacs.008/fednow-participant.xml")).unwrap()
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
        xml.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    xml.push_str("]>\n<Document>&lol9;</Document>");
    let e = err(xml.as_bytes());
    assert!(matches!(e.kind, ErrorKind::Forbidden(_)), "{e}");
    assert_eq!(e.reject(), Reject::Technical);
}

#[test]
fn external_entities_are_refused() {
    let xxe = br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">&xxe;</Document>"#;
    assert!(matches!(err(xxe).kind, ErrorKind::Forbidden(_)));
    // Without a DOCTYPE, an entity reference is simply undefined: not well-formed.
    let undefined =
        br#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">&xxe;</Document>"#;
    assert!(matches!(err(undefined).kind, ErrorKind::Malformed(_)), "{}", err(undefined));
    // Parameter entities and external DTD subsets are DOCTYPEs too.
    let ext = br#"<!DOCTYPE d SYSTEM "http://evil.invalid/x.dtd"><Document/>"#;
    assert!(matches!(err(ext).kind, ErrorKind::Forbidden(_)));
}

#[test]
fn oversized_documents_are_refused_before_parsing() {
    let big = format!("<Document>{}</Document>", " ".repeat(2 << 20));
    let e = err(big.as_bytes());
    assert_eq!(e.to_string(), format!("/: over limit: {} bytes, at most 1048576", big.len()));
}

#[test]
fn deep_nesting_is_refused_at_the_depth_limit() {
    let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
    let e = err(deep.as_bytes());
    assert!(e.to_string().contains("nesting deeper than 32"), "{e}");
}

#[test]
fn too_many_elements_are_refused() {
    let many = format!("<Document>{}</Document>", "<x/>".repeat(60_000));
    let e = err(many.as_bytes());
    assert!(e.to_string().contains("more than 50000 elements"), "{e}");
}

#[test]
fn huge_attribute_and_huge_text_get_specific_errors() {
    let text = pacs008_sample();
    let huge_ccy = text.replace("Ccy=\"USD\"", &format!("Ccy=\"{}\"", "U".repeat(600_000)));
    let e = err(huge_ccy.as_bytes());
    assert!(e.path.ends_with("/CdtTrfTxInf[1]/IntrBkSttlmAmt"), "{e}");
    assert!(e.to_string().contains("is not a currency code"));
    assert_eq!(e.reject(), Reject::Business(iso20022::codes::StatusReason::InvalidAmount));
    let huge_id = text.replace(
        "<MsgId>20230604111111111Sc01Step1MsgId</MsgId>",
        &format!("<MsgId>{}</MsgId>", "M".repeat(600_000)),
    );
    let e = err(huge_id.as_bytes());
    assert_eq!(
        e.to_string(),
        "/Document/FIToFICstmrCdtTrf/GrpHdr/MsgId: 600000 characters, at most 35"
    );
    assert_eq!(e.reject(), Reject::Business(iso20022::codes::StatusReason::SyntaxError));
}

#[test]
fn too_many_transactions_are_refused() {
    let text = pacs008_sample();
    let start = text.find("<CdtTrfTxInf>").unwrap();
    let end = text.find("</CdtTrfTxInf>").unwrap() + "</CdtTrfTxInf>".len();
    let tx = &text[start..end];
    let many = format!("{}{}{}", &text[..start], tx.repeat(5), &text[end..])
        .replace("<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>5</NbOfTxs>");
    let limits = Limits { max_transactions: 4, ..Limits::default() };
    let e = pacs008::decode(many.as_bytes(), &limits).unwrap_err();
    assert_eq!(e.to_string(), "/Document/FIToFICstmrCdtTrf: over limit: 5 transactions, at most 4");
    assert_eq!(pacs008::decode(many.as_bytes(), &Limits::default()).unwrap().transactions.len(), 5);
}

#[test]
fn every_invalid_sample_is_rejected_with_a_specific_error() {
    let expect = [
        (
            "admi.002-empty-reason.xml",
            "/Document/admi.002.001.01/Rsn/RjctgPtyRsn: empty, at least 1 character",
        ),
        (
            "camt.053-missing-grphdr.xml",
            "/Document/BkToCstmrStmt/GrpHdr: mandatory element missing",
        ),
        ("head.001-empty-fr.xml", "/AppHdr/Fr: choice needs exactly one of OrgId, FIId"),
        (
            "pacs.008-comment-before-xmldecl.xml",
            "/: not well-formed XML: the XML declaration must come first",
        ),
        ("pacs.008-missing-lt.xml", "/: not well-formed XML: text outside the root element"),
        (
            "pain.001-comment-before-xmldecl.xml",
            "/: not well-formed XML: the XML declaration must come first",
        ),
        (
            "pain.001-six-ch-namespace-bulk7.xml",
            "/Document: wrong message: unsupported message namespace \
             http://www.six-interbank-clearing.com/de/pain.001.001.03.ch.02.xsd",
        ),
        (
            "pain.002-no-namespace.xml",
            "/Document: wrong message: unsupported message namespace (none)",
        ),
    ];
    let dir = schemas().join("samples-invalid");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let listed: Vec<&str> = expect.iter().map(|(f, _)| *f).collect();
    assert_eq!(names, listed, "every file in samples-invalid/ has an expectation");
    for (file, message) in expect {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let e = iso20022::check(&bytes, &Limits::default()).expect_err(file);
        assert_eq!(e.to_string(), message, "{file}");
        assert!(iso20022::decode(&bytes, &Limits::default()).is_err());
    }
}

fn all_samples() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for dir in std::fs::read_dir(schemas().join("samples")).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            v.push(std::fs::read(f.unwrap().path()).unwrap());
        }
    }
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Random byte edits of real samples: the decoders return Ok or a specific error, never
    /// panic. (The same idea runs unbounded under cargo-fuzz, see fuzz/README.md.)
    #[test]
    fn mutated_samples_never_panic(
        pick in 0usize..1000,
        edits in proptest::collection::vec((0usize..1_000_000, any::<u8>(), 0u8..4), 1..8),
    ) {
        let samples = all_samples();
        let mut bytes = samples[pick % samples.len()].clone();
        for (pos, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = pos % bytes.len();
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                2 => bytes.insert(i, byte),
                _ => {
                    // Duplicate a slice: grows repeated structures (transactions, elements).
                    let end = (i + 64).min(bytes.len());
                    let chunk = bytes[i..end].to_vec();
                    bytes.splice(i..i, chunk);
                }
            }
        }
        let limits = Limits::default();
        let _ = iso20022::check(&bytes, &limits);
        let _ = iso20022::decode(&bytes, &limits).map(|m| iso20022::encode(&m));
        let _ = iso20022::envelope::decode(&bytes, &limits);
    }
}
