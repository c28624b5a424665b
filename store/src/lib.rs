//! Durability for the switch: an append-only journal whose records are on disk before
//! anything that depends on them is acknowledged.
//!
//! A tour:
//!
//! ```
//! use store::{FileJournal, Journal};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let (mut j, replayed) = FileJournal::open(dir.path(), |_seq, _rec| Ok(())).unwrap();
//! assert_eq!(replayed, 0);
//! j.append(b"reserve 1").unwrap();
//! j.append(b"post 1").unwrap();
//! j.sync().unwrap();                 // one fdatasync for the whole batch (group commit)
//! drop(j);
//! let mut seen = Vec::new();
//! let (_j, n) = FileJournal::open(dir.path(), |seq, rec| { seen.push((seq, rec.to_vec())); Ok(()) }).unwrap();
//! assert_eq!(n, 2);
//! assert_eq!(seen[1], (2, b"post 1".to_vec()));
//! ```
//!
//! Format of `journal.log` (little-endian): each record is framed as
//! `len: u32 | crc32c: u32 | seq: u64 | payload[len]`, the checksum covering `seq` and the
//! payload. Sequence numbers start at 1 and increase by one. On open, a torn tail (a last
//! record cut short or failing its checksum with nothing valid after it) is truncated away;
//! a bad record followed by more data is corruption in the middle and open refuses with
//! [`JournalError::Corrupt`]. A failed sync poisons the journal: every later call returns
//! [`JournalError::Poisoned`] and the process must restart and recover from disk.
//!
//! Must not: decide business outcomes. Records are opaque bytes to this crate.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Frame header size: len (4) + crc (4) + seq (8).
pub const HEADER_BYTES: usize = 16;
/// Largest record accepted, in bytes.
pub const RECORD_MAX_BYTES: usize = 16 << 20;

/// Journal failures. All but `Corrupt` and `RecordTooLarge` mean the disk failed us.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// An I/O error; after a failed sync the journal is poisoned.
    #[error("journal I/O error: {0}")]
    Io(#[from] io::Error),
    /// A sync failed earlier: restart the process so it recovers from what is on disk.
    #[error("journal poisoned by an earlier sync failure; restart to recover from disk")]
    Poisoned,
    /// The file is damaged before its end; an operator must restore it from a replica.
    #[error("journal corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset of the bad record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record larger than [`RECORD_MAX_BYTES`].
    #[error("record of {0} bytes is over the limit")]
    RecordTooLarge(usize),
    /// The replay callback refused a record.
    #[error("replay of record {seq} failed: {reason}")]
    Replay {
        /// Sequence number of the record.
        seq: u64,
        /// The callback's reason.
        reason: String,
    },
}

/// An append-only, durable journal.
pub trait Journal: Send {
    /// Add a record to the current batch; returns its sequence number. Not durable until
    /// [`Journal::sync`] returns.
    fn append(&mut self, record: &[u8]) -> Result<u64, JournalError>;
    /// Make every appended record durable.
    fn sync(&mut self) -> Result<(), JournalError>;
    /// Sequence number of the last appended record (0 if none).
    fn last_seq(&self) -> u64;
}

/// The embedded journal: one append-only file with group commit.
#[derive(Debug)]
pub struct FileJournal {
    path: PathBuf,
    out: BufWriter<File>,
    seq: u64,
    poisoned: bool,
    buf: Vec<u8>,
}

fn checksum(seq: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload)
}

impl FileJournal {
    /// Open (or create) the journal in `dir`, replaying every record to `on_record` in order.
    /// Returns the journal, positioned for appending, and the number of records replayed.
    pub fn open(
        dir: &Path,
        mut on_record: impl FnMut(u64, &[u8]) -> Result<(), String>,
    ) -> Result<(FileJournal, u64), JournalError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("journal.log");
        let created = !path.exists();
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        if created {
            File::open(dir)?.sync_all()?;
        }
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let (valid_len, seq) = scan(&data, &mut on_record)?;
        if valid_len < data.len() as u64 {
            file.set_len(valid_len)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::Start(valid_len))?;
        let journal = FileJournal {
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            seq,
            poisoned: false,
            buf: Vec::with_capacity(4096),
        };
        Ok((journal, seq))
    }

    /// Path of the journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn parse_header(h: &[u8]) -> (u32, u32, u64) {
    let mut len = [0u8; 4];
    let mut crc = [0u8; 4];
    let mut seq = [0u8; 8];
    for (i, b) in h.iter().enumerate() {
        match i {
            0..=3 => len.get_mut(i).map(|x| *x = *b),
            4..=7 => crc.get_mut(i - 4).map(|x| *x = *b),
            _ => seq.get_mut(i - 8).map(|x| *x = *b),
        };
    }
    (u32::from_le_bytes(len), u32::from_le_bytes(crc), u64::from_le_bytes(seq))
}

/// Walk the frames; returns the length of the valid prefix and the last sequence number.
fn scan(
    data: &[u8],
    on_record: &mut impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<(u64, u64), JournalError> {
    let mut pos = 0usize;
    let mut seq = 0u64;
    while pos < data.len() {
        let torn = |reason: &str| -> Result<(u64, u64), JournalError> {
            let _ = reason;
            Ok((pos as u64, seq))
        };
        let Some(header) = data.get(pos..pos + HEADER_BYTES) else {
            return torn("short header");
        };
        let (len, crc, rec_seq) = parse_header(header);
        let len = len as usize;
        let end = pos + HEADER_BYTES + len;
        let Some(payload) = data.get(pos + HEADER_BYTES..end) else {
            return torn("short payload");
        };
        let bad = if checksum(rec_seq, payload) != crc {
            Some("checksum mismatch".to_string())
        } else if rec_seq != seq + 1 {
            Some(format!("sequence {rec_seq} after {seq}"))
        } else {
            None
        };
        if let Some(reason) = bad {
            if end >= data.len() {
                return torn(&reason);
            }
            return Err(JournalError::Corrupt { offset: pos as u64, reason });
        }
        on_record(rec_seq, payload)
            .map_err(|reason| JournalError::Replay { seq: rec_seq, reason })?;
        seq = rec_seq;
        pos = end;
    }
    Ok((pos as u64, seq))
}

impl Journal for FileJournal {
    fn append(&mut self, record: &[u8]) -> Result<u64, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if record.len() > RECORD_MAX_BYTES {
            return Err(JournalError::RecordTooLarge(record.len()));
        }
        let seq = self.seq + 1;
        self.buf.clear();
        self.buf.extend_from_slice(&(record.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(&checksum(seq, record).to_le_bytes());
        self.buf.extend_from_slice(&seq.to_le_bytes());
        self.buf.extend_from_slice(record);
        if let Err(e) = self.out.write_all(&self.buf) {
            self.poisoned = true;
            return Err(e.into());
        }
        self.seq = seq;
        Ok(seq)
    }

    fn sync(&mut self) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        let r = self.out.flush().and_then(|()| self.out.get_ref().sync_data());
        if let Err(e) = r {
            self.poisoned = true;
            return Err(e.into());
        }
        Ok(())
    }

    fn last_seq(&self) -> u64 {
        self.seq
    }
}

/// An in-memory journal that can be told to fail, for fault-injection tests only.
#[derive(Debug, Default)]
pub struct FaultyJournal {
    /// Records made durable by a successful sync.
    pub durable: Vec<Vec<u8>>,
    pending: Vec<Vec<u8>>,
    /// Fail the sync with this number (1-based) and poison the journal.
    pub fail_sync_number: Option<u64>,
    syncs: u64,
    poisoned: bool,
}

impl Journal for FaultyJournal {
    fn append(&mut self, record: &[u8]) -> Result<u64, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        self.pending.push(record.to_vec());
        Ok((self.durable.len() + self.pending.len()) as u64)
    }

    fn sync(&mut self) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        self.syncs += 1;
        if self.fail_sync_number == Some(self.syncs) {
            self.poisoned = true;
            self.pending.clear();
            return Err(JournalError::Io(io::Error::other("injected fsync failure")));
        }
        self.durable.append(&mut self.pending);
        Ok(())
    }

    fn last_seq(&self) -> u64 {
        (self.durable.len() + self.pending.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(dir: &Path) -> Result<Vec<Vec<u8>>, JournalError> {
        let mut v = Vec::new();
        FileJournal::open(dir, |_, r| {
            v.push(r.to_vec());
            Ok(())
        })?;
        Ok(v)
    }

    #[test]
    fn torn_tail_is_truncated_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = FileJournal::open(dir.path(), |_, _| Ok(())).unwrap();
        for i in 0..10u8 {
            j.append(&[i; 100]).unwrap();
        }
        j.sync().unwrap();
        drop(j);
        let path = dir.path().join("journal.log");
        let len = std::fs::metadata(&path).unwrap().len();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 30).unwrap();
        assert_eq!(replay(dir.path()).unwrap().len(), 9);
        let (mut j, last) = FileJournal::open(dir.path(), |_, _| Ok(())).unwrap();
        assert_eq!(last, 9);
        assert_eq!(j.append(b"ten").unwrap(), 10);
        j.sync().unwrap();
        drop(j);
        let all = replay(dir.path()).unwrap();
        assert_eq!(all.len(), 10);
        assert_eq!(all[9], b"ten");
    }

    #[test]
    fn corruption_in_the_middle_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = FileJournal::open(dir.path(), |_, _| Ok(())).unwrap();
        for i in 0..10u8 {
            j.append(&[i; 100]).unwrap();
        }
        j.sync().unwrap();
        drop(j);
        let path = dir.path().join("journal.log");
        let mut data = std::fs::read(&path).unwrap();
        data[HEADER_BYTES + 50] ^= 0xff;
        std::fs::write(&path, &data).unwrap();
        match replay(dir.path()) {
            Err(JournalError::Corrupt { offset: 0, .. }) => {}
            other => panic!("expected corruption at 0, got {other:?}"),
        }
    }

    #[test]
    fn failed_sync_poisons() {
        let mut j = FaultyJournal { fail_sync_number: Some(2), ..FaultyJournal::default() };
        j.append(b"a").unwrap();
        j.sync().unwrap();
        j.append(b"b").unwrap();
        assert!(matches!(j.sync(), Err(JournalError::Io(_))));
        assert!(matches!(j.append(b"c"), Err(JournalError::Poisoned)));
        assert_eq!(j.durable, vec![b"a".to_vec()]);
    }
}
