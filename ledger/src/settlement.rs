//! Deferred net settlement: windows, multilateral net positions, settlement instructions,
//! and net debit caps.
//!
//! Guarantees: every payment posted between participants is counted, as it posts, in the
//! running net of each deferred-net account for the open window, so closing a window costs
//! O(net participants), never O(transfers); closing opens the next window in the same step,
//! so new transfers never wait (they count in the next window). Settling a window moves each
//! participant's net through the funding account (the RTGS side) all or nothing, and never
//! pushes an account beyond its net debit cap.
//!
//! Must not: read the clock (times are arguments), or touch gross prefunded accounts, whose
//! payments settle one by one as they post.

use crate::{invariant_broken, is_net, AccountId, Ledger, SettlementModel, Slot};

/// Settlement window number; window 1 is open when a ledger is created.
pub type WindowId = u64;

/// Which way a participant's settlement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The participant is a net debtor: it pays the settlement agent.
    Pay,
    /// The participant is a net creditor: the settlement agent pays it.
    Receive,
}

/// One participant's multilateral net over a closed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetPosition {
    /// The deferred-net account.
    pub account: AccountId,
    /// Credits minus debits posted in the window (negative: the participant owes).
    pub net: i128,
}

/// One settlement instruction for the RTGS system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementInstruction {
    /// The participant's account.
    pub account: AccountId,
    /// Pay or receive.
    pub direction: Direction,
    /// Minor units, positive.
    pub amount: u64,
}

/// What closing a window yields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowReport {
    /// The window closed.
    pub window: WindowId,
    /// When it was closed.
    pub closed_at_ms: u64,
    /// Every deferred-net participant's net, sorted by account (zeros included).
    pub positions: Vec<NetPosition>,
    /// One instruction per participant with a nonzero net, sorted by account.
    pub instructions: Vec<SettlementInstruction>,
}

/// Why a window could not be closed or settled. Numbered and ordered by precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
#[non_exhaustive]
#[repr(u32)]
pub enum WindowError {
    /// `windows_unsettled_max` closed windows wait for settlement. Retry after settling one.
    #[error("too many unsettled windows: settle one first")]
    TooManyUnsettledWindows = 1,
    /// The window is the open one, or was never opened. Retry after closing it.
    #[error("window is not closed")]
    WindowNotClosed = 2,
    /// The window was settled already: nothing changed (idempotent).
    #[error("window already settled")]
    WindowAlreadySettled = 3,
    /// No such funding account. Retry cannot help until it is created.
    #[error("funding account not found")]
    FundingAccountNotFound = 4,
    /// The account named as funding account is a participant account. Retry cannot help.
    #[error("not a funding account")]
    NotFundingAccount = 5,
    /// A net creditor has spent its credit since the window closed, so debiting its net
    /// would push it beyond its net debit cap. Retry after funding it (see
    /// [`Ledger::settlement_shortfalls`]).
    #[error("settlement would exceed a participant's net debit cap")]
    ExceedsNetDebitCap = 6,
    /// A total would overflow u64. Retry cannot help.
    #[error("settlement overflows an account total")]
    Overflow = 7,
    /// [`Ledger::close_window_numbered`] named a window closed already: nothing changed
    /// (the idempotent answer to a repeated close; its report is in
    /// [`Ledger::window_report`] until settled).
    #[error("window already closed")]
    WindowAlreadyClosed = 8,
    /// [`Ledger::close_window_numbered`] named a window not opened yet. Retry cannot help.
    #[error("window not open yet")]
    WindowNotOpen = 9,
}

/// Why a net debit cap could not be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
#[non_exhaustive]
#[repr(u32)]
pub enum NetDebitCapError {
    /// No such account. Retry cannot help until it is created.
    #[error("account not found")]
    AccountNotFound = 1,
    /// The account is not a deferred-net account. Retry cannot help.
    #[error("account is not a deferred-net account")]
    NotNetAccount = 2,
    /// The participant already owes more than the new cap. Retry after it settles or funds.
    #[error("current position exceeds the new cap")]
    BelowCurrentPosition = 3,
}

impl Ledger {
    /// The open window.
    pub fn current_window(&self) -> WindowId {
        self.window
    }

    /// Closed windows waiting for settlement, oldest first.
    pub fn unsettled_windows(&self) -> impl Iterator<Item = &WindowReport> {
        self.unsettled.values()
    }

    /// A closed, unsettled window's report.
    pub fn window_report(&self, window: WindowId) -> Option<&WindowReport> {
        self.unsettled.get(&window)
    }

    /// Close the open window and open the next in the same step: payments posted from now
    /// on count in the next window. Yields each deferred-net participant's multilateral net
    /// and the settlement instructions, in O(net participants). Reservations still pending
    /// count in the window in which they post.
    pub fn close_window(&mut self, now_ms: u64) -> Result<WindowReport, WindowError> {
        if self.unsettled.len() >= self.limits.windows_unsettled_max {
            return Err(WindowError::TooManyUnsettledWindows);
        }
        self.observe(now_ms);
        let mut report = WindowReport {
            window: self.window,
            closed_at_ms: now_ms,
            positions: Vec::with_capacity(self.net_accounts.len()),
            instructions: Vec::new(),
        };
        for &account in &self.net_accounts {
            let net = match self.accounts.get_mut(&account) {
                Some(s) => std::mem::take(&mut s.window_net),
                None => invariant_broken("net account vanished"),
            };
            report.positions.push(NetPosition { account, net });
            if net != 0 {
                let direction = if net < 0 { Direction::Pay } else { Direction::Receive };
                let amount = u64::try_from(net.unsigned_abs())
                    .unwrap_or_else(|_| invariant_broken("window net beyond u64"));
                report.instructions.push(SettlementInstruction { account, direction, amount });
            }
        }
        self.window_net = 0;
        self.window += 1;
        self.unsettled.insert(report.window, report.clone());
        Ok(report)
    }

    /// Close window `window` if it is the open one: the idempotent form of
    /// [`Ledger::close_window`] for callers that may repeat a request. A repeat answers
    /// [`WindowError::WindowAlreadyClosed`] and changes nothing. Checks in this order:
    /// `WindowAlreadyClosed` / `WindowNotOpen`, then `TooManyUnsettledWindows`.
    pub fn close_window_numbered(
        &mut self,
        window: WindowId,
        now_ms: u64,
    ) -> Result<WindowReport, WindowError> {
        if window < self.window {
            return Err(WindowError::WindowAlreadyClosed);
        }
        if window > self.window {
            return Err(WindowError::WindowNotOpen);
        }
        self.close_window(now_ms)
    }

    fn check_window(&self, window: WindowId) -> Result<&WindowReport, WindowError> {
        if window >= self.window || window == 0 {
            return Err(WindowError::WindowNotClosed);
        }
        self.unsettled.get(&window).ok_or(WindowError::WindowAlreadySettled)
    }

    /// Net creditors of a closed window that cannot be debited their net without exceeding
    /// their cap, with the amount each must be funded first.
    pub fn settlement_shortfalls(&self, window: WindowId) -> Vec<(AccountId, u64)> {
        let Ok(report) = self.check_window(window) else { return Vec::new() };
        let mut out = Vec::new();
        for p in &report.positions {
            let headroom = self.accounts.get(&p.account).and_then(Slot::headroom);
            if let Some(h) = headroom {
                if p.net > h {
                    out.push((p.account, u64::try_from(p.net - h).unwrap_or(u64::MAX)));
                }
            }
        }
        out
    }

    /// The RTGS system executed a closed window's instructions: move each participant's net
    /// through `funding` (net debtors are credited what they paid in, net creditors debited
    /// what they received), all or nothing. Afterwards their positions no longer count the
    /// window. These movements are liquidity, not payments: they count in no window.
    pub fn settle_window(
        &mut self,
        window: WindowId,
        funding: AccountId,
        now_ms: u64,
    ) -> Result<(), WindowError> {
        let report = self.check_window(window)?;
        let (fi, f) = self.accounts.find(funding).ok_or(WindowError::FundingAccountNotFound)?;
        if !f.is_funding() {
            return Err(WindowError::NotFundingAccount);
        }
        let a = &f.account;
        let mut f_debits = a.debits_posted.checked_add(a.debits_reserved);
        let mut f_credits = a.credits_posted.checked_add(a.credits_reserved);
        for p in &report.positions {
            let s = self.accounts.get(&p.account).ok_or(WindowError::Overflow)?;
            let amount = u64::try_from(p.net.unsigned_abs()).map_err(|_| WindowError::Overflow)?;
            let fits = if p.net < 0 {
                f_debits = f_debits.and_then(|x| x.checked_add(amount));
                s.account
                    .credits_posted
                    .checked_add(amount)
                    .and_then(|x| x.checked_add(s.account.credits_reserved))
                    .is_some()
            } else {
                if s.headroom().is_some_and(|h| h < p.net) {
                    return Err(WindowError::ExceedsNetDebitCap);
                }
                f_credits = f_credits.and_then(|x| x.checked_add(amount));
                s.account
                    .debits_posted
                    .checked_add(amount)
                    .and_then(|x| x.checked_add(s.account.debits_reserved))
                    .is_some()
            };
            if !fits || f_debits.is_none() || f_credits.is_none() {
                return Err(WindowError::Overflow);
            }
        }
        let Some(report) = self.unsettled.remove(&window) else {
            return Err(WindowError::WindowAlreadySettled);
        };
        self.observe(now_ms);
        for p in &report.positions {
            let amount = u64::try_from(p.net.unsigned_abs()).unwrap_or(0);
            let Some((pi, _)) = self.accounts.find(p.account) else {
                invariant_broken("net account vanished");
            };
            if p.net < 0 {
                self.move_posted(fi, pi, amount, false);
            } else if p.net > 0 {
                self.move_posted(pi, fi, amount, false);
            }
            self.check_totals();
        }
        Ok(())
    }

    /// Change a deferred-net account's cap. Lowering it below what the participant owes
    /// now (posted and reserved) is refused.
    pub fn set_net_debit_cap(
        &mut self,
        account: AccountId,
        net_debit_cap: u64,
    ) -> Result<(), NetDebitCapError> {
        let s = self.accounts.get_mut(&account).ok_or(NetDebitCapError::AccountNotFound)?;
        if !is_net(s) {
            return Err(NetDebitCapError::NotNetAccount);
        }
        if s.account.available() + i128::from(net_debit_cap) < 0 {
            return Err(NetDebitCapError::BelowCurrentPosition);
        }
        s.model = SettlementModel::DeferredNet { net_debit_cap };
        Ok(())
    }
}
