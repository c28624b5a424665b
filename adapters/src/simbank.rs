//! A simulated participant bank built on the SDK: it has customer accounts with balances,
//! pays by alias, answers the transfers the switch forwards to it (accept if the account
//! exists, reject AC03 otherwise), credits its customers when the switch confirms
//! settlement, and matches the final status reports to the payments it sent.
//!
//! Used by `switchd demo`, the integration tests and the load test. It is a real client over
//! real TLS: nothing in it is mocked.

use crate::client::{Acker, BankClient, ClientError};
use crate::wire::Delivered;
use iso20022::codes::{StatusReason, TxStatus};
use iso20022::pacs002::{self, Pacs002, TxStatusReport};
use iso20022::pacs008::{self, CreditTransfer, GroupHeader, Pacs008};
use iso20022::{Account, AccountId, Agent, Amount, Currency, Limits, Party, Proxy};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Shortest time between two acknowledgements of the stream, and longest a read waits
/// before the bank acknowledges what it has processed.
pub const ACK_EVERY: Duration = Duration::from_millis(20);

/// Messages kept in a bank's delivery log.
const LOG_MAX: usize = 10_000;

/// The final answer to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// ACSC (settled) or RJCT.
    pub status: TxStatus,
    /// Reason of a reject.
    pub reason: Option<StatusReason>,
}

/// Simulated bank failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The switch refused the message or the connection failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No final status arrived in time.
    #[error("no final status for {0} within the wait")]
    Timeout(String),
}

/// Counters of a simulated bank.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Transfers the switch forwarded to this bank.
    pub received: AtomicU64,
    /// Of those, rejected because the account does not exist.
    pub rejected_unknown_account: AtomicU64,
    /// Confirmations of settlement credited to customers.
    pub credited: AtomicU64,
    /// Status reports that matched no pending payment (re-sent outcomes, late ones).
    pub unmatched_reports: AtomicU64,
    /// Delivered messages that were not UTF-8 (never sent by a correct switch).
    pub unreadable: AtomicU64,
}

/// Transfers a simulated bank answers in one pacs.002 at most (the switch's default limit of
/// transactions per message).
pub const ANSWERS_PER_MESSAGE: usize = 10;

/// The answers to the transfers of one pull, and the switch's `CreDtTm` to date them with.
#[derive(Debug, Default)]
struct Answers {
    reports: Vec<TxStatusReport>,
    created: String,
}

/// A simulated bank.
#[derive(Debug)]
pub struct SimBank {
    /// BIC.
    pub bic: String,
    client: BankClient,
    currency: Currency,
    accounts: Mutex<HashMap<String, i128>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    held: Mutex<HashMap<String, (String, u64)>>,
    cursor: AtomicU64,
    msg_seq: AtomicU64,
    answer_seq: AtomicU64,
    log: Mutex<Vec<crate::wire::Delivered>>,
    /// Counters.
    pub stats: SimStats,
}

impl SimBank {
    /// A bank with these customer accounts (number, opening balance in minor units).
    pub fn new(
        bic: &str,
        client: BankClient,
        currency: Currency,
        accounts: Vec<(String, i128)>,
    ) -> Arc<Self> {
        Arc::new(SimBank {
            bic: bic.to_string(),
            client,
            currency,
            accounts: Mutex::new(accounts.into_iter().collect()),
            pending: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
            cursor: AtomicU64::new(0),
            msg_seq: AtomicU64::new(0),
            answer_seq: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            stats: SimStats::default(),
        })
    }

    /// The underlying SDK client.
    pub fn client(&self) -> &BankClient {
        &self.client
    }

    /// A customer's balance.
    pub fn balance(&self, account: &str) -> Option<i128> {
        self.accounts.lock().ok().and_then(|a| a.get(account).copied())
    }

    /// Sum of all customer balances.
    pub fn total_balance(&self) -> i128 {
        self.accounts.lock().map(|a| a.values().sum()).unwrap_or(0)
    }

    /// The first messages the switch delivered to this bank (at most 10,000), for checks.
    pub fn delivered_log(&self) -> Vec<crate::wire::Delivered> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Last stream sequence processed.
    pub fn cursor(&self) -> u64 {
        self.cursor.load(Ordering::Acquire)
    }

    /// A pacs.008 paying `amount_minor` from `debtor_account` to the owner of `alias`.
    pub fn pacs008_by_alias(
        &self,
        e2e: &str,
        debtor_account: &str,
        alias: &str,
        amount_minor: u64,
        now: &str,
    ) -> Pacs008 {
        let n = self.msg_seq.fetch_add(1, Ordering::Relaxed);
        Pacs008 {
            header: GroupHeader {
                msg_id: format!("M{}{n}", &e2e.get(..e2e.len().min(20)).unwrap_or(e2e)),
                created: now.to_string(),
                settlement_method: "CLRG".into(),
                ..GroupHeader::default()
            },
            transactions: vec![CreditTransfer {
                end_to_end_id: e2e.to_string(),
                tx_id: Some(e2e.to_string()),
                amount: Amount { minor: amount_minor, currency: self.currency },
                charge_bearer: "SLEV".into(),
                debtor: Party { name: Some("Simulated payer".into()), ..Party::default() },
                debtor_account: Some(Account {
                    id: AccountId::Other(debtor_account.to_string()),
                    ..Account::default()
                }),
                debtor_agent: Agent::bic(&self.bic),
                creditor_agent: Agent {
                    other_id: Some(iso20022::common::NOT_PROVIDED.into()),
                    ..Agent::default()
                },
                creditor: Party { name: Some("Payee".into()), ..Party::default() },
                creditor_account: Some(Account {
                    id: AccountId::Other(iso20022::common::NOT_PROVIDED.into()),
                    proxy: Some(Proxy { id: alias.to_string(), ..Proxy::default() }),
                    ..Account::default()
                }),
                remittance: vec!["simulated payment".into()],
                ..CreditTransfer::default()
            }],
        }
    }

    /// Send a pacs.008 (its first transaction's EndToEndId is `e2e`) and wait for the final
    /// status report. The debtor's account is debited on ACSC.
    pub async fn send_and_wait(
        &self,
        e2e: &str,
        xml: String,
        wait: Duration,
    ) -> Result<Outcome, SimError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(e2e.to_string(), tx);
        }
        if let Err(e) = self.client.send(xml).await {
            if let Ok(mut p) = self.pending.lock() {
                p.remove(e2e);
            }
            return Err(e.into());
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(o)) => Ok(o),
            _ => {
                if let Ok(mut p) = self.pending.lock() {
                    p.remove(e2e);
                }
                Err(SimError::Timeout(e2e.to_string()))
            }
        }
    }

    /// Pay the owner of `alias` and wait for the outcome.
    pub async fn pay(
        &self,
        e2e: &str,
        debtor_account: &str,
        alias: &str,
        amount_minor: u64,
        now: &str,
        wait: Duration,
    ) -> Result<Outcome, SimError> {
        let msg = self.pacs008_by_alias(e2e, debtor_account, alias, amount_minor, now);
        let outcome = self.send_and_wait(e2e, pacs008::encode(&msg), wait).await?;
        if outcome.status == TxStatus::AcceptedSettlementCompleted {
            if let Ok(mut a) = self.accounts.lock() {
                *a.entry(debtor_account.to_string()).or_insert(0) -= i128::from(amount_minor);
            }
        }
        Ok(outcome)
    }

    /// Read this bank's message stream (`GET /v1/stream`) and answer what it delivers until
    /// `stop` turns true: transfers forwarded to it are accepted or rejected, final statuses
    /// are matched to pending payments, confirmations credit the customers. The stream is
    /// reopened from the cursor when it ends or fails, and acknowledged as it goes (at most
    /// every [`ACK_EVERY`]).
    pub fn spawn_inbox(
        self: &Arc<Self>,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let bank = self.clone();
        let acker = Acker::new(ACK_EVERY);
        tokio::spawn(async move {
            loop {
                let opened = tokio::select! {
                    s = bank.client.stream(bank.cursor()) => s,
                    _ = stop.changed() => return,
                };
                let Ok(mut stream) = opened else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                loop {
                    let read = tokio::select! {
                        r = tokio::time::timeout(ACK_EVERY, stream.next()) => r,
                        _ = stop.changed() => return,
                    };
                    match read {
                        Ok(Ok(Some(frames))) => {
                            let next = frames.last().map_or(0, |f| f.seq);
                            bank.take(frames, next);
                            acker.ack(&bank.client, bank.cursor());
                        }
                        Ok(Ok(None)) => {
                            // Ended cleanly; a message the stream could not frame comes by a
                            // pull (as JSON), then the next stream opens.
                            if let Ok(p) = bank.client.pull_framed(bank.cursor(), 100, 0).await {
                                bank.take(p.messages, p.next);
                            }
                            break;
                        }
                        Ok(Err(_)) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            break;
                        }
                        // Idle: acknowledge what the last reads delivered.
                        Err(_) => acker.ack(&bank.client, bank.cursor()),
                    }
                }
            }
        })
    }

    /// Like [`SimBank::spawn_inbox`], by long-poll pulls instead (`GET /v1/messages`, at most
    /// 100 messages per pull, 500 ms wait); each pull acknowledges the previous ones.
    pub fn spawn_pull_inbox(
        self: &Arc<Self>,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let bank = self.clone();
        tokio::spawn(async move {
            loop {
                let after = bank.cursor();
                let pulled = tokio::select! {
                    p = bank.client.pull_framed(after, 100, 500) => p,
                    _ = stop.changed() => return,
                };
                let Ok(pulled) = pulled else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                bank.take(pulled.messages, pulled.next);
            }
        })
    }

    /// Process the messages of one read, answer the transfers among them, keep them in the
    /// delivery log and move the cursor to `next`.
    fn take(self: &Arc<Self>, messages: Vec<crate::wire::Frame>, next: u64) {
        let mut delivered = Vec::with_capacity(messages.len());
        let mut answers = Answers::default();
        for m in messages {
            // The switch only sends UTF-8 XML; anything else is counted, not read.
            let Ok(xml) = String::from_utf8(m.xml.to_vec()) else {
                self.stats.unreadable.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            self.process(&m.msg_type, &xml, &mut answers);
            delivered.push(Delivered { seq: m.seq, msg_type: m.msg_type, xml });
        }
        self.answer_all(answers);
        if let Ok(mut log) = self.log.lock() {
            let room = LOG_MAX.saturating_sub(log.len());
            log.extend(delivered.into_iter().take(room));
        }
        self.cursor.fetch_max(next, Ordering::AcqRel);
    }

    fn process(self: &Arc<Self>, msg_type: &str, xml: &str, answers: &mut Answers) {
        let limits = Limits::default();
        match msg_type {
            "pacs.008.001.08" => {
                if let Ok(m) = pacs008::decode(xml.as_bytes(), &limits) {
                    self.answer_transfer(m, answers);
                }
            }
            "pacs.002.001.10" => {
                if let Ok(m) = pacs002::decode(xml.as_bytes(), &limits) {
                    for r in &m.transactions {
                        self.take_report(r);
                    }
                }
            }
            _ => {}
        }
    }

    fn take_report(&self, r: &TxStatusReport) {
        let e2e = r.original_end_to_end_id.clone().unwrap_or_default();
        let key = r.clearing_ref.clone().unwrap_or_default();
        match r.status {
            TxStatus::AcceptedCreditSettlementCompleted => {
                let held = self.held.lock().ok().and_then(|mut h| h.remove(&key));
                if let Some((account, amount)) = held {
                    if let Ok(mut a) = self.accounts.lock() {
                        *a.entry(account).or_insert(0) += i128::from(amount);
                    }
                    self.stats.credited.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            TxStatus::Rejected
                if self.held.lock().ok().is_some_and(|mut h| h.remove(&key).is_some()) =>
            {
                return;
            }
            _ => {}
        }
        let waiter = self.pending.lock().ok().and_then(|mut p| p.remove(&e2e));
        match waiter {
            Some(w) => {
                let _ = w.send(Outcome { status: r.status, reason: r.reason });
            }
            None => {
                self.stats.unmatched_reports.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Decide on every transaction of a forwarded pacs.008; the reports go to `answers`,
    /// each naming its transfer by the switch's reference (`ClrSysRef`, the forwarded MsgId).
    fn answer_transfer(self: &Arc<Self>, m: Pacs008, answers: &mut Answers) {
        answers.created.clone_from(&m.header.created);
        for tx in m.transactions {
            self.stats.received.fetch_add(1, Ordering::Relaxed);
            let account =
                tx.creditor_account.as_ref().map(|a| a.id.as_str().to_string()).unwrap_or_default();
            let known = self.accounts.lock().is_ok_and(|a| a.contains_key(&account));
            let (status, reason) = if known {
                if let Ok(mut h) = self.held.lock() {
                    h.insert(m.header.msg_id.clone(), (account, tx.amount.minor));
                }
                (TxStatus::AcceptedSettlementInProcess, None)
            } else {
                self.stats.rejected_unknown_account.fetch_add(1, Ordering::Relaxed);
                (TxStatus::Rejected, Some(StatusReason::InvalidCreditorAccountNumber))
            };
            answers.reports.push(TxStatusReport {
                original_instr_id: tx.instr_id,
                original_end_to_end_id: Some(tx.end_to_end_id),
                original_tx_id: tx.tx_id,
                original_uetr: tx.uetr,
                status,
                reason,
                clearing_ref: Some(m.header.msg_id.clone()),
                ..TxStatusReport::default()
            });
        }
    }

    /// Send the answers of one pull, [`ANSWERS_PER_MESSAGE`] per pacs.002 at most.
    fn answer_all(self: &Arc<Self>, answers: Answers) {
        let created = answers.created;
        let mut answers = answers.reports.into_iter().peekable();
        while answers.peek().is_some() {
            let transactions: Vec<TxStatusReport> =
                answers.by_ref().take(ANSWERS_PER_MESSAGE).collect();
            // Its own counter: the MsgIds of this bank's payments must not depend on how many
            // answers it sent.
            let n = self.answer_seq.fetch_add(1, Ordering::Relaxed);
            let report = Pacs002 {
                msg_id: format!("R{}{n:012}", self.bic),
                created: created.clone(),
                transactions,
                ..Pacs002::default()
            };
            let bank = self.clone();
            tokio::spawn(async move {
                let xml = bytes::Bytes::from(pacs002::encode(&report));
                for attempt in 0..5u64 {
                    match bank.client.send(xml.clone()).await {
                        Ok(_) => return,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await
                        }
                    }
                }
            });
        }
    }
}

impl crate::callback::PushReceiver for SimBank {
    fn taken(&self) -> u64 {
        self.cursor()
    }

    fn take_pushed(self: &Arc<Self>, frames: Vec<crate::wire::Frame>, next: u64) {
        self.take(frames, next);
    }
}
