//! Property tests: long random workloads run against the real ledger and the independent
//! auditor model; every answer, every balance, every window report must agree, and the
//! ledger's own audit must pass after every step.
//!
//! Guarantees checked: conservation (sum of balances zero; participant balances change only
//! by liquidity), reserved totals never negative, prefunded and net-debit-cap limits hold,
//! idempotency, returns bounded by the original, windows and settlement exact, compaction.
//! A failure prints the workload (proptest) or the seed (the long deterministic run).

use ledger::{Ledger, LedgerLimits, SettlementModel, TransferError};
use proptest::prelude::*;

use crate::auditor::{Auditor, Expect, Model, Op, FUNDING};

const ACCOUNTS: [(u64, Model); 6] = [
    (FUNDING, Model::Funding),
    (2, Model::Funding),
    (10, Model::Gross),
    (11, Model::Gross),
    (20, Model::Net(300)),
    (21, Model::Net(700)),
];
/// Amounts drawn by the long run: small ones that add up exactly to the larger ones.
const AMOUNTS: [u64; 8] = [1, 50, 100, 150, 300, 350, 700, 701];
/// Ids drawn for accounts: all of the above plus one that does not exist.
const ACCOUNT_IDS: [u64; 7] = [1, 2, 10, 11, 20, 21, 99];

fn setup(transfers_max: usize, windows_max: usize) -> (Ledger, Auditor) {
    let limits = LedgerLimits { transfers_max, windows_unsettled_max: windows_max };
    let mut l = Ledger::with_limits(limits);
    let mut m = Auditor::new(transfers_max, windows_max);
    for (id, model) in ACCOUNTS {
        let sm = match model {
            Model::Funding => SettlementModel::Funding,
            Model::Gross => SettlementModel::GrossPrefunded,
            Model::Net(cap) => SettlementModel::DeferredNet { net_debit_cap: cap },
        };
        l.create_account_with_model(id, sm).unwrap();
        m.add_account(id, model);
    }
    (l, m)
}

fn run_op(l: &mut Ledger, op: &Op) -> Expect {
    match *op {
        Op::Reserve { id, debit, credit, amount, expires_at_ms } => {
            Expect::Transfer(l.reserve(id, debit, credit, amount, expires_at_ms))
        }
        Op::Post { id, now_ms } => Expect::Transfer(l.post(id, now_ms)),
        Op::Void { id } => Expect::Transfer(l.void(id)),
        Op::Transfer { id, debit, credit, amount } => {
            Expect::Transfer(l.transfer(id, debit, credit, amount))
        }
        Op::Fund { id, funding, participant, amount, now_ms } => {
            Expect::Transfer(l.fund(id, funding, participant, amount, now_ms))
        }
        Op::Defund { id, participant, funding, amount, now_ms } => {
            Expect::Transfer(l.defund(id, participant, funding, amount, now_ms))
        }
        Op::Return { id, original, amount, now_ms } => {
            Expect::Transfer(l.return_transfer(id, original, amount, now_ms))
        }
        Op::Close { now_ms } => {
            Expect::Close(l.close_window(now_ms).map(|r| {
                r.instructions.iter().map(|i| (i.account, i.direction, i.amount)).collect()
            }))
        }
        Op::Settle { window, now_ms } => Expect::Settle(l.settle_window(window, FUNDING, now_ms)),
        Op::Compact { before_ms } => Expect::Compact(l.compact(before_ms)),
    }
}

/// Run a workload on both; panic with the step on the first disagreement.
fn check_workload(ops: &[Op], transfers_max: usize, windows_max: usize) -> Vec<Expect> {
    let (mut l, mut m) = setup(transfers_max, windows_max);
    let mut outcomes = Vec::with_capacity(ops.len());
    for (step, op) in ops.iter().enumerate() {
        let expected = m.step(op);
        let got = run_op(&mut l, op);
        assert_eq!(got, expected, "step {step}: {op:?}");
        m.check();
        l.audit().unwrap_or_else(|e| panic!("step {step}: {op:?}: audit: {e}"));
        for (id, a) in &m.accounts {
            let p = l.position(*id).unwrap();
            assert_eq!(p.account.balance(), a.balance, "step {step}: balance of {id}");
            assert_eq!(i128::from(p.account.debits_reserved), a.reserved_out, "step {step}");
            assert_eq!(i128::from(p.account.credits_reserved), a.reserved_in, "step {step}");
            assert_eq!(p.window_net, a.window, "step {step}: window net of {id}");
        }
        assert_eq!(l.total_balance(), 0);
        assert_eq!(l.totals().liquidity_net, m.liquidity);
        assert_eq!(l.current_window(), m.window);
        outcomes.push(got);
    }
    outcomes
}

/// Snapshot after `cut` steps, restore, then run the rest on the original and the restored
/// ledger: every answer and the final state bytes must be identical.
fn check_snapshot_midway(ops: &[Op], cut: usize, transfers_max: usize, windows_max: usize) {
    let (mut a, _) = setup(transfers_max, windows_max);
    for op in &ops[..cut] {
        run_op(&mut a, op);
    }
    let mut bytes = Vec::new();
    a.encode_snapshot(&mut bytes);
    let mut b = Ledger::decode_snapshot(&bytes).unwrap();
    let mut again = Vec::new();
    b.encode_snapshot(&mut again);
    assert_eq!(bytes, again, "a restored ledger re-encodes to the same bytes");
    for (step, op) in ops[cut..].iter().enumerate() {
        let step = cut + step;
        assert_eq!(run_op(&mut a, op), run_op(&mut b, op), "step {step}: {op:?}");
    }
    let (mut end_a, mut end_b) = (Vec::new(), Vec::new());
    a.encode_snapshot(&mut end_a);
    b.encode_snapshot(&mut end_b);
    assert_eq!(end_a, end_b, "same state at the end");
    b.audit().unwrap();
}

fn account() -> impl Strategy<Value = u64> {
    prop::sample::select(ACCOUNT_IDS.to_vec())
}

fn op() -> impl Strategy<Value = Op> {
    // A small id space so that ids collide: idempotency, double post, returns of returns.
    let id = 0u128..48;
    let amount = prop_oneof![
        1 => Just(0u64),
        10 => prop::sample::select(vec![1u64, 50, 100, 150, 300, 700]),
        10 => 1u64..400,
    ];
    let now = 0u64..2_000;
    prop_oneof![
        8 => (id.clone(), account(), account(), amount.clone(), now.clone()).prop_map(
            |(id, debit, credit, amount, expires_at_ms)| Op::Reserve {
                id, debit, credit, amount, expires_at_ms: expires_at_ms + 500
            }
        ),
        6 => (id.clone(), now.clone()).prop_map(|(id, now_ms)| Op::Post { id, now_ms }),
        2 => id.clone().prop_map(|id| Op::Void { id }),
        2 => (id.clone(), account(), account(), amount.clone())
            .prop_map(|(id, debit, credit, amount)| Op::Transfer { id, debit, credit, amount }),
        3 => (id.clone(), account(), account(), amount.clone(), now.clone()).prop_map(
            |(id, funding, participant, amount, now_ms)| Op::Fund {
                id, funding, participant, amount: amount * 3, now_ms
            }
        ),
        1 => (id.clone(), account(), account(), amount.clone(), now.clone()).prop_map(
            |(id, participant, funding, amount, now_ms)| Op::Defund {
                id, participant, funding, amount, now_ms
            }
        ),
        2 => (id.clone(), id.clone(), amount.clone(), now.clone()).prop_map(
            |(id, original, amount, now_ms)| Op::Return { id, original, amount, now_ms }
        ),
        1 => now.clone().prop_map(|now_ms| Op::Close { now_ms }),
        1 => (0u64..8, now.clone()).prop_map(|(window, now_ms)| Op::Settle { window, now_ms }),
        1 => now.prop_map(|before_ms| Op::Compact { before_ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random workloads agree with the auditor at every step.
    #[test]
    fn ledger_agrees_with_auditor(ops in prop::collection::vec(op(), 1..400)) {
        check_workload(&ops, 64, 4);
    }

    /// With a tight transfer limit, refusals are exact and compaction frees room.
    #[test]
    fn ledger_agrees_with_auditor_under_tight_limits(ops in prop::collection::vec(op(), 1..300)) {
        check_workload(&ops, 6, 1);
    }

    /// A ledger restored from a snapshot taken at any step answers like the original.
    #[test]
    fn snapshot_at_any_step_restores_an_identical_ledger(
        ops in prop::collection::vec(op(), 1..400),
        cut in any::<prop::sample::Index>(),
    ) {
        check_snapshot_midway(&ops, cut.index(ops.len() + 1), 64, 4);
    }
}

/// A small deterministic generator for the long run (the seed is printed on failure).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The id of one of the last reservations or transfers, so posts and returns find them.
fn recent(r: &mut XorShift, ops: &[Op]) -> u128 {
    let back = usize::try_from(r.below(16)).unwrap() + 1;
    let ids = ops.iter().rev().filter_map(|op| match *op {
        Op::Reserve { id, .. } | Op::Transfer { id, .. } => Some(id),
        _ => None,
    });
    ids.take(back).last().unwrap_or(1)
}

fn long_workload(seed: u64, len: usize) -> Vec<Op> {
    let mut r = XorShift(seed);
    let mut now = 0u64;
    let mut ops = Vec::with_capacity(len);
    let pick = |r: &mut XorShift| ACCOUNT_IDS[r.below(7) as usize];
    for _ in 0..len {
        now += r.below(3);
        // Retries: the same operation again, as a bank or the switch would resend it.
        if r.below(20) == 0 {
            if let Some(last) = ops.last().cloned() {
                ops.push(last);
                continue;
            }
        }
        let id = u128::from(r.below(4_096)) + 1;
        // Few distinct amounts, so that sums land exactly on limits and originals.
        let amount = AMOUNTS[usize::try_from(r.below(AMOUNTS.len() as u64)).unwrap()];
        let op = match r.below(100) {
            0..=34 => Op::Reserve {
                id,
                debit: pick(&mut r),
                credit: pick(&mut r),
                amount,
                expires_at_ms: now + r.below(40),
            },
            35..=64 => Op::Post { id: recent(&mut r, &ops), now_ms: now },
            65..=69 => Op::Void { id: recent(&mut r, &ops) },
            70..=74 => Op::Transfer { id, debit: pick(&mut r), credit: pick(&mut r), amount },
            75..=84 => Op::Fund {
                id,
                funding: FUNDING,
                // Mostly the gross accounts, so that net accounts live on their caps.
                participant: if r.below(5) == 0 { pick(&mut r) } else { 10 + r.below(2) },
                amount: amount * 4,
                now_ms: now,
            },
            85..=87 => {
                Op::Defund { id, participant: pick(&mut r), funding: FUNDING, amount, now_ms: now }
            }
            88..=93 => Op::Return {
                id,
                original: recent(&mut r, &ops),
                amount: AMOUNTS[usize::try_from(r.below(4)).unwrap()],
                now_ms: now,
            },
            94..=96 => Op::Close { now_ms: now },
            97..=98 => Op::Settle { window: r.below(64), now_ms: now },
            _ => Op::Compact { before_ms: now.saturating_sub(500) },
        };
        ops.push(op);
    }
    ops
}

/// One long deterministic workload (tens of thousands of steps) per seed.
#[test]
fn long_workloads_agree_with_auditor() {
    for seed in [0x9e37_79b9_7f4a_7c15u64, 42, 7_777] {
        let ops = long_workload(seed, 30_000);
        let outcomes = check_workload(&ops, 512, 8);
        // The workload must exercise the interesting paths, not only refusals.
        let ok = |e: &TransferError| outcomes.contains(&Expect::Transfer(Err(*e)));
        let posted = outcomes.iter().filter(|o| **o == Expect::Transfer(Ok(()))).count();
        assert!(posted > 1_500, "seed {seed}: only {posted} successes");
        for e in [
            TransferError::ExceedsCredits,
            TransferError::ExceedsNetDebitCap,
            TransferError::Exists,
            TransferError::ExistsWithDifferentContent,
            TransferError::ReservedTransferAlreadyPosted,
            TransferError::ReturnExceedsOriginalAmount,
            TransferError::ReservedTransferExpired,
            TransferError::TransferLimitReached,
        ] {
            assert!(ok(&e), "seed {seed}: workload never produced {e:?}");
        }
        let settled = outcomes.iter().filter(|o| **o == Expect::Settle(Ok(()))).count();
        assert!(settled > 10, "seed {seed}: only {settled} windows settled");
    }
}

/// The long workloads again, each restored from a snapshot at three points on the way.
#[test]
fn long_workloads_restored_from_snapshots_answer_alike() {
    for seed in [0x9e37_79b9_7f4a_7c15u64, 42] {
        let ops = long_workload(seed, 30_000);
        for cut in [1_000, 15_000, 29_000] {
            check_snapshot_midway(&ops, cut, 512, 8);
        }
    }
}
