//! The in-process pipeline: one credit transfer through the sans-IO core, from the debtor's
//! decoded pacs.008 (alias resolution, checks, reservation, forwarded pacs.008 encoded) to
//! the creditor's accept (post, pacs.002 to both banks encoded). No journal, no sockets:
//! this is the core thread's CPU cost per transfer, the part that cannot be spread over cores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iso20022::codes::TxStatus;
use iso20022::pacs002::{Pacs002, TxStatusReport};
use iso20022::pacs008::{CreditTransfer, GroupHeader, Pacs008};
use iso20022::{Account, AccountId, Agent, Amount, Currency, Party, Proxy};
use switch::config::Config;
use switch::core::FORWARD_PREFIX;

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

fn pacs008(i: u64) -> Pacs008 {
    let alias = switch::devnet::customers(1, (i % 100) as u32 + 1).last().unwrap().keys[0].clone();
    Pacs008 {
        header: GroupHeader {
            msg_id: format!("M{i}"),
            created: "2026-11-23T10:00:00Z".into(),
            settlement_method: "CLRG".into(),
            ..GroupHeader::default()
        },
        transactions: vec![CreditTransfer {
            end_to_end_id: format!("E{i}"),
            amount: Amount { minor: 1_000 + i % 1_000, currency: Currency::parse("BRL").unwrap() },
            charge_bearer: "SLEV".into(),
            debtor: Party { name: Some("Payer".into()), ..Party::default() },
            debtor_agent: Agent::bic("BKAABRSP"),
            creditor_agent: Agent { other_id: Some("NOTPROVIDED".into()), ..Agent::default() },
            creditor: Party { name: Some("Payee".into()), ..Party::default() },
            creditor_account: Some(Account {
                id: AccountId::Other("NOTPROVIDED".into()),
                proxy: Some(Proxy { id: alias, ..Proxy::default() }),
                ..Account::default()
            }),
            ..CreditTransfer::default()
        }],
    }
}

fn accept(id: u64) -> Pacs002 {
    Pacs002 {
        msg_id: format!("R{id}"),
        created: "2026-11-23T10:00:00Z".into(),
        original_msg_id: Some(format!("{FORWARD_PREFIX}{id}")),
        original_msg_name: Some("pacs.008.001.08".into()),
        transactions: vec![TxStatusReport {
            status: TxStatus::AcceptedSettlementInProcess,
            ..TxStatusReport::default()
        }],
        ..Pacs002::default()
    }
}

fn pipeline(c: &mut Criterion) {
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(1));
    let mut core = core();
    let mut i = 0u64;
    g.bench_function("transfer_reserve_forward_accept_post", |b| {
        b.iter_batched(
            || {
                i += 1;
                (pacs008(i), i)
            },
            |(msg, n)| {
                if n % 1_000 == 0 {
                    // The banks acknowledge their streams, as pulling banks do.
                    core.process_ack(0, u64::MAX);
                    core.process_ack(1, u64::MAX);
                }
                let (events, _) = core.process_pacs008(0, &msg, n);
                let id = match events.first() {
                    Some(switch::events::Event::ReservedRouted { id, .. }) => *id,
                    other => panic!("not reserved: {other:?}"),
                };
                let (events, _) = core.process_pacs002(1, &accept(id), n);
                assert!(matches!(events.first(), Some(switch::events::Event::Accepted { .. })));
                core.drain_outbound()
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
