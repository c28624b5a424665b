//! Scenario: an operator keeps the full history for auditors (`JournalOptions::archive_dir`).
//! Segments a snapshot covers move to the archive, byte for byte, instead of being deleted;
//! restart still begins at the snapshot; the history replay gives every record once, in
//! order, across the archive and the live journal, also after a crash between copy and
//! removal, and on another file system (tmpfs), and refuses a gap.

use std::path::{Path, PathBuf};

use store::{FileJournal, History, Journal, JournalError, JournalOptions};

use super::{assert_records, payload, reopen, write_records};

const LEN: usize = 200;
/// Fourteen 216-byte frames per segment.
const SEGMENT_BYTES: u64 = 32 + 14 * 216;

fn options(archive: &Path) -> JournalOptions {
    JournalOptions {
        segment_bytes_max: SEGMENT_BYTES,
        snapshots_keep: 1,
        archive_dir: Some(archive.to_path_buf()),
        ..JournalOptions::default()
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// Records as replayed: sequence number and payload.
type Records = Vec<(u64, Vec<u8>)>;

fn history(dir: &Path, opts: &JournalOptions) -> Result<(History, Records), JournalError> {
    let mut got = Vec::new();
    let h = FileJournal::replay_history_read_only(dir, opts, |seq, data| {
        got.push((seq, data.to_vec()));
        Ok(())
    })?;
    Ok((h, got))
}

/// 100 records over 8 segments, a snapshot at 60: segments up to record 56 are covered.
/// Returns the bytes of every segment before the snapshot, by file name.
fn write_and_snapshot(dir: &Path, opts: &JournalOptions) -> Vec<(String, Vec<u8>)> {
    let mut j = write_records(dir, opts, 100, LEN);
    let before: Vec<(String, Vec<u8>)> = segment_files(dir)
        .iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(p).unwrap()))
        .collect();
    assert_eq!(before.len(), 8);
    j.write_snapshot(60, b"state at 60").unwrap();
    before
}

fn check_archive(archive: &Path, dir: &Path, opts: &JournalOptions, before: &[(String, Vec<u8>)]) {
    // Segments 1-14, 15-28, 29-42 and 43-56 are covered by the snapshot: archived unchanged.
    let archived = segment_files(archive);
    assert_eq!(archived.len(), 4);
    for (p, (name, bytes)) in archived.iter().zip(before) {
        assert_eq!(p.file_name().unwrap().to_string_lossy(), *name);
        assert_eq!(&std::fs::read(p).unwrap(), bytes, "{name} archived byte for byte");
    }
    assert_eq!(segment_files(dir).len(), 4, "57-70 holds record 61, so it stays live");
    // Restart begins at the snapshot.
    let (_j, got) = reopen(dir, opts).unwrap();
    assert_eq!(got.snapshot, Some((60, b"state at 60".to_vec())));
    assert_records(&got.records, 61, 100, LEN);
}

#[test]
fn covered_segments_move_to_the_archive_and_history_replays_all() {
    let root = tempfile::tempdir().unwrap();
    let (dir, archive) = (root.path().join("journal"), root.path().join("archive"));
    let opts = options(&archive);
    let before = write_and_snapshot(&dir, &opts);
    check_archive(&archive, &dir, &opts, &before);
    let (h, got) = history(&dir, &opts).unwrap();
    assert_records(&got, 1, 100, LEN);
    let want = History {
        first_seq: 1,
        last_seq: 100,
        records: 100,
        archived_segments: 4,
        live_segments: 4,
        truncated_bytes: 0,
    };
    assert_eq!(h, want);
}

#[test]
fn the_archive_may_be_on_another_file_system() {
    let shm = Path::new("/dev/shm");
    let archive_root = tempfile::tempdir_in(shm).unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("journal");
    let archive = archive_root.path().join("archive");
    let opts = options(&archive);
    let before = write_and_snapshot(&dir, &opts);
    check_archive(&archive, &dir, &opts, &before);
    let leftovers: Vec<_> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_records(&history(&dir, &opts).unwrap().1, 1, 100, LEN);
}

#[test]
fn without_an_archive_covered_segments_are_deleted_and_history_says_where_it_starts() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("journal");
    let opts = JournalOptions { archive_dir: None, ..options(Path::new("unused")) };
    write_and_snapshot(&dir, &opts);
    assert!(!root.path().join("unused").exists());
    let (h, got) = history(&dir, &opts).unwrap();
    assert_records(&got, 57, 100, LEN);
    assert_eq!((h.first_seq, h.last_seq, h.archived_segments), (57, 100, 0));
}

#[test]
fn a_crash_between_copy_and_removal_is_read_once_and_archived_again() {
    let root = tempfile::tempdir().unwrap();
    let (dir, archive) = (root.path().join("journal"), root.path().join("archive"));
    let opts = options(&archive);
    write_and_snapshot(&dir, &opts);
    // As if the process died after the archive copy of 43-56 was durable, before the
    // removal (compaction archives oldest first, so that is the last one archived).
    let last_archived = segment_files(&archive)[3].clone();
    let back = dir.join(last_archived.file_name().unwrap());
    std::fs::copy(&last_archived, &back).unwrap();
    assert_records(&history(&dir, &opts).unwrap().1, 1, 100, LEN);
    let (_j, got) = reopen(&dir, &opts).unwrap();
    assert_records(&got.records, 61, 100, LEN);
    assert!(!back.exists(), "the next compaction archives it again");
    assert_eq!(segment_files(&archive).len(), 4);
}

#[test]
fn a_missing_archived_segment_is_refused_as_a_gap() {
    let root = tempfile::tempdir().unwrap();
    let (dir, archive) = (root.path().join("journal"), root.path().join("archive"));
    let opts = options(&archive);
    write_and_snapshot(&dir, &opts);
    std::fs::remove_file(&segment_files(&archive)[2]).unwrap();
    match history(&dir, &opts) {
        Err(JournalError::Corrupt { reason, .. }) => {
            assert!(reason.contains("records 29 to 42"), "{reason}");
        }
        other => panic!("expected a gap, got {other:?}"),
    }
    // Restart does not need the archive.
    let (_j, got) = reopen(&dir, &opts).unwrap();
    assert_records(&got.records, 61, 100, LEN);
}

#[test]
fn the_journal_directory_is_refused_as_its_own_archive() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("journal");
    let opts = options(&dir.join("."));
    match FileJournal::open_with(&dir, opts, |_| Ok(())) {
        Err(JournalError::InvalidOptions(m)) => assert!(m.contains("archive_dir"), "{m}"),
        other => panic!("{other:?}"),
    }
    let file = root.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    match FileJournal::open_with(&dir, options(&file), |_| Ok(())) {
        Err(JournalError::InvalidOptions(m)) => assert!(m.contains("not a directory"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn history_replay_of_a_live_journal_stops_at_its_torn_tail() {
    let root = tempfile::tempdir().unwrap();
    let (dir, archive) = (root.path().join("journal"), root.path().join("archive"));
    let opts = options(&archive);
    let mut j = write_records(&dir, &opts, 30, LEN);
    j.write_snapshot(30, b"s").unwrap();
    j.append(&payload(31, LEN)).unwrap();
    j.sync().unwrap();
    let last = segment_files(&dir).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(len - 5).unwrap();
    let (h, got) = history(&dir, &opts).unwrap();
    assert_records(&got, 1, 30, LEN);
    assert_eq!((h.last_seq, h.truncated_bytes), (30, LEN as u64 + 16 - 5));
}

#[test]
fn snapshots_through_the_group_committer_archive_on_its_writer_thread() {
    use store::group::{GroupCommitter, GroupOptions};
    let root = tempfile::tempdir().unwrap();
    let (dir, archive) = (root.path().join("journal"), root.path().join("archive"));
    let opts = options(&archive);
    let (j, _) = FileJournal::open_with(&dir, opts.clone(), |_| Ok(())).unwrap();
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    for seq in 1..=100 {
        assert_eq!(g.append_durable(payload(seq, LEN)), Ok(seq));
    }
    g.write_snapshot(60, b"state at 60".to_vec()).unwrap();
    drop(g.shutdown().unwrap());
    assert_eq!(segment_files(&archive).len(), 4);
    let (h, got) = history(&dir, &opts).unwrap();
    assert_records(&got, 1, 100, LEN);
    assert_eq!((h.archived_segments, h.live_segments), (4, 4));
    let (_j, got) = reopen(&dir, &opts).unwrap();
    assert_eq!(got.snapshot, Some((60, b"state at 60".to_vec())));
    assert_records(&got.records, 61, 100, LEN);
}

#[test]
fn an_archive_that_cannot_take_segments_fails_the_snapshot_not_the_journal() {
    let root = tempfile::tempdir().unwrap();
    let (dir, archive) = (root.path().join("journal"), root.path().join("archive"));
    let opts = options(&archive);
    let mut j = write_records(&dir, &opts, 100, LEN);
    // The archive directory is replaced by a plain file: every move into it fails.
    std::fs::remove_dir(&archive).unwrap();
    std::fs::write(&archive, b"not a directory").unwrap();
    match j.write_snapshot(60, b"state at 60") {
        Err(JournalError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR)),
        other => panic!("expected ENOTDIR, got {other:?}"),
    }
    assert!(!j.is_poisoned());
    assert_eq!(j.segment_paths().len(), 8, "no segment forgotten");
    assert_eq!(j.append(&payload(101, LEN)).unwrap(), 101);
    j.sync().unwrap();
    drop(j);
    assert_eq!(segment_files(&dir).len(), 8, "no segment lost");
    // Once the operator mends the archive, the next open moves the covered segments.
    std::fs::remove_file(&archive).unwrap();
    let (_j, got) = reopen(&dir, &opts).unwrap();
    assert_eq!(got.snapshot, Some((60, b"state at 60".to_vec())));
    assert_records(&got.records, 61, 101, LEN);
    assert_eq!(segment_files(&archive).len(), 4);
    assert_records(&history(&dir, &opts).unwrap().1, 1, 101, LEN);
}
