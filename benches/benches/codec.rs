//! Criterion benchmarks of the ISO 20022 codec: decode of pacs.008 and pacs.002 (the fast
//! tape path and the owned-tree `decode_dom`), encode of pacs.002 and pacs.008, the splice
//! that forwards a pacs.008 as received (layout and forward), each beside the
//! floor (a bare quick-xml event scan of the same bytes, `iso20022::xml::scan`), plus heap
//! allocations per message counted by a wrapping allocator.
//!
//! Run: `cargo bench -p benches --bench codec`. Prints the decode/floor ratios and allocation
//! counts before the criterion runs. Must not assert on time: figures go to BENCHMARKS.md.
// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system one.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use iso20022::{pacs002, pacs008, Limits};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn sample(path: &str) -> Vec<u8> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/iso20022/samples/");
    std::fs::read(format!("{root}{path}")).expect("sample")
}

/// A compact (~1.5 KB) pacs.008: the FedNow sample re-encoded by the codec, whitespace free.
fn compact_pacs008() -> Vec<u8> {
    let msg = pacs008::decode(&sample("pacs.008/fednow-participant.xml"), &Limits::default())
        .expect("decode");
    pacs008::encode(&msg).into_bytes()
}

fn agent(bic: &str) -> iso20022::common::Agent {
    iso20022::common::Agent { bic: Some(bic.into()), ..Default::default() }
}

fn allocs<T>(f: impl Fn() -> T) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    black_box(f());
    ALLOCS.load(Ordering::Relaxed) - before
}

fn per_op_ns(iters: u32, f: &dyn Fn()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(iters)
}

/// Time the floor and each decoder in alternating rounds (the machine is shared: the minimum
/// of each over the rounds is the least disturbed figure), print them with their ratio to
/// the floor and the allocations of each.
fn report(name: &str, bytes: &[u8], decoders: &[(&str, &dyn Fn())]) {
    let n = 4_000;
    let scan = || {
        black_box(iso20022::xml::scan(black_box(bytes)).unwrap());
    };
    let mut floor = f64::MAX;
    let mut best = vec![f64::MAX; decoders.len()];
    for _ in 0..7 {
        floor = floor.min(per_op_ns(n, &scan));
        for ((_, f), b) in decoders.iter().zip(best.iter_mut()) {
            *b = b.min(per_op_ns(n, f));
        }
    }
    let events = iso20022::xml::scan(bytes).unwrap();
    println!(
        "{name}: {} bytes, {events} events; floor {floor:.0} ns ({:.1} ns/event)",
        bytes.len(),
        floor / events as f64
    );
    for ((label, f), ns) in decoders.iter().zip(best) {
        println!(
            "  {label}: {ns:.0} ns, ratio {:.2}, allocations per message {}",
            ns / floor,
            allocs(f)
        );
    }
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let full = sample("pacs.008/fednow-participant.xml");
    let compact = compact_pacs008();
    let p002 = sample("pacs.002/fednow-outgoing.xml");
    let report_msg = pacs002::decode(&p002, &limits).unwrap();
    let p008_msg = pacs008::decode(&full, &limits).unwrap();

    for (name, bytes) in [("pacs.008 fednow sample", &full), ("pacs.008 compact", &compact)] {
        report(
            name,
            bytes,
            &[
                ("decode (tape)", &|| {
                    black_box(pacs008::decode(black_box(bytes), &limits).unwrap());
                }),
                ("tape::parse only", &|| {
                    black_box(iso20022::tape::parse(black_box(bytes), &limits).unwrap());
                }),
                ("decode_dom (owned tree)", &|| {
                    black_box(pacs008::decode_dom(black_box(bytes), &limits).unwrap());
                }),
            ],
        );
    }
    report(
        "pacs.002 fednow outgoing",
        &p002,
        &[
            ("decode (tape)", &|| {
                black_box(pacs002::decode(black_box(&p002), &limits).unwrap());
            }),
            ("decode_dom (owned tree)", &|| {
                black_box(pacs002::decode_dom(black_box(&p002), &limits).unwrap());
            }),
        ],
    );
    let encoded = pacs002::encode(&report_msg);
    println!(
        "pacs.002 encode: {} bytes, allocations per message {}",
        encoded.len(),
        allocs(|| pacs002::encode(&report_msg))
    );

    let mut g = c.benchmark_group("codec");
    for (name, bytes) in [("pacs008_fednow", &full), ("pacs008_compact", &compact)] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("floor_scan/{name}"), |b| {
            b.iter(|| iso20022::xml::scan(black_box(bytes)).unwrap())
        });
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| pacs008::decode(black_box(bytes), &limits).unwrap())
        });
        g.bench_function(format!("decode_dom/{name}"), |b| {
            b.iter(|| pacs008::decode_dom(black_box(bytes), &limits).unwrap())
        });
        // Forwarding by splice: finding the layout (the worker's part) and writing the
        // forwarded message (the core's part), beside `encode/pacs008` below.
        let text = std::str::from_utf8(bytes).unwrap();
        g.bench_function(format!("splice_layout/{name}"), |b| {
            b.iter(|| iso20022::splice::Layout::of(black_box(text)).unwrap())
        });
        let layout = iso20022::splice::Layout::of(text).unwrap();
        let (debtor, creditor) = (agent("BANKBRSPXXX"), agent("BANKBRRJXXX"));
        let f = iso20022::splice::Forward {
            msg_id: "IPSF42",
            created: "2026-11-24T10:00:00.000Z",
            clearing_system: "IPS",
            instructing_agent: &debtor,
            instructed_agent: &creditor,
            acceptance: "2026-11-24T10:00:00.000Z",
            creditor: None,
        };
        g.bench_function(format!("splice_forward/{name}"), |b| {
            b.iter(|| layout.forward(black_box(text), 0, &f).unwrap())
        });
    }
    g.throughput(Throughput::Bytes(p002.len() as u64));
    g.bench_function("floor_scan/pacs002", |b| {
        b.iter(|| iso20022::xml::scan(black_box(&p002)).unwrap())
    });
    g.bench_function("decode/pacs002", |b| {
        b.iter(|| pacs002::decode(black_box(&p002), &limits).unwrap())
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode/pacs002", |b| b.iter(|| pacs002::encode(black_box(&report_msg))));
    g.bench_function("encode/pacs008", |b| b.iter(|| pacs008::encode(black_box(&p008_msg))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
