//! Quick in-process timing of the decoders against the floor (a bare quick-xml scan of the
//! same bytes), for use while the criterion bench (`benches/benches/codec.rs`) cannot build.
//!
//! Run: `cargo run --release -p iso20022 --example decode_ratio`. Prints figures only; it
//! asserts nothing about time. Must not be used as a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use iso20022::{pacs002, pacs008, Limits};
use std::hint::black_box;
use std::time::Instant;

fn per_op_ns(iters: u32, f: &dyn Fn()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn sample(path: &str) -> Vec<u8> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/iso20022/samples/");
    std::fs::read(format!("{root}{path}")).expect("sample")
}

/// Rounds of the floor and each decoder, alternating; the minimum of each over the rounds is
/// the least disturbed figure on a shared machine.
const ROUNDS: usize = 9;

fn row(name: &str, bytes: &[u8], fast: &dyn Fn(), dom: &dyn Fn()) {
    let n = 5_000;
    per_op_ns(n / 10, fast);
    let scan = || {
        black_box(iso20022::xml::scan(black_box(bytes)).unwrap());
    };
    let (mut f, mut s, mut d) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        s = s.min(per_op_ns(n, &scan));
        f = f.min(per_op_ns(n, fast));
        d = d.min(per_op_ns(n, dom));
    }
    println!(
        "{name}: {} B; floor {s:.0} ns; decode {f:.0} ns (ratio {:.2}); dom {d:.0} ns (ratio {:.2})",
        bytes.len(),
        f / s,
        d / s
    );
}

fn main() {
    let l = Limits::default();
    let fednow = sample("pacs.008/fednow-participant.xml");
    let compact = pacs008::encode(&pacs008::decode(&fednow, &l).unwrap()).into_bytes();
    let p002 = sample("pacs.002/fednow-outgoing.xml");
    if let Some(what) = std::env::args().nth(1) {
        // Profiling aid: loop one operation on the compact pacs.008 (`-fednow`: the sample as
        // it is, pretty-printed). `N = 0` gives the start-up cost to subtract.
        let n: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(200_000);
        for _ in 0..n {
            match what.as_str() {
                "scan" => drop(black_box(iso20022::xml::scan(black_box(&compact)))),
                "tape" => drop(black_box(iso20022::tape::parse(black_box(&compact), &l))),
                "tape-fednow" => drop(black_box(iso20022::tape::parse(black_box(&fednow), &l))),
                "scan-fednow" => drop(black_box(iso20022::xml::scan(black_box(&fednow)))),
                "fast-fednow" => drop(black_box(pacs008::decode(black_box(&fednow), &l))),
                _ => drop(black_box(pacs008::decode(black_box(&compact), &l))),
            }
        }
        return;
    }
    for (name, b) in [("pacs.008 fednow", &fednow), ("pacs.008 compact", &compact)] {
        row(
            name,
            b,
            &|| {
                black_box(pacs008::decode(black_box(b), &l).unwrap());
            },
            &|| {
                black_box(pacs008::decode_dom(black_box(b), &l).unwrap());
            },
        );
    }
    row(
        "pacs.002 fednow",
        &p002,
        &|| {
            black_box(pacs002::decode(black_box(&p002), &l).unwrap());
        },
        &|| {
            black_box(pacs002::decode_dom(black_box(&p002), &l).unwrap());
        },
    );
    let msg = pacs002::decode(&p002, &l).unwrap();
    let tx = pacs008::decode(&compact, &l).unwrap();
    let e2 = per_op_ns(100_000, &|| {
        black_box(pacs002::encode(black_box(&msg)));
    });
    let e8 = per_op_ns(100_000, &|| {
        black_box(pacs008::encode(black_box(&tx)));
    });
    println!("encode pacs.002 {e2:.0} ns; encode pacs.008 {e8:.0} ns");
}
