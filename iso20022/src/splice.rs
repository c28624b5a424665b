//! Forwarding a pacs.008 transaction as the debtor bank wrote it.
//!
//! The switch forwards each transaction of a debtor's pacs.008 to the creditor bank in a
//! message of its own. Re-encoding it from the decoded value would lose every element the
//! codec does not model (`InstrForCdtrAgt`, `RgltryRptg`, `Tax`, `SplmtryData`, previous
//! instructing agents, ...) and costs a full encode per payment. Instead, [`Layout::of`]
//! finds, in one pass over the received bytes, where the group header's and each
//! transaction's direct children lie; [`Layout::forward`] then writes a new group header and
//! copies the transaction's bytes, replacing only what the switch changes: the instructing and
//! instructed agents, the acceptance time when the debtor gave none, and the creditor agent
//! and account when the switch resolved an alias.
//!
//! Guarantees: the output is the transaction exactly as received except for those elements,
//! in the XSD's order (inserted elements go where the schema puts them). A document this
//! cannot copy safely (an element or attribute whose namespace prefix is declared outside the
//! copied part, a DOCTYPE, bytes that are not UTF-8) has no layout: [`Layout::of`] returns
//! `None` and the caller re-encodes. Must only be given bytes the pacs.008 decoder accepted:
//! it tracks structure, it does not check well-formedness.

use crate::common::{encode_account, encode_agent, Account, Agent};
use crate::pacs008::NAMESPACE;
use crate::xml::Writer;
use std::ops::Range;

/// One direct child of the group header or of a transaction: its local name and its bytes
/// (start tag to end tag).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    name: Range<usize>,
    at: Range<usize>,
}

/// One `CdtTrfTxInf`: its bytes (empty while it is being read), where its content starts
/// (after the start tag), and its direct children.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TxLayout {
    at: Range<usize>,
    content_start: usize,
    children: Vec<Part>,
}

/// Where a pacs.008's group header children and transactions lie in the bytes it was read
/// from (a bare `Document` or an application header envelope).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    header: Vec<Part>,
    txs: Vec<TxLayout>,
}

/// What the switch changes in a forwarded transaction.
#[derive(Debug, Clone, Copy)]
pub struct Forward<'a> {
    /// The new message's `MsgId`.
    pub msg_id: &'a str,
    /// Its `CreDtTm`.
    pub created: &'a str,
    /// `SttlmInf/ClrSys/Prtry`: the scheme.
    pub clearing_system: &'a str,
    /// The transaction's `InstgAgt` (the debtor bank).
    pub instructing_agent: &'a Agent,
    /// The transaction's `InstdAgt` (the creditor bank).
    pub instructed_agent: &'a Agent,
    /// The `AccptncDtTm` written when the transaction has none.
    pub acceptance: &'a str,
    /// When the switch resolved the creditor (an alias): the `CdtrAgt` and `CdtrAcct` that
    /// replace the debtor's.
    pub creditor: Option<(&'a Agent, &'a Account)>,
}

/// Children of `CdtTrfTxInf` that come after `AccptncDtTm` in the schema (`ChrgBr` is
/// mandatory, so one of them is always there).
const AFTER_ACCEPTANCE: [&str; 4] = ["PoolgAdjstmntDt", "InstdAmt", "XchgRate", "ChrgBr"];

/// Children of `CdtTrfTxInf` that come after `InstdAgt` in the schema, up to the mandatory
/// `Dbtr`.
const AFTER_AGENTS: [&str; 9] = [
    "IntrmyAgt1",
    "IntrmyAgt1Acct",
    "IntrmyAgt2",
    "IntrmyAgt2Acct",
    "IntrmyAgt3",
    "IntrmyAgt3Acct",
    "UltmtDbtr",
    "InitgPty",
    "Dbtr",
];

/// A start tag: its name, whether it closes itself, where it ends, and whether a `:` is in
/// it (a prefix, a namespace declaration, or only an attribute value: checked further then).
struct StartTag {
    name: Range<usize>,
    empty: bool,
    end: usize,
    colon: bool,
}

/// An open element while scanning.
struct Open {
    name: Range<usize>,
    start: usize,
    /// Namespace prefixes this element declares (ranges of the input).
    declares: Vec<Range<usize>>,
}

impl Layout {
    /// The layout of a pacs.008 the decoder accepted, or `None` if its transactions cannot be
    /// copied on their own (see the module documentation).
    pub fn of(input: &str) -> Option<Layout> {
        let input = input.as_bytes();
        let mut layout = Layout::default();
        let mut stack: Vec<Open> = Vec::new();
        // Depth of `FIToFICstmrCdtTrf` once found.
        let mut body: Option<usize> = None;
        let mut pos = 0;
        while let Some(lt) = memchr::memchr(b'<', input.get(pos..)?) {
            let at = pos + lt;
            let rest = input.get(at..)?;
            if rest.starts_with(b"<?") {
                pos = at + find(rest, b"?>")? + 2;
            } else if rest.starts_with(b"<!--") {
                pos = at + find(rest, b"-->")? + 3;
            } else if rest.starts_with(b"<![CDATA[") {
                pos = at + find(rest, b"]]>")? + 3;
            } else if rest.starts_with(b"<!") {
                return None;
            } else if rest.starts_with(b"</") {
                pos = at + memchr::memchr(b'>', rest)? + 1;
                let open = stack.pop()?;
                layout.closed(input, &open, (stack.len(), stack.last()), body, pos);
            } else {
                let tag = start_tag(input, at)?;
                pos = tag.end;
                let depth = stack.len();
                let inside = body.is_some_and(|b| depth > b);
                // Without a `:` a tag neither uses nor declares a prefix.
                let declares = if inside && tag.colon {
                    declared_prefixes(input, &tag, &stack)?
                } else {
                    Vec::new()
                };
                if body.is_none() && local(input, &tag.name) == b"FIToFICstmrCdtTrf" {
                    body = Some(depth);
                }
                let open = Open { name: tag.name, start: at, declares };
                if body.is_some_and(|b| depth == b + 1)
                    && local(input, &open.name) == b"CdtTrfTxInf"
                {
                    layout.txs.push(TxLayout {
                        at: at..at,
                        content_start: pos,
                        children: Vec::new(),
                    });
                }
                if tag.empty {
                    layout.closed(input, &open, (depth, stack.last()), body, pos);
                } else {
                    stack.push(open);
                }
            }
        }
        (body.is_some() && !layout.txs.is_empty() && stack.is_empty()).then_some(layout)
    }

    /// Record element `open`, at `depth` under `parent`, closed at `end`, where it matters:
    /// a transaction, a child of the group header, or a child of the transaction being read.
    fn closed(
        &mut self,
        input: &[u8],
        open: &Open,
        (depth, parent): (usize, Option<&Open>),
        body: Option<usize>,
        end: usize,
    ) {
        let Some(b) = body else { return };
        if depth == b + 1 && local(input, &open.name) == b"CdtTrfTxInf" {
            if let Some(tx) = self.txs.last_mut() {
                tx.at = open.start..end;
            }
        } else if depth == b + 2 {
            let part = Part { name: open.name.clone(), at: open.start..end };
            match (parent.map(|p| local(input, &p.name)), self.txs.last_mut()) {
                (Some(b"CdtTrfTxInf"), Some(tx)) if tx.at.is_empty() => tx.children.push(part),
                (Some(b"GrpHdr"), None) => self.header.push(part),
                _ => {}
            }
        }
    }

    /// Transactions found.
    pub fn transactions(&self) -> usize {
        self.txs.len()
    }

    /// Transaction `index` of `input` (the bytes this layout was made of) in a pacs.008 of its
    /// own, with the changes of `f`. `None` when there is no such transaction.
    pub fn forward(&self, input: &str, index: usize, f: &Forward) -> Option<String> {
        let tx = self.txs.get(index)?;
        let text = |r: &Range<usize>| input.get(r.clone());
        let name_of = |p: &Part| input.as_bytes().get(p.name.clone()).unwrap_or_default();
        let mut w = Writer::new(tx.at.len() + 1024);
        w.open_with("Document", &[("xmlns", NAMESPACE)]).open("FIToFICstmrCdtTrf");
        w.open("GrpHdr").leaf("MsgId", f.msg_id).leaf("CreDtTm", f.created).leaf("NbOfTxs", "1");
        // The debtor's settlement date and payment type at group level apply to every
        // transaction: kept, in their places around `SttlmInf`.
        let kept = |name: &[u8]| self.header.iter().find(|p| name_of(p) == name);
        if let Some(p) = kept(b"IntrBkSttlmDt") {
            w.raw(text(&p.at)?);
        }
        w.open("SttlmInf").leaf("SttlmMtd", "CLRG");
        w.open("ClrSys").leaf("Prtry", f.clearing_system).close("ClrSys").close("SttlmInf");
        if let Some(p) = kept(b"PmtTpInf") {
            w.raw(text(&p.at)?);
        }
        w.close("GrpHdr");
        w.raw(text(&(tx.at.start..tx.content_start))?);
        let mut accepted = tx.children.iter().any(|p| name_of(p) == b"AccptncDtTm");
        let mut agents = false;
        let mut account =
            f.creditor.is_none() || tx.children.iter().any(|p| name_of(p) == b"CdtrAcct");
        let mut prev = tx.content_start;
        for p in &tx.children {
            let name = std::str::from_utf8(name_of(p)).ok()?;
            w.raw(text(&(prev..p.at.start))?);
            prev = p.at.end;
            if !accepted && AFTER_ACCEPTANCE.contains(&name) {
                w.leaf("AccptncDtTm", f.acceptance);
                accepted = true;
            }
            if !agents && AFTER_AGENTS.contains(&name) {
                encode_agent(&mut w, "InstgAgt", f.instructing_agent);
                encode_agent(&mut w, "InstdAgt", f.instructed_agent);
                agents = true;
            }
            match (name, f.creditor) {
                ("InstgAgt" | "InstdAgt", _) => {}
                ("CdtrAgt", Some((agent, _))) => encode_agent(&mut w, "CdtrAgt", agent),
                ("CdtrAcct", Some((_, acct))) => encode_account(&mut w, "CdtrAcct", acct),
                _ => {
                    w.raw(text(&p.at)?);
                }
            }
            if name == "Cdtr" && !account {
                if let Some((_, acct)) = f.creditor {
                    encode_account(&mut w, "CdtrAcct", acct);
                }
                account = true;
            }
        }
        if !(accepted && agents && account) {
            // Not a transaction the decoder accepted (`ChrgBr`, `Dbtr` and `Cdtr` are
            // mandatory): never forward it half-changed.
            return None;
        }
        w.raw(text(&(prev..tx.at.end))?);
        w.close("FIToFICstmrCdtTrf").close("Document");
        Some(w.finish())
    }
}

/// The position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The local part of the name at `r`.
fn local<'a>(input: &'a [u8], r: &Range<usize>) -> &'a [u8] {
    let name = input.get(r.clone()).unwrap_or_default();
    match memchr::memchr(b':', name) {
        Some(i) => name.get(i + 1..).unwrap_or_default(),
        None => name,
    }
}

/// The prefix of the name at `r`, if it has one.
fn prefix<'a>(input: &'a [u8], r: &Range<usize>) -> Option<&'a [u8]> {
    let name = input.get(r.clone())?;
    memchr::memchr(b':', name).and_then(|i| name.get(..i))
}

/// Read the start tag at `at` (`<name attr="v" ...>` or `.../>`).
fn start_tag(input: &[u8], at: usize) -> Option<StartTag> {
    let is_name_end = |c: u8| c.is_ascii_whitespace() || c == b'>' || c == b'/';
    let from = at + 1;
    let len = input.get(from..)?.iter().position(|&c| is_name_end(c))?;
    let name = from..from + len;
    let mut i = name.end;
    // Jump from quote to quote: a `>` inside an attribute value does not end the tag.
    let end = loop {
        i += memchr::memchr3(b'>', b'"', b'\'', input.get(i..)?)?;
        match *input.get(i)? {
            b'>' => break i + 1,
            q => i += 1 + memchr::memchr(q, input.get(i + 1..)?)? + 1,
        }
    };
    let empty = input.get(end.checked_sub(2)?) == Some(&b'/');
    let colon = memchr::memchr(b':', input.get(at..end)?).is_some();
    Some(StartTag { name, empty, end, colon })
}

/// The attributes of `tag`: (name, value) ranges.
fn attributes(input: &[u8], tag: &StartTag) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let mut out = Vec::new();
    let mut i = tag.name.end;
    let end = tag.end - if tag.empty { 2 } else { 1 };
    while i < end {
        while i < end && input.get(i)?.is_ascii_whitespace() {
            i += 1;
        }
        if i >= end {
            break;
        }
        let from = i;
        while i < end && !matches!(input.get(i)?, b'=' | b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        let name = from..i;
        while i < end && *input.get(i)? != b'"' && *input.get(i)? != b'\'' {
            i += 1;
        }
        let q = *input.get(i)?;
        let v = i + 1;
        let close = v + memchr::memchr(q, input.get(v..end)?)?;
        out.push((name, v..close));
        i = close + 1;
    }
    Some(out)
}

/// The prefixes `tag` declares, after checking that every prefix it uses is declared by
/// itself or by an open element inside the copied part (`stack` entries with declarations are
/// all inside it: outside elements are pushed with none). `None` when a prefix comes from
/// outside.
fn declared_prefixes(input: &[u8], tag: &StartTag, stack: &[Open]) -> Option<Vec<Range<usize>>> {
    let attrs = attributes(input, tag)?;
    let mut declares = Vec::new();
    for (name, _) in &attrs {
        let n = input.get(name.clone())?;
        if let Some(p) = n.strip_prefix(b"xmlns:") {
            let start = name.start + 6;
            declares.push(start..start + p.len());
        }
    }
    let declared = |p: &[u8]| {
        p == b"xml"
            || declares.iter().any(|d| input.get(d.clone()) == Some(p))
            || stack.iter().any(|o| o.declares.iter().any(|d| input.get(d.clone()) == Some(p)))
    };
    if prefix(input, &tag.name).is_some_and(|p| !declared(p)) {
        return None;
    }
    for (name, _) in &attrs {
        let n = input.get(name.clone())?;
        if n == b"xmlns" || n.starts_with(b"xmlns:") {
            continue;
        }
        if prefix(input, name).is_some_and(|p| !declared(p)) {
            return None;
        }
    }
    Some(declares)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_tag_with_a_quoted_angle_bracket_is_read_whole() {
        let input = br#"<A b="x>y" c='z'/>"#;
        let tag = start_tag(input, 0).unwrap();
        assert_eq!(&input[tag.name.clone()], b"A");
        assert!(tag.empty);
        assert_eq!(tag.end, input.len());
        let attrs = attributes(input, &tag).unwrap();
        let pairs: Vec<_> =
            attrs.iter().map(|(n, v)| (&input[n.clone()], &input[v.clone()])).collect();
        assert_eq!(pairs, vec![(&b"b"[..], &b"x>y"[..]), (&b"c"[..], &b"z"[..])]);
    }
}
