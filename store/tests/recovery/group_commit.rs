//! Scenario: many producers share one journal through the group committer. Every record is
//! acknowledged once, in sequence order, only after its batch is durable; batches grow with the
//! load; a full queue answers Busy at once; shutdown makes everything queued durable.

use store::group::{Ack, GroupCommitter, GroupError, GroupOptions};
use store::{Journal, JournalError, JournalOptions, Replay};

use super::reopen;

#[test]
fn every_record_from_every_producer_is_durable_once_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let opts = JournalOptions { segment_bytes_max: 64 << 10, ..JournalOptions::default() };
    let (j, _) = store::FileJournal::open_with(dir.path(), opts.clone(), |_| Ok(())).unwrap();
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    let producers = 4u64;
    let per_producer = 500u64;
    let mut threads = Vec::new();
    for p in 0..producers {
        let h = g.handle();
        threads.push(std::thread::spawn(move || {
            let (tx, rx) = crossbeam_channel::bounded::<Ack>(64);
            let mut acked = Vec::new();
            for i in 0..per_producer {
                h.submit(format!("p{p} i{i}").into_bytes(), i, &tx).unwrap();
                if i % 32 == 31 {
                    acked.extend((0..32).map(|_| rx.recv().unwrap()));
                }
            }
            acked.extend((0..per_producer % 32).map(|_| rx.recv().unwrap()));
            (p, acked)
        }));
    }
    let mut by_seq = std::collections::BTreeMap::new();
    for t in threads {
        let (p, acks) = t.join().unwrap();
        let mut last = 0;
        for (i, ack) in acks.iter().enumerate() {
            assert_eq!(ack.token, i as u64, "acks come back in submission order");
            let seq = ack.result.clone().unwrap();
            assert!(seq > last);
            last = seq;
            assert!(by_seq.insert(seq, format!("p{p} i{i}")).is_none());
        }
    }
    let total = producers * per_producer;
    assert_eq!(by_seq.len() as u64, total);
    let h = g.handle();
    assert_eq!(h.durable_seq(), total);
    assert!(h.batches_synced() <= total);
    let j = g.shutdown().unwrap();
    assert_eq!(j.last_seq(), total);
    drop(j);
    let (_, got) = reopen(dir.path(), &opts).unwrap();
    assert_eq!(got.records.len() as u64, total);
    for (seq, data) in got.records {
        assert_eq!(by_seq[&seq].as_bytes(), &data[..]);
    }
}

/// A journal whose sync reports that it started, then waits to be released: it stalls the
/// writer so the queue fills up (a fault, injected).
struct StalledJournal {
    seq: u64,
    entered: crossbeam_channel::Sender<()>,
    release: crossbeam_channel::Receiver<()>,
}

impl Journal for StalledJournal {
    fn append(&mut self, _record: &[u8]) -> Result<u64, JournalError> {
        self.seq += 1;
        Ok(self.seq)
    }
    fn sync(&mut self) -> Result<(), JournalError> {
        let _ = self.entered.send(());
        let _ = self.release.recv();
        Ok(())
    }
    fn last_seq(&self) -> u64 {
        self.seq
    }
}

#[test]
fn a_full_queue_answers_busy_at_once_and_batches_the_backlog() {
    let (entered_tx, entered) = crossbeam_channel::bounded(4);
    let (release, release_rx) = crossbeam_channel::bounded(4);
    let j = StalledJournal { seq: 0, entered: entered_tx, release: release_rx };
    let opts = GroupOptions { queue_max: 8, batch_records_max: 100, ..GroupOptions::default() };
    let g = GroupCommitter::start(j, opts).unwrap();
    let (tx, rx) = crossbeam_channel::bounded::<Ack>(64);
    g.submit(b"first".to_vec(), 0, &tx).unwrap();
    entered.recv().unwrap(); // the writer now sits in the sync of a batch of one
    let mut submitted = 1u64;
    let busy = loop {
        match g.submit(b"record".to_vec(), submitted, &tx) {
            Ok(()) => submitted += 1,
            Err(e) => break e,
        }
        assert!(submitted <= 9, "the queue must be bounded");
    };
    assert_eq!((busy, submitted), (GroupError::Busy(8), 9));
    assert!(rx.is_empty(), "nothing is acknowledged before its sync returns");
    release.send(()).unwrap();
    entered.recv().unwrap(); // the backlog of 8 is in one batch, syncing
    assert_eq!(rx.try_recv().unwrap(), Ack { token: 0, result: Ok(1) });
    assert!(rx.is_empty());
    release.send(()).unwrap();
    let h = g.handle();
    drop(g); // joins the writer
    let acks: Vec<Ack> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(acks.len(), 8);
    for (i, a) in acks.iter().enumerate() {
        assert_eq!((a.token, a.result.clone()), (i as u64 + 1, Ok(i as u64 + 2)));
    }
    assert_eq!(h.batches_synced(), 2);
    assert_eq!(h.submit(b"late".to_vec(), 0, &tx), Err(GroupError::Stopped));
}

#[test]
fn a_record_over_the_limit_is_refused_without_harm() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = store::FileJournal::open(dir.path(), |_, _| Ok(())).unwrap();
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    let big = vec![0u8; store::RECORD_MAX_BYTES + 1];
    assert_eq!(g.append_durable(big), Err(GroupError::RecordTooLarge(store::RECORD_MAX_BYTES + 1)));
    assert_eq!(g.append_durable(b"ok".to_vec()), Ok(1));
    drop(g);
    let mut n = 0;
    store::FileJournal::replay_read_only(dir.path(), &JournalOptions::default(), |r| {
        assert_eq!(r, Replay::Record { seq: 1, data: b"ok" });
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_snapshot_through_the_writer_follows_the_records_queued_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let opts = JournalOptions { segment_bytes_max: 4096, ..JournalOptions::default() };
    let (j, _) = store::FileJournal::open_with(dir.path(), opts.clone(), |_| Ok(())).unwrap();
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    let (tx, rx) = crossbeam_channel::bounded::<Ack>(128);
    for i in 0..100 {
        g.submit(super::payload(i + 1, 200), i, &tx).unwrap();
    }
    // Queued after the 100 records: the writer makes them durable first.
    g.write_snapshot(100, b"state at 100".to_vec()).unwrap();
    assert_eq!(rx.len(), 100);
    assert!(matches!(
        g.write_snapshot(101, b"ahead".to_vec()),
        Err(GroupError::SnapshotFailed(m)) if m.contains("101")
    ));
    assert_eq!(g.append_durable(b"after".to_vec()), Ok(101));
    let j = g.shutdown().unwrap();
    assert_eq!(j.snapshot_seqs(), &[100]);
    assert_eq!(j.segment_paths().len(), 1, "segments covered by the snapshot are deleted");
    drop(j);
    let (_, got) = reopen(dir.path(), &opts).unwrap();
    assert_eq!(got.snapshot, Some((100, b"state at 100".to_vec())));
    assert_eq!(got.records, vec![(101, b"after".to_vec())]);
}

#[test]
fn a_journal_without_snapshots_refuses_them_by_name() {
    let g =
        GroupCommitter::start(store::FaultyJournal::default(), GroupOptions::default()).unwrap();
    let err = g.write_snapshot(0, b"s".to_vec()).unwrap_err();
    assert!(
        matches!(err, GroupError::SnapshotFailed(ref m) if m.contains("no snapshots")),
        "{err}"
    );
}
