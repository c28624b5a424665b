//! Scenario: the process dies while the last record is being written, so the file ends at any
//! byte of that record (or with garbage after it). Recovery must keep every earlier record,
//! cut the tail, and let appends continue with the next sequence number.

use store::segment::SEGMENT_HEADER_BYTES;
use store::{FileJournal, Journal, JournalOptions, HEADER_BYTES};

use super::{assert_records, reopen, write_records};

const LEN: usize = 200;

#[test]
fn torn_at_every_byte_of_the_last_record() {
    let frame = (HEADER_BYTES + LEN) as u64;
    let opts = JournalOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 5, LEN);
    let path = j.path().to_path_buf();
    drop(j);
    let full = std::fs::read(&path).unwrap();
    assert_eq!(full.len() as u64, SEGMENT_HEADER_BYTES as u64 + 5 * frame);
    let last_start = full.len() - frame as usize;
    for cut in last_start..full.len() {
        std::fs::write(&path, &full[..cut]).unwrap();
        let (mut j, got) = reopen(dir.path(), &opts).unwrap();
        assert_records(&got.records, 1, 4, LEN);
        assert_eq!(j.recovery().truncated_bytes, (cut - last_start) as u64, "cut at {cut}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), last_start as u64);
        assert_eq!(j.append(&super::payload(5, LEN)).unwrap(), 5);
        j.sync().unwrap();
        drop(j);
        let (_, got) = reopen(dir.path(), &opts).unwrap();
        assert_records(&got.records, 1, 5, LEN);
    }
}

#[test]
fn a_corrupted_last_record_or_trailing_garbage_is_a_torn_tail() {
    let opts = JournalOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 3, LEN);
    let path = j.path().to_path_buf();
    drop(j);
    let mut data = std::fs::read(&path).unwrap();
    let n = data.len();
    data[n - 7] ^= 0x01;
    data.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&path, &data).unwrap();
    let (j, got) = reopen(dir.path(), &opts).unwrap();
    assert_records(&got.records, 1, 2, LEN);
    assert_eq!(j.recovery().truncated_bytes, (HEADER_BYTES + LEN + 4096) as u64);
}

#[test]
fn torn_tail_of_the_last_of_many_segments() {
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 100, LEN);
    let segments = j.segment_paths();
    assert!(segments.len() > 5);
    let path = j.path().to_path_buf();
    drop(j);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 1).unwrap();
    let (j, got) = reopen(dir.path(), &opts).unwrap();
    assert_records(&got.records, 1, 99, LEN);
    assert_eq!(j.segment_paths(), segments);
}

#[test]
fn a_segment_whose_creation_was_torn_is_removed() {
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 10, LEN);
    drop(j);
    // The roll to record 11 created the file but its header never reached the disk.
    let torn = dir.path().join(format!("journal-{:020}.seg", 11));
    std::fs::write(&torn, [0u8; 7]).unwrap();
    let (mut j, got) = reopen(dir.path(), &opts).unwrap();
    assert_records(&got.records, 1, 10, LEN);
    assert_eq!(j.recovery().truncated_bytes, 7);
    assert!(!torn.exists());
    assert_eq!(j.append(b"eleven").unwrap(), 11);
    j.sync().unwrap();
    drop(j);
    let (_, got) = reopen(dir.path(), &opts).unwrap();
    assert_eq!(got.records.last().unwrap(), &(11, b"eleven".to_vec()));
}

#[test]
fn read_only_replay_reports_the_torn_tail_without_cutting_it() {
    let opts = JournalOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, 4, LEN);
    let path = j.path().to_path_buf();
    drop(j);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 3).unwrap();
    let mut n = 0;
    let rec = FileJournal::replay_read_only(dir.path(), &opts, |_| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!((n, rec.last_seq, rec.records_replayed), (3, 3, 3));
    assert_eq!(rec.truncated_bytes, (HEADER_BYTES + LEN - 3) as u64);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len - 3);
}

/// xorshift64: a fixed, printed seed makes any failure replayable.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn cut_or_scribbled_at_pseudo_random_offsets_recovery_keeps_a_prefix() {
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let frame = (HEADER_BYTES + LEN) as u64;
    let per_segment = (4096 - SEGMENT_HEADER_BYTES as u64) / frame;
    let origin = tempfile::tempdir().unwrap();
    let j = write_records(origin.path(), &opts, 100, LEN);
    let last_path = j.path().to_path_buf();
    drop(j);
    let earlier = 100 / per_segment * per_segment; // records in segments before the last
    let last_clean = std::fs::read(&last_path).unwrap();
    let mut seed = 0x005E_ED0F_70E5_u64;
    for round in 0..60 {
        let state = seed;
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(origin.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
        let path = dir.path().join(last_path.file_name().unwrap());
        let body = (last_clean.len() - SEGMENT_HEADER_BYTES) as u64;
        let cut = SEGMENT_HEADER_BYTES as u64 + next(&mut seed) % body;
        let mut data = last_clean[..cut as usize].to_vec();
        if round % 2 == 1 {
            // A torn write that left garbage instead of nothing after the cut.
            data.extend((0..next(&mut seed) % 300).map(|_| next(&mut seed) as u8));
        }
        std::fs::write(&path, &data).unwrap();
        let whole = (cut - SEGMENT_HEADER_BYTES as u64) / frame;
        let (mut j, got) = reopen(dir.path(), &opts)
            .unwrap_or_else(|e| panic!("round {round} seed {state:#x} cut {cut}: {e}"));
        assert_records(&got.records, 1, earlier + whole, LEN);
        assert_eq!(j.append(b"next").unwrap(), earlier + whole + 1, "seed {state:#x}");
    }
}
