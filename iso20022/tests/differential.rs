//! Differential test of the fast decoders against the owned-tree ones: on the whole sample
//! corpus, the invalid corpus, thousands of deterministic byte-level mutations of them (under
//! the default and tight limits) and element-level edits that keep the XML well-formed (to
//! reach the content checks), the fast path must give exactly the same typed value or exactly
//! the same error (path and reason) as the reference path.
//!
//! Checked at three levels: the plain scanner's tape equals quick-xml's whenever the scanner
//! accepts; the tape parser fails exactly when (and as) the owned parser fails; the typed
//! decoders (`pacs008`, `pacs002`, every type through `iso20022::decode`, and the switch's
//! `decode_message` for bare and enveloped documents) equal their `_dom` twins. A failing
//! mutation prints its file, seed and index.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use iso20022::{pacs002, pacs008, tape, xml, Limits};
use std::path::PathBuf;

fn corpus() -> Vec<PathBuf> {
    let mut v = Vec::new();
    let samples = common::schemas().join("samples");
    for dir in std::fs::read_dir(&samples).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            v.push(f.unwrap().path());
        }
    }
    for f in std::fs::read_dir(common::schemas().join("samples-invalid")).unwrap() {
        v.push(f.unwrap().path());
    }
    v.sort();
    assert!(v.len() > 40, "corpus too small: {}", v.len());
    v
}

fn limits() -> [Limits; 2] {
    [
        Limits::default(),
        Limits { max_bytes: 4000, max_depth: 7, max_elements: 90, max_transactions: 1 },
    ]
}

/// Everything the fast path must agree on for one input. Returns whether the plain scanner
/// read it (to make sure the mutations exercise it).
fn agree(input: &[u8], limits: &Limits, what: &str) -> bool {
    let plain = tape::scan_plain(input, limits);
    let read = plain.is_some();
    if let Some(t) = plain {
        let quick = tape::parse_quick(input, limits);
        assert_eq!(Some(t), quick.ok(), "plain scanner differs from quick-xml: {what}");
    }
    let fast = tape::parse(input, limits).map(|_| ());
    let owned = xml::parse(input, limits).map(|_| ());
    assert_eq!(fast, owned, "tape parser differs from owned parser: {what}");
    assert_eq!(
        pacs008::decode(input, limits),
        pacs008::decode_dom(input, limits),
        "pacs008 differs: {what}"
    );
    assert_eq!(
        pacs002::decode(input, limits),
        pacs002::decode_dom(input, limits),
        "pacs002 differs: {what}"
    );
    // Every type, chosen by namespace, and the switch's entry point (bare or enveloped).
    assert_eq!(
        iso20022::decode(input, limits),
        iso20022::decode_dom(input, limits),
        "decode differs: {what}"
    );
    assert_eq!(
        iso20022::decode_message(input, limits),
        iso20022::decode_message_dom(input, limits),
        "decode_message differs: {what}"
    );
    read
}

#[test]
fn corpus_decodes_the_same_both_ways() {
    let mut plain = 0;
    let files = corpus();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (i, l) in limits().iter().enumerate() {
            if agree(&bytes, l, &f.display().to_string()) && i == 0 {
                plain += 1;
            }
        }
    }
    // Nearly every real file is in the plain shape; the fast scanner must be the usual path.
    assert!(plain * 10 >= files.len() * 8, "plain scanner read only {plain} of {}", files.len());
}

/// A small deterministic generator (xorshift64*), so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"<",
    b">",
    b"/",
    b"&",
    b";",
    b"&amp;",
    b"&#65;",
    b"&#x0;",
    b"&bogus;",
    b"\"",
    b"'",
    b"=",
    b" ",
    b"\n",
    b":",
    b"x",
    b"9",
    b".",
    b"-",
    b"<!-- c -->",
    b"<!---->",
    b"<![CDATA[<&]]>",
    b"<?pi x?>",
    b"<!DOCTYPE d>",
    b"<X/>",
    b"</X>",
    b"<X>",
    b" a='1'",
    b" Ccy=\"EUR\"",
    b" xmlns=\"urn:x\"",
    b"\xc3\xa9",
    b"\xff",
    b"--",
    b"]]>",
    b"<Cd>",
    b"</Cd>",
    b"0.123456",
];

/// One random edit: delete, duplicate or move a range, insert a piece, change a byte, or
/// swap two element names' text.
fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..1 + rng.below(2) {
        let n = v.len();
        let a = rng.below(n + 1);
        let b = (a + rng.below(64)).min(n);
        match rng.below(8) {
            0 => {
                v.drain(a..b);
            }
            1 => {
                let piece = v[a..b].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, piece);
            }
            2..=5 => {
                let piece = PIECES[rng.below(PIECES.len())];
                v.splice(a..a, piece.iter().copied());
            }
            6 if a < n => v[a] = PIECES[rng.below(PIECES.len())][0],
            _ => v.truncate(a),
        }
    }
    v
}

#[test]
fn mutations_decode_the_same_both_ways() {
    let files = corpus();
    let mut plain = 0;
    let mut total = 0;
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).unwrap();
        let seed = 0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1);
        let mut rng = Rng(seed);
        for k in 0..40 {
            let m = mutate(&mut rng, &bytes);
            for (j, l) in limits().iter().enumerate() {
                let what = format!("{} seed {seed:#x} mutation {k}", f.display());
                if agree(&m, l, &what) && j == 0 {
                    plain += 1;
                }
            }
            total += 1;
        }
    }
    // The mutations must reach the plain scanner's accepting path, not only its refusals.
    assert!(plain * 10 > total, "plain scanner read only {plain} of {total} mutations");
}

/// Element-level edits that keep the XML well-formed, so the typed decoders' content checks
/// (facets, code lists, mandatory elements, choices) are reached: each leaf's text replaced by
/// bad values, each leaf removed, each leaf preceded by a bad duplicate.
fn element_mutations(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(open_rel) = doc.get(i..).and_then(|r| r.find('<')) {
        let open = i + open_rel;
        i = open + 1;
        let Some(gt) = doc[open..].find('>').map(|g| open + g) else { break };
        let tag = &doc[open + 1..gt];
        if tag.starts_with(['/', '?', '!']) || tag.ends_with('/') {
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or_default();
        let Some(lt) = doc[gt..].find('<').map(|l| gt + l) else { break };
        let close = format!("</{name}>");
        if !doc[lt..].starts_with(&close) {
            continue; // not a leaf
        }
        let end = lt + close.len();
        for bad in ["", "X", "2023-13-45", "-1", "1.1234567", "ABCDEFGHIJKL", &"y".repeat(150)] {
            out.push(format!("{}{bad}{}", &doc[..gt + 1], &doc[lt..]));
        }
        out.push(format!("{}{}", &doc[..open], &doc[end..]));
        out.push(format!("{}{}bad!{}{}", &doc[..open], &doc[open..=gt], &close, &doc[open..]));
    }
    out
}

#[test]
fn element_mutations_decode_the_same_both_ways() {
    let mut business = 0;
    for kind in ["pacs.008", "pacs.002", "pacs.004", "camt.056"] {
        for f in common::files(kind) {
            let doc = std::fs::read_to_string(&f).unwrap();
            for (k, m) in element_mutations(&doc).iter().enumerate() {
                let what = format!("{} element mutation {k}", f.display());
                agree(m.as_bytes(), &Limits::default(), &what);
                if let Err(e) = iso20022::decode(m.as_bytes(), &Limits::default()) {
                    business += usize::from(matches!(e.reject(), iso20022::Reject::Business(_)));
                }
            }
        }
    }
    // The point of these edits: content errors, not parse errors.
    assert!(business > 1000, "only {business} business rejects");
}

/// The full structured remittance (every part the model carries, in pacs.008 and pain.001):
/// both readers agree on it, on each element-level edit of it and on byte-level mutations.
#[test]
fn rich_remittance_decodes_the_same_both_ways() {
    let docs = [
        common::with_rich_remittance("pacs.008/fedwire-cct-s4.xml", common::RICH_RELATED),
        common::with_rich_remittance("pain.001/v09-de-sct-inst.xml", common::RICH_RELATED),
    ];
    let mut rejected = 0;
    for (d, doc) in docs.iter().enumerate() {
        assert!(iso20022::decode(doc.as_bytes(), &Limits::default()).is_ok());
        agree(doc.as_bytes(), &Limits::default(), &format!("rich document {d}"));
        for (k, m) in element_mutations(doc).iter().enumerate() {
            agree(m.as_bytes(), &Limits::default(), &format!("rich {d} element mutation {k}"));
            rejected += usize::from(iso20022::decode(m.as_bytes(), &Limits::default()).is_err());
        }
        let seed = 0x5eed_0000_0000_0000 ^ (d as u64 + 1);
        let mut rng = Rng(seed);
        for k in 0..100 {
            let m = mutate(&mut rng, doc.as_bytes());
            agree(&m, &Limits::default(), &format!("rich {d} seed {seed:#x} mutation {k}"));
        }
    }
    assert!(rejected > 500, "only {rejected} element mutations rejected");
}

/// Contact details (Contact4 and pain.001.001.03's ContactDetails2) and the messages whose
/// codes are checked against tables (camt.029, pain.014, pacs.002 with group status): both
/// readers agree on each document and on each element-level edit of it.
#[test]
fn contacts_and_code_lists_decode_the_same_both_ways() {
    let v03 = "<CtctDtls><NmPrfx>DOCT</NmPrfx><MobNb>+370-61234567</MobNb>\
               <Othr>skype:jonas</Othr></CtctDtls>";
    let mut docs = vec![
        common::with_debtor_contact("pacs.008/fednow-participant.xml", common::RICH_CONTACT),
        common::with_debtor_contact("pain.001/v03-lt-sepa.xml", v03),
    ];
    for kind in ["camt.029", "pain.014"] {
        docs.extend(common::files(kind).iter().map(|f| std::fs::read_to_string(f).unwrap()));
    }
    let group = "<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08\
                 </OrgnlMsgNmId><GrpSts>PART</GrpSts><StsRsnInf><Rsn><Cd>NARR</Cd></Rsn>\
                 <AddtlInf>x</AddtlInf></StsRsnInf></OrgnlGrpInfAndSts><TxInfAndSts>";
    let pacs002 =
        std::fs::read_to_string(common::schemas().join("samples/pacs.002/fedwire-cct-s2.xml"))
            .unwrap()
            .replacen("<TxInfAndSts>", group, 1);
    docs.push(pacs002);
    let mut rejected = 0;
    for (d, doc) in docs.iter().enumerate() {
        assert!(iso20022::decode(doc.as_bytes(), &Limits::default()).is_ok(), "document {d}");
        agree(doc.as_bytes(), &Limits::default(), &format!("document {d}"));
        for (k, m) in element_mutations(doc).iter().enumerate() {
            agree(m.as_bytes(), &Limits::default(), &format!("document {d} element mutation {k}"));
            rejected += usize::from(iso20022::decode(m.as_bytes(), &Limits::default()).is_err());
        }
    }
    assert!(rejected > 500, "only {rejected} element mutations rejected");
}
