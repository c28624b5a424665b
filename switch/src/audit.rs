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
//! ledger: an auditor that reuses the audited code proves nothing.

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
}

impl Audit {
    /// An auditor for a scheme where these participants settle deferred net, with these
    /// net debit caps (the others are gross, prefunded).
    pub fn with_net_caps(caps: HashMap<u32, u64>) -> Audit {
        Audit { caps, ..Audit::default() }
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
