//! The settlement ledger: every participant's position in central-bank money, moved by
//! two-phase transfers, with no money ever created or lost.
//!
//! A tour:
//!
//! ```
//! use ledger::{Ledger, AccountFlags, TransferError};
//!
//! let mut l = Ledger::default();
//! l.create_account(1, AccountFlags::FUNDING).unwrap();        // the central bank (RTGS side)
//! l.create_account(10, AccountFlags::SETTLEMENT).unwrap();    // bank A, prefunded
//! l.create_account(20, AccountFlags::SETTLEMENT).unwrap();    // bank B
//! l.transfer(100, 1, 10, 50_000).unwrap();                    // fund A with 500.00
//! l.reserve(101, 10, 20, 20_000, 7_000).unwrap();             // A pays B 200.00, reserved
//! assert_eq!(l.account(10).unwrap().available(), 30_000);
//! l.post(101, 1_000).unwrap();                                // creditor bank accepted
//! assert_eq!(l.account(20).unwrap().balance(), 20_000);
//! assert_eq!(l.reserve(102, 10, 20, 40_000, 7_000), Err(TransferError::ExceedsCredits));
//! assert_eq!(l.total_balance(), 0);                           // conservation
//!
//! // Deferred net settlement: bank C may owe up to its net debit cap until the window settles.
//! l.create_net_account(30, 10_000).unwrap();
//! l.create_net_account(40, 10_000).unwrap();
//! l.reserve(103, 30, 40, 8_000, 7_000).unwrap();
//! l.post(103, 1_000).unwrap();
//! assert_eq!(l.reserve(104, 30, 40, 3_000, 7_000), Err(TransferError::ExceedsNetDebitCap));
//! let report = l.close_window(2_000).unwrap();                // new transfers go to window 2
//! assert_eq!(report.instructions.len(), 2);                   // C pays 80.00, D receives 80.00
//! l.settle_window(report.window, 1, 3_000).unwrap();          // RTGS confirmed: positions reset
//! assert_eq!(l.account(30).unwrap().balance(), 0);
//! l.audit().unwrap();
//! ```
//!
//! Pure: no I/O, no clock (time is an argument, in milliseconds), no threads (the
//! single-writer thread around it lives in [`writer`]). Amounts are integer minor units with
//! checked arithmetic. Results are a stable, numbered enum ordered by precedence
//! ([`TransferError`]); the mapping to ISO 20022 reason codes lives in `switch`.
//!
//! Invariants, checked in O(1) after every change in release builds too (a violation stops
//! the process: recovery replays the journal), and recomputed from scratch by
//! [`Ledger::audit`]:
//! - the sum of all account balances is zero (funding accounts go negative by what they fund);
//!   equivalently, the sum of participant balances changes only by liquidity transfers
//!   (movements with a funding account on one side);
//! - reserved debits equal reserved credits, and no reserved total goes below zero;
//! - no prefunded account's available balance is negative, and no deferred-net account owes
//!   more than its net debit cap.
//!
//! Limits: at most [`LedgerLimits::transfers_max`] transfers are remembered (for idempotency
//! and returns); [`Ledger::compact`] forgets finalized ones, see there. At most
//! [`LedgerLimits::windows_unsettled_max`] closed windows wait for settlement.
//!
//! Hot path: `reserve`, `post`, `void` run on the per-transfer path; no allocation except
//! map growth, no O(accounts) work.

mod hash;
mod settlement;
mod snapshot;
mod table;
pub mod writer;

use std::collections::{BTreeMap, VecDeque};

use hash::IdMap;
pub use settlement::{
    Direction, NetDebitCapError, NetPosition, SettlementInstruction, WindowError, WindowId,
    WindowReport,
};
pub use snapshot::{SnapshotError, LEDGER_SNAPSHOT_MAGIC, LEDGER_SNAPSHOT_VERSION};
use table::{hash_id, TransferTable};

/// Ledger account id, chosen by the caller (the switch numbers its participants).
pub type AccountId = u64;
/// Transfer id, unique over the life of the ledger.
pub type TransferId = u128;

/// Default for [`LedgerLimits::transfers_max`]: about 100 bytes each, so 1.6 GiB when full.
pub const TRANSFERS_MAX_DEFAULT: usize = 1 << 24;
/// Accounts one ledger holds at most (participants are hundreds to thousands).
pub const ACCOUNTS_MAX: usize = 1 << 20;
/// Posts looked up together by [`Ledger::post_batch`] before they are applied: enough
/// cache misses in flight to hide most of their latency, few enough lines to stay in L1.
const POST_GROUP: usize = 32;
/// Default for [`LedgerLimits::windows_unsettled_max`].
pub const WINDOWS_UNSETTLED_MAX_DEFAULT: usize = 64;

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

/// How an account settles, chosen per scheme (and so per account) in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettlementModel {
    /// The scheme's RTGS side (central bank funding account): unlimited, the source and sink
    /// of liquidity transfers and window settlements.
    Funding,
    /// Gross, prefunded (Pix, TIPS, FedNow): available balance never below zero.
    GrossPrefunded,
    /// Deferred net (UPI, Mojaloop): the position may go down to minus the net debit cap;
    /// windows are closed and settled through the funding account.
    DeferredNet {
        /// How far below zero the position may go, in minor units.
        net_debit_cap: u64,
    },
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

/// An account's settlement view: model, limit headroom and current-window net.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The account's totals.
    pub account: Account,
    /// How it settles.
    pub model: SettlementModel,
    /// What can still be reserved before the limit: available balance for prefunded
    /// accounts, available plus net debit cap for deferred-net ones, `None` if unlimited.
    pub headroom: Option<i128>,
    /// Deferred net only: credits minus debits posted in the open window (zero otherwise).
    pub window_net: i128,
}

/// Why an account could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CreateAccountError {
    /// Account id 0 is reserved.
    #[error("account id must not be zero")]
    IdMustNotBeZero = 1,
    /// An account with this id exists with other flags (or another settlement model or cap).
    #[error("account exists with different flags")]
    ExistsWithDifferentFlags = 2,
    /// An account with this id exists already (same flags): nothing changed.
    #[error("account exists")]
    Exists = 3,
    /// [`ACCOUNTS_MAX`] accounts exist. Retry cannot help.
    #[error("too many accounts")]
    TooManyAccounts = 4,
}

/// Why a transfer was refused. Numbered and ordered by precedence: when several apply, the
/// lowest number is reported. Numbers are stable; new results get new numbers. Results
/// 14 and above were added later and so could not take their place in the numbering: each
/// says where it is checked relative to 1-13, and that order is what callers see.
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
    /// The id is taken by a transfer with other accounts, amount or kind (reserve, transfer,
    /// fund, defund, return). Retry cannot help: use a new id.
    #[error("transfer exists with different content")]
    ExistsWithDifferentContent = 6,
    /// The id is taken by the same transfer: it was applied once already. Nothing changed;
    /// the original result stands.
    #[error("transfer exists")]
    Exists = 7,
    /// Post or void of an id that was never reserved (or was compacted).
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
    /// A deferred-net debit account would owe more than its net debit cap. Checked where
    /// `ExceedsCredits` is (an account has one model, so never both). Retry may help after
    /// the window settles, after liquidity is added, the cap raised or reservations voided.
    #[error("position would exceed the net debit cap")]
    ExceedsNetDebitCap = 14,
    /// A return names an original transfer that does not exist (or was compacted). Checked
    /// after `Exists`. Retry cannot help.
    #[error("original transfer not found")]
    OriginalTransferNotFound = 15,
    /// A return names a transfer that is not a posted payment (still reserved, voided, a
    /// liquidity transfer or a return itself). Checked after 15. Retry helps only if the
    /// original reservation is posted later.
    #[error("original transfer is not a posted payment")]
    OriginalTransferNotPosted = 16,
    /// The returns of an original would sum to more than its posted amount. Checked after 16,
    /// before 12-14. Retry cannot help; a smaller return may.
    #[error("returns would exceed the original amount")]
    ReturnExceedsOriginalAmount = 17,
    /// A liquidity transfer (fund, defund) needs a funding account on the RTGS side and a
    /// participant account on the other. Checked after `Exists`. Retry cannot help.
    #[error("liquidity transfer needs one funding and one participant account")]
    LiquidityAccountsInvalid = 18,
    /// The ledger remembers `transfers_max` transfers and is full. Checked last. Retry may
    /// help after [`Ledger::compact`].
    #[error("transfer limit reached: compact finalized transfers")]
    TransferLimitReached = 19,
}

impl TransferError {
    /// Whether the same request may succeed later.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            TransferError::ExceedsCredits
                | TransferError::DebitAccountNotFound
                | TransferError::CreditAccountNotFound
                | TransferError::ExceedsNetDebitCap
                | TransferError::OriginalTransferNotPosted
                | TransferError::TransferLimitReached
        )
    }

    /// The stable number of this result.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// Explicit limits of one ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerLimits {
    /// Transfers remembered at once (reserved ones plus finalized ones not yet compacted).
    pub transfers_max: usize,
    /// Closed windows waiting for settlement.
    pub windows_unsettled_max: usize,
}

impl Default for LedgerLimits {
    fn default() -> Self {
        LedgerLimits {
            transfers_max: TRANSFERS_MAX_DEFAULT,
            windows_unsettled_max: WINDOWS_UNSETTLED_MAX_DEFAULT,
        }
    }
}

/// Running totals, kept in O(1) per change and recomputed by [`Ledger::audit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Sum of all balances: always zero.
    pub balance_sum: i128,
    /// Sum of the balances of non-funding (participant) accounts.
    pub participant_balance_sum: i128,
    /// Liquidity into participant accounts minus liquidity out (fund, defund, `transfer`
    /// with a funding account on one side, window settlements): always equals
    /// `participant_balance_sum`.
    pub liquidity_net: i128,
    /// Sum of reserved debits.
    pub reserved_debits: u128,
    /// Sum of reserved credits: always equals `reserved_debits`.
    pub reserved_credits: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Posted,
    Reserved,
    ReservedPosted,
    ReservedVoided,
}

/// What created a transfer record; part of its content for idempotency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Transfer,
    Reserve,
    Fund,
    Defund,
    /// A return; its original is in `Ledger::returns`.
    Return,
}

/// 40 bytes, so that with its 16-byte id a map entry fills one 64-byte cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TransferRecord {
    /// Index of the debit account in `Accounts`.
    debit: u32,
    /// Index of the credit account.
    credit: u32,
    amount: u64,
    /// Sum of the returns linked to this transfer.
    returned: u64,
    /// Reservations only: the time after which it can only be voided.
    expires_at_ms: u64,
    kind: Kind,
    state: State,
}

/// A finalized transfer waiting for compaction: when, and where its record is (slot and id
/// hash, so compaction never reads the record itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Finalized {
    at_ms: u64,
    hash: u64,
    slot: u32,
    is_return: bool,
}

/// Account ids below this are found by direct indexing (the switch numbers its
/// participants from 100 up), larger ones through the map. 4 bytes per id up to the largest
/// small id created, so at most 256 KiB.
const DENSE_IDS_MAX: u64 = 1 << 16;

/// Accounts in a dense vector, found by id through a direct table (small ids) or a map;
/// transfers refer to them by index, so the per-transfer path after the first lookup does
/// no hashing.
#[derive(Debug, Clone, Default)]
struct Accounts {
    index: IdMap<AccountId, u32>,
    /// `dense[id]` is the index plus one of the account with that small id, 0 if none.
    dense: Vec<u32>,
    slots: Vec<Slot>,
}

impl Accounts {
    #[inline]
    fn index_of(&self, id: AccountId) -> Option<u32> {
        if id < DENSE_IDS_MAX {
            let plus_one = *self.dense.get(id as usize)?;
            plus_one.checked_sub(1)
        } else {
            self.index.get(&id).copied()
        }
    }

    #[inline]
    fn find(&self, id: AccountId) -> Option<(u32, &Slot)> {
        let i = self.index_of(id)?;
        Some((i, self.slots.get(i as usize)?))
    }

    fn get(&self, id: &AccountId) -> Option<&Slot> {
        self.find(*id).map(|(_, s)| s)
    }

    fn get_mut(&mut self, id: &AccountId) -> Option<&mut Slot> {
        let i = self.index_of(*id)?;
        self.slots.get_mut(i as usize)
    }

    fn at(&self, i: u32) -> Option<&Slot> {
        self.slots.get(i as usize)
    }

    fn at_mut(&mut self, i: u32) -> Option<&mut Slot> {
        self.slots.get_mut(i as usize)
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    /// Add a slot whose id is not present; the caller checked the limit.
    fn insert(&mut self, slot: Slot) {
        let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        let id = slot.account.id;
        if id < DENSE_IDS_MAX {
            let at = id as usize;
            if self.dense.len() <= at {
                self.dense.resize(at + 1, 0);
            }
            if let Some(d) = self.dense.get_mut(at) {
                *d = i.saturating_add(1);
            }
        } else {
            self.index.insert(id, i);
        }
        self.slots.push(slot);
    }

    fn values(&self) -> std::slice::Iter<'_, Slot> {
        self.slots.iter()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    account: Account,
    model: SettlementModel,
    window_net: i128,
}

impl Slot {
    fn headroom(&self) -> Option<i128> {
        match self.model {
            SettlementModel::Funding => None,
            SettlementModel::GrossPrefunded => Some(self.account.available()),
            SettlementModel::DeferredNet { net_debit_cap } => {
                Some(self.account.available() + i128::from(net_debit_cap))
            }
        }
    }

    /// The limit error for debiting `amount`, if any.
    fn limit_error(&self, amount: u64) -> Option<TransferError> {
        let headroom = self.headroom()?;
        if headroom >= i128::from(amount) {
            return None;
        }
        Some(match self.model {
            SettlementModel::DeferredNet { .. } => TransferError::ExceedsNetDebitCap,
            _ => TransferError::ExceedsCredits,
        })
    }

    fn is_funding(&self) -> bool {
        self.model == SettlementModel::Funding
    }
}

/// The ledger: accounts and the transfers applied to them.
#[derive(Debug, Clone)]
pub struct Ledger {
    accounts: Accounts,
    /// All account ids, sorted: snapshots and reports in O(accounts), never a sort.
    account_ids: Vec<AccountId>,
    /// Deferred-net account ids, sorted: window close in O(net participants).
    net_accounts: Vec<AccountId>,
    transfers: TransferTable,
    /// Return id to original id, for the returns among `transfers`.
    returns: IdMap<TransferId, TransferId>,
    /// Finalized transfers in finalization order, with the time they were finalized.
    finalized: VecDeque<Finalized>,
    /// Latest time seen in any call that carries one; stamps finalization.
    now_ms: u64,
    /// The open settlement window.
    window: WindowId,
    /// Closed windows waiting for settlement.
    unsettled: BTreeMap<WindowId, WindowReport>,
    /// Running sum of every net account's `window_net` (nonzero only when payments cross
    /// between net and gross participants).
    window_net: i128,
    totals: Totals,
    limits: LedgerLimits,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::with_limits(LedgerLimits::default())
    }
}

/// A broken invariant: money would be created or lost. The process stops here (STYLE 2);
/// recovery replays the journal. This is the only place the ledger panics.
#[cold]
#[inline(never)]
#[allow(clippy::panic)]
fn invariant_broken(what: &str) -> ! {
    panic!("ledger invariant broken: {what}")
}

fn add(a: u64, b: u64) -> u64 {
    a.checked_add(b).unwrap_or_else(|| invariant_broken("account total overflow"))
}

fn sub(a: u64, b: u64) -> u64 {
    a.checked_sub(b).unwrap_or_else(|| invariant_broken("reserved total below zero"))
}

impl Ledger {
    /// An empty ledger with explicit limits; window 1 is open.
    pub fn with_limits(limits: LedgerLimits) -> Ledger {
        Ledger {
            accounts: Accounts::default(),
            account_ids: Vec::new(),
            net_accounts: Vec::new(),
            transfers: TransferTable::with_slots_max(limits.transfers_max),
            returns: IdMap::default(),
            finalized: VecDeque::new(),
            now_ms: 0,
            window: 1,
            unsettled: BTreeMap::new(),
            window_net: 0,
            totals: Totals::default(),
            limits,
        }
    }

    /// Allocate room for `transfers` remembered transfers now (capped at `transfers_max`),
    /// so that the map never rehashes on the per-transfer path: a rehash of millions of
    /// entries is a pause of tens of milliseconds. Call it at start-up with the live set
    /// (reservations in flight plus the idempotency window between compactions), not the
    /// limit: an index much larger than its contents no longer fits the cache (with the
    /// earlier map of 64-byte entries, 1M slots for a 40k live set measured twice as slow;
    /// the index now holds 4-byte slot numbers, so the penalty starts later).
    pub fn preallocate(&mut self, transfers: usize) {
        let want = transfers.min(self.limits.transfers_max);
        self.transfers.reserve(want.saturating_sub(self.transfers.len()));
        self.finalized.reserve(want.saturating_sub(self.finalized.len()));
    }

    /// The limits this ledger was built with.
    pub fn limits(&self) -> LedgerLimits {
        self.limits
    }

    /// Create an account. Creating the same account twice is reported as `Exists`.
    /// `SETTLEMENT` makes a gross prefunded account, `FUNDING` a funding account.
    pub fn create_account(
        &mut self,
        id: AccountId,
        flags: AccountFlags,
    ) -> Result<(), CreateAccountError> {
        let model = if flags.debits_must_not_exceed_credits {
            SettlementModel::GrossPrefunded
        } else {
            SettlementModel::Funding
        };
        self.create_account_with_model(id, model)
    }

    /// Create a deferred-net participant account whose position may go down to
    /// `-net_debit_cap`. Creating the same account twice is reported as `Exists`.
    pub fn create_net_account(
        &mut self,
        id: AccountId,
        net_debit_cap: u64,
    ) -> Result<(), CreateAccountError> {
        self.create_account_with_model(id, SettlementModel::DeferredNet { net_debit_cap })
    }

    /// Create an account with an explicit settlement model.
    pub fn create_account_with_model(
        &mut self,
        id: AccountId,
        model: SettlementModel,
    ) -> Result<(), CreateAccountError> {
        if id == 0 {
            return Err(CreateAccountError::IdMustNotBeZero);
        }
        if let Some(s) = self.accounts.get(&id) {
            return Err(if s.model == model {
                CreateAccountError::Exists
            } else {
                CreateAccountError::ExistsWithDifferentFlags
            });
        }
        if self.accounts.len() >= ACCOUNTS_MAX {
            return Err(CreateAccountError::TooManyAccounts);
        }
        let flags = match model {
            SettlementModel::GrossPrefunded => AccountFlags::SETTLEMENT,
            _ => AccountFlags::FUNDING,
        };
        let account = Account {
            id,
            flags,
            debits_posted: 0,
            credits_posted: 0,
            debits_reserved: 0,
            credits_reserved: 0,
        };
        self.accounts.insert(Slot { account, model, window_net: 0 });
        insert_sorted(&mut self.account_ids, id);
        if matches!(model, SettlementModel::DeferredNet { .. }) {
            insert_sorted(&mut self.net_accounts, id);
        }
        Ok(())
    }

    /// An account's totals.
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id).map(|s| &s.account)
    }

    /// All accounts, in no particular order.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values().map(|s| &s.account)
    }

    /// All accounts, sorted by id (O(accounts), no sort).
    pub fn accounts_sorted(&self) -> impl Iterator<Item = &Account> {
        self.account_ids.iter().filter_map(|id| self.account(*id))
    }

    /// An account's settlement view.
    pub fn position(&self, id: AccountId) -> Option<Position> {
        self.accounts.get(&id).map(|s| Position {
            account: s.account,
            model: s.model,
            headroom: s.headroom(),
            window_net: s.window_net,
        })
    }

    /// Number of transfers remembered (reserved plus finalized not yet compacted).
    pub fn transfers_len(&self) -> usize {
        self.transfers.len()
    }

    /// The latest time seen in a call that carries one.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The running totals (O(1)).
    pub fn totals(&self) -> Totals {
        self.totals
    }

    fn observe(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// Idempotency: `Exists` if `id` holds the same content, `ExistsWithDifferentContent`
    /// if other content, `Ok` if the id is free.
    fn check_id_free(
        &self,
        id: TransferId,
        debit: u32,
        credit: u32,
        amount: u64,
        kind: Kind,
    ) -> Result<(), TransferError> {
        match self.transfers.get(id) {
            None => Ok(()),
            Some(t) if t.debit == debit && t.credit == credit && t.amount == amount => {
                Err(if t.kind == kind {
                    TransferError::Exists
                } else {
                    TransferError::ExistsWithDifferentContent
                })
            }
            Some(_) => Err(TransferError::ExistsWithDifferentContent),
        }
    }

    /// Checks 1 to 7 for a new transfer between two given accounts.
    fn check_shape(
        &self,
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: u64,
        kind: Kind,
    ) -> Result<Pair<'_>, TransferError> {
        if id == 0 {
            return Err(TransferError::IdMustNotBeZero);
        }
        if amount == 0 {
            return Err(TransferError::AmountMustNotBeZero);
        }
        if debit == credit {
            return Err(TransferError::AccountsMustBeDifferent);
        }
        let (di, d) = self.accounts.find(debit).ok_or(TransferError::DebitAccountNotFound)?;
        let (ci, c) = self.accounts.find(credit).ok_or(TransferError::CreditAccountNotFound)?;
        self.check_id_free(id, di, ci, amount, kind)?;
        Ok(Pair { di, d, ci, c })
    }

    /// Check 12: no total of either account may overflow, counting reserved amounts.
    fn check_overflow(d: &Slot, c: &Slot, amount: u64) -> Result<(), TransferError> {
        let over = d
            .account
            .debits_posted
            .checked_add(amount)
            .and_then(|x| x.checked_add(d.account.debits_reserved))
            .is_none()
            || c.account
                .credits_posted
                .checked_add(amount)
                .and_then(|x| x.checked_add(c.account.credits_reserved))
                .is_none();
        if over {
            return Err(TransferError::Overflow);
        }
        Ok(())
    }

    fn check_room(&self) -> Result<(), TransferError> {
        if self.transfers.len() >= self.limits.transfers_max {
            return Err(TransferError::TransferLimitReached);
        }
        Ok(())
    }

    fn check_new(
        &self,
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: u64,
        kind: Kind,
    ) -> Result<(u32, u32), TransferError> {
        let p = self.check_shape(id, debit, credit, amount, kind)?;
        Self::check_overflow(p.d, p.c, amount)?;
        if let Some(e) = p.d.limit_error(amount) {
            return Err(e);
        }
        self.check_room()?;
        Ok((p.di, p.ci))
    }

    /// Move `amount` from `debit` to `credit` at once. With a funding account on one side
    /// this is a liquidity transfer; between participants it is an immediate payment and
    /// counts in the open settlement window. Limits are checked on the debit account.
    pub fn transfer(
        &mut self,
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: u64,
    ) -> Result<(), TransferError> {
        let (d, c) = self.check_new(id, debit, credit, amount, Kind::Transfer)?;
        self.insert_posted(id, d, c, amount, Kind::Transfer);
        Ok(())
    }

    /// Liquidity in: the RTGS system moved `amount` into a participant's settlement account.
    /// `funding` must be a funding account, `participant` a participant account
    /// ([`TransferError::LiquidityAccountsInvalid`] otherwise).
    pub fn fund(
        &mut self,
        id: TransferId,
        funding: AccountId,
        participant: AccountId,
        amount: u64,
        now_ms: u64,
    ) -> Result<(), TransferError> {
        let p = self.check_shape(id, funding, participant, amount, Kind::Fund)?;
        if !p.d.is_funding() || p.c.is_funding() {
            return Err(TransferError::LiquidityAccountsInvalid);
        }
        Self::check_overflow(p.d, p.c, amount)?;
        let (d, c) = (p.di, p.ci);
        self.check_room()?;
        self.observe(now_ms);
        self.insert_posted(id, d, c, amount, Kind::Fund);
        Ok(())
    }

    /// Liquidity out (defunding at end of day): move `amount` from a participant's settlement
    /// account back to the RTGS side. Only money the participant holds can leave: its
    /// available balance must cover `amount` whatever its model (a net debit cap is credit,
    /// not cash), else [`TransferError::ExceedsCredits`].
    pub fn defund(
        &mut self,
        id: TransferId,
        participant: AccountId,
        funding: AccountId,
        amount: u64,
        now_ms: u64,
    ) -> Result<(), TransferError> {
        let p = self.check_shape(id, participant, funding, amount, Kind::Defund)?;
        if p.d.is_funding() || !p.c.is_funding() {
            return Err(TransferError::LiquidityAccountsInvalid);
        }
        Self::check_overflow(p.d, p.c, amount)?;
        if p.d.account.available() < i128::from(amount) {
            return Err(TransferError::ExceedsCredits);
        }
        let (d, c) = (p.di, p.ci);
        self.check_room()?;
        self.observe(now_ms);
        self.insert_posted(id, d, c, amount, Kind::Defund);
        Ok(())
    }

    /// A partial (or full) return of a posted payment: a new transfer `id` of `amount` from
    /// the original's credit account back to its debit account, posted at once and linked to
    /// `original`. The returns of one original never sum to more than its amount
    /// ([`TransferError::ReturnExceedsOriginalAmount`]). The returning account's limits are
    /// checked like any debit.
    pub fn return_transfer(
        &mut self,
        id: TransferId,
        original: TransferId,
        amount: u64,
        now_ms: u64,
    ) -> Result<(), TransferError> {
        if id == 0 {
            return Err(TransferError::IdMustNotBeZero);
        }
        if amount == 0 {
            return Err(TransferError::AmountMustNotBeZero);
        }
        if let Some(t) = self.transfers.get(id) {
            let same_original = self.returns.get(&id) == Some(&original);
            return Err(if t.kind == Kind::Return && same_original && t.amount == amount {
                TransferError::Exists
            } else {
                TransferError::ExistsWithDifferentContent
            });
        }
        let o = self.transfers.get(original).ok_or(TransferError::OriginalTransferNotFound)?;
        let posted_payment = matches!(
            (o.kind, o.state),
            (Kind::Transfer, State::Posted) | (Kind::Reserve, State::ReservedPosted)
        );
        if !posted_payment {
            return Err(TransferError::OriginalTransferNotPosted);
        }
        let within = o.returned.checked_add(amount).is_some_and(|r| r <= o.amount);
        if !within {
            return Err(TransferError::ReturnExceedsOriginalAmount);
        }
        let (debit, credit) = (o.credit, o.debit);
        let d = self.accounts.at(debit).ok_or(TransferError::DebitAccountNotFound)?;
        let c = self.accounts.at(credit).ok_or(TransferError::CreditAccountNotFound)?;
        Self::check_overflow(d, c, amount)?;
        if let Some(e) = d.limit_error(amount) {
            return Err(e);
        }
        self.check_room()?;
        self.observe(now_ms);
        if let Some((_, o)) = self.transfers.get_mut(original) {
            o.returned = add(o.returned, amount);
        }
        self.returns.insert(id, original);
        self.insert_posted(id, debit, credit, amount, Kind::Return);
        Ok(())
    }

    /// Sum of the returns linked to a transfer so far (`None` if unknown or compacted).
    pub fn returned(&self, original: TransferId) -> Option<u64> {
        self.transfers.get(original).map(|t| t.returned)
    }

    fn insert_posted(&mut self, id: TransferId, debit: u32, credit: u32, amount: u64, kind: Kind) {
        self.move_posted(debit, credit, amount, false);
        let state = State::Posted;
        let record =
            TransferRecord { debit, credit, amount, returned: 0, expires_at_ms: 0, kind, state };
        let hash = hash_id(id);
        let slot = self.transfers.insert_new(id, hash, record);
        let is_return = kind == Kind::Return;
        self.finalized.push_back(Finalized { at_ms: self.now_ms, hash, slot, is_return });
        self.check_totals();
    }

    /// Reserve `amount` on `debit` in favour of `credit`, until `expires_at_ms`. The expiry
    /// is not part of the content compared for idempotency (a retry may recompute it).
    pub fn reserve(
        &mut self,
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: u64,
        expires_at_ms: u64,
    ) -> Result<(), TransferError> {
        let (debit, credit) = self.check_new(id, debit, credit, amount, Kind::Reserve)?;
        self.touch(debit, |a| a.debits_reserved = add(a.debits_reserved, amount));
        self.touch(credit, |a| a.credits_reserved = add(a.credits_reserved, amount));
        self.totals.reserved_debits += u128::from(amount);
        self.totals.reserved_credits += u128::from(amount);
        let (kind, state) = (Kind::Reserve, State::Reserved);
        let record =
            TransferRecord { debit, credit, amount, returned: 0, expires_at_ms, kind, state };
        self.transfers.insert_new(id, hash_id(id), record);
        self.check_totals();
        Ok(())
    }

    /// The reservation `id` if it is still reserved, with its expiry and the finalization
    /// entry it will get.
    fn reserved_mut(
        &mut self,
        id: TransferId,
    ) -> Result<(&mut TransferRecord, u64, Finalized), TransferError> {
        let (slot, t) =
            self.transfers.get_mut(id).ok_or(TransferError::ReservedTransferNotFound)?;
        match t.state {
            State::Reserved => {
                let expires_at_ms = t.expires_at_ms;
                let f = Finalized { at_ms: 0, hash: hash_id(id), slot, is_return: false };
                Ok((t, expires_at_ms, f))
            }
            State::ReservedPosted => Err(TransferError::ReservedTransferAlreadyPosted),
            State::ReservedVoided => Err(TransferError::ReservedTransferAlreadyVoided),
            State::Posted => Err(TransferError::ReservedTransferNotFound),
        }
    }

    /// Post several reservations, each `(id, now_ms)` exactly as [`Ledger::post`] would one
    /// after the other, appending each result to `results` in order. Faster when the
    /// reservations are old (a switch posts once the creditor bank has answered, thousands
    /// of transfers later, when their records have left the cache): the records of a group
    /// are looked up first, so their cache misses overlap instead of coming one at a time.
    pub fn post_batch(
        &mut self,
        posts: &[(TransferId, u64)],
        results: &mut Vec<Result<(), TransferError>>,
    ) {
        results.reserve(posts.len());
        for group in posts.chunks(POST_GROUP) {
            // Read-only: each lookup reads the record's line; nothing depends on the next.
            let mut found = 0u32;
            for &(id, _) in group {
                found ^= self.transfers.find(id, hash_id(id)).unwrap_or(0);
            }
            std::hint::black_box(found);
            for &(id, now_ms) in group {
                results.push(self.post(id, now_ms));
            }
        }
    }

    /// Post a reservation: the money moves. Refused once the reservation has expired.
    /// Posting again answers `ReservedTransferAlreadyPosted` and changes nothing.
    pub fn post(&mut self, id: TransferId, now_ms: u64) -> Result<(), TransferError> {
        let (t, expires_at_ms, f) = self.reserved_mut(id)?;
        if now_ms > expires_at_ms {
            return Err(TransferError::ReservedTransferExpired);
        }
        t.state = State::ReservedPosted;
        let (debit, credit, amount) = (t.debit, t.credit, t.amount);
        self.observe(now_ms);
        self.move_posted(debit, credit, amount, true);
        self.finalized.push_back(Finalized { at_ms: self.now_ms, ..f });
        self.check_totals();
        Ok(())
    }

    /// Void a reservation: the reserved amount is released, nothing moves. Voiding again
    /// answers `ReservedTransferAlreadyVoided` and changes nothing.
    pub fn void(&mut self, id: TransferId) -> Result<(), TransferError> {
        let (t, _, f) = self.reserved_mut(id)?;
        t.state = State::ReservedVoided;
        let (debit, credit, amount) = (t.debit, t.credit, t.amount);
        self.touch(debit, |a| a.debits_reserved = sub(a.debits_reserved, amount));
        self.touch(credit, |a| a.credits_reserved = sub(a.credits_reserved, amount));
        self.release_totals(amount);
        self.finalized.push_back(Finalized { at_ms: self.now_ms, ..f });
        self.check_totals();
        Ok(())
    }

    fn slot_mut(&mut self, i: u32) -> &mut Slot {
        // Existence was checked before any change and accounts are never removed.
        self.accounts.at_mut(i).unwrap_or_else(|| invariant_broken("account vanished"))
    }

    /// Change one account with `f`, then check its limit (O(1), release builds too): the
    /// single place every account change goes through. Returns (funding, net).
    #[inline]
    fn touch(&mut self, i: u32, f: impl FnOnce(&mut Account)) -> (bool, bool) {
        let s = self.slot_mut(i);
        f(&mut s.account);
        if s.headroom().is_some_and(|h| h < 0) {
            invariant_broken("an account exceeds its limit");
        }
        (s.is_funding(), is_net(s))
    }

    fn release_totals(&mut self, amount: u64) {
        let a = u128::from(amount);
        let t = &mut self.totals;
        t.reserved_debits =
            t.reserved_debits.checked_sub(a).unwrap_or_else(|| invariant_broken("reserved < 0"));
        t.reserved_credits =
            t.reserved_credits.checked_sub(a).unwrap_or_else(|| invariant_broken("reserved < 0"));
    }

    /// Apply a posted movement to both accounts (releasing the reservation first if
    /// `reserved`), the running totals and the open window.
    fn move_posted(&mut self, debit: u32, credit: u32, amount: u64, reserved: bool) {
        let a = i128::from(amount);
        let (d_funding, d_net) = self.touch(debit, |x| {
            if reserved {
                x.debits_reserved = sub(x.debits_reserved, amount);
            }
            x.debits_posted = add(x.debits_posted, amount);
        });
        self.totals.balance_sum -= a;
        let (c_funding, c_net) = self.touch(credit, |x| {
            if reserved {
                x.credits_reserved = sub(x.credits_reserved, amount);
            }
            x.credits_posted = add(x.credits_posted, amount);
        });
        if reserved {
            self.release_totals(amount);
        }
        // Windows count payments between participants, not liquidity or settlement.
        if !d_funding && !c_funding {
            if c_net {
                self.slot_mut(credit).window_net += a;
                self.window_net += a;
            }
            if d_net {
                self.slot_mut(debit).window_net -= a;
                self.window_net -= a;
            }
        }
        let t = &mut self.totals;
        t.balance_sum += a;
        if !d_funding {
            t.participant_balance_sum -= a;
        }
        if !c_funding {
            t.participant_balance_sum += a;
        }
        match (d_funding, c_funding) {
            (true, false) => t.liquidity_net += a,
            (false, true) => t.liquidity_net -= a,
            _ => {}
        }
    }

    /// O(1) check of the running totals after a change: runs in release builds too. A
    /// violation stops the process. (Each touched account's limit is checked by `touch`.)
    fn check_totals(&self) {
        let t = &self.totals;
        if t.balance_sum != 0 {
            invariant_broken("balances do not sum to zero");
        }
        if t.participant_balance_sum != t.liquidity_net {
            invariant_broken("participant balances moved without a liquidity transfer");
        }
        if t.reserved_debits != t.reserved_credits {
            invariant_broken("reserved debits differ from reserved credits");
        }
    }

    /// Sum of all posted balances; zero unless money was created or destroyed. O(1): the
    /// running total, cross-checked against a full recomputation by [`Ledger::audit`].
    pub fn total_balance(&self) -> i128 {
        self.totals.balance_sum
    }

    /// Check every invariant from scratch (O(accounts)): balances sum to zero, reserved
    /// debits equal reserved credits, no account beyond its limit, window nets consistent,
    /// and the running totals equal the recomputed ones.
    pub fn audit(&self) -> Result<(), String> {
        let mut fresh = Totals::default();
        let mut window_sum: i128 = 0;
        for s in self.accounts.values() {
            let a = &s.account;
            fresh.balance_sum += a.balance();
            fresh.reserved_debits += u128::from(a.debits_reserved);
            fresh.reserved_credits += u128::from(a.credits_reserved);
            if !s.is_funding() {
                fresh.participant_balance_sum += a.balance();
            }
            if s.headroom().is_some_and(|h| h < 0) {
                return Err(format!("account {} beyond its limit: {:?}", a.id, s.headroom()));
            }
            if !is_net(s) && s.window_net != 0 {
                return Err(format!("account {} is not net but has a window net", a.id));
            }
            window_sum += s.window_net;
        }
        fresh.liquidity_net = self.totals.liquidity_net;
        if fresh.balance_sum != 0 {
            return Err(format!("balances sum to {}, not 0", fresh.balance_sum));
        }
        if fresh.reserved_debits != fresh.reserved_credits {
            return Err(format!(
                "reserved debits {} != reserved credits {}",
                fresh.reserved_debits, fresh.reserved_credits
            ));
        }
        if fresh != self.totals {
            return Err(format!("running totals {:?} != recomputed {:?}", self.totals, fresh));
        }
        if fresh.participant_balance_sum != fresh.liquidity_net {
            return Err("participant balances moved without a liquidity transfer".into());
        }
        if window_sum != self.window_net {
            return Err(format!("window nets sum to {window_sum}, running {}", self.window_net));
        }
        Ok(())
    }

    /// Forget finalized transfers (posted, voided, liquidity, returns) finalized before
    /// `before_ms` (by the latest time the ledger had seen when they were finalized).
    /// Reserved transfers are never forgotten. Returns how many were dropped. O(dropped).
    ///
    /// Policy: the ledger remembers every transfer until it is compacted and refuses new ones
    /// with [`TransferError::TransferLimitReached`] when `transfers_max` are remembered; it
    /// never evicts on its own. A forgotten id is no longer recognised: reserving it again
    /// would be a new transfer, posting or voiding it answers `ReservedTransferNotFound`, and
    /// returns of it answer `OriginalTransferNotFound`. So call this only with `before_ms`
    /// older than the idempotency window the switch enforces on incoming ids, and the
    /// return window of the scheme.
    pub fn compact(&mut self, before_ms: u64) -> usize {
        let mut dropped = 0;
        while let Some(&f) = self.finalized.front() {
            if f.at_ms >= before_ms {
                break;
            }
            self.finalized.pop_front();
            if f.is_return {
                if let Some(id) = self.transfers.id_at(f.slot) {
                    self.returns.remove(&id);
                }
            }
            // The record itself is not read: its cache line is long cold by now.
            if self.transfers.remove(f.hash, f.slot) {
                dropped += 1;
            }
        }
        dropped
    }
}

/// Two accounts found for a new transfer, with their indices.
struct Pair<'a> {
    di: u32,
    d: &'a Slot,
    ci: u32,
    c: &'a Slot,
}

fn is_net(s: &Slot) -> bool {
    matches!(s.model, SettlementModel::DeferredNet { .. })
}

fn insert_sorted(v: &mut Vec<AccountId>, id: AccountId) {
    if let Err(at) = v.binary_search(&id) {
        v.insert(at, id);
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
        assert_eq!(l.transfer(2, 10, 20, 100), Err(TransferError::ExistsWithDifferentContent));
        assert_eq!(l.reserve(0, 10, 10, 0, 0), Err(TransferError::IdMustNotBeZero));
        assert_eq!(l.reserve(5, 10, 10, 0, 0), Err(TransferError::AmountMustNotBeZero));
        assert_eq!(l.reserve(5, 10, 99, 1, 0), Err(TransferError::CreditAccountNotFound));
        assert_eq!(l.post(77, 0), Err(TransferError::ReservedTransferNotFound));
        assert_eq!(l.post(1, 0), Err(TransferError::ReservedTransferNotFound));
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

    #[test]
    fn overflow_counts_reserved_debits_so_a_later_post_cannot_wrap() {
        let mut l = Ledger::default();
        l.create_account(1, AccountFlags::FUNDING).unwrap();
        l.create_account(2, AccountFlags::FUNDING).unwrap();
        l.reserve(1, 1, 2, u64::MAX - 10, 100).unwrap();
        assert_eq!(l.transfer(2, 1, 2, 20), Err(TransferError::Overflow));
        l.post(1, 0).unwrap();
        l.audit().unwrap();
    }

    #[test]
    fn net_account_goes_negative_down_to_its_cap_only() {
        let mut l = ledger();
        l.create_net_account(30, 500).unwrap();
        assert_eq!(l.create_net_account(30, 500), Err(CreateAccountError::Exists));
        assert_eq!(
            l.create_net_account(30, 600),
            Err(CreateAccountError::ExistsWithDifferentFlags)
        );
        l.reserve(2, 30, 20, 400, 100).unwrap();
        assert_eq!(l.reserve(3, 30, 20, 101, 100), Err(TransferError::ExceedsNetDebitCap));
        l.reserve(3, 30, 20, 100, 100).unwrap();
        l.post(2, 1).unwrap();
        l.post(3, 1).unwrap();
        assert_eq!(l.account(30).unwrap().balance(), -500);
        assert_eq!(l.position(30).unwrap().headroom, Some(0));
        assert_eq!(l.position(30).unwrap().window_net, -500);
        assert!(TransferError::ExceedsNetDebitCap.is_transient());
        l.audit().unwrap();
    }

    #[test]
    fn liquidity_in_and_out_have_their_own_checks() {
        let mut l = ledger();
        l.fund(5, 1, 20, 300, 10).unwrap();
        assert_eq!(l.fund(5, 1, 20, 300, 10), Err(TransferError::Exists));
        assert_eq!(l.fund(5, 1, 20, 301, 10), Err(TransferError::ExistsWithDifferentContent));
        assert_eq!(l.fund(6, 10, 20, 1, 10), Err(TransferError::LiquidityAccountsInvalid));
        assert_eq!(l.defund(6, 20, 10, 1, 10), Err(TransferError::LiquidityAccountsInvalid));
        l.reserve(7, 20, 10, 200, 100).unwrap();
        assert_eq!(l.defund(8, 20, 1, 101, 10), Err(TransferError::ExceedsCredits));
        l.defund(8, 20, 1, 100, 10).unwrap();
        assert_eq!(l.totals().liquidity_net, 1_200);
        assert_eq!(l.totals().participant_balance_sum, 1_200);
        l.create_net_account(30, 1_000).unwrap();
        assert_eq!(l.defund(9, 30, 1, 1, 10), Err(TransferError::ExceedsCredits));
        l.audit().unwrap();
    }

    #[test]
    fn returns_never_exceed_the_original() {
        let mut l = ledger();
        l.reserve(2, 10, 20, 600, 100).unwrap();
        assert_eq!(l.return_transfer(3, 2, 100, 5), Err(TransferError::OriginalTransferNotPosted));
        l.post(2, 5).unwrap();
        l.return_transfer(3, 2, 250, 6).unwrap();
        assert_eq!(l.return_transfer(3, 2, 250, 6), Err(TransferError::Exists));
        assert_eq!(l.return_transfer(3, 2, 251, 6), Err(TransferError::ExistsWithDifferentContent));
        assert_eq!(
            l.return_transfer(4, 2, 351, 6),
            Err(TransferError::ReturnExceedsOriginalAmount)
        );
        l.return_transfer(4, 2, 350, 6).unwrap();
        assert_eq!(l.returned(2), Some(600));
        assert_eq!(l.return_transfer(5, 2, 1, 6), Err(TransferError::ReturnExceedsOriginalAmount));
        assert_eq!(l.return_transfer(5, 3, 1, 6), Err(TransferError::OriginalTransferNotPosted));
        assert_eq!(l.return_transfer(5, 99, 1, 6), Err(TransferError::OriginalTransferNotFound));
        assert_eq!(l.account(10).unwrap().balance(), 1_000);
        assert_eq!(l.account(20).unwrap().balance(), 0);
        l.audit().unwrap();
    }

    #[test]
    fn return_is_limited_by_the_returning_account() {
        let mut l = ledger();
        l.transfer(2, 10, 20, 500).unwrap();
        l.reserve(3, 20, 10, 400, 100).unwrap();
        assert_eq!(l.return_transfer(4, 2, 200, 1), Err(TransferError::ExceedsCredits));
        l.return_transfer(4, 2, 100, 1).unwrap();
        l.audit().unwrap();
    }

    #[test]
    fn transfer_limit_is_explicit_and_compact_frees_room() {
        let limits = LedgerLimits { transfers_max: 3, ..LedgerLimits::default() };
        let mut l = Ledger::with_limits(limits);
        l.create_account(1, AccountFlags::FUNDING).unwrap();
        l.create_account(10, AccountFlags::SETTLEMENT).unwrap();
        l.fund(1, 1, 10, 1_000, 10).unwrap();
        l.reserve(2, 10, 1, 10, 1_000).unwrap();
        l.reserve(3, 10, 1, 10, 1_000).unwrap();
        assert_eq!(l.reserve(4, 10, 1, 10, 1_000), Err(TransferError::TransferLimitReached));
        assert_eq!(l.reserve(3, 10, 1, 10, 1_000), Err(TransferError::Exists));
        l.post(2, 20).unwrap();
        assert_eq!(l.compact(20), 1); // only the fund at 10 is older than 20
        l.reserve(4, 10, 1, 10, 1_000).unwrap();
        assert_eq!(l.compact(1_000), 1); // the post at 20; reservations 3 and 4 stay
        assert_eq!(l.transfers_len(), 2);
        l.post(3, 30).unwrap();
        l.void(4).unwrap();
        assert_eq!(l.post(2, 30), Err(TransferError::ReservedTransferNotFound));
        l.audit().unwrap();
    }

    #[test]
    fn post_batch_answers_exactly_like_posts_one_by_one() {
        let (mut one, mut batch) = (ledger(), ledger());
        for l in [&mut one, &mut batch] {
            for id in 2..80u128 {
                l.reserve(id, 10, 20, 10, 100 + id as u64).unwrap();
            }
        }
        // Valid posts, a repeat, an unknown id, an expired one, a liquidity transfer's id.
        let mut posts: Vec<(TransferId, u64)> = (2..80u128).map(|id| (id, 50)).collect();
        posts.extend([(5, 50), (999, 50), (1, 50)]);
        posts.insert(10, (70, 171));
        let singly: Vec<_> = posts.iter().map(|&(id, now)| one.post(id, now)).collect();
        let mut results = vec![Ok(())]; // appended to, never cleared
        batch.post_batch(&posts, &mut results);
        assert_eq!(results.len(), posts.len() + 1);
        assert_eq!(results[1..], singly[..]);
        assert_eq!(results[11], Err(TransferError::ReservedTransferExpired));
        assert_eq!(results.last(), Some(&Err(TransferError::ReservedTransferNotFound)));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        one.encode_snapshot(&mut a);
        batch.encode_snapshot(&mut b);
        assert_eq!(a, b);
        batch.audit().unwrap();
    }

    #[test]
    fn small_and_large_account_ids_are_found_alike() {
        let mut l = Ledger::default();
        l.create_account(u64::MAX, AccountFlags::FUNDING).unwrap();
        l.create_account(DENSE_IDS_MAX, AccountFlags::SETTLEMENT).unwrap();
        l.create_account(DENSE_IDS_MAX - 1, AccountFlags::SETTLEMENT).unwrap();
        l.create_account(5, AccountFlags::SETTLEMENT).unwrap();
        assert_eq!(
            l.create_account(DENSE_IDS_MAX, AccountFlags::SETTLEMENT),
            Err(CreateAccountError::Exists)
        );
        l.fund(1, u64::MAX, DENSE_IDS_MAX, 100, 1).unwrap();
        l.transfer(2, DENSE_IDS_MAX, DENSE_IDS_MAX - 1, 60).unwrap();
        l.transfer(3, DENSE_IDS_MAX - 1, 5, 10).unwrap();
        assert_eq!(l.transfer(4, 5, 6, 1), Err(TransferError::CreditAccountNotFound));
        assert_eq!(l.transfer(4, 5, 70_000, 1), Err(TransferError::CreditAccountNotFound));
        assert_eq!(
            l.transfer(4, 5, DENSE_IDS_MAX - 2, 1),
            Err(TransferError::CreditAccountNotFound)
        );
        assert_eq!(l.account(DENSE_IDS_MAX - 1).unwrap().balance(), 50);
        assert_eq!(l.account(5).unwrap().balance(), 10);
        assert_eq!(l.account(u64::MAX).unwrap().balance(), -100);
        assert_eq!(l.account(0), None);
        l.audit().unwrap();
    }

    #[test]
    fn a_transfer_entry_fills_one_cache_line() {
        assert_eq!(std::mem::size_of::<TransferRecord>(), 40);
        assert_eq!(std::mem::size_of::<(TransferId, TransferRecord)>(), 64);
    }

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(TransferError::IdMustNotBeZero.code(), 1);
        assert_eq!(TransferError::ExceedsCredits.code(), 13);
        assert_eq!(TransferError::ExceedsNetDebitCap.code(), 14);
        assert_eq!(TransferError::TransferLimitReached.code(), 19);
    }
}
