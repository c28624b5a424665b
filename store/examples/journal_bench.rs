//! Throughput of the journal on this machine: appends per second with 200-byte records and an
//! fdatasync every 1,000 records, beside a bare segmented log (no checksum, no framing) doing
//! the same writes and syncs, the group committer under concurrent producers, and replay.
//!
//! Usage: `cargo run --release -p store --example journal_bench -- [records] [dir]`
//! (default 2,000,000 records in a temporary directory). Prints one summary line.
//!
//! A/B of the write path: `cargo run --release -p store --features uring --example
//! journal_bench -- [records] [dir] ab [rounds]` runs the plain journal (caller syncing every
//! 1,000 records) and the one-producer group committer with `write` + `fdatasync`, then with
//! io_uring, alternating which goes first in each round (the machine is shared), and prints
//! one line per run and the medians; then two journals, one per path, taking turns batch by
//! batch, and two group committers taking turns every 20,000 records (the fairest A/B on a
//! shared disk), one line each.
//!
//! Cost of compaction: `journal_bench -- [records] [dir] compact [archive_dir]` writes the
//! records in 4 MiB segments, then times the snapshot that covers all but the last segment,
//! with the covered segments deleted, archived in `dir`, and archived in `archive_dir` (for
//! example on another file system: then they are copied), one line.
//! Must not: be used as a test; figures vary with the disk and with other load on the machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use store::group::{Ack, GroupCommitter, GroupOptions};
use store::{FileJournal, Journal, JournalOptions};

const RECORD_BYTES: usize = 200;
const SYNC_EVERY: u64 = 1_000;
const SEGMENT_BYTES: u64 = 64 << 20;

/// A bare segmented log: 64 MiB files, 1 MiB buffer, fdatasync every 1,000 records.
fn bare_log(dir: &Path, records: u64, record: &[u8]) -> f64 {
    std::fs::create_dir_all(dir).unwrap();
    let start = Instant::now();
    let mut seg = 0u32;
    let open = |seg: u32| {
        let f = std::fs::File::create(dir.join(format!("{seg:08}.log"))).unwrap();
        std::fs::File::open(dir).unwrap().sync_all().unwrap();
        std::io::BufWriter::with_capacity(1 << 20, f)
    };
    let mut out = open(seg);
    let mut written = 0u64;
    for i in 1..=records {
        if written + record.len() as u64 > SEGMENT_BYTES {
            out.flush().unwrap();
            out.get_ref().sync_data().unwrap();
            seg += 1;
            out = open(seg);
            written = 0;
        }
        out.write_all(record).unwrap();
        written += record.len() as u64;
        if i % SYNC_EVERY == 0 {
            out.flush().unwrap();
            out.get_ref().sync_data().unwrap();
        }
    }
    out.flush().unwrap();
    out.get_ref().sync_data().unwrap();
    records as f64 / start.elapsed().as_secs_f64()
}

fn plain_journal(dir: &Path, records: u64, record: &[u8]) -> f64 {
    let opts = JournalOptions { segment_bytes_max: SEGMENT_BYTES, ..JournalOptions::default() };
    plain_journal_with(dir, records, record, opts)
}

fn plain_journal_with(dir: &Path, records: u64, record: &[u8], opts: JournalOptions) -> f64 {
    let (mut j, _) = FileJournal::open_with(dir, opts, |_| Ok(())).unwrap();
    let start = Instant::now();
    for i in 1..=records {
        j.append(record).unwrap();
        if i % SYNC_EVERY == 0 {
            j.sync().unwrap();
        }
    }
    j.sync().unwrap();
    records as f64 / start.elapsed().as_secs_f64()
}

/// `producers` threads, each keeping up to `window` records in flight.
fn group(dir: &Path, records: u64, record: &[u8], producers: u64) -> (f64, f64) {
    let opts = JournalOptions { segment_bytes_max: SEGMENT_BYTES, ..JournalOptions::default() };
    group_with(dir, records, record, producers, opts)
}

fn group_with(
    dir: &Path,
    records: u64,
    record: &[u8],
    producers: u64,
    opts: JournalOptions,
) -> (f64, f64) {
    let (j, _) = FileJournal::open_with(dir, opts, |_| Ok(())).unwrap();
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    let per = records / producers;
    let window = 4_096u64;
    let start = Instant::now();
    let threads: Vec<_> = (0..producers)
        .map(|_| {
            let h = g.handle();
            let record = record.to_vec();
            std::thread::spawn(move || {
                let (tx, rx) = crossbeam_channel::bounded::<Ack>(window as usize);
                let mut in_flight = 0u64;
                for i in 0..per {
                    if in_flight == window {
                        rx.recv().unwrap().result.unwrap();
                        in_flight -= 1;
                    }
                    h.submit(record.clone(), i, &tx).unwrap();
                    in_flight += 1;
                }
                for _ in 0..in_flight {
                    rx.recv().unwrap().result.unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let h = g.handle();
    let per_sync = (per * producers) as f64 / h.batches_synced().max(1) as f64;
    drop(g);
    ((per * producers) as f64 / secs, per_sync)
}

/// Latency of one record alone through the group committer (one fdatasync each): p50, p99 µs.
fn lone_record_latency_us(dir: &Path, record: &[u8]) -> (u128, u128) {
    let (j, _) = FileJournal::open_with(dir, JournalOptions::default(), |_| Ok(())).unwrap();
    let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
    let mut us: Vec<u128> = (0..500)
        .map(|_| {
            let t = Instant::now();
            g.append_durable(record.to_vec()).unwrap();
            t.elapsed().as_micros()
        })
        .collect();
    us.sort_unstable();
    (us[us.len() / 2], us[us.len() * 99 / 100])
}

fn replay(dir: &Path) -> (f64, u64) {
    let start = Instant::now();
    let mut n = 0u64;
    let rec = FileJournal::replay_read_only(dir, &JournalOptions::default(), |_| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(rec.records_replayed, n);
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Two journals side by side, one per write path, taking turns batch by batch (1,000 appends
/// then a sync): the finest alternation, so both see the same moments of the shared disk.
/// Returns, per path, the median and p99 time of one batch in µs and the appends per second.
fn interleaved(root: &Path, batches: u64, record: &[u8]) -> [(u128, u128, f64); 2] {
    let mut journals = [false, true].map(|io_uring| {
        let opts = JournalOptions {
            segment_bytes_max: SEGMENT_BYTES,
            io_uring,
            ..JournalOptions::default()
        };
        let dir = root.join(format!("interleaved-{io_uring}"));
        FileJournal::open_with(&dir, opts, |_| Ok(())).unwrap().0
    });
    let mut us = [Vec::new(), Vec::new()];
    for b in 0..batches {
        let order = if b % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let t = Instant::now();
            for _ in 0..SYNC_EVERY {
                journals[k].append(record).unwrap();
            }
            journals[k].sync().unwrap();
            us[k].push(t.elapsed().as_micros());
        }
    }
    us.map(|mut v| {
        let total: u128 = v.iter().sum();
        v.sort_unstable();
        let rate = (v.len() as u64 * SYNC_EVERY) as f64 / (total as f64 / 1e6);
        (v[v.len() / 2], v[v.len() * 99 / 100], rate)
    })
}

/// Two group committers, one per write path, taking turns chunk by chunk: one producer
/// pushes `chunk` records through one (4,096 in flight) and waits for the last ack, then the
/// same through the other. Returns, per path, appends per second over all its chunks.
fn group_interleaved(root: &Path, chunks: u64, chunk: u64, record: &[u8]) -> [f64; 2] {
    let committers = [false, true].map(|io_uring| {
        let opts = JournalOptions {
            segment_bytes_max: SEGMENT_BYTES,
            io_uring,
            ..JournalOptions::default()
        };
        let dir = root.join(format!("group-interleaved-{io_uring}"));
        let (j, _) = FileJournal::open_with(&dir, opts, |_| Ok(())).unwrap();
        GroupCommitter::start(j, GroupOptions::default()).unwrap()
    });
    let window = 4_096u64;
    let (tx, rx) = crossbeam_channel::bounded::<Ack>(window as usize);
    let mut secs = [0f64; 2];
    for c in 0..chunks {
        let order = if c % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let t = Instant::now();
            let mut in_flight = 0u64;
            for i in 0..chunk {
                if in_flight == window {
                    rx.recv().unwrap().result.unwrap();
                    in_flight -= 1;
                }
                committers[k].submit(record.to_vec(), i, &tx).unwrap();
                in_flight += 1;
            }
            for _ in 0..in_flight {
                rx.recv().unwrap().result.unwrap();
            }
            secs[k] += t.elapsed().as_secs_f64();
        }
    }
    secs.map(|s| (chunks * chunk) as f64 / s)
}

/// Alternate `write` + `fdatasync` (A) and io_uring (B) runs, `rounds` times each.
fn ab(root: &Path, records: u64, record: &[u8], rounds: u32) {
    assert!(
        JournalOptions::default().io_uring,
        "build with --features uring for the A/B of the write path"
    );
    let (mut plain, mut group1) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    for round in 0..rounds {
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for io_uring in order {
            let name = if io_uring { "io_uring" } else { "write_fdatasync" };
            let opts = JournalOptions {
                segment_bytes_max: SEGMENT_BYTES,
                io_uring,
                ..JournalOptions::default()
            };
            let dir = root.join(format!("ab-{round}-{name}"));
            let p = plain_journal_with(&dir.join("plain"), records, record, opts.clone());
            let (g, per_sync) = group_with(&dir.join("group1"), records, record, 1, opts);
            std::fs::remove_dir_all(&dir).unwrap();
            println!(
                "journal_ab: round={round} path={name} plain_appends_per_s={p:.0} \
                 group_1p_appends_per_s={g:.0} group_1p_records_per_sync={per_sync:.0}"
            );
            plain[usize::from(io_uring)].push(p);
            group1[usize::from(io_uring)].push(g);
        }
    }
    println!(
        "journal_ab: records={records} record_bytes={RECORD_BYTES} rounds={rounds} \
         plain_median_write_fdatasync={:.0} plain_median_io_uring={:.0} \
         group_1p_median_write_fdatasync={:.0} group_1p_median_io_uring={:.0}",
        median(&mut plain[0]),
        median(&mut plain[1]),
        median(&mut group1[0]),
        median(&mut group1[1]),
    );
    let batches = records / SYNC_EVERY;
    let [(a50, a99, a_rate), (b50, b99, b_rate)] = interleaved(root, batches, record);
    println!(
        "journal_ab_interleaved: batches={batches} of {SYNC_EVERY}x{RECORD_BYTES}B \
         write_fdatasync_batch_us_p50={a50} write_fdatasync_batch_us_p99={a99} \
         write_fdatasync_appends_per_s={a_rate:.0} io_uring_batch_us_p50={b50} \
         io_uring_batch_us_p99={b99} io_uring_appends_per_s={b_rate:.0}"
    );
    let chunks = (records / 20_000).max(2);
    let [ga, gb] = group_interleaved(root, chunks, 20_000, record);
    println!(
        "journal_ab_group_interleaved: chunks={chunks} of 20000x{RECORD_BYTES}B \
         write_fdatasync_appends_per_s={ga:.0} io_uring_appends_per_s={gb:.0}"
    );
}

/// Time of `write_snapshot` covering all but the last segment, in ms, and segments moved.
fn compaction_ms(dir: &Path, records: u64, record: &[u8], archive: Option<PathBuf>) -> (f64, u64) {
    let opts = JournalOptions {
        segment_bytes_max: 4 << 20,
        snapshots_keep: 1,
        archive_dir: archive,
        ..JournalOptions::default()
    };
    let (mut j, _) = FileJournal::open_with(dir, opts, |_| Ok(())).unwrap();
    for _ in 0..records {
        j.append(record).unwrap();
    }
    j.sync().unwrap();
    let before = j.segment_paths().len() as u64;
    let start = Instant::now();
    j.write_snapshot(records, b"state").unwrap();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    (ms, before - j.segment_paths().len() as u64)
}

fn compact(root: &Path, records: u64, record: &[u8], other_fs: Option<PathBuf>) {
    let (del, n) = compaction_ms(&root.join("c-delete"), records, record, None);
    let same = Some(root.join("c-archive"));
    let (ren, _) = compaction_ms(&root.join("c-rename"), records, record, same);
    let other = other_fs.map(|o| compaction_ms(&root.join("c-copy"), records, record, Some(o)));
    let copy = other.map_or_else(|| "-".to_string(), |(ms, _)| format!("{ms:.1}"));
    println!(
        "journal_compact: segments={n} of 4MiB delete_ms={del:.1} archive_rename_ms={ren:.1} \
         archive_copy_ms={copy}"
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let records: u64 = args.next().map_or(2_000_000, |a| a.parse().expect("records: a number"));
    let temp = tempfile::tempdir().unwrap();
    let root = args.next().map_or_else(|| temp.path().to_path_buf(), Into::into);
    let record = vec![0xA5u8; RECORD_BYTES];
    match args.next().as_deref() {
        Some("ab") => {
            let rounds = args.next().map_or(5, |a| a.parse().expect("rounds: a number"));
            ab(&root, records, &record, rounds);
            return;
        }
        Some("compact") => {
            compact(&root, records, &record, args.next().map(PathBuf::from));
            return;
        }
        _ => {}
    }
    let bare = bare_log(&root.join("bare"), records, &record);
    let plain = plain_journal(&root.join("plain"), records, &record);
    let (replay_rps, replayed) = replay(&root.join("plain"));
    assert_eq!(replayed, records);
    let (group1, per_sync1) = group(&root.join("group1"), records, &record, 1);
    let (group4, per_sync4) = group(&root.join("group4"), records, &record, 4);
    let (p50, p99) = lone_record_latency_us(&root.join("lone"), &record);
    println!(
        "journal_bench: records={records} record_bytes={RECORD_BYTES} sync_every={SYNC_EVERY} \
         bare_log_appends_per_s={bare:.0} plain_appends_per_s={plain:.0} \
         group_1p_appends_per_s={group1:.0} group_1p_records_per_sync={per_sync1:.0} \
         group_4p_appends_per_s={group4:.0} group_4p_records_per_sync={per_sync4:.0} \
         replay_records_per_s={replay_rps:.0} lone_record_latency_us_p50={p50} \
         lone_record_latency_us_p99={p99}"
    );
}
