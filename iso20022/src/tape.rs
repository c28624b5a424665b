//! The fast reader: one pass over the input into a flat, borrowed index of the document.
//!
//! Performance-critical path: every message the switch decodes goes through here. [`parse`]
//! accepts exactly what [`xml::parse`] accepts and fails with exactly the same [`DecodeError`]
//! (DOCTYPE refused, size, depth and element-count limits, a single root, the declaration
//! first). Instead of an owned tree with a `String` per name and text, it fills one `Vec` of
//! entries whose names and text borrow the input (an owned copy only when text had to be
//! unescaped or came in several pieces); the vector is kept per thread for the next message
//! (at most [`SPARE_ENTRIES_MAX`] entries). Two readers fill it: [`scan_plain`], specialised for
//! the plain shape ISO 20022 producers write and faster than a bare quick-xml scan, and
//! [`parse_quick`], quick-xml events with the owned parser's settings, for everything else and
//! for every error. The typed decoders read the tape through [`Node`], the same trait they
//! read the owned tree with, so both give the same values and errors; `tests/differential.rs`
//! and the `differential` fuzz target check that, and that both readers give the same tape.
//!
//! Must not: resolve entities, perform I/O, or grow beyond the limits.
//!
//! [`xml::parse`]: crate::xml::parse

use crate::error::{DecodeError, ErrorKind};
use crate::xml::{local_bytes, Limits, Node};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::borrow::Cow;

const NONE: usize = usize::MAX;

/// "No entry" in an entry's links.
const NO_LINK: u32 = u32::MAX;

/// Most entries and attributes a tape indexes (its links are 32-bit); more is refused as over
/// the element limit, whatever [`Limits::max_elements`] says.
pub const TAPE_INDEX_MAX: usize = u32::MAX as usize - 1;

/// The key under which an element's own namespace declaration is kept among its attributes.
/// It cannot be an attribute's local name (those never end in `:`).
const XMLNS_KEY: &[u8] = b"xmlns:";

/// One element of a [`Tape`]: 64 bytes (links and attribute range are 32-bit; the element's
/// namespace, rare, sits among its attributes under [`XMLNS_KEY`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry<'a> {
    name: Cow<'a, [u8]>,
    text: Cow<'a, str>,
    first_child: u32,
    next_sibling: u32,
    attrs: (u32, u32),
}

/// An entry link as an index (`NO_LINK` is past the end of any tape: tapes hold at most
/// [`TAPE_INDEX_MAX`] entries).
#[inline]
fn at_link(link: u32) -> usize {
    link as usize
}

/// A tape index as a link, if it fits.
#[inline]
fn to_link(idx: usize) -> Option<u32> {
    u32::try_from(idx).ok().filter(|&l| l != NO_LINK)
}

/// A parsed document: every element in document order, linked to its children, borrowing
/// names and text from the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tape<'a> {
    entries: Vec<Entry<'a>>,
    attrs: Vec<Attr<'a>>,
    root_ns: Option<Cow<'a, str>>,
}

/// Most entries a thread keeps for the next parse (256 KB); a bigger tape is freed.
pub const SPARE_ENTRIES_MAX: usize = 4096;

/// Most attributes a thread keeps for the next parse (48 KB); a bigger list is freed.
pub const SPARE_ATTRS_MAX: usize = 1024;

/// One attribute of a tape: local name (or [`XMLNS_KEY`]) and unescaped value.
type Attr<'a> = (Cow<'a, [u8]>, Cow<'a, str>);

thread_local! {
    /// The entry buffer of the last tape this thread dropped, empty, kept for the next parse:
    /// one large allocation fewer per message, and the small ones stay in the allocator's
    /// fast per-thread caches.
    static SPARE: std::cell::Cell<Vec<Entry<'static>>> = const { std::cell::Cell::new(Vec::new()) };
    /// The attribute list of that tape, empty, kept the same way (every message has at least
    /// its namespace declaration in it).
    static SPARE_ATTRS: std::cell::Cell<Vec<Attr<'static>>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// An empty vector of another lifetime on the same allocation (the standard library collects
/// a `Vec` into one of the same layout in place; nothing is ever converted, it is empty).
// `filter` could not change the lifetime; the closure never runs on the empty vector.
#[allow(clippy::unnecessary_filter_map)]
fn relabel<'x, 'y>(mut v: Vec<Entry<'x>>) -> Vec<Entry<'y>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// [`relabel`] for the attribute list.
#[allow(clippy::unnecessary_filter_map)]
fn relabel_attrs<'x, 'y>(mut v: Vec<Attr<'x>>) -> Vec<Attr<'y>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

fn spare_attrs<'a>() -> Vec<Attr<'a>> {
    relabel_attrs(SPARE_ATTRS.with(|s| s.take()))
}

fn spare_entries<'a>(want: usize) -> Vec<Entry<'a>> {
    let mut v = relabel(SPARE.with(|s| s.take()));
    v.reserve(want);
    v
}

impl Drop for Tape<'_> {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.entries);
        if v.capacity() <= SPARE_ENTRIES_MAX {
            // A thread being torn down has no cache left; the vector is then simply freed.
            let _ = SPARE.try_with(|s| s.set(relabel(v)));
        }
        let a = std::mem::take(&mut self.attrs);
        if a.capacity() <= SPARE_ATTRS_MAX {
            let _ = SPARE_ATTRS.try_with(|s| s.set(relabel_attrs(a)));
        }
    }
}

impl<'a> Tape<'a> {
    /// The root element. A parsed tape always has one.
    pub fn root(&self) -> TapeNode<'_> {
        TapeNode { tape: self, idx: 0 }
    }

    /// The namespace declared on the root (as the second value of [`crate::xml::parse`]).
    pub fn root_ns(&self) -> Option<&str> {
        self.root_ns.as_deref()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tape holds no element (never true for a parsed document).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One element of a [`Tape`], read through [`Node`].
#[derive(Debug, Clone, Copy)]
pub struct TapeNode<'d> {
    tape: &'d Tape<'d>,
    idx: usize,
}

impl<'d> TapeNode<'d> {
    fn entry(self) -> Option<&'d Entry<'d>> {
        self.tape.entries.get(self.idx)
    }
}

/// The children of a [`TapeNode`].
#[derive(Debug, Clone)]
pub struct TapeChildren<'d> {
    tape: &'d Tape<'d>,
    next: usize,
}

impl<'d> Iterator for TapeChildren<'d> {
    type Item = TapeNode<'d>;
    fn next(&mut self) -> Option<TapeNode<'d>> {
        let e = self.tape.entries.get(self.next)?;
        let node = TapeNode { tape: self.tape, idx: self.next };
        self.next = at_link(e.next_sibling);
        Some(node)
    }
}

impl<'d> Node<'d> for TapeNode<'d> {
    type Children = TapeChildren<'d>;
    fn is(self, name: &str) -> bool {
        self.entry().is_some_and(|e| same(&e.name, name.as_bytes()))
    }
    fn child(self, name: &str) -> Option<Self> {
        // The sibling chain walked over the entries directly (one bounds check per step).
        let mut next = at_link(self.entry()?.first_child);
        while let Some(e) = self.tape.entries.get(next) {
            if same(&e.name, name.as_bytes()) {
                return Some(TapeNode { tape: self.tape, idx: next });
            }
            next = at_link(e.next_sibling);
        }
        None
    }
    fn name_bytes(self) -> &'d [u8] {
        self.entry().map_or(&[], |e| &e.name)
    }
    fn name(self) -> Cow<'d, str> {
        match self.entry() {
            Some(e) => String::from_utf8_lossy(&e.name),
            None => Cow::Borrowed(""),
        }
    }
    fn text(self) -> &'d str {
        self.entry().map_or("", |e| &e.text)
    }
    fn attr(self, name: &str) -> Option<&'d str> {
        let e = self.entry()?;
        let attrs = self.tape.attrs.get(e.attrs.0 as usize..e.attrs.1 as usize)?;
        attrs.iter().find(|(k, _)| **k == *name.as_bytes()).map(|(_, v)| &**v)
    }
    fn xmlns(self) -> Option<&'d str> {
        let e = self.entry()?;
        let attrs = self.tape.attrs.get(e.attrs.0 as usize..e.attrs.1 as usize)?;
        attrs.iter().rfind(|(k, _)| **k == *XMLNS_KEY).map(|(_, v)| &**v)
    }
    fn children(self) -> TapeChildren<'d> {
        TapeChildren {
            tape: self.tape,
            next: self.entry().map_or(NONE, |e| at_link(e.first_child)),
        }
    }
}

/// Byte equality written out: names are short, and a call to `memcmp` costs more than the loop.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `part` as a slice of `input` with the input's lifetime, if it lies inside it (the slice
/// reader hands out borrowed pieces of its input; anything else is copied by the caller).
fn rebase<'a>(input: &'a [u8], part: &[u8]) -> Option<&'a [u8]> {
    let start = (part.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
    input.get(start..start.checked_add(part.len())?)
}

fn bytes_in<'a>(input: &'a [u8], part: &[u8]) -> Cow<'a, [u8]> {
    match rebase(input, part) {
        Some(b) => Cow::Borrowed(b),
        None => Cow::Owned(part.to_vec()),
    }
}

fn str_in<'a>(input: &'a [u8], part: Cow<'_, str>) -> Cow<'a, str> {
    match part {
        Cow::Borrowed(s) => match rebase(input, s.as_bytes()).map(std::str::from_utf8) {
            Some(Ok(b)) => Cow::Borrowed(b),
            _ => Cow::Owned(s.to_string()),
        },
        Cow::Owned(s) => Cow::Owned(s),
    }
}

fn append<'a>(text: &mut Cow<'a, str>, more: Cow<'a, str>) {
    if more.is_empty() {
        return;
    }
    if text.is_empty() {
        *text = more;
    } else {
        text.to_mut().push_str(&more);
    }
}

fn malformed(path: String, m: String) -> DecodeError {
    DecodeError { path, kind: ErrorKind::Malformed(m) }
}

/// The reader state while the tape is built.
struct Builder<'a> {
    input: &'a [u8],
    tape: Tape<'a>,
    /// Open elements: (entry, its last child so far).
    stack: Vec<(usize, usize)>,
    root_done: bool,
}

impl<'a> Builder<'a> {
    /// The element path of the open elements, as the owned parser writes it.
    fn path(&self) -> String {
        let mut p = String::new();
        for &(i, _) in &self.stack {
            p.push('/');
            if let Some(e) = self.tape.entries.get(i) {
                p.push_str(&String::from_utf8_lossy(&e.name));
            }
        }
        if p.is_empty() {
            p.push('/');
        }
        p
    }

    fn start(&mut self, start: &quick_xml::events::BytesStart<'a>, limits: &Limits) -> Res {
        if self.root_done {
            return Err(malformed("/".into(), "content after the root element".into()));
        }
        if self.tape.entries.len() >= limits.max_elements.min(TAPE_INDEX_MAX) {
            let m = format!("more than {} elements", limits.max_elements.min(TAPE_INDEX_MAX));
            return Err(DecodeError { path: self.path(), kind: ErrorKind::TooLarge(m) });
        }
        if self.stack.len() >= limits.max_depth {
            let m = format!("nesting deeper than {}", limits.max_depth);
            return Err(DecodeError { path: self.path(), kind: ErrorKind::TooLarge(m) });
        }
        let qname = start.name();
        let prefix = qname.prefix();
        let first_attr = self.attr_index()?;
        let mut entry = Entry {
            name: bytes_in(self.input, local_bytes(qname.into_inner())),
            text: Cow::Borrowed(""),
            first_child: NO_LINK,
            next_sibling: NO_LINK,
            attrs: (first_attr, first_attr),
        };
        let mut xmlns = None;
        for attr in start.attributes() {
            let attr = attr.map_err(|e| malformed(self.path(), e.to_string()))?;
            let key = attr.key.as_ref();
            let value = attr.unescape_value().map_err(|e| malformed(self.path(), e.to_string()))?;
            let value = str_in(self.input, value);
            if key == b"xmlns" {
                if self.stack.is_empty() {
                    self.tape.root_ns = Some(value.clone());
                }
                if prefix.is_none() {
                    xmlns = Some(value);
                }
                continue;
            }
            if key.starts_with(b"xmlns:") {
                if prefix.is_some_and(|p| p.as_ref() == local_bytes(key)) {
                    if self.stack.is_empty() {
                        self.tape.root_ns = Some(value.clone());
                    }
                    xmlns = Some(value);
                }
                continue;
            }
            self.tape.attrs.push((bytes_in(self.input, local_bytes(key)), value));
        }
        if let Some(ns) = xmlns {
            self.tape.attrs.push((Cow::Borrowed(XMLNS_KEY), ns));
        }
        entry.attrs.1 = self.attr_index()?;
        let idx = self.tape.entries.len();
        if let Some((parent, last)) = self.stack.last_mut() {
            link(&mut self.tape.entries, *parent, last, idx);
        }
        self.tape.entries.push(entry);
        self.stack.push((idx, NONE));
        Ok(())
    }

    /// The number of attributes so far as an index of the tape's attribute list.
    fn attr_index(&self) -> Result<u32, DecodeError> {
        to_link(self.tape.attrs.len()).ok_or_else(|| DecodeError {
            path: self.path(),
            kind: ErrorKind::TooLarge(format!("more than {TAPE_INDEX_MAX} attributes")),
        })
    }

    fn text(&mut self, more: Cow<'a, str>, what: &str) -> Res {
        match self.stack.last().and_then(|&(i, _)| self.tape.entries.get_mut(i)) {
            Some(e) => {
                append(&mut e.text, more);
                Ok(())
            }
            None => Err(malformed("/".into(), format!("{what} outside the root element"))),
        }
    }

    fn event(&mut self, ev: Event<'a>, limits: &Limits) -> Res {
        match ev {
            Event::DocType(_) => Err(DecodeError {
                path: "/".into(),
                kind: ErrorKind::Forbidden("DOCTYPE/DTD declarations are not accepted".into()),
            }),
            Event::Start(start) => self.start(&start, limits),
            Event::End(_) => {
                if self.stack.pop().is_none() {
                    return Err(malformed("/".into(), "unbalanced end".into()));
                }
                if self.stack.is_empty() {
                    self.root_done = true;
                }
                Ok(())
            }
            Event::Text(text) => {
                let value = text.unescape().map_err(|e| malformed(self.path(), e.to_string()))?;
                self.text(value, "text")
            }
            Event::CData(data) => {
                let value = Cow::Owned(String::from_utf8_lossy(&data).into_owned());
                self.text(value, "CDATA")
            }
            Event::Empty(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::Eof => {
                Ok(())
            }
        }
    }
}

type Res = Result<(), DecodeError>;

/// Parse `input` into a [`Tape`], enforcing `limits`, with the rules and errors of
/// [`crate::xml::parse`].
///
/// Documents in the plain shape ISO 20022 producers write are read by a scanner specialised
/// for it ([`scan_plain`]); anything else (CDATA, processing instructions, DOCTYPE, unusual
/// spacing, any error or limit) goes through quick-xml ([`parse_quick`]), which gives the
/// precise error.
pub fn parse<'a>(input: &'a [u8], limits: &Limits) -> Result<Tape<'a>, DecodeError> {
    match scan_plain(input, limits) {
        Some(tape) => Ok(tape),
        None => parse_quick(input, limits),
    }
}

/// [`parse`] through quick-xml events only (the reference the plain scanner is checked
/// against, and the path for everything it does not read).
pub fn parse_quick<'a>(input: &'a [u8], limits: &Limits) -> Result<Tape<'a>, DecodeError> {
    if input.len() > limits.max_bytes {
        return Err(DecodeError {
            path: "/".into(),
            kind: ErrorKind::TooLarge(format!(
                "{} bytes, at most {}",
                input.len(),
                limits.max_bytes
            )),
        });
    }
    let mut reader = Reader::from_reader(input);
    let cfg = reader.config_mut();
    cfg.trim_text(true);
    cfg.check_end_names = true;
    cfg.expand_empty_elements = true;
    // About one element per 20 bytes of ISO 20022 XML; the cap keeps a hostile size honest.
    let guess = (input.len() / 20 + 8).min(limits.max_elements.saturating_add(1)).min(4096);
    let mut b = Builder {
        input,
        tape: Tape { entries: spare_entries(guess), attrs: spare_attrs(), root_ns: None },
        stack: Vec::with_capacity(limits.max_depth.min(64)),
        root_done: false,
    };
    let mut first = true;
    loop {
        let ev = reader.read_event().map_err(|e| {
            malformed(b.path(), format!("at byte {}: {e}", reader.error_position()))
        })?;
        if let Event::Decl(_) = ev {
            if !first {
                return Err(malformed("/".into(), "the XML declaration must come first".into()));
            }
        }
        first = false;
        if let Event::Eof = ev {
            break;
        }
        b.event(ev, limits)?;
    }
    if !b.stack.is_empty() {
        return Err(malformed(b.path(), "document ends inside an element".into()));
    }
    if b.tape.entries.is_empty() {
        return Err(malformed("/".into(), "no root element".into()));
    }
    Ok(b.tape)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Bytes the plain scanner accepts in names: ASCII letters, digits, `_ - . :`.
// Built at compile time; `i < 256` is the loop bound (`get_mut` is not const yet).
#[allow(clippy::indexing_slicing)]
const NAME_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':');
        i += 1;
    }
    t
};

fn is_name_byte(b: u8) -> bool {
    NAME_BYTES.get(usize::from(b)).copied().unwrap_or(false)
}

/// Index of the first non-whitespace byte of `b` (its length if none): eight spaces at a time
/// first, since pretty-printed messages indent with runs of spaces.
fn ws_prefix(b: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match b.get(i..i + 8) {
            Some(chunk) if chunk == b"        " => i += 8,
            _ => match b.get(i) {
                Some(c) if is_ws(*c) => i += 1,
                _ => return i,
            },
        }
    }
}

/// Unescaped text, as quick-xml's `unescape` gives it; `None` where that would fail.
fn unescaped(s: &str, has_amp: bool) -> Option<Cow<'_, str>> {
    if has_amp {
        quick_xml::escape::unescape(s).ok()
    } else {
        Some(Cow::Borrowed(s))
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The bytes of `x` equal to `c`, flagged in their high bit. The lowest flag is exact; a flag
/// above a true match may be spurious (the borrow runs upwards), so only the lowest is read.
#[inline]
fn eq_mask(x: u64, c: u8) -> u64 {
    let y = x ^ LO.wrapping_mul(u64::from(c));
    y.wrapping_sub(LO) & !y & HI
}

/// Where text ends: the index of the first `<` in `b` (its length if none), and whether an
/// `&` comes before it. Eight bytes at a time (text values are short: a call to `memchr`
/// costs more than it saves), then byte by byte for the tail.
fn text_end(b: &[u8]) -> (usize, bool) {
    let mut i = 0;
    let mut amp = false;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let lt = eq_mask(x, b'<');
        let am = eq_mask(x, b'&');
        if lt != 0 {
            // Little-endian: the lowest flagged byte is the first `<`; an `&` before it is
            // a flag in the bytes below (never spurious: those lie below any true match).
            let k = lt.trailing_zeros() / 8;
            let below = (1u64 << (k * 8)).wrapping_sub(1);
            return (i + k as usize, amp || am & below != 0);
        }
        amp |= am != 0;
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'<' {
            break;
        }
        amp |= c == b'&';
        i += 1;
    }
    (i, amp)
}

/// The state of the plain scanner: position, tape, open elements (entry, raw name).
struct Plain<'a> {
    input: &'a [u8],
    /// The same input, checked as UTF-8 once: text is cut from it at ASCII delimiters.
    utf8: &'a str,
    pos: usize,
    tape: Tape<'a>,
    /// Open elements: (entry, raw name, its last child so far).
    stack: OpenStack<'a>,
    root_done: bool,
    /// The attributes of the start tag being read (raw key, value), reused.
    scratch: Vec<(&'a [u8], Cow<'a, str>)>,
}

impl<'a> Plain<'a> {
    fn at(&self, i: usize) -> Option<u8> {
        self.input.get(i).copied()
    }

    fn skip_ws(&mut self) -> usize {
        let n = ws_prefix(self.input.get(self.pos..).unwrap_or_default());
        self.pos += n;
        n
    }

    fn name(&mut self) -> Option<&'a [u8]> {
        self.qname().map(|(raw, _)| raw)
    }

    /// A name and its local part (after the last `:`, as the owned parser takes it).
    fn qname(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let from = self.pos;
        if !self.at(from).is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
            return None;
        }
        let mut local = from;
        while let Some(c) = self.at(self.pos).filter(|c| is_name_byte(*c)) {
            self.pos += 1;
            if c == b':' {
                local = self.pos;
            }
        }
        Some((self.input.get(from..self.pos)?, self.input.get(local..self.pos)?))
    }

    /// `<?xml ...?>` at the start, without `<`, `>` or `?` inside.
    fn decl(&mut self) -> Option<()> {
        let rest = self.input.get(self.pos..)?;
        if !(rest.starts_with(b"<?xml") && rest.get(5).copied().is_some_and(is_ws)) {
            return Some(());
        }
        let end = memchr::memchr(b'>', rest)?;
        let body = rest.get(5..end)?;
        if end < 7 || body.last() != Some(&b'?') {
            return None;
        }
        let inner = body.get(..body.len() - 1)?;
        if inner.iter().any(|c| matches!(c, b'<' | b'?')) {
            return None;
        }
        self.pos += end + 1;
        Some(())
    }

    /// `<!-- ... -->` with no `--` inside and not starting or ending with `-`.
    fn comment(&mut self) -> Option<()> {
        let rest = self.input.get(self.pos..)?;
        if !rest.starts_with(b"<!--") {
            return None;
        }
        let body_len = memchr::memmem::find(rest.get(4..)?, b"-->")?;
        let body = rest.get(4..4 + body_len)?;
        if body.first() == Some(&b'-')
            || body.last() == Some(&b'-')
            || memchr::memmem::find(body, b"--").is_some()
        {
            return None;
        }
        self.pos += 4 + body_len + 3;
        Some(())
    }

    /// Text from the current position (not whitespace) to the next `<` (or the end, where
    /// only whitespace may follow the root), trailing whitespace trimmed as quick-xml does.
    fn text(&mut self) -> Option<()> {
        let start = self.pos;
        let (len, has_amp) = text_end(self.input.get(start..)?);
        let end = start + len;
        self.pos = end;
        let mut last = end;
        while last > start && self.input.get(last - 1).copied().is_some_and(is_ws) {
            last -= 1;
        }
        // Text outside the root element is refused by the owned parser: leave it to report.
        let &(idx, _, _) = self.stack.last()?;
        let value = unescaped(self.utf8.get(start..last)?, has_amp)?;
        append(&mut self.tape.entries.get_mut(idx)?.text, value);
        Some(())
    }

    fn end_tag(&mut self) -> Option<()> {
        // `</` + the open element's raw name + `>`, nothing else (no space before `>`).
        let (_, open, _) = self.stack.pop()?;
        let from = self.pos + 2;
        let close = self.input.get(from..from + open.len() + 1)?;
        if !same(close.get(..open.len())?, open) || close.last() != Some(&b'>') {
            return None;
        }
        self.pos = from + open.len() + 1;
        self.root_done = self.stack.is_empty();
        Some(())
    }

    /// One `key="value"` (or single quotes) into the scratch list.
    fn attribute(&mut self) -> Option<()> {
        let key = self.name()?;
        if self.at(self.pos) != Some(b'=') {
            return None;
        }
        let quote = self.at(self.pos + 1).filter(|q| matches!(q, b'"' | b'\''))?;
        let from = self.pos + 2;
        let len = memchr::memchr(quote, self.input.get(from..)?)?;
        let raw = self.input.get(from..from + len)?;
        self.pos = from + len + 1;
        if memchr::memchr(b'<', raw).is_some() || self.scratch.iter().any(|(k, _)| *k == key) {
            return None;
        }
        let value = unescaped(self.utf8.get(from..from + len)?, raw.contains(&b'&'))?;
        self.scratch.push((key, value));
        Some(())
    }

    /// Move the scratch attributes of a start tag into `entry` and the tape: namespace
    /// declarations as the owned parser reads them, the others by local name.
    fn attach_attributes(&mut self, entry: &mut Entry<'a>, prefix: Option<&[u8]>) -> Option<()> {
        let root = self.stack.is_empty();
        let mut xmlns = None;
        for (key, value) in self.scratch.drain(..) {
            if key == b"xmlns" {
                if root {
                    self.tape.root_ns = Some(value.clone());
                }
                if prefix.is_none() {
                    xmlns = Some(value);
                }
            } else if key.starts_with(b"xmlns:") {
                if prefix.is_some_and(|p| p == local_bytes(key)) {
                    if root {
                        self.tape.root_ns = Some(value.clone());
                    }
                    xmlns = Some(value);
                }
            } else {
                self.tape.attrs.push((Cow::Borrowed(local_bytes(key)), value));
            }
        }
        if let Some(ns) = xmlns {
            self.tape.attrs.push((Cow::Borrowed(XMLNS_KEY), ns));
        }
        entry.attrs.1 = to_link(self.tape.attrs.len())?;
        Some(())
    }

    fn start_tag(&mut self, limits: &Limits) -> Option<()> {
        if self.root_done
            || self.tape.entries.len() >= limits.max_elements.min(TAPE_INDEX_MAX)
            || self.stack.len() >= limits.max_depth
        {
            return None;
        }
        self.pos += 1;
        let (raw, local) = self.qname()?;
        self.scratch.clear();
        let empty = loop {
            let ws = self.skip_ws();
            match self.at(self.pos)? {
                b'>' => {
                    self.pos += 1;
                    break false;
                }
                b'/' if self.at(self.pos + 1) == Some(b'>') => {
                    self.pos += 2;
                    break true;
                }
                _ if ws > 0 => self.attribute()?,
                _ => return None,
            }
        };
        let first_attr = to_link(self.tape.attrs.len())?;
        let mut entry = Entry {
            name: Cow::Borrowed(local),
            text: Cow::Borrowed(""),
            first_child: NO_LINK,
            next_sibling: NO_LINK,
            attrs: (first_attr, first_attr),
        };
        if !self.scratch.is_empty() {
            let prefix = memchr::memchr(b':', raw).and_then(|i| raw.get(..i));
            self.attach_attributes(&mut entry, prefix)?;
        }
        let idx = self.tape.entries.len();
        if let Some((parent, _, last)) = self.stack.last_mut() {
            link(&mut self.tape.entries, *parent, last, idx);
        }
        self.tape.entries.push(entry);
        if empty {
            self.root_done = self.stack.is_empty();
        } else {
            self.stack.push((idx, raw, NONE))?;
        }
        Some(())
    }
}

/// Deepest nesting the plain scanner reads itself (deeper documents go to quick-xml).
const PLAIN_DEPTH_MAX: usize = 32;

/// The plain scanner's open elements, in a fixed array: no allocation per message.
struct OpenStack<'a> {
    open: [(usize, &'a [u8], usize); PLAIN_DEPTH_MAX],
    len: usize,
}

impl<'a> OpenStack<'a> {
    fn len(&self) -> usize {
        self.len
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn last(&self) -> Option<&(usize, &'a [u8], usize)> {
        self.open.get(self.len.checked_sub(1)?)
    }
    fn last_mut(&mut self) -> Option<&mut (usize, &'a [u8], usize)> {
        self.open.get_mut(self.len.checked_sub(1)?)
    }
    fn pop(&mut self) -> Option<(usize, &'a [u8], usize)> {
        let top = *self.last()?;
        self.len -= 1;
        Some(top)
    }
    /// `None` when full: the caller gives the document to quick-xml.
    fn push(&mut self, open: (usize, &'a [u8], usize)) -> Option<()> {
        *self.open.get_mut(self.len)? = open;
        self.len += 1;
        Some(())
    }
}

/// Attach entry `idx` as the next child of `parent`, whose last child so far is `last`.
/// Both readers refuse more than [`TAPE_INDEX_MAX`] entries before they get here, so `idx`
/// always fits a link.
fn link(entries: &mut [Entry<'_>], parent: usize, last: &mut usize, idx: usize) {
    let Some(l) = to_link(idx) else { return };
    let slot = match entries.get_mut(*last) {
        Some(prev) => &mut prev.next_sibling,
        None => match entries.get_mut(parent) {
            Some(p) => &mut p.first_child,
            None => return,
        },
    };
    *slot = l;
    *last = idx;
}

/// The plain scanner: reads the shape ISO 20022 producers write (an optional XML declaration
/// first, comments, elements with ASCII names and quoted attributes separated by spaces,
/// text with the predefined entities and character references) straight into a tape, and
/// gives up (`None`) on anything else, over a limit or not well-formed, so that
/// [`parse_quick`] reads it and reports. Whatever it accepts, quick-xml reads into the same
/// tape: checked by the differential test and fuzz target.
pub fn scan_plain<'a>(input: &'a [u8], limits: &Limits) -> Option<Tape<'a>> {
    if input.len() > limits.max_bytes {
        return None;
    }
    let guess = (input.len() / 20 + 8).min(limits.max_elements.saturating_add(1)).min(4096);
    // Names and text are cut at ASCII delimiters, so slices of valid UTF-8 stay valid. Input
    // that is not UTF-8 throughout goes to quick-xml, which says where (or ignores it, in a
    // comment).
    let utf8 = std::str::from_utf8(input).ok()?;
    let mut p = Plain {
        input,
        utf8,
        pos: 0,
        tape: Tape { entries: spare_entries(guess), attrs: spare_attrs(), root_ns: None },
        stack: OpenStack { open: [(0, &[], 0); PLAIN_DEPTH_MAX], len: 0 },
        root_done: false,
        scratch: Vec::new(),
    };
    p.skip_ws();
    p.decl()?;
    loop {
        // Whitespace between markup makes no event (quick-xml trims it away).
        p.skip_ws();
        match p.at(p.pos) {
            None => break,
            Some(b'<') => {}
            Some(_) => {
                p.text()?;
                // Text up to the end of the input: unclosed, or after the root.
                p.at(p.pos)?;
            }
        }
        match p.at(p.pos + 1)? {
            b'/' => p.end_tag()?,
            b'!' => p.comment()?,
            _ => p.start_tag(limits)?,
        }
    }
    if !p.root_done || !p.stack.is_empty() {
        return None;
    }
    Some(p.tape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml;

    #[test]
    fn text_end_finds_the_first_lt_and_an_amp_before_it() {
        let naive = |b: &[u8]| {
            let end = b.iter().position(|&c| c == b'<').unwrap_or(b.len());
            (end, b[..end].contains(&b'&'))
        };
        let cases: [&[u8]; 12] = [
            b"",
            b"<",
            b"abc",
            b"abcdefgh<",
            b"abcdefg&<",
            b"&bcdefghijklmnop<q&",
            b"abcdefghijklmno<&",
            b"a<&&&&&&&&&&&&&&",
            b"\x01<\x01&",
            b"=;<&",
            b"0123456789abcdef0123&<",
            b"\xff\xfe\x7f\x80<&",
        ];
        for c in cases {
            assert_eq!(text_end(c), naive(c), "{c:?}");
        }
        // Every position of `<` and `&` in a 20-byte run.
        for lt in 0..20 {
            for amp in 0..20 {
                let mut b = vec![b'x'; 20];
                b[amp] = b'&';
                b[lt] = b'<';
                assert_eq!(text_end(&b), naive(&b), "lt {lt} amp {amp}");
            }
        }
    }

    #[test]
    fn reads_like_the_owned_tree() {
        let doc = br#"<?xml version="1.0"?><p:D xmlns:p="urn:x"><p:A Ccy="EUR">1 &amp; 2</p:A>
            <B>x<![CDATA[<y>]]>z<C/>w</B><A>second</A></p:D>"#;
        let tape = parse(doc, &Limits::default()).unwrap();
        let (dom, ns) = xml::parse(doc, &Limits::default()).unwrap();
        assert_eq!(tape.root_ns(), ns.as_deref());
        let root = tape.root();
        assert_eq!(root.name(), "D");
        assert_eq!(root.xmlns(), Some("urn:x"));
        let a = root.child("A").unwrap();
        assert_eq!((a.text(), a.attr("Ccy")), ("1 & 2", Some("EUR")));
        assert_eq!(root.child("B").unwrap().text(), dom.child("B").unwrap().text());
        let texts: Vec<&str> = root.children_named("A").map(|n| n.text()).collect();
        assert_eq!(texts, ["1 & 2", "second"]);
        assert_eq!(tape.len(), 5);
    }

    #[test]
    fn the_entry_buffer_is_reused_in_place() {
        let mut v = spare_entries(100);
        let cap = v.capacity();
        v.push(parse(b"<a/>", &Limits::default()).unwrap().entries[0].clone());
        let ptr = v.as_ptr() as usize;
        let w = relabel(v);
        assert_eq!((w.len(), w.capacity(), w.as_ptr() as usize), (0, cap, ptr));
        // The attribute list too: a second parse on this thread gets the first one's back.
        let ptr = parse(b"<a x='1' y='2'/>", &Limits::default()).unwrap().attrs.as_ptr() as usize;
        let again = parse(b"<b z='3'/>", &Limits::default()).unwrap();
        assert_eq!(again.attrs.as_ptr() as usize, ptr);
    }

    #[test]
    fn refuses_what_the_owned_parser_refuses() {
        let limits = Limits { max_depth: 3, max_elements: 4, ..Limits::default() };
        let cases: [&[u8]; 9] = [
            br#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#,
            b"<a><b><c><d/></c></b></a>",
            b"<a><b/><b/><b/><b/></a>",
            b"<a></b>",
            b"<a/><b/>",
            b"<a>&bogus;</a>",
            b"<a x='1' x='2'/>",
            b"<a><b>",
            b"",
        ];
        for doc in cases {
            let fast = parse(doc, &limits).unwrap_err();
            let owned = xml::parse(doc, &limits).unwrap_err();
            assert_eq!(fast, owned, "{}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn deeper_than_the_plain_stack_goes_through_quick_xml() {
        let limits = Limits { max_depth: 64, ..Limits::default() };
        let deep = "<a>".repeat(PLAIN_DEPTH_MAX + 1) + &"</a>".repeat(PLAIN_DEPTH_MAX + 1);
        assert!(scan_plain(deep.as_bytes(), &limits).is_none());
        assert_eq!(parse(deep.as_bytes(), &limits).unwrap().len(), PLAIN_DEPTH_MAX + 1);
        let ok = "<a>".repeat(PLAIN_DEPTH_MAX) + &"</a>".repeat(PLAIN_DEPTH_MAX);
        assert_eq!(scan_plain(ok.as_bytes(), &limits), parse_quick(ok.as_bytes(), &limits).ok());
    }

    #[test]
    fn plain_scanner_reads_what_quick_xml_reads() {
        let limits = Limits::default();
        let plain: [&[u8]; 6] = [
            b"<?xml version='1.0'?>\n<!-- c --><a:D xmlns:a='urn:x' xmlns='y'><B K=\"v\"/></a:D>",
            b"  <D><A>x &amp; y <!--c--> z</A><E/><A>&#65;</A></D>\n",
            b"<D xmlns=\"n\"><p:A p:Ccy=\"EUR\" >1.00</p:A><A\tx='1'\n/></D>",
            b"<D><A>\t\r\n</A></D>",
            b"<x:y:D><x:y:A>1</x:y:A></x:y:D>",
            b"<D><!----><A>1</A></D>",
        ];
        let long = format!("<D><A>{}&amp;{}</A><B> é ü </B></D>", "x".repeat(70), "y".repeat(90));
        let long_tape = scan_plain(long.as_bytes(), &limits).unwrap();
        assert_eq!(Some(long_tape), parse_quick(long.as_bytes(), &limits).ok());
        for doc in plain {
            let fast = scan_plain(doc, &limits);
            assert!(fast.is_some(), "{}", String::from_utf8_lossy(doc));
            assert_eq!(fast, parse_quick(doc, &limits).ok(), "{}", String::from_utf8_lossy(doc));
        }
        let other: [&[u8]; 10] = [
            b"<D><![CDATA[x]]></D>",
            b"<?pi x?><D/>",
            b"<D a = '1'/>",
            b"<D a='1' a='2'/>",
            b"<D xmlns='1' xmlns='2'/>",
            b"<D>&bogus;</D>",
            b"<D><!-- a -- b --></D>",
            b"<D></D >",
            b"<D/>x",
            b"\xef\xbb\xbf<D/>",
        ];
        for doc in other {
            assert!(scan_plain(doc, &limits).is_none(), "{}", String::from_utf8_lossy(doc));
            let owned = xml::parse(doc, &limits).map(|_| ()).map_err(|e| e.to_string());
            let fast = parse(doc, &limits).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(fast, owned, "{}", String::from_utf8_lossy(doc));
        }
    }
}
