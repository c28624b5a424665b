//! Shared by the codec's integration tests: the schema folder, its sample files, and XSD
//! validation with xmllint.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `schemas/iso20022` of this repository.
pub fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/iso20022")
}

/// The sample files of one message type, sorted; at least one.
pub fn files(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(schemas().join("samples").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no samples for {kind}");
    v
}

/// Validate `xml` against the official XSD with xmllint; panics with its output if invalid.
pub fn assert_xsd_valid(xml: &str, xsd: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msg.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas().join("xsd").join(xsd))
        .arg(&file)
        .output()
        .expect("xmllint must be installed (apt-get install libxml2-utils)");
    assert!(out.status.success(), "{xsd}: {}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

/// A `RmtInf` block that uses every part of `StructuredRemittanceInformation16` the codec
/// carries: three referred documents with document lines, document amounts, creditor
/// reference, invoicer and invoicee, tax (with a decimal-form `SeqNb`), garnishment and three
/// additional lines.
pub const RICH_REMITTANCE: &str = r#"<RmtInf><Ustrd>Invoices 1-3</Ustrd><Strd>
<RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry><Issr>Seller Inc</Issr></Tp><Nb>INV-1</Nb>
<RltdDt>2026-11-01</RltdDt><LineDtls><Id><Tp><CdOrPrtry><Cd>ADPI</Cd></CdOrPrtry></Tp><Nb>L1</Nb>
</Id><Id><Nb>L1b</Nb><RltdDt>2026-11-01</RltdDt></Id><Desc>Widgets</Desc><Amt>
<DuePyblAmt Ccy="USD">60.00</DuePyblAmt><DscntApldAmt><Amt Ccy="USD">0.50</Amt></DscntApldAmt>
<RmtdAmt Ccy="USD">59.50</RmtdAmt></Amt></LineDtls><LineDtls><Id><Nb>L2</Nb></Id></LineDtls>
</RfrdDocInf>
<RfrdDocInf><Tp><CdOrPrtry><Prtry>PROFORMA</Prtry></CdOrPrtry></Tp><Nb>INV-2</Nb></RfrdDocInf>
<RfrdDocInf><Nb>INV-3</Nb><RltdDt>2026-11-03</RltdDt><LineDtls><Id><Nb>L3</Nb></Id>
<Desc>Service</Desc></LineDtls></RfrdDocInf>
<RfrdDocAmt><DuePyblAmt Ccy="USD">120.00</DuePyblAmt>
<DscntApldAmt><Tp><Cd>EARL</Cd></Tp><Amt Ccy="USD">5.5</Amt></DscntApldAmt>
<DscntApldAmt><Amt Ccy="USD">1</Amt></DscntApldAmt>
<CdtNoteAmt Ccy="USD">10.00</CdtNoteAmt>
<TaxAmt><Tp><Prtry>STATE</Prtry></Tp><Amt Ccy="USD">7.25</Amt></TaxAmt>
<AdjstmntAmtAndRsn><Amt Ccy="USD">2.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Rsn>DMGD</Rsn>
<AddtlInf>Damaged goods</AddtlInf></AdjstmntAmtAndRsn>
<AdjstmntAmtAndRsn><Amt Ccy="USD">0.75</Amt></AdjstmntAmtAndRsn>
<RmtdAmt Ccy="USD">108.00</RmtdAmt></RfrdDocAmt>
<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>
<Ref>RF18539007547034</Ref></CdtrRefInf>
<Invcr><Nm>Seller Inc</Nm><PstlAdr><TwnNm>Springfield</TwnNm><Ctry>US</Ctry></PstlAdr>
<CtryOfRes>US</CtryOfRes></Invcr>
<Invcee><Nm>Buyer LLC</Nm></Invcee>
<TaxRmt><Cdtr><TaxId>123456789</TaxId></Cdtr><Dt>2026-11-05</Dt><SeqNb>12.0</SeqNb></TaxRmt>
<GrnshmtRmt><Tp><CdOrPrtry><Cd>GNCS</Cd></CdOrPrtry><Issr>State court</Issr></Tp>
<Grnshee><Nm>Jane Doe</Nm></Grnshee><GrnshmtAdmstr><Nm>Child Support Agency</Nm>
</GrnshmtAdmstr><RefNb>CASE-2026-77</RefNb><Dt>2026-10-30</Dt>
<RmtdAmt Ccy="USD">250.00</RmtdAmt><FmlyMdclInsrncInd>1</FmlyMdclInsrncInd>
<MplyeeTermntnInd>false</MplyeeTermntnInd></GrnshmtRmt>
<AddtlRmtInf>First line</AddtlRmtInf><AddtlRmtInf>Second line</AddtlRmtInf>
<AddtlRmtInf>Third line</AddtlRmtInf>
</Strd><Strd><CdtrRefInf><Ref>SECOND-BLOCK</Ref></CdtrRefInf></Strd></RmtInf>"#;

/// A `RltdRmtInf` block with an e-mail and a postal location.
pub const RICH_RELATED: &str = r#"<RltdRmtInf><RmtId>ADVICE-1</RmtId><RmtLctnDtls>
<Mtd>EMAL</Mtd><ElctrncAdr>ar@seller.example</ElctrncAdr></RmtLctnDtls><RmtLctnDtls>
<Mtd>POST</Mtd><PstlAdr><Nm>Seller Inc</Nm><Adr><TwnNm>Springfield</TwnNm><Ctry>US</Ctry>
</Adr></PstlAdr></RmtLctnDtls></RltdRmtInf>"#;

/// `sample` (a sample file name under `samples/`) with its first `RmtInf` block replaced by
/// `related` (may be empty) followed by [`RICH_REMITTANCE`].
pub fn with_rich_remittance(sample: &str, related: &str) -> String {
    let xml = std::fs::read_to_string(schemas().join("samples").join(sample)).unwrap();
    let (head, rest) = xml.split_once("<RmtInf>").unwrap();
    let (_, tail) = rest.split_once("</RmtInf>").unwrap();
    format!("{head}{related}{RICH_REMITTANCE}{tail}")
}

/// A `CtctDtls` block with every Contact4 field, two other channels among them.
pub const RICH_CONTACT: &str = "<CtctDtls><NmPrfx>MADM</NmPrfx><Nm>Ana Souza</Nm>\
<PhneNb>+55-11-5555-0100</PhneNb><MobNb>+55-(11)99999-0000</MobNb><FaxNb>+1-212-555-0199</FaxNb>\
<EmailAdr>ana@example.com</EmailAdr><EmailPurp>billing</EmailPurp><JobTitl>Treasurer</JobTitl>\
<Rspnsblty>Payments</Rspnsblty><Dept>Finance</Dept><Othr><ChanlTp>PIXK</ChanlTp>\
<Id>ana@example.com</Id></Othr><Othr><ChanlTp>TLGM</ChanlTp></Othr>\
<PrefrdMtd>CELL</PrefrdMtd></CtctDtls>";

/// `sample` (a file name under `samples/`) with `contact` as the last child of its first
/// `Dbtr`.
pub fn with_debtor_contact(sample: &str, contact: &str) -> String {
    let xml = std::fs::read_to_string(schemas().join("samples").join(sample)).unwrap();
    xml.replacen("</Dbtr>", &format!("{contact}</Dbtr>"), 1)
}
