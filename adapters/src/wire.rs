//! JSON shapes of the participant API (besides the ISO 20022 XML bodies themselves).
//!
//! `POST /v1/messages` (XML body) -> 202 [`SendResponse`]; 400 admi.002 XML for a message
//! that cannot be read; 503 with `Retry-After` when the switch is busy.
//! `GET /v1/messages?after=N&max=M&wait_ms=W` -> 200 [`PullResponse`]; with
//! `Accept: multipart/mixed` (as Pix's SPI delivers) the messages come as raw XML parts
//! instead ([`encode_frames`], [`decode_frames`]), 204 when there is none, and the cursor in
//! the `x-pull-next` header.
//! `GET /v1/stream?after=N` with `Accept: multipart/mixed` -> 200 whose body never waits for
//! a pull: each message is written as a part as soon as it is durable ([`encode_parts`],
//! read with [`FrameReader`]); the body ends with the close delimiter after the stream's
//! lifetime (the bank opens the next one from its cursor). `after` acknowledges like a pull's.
//! `POST /v1/acks?through=N` -> 204: acknowledges the messages up to N without pulling.

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// Receipt for a message the switch took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// The message id the switch read (`GrpHdr/MsgId`).
    pub msg_id: String,
    /// Its type, e.g. `pacs.008.001.08`.
    pub msg_type: String,
    /// Transactions taken from it.
    pub transactions: u32,
}

/// One message for a participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    /// Sequence number in this participant's stream (1, 2, ...; stable across restarts).
    pub seq: u64,
    /// ISO message name id, e.g. `pacs.002.001.10`.
    pub msg_type: String,
    /// The message.
    pub xml: String,
}

/// Answer to a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    /// Messages in sequence order.
    pub messages: Vec<Delivered>,
    /// The cursor to pass as `after` next time.
    pub next: u64,
}

/// The boundary literal, written once for the constants below.
macro_rules! boundary {
    () => {
        "iso20022-frame-3b9d0c5e71a4"
    };
}

/// The boundary of a framed pull. A pull whose messages contain `--` followed by it is
/// answered in JSON instead (the server checks), so a message can never forge a frame.
pub const FRAME_BOUNDARY: &str = boundary!();
/// Content type of a framed pull (`GET /v1/messages` with `Accept: multipart/mixed`).
pub const FRAMES_CONTENT_TYPE: &str = concat!("multipart/mixed; boundary=", boundary!());
/// The delimiter line that opens each part (and, with `--` after it, closes the body).
const DELIMITER: &str = concat!("--", boundary!());
/// Response header carrying the cursor of a framed pull (also on 204).
pub const PULL_NEXT_HEADER: &str = "x-pull-next";

/// One message of a framed pull, its XML kept as the raw bytes the switch sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Sequence number in this participant's stream.
    pub seq: u64,
    /// ISO message name id.
    pub msg_type: String,
    /// The message, as sent (UTF-8 XML).
    pub xml: bytes::Bytes,
}

/// Why a framed pull body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("framed pull body at byte {at}: {what}")]
pub struct FrameError {
    /// Offset in the body.
    pub at: usize,
    /// What is wrong.
    pub what: &'static str,
}

/// The delimiter's searcher, built once (building one costs about what a search does).
static DELIMITER_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(DELIMITER.as_bytes()));

/// Write messages `(seq, msg_type, xml)` as a `multipart/mixed` body with one part each,
/// every part carrying `Content-Length`, `X-Seq` and `X-Msg-Type`. `None` when a message
/// contains the boundary delimiter (the caller then answers in JSON) or there is no message.
pub fn encode_frames<'a>(
    messages: impl IntoIterator<Item = (u64, &'a str, &'a [u8])>,
    size_hint: usize,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint + 160);
    let (n, forged) = encode_parts(messages, &mut out);
    if forged || n == 0 {
        return None;
    }
    out.extend_from_slice(FRAMES_CLOSE.as_bytes());
    Some(out)
}

/// The close delimiter that ends a framed body (a stream ends with it too).
pub const FRAMES_CLOSE: &str = concat!("--", boundary!(), "--\r\n");

/// Append messages to `out` as parts of a framed body, without the close delimiter (a
/// stream's pieces), stopping before the first message that contains the delimiter. Returns
/// the parts written and whether it stopped at such a message.
pub fn encode_parts<'a>(
    messages: impl IntoIterator<Item = (u64, &'a str, &'a [u8])>,
    out: &mut Vec<u8>,
) -> (usize, bool) {
    let mut n = 0usize;
    for (seq, msg_type, xml) in messages {
        if DELIMITER_FINDER.find(xml).is_some() {
            return (n, true);
        }
        out.extend_from_slice(DELIMITER.as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: application/xml\r\nContent-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(xml.len()).as_bytes());
        out.extend_from_slice(b"\r\nX-Seq: ");
        out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
        out.extend_from_slice(b"\r\nX-Msg-Type: ");
        out.extend_from_slice(msg_type.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(xml);
        out.extend_from_slice(b"\r\n");
        n += 1;
    }
    (n, false)
}

/// Longest part header block read before the reader gives up on it.
const PART_HEAD_MAX: usize = 4 << 10;

/// What the bytes at one place of a framed body hold.
enum Step {
    /// A whole part: its frame, and where the next part starts.
    Part(Frame, usize),
    /// The close delimiter, ending at the given offset.
    Close(usize),
    /// Not enough bytes yet to tell: nothing can be read before the body is this long.
    Incomplete(usize),
}

/// Read the part (or the close delimiter) starting at `at` of `body`. Parts are found by
/// their `Content-Length`, each followed by CRLF; `last` is the previous part's `X-Seq`,
/// which this one's must exceed; a part over `part_max` bytes is refused.
fn step(body: &Bytes, at: usize, last: Option<u64>, part_max: usize) -> Result<Step, FrameError> {
    let d = DELIMITER.as_bytes();
    let err = |at: usize, what: &'static str| FrameError { at, what };
    let rest = body.get(at..).unwrap_or_default();
    let known = rest.len().min(d.len());
    if rest.get(..known) != d.get(..known) {
        return Err(err(at, "expected the boundary delimiter"));
    }
    if rest.len() < d.len() + 2 {
        // Checked again with every byte that comes: a wrong one is refused at once.
        return Ok(Step::Incomplete(body.len() + 1));
    }
    let mut at = at + d.len();
    let rest = body.get(at..).unwrap_or_default();
    if rest.starts_with(b"--") {
        return match rest.get(..4) {
            None if b"--\r\n".starts_with(rest) => Ok(Step::Incomplete(body.len() + 1)),
            Some(b"--\r\n") => Ok(Step::Close(at + 4)),
            _ => Err(err(at, "expected CRLF and the end after the close delimiter")),
        };
    }
    if !rest.starts_with(b"\r\n") {
        return Err(err(at, "expected CRLF after the delimiter"));
    }
    at += 2;
    let rest = body.get(at..).unwrap_or_default();
    let Some(head_len) = memchr::memmem::find(rest, b"\r\n\r\n") else {
        if rest.len() > PART_HEAD_MAX {
            return Err(err(at, "part headers do not end"));
        }
        return Ok(Step::Incomplete(body.len() + 1));
    };
    let head = std::str::from_utf8(rest.get(..head_len).unwrap_or_default())
        .map_err(|_| err(at, "part headers are not UTF-8"))?;
    let (mut len, mut seq, mut msg_type) = (None, None, None);
    for line in head.split("\r\n") {
        let (k, v) = line.split_once(':').ok_or_else(|| err(at, "malformed part header"))?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            len = Some(v.parse::<usize>().map_err(|_| err(at, "bad Content-Length"))?);
        } else if k.eq_ignore_ascii_case("x-seq") {
            seq = Some(v.parse::<u64>().map_err(|_| err(at, "bad X-Seq"))?);
        } else if k.eq_ignore_ascii_case("x-msg-type") {
            msg_type = Some(v.to_string());
        }
    }
    let len = len.ok_or_else(|| err(at, "part without Content-Length"))?;
    let seq = seq.ok_or_else(|| err(at, "part without X-Seq"))?;
    let msg_type = msg_type.ok_or_else(|| err(at, "part without X-Msg-Type"))?;
    if last.is_some_and(|l| l >= seq) {
        return Err(err(at, "X-Seq does not increase"));
    }
    if len > part_max {
        return Err(err(at, "part larger than the reader's limit"));
    }
    at += head_len + 4;
    let end = at.checked_add(len).ok_or_else(|| err(at, "bad Content-Length"))?;
    match body.get(end..).map(|r| r.get(..2)) {
        None | Some(None) if body.len() < end + 2 => Ok(Step::Incomplete(end + 2)),
        Some(Some(b"\r\n")) => {
            Ok(Step::Part(Frame { seq, msg_type, xml: body.slice(at..end) }, end + 2))
        }
        _ => Err(err(end, "expected CRLF after the part body")),
    }
}

/// Read a body written by [`encode_frames`]. Parts are found by their `Content-Length`, and
/// each must be followed by the delimiter: a body that does not follow the format exactly is
/// refused, never half read. Header names are case-insensitive; `X-Seq` must increase.
pub fn decode_frames(body: &Bytes) -> Result<Vec<Frame>, FrameError> {
    let mut out: Vec<Frame> = Vec::new();
    let mut at = 0usize;
    loop {
        match step(body, at, out.last().map(|f| f.seq), usize::MAX)? {
            Step::Part(f, next) => {
                out.push(f);
                at = next;
            }
            Step::Close(end) if end == body.len() => return Ok(out),
            Step::Close(end) => {
                return Err(FrameError { at: end, what: "bytes after the close delimiter" })
            }
            Step::Incomplete(_) => {
                return Err(FrameError { at, what: "the body ends inside a part" })
            }
        }
    }
}

/// Reads the frames of a body that arrives in pieces (a stream, `GET /v1/stream`): each part
/// is returned as soon as its last byte is in, found by its `Content-Length`; the close
/// delimiter ends the body. Same format and checks as [`decode_frames`]; a part over
/// `part_max` bytes is refused rather than buffered.
#[derive(Debug)]
pub struct FrameReader {
    buf: BytesMut,
    last: Option<u64>,
    ended: bool,
    part_max: usize,
    /// Bytes of the body consumed before `buf` (for error offsets).
    offset: usize,
    /// Bytes `buf` must hold before another part can be whole: a large part arriving in many
    /// pieces is looked at once it is all in, not once per piece.
    need: usize,
    /// Times the buffer was parsed (each costs a copy of the part not yet whole).
    looks: usize,
}

impl FrameReader {
    /// A reader refusing parts over `part_max` bytes.
    pub fn new(part_max: usize) -> FrameReader {
        FrameReader {
            buf: BytesMut::new(),
            last: None,
            ended: false,
            part_max,
            offset: 0,
            need: 0,
            looks: 0,
        }
    }

    /// Add the next bytes of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Every whole part now buffered, in order; after an error the body cannot be read on.
    pub fn frames(&mut self) -> Result<Vec<Frame>, FrameError> {
        let mut out = Vec::new();
        if self.ended || self.buf.len() < self.need {
            return Ok(out);
        }
        self.looks += 1;
        // The buffered bytes, frozen once so that frames share them without a copy.
        let body = std::mem::take(&mut self.buf).freeze();
        let mut at = 0usize;
        let result = loop {
            match step(&body, at, self.last, self.part_max) {
                Ok(Step::Part(f, next)) => {
                    self.last = Some(f.seq);
                    out.push(f);
                    at = next;
                }
                Ok(Step::Close(end)) => {
                    self.ended = true;
                    at = end;
                    break Ok(out);
                }
                Ok(Step::Incomplete(need)) => {
                    self.need = need - at;
                    break Ok(out);
                }
                Err(e) => break Err(FrameError { at: self.offset + e.at, what: e.what }),
            }
        };
        self.offset += at;
        self.buf.extend_from_slice(body.get(at..).unwrap_or_default());
        result
    }

    /// Whether the close delimiter was read: the body is over.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Bytes buffered of a part not yet whole.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Read the body of a push from the switch to a bank's callback endpoint: a framed body
/// ([`decode_frames`]), or the JSON of a pull ([`PullResponse`]) when it starts with `{` (the
/// switch sends a message holding the frame delimiter that way).
pub fn decode_push(body: &Bytes) -> Result<Vec<Frame>, String> {
    if body.starts_with(b"{") {
        let p: PullResponse = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok(p.messages.into_iter().map(Frame::from).collect())
    } else {
        decode_frames(body).map_err(|e| e.to_string())
    }
}

impl From<Delivered> for Frame {
    fn from(d: Delivered) -> Frame {
        Frame { seq: d.seq, msg_type: d.msg_type, xml: d.xml.into() }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn frames_round_trip_and_keep_the_bytes() {
        let a = b"<Document>a\r\n--not-the-boundary</Document>".as_slice();
        let b = "<Document>\u{e9}t\u{e9}</Document>".as_bytes();
        let body = encode_frames([(3, "pacs.008.001.08", a), (9, "pacs.002.001.10", b)], 0);
        let body = bytes::Bytes::from(body.unwrap());
        let frames = decode_frames(&body).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].seq, frames[0].msg_type.as_str()), (3, "pacs.008.001.08"));
        assert_eq!(&frames[0].xml[..], a);
        assert_eq!((frames[1].seq, &frames[1].xml[..]), (9, b));
    }

    #[test]
    fn a_message_holding_the_delimiter_is_not_framed() {
        let forged = format!("<Ustrd>\r\n--{FRAME_BOUNDARY}\r\nX-Seq: 99</Ustrd>");
        assert!(encode_frames([(1, "pacs.008.001.08", forged.as_bytes())], 0).is_none());
        assert!(encode_frames(std::iter::empty(), 0).is_none());
    }

    #[test]
    fn every_damaged_body_is_refused_with_its_place() {
        let good = encode_frames([(1, "pacs.002.001.10", b"<x/>".as_slice())], 0).unwrap();
        // Every truncation is refused, never half read.
        for cut in 0..good.len() {
            let body = bytes::Bytes::copy_from_slice(&good[..cut]);
            assert!(decode_frames(&body).is_err(), "cut at {cut} was accepted");
        }
        let text = String::from_utf8(good).unwrap();
        for (from, to, what) in [
            ("Content-Length: 4", "Content-Length: 5", "expected CRLF after the part body"),
            ("Content-Length: 4", "Content-Length: x", "bad Content-Length"),
            ("X-Seq: 1\r\n", "", "part without X-Seq"),
        ] {
            let body = bytes::Bytes::from(text.replace(from, to));
            assert_eq!(decode_frames(&body).unwrap_err().what, what, "{from} -> {to}");
        }
        let twice = text.replacen(&format!("--{FRAME_BOUNDARY}--\r\n"), "", 1);
        let twice = bytes::Bytes::from(format!("{twice}{text}"));
        assert_eq!(decode_frames(&twice).unwrap_err().what, "X-Seq does not increase");
    }

    #[test]
    fn a_body_read_in_pieces_gives_each_part_once_it_is_whole() {
        let xml: Vec<String> =
            (0..5).map(|i| format!("<Document>{}</Document>", "x".repeat(i * 37))).collect();
        let parts =
            xml.iter().enumerate().map(|(i, x)| (i as u64 + 1, "pacs.002.001.10", x.as_bytes()));
        let body = encode_frames(parts, 0).unwrap();
        let whole = decode_frames(&Bytes::from(body.clone())).unwrap();
        for piece in [1usize, 2, 7, 64, 1000] {
            let mut r = FrameReader::new(1 << 20);
            let mut got = Vec::new();
            for chunk in body.chunks(piece) {
                assert!(!r.ended());
                let before = got.len();
                got.extend(r.frames().unwrap());
                assert_eq!(got.len(), before, "a frame came out before its bytes were in");
                r.push(chunk);
                got.extend(r.frames().unwrap());
            }
            assert!(r.ended(), "piece {piece}: the close delimiter was not seen");
            assert_eq!(r.buffered(), 0);
            assert_eq!(got, whole, "piece {piece}");
        }
        // A stream that has not ended yet: the parts so far, nothing half read.
        let open = &body[..body.len() - (FRAME_BOUNDARY.len() + 6)];
        let mut r = FrameReader::new(1 << 20);
        r.push(open);
        assert_eq!(r.frames().unwrap(), whole);
        assert!(!r.ended());
    }

    #[test]
    fn a_damaged_or_oversized_stream_is_refused_at_its_place() {
        let good = encode_frames([(1, "pacs.002.001.10", b"<x/>".as_slice())], 0).unwrap();
        let text = String::from_utf8(good).unwrap();
        let mut r = FrameReader::new(3);
        r.push(text.as_bytes());
        assert_eq!(r.frames().unwrap_err().what, "part larger than the reader's limit");
        let mut r = FrameReader::new(1 << 20);
        r.push(b"--not-the-boundary");
        assert_eq!(r.frames().unwrap_err().what, "expected the boundary delimiter");
        // An error after good parts is placed in the whole body, not in the buffer.
        let mut r = FrameReader::new(1 << 20);
        let body = text.replace(&format!("--{FRAME_BOUNDARY}--\r\n"), "");
        r.push(body.as_bytes());
        assert_eq!(r.frames().unwrap().len(), 1);
        r.push(b"garbage");
        assert_eq!(r.frames().unwrap_err().at, body.len());
        let mut r = FrameReader::new(1 << 20);
        r.push(format!("--{FRAME_BOUNDARY}\r\nX-Seq: 1\r\n").as_bytes());
        r.push(&[b'a'; PART_HEAD_MAX + 1]);
        assert_eq!(r.frames().unwrap_err().what, "part headers do not end");
    }

    #[test]
    fn a_large_part_in_many_pieces_is_parsed_once_it_is_all_in() {
        let xml = vec![b'x'; 4 << 20];
        let body = encode_frames([(1, "pacs.008.001.08", xml.as_slice())], 0).unwrap();
        let mut r = FrameReader::new(8 << 20);
        let mut got = Vec::new();
        for chunk in body.chunks(16 << 10) {
            r.push(chunk);
            got.extend(r.frames().unwrap());
        }
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].xml.len(), xml.len());
        assert!(r.ended());
        // The delimiter, the headers, the part, the close: a handful of looks, not one for
        // each of the 257 pieces (each of which would have copied the part so far).
        assert!(r.looks <= 6, "the buffer was parsed {} times", r.looks);
    }
}
