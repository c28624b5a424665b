//! JSON shapes of the participant API (besides the ISO 20022 XML bodies themselves).
//!
//! `POST /v1/messages` (XML body) -> 202 [`SendResponse`]; 400 admi.002 XML for a message
//! that cannot be read; 503 with `Retry-After` when the switch is busy.
//! `GET /v1/messages?after=N&max=M&wait_ms=W` -> 200 [`PullResponse`]; with
//! `Accept: multipart/mixed` (as Pix's SPI delivers) the messages come as raw XML parts
//! instead ([`encode_frames`], [`decode_frames`]), 204 when there is none, and the cursor in
//! the `x-pull-next` header.

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
    let mut n = 0usize;
    for (seq, msg_type, xml) in messages {
        if DELIMITER_FINDER.find(xml).is_some() {
            return None;
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
    if n == 0 {
        return None;
    }
    out.extend_from_slice(DELIMITER.as_bytes());
    out.extend_from_slice(b"--\r\n");
    Some(out)
}

/// Read a body written by [`encode_frames`]. Parts are found by their `Content-Length`, and
/// each must be followed by the delimiter: a body that does not follow the format exactly is
/// refused, never half read. Header names are case-insensitive; `X-Seq` must increase.
pub fn decode_frames(body: &bytes::Bytes) -> Result<Vec<Frame>, FrameError> {
    let d = DELIMITER.as_bytes();
    let mut out = Vec::new();
    let mut at = 0usize;
    let err = |at: usize, what: &'static str| FrameError { at, what };
    loop {
        let rest = body.get(at..).unwrap_or_default();
        if !rest.starts_with(d) {
            return Err(err(at, "expected the boundary delimiter"));
        }
        at += d.len();
        let rest = body.get(at..).unwrap_or_default();
        if rest.starts_with(b"--") {
            if rest != b"--\r\n" {
                return Err(err(at, "expected CRLF and the end after the close delimiter"));
            }
            return Ok(out);
        }
        if !rest.starts_with(b"\r\n") {
            return Err(err(at, "expected CRLF after the delimiter"));
        }
        at += 2;
        let rest = body.get(at..).unwrap_or_default();
        let head_len = memchr::memmem::find(rest, b"\r\n\r\n")
            .ok_or_else(|| err(at, "part headers do not end"))?;
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
        if out.last().is_some_and(|f: &Frame| f.seq >= seq) {
            return Err(err(at, "X-Seq does not increase"));
        }
        at += head_len + 4;
        let end = at.checked_add(len).filter(|&e| e <= body.len());
        let end = end.ok_or_else(|| err(at, "part body shorter than its Content-Length"))?;
        out.push(Frame { seq, msg_type, xml: body.slice(at..end) });
        at = end;
        if body.get(at..at + 2) != Some(b"\r\n".as_slice()) {
            return Err(err(at, "expected CRLF after the part body"));
        }
        at += 2;
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
}
