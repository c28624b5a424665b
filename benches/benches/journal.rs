//! Criterion benchmarks of the `store` journal: a batch of 1,000 appends of 200 bytes ended by
//! one fdatasync (the reference workload), the CPU cost of framing alone, and replay.
//!
//! With `--features store/uring` the batch-then-fdatasync benchmark also runs through io_uring
//! (`..._io_uring`); every other benchmark keeps `write` + `fdatasync` either way.
//!
//! Guarantees: setup (directories, journals, data to replay) happens outside the timed loop.
//! Must not: be read as a test; figures depend on the disk and on other load on the machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use store::group::{ack_channel, GroupCommitter, GroupOptions};
use store::{FileJournal, Journal, JournalOptions};

const RECORD: [u8; 200] = [0xA5; 200];

/// Options of every benchmark: the plain `write` + `fdatasync` path.
fn plain() -> JournalOptions {
    JournalOptions { io_uring: false, ..JournalOptions::default() }
}

fn append_sync(c: &mut Criterion) {
    // io_uring only when the store was built with its `uring` feature (then on by default).
    let paths: &[(&str, bool)] = if JournalOptions::default().io_uring {
        &[("", false), ("_io_uring", true)]
    } else {
        &[("", false)]
    };
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(1_000));
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    for &(suffix, io_uring) in paths {
        let dir = tempfile::tempdir().unwrap();
        let opts = JournalOptions { io_uring, ..plain() };
        let (mut j, _) = FileJournal::open_with(dir.path(), opts, |_| Ok(())).unwrap();
        g.bench_function(format!("append_1000x200B_then_fdatasync{suffix}"), |b| {
            b.iter(|| {
                for _ in 0..1_000 {
                    j.append(&RECORD).unwrap();
                }
                j.sync().unwrap();
            })
        });
    }
    g.finish();
}

fn append_only(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(1_000));
    g.sample_size(20);
    // Framing and buffering without a sync: each batch goes to a fresh, unsynced journal so
    // the page cache, not the disk, is what the writes reach.
    g.bench_function("append_1000x200B_no_sync", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let opts = JournalOptions { write_buffer_bytes: 1 << 20, ..plain() };
                let (j, _) = FileJournal::open_with(dir.path(), opts, |_| Ok(())).unwrap();
                (dir, j)
            },
            |(dir, mut j)| {
                for _ in 0..1_000 {
                    j.append(&RECORD).unwrap();
                }
                (dir, j)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn group_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = FileJournal::open_with(dir.path(), plain(), |_| Ok(())).unwrap();
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    let (tx, rx) = ack_channel(4_096);
    let mut group = c.benchmark_group("journal");
    group.throughput(Throughput::Elements(4_000));
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    // One producer with 4,000 records in flight: the writer picks its own batch sizes.
    group.bench_function("group_commit_4000x200B_in_flight", |b| {
        b.iter(|| {
            for i in 0..4_000 {
                g.submit(RECORD.to_vec(), i, &tx).unwrap();
            }
            for _ in 0..4_000 {
                rx.recv().unwrap().result.unwrap();
            }
        })
    });
    group.finish();
}

fn replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = FileJournal::open_with(dir.path(), plain(), |_| Ok(())).unwrap();
    for _ in 0..100_000 {
        j.append(&RECORD).unwrap();
    }
    j.sync().unwrap();
    drop(j);
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(100_000));
    g.sample_size(20);
    g.bench_function("replay_100000x200B", |b| {
        b.iter(|| {
            let mut n = 0u64;
            FileJournal::replay_read_only(dir.path(), &plain(), |_| {
                n += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!(n, 100_000);
        })
    });
    g.finish();
}

criterion_group!(benches, append_sync, append_only, group_commit, replay);
criterion_main!(benches);
