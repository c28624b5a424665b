//! Scenario: a journal written by an earlier build must keep loading (format-compatibility
//! guard). `tests/fixtures/journal-v1/` is frozen: never regenerate it to make a test pass;
//! a deliberate format change adds a new fixture and a reader for the old one.

use std::path::{Path, PathBuf};

use store::{Journal, JournalOptions};

use super::reopen;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-v1")
}

fn opts() -> JournalOptions {
    JournalOptions { segment_bytes_max: 512, ..JournalOptions::default() }
}

fn record(seq: u64) -> Vec<u8> {
    format!("fixture record {seq:04} ................").into_bytes()
}

/// How the fixture was made: 20 records in 512-byte segments, a snapshot at 10, the records
/// covered by it compacted away.
fn build(dir: &Path) {
    let (mut j, _) = store::FileJournal::open_with(dir, opts(), |_| Ok(())).unwrap();
    for seq in 1..=20 {
        j.append(&record(seq)).unwrap();
    }
    j.sync().unwrap();
    j.write_snapshot(10, b"fixture snapshot: balances as of record 10").unwrap();
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        // The empty lock file is not part of the format: it only carries the flock.
        .filter(|e| e.file_name() != store::LOCK_FILE_NAME)
        .map(|e| (e.file_name().into_string().unwrap(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

fn copy_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files(&fixture_dir()) {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    dir
}

#[test]
fn the_frozen_v1_journal_still_loads() {
    let dir = copy_fixture();
    let (mut j, got) = reopen(dir.path(), &opts()).unwrap();
    assert_eq!(got.snapshot, Some((10, b"fixture snapshot: balances as of record 10".to_vec())));
    let seqs: Vec<u64> = got.records.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (11..=20).collect::<Vec<_>>());
    for (seq, data) in &got.records {
        assert_eq!(data, &record(*seq));
    }
    assert_eq!(j.recovery().truncated_bytes, 0);
    assert_eq!(j.append(b"appended by this build").unwrap(), 21);
}

#[test]
fn this_build_writes_the_v1_format_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let ours = files(dir.path());
    let frozen = files(&fixture_dir());
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&frozen));
    for ((name, a), (_, b)) in ours.iter().zip(frozen.iter()) {
        assert!(a == b, "{name} differs from the frozen fixture");
    }
}

/// Writes the fixture; run by hand only when adding a new format version's fixture.
#[test]
#[ignore = "writes tests/fixtures; run by hand for a new format version"]
fn write_fixture() {
    if std::env::var("STORE_WRITE_FIXTURE").as_deref() != Ok("1") {
        return;
    }
    let dir = fixture_dir();
    assert!(!dir.exists(), "the fixture is frozen: {dir:?} exists");
    std::fs::create_dir_all(&dir).unwrap();
    build(&dir);
}
