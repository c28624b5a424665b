//! Timed steps: release prepared payments at their scheduled times (open loop), wait for the
//! answers, and summarize; and the `--find-max` search over rates.
//!
//! Guarantees: a payment is released at its scheduled time whatever the switch does; above the
//! in-flight cap it is shed and counted, never queued; the wait for answers after the last
//! arrival is bounded (`wait` plus one second), after which the stragglers count as timeouts.
//! It must not build messages while the clock runs: payments come prepared.

use crate::bank::Bank;
use crate::stats::{Shared, Summary};
use crate::workload::Planned;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often waiting payments are checked against the wait, and the acknowledgement log
/// flushed.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_millis(250);

/// Limits of one step.
#[derive(Debug, Clone, Copy)]
pub struct StepLimits {
    /// Payments in flight at most; beyond it arrivals are shed.
    pub inflight_max: u64,
    /// Longest wait for a final status, from the scheduled time.
    pub wait: Duration,
    /// Payments of one bank sent in one pacs.008 at most (1: one message per payment).
    pub batch_max: usize,
    /// Longest a payment waits for others to join its message (counted in its latency).
    pub batch_window: Duration,
}

/// Payments of one bank waiting to be sent together.
#[derive(Default)]
struct Pending {
    items: Vec<(String, Instant, bool)>,
    xml: Vec<String>,
    flush_at: Option<Instant>,
}

impl Pending {
    fn flush(&mut self, bank: &Arc<Bank>, shared: &Shared) {
        if self.items.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.items);
        let mut xml = std::mem::take(&mut self.xml);
        self.flush_at = None;
        let message = if xml.len() == 1 {
            xml.pop() // one payment: its prepared bytes go out as they are, uncopied
        } else {
            let refs: Vec<&str> = xml.iter().map(String::as_str).collect();
            crate::workload::batch_xml(&refs)
        };
        let Some(message) = message else {
            // Prepared by this program: cannot happen, but never drop payments silently.
            shared.send_errors.fetch_add(items.len() as u64, Ordering::Relaxed);
            shared.inflight.fetch_sub(items.len() as u64, Ordering::Relaxed);
            return;
        };
        let bank = bank.clone();
        tokio::spawn(async move { bank.send_batch(items, message).await });
    }
}

/// Expire overdue payments and flush the acknowledgement log until `stop`.
pub fn spawn_housekeeping(
    banks: Vec<Arc<Bank>>,
    shared: Arc<Shared>,
    wait: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
        let mut n = 0u64;
        while !*stop.borrow() {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => {}
            }
            for b in &banks {
                b.expire(wait);
            }
            n += 1;
            if n % 4 == 0 && shared.flush_ack_log(false).is_err() {
                shared.ack_log_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
}

/// Run one step: release `plans` (offsets from now) through `banks`, then wait for answers.
pub async fn step(
    banks: &[Arc<Bank>],
    shared: &Arc<Shared>,
    plans: Vec<Planned>,
    duration_s: f64,
    limits: StepLimits,
) -> Summary {
    let offered = plans.len() as u64;
    let t0 = Instant::now() + Duration::from_millis(20);
    shared.start_step(t0);
    let batch_max = limits.batch_max.max(1);
    let mut pending: Vec<Pending> = banks.iter().map(|_| Pending::default()).collect();
    for p in plans {
        let due = t0 + Duration::from_nanos(p.due_ns);
        // Send the batches whose window closes before this payment is due.
        loop {
            let next = pending
                .iter()
                .enumerate()
                .filter_map(|(i, b)| b.flush_at.map(|t| (t, i)))
                .min()
                .filter(|(t, _)| *t < due);
            let Some((at, i)) = next else { break };
            tokio::time::sleep_until(at).await;
            if let (Some(b), Some(bank)) = (pending.get_mut(i), banks.get(i)) {
                b.flush(bank, shared);
            }
        }
        if due > Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        if shared.inflight.load(Ordering::Relaxed) >= limits.inflight_max {
            shared.shed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let (Some(bank), Some(b)) = (banks.get(p.debtor), pending.get_mut(p.debtor)) else {
            shared.send_errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        shared.inflight.fetch_add(1, Ordering::Relaxed);
        b.items.push((p.e2e, due, p.expect_reject));
        b.xml.push(p.xml);
        b.flush_at.get_or_insert(due + limits.batch_window);
        if b.items.len() >= batch_max {
            b.flush(bank, shared);
        }
    }
    for (b, bank) in pending.iter_mut().zip(banks) {
        b.flush(bank, shared);
    }
    let deadline = Instant::now() + limits.wait + Duration::from_secs(1);
    while shared.inflight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.summary(offered, duration_s)
}

/// Whether a step sustained its rate within the p99 objective: every payment answered in
/// time, none shed, p99 within the objective.
pub fn sustained(s: &Summary, p99_objective_ms: f64) -> bool {
    s.shed == 0
        && s.errors() == 0
        && s.accepted + s.rejected >= s.offered
        && s.latency_ms[1] <= p99_objective_ms
}

/// The `--find-max` search: doubling from `start` until a step fails, then bisecting until
/// the bracket is within 10%, at most `steps_max` steps.
#[derive(Debug, Clone)]
pub struct Search {
    /// Highest rate that held, and its p99.
    pub best: Option<(f64, f64)>,
    /// Lowest rate that failed.
    pub failed: Option<f64>,
    /// Next rate to try, if any.
    pub next: Option<f64>,
    steps_left: u32,
}

impl Search {
    /// Start at `start` TPS with at most `steps_max` steps.
    pub fn new(start: f64, steps_max: u32) -> Search {
        Search { best: None, failed: None, next: Some(start.max(1.0)), steps_left: steps_max }
    }

    /// Record the outcome of the step at `rate`; sets the next rate or ends the search.
    pub fn record(&mut self, rate: f64, ok: bool, p99_ms: f64) {
        self.steps_left = self.steps_left.saturating_sub(1);
        if ok {
            if self.best.is_none_or(|(r, _)| rate > r) {
                self.best = Some((rate, p99_ms));
            }
        } else if self.failed.is_none_or(|r| rate < r) {
            self.failed = Some(rate);
        }
        let next = match (self.best, self.failed) {
            (_, None) => rate * 2.0,
            (None, Some(f)) => f / 2.0,
            (Some((b, _)), Some(f)) if f / b > 1.1 => (b + f) / 2.0,
            _ => 0.0,
        };
        self.next = (self.steps_left > 0 && next >= 1.0).then_some(next.round());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn the_search_doubles_then_bisects_to_within_ten_percent() {
        // The switch holds up to 5,000 TPS.
        let mut s = Search::new(1_000.0, 20);
        let mut tried = Vec::new();
        while let Some(rate) = s.next {
            tried.push(rate);
            s.record(rate, rate <= 5_000.0, 1.0);
        }
        assert_eq!(&tried[..4], [1_000.0, 2_000.0, 4_000.0, 8_000.0]);
        let (best, _) = s.best.unwrap();
        assert!((4_500.0..=5_000.0).contains(&best), "{best} after {tried:?}");
        assert!(s.failed.unwrap() / best <= 1.1);
        // A step limit ends it early; a switch that holds nothing reports nothing.
        let mut s = Search::new(1_000.0, 3);
        while let Some(rate) = s.next {
            s.record(rate, false, 500.0);
        }
        assert_eq!(s.best, None);
    }

    #[test]
    fn a_step_is_sustained_only_with_every_answer_in_time() {
        let good = Summary {
            offered: 10,
            accepted: 9,
            rejected: 1,
            latency_ms: [1.0, 50.0, 60.0, 70.0],
            ..Summary::default()
        };
        assert!(sustained(&good, 100.0));
        assert!(!sustained(&good, 40.0));
        assert!(!sustained(&Summary { shed: 1, ..good.clone() }, 100.0));
        assert!(!sustained(&Summary { timeouts: 1, ..good.clone() }, 100.0));
        assert!(!sustained(&Summary { accepted: 8, ..good }, 100.0));
    }
}
