//! Reserve+post throughput of the ledger on one core, for a shared or noisy machine: prints
//! wall-clock pairs per second and pairs per second of the thread's own CPU time (read from
//! `/proc/thread-self/schedstat` on Linux, so other processes' load does not count).
//!
//! Usage: `cargo run --release -p ledger --example throughput [pairs] [workload]` (workload
//! one of gross, net, delayed, writer; all by default). `delayed` posts each reservation
//! 16,384 reservations after it was made, as a switch does once the creditor bank answers,
//! so the post finds its record cold; `delayed_batch` does the same through `post_batch`. Prints one line per
//! workload: `ledger_throughput: workload=W pairs=N wall_pairs_per_s=X cpu_pairs_per_s=Y`.
//! Must not be used as a test: it asserts nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Instant;

use ledger::writer::{Command, LedgerWriter, WriterConfig};
use ledger::{AccountFlags, Ledger, LedgerLimits};

const PARTICIPANTS: u64 = 1_000;
const CHUNK: u64 = 8_192;
const KEEP: u64 = 4;

/// Nanoseconds this thread has run on a CPU, or 0 where unknown.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn ledger(net: bool) -> Ledger {
    let mut l = Ledger::with_limits(LedgerLimits { transfers_max: 1 << 20, ..Default::default() });
    l.create_account(1, AccountFlags::FUNDING).unwrap();
    for p in 0..PARTICIPANTS {
        if net {
            l.create_net_account(100 + p, 1 << 50).unwrap();
        } else {
            l.create_account(100 + p, AccountFlags::SETTLEMENT).unwrap();
            l.fund(u128::from(p) + 1, 1, 100 + p, 1 << 50, 0).unwrap();
        }
    }
    l
}

fn pair(n: u64) -> (u128, u64, u64, u64, u64) {
    let debit = 100 + (n.wrapping_mul(7_919) % PARTICIPANTS);
    let credit = 100 + ((n.wrapping_mul(7_919) + 1 + n % 97) % PARTICIPANTS);
    (u128::from(n) + 1_000_000, debit, credit, 1 + n % 5_000, n / CHUNK + 1)
}

fn report(workload: &str, pairs: u64, wall_s: f64, cpu_ns: u64) {
    let cpu = if cpu_ns == 0 { 0.0 } else { pairs as f64 / (cpu_ns as f64 / 1e9) };
    println!(
        "ledger_throughput: workload={workload} pairs={pairs} wall_pairs_per_s={:.0} \
         cpu_pairs_per_s={cpu:.0}",
        pairs as f64 / wall_s
    );
}

fn direct(net: bool, pairs: u64) {
    let mut l = ledger(net);
    let (c0, t0) = (thread_cpu_ns(), Instant::now());
    for n in 0..pairs {
        let (id, d, c, amount, now) = pair(n);
        l.reserve(id, d, c, amount, now + 10).unwrap();
        l.post(id, now).unwrap();
        if n % CHUNK == CHUNK - 1 {
            l.compact(now.saturating_sub(KEEP));
        }
    }
    let (cpu, wall) = (thread_cpu_ns() - c0, t0.elapsed().as_secs_f64());
    l.audit().unwrap();
    report(if net { "net" } else { "gross" }, pairs, wall, cpu);
}

/// Reserve pair `n`, post pair `n - LAG`: the post's record is long out of the cache.
/// With `batch`, posts go through `post_batch` 64 at a time.
fn delayed(pairs: u64, batch: bool) {
    const LAG: u64 = 16_384;
    const POSTS: u64 = 64;
    let mut l = ledger(false);
    let (mut posts, mut results) = (Vec::new(), Vec::new());
    let (c0, t0) = (thread_cpu_ns(), Instant::now());
    for n in 0..pairs + LAG {
        if n < pairs {
            let (id, d, c, amount, now) = pair(n);
            l.reserve(id, d, c, amount, now + 10).unwrap();
        }
        if let Some(m) = n.checked_sub(LAG) {
            let (id, _, _, _, now) = pair(m);
            if batch {
                posts.push((id, now));
                if posts.len() as u64 == POSTS || m + 1 == pairs {
                    l.post_batch(&posts, &mut results);
                    assert!(results.iter().all(Result::is_ok));
                    posts.clear();
                    results.clear();
                }
            } else {
                l.post(id, now).unwrap();
            }
            if m % CHUNK == CHUNK - 1 {
                l.compact(now.saturating_sub(KEEP));
            }
        }
    }
    let (cpu, wall) = (thread_cpu_ns() - c0, t0.elapsed().as_secs_f64());
    l.audit().unwrap();
    report(if batch { "delayed_batch" } else { "delayed" }, pairs, wall, cpu);
}

fn through_writer(pairs: u64, batch_pairs: u64) {
    let config = WriterConfig { queue_batches_max: 64, ..WriterConfig::default() };
    let w = LedgerWriter::spawn(ledger(false), config).unwrap();
    let h = w.handle();
    let batches: Vec<Vec<Command>> = (0..pairs / batch_pairs)
        .map(|b| {
            let mut cmds = Vec::new();
            let mut last = 0;
            for n in b * batch_pairs..(b + 1) * batch_pairs {
                let (id, debit, credit, amount, now) = pair(n);
                last = now;
                cmds.push(Command::Reserve { id, debit, credit, amount, expires_at_ms: now + 10 });
                cmds.push(Command::Post { id, now_ms: now });
            }
            cmds.push(Command::Compact { before_ms: last.saturating_sub(KEEP) });
            cmds
        })
        .collect();
    let t0 = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for b in batches {
        if pending.len() >= 16 {
            let p: ledger::writer::Pending = pending.pop_front().unwrap();
            p.wait().unwrap();
        }
        pending.push_back(h.submit(b).unwrap());
    }
    for p in pending {
        p.wait().unwrap();
    }
    let wall = t0.elapsed().as_secs_f64();
    let l = w.shutdown().unwrap();
    l.audit().unwrap();
    report(&format!("writer_batch_{batch_pairs}"), pairs, wall, 0);
}

fn main() {
    let pairs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let only = std::env::args().nth(2);
    let run = |w: &str| only.as_deref().is_none_or(|o| o == w);
    if run("gross") {
        direct(false, pairs);
    }
    if run("net") {
        direct(true, pairs);
    }
    if run("delayed") {
        delayed(pairs, false);
        delayed(pairs, true);
    }
    if run("writer") {
        for batch_pairs in [64, 512, 2_048] {
            through_writer(pairs, batch_pairs);
        }
    }
}
