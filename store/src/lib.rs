//! Durability for the switch: an append-only journal whose records are on disk before
//! anything that depends on them is acknowledged.
//!
//! A tour:
//!
//! ```
//! use store::{FileJournal, Journal, JournalOptions, Replay};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let (mut j, replayed) = FileJournal::open(dir.path(), |_seq, _rec| Ok(())).unwrap();
//! assert_eq!(replayed, 0);
//! j.append(b"reserve 1").unwrap();
//! j.append(b"post 1").unwrap();
//! j.sync().unwrap(); // one fdatasync for the whole batch (group commit)
//! drop(j);
//! let mut seen = Vec::new();
//! let (mut j, n) = FileJournal::open(dir.path(), |seq, rec| {
//!     seen.push((seq, rec.to_vec()));
//!     Ok(())
//! })
//! .unwrap();
//! assert_eq!(n, 2);
//! assert_eq!(seen[1], (2, b"post 1".to_vec()));
//!
//! // A snapshot of the caller's state as of record 2: restart replays only what follows it.
//! j.write_snapshot(2, b"balances after 2").unwrap();
//! j.append(b"reserve 3").unwrap();
//! j.sync().unwrap();
//! drop(j);
//! let mut events = Vec::new();
//! let opts = JournalOptions { segment_bytes_max: 64 << 20, ..JournalOptions::default() };
//! let (_j, last) = FileJournal::open_with(dir.path(), opts, |r| {
//!     events.push(match r {
//!         Replay::Snapshot { seq, data } => (seq, data.to_vec()),
//!         Replay::Record { seq, data } => (seq, data.to_vec()),
//!     });
//!     Ok(())
//! })
//! .unwrap();
//! assert_eq!(last, 3);
//! assert_eq!(events, vec![(2, b"balances after 2".to_vec()), (3, b"reserve 3".to_vec())]);
//! ```
//!
//! Layout of a journal directory (see `schemas/journal-format.md` for every byte): segment files
//! `journal-<first seq, 20 digits>.seg`, each a 32-byte header then frames
//! `len: u32 | crc32c: u32 | seq: u64 | payload[len]` (little-endian, the checksum covering
//! `len`, `seq` and the payload), snapshot files `snapshot-<seq, 20 digits>.snap`, and an
//! empty `LOCK` file that an open [`FileJournal`] holds with `flock`, so that a second
//! process (or a second handle) opening the same directory is refused with
//! [`JournalError::Locked`] instead of interleaving its records.
//! Sequence numbers start at 1 and increase by one across segments. On open, a torn tail (the
//! last records of the last segment cut short or failing their checksum with nothing valid
//! after them) is truncated away; any other damage is refused with [`JournalError::Corrupt`].
//! A failed write or sync poisons the journal: every later call returns
//! [`JournalError::Poisoned`] and the process must restart and recover from disk.
//! Segments that the oldest kept snapshot covers are deleted, or, with
//! [`JournalOptions::archive_dir`], moved durably into an archive directory that
//! [`FileJournal::replay_history_read_only`] reads back, before the live segments, for audits.
//!
//! [`FileJournal`] is the plain single-threaded journal (the caller batches and calls `sync`);
//! [`group::GroupCommitter`] runs one on its own thread for many producers, syncing as soon as
//! its queue runs dry or a batch is full, and acknowledges each record once it is durable.
//!
//! Must not: decide business outcomes. Records are opaque bytes to this crate.

use std::io;

mod archive;
mod file;
pub mod group;
pub mod segment;
mod snapshot;
#[cfg(feature = "uring")]
mod uring;

pub use archive::History;
pub use file::{
    FileJournal, JournalOptions, Recovery, Replay, LOCK_FILE_NAME, SEGMENT_FILE_MAX_BYTES,
};
pub use snapshot::{SNAPSHOT_HEADER_BYTES, SNAPSHOT_MAGIC};

/// Frame header size: len (4) + crc (4) + seq (8).
pub const HEADER_BYTES: usize = 16;
/// Largest record accepted, in bytes.
pub const RECORD_MAX_BYTES: usize = 16 << 20;

/// Journal failures. `Io` and `Poisoned` mean the disk failed us; the others are named.
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
    /// Options out of their allowed range; the message names the option.
    #[error("invalid journal options: {0}")]
    InvalidOptions(String),
    /// A snapshot must cover at least the newest snapshot and at most the last record.
    #[error(
        "snapshot at record {seq} refused: it must lie between the newest snapshot \
         ({newest_snapshot}) and the last appended record ({last_seq})"
    )]
    SnapshotSeqInvalid {
        /// The sequence number asked for.
        seq: u64,
        /// The newest snapshot on disk (0 if none).
        newest_snapshot: u64,
        /// The last appended record.
        last_seq: u64,
    },
    /// A snapshot larger than [`JournalOptions::snapshot_bytes_max`].
    #[error("snapshot of {0} bytes is over the limit; raise snapshot_bytes_max or shrink it")]
    SnapshotTooLarge(usize),
    /// The directory holds a journal in a layout this build does not read (for example the
    /// single `journal.log` file of the first prototype); move it away or convert it.
    #[error("unsupported journal layout: {0}")]
    UnsupportedLayout(String),
    /// This journal implementation keeps no snapshots.
    #[error("snapshot at record {seq} refused: this journal keeps no snapshots")]
    SnapshotUnsupported {
        /// The sequence number asked for.
        seq: u64,
    },
    /// Another open journal (in this process or another one) holds the directory's lock
    /// file: two writers on one journal would interleave records. Stop the other process
    /// (or drop the other handle) first.
    #[error(
        "journal directory {dir} is in use: another process (or handle) holds {dir}/LOCK; \
         stop it before opening this journal"
    )]
    Locked {
        /// The journal directory.
        dir: String,
    },
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
///
/// The contract every implementation keeps (the embedded [`FileJournal`] and, later, a
/// ScyllaDB backend): sequence numbers start at 1 and go up by one with no gap; `append` does
/// no I/O that can be acknowledged; `sync` returns `Ok` only once every record appended
/// before it would survive the loss of the process and of the machine it runs on; after a
/// failed or timed-out `sync` the journal is poisoned (every later call answers
/// [`JournalError::Poisoned`]) because the outcome is unknown; a journal has one writer.
/// Opening and replay are not in the trait: each implementation has its own constructor that
/// delivers at most one [`Replay::Snapshot`] and then every later [`Replay::Record`] in
/// order, like [`FileJournal::open_with`], and hands back a journal positioned after them.
///
/// # What a ScyllaDB (or Cassandra) implementation must guarantee
///
/// The trait needs nothing that such a store cannot give, provided the backend does this
/// (written down here before any code, as there is no cluster to test against yet):
///
/// - **Order per partition.** Records live in rows keyed by
///   `((journal_id, bucket), seq)` with `bucket = seq / records_per_bucket` (partitions of
///   bounded size, a limit in the options) and `seq` the clustering key, ascending, so that a
///   replay reads bucket after bucket in sequence order. Each row carries the record's
///   CRC-32C as in the file format, checked at replay.
/// - **One writer, fenced.** Opening takes ownership with a lightweight transaction on a
///   `journal_owner` row (`UPDATE ... SET epoch = :new IF epoch = :seen`, `SERIAL`
///   consistency); a second writer gets the equivalent of [`JournalError::Locked`]. The new
///   owner then stamps its epoch, by LWT, into a static column of the bucket that will hold
///   its next record, and into each new bucket before its first row. Every batch `sync`
///   writes is a conditional batch on one bucket partition (`IF writer_epoch = :mine`), so a
///   writer that lost ownership (a stalled process, a split brain) cannot append after its
///   successor: its `sync` fails and poisons it. A batch that spans two buckets is two such
///   writes, first bucket first.
/// - **Durable means acknowledged by a quorum.** `sync` returns `Ok` only after the writes
///   are acknowledged at `QUORUM` (`LOCAL_QUORUM` in one data centre) with the Paxos commit
///   done; a timeout is a failed sync (the write may or may not have landed), never a retry
///   that could acknowledge twice. Recovery reads at `QUORUM` / `SERIAL` so that every
///   acknowledged record is seen.
/// - **Idempotent replay.** A record is written once under its sequence number (`IF NOT
///   EXISTS` semantics through the fenced batch); recovery after a poisoned sync reads what
///   landed and continues from the last contiguous record: a missing tail (a batch not
///   acknowledged) is a torn tail, a gap followed by records is corruption
///   ([`JournalError::Corrupt`]), exactly as for segment files. Replaying the same journal
///   twice delivers the same records; callers apply them idempotently.
/// - **Snapshots** are rows of bounded chunks (a limit like
///   [`JournalOptions::snapshot_bytes_max`], chunks well under the cell sizes Scylla
///   advises) written with their CRC before the row that names the newest snapshot; records
///   covered by the oldest kept snapshot are deleted (or kept, as with
///   [`JournalOptions::archive_dir`]) only after that row is written.
/// - **Errors** of the driver map to [`JournalError::Io`] (with `io::Error::other` and the
///   driver's message) until the backend needs a variant of its own; [`JournalError`] is
///   `#[non_exhaustive]`, so one can be added.
///
/// The blocking, `&mut self` shape fits: the backend runs on the group committer's writer
/// thread ([`group::GroupCommitter`]) and can block on its driver's future inside `sync`.
pub trait Journal: Send {
    /// Add a record to the current batch; returns its sequence number. Not durable until
    /// [`Journal::sync`] returns.
    fn append(&mut self, record: &[u8]) -> Result<u64, JournalError>;
    /// Make every appended record durable.
    fn sync(&mut self) -> Result<(), JournalError>;
    /// Sequence number of the last appended record (0 if none).
    fn last_seq(&self) -> u64;
    /// Store a snapshot of the caller's state as of record `seq`, so recovery can start there
    /// (see [`FileJournal::write_snapshot`]). Journals without snapshots refuse with
    /// [`JournalError::SnapshotUnsupported`].
    fn write_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<(), JournalError> {
        let _ = data;
        Err(JournalError::SnapshotUnsupported { seq })
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

impl FaultyJournal {
    /// A journal whose `number`th sync (1-based) fails and poisons it. (Callers outside this
    /// crate cannot use `..Default::default()` here: some fields are private.)
    pub fn failing_at_sync(number: u64) -> FaultyJournal {
        FaultyJournal { fail_sync_number: Some(number), ..FaultyJournal::default() }
    }

    /// True once an injected failure has poisoned the journal.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
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
    use std::path::Path;

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
        let path = j.path().to_path_buf();
        drop(j);
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
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
        let path = j.path().to_path_buf();
        drop(j);
        let mut data = std::fs::read(&path).unwrap();
        let first = segment::SEGMENT_HEADER_BYTES;
        data[first + HEADER_BYTES + 50] ^= 0xff;
        std::fs::write(&path, &data).unwrap();
        match replay(dir.path()) {
            Err(JournalError::Corrupt { offset, .. }) => assert_eq!(offset, first as u64),
            other => panic!("expected corruption at the first record, got {other:?}"),
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

    #[test]
    fn segments_roll_at_the_size_limit_and_replay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let opts = JournalOptions { segment_bytes_max: 1_000, ..JournalOptions::default() };
        let (mut j, _) = FileJournal::open_with(dir.path(), opts.clone(), |_| Ok(())).unwrap();
        for i in 0..50u64 {
            assert_eq!(j.append(&i.to_le_bytes().repeat(10)).unwrap(), i + 1);
        }
        j.sync().unwrap();
        let segments = j.segment_paths();
        assert_eq!(segments.len(), 5, "ten 96-byte frames per 1,000-byte segment");
        for p in &segments {
            assert!(std::fs::metadata(p).unwrap().len() <= 1_000);
        }
        drop(j);
        let mut seen = Vec::new();
        let (j, last) = FileJournal::open_with(dir.path(), opts, |r| {
            if let Replay::Record { seq, data } = r {
                seen.push((seq, data[0]));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(last, 50);
        assert_eq!(j.segment_paths(), segments);
        assert_eq!(seen.len(), 50);
        assert!(seen.iter().enumerate().all(|(i, &(s, b))| s == i as u64 + 1 && b == i as u8));
    }

    #[test]
    fn open_refuses_a_directory_with_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = FileJournal::open(dir.path(), |_, _| Ok(())).unwrap();
        j.append(b"a").unwrap();
        j.write_snapshot(1, b"state").unwrap();
        drop(j);
        match FileJournal::open(dir.path(), |_, _| Ok(())) {
            Err(JournalError::Replay { seq: 1, reason }) => assert!(reason.contains("open_with")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn snapshot_sequence_and_size_limits_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let opts = JournalOptions { snapshot_bytes_max: 8, ..JournalOptions::default() };
        let (mut j, _) = FileJournal::open_with(dir.path(), opts, |_| Ok(())).unwrap();
        j.append(b"a").unwrap();
        j.append(b"b").unwrap();
        assert!(matches!(
            j.write_snapshot(3, b"s"),
            Err(JournalError::SnapshotSeqInvalid { seq: 3, newest_snapshot: 0, last_seq: 2 })
        ));
        assert!(matches!(j.write_snapshot(2, &[0; 9]), Err(JournalError::SnapshotTooLarge(9))));
        j.write_snapshot(2, b"s").unwrap();
        assert_eq!(j.synced_seq(), 2);
        assert!(matches!(j.write_snapshot(1, b"s"), Err(JournalError::SnapshotSeqInvalid { .. })));
    }

    #[test]
    fn a_missing_directory_is_created_with_its_parents() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data/journal");
        let (mut j, _) = FileJournal::open(&dir, |_, _| Ok(())).unwrap();
        j.append(b"one").unwrap();
        j.sync().unwrap();
        drop(j);
        assert_eq!(replay(&dir).unwrap(), vec![b"one".to_vec()]);
    }

    #[test]
    fn io_uring_follows_the_feature_and_is_refused_by_name_without_it() {
        assert_eq!(JournalOptions::default().io_uring, cfg!(feature = "uring"));
        let dir = tempfile::tempdir().unwrap();
        let opts = JournalOptions { io_uring: true, ..JournalOptions::default() };
        let opened = FileJournal::open_with(dir.path(), opts, |_| Ok(()));
        if cfg!(feature = "uring") {
            opened.unwrap();
        } else {
            match opened {
                Err(JournalError::InvalidOptions(m)) => assert!(m.contains("`uring` feature")),
                other => panic!("{other:?}"),
            }
        }
    }

    /// Both write paths leave the same bytes on disk, segment rolls included.
    #[cfg(feature = "uring")]
    #[test]
    fn io_uring_and_plain_writes_leave_identical_files() {
        let write = |io_uring: bool| {
            let dir = tempfile::tempdir().unwrap();
            let opts = JournalOptions {
                segment_bytes_max: 20_000,
                write_buffer_bytes: 3_000,
                io_uring,
                ..JournalOptions::default()
            };
            let (mut j, _) = FileJournal::open_with(dir.path(), opts, |_| Ok(())).unwrap();
            for i in 0..700u64 {
                j.append(&i.to_le_bytes().repeat(1 + (i % 40) as usize)).unwrap();
                if i % 97 == 0 {
                    j.sync().unwrap();
                }
            }
            j.sync().unwrap();
            let files: Vec<(std::ffi::OsString, Vec<u8>)> = j
                .segment_paths()
                .iter()
                .map(|p| (p.file_name().unwrap().to_owned(), std::fs::read(p).unwrap()))
                .collect();
            (dir, files)
        };
        let (_a, with_uring) = write(true);
        let (_b, plain) = write(false);
        assert!(plain.len() > 3, "several segments: {}", plain.len());
        assert_eq!(with_uring, plain);
    }

    #[test]
    fn bad_options_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let opts = JournalOptions { segment_bytes_max: 10, ..JournalOptions::default() };
        match FileJournal::open_with(dir.path(), opts, |_| Ok(())) {
            Err(JournalError::InvalidOptions(m)) => assert!(m.contains("segment_bytes_max")),
            other => panic!("{other:?}"),
        }
    }
}
