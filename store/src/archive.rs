//! The audit archive: segments that a snapshot covers, moved out of the journal directory
//! instead of deleted (`JournalOptions::archive_dir`), and the read-only replay of the whole
//! history, archived segments first, then the live ones.
//!
//! Guarantees: a segment leaves the journal directory only once a complete, synced copy of it
//! is in the archive under its final name (a rename on one file system; on two, a copy to a
//! temporary name, fsync, rename, fsync of the archive directory, and only then the removal);
//! a crash at any step leaves the segment in the journal directory, where the next compaction
//! archives it again. History replay delivers every record once, in sequence, and refuses a
//! gap between segments with [`JournalError::Corrupt`].
//! Must not: change anything on disk when replaying, archive the active segment (the caller
//! archives only segments a snapshot fully covers), or touch snapshots.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use crate::file::{list_dir, recover_segment, RecoverCtx, Segment, SegmentEnd};
use crate::segment::OnRecord;
use crate::snapshot::sync_dir;
use crate::{JournalError, JournalOptions, Recovery, Replay};

/// What a replay of the whole history found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Sequence number of the first record delivered (0 if none): 1 when the archive holds
    /// the history from the start; more when segments were deleted before archiving was set.
    pub first_seq: u64,
    /// Sequence number of the last record delivered (0 if none).
    pub last_seq: u64,
    /// Records delivered.
    pub records: u64,
    /// Segment files read from the archive.
    pub archived_segments: usize,
    /// Segment files read from the journal directory.
    pub live_segments: usize,
    /// Bytes of torn tail at the end of the live journal, not delivered (a running journal's
    /// unsynced batch looks like this too).
    pub truncated_bytes: u64,
}

/// Move the closed, synced segment at `path` into `archive_dir` (same file name) durably.
/// The caller syncs the journal directory afterwards.
pub(crate) fn archive_segment(path: &Path, archive_dir: &Path) -> Result<(), JournalError> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::other(format!("segment path {} has no file name", path.display()))
    })?;
    let target = archive_dir.join(name);
    match std::fs::rename(path, &target) {
        Ok(()) => {
            sync_dir(archive_dir)?;
            return Ok(());
        }
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
        Err(e) => return Err(e.into()),
    }
    // Another file system: copy, make the copy durable under its final name, then remove.
    let mut temp_name = name.to_os_string();
    temp_name.push(".tmp");
    let temp = archive_dir.join(temp_name);
    let mut from = File::open(path)?;
    let mut to = OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
    io::copy(&mut from, &mut to)?;
    to.sync_all()?;
    drop(to);
    std::fs::rename(&temp, &target)?;
    sync_dir(archive_dir)?;
    std::fs::remove_file(path)?;
    Ok(())
}

/// The segments of the history: archived ones and live ones in sequence order (a segment in
/// both, left by a crash between copy and removal, is read once, from the journal
/// directory). Returns the list and how many of them come from the archive.
fn history_segments(
    dir: &Path,
    archive_dir: Option<&Path>,
) -> Result<(Vec<Segment>, usize), JournalError> {
    let mut by_first: BTreeMap<u64, (Segment, bool)> = BTreeMap::new();
    if let Some(archive_dir) = archive_dir {
        for seg in list_dir(archive_dir)?.0 {
            by_first.insert(seg.first_seq, (seg, true));
        }
    }
    for seg in list_dir(dir)?.0 {
        by_first.insert(seg.first_seq, (seg, false));
    }
    let archived = by_first.values().filter(|(_, archived)| *archived).count();
    Ok((by_first.into_values().map(|(seg, _)| seg).collect(), archived))
}

/// See [`crate::FileJournal::replay_history_read_only`].
pub(crate) fn replay_history(
    dir: &Path,
    opts: &JournalOptions,
    on_record: &mut OnRecord<'_>,
) -> Result<History, JournalError> {
    let (segments, archived) = history_segments(dir, opts.archive_dir.as_deref())?;
    let ctx = RecoverCtx { dir, opts, covered: 0, mutate: false };
    let mut report = Recovery::default();
    let mut history = History {
        archived_segments: archived,
        live_segments: segments.len() - archived,
        ..History::default()
    };
    let mut on_replay = |r: Replay<'_>| match r {
        Replay::Record { seq, data } => on_record(seq, data),
        Replay::Snapshot { .. } => Ok(()),
    };
    let mut last: Option<u64> = None;
    for (i, seg) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        let expected_first = last.map(|l| l + 1);
        if let (Some(want), true) = (expected_first, seg.first_seq > last.unwrap_or(0) + 1) {
            let reason = format!(
                "records {want} to {} are in no segment of the archive or the journal",
                seg.first_seq - 1
            );
            return Err(JournalError::Corrupt { offset: 0, reason });
        }
        match recover_segment(&ctx, seg, is_last, expected_first, &mut on_replay, &mut report)? {
            SegmentEnd::TornCreation => break,
            SegmentEnd::Scanned { last_seq, .. } => {
                if history.first_seq == 0 && last_seq >= seg.first_seq {
                    history.first_seq = seg.first_seq;
                }
                last = Some(last_seq);
            }
        }
    }
    history.records = report.records_replayed;
    history.truncated_bytes = report.truncated_bytes;
    history.last_seq = if history.records == 0 { 0 } else { last.unwrap_or(0) };
    Ok(history)
}
