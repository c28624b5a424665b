//! Counters, the latency histogram and the acknowledgement log shared by the banks of a run.
//!
//! Latency is recorded from each payment's *scheduled* send time to the arrival of its final
//! pacs.002, so a switch that stalls shows the stall in every payment queued behind it
//! (corrected for coordinated omission). The acknowledgement log gets one line per final answer
//! as it arrives, through a buffered writer flushed periodically and at the end.
//!
//! Guarantees: counters only grow within a step and are reset only between steps, when nothing
//! is in flight; a write failure of the log is counted, never fatal to the run. It must not
//! block on I/O longer than one buffered line write.

use hdrhistogram::Histogram;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::time::Instant;

/// Largest latency recorded, microseconds (10 minutes); longer ones are clamped.
pub const LATENCY_US_MAX: u64 = 600_000_000;

/// What the banks of a run share.
#[derive(Debug)]
pub struct Shared {
    /// Start of the current step; latency of the last answer is measured from it.
    pub t0: Mutex<Instant>,
    /// Payments sent and not answered, failed or expired yet.
    pub inflight: AtomicU64,
    /// Final answers ACSC.
    pub accepted: AtomicU64,
    /// Final answers RJCT.
    pub rejected: AtomicU64,
    /// Of the accepted, payments planned to be rejected (unknown alias).
    pub accepted_unexpected: AtomicU64,
    /// Of the rejected, payments planned to be accepted (insufficient funds, limits, ...).
    pub rejected_unexpected: AtomicU64,
    /// Scheduled payments not sent because the in-flight cap was reached.
    pub shed: AtomicU64,
    /// Sends that failed (connection refused or reset, 503, timeout of the request).
    pub send_errors: AtomicU64,
    /// Of the failed sends, those the switch answered with an HTTP error status.
    pub refused: AtomicU64,
    /// Payments with no final status within the wait.
    pub timeouts: AtomicU64,
    /// Final answers for payments already counted as errors.
    pub late_answers: AtomicU64,
    /// Final answers that matched no payment of this run.
    pub unmatched: AtomicU64,
    /// Messages from the switch that did not decode.
    pub undecodable: AtomicU64,
    /// ACSP answers to forwarded transfers given up after every attempt.
    pub answers_lost: AtomicU64,
    /// Successful reconnects after a lost connection.
    pub reconnects: AtomicU64,
    /// Pulls (or stream reads) that returned messages.
    pub pulls: AtomicU64,
    /// Messages those pulls delivered.
    pub pulled: AtomicU64,
    /// Nanoseconds from `t0` to the last final answer.
    pub last_answer_ns: AtomicU64,
    /// Latency from scheduled send to final answer, microseconds.
    pub latency_us: Mutex<Histogram<u64>>,
    /// With `--timeline`: one latency histogram per second of scheduled time since `t0`.
    timeline: Option<Mutex<Vec<Histogram<u64>>>>,
    ack_log: Option<Mutex<BufWriter<File>>>,
    /// Failed writes to the acknowledgement log.
    pub ack_log_errors: AtomicU64,
    /// Lines written to the acknowledgement log.
    pub ack_log_lines: AtomicU64,
}

/// Plain copy of the counters of a step.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Payments planned.
    pub offered: u64,
    /// Seconds of planned arrivals.
    pub duration_s: f64,
    /// Seconds from the start to the last final answer (at least `duration_s`).
    pub elapsed_s: f64,
    /// ACSC.
    pub accepted: u64,
    /// RJCT.
    pub rejected: u64,
    /// Accepted although planned to be rejected.
    pub accepted_unexpected: u64,
    /// Rejected although planned to be accepted.
    pub rejected_unexpected: u64,
    /// Shed at the in-flight cap.
    pub shed: u64,
    /// Failed sends.
    pub send_errors: u64,
    /// Failed sends answered with an HTTP error status.
    pub refused: u64,
    /// No answer within the wait.
    pub timeouts: u64,
    /// Late answers.
    pub late_answers: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Pulls (or stream reads) that returned messages.
    pub pulls: u64,
    /// Messages they delivered.
    pub pulled: u64,
    /// Latency quantiles, milliseconds: p50, p99, p99.9, max.
    pub latency_ms: [f64; 4],
}

impl Summary {
    /// Offered payments per second.
    pub fn offered_tps(&self) -> f64 {
        self.offered as f64 / self.duration_s.max(1e-9)
    }

    /// Final answers per second.
    pub fn achieved_tps(&self) -> f64 {
        (self.accepted + self.rejected) as f64 / self.elapsed_s.max(1e-9)
    }

    /// Payments that got no final answer in time, for any reason.
    pub fn errors(&self) -> u64 {
        self.send_errors + self.timeouts
    }

    /// The fixed summary line.
    pub fn line(&self) -> String {
        let [p50, p99, p999, _] = self.latency_ms;
        format!(
            "loadtest: offered_tps={:.0} achieved_tps={:.0} accepted={} rejected={} p50_ms={:.2} \
             p99_ms={:.2} p999_ms={:.2}",
            self.offered_tps(),
            self.achieved_tps(),
            self.accepted,
            self.rejected,
            p50,
            p99,
            p999
        )
    }

    /// The detail line printed before the summary.
    pub fn detail(&self) -> String {
        format!(
            "loadtest-detail: offered={} shed={} send_errors={} refused={} timeouts={} \
             late_answers={} accepted_unexpected={} rejected_unexpected={} reconnects={} \
             max_ms={:.2} elapsed_s={:.2} pulls={} messages_per_pull={:.1}",
            self.offered,
            self.shed,
            self.send_errors,
            self.refused,
            self.timeouts,
            self.late_answers,
            self.accepted_unexpected,
            self.rejected_unexpected,
            self.reconnects,
            self.latency_ms[3],
            self.elapsed_s,
            self.pulls,
            self.pulled as f64 / self.pulls.max(1) as f64
        )
    }
}

fn histogram() -> std::io::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3)
        .map_err(|e| std::io::Error::other(format!("latency histogram: {e}")))
}

impl Shared {
    /// Counters at zero; the acknowledgement log (created or truncated) if a path is given.
    pub fn new(ack_log: Option<&Path>) -> std::io::Result<Shared> {
        let ack_log = match ack_log {
            Some(p) => Some(Mutex::new(BufWriter::with_capacity(1 << 16, File::create(p)?))),
            None => None,
        };
        Ok(Shared {
            t0: Mutex::new(Instant::now()),
            inflight: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            accepted_unexpected: AtomicU64::new(0),
            rejected_unexpected: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            late_answers: AtomicU64::new(0),
            unmatched: AtomicU64::new(0),
            undecodable: AtomicU64::new(0),
            answers_lost: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            pulls: AtomicU64::new(0),
            pulled: AtomicU64::new(0),
            last_answer_ns: AtomicU64::new(0),
            latency_us: Mutex::new(histogram()?),
            timeline: None,
            ack_log,
            ack_log_errors: AtomicU64::new(0),
            ack_log_lines: AtomicU64::new(0),
        })
    }

    /// Keep a latency histogram per second of scheduled time too (see [`Shared::timeline`]).
    pub fn with_timeline(mut self) -> Shared {
        self.timeline = Some(Mutex::new(Vec::new()));
        self
    }

    /// Per second of scheduled time since the step's start: `(second, answers, p50, p99, max)`
    /// in milliseconds, for the seconds that had answers. Shows whether a tail is steady
    /// queueing or a few stalls.
    pub fn timeline(&self) -> Vec<(usize, u64, f64, f64, f64)> {
        let Some(t) = &self.timeline else { return Vec::new() };
        let Ok(t) = t.lock() else { return Vec::new() };
        let ms = |us: u64| us as f64 / 1000.0;
        t.iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(s, h)| {
                let q = |x| ms(h.value_at_quantile(x));
                (s, h.len(), q(0.5), q(0.99), ms(h.max()))
            })
            .collect()
    }

    /// Start a step at `t0`: per-step counters and the histogram go back to zero.
    pub fn start_step(&self, t0: Instant) {
        if let Ok(mut t) = self.t0.lock() {
            *t = t0;
        }
        for c in [
            &self.accepted,
            &self.rejected,
            &self.accepted_unexpected,
            &self.rejected_unexpected,
            &self.shed,
            &self.send_errors,
            &self.refused,
            &self.timeouts,
            &self.late_answers,
            &self.reconnects,
            &self.pulls,
            &self.pulled,
            &self.last_answer_ns,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        if let Ok(mut h) = self.latency_us.lock() {
            h.reset();
        }
        if let Some(Ok(mut t)) = self.timeline.as_ref().map(|t| t.lock()) {
            t.clear();
        }
    }

    /// Record a final answer to a payment scheduled at `due`.
    pub fn answered(&self, due: Instant, accepted: bool, expect_reject: bool) {
        let now = Instant::now();
        let latency_us = now.saturating_duration_since(due).as_micros();
        let latency_us =
            u64::try_from(latency_us).unwrap_or(LATENCY_US_MAX).clamp(1, LATENCY_US_MAX);
        if let Ok(mut h) = self.latency_us.lock() {
            let _ = h.record(latency_us);
        }
        if let Some(t) = &self.timeline {
            self.record_second(t, due, latency_us);
        }
        if accepted {
            self.accepted.fetch_add(1, Ordering::Relaxed);
            if expect_reject {
                self.accepted_unexpected.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            if !expect_reject {
                self.rejected_unexpected.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Ok(t0) = self.t0.lock() {
            let ns =
                u64::try_from(now.saturating_duration_since(*t0).as_nanos()).unwrap_or(u64::MAX);
            self.last_answer_ns.fetch_max(ns, Ordering::Relaxed);
        }
    }

    fn record_second(&self, t: &Mutex<Vec<Histogram<u64>>>, due: Instant, latency_us: u64) {
        let Ok(t0) = self.t0.lock().map(|t0| *t0) else { return };
        // Seconds past an hour are not kept: a timeline is for runs of minutes.
        let second = due.saturating_duration_since(t0).as_secs().min(3_600) as usize;
        let Ok(mut t) = t.lock() else { return };
        while t.len() <= second {
            match histogram() {
                Ok(h) => t.push(h),
                Err(_) => return,
            }
        }
        if let Some(h) = t.get_mut(second) {
            let _ = h.record(latency_us);
        }
    }

    /// Write one acknowledgement line: `<debtor BIC> <EndToEndId> <status> <reason or ->`.
    pub fn ack(&self, bic: &str, e2e: &str, status: &str, reason: &str) {
        let Some(log) = &self.ack_log else { return };
        let ok = log.lock().is_ok_and(|mut w| writeln!(w, "{bic} {e2e} {status} {reason}").is_ok());
        if ok {
            self.ack_log_lines.fetch_add(1, Ordering::Relaxed);
        } else {
            self.ack_log_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Flush the acknowledgement log to the file (and the disk when `sync`).
    pub fn flush_ack_log(&self, sync: bool) -> std::io::Result<()> {
        let Some(log) = &self.ack_log else { return Ok(()) };
        let mut w = log.lock().map_err(|_| std::io::Error::other("ack log lock poisoned"))?;
        w.flush()?;
        if sync {
            w.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Copy of the counters of the current step.
    pub fn summary(&self, offered: u64, duration_s: f64) -> Summary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let latency_ms = match self.latency_us.lock() {
            Ok(h) if !h.is_empty() => [
                h.value_at_quantile(0.50) as f64 / 1000.0,
                h.value_at_quantile(0.99) as f64 / 1000.0,
                h.value_at_quantile(0.999) as f64 / 1000.0,
                h.max() as f64 / 1000.0,
            ],
            _ => [0.0; 4],
        };
        Summary {
            offered,
            duration_s,
            elapsed_s: (get(&self.last_answer_ns) as f64 / 1e9).max(duration_s),
            accepted: get(&self.accepted),
            rejected: get(&self.rejected),
            accepted_unexpected: get(&self.accepted_unexpected),
            rejected_unexpected: get(&self.rejected_unexpected),
            shed: get(&self.shed),
            send_errors: get(&self.send_errors),
            refused: get(&self.refused),
            timeouts: get(&self.timeouts),
            late_answers: get(&self.late_answers),
            reconnects: get(&self.reconnects),
            pulls: get(&self.pulls),
            pulled: get(&self.pulled),
            latency_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn latency_counts_from_the_scheduled_time_and_the_log_has_one_line_per_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acks.log");
        let s = Shared::new(Some(&path)).unwrap();
        let t0 = Instant::now();
        s.start_step(t0);
        // Scheduled 50 ms ago: the recorded latency includes the time it waited to be sent.
        let due = Instant::now() - Duration::from_millis(50);
        s.answered(due, true, false);
        s.answered(due, false, true);
        s.answered(due, false, false);
        s.ack("BKAABRSP", "E1", "ACSC", "-");
        s.ack("BKAABRSP", "E2", "RJCT", "BE23");
        s.flush_ack_log(true).unwrap();
        let sum = s.summary(4, 1.0);
        assert_eq!((sum.accepted, sum.rejected, sum.rejected_unexpected), (2 - 1, 2, 1));
        assert!(sum.latency_ms[0] >= 50.0, "{:?}", sum.latency_ms);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "BKAABRSP E1 ACSC -\nBKAABRSP E2 RJCT BE23\n");
        let line = sum.line();
        assert!(line.starts_with("loadtest: offered_tps=4 achieved_tps=3 accepted=1 rejected=2"));
        s.start_step(Instant::now());
        assert_eq!(s.summary(0, 1.0).accepted, 0);
    }

    #[test]
    fn the_timeline_puts_each_answer_in_the_second_it_was_scheduled() {
        let s = Shared::new(None).unwrap().with_timeline();
        let t0 = Instant::now() - Duration::from_millis(2_500);
        s.start_step(t0);
        s.answered(t0 + Duration::from_millis(100), true, false);
        s.answered(t0 + Duration::from_millis(2_100), true, false);
        s.answered(t0 + Duration::from_millis(2_200), true, false);
        let t = s.timeline();
        assert_eq!(t.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(), vec![(0, 1), (2, 2)]);
        // Scheduled 100 ms after t0 and answered at t0 + 2.5 s: about 2.4 s.
        assert!(t[0].4 >= 2_390.0 && t[0].4 < 3_000.0, "{t:?}");
        assert!(t[1].4 < t[0].4, "{t:?}");
        s.start_step(Instant::now());
        assert!(s.timeline().is_empty());
        assert!(Shared::new(None).unwrap().timeline().is_empty());
    }
}
