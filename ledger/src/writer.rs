//! The ledger's single writer thread: batches of commands come in through a bounded
//! crossbeam channel, one thread applies them to a pure [`Ledger`] in arrival order, and
//! after each drained group of batches it publishes an immutable [`Snapshot`] for readers.
//!
//! Guarantees: commands apply in the order their batches were accepted, one at a time,
//! exactly as the pure ledger would apply them (deterministic replay); each batch gets its
//! outcomes in command order. A full queue answers [`WriterError::Busy`] at once, never
//! blocking the caller. Readers take the latest snapshot by cloning an `Arc` and never block
//! the writer: the writer only ever *tries* the snapshot slot's lock (a pointer swap once per
//! group of batches, never per transfer); if a reader holds it that instant, it publishes
//! after the next group instead, or as soon as the queue is idle.
//!
//! Must not: read the clock (times travel inside commands), do I/O, or hold any lock while
//! applying transfers. This file is on the per-transfer path.

use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::{
    Account, AccountFlags, AccountId, CreateAccountError, Ledger, NetDebitCapError, Totals,
    TransferError, TransferId, WindowError, WindowId, WindowReport,
};

/// One ledger operation, carrying every argument (times included).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// [`Ledger::create_account`].
    CreateAccount { id: AccountId, flags: AccountFlags },
    /// [`Ledger::create_net_account`].
    CreateNetAccount { id: AccountId, net_debit_cap: u64 },
    /// [`Ledger::set_net_debit_cap`].
    SetNetDebitCap { id: AccountId, net_debit_cap: u64 },
    /// [`Ledger::reserve`].
    Reserve { id: TransferId, debit: AccountId, credit: AccountId, amount: u64, expires_at_ms: u64 },
    /// [`Ledger::post`].
    Post { id: TransferId, now_ms: u64 },
    /// [`Ledger::void`].
    Void { id: TransferId },
    /// [`Ledger::transfer`].
    Transfer { id: TransferId, debit: AccountId, credit: AccountId, amount: u64 },
    /// [`Ledger::fund`].
    Fund { id: TransferId, funding: AccountId, participant: AccountId, amount: u64, now_ms: u64 },
    /// [`Ledger::defund`].
    Defund { id: TransferId, participant: AccountId, funding: AccountId, amount: u64, now_ms: u64 },
    /// [`Ledger::return_transfer`].
    Return { id: TransferId, original: TransferId, amount: u64, now_ms: u64 },
    /// [`Ledger::close_window`].
    CloseWindow { now_ms: u64 },
    /// [`Ledger::close_window_numbered`] (idempotent close).
    CloseWindowNumbered { window: WindowId, now_ms: u64 },
    /// [`Ledger::settle_window`].
    SettleWindow { window: WindowId, funding: AccountId, now_ms: u64 },
    /// [`Ledger::compact`].
    Compact { before_ms: u64 },
}

/// The result of one [`Command`], in the same position as the command in its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Result of a transfer operation (reserve, post, void, transfer, fund, defund, return).
    Transfer(Result<(), TransferError>),
    /// Result of an account creation.
    Account(Result<(), CreateAccountError>),
    /// Result of a cap change.
    NetDebitCap(Result<(), NetDebitCapError>),
    /// Result of closing a window.
    Closed(Result<WindowReport, WindowError>),
    /// Result of settling a window.
    Settled(Result<(), WindowError>),
    /// Number of transfers compacted.
    Compacted(usize),
}

/// Apply one command to a ledger (what the writer thread does; also usable for replay).
pub fn apply(ledger: &mut Ledger, command: &Command) -> Outcome {
    use Command as C;
    match *command {
        C::CreateAccount { id, flags } => Outcome::Account(ledger.create_account(id, flags)),
        C::CreateNetAccount { id, net_debit_cap } => {
            Outcome::Account(ledger.create_net_account(id, net_debit_cap))
        }
        C::SetNetDebitCap { id, net_debit_cap } => {
            Outcome::NetDebitCap(ledger.set_net_debit_cap(id, net_debit_cap))
        }
        C::Reserve { id, debit, credit, amount, expires_at_ms } => {
            Outcome::Transfer(ledger.reserve(id, debit, credit, amount, expires_at_ms))
        }
        C::Post { id, now_ms } => Outcome::Transfer(ledger.post(id, now_ms)),
        C::Void { id } => Outcome::Transfer(ledger.void(id)),
        C::Transfer { id, debit, credit, amount } => {
            Outcome::Transfer(ledger.transfer(id, debit, credit, amount))
        }
        C::Fund { id, funding, participant, amount, now_ms } => {
            Outcome::Transfer(ledger.fund(id, funding, participant, amount, now_ms))
        }
        C::Defund { id, participant, funding, amount, now_ms } => {
            Outcome::Transfer(ledger.defund(id, participant, funding, amount, now_ms))
        }
        C::Return { id, original, amount, now_ms } => {
            Outcome::Transfer(ledger.return_transfer(id, original, amount, now_ms))
        }
        C::CloseWindow { now_ms } => Outcome::Closed(ledger.close_window(now_ms)),
        C::CloseWindowNumbered { window, now_ms } => {
            Outcome::Closed(ledger.close_window_numbered(window, now_ms))
        }
        C::SettleWindow { window, funding, now_ms } => {
            Outcome::Settled(ledger.settle_window(window, funding, now_ms))
        }
        C::Compact { before_ms } => Outcome::Compacted(ledger.compact(before_ms)),
    }
}

/// A consistent, immutable view of the ledger after a whole number of batches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Batches applied when it was taken (0: the ledger as handed to the writer).
    pub batches: u64,
    /// Every account, sorted by id.
    pub accounts: Vec<Account>,
    /// The running totals.
    pub totals: Totals,
    /// The open settlement window.
    pub window: WindowId,
    /// Transfers remembered.
    pub transfers: usize,
}

impl Snapshot {
    fn of(ledger: &Ledger, batches: u64) -> Snapshot {
        Snapshot {
            batches,
            accounts: ledger.accounts_sorted().copied().collect(),
            totals: ledger.totals(),
            window: ledger.current_window(),
            transfers: ledger.transfers_len(),
        }
    }

    /// An account in this snapshot (binary search).
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        let at = self.accounts.binary_search_by_key(&id, |a| a.id).ok()?;
        self.accounts.get(at)
    }
}

/// Explicit limits of the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterConfig {
    /// Batches the queue holds before [`WriterError::Busy`].
    pub queue_batches_max: usize,
    /// Commands in one batch before [`WriterError::BatchTooLarge`].
    pub batch_commands_max: usize,
    /// Batches applied before a snapshot is published while the queue stays busy.
    pub batches_per_snapshot_max: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_batches_max: 1_024,
            batch_commands_max: 8_192,
            batches_per_snapshot_max: 64,
        }
    }
}

/// Why a batch was not accepted or answered. Numbered and ordered by precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
#[non_exhaustive]
#[repr(u32)]
pub enum WriterError {
    /// The batch is empty. Retry cannot help.
    #[error("batch is empty")]
    EmptyBatch = 1,
    /// The batch holds more than `batch_commands_max` commands. Split it.
    #[error("batch too large: split it")]
    BatchTooLarge = 2,
    /// The writer thread has stopped. Retry cannot help; recover from the journal.
    #[error("ledger writer stopped")]
    Stopped = 3,
    /// The queue is full: nothing was applied. Retry later (back-pressure).
    #[error("ledger writer busy: queue full")]
    Busy = 4,
    /// The writer thread could not be started.
    #[error("ledger writer thread could not be started")]
    Spawn = 5,
}

struct Batch {
    commands: Vec<Command>,
    reply: Sender<Vec<Outcome>>,
}

/// What travels through the queue.
#[derive(Debug)]
enum Msg {
    Batch(Batch),
    /// Finish the batches queued before this, publish, and hand the ledger back.
    Stop,
}

/// The latest published snapshot; the lock only ever guards an `Arc` swap or clone.
#[derive(Debug)]
struct SnapshotSlot(RwLock<Arc<Snapshot>>);

impl SnapshotSlot {
    fn load(&self) -> Arc<Snapshot> {
        match self.0.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Publish without waiting; gives the snapshot back if a reader holds the slot.
    fn try_store(&self, s: Arc<Snapshot>) -> Option<Arc<Snapshot>> {
        match self.0.try_write() {
            Ok(mut g) => {
                *g = s;
                None
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                *p.into_inner() = s;
                None
            }
            Err(std::sync::TryLockError::WouldBlock) => Some(s),
        }
    }

    /// Publish, waiting for readers (only when the writer has nothing else to do).
    fn store(&self, s: Arc<Snapshot>) {
        match self.0.write() {
            Ok(mut g) => *g = s,
            Err(poisoned) => *poisoned.into_inner() = s,
        }
    }
}

/// A cloneable handle to submit batches and read snapshots.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    queue: Sender<Msg>,
    snapshots: Arc<SnapshotSlot>,
    batch_commands_max: usize,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("commands", &self.commands.len()).finish()
    }
}

/// A submitted batch; [`Pending::wait`] gives its outcomes.
#[derive(Debug)]
pub struct Pending(Receiver<Vec<Outcome>>);

impl Pending {
    /// Wait for the batch's outcomes, in command order.
    pub fn wait(self) -> Result<Vec<Outcome>, WriterError> {
        self.0.recv().map_err(|_| WriterError::Stopped)
    }
}

impl WriterHandle {
    /// Queue a batch without blocking: [`WriterError::Busy`] if the queue is full.
    pub fn submit(&self, commands: Vec<Command>) -> Result<Pending, WriterError> {
        if commands.is_empty() {
            return Err(WriterError::EmptyBatch);
        }
        if commands.len() > self.batch_commands_max {
            return Err(WriterError::BatchTooLarge);
        }
        let (reply, outcomes) = crossbeam_channel::bounded(1);
        match self.queue.try_send(Msg::Batch(Batch { commands, reply })) {
            Ok(()) => Ok(Pending(outcomes)),
            Err(TrySendError::Full(_)) => Err(WriterError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(WriterError::Stopped),
        }
    }

    /// Submit and wait for the outcomes.
    pub fn apply(&self, commands: Vec<Command>) -> Result<Vec<Outcome>, WriterError> {
        self.submit(commands)?.wait()
    }

    /// The latest published snapshot (never blocks the writer).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshots.load()
    }
}

/// The single writer thread around a pure [`Ledger`].
#[derive(Debug)]
pub struct LedgerWriter {
    handle: WriterHandle,
    thread: JoinHandle<Ledger>,
}

impl LedgerWriter {
    /// Start the writer thread, taking ownership of `ledger`.
    pub fn spawn(ledger: Ledger, config: WriterConfig) -> Result<LedgerWriter, WriterError> {
        let (queue, messages) = crossbeam_channel::bounded(config.queue_batches_max.max(1));
        let snapshots = Arc::new(SnapshotSlot(RwLock::new(Arc::new(Snapshot::of(&ledger, 0)))));
        let slot = Arc::clone(&snapshots);
        let every = config.batches_per_snapshot_max.max(1);
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run(ledger, &messages, &slot, every))
            .map_err(|_| WriterError::Spawn)?;
        let handle =
            WriterHandle { queue, snapshots, batch_commands_max: config.batch_commands_max };
        Ok(LedgerWriter { handle, thread })
    }

    /// A handle for submitting and reading; clone it for each producer.
    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Let the thread finish the batches queued so far, publish a last snapshot, and take
    /// the ledger back (waits for queue space to send the stop). Afterwards every handle
    /// answers [`WriterError::Stopped`].
    pub fn shutdown(self) -> Result<Ledger, WriterError> {
        // A send error means the thread is gone already; join reports how it ended.
        let _ = self.handle.queue.send(Msg::Stop);
        drop(self.handle);
        self.thread.join().map_err(|_| WriterError::Stopped)
    }
}

fn run(mut ledger: Ledger, queue: &Receiver<Msg>, slot: &SnapshotSlot, every: usize) -> Ledger {
    let mut applied: u64 = 0;
    let mut unpublished: Option<Arc<Snapshot>> = None;
    let mut replies: Vec<(Sender<Vec<Outcome>>, Vec<Outcome>)> = Vec::with_capacity(every);
    loop {
        let first = match queue.try_recv() {
            Ok(m) => m,
            Err(TryRecvError::Empty) => {
                // Idle: make the latest state visible before sleeping.
                if let Some(s) = unpublished.take() {
                    slot.store(s);
                }
                match queue.recv() {
                    Ok(m) => m,
                    Err(_) => return ledger,
                }
            }
            Err(TryRecvError::Disconnected) => Msg::Stop,
        };
        let mut next = Some(first);
        let mut stop = false;
        while let Some(msg) = next.take() {
            let Msg::Batch(batch) = msg else {
                stop = true;
                break;
            };
            let outcomes = batch.commands.iter().map(|c| apply(&mut ledger, c)).collect();
            applied += 1;
            replies.push((batch.reply, outcomes));
            if replies.len() < every {
                next = queue.try_recv().ok();
            }
        }
        if !replies.is_empty() {
            // Publish before answering, so that (unless a reader held the slot at that very
            // instant) whoever sees its outcomes finds them in the snapshot too.
            let snapshot = Arc::new(Snapshot::of(&ledger, applied));
            unpublished = slot.try_store(snapshot);
        }
        for (reply, outcomes) in replies.drain(..) {
            // The submitter may have given up waiting; its outcomes are then dropped.
            let _ = reply.send(outcomes);
        }
        if stop {
            if let Some(s) = unpublished.take() {
                slot.store(s);
            }
            return ledger;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_never_waits_for_a_reader() {
        let slot = SnapshotSlot(RwLock::new(Arc::new(Snapshot::default())));
        let newer = Arc::new(Snapshot { batches: 7, ..Snapshot::default() });
        {
            let _reader = slot.0.read().unwrap();
            // A reader holds the slot: the writer gets its snapshot back instead of waiting.
            let back = slot.try_store(Arc::clone(&newer)).unwrap();
            assert_eq!(back.batches, 7);
        }
        assert!(slot.try_store(newer).is_none());
        assert_eq!(slot.load().batches, 7);
    }

    #[test]
    fn batches_apply_in_order_and_snapshots_follow() {
        let w = LedgerWriter::spawn(Ledger::default(), WriterConfig::default()).unwrap();
        let h = w.handle();
        let out = h
            .apply(vec![
                Command::CreateAccount { id: 1, flags: AccountFlags::FUNDING },
                Command::CreateAccount { id: 2, flags: AccountFlags::SETTLEMENT },
                Command::Fund { id: 1, funding: 1, participant: 2, amount: 50, now_ms: 1 },
                Command::Fund { id: 1, funding: 1, participant: 2, amount: 50, now_ms: 1 },
            ])
            .unwrap();
        assert_eq!(out[2], Outcome::Transfer(Ok(())));
        assert_eq!(out[3], Outcome::Transfer(Err(TransferError::Exists)));
        assert_eq!(h.submit(vec![]).unwrap_err(), WriterError::EmptyBatch);
        let l = w.shutdown().unwrap();
        assert_eq!(l.account(2).unwrap().balance(), 50);
        let snap = h.snapshot();
        assert_eq!(snap.account(2).unwrap().balance(), 50);
        assert_eq!(snap.batches, 1);
        assert_eq!(h.submit(vec![Command::Void { id: 9 }]).unwrap_err(), WriterError::Stopped);
    }
}
