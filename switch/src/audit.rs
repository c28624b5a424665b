//! An independent auditor of the journal: it recomputes every participant's balance from the
//! events alone (funding in, settled transfers moved once from debtor to creditor), without
//! the ledger crate, and checks what must always hold:
//!
//! - a transfer is reserved once and finished (posted or voided) at most once, never posted
//!   after it was voided or voided after it was posted;
//! - a prefunded account never has reserved plus posted debits above its credits, and a
//!   deferred-net account never goes below minus its net debit cap;
//! - a settlement window is closed once and settled once, moving each net participant by
//!   the net of the payments posted in it;
//! - a return only follows a posted transfer, comes from its creditor and never takes the
//!   returns of a transfer above its amount; a fraud hold only earmarks money held;
//! - the balances add up to what was funded (no money created or destroyed);
//! - the balances equal those the switch's own ledger arrives at ([`Audit::compare`]).
//!
//! Used by `switchctl ledger audit` and by the crash tests. Must not share code with the
//! ledger: an auditor that reuses the audited code proves nothing. When the journal's first
//! records are gone (covered by a snapshot), the audit starts from the snapshot's state
//! ([`Audit::from_snapshot`]) and says so.

use crate::core::{Core, State};
use crate::events::Event;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
struct Pending {
    debtor: u32,
    creditor: u32,
    amount: u64,
    done: bool,
}

/// The auditor's state.
#[derive(Debug, Default)]
pub struct Audit {
    /// Records seen.
    pub records: u64,
    balances: HashMap<u32, i128>,
    reserved: HashMap<u32, i128>,
    funded: i128,
    transfers: HashMap<u64, Pending>,
    posted: std::collections::HashSet<u64>,
    returned: HashMap<u64, u128>,
    holds: HashMap<u64, (u32, u64)>,
    caps: HashMap<u32, u64>,
    window_net: HashMap<u32, i128>,
    closed: HashMap<u64, HashMap<u32, i128>>,
    /// Invariant violations found, in order.
    pub violations: Vec<String>,
    /// The journal record the audit started after: the snapshot it was seeded from
    /// ([`Audit::from_snapshot`]); `None` when it replayed from the first record.
    pub from_snapshot: Option<u64>,
}

impl Audit {
    /// An auditor for a scheme where these participants settle deferred net, with these
    /// net debit caps (the others are gross, prefunded).
    pub fn with_net_caps(caps: HashMap<u32, u64>) -> Audit {
        Audit { caps, ..Audit::default() }
    }

    /// An auditor seeded from a core restored from the snapshot as of journal record `seq`,
    /// when the records before it are gone (the journal deletes the segments a kept snapshot
    /// covers). It takes the balances, funding, transfers, returns, holds and window nets the
    /// snapshot holds, and checks at once what it can check without the history: balances add
    /// up to funding, each participant's reservations equal its transfers in flight plus the
    /// holds on it, returns stay within their transfers. The records after `seq` are then
    /// audited as usual. Weaker than a replay from the first record: the state before `seq`
    /// is the switch's own, not recomputed.
    pub fn from_snapshot(core: &Core, caps: HashMap<u32, u64>, seq: u64) -> Audit {
        let mut a = Audit { caps, from_snapshot: Some(seq), ..Audit::default() };
        for (i, p) in core.positions().iter().enumerate() {
            a.balances.insert(i as u32, p.balance_minor);
        }
        a.funded = core.funded.iter().map(|f| i128::from(*f)).sum();
        for t in core.transfers.values() {
            let Some(creditor) = t.creditor else { continue };
            let done = !matches!(t.state, State::Reserved { .. });
            if !done {
                *a.reserved.entry(t.debtor).or_default() += i128::from(t.amount_minor);
            }
            if t.state == State::Settled {
                a.posted.insert(t.id);
            }
            if t.returned_minor > t.amount_minor {
                a.violations.push(format!("snapshot: returns of transfer {} exceed it", t.id));
            }
            if t.returned_minor > 0 {
                a.returned.insert(t.id, u128::from(t.returned_minor));
            }
            let amount = t.amount_minor;
            a.transfers.insert(t.id, Pending { debtor: t.debtor, creditor, amount, done });
        }
        for r in core.exc.recalls.values().filter(|r| r.hold_active) {
            if let Some(c) = core.transfers.get(&r.transfer).and_then(|t| t.creditor) {
                *a.reserved.entry(c).or_default() += i128::from(r.hold_minor);
                a.holds.insert(r.id, (c, r.hold_minor));
            }
        }
        for (i, p) in core.positions().iter().enumerate() {
            let mine = a.reserved.get(&(i as u32)).copied().unwrap_or(0);
            if mine != i128::from(p.reserved_minor) {
                a.violations.push(format!(
                    "snapshot: {} has {} reserved in its ledger account but {mine} in flight",
                    p.bic, p.reserved_minor
                ));
            }
        }
        a.seed_windows(core);
        if a.balances.values().sum::<i128>() != a.funded {
            a.violations.push("snapshot: balances do not add up to funding".into());
        }
        a
    }

    /// Nets of the open window and of closed windows not yet settled, from the snapshot.
    fn seed_windows(&mut self, core: &Core) {
        let caps: Vec<u32> = self.caps.keys().copied().collect();
        for p in caps {
            let net = core
                .ledger
                .position(crate::core::Participant::ledger_account(p))
                .map_or(0, |pos| pos.window_net);
            self.window_net.insert(p, net);
        }
        for (w, (report, settled)) in &core.windows {
            if settled.is_some() {
                continue;
            }
            let nets = report
                .positions
                .iter()
                .filter_map(|n| Some((u32::try_from(n.account.checked_sub(100)?).ok()?, n.net)))
                .collect();
            self.closed.insert(*w, nets);
        }
    }

    /// What `p` can still be debited: balance minus reservations, plus its cap if net.
    fn headroom(&self, p: u32) -> i128 {
        self.balance(p) - self.reserved.get(&p).copied().unwrap_or(0)
            + self.caps.get(&p).map_or(0, |c| i128::from(*c))
    }

    /// A posted payment between participants counts in the open window (deferred net).
    fn count_in_window(&mut self, debtor: u32, creditor: u32, amount: u64) {
        for (p, sign) in [(debtor, -1i128), (creditor, 1)] {
            if self.caps.contains_key(&p) {
                *self.window_net.entry(p).or_default() += sign * i128::from(amount);
            }
        }
    }

    /// Take the next journal event.
    pub fn record(&mut self, e: &Event) {
        self.records += 1;
        match e {
            Event::Funded { participant, amount_minor, .. } => {
                *self.balances.entry(*participant).or_default() += i128::from(*amount_minor);
                self.funded += i128::from(*amount_minor);
            }
            Event::Reserved { id, debtor, creditor, amount_minor, .. }
            | Event::ReservedRouted { id, debtor, creditor, amount_minor, .. } => {
                if self.transfers.contains_key(id) {
                    self.violations.push(format!("transfer {id} reserved twice"));
                    return;
                }
                let available = self.headroom(*debtor);
                if available < i128::from(*amount_minor) {
                    self.violations.push(format!(
                        "transfer {id} reserved {amount_minor} with only {available} available"
                    ));
                }
                *self.reserved.entry(*debtor).or_default() += i128::from(*amount_minor);
                self.transfers.insert(
                    *id,
                    Pending {
                        debtor: *debtor,
                        creditor: *creditor,
                        amount: *amount_minor,
                        done: false,
                    },
                );
            }
            Event::Accepted { id, .. } => self.finish(*id, true),
            Event::Answered { answers, .. } => {
                for (id, reason) in answers {
                    self.finish(*id, reason.is_empty());
                }
            }
            Event::Declined { id, .. } | Event::Expired { id, .. } => self.finish(*id, false),
            Event::ReturnSettled { return_id, original, amount_minor, .. } => {
                self.return_settled(*return_id, *original, *amount_minor)
            }
            Event::RecallOpened { recall, transfer, hold_minor, .. } if *hold_minor > 0 => {
                let Some(t) = self.transfers.get(transfer).copied() else {
                    self.violations.push(format!("hold {recall} on unknown transfer {transfer}"));
                    return;
                };
                let available = self.headroom(t.creditor);
                if available < i128::from(*hold_minor) {
                    self.violations.push(format!(
                        "hold {recall} of {hold_minor} with only {available} available"
                    ));
                }
                *self.reserved.entry(t.creditor).or_default() += i128::from(*hold_minor);
                self.holds.insert(*recall, (t.creditor, *hold_minor));
            }
            Event::WindowClosed { window, .. } => {
                let nets = std::mem::take(&mut self.window_net);
                if self.closed.insert(*window, nets).is_some() {
                    self.violations.push(format!("window {window} closed twice"));
                }
            }
            Event::WindowSettled { window, .. } => match self.closed.remove(window) {
                Some(nets) => {
                    for (p, net) in nets {
                        *self.balances.entry(p).or_default() -= net;
                    }
                }
                None => self.violations.push(format!("window {window} settled but not closed")),
            },
            Event::HoldReleased { recall, .. } => match self.holds.remove(recall) {
                Some((p, amount)) => *self.reserved.entry(p).or_default() -= i128::from(amount),
                None => self.violations.push(format!("hold {recall} released but never placed")),
            },
            _ => {}
        }
    }

    fn return_settled(&mut self, return_id: u64, original: u64, amount: u64) {
        let Some(t) = self.transfers.get(&original).copied() else {
            self.violations.push(format!("return {return_id} of unknown transfer {original}"));
            return;
        };
        if !t.done || !self.posted.contains(&original) {
            self.violations.push(format!("return {return_id} of unsettled transfer {original}"));
            return;
        }
        let returned = self.returned.entry(original).or_default();
        *returned += u128::from(amount);
        if *returned > u128::from(t.amount) {
            self.violations.push(format!("returns of transfer {original} exceed its amount"));
        }
        let available = self.headroom(t.creditor);
        if available < i128::from(amount) {
            self.violations
                .push(format!("return {return_id} of {amount} with only {available} available"));
        }
        *self.balances.entry(t.creditor).or_default() -= i128::from(amount);
        *self.balances.entry(t.debtor).or_default() += i128::from(amount);
        self.count_in_window(t.creditor, t.debtor, amount);
    }

    fn balance(&self, p: u32) -> i128 {
        self.balances.get(&p).copied().unwrap_or(0)
    }

    fn finish(&mut self, id: u64, post: bool) {
        let Some(t) = self.transfers.get_mut(&id) else {
            self.violations.push(format!("transfer {id} finished but never reserved"));
            return;
        };
        if t.done {
            self.violations.push(format!("transfer {id} finished twice"));
            return;
        }
        t.done = true;
        let t = *t;
        *self.reserved.entry(t.debtor).or_default() -= i128::from(t.amount);
        if post {
            self.count_in_window(t.debtor, t.creditor, t.amount);
            self.posted.insert(id);
            *self.balances.entry(t.debtor).or_default() -= i128::from(t.amount);
            *self.balances.entry(t.creditor).or_default() += i128::from(t.amount);
        }
    }

    /// Balances add up to funding, nothing reserved went negative, no violation seen.
    pub fn conserved(&self) -> bool {
        let sum: i128 = self.balances.values().sum();
        sum == self.funded && self.reserved.values().all(|r| *r >= 0) && self.violations.is_empty()
    }

    /// The auditor's balance of each participant.
    pub fn balances(&self) -> &HashMap<u32, i128> {
        &self.balances
    }

    /// Whether the switch's balances (index, balance) equal the auditor's.
    pub fn compare(&self, switch: &[(u32, i128)]) -> bool {
        switch.iter().all(|(p, b)| self.balance(*p) == *b)
            && self
                .balances
                .iter()
                .all(|(p, b)| *b == 0 || switch.iter().any(|(q, c)| q == p && c == b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Ids;

    fn reserved(id: u64, amount: u64) -> Event {
        Event::Reserved {
            id,
            at_ms: 0,
            deadline_ms: 10,
            debtor: 0,
            creditor: 1,
            amount_minor: amount,
            ids: Ids::default(),
            fingerprint: 0,
            forward_xml: String::new(),
        }
    }

    #[test]
    fn catches_double_posting_and_overdraft() {
        let mut a = Audit::default();
        a.record(&Event::Funded { participant: 0, amount_minor: 100, at_ms: 0 });
        a.record(&reserved(1, 60));
        a.record(&Event::Accepted { id: 1, at_ms: 1 });
        assert!(a.conserved());
        assert!(a.compare(&[(0, 40), (1, 60)]));
        assert!(!a.compare(&[(0, 41), (1, 59)]));
        a.record(&Event::Accepted { id: 1, at_ms: 2 });
        assert!(!a.conserved(), "a second post is a violation");
        let mut b = Audit::default();
        b.record(&Event::Funded { participant: 0, amount_minor: 100, at_ms: 0 });
        b.record(&reserved(1, 60));
        b.record(&reserved(2, 60));
        assert!(!b.conserved(), "reserving beyond the balance is a violation");
    }
}
