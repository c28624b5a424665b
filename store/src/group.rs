//! Group commit: one writer thread owns a [`Journal`], takes records from many producers
//! through a bounded queue, and makes them durable in adaptive batches.
//! PERFORMANCE CRITICAL PATH: every durable record of a multi-producer caller passes here.
//!
//! Guarantees: a record is acknowledged with `Ok(seq)` only after the sync that covers it has
//! returned; the writer syncs as soon as the queue is empty or the batch reaches its record or
//! byte limit, so a lone record waits for one sync and a flood shares one sync per batch; a full
//! queue answers [`GroupError::Busy`] at once; after a failed sync every pending and later
//! record is refused (the journal is poisoned and the process must recover from disk).
//! Must not: block a producer on a full queue, reorder records, or acknowledge before sync.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::{Journal, JournalError, RECORD_MAX_BYTES};

/// Limits of a [`GroupCommitter`]. Construct with `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOptions {
    /// Records waiting in the queue before `submit` answers [`GroupError::Busy`].
    /// Default 65,536.
    pub queue_max: usize,
    /// Records appended before the writer syncs even if more are waiting. Default 4,096.
    pub batch_records_max: usize,
    /// Payload bytes appended before the writer syncs even if more are waiting. Default 8 MiB.
    pub batch_bytes_max: usize,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions { queue_max: 65_536, batch_records_max: 4_096, batch_bytes_max: 8 << 20 }
    }
}

/// Why a record was not made durable. Retrying helps only for `Busy`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The queue holds `queue_max` records: shed load or retry later.
    #[error("journal queue full ({0} records waiting); shed load or retry later")]
    Busy(usize),
    /// A record larger than [`RECORD_MAX_BYTES`].
    #[error("record of {0} bytes is over the limit")]
    RecordTooLarge(usize),
    /// A sync failed: nothing more is accepted; restart and recover from disk.
    #[error("journal poisoned by a failed write or sync; restart to recover from disk")]
    Poisoned,
    /// The sync covering this record failed with this error; the journal is now poisoned.
    #[error("journal sync failed ({0}); the record may or may not be on disk after restart")]
    SyncFailed(String),
    /// The writer has been shut down.
    #[error("journal writer stopped")]
    Stopped,
    /// The snapshot was not written (the journal itself is unharmed unless `Poisoned`).
    #[error("snapshot not written: {0}")]
    SnapshotFailed(String),
    /// Options out of range; the message names the option.
    #[error("invalid group commit options: {0}")]
    InvalidOptions(String),
}

/// The answer to one submitted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The token given to [`GroupHandle::submit`].
    pub token: u64,
    /// The record's sequence number once durable, or why it is not.
    pub result: Result<u64, GroupError>,
}

/// A channel for acknowledgements, bounded at `capacity` (give it room for every record the
/// caller keeps in flight). Saves callers a direct dependency on crossbeam-channel.
pub fn ack_channel(capacity: usize) -> (Sender<Ack>, Receiver<Ack>) {
    crossbeam_channel::bounded(capacity)
}

struct Request {
    record: Vec<u8>,
    token: u64,
    reply: Sender<Ack>,
}

struct SnapshotRequest {
    seq: u64,
    data: Vec<u8>,
    reply: Sender<Result<(), GroupError>>,
}

enum Msg {
    Append(Request),
    Snapshot(SnapshotRequest),
    Stop,
}

#[derive(Debug, Default)]
struct Shared {
    poisoned: AtomicBool,
    stopping: AtomicBool,
    durable_seq: AtomicU64,
    batches: AtomicU64,
}

/// A cloneable handle producers use to submit records.
#[derive(Debug, Clone)]
pub struct GroupHandle {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    queue_max: usize,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Append(r) => write!(f, "Append(token {}, {} bytes)", r.token, r.record.len()),
            Msg::Snapshot(r) => write!(f, "Snapshot(seq {}, {} bytes)", r.seq, r.data.len()),
            Msg::Stop => f.write_str("Stop"),
        }
    }
}

impl GroupHandle {
    /// Queue `record`; its [`Ack`] (carrying `token`) is sent on `reply` once its batch is
    /// durable. The writer sends acks with a blocking send: keep `reply` drained (or give it
    /// room for every record in flight), or the writer, and every producer, waits for you.
    /// Answers at once with `Busy` when the queue is full.
    pub fn submit(
        &self,
        record: Vec<u8>,
        token: u64,
        reply: &Sender<Ack>,
    ) -> Result<(), GroupError> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(GroupError::Poisoned);
        }
        if self.shared.stopping.load(Ordering::Acquire) {
            return Err(GroupError::Stopped);
        }
        if record.len() > RECORD_MAX_BYTES {
            return Err(GroupError::RecordTooLarge(record.len()));
        }
        let msg = Msg::Append(Request { record, token, reply: reply.clone() });
        match self.tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(GroupError::Busy(self.queue_max)),
            Err(TrySendError::Disconnected(_)) => Err(GroupError::Stopped),
        }
    }

    /// Submit one record and wait until it is durable; returns its sequence number.
    pub fn append_durable(&self, record: Vec<u8>) -> Result<u64, GroupError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(record, 0, &tx)?;
        drop(tx);
        rx.recv().map_err(|_| GroupError::Stopped)?.result
    }

    /// Have the writer store a snapshot as of record `seq` (after making every record queued
    /// before it durable), and wait for it. See [`crate::FileJournal::write_snapshot`].
    /// Waits for room in the queue rather than answering `Busy`: snapshots are rare.
    pub fn write_snapshot(&self, seq: u64, data: Vec<u8>) -> Result<(), GroupError> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(GroupError::Poisoned);
        }
        let (reply, rx) = crossbeam_channel::bounded(1);
        let msg = Msg::Snapshot(SnapshotRequest { seq, data, reply });
        self.tx.send(msg).map_err(|_| GroupError::Stopped)?;
        rx.recv().map_err(|_| GroupError::Stopped)?
    }

    /// Highest sequence number known durable.
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Syncs done by the writer so far (records per sync = records / batches).
    pub fn batches_synced(&self) -> u64 {
        self.shared.batches.load(Ordering::Relaxed)
    }

    /// True once a failed write or sync has poisoned the journal.
    pub fn is_poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }
}

/// Owns the writer thread; dropping it stops the writer after the queue drains.
#[derive(Debug)]
pub struct GroupCommitter<J: Journal + 'static> {
    handle: GroupHandle,
    writer: Option<JoinHandle<J>>,
}

impl<J: Journal + 'static> GroupCommitter<J> {
    /// Start the writer thread on `journal` (already recovered and positioned for appends).
    pub fn start(journal: J, opts: GroupOptions) -> Result<Self, GroupError> {
        if opts.queue_max == 0 || opts.batch_records_max == 0 || opts.batch_bytes_max == 0 {
            return Err(GroupError::InvalidOptions(format!(
                "every limit must be above 0: {opts:?}"
            )));
        }
        let (tx, rx) = crossbeam_channel::bounded(opts.queue_max);
        let shared = Arc::new(Shared::default());
        shared.durable_seq.store(journal.last_seq(), Ordering::Release);
        let writer_shared = Arc::clone(&shared);
        let queue_max = opts.queue_max;
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || run(journal, &rx, &writer_shared, &opts))
            .map_err(|e| GroupError::InvalidOptions(format!("cannot start writer thread: {e}")))?;
        Ok(GroupCommitter { handle: GroupHandle { tx, shared, queue_max }, writer: Some(writer) })
    }

    /// A handle for producers (cloneable, `Send`).
    pub fn handle(&self) -> GroupHandle {
        self.handle.clone()
    }

    /// Same as [`GroupHandle::submit`].
    pub fn submit(
        &self,
        record: Vec<u8>,
        token: u64,
        reply: &Sender<Ack>,
    ) -> Result<(), GroupError> {
        self.handle.submit(record, token, reply)
    }

    /// Same as [`GroupHandle::write_snapshot`].
    pub fn write_snapshot(&self, seq: u64, data: Vec<u8>) -> Result<(), GroupError> {
        self.handle.write_snapshot(seq, data)
    }

    /// Same as [`GroupHandle::append_durable`].
    pub fn append_durable(&self, record: Vec<u8>) -> Result<u64, GroupError> {
        self.handle.append_durable(record)
    }

    /// Stop accepting records, make every queued one durable, and return the journal.
    pub fn shutdown(mut self) -> Result<J, GroupError> {
        self.stop().ok_or(GroupError::Stopped)
    }

    fn stop(&mut self) -> Option<J> {
        let writer = self.writer.take()?;
        self.handle.shared.stopping.store(true, Ordering::Release);
        let _ = self.handle.tx.send(Msg::Stop);
        writer.join().ok()
    }
}

impl<J: Journal + 'static> Drop for GroupCommitter<J> {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

struct Pending {
    token: u64,
    seq: u64,
    reply: Sender<Ack>,
}

fn refuse(reply: &Sender<Ack>, token: u64, err: GroupError) {
    let _ = reply.send(Ack { token, result: Err(err) });
}

fn to_group_error(e: &JournalError) -> GroupError {
    match e {
        JournalError::Poisoned => GroupError::Poisoned,
        JournalError::RecordTooLarge(n) => GroupError::RecordTooLarge(*n),
        other => GroupError::SyncFailed(other.to_string()),
    }
}

/// The writer loop: block for the first record, take more while they are there and the batch
/// has room, sync, acknowledge, repeat. Returns the journal once stopped.
fn run<J: Journal>(mut journal: J, rx: &Receiver<Msg>, shared: &Shared, opts: &GroupOptions) -> J {
    let mut batch: Vec<Pending> = Vec::with_capacity(opts.batch_records_max);
    let mut stop = false;
    while !stop {
        let Ok(mut msg) = rx.recv() else { break };
        let mut bytes = 0usize;
        let mut snapshot = None;
        loop {
            match msg {
                Msg::Stop => stop = true,
                Msg::Snapshot(req) => snapshot = Some(req),
                Msg::Append(req) => {
                    bytes += req.record.len();
                    match journal.append(&req.record) {
                        Ok(seq) => batch.push(Pending { token: req.token, seq, reply: req.reply }),
                        Err(e) => {
                            if !matches!(e, JournalError::RecordTooLarge(_)) {
                                shared.poisoned.store(true, Ordering::Release);
                            }
                            refuse(&req.reply, req.token, to_group_error(&e));
                        }
                    }
                }
            }
            let full = batch.len() >= opts.batch_records_max || bytes >= opts.batch_bytes_max;
            if stop || snapshot.is_some() || full {
                break;
            }
            msg = match rx.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            };
        }
        if !batch.is_empty() {
            sync_and_ack(&mut journal, &mut batch, shared);
        }
        if let Some(req) = snapshot {
            let result = journal.write_snapshot(req.seq, &req.data).map_err(|e| match e {
                JournalError::Poisoned => GroupError::Poisoned,
                other => GroupError::SnapshotFailed(other.to_string()),
            });
            let _ = req.reply.send(result);
        }
    }
    while let Ok(msg) = rx.try_recv() {
        match msg {
            Msg::Append(req) => refuse(&req.reply, req.token, GroupError::Stopped),
            Msg::Snapshot(req) => {
                let _ = req.reply.send(Err(GroupError::Stopped));
            }
            Msg::Stop => {}
        }
    }
    journal
}

/// Sync the batch, then acknowledge every record in it (or refuse them all if the sync failed).
fn sync_and_ack<J: Journal>(journal: &mut J, batch: &mut Vec<Pending>, shared: &Shared) {
    match journal.sync() {
        Ok(()) => {
            if let Some(last) = batch.last() {
                shared.durable_seq.store(last.seq, Ordering::Release);
            }
            shared.batches.fetch_add(1, Ordering::Relaxed);
            for p in batch.drain(..) {
                let _ = p.reply.send(Ack { token: p.token, result: Ok(p.seq) });
            }
        }
        Err(e) => {
            shared.poisoned.store(true, Ordering::Release);
            let err = to_group_error(&e);
            for p in batch.drain(..) {
                refuse(&p.reply, p.token, err.clone());
            }
        }
    }
}
