//! A load-test bank: one HTTP/2 + mTLS connection to the switch that sends prepared pacs.008,
//! reads its stream (or pulls it), answers the transfers forwarded to it (ACSP) and matches the final
//! pacs.002 (ACSC or RJCT) to the payments it is waiting for.
//!
//! Unlike `adapters::simbank::SimBank` it survives a switch crash: when a request fails on the
//! connection (refused, reset), the connection is dropped and the next user reconnects, with a
//! doubling back-off; its stream cursor and its waiting payments are kept. A payment whose send
//! failed is counted as an error (never silently dropped) and remembered, so a final answer that
//! still arrives after a restart is logged as *late*.
//!
//! Guarantees: every final answer matched to a payment of this run is counted once and written
//! once to the acknowledgement log. Bounds: waiting payments are capped by the caller's
//! in-flight limit, answers are retried at most [`ANSWER_ATTEMPTS_MAX`] times, every request has
//! a timeout. It must not hold a lock across an await, nor build messages on the send path.

use crate::scan;
use crate::stats::Shared;
use adapters::client::{Acker, BankClient, ClientError, FramedPull};
use adapters::wire::Frame;
use iso20022::codes::{StatusReason, TxStatus};
use iso20022::pacs002::{self, Pacs002, TxStatusReport};
use iso20022::{pacs008, Limits};
use rustls::ClientConfig;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Attempts to deliver one ACSP answer.
pub const ANSWER_ATTEMPTS_MAX: u64 = 5;
/// Longest wait for a TCP + TLS + HTTP/2 connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for one send.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// First and longest reconnect back-off.
pub const BACKOFF: (Duration, Duration) = (Duration::from_millis(20), Duration::from_secs(1));
/// Messages asked for by one pull, and its long-poll wait.
pub const PULL: (u32, u64) = (100, 200);
/// Shortest time between two acknowledgements of the stream.
pub const ACK_EVERY: Duration = Duration::from_millis(20);
/// Longest a stream read waits before the bank acknowledges what it has processed.
pub const ACK_IDLE: Duration = Duration::from_millis(50);
/// A stream that delivers nothing for this long is taken as dead (the switch ends each
/// stream within a minute).
pub const STREAM_SILENCE_MAX: Duration = Duration::from_secs(70);
/// Forwarded transfers answered by one pacs.002 at most (the switch's default
/// `transactions_per_message_max`).
pub const ANSWER_BATCH: usize = 10;
/// Remembered failed or timed-out payments per bank, for late answers.
pub const LATE_MAX: usize = 1_000_000;

/// A payment waiting for its final status.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    due: Instant,
    expect_reject: bool,
}

#[derive(Debug)]
struct Reconnect {
    next_try: Instant,
    backoff: Duration,
}

/// One simulated bank.
#[derive(Debug)]
pub struct Bank {
    /// BIC.
    pub bic: String,
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    current: Mutex<Option<(u64, BankClient)>>,
    reconnect: tokio::sync::Mutex<Reconnect>,
    generation: AtomicU64,
    waiting: Mutex<HashMap<String, Waiting>>,
    late: Mutex<HashSet<String>>,
    cursor: AtomicU64,
    shared: Arc<Shared>,
    full_decode: bool,
    answer_batch: usize,
    json_pulls: bool,
    streaming: bool,
    acker: Arc<Acker>,
    answers_sent: AtomicU64,
    created: String,
}

/// Why a connection could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    /// The last connect failed and the back-off has not run out.
    #[error("switch unreachable, backing off")]
    BackingOff,
    /// Connect failed.
    #[error("connect: {0}")]
    Connect(String),
}

fn breaks_connection(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Connect(_) | ClientError::Tls(_) | ClientError::Http(_) | ClientError::H2(_)
    )
}

impl Bank {
    /// A bank that will connect on first use.
    pub fn new(bic: &str, addr: SocketAddr, tls: Arc<ClientConfig>, shared: Arc<Shared>) -> Bank {
        Bank {
            bic: bic.to_string(),
            addr,
            tls,
            current: Mutex::new(None),
            reconnect: tokio::sync::Mutex::new(Reconnect {
                next_try: Instant::now(),
                backoff: BACKOFF.0,
            }),
            generation: AtomicU64::new(0),
            waiting: Mutex::new(HashMap::new()),
            late: Mutex::new(HashSet::new()),
            cursor: AtomicU64::new(0),
            shared,
            full_decode: false,
            answer_batch: ANSWER_BATCH,
            json_pulls: false,
            streaming: true,
            acker: Acker::new(ACK_EVERY),
            answers_sent: AtomicU64::new(0),
            created: switch::time::iso_datetime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            ),
        }
    }

    /// Decode every delivered message in full instead of scanning for the ids (to measure what
    /// the scan saves).
    pub fn with_full_decode(mut self, on: bool) -> Bank {
        self.full_decode = on;
        self
    }

    /// The current connection, connecting if there is none and the back-off allows.
    pub async fn client(&self) -> Result<(u64, BankClient), BankError> {
        if let Some(c) = self.current.lock().ok().and_then(|c| c.clone()) {
            return Ok(c);
        }
        // Boxed: the connect future is about 3 KB, and inline it would make every send's
        // future (spawned, hence moved, once per payment) that large.
        Box::pin(self.reconnect()).await
    }

    /// The slow path of [`Bank::client`]: connect, one caller at a time, within the back-off.
    async fn reconnect(&self) -> Result<(u64, BankClient), BankError> {
        let mut r = self.reconnect.lock().await;
        if let Some(c) = self.current.lock().ok().and_then(|c| c.clone()) {
            return Ok(c);
        }
        if Instant::now() < r.next_try {
            return Err(BankError::BackingOff);
        }
        let attempt = tokio::time::timeout(
            CONNECT_TIMEOUT,
            BankClient::connect(self.addr, "localhost", self.tls.clone()),
        )
        .await;
        match attempt {
            Ok(Ok(client)) => {
                let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
                if generation > 1 {
                    self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                r.backoff = BACKOFF.0;
                if let Ok(mut c) = self.current.lock() {
                    *c = Some((generation, client.clone()));
                }
                Ok((generation, client))
            }
            Ok(Err(e)) => {
                r.next_try = Instant::now() + r.backoff;
                r.backoff = (r.backoff * 2).min(BACKOFF.1);
                Err(BankError::Connect(e.to_string()))
            }
            Err(_) => {
                r.next_try = Instant::now() + r.backoff;
                r.backoff = (r.backoff * 2).min(BACKOFF.1);
                Err(BankError::Connect("timed out".into()))
            }
        }
    }

    fn drop_connection(&self, generation: u64) {
        if let Ok(mut c) = self.current.lock() {
            if c.as_ref().is_some_and(|(g, _)| *g == generation) {
                *c = None;
            }
        }
    }

    /// Answer at most `n` (at least 1) forwarded transfers per pacs.002.
    pub fn with_answer_batch(mut self, n: usize) -> Bank {
        self.answer_batch = n.max(1);
        self
    }

    /// Pull in JSON instead of `multipart/mixed` frames (to measure what the frames save).
    pub fn with_json_pulls(mut self, on: bool) -> Bank {
        self.json_pulls = on;
        self
    }

    /// Payments waiting for their final status.
    pub fn waiting_count(&self) -> usize {
        self.waiting.lock().map(|w| w.len()).unwrap_or(0)
    }

    /// Send one prepared payment scheduled at `due`; its answer arrives through the inbox.
    pub async fn send(&self, e2e: String, xml: String, due: Instant, expect_reject: bool) {
        self.send_batch(vec![(e2e, due, expect_reject)], xml).await;
    }

    /// Send one pacs.008 carrying the payments `items` (EndToEndId, scheduled time, whether it
    /// must be rejected); their answers arrive through the inbox. A failed send counts every
    /// payment in it as an error.
    pub async fn send_batch(&self, items: Vec<(String, Instant, bool)>, xml: String) {
        if let Ok(mut w) = self.waiting.lock() {
            for (e2e, due, expect_reject) in &items {
                w.insert(e2e.clone(), Waiting { due: *due, expect_reject: *expect_reject });
            }
        }
        let failed = match self.client().await {
            Err(_) => true,
            Ok((generation, client)) => {
                match tokio::time::timeout(SEND_TIMEOUT, client.send(xml)).await {
                    Ok(Ok(_)) => false,
                    Ok(Err(e)) => {
                        if breaks_connection(&e) {
                            self.drop_connection(generation);
                        } else {
                            self.shared.refused.fetch_add(items.len() as u64, Ordering::Relaxed);
                        }
                        true
                    }
                    Err(_) => true,
                }
            }
        };
        if failed {
            for (e2e, _, _) in &items {
                self.give_up(e2e, &self.shared.send_errors);
            }
        }
    }

    /// Stop waiting for `e2e` (if still waiting) and count it in `counter`.
    fn give_up(&self, e2e: &str, counter: &AtomicU64) {
        let was_waiting = self.waiting.lock().ok().and_then(|mut w| w.remove(e2e)).is_some();
        if was_waiting {
            self.shared.inflight.fetch_sub(1, Ordering::Relaxed);
            counter.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut l) = self.late.lock() {
                if l.len() < LATE_MAX {
                    l.insert(e2e.to_string());
                }
            }
        }
    }

    /// Give up on payments scheduled more than `wait` ago; returns how many.
    pub fn expire(&self, wait: Duration) -> usize {
        let now = Instant::now();
        let old: Vec<String> = match self.waiting.lock() {
            Ok(w) => w
                .iter()
                .filter(|(_, v)| now.saturating_duration_since(v.due) > wait)
                .map(|(k, _)| k.clone())
                .collect(),
            Err(_) => Vec::new(),
        };
        for e2e in &old {
            self.give_up(e2e, &self.shared.timeouts);
        }
        old.len()
    }

    /// Take messages by long-poll pulls (`GET /v1/messages`) instead of the stream
    /// (`GET /v1/stream`).
    pub fn with_pulls(mut self, on: bool) -> Bank {
        self.streaming = !on;
        self
    }

    /// Process the messages of one pull or stream read, answer the transfers among them and
    /// move the cursor past them.
    fn take(self: &Arc<Self>, frames: &[Frame], next: u64) {
        if !frames.is_empty() {
            self.shared.pulls.fetch_add(1, Ordering::Relaxed);
            self.shared.pulled.fetch_add(frames.len() as u64, Ordering::Relaxed);
        }
        let mut answers = Vec::new();
        for m in frames {
            match std::str::from_utf8(&m.xml) {
                Ok(xml) => self.process(&m.msg_type, xml, &mut answers),
                Err(_) => {
                    self.shared.undecodable.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.answer_all(answers);
        self.cursor.fetch_max(next, Ordering::AcqRel);
    }

    /// Acknowledge the cursor (paced by the [`Acker`]).
    fn ack_cursor(&self, client: &BankClient) {
        self.acker.ack(client, self.cursor.load(Ordering::Acquire));
    }

    /// The connection, waiting out failed connects; `None` once `stop` turns true.
    async fn connected(&self, stop: &mut watch::Receiver<bool>) -> Option<(u64, BankClient)> {
        loop {
            if *stop.borrow() {
                return None;
            }
            match self.client().await {
                Ok(c) => return Some(c),
                Err(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(BACKOFF.0) => {}
                        _ = stop.changed() => return None,
                    }
                }
            }
        }
    }

    /// Read the stream (`GET /v1/stream`) and process it until `stop` turns true: reopened
    /// from the cursor when it ends or its connection is lost, acknowledged as it goes.
    async fn run_stream(self: &Arc<Self>, stop: &mut watch::Receiver<bool>) {
        while !*stop.borrow() {
            let Some((generation, client)) = self.connected(stop).await else { return };
            let after = self.cursor.load(Ordering::Acquire);
            let opened = tokio::select! {
                o = tokio::time::timeout(SEND_TIMEOUT, client.stream(after)) => o,
                _ = stop.changed() => return,
            };
            let mut stream = match opened {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    if breaks_connection(&e) {
                        self.drop_connection(generation);
                    }
                    tokio::time::sleep(BACKOFF.0).await;
                    continue;
                }
                Err(_) => {
                    self.drop_connection(generation);
                    continue;
                }
            };
            // Reads wake at least every ACK_IDLE to acknowledge what the last one delivered;
            // a stream silent for longer than its lifetime is dead.
            let mut silent = Duration::ZERO;
            loop {
                let read = tokio::select! {
                    r = tokio::time::timeout(ACK_IDLE, stream.next()) => r,
                    _ = stop.changed() => return,
                };
                match read {
                    Ok(Ok(Some(frames))) => {
                        silent = Duration::ZERO;
                        let next = frames.last().map_or(0, |f| f.seq);
                        self.take(&frames, next);
                        self.ack_cursor(&client);
                    }
                    Ok(Ok(None)) => {
                        // Ended cleanly: what stopped it (a message the stream cannot frame)
                        // comes by one pull, then the next stream opens.
                        let after = self.cursor.load(Ordering::Acquire);
                        if let Ok(Ok(p)) =
                            tokio::time::timeout(SEND_TIMEOUT, client.pull_framed(after, PULL.0, 0))
                                .await
                        {
                            self.take(&p.messages, p.next);
                        }
                        break;
                    }
                    Ok(Err(e)) => {
                        if breaks_connection(&e) || matches!(e, ClientError::StreamCut) {
                            self.drop_connection(generation);
                        }
                        tokio::time::sleep(BACKOFF.0).await;
                        break;
                    }
                    Err(_) => {
                        self.ack_cursor(&client);
                        silent += ACK_IDLE;
                        if silent > STREAM_SILENCE_MAX {
                            self.drop_connection(generation);
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Pull and process the stream until `stop` turns true.
    pub fn spawn_inbox(
        self: &Arc<Self>,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let bank = self.clone();
        tokio::spawn(async move {
            if bank.streaming {
                return bank.run_stream(&mut stop).await;
            }
            while !*stop.borrow() {
                let Some((generation, client)) = bank.connected(&mut stop).await else { return };
                let after = bank.cursor.load(Ordering::Acquire);
                let json = bank.json_pulls;
                let pull =
                    tokio::time::timeout(Duration::from_millis(PULL.1 + 5_000), async move {
                        if json {
                            client.pull(after, PULL.0, PULL.1).await.map(FramedPull::from)
                        } else {
                            client.pull_framed(after, PULL.0, PULL.1).await
                        }
                    });
                let pulled = tokio::select! {
                    p = pull => p,
                    _ = stop.changed() => return,
                };
                let pulled = match pulled {
                    Ok(Ok(p)) => p,
                    Ok(Err(e)) => {
                        if breaks_connection(&e) {
                            bank.drop_connection(generation);
                        }
                        tokio::time::sleep(BACKOFF.0).await;
                        continue;
                    }
                    Err(_) => {
                        bank.drop_connection(generation);
                        continue;
                    }
                };
                bank.take(&pulled.messages, pulled.next);
            }
        })
    }

    /// Read one delivered message; transfers forwarded to this bank are added to `answers`.
    fn process(self: &Arc<Self>, msg_type: &str, xml: &str, answers: &mut Vec<TxStatusReport>) {
        let limits = Limits::default();
        match msg_type {
            "pacs.008.001.08" => {
                if let Some(ids) = scan::transfer(xml).filter(|_| !self.full_decode) {
                    answers.extend(acceptances(&ids));
                    return;
                }
                match pacs008::decode(xml.as_bytes(), &limits) {
                    Ok(m) => answers.extend(acceptances(&scan::TransferIds::of(&m))),
                    Err(_) => {
                        self.shared.undecodable.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            "pacs.002.001.10" => {
                if let Some(reports) = scan::reports(xml).filter(|_| !self.full_decode) {
                    for r in reports {
                        self.take_report(r.e2e, r.status, r.reason);
                    }
                    return;
                }
                match pacs002::decode(xml.as_bytes(), &limits) {
                    Ok(m) => {
                        for r in &m.transactions {
                            let Some(e2e) = r.original_end_to_end_id.as_deref() else { continue };
                            let reason = r.reason.map_or("-", StatusReason::code);
                            self.take_report(e2e, r.status.code(), reason);
                        }
                    }
                    Err(_) => {
                        self.shared.undecodable.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ => {}
        }
    }

    /// A final status (`status` is the ISO code) for `e2e`; other statuses are ignored.
    fn take_report(&self, e2e: &str, status: &str, reason: &str) {
        let accepted = match status {
            "ACSC" => true,
            "RJCT" => false,
            _ => return,
        };
        let waiting = self.waiting.lock().ok().and_then(|mut w| w.remove(e2e));
        match waiting {
            Some(w) => {
                self.shared.inflight.fetch_sub(1, Ordering::Relaxed);
                self.shared.answered(w.due, accepted, w.expect_reject);
                self.shared.ack(&self.bic, e2e, status, reason);
            }
            None => {
                if self.late.lock().ok().is_some_and(|mut l| l.remove(e2e)) {
                    self.shared.late_answers.fetch_add(1, Ordering::Relaxed);
                    self.shared.ack(&self.bic, e2e, status, reason);
                } else {
                    self.shared.unmatched.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Send the acceptances of one pull, at most `batch` per pacs.002.
    fn answer_all(self: &Arc<Self>, answers: Vec<TxStatusReport>) {
        let mut answers = answers.into_iter().peekable();
        while answers.peek().is_some() {
            let chunk: Vec<TxStatusReport> = answers.by_ref().take(self.answer_batch).collect();
            self.answer(chunk);
        }
    }

    /// Send one pacs.002 with `transactions`, each naming its transfer by the switch's
    /// reference (`ClrSysRef`), so one answer may cover transfers of several messages.
    fn answer(self: &Arc<Self>, transactions: Vec<TxStatusReport>) {
        let n = self.answers_sent.fetch_add(1, Ordering::Relaxed);
        let report = Pacs002 {
            msg_id: format!("R{}{n:010}", self.bic),
            created: self.created.clone(),
            transactions,
            ..Pacs002::default()
        };
        let xml = bytes::Bytes::from(pacs002::encode(&report));
        let bank = self.clone();
        tokio::spawn(async move {
            for attempt in 0..ANSWER_ATTEMPTS_MAX {
                if let Ok((generation, client)) = bank.client().await {
                    match tokio::time::timeout(SEND_TIMEOUT, client.send(xml.clone())).await {
                        Ok(Ok(_)) => return,
                        Ok(Err(e)) if breaks_connection(&e) => bank.drop_connection(generation),
                        _ => {}
                    }
                }
                tokio::time::sleep(BACKOFF.0 * (attempt as u32 + 1)).await;
            }
            bank.shared.answers_lost.fetch_add(1, Ordering::Relaxed);
        });
    }
}

impl adapters::callback::PushReceiver for Bank {
    fn taken(&self) -> u64 {
        self.cursor.load(Ordering::Acquire)
    }

    fn take_pushed(self: &Arc<Self>, frames: Vec<Frame>, next: u64) {
        self.take(&frames, next);
    }
}

/// ACSP for every transaction of a forwarded pacs.008, referenced by the switch's MsgId as
/// `ClrSysRef` (the switch forwards one transaction per message).
fn acceptances<'a>(m: &'a scan::TransferIds<'a>) -> impl Iterator<Item = TxStatusReport> + 'a {
    m.transactions.iter().map(|tx| TxStatusReport {
        original_instr_id: tx.instr_id.map(str::to_string),
        original_end_to_end_id: Some(tx.end_to_end_id.to_string()),
        original_tx_id: tx.tx_id.map(str::to_string),
        original_uetr: tx.uetr.map(str::to_string),
        clearing_ref: Some(m.msg_id.to_string()),
        status: TxStatus::AcceptedSettlementInProcess,
        ..TxStatusReport::default()
    })
}
