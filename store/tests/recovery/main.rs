//! Crash and recovery scenarios for the journal, one file per scenario, in one test binary.
//!
//! Guarantees: every scenario works on real files in a temporary directory (fsync included);
//! fault injection only where a real fault cannot be produced.
//! Must not: assert on timings or depend on test order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod archive;
mod corruption_mid_file;
mod failed_sync;
mod fixture;
mod group_commit;
mod lock;
mod sigkill;
mod snapshot_tail;
mod torn_tail;

use std::path::Path;

use store::{FileJournal, Journal, JournalError, JournalOptions, Replay};

/// The payload of record `seq`: distinct per record and checkable after replay.
pub fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut v = format!("record {seq} ").into_bytes();
    v.resize(len.max(v.len()), (seq % 251) as u8);
    v
}

/// Append records `1..=n` (each `len` bytes) and sync.
pub fn write_records(dir: &Path, opts: &JournalOptions, n: u64, len: usize) -> FileJournal {
    let (mut j, last) = FileJournal::open_with(dir, opts.clone(), |_| Ok(())).unwrap();
    for seq in last + 1..=last + n {
        assert_eq!(j.append(&payload(seq, len)).unwrap(), seq);
    }
    j.sync().unwrap();
    j
}

/// What a replay delivered.
#[derive(Debug, Default)]
pub struct Replayed {
    pub snapshot: Option<(u64, Vec<u8>)>,
    pub records: Vec<(u64, Vec<u8>)>,
}

/// Open the journal (recovering it) and collect what it delivers.
pub fn reopen(dir: &Path, opts: &JournalOptions) -> Result<(FileJournal, Replayed), JournalError> {
    let mut out = Replayed::default();
    let (j, _) = FileJournal::open_with(dir, opts.clone(), |r| {
        match r {
            Replay::Snapshot { seq, data } => out.snapshot = Some((seq, data.to_vec())),
            Replay::Record { seq, data } => out.records.push((seq, data.to_vec())),
        }
        Ok(())
    })?;
    Ok((j, out))
}

/// Assert the records are exactly `from..=to` with their expected payloads.
pub fn assert_records(got: &[(u64, Vec<u8>)], from: u64, to: u64, len: usize) {
    let want: Vec<u64> = (from..=to).collect();
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, want);
    for (seq, data) in got {
        assert_eq!(data, &payload(*seq, len), "payload of record {seq}");
    }
}
