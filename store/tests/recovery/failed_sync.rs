//! Scenario: the disk fails a write or a sync. The journal must poison itself: the failing call
//! and every later one refuse, nothing is acknowledged that the failed sync covered, and a
//! restart recovers exactly what reached the disk. Real faults where Linux gives one without
//! privileges (`/dev/full` answers every write with ENOSPC); `FaultyJournal` for a failed fsync.

use std::os::unix::fs::symlink;

use store::group::{GroupCommitter, GroupError, GroupOptions};
use store::{FaultyJournal, Journal, JournalError, JournalOptions, HEADER_BYTES};

use super::{assert_records, payload, reopen, write_records};

const LEN: usize = 200;

#[test]
fn injected_fsync_failure_poisons_the_plain_journal() {
    let mut j = FaultyJournal::failing_at_sync(2);
    j.append(b"a").unwrap();
    j.sync().unwrap();
    j.append(b"b").unwrap();
    assert!(matches!(j.sync(), Err(JournalError::Io(_))));
    assert!(matches!(j.append(b"c"), Err(JournalError::Poisoned)));
    assert!(matches!(j.sync(), Err(JournalError::Poisoned)));
    assert!(j.is_poisoned());
    assert_eq!(j.durable, vec![b"a".to_vec()]);
}

#[test]
fn injected_fsync_failure_poisons_the_group_committer() {
    let mut j = FaultyJournal::default();
    j.fail_sync_number = Some(2);
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    assert_eq!(g.append_durable(b"a".to_vec()), Ok(1));
    assert!(matches!(g.append_durable(b"b".to_vec()), Err(GroupError::SyncFailed(_))));
    assert_eq!(g.append_durable(b"c".to_vec()), Err(GroupError::Poisoned));
    assert!(g.handle().is_poisoned());
    assert_eq!(g.handle().durable_seq(), 1);
    let j = g.shutdown().unwrap();
    assert_eq!(j.durable, vec![b"a".to_vec()]);
}

#[test]
fn enospc_while_rolling_a_segment_poisons_and_restart_recovers() {
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let per_segment = (4096 - 32) / (HEADER_BYTES + LEN) as u64;
    let dir = tempfile::tempdir().unwrap();
    let mut j = write_records(dir.path(), &opts, per_segment, LEN);
    // The next segment's file is /dev/full: creating it "works", writing its header fails.
    let next = dir.path().join(format!("journal-{:020}.seg", per_segment + 1));
    symlink("/dev/full", &next).unwrap();
    match j.append(&payload(per_segment + 1, LEN)) {
        Err(JournalError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSPC)),
        other => panic!("expected ENOSPC, got {other:?}"),
    }
    assert!(j.is_poisoned());
    assert!(matches!(j.append(b"x"), Err(JournalError::Poisoned)));
    assert!(matches!(j.sync(), Err(JournalError::Poisoned)));
    assert!(matches!(j.write_snapshot(1, b"s"), Err(JournalError::Poisoned)));
    drop(j);
    // A segment that is not a regular file is refused, not read.
    match reopen(dir.path(), &opts) {
        Err(JournalError::Corrupt { reason, .. }) => assert!(reason.contains("regular file")),
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&next).unwrap();
    let (mut j, got) = reopen(dir.path(), &opts).unwrap();
    assert_records(&got.records, 1, per_segment, LEN);
    assert_eq!(j.append(b"after").unwrap(), per_segment + 1);
    j.sync().unwrap();
}

#[test]
fn enospc_on_a_snapshot_fails_it_without_poisoning_the_journal() {
    let opts = JournalOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let mut j = write_records(dir.path(), &opts, 3, LEN);
    let temp = dir.path().join(format!("snapshot-{:020}.tmp", 3));
    symlink("/dev/full", &temp).unwrap();
    assert!(matches!(j.write_snapshot(3, &[7u8; 100_000]), Err(JournalError::Io(_))));
    assert!(!temp.exists(), "the temporary file is cleaned up");
    assert!(!j.is_poisoned());
    assert_eq!(j.append(b"four").unwrap(), 4);
    j.sync().unwrap();
    j.write_snapshot(4, b"s4").unwrap();
    drop(j);
    let (_, got) = reopen(dir.path(), &opts).unwrap();
    assert_eq!(got.snapshot, Some((4, b"s4".to_vec())));
}

#[test]
fn enospc_under_the_group_committer_refuses_and_poisons() {
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let per_segment = (4096 - 32) / (HEADER_BYTES + LEN) as u64;
    let dir = tempfile::tempdir().unwrap();
    let j = write_records(dir.path(), &opts, per_segment, LEN);
    symlink("/dev/full", dir.path().join(format!("journal-{:020}.seg", per_segment + 1))).unwrap();
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    let err = g.append_durable(payload(per_segment + 1, LEN)).unwrap_err();
    assert!(matches!(err, GroupError::SyncFailed(ref m) if m.contains("I/O")), "{err}");
    assert_eq!(g.append_durable(b"x".to_vec()), Err(GroupError::Poisoned));
    let j = g.shutdown().unwrap();
    assert!(j.is_poisoned());
}
