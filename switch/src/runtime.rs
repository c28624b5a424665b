//! The runtime around the sans-IO core: a core thread that owns the [`Core`], fed through a
//! bounded channel; a journal thread that owns the journal; and the [`Delivery`] streams banks
//! pull from.
//!
//! The core thread takes a batch of commands (up to `batch_max`), processes each, and hands
//! the batch's events, outbound messages and answers to the journal thread (a bounded queue of
//! `JOURNAL_QUEUE_BATCHES`). The journal thread appends every batch queued, syncs once for all
//! of them (group commit), and only then answers the senders and releases the messages to
//! [`Delivery`], oldest batch first. Nothing reaches a bank before it is on disk. The two
//! threads overlap: the core works on the next batches while the journal syncs, so a slow
//! fdatasync delays answers but not processing, and the sync after it covers everything that
//! queued meanwhile. The core's state may run ahead of the disk, never what anyone is told: an
//! answer that depends on an earlier batch leaves after that batch, because batches are
//! journaled and released in order.
//!
//! A failed append or sync poisons the journal: the journal thread stops without answering
//! anything after the failure, the core thread stops at its next batch or tick, every later
//! command gets "unavailable", and `switchd` exits so a supervisor restarts it; the restart
//! recovers from the journal.
//!
//! Hot path: every transfer passes through `core_loop` and `run_journal`. One fsync per group
//! of batches, no per-transfer logging, no locks besides the per-participant delivery queues.

use crate::core::{Answer, Core, Outbound, Position};
use crate::events::{self, Event};
use adapters::wire::Delivered;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use iso20022::pacs002::Pacs002;
use iso20022::pacs008::Pacs008;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Journal;
use tokio::sync::{oneshot, Notify};

/// A decoded inbound message.
#[derive(Debug)]
pub enum Inbound {
    /// Credit transfer, with the bytes it arrived as when the receiver has them.
    Pacs008(Box<Pacs008>, Option<Box<crate::core::Received>>),
    /// Status report.
    Pacs002(Box<Pacs002>),
    /// Return.
    Pacs004(Box<iso20022::pacs004::Pacs004>),
    /// Status enquiry.
    Pacs028(Box<iso20022::pacs028::Pacs028>),
    /// Recall request.
    Camt056(Box<iso20022::camt056::Camt056>),
    /// Answer to a recall.
    Camt029(Box<iso20022::camt029::Camt029>),
}

/// What the core can be asked.
#[derive(Debug)]
pub enum Query {
    /// Every participant's position, and whether money is conserved.
    Positions,
    /// Cases for operators: late acceptances, expired recalls, failed returns.
    Investigations,
    /// Settlement windows: the open one and the recent closed ones.
    Windows,
}

/// Answer to a query.
#[derive(Debug, Clone)]
pub enum QueryAnswer {
    /// Positions and the conservation check.
    Positions {
        /// One per participant.
        positions: Vec<Position>,
        /// `Ok` when balances add up to funding and the ledger audit passes.
        conserved: Result<(), String>,
        /// Counters.
        counters: crate::core::Counters,
    },
    /// The investigations, oldest first, with the recalls they concern.
    Investigations(Vec<crate::exceptions::Investigation>),
    /// Settlement windows as JSON (open window, closed windows with nets and instructions).
    Windows(serde_json::Value),
}

/// A command for the core thread.
#[derive(Debug)]
pub enum Command {
    /// A message from a participant.
    Message {
        /// Participant index.
        from: u32,
        /// The message.
        msg: Inbound,
        /// Where the answer goes (after the batch is durable).
        reply: oneshot::Sender<Answer>,
    },
    /// A participant acknowledged its stream up to a sequence number.
    Ack {
        /// Participant index.
        participant: u32,
        /// Sequence number.
        up_to: u64,
    },
    /// Administration: development set-up (funding, aliases) and operator actions.
    Admin {
        /// What to do.
        steps: Vec<AdminStep>,
        /// Result, after the batch is durable.
        reply: oneshot::Sender<Result<usize, String>>,
    },
    /// A request of the participant-facing directory API.
    Directory {
        /// Participant index.
        from: u32,
        /// HTTP method.
        method: String,
        /// Path with query.
        path: String,
        /// `PI-PayerId` header.
        payer_id: Option<String>,
        /// JSON body.
        body: bytes::Bytes,
        /// The answer, after its events are durable.
        reply: oneshot::Sender<crate::core::DirectoryAnswer>,
    },
    /// A read-only question.
    Query {
        /// The question.
        query: Query,
        /// The answer.
        reply: oneshot::Sender<QueryAnswer>,
    },
}

/// An administration step.
#[derive(Debug, Clone)]
pub enum AdminStep {
    /// Fund a participant once: skipped if it was ever funded.
    FundOnce {
        /// Participant index.
        participant: u32,
        /// Amount.
        amount_minor: u64,
    },
    /// Suspend (`true`) or re-activate (`false`) a participant.
    Status {
        /// Participant index.
        participant: u32,
        /// Suspended after the step.
        suspended: bool,
    },
    /// Close the open settlement window.
    CloseWindow,
    /// Record that the RTGS settled a closed window (no-op if recorded already).
    SettleWindow {
        /// The window.
        window: u64,
    },
    /// Register an alias (no-op if registered identically).
    Alias {
        /// Key text.
        key: String,
        /// Participant index.
        participant: u32,
        /// Branch.
        branch: String,
        /// Account.
        account: String,
        /// Owner.
        owner: String,
    },
}

/// Why a command was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The ingress queue is full: retry shortly.
    Busy,
    /// The core stopped (journal failure); the process is restarting.
    Stopped,
}

/// A message waiting in a participant's stream. Shared, so a pull takes it without copying
/// the XML (a bank may pull the same message again until it acknowledges it).
#[derive(Debug, serde::Serialize)]
pub struct Queued {
    /// Sequence number in the participant's stream.
    pub seq: u64,
    /// ISO message name id.
    pub msg_type: &'static str,
    /// The message (shared with the core's copy kept until acknowledged).
    #[serde(serialize_with = "shared_str")]
    pub xml: Arc<String>,
}

fn shared_str<S: serde::Serializer>(x: &Arc<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(x)
}

/// The per-participant message streams banks pull from.
#[derive(Debug)]
pub struct Delivery {
    queues: Vec<Mutex<VecDeque<Arc<Queued>>>>,
    notify: Vec<Notify>,
    /// Open streams (`GET /v1/stream`) per participant.
    streams: Vec<AtomicUsize>,
}

impl Delivery {
    /// Streams for `n` participants.
    pub fn new(n: usize) -> Self {
        Delivery {
            queues: (0..n).map(|_| Mutex::new(VecDeque::new())).collect(),
            notify: (0..n).map(|_| Notify::new()).collect(),
            streams: (0..n).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// Add messages (already durable) to their participants' streams.
    pub fn publish(&self, out: Vec<Outbound>) {
        let mut touched = vec![false; self.queues.len()];
        for o in out {
            let i = o.participant as usize;
            if let Some(q) = self.queues.get(i) {
                if let Ok(mut q) = q.lock() {
                    q.push_back(Arc::new(Queued { seq: o.seq, msg_type: o.msg_type, xml: o.xml }));
                }
                if let Some(t) = touched.get_mut(i) {
                    *t = true;
                }
            }
        }
        for (i, t) in touched.into_iter().enumerate() {
            if t {
                let depth =
                    self.queues.get(i).and_then(|q| q.lock().ok().map(|q| q.len())).unwrap_or(0);
                metrics::gauge!("switch_outbox_depth", "participant" => i.to_string())
                    .set(depth as f64);
                if let Some(n) = self.notify.get(i) {
                    n.notify_waiters();
                }
            }
        }
    }

    /// Messages above `after` (dropping everything up to `after`: acknowledged), at most
    /// `max`, waiting up to `wait` for the first.
    pub async fn pull(
        &self,
        participant: u32,
        after: u64,
        max: usize,
        wait: Duration,
    ) -> Vec<Delivered> {
        self.pull_shared(participant, after, max, wait)
            .await
            .iter()
            .map(|m| Delivered {
                seq: m.seq,
                msg_type: m.msg_type.to_string(),
                xml: m.xml.as_ref().clone(),
            })
            .collect()
    }

    /// [`Delivery::pull`] without copying the messages.
    pub async fn pull_shared(
        &self,
        participant: u32,
        after: u64,
        max: usize,
        wait: Duration,
    ) -> Vec<Arc<Queued>> {
        self.trim(participant, after);
        self.peek(participant, after, max, tokio::time::Instant::now() + wait).await
    }

    /// A participant acknowledges its messages up to `through`: the core journals it (with
    /// its next batch) and they leave the participant's stream here. When the core's queue is
    /// full nothing changes and the next acknowledgement covers this one.
    pub fn acknowledge(
        &self,
        core: &CoreHandle,
        participant: u32,
        through: u64,
    ) -> Result<(), SubmitError> {
        core.submit(Command::Ack { participant, up_to: through })?;
        self.trim(participant, through);
        Ok(())
    }

    /// Drop the messages up to `through` (acknowledged) from a participant's stream.
    pub fn trim(&self, participant: u32, through: u64) {
        if let Some(Ok(mut q)) = self.queues.get(participant as usize).map(|q| q.lock()) {
            while q.front().is_some_and(|m| m.seq <= through) {
                q.pop_front();
            }
        }
    }

    /// Messages above `after`, at most `max`, dropping none; waits until `deadline` for the
    /// first (empty when it passes).
    pub async fn peek(
        &self,
        participant: u32,
        after: u64,
        max: usize,
        deadline: tokio::time::Instant,
    ) -> Vec<Arc<Queued>> {
        let i = participant as usize;
        let (Some(queue), Some(notify)) = (self.queues.get(i), self.notify.get(i)) else {
            return Vec::new();
        };
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch: Vec<Arc<Queued>> = match queue.lock() {
                Ok(q) => {
                    let from = q.partition_point(|m| m.seq <= after);
                    q.range(from..).take(max).cloned().collect()
                }
                Err(_) => Vec::new(),
            };
            if !batch.is_empty() {
                return batch;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
        }
    }

    /// Take one of the `max` stream slots of a participant; `None` when all are taken. The
    /// slot is given back when the returned guard is dropped.
    pub fn open_stream(self: &Arc<Self>, participant: u32, max: usize) -> Option<StreamSlot> {
        let open = self.streams.get(participant as usize)?;
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()?;
        metrics::gauge!("switch_streams_open").increment(1.0);
        Some(StreamSlot { delivery: self.clone(), participant })
    }
}

/// One open message stream of a participant (see [`Delivery::open_stream`]).
#[derive(Debug)]
pub struct StreamSlot {
    delivery: Arc<Delivery>,
    participant: u32,
}

impl StreamSlot {
    /// The participant whose stream this is.
    pub fn participant(&self) -> u32 {
        self.participant
    }

    /// The stream's source of messages.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Some(open) = self.delivery.streams.get(self.participant as usize) {
            open.fetch_sub(1, Ordering::AcqRel);
            metrics::gauge!("switch_streams_open").decrement(1.0);
        }
    }
}

/// A handle to a running core.
#[derive(Debug, Clone)]
pub struct CoreHandle {
    tx: Sender<Command>,
    stopped: Arc<AtomicBool>,
}

impl CoreHandle {
    /// Queue a command without waiting.
    pub fn submit(&self, cmd: Command) -> Result<(), SubmitError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(SubmitError::Stopped);
        }
        self.tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => SubmitError::Busy,
            TrySendError::Disconnected(_) => SubmitError::Stopped,
        })
    }

    /// Whether the core has stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Ask a question and wait for the answer.
    pub async fn query(&self, query: Query) -> Result<QueryAnswer, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Command::Query { query, reply })?;
        rx.await.map_err(|_| SubmitError::Stopped)
    }

    /// Run administration steps and wait until they are durable; returns how many changed
    /// something.
    pub async fn admin(&self, steps: Vec<AdminStep>) -> Result<usize, String> {
        let (reply, rx) = oneshot::channel();
        self.submit(Command::Admin { steps, reply }).map_err(|e| format!("{e:?}"))?;
        rx.await.map_err(|_| "core stopped".to_string())?
    }
}

/// Replay a journal into a core, then publish the unacknowledged part of every stream.
pub fn recover(core: &mut Core, event_bytes: &[u8]) -> Result<(), String> {
    let e = events::decode(event_bytes)?;
    core.apply(&e);
    Ok(())
}

/// After replay (from the start, or from a snapshot and its tail): hand every participant
/// the messages it has not acknowledged. The core keeps them (a snapshot carries them), so
/// messages drained during replay are dropped here and the kept ones published.
pub fn publish_unacked(core: &mut Core, delivery: &Delivery) {
    drop(core.drain_outbound());
    let n = core.participants().len() as u32;
    let out: Vec<Outbound> = (0..n).flat_map(|p| core.unacked(p).cloned()).collect();
    delivery.publish(out);
}

/// When the core thread writes snapshots of the core into the journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Journal records between two snapshots; 0: never.
    pub every_records: u64,
    /// The record the newest snapshot on disk covers (0: none).
    pub last_seq: u64,
}

/// Start the core thread (without snapshots).
pub fn start<J: Journal + 'static>(
    core: Core,
    journal: J,
    delivery: Arc<Delivery>,
    ingress_max: usize,
    batch_max: usize,
) -> Result<(CoreHandle, std::thread::JoinHandle<Result<(), String>>), String> {
    start_with_snapshots(core, journal, delivery, ingress_max, batch_max, SnapshotPolicy::default())
}

/// Start the core thread; it writes a snapshot of the core at the end of a batch once
/// `snapshots.every_records` records were appended since the last one.
pub fn start_with_snapshots<J: Journal + 'static>(
    core: Core,
    journal: J,
    delivery: Arc<Delivery>,
    ingress_max: usize,
    batch_max: usize,
    snapshots: SnapshotPolicy,
) -> Result<(CoreHandle, std::thread::JoinHandle<Result<(), String>>), String> {
    let (tx, rx) = crossbeam_channel::bounded(ingress_max);
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let thread = std::thread::Builder::new()
        .name("switch-core".into())
        .spawn(move || {
            let r = run_core(core, journal, &rx, delivery, batch_max, snapshots, flag.clone());
            flag.store(true, Ordering::Release);
            r
        })
        .map_err(|e| e.to_string())?;
    Ok((CoreHandle { tx, stopped }, thread))
}

enum Reply {
    Answer(oneshot::Sender<Answer>, Answer),
    Directory(oneshot::Sender<crate::core::DirectoryAnswer>, crate::core::DirectoryAnswer),
    Setup(oneshot::Sender<Result<usize, String>>, Result<usize, String>),
    Query(oneshot::Sender<QueryAnswer>, Query),
    /// A query answered on the core thread at the end of its batch, sent once it is durable.
    Answered(oneshot::Sender<QueryAnswer>, QueryAnswer),
}

impl Reply {
    /// Send the answer (the asker may have gone: nothing to do then).
    fn send(self) {
        match self {
            Reply::Answer(tx, a) => {
                let _ = tx.send(a);
            }
            Reply::Directory(tx, a) => {
                let _ = tx.send(a);
            }
            Reply::Setup(tx, a) => {
                let _ = tx.send(a);
            }
            Reply::Answered(tx, a) => {
                let _ = tx.send(a);
            }
            // Not reached: the core thread turns every question into `Answered` before its
            // batch leaves (dropping the sender here would tell the asker the core stopped).
            Reply::Query(_, _) => {}
        }
    }
}

/// Batches queued for the journal thread at most; beyond it the core thread waits, its
/// ingress fills and banks get 503 with Retry-After.
const JOURNAL_QUEUE_BATCHES: usize = 8;

/// A journal write or sync slower than this is reported on stderr and counted
/// (`switch_journal_slow_total`): every payment in flight waits for it.
const JOURNAL_SLOW: Duration = Duration::from_millis(20);

/// Report a journal step that took `took` (`what`: "append" or "sync") if it was slow.
fn note_if_slow(what: &'static str, took: Duration, records: usize) {
    if took >= JOURNAL_SLOW {
        metrics::counter!("switch_journal_slow_total", "step" => what).increment(1);
        eprintln!(
            "warning: journal {what} took {} ms ({records} records); payments waited for it",
            took.as_millis()
        );
    }
}

/// What the core thread hands the journal thread, in order.
enum ToJournal {
    /// A batch's events, the messages it releases and its answers.
    Batch { events: Vec<Event>, outbound: Vec<Outbound>, replies: Vec<Reply> },
    /// A snapshot of the core after every batch before it.
    Snapshot { seq: u64, bytes: Vec<u8> },
}

fn run_core<J: Journal + Send + 'static>(
    core: Core,
    journal: J,
    rx: &Receiver<Command>,
    delivery: Arc<Delivery>,
    batch_max: usize,
    snapshots: SnapshotPolicy,
    stopped: Arc<AtomicBool>,
) -> Result<(), String> {
    let (jtx, jrx) = crossbeam_channel::bounded(JOURNAL_QUEUE_BATCHES);
    let first_seq = journal.last_seq();
    let failed = Arc::new(AtomicBool::new(false));
    let writer = {
        let failed = failed.clone();
        std::thread::Builder::new()
            .name("switch-journal".into())
            .spawn(move || {
                let r = run_journal(journal, &jrx, &delivery);
                if let Err(e) = &r {
                    eprintln!("fatal: journal failed, stopping: {e}");
                    failed.store(true, Ordering::Release);
                    // New commands are refused from now on; the core thread stops at its
                    // next batch or tick.
                    stopped.store(true, Ordering::Release);
                }
                r
            })
            .map_err(|e| e.to_string())?
    };
    let r = core_loop(core, first_seq, rx, &jtx, &failed, batch_max, snapshots);
    // The journal thread finishes what is queued (syncs it and answers), then ends.
    drop(jtx);
    let written = writer.join().map_err(|_| "the journal thread panicked".to_string())?;
    written.and(r)
}

fn core_loop(
    mut core: Core,
    first_seq: u64,
    rx: &Receiver<Command>,
    jtx: &Sender<ToJournal>,
    failed: &AtomicBool,
    batch_max: usize,
    mut snapshots: SnapshotPolicy,
) -> Result<(), String> {
    let tick = Duration::from_millis(50);
    let mut seq = first_seq;
    let stopped = || "the journal thread stopped".to_string();
    loop {
        if failed.load(Ordering::Acquire) {
            return Err(stopped());
        }
        let first = match rx.recv_timeout(tick) {
            Ok(c) => Some(c),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let now = crate::time::now_ms();
        let mut events: Vec<Event> = Vec::new();
        let mut replies: Vec<Reply> = Vec::new();
        if let Some(first) = first {
            handle(&mut core, first, now, &mut events, &mut replies);
            let mut taken = 1;
            while taken < batch_max {
                match rx.try_recv() {
                    Ok(c) => handle(&mut core, c, now, &mut events, &mut replies),
                    Err(_) => break,
                }
                taken += 1;
            }
        }
        events.extend(core.process_timeouts(now, batch_max));
        metrics::gauge!("switch_ingress_depth").set(rx.len() as f64);
        let kept = core.retention_stats();
        metrics::gauge!("switch_finished_transfers_held").set(kept.finished_held as f64);
        metrics::gauge!("switch_duplicate_records_held").set(kept.retired_records as f64);
        for e in &events {
            record_creditor_hop(&core, e);
        }
        // Questions see the core as the whole batch left it.
        let replies: Vec<Reply> = replies
            .into_iter()
            .map(|r| match r {
                Reply::Query(tx, q) => Reply::Answered(tx, answer_query(&core, &q)),
                r => r,
            })
            .collect();
        let outbound = core.drain_outbound();
        if events.is_empty() && outbound.is_empty() && replies.is_empty() {
            continue;
        }
        seq += events.len() as u64;
        jtx.send(ToJournal::Batch { events, outbound, replies }).map_err(|_| stopped())?;
        if snapshots.every_records > 0
            && seq >= snapshots.last_seq.saturating_add(snapshots.every_records)
        {
            snapshots.last_seq = seq;
            match core.encode_snapshot() {
                Ok(bytes) => jtx.send(ToJournal::Snapshot { seq, bytes }).map_err(|_| stopped())?,
                Err(e) => {
                    metrics::counter!("switch_snapshot_failures_total").increment(1);
                    eprintln!("snapshot at record {seq} not encoded: {e}");
                }
            }
        }
    }
}

/// The journal thread: append every batch queued, sync once for all of them (group commit,
/// while the core thread works on the next ones), then release their messages and answers,
/// in order. Returns at the first failure: nothing after it is answered.
fn run_journal<J: Journal>(
    mut journal: J,
    rx: &Receiver<ToJournal>,
    delivery: &Delivery,
) -> Result<(), String> {
    let mut done: Vec<(Vec<Outbound>, Vec<Reply>)> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut appended = 0usize;
        while let Some(item) = next.take() {
            match item {
                ToJournal::Batch { events, outbound, replies } => {
                    let t = std::time::Instant::now();
                    for e in &events {
                        crate::telemetry::record_event(e);
                        let bytes = events::encode(e)?;
                        journal.append(&bytes).map_err(|e| e.to_string())?;
                    }
                    // An append writes when the buffer fills and starts a new segment when
                    // the active one is full (a file created and synced with its directory).
                    note_if_slow("append", t.elapsed(), events.len());
                    appended += events.len();
                    done.push((outbound, replies));
                }
                ToJournal::Snapshot { seq, bytes } => {
                    sync_and_release(&mut journal, &mut done, appended, delivery)?;
                    appended = 0;
                    write_snapshot(&mut journal, seq, &bytes);
                }
            }
            // Take what else is queued into the same sync, a bounded number of batches.
            if done.len() < JOURNAL_QUEUE_BATCHES * 4 {
                next = rx.try_recv().ok();
            }
        }
        sync_and_release(&mut journal, &mut done, appended, delivery)?;
    }
    Ok(())
}

/// Make the appended records durable, then publish the batches' messages and send their
/// answers, oldest batch first.
fn sync_and_release<J: Journal>(
    journal: &mut J,
    done: &mut Vec<(Vec<Outbound>, Vec<Reply>)>,
    appended: usize,
    delivery: &Delivery,
) -> Result<(), String> {
    if appended > 0 {
        metrics::histogram!("switch_journal_batch_events").record(appended as f64);
        let t = std::time::Instant::now();
        journal.sync().map_err(|e| e.to_string())?;
        let took = t.elapsed();
        metrics::histogram!("switch_journal_sync_seconds").record(took.as_secs_f64());
        note_if_slow("sync", took, appended);
    }
    for (outbound, replies) in done.drain(..) {
        delivery.publish(outbound);
        replies.into_iter().for_each(Reply::send);
    }
    Ok(())
}

/// Write a snapshot of the core as of record `seq` (every record up to it is durable). A
/// snapshot that cannot be written is reported and the next one comes as many records later:
/// the journal still holds everything, so nothing is lost, only restart time.
fn write_snapshot<J: Journal>(journal: &mut J, seq: u64, bytes: &[u8]) {
    let t = std::time::Instant::now();
    let written = if journal.last_seq() == seq {
        journal.write_snapshot(seq, bytes).map_err(|e| e.to_string())
    } else {
        Err(format!("the journal is at record {}, the snapshot at {seq}", journal.last_seq()))
    };
    match written {
        Ok(()) => {
            metrics::histogram!("switch_snapshot_seconds").record(t.elapsed().as_secs_f64());
            metrics::gauge!("switch_snapshot_bytes").set(bytes.len() as f64);
        }
        Err(e) => {
            metrics::counter!("switch_snapshot_failures_total").increment(1);
            eprintln!("snapshot at record {seq} not written: {e}");
        }
    }
}

/// The answer to a read-only question, from the core as it is now.
fn answer_query(core: &Core, q: &Query) -> QueryAnswer {
    match q {
        Query::Windows => QueryAnswer::Windows(windows_json(core)),
        Query::Investigations => QueryAnswer::Investigations(core.investigations()),
        Query::Positions => QueryAnswer::Positions {
            positions: core.positions(),
            conserved: core.conserved(),
            counters: core.counters(),
        },
    }
}

/// The creditor hop: forwarded pacs.008 to the creditor's answer.
fn record_creditor_hop(core: &Core, e: &Event) {
    let record = |id: &u64, at_ms: &u64| {
        if let Some(t) = core.transfer(*id) {
            let s = at_ms.saturating_sub(t.created_ms) as f64 / 1000.0;
            metrics::histogram!("switch_creditor_answer_seconds").record(s);
        }
    };
    match e {
        Event::Accepted { id, at_ms } | Event::Declined { id, at_ms, .. } => record(id, at_ms),
        Event::Answered { at_ms, answers, .. } => {
            answers.iter().for_each(|(id, _)| record(id, at_ms));
        }
        _ => {}
    }
}

/// Settlement windows for operators, participants named by BIC.
fn windows_json(core: &Core) -> serde_json::Value {
    let (open, closed) = core.windows();
    let bic = |a: u64| core.bic_of_account(a).unwrap_or("?").to_string();
    let list: Vec<serde_json::Value> = closed
        .iter()
        .rev()
        .map(|(w, r, settled)| {
            serde_json::json!({
                "window": w,
                "closed_at": crate::time::iso_datetime(r.closed_at_ms),
                "settled_at": settled.map(crate::time::iso_datetime),
                "positions": r.positions.iter().map(|p| serde_json::json!({
                    "bic": bic(p.account), "net_minor": p.net.to_string()
                })).collect::<Vec<_>>(),
                "instructions": r.instructions.iter().map(|i| serde_json::json!({
                    "bic": bic(i.account),
                    "direction": format!("{:?}", i.direction).to_lowercase(),
                    "amount_minor": i.amount,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "open_window": open, "windows": list })
}

fn handle(
    core: &mut Core,
    cmd: Command,
    now: u64,
    events: &mut Vec<Event>,
    replies: &mut Vec<Reply>,
) {
    match cmd {
        Command::Message { from, msg, reply } => {
            let (evs, answer) = match &msg {
                Inbound::Pacs008(m, r) => core.process_pacs008_received(from, m, r.as_deref(), now),
                Inbound::Pacs002(m) => core.process_pacs002(from, m, now),
                Inbound::Pacs004(m) => core.process_pacs004(from, m, now),
                Inbound::Pacs028(m) => core.process_pacs028(from, m, now),
                Inbound::Camt056(m) => core.process_camt056(from, m, now),
                Inbound::Camt029(m) => core.process_camt029(from, m, now),
            };
            events.extend(evs);
            replies.push(Reply::Answer(reply, answer));
        }
        Command::Ack { participant, up_to } => events.extend(core.process_ack(participant, up_to)),
        Command::Admin { steps, reply } => {
            let mut done = 0;
            let mut result = Ok(0);
            for step in steps {
                let r = match step {
                    AdminStep::FundOnce { participant, amount_minor } => {
                        if core.is_funded(participant) {
                            Ok(None)
                        } else {
                            core.process_funding(participant, amount_minor, now).map(Some)
                        }
                    }
                    AdminStep::Status { participant, suspended } => {
                        core.process_status(participant, suspended, now)
                    }
                    AdminStep::CloseWindow => core.process_close_window(now).map(Some),
                    AdminStep::SettleWindow { window } => core.process_settle_window(window, now),
                    AdminStep::Alias { key, participant, branch, account, owner } => {
                        directory::Key::parse(&key).map_err(|e| format!("{key}: {e}")).and_then(
                            |k| core.process_alias(&k, participant, &branch, &account, &owner),
                        )
                    }
                };
                match r {
                    Ok(Some(e)) => {
                        events.push(e);
                        done += 1;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            replies.push(Reply::Setup(reply, result.map(|_: usize| done)));
        }
        Command::Query { query, reply } => replies.push(Reply::Query(reply, query)),
        Command::Directory { from, method, path, payer_id, body, reply } => {
            let (evs, answer) =
                core.process_directory(from, &method, &path, payer_id.as_deref(), &body, now);
            events.extend(evs);
            replies.push(Reply::Directory(reply, answer));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::sync::mpsc;

    /// A journal whose every sync waits for the test to open the gate (fault injection: a
    /// slow disk), then fails if told to.
    struct Gated {
        records: u64,
        durable: Arc<std::sync::atomic::AtomicU64>,
        gate: mpsc::Receiver<bool>,
    }

    impl Journal for Gated {
        fn append(&mut self, _record: &[u8]) -> Result<u64, store::JournalError> {
            self.records += 1;
            Ok(self.records)
        }
        fn sync(&mut self) -> Result<(), store::JournalError> {
            match self.gate.recv() {
                Ok(true) => {
                    self.durable.store(self.records, Ordering::Release);
                    Ok(())
                }
                _ => Err(store::JournalError::Io(std::io::Error::other("injected sync failure"))),
            }
        }
        fn last_seq(&self) -> u64 {
            self.records
        }
    }

    type Started = (CoreHandle, std::thread::JoinHandle<Result<(), String>>);

    fn start_gated() -> (Started, mpsc::Sender<bool>, Arc<std::sync::atomic::AtomicU64>) {
        let cfg = crate::config::Config::dev(std::path::Path::new("/nonexistent"));
        let core = crate::node::core_from_config(&cfg).unwrap();
        let (open, gate) = mpsc::channel();
        let durable = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let journal = Gated { records: 0, durable: durable.clone(), gate };
        let delivery = Arc::new(Delivery::new(cfg.participants.len()));
        (start(core, journal, delivery, 64, 16).unwrap(), open, durable)
    }

    fn fund(h: &CoreHandle, participant: u32) -> oneshot::Receiver<Result<usize, String>> {
        let (reply, rx) = oneshot::channel();
        let steps = vec![AdminStep::FundOnce { participant, amount_minor: 1_000 }];
        h.submit(Command::Admin { steps, reply }).unwrap();
        rx
    }

    /// Wait (bounded) until `f` holds.
    fn eventually(what: &str, mut f: impl FnMut() -> bool) {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(std::time::Instant::now() < until, "never: {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The count of slow journal syncs in the process's Prometheus registry.
    fn slow_syncs(metrics: &metrics_exporter_prometheus::PrometheusHandle) -> f64 {
        let text = metrics.render();
        let line = text.lines().find(|l| l.starts_with("switch_journal_slow_total{step=\"sync\"}"));
        line.and_then(|l| l.split_whitespace().last()).map_or(0.0, |v| v.parse().unwrap())
    }

    #[test]
    fn answers_wait_for_their_sync_and_leave_in_order_while_the_core_goes_on() {
        let metrics = crate::telemetry::init().expect("the recorder of this test process");
        let slow_before = slow_syncs(&metrics);
        let ((h, thread), open, durable) = start_gated();
        let mut first = fund(&h, 0);
        // The journal thread sits in the first sync: nothing is answered.
        std::thread::sleep(Duration::from_millis(100));
        assert!(first.try_recv().is_err(), "answered before its record was durable");
        // The core takes more work meanwhile; it is not answered either.
        let mut second = fund(&h, 1);
        let (reply, mut positions) = oneshot::channel();
        h.submit(Command::Query { query: Query::Positions, reply }).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(second.try_recv().is_err() && positions.try_recv().is_err());
        open.send(true).unwrap();
        eventually("the first answer", || matches!(first.try_recv(), Ok(Ok(1))));
        assert_eq!(durable.load(Ordering::Acquire), 1);
        // That sync was held over 200 ms: reported and counted for operators.
        assert!(slow_syncs(&metrics) > slow_before, "{}", metrics.render());
        // One sync covers everything queued behind the first.
        open.send(true).unwrap();
        eventually("the second answer", || matches!(second.try_recv(), Ok(Ok(1))));
        assert_eq!(durable.load(Ordering::Acquire), 2);
        let Ok(QueryAnswer::Positions { positions, conserved, .. }) = positions.try_recv() else {
            panic!("the query is answered with the batch before it");
        };
        assert!(conserved.is_ok());
        let funded: Vec<bool> = positions.iter().map(|p| p.balance_minor > 0).collect();
        assert_eq!(funded[..2], [true, true], "the query saw both fundings: {positions:?}");
        drop(h);
        assert_eq!(thread.join().unwrap(), Ok(()));
    }

    #[test]
    fn a_failed_sync_answers_nothing_after_it_and_stops_the_core() {
        let ((h, thread), open, durable) = start_gated();
        let mut first = fund(&h, 0);
        open.send(true).unwrap();
        eventually("the first answer", || matches!(first.try_recv(), Ok(Ok(1))));
        let mut second = fund(&h, 1);
        open.send(false).unwrap();
        eventually("the core stops", || h.is_stopped());
        // The asker of the failed batch hears that the core stopped, never a success.
        eventually("the second asker is let go", || {
            matches!(second.try_recv(), Err(oneshot::error::TryRecvError::Closed))
        });
        assert_eq!(durable.load(Ordering::Acquire), 1);
        assert_eq!(h.submit(Command::Ack { participant: 0, up_to: 0 }), Err(SubmitError::Stopped));
        let err = thread.join().unwrap().unwrap_err();
        assert!(err.contains("injected sync failure"), "{err}");
    }
}
