//! Snapshot files: the caller's opaque state as of a sequence number, written atomically.
//!
//! Guarantees: a snapshot is visible under its final name only once its bytes are durable
//! (write to a temporary file, fsync, rename, fsync the directory); a damaged snapshot is
//! detected by its checksums and never delivered.
//! Must not: interpret the snapshot bytes, or delete anything but temporary files.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::segment::{le_u32, le_u64};
use crate::JournalError;

/// Bytes of the header at the start of every snapshot file.
pub const SNAPSHOT_HEADER_BYTES: usize = 40;
/// Magic bytes opening every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"IPSWSNAP";
const SNAPSHOT_VERSION: u32 = 1;

/// File name of the snapshot covering records up to `seq`.
pub(crate) fn snapshot_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.snap")
}

fn temp_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.tmp")
}

fn encode_header(seq: u64, data: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(SNAPSHOT_HEADER_BYTES);
    h.extend_from_slice(&SNAPSHOT_MAGIC);
    h.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    h.extend_from_slice(&(SNAPSHOT_HEADER_BYTES as u32).to_le_bytes());
    h.extend_from_slice(&seq.to_le_bytes());
    h.extend_from_slice(&(data.len() as u64).to_le_bytes());
    h.extend_from_slice(&crc32c::crc32c(data).to_le_bytes());
    let crc = crc32c::crc32c(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// Make `dir`'s entries (creations, renames, removals) durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Write the snapshot atomically; returns its final path.
pub(crate) fn write(dir: &Path, seq: u64, data: &[u8]) -> Result<PathBuf, JournalError> {
    let temp = dir.join(temp_name(seq));
    let path = dir.join(snapshot_name(seq));
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
        f.write_all(&encode_header(seq, data))?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&temp, &path)?;
        sync_dir(dir)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(e.into());
    }
    Ok(path)
}

/// Read and check the snapshot at `path`; `Err(reason)` if it is not a valid snapshot for
/// `seq` of at most `bytes_max` bytes of data.
pub(crate) fn read(path: &Path, seq: u64, bytes_max: u64) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let limit = SNAPSHOT_HEADER_BYTES as u64 + bytes_max;
    let mut raw = Vec::new();
    file.take(limit + 1).read_to_end(&mut raw).map_err(|e| format!("cannot read: {e}"))?;
    if raw.len() as u64 > limit {
        return Err(format!("larger than the snapshot limit of {bytes_max} bytes"));
    }
    let h = raw.get(..SNAPSHOT_HEADER_BYTES).ok_or("header cut short")?;
    if h.get(..8) != Some(&SNAPSHOT_MAGIC[..]) {
        return Err("not a snapshot (bad magic)".into());
    }
    let header_crc = le_u32(h, 36).unwrap_or_default();
    if crc32c::crc32c(h.get(..36).unwrap_or_default()) != header_crc {
        return Err("header checksum mismatch".into());
    }
    let version = le_u32(h, 8).unwrap_or_default();
    if version != SNAPSHOT_VERSION || le_u32(h, 12) != Some(SNAPSHOT_HEADER_BYTES as u32) {
        return Err(format!("snapshot format version {version} is not supported"));
    }
    let file_seq = le_u64(h, 16).unwrap_or_default();
    if file_seq != seq {
        return Err(format!("header says seq {file_seq}, file name says {seq}"));
    }
    let len = le_u64(h, 24).unwrap_or_default();
    let data = raw.get(SNAPSHOT_HEADER_BYTES..).unwrap_or_default();
    if data.len() as u64 != len {
        return Err(format!("{} data bytes, header says {len}", data.len()));
    }
    if crc32c::crc32c(data) != le_u32(h, 32).unwrap_or_default() {
        return Err("data checksum mismatch".into());
    }
    Ok(data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_snapshot_reads_back_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), 7, b"state at seven").unwrap();
        assert_eq!(read(&path, 7, 1 << 20).unwrap(), b"state at seven");
        assert!(read(&path, 8, 1 << 20).unwrap_err().contains("file name says 8"));
        assert!(read(&path, 7, 4).unwrap_err().contains("limit"));
        let mut raw = std::fs::read(&path).unwrap();
        *raw.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &raw).unwrap();
        assert!(read(&path, 7, 1 << 20).unwrap_err().contains("data checksum"));
        assert!(!dir.path().join(temp_name(7)).exists());
    }
}
