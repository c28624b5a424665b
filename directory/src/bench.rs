//! The directory's own benchmark, for `switchctl bench directory`: bulk-load `entries` keys into
//! a [`Directory`] over the [`CompactStore`], then resolve a scattered sample of them, and
//! report rates and the memory cost per entry.
//!
//! Workload: accounts of one natural person each, five keys per account (the DICT limit): the
//! owner's CPF, a phone, an e-mail and two random keys (UUIDv4), spread over 16 participants;
//! every registration goes through [`Directory::register_stream`] (all rules checked, CID and
//! VSync computed, change log kept, one event per key, each event dropped as soon as it is
//! made, where a journal would encode it). Entries are built in batches outside the timed part.
//!
//! Memory: `bytes_per_entry` is the growth of the process's resident set (`/proc/self/statm`,
//! Linux) from before the directory was created to after the load, with the last batch freed,
//! divided by the number of keys: it counts everything the directory holds (index, records,
//! arena, accounts, VSync and change logs, allocator slack) plus what the allocator keeps of
//! the freed batches (at most one batch). 0 where `/proc` is missing.
//!
//! Resolves: `resolve_per_s` is [`Directory::resolve_many`] over batches of 64 keys from a
//! sample of up to 1,000,000 registered keys in a scattered order (hits only), five passes;
//! `resolve_single_per_s` is [`Directory::resolve_view`] one key at a time over the same
//! sample. Rates are per wall-clock second, and also per CPU second of the process
//! (`/proc/self/stat`), which on a shared machine is what the cores did: resolves run on one
//! thread; a bulk load checks fields and computes CIDs on up to 4 threads (see
//! [`Directory::register_stream`]), so its CPU seconds count every thread.
//!
//! Must not: run in unit tests at full size (it allocates gigabytes); write files.

use std::fmt;
use std::hint::black_box;
use std::time::Instant;

use crate::{
    CompactStore, Directory, DirectoryConfig, Entry, EntryStore, EntryView, Key, OwnerType,
    RandomSource, SeededRandom,
};

/// Keys built and registered per batch.
pub const BATCH: usize = 100_000;
/// Most keys resolved per pass.
pub const SAMPLE_MAX: usize = 1_000_000;
/// Passes over the sample, for each way of resolving.
pub const RESOLVE_PASSES: usize = 5;
/// Keys per [`Directory::resolve_many`] call.
pub const RESOLVE_BATCH: usize = 64;
/// Participants the accounts are spread over.
pub const PARTICIPANTS: usize = 16;

/// What [`run`] measured. `Display` is the one line `switchctl bench directory` prints.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BenchReport {
    /// Hits resolved per second, in batches ([`Directory::resolve_many`]).
    pub resolve_per_s: f64,
    /// Hits resolved per second, one at a time ([`Directory::resolve_view`]).
    pub resolve_single_per_s: f64,
    /// Keys registered per second at bulk load.
    pub register_per_s: f64,
    /// Resident-set growth per key (see the module documentation).
    pub bytes_per_entry: u64,
    /// Bytes the compact store itself allocated, per key.
    pub store_bytes_per_entry: u64,
    /// Keys in the directory at the end.
    pub entries: usize,
    /// Hits resolved per CPU second of the process, in batches.
    pub resolve_per_cpu_s: f64,
    /// Keys registered per CPU second of the process.
    pub register_per_cpu_s: f64,
    /// Keys refused during the load (0 for this workload).
    pub refused: usize,
    /// Keys of the sample found in every pass (all of them unless something is wrong).
    pub found: usize,
    /// Keys resolved per pass.
    pub sample: usize,
    /// Hits resolved per CPU second of the process, one at a time.
    pub resolve_single_per_cpu_s: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "directory: resolve_per_s={:.0} register_per_s={:.0} bytes_per_entry={} entries={}",
            self.resolve_per_s, self.register_per_s, self.bytes_per_entry, self.entries
        )
    }
}

/// The `i`-th valid CPF (check digits computed), from 100000000 on.
pub fn cpf(i: u64) -> String {
    let base = 100_000_000 + (i % 800_000_000);
    let mut d = [0u32; 11];
    let mut n = base;
    for slot in d.iter_mut().take(9).rev() {
        *slot = (n % 10) as u32;
        n /= 10;
    }
    let dv = |ds: &[u32], top: u32| {
        let s: u32 = ds.iter().zip((2..=top).rev()).map(|(a, w)| a * w).sum();
        let r = s % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    };
    let d1 = dv(d.get(..9).unwrap_or_default(), 10);
    if let Some(x) = d.get_mut(9) {
        *x = d1;
    }
    let d2 = dv(d.get(..10).unwrap_or_default(), 11);
    format!("{base:09}{d1}{d2}")
}

/// The key of position `i` of the workload (account `i / 5`, key `i % 5`).
pub fn workload_key(i: u64) -> Key {
    let account = i / 5;
    let text = match i % 5 {
        0 => cpf(account),
        1 => format!("+55{}{:09}", 11 + account / 1_000_000_000, account % 1_000_000_000),
        2 => format!("user{account}@example.com"),
        _ => {
            let mut rng = SeededRandom(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xbe7c);
            let mut b = [0u8; 16];
            rng.fill(&mut b);
            return Key::random_v4(b);
        }
    };
    Key::parse(&text).unwrap_or_default()
}

/// The entry of position `i` of the workload.
pub fn workload_entry(i: u64) -> Entry {
    let account = i / 5;
    let participant = format!("BANK{:04}", account % PARTICIPANTS as u64);
    let mut e =
        Entry::new(workload_key(i), &participant, "0001", &account.to_string(), "Ana Souza")
            .with_owner(OwnerType::Natural, &cpf(account));
    e.request_id = (u128::from(i) ^ 0x5eed_0000_0000_0000_0000_0000_0000_0000).to_le_bytes();
    e
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// CPU seconds used by this process (user + system, clock ticks of 1/100 s).
fn cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let utime: f64 = f.next()?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A timer of wall-clock and CPU time.
struct Span {
    start: Instant,
    cpu: Option<f64>,
}

impl Span {
    fn start() -> Span {
        Span { start: Instant::now(), cpu: cpu_s() }
    }
    /// (wall seconds, CPU seconds or NaN).
    fn stop(&self) -> (f64, f64) {
        let cpu = cpu_s().zip(self.cpu).map_or(f64::NAN, |(b, a)| b - a);
        (self.start.elapsed().as_secs_f64(), cpu)
    }
}

fn rate(n: usize, s: f64) -> f64 {
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

/// Load `entries` keys and resolve a sample of them (see the module documentation), with
/// [`RESOLVE_PASSES`] passes.
pub fn run(entries: usize) -> BenchReport {
    run_with(entries, RESOLVE_PASSES)
}

/// A directory loaded with the workload, and what the load measured.
struct Loaded {
    d: Directory<CompactStore>,
    reg_wall: f64,
    reg_cpu: f64,
    refused: usize,
    bytes_per_entry: u64,
}

/// Load `entries` keys of the workload through [`Directory::register_stream`].
fn load(entries: usize) -> Loaded {
    let before = rss_bytes();
    let config = DirectoryConfig { max_entries: entries.max(1), ..DirectoryConfig::default() };
    let mut d: Directory<CompactStore> = Directory::compact(config);
    d.reserve(entries);
    let (mut reg_wall, mut reg_cpu) = (0.0f64, 0.0f64);
    let mut refused = 0usize;
    let mut next = 0u64;
    while (next as usize) < entries {
        let n = BATCH.min(entries - next as usize);
        let batch: Vec<Entry> = (next..next + n as u64).map(workload_entry).collect();
        next += n as u64;
        let span = Span::start();
        let refusals = d.register_stream(batch, 1_700_000_000_000, |e| drop(black_box(e)));
        let (w, c) = span.stop();
        reg_wall += w;
        reg_cpu += c;
        refused += refusals.len();
    }
    let after = rss_bytes();
    let len = d.len();
    let bytes_per_entry = match (before, after) {
        (Some(b), Some(a)) if len > 0 => a.saturating_sub(b) / len as u64,
        _ => 0,
    };
    Loaded { d, reg_wall, reg_cpu, refused, bytes_per_entry }
}

/// A scattered sample of up to [`SAMPLE_MAX`] registered keys: a stride prime to the number of
/// keys.
fn sample_keys(entries: usize) -> Vec<Key> {
    let sample = entries.min(SAMPLE_MAX);
    let stride = 1_000_003u64;
    (0..sample as u64)
        .map(|j| workload_key((j.wrapping_mul(stride)) % entries.max(1) as u64))
        .collect()
}

/// [`run`] with `passes` passes over the sample for each way of resolving (at least 1).
pub fn run_with(entries: usize, passes: usize) -> BenchReport {
    let passes = passes.max(1);
    let Loaded { d, reg_wall, reg_cpu, refused, bytes_per_entry } = load(entries);
    let len = d.len();
    let store_bytes_per_entry = d.store().allocated_bytes().checked_div(len).unwrap_or(0) as u64;
    let keys = sample_keys(entries);
    let sample = keys.len();
    let mut found = 0usize;
    let span = Span::start();
    for _ in 0..passes {
        for k in &keys {
            found += usize::from(black_box(d.resolve_view(black_box(k))).is_some());
        }
    }
    let (single_wall, single_cpu) = span.stop();
    let mut views: Vec<Option<EntryView<'_>>> = Vec::with_capacity(RESOLVE_BATCH);
    let mut found_many = 0usize;
    let span = Span::start();
    for _ in 0..passes {
        for chunk in keys.chunks(RESOLVE_BATCH) {
            d.resolve_many(black_box(chunk), &mut views);
            found_many += views.iter().filter(|v| v.is_some()).count();
        }
    }
    let (many_wall, many_cpu) = span.stop();
    let resolves = sample * passes;
    BenchReport {
        resolve_per_s: rate(resolves, many_wall),
        resolve_single_per_s: rate(resolves, single_wall),
        register_per_s: rate(entries, reg_wall),
        bytes_per_entry,
        store_bytes_per_entry,
        entries: len,
        resolve_per_cpu_s: rate(resolves, many_cpu),
        register_per_cpu_s: rate(entries, reg_cpu),
        refused,
        found: found.min(found_many) / passes,
        sample,
        resolve_single_per_cpu_s: rate(resolves, single_cpu),
    }
}

/// CPU nanoseconds this thread has run (`/proc/thread-self/schedstat`, Linux), finer than the
/// process's clock ticks.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// One way of resolving a batch, for [`run_tune`].
type ManyFn = for<'s> fn(&'s CompactStore, &[Key], &mut Vec<Option<EntryView<'s>>>);

/// The ways [`run_tune`] compares: the pipeline at several distances, with and without the
/// texts' next line fetched ahead.
fn tune_variants() -> Vec<(&'static str, ManyFn)> {
    vec![
        ("pipe_d2", CompactStore::view_many_piped::<2, 8, true, 0>),
        ("pipe_d4", CompactStore::view_many_piped::<4, 16, true, 0>),
        ("pipe_d6", CompactStore::view_many_piped::<6, 32, true, 0>),
        ("pipe_d6_one_line", CompactStore::view_many_piped::<6, 32, false, 0>),
        ("pipe_d8", CompactStore::view_many_piped::<8, 32, true, 0>),
        ("pipe_d12", CompactStore::view_many_piped::<12, 64, true, 0>),
        ("pipe_d16", CompactStore::view_many_piped::<16, 64, true, 0>),
        ("diag_no_texts", CompactStore::view_many_piped::<6, 32, true, 1>),
        ("diag_no_texts_d12", CompactStore::view_many_piped::<12, 64, true, 1>),
        ("diag_slots_only", CompactStore::view_many_piped::<6, 32, true, 3>),
        ("diag_slots_only_d12", CompactStore::view_many_piped::<12, 64, true, 3>),
        ("diag_texts_fetched_unread", CompactStore::view_many_piped::<6, 32, true, 2>),
        (
            "one_at_a_time",
            |s: &CompactStore, keys: &[Key], out: &mut Vec<Option<EntryView<'_>>>| {
                out.clear();
                out.extend(keys.iter().map(|k| s.view(k)));
            },
        ),
    ]
}

/// Load `entries` keys, then resolve the sample `passes` times in batches of `batch` keys with
/// each way of [`tune_variants`] in turn, `rounds` times (so every way sees the same machine), and return
/// one line per way: the median of its rounds, per CPU second of the resolving thread and per
/// wall-clock second, and whether every answer equalled the default's.
pub fn run_tune(entries: usize, rounds: usize, passes: usize, batch: usize) -> Vec<String> {
    let Loaded { d, .. } = load(entries);
    let keys = sample_keys(entries);
    let store = d.store();
    let variants = tune_variants();
    let mut per_cpu: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut per_wall: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut same = vec![true; variants.len()];
    let mut want: Vec<Option<EntryView<'_>>> = Vec::new();
    let mut got: Vec<Option<EntryView<'_>>> = Vec::new();
    for chunk in keys.chunks(batch.max(1)).take(64) {
        store.view_many(chunk, &mut want);
        for (i, (_, f)) in variants.iter().enumerate() {
            f(store, chunk, &mut got);
            if let Some(s) = same.get_mut(i) {
                *s &= got == want;
            }
        }
    }
    let mut views: Vec<Option<EntryView<'_>>> = Vec::with_capacity(batch.max(1));
    for _ in 0..rounds.max(1) {
        for (i, (_, f)) in variants.iter().enumerate() {
            let start = Instant::now();
            let cpu = thread_cpu_ns();
            let mut found = 0usize;
            for _ in 0..passes.max(1) {
                for chunk in keys.chunks(batch.max(1)) {
                    f(store, black_box(chunk), &mut views);
                    found += views.iter().filter(|v| v.is_some()).count();
                }
            }
            let wall = start.elapsed().as_secs_f64();
            let cpu = thread_cpu_ns().zip(cpu).map_or(f64::NAN, |(b, a)| (b - a) as f64 / 1e9);
            black_box(found);
            if let Some(v) = per_cpu.get_mut(i) {
                v.push(rate(keys.len() * passes.max(1), cpu));
            }
            if let Some(v) = per_wall.get_mut(i) {
                v.push(rate(keys.len() * passes.max(1), wall));
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    variants
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let c = per_cpu.get_mut(i).map_or(0.0, median);
            let w = per_wall.get_mut(i).map_or(0.0, median);
            let ok = same.get(i).copied().unwrap_or(false);
            format!(
                "directory-tune: {name} entries={} batch={batch} rounds={rounds} passes={passes} \
                 per_cpu_s={c:.0} per_s={w:.0} same={ok}",
                d.len()
            )
        })
        .collect()
}

/// What [`run_snapshot`] measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SnapshotReport {
    /// Keys in the directory.
    pub entries: usize,
    /// Bytes of the snapshot.
    pub bytes: usize,
    /// Milliseconds to encode it ([`Directory::encode_snapshot`]), best of the passes.
    pub encode_ms: f64,
    /// Milliseconds to decode it ([`Directory::decode_snapshot`]), best of the passes.
    pub decode_ms: f64,
    /// CPU milliseconds of the process during the best encode pass (10 ms resolution).
    pub encode_cpu_ms: f64,
    /// CPU milliseconds of the process during the best decode pass (10 ms resolution).
    pub decode_cpu_ms: f64,
    /// Whether the decoded directory re-encoded to the same bytes and held every key.
    pub same: bool,
}

impl fmt::Display for SnapshotReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "directory-snapshot: entries={} bytes={} bytes_per_entry={} encode_ms={:.0} \
             decode_ms={:.0} encode_cpu_ms={:.0} decode_cpu_ms={:.0} same={}",
            self.entries,
            self.bytes,
            self.bytes.checked_div(self.entries).unwrap_or(0),
            self.encode_ms,
            self.decode_ms,
            self.encode_cpu_ms,
            self.decode_cpu_ms,
            self.same
        )
    }
}

/// Load `entries` keys of the workload (as [`run`] does), then encode a snapshot and decode it
/// `passes` times each (at least 1), timing the best pass of each.
pub fn run_snapshot(entries: usize, passes: usize) -> SnapshotReport {
    let config = DirectoryConfig { max_entries: entries.max(1), ..DirectoryConfig::default() };
    let mut d: Directory<CompactStore> = Directory::compact(config.clone());
    d.reserve(entries);
    let mut next = 0u64;
    while (next as usize) < entries {
        let n = BATCH.min(entries - next as usize);
        let batch: Vec<Entry> = (next..next + n as u64).map(workload_entry).collect();
        next += n as u64;
        d.register_stream(batch, 1_700_000_000_000, |e| drop(black_box(e)));
    }
    let mut r = SnapshotReport {
        encode_ms: f64::INFINITY,
        decode_ms: f64::INFINITY,
        encode_cpu_ms: f64::INFINITY,
        decode_cpu_ms: f64::INFINITY,
        same: true,
        ..SnapshotReport::default()
    };
    let mut bytes = Vec::new();
    for _ in 0..passes.max(1) {
        bytes = Vec::new();
        let span = Span::start();
        d.encode_snapshot(&mut bytes);
        let (wall, cpu) = span.stop();
        r.encode_ms = r.encode_ms.min(wall * 1_000.0);
        r.encode_cpu_ms = r.encode_cpu_ms.min(cpu * 1_000.0);
    }
    for _ in 0..passes.max(1) {
        let span = Span::start();
        let back = Directory::decode_snapshot(black_box(&bytes), config.clone());
        let (wall, cpu) = span.stop();
        r.decode_ms = r.decode_ms.min(wall * 1_000.0);
        r.decode_cpu_ms = r.decode_cpu_ms.min(cpu * 1_000.0);
        match back {
            Ok(back) => {
                let mut again = Vec::new();
                back.encode_snapshot(&mut again);
                r.same &= again == bytes && back.len() == d.len();
            }
            Err(_) => r.same = false,
        }
    }
    SnapshotReport { entries: d.len(), bytes: bytes.len(), ..r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_registers_and_finds_every_key() {
        let r = run(2_000);
        assert_eq!((r.entries, r.refused, r.found, r.sample), (2_000, 0, 2_000, 2_000));
        assert!(r.register_per_s > 0.0 && r.resolve_per_s > 0.0);
        let line = r.to_string();
        assert!(line.starts_with("directory: resolve_per_s="), "{line}");
        assert!(line.ends_with(" entries=2000"), "{line}");
        assert_eq!(line.split(' ').count(), 5, "{line}");
    }

    #[test]
    fn a_small_snapshot_run_round_trips() {
        let r = run_snapshot(2_000, 1);
        assert_eq!((r.entries, r.same), (2_000, true));
        assert!(r.bytes > 2_000 * 100, "{r}");
    }

    #[test]
    fn workload_keys_are_valid_and_distinct() {
        let keys: std::collections::HashSet<Key> = (0..1_000).map(workload_key).collect();
        assert_eq!(keys.len(), 1_000);
        assert_eq!(cpf(0), "10000000019");
        assert!(crate::cpf_ok(&cpf(123_456)));
    }
}
