//! Scenario: bits rot or a file is damaged somewhere other than a torn tail. Recovery must
//! refuse with `Corrupt` naming the file and offset, never silently drop good records: a bad
//! record followed by a valid one, any damage in a segment that is not the last, a damaged
//! segment header, a missing segment.

use store::segment::SEGMENT_HEADER_BYTES;
use store::{FileJournal, JournalError, JournalOptions, HEADER_BYTES};

use super::{reopen, write_records};

const LEN: usize = 200;
const FRAME: usize = HEADER_BYTES + LEN;

fn expect_corrupt(dir: &std::path::Path, opts: &JournalOptions) -> (u64, String) {
    match reopen(dir, opts) {
        Err(JournalError::Corrupt { offset, reason }) => (offset, reason),
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok((_, got)) => panic!("expected Corrupt, replayed {} records", got.records.len()),
    }
}

#[test]
fn any_damaged_byte_before_the_last_record_is_refused() {
    let opts = JournalOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 4, LEN);
    let path = j.path().to_path_buf();
    drop(j);
    let clean = std::fs::read(&path).unwrap();
    // Every byte of records 1..=3 (length, checksum, sequence and payload alike).
    for at in SEGMENT_HEADER_BYTES..SEGMENT_HEADER_BYTES + 3 * FRAME {
        let mut data = clean.clone();
        data[at] ^= 0x20;
        std::fs::write(&path, &data).unwrap();
        let (offset, reason) = expect_corrupt(dir.path(), &opts);
        let record_start = SEGMENT_HEADER_BYTES + (at - SEGMENT_HEADER_BYTES) / FRAME * FRAME;
        assert_eq!(offset, record_start as u64, "flip at {at}: {reason}");
        assert!(reason.contains("journal-00000000000000000001.seg"), "{reason}");
    }
    // Refusing truncated nothing.
    assert_eq!(std::fs::read(&path).unwrap().len(), clean.len());
}

#[test]
fn damage_anywhere_in_an_earlier_segment_is_refused_even_its_last_record() {
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 60, LEN);
    let first = j.segment_paths()[0].clone();
    drop(j);
    let mut data = std::fs::read(&first).unwrap();
    let n = data.len();
    data[n - 1] ^= 0x01;
    std::fs::write(&first, &data).unwrap();
    let (_, reason) = expect_corrupt(dir.path(), &opts);
    assert!(reason.contains("not the last"), "{reason}");
    // Cutting it short is just as wrong: an earlier segment was synced whole before the roll.
    std::fs::write(&first, &data[..n - 5]).unwrap();
    let (_, reason) = expect_corrupt(dir.path(), &opts);
    assert!(reason.contains("not the last"), "{reason}");
}

#[test]
fn a_damaged_segment_header_is_refused() {
    let opts = JournalOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 2, LEN);
    let path = j.path().to_path_buf();
    drop(j);
    let mut data = std::fs::read(&path).unwrap();
    data[16] ^= 0x01;
    std::fs::write(&path, &data).unwrap();
    let (offset, reason) = expect_corrupt(dir.path(), &opts);
    assert_eq!(offset, 0);
    assert!(reason.contains("header checksum"), "{reason}");
}

#[test]
fn a_missing_segment_is_refused() {
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 60, LEN);
    let segments = j.segment_paths();
    drop(j);
    assert!(segments.len() >= 3);
    std::fs::remove_file(&segments[1]).unwrap();
    let (_, reason) = expect_corrupt(dir.path(), &opts);
    assert!(reason.contains("expected"), "{reason}");
    std::fs::remove_file(&segments[0]).unwrap();
    let (_, reason) = expect_corrupt(dir.path(), &opts);
    assert!(reason.contains("missing"), "{reason}");
}

#[test]
fn a_record_with_a_valid_checksum_but_wrong_sequence_is_refused_at_the_tail() {
    let opts = JournalOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 3, LEN);
    let path = j.path().to_path_buf();
    drop(j);
    let data = std::fs::read(&path).unwrap();
    // Duplicate record 2 after record 3: well-formed, out of sequence.
    let mut dup = data.clone();
    dup.extend_from_slice(&data[SEGMENT_HEADER_BYTES + FRAME..SEGMENT_HEADER_BYTES + 2 * FRAME]);
    std::fs::write(&path, &dup).unwrap();
    let (_, reason) = expect_corrupt(dir.path(), &opts);
    assert!(reason.contains("sequence 2, expected 4"), "{reason}");
    let ro = FileJournal::replay_read_only(dir.path(), &opts, |_| Ok(()));
    assert!(matches!(ro, Err(JournalError::Corrupt { .. })));
}

#[test]
fn the_first_prototypes_single_file_layout_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("journal.log"), b"old").unwrap();
    match FileJournal::open(dir.path(), |_, _| Ok(())) {
        Err(JournalError::UnsupportedLayout(m)) => assert!(m.contains("journal.log")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn repair_mode_cuts_the_last_segment_at_its_first_bad_record_and_reports_it() {
    let opts = JournalOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 6, LEN);
    let path = j.path().to_path_buf();
    drop(j);
    // A hole of zeros over record 4, as an out-of-order writeback can leave after power loss.
    let mut data = std::fs::read(&path).unwrap();
    let at = SEGMENT_HEADER_BYTES + 3 * FRAME;
    data[at..at + FRAME].fill(0);
    std::fs::write(&path, &data).unwrap();
    let (_, reason) = expect_corrupt(dir.path(), &opts);
    assert!(reason.contains("repair_truncate_tail"), "{reason}");
    let repair = JournalOptions { repair_truncate_tail: true, ..JournalOptions::default() };
    let (j, got) = reopen(dir.path(), &repair).unwrap();
    super::assert_records(&got.records, 1, 3, LEN);
    assert_eq!(j.recovery().truncated_bytes, 3 * FRAME as u64);
    drop(j);
    let (_, got) = reopen(dir.path(), &opts).unwrap();
    super::assert_records(&got.records, 1, 3, LEN);
}

#[test]
fn repair_mode_still_refuses_damage_in_an_earlier_segment() {
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 60, LEN);
    let first = j.segment_paths()[0].clone();
    drop(j);
    let mut data = std::fs::read(&first).unwrap();
    data[SEGMENT_HEADER_BYTES + 5] ^= 1;
    std::fs::write(&first, &data).unwrap();
    let repair = JournalOptions { repair_truncate_tail: true, ..opts };
    let (_, reason) = expect_corrupt(dir.path(), &repair);
    assert!(reason.contains("not the last"), "{reason}");
}
