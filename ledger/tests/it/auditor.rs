//! An independent auditor model of the ledger: what each operation must answer and how each
//! balance must move, written from the documentation with ordered maps and signed
//! arithmetic, sharing no code with the implementation.
//!
//! It guarantees nothing itself; the property tests compare it with the real ledger after
//! every operation. It must stay simple enough to be obviously right: no performance tricks.

use std::collections::{BTreeMap, VecDeque};

use ledger::{Direction, TransferError as E, WindowError};

/// The funding account every workload uses.
pub const FUNDING: u64 = 1;

/// One operation of a workload.
#[derive(Debug, Clone)]
pub enum Op {
    Reserve { id: u128, debit: u64, credit: u64, amount: u64, expires_at_ms: u64 },
    Post { id: u128, now_ms: u64 },
    Void { id: u128 },
    Transfer { id: u128, debit: u64, credit: u64, amount: u64 },
    Fund { id: u128, funding: u64, participant: u64, amount: u64, now_ms: u64 },
    Defund { id: u128, participant: u64, funding: u64, amount: u64, now_ms: u64 },
    Return { id: u128, original: u128, amount: u64, now_ms: u64 },
    Close { now_ms: u64 },
    Settle { window: u64, now_ms: u64 },
    Compact { before_ms: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Funding,
    Gross,
    Net(u64),
}

#[derive(Debug, Clone, Copy)]
pub struct Acct {
    pub model: Model,
    pub balance: i128,
    pub reserved_out: i128,
    pub reserved_in: i128,
    pub window: i128,
}

impl Acct {
    fn headroom(&self) -> Option<i128> {
        match self.model {
            Model::Funding => None,
            Model::Gross => Some(self.balance - self.reserved_out),
            Model::Net(cap) => Some(self.balance - self.reserved_out + i128::from(cap)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Payment,
    Reservation,
    FundIn,
    FundOut,
    Refund(u128),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Done,
    Pending(u64),
    Posted,
    Voided,
}

#[derive(Debug, Clone, Copy)]
struct Xfer {
    debit: u64,
    credit: u64,
    amount: u64,
    what: What,
    stage: Stage,
    returned: u64,
}

/// The model ledger.
#[derive(Debug, Clone)]
pub struct Auditor {
    pub accounts: BTreeMap<u64, Acct>,
    xfers: BTreeMap<u128, Xfer>,
    done: VecDeque<(u64, u128)>,
    now: u64,
    pub window: u64,
    unsettled: BTreeMap<u64, Vec<(u64, i128)>>,
    pub transfers_max: usize,
    pub windows_max: usize,
    /// Liquidity in minus out, counted independently.
    pub liquidity: i128,
}

/// What the model expects from one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Transfer(Result<(), E>),
    Close(Result<Vec<(u64, Direction, u64)>, WindowError>),
    Settle(Result<(), WindowError>),
    Compact(usize),
}

impl Auditor {
    pub fn new(transfers_max: usize, windows_max: usize) -> Auditor {
        Auditor {
            accounts: BTreeMap::new(),
            xfers: BTreeMap::new(),
            done: VecDeque::new(),
            now: 0,
            window: 1,
            unsettled: BTreeMap::new(),
            transfers_max,
            windows_max,
            liquidity: 0,
        }
    }

    pub fn add_account(&mut self, id: u64, model: Model) {
        let a = Acct { model, balance: 0, reserved_out: 0, reserved_in: 0, window: 0 };
        self.accounts.insert(id, a);
    }

    fn is_funding(&self, id: u64) -> bool {
        self.accounts.get(&id).is_some_and(|a| a.model == Model::Funding)
    }

    fn limit(&self, id: u64, amount: u64) -> Result<(), E> {
        let a = &self.accounts[&id];
        match a.headroom() {
            Some(h) if h < i128::from(amount) => Err(match a.model {
                Model::Net(_) => E::ExceedsNetDebitCap,
                _ => E::ExceedsCredits,
            }),
            _ => Ok(()),
        }
    }

    fn room(&self) -> Result<(), E> {
        if self.xfers.len() >= self.transfers_max {
            Err(E::TransferLimitReached)
        } else {
            Ok(())
        }
    }

    fn shape(&self, id: u128, d: u64, c: u64, amount: u64, what: What) -> Result<(), E> {
        if id == 0 {
            return Err(E::IdMustNotBeZero);
        }
        if amount == 0 {
            return Err(E::AmountMustNotBeZero);
        }
        if d == c {
            return Err(E::AccountsMustBeDifferent);
        }
        if !self.accounts.contains_key(&d) {
            return Err(E::DebitAccountNotFound);
        }
        if !self.accounts.contains_key(&c) {
            return Err(E::CreditAccountNotFound);
        }
        if let Some(x) = self.xfers.get(&id) {
            let same = x.debit == d && x.credit == c && x.amount == amount && x.what == what;
            return Err(if same { E::Exists } else { E::ExistsWithDifferentContent });
        }
        Ok(())
    }

    fn book(&mut self, d: u64, c: u64, amount: u64) {
        let a = i128::from(amount);
        let (df, cf) = (self.is_funding(d), self.is_funding(c));
        self.accounts.get_mut(&d).unwrap().balance -= a;
        self.accounts.get_mut(&c).unwrap().balance += a;
        if !df && !cf {
            for (id, sign) in [(d, -1), (c, 1)] {
                let acct = self.accounts.get_mut(&id).unwrap();
                if matches!(acct.model, Model::Net(_)) {
                    acct.window += sign * a;
                }
            }
        }
        if df && !cf {
            self.liquidity += a;
        }
        if !df && cf {
            self.liquidity -= a;
        }
    }

    fn record(&mut self, id: u128, d: u64, c: u64, amount: u64, what: What, stage: Stage) {
        let x = Xfer { debit: d, credit: c, amount, what, stage, returned: 0 };
        self.xfers.insert(id, x);
        if stage == Stage::Done {
            self.done.push_back((self.now, id));
        }
    }

    /// Apply one operation to the model and say what the ledger must answer.
    pub fn step(&mut self, op: &Op) -> Expect {
        match *op {
            Op::Reserve { id, debit, credit, amount, expires_at_ms } => {
                Expect::Transfer(self.reserve(id, debit, credit, amount, expires_at_ms))
            }
            Op::Transfer { id, debit, credit, amount } => {
                Expect::Transfer(self.pay(id, debit, credit, amount))
            }
            Op::Post { id, now_ms } => Expect::Transfer(self.finish(id, Some(now_ms))),
            Op::Void { id } => Expect::Transfer(self.finish(id, None)),
            Op::Fund { id, funding, participant, amount, now_ms } => Expect::Transfer(
                self.liquidity_move(id, funding, participant, amount, now_ms, true),
            ),
            Op::Defund { id, participant, funding, amount, now_ms } => Expect::Transfer(
                self.liquidity_move(id, participant, funding, amount, now_ms, false),
            ),
            Op::Return { id, original, amount, now_ms } => {
                Expect::Transfer(self.refund(id, original, amount, now_ms))
            }
            Op::Close { now_ms } => Expect::Close(self.close(now_ms)),
            Op::Settle { window, now_ms } => Expect::Settle(self.settle(window, now_ms)),
            Op::Compact { before_ms } => Expect::Compact(self.compact(before_ms)),
        }
    }

    fn reserve(&mut self, id: u128, d: u64, c: u64, amount: u64, exp: u64) -> Result<(), E> {
        self.shape(id, d, c, amount, What::Reservation)?;
        self.limit(d, amount)?;
        self.room()?;
        self.accounts.get_mut(&d).unwrap().reserved_out += i128::from(amount);
        self.accounts.get_mut(&c).unwrap().reserved_in += i128::from(amount);
        self.record(id, d, c, amount, What::Reservation, Stage::Pending(exp));
        Ok(())
    }

    fn pay(&mut self, id: u128, d: u64, c: u64, amount: u64) -> Result<(), E> {
        self.shape(id, d, c, amount, What::Payment)?;
        self.limit(d, amount)?;
        self.room()?;
        self.book(d, c, amount);
        self.record(id, d, c, amount, What::Payment, Stage::Done);
        Ok(())
    }

    fn finish(&mut self, id: u128, post_at: Option<u64>) -> Result<(), E> {
        let x = *self.xfers.get(&id).ok_or(E::ReservedTransferNotFound)?;
        let exp = match x.stage {
            Stage::Done => return Err(E::ReservedTransferNotFound),
            Stage::Posted => return Err(E::ReservedTransferAlreadyPosted),
            Stage::Voided => return Err(E::ReservedTransferAlreadyVoided),
            Stage::Pending(exp) => exp,
        };
        if post_at.is_some_and(|now| now > exp) {
            return Err(E::ReservedTransferExpired);
        }
        if let Some(now) = post_at {
            self.now = self.now.max(now);
        }
        let a = i128::from(x.amount);
        self.accounts.get_mut(&x.debit).unwrap().reserved_out -= a;
        self.accounts.get_mut(&x.credit).unwrap().reserved_in -= a;
        let stage = if post_at.is_some() {
            self.book(x.debit, x.credit, x.amount);
            Stage::Posted
        } else {
            Stage::Voided
        };
        self.xfers.get_mut(&id).unwrap().stage = stage;
        self.done.push_back((self.now, id));
        Ok(())
    }

    fn liquidity_move(
        &mut self,
        id: u128,
        d: u64,
        c: u64,
        amount: u64,
        now: u64,
        inward: bool,
    ) -> Result<(), E> {
        let what = if inward { What::FundIn } else { What::FundOut };
        self.shape(id, d, c, amount, what)?;
        let (rtgs, participant) = if inward { (d, c) } else { (c, d) };
        if !self.is_funding(rtgs) || self.is_funding(participant) {
            return Err(E::LiquidityAccountsInvalid);
        }
        if !inward {
            let a = &self.accounts[&d];
            if a.balance - a.reserved_out < i128::from(amount) {
                return Err(E::ExceedsCredits);
            }
        }
        self.room()?;
        self.now = self.now.max(now);
        self.book(d, c, amount);
        self.record(id, d, c, amount, what, Stage::Done);
        Ok(())
    }

    fn refund(&mut self, id: u128, original: u128, amount: u64, now: u64) -> Result<(), E> {
        if id == 0 {
            return Err(E::IdMustNotBeZero);
        }
        if amount == 0 {
            return Err(E::AmountMustNotBeZero);
        }
        if let Some(x) = self.xfers.get(&id) {
            let same = x.what == What::Refund(original) && x.amount == amount;
            return Err(if same { E::Exists } else { E::ExistsWithDifferentContent });
        }
        let o = *self.xfers.get(&original).ok_or(E::OriginalTransferNotFound)?;
        let posted = matches!(
            (o.what, o.stage),
            (What::Payment, Stage::Done) | (What::Reservation, Stage::Posted)
        );
        if !posted {
            return Err(E::OriginalTransferNotPosted);
        }
        if o.returned + amount > o.amount {
            return Err(E::ReturnExceedsOriginalAmount);
        }
        self.limit(o.credit, amount)?;
        self.room()?;
        self.now = self.now.max(now);
        self.xfers.get_mut(&original).unwrap().returned += amount;
        self.book(o.credit, o.debit, amount);
        self.record(id, o.credit, o.debit, amount, What::Refund(original), Stage::Done);
        Ok(())
    }

    fn close(&mut self, now: u64) -> Result<Vec<(u64, Direction, u64)>, WindowError> {
        if self.unsettled.len() >= self.windows_max {
            return Err(WindowError::TooManyUnsettledWindows);
        }
        self.now = self.now.max(now);
        let mut nets = Vec::new();
        let mut instructions = Vec::new();
        for (&id, a) in self.accounts.iter_mut() {
            if matches!(a.model, Model::Net(_)) {
                nets.push((id, a.window));
                if a.window != 0 {
                    let dir = if a.window < 0 { Direction::Pay } else { Direction::Receive };
                    instructions.push((id, dir, u64::try_from(a.window.abs()).unwrap()));
                }
                a.window = 0;
            }
        }
        self.unsettled.insert(self.window, nets);
        self.window += 1;
        Ok(instructions)
    }

    fn settle(&mut self, window: u64, now: u64) -> Result<(), WindowError> {
        if window == 0 || window >= self.window {
            return Err(WindowError::WindowNotClosed);
        }
        let nets = self.unsettled.get(&window).ok_or(WindowError::WindowAlreadySettled)?.clone();
        for &(id, net) in &nets {
            let h = self.accounts[&id].headroom();
            if net > 0 && h.is_some_and(|h| h < net) {
                return Err(WindowError::ExceedsNetDebitCap);
            }
        }
        self.unsettled.remove(&window);
        self.now = self.now.max(now);
        for (id, net) in nets {
            let amount = u64::try_from(net.abs()).unwrap();
            if net < 0 {
                self.book(FUNDING, id, amount);
            } else if net > 0 {
                self.book(id, FUNDING, amount);
            }
        }
        Ok(())
    }

    fn compact(&mut self, before: u64) -> usize {
        let mut n = 0;
        while let Some(&(at, id)) = self.done.front() {
            if at >= before {
                break;
            }
            self.done.pop_front();
            n += usize::from(self.xfers.remove(&id).is_some());
        }
        n
    }

    /// The model's own conservation checks.
    pub fn check(&self) {
        let total: i128 = self.accounts.values().map(|a| a.balance).sum();
        assert_eq!(total, 0, "model: money created or destroyed");
        let participants: i128 =
            self.accounts.values().filter(|a| a.model != Model::Funding).map(|a| a.balance).sum();
        assert_eq!(participants, self.liquidity, "model: participants moved without liquidity");
        for (id, a) in &self.accounts {
            assert!(a.reserved_out >= 0 && a.reserved_in >= 0, "model: {id} reserved < 0");
            assert!(a.headroom().is_none_or(|h| h >= 0), "model: {id} beyond its limit");
        }
    }
}
