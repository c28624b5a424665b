//! Core snapshots: a core restored from a snapshot behaves exactly as the core it was taken
//! from, and damaged or foreign snapshots are refused with a specific error.
//!
//! A seeded random workload (payments, duplicates, accepts, rejects, timeouts, returns,
//! recalls with their answers and expiries, enquiries, acknowledgements, suspensions, window
//! closes) runs through a core; at several points it is snapshotted and restored into a fresh
//! core, both take the same further inputs, and every output (events, answers, messages with
//! their sequence numbers) and the re-encoded snapshot bytes must be identical. A failing
//! run prints its seed.
//!
//! A running switch (`Node`) writes snapshots as it goes; restarted, it restores the newest
//! and replays only the records after it, with the same balances, idempotent answers,
//! transfers in flight with their deadlines, and unacknowledged messages delivered again.
//! The offline tools (`switchctl ledger audit`, `transfers verify`, `transfer show`) start
//! from the snapshot once the segments it covers are gone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use adapters::exceptions::{self as x, Original};
use iso20022::codes::{CancellationReason, CancellationRejection, ReturnReason, TxStatus};
use iso20022::pacs002::{Pacs002, TxStatusReport};
use iso20022::pacs008::{CreditTransfer, GroupHeader, Pacs008};
use iso20022::{Account, AccountId, Agent, Amount, Currency, Party};
use switch::config::{Config, RetentionSettings};
use switch::core::{Answer, Core, State, FORWARD_PREFIX};
use switch::events::Event;
use switch::snapshot::SnapshotError;

const BICS: [&str; 3] = ["BKAABRSP", "BKBBBRSP", "BKCCBRSP"];
const T0: u64 = 1_795_000_000_000;

/// xorshift64*: the workload's only source of randomness, from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn brl() -> Currency {
    Currency::parse("BRL").unwrap()
}

fn iso(ms: u64) -> String {
    switch::time::iso_datetime(ms)
}

fn fresh() -> Core {
    fresh_with(None)
}

/// A development core, with these `[retention]` settings if given.
fn fresh_with(retention: Option<&RetentionSettings>) -> Core {
    let mut cfg = Config::dev(std::path::Path::new("/nonexistent"));
    if let Some(r) = retention {
        cfg.retention = r.clone();
    }
    switch::node::core_from_config(&cfg).unwrap()
}

/// Retention tight enough that the workload retires transfers and forgets their
/// duplicate-detection records many times over.
fn tight() -> RetentionSettings {
    RetentionSettings { finished_keep_ms: 20_000, finished_kept_max: 40, duplicates_kept_max: 60 }
}

/// One input to a core.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Op {
    Pacs008(u32, Pacs008),
    Pacs002(u32, Pacs002),
    Pacs004(u32, iso20022::pacs004::Pacs004),
    Camt056(u32, iso20022::camt056::Camt056),
    Camt029(u32, iso20022::camt029::Camt029),
    Pacs028(u32, iso20022::pacs028::Pacs028),
    Timeouts,
    Ack(u32, u64),
    Status(u32, bool),
    CloseWindow,
    Fund(u32, u64),
    Directory(u32, &'static str, String),
}

/// Everything a core answers to one input: events, answer, messages out.
type Output = (Vec<Event>, Option<Answer>, Vec<(u32, u64, String, String)>);

fn run(core: &mut Core, op: &Op, now: u64) -> Output {
    let (events, answer) = match op {
        Op::Pacs008(f, m) => {
            let (e, a) = core.process_pacs008(*f, m, now);
            (e, Some(a))
        }
        Op::Pacs002(f, m) => {
            let (e, a) = core.process_pacs002(*f, m, now);
            (e, Some(a))
        }
        Op::Pacs004(f, m) => {
            let (e, a) = core.process_pacs004(*f, m, now);
            (e, Some(a))
        }
        Op::Camt056(f, m) => {
            let (e, a) = core.process_camt056(*f, m, now);
            (e, Some(a))
        }
        Op::Camt029(f, m) => {
            let (e, a) = core.process_camt029(*f, m, now);
            (e, Some(a))
        }
        Op::Pacs028(f, m) => {
            let (e, a) = core.process_pacs028(*f, m, now);
            (e, Some(a))
        }
        Op::Timeouts => (core.process_timeouts(now, 64), None),
        Op::Ack(p, up_to) => (core.process_ack(*p, *up_to).into_iter().collect(), None),
        Op::Status(p, s) => (core.process_status(*p, *s, now).unwrap().into_iter().collect(), None),
        Op::CloseWindow => (vec![core.process_close_window(now).unwrap()], None),
        Op::Fund(p, a) => (vec![core.process_funding(*p, *a, now).unwrap()], None),
        Op::Directory(p, method, path) => {
            let (e, a) = core.process_directory(*p, method, path, Some("12345678909"), b"", now);
            let text = format!("{} {:?} {}", a.status, a.headers, a.body);
            (e, Some(Answer::Refused { code: "DIRECTORY", message: text }))
        }
    };
    let out = core
        .drain_outbound()
        .into_iter()
        .map(|o| (o.participant, o.seq, o.msg_type.to_string(), o.xml.as_ref().clone()))
        .collect();
    (events, answer, out)
}

fn alias(p: u32, i: u64) -> String {
    format!("c{i}@bank{p}.example.com")
}

fn pacs008(from: u32, to: u32, n: u64, amount: u64, now: u64) -> Pacs008 {
    let mut m = pacs008_agent(from, to, n, amount, now);
    if n % 3 == 0 {
        let tx = &mut m.transactions[0];
        tx.creditor_agent = Agent { other_id: Some("NOTPROVIDED".into()), ..Agent::default() };
        tx.creditor_account = Some(Account {
            id: AccountId::Other("NOTPROVIDED".into()),
            proxy: Some(iso20022::Proxy { id: alias(to, n % 12), ..Default::default() }),
            ..Account::default()
        });
    }
    m
}

fn pacs008_agent(from: u32, to: u32, n: u64, amount: u64, now: u64) -> Pacs008 {
    Pacs008 {
        header: GroupHeader {
            msg_id: format!("M{from}-{n}"),
            created: iso(now),
            settlement_method: "CLRG".into(),
            ..GroupHeader::default()
        },
        transactions: vec![CreditTransfer {
            end_to_end_id: format!("E{from}-{n}"),
            amount: Amount { minor: amount, currency: brl() },
            charge_bearer: "SLEV".into(),
            debtor: Party { name: Some("Payer".into()), ..Party::default() },
            debtor_agent: Agent::bic(BICS[from as usize]),
            creditor_agent: Agent::bic(BICS[to as usize]),
            creditor: Party { name: Some("Payee".into()), ..Party::default() },
            creditor_account: Some(Account {
                id: AccountId::Other(format!("ACC{}", n % 7)),
                ..Account::default()
            }),
            ..CreditTransfer::default()
        }],
    }
}

fn answer(id: u64, accept: bool, now: u64) -> Pacs002 {
    Pacs002 {
        msg_id: format!("R{id}-{now}"),
        created: iso(now),
        original_msg_id: Some(format!("{FORWARD_PREFIX}{id}")),
        original_msg_name: Some("pacs.008.001.08".into()),
        transactions: vec![TxStatusReport {
            status: if accept { TxStatus::AcceptedSettlementInProcess } else { TxStatus::Rejected },
            reason: (!accept).then_some(iso20022::codes::StatusReason::IncorrectAccountNumber),
            ..TxStatusReport::default()
        }],
        ..Pacs002::default()
    }
}

/// One pacs.002 answering several forwarded transfers, each named by its `ClrSysRef`.
fn answer_many(ids: &[u64], accepts: &[bool], now: u64) -> Pacs002 {
    Pacs002 {
        msg_id: format!("RM{}-{now}", ids[0]),
        created: iso(now),
        transactions: ids
            .iter()
            .zip(accepts)
            .map(|(id, accept)| TxStatusReport {
                clearing_ref: Some(format!("{FORWARD_PREFIX}{id}")),
                ..answer(*id, *accept, now).transactions.remove(0)
            })
            .collect(),
        ..Pacs002::default()
    }
}

/// The workload: the next input, chosen from the state of `core`.
struct Workload {
    rng: Rng,
    now: u64,
    n: u64,
    sent: Vec<Op>,
}

impl Workload {
    fn new(seed: u64) -> Workload {
        Workload { rng: Rng(seed | 1), now: T0, n: 0, sent: Vec::new() }
    }

    fn ids_where(core: &Core, f: impl Fn(&switch::core::Transfer) -> bool) -> Vec<u64> {
        let mut v: Vec<u64> = core.transfers().filter(|t| f(t)).map(|t| t.id).collect();
        v.sort_unstable();
        v
    }

    fn pick(&mut self, v: &[u64]) -> Option<u64> {
        (!v.is_empty()).then(|| v[self.rng.below(v.len() as u64) as usize])
    }

    fn original(t: &switch::core::Transfer) -> Original {
        Original::by_clearing_ref(&format!("{FORWARD_PREFIX}{}", t.id), &t.ids.end_to_end_id)
    }

    fn next(&mut self, core: &Core) -> Op {
        self.now += self.rng.below(1_500);
        self.n += 1;
        let now = self.now;
        let n = self.n;
        let roll = self.rng.below(100);
        let settled = |t: &switch::core::Transfer| t.state == State::Settled;
        let pending = |t: &switch::core::Transfer| matches!(t.state, State::Reserved { .. });
        match roll {
            0..=34 => {
                let from = self.rng.below(3) as u32;
                let to = (from + 1 + self.rng.below(2) as u32) % 3;
                let amount = match self.rng.below(10) {
                    0 => 900_000_000_000,
                    1 => 0,
                    _ => 100 + self.rng.below(500_000),
                };
                let op = Op::Pacs008(from, pacs008(from, to, n, amount, now));
                self.sent.push(op.clone());
                op
            }
            35..=39 if !self.sent.is_empty() => {
                // The same message again, or the same ids with another amount.
                let i = self.rng.below(self.sent.len() as u64) as usize;
                let mut op = self.sent[i].clone();
                if self.rng.below(3) == 0 {
                    if let Op::Pacs008(_, m) = &mut op {
                        m.transactions[0].amount.minor += 1;
                    }
                }
                op
            }
            40..=64 => match self.pick(&Self::ids_where(core, pending)) {
                Some(id) if self.rng.below(3) == 0 => {
                    // Several of one creditor's transfers answered in one pacs.002.
                    let c = core.transfer(id).unwrap().creditor;
                    let same = Self::ids_where(core, |t| pending(t) && t.creditor == c);
                    let mut ids: Vec<u64> =
                        same.into_iter().take(1 + self.rng.below(4) as usize).collect();
                    if self.rng.below(8) == 0 {
                        // A bank's mistake: one transfer twice (refused whole).
                        ids.push(ids[0]);
                    }
                    let accepts: Vec<bool> = ids.iter().map(|_| self.rng.below(4) != 0).collect();
                    Op::Pacs002(c.unwrap(), answer_many(&ids, &accepts, now))
                }
                Some(id) => {
                    let t = core.transfer(id).unwrap();
                    Op::Pacs002(t.creditor.unwrap(), answer(id, self.rng.below(4) != 0, now))
                }
                None => Op::Timeouts,
            },
            65..=69 => {
                self.now += 8_000;
                Op::Timeouts
            }
            70..=74 => match self.pick(&Self::ids_where(core, settled)) {
                Some(id) => {
                    let t = core.transfer(id).unwrap();
                    let c = t.creditor.unwrap();
                    let amount = 1 + self.rng.below(t.amount_minor);
                    let m = x::return_payment(
                        BICS[c as usize],
                        &format!("RT{n}"),
                        &Self::original(t),
                        amount,
                        brl(),
                        ReturnReason::Fraud,
                        &iso(now),
                    );
                    Op::Pacs004(c, m)
                }
                None => Op::Timeouts,
            },
            75..=79 => match self.pick(&Self::ids_where(core, settled)) {
                Some(id) => {
                    let t = core.transfer(id).unwrap();
                    let m = x::recall(
                        BICS[t.debtor as usize],
                        &format!("AS{n}"),
                        &Self::original(t),
                        if self.rng.below(2) == 0 {
                            CancellationReason::DuplicatePayment
                        } else {
                            CancellationReason::FraudulentOrigin
                        },
                        "",
                        &iso(now),
                    );
                    Op::Camt056(t.debtor, m)
                }
                None => Op::Timeouts,
            },
            80..=83 => {
                let mut open: Vec<_> = core
                    .recalls()
                    .filter(|r| r.state == switch::exceptions::RecallState::Open)
                    .map(|r| (r.id, r.transfer, r.assignment_id.clone()))
                    .collect();
                open.sort();
                if open.is_empty() {
                    return Op::Timeouts;
                }
                let (_, tid, assignment) = open[self.rng.below(open.len() as u64) as usize].clone();
                let t = core.transfer(tid).unwrap();
                let c = t.creditor.unwrap();
                let refusal =
                    (self.rng.below(2) == 0).then_some(CancellationRejection::LegalDecision);
                let m = x::answer_recall(
                    BICS[c as usize],
                    &assignment,
                    &Self::original(t),
                    refusal,
                    &iso(now),
                );
                Op::Camt029(c, m)
            }
            84..=86 => match self.pick(&Self::ids_where(core, |_| true)) {
                Some(id) => {
                    let t = core.transfer(id).unwrap();
                    let m = x::status_enquiry(
                        BICS[t.debtor as usize],
                        &format!("Q{n}"),
                        &Self::original(t),
                        &iso(now),
                    );
                    Op::Pacs028(t.debtor, m)
                }
                None => Op::Timeouts,
            },
            87..=94 => {
                let p = self.rng.below(3) as u32;
                Op::Ack(p, core.acked(p) + self.rng.below(20))
            }
            95 => Op::Status(2, self.rng.below(2) == 0),
            98 if self.rng.below(2) == 0 => {
                let p = self.rng.below(3) as u32;
                let key = alias(p, self.rng.below(12));
                Op::Directory(p, "DELETE", format!("/api/v1/directory/entries/{key}"))
            }
            99 | 98 => {
                let p = self.rng.below(3) as u32;
                let key = alias((p + 1) % 3, self.rng.below(12));
                Op::Directory(p, "GET", format!("/api/v1/directory/entries/{key}"))
            }
            96 => Op::CloseWindow,
            97 => {
                // Far ahead: recalls and holds expire.
                self.now += 11 * 86_400_000;
                Op::Timeouts
            }
            _ => Op::Fund(self.rng.below(3) as u32, 1 + self.rng.below(1_000_000)),
        }
    }
}

fn funded_core() -> Core {
    funded_core_with(None)
}

fn funded_core_with(retention: Option<&RetentionSettings>) -> Core {
    let mut core = fresh_with(retention);
    for p in 0..3 {
        core.process_funding(p, 50_000_000, T0).unwrap();
        for i in 0..10 {
            let key = directory::Key::parse(&alias(p, i)).unwrap();
            core.process_alias(&key, p, "0001", &format!("{p}{i:05}"), "Ana Souza").unwrap();
        }
    }
    core.drain_outbound();
    core
}

fn restored(bytes: &[u8]) -> Core {
    restored_with(bytes, None)
}

fn restored_with(bytes: &[u8], retention: Option<&RetentionSettings>) -> Core {
    let mut core = fresh_with(retention);
    core.restore_snapshot(bytes).unwrap();
    core
}

/// Runs `ops` inputs on `a`, snapshotting at each of `points`: the restored copy must answer
/// the next `follow` inputs exactly as `a` does and re-encode to the same bytes. Returns the
/// events applied to `a`, in order.
fn check_run(seed: u64, ops: u64, points: &[u64], follow: u64) -> Vec<Event> {
    check_run_with(seed, ops, points, follow, None)
}

fn check_run_with(
    seed: u64,
    ops: u64,
    points: &[u64],
    follow: u64,
    retention: Option<&RetentionSettings>,
) -> Vec<Event> {
    let restored = |bytes: &[u8]| restored_with(bytes, retention);
    let mut a = funded_core_with(retention);
    let mut w = Workload::new(seed);
    let mut journal = Vec::new();
    for i in 0..ops {
        if points.contains(&i) {
            let bytes = a.encode_snapshot().unwrap();
            let mut b = restored(&bytes);
            assert_eq!(b.encode_snapshot().unwrap(), bytes, "seed {seed}: re-encoding at {i}");
            for t in a.transfers() {
                let found = b.transfer_by_ids(t.debtor, &t.ids).map(|t| t.id);
                let original = a.transfer_by_ids(t.debtor, &t.ids).map(|t| t.id);
                assert_eq!(found, original, "seed {seed}: idempotency record of {}", t.id);
            }
            let mut w2 = Workload { rng: Rng(w.rng.0), now: w.now, n: w.n, sent: w.sent.clone() };
            let mut a2 = restored(&bytes);
            for j in 0..follow {
                let op = w2.next(&a2);
                let now = w2.now;
                let out_a = run(&mut a2, &op, now);
                let out_b = run(&mut b, &op, now);
                assert_eq!(out_a, out_b, "seed {seed}: input {} after the snapshot at {i}", j + 1);
            }
            assert_eq!(
                a2.encode_snapshot().unwrap(),
                b.encode_snapshot().unwrap(),
                "seed {seed}: state {follow} inputs after the snapshot at {i}"
            );
        }
        let op = w.next(&a);
        let now = w.now;
        let (events, _, _) = run(&mut a, &op, now);
        journal.extend(events);
        if let Some(r) = retention {
            let held = a.retention_stats().retired_records as u64;
            assert!(held <= r.duplicates_kept_max, "seed {seed}: {held} records at {i}");
        }
    }
    if let Some(r) = retention {
        // Once the timers ran, what is held in full is within the limits (a recall holds
        // its transfer beyond them).
        let (events, _, _) = run(&mut a, &Op::Timeouts, w.now);
        journal.extend(events);
        let done = a
            .transfers()
            .filter(|t| !matches!(t.state, State::Reserved { .. }) && t.recall.is_none());
        assert!(done.count() as u64 <= r.finished_kept_max, "seed {seed}");
    }
    a.conserved().unwrap();
    journal
}

#[test]
fn a_restored_core_answers_exactly_as_the_original() {
    for seed in [1u64, 0xfeed_beef, 20_261_124] {
        let events = check_run(seed, 2_500, &[0, 1, 400, 1_200, 2_499], 600);
        let kinds = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
        // The workload really covers the flows.
        assert!(kinds(|e| matches!(e, Event::Accepted { .. })) > 50, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::Declined { .. })) > 5, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::Expired { .. })) > 5, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::Rejected { .. })) > 5, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::ReturnSettled { .. })) > 5, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::RecallOpened { .. })) > 5, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::RecallAnswered { .. })) > 2, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::Resent { .. })) > 2, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::DuplicateRefused { .. })) > 2, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::Acked { .. })) > 20, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::Answered { .. })) > 2, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::Directory { .. })) > 2, "seed {seed}");
        let by_alias = events.iter().filter(
            |e| matches!(e, Event::ReservedRouted { creditor_key, .. } if !creditor_key.is_empty()),
        );
        assert!(by_alias.count() > 20, "seed {seed}");
    }
}

/// With retention tight enough that transfers are retired and forgotten all the time, a
/// restored core still answers exactly as the original (resends of retired transfers,
/// refusals of forgotten ones), and memory stays within the limits.
#[test]
fn a_restored_core_answers_exactly_as_the_original_under_retention() {
    let r = tight();
    for seed in [5u64, 0xdead_2026] {
        let events = check_run_with(seed, 2_500, &[0, 700, 1_600, 2_499], 500, Some(&r));
        let kinds = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
        assert!(kinds(|e| matches!(e, Event::Retired { ids, .. } if !ids.is_empty())) > 20);
        assert!(kinds(|e| matches!(e, Event::Retired { forget, .. } if *forget > 0)) > 5);
        assert!(kinds(|e| matches!(e, Event::ResentRetired { .. })) > 0, "seed {seed}");
        let dt01 = |e: &Event| matches!(e, Event::Rejected { reason, .. } if reason == "DT01");
        assert!(events.iter().filter(|e| dt01(e)).count() > 0, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::ReturnSettled { .. })) > 5, "seed {seed}");
        assert!(kinds(|e| matches!(e, Event::RecallOpened { .. })) > 5, "seed {seed}");
    }
}

/// Snapshot plus the events after it rebuilds the same state as replaying every event,
/// with and without retention at work.
#[test]
fn snapshot_then_tail_equals_full_replay() {
    snapshot_then_tail_equals_full_replay_with(77, None);
    snapshot_then_tail_equals_full_replay_with(78, Some(&tight()));
}

fn snapshot_then_tail_equals_full_replay_with(seed: u64, r: Option<&RetentionSettings>) {
    let funded_core = || funded_core_with(r);
    let restored = |bytes: &[u8]| restored_with(bytes, r);
    let events = check_run_with(seed, 1_500, &[], 0, r);
    let mut full = funded_core();
    for e in &events {
        full.apply(e);
    }
    full.drain_outbound();
    for cut in [0usize, 1, events.len() / 3, events.len() - 1, events.len()] {
        let mut head = funded_core();
        for e in &events[..cut] {
            head.apply(e);
        }
        head.drain_outbound();
        let mut tail = restored(&head.encode_snapshot().unwrap());
        for e in &events[cut..] {
            tail.apply(e);
        }
        tail.drain_outbound();
        assert_eq!(tail.encode_snapshot().unwrap(), full.encode_snapshot().unwrap(), "cut {cut}");
        assert_eq!(tail.positions(), full.positions());
        for p in 0..3 {
            let seqs = |c: &Core| c.unacked(p).map(|o| (o.seq, o.xml.clone())).collect::<Vec<_>>();
            assert_eq!(seqs(&tail), seqs(&full), "unacknowledged of {p} at cut {cut}");
        }
    }
}

fn snapshot_bytes() -> (Core, Vec<u8>) {
    let mut core = funded_core();
    let mut w = Workload::new(5);
    for _ in 0..300 {
        let op = w.next(&core);
        let now = w.now;
        run(&mut core, &op, now);
    }
    let bytes = core.encode_snapshot().unwrap();
    (core, bytes)
}

#[test]
fn truncated_snapshots_are_refused_and_leave_the_core_alone() {
    let (_, bytes) = snapshot_bytes();
    let mut target = funded_core();
    let before = target.encode_snapshot().unwrap();
    let step = (bytes.len() / 300).max(1);
    for len in (0..bytes.len()).step_by(step) {
        match target.restore_snapshot(&bytes[..len]) {
            Err(SnapshotError::Truncated { .. } | SnapshotError::BadMagic) => {}
            other => panic!("cut at {len} of {}: {other:?}", bytes.len()),
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(target.restore_snapshot(&longer), Err(SnapshotError::TrailingBytes(1)));
    assert_eq!(target.encode_snapshot().unwrap(), before, "a refused snapshot changed nothing");
}

#[test]
fn damaged_snapshots_are_refused_with_a_specific_error() {
    let (_, bytes) = snapshot_bytes();
    let mut target = fresh();
    let step = (bytes.len() / 500).max(1);
    for at in (switch::snapshot::CORE_SNAPSHOT_HEADER_BYTES..bytes.len()).step_by(step) {
        let mut d = bytes.clone();
        d[at] ^= 0x5a;
        match target.restore_snapshot(&d) {
            Err(SnapshotError::ChecksumMismatch { .. }) => {}
            other => panic!("flip at {at}: {other:?}"),
        }
    }
    let mut d = bytes.clone();
    d[0] = b'X';
    assert_eq!(target.restore_snapshot(&d), Err(SnapshotError::BadMagic));
    let mut d = bytes.clone();
    d[8..12].copy_from_slice(&9u32.to_le_bytes());
    assert_eq!(target.restore_snapshot(&d), Err(SnapshotError::UnsupportedVersion(9)));
    let e = target.restore_snapshot(b"hello").unwrap_err().to_string();
    assert!(e.contains("not a switch core snapshot"), "{e}");
    // A ledger snapshot is not a core snapshot.
    let mut l = Vec::new();
    ledger::Ledger::default().encode_snapshot(&mut l);
    assert_eq!(target.restore_snapshot(&l), Err(SnapshotError::BadMagic));
}

#[test]
fn a_snapshot_refuses_a_configuration_with_other_participants() {
    let (_, bytes) = snapshot_bytes();
    let base = Config::dev(std::path::Path::new("/nonexistent"));
    let mut renamed = base.clone();
    renamed.participants[1].bic = "BKDDBRSP".into();
    let mut fewer = base.clone();
    fewer.participants.pop();
    let mut member = base.clone();
    member.participants[0].member_id = Some("99999999".into());
    for (what, cfg) in [("renamed", renamed), ("fewer", fewer), ("member", member)] {
        let mut core = switch::node::core_from_config(&cfg).unwrap();
        match core.restore_snapshot(&bytes) {
            Err(SnapshotError::ParticipantsDiffer(m)) => {
                assert!(!m.is_empty(), "{what}");
                let text = SnapshotError::ParticipantsDiffer(m).to_string();
                assert!(text.contains("other participants"), "{what}: {text}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // A status no event changed comes from the configuration, as in a replay from the start;
    // one set by a journaled event stands.
    let mut suspended = base.clone();
    suspended.participants[1].status = switch::config::ParticipantStatus::Suspended;
    let mut core = switch::node::core_from_config(&suspended).unwrap();
    core.restore_snapshot(&bytes).unwrap();
    assert!(core.participants()[1].suspended, "no event changed it: as configured");
    let mut changed = restored(&bytes);
    changed.process_status(1, true, T0).unwrap().unwrap();
    let mut core = fresh();
    core.restore_snapshot(&changed.encode_snapshot().unwrap()).unwrap();
    assert!(core.participants()[1].suspended, "journaled status stands");
    // Rules may change between restarts (they come from the configuration).
    let mut rules = base;
    rules.scheme.transaction_amount_max_minor = 5;
    let mut core = switch::node::core_from_config(&rules).unwrap();
    core.restore_snapshot(&bytes).unwrap();
}

// ----- a running switch -----

const NOW: &str = "2026-11-24T10:00:00Z";

fn journal_recovery(data: &std::path::Path) -> (store::Recovery, Vec<Event>) {
    let mut tail = Vec::new();
    let rec = store::FileJournal::replay_read_only(
        &data.join("journal"),
        &store::JournalOptions::default(),
        |r| {
            if let store::Replay::Record { data, .. } = r {
                tail.push(switch::events::decode(data)?);
            }
            Ok(())
        },
    )
    .unwrap();
    (rec, tail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_a_snapshot_replays_only_the_tail_and_loses_nothing() {
    use std::time::Duration;
    use switch::node::Node;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cfg = common::config(&data);
    cfg.journal.snapshot_every_records = 40;
    cfg.scheme.creditor_timeout_ms = 10_000;
    cfg.scheme.debtor_deadline_ms = 12_000;
    let pki = data.join("pki");
    let node = Node::start(&cfg).await.unwrap();
    assert_eq!(node.replayed, 0);
    let banks = common::banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    banks[0].spawn_inbox(rx.clone());
    banks[1].spawn_inbox(rx.clone());
    // C never pulls: what goes to C stays unacknowledged, and its transfers stay in flight.
    let mut in_flight = Vec::new();
    for k in 0..3u32 {
        let e2e = format!("HOLD{k:03}");
        let to = common::alias(2, k, 0);
        let xml = iso20022::pacs008::encode(&banks[0].pacs008_by_alias(&e2e, "1", &to, 500, NOW));
        banks[0].client().send(xml.clone()).await.unwrap();
        in_flight.push((e2e, xml));
    }
    let mut settled = Vec::new();
    for k in 0..60u32 {
        let e2e = format!("SNAP{k:04}");
        let to =
            if k % 9 == 0 { "+5511900000000".to_string() } else { common::alias(1, k % 10, 0) };
        let msg = banks[0].pacs008_by_alias(&e2e, "000001", &to, 1_000 + u64::from(k), NOW);
        let xml = iso20022::pacs008::encode(&msg);
        let out = banks[0].send_and_wait(&e2e, xml.clone(), Duration::from_secs(20)).await.unwrap();
        settled.push((e2e, xml, out));
    }
    assert!(settled.iter().any(|s| s.2.status == TxStatus::Rejected), "some refused");
    let op = common::operator(node.addr, &pki).await;
    let (before, conserved, v) = common::positions(&op).await;
    assert!(conserved);
    assert_eq!(v["in_flight"].as_u64(), Some(3), "{v}");

    let _ = stop.send(true);
    drop((banks, op));
    node.stop().unwrap().join().unwrap().unwrap();
    let (rec, tail) = journal_recovery(&data);
    let snapshot = rec.snapshot_seq.expect("snapshots were written");
    // Every segment is still there: the audit replays the whole history, ignoring snapshots.
    let (ok, text) = switchctl(&["ledger", "audit"], &data);
    assert!(ok && text.contains("balances_ok=true conserved=true"), "{text}");
    assert!(!text.contains("from_snapshot"), "{text}");
    assert!(text.contains(&format!("audit: records={} ", rec.last_seq)), "{text}");
    assert!(rec.records_replayed < rec.last_seq / 2, "{rec:?}");
    // The transfers in flight were reserved before the snapshot: they come from it.
    assert!(!tail.iter().any(|e| matches!(e, Event::ReservedRouted { creditor: 2, .. })));

    let node = Node::start(&cfg).await.unwrap();
    assert_eq!(node.replayed, rec.records_replayed, "only the records after {snapshot}");
    let op = common::operator(node.addr, &pki).await;
    let (after, conserved, v) = common::positions(&op).await;
    assert!(conserved);
    assert_eq!(after, before, "balances survive");
    assert_eq!(v["in_flight"].as_u64(), Some(3), "{v}");

    // C gets its unacknowledged messages again: the three forwarded pacs.008s.
    let banks = common::banks(&cfg, node.addr, &pki).await;
    let pulled = banks[2].client().pull(0, 100, 2_000).await.unwrap();
    for (e2e, _) in &in_flight {
        assert!(
            pulled.messages.iter().any(|m| m.msg_type == "pacs.008.001.08" && m.xml.contains(e2e)),
            "{e2e} delivered again to C"
        );
    }
    let (stop, rx) = tokio::sync::watch::channel(false);
    banks[0].spawn_inbox(rx.clone());
    banks[1].spawn_inbox(rx.clone());
    // The same messages again get the same answers; nothing moves.
    for (e2e, xml, out) in &settled {
        let again = banks[0].send_and_wait(e2e, xml.clone(), Duration::from_secs(20)).await;
        assert_eq!(again.unwrap(), *out, "{e2e}");
    }
    assert_eq!(common::positions(&op).await.0, before);
    // The transfers in flight keep their deadlines: unanswered, they time out (AB05).
    for (e2e, xml) in &in_flight {
        let out = banks[0].send_and_wait(e2e, xml.clone(), Duration::from_secs(30)).await.unwrap();
        assert_eq!(out.status, TxStatus::Rejected, "{e2e}");
        assert_eq!(out.reason, Some(iso20022::codes::StatusReason::TimeoutCreditorAgent));
    }
    let (end, conserved, v) = common::positions(&op).await;
    assert!(conserved);
    assert_eq!(end, before, "timed-out reservations are released");
    assert_eq!(v["in_flight"].as_u64(), Some(0), "{v}");
    let _ = stop.send(true);
    drop((banks, op));
    node.stop().unwrap().join().unwrap().unwrap();
}

// ----- offline tools on a journal whose first segments are gone -----

/// A journal written as the switch writes it (small segments, a snapshot every 300 records,
/// covered segments deleted) from the random workload. Returns the final core and the
/// oldest transfer the newest snapshot holds.
fn write_journal(data: &std::path::Path) -> (Core, u64) {
    use store::Journal;
    let opts = store::JournalOptions { segment_bytes_max: 16 << 10, ..Default::default() };
    let (mut j, _) =
        store::FileJournal::open_with(&data.join("journal"), opts, |_| Ok(())).unwrap();
    let mut core = fresh();
    let mut setup = Vec::new();
    for p in 0..3 {
        setup.push(core.process_funding(p, 50_000_000, T0).unwrap());
        for i in 0..10 {
            let key = directory::Key::parse(&alias(p, i)).unwrap();
            setup
                .extend(core.process_alias(&key, p, "0001", &format!("{p}{i:05}"), "Ana").unwrap());
        }
    }
    for e in &setup {
        j.append(&switch::events::encode(e).unwrap()).unwrap();
    }
    let mut w = Workload::new(99);
    let mut last_snapshot = 0;
    let mut oldest = 0;
    for _ in 0..2_000 {
        let op = w.next(&core);
        let now = w.now;
        let (events, _, _) = run(&mut core, &op, now);
        for e in &events {
            j.append(&switch::events::encode(e).unwrap()).unwrap();
        }
        j.sync().unwrap();
        if j.last_seq() >= last_snapshot + 300 {
            last_snapshot = j.last_seq();
            j.write_snapshot(last_snapshot, &core.encode_snapshot().unwrap()).unwrap();
            oldest = core.transfers().map(|t| t.id).min().unwrap_or(0);
        }
    }
    j.sync().unwrap();
    (core, oldest)
}

fn switchctl(args: &[&str], data: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn offline_tools_start_from_the_snapshot_when_the_history_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (core, oldest_in_snapshot) = write_journal(&data);
    let first = data.join("journal").join(format!("journal-{:020}.seg", 1));
    assert!(!first.exists(), "the first segment was deleted once snapshots covered it");

    let (ok, text) = switchctl(&["ledger", "audit"], &data);
    assert!(ok, "{text}");
    assert!(text.contains("audit: from_snapshot="), "{text}");
    assert!(text.contains("balances_ok=true conserved=true"), "{text}");

    // Every outcome, including those decided long before the snapshot, is verifiable.
    let mut log = String::new();
    for t in core.transfers() {
        let status = match t.state {
            State::Settled => ("ACSC", "-".to_string()),
            State::Rejected(r) => ("RJCT", r.code().to_string()),
            State::Reserved { .. } => continue,
        };
        let bic = BICS[t.debtor as usize];
        log.push_str(&format!("{bic} {} {} {}\n", t.ids.end_to_end_id, status.0, status.1));
    }
    let ack_log = dir.path().join("acks.txt");
    std::fs::write(&ack_log, &log).unwrap();
    let (ok, text) =
        switchctl(&["transfers", "verify", "--ack-log", ack_log.to_str().unwrap()], &data);
    assert!(ok && text.contains("missing=0 mismatched=0"), "{text}");
    // A wrong outcome is still caught.
    let first_line = log.lines().next().unwrap().to_string();
    let wrong = if first_line.contains("ACSC") {
        first_line.replace(" ACSC -", " RJCT AM04")
    } else {
        first_line.split(' ').take(2).collect::<Vec<_>>().join(" ") + " ACSC -"
    };
    std::fs::write(&ack_log, wrong + "\n").unwrap();
    let (ok, text) =
        switchctl(&["transfers", "verify", "--ack-log", ack_log.to_str().unwrap()], &data);
    assert!(!ok && text.contains("mismatched=1"), "{text}");

    // The lifecycle of a transfer the snapshot holds starts with its state as of then.
    let (ok, text) = switchctl(&["transfer", "show", &oldest_in_snapshot.to_string()], &data);
    assert!(ok, "{text}");
    assert!(text.contains("(snapshot;"), "{text}");
    let (ok, text) = switchctl(&["journal"], &data);
    assert!(ok && text.contains("snapshot: as of record"), "{text}");
}

/// With snapshots off while running (the default), a restart that replayed records writes a
/// snapshot before it takes any message, so the restart after it replays only what came since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_writes_a_snapshot_before_taking_messages() {
    use switch::node::Node;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cfg = common::config(&data);
    cfg.journal.snapshot_every_records = 0;
    cfg.journal.snapshot_at_start_min_records = 1;
    let pki = data.join("pki");
    let node = Node::start(&cfg).await.unwrap();
    let banks = common::banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    for b in &banks {
        b.spawn_inbox(rx.clone());
    }
    common::pay_settled(&banks[0], "START", 12, 700, NOW).await;
    let op = common::operator(node.addr, &pki).await;
    let (before, conserved, _) = common::positions(&op).await;
    assert!(conserved);
    let _ = stop.send(true);
    drop((banks, op));
    node.stop().unwrap().join().unwrap().unwrap();
    let (first, _) = journal_recovery(&data);
    assert_eq!(first.snapshot_seq, None, "the first start replayed nothing: no snapshot");

    let node = Node::start(&cfg).await.unwrap();
    assert_eq!(node.replayed, first.last_seq, "no snapshot yet: the whole journal");
    let op = common::operator(node.addr, &pki).await;
    assert_eq!(common::positions(&op).await.0, before);
    drop(op);
    node.stop().unwrap().join().unwrap().unwrap();
    let (second, _) = journal_recovery(&data);
    assert_eq!(second.snapshot_seq, Some(first.last_seq), "written at start, before any message");

    let node = Node::start(&cfg).await.unwrap();
    assert_eq!(node.replayed, second.last_seq - first.last_seq, "only what came after it");
    let op = common::operator(node.addr, &pki).await;
    let (after, conserved, _) = common::positions(&op).await;
    assert!(conserved);
    assert_eq!(after, before, "balances survive both restarts");
    drop(op);
    node.stop().unwrap().join().unwrap().unwrap();
}

/// With `[journal] archive` (the default), the segments snapshots cover move to
/// `<data>/journal-archive`: the restart still starts from the newest snapshot, and the audit
/// replays the whole history from the first record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_keeps_the_whole_history_for_the_audit() {
    use switch::node::Node;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cfg = common::config(&data);
    assert!(cfg.journal.archive, "archiving is the default");
    cfg.journal.snapshot_every_records = 30;
    cfg.journal.segment_bytes_max = 8 << 10;
    let pki = data.join("pki");
    let node = Node::start(&cfg).await.unwrap();
    let banks = common::banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    for b in &banks {
        b.spawn_inbox(rx.clone());
    }
    common::pay_settled(&banks[0], "ARCH", 80, 300, NOW).await;
    let op = common::operator(node.addr, &pki).await;
    let (before, _, _) = common::positions(&op).await;
    let _ = stop.send(true);
    drop((banks, op));
    node.stop().unwrap().join().unwrap().unwrap();

    let archived = std::fs::read_dir(data.join(switch::node::ARCHIVE_DIR)).unwrap().count();
    assert!(archived > 0, "covered segments were archived, not deleted");
    let (rec, _) = journal_recovery(&data);
    assert!(rec.snapshot_seq.is_some() && rec.records_replayed < rec.last_seq / 2, "{rec:?}");
    let (ok, text) = switchctl(&["ledger", "audit"], &data);
    assert!(ok && text.contains("balances_ok=true conserved=true"), "{text}");
    assert!(!text.contains("from_snapshot"), "the whole history, not a snapshot: {text}");
    assert!(text.contains(&format!("audit: records={} ", rec.last_seq)), "{text}");

    let node = Node::start(&cfg).await.unwrap();
    assert_eq!(node.replayed, rec.records_replayed, "the restart starts from the snapshot");
    let op = common::operator(node.addr, &pki).await;
    assert_eq!(common::positions(&op).await.0, before);
    drop(op);
    node.stop().unwrap().join().unwrap().unwrap();
}

// ----- retention -----

/// The id a pacs.008 got (reserved or rejected).
fn id_of(events: &[Event]) -> u64 {
    match events {
        [Event::Reserved { id, .. } | Event::ReservedRouted { id, .. }] => *id,
        [Event::Rejected { id, .. }] => *id,
        other => panic!("not one new transfer: {other:?}"),
    }
}

/// Pays `n` from bank 0 to bank 1 at `now` and has bank 1 accept it; returns the message
/// and the transfer id.
fn pay_and_settle(core: &mut Core, n: u64, now: u64) -> (Pacs008, u64) {
    let m = pacs008_agent(0, 1, n, 5_000, now);
    let id = id_of(&core.process_pacs008(0, &m, now).0);
    let (events, _) = core.process_pacs002(1, &answer(id, true, now + 5), now + 5);
    assert!(matches!(events[..], [Event::Accepted { .. }]), "{events:?}");
    core.drain_outbound();
    (m, id)
}

#[test]
fn retired_transfers_answer_resends_and_forgotten_ones_are_refused() {
    let r = RetentionSettings {
        finished_keep_ms: 1_000,
        finished_kept_max: 1_000_000,
        duplicates_kept_max: 2,
    };
    let mut core = funded_core_with(Some(&r));
    let now = T0 + 10;
    let (m1, id1) = pay_and_settle(&mut core, 1, now);
    // Not yet: it finished less than finished_keep_ms ago.
    assert!(core.process_timeouts(now + 900, 64).is_empty());
    let events = core.process_timeouts(now + 2_000, 64);
    assert!(
        matches!(&events[..], [Event::Retired { ids, forget: 0, .. }] if *ids == vec![id1]),
        "{events:?}"
    );
    assert!(core.transfer(id1).is_none());
    assert_eq!(core.retention_stats().retired_records, 1);

    // The same message again: the stored outcome, to the debtor only.
    let (events, _) = core.process_pacs008(0, &m1, now + 2_100);
    assert!(matches!(events[..], [Event::ResentRetired { id, .. }] if id == id1), "{events:?}");
    let out = core.drain_outbound();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].participant, 0);
    assert!(out[0].xml.contains("<TxSts>ACSC</TxSts>") && out[0].xml.contains("E0-1"));
    common::assert_xsd_valid(&out[0].xml);

    // Its ids with other content: refused as a duplicate (AM05), nothing reserved.
    let mut other = m1.clone();
    other.transactions[0].amount.minor += 1;
    let (events, _) = core.process_pacs008(0, &other, now + 2_200);
    assert!(matches!(events[..], [Event::DuplicateRefused { .. }]), "{events:?}");
    assert!(core.drain_outbound()[0].xml.contains("AM05"));

    // A return of it says why it cannot be found.
    let original = Original::by_clearing_ref(&format!("{FORWARD_PREFIX}{id1}"), "E0-1");
    let m = x::return_payment(
        BICS[1],
        "RT1",
        &original,
        100,
        brl(),
        ReturnReason::Fraud,
        &iso(now + 2_300),
    );
    core.process_pacs004(1, &m, now + 2_300);
    let out = core.drain_outbound();
    assert!(out[0].xml.contains("no longer held"), "{}", out[0].xml);
    // So does a late answer from its creditor.
    let (_, answer_late) = core.process_pacs002(1, &answer(id1, true, now + 2_400), now + 2_400);
    assert!(
        matches!(&answer_late, Answer::Refused { message, .. } if message.contains("no longer held")),
        "{answer_late:?}"
    );

    // Two more retire: the first record is forgotten, and with it anything created before
    // the first transfer finished.
    let (_, id2) = pay_and_settle(&mut core, 2, now + 3_000);
    let (_, id3) = pay_and_settle(&mut core, 3, now + 3_100);
    let events = core.process_timeouts(now + 6_000, 64);
    assert!(
        matches!(&events[..], [Event::Retired { ids, forget: 1, .. }] if *ids == vec![id2, id3]),
        "{events:?}"
    );
    let stats = core.retention_stats();
    assert_eq!(stats.retired_records, 2);
    assert_eq!(stats.forgotten_before_ms, now + 5);
    let (events, _) = core.process_pacs008(0, &m1, now + 6_100);
    assert!(
        matches!(&events[..], [Event::Rejected { reason, .. }] if reason == "DT01"),
        "{events:?}"
    );
    let out = core.drain_outbound();
    assert!(out[0].xml.contains("DT01"));
    common::assert_xsd_valid(&out[0].xml);
    // A payment created now goes through.
    let (events, _) =
        core.process_pacs008(0, &pacs008_agent(0, 1, 4, 5_000, now + 6_200), now + 6_200);
    assert!(matches!(events[..], [Event::ReservedRouted { .. }]), "{events:?}");
    core.conserved().unwrap();
}

#[test]
fn a_recall_keeps_its_transfer_until_it_ends() {
    let r = RetentionSettings { finished_keep_ms: 1_000, ..RetentionSettings::default() };
    let mut core = funded_core_with(Some(&r));
    let now = T0 + 10;
    let (_, id) = pay_and_settle(&mut core, 1, now);
    let original = Original::by_clearing_ref(&format!("{FORWARD_PREFIX}{id}"), "E0-1");
    let m = x::recall(
        BICS[0],
        "AS1",
        &original,
        CancellationReason::DuplicatePayment,
        "",
        &iso(now + 100),
    );
    let (events, _) = core.process_camt056(0, &m, now + 100);
    assert!(matches!(events[..], [Event::RecallOpened { .. }]), "{events:?}");
    core.drain_outbound();
    let events = core.process_timeouts(now + 5_000, 64);
    assert!(core.transfer(id).is_some(), "retired with a recall open: {events:?}");
    let mut m = x::answer_recall(
        BICS[1],
        "AS1",
        &original,
        Some(CancellationRejection::LegalDecision),
        &iso(now + 5_100),
    );
    // The same answer twice in one camt.029 is applied once.
    let tx = m.cancellation_details[0].transactions[0].clone();
    m.cancellation_details[0].transactions.push(tx);
    let (events, _) = core.process_camt029(1, &m, now + 5_100);
    assert!(matches!(events[..], [Event::RecallAnswered { .. }]), "{events:?}");
    let events = core.process_timeouts(now + 5_500, 64);
    assert!(core.transfer(id).is_some(), "retired before finished_keep_ms: {events:?}");
    let events = core.process_timeouts(now + 6_200, 64);
    assert!(matches!(&events[..], [Event::Retired { ids, .. }] if *ids == vec![id]), "{events:?}");
    assert!(core.transfer(id).is_none());
}

/// `switchctl transfer show` (the lifecycle tracer over a replay) follows a transfer through
/// an answer shared with another transfer and through its retirement.
#[test]
fn the_lifecycle_follows_grouped_answers_and_retirement() {
    let r = RetentionSettings { finished_keep_ms: 1_000, ..RetentionSettings::default() };
    let mut core = funded_core_with(Some(&r));
    let setup = core.encode_snapshot().unwrap();
    let now = T0 + 10;
    let mut journal = Vec::new();
    let mut ids = Vec::new();
    for n in 1..=2 {
        let m = pacs008_agent(0, 1, n, 5_000, now);
        let (events, _) = core.process_pacs008(0, &m, now);
        ids.push(id_of(&events));
        journal.extend(events);
    }
    let (events, _) = core.process_pacs002(1, &answer_many(&ids, &[true, false], now + 5), now + 5);
    assert!(matches!(&events[..], [Event::Answered { answers, .. }] if answers.len() == 2));
    journal.extend(events);
    journal.extend(core.process_timeouts(now + 2_000, 64));
    assert!(matches!(journal.last(), Some(Event::Retired { .. })));

    let mut replay = restored_with(&setup, Some(&r));
    let selector = switch::lifecycle::Selector::parse(&ids[0].to_string());
    let mut tracer = switch::lifecycle::Tracer::new(selector);
    for e in &journal {
        tracer.feed(&mut replay, e);
    }
    let text = tracer.render(&replay, false);
    assert!(text.contains(&format!("transfer {} ", ids[0])), "{text}");
    assert!(text.contains("state=Settled"), "{text}");
    assert!(text.contains("pacs.002 accept from BKBBBRSP (one of 2 it answered)"), "{text}");
    // The debtor's pacs.002 and the creditor's shared confirmation.
    assert!(text.contains("out    BKAABRSP"), "{text}");
    assert!(text.contains("out    BKBBBRSP"), "{text}");
    assert!(text.contains("retired from the switch's memory"), "{text}");
}

/// A core with its tables allocated for a peak rate at start (`[limits] peak_tps`) answers
/// exactly as one whose tables grow, input for input, and ends in the same state; the
/// allocation is the one promised (a minute of the rate plus the creditor's window).
#[test]
fn a_preallocated_core_answers_exactly_as_one_that_grows() {
    let r = tight();
    let mut grown = funded_core_with(Some(&r));
    let mut sized = funded_core_with(Some(&r));
    assert_eq!(sized.preallocate(0), 0);
    let cfg = Config::dev(std::path::Path::new("/nonexistent"));
    let window_s = (60_000 + cfg.scheme.creditor_timeout_ms) / 1_000;
    assert_eq!(sized.preallocate(1_000), (1_000 * window_s) as usize);
    let mut w = Workload::new(41);
    for i in 0..2_000 {
        let op = w.next(&grown);
        let now = w.now;
        assert_eq!(run(&mut grown, &op, now), run(&mut sized, &op, now), "input {i}");
    }
    assert_eq!(grown.encode_snapshot().unwrap(), sized.encode_snapshot().unwrap());
}
