//! Scenarios of the single writer thread: concurrent producers, back-pressure (Busy),
//! consistent snapshots for readers while the writer runs, and deterministic replay.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ledger::writer::{apply, Command, LedgerWriter, Outcome, WriterConfig, WriterError};
use ledger::{AccountFlags, Ledger};

const RTGS: u64 = 1;
const A: u64 = 10;
const B: u64 = 20;

fn funded() -> Ledger {
    let mut l = Ledger::default();
    l.create_account(RTGS, AccountFlags::FUNDING).unwrap();
    l.create_account(A, AccountFlags::SETTLEMENT).unwrap();
    l.create_account(B, AccountFlags::SETTLEMENT).unwrap();
    l.fund(1, RTGS, A, 1_000_000_000, 0).unwrap();
    l
}

/// One batch that moves exactly one unit from A to B through reserve and post.
fn unit_batch(id: u128) -> Vec<Command> {
    vec![
        Command::Reserve { id, debit: A, credit: B, amount: 1, expires_at_ms: 1_000 },
        Command::Post { id, now_ms: 10 },
    ]
}

#[test]
fn readers_see_consistent_snapshots_while_the_writer_runs() {
    let w = LedgerWriter::spawn(funded(), WriterConfig::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let h = w.handle();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut seen, mut last) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let s = h.snapshot();
                // Each batch moves one unit: a consistent cut has B == batches applied.
                assert_eq!(s.account(B).unwrap().balance(), i128::from(s.batches));
                assert_eq!(s.totals.balance_sum, 0);
                assert_eq!(s.accounts.iter().map(|a| a.balance()).sum::<i128>(), 0);
                assert!(s.batches >= last, "snapshots went backwards");
                last = s.batches;
                seen += 1;
            }
            seen
        })
    };
    let producers: Vec<_> = (0..3u128)
        .map(|p| {
            let h = w.handle();
            std::thread::spawn(move || {
                for i in 0..2_000u128 {
                    let batch = unit_batch(2 + p * 10_000 + i);
                    let out = loop {
                        match h.apply(batch.clone()) {
                            Err(WriterError::Busy) => std::thread::yield_now(),
                            other => break other.unwrap(),
                        }
                    };
                    assert_eq!(out, vec![Outcome::Transfer(Ok(())), Outcome::Transfer(Ok(()))]);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let h = w.handle();
    let l = w.shutdown().unwrap();
    assert_eq!(l.account(B).unwrap().balance(), 6_000);
    assert_eq!(h.snapshot().batches, 6_000);
    l.audit().unwrap();
}

#[test]
fn a_full_queue_answers_busy_and_loses_nothing() {
    let config = WriterConfig { queue_batches_max: 1, ..WriterConfig::default() };
    let w = LedgerWriter::spawn(funded(), config).unwrap();
    let h = w.handle();
    let big = |base: u128| -> Vec<Command> {
        (0..4_000u128).flat_map(|i| unit_batch(base + i)).collect()
    };
    let mut accepted = Vec::new();
    let mut busy = 0;
    for round in 0..200u128 {
        match h.submit(big(10 + round * 10_000)) {
            Ok(p) => accepted.push(p),
            Err(WriterError::Busy) => busy += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
        if busy > 0 && accepted.len() >= 2 {
            break;
        }
    }
    assert!(busy > 0, "a one-batch queue never filled");
    let n = accepted.len();
    for p in accepted {
        assert!(p.wait().unwrap().iter().all(|o| *o == Outcome::Transfer(Ok(()))));
    }
    assert_eq!(
        h.submit(big(0).into_iter().chain(big(0)).chain(big(0)).collect()).unwrap_err(),
        WriterError::BatchTooLarge
    );
    let l = w.shutdown().unwrap();
    // Busy batches were not applied at all; accepted ones completely.
    assert_eq!(l.account(B).unwrap().balance(), i128::try_from(n * 4_000).unwrap());
}

#[test]
fn the_writer_applies_exactly_what_a_pure_replay_applies() {
    let mut batches = Vec::new();
    for i in 0..500u128 {
        let mut b = unit_batch(100 + i);
        b.push(Command::Reserve { id: 100 + i, debit: A, credit: B, amount: 2, expires_at_ms: 5 });
        b.push(Command::Return { id: 5_000 + i, original: 100 + i / 2, amount: 1, now_ms: 11 });
        if i % 50 == 0 {
            b.push(Command::CloseWindow { now_ms: 12 });
            b.push(Command::Compact { before_ms: 0 });
        }
        batches.push(b);
    }
    let w = LedgerWriter::spawn(funded(), WriterConfig::default()).unwrap();
    let h = w.handle();
    let mut pure = funded();
    for b in &batches {
        let expected: Vec<Outcome> = b.iter().map(|c| apply(&mut pure, c)).collect();
        assert_eq!(h.apply(b.clone()).unwrap(), expected);
    }
    let l = w.shutdown().unwrap();
    assert_eq!(l.accounts_sorted().collect::<Vec<_>>(), pure.accounts_sorted().collect::<Vec<_>>());
    assert_eq!(l.totals(), pure.totals());
}
