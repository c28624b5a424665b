//! On-disk frames and segment headers: encoding, decoding and the recovery scan.
//!
//! Guarantees: every frame and header is covered by a CRC-32C; the scan delivers records in
//! sequence order, reports a torn tail (a damaged last record with nothing valid after it) as a
//! length to truncate to, and refuses damage followed by valid data as corruption.
//! Must not: touch the file system (callers own the files) or interpret payloads.

use crate::{JournalError, HEADER_BYTES, RECORD_MAX_BYTES};

/// Bytes of the header at the start of every segment file.
pub const SEGMENT_HEADER_BYTES: usize = 32;
/// Magic bytes opening every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"IPSWJSEG";
/// Version of the segment and frame format written by this crate.
pub const FORMAT_VERSION: u32 = 1;

/// CRC-32C of one frame: covers the length, the sequence number and the payload.
pub(crate) fn frame_checksum(len: u32, seq: u64, payload: &[u8]) -> u32 {
    let c = crc32c::crc32c(&len.to_le_bytes());
    let c = crc32c::crc32c_append(c, &seq.to_le_bytes());
    crc32c::crc32c_append(c, payload)
}

/// Append one frame for `payload` with sequence number `seq` to `out`.
/// The caller has checked `payload.len() <= RECORD_MAX_BYTES`.
pub(crate) fn encode_frame(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame_checksum(len, seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The 32-byte header of a segment whose first record has sequence number `first_seq`.
pub(crate) fn encode_segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES];
    let mut body = Vec::with_capacity(SEGMENT_HEADER_BYTES);
    body.extend_from_slice(&SEGMENT_MAGIC);
    body.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    body.extend_from_slice(&(SEGMENT_HEADER_BYTES as u32).to_le_bytes());
    body.extend_from_slice(&first_seq.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32c::crc32c(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    for (dst, src) in h.iter_mut().zip(body.iter()) {
        *dst = *src;
    }
    h
}

pub(crate) fn le_u32(data: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

pub(crate) fn le_u64(data: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = data.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// Decode a segment header; `Err` says what is wrong with it.
pub(crate) fn decode_segment_header(data: &[u8]) -> Result<u64, String> {
    let h = data.get(..SEGMENT_HEADER_BYTES).ok_or("segment header cut short")?;
    if h.get(..8) != Some(&SEGMENT_MAGIC[..]) {
        return Err("not a journal segment (bad magic)".into());
    }
    let crc = le_u32(h, 28).ok_or("segment header cut short")?;
    if crc32c::crc32c(h.get(..28).unwrap_or_default()) != crc {
        return Err("segment header checksum mismatch".into());
    }
    let version = le_u32(h, 8).unwrap_or_default();
    if version != FORMAT_VERSION {
        return Err(format!("segment format version {version}, this build reads {FORMAT_VERSION}"));
    }
    let header_bytes = le_u32(h, 12).unwrap_or_default();
    if header_bytes as usize != SEGMENT_HEADER_BYTES {
        return Err(format!("segment header of {header_bytes} bytes is not supported"));
    }
    le_u64(h, 16).ok_or_else(|| "segment header cut short".into())
}

/// A frame that checked out.
struct Frame<'a> {
    seq: u64,
    payload: &'a [u8],
    end: usize,
}

/// Why the frame at some offset is not valid.
enum FrameFault {
    /// Cut short or failing its checksum: may be a torn write.
    Damaged(String),
    /// Checksum fine but the sequence number is wrong: never a torn write.
    OutOfSequence(u64),
}

fn read_frame(data: &[u8], pos: usize, expected_seq: u64) -> Result<Frame<'_>, FrameFault> {
    let damaged = |s: &str| FrameFault::Damaged(s.to_string());
    let header = data.get(pos..pos + HEADER_BYTES).ok_or_else(|| damaged("header cut short"))?;
    let len = le_u32(header, 0).unwrap_or_default();
    let crc = le_u32(header, 4).unwrap_or_default();
    let seq = le_u64(header, 8).unwrap_or_default();
    if len as usize > RECORD_MAX_BYTES {
        return Err(damaged(&format!("length {len} over the record limit")));
    }
    let end = pos + HEADER_BYTES + len as usize;
    let payload = data.get(pos + HEADER_BYTES..end).ok_or_else(|| damaged("payload cut short"))?;
    if frame_checksum(len, seq, payload) != crc {
        return Err(damaged("checksum mismatch"));
    }
    if seq != expected_seq {
        return Err(FrameFault::OutOfSequence(seq));
    }
    Ok(Frame { seq, payload, end })
}

/// Look for any checksum-valid frame starting after `from` whose sequence number is at least
/// `min_seq`: evidence that damage at `from` is not a torn tail.
fn valid_frame_after(data: &[u8], from: usize, min_seq: u64) -> Option<(usize, u64)> {
    let seq_span = (data.len() / HEADER_BYTES) as u64 + 1;
    let last_start = data.len().checked_sub(HEADER_BYTES)?;
    for pos in from + 1..=last_start {
        let (Some(len), Some(crc), Some(seq)) =
            (le_u32(data, pos), le_u32(data, pos + 4), le_u64(data, pos + 8))
        else {
            continue;
        };
        if len as usize > RECORD_MAX_BYTES || seq < min_seq || seq - min_seq > seq_span {
            continue;
        }
        let end = pos + HEADER_BYTES + len as usize;
        if let Some(payload) = data.get(pos + HEADER_BYTES..end) {
            if frame_checksum(len, seq, payload) == crc {
                return Some((pos, seq));
            }
        }
    }
    None
}

/// Receives each record found by a scan; an `Err` stops recovery.
pub(crate) type OnRecord<'f> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'f;

/// Where a segment's valid records end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// Byte length of the valid prefix of the file (header included).
    pub valid_len: u64,
    /// Sequence number of the last valid record, or `first_seq - 1` if none.
    pub last_seq: u64,
    /// Records passed to the callback.
    pub delivered: u64,
}

/// Where a segment sits, which decides what damage in it means: a torn tail only in the last
/// segment and only if no valid frame follows it, unless `repair` (an operator's explicit
/// choice) makes any damage in the last segment the end of the journal.
pub(crate) struct SegmentRole {
    /// The last segment of the journal, the only one that may end in a torn write.
    pub is_last: bool,
    /// Cut the last segment at its first bad frame whatever follows it.
    pub repair: bool,
}

/// Walk the frames of one whole segment file (header included) whose first record is
/// `first_seq`. Records with `seq <= skip_through` are checked but not delivered.
pub(crate) fn scan_segment(
    name: &str,
    file: &[u8],
    first_seq: u64,
    role: &SegmentRole,
    skip_through: u64,
    on_record: &mut OnRecord<'_>,
) -> Result<ScanEnd, JournalError> {
    let mut pos = SEGMENT_HEADER_BYTES;
    let mut last = first_seq.saturating_sub(1);
    let mut delivered = 0u64;
    while pos < file.len() {
        let expected = last + 1;
        let frame = match read_frame(file, pos, expected) {
            Ok(f) => f,
            Err(_) if role.is_last && role.repair => break,
            Err(FrameFault::OutOfSequence(seq)) => {
                let reason = format!("{name}: record has sequence {seq}, expected {expected}");
                return Err(JournalError::Corrupt { offset: pos as u64, reason });
            }
            Err(FrameFault::Damaged(what)) => {
                if !role.is_last {
                    let reason = format!(
                        "{name}: {what} in a segment that is not the last (record {expected})"
                    );
                    return Err(JournalError::Corrupt { offset: pos as u64, reason });
                }
                if let Some((at, seq)) = valid_frame_after(file, pos, expected) {
                    let reason = format!(
                        "{name}: {what} at record {expected}, yet valid record {seq} follows at \
                         byte {at}; restore from a replica, or, only if this follows a power \
                         loss, reopen once with JournalOptions::repair_truncate_tail"
                    );
                    return Err(JournalError::Corrupt { offset: pos as u64, reason });
                }
                break;
            }
        };
        if frame.seq > skip_through {
            on_record(frame.seq, frame.payload)
                .map_err(|reason| JournalError::Replay { seq: frame.seq, reason })?;
            delivered += 1;
        }
        last = frame.seq;
        pos = frame.end;
    }
    Ok(ScanEnd { valid_len: pos.min(file.len()) as u64, last_seq: last, delivered })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(first: u64, n: u64) -> Vec<u8> {
        let mut v = encode_segment_header(first).to_vec();
        for s in first..first + n {
            encode_frame(&mut v, s, &[s as u8; 20]);
        }
        v
    }

    fn scan(file: &[u8], is_last: bool) -> Result<ScanEnd, JournalError> {
        let role = SegmentRole { is_last, repair: false };
        scan_segment("seg", file, 5, &role, 0, &mut |_, _| Ok(()))
    }

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let h = encode_segment_header(42);
        assert_eq!(decode_segment_header(&h), Ok(42));
        let mut bad = h;
        bad[17] ^= 1;
        assert!(decode_segment_header(&bad).unwrap_err().contains("checksum"));
        assert!(decode_segment_header(&h[..10]).unwrap_err().contains("short"));
        let mut magic = h;
        magic[0] = b'X';
        assert!(decode_segment_header(&magic).unwrap_err().contains("magic"));
    }

    #[test]
    fn clean_segment_scans_to_its_end() {
        let s = segment(5, 3);
        let end = scan(&s, true).unwrap();
        assert_eq!(end, ScanEnd { valid_len: s.len() as u64, last_seq: 7, delivered: 3 });
    }

    #[test]
    fn damage_in_a_middle_record_is_corruption_even_in_the_last_segment() {
        let mut s = segment(5, 3);
        s[SEGMENT_HEADER_BYTES + HEADER_BYTES + 3] ^= 0x40;
        assert!(matches!(scan(&s, true), Err(JournalError::Corrupt { offset: 32, .. })));
    }

    #[test]
    fn torn_last_record_is_cut_only_in_the_last_segment() {
        let s = segment(5, 3);
        let cut = &s[..s.len() - 1];
        let end = scan(cut, true).unwrap();
        assert_eq!(end.last_seq, 6);
        assert!(matches!(scan(cut, false), Err(JournalError::Corrupt { .. })));
    }

    #[test]
    fn valid_checksum_with_wrong_sequence_is_corruption() {
        let mut s = segment(5, 2);
        encode_frame(&mut s, 9, b"x");
        match scan(&s, true) {
            Err(JournalError::Corrupt { reason, .. }) => assert!(reason.contains("expected 7")),
            other => panic!("{other:?}"),
        }
    }
}
