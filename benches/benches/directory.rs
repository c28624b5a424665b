//! Directory benchmarks: lookups per second (hits, misses, and full end-user lookups with
//! anti-scan buckets) against 1 million keys, and registrations per second at bulk load, over
//! the shared store (entries kept whole) and the compact store (`compact_*`, the workload of
//! `directory::bench`: five keys per account of CPF, phone, e-mail and random keys).
//!
//! Setup (building the keys and the loaded directory) sits outside the timed loops. The
//! memory cost per entry is read from the process's resident set size (Linux `/proc`) before
//! and after loading, and printed once; it is an estimate, not a criterion measurement.

#![allow(clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use directory::bench::{workload_entry, workload_key};
use directory::{
    AntiScan, AntiScanConfig, CompactStore, Directory, DirectoryConfig, Entry, EntryView, Key,
    LookupRequest, Masked,
};

const ENTRIES: usize = 1_000_000;

fn entries(n: usize, salt: &str) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            let key = if i % 2 == 0 {
                Key::parse(&format!("user{i}.{salt}@example.com"))
            } else {
                Key::parse(&format!("+55{}{:09}", if salt.is_empty() { 11 } else { 21 }, i))
            };
            let key = key.unwrap_or_default();
            // Five keys per account, the natural-person limit.
            Entry::new(key, "BANKAAAA", "0001", &format!("{}", i / 5), "Ana Maria Souza")
        })
        .collect()
}

fn config() -> DirectoryConfig {
    DirectoryConfig { max_entries: 4 * ENTRIES, ..DirectoryConfig::default() }
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// CPU seconds used by this process so far (user + system), from `/proc/self/stat` (clock
/// ticks, 100 per second on Linux). On a loaded machine wall-clock rates understate what a
/// core does; CPU time does not.
fn cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Load the directory once outside criterion, timing the load and one pass of resolves, and
/// print the summary line `switchctl bench directory` also prints.
fn loaded() -> (Directory, Vec<Key>) {
    let before = rss_bytes();
    let es = entries(ENTRIES, "");
    let mut d = Directory::new(config());
    d.reserve(es.len());
    let (start, cpu0) = (Instant::now(), cpu_s());
    for e in es {
        let _ = d.register_entry(e, 1);
    }
    let register_s = start.elapsed().as_secs_f64();
    let register_cpu = cpu_s().zip(cpu0).map_or(f64::NAN, |(b, a)| b - a);
    let after = rss_bytes();
    let keys: Vec<Key> = entries(ENTRIES, "").into_iter().map(|e| e.key).collect();
    let (start, cpu0) = (Instant::now(), cpu_s());
    let mut found = 0usize;
    for _pass in 0..5 {
        for i in 0..keys.len() {
            found += usize::from(d.resolve(black_box(&keys[(i * 7_919) % keys.len()])).is_some());
        }
    }
    let resolve_s = start.elapsed().as_secs_f64();
    let resolve_cpu = cpu_s().zip(cpu0).map_or(f64::NAN, |(b, a)| b - a);
    let per_entry = match (before, after) {
        (Some(b), Some(a)) => a.saturating_sub(b) / ENTRIES as u64,
        _ => 0,
    };
    let resolves = 5.0 * keys.len() as f64;
    println!(
        "directory: resolve_per_s={:.0} register_per_s={:.0} bytes_per_entry={per_entry} \
         entries={}",
        resolves / resolve_s,
        ENTRIES as f64 / register_s,
        d.len()
    );
    println!(
        "directory: per CPU second: resolve_per_cpu_s={:.0} register_per_cpu_s={:.0} \
         (found {found} of {resolves})",
        resolves / resolve_cpu,
        ENTRIES as f64 / register_cpu
    );
    (d, keys)
}

fn bench(c: &mut Criterion) {
    let (d, keys) = loaded();
    // A fixed scattered order, so lookups do not walk memory in insertion order.
    let order: Vec<usize> = (0..keys.len()).map(|i| (i * 7_919) % keys.len()).collect();
    let misses: Vec<Key> = entries(1_000, "miss").into_iter().map(|e| e.key).collect();

    let mut g = c.benchmark_group("directory");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("resolve_hit_1m", |b| {
        b.iter(|| {
            i = (i + 1) % order.len();
            let k = &keys[order[i]];
            black_box(d.resolve(black_box(k)).is_some())
        })
    });
    let mut j = 0usize;
    g.bench_function("resolve_miss_1m", |b| {
        b.iter(|| {
            j = (j + 1) % misses.len();
            black_box(d.resolve(black_box(&misses[j])).is_none())
        })
    });
    // Full lookups for 10,000 end users, with buckets large enough never to refuse.
    let mut scan = AntiScan::new(AntiScanConfig {
        user_natural: directory::antiscan::BucketPolicy {
            capacity: u64::MAX / 4,
            refill: 1,
            period_ms: 1,
        },
        categories: [directory::antiscan::BucketPolicy {
            capacity: u64::MAX / 4,
            refill: 1,
            period_ms: 1,
        }; 6],
        ..AntiScanConfig::default()
    });
    let payers: Vec<String> = (0..10_000u64).map(cpf).collect();
    let mut n = 0usize;
    g.bench_function("lookup_antiscan_1m", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let req = LookupRequest {
                participant: "BANKBBBB".to_string(),
                payer_id: Masked(payers[n % payers.len()].clone()),
                key: keys[order[n % order.len()]].clone(),
            };
            black_box(d.lookup(&mut scan, &req, 1).is_ok())
        })
    });
    drop(d);

    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.sample_size(10);
    g.bench_function("register_bulk_1m", |b| {
        b.iter_batched(
            || (Directory::new(config()), entries(ENTRIES, "")),
            |(mut d, es)| {
                d.reserve(es.len());
                for e in es {
                    let _ = d.register_entry(e, 1);
                }
                d
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    compact(c);
}

/// The compact store: single and batched hits, misses, and bulk registration.
fn compact(c: &mut Criterion) {
    let n = ENTRIES as u64;
    let mut d: Directory<CompactStore> = Directory::compact(config());
    let _ = d.register_stream((0..n).map(workload_entry).collect(), 1, drop);
    // A scattered order (a stride prime to the count), held contiguously.
    let keys: Vec<Key> = (0..n).map(|i| workload_key((i * 1_000_003) % n)).collect();
    let misses: Vec<Key> = entries(1_000, "miss").into_iter().map(|e| e.key).collect();
    let mut g = c.benchmark_group("directory");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("compact_resolve_view_hit_1m", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(d.resolve_view(black_box(&keys[i])).is_some())
        })
    });
    let mut j = 0usize;
    g.bench_function("compact_resolve_view_miss_1m", |b| {
        b.iter(|| {
            j = (j + 1) % misses.len();
            black_box(d.resolve_view(black_box(&misses[j])).is_none())
        })
    });
    const BATCH: usize = directory::bench::RESOLVE_BATCH;
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut views: Vec<Option<EntryView<'_>>> = Vec::with_capacity(BATCH);
    let mut at = 0usize;
    g.bench_function("compact_resolve_many_hit_1m", |b| {
        b.iter(|| {
            at = (at + BATCH) % (keys.len() - BATCH);
            d.resolve_many(black_box(&keys[at..at + BATCH]), &mut views);
            black_box(views.len())
        })
    });
    drop(views);
    drop(d);
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("compact_register_stream_1m", |b| {
        b.iter_batched(
            || (Directory::compact(config()), (0..n).map(workload_entry).collect::<Vec<_>>()),
            |(mut d, es): (Directory<CompactStore>, Vec<Entry>)| {
                let refused = d.register_stream(es, 1, drop);
                (d, refused)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// The `n`-th valid CPF (check digits computed).
fn cpf(n: u64) -> String {
    let base = format!("{:09}", 100_000_000 + n);
    let digits: Vec<u32> = base.chars().filter_map(|c| c.to_digit(10)).collect();
    let dv = |ds: &[u32], top: u32| {
        let s: u32 = ds.iter().zip((2..=top).rev()).map(|(d, w)| d * w).sum();
        let r = s % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    };
    let d1 = dv(&digits, 10);
    let mut with = digits.clone();
    with.push(d1);
    let d2 = dv(&with, 11);
    format!("{base}{d1}{d2}")
}

criterion_group!(benches, bench);
criterion_main!(benches);
