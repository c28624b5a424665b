//! Light reading of the messages a simulated bank receives: only the ids and statuses it needs,
//! found by scanning for the element tags the switch's encoder writes, instead of a full decode.
//! The banks share the two cores with the switch, so every microsecond they spend is taken
//! from the switch under test.
//!
//! Guarantees: a scan either returns exactly what a full decode would give for these fields
//! (checked by the tests against the `iso20022` encoders the switch uses) or `None`, and the
//! caller then falls back to the full decode: namespace prefixes, escaped text, repeated or
//! missing elements all give `None`. It must not be used to validate a message: it checks
//! nothing beyond the fields it reads.

use iso20022::pacs008::Pacs008;

/// The ids of one transfer of a pacs.008.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxIds<'a> {
    /// InstrId.
    pub instr_id: Option<&'a str>,
    /// EndToEndId.
    pub end_to_end_id: &'a str,
    /// TxId.
    pub tx_id: Option<&'a str>,
    /// UETR.
    pub uetr: Option<&'a str>,
}

/// What a bank needs from a pacs.008 to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferIds<'a> {
    /// Group header MsgId.
    pub msg_id: &'a str,
    /// Group header CreDtTm.
    pub created: &'a str,
    /// The transactions.
    pub transactions: Vec<TxIds<'a>>,
}

impl<'a> TransferIds<'a> {
    /// The same fields from a decoded message.
    pub fn of(m: &'a Pacs008) -> TransferIds<'a> {
        TransferIds {
            msg_id: &m.header.msg_id,
            created: &m.header.created,
            transactions: m
                .transactions
                .iter()
                .map(|t| TxIds {
                    instr_id: t.instr_id.as_deref(),
                    end_to_end_id: &t.end_to_end_id,
                    tx_id: t.tx_id.as_deref(),
                    uetr: t.uetr.as_deref(),
                })
                .collect(),
        }
    }
}

/// One transaction status of a pacs.002.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report<'a> {
    /// OrgnlEndToEndId.
    pub e2e: &'a str,
    /// TxSts code.
    pub status: &'a str,
    /// Reason code, or `-`.
    pub reason: &'a str,
}

/// Text between `open` and the following `close` within `hay`; `None` when absent, or when the
/// text holds markup or an escape (then only a full decode reads it right).
fn leaf<'a>(hay: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let text = between(hay, open, close)?;
    if text.contains(['<', '&']) {
        return None;
    }
    Some(text)
}

/// Byte offset of the first `needle` in `hay` (SIMD search; the tags are ASCII, so the offset
/// is a character boundary).
fn find(hay: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(hay.as_bytes(), needle.as_bytes())
}

/// Raw text between the first `open` and the following `close`.
fn between<'a>(hay: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = find(hay, open)? + open.len();
    let rest = hay.get(start..)?;
    rest.get(..find(rest, close)?)
}

/// Like [`leaf`] but `Ok(None)` when `open` does not occur at all.
fn opt_leaf<'a>(hay: &'a str, open: &str, close: &str) -> Result<Option<&'a str>, ()> {
    if !hay.contains(open) {
        return Ok(None);
    }
    leaf(hay, open, close).map(Some).ok_or(())
}

/// Split `xml` into the bodies of the `<tag>...</tag>` elements; `None` if nested or unclosed.
fn elements<'a>(xml: &'a str, open: &str, close: &str) -> Option<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = find(rest, open) {
        let body = rest.get(i + open.len()..)?;
        let end = find(body, close)?;
        let inner = body.get(..end)?;
        if inner.contains(open) {
            return None;
        }
        out.push(inner);
        rest = body.get(end + close.len()..)?;
    }
    Some(out)
}

/// Plain, unprefixed markup as the `iso20022` encoder writes it.
fn plain(xml: &str) -> bool {
    !xml.contains(":GrpHdr") && xml.contains("<GrpHdr>")
}

/// The ids of a pacs.008, or `None` (use the full decode).
pub fn transfer(xml: &str) -> Option<TransferIds<'_>> {
    if !plain(xml) {
        return None;
    }
    let header = xml.get(..find(xml, "</GrpHdr>")?)?;
    let msg_id = leaf(header, "<MsgId>", "</MsgId>")?;
    let created = leaf(header, "<CreDtTm>", "</CreDtTm>")?;
    let mut transactions = Vec::new();
    for tx in elements(xml, "<CdtTrfTxInf>", "</CdtTrfTxInf>")? {
        let pmt = between(tx, "<PmtId>", "</PmtId>")?;
        transactions.push(TxIds {
            instr_id: opt_leaf(pmt, "<InstrId>", "</InstrId>").ok()?,
            end_to_end_id: leaf(pmt, "<EndToEndId>", "</EndToEndId>")?,
            tx_id: opt_leaf(pmt, "<TxId>", "</TxId>").ok()?,
            uetr: opt_leaf(pmt, "<UETR>", "</UETR>").ok()?,
        });
    }
    (!transactions.is_empty()).then_some(TransferIds { msg_id, created, transactions })
}

/// The transaction statuses of a pacs.002, or `None` (use the full decode).
pub fn reports(xml: &str) -> Option<Vec<Report<'_>>> {
    if !plain(xml) {
        return None;
    }
    let mut out = Vec::new();
    for tx in elements(xml, "<TxInfAndSts>", "</TxInfAndSts>")? {
        let reason = match opt_leaf(tx, "<Rsn><Cd>", "</Cd>").ok()? {
            Some(code) => code,
            // A proprietary reason or a reason written differently: let the decoder read it.
            None if tx.contains("<StsRsnInf>") => return None,
            None => "-",
        };
        out.push(Report {
            e2e: leaf(tx, "<OrgnlEndToEndId>", "</OrgnlEndToEndId>")?,
            status: leaf(tx, "<TxSts>", "</TxSts>")?,
            reason,
        });
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use iso20022::codes::{StatusReason, TxStatus};
    use iso20022::pacs002::{self, Pacs002, TxStatusReport};
    use iso20022::{pacs008, Currency, Limits};

    fn transfer_xml(e2e: &str) -> String {
        let brl = Currency::parse("BRL").unwrap();
        crate::workload::pacs008_xml(
            "BKAABRSP",
            "000001",
            e2e,
            "+5511900000001",
            1234,
            brl,
            "2026-11-23T20:00:00",
        )
    }

    #[test]
    fn a_scanned_transfer_has_the_ids_a_full_decode_has() {
        let xml = transfer_xml("E2E0001");
        let full = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(transfer(&xml).unwrap(), TransferIds::of(&full));
        // With every optional id, and two transactions.
        let mut m = full.clone();
        m.transactions[0].instr_id = Some("INSTR1".into());
        m.transactions[0].uetr = Some("0b1e0e2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b".into());
        let mut second = m.transactions[0].clone();
        second.end_to_end_id = "E2E0002".into();
        second.instr_id = None;
        m.transactions.push(second);
        let xml = pacs008::encode(&m);
        let full = pacs008::decode(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(transfer(&xml).unwrap(), TransferIds::of(&full));
        assert_eq!(transfer(&xml).unwrap().transactions.len(), 2);
    }

    #[test]
    fn scanned_statuses_match_a_full_decode() {
        let tx = |e2e: &str, status, reason| TxStatusReport {
            original_end_to_end_id: Some(e2e.into()),
            status,
            reason,
            ..TxStatusReport::default()
        };
        let msg = Pacs002 {
            msg_id: "R1".into(),
            created: "2026-11-23T20:00:00".into(),
            original_msg_id: Some("M1".into()),
            original_msg_name: Some("pacs.008.001.08".into()),
            transactions: vec![
                tx("E1", TxStatus::AcceptedSettlementCompleted, None),
                tx("E2", TxStatus::Rejected, Some(StatusReason::AccountProxyInvalid)),
                tx("E3", TxStatus::AcceptedCreditSettlementCompleted, None),
            ],
            ..Pacs002::default()
        };
        let xml = pacs002::encode(&msg);
        let full = pacs002::decode(xml.as_bytes(), &Limits::default()).unwrap();
        let want: Vec<Report<'_>> = full
            .transactions
            .iter()
            .map(|r| Report {
                e2e: r.original_end_to_end_id.as_deref().unwrap(),
                status: r.status.code(),
                reason: r.reason.map_or("-", StatusReason::code),
            })
            .collect();
        assert_eq!(reports(&xml).unwrap(), want);
        assert_eq!(want[1].reason, "BE23");
    }

    #[test]
    fn what_a_scan_cannot_read_right_goes_to_the_full_decode() {
        let xml = transfer_xml("E2E0001");
        // Escaped text.
        assert!(transfer(&xml.replace(">E2E0001<", ">E2E&amp;1<")).is_none());
        // A namespace prefix.
        let prefixed = xml.replace("<GrpHdr>", "<p:GrpHdr>").replace("</GrpHdr>", "</p:GrpHdr>");
        assert!(transfer(&prefixed).is_none());
        // A missing EndToEndId, an unclosed transaction.
        assert!(transfer(&xml.replace("<EndToEndId>", "<X>")).is_none());
        assert!(transfer(&xml.replace("</CdtTrfTxInf>", "")).is_none());
        assert!(reports("<Document><GrpHdr></GrpHdr></Document>").is_none());
    }
}
