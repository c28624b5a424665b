//! Durable reserve+post throughput: the ledger applies batches of transfers on one thread and
//! every batch is journaled through the group committer (`fdatasync` per group) before the
//! next step depends on it. The "ours" side of `benches/compare-postgres.sh`.
//!
//! Protocol per batch of pairs, as a switch runs it: reserve every transfer of the batch,
//! journal the batch's reserve commands as one record; only once that record is durable (the
//! point where the switch may forward the payment) post the batch and journal the posts as
//! a second record; a pair counts once its post record is durable. Several batches are in
//! flight at once, so the ledger thread keeps reserving while the journal thread syncs.
//! At the end the journal is replayed from disk into a fresh ledger, which must hold exactly
//! the same balances (so the figure is for work that really reached the disk).
//!
//! Usage: `cargo run --release -p store --example durable_ledger -- [pairs] [batch_pairs]
//! [dir]` (defaults 2,000,000 pairs, 2,048 pairs per batch, a temporary directory). Prints
//! `durable_ledger: pairs=N batch_pairs=B tps=X syncs=S pairs_per_sync=P replay_rps=R`.
//! Must not: be used as a test (it asserts nothing about speed) or depend on the switch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use ledger::{AccountFlags, Ledger, LedgerLimits};
use store::group::{ack_channel, GroupCommitter, GroupOptions};
use store::{FileJournal, JournalOptions, Replay};

const PARTICIPANTS: u64 = 1_000;
const FUNDING: u64 = 1;
/// Batches whose post record is not yet durable, at most.
const IN_FLIGHT: usize = 32;
/// Finalized batches the ledger remembers for idempotency before compacting them.
const KEEP_BATCHES: u64 = 16;
const TAG_RESERVE: u8 = 1;
const TAG_POST: u8 = 2;
const RESERVE_BYTES: usize = 1 + 16 + 8 + 8 + 8 + 8;
const POST_BYTES: usize = 1 + 16 + 8;

fn ledger() -> Ledger {
    let mut l = Ledger::with_limits(LedgerLimits { transfers_max: 1 << 22, ..Default::default() });
    l.create_account(FUNDING, AccountFlags::FUNDING).unwrap();
    for p in 0..PARTICIPANTS {
        l.create_account(100 + p, AccountFlags::SETTLEMENT).unwrap();
        l.fund(u128::from(p) + 1, FUNDING, 100 + p, 1 << 50, 0).unwrap();
    }
    l.preallocate(((KEEP_BATCHES as usize) + IN_FLIGHT + 2) * 4_096);
    l
}

/// The transfer of pair `n`: id, debit, credit, amount.
fn pair(n: u64) -> (u128, u64, u64, u64) {
    let debit = 100 + (n.wrapping_mul(7_919) % PARTICIPANTS);
    let credit = 100 + ((n.wrapping_mul(7_919) + 1 + n % 97) % PARTICIPANTS);
    (u128::from(n) + 1_000_000, debit, credit, 1 + n % 5_000)
}

/// Reserve the pairs of batch `b` and encode them as one journal record.
fn reserve_batch(l: &mut Ledger, b: u64, batch: u64, rec: &mut Vec<u8>) {
    rec.clear();
    let expires_at_ms = b + 1_000_000;
    for n in b * batch..(b + 1) * batch {
        let (id, debit, credit, amount) = pair(n);
        l.reserve(id, debit, credit, amount, expires_at_ms).unwrap();
        rec.push(TAG_RESERVE);
        rec.extend_from_slice(&id.to_le_bytes());
        for x in [debit, credit, amount, expires_at_ms] {
            rec.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// Post the pairs of batch `b` (time `b`), compact old ones, encode the posts as a record.
fn post_batch(l: &mut Ledger, b: u64, batch: u64, rec: &mut Vec<u8>) {
    rec.clear();
    for n in b * batch..(b + 1) * batch {
        let id = pair(n).0;
        l.post(id, b).unwrap();
        rec.push(TAG_POST);
        rec.extend_from_slice(&id.to_le_bytes());
        rec.extend_from_slice(&b.to_le_bytes());
    }
    l.compact(b.saturating_sub(KEEP_BATCHES));
}

fn u64_at(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().unwrap())
}

/// Apply one journal record (a batch of reserves or posts) to a ledger.
fn apply_record(l: &mut Ledger, mut data: &[u8]) -> Result<(), String> {
    while let Some(&tag) = data.first() {
        let id = u128::from_le_bytes(data[1..17].try_into().unwrap());
        match tag {
            TAG_RESERVE => {
                let (d, c, a, e) =
                    (u64_at(data, 17), u64_at(data, 25), u64_at(data, 33), u64_at(data, 41));
                l.reserve(id, d, c, a, e).map_err(|e| e.to_string())?;
                data = &data[RESERVE_BYTES..];
            }
            TAG_POST => {
                l.post(id, u64_at(data, 17)).map_err(|e| e.to_string())?;
                data = &data[POST_BYTES..];
            }
            other => return Err(format!("unknown tag {other}")),
        }
    }
    Ok(())
}

fn run(dir: &Path, pairs: u64, batch: u64) {
    let batches = pairs / batch;
    let opts = JournalOptions::default();
    let (journal, _) = FileJournal::open_with(dir, opts.clone(), |_| Ok(())).unwrap();
    let group_opts = GroupOptions { queue_max: 4 * IN_FLIGHT, ..GroupOptions::default() };
    let group = GroupCommitter::start(journal, group_opts).unwrap();
    let (ack_tx, ack_rx) = ack_channel(4 * IN_FLIGHT);
    let mut l = ledger();
    // Each record is handed over to the journal thread, so every batch gets a new buffer.
    let buffer = || Vec::with_capacity(batch as usize * RESERVE_BYTES);
    let (mut next, mut done, mut in_flight) = (0u64, 0u64, 0usize);
    let mut reserved_durable: VecDeque<u64> = VecDeque::new();
    let t0 = Instant::now();
    while done < batches {
        while next < batches && in_flight < IN_FLIGHT {
            let mut rec = buffer();
            reserve_batch(&mut l, next, batch, &mut rec);
            group.submit(rec, next * 2, &ack_tx).unwrap();
            next += 1;
            in_flight += 1;
        }
        let mut ack = ack_rx.recv().unwrap();
        loop {
            ack.result.unwrap();
            let b = ack.token / 2;
            if ack.token % 2 == 0 {
                reserved_durable.push_back(b);
            } else {
                done += 1;
                in_flight -= 1;
            }
            match ack_rx.try_recv() {
                Ok(a) => ack = a,
                Err(_) => break,
            }
        }
        // Acks of one sync arrive in submission order, so batches post in order.
        while let Some(b) = reserved_durable.pop_front() {
            let mut rec = buffer();
            post_batch(&mut l, b, batch, &mut rec);
            group.submit(rec, b * 2 + 1, &ack_tx).unwrap();
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let syncs = group.handle().batches_synced();
    drop(group.shutdown().unwrap());
    l.audit().unwrap();

    let mut fresh = ledger();
    let t1 = Instant::now();
    let rec = FileJournal::replay_read_only(dir, &opts, |r| {
        if let Replay::Record { data, .. } = r {
            apply_record(&mut fresh, data)?;
        }
        Ok(())
    })
    .unwrap();
    let replay_secs = t1.elapsed().as_secs_f64();
    assert_eq!(rec.last_seq, 2 * batches, "every batch journaled twice");
    for a in l.accounts_sorted() {
        assert_eq!(fresh.account(a.id).map(|f| f.balance()), Some(a.balance()), "{}", a.id);
    }
    fresh.audit().unwrap();
    let commands = 2 * batches * batch;
    let done_pairs = batches * batch;
    println!(
        "durable_ledger: pairs={done_pairs} batch_pairs={batch} tps={:.0} syncs={syncs} \
         pairs_per_sync={:.0} replay_rps={:.0}",
        done_pairs as f64 / secs,
        done_pairs as f64 / syncs.max(1) as f64,
        commands as f64 / replay_secs
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pairs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let batch: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_048).clamp(1, 65_536);
    match args.next() {
        Some(d) => run(Path::new(&d), pairs, batch),
        None => {
            let dir = tempfile::tempdir().unwrap();
            run(dir.path(), pairs, batch);
        }
    }
}
