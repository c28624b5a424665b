//! The embedded journal: segmented append-only files, snapshots, recovery.
//! PERFORMANCE CRITICAL PATH: `append` and `sync` run for every transfer batch.
//!
//! Guarantees: a record is on disk once `sync` returns (one `fdatasync` per batch); a segment
//! is fully synced before the next one is created, and every creation, rename or removal of a
//! file is followed by a directory fsync; after a failed write or sync the journal is poisoned
//! and refuses every later call; recovery truncates only a torn tail of the last segment and
//! refuses any other damage with [`JournalError::Corrupt`].
//! Must not: interpret records or snapshots, keep more than one batch of bytes in memory, or
//! delete a segment that the oldest kept snapshot does not fully cover.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::segment::{self, SEGMENT_HEADER_BYTES};
use crate::snapshot::{self, sync_dir};
use crate::{Journal, JournalError, HEADER_BYTES, RECORD_MAX_BYTES};

/// Name of the lock file in a journal directory (held with `flock` while a journal is open).
pub const LOCK_FILE_NAME: &str = "LOCK";

/// Largest segment file that recovery will read.
pub const SEGMENT_FILE_MAX_BYTES: u64 = 1 << 32;

/// Tuning and limits of a [`FileJournal`]. Construct with `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOptions {
    /// A segment is rolled before an append would take it past this size (a single record
    /// larger than this gets a segment of its own). Default 64 MiB.
    pub segment_bytes_max: u64,
    /// Appended frames are handed to the kernel once this many bytes are buffered (and at
    /// every sync). Default 1 MiB.
    pub write_buffer_bytes: usize,
    /// Largest snapshot accepted by `write_snapshot` and read at recovery. Default 1 GiB.
    pub snapshot_bytes_max: u64,
    /// Snapshots kept on disk (at least 1). Segments are deleted once the oldest kept snapshot
    /// covers them, so a damaged newest snapshot can fall back to the previous one. Default 2.
    pub snapshots_keep: usize,
    /// Repair mode, for an operator after a power loss: damage anywhere in the last segment
    /// ends the journal there, even if valid records follow (normally that is refused as
    /// corruption). Those records are cut away and counted in `Recovery::truncated_bytes`.
    /// After a power loss, pages of an unsynced batch may reach the disk out of order, which
    /// looks like damage in the middle. Default false; never set it by default in a config.
    pub repair_truncate_tail: bool,
    /// Hand each batch's write and its `fdatasync` to the kernel through io_uring, linked, in
    /// one submission. Needs the crate's `uring` feature (refused with
    /// [`JournalError::InvalidOptions`] without it) and a kernel that allows io_uring.
    /// Default: true when built with the feature, false otherwise. On the development
    /// machine it measured 0 to 25% slower than `write` + `fdatasync` (BENCHMARKS.md, store),
    /// which is why the feature is off by default.
    pub io_uring: bool,
    /// Where segments go once the oldest kept snapshot covers them: moved into this
    /// directory (durably: see `archive.rs`) instead of deleted, so auditors keep the whole
    /// history ([`FileJournal::replay_history_read_only`]) while restart still begins at the
    /// snapshot. Created at open if missing; must not be the journal directory. Best on the
    /// same file system (a rename); elsewhere each segment is copied on the thread that wrote
    /// the snapshot. Default None: covered segments are deleted.
    pub archive_dir: Option<PathBuf>,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_bytes_max: 64 << 20,
            write_buffer_bytes: 1 << 20,
            snapshot_bytes_max: 1 << 30,
            snapshots_keep: 2,
            repair_truncate_tail: false,
            io_uring: cfg!(feature = "uring"),
            archive_dir: None,
        }
    }
}

impl JournalOptions {
    fn validate(&self) -> Result<(), JournalError> {
        let bad = |s: String| Err(JournalError::InvalidOptions(s));
        let seg_min = (SEGMENT_HEADER_BYTES + HEADER_BYTES) as u64;
        let seg_max = SEGMENT_FILE_MAX_BYTES - RECORD_MAX_BYTES as u64 - seg_min;
        if self.segment_bytes_max < seg_min || self.segment_bytes_max > seg_max {
            return bad(format!(
                "segment_bytes_max {} must be between {seg_min} and {seg_max}",
                self.segment_bytes_max
            ));
        }
        if self.write_buffer_bytes == 0 || self.write_buffer_bytes > 1 << 30 {
            return bad(format!("write_buffer_bytes {} must be 1..=2^30", self.write_buffer_bytes));
        }
        if self.snapshots_keep == 0 || self.snapshots_keep > 64 {
            return bad(format!("snapshots_keep {} must be 1..=64", self.snapshots_keep));
        }
        if self.snapshot_bytes_max > 1 << 40 {
            return bad(format!("snapshot_bytes_max {} over 2^40", self.snapshot_bytes_max));
        }
        if self.io_uring && !cfg!(feature = "uring") {
            return bad("io_uring needs the store crate built with its `uring` feature".into());
        }
        Ok(())
    }
}

/// What recovery hands to the caller, in order: at most one snapshot, then every record after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay<'a> {
    /// The newest valid snapshot; it stands for every record up to and including `seq`.
    Snapshot {
        /// Last record the snapshot covers.
        seq: u64,
        /// The bytes given to [`FileJournal::write_snapshot`].
        data: &'a [u8],
    },
    /// A record after the snapshot (or after the start, without one).
    Record {
        /// Its sequence number.
        seq: u64,
        /// The bytes given to [`Journal::append`].
        data: &'a [u8],
    },
}

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Sequence number of the snapshot delivered, if any.
    pub snapshot_seq: Option<u64>,
    /// Records delivered after the snapshot.
    pub records_replayed: u64,
    /// Last sequence number; the next append gets this plus one.
    pub last_seq: u64,
    /// Bytes of torn tail cut away (or, read-only, that would be).
    pub truncated_bytes: u64,
    /// Snapshot files skipped as damaged, each as `name: reason` (left on disk for an operator).
    pub damaged_snapshots: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) first_seq: u64,
    pub(crate) path: PathBuf,
}

fn segment_name(first_seq: u64) -> String {
    format!("journal-{first_seq:020}.seg")
}

fn parse_seq(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a journal directory holds: segments and snapshot seqs ascending, stray temp files.
type Listing = (Vec<Segment>, Vec<u64>, Vec<PathBuf>);

pub(crate) fn list_dir(dir: &Path) -> Result<Listing, JournalError> {
    let (mut segments, mut snapshots, mut temps) = (Vec::new(), Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(first_seq) = parse_seq(name, "journal-", ".seg") {
            segments.push(Segment { first_seq, path: entry.path() });
        } else if let Some(seq) = parse_seq(name, "snapshot-", ".snap") {
            snapshots.push(seq);
        } else if parse_seq(name, "snapshot-", ".tmp").is_some() {
            temps.push(entry.path());
        } else if name == "journal.log" {
            return Err(JournalError::UnsupportedLayout(format!(
                "{} is a single-file journal of the first prototype; this build reads \
                 segments only (schemas/journal-format.md)",
                entry.path().display()
            )));
        }
    }
    segments.sort_by_key(|s| s.first_seq);
    snapshots.sort_unstable();
    Ok((segments, snapshots, temps))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn read_segment(path: &Path) -> Result<Vec<u8>, JournalError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let reason = format!("{} is not a regular file", file_name(path));
        return Err(JournalError::Corrupt { offset: 0, reason });
    }
    let mut data = Vec::with_capacity(meta.len().min(SEGMENT_FILE_MAX_BYTES) as usize + 1);
    File::open(path)?.take(SEGMENT_FILE_MAX_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > SEGMENT_FILE_MAX_BYTES {
        let reason = format!("{} is larger than {SEGMENT_FILE_MAX_BYTES} bytes", file_name(path));
        return Err(JournalError::Corrupt { offset: SEGMENT_FILE_MAX_BYTES, reason });
    }
    Ok(data)
}

/// Create a segment file holding only its header, durable with its directory entry.
fn create_segment(dir: &Path, first_seq: u64) -> Result<(PathBuf, File), JournalError> {
    let path = dir.join(segment_name(first_seq));
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&path)?;
    file.write_all(&segment::encode_segment_header(first_seq))?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok((path, file))
}

/// The state recovery leaves behind.
struct Recovered {
    segments: Vec<Segment>,
    snapshots: Vec<u64>,
    /// Valid length of the last segment, if it stays the active one.
    active_len: Option<u64>,
    report: Recovery,
}

pub(crate) type ReplayFn<'f> = dyn FnMut(Replay<'_>) -> Result<(), String> + 'f;

/// Deliver the newest valid snapshot; returns the valid snapshots' seqs and the one delivered.
fn recover_snapshot(
    dir: &Path,
    opts: &JournalOptions,
    names: &[u64],
    on_replay: &mut ReplayFn<'_>,
    report: &mut Recovery,
) -> Result<Vec<u64>, JournalError> {
    let mut valid = Vec::with_capacity(names.len());
    for &seq in names.iter().rev() {
        let path = dir.join(snapshot::snapshot_name(seq));
        if report.snapshot_seq.is_some() {
            valid.push(seq);
            continue;
        }
        match snapshot::read(&path, seq, opts.snapshot_bytes_max) {
            Ok(data) => {
                on_replay(Replay::Snapshot { seq, data: &data })
                    .map_err(|reason| JournalError::Replay { seq, reason })?;
                report.snapshot_seq = Some(seq);
                valid.push(seq);
            }
            Err(reason) => report.damaged_snapshots.push(format!("{}: {reason}", file_name(&path))),
        }
    }
    valid.reverse();
    Ok(valid)
}

/// What recovery of every segment shares.
pub(crate) struct RecoverCtx<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) opts: &'a JournalOptions,
    /// Records up to here are covered by the snapshot: checked, not delivered.
    pub(crate) covered: u64,
    /// False for a read-only replay: nothing on disk changes.
    pub(crate) mutate: bool,
}

/// What recovering one segment found.
pub(crate) enum SegmentEnd {
    /// The last segment's creation was torn before its header was durable (file removed).
    TornCreation,
    /// Records up to `last_seq`; the file's valid length.
    Scanned { last_seq: u64, valid_len: u64 },
}

/// Check and replay one segment; `expected_first` is where the previous segment ended + 1.
pub(crate) fn recover_segment(
    ctx: &RecoverCtx<'_>,
    seg: &Segment,
    is_last: bool,
    expected_first: Option<u64>,
    on_replay: &mut ReplayFn<'_>,
    report: &mut Recovery,
) -> Result<SegmentEnd, JournalError> {
    let name = file_name(&seg.path);
    let data = read_segment(&seg.path)?;
    let first_seq = match segment::decode_segment_header(&data) {
        Ok(first) => first,
        Err(_) if is_last && data.len() <= SEGMENT_HEADER_BYTES => {
            // Torn creation: the header never became durable, so no record is in it.
            report.truncated_bytes += data.len() as u64;
            if ctx.mutate {
                std::fs::remove_file(&seg.path)?;
                sync_dir(ctx.dir)?;
            }
            return Ok(SegmentEnd::TornCreation);
        }
        Err(reason) => {
            let reason = format!("{name}: {reason}");
            return Err(JournalError::Corrupt { offset: 0, reason });
        }
    };
    let expected = expected_first.unwrap_or(seg.first_seq);
    if first_seq != seg.first_seq || first_seq != expected {
        let reason = format!("{name}: header says first record {first_seq}, expected {expected}");
        return Err(JournalError::Corrupt { offset: 0, reason });
    }
    let mut deliver = |seq: u64, data: &[u8]| on_replay(Replay::Record { seq, data });
    let role = segment::SegmentRole { is_last, repair: ctx.opts.repair_truncate_tail };
    let end = segment::scan_segment(&name, &data, first_seq, &role, ctx.covered, &mut deliver)?;
    report.records_replayed += end.delivered;
    if is_last {
        let torn = data.len() as u64 - end.valid_len;
        report.truncated_bytes += torn;
        if ctx.mutate && torn > 0 {
            let f = OpenOptions::new().write(true).open(&seg.path)?;
            f.set_len(end.valid_len)?;
            f.sync_all()?;
        }
    }
    Ok(SegmentEnd::Scanned { last_seq: end.last_seq, valid_len: end.valid_len })
}

fn recover(
    dir: &Path,
    opts: &JournalOptions,
    on_replay: &mut ReplayFn<'_>,
    mutate: bool,
) -> Result<Recovered, JournalError> {
    let (mut segments, names, temps) = list_dir(dir)?;
    if mutate {
        for t in &temps {
            std::fs::remove_file(t)?;
        }
    }
    let mut report = Recovery::default();
    let snapshots = recover_snapshot(dir, opts, &names, on_replay, &mut report)?;
    let covered = report.snapshot_seq.unwrap_or(0);
    let Some(start) = segments.iter().rposition(|s| s.first_seq <= covered + 1) else {
        if let Some(first) = segments.first() {
            let reason = format!(
                "{} starts at record {} but records from {} are missing",
                file_name(&first.path),
                first.first_seq,
                covered + 1
            );
            return Err(JournalError::Corrupt { offset: 0, reason });
        }
        report.last_seq = covered;
        return Ok(Recovered { segments, snapshots, active_len: None, report });
    };
    let ctx = RecoverCtx { dir, opts, covered, mutate };
    let mut last = segments.get(start).map_or(covered, |s| s.first_seq - 1);
    let mut active_len = None;
    let mut i = start;
    while let Some(seg) = segments.get(i) {
        let is_last = i + 1 == segments.len();
        let expected_first = (i > start).then_some(last + 1);
        match recover_segment(&ctx, seg, is_last, expected_first, on_replay, &mut report)? {
            SegmentEnd::TornCreation => {
                segments.pop();
                break;
            }
            SegmentEnd::Scanned { last_seq, valid_len } => {
                last = last_seq;
                active_len = Some(valid_len);
            }
        }
        i += 1;
    }
    if last < covered {
        let reason = format!(
            "the journal ends at record {last} but snapshot {covered} covers more: records lost"
        );
        return Err(JournalError::Corrupt { offset: 0, reason });
    }
    report.last_seq = last;
    if segments.len() <= start {
        active_len = None;
    }
    Ok(Recovered { segments, snapshots, active_len, report })
}

/// The embedded journal: segmented append-only files with group commit and snapshots.
#[derive(Debug)]
pub struct FileJournal {
    dir: PathBuf,
    opts: JournalOptions,
    path: PathBuf,
    file: File,
    /// Logical length of the active segment, buffered bytes included.
    file_len: u64,
    buf: Vec<u8>,
    seq: u64,
    synced_seq: u64,
    poisoned: bool,
    segments: Vec<Segment>,
    snapshots: Vec<u64>,
    recovery: Recovery,
    /// Batches written and synced through io_uring (`JournalOptions::io_uring`).
    #[cfg(feature = "uring")]
    ring: Option<crate::uring::SyncRing>,
    /// The directory's `LOCK` file, exclusively locked while this journal lives (the kernel
    /// releases the lock when the file is closed, also when the process dies).
    _lock: File,
}

/// Tries to take a journal directory's lock before answering [`JournalError::Locked`], one
/// [`LOCK_RETRY_PAUSE`] apart. Retrying covers one case only: a thread of this process
/// forking a child at the moment an earlier holder closed the lock file; the child holds a
/// copy of the descriptor (and so the lock) until it execs, a fraction of a millisecond.
const LOCK_TRIES_MAX: u32 = 50;
/// Pause between two tries of the lock (so a held lock is reported after about 100 ms).
const LOCK_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

/// Take the exclusive lock of `dir` (creating its `LOCK` file), or say who holds it.
fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE_NAME);
    let file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
    for attempt in 1..=LOCK_TRIES_MAX {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(file),
            Err(rustix::io::Errno::WOULDBLOCK) if attempt < LOCK_TRIES_MAX => {
                std::thread::sleep(LOCK_RETRY_PAUSE);
            }
            Err(rustix::io::Errno::WOULDBLOCK) => break,
            Err(e) => return Err(JournalError::Io(e.into())),
        }
    }
    Err(JournalError::Locked { dir: dir.display().to_string() })
}

/// Create `dir` and its parents if missing, its entry durable in its parent.
fn create_dir_durably(dir: &Path) -> Result<(), JournalError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?; // the new directory's entry is durable too
        }
    }
    Ok(())
}

impl FileJournal {
    /// Open (or create) the journal in `dir` with default options, replaying every record to
    /// `on_record` in order. Returns the journal, positioned for appending, and the last
    /// sequence number (the number of records replayed). Refuses with
    /// [`JournalError::Replay`] if the directory holds a snapshot: use
    /// [`FileJournal::open_with`] to receive it.
    pub fn open(
        dir: &Path,
        mut on_record: impl FnMut(u64, &[u8]) -> Result<(), String>,
    ) -> Result<(FileJournal, u64), JournalError> {
        FileJournal::open_with(dir, JournalOptions::default(), |r| match r {
            Replay::Record { seq, data } => on_record(seq, data),
            Replay::Snapshot { seq, .. } => Err(format!(
                "a snapshot covers records up to {seq}; open with FileJournal::open_with"
            )),
        })
    }

    /// Open (or create) the journal in `dir`: deliver the newest valid snapshot, then every
    /// record after it in order, truncate a torn tail, and return the journal positioned for
    /// appending with the last sequence number. The directory is locked (`flock` on its
    /// `LOCK` file) until the journal is dropped: a second open, from this process or another,
    /// fails with [`JournalError::Locked`] naming the directory.
    pub fn open_with(
        dir: &Path,
        opts: JournalOptions,
        mut on_replay: impl FnMut(Replay<'_>) -> Result<(), String>,
    ) -> Result<(FileJournal, u64), JournalError> {
        opts.validate()?;
        create_dir_durably(dir)?;
        if let Some(archive) = &opts.archive_dir {
            create_dir_durably(archive)?;
            if !archive.is_dir() {
                return Err(JournalError::InvalidOptions(format!(
                    "archive_dir {} is not a directory",
                    archive.display()
                )));
            }
            if std::fs::canonicalize(archive)? == std::fs::canonicalize(dir)? {
                return Err(JournalError::InvalidOptions(format!(
                    "archive_dir {} is the journal directory itself; name another directory",
                    archive.display()
                )));
            }
        }
        let lock = lock_dir(dir)?;
        let rec = recover(dir, &opts, &mut on_replay, true)?;
        let last_seq = rec.report.last_seq;
        let mut segments = rec.segments;
        let (path, mut file, file_len) = match (rec.active_len, segments.last()) {
            (Some(len), Some(seg)) => {
                let mut f = OpenOptions::new().write(true).open(&seg.path)?;
                f.seek(SeekFrom::Start(len))?;
                (seg.path.clone(), f, len)
            }
            _ => {
                let (path, f) = create_segment(dir, last_seq + 1)?;
                segments.push(Segment { first_seq: last_seq + 1, path: path.clone() });
                (path, f, SEGMENT_HEADER_BYTES as u64)
            }
        };
        file.seek(SeekFrom::Start(file_len))?;
        #[cfg(feature = "uring")]
        let ring = if opts.io_uring { Some(crate::uring::SyncRing::new()?) } else { None };
        let mut journal = FileJournal {
            dir: dir.to_path_buf(),
            path,
            file,
            file_len,
            buf: Vec::with_capacity(opts.write_buffer_bytes.min(1 << 20) + HEADER_BYTES),
            opts,
            seq: last_seq,
            synced_seq: last_seq,
            poisoned: false,
            segments,
            snapshots: rec.snapshots,
            recovery: rec.report,
            #[cfg(feature = "uring")]
            ring,
            _lock: lock,
        };
        journal.compact()?;
        Ok((journal, last_seq))
    }

    /// Replay the journal in `dir` exactly as [`FileJournal::open_with`] would, without
    /// changing anything on disk (for audits and tools). Returns what recovery found. Takes
    /// no lock: it may run beside the live journal (it then sees the records synced so far,
    /// and may report the batch being written as a torn tail).
    pub fn replay_read_only(
        dir: &Path,
        opts: &JournalOptions,
        mut on_replay: impl FnMut(Replay<'_>) -> Result<(), String>,
    ) -> Result<Recovery, JournalError> {
        opts.validate()?;
        Ok(recover(dir, opts, &mut on_replay, false)?.report)
    }

    /// Replay every record of the journal in `dir` from the oldest one kept, ignoring
    /// snapshots: first the segments in `opts.archive_dir` (if set), then those in `dir`, in
    /// sequence order, each record once (for audit tools: the history a snapshot replaced).
    /// Changes nothing on disk and takes no lock, like [`FileJournal::replay_read_only`].
    /// A gap between segments is refused with [`JournalError::Corrupt`]; where the history
    /// starts is in [`History::first_seq`](crate::History) (1 if it is complete).
    pub fn replay_history_read_only(
        dir: &Path,
        opts: &JournalOptions,
        mut on_record: impl FnMut(u64, &[u8]) -> Result<(), String>,
    ) -> Result<crate::History, JournalError> {
        opts.validate()?;
        crate::archive::replay_history(dir, opts, &mut on_record)
    }

    /// Write a snapshot of the caller's state as of record `seq` (syncing the journal first),
    /// atomically, then delete snapshots beyond `snapshots_keep` and segments the oldest kept
    /// snapshot covers (moved to `JournalOptions::archive_dir` instead, when it is set). `seq` must lie between the newest snapshot and the last appended
    /// record. A failure here does not poison the journal: the snapshot is an optimisation.
    pub fn write_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        let newest = self.snapshots.last().copied().unwrap_or(0);
        if seq > self.seq || seq < newest {
            let last_seq = self.seq;
            return Err(JournalError::SnapshotSeqInvalid {
                seq,
                newest_snapshot: newest,
                last_seq,
            });
        }
        if data.len() as u64 > self.opts.snapshot_bytes_max {
            return Err(JournalError::SnapshotTooLarge(data.len()));
        }
        if self.synced_seq < seq {
            self.sync()?;
        }
        snapshot::write(&self.dir, seq, data)?;
        if newest != seq {
            self.snapshots.push(seq);
        }
        self.compact()
    }

    /// Delete snapshots beyond the number kept, then segments the oldest kept one covers
    /// (or move them to the archive directory).
    fn compact(&mut self) -> Result<(), JournalError> {
        let mut changed = false;
        while self.snapshots.len() > self.opts.snapshots_keep {
            let old = self.snapshots.remove(0);
            std::fs::remove_file(self.dir.join(snapshot::snapshot_name(old)))?;
            changed = true;
        }
        if let Some(&oldest) = self.snapshots.first() {
            while self.segments.get(1).is_some_and(|next| next.first_seq <= oldest + 1) {
                // Forgotten only once gone from the directory: a failure is retried later.
                let Some(gone) = self.segments.first() else { break };
                match &self.opts.archive_dir {
                    Some(archive) => crate::archive::archive_segment(&gone.path, archive)?,
                    None => std::fs::remove_file(&gone.path)?,
                }
                self.segments.remove(0);
                changed = true;
            }
        }
        if changed {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Path of the active segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Directory holding the segments and snapshots.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Segment files on disk, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }

    /// Sequence numbers of the snapshots kept on disk, oldest first.
    pub fn snapshot_seqs(&self) -> &[u64] {
        &self.snapshots
    }

    /// What recovery found when this journal was opened.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// Last sequence number known durable.
    pub fn synced_seq(&self) -> u64 {
        self.synced_seq
    }

    /// True once a failed write or sync has poisoned the journal.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn poison(&mut self, e: JournalError) -> JournalError {
        self.poisoned = true;
        e
    }

    /// Hand the buffered frames to the kernel at their place in the active segment.
    fn write_out(&mut self) -> Result<(), JournalError> {
        if !self.buf.is_empty() {
            let offset = self.file_len - self.buf.len() as u64;
            self.file.write_all_at(&self.buf, offset)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Write the buffered frames and make the active segment's data durable: `write` +
    /// `fdatasync`, or one linked io_uring submission with `JournalOptions::io_uring`.
    fn write_and_sync(&mut self) -> Result<(), JournalError> {
        #[cfg(feature = "uring")]
        if let Some(ring) = self.ring.as_mut() {
            let offset = self.file_len - self.buf.len() as u64;
            ring.write_and_sync(&self.file, &mut self.buf, offset)?;
            self.buf.clear();
            return Ok(());
        }
        self.write_out()?;
        Ok(self.file.sync_data()?)
    }

    /// Make the active segment durable, then start the next one.
    fn roll(&mut self) -> Result<(), JournalError> {
        self.write_and_sync()?;
        self.synced_seq = self.seq;
        let first_seq = self.seq + 1;
        let (path, file) = create_segment(&self.dir, first_seq)?;
        self.segments.push(Segment { first_seq, path: path.clone() });
        self.path = path;
        self.file = file;
        self.file_len = SEGMENT_HEADER_BYTES as u64;
        Ok(())
    }
}

impl Journal for FileJournal {
    fn append(&mut self, record: &[u8]) -> Result<u64, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if record.len() > RECORD_MAX_BYTES {
            return Err(JournalError::RecordTooLarge(record.len()));
        }
        let frame = (HEADER_BYTES + record.len()) as u64;
        if self.file_len > SEGMENT_HEADER_BYTES as u64
            && self.file_len + frame > self.opts.segment_bytes_max
        {
            self.roll().map_err(|e| self.poison(e))?;
        }
        let seq = self.seq + 1;
        segment::encode_frame(&mut self.buf, seq, record);
        self.file_len += frame;
        self.seq = seq;
        if self.buf.len() >= self.opts.write_buffer_bytes {
            self.write_out().map_err(|e| self.poison(e))?;
        }
        Ok(seq)
    }

    fn sync(&mut self) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if self.synced_seq == self.seq && self.buf.is_empty() {
            return Ok(()); // nothing appended since the last sync: no fdatasync needed
        }
        let r = self.write_and_sync();
        r.map_err(|e| self.poison(e))?;
        self.synced_seq = self.seq;
        Ok(())
    }

    fn last_seq(&self) -> u64 {
        self.seq
    }

    fn write_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<(), JournalError> {
        FileJournal::write_snapshot(self, seq, data)
    }
}

impl Drop for FileJournal {
    /// Hands buffered frames to the kernel (not durable: only `sync` makes them so).
    fn drop(&mut self) {
        if !self.poisoned {
            let _ = self.write_out();
        }
    }
}
