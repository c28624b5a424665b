//! Bounded XML reading and plain XML writing.
//!
//! The reader turns a document into a small element tree ([`Element`]) with hard limits on
//! size, nesting depth and element count, and refuses DOCTYPE declarations outright, so no
//! DTD, external entity or entity expansion is ever processed (no XXE, no billion laughs).
//! Only the five predefined XML entities and character references are understood.
//! [`Node`] is the read interface the typed decoders use, implemented by this tree and by the
//! borrowed index of [`crate::tape`] (the fast path).
//!
//! The writer produces UTF-8 XML with escaped text; it never fails and allocates once per
//! message when given a capacity hint.
//!
//! Must not: perform I/O, resolve entities, or keep anything beyond the limits.

use crate::error::{DecodeError, ErrorKind};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::borrow::Cow;

/// Limits applied while reading a document. Every input is bounded by these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted element nesting.
    pub max_depth: usize,
    /// Most elements accepted in one document.
    pub max_elements: usize,
    /// Most transactions accepted in one message.
    pub max_transactions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 1 << 20, max_depth: 32, max_elements: 50_000, max_transactions: 1_000 }
    }
}

/// One element: its local name (prefix stripped), attributes, text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name, without namespace prefix.
    pub name: String,
    /// Attributes as (local name, unescaped value).
    pub attrs: Vec<(String, String)>,
    /// Concatenated, unescaped text content directly inside this element.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The namespace this element declares for its own name (`xmlns="..."` on an unprefixed
    /// element, `xmlns:p="..."` on a `p:` element), if it declares one. Used to find the
    /// AppHdr and Document inside an envelope.
    pub xmlns: Option<String>,
}

impl Element {
    /// First child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Attribute value by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Read access to one element of a parsed document, whatever holds it: the owned tree
/// ([`Element`]) or the borrowed index of [`crate::tape`]. The typed decoders are written once
/// against this trait, so both sources give the same values and the same errors.
pub trait Node<'d>: Copy {
    /// Iterator over the child elements in document order.
    type Children: Iterator<Item = Self>;
    /// Whether the local name is `name`.
    fn is(self, name: &str) -> bool;
    /// Local name (invalid UTF-8 replaced).
    fn name(self) -> Cow<'d, str>;
    /// Local name as the bytes compared by [`Node::is`].
    fn name_bytes(self) -> &'d [u8];
    /// Concatenated, unescaped text directly inside the element.
    fn text(self) -> &'d str;
    /// Attribute value by local name.
    fn attr(self, name: &str) -> Option<&'d str>;
    /// The namespace the element declares for its own name, as [`Element::xmlns`].
    fn xmlns(self) -> Option<&'d str>;
    /// Child elements in document order.
    fn children(self) -> Self::Children;
    /// First child with this local name.
    fn child(self, name: &str) -> Option<Self> {
        self.children().find(|c| c.is(name))
    }
    /// All children with this local name.
    fn children_named(self, name: &str) -> Named<'_, Self::Children> {
        Named { inner: self.children(), name }
    }
}

/// The children of a [`Node`] with a given local name.
#[derive(Debug, Clone)]
pub struct Named<'n, I> {
    inner: I,
    name: &'n str,
}

impl<'d, N: Node<'d>, I: Iterator<Item = N>> Iterator for Named<'_, I> {
    type Item = N;
    fn next(&mut self) -> Option<N> {
        let name = self.name;
        self.inner.find(|c| c.is(name))
    }
}

impl<'d> Node<'d> for &'d Element {
    type Children = std::slice::Iter<'d, Element>;
    fn is(self, name: &str) -> bool {
        self.name == name
    }
    fn name(self) -> Cow<'d, str> {
        Cow::Borrowed(&self.name)
    }
    fn name_bytes(self) -> &'d [u8] {
        self.name.as_bytes()
    }
    fn text(self) -> &'d str {
        &self.text
    }
    fn attr(self, name: &str) -> Option<&'d str> {
        Element::attr(self, name)
    }
    fn xmlns(self) -> Option<&'d str> {
        self.xmlns.as_deref()
    }
    fn children(self) -> Self::Children {
        self.children.iter()
    }
}

fn local(name: &[u8]) -> String {
    let local = match name.iter().rposition(|b| *b == b':') {
        Some(i) => name.get(i + 1..).unwrap_or_default(),
        None => name,
    };
    String::from_utf8_lossy(local).into_owned()
}

pub(crate) fn local_bytes(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|b| *b == b':') {
        Some(i) => name.get(i + 1..).unwrap_or_default(),
        None => name,
    }
}

/// The floor the benchmarks compare against: a bare quick-xml event scan of `input` (same
/// reader settings as [`parse`], nothing built, nothing unescaped). Returns the event count.
pub fn scan(input: &[u8]) -> Result<usize, DecodeError> {
    let mut reader = Reader::from_reader(input);
    let cfg = reader.config_mut();
    cfg.trim_text(true);
    cfg.check_end_names = true;
    cfg.expand_empty_elements = true;
    let mut n = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return Ok(n),
            Ok(_) => n += 1,
            Err(e) => return Err(DecodeError::new("/", ErrorKind::Malformed(e.to_string()))),
        }
    }
}

/// The namespace of the root element (its `xmlns`, or the one bound to its prefix), read
/// without building anything; `None` if the document does not start like XML with one.
/// Used to route a document to a streaming decoder before parsing it.
pub fn root_namespace(input: &[u8]) -> Option<String> {
    let mut reader = Reader::from_reader(input);
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) | Ok(Event::Empty(start)) => {
                let prefix = start.name().prefix().map(|p| p.as_ref().to_vec());
                for attr in start.attributes().flatten() {
                    let key = attr.key.as_ref();
                    let own = match &prefix {
                        None => key == b"xmlns",
                        Some(p) => key.strip_prefix(b"xmlns:") == Some(p.as_slice()),
                    };
                    if own {
                        return attr.unescape_value().ok().map(|v| v.into_owned());
                    }
                }
                return None;
            }
            Ok(Event::Eof) | Err(_) | Ok(Event::DocType(_)) => return None,
            Ok(_) => {}
        }
    }
}

/// Parse `input` into its root element, enforcing `limits`.
///
/// Also returns the default namespace declared on the root (`xmlns`), if any.
pub fn parse(input: &[u8], limits: &Limits) -> Result<(Element, Option<String>), DecodeError> {
    parse_split(input, limits, "", &mut |_, _| Ok(()))
}

/// The callback of [`parse_split`]: open ancestors (root first) and the finished element.
pub type SplitFn<'a> = dyn FnMut(&[Element], Element) -> Result<(), DecodeError> + 'a;

/// Parse like [`parse`], but hand every element named `split` to `on_split` as soon as it is
/// complete instead of attaching it to its parent, so a document with many repeated blocks
/// (the transactions of a bulk file) never holds more than one of them as a tree.
///
/// `on_split` gets the open ancestors (root first; their children so far are those that came
/// before) and the finished element. An empty `split` never matches.
pub fn parse_split(
    input: &[u8],
    limits: &Limits,
    split: &str,
    on_split: &mut SplitFn<'_>,
) -> Result<(Element, Option<String>), DecodeError> {
    if input.len() > limits.max_bytes {
        return Err(DecodeError::new(
            "/",
            ErrorKind::TooLarge(format!("{} bytes, at most {}", input.len(), limits.max_bytes)),
        ));
    }
    let mut reader = Reader::from_reader(input);
    let cfg = reader.config_mut();
    cfg.trim_text(true);
    cfg.check_end_names = true;
    cfg.expand_empty_elements = true;

    let mut stack: Vec<Element> = Vec::new();
    // Without a split, finished children wait in one shared arena and move into their parent
    // in one exact-size allocation when it closes (instead of growing each parent's Vec).
    // With a split, ancestors must show their children so far, so they are attached at once.
    let arena = split.is_empty();
    let mut pending: Vec<Element> = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    let mut root: Option<Element> = None;
    let mut root_ns: Option<String> = None;
    let mut elements = 0usize;
    let mut first = true;
    loop {
        let ev = reader.read_event().map_err(|e| {
            DecodeError::new(
                &path_of(&stack),
                ErrorKind::Malformed(format!("at byte {}: {e}", reader.error_position())),
            )
        })?;
        if let Event::Decl(_) = ev {
            if !first {
                return Err(DecodeError::new(
                    "/",
                    ErrorKind::Malformed("the XML declaration must come first".into()),
                ));
            }
        }
        first = false;
        match ev {
            Event::DocType(_) => {
                return Err(DecodeError::new(
                    "/",
                    ErrorKind::Forbidden("DOCTYPE/DTD declarations are not accepted".into()),
                ))
            }
            Event::Start(start) => {
                if root.is_some() {
                    return Err(DecodeError::new(
                        "/",
                        ErrorKind::Malformed("content after the root element".into()),
                    ));
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(DecodeError::new(
                        &path_of(&stack),
                        ErrorKind::TooLarge(format!("more than {} elements", limits.max_elements)),
                    ));
                }
                if stack.len() >= limits.max_depth {
                    return Err(DecodeError::new(
                        &path_of(&stack),
                        ErrorKind::TooLarge(format!("nesting deeper than {}", limits.max_depth)),
                    ));
                }
                let mut el = Element { name: local(start.name().as_ref()), ..Element::default() };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| {
                        DecodeError::new(&path_of(&stack), ErrorKind::Malformed(e.to_string()))
                    })?;
                    let key = attr.key.as_ref();
                    let value = attr
                        .unescape_value()
                        .map_err(|e| {
                            DecodeError::new(&path_of(&stack), ErrorKind::Malformed(e.to_string()))
                        })?
                        .into_owned();
                    if key == b"xmlns" {
                        if stack.is_empty() {
                            root_ns = Some(value.clone());
                        }
                        if start.name().prefix().is_none() {
                            el.xmlns = Some(value);
                        }
                        continue;
                    }
                    if key.starts_with(b"xmlns:") {
                        let own = start.name().prefix().map(|p| p.as_ref() == local_bytes(key));
                        if own == Some(true) {
                            if stack.is_empty() {
                                root_ns = Some(value.clone());
                            }
                            el.xmlns = Some(value);
                        }
                        continue;
                    }
                    el.attrs.push((local(key), value));
                }
                starts.push(pending.len());
                stack.push(el);
            }
            Event::End(_) => {
                let Some(mut done) = stack.pop() else {
                    return Err(DecodeError::new(
                        "/",
                        ErrorKind::Malformed("unbalanced end".into()),
                    ));
                };
                let start = starts.pop().unwrap_or(0);
                if arena && start < pending.len() {
                    done.children = pending.split_off(start);
                }
                if !split.is_empty() && done.name == split && !stack.is_empty() {
                    on_split(&stack, done)?;
                    continue;
                }
                match stack.last_mut() {
                    Some(_) if arena => pending.push(done),
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(text) => {
                let value = text.unescape().map_err(|e| {
                    DecodeError::new(&path_of(&stack), ErrorKind::Malformed(e.to_string()))
                })?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&value),
                    None => {
                        return Err(DecodeError::new(
                            "/",
                            ErrorKind::Malformed("text outside the root element".into()),
                        ))
                    }
                }
            }
            Event::CData(data) => match stack.last_mut() {
                Some(el) => el.text.push_str(&String::from_utf8_lossy(&data)),
                None => {
                    return Err(DecodeError::new(
                        "/",
                        ErrorKind::Malformed("CDATA outside the root element".into()),
                    ))
                }
            },
            Event::Empty(_) => {
                // expand_empty_elements turns these into Start/End pairs.
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(DecodeError::new(
            &path_of(&stack),
            ErrorKind::Malformed("document ends inside an element".into()),
        ));
    }
    match root {
        Some(root) => Ok((root, root_ns)),
        None => Err(DecodeError::new("/", ErrorKind::Malformed("no root element".into()))),
    }
}

pub(crate) fn path_of(stack: &[Element]) -> String {
    let mut p = String::new();
    for el in stack {
        p.push('/');
        p.push_str(&el.name);
    }
    if p.is_empty() {
        p.push('/');
    }
    p
}

/// A minimal XML writer: elements, attributes and escaped text, in order.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// A writer with the XML declaration already written.
    pub fn new(capacity: usize) -> Self {
        let mut out = String::with_capacity(capacity);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        Writer { out }
    }

    /// `<name>`
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name a="v" ...>`
    pub fn open_with(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push('>');
        self
    }

    /// `</name>`
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>text</name>`
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        escape_into(&mut self.out, text);
        self.close(name)
    }

    /// `<name>text</name>` when `text` is present.
    pub fn opt_leaf(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(name, t);
        }
        self
    }

    /// `<name a="v">text</name>`
    pub fn leaf_with(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.open_with(name, attrs);
        escape_into(&mut self.out, text);
        self.close(name)
    }

    /// Markup written as it is: for copying a part of a document already read, which is
    /// well-formed and escaped.
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// The finished document.
    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_into(out: &mut String, text: &str) {
    // Copy the runs between special characters whole (all five are ASCII, so every index
    // found is a character boundary).
    let mut from = 0;
    for (i, b) in text.bytes().enumerate() {
        let rep = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            _ => continue,
        };
        out.push_str(text.get(from..i).unwrap_or_default());
        out.push_str(rep);
        from = i + 1;
    }
    out.push_str(text.get(from..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_doctype_and_entities() {
        let evil = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><a>&lol;</a>"#;
        let err = parse(evil, &Limits::default()).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Forbidden(_)), "{err}");
    }

    #[test]
    fn enforces_depth_and_size() {
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        let err = parse(deep.as_bytes(), &Limits::default()).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::TooLarge(_)), "{err}");
        let limits = Limits { max_bytes: 10, ..Limits::default() };
        let err = parse(b"<a>01234567890</a>", &limits).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::TooLarge(_)), "{err}");
    }

    #[test]
    fn reads_namespace_text_and_attributes() {
        let (root, ns) = parse(
            br#"<p:Doc xmlns:p="urn:x"><p:A Ccy="EUR">1 &amp; 2</p:A></p:Doc>"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(ns.as_deref(), Some("urn:x"));
        let a = root.child("A").unwrap();
        assert_eq!(a.text, "1 & 2");
        assert_eq!(a.attr("Ccy"), Some("EUR"));
    }

    #[test]
    fn root_namespace_reads_only_the_root() {
        let doc = br#"<?xml version="1.0"?><!-- c --><p:D xmlns="a" xmlns:p="b"><X/></p:D>"#;
        assert_eq!(root_namespace(doc).as_deref(), Some("b"));
        assert_eq!(root_namespace(br#"<D xmlns="a"/>"#).as_deref(), Some("a"));
        assert_eq!(root_namespace(b"<D/>"), None);
        assert_eq!(root_namespace(b"<!DOCTYPE d><D xmlns=\"a\"/>"), None);
        assert_eq!(root_namespace(b"not xml"), None);
    }

    #[test]
    fn split_hands_over_each_block_and_keeps_the_rest() {
        let doc = br#"<R xmlns="n"><H>h</H><T>1</T><T>2</T><E/></R>"#;
        let mut seen = Vec::new();
        let (root, ns) = parse_split(doc, &Limits::default(), "T", &mut |stack, el| {
            seen.push((stack.len(), stack[0].children.len(), el.text));
            Ok(())
        })
        .unwrap();
        assert_eq!(ns.as_deref(), Some("n"));
        assert_eq!(root.xmlns.as_deref(), Some("n"));
        assert_eq!(seen, vec![(1, 1, "1".to_string()), (1, 1, "2".to_string())]);
        let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["H", "E"]);
        let e = parse_split(doc, &Limits::default(), "T", &mut |_, _| {
            Err(DecodeError::new("/R/T", ErrorKind::Missing))
        })
        .unwrap_err();
        assert_eq!(e.path, "/R/T");
    }

    #[test]
    fn arena_keeps_document_order_and_nesting() {
        let (root, _) =
            parse(b"<a><b><c>1</c><d/></b><e>2</e><b><c>3</c></b></a>", &Limits::default())
                .unwrap();
        let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b", "e", "b"]);
        assert_eq!(root.children[0].children.len(), 2);
        assert_eq!(root.children[2].child("c").unwrap().text, "3");
        assert_eq!(scan(b"<a><b>x</b></a>").unwrap(), 5);
    }

    #[test]
    fn writer_escapes() {
        let mut w = Writer::new(64);
        w.leaf_with("A", &[("k", "\"q\"")], "<&>");
        w.leaf("B", "é'x'é").leaf("C", "plain");
        assert!(w.finish().ends_with(
            "<A k=\"&quot;q&quot;\">&lt;&amp;&gt;</A><B>é&apos;x&apos;é</B><C>plain</C>"
        ));
    }
}
