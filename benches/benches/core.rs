//! The in-process pipeline: one credit transfer through the sans-IO core, from the debtor's
//! decoded pacs.008 (alias resolution, checks, reservation, forwarded pacs.008 encoded) to
//! the creditor's accept (post, pacs.002 to both banks encoded), with the forwarded pacs.008
//! encoded from the decoded value or copied from the received bytes. No journal, no sockets:
//! this is the core thread's CPU cost per transfer, the part that cannot be spread over cores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switch::config::Config;

const CREATED: &str = "2026-11-23T10:00:00Z";

fn core() -> switch::core::Core {
    let cfg = Config::dev(std::path::Path::new("/nonexistent"));
    let mut core = switch::node::core_from_config(&cfg).unwrap();
    core.process_funding(0, 1 << 50, 0).unwrap();
    for c in switch::devnet::customers(1, 100) {
        let key = directory::Key::parse(&c.keys[0]).unwrap();
        core.process_alias(&key, 1, "0001", &c.account, &c.owner).unwrap();
    }
    core
}

fn pipeline(c: &mut Criterion) {
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(1));
    // `encoded`: the forwarded pacs.008 encoded from the decoded value (a caller without the
    // received bytes). `spliced`: copied from the received bytes, as the switch does; their
    // layout is found on the connection's worker thread, so outside the measured core work.
    for spliced in [false, true] {
        let mut core = core();
        let mut i = 0u64;
        let name = if spliced { "spliced" } else { "encoded" };
        g.bench_function(format!("transfer_reserve_forward_accept_post/{name}"), |b| {
            b.iter_batched(
                || {
                    i += 1;
                    let msg = switch::devnet::bench_payment(i, 100, CREATED);
                    let received = spliced
                        .then(|| iso20022::pacs008::encode(&msg))
                        .and_then(|xml| switch::core::Received::of(xml.as_bytes()));
                    assert_eq!(received.is_some(), spliced);
                    (msg, received, i)
                },
                |(msg, received, n)| {
                    if n % 1_000 == 0 {
                        // The banks acknowledge their streams, as pulling banks do.
                        core.process_ack(0, u64::MAX);
                        core.process_ack(1, u64::MAX);
                    }
                    let (events, _) = core.process_pacs008_received(0, &msg, received.as_ref(), n);
                    let id = match events.first() {
                        Some(switch::events::Event::ReservedRouted { id, .. }) => *id,
                        other => panic!("not reserved: {other:?}"),
                    };
                    let (events, _) =
                        core.process_pacs002(1, &switch::devnet::bench_accept(id, CREATED), n);
                    assert!(matches!(events.first(), Some(switch::events::Event::Accepted { .. })));
                    core.drain_outbound()
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
