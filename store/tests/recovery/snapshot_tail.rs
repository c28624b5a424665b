//! Scenario: restart after snapshots. Recovery delivers the newest valid snapshot and then only
//! the records after it; segments the oldest kept snapshot covers are deleted; a damaged newest
//! snapshot falls back to the previous one; a half-written snapshot is ignored.

use store::{Journal, JournalError, JournalOptions};

use super::{assert_records, payload, reopen, write_records};

const LEN: usize = 200;

fn opts() -> JournalOptions {
    JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() }
}

#[test]
fn snapshot_then_only_the_tail_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = write_records(dir.path(), &opts(), 100, LEN);
    j.write_snapshot(70, b"state after 70").unwrap();
    for seq in 101..=110 {
        j.append(&payload(seq, LEN)).unwrap();
    }
    j.sync().unwrap();
    drop(j);
    let (j, got) = reopen(dir.path(), &opts()).unwrap();
    assert_eq!(got.snapshot, Some((70, b"state after 70".to_vec())));
    assert_records(&got.records, 71, 110, LEN);
    assert_eq!(j.recovery().snapshot_seq, Some(70));
    assert_eq!(j.recovery().records_replayed, 40);
    assert_eq!(j.last_seq(), 110);
}

#[test]
fn segments_covered_by_the_oldest_kept_snapshot_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = write_records(dir.path(), &opts(), 100, LEN);
    let before = j.segment_paths();
    j.write_snapshot(40, b"s40").unwrap();
    // One snapshot kept so far: it covers every segment ending at or before record 40.
    let after_one = j.segment_paths();
    assert!(after_one.len() < before.len());
    assert!(after_one.iter().all(|p| p.exists()));
    assert!(before.iter().filter(|p| !after_one.contains(p)).all(|p| !p.exists()));
    j.write_snapshot(95, b"s95").unwrap();
    assert_eq!(j.snapshot_seqs(), &[40, 95]);
    j.write_snapshot(100, b"s100").unwrap();
    assert_eq!(j.snapshot_seqs(), &[95, 100]);
    assert!(!dir.path().join(format!("snapshot-{:020}.snap", 40)).exists());
    let kept = j.segment_paths();
    assert!(kept.len() < after_one.len());
    drop(j);
    let (mut j, got) = reopen(dir.path(), &opts()).unwrap();
    assert_eq!(got.snapshot, Some((100, b"s100".to_vec())));
    assert!(got.records.is_empty());
    assert_eq!(j.segment_paths(), kept);
    assert_eq!(j.append(b"next").unwrap(), 101);
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = write_records(dir.path(), &opts(), 100, LEN);
    j.write_snapshot(50, b"s50").unwrap();
    j.write_snapshot(90, b"s90").unwrap();
    drop(j);
    let newest = dir.path().join(format!("snapshot-{:020}.snap", 90));
    let mut raw = std::fs::read(&newest).unwrap();
    *raw.last_mut().unwrap() ^= 0x10;
    std::fs::write(&newest, &raw).unwrap();
    let (j, got) = reopen(dir.path(), &opts()).unwrap();
    assert_eq!(got.snapshot, Some((50, b"s50".to_vec())));
    assert_records(&got.records, 51, 100, LEN);
    let damaged = &j.recovery().damaged_snapshots;
    assert_eq!(damaged.len(), 1);
    assert!(damaged[0].contains("data checksum"), "{damaged:?}");
    assert!(newest.exists(), "a damaged snapshot is left for an operator");
}

#[test]
fn a_half_written_snapshot_is_ignored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts(), 10, LEN);
    drop(j);
    let temp = dir.path().join(format!("snapshot-{:020}.tmp", 10));
    std::fs::write(&temp, b"IPSWSNAP half").unwrap();
    let (_, got) = reopen(dir.path(), &opts()).unwrap();
    assert_eq!(got.snapshot, None);
    assert_records(&got.records, 1, 10, LEN);
    assert!(!temp.exists());
}

#[test]
fn a_journal_that_ends_before_its_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = write_records(dir.path(), &opts(), 10, LEN);
    j.write_snapshot(10, b"s10").unwrap();
    let path = j.path().to_path_buf();
    drop(j);
    // Lose the last two records behind the journal's back.
    let len = std::fs::metadata(&path).unwrap().len();
    let frame = (store::HEADER_BYTES + LEN) as u64;
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 2 * frame).unwrap();
    match reopen(dir.path(), &opts()) {
        Err(JournalError::Corrupt { reason, .. }) => assert!(reason.contains("records lost")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_crash_between_snapshot_rename_and_compaction_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = write_records(dir.path(), &opts(), 100, LEN);
    let all_segments = j.segment_paths();
    // The state of a process that died after the rename, before deleting any segment.
    let crashed = tempfile::tempdir().unwrap();
    for p in &all_segments {
        std::fs::copy(p, crashed.path().join(p.file_name().unwrap())).unwrap();
    }
    j.write_snapshot(60, b"s60").unwrap();
    drop(j);
    let snap = format!("snapshot-{:020}.snap", 60);
    std::fs::copy(dir.path().join(&snap), crashed.path().join(&snap)).unwrap();
    let (j, got) = reopen(crashed.path(), &opts()).unwrap();
    assert_eq!(got.snapshot, Some((60, b"s60".to_vec())));
    assert_records(&got.records, 61, 100, LEN);
    let kept = j.segment_paths();
    assert!(kept.len() < all_segments.len(), "compaction ran at open");
    let on_disk = std::fs::read_dir(crashed.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".seg"))
        .count();
    assert_eq!(on_disk, kept.len());
}
