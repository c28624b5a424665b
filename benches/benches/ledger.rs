//! Ledger benchmarks: reserve+post pairs per second on one core (gross prefunded and
//! deferred net), the same through the single writer thread in batches, the cost of
//! closing a settlement window as participants grow, and of encoding and restoring a snapshot
//! of the ledger in steady state (what a restart from a snapshot pays).
//!
//! Guarantees: setup (accounts, funding, preallocation) is outside the timed loop; the
//! ledger runs in steady state (compacting finalized transfers as it goes) rather than
//! growing without bound. Must not touch the network or the disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ledger::writer::{Command, LedgerWriter, Outcome, WriterConfig};
use ledger::{AccountFlags, Ledger, LedgerLimits};

const RTGS: u64 = 1;
/// Participants in the canonical workload.
const PARTICIPANTS: u64 = 1_000;
/// Pairs per timed chunk, and how often finalized transfers are compacted.
const CHUNK: u64 = 8_192;
/// Transfers kept for idempotency in steady state (a few chunks).
const KEEP_MS: u64 = 4;
/// The live set in steady state: what to preallocate (not the limit: a table much larger
/// than its live set spreads entries over more memory and misses the cache more).
const LIVE: usize = (CHUNK * (KEEP_MS + 2)) as usize;

fn gross_ledger() -> Ledger {
    let mut l = Ledger::with_limits(LedgerLimits { transfers_max: 1 << 20, ..Default::default() });
    l.preallocate(LIVE);
    l.create_account(RTGS, AccountFlags::FUNDING).unwrap();
    for p in 0..PARTICIPANTS {
        l.create_account(100 + p, AccountFlags::SETTLEMENT).unwrap();
        l.fund(u128::from(p) + 1, RTGS, 100 + p, 1 << 50, 0).unwrap();
    }
    l
}

fn net_ledger() -> Ledger {
    let mut l = Ledger::with_limits(LedgerLimits { transfers_max: 1 << 20, ..Default::default() });
    l.preallocate(LIVE);
    l.create_account(RTGS, AccountFlags::FUNDING).unwrap();
    for p in 0..PARTICIPANTS {
        l.create_net_account(100 + p, 1 << 50).unwrap();
    }
    l
}

/// The accounts of pair `n`: a spread over all participants, never the same twice in a row.
fn pair_accounts(n: u64) -> (u64, u64) {
    let debit = 100 + (n.wrapping_mul(7_919) % PARTICIPANTS);
    let credit = 100 + ((n.wrapping_mul(7_919) + 1 + n % 97) % PARTICIPANTS);
    (debit, credit)
}

/// Runs `pairs` reserve+post pairs starting at pair number `next`; time is the chunk number.
fn run_pairs(l: &mut Ledger, next: &mut u64, pairs: u64) {
    for _ in 0..pairs {
        let n = *next;
        *next += 1;
        let id = u128::from(n) + 1_000_000;
        let (d, c) = pair_accounts(n);
        let now = n / CHUNK + 1;
        l.reserve(id, d, c, 1 + n % 5_000, now + 10).unwrap();
        l.post(id, now).unwrap();
        if n % CHUNK == CHUNK - 1 {
            l.compact(now.saturating_sub(KEEP_MS));
        }
    }
}

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger/reserve_post_single_thread");
    g.throughput(Throughput::Elements(CHUNK));
    for (name, make) in [("gross", gross_ledger as fn() -> Ledger), ("net", net_ledger)] {
        g.bench_function(name, |b| {
            let mut l = make();
            let mut next = 0;
            run_pairs(&mut l, &mut next, CHUNK * 8); // warm the maps
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    run_pairs(&mut l, &mut next, CHUNK);
                }
                start.elapsed()
            });
            l.audit().unwrap();
        });
    }
    g.finish();
}

/// One batch of `pairs` reserve+post pairs (and a compaction) for the writer.
fn writer_batch(next: &mut u64, pairs: u64) -> Vec<Command> {
    let mut cmds = Vec::with_capacity(usize::try_from(pairs * 2 + 1).unwrap());
    let mut now = 0;
    for _ in 0..pairs {
        let n = *next;
        *next += 1;
        let id = u128::from(n) + 1_000_000;
        let (debit, credit) = pair_accounts(n);
        now = n / CHUNK + 1;
        let amount = 1 + n % 5_000;
        cmds.push(Command::Reserve { id, debit, credit, amount, expires_at_ms: now + 10 });
        cmds.push(Command::Post { id, now_ms: now });
    }
    cmds.push(Command::Compact { before_ms: now.saturating_sub(KEEP_MS) });
    cmds
}

fn through_writer(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger/reserve_post_writer_thread");
    g.measurement_time(Duration::from_secs(8));
    for batch_pairs in [64u64, 512, 2_048] {
        let in_flight = 16;
        g.throughput(Throughput::Elements(CHUNK * 4));
        g.bench_with_input(BenchmarkId::new("batch_pairs", batch_pairs), &batch_pairs, |b, &bp| {
            let config = WriterConfig { queue_batches_max: 64, ..WriterConfig::default() };
            let w = LedgerWriter::spawn(gross_ledger(), config).unwrap();
            let h = w.handle();
            let mut next = 0;
            b.iter_custom(|iters| {
                // Batches are built before the clock starts: the caller's codec work.
                let total = iters * CHUNK * 4 / bp;
                let batches: Vec<_> = (0..total).map(|_| writer_batch(&mut next, bp)).collect();
                let start = Instant::now();
                let mut pending = std::collections::VecDeque::new();
                for batch in batches {
                    if pending.len() >= in_flight {
                        let p: ledger::writer::Pending = pending.pop_front().unwrap();
                        assert_eq!(p.wait().unwrap()[0], Outcome::Transfer(Ok(())));
                    }
                    // The queue holds more than `in_flight` batches: never busy here.
                    pending.push_back(h.submit(batch).unwrap());
                }
                for p in pending {
                    p.wait().unwrap();
                }
                start.elapsed()
            });
            let l = w.shutdown().unwrap();
            l.audit().unwrap();
            let _ = h.snapshot();
        });
    }
    g.finish();
}

fn close_window(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger/close_window");
    for participants in [100u64, 1_000, 10_000] {
        g.throughput(Throughput::Elements(participants));
        g.bench_with_input(BenchmarkId::from_parameter(participants), &participants, |b, &n| {
            let mut l = Ledger::default();
            l.create_account(RTGS, AccountFlags::FUNDING).unwrap();
            for p in 0..n {
                l.create_net_account(100 + p, 1 << 50).unwrap();
            }
            let mut id = 1u128;
            let mut now = 1;
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    // 10 payments per participant in the window, outside the timed part.
                    for k in 0..n * 10 {
                        let (d, cr) = (100 + k % n, 100 + (k * 31 + 1) % n);
                        if d != cr {
                            l.transfer(id, d, cr, 1 + k % 100).unwrap();
                            id += 1;
                        }
                    }
                    now += 1;
                    let start = Instant::now();
                    let r = l.close_window(now).unwrap();
                    spent += start.elapsed();
                    l.settle_window(r.window, RTGS, now).unwrap();
                    l.compact(now);
                }
                spent
            });
        });
    }
    g.finish();
}

/// Encode and decode the whole ledger in steady state (1,000 accounts, the live set of
/// remembered transfers plus 1,000 open reservations); elements are transfers remembered.
fn snapshot(c: &mut Criterion) {
    let mut l = gross_ledger();
    let mut next = 0;
    run_pairs(&mut l, &mut next, CHUNK * 8);
    for k in 0..1_000u64 {
        let (d, cr) = pair_accounts(k);
        l.reserve((u128::from(k) + 1) << 64, d, cr, 1 + k, u64::MAX).unwrap();
    }
    let mut bytes = Vec::new();
    l.encode_snapshot(&mut bytes);
    let mut g = c.benchmark_group("ledger/snapshot");
    g.throughput(Throughput::Elements(l.transfers_len() as u64));
    g.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            l.encode_snapshot(&mut out);
            out.len()
        });
    });
    g.bench_function("decode", |b| b.iter(|| Ledger::decode_snapshot(&bytes).unwrap()));
    g.finish();
    println!(
        "ledger/snapshot: transfers={} accounts=1001 bytes={}",
        l.transfers_len(),
        bytes.len()
    );
}

criterion_group!(benches, single_thread, through_writer, close_window, snapshot);
criterion_main!(benches);
