//! The settlement ledger: every participant's position in central-bank money, moved by
//! two-phase transfers, with no money ever created or lost.
//!
//! A tour:
//!
//! ```
//! use ledger::{Ledger, AccountFlags, TransferError};
//!
//! let mut l = Ledger::default();
//! l.create_account(1, AccountFlags::FUNDING).unwrap();        // the central bank's funding account
//! l.create_account(10, AccountFlags::SETTLEMENT).unwrap();    // bank A, prefunded
//! l.create_account(20, AccountFlags::SETTLEMENT).unwrap();    // bank B
//! l.transfer(100, 1, 10, 50_000).unwrap();                    // fund A with 500.00
//! l.reserve(101, 10, 20, 20_000, 7_000).unwrap();             // A pays B 200.00, reserved
//! assert_eq!(l.account(10).unwrap().available(), 30_000);
//! l.post(101, 1_000).unwrap();                                // creditor bank accepted
//! assert_eq!(l.account(20).unwrap().balance(), 20_000);
//! assert_eq!(l.reserve(102, 10, 20, 40_000, 7_000), Err(TransferError::ExceedsCredits));
//! assert_eq!(l.total_balance(), 0);                           // conservation
//! ```
//!
//! Pure: no I/O, no clock (time is an argument, in milliseconds), no threads. Amounts are
//! integer minor units with checked arithmetic. Results are a stable, numbered enum ordered
//! by precedence ([`TransferError`]); the mapping to ISO 20022 reason codes lives in `switch`.
//! Invariant, asserted after every change in debug builds and checked by [`Ledger::audit`]:
//! the sum of all account balances is zero (funding accounts go negative by what they fund).

use std::collections::HashMap;

/// Ledger account id, chosen by the caller (the switch numbers its participants).
pub type AccountId = u64;
/// Transfer id, unique over the life of the ledger.
pub type TransferId = u128;

/// Account behaviour flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFlags {
    /// Debits (posted plus reserved) may not exceed credits: a prefunded settlement account.
    pub debits_must_not_exceed_credits: bool,
}

impl AccountFlags {
    /// A participant's prefunded settlement account (gross settlement).
    pub const SETTLEMENT: AccountFlags = AccountFlags { debits_must_not_exceed_credits: true };
    /// A scheme funding account (e.g. the central bank's RTGS side): may go negative.
    pub const FUNDING: AccountFlags = AccountFlags { debits_must_not_exceed_credits: false };
}

/// One account's totals, all in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Flags.
    pub flags: AccountFlags,
    /// Posted debits.
    pub debits_posted: u64,
    /// Posted credits.
    pub credits_posted: u64,
    /// Reserved (pending) debits.
    pub debits_reserved: u64,
    /// Reserved (pending) credits.
    pub credits_reserved: u64,
}

impl Account {
    /// Posted balance: credits minus debits (may be negative for funding accounts).
    pub fn balance(&self) -> i128 {
        i128::from(self.credits_posted) - i128::from(self.debits_posted)
    }

    /// What can still be reserved: balance minus reserved debits.
    pub fn available(&self) -> i128 {
        self.balance() - i128::from(self.debits_reserved)
    }
}

/// Why an account could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CreateAccountError {
    /// Account id 0 is reserved.
    #[error("account id must not be zero")]
    IdMustNotBeZero = 1,
    /// An account with this id exists with other flags.
    #[error("account exists with different flags")]
    ExistsWithDifferentFlags = 2,
    /// An account with this id exists already (same flags): nothing changed.
    #[error("account exists")]
    Exists = 3,
}

/// Why a transfer was refused. Numbered and ordered by precedence: when several apply, the
/// lowest number is reported. Numbers are stable; new results get new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
#[non_exhaustive]
#[repr(u32)]
pub enum TransferError {
    /// Transfer id 0 is reserved. Retry cannot help.
    #[error("transfer id must not be zero")]
    IdMustNotBeZero = 1,
    /// Amount must be positive. Retry cannot help.
    #[error("amount must not be zero")]
    AmountMustNotBeZero = 2,
    /// Debit and credit account must differ. Retry cannot help.
    #[error("accounts must be different")]
    AccountsMustBeDifferent = 3,
    /// No such debit account. Retry cannot help until it is created.
    #[error("debit account not found")]
    DebitAccountNotFound = 4,
    /// No such credit account.
    #[error("credit account not found")]
    CreditAccountNotFound = 5,
    /// The id is taken by a transfer with other accounts or amount.
    #[error("transfer exists with different content")]
    ExistsWithDifferentContent = 6,
    /// The id is taken by the same transfer: it was applied once already.
    #[error("transfer exists")]
    Exists = 7,
    /// Post or void of an id that was never reserved.
    #[error("reserved transfer not found")]
    ReservedTransferNotFound = 8,
    /// The reservation was posted already.
    #[error("reserved transfer already posted")]
    ReservedTransferAlreadyPosted = 9,
    /// The reservation was voided already.
    #[error("reserved transfer already voided")]
    ReservedTransferAlreadyVoided = 10,
    /// The reservation expired; it can only be voided.
    #[error("reserved transfer expired")]
    ReservedTransferExpired = 11,
    /// A total would overflow u64. Retry cannot help.
    #[error("amount overflows an account total")]
    Overflow = 12,
    /// The debit account's available balance is too low (insufficient funds). Retry may help
    /// after funding or after other reservations are voided.
    #[error("debits would exceed credits (insufficient funds)")]
    ExceedsCredits = 13,
}

impl TransferError {
    /// Whether the same request may succeed later.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            TransferError::ExceedsCredits
                | TransferError::DebitAccountNotFound
                | TransferError::CreditAccountNotFound
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Posted,
    Reserved { expires_at_ms: u64 },
    ReservedPosted,
    ReservedVoided,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TransferRecord {
    debit: AccountId,
    credit: AccountId,
    amount: u64,
    state: State,
}

/// The ledger: accounts and the transfers applied to them.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    accounts: HashMap<AccountId, Account>,
    transfers: HashMap<TransferId, TransferRecord>,
}

impl Ledger {
    /// Create an account. Creating the same account twice is reported as `Exists`.
    pub fn create_account(
        &mut self,
        id: AccountId,
        flags: AccountFlags,
    ) -> Result<(), CreateAccountError> {
        if id == 0 {
            return Err(CreateAccountError::IdMustNotBeZero);
        }
        if let Some(a) = self.accounts.get(&id) {
            return Err(if a.flags == flags {
                CreateAccountError::Exists
            } else {
                CreateAccountError::ExistsWithDifferentFlags
            });
        }
        self.accounts.insert(
            id,
            Account {
                id,
                flags,
                debits_posted: 0,
                credits_posted: 0,
                debits_reserved: 0,
                credits_reserved: 0,
            },
        );
        Ok(())
    }

    /// An account's totals.
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    /// All accounts, in no particular order.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    fn check_new(
        &self,
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: u64,
        reserve: bool,
    ) -> Result<(&Account, &Account), TransferError> {
        if id == 0 {
            return Err(TransferError::IdMustNotBeZero);
        }
        if amount == 0 {
            return Err(TransferError::AmountMustNotBeZero);
        }
        if debit == credit {
            return Err(TransferError::AccountsMustBeDifferent);
        }
        let d = self.accounts.get(&debit).ok_or(TransferError::DebitAccountNotFound)?;
        let c = self.accounts.get(&credit).ok_or(TransferError::CreditAccountNotFound)?;
        if let Some(t) = self.transfers.get(&id) {
            let same_kind = reserve != matches!(t.state, State::Posted);
            return Err(
                if t.debit == debit && t.credit == credit && t.amount == amount && same_kind {
                    TransferError::Exists
                } else {
                    TransferError::ExistsWithDifferentContent
                },
            );
        }
        let reserved = if reserve { d.debits_reserved } else { 0 };
        let over =
            d.debits_posted.checked_add(amount).and_then(|x| x.checked_add(reserved)).is_none()
                || c.credits_posted
                    .checked_add(amount)
                    .and_then(|x| x.checked_add(c.credits_reserved))
                    .is_none();
        if over {
            return Err(TransferError::Overflow);
        }
        if d.flags.debits_must_not_exceed_credits && d.available() < i128::from(amount) {
            return Err(TransferError::ExceedsCredits);
        }
        Ok((d, c))
    }

    /// Move `amount` from `debit` to `credit` at once (liquidity: funding, defunding).
    pub fn transfer(
        &mut self,
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: u64,
    ) -> Result<(), TransferError> {
        self.check_new(id, debit, credit, amount, false)?;
        self.apply(debit, |a| a.debits_posted += amount);
        self.apply(credit, |a| a.credits_posted += amount);
        self.transfers.insert(id, TransferRecord { debit, credit, amount, state: State::Posted });
        self.debug_audit();
        Ok(())
    }

    /// Reserve `amount` on `debit` in favour of `credit`, until `expires_at_ms`.
    pub fn reserve(
        &mut self,
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: u64,
        expires_at_ms: u64,
    ) -> Result<(), TransferError> {
        self.check_new(id, debit, credit, amount, true)?;
        self.apply(debit, |a| a.debits_reserved += amount);
        self.apply(credit, |a| a.credits_reserved += amount);
        self.transfers.insert(
            id,
            TransferRecord { debit, credit, amount, state: State::Reserved { expires_at_ms } },
        );
        self.debug_audit();
        Ok(())
    }

    fn reserved(&self, id: TransferId) -> Result<(TransferRecord, u64), TransferError> {
        let t = self.transfers.get(&id).ok_or(TransferError::ReservedTransferNotFound)?;
        match t.state {
            State::Reserved { expires_at_ms } => Ok((*t, expires_at_ms)),
            State::ReservedPosted => Err(TransferError::ReservedTransferAlreadyPosted),
            State::ReservedVoided => Err(TransferError::ReservedTransferAlreadyVoided),
            State::Posted => Err(TransferError::ReservedTransferNotFound),
        }
    }

    /// Post a reservation: the money moves. Refused once the reservation has expired.
    pub fn post(&mut self, id: TransferId, now_ms: u64) -> Result<(), TransferError> {
        let (t, expires_at_ms) = self.reserved(id)?;
        if now_ms > expires_at_ms {
            return Err(TransferError::ReservedTransferExpired);
        }
        let amount = t.amount;
        self.apply(t.debit, |a| {
            a.debits_reserved -= amount;
            a.debits_posted += amount;
        });
        self.apply(t.credit, |a| {
            a.credits_reserved -= amount;
            a.credits_posted += amount;
        });
        self.set_state(id, State::ReservedPosted);
        self.debug_audit();
        Ok(())
    }

    /// Void a reservation: the reserved amount is released, nothing moves.
    pub fn void(&mut self, id: TransferId) -> Result<(), TransferError> {
        let (t, _) = self.reserved(id)?;
        let amount = t.amount;
        self.apply(t.debit, |a| a.debits_reserved -= amount);
        self.apply(t.credit, |a| a.credits_reserved -= amount);
        self.set_state(id, State::ReservedVoided);
        self.debug_audit();
        Ok(())
    }

    fn apply(&mut self, id: AccountId, f: impl FnOnce(&mut Account)) {
        // Existence and overflow were checked before any change; a missing account here is
        // a broken invariant, so the change is skipped and the audit below reports it.
        if let Some(a) = self.accounts.get_mut(&id) {
            f(a);
        }
    }

    fn set_state(&mut self, id: TransferId, state: State) {
        if let Some(t) = self.transfers.get_mut(&id) {
            t.state = state;
        }
    }

    /// Sum of all posted balances; zero unless money was created or destroyed.
    pub fn total_balance(&self) -> i128 {
        self.accounts.values().map(Account::balance).sum()
    }

    /// Check the invariants: balances sum to zero, reserved debits equal reserved credits,
    /// and no prefunded account is overdrawn.
    pub fn audit(&self) -> Result<(), String> {
        if self.total_balance() != 0 {
            return Err(format!("balances sum to {}, not 0", self.total_balance()));
        }
        let rd: u128 = self.accounts.values().map(|a| u128::from(a.debits_reserved)).sum();
        let rc: u128 = self.accounts.values().map(|a| u128::from(a.credits_reserved)).sum();
        if rd != rc {
            return Err(format!("reserved debits {rd} != reserved credits {rc}"));
        }
        for a in self.accounts.values() {
            if a.flags.debits_must_not_exceed_credits && a.available() < 0 {
                return Err(format!("account {} overdrawn: available {}", a.id, a.available()));
            }
        }
        Ok(())
    }

    fn debug_audit(&self) {
        // A broken ledger invariant stops the process; recovery replays the journal.
        debug_assert!(self.audit().is_ok(), "ledger invariant broken: {:?}", self.audit());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        let mut l = Ledger::default();
        l.create_account(1, AccountFlags::FUNDING).unwrap();
        l.create_account(10, AccountFlags::SETTLEMENT).unwrap();
        l.create_account(20, AccountFlags::SETTLEMENT).unwrap();
        l.transfer(1, 1, 10, 1_000).unwrap();
        l
    }

    #[test]
    fn reserve_post_void_move_money_exactly_once() {
        let mut l = ledger();
        l.reserve(2, 10, 20, 600, 100).unwrap();
        assert_eq!(l.reserve(3, 10, 20, 500, 100), Err(TransferError::ExceedsCredits));
        l.void(2).unwrap();
        assert_eq!(l.void(2), Err(TransferError::ReservedTransferAlreadyVoided));
        assert_eq!(l.account(10).unwrap().available(), 1_000);
        l.reserve(3, 10, 20, 500, 100).unwrap();
        l.post(3, 50).unwrap();
        assert_eq!(l.post(3, 50), Err(TransferError::ReservedTransferAlreadyPosted));
        assert_eq!(l.account(10).unwrap().balance(), 500);
        assert_eq!(l.account(20).unwrap().balance(), 500);
        assert_eq!(l.account(1).unwrap().balance(), -1_000);
        l.audit().unwrap();
    }

    #[test]
    fn idempotency_and_precedence() {
        let mut l = ledger();
        l.reserve(2, 10, 20, 100, 100).unwrap();
        assert_eq!(l.reserve(2, 10, 20, 100, 100), Err(TransferError::Exists));
        assert_eq!(l.reserve(2, 10, 20, 101, 100), Err(TransferError::ExistsWithDifferentContent));
        assert_eq!(l.reserve(0, 10, 10, 0, 0), Err(TransferError::IdMustNotBeZero));
        assert_eq!(l.reserve(5, 10, 10, 0, 0), Err(TransferError::AmountMustNotBeZero));
        assert_eq!(l.reserve(5, 10, 99, 1, 0), Err(TransferError::CreditAccountNotFound));
        assert_eq!(l.post(77, 0), Err(TransferError::ReservedTransferNotFound));
    }

    #[test]
    fn expired_reservation_can_only_be_voided() {
        let mut l = ledger();
        l.reserve(2, 10, 20, 100, 100).unwrap();
        assert_eq!(l.post(2, 101), Err(TransferError::ReservedTransferExpired));
        l.void(2).unwrap();
        l.audit().unwrap();
    }

    #[test]
    fn overflow_is_refused_not_wrapped() {
        let mut l = ledger();
        assert_eq!(l.transfer(9, 1, 20, u64::MAX - 1_000), Ok(()));
        assert_eq!(l.transfer(10, 1, 20, 1), Err(TransferError::Overflow));
        l.audit().unwrap();
    }
}
