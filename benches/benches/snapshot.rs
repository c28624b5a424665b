//! Core snapshots at scale: how long the core thread is busy encoding a snapshot of a core
//! holding 1,000,000 settled transfers (the default `[journal] snapshot_every_records` is
//! reached after roughly 300,000 transfers), how long a restart takes to restore it, and the
//! whole write through the journal (encode, write, fdatasync, rename, directory sync).
//! Set `SNAPSHOT_BENCH_TRANSFERS` for another size. Setup (building the core) is outside the
//! timed loops; the snapshot's size is printed once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use iso20022::codes::TxStatus;
use iso20022::pacs002::{Pacs002, TxStatusReport};
use iso20022::pacs008::{CreditTransfer, GroupHeader, Pacs008};
use iso20022::{Account, AccountId, Agent, Amount, Currency, Party};
use std::time::Duration;
use store::Journal;
use switch::config::Config;
use switch::core::{Core, FORWARD_PREFIX};

fn fresh() -> Core {
    let cfg = Config::dev(std::path::Path::new("/nonexistent"));
    switch::node::core_from_config(&cfg).unwrap()
}

fn pacs008(i: u64) -> Pacs008 {
    Pacs008 {
        header: GroupHeader {
            msg_id: format!("M{i}"),
            created: "2026-11-24T10:00:00Z".into(),
            settlement_method: "CLRG".into(),
            ..GroupHeader::default()
        },
        transactions: vec![CreditTransfer {
            end_to_end_id: format!("E2E{i:020}"),
            uetr: Some(format!("8a562c67-ca16-48ba-b074-{i:012}")),
            amount: Amount { minor: 1_000 + i % 1_000, currency: Currency::parse("BRL").unwrap() },
            charge_bearer: "SLEV".into(),
            debtor: Party { name: Some("Payer".into()), ..Party::default() },
            debtor_agent: Agent::bic("BKAABRSP"),
            creditor_agent: Agent::bic("BKBBBRSP"),
            creditor: Party { name: Some("Payee".into()), ..Party::default() },
            creditor_account: Some(Account {
                id: AccountId::Other(format!("{:08}", i % 100_000)),
                ..Account::default()
            }),
            ..CreditTransfer::default()
        }],
    }
}

fn accept(id: u64) -> Pacs002 {
    Pacs002 {
        msg_id: format!("R{id}"),
        created: "2026-11-24T10:00:00Z".into(),
        original_msg_id: Some(format!("{FORWARD_PREFIX}{id}")),
        original_msg_name: Some("pacs.008.001.08".into()),
        transactions: vec![TxStatusReport {
            status: TxStatus::AcceptedSettlementInProcess,
            ..TxStatusReport::default()
        }],
        ..Pacs002::default()
    }
}

/// A core that settled `n` transfers (1,000 aliases registered, streams acknowledged as
/// banks do), and, with `journal`, the events it journaled.
fn big_core(n: u64, journal: Option<&mut Vec<switch::events::Event>>) -> Core {
    let mut sink = Vec::new();
    let keep = journal.is_some();
    let events_out = journal.unwrap_or(&mut sink);
    let mut core = fresh();
    events_out.push(core.process_funding(0, 1 << 50, 0).unwrap());
    for c in switch::devnet::customers(1, 1_000) {
        let key = directory::Key::parse(&c.keys[0]).unwrap();
        events_out.extend(core.process_alias(&key, 1, "0001", &c.account, &c.owner).unwrap());
    }
    let t0 = 1_795_000_000_000u64;
    for i in 1..=n {
        let now = t0 + i / 50;
        let (events, _) = core.process_pacs008(0, &pacs008(i), now);
        let id = match events.first() {
            Some(switch::events::Event::ReservedRouted { id, .. }) => *id,
            other => panic!("not reserved: {other:?}"),
        };
        let (accepted, _) = core.process_pacs002(1, &accept(id), now);
        let mut acks = Vec::new();
        if i % 1_000 == 0 {
            acks.extend(core.process_ack(0, u64::MAX));
            acks.extend(core.process_ack(1, u64::MAX));
        }
        if keep {
            events_out.extend(events.into_iter().chain(accepted).chain(acks));
        }
        core.drain_outbound();
    }
    core
}

fn snapshot(c: &mut Criterion) {
    let n: u64 = std::env::var("SNAPSHOT_BENCH_TRANSFERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut journal = Vec::new();
    let small = big_core(100_000, Some(&mut journal));
    let small_bytes = small.encode_snapshot().unwrap();
    drop(small);
    let core = big_core(n, None);
    let bytes = core.encode_snapshot().unwrap();
    eprintln!(
        "snapshot: transfers={n} bytes={} bytes_per_transfer={}",
        bytes.len(),
        bytes.len() as u64 / n.max(1)
    );
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(format!("encode_{n}_transfers"), |b| {
        b.iter(|| core.encode_snapshot().unwrap().len())
    });
    g.bench_function(format!("restore_{n}_transfers"), |b| {
        b.iter_batched(
            fresh,
            |mut target| {
                target.restore_snapshot(&bytes).unwrap();
                target
            },
            criterion::BatchSize::PerIteration,
        )
    });
    // What a snapshot saves: replaying the journal records of 100,000 transfers, against
    // restoring their snapshot.
    g.bench_function("replay_journal_of_100000_transfers", |b| {
        b.iter_batched(
            fresh,
            |mut target| {
                for e in &journal {
                    target.apply(e);
                }
                target.drain_outbound();
                target
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("restore_snapshot_of_100000_transfers", |b| {
        b.iter_batched(
            fresh,
            |mut target| {
                target.restore_snapshot(&small_bytes).unwrap();
                target
            },
            criterion::BatchSize::PerIteration,
        )
    });
    eprintln!("replay: records_of_100000_transfers={}", journal.len());
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) =
        store::FileJournal::open_with(dir.path(), store::JournalOptions::default(), |_| Ok(()))
            .unwrap();
    g.bench_function(format!("encode_and_write_{n}_transfers"), |b| {
        b.iter(|| {
            journal.append(b"one record").unwrap();
            journal.sync().unwrap();
            let seq = journal.last_seq();
            journal.write_snapshot(seq, &core.encode_snapshot().unwrap()).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, snapshot);
criterion_main!(benches);
