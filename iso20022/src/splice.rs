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
//! copied part, a DOCTYPE) has no layout: [`Layout::of`] returns `None` and the caller
//! re-encodes. Must only be given text the pacs.008 decoder accepted: it tracks structure, it
//! does not check well-formedness.

use crate::common::{encode_account, encode_agent, Account, Agent};
use crate::pacs008::NAMESPACE;
use crate::xml::{local_bytes, Writer};
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

/// A start tag: its name, whether it closes itself, where it ends, and whether a `:` is in it
/// outside attribute values (a prefix or a namespace declaration: checked further then).
struct StartTag {
    name: Range<usize>,
    empty: bool,
    end: usize,
    colon: bool,
}

/// An open element followed while scanning (those down to the transactions' children): its
/// name and where its start tag begins.
type Open = (Range<usize>, usize);

/// A namespace prefix declared inside the copied part, by an element at this depth.
type Scope = (usize, Range<usize>);

impl Layout {
    /// The layout of a pacs.008 the decoder accepted, or `None` if its transactions cannot be
    /// copied on their own (see the module documentation).
    ///
    /// One pass: every tag's end is found, but only the elements down to the transactions'
    /// children are followed by name; deeper ones are only counted, and read further only when
    /// a `:` in their tag may use or declare a namespace prefix.
    pub fn of(input: &str) -> Option<Layout> {
        let input = input.as_bytes();
        let mut layout = Layout::default();
        let mut open: Vec<Open> = Vec::with_capacity(8);
        let mut scopes: Vec<Scope> = Vec::new();
        let mut depth = 0usize;
        // Depth of `FIToFICstmrCdtTrf` once found.
        let mut body: Option<usize> = None;
        let mut pos = 0;
        while let Some(lt) = next_tag(input.get(pos..)?) {
            let at = pos + lt;
            let rest = input.get(at..)?;
            match rest.get(1) {
                Some(b'/') => {
                    pos = at + rest.iter().position(|&c| c == b'>')? + 1;
                    depth = depth.checked_sub(1)?;
                    while scopes.last().is_some_and(|(d, _)| *d >= depth) {
                        scopes.pop();
                    }
                    if open.len() > depth {
                        let (name, start) = open.pop()?;
                        let parent = open.last().map(|(p, _)| p.clone());
                        layout.closed(input, (&name, start..pos), (depth, parent), body);
                    }
                }
                Some(b'?') => pos = at + find(rest, b"?>")? + 2,
                Some(b'!') if rest.starts_with(b"<!--") => pos = at + find(rest, b"-->")? + 3,
                Some(b'!') if rest.starts_with(b"<![CDATA[") => {
                    pos = at + find(rest, b"]]>")? + 3;
                }
                Some(b'!') => return None,
                _ => {
                    let tag = start_tag(input, at)?;
                    pos = tag.end;
                    // Without a `:` a tag neither uses nor declares a prefix.
                    if tag.colon && body.is_some_and(|b| depth > b) {
                        for p in declared_prefixes(input, &tag, &scopes)? {
                            scopes.push((depth, p));
                        }
                    }
                    if body.is_none() && local(input, &tag.name) == b"FIToFICstmrCdtTrf" {
                        body = Some(depth);
                    }
                    if body.is_some_and(|b| depth == b + 1)
                        && local(input, &tag.name) == b"CdtTrfTxInf"
                    {
                        layout.txs.push(TxLayout {
                            at: at..at,
                            content_start: pos,
                            children: Vec::new(),
                        });
                    }
                    let followed = body.is_none_or(|b| depth <= b + 2);
                    if tag.empty {
                        while scopes.last().is_some_and(|(d, _)| *d >= depth) {
                            scopes.pop();
                        }
                        if followed {
                            let parent = open.last().map(|(p, _)| p.clone());
                            layout.closed(input, (&tag.name, at..pos), (depth, parent), body);
                        }
                    } else {
                        if followed {
                            open.push((tag.name, at));
                        }
                        depth += 1;
                    }
                }
            }
        }
        (body.is_some() && !layout.txs.is_empty() && depth == 0).then_some(layout)
    }

    /// Record the element `name` at `at`, at `depth` under `parent`, where it matters: a
    /// transaction, a child of the group header, or a child of the transaction being read.
    fn closed(
        &mut self,
        input: &[u8],
        (name, at): (&Range<usize>, Range<usize>),
        (depth, parent): (usize, Option<Range<usize>>),
        body: Option<usize>,
    ) {
        let Some(b) = body else { return };
        if depth == b + 1 && local(input, name) == b"CdtTrfTxInf" {
            if let Some(tx) = self.txs.last_mut() {
                tx.at = at;
            }
        } else if depth == b + 2 {
            let part = Part { name: name.clone(), at };
            match (parent.map(|p| local(input, &p)), self.txs.last_mut()) {
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

/// Where the next `<` is: a byte loop over the first few bytes (text between tags is mostly
/// short), a vectorised search past them (indentation, long remittance text).
fn next_tag(hay: &[u8]) -> Option<usize> {
    const NEAR: usize = 16;
    match hay.iter().take(NEAR).position(|&c| c == b'<') {
        Some(i) => Some(i),
        None => memchr::memchr(b'<', hay.get(NEAR..)?).map(|i| i + NEAR),
    }
}

/// The position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The local part of the name at `r`.
fn local<'a>(input: &'a [u8], r: &Range<usize>) -> &'a [u8] {
    local_bytes(input.get(r.clone()).unwrap_or_default())
}

/// The prefix of the name at `r`, if it has one.
fn prefix<'a>(input: &'a [u8], r: &Range<usize>) -> Option<&'a [u8]> {
    let name = input.get(r.clone())?;
    memchr::memchr(b':', name).and_then(|i| name.get(..i))
}

/// Read the start tag at `at` (`<name attr="v" ...>` or `.../>`), in one pass over its bytes.
/// Tags are short: a byte loop beats a vectorised search's set-up here.
fn start_tag(input: &[u8], at: usize) -> Option<StartTag> {
    let bytes = input.get(at + 1..)?;
    let mut colon = false;
    let mut name_len = None;
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'>' => {
                // The name ends at the first space or `/`, or here.
                let name = at + 1..at + 1 + name_len.unwrap_or(i);
                let empty = i > 0 && bytes.get(i - 1) == Some(&b'/');
                return Some(StartTag { name, empty, end: at + 1 + i + 1, colon });
            }
            // An attribute value: a `>` or `:` in it is text.
            b'"' | b'\'' => i += bytes.get(i + 1..)?.iter().position(|&q| q == c)? + 1,
            b':' => colon = true,
            b'/' | b' ' | b'\t' | b'\r' | b'\n' if name_len.is_none() => name_len = Some(i),
            _ => {}
        }
        i += 1;
    }
    None
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
/// itself or by an open element inside the copied part (`scopes`: only declarations inside it
/// are kept). `None` when a prefix comes from outside.
fn declared_prefixes(input: &[u8], tag: &StartTag, scopes: &[Scope]) -> Option<Vec<Range<usize>>> {
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
            || scopes.iter().any(|(_, d)| input.get(d.clone()) == Some(p))
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
