//! Scenarios of deferred net settlement: windows, multilateral nets, instructions,
//! settlement through the funding account, net debit caps, and mixed with gross accounts.

use ledger::{
    AccountFlags, Direction, Ledger, NetDebitCapError, SettlementInstruction, TransferError,
    WindowError,
};

const RTGS: u64 = 1;
const A: u64 = 20;
const B: u64 = 21;
const C: u64 = 22;

fn net_ledger() -> Ledger {
    let mut l = Ledger::default();
    l.create_account(RTGS, AccountFlags::FUNDING).unwrap();
    for id in [A, B, C] {
        l.create_net_account(id, 1_000).unwrap();
    }
    l
}

fn pay(l: &mut Ledger, id: u128, debit: u64, credit: u64, amount: u64) {
    l.reserve(id, debit, credit, amount, 1_000).unwrap();
    l.post(id, 10).unwrap();
}

#[test]
fn closing_yields_multilateral_nets_and_balanced_instructions() {
    let mut l = net_ledger();
    pay(&mut l, 1, A, B, 700);
    pay(&mut l, 2, B, C, 300);
    pay(&mut l, 3, C, A, 100);
    pay(&mut l, 4, B, A, 50);
    let r = l.close_window(100).unwrap();
    assert_eq!(r.window, 1);
    let nets: Vec<(u64, i128)> = r.positions.iter().map(|p| (p.account, p.net)).collect();
    assert_eq!(nets, vec![(A, -550), (B, 350), (C, 200)]);
    assert_eq!(
        r.instructions,
        vec![
            SettlementInstruction { account: A, direction: Direction::Pay, amount: 550 },
            SettlementInstruction { account: B, direction: Direction::Receive, amount: 350 },
            SettlementInstruction { account: C, direction: Direction::Receive, amount: 200 },
        ]
    );
    assert_eq!(l.current_window(), 2);
    assert_eq!(l.window_report(1), Some(&r));
    l.audit().unwrap();
}

#[test]
fn transfers_after_close_count_in_the_next_window_even_if_reserved_before() {
    let mut l = net_ledger();
    l.reserve(1, A, B, 400, 1_000).unwrap();
    pay(&mut l, 2, A, B, 100);
    let w1 = l.close_window(100).unwrap();
    l.post(1, 200).unwrap();
    pay(&mut l, 3, B, C, 50);
    let w2 = l.close_window(300).unwrap();
    let net =
        |r: &ledger::WindowReport, id| r.positions.iter().find(|p| p.account == id).unwrap().net;
    assert_eq!((net(&w1, A), net(&w1, B)), (-100, 100));
    assert_eq!((net(&w2, A), net(&w2, B), net(&w2, C)), (-400, 350, 50));
    assert_eq!(w2.window, 2);
    l.audit().unwrap();
}

#[test]
fn settling_resets_positions_through_the_funding_account_once() {
    let mut l = net_ledger();
    pay(&mut l, 1, A, B, 900);
    assert_eq!(l.reserve(2, A, B, 101, 1_000), Err(TransferError::ExceedsNetDebitCap));
    assert_eq!(l.settle_window(1, RTGS, 50), Err(WindowError::WindowNotClosed));
    l.close_window(100).unwrap();
    // A is still at its cap until the window settles.
    assert_eq!(l.reserve(2, A, B, 101, 1_000), Err(TransferError::ExceedsNetDebitCap));
    assert_eq!(l.settle_window(1, A, 150), Err(WindowError::NotFundingAccount));
    assert_eq!(l.settle_window(1, 77, 150), Err(WindowError::FundingAccountNotFound));
    l.settle_window(1, RTGS, 150).unwrap();
    assert_eq!(l.settle_window(1, RTGS, 150), Err(WindowError::WindowAlreadySettled));
    assert_eq!(l.account(A).unwrap().balance(), 0);
    assert_eq!(l.account(B).unwrap().balance(), 0);
    assert_eq!(l.account(RTGS).unwrap().balance(), 0);
    assert_eq!(l.unsettled_windows().count(), 0);
    l.reserve(2, A, B, 1_000, 1_000).unwrap();
    l.audit().unwrap();
}

#[test]
fn a_creditor_that_spent_its_credit_must_fund_before_settlement() {
    let mut l = net_ledger();
    pay(&mut l, 1, A, B, 800);
    l.close_window(100).unwrap();
    // B spends its 800 of credit plus its whole cap in window 2.
    pay(&mut l, 2, B, C, 1_800);
    assert_eq!(l.settle_window(1, RTGS, 150), Err(WindowError::ExceedsNetDebitCap));
    assert_eq!(l.settlement_shortfalls(1), vec![(B, 800)]);
    // Nothing moved: all or nothing.
    assert_eq!(l.account(A).unwrap().balance(), -800);
    l.fund(3, RTGS, B, 800, 160).unwrap();
    l.settle_window(1, RTGS, 170).unwrap();
    assert_eq!(l.account(B).unwrap().balance(), -1_000);
    assert_eq!(l.account(A).unwrap().balance(), 0);
    assert_eq!(l.totals().participant_balance_sum, l.totals().liquidity_net);
    l.audit().unwrap();
}

#[test]
fn unsettled_windows_are_bounded() {
    let limits = ledger::LedgerLimits { windows_unsettled_max: 2, ..Default::default() };
    let mut l = Ledger::with_limits(limits);
    l.create_account(RTGS, AccountFlags::FUNDING).unwrap();
    l.close_window(1).unwrap();
    l.close_window(2).unwrap();
    assert_eq!(l.close_window(3), Err(WindowError::TooManyUnsettledWindows));
    l.settle_window(1, RTGS, 4).unwrap();
    assert_eq!(l.close_window(5).unwrap().window, 3);
}

#[test]
fn net_debit_cap_changes_are_checked() {
    let mut l = net_ledger();
    l.create_account(10, AccountFlags::SETTLEMENT).unwrap();
    pay(&mut l, 1, A, B, 600);
    assert_eq!(l.set_net_debit_cap(A, 599), Err(NetDebitCapError::BelowCurrentPosition));
    assert_eq!(l.set_net_debit_cap(10, 5), Err(NetDebitCapError::NotNetAccount));
    assert_eq!(l.set_net_debit_cap(99, 5), Err(NetDebitCapError::AccountNotFound));
    l.set_net_debit_cap(A, 600).unwrap();
    assert_eq!(l.reserve(2, A, B, 1, 1_000), Err(TransferError::ExceedsNetDebitCap));
    l.set_net_debit_cap(A, 2_000).unwrap();
    l.reserve(2, A, B, 1_400, 1_000).unwrap();
    l.audit().unwrap();
}

#[test]
fn liquidity_and_gross_payments_stay_out_of_windows() {
    let mut l = net_ledger();
    l.create_account(10, AccountFlags::SETTLEMENT).unwrap();
    l.fund(1, RTGS, A, 500, 1).unwrap();
    l.fund(2, RTGS, 10, 500, 1).unwrap();
    pay(&mut l, 3, 10, A, 200); // gross payer into a net participant: counts for A only
    let r = l.close_window(100).unwrap();
    assert_eq!(r.positions.iter().find(|p| p.account == A).unwrap().net, 200);
    assert_eq!(l.account(10).unwrap().balance(), 300);
    l.settle_window(1, RTGS, 110).unwrap();
    assert_eq!(l.account(A).unwrap().balance(), 500);
    assert_eq!(l.total_balance(), 0);
    l.audit().unwrap();
}
