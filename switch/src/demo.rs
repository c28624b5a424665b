//! `switchd demo`: the switch on its embedded default with three simulated banks paying each
//! other by alias over loopback TLS, including payments that must be rejected (unknown alias,
//! insufficient funds), then the exception flows (a status enquiry, a return, a recall
//! accepted and returned), then a summary whose last line is machine-readable:
//! `summary: accepted=N rejected=N tps=X p50_ms=X p99_ms=X returns=N recalls=N enquiries=N
//! conserved=true|false`.

use crate::config::Config;
use crate::devnet;
use crate::node::Node;
use crate::runtime::{Query, QueryAnswer};
use adapters::client::BankClient;
use adapters::simbank::SimBank;
use iso20022::codes::TxStatus;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// Demo options.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Data directory.
    pub data: PathBuf,
    /// Transfers to send.
    pub transfers: u64,
    /// Payments in flight at once.
    pub concurrency: usize,
    /// Workload seed (same seed, same payments).
    pub seed: u64,
    /// Per mille of payments to an alias nobody registered.
    pub unknown_alias_per_mille: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            data: PathBuf::from("./data"),
            transfers: 10_000,
            concurrency: 256,
            seed: 42,
            unknown_alias_per_mille: 20,
        }
    }
}

/// What the demo measured.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Payments settled (ACSC).
    pub accepted: u64,
    /// Payments rejected (RJCT), any reason.
    pub rejected: u64,
    /// Payments that got no final answer (must be 0).
    pub unanswered: u64,
    /// Rejects by ISO reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Completed payments per second.
    pub tps: f64,
    /// Median latency, send to final status.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// Balances add up to funding and the ledger audit passes.
    pub conserved: bool,
    /// Positions at the end: (BIC, balance minor units).
    pub positions: Vec<(String, i128)>,
    /// Events replayed from an earlier run's journal.
    pub replayed: u64,
    /// Returns settled in this run.
    pub returns: u64,
    /// Recalls opened in this run.
    pub recalls: u64,
    /// Status enquiries answered in this run.
    pub enquiries: u64,
}

impl DemoReport {
    /// The last line of the demo's output.
    pub fn summary_line(&self) -> String {
        format!(
            "summary: accepted={} rejected={} tps={:.0} p50_ms={:.2} p99_ms={:.2} returns={} \
             recalls={} enquiries={} conserved={}",
            self.accepted,
            self.rejected,
            self.tps,
            self.p50_ms,
            self.p99_ms,
            self.returns,
            self.recalls,
            self.enquiries,
            self.conserved
        )
    }
}

/// xorshift64*: a small deterministic generator for the workload.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (a zero seed is replaced).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// Next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..hi` (hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

struct Payment {
    debtor: usize,
    account: String,
    alias: String,
    amount_minor: u64,
}

fn workload(cfg: &Config, opts: &DemoOptions) -> Vec<Payment> {
    let mut rng = Rng::new(opts.seed);
    let banks = cfg.participants.len();
    (0..opts.transfers)
        .map(|k| {
            let debtor = (k as usize) % banks;
            let creditor = (debtor + 1 + rng.range(0, banks as u64 - 1) as usize) % banks;
            let customers = cfg.participants.get(creditor).map_or(1, |p| p.dev_customers.max(1));
            let c = rng.range(0, u64::from(customers)) as u32;
            let alias = if rng.range(0, 1000) < opts.unknown_alias_per_mille {
                format!("+55118{:08}", rng.range(0, 100_000_000))
            } else {
                let cust = devnet::customers(creditor as u32, c + 1).last();
                let which = rng.range(0, 3) as usize;
                cust.and_then(|cu| cu.keys.get(which).cloned()).unwrap_or_default()
            };
            let payer_customers =
                cfg.participants.get(debtor).map_or(1, |p| p.dev_customers.max(1));
            let account = format!("{:06}", rng.range(1, u64::from(payer_customers) + 1));
            // The last bank is thinly funded; now and then it tries a payment far beyond its
            // balance, which must be refused for insufficient funds.
            let amount_minor = if debtor + 1 == banks && k % 40 == 2 {
                cfg.scheme.transaction_amount_max_minor
            } else {
                rng.range(100, 50_000)
            };
            Payment { debtor, account, alias, amount_minor }
        })
        .collect()
}

async fn counters(node: &Node) -> anyhow::Result<crate::core::Counters> {
    match node.core.query(Query::Positions).await.map_err(|e| anyhow::anyhow!("{e:?}"))? {
        QueryAnswer::Positions { counters, .. } => Ok(counters),
        _ => anyhow::bail!("unexpected answer to a positions query"),
    }
}

/// The exception flows, once each: the first bank pays the second twice, asks for the
/// status of the first payment, the second bank returns the first payment, and the first
/// bank recalls the second, which the second bank accepts and returns. Returns how many
/// returns, recalls and enquiries the switch applied meanwhile.
async fn exception_flows(
    node: &Node,
    banks: &[Arc<SimBank>],
    run_id: u64,
    now: &str,
) -> anyhow::Result<crate::core::Counters> {
    use adapters::exceptions::{self as x, Original};
    use iso20022::codes::{CancellationReason, ReturnReason};
    let (Some(a), Some(b)) = (banks.first(), banks.get(1)) else {
        anyhow::bail!("the demo needs two banks");
    };
    let before = counters(node).await?;
    let currency = iso20022::Currency::parse("BRL").unwrap_or_default();
    let mut originals = Vec::new();
    for (k, amount) in [(0, 1_000u64), (1, 2_000)] {
        let e2e = format!("X{run_id:x}{k}");
        let alias = devnet::customers(1, 1).last().and_then(|c| c.keys.first().cloned());
        let mut msg = a.pacs008_by_alias(&e2e, "000001", &alias.unwrap_or_default(), amount, now);
        // A UETR (UUIDv4) both banks can name the transfer by.
        let uetr = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (run_id >> 16) & 0xffff_ffff,
            run_id & 0xffff,
            k,
            k,
            run_id & 0xffff_ffff_ffff
        );
        for t in &mut msg.transactions {
            t.uetr = Some(uetr.clone());
        }
        let out =
            a.send_and_wait(&e2e, iso20022::pacs008::encode(&msg), Duration::from_secs(30)).await?;
        anyhow::ensure!(out.status == TxStatus::AcceptedSettlementCompleted, "{e2e}: {out:?}");
        let tx = msg.transactions.first();
        originals.push((
            Original {
                msg_id: Some(msg.header.msg_id.clone()),
                end_to_end_id: Some(e2e),
                tx_id: tx.and_then(|t| t.tx_id.clone()),
                uetr: tx.and_then(|t| t.uetr.clone()),
                clearing_ref: None,
            },
            amount,
        ));
    }
    let (Some((first, amount1)), Some((second, amount2))) = (originals.first(), originals.get(1))
    else {
        anyhow::bail!("payments missing");
    };
    // The creditor knows the transfer by its UETR (or the forwarded IPSF reference).
    let by_uetr = |o: &Original| Original { uetr: o.uetr.clone(), ..Original::default() };
    let tag = format!("{run_id:x}");
    let messages = [
        (a, iso20022::pacs028::encode(&x::status_enquiry(&a.bic, &format!("Q{tag}"), first, now))),
        (
            b,
            iso20022::pacs004::encode(&x::return_payment(
                &b.bic,
                &format!("R{tag}"),
                &by_uetr(first),
                *amount1,
                currency,
                ReturnReason::RefundRequestByEndCustomer,
                now,
            )),
        ),
        (
            a,
            iso20022::camt056::encode(&x::recall(
                &a.bic,
                &format!("C{tag}"),
                second,
                CancellationReason::DuplicatePayment,
                "sent twice",
                now,
            )),
        ),
        (
            b,
            iso20022::camt029::encode(&x::answer_recall(
                &b.bic,
                &format!("A{tag}"),
                &by_uetr(second),
                None,
                now,
            )),
        ),
        (
            b,
            iso20022::pacs004::encode(&x::return_payment(
                &b.bic,
                &format!("F{tag}"),
                &by_uetr(second),
                *amount2,
                currency,
                ReturnReason::FollowingCancellationRequest,
                now,
            )),
        ),
    ];
    for (bank, xml) in messages {
        // Each is durable and applied before the next is sent (202 after the sync).
        bank.client().send(xml).await?;
    }
    let after = counters(node).await?;
    Ok(crate::core::Counters {
        returns: after.returns.saturating_sub(before.returns),
        recalls: after.recalls.saturating_sub(before.recalls),
        enquiries: after.enquiries.saturating_sub(before.enquiries),
        ..after
    })
}

/// Run the demo.
pub async fn run(opts: &DemoOptions) -> anyhow::Result<DemoReport> {
    let mut cfg = Config::dev(&opts.data);
    cfg.listen = "127.0.0.1:0".into();
    let node = Node::start(&cfg).await?;
    let currency = iso20022::Currency::parse(&cfg.scheme.currency).unwrap_or_default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut banks = Vec::new();
    for (i, p) in cfg.participants.iter().enumerate() {
        let client = BankClient::connect(node.addr, "localhost", node.client_tls(&p.bic)?).await?;
        let accounts = devnet::customers(i as u32, p.dev_customers)
            .map(|c| (c.account, 1_000_000_000i128))
            .collect();
        let bank = SimBank::new(&p.bic, client, currency, accounts);
        bank.spawn_inbox(stop_rx.clone());
        banks.push(bank);
    }
    let payments = workload(&cfg, opts);
    let run_id = crate::time::now_ms();
    let created = crate::time::iso_datetime(run_id);
    let limit = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(payments.len());
    for (k, p) in payments.into_iter().enumerate() {
        let Some(bank) = banks.get(p.debtor).cloned() else { continue };
        let permit = limit.clone().acquire_owned().await?;
        let created = created.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let e2e = format!("E{run_id:x}{k:09}");
            let t0 = Instant::now();
            let r = bank
                .pay(&e2e, &p.account, &p.alias, p.amount_minor, &created, Duration::from_secs(30))
                .await;
            (r, t0.elapsed())
        }));
    }
    let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
    let (mut accepted, mut rejected, mut unanswered) = (0u64, 0u64, 0u64);
    let mut reasons = BTreeMap::new();
    for t in tasks {
        let (r, elapsed) = t.await?;
        match r {
            Ok(o) => {
                let _ = hist.record(elapsed.as_micros() as u64);
                if o.status == TxStatus::AcceptedSettlementCompleted {
                    accepted += 1;
                } else {
                    rejected += 1;
                    let code = o.reason.map_or("none".to_string(), |r| r.code().to_string());
                    *reasons.entry(code).or_insert(0) += 1;
                }
            }
            Err(_) => unanswered += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let exceptions = exception_flows(&node, &banks, run_id, &created).await?;
    let _ = stop_tx.send(true);
    let QueryAnswer::Positions { positions, conserved, .. } =
        node.core.query(Query::Positions).await.map_err(|e| anyhow::anyhow!("{e:?}"))?
    else {
        anyhow::bail!("unexpected answer to a positions query");
    };
    let report = DemoReport {
        accepted,
        rejected,
        unanswered,
        reasons,
        tps: (accepted + rejected) as f64 / secs.max(1e-9),
        p50_ms: hist.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        conserved: conserved.is_ok() && unanswered == 0,
        positions: positions.iter().map(|p| (p.bic.clone(), p.balance_minor)).collect(),
        replayed: node.replayed,
        returns: exceptions.returns,
        recalls: exceptions.recalls,
        enquiries: exceptions.enquiries,
    };
    if let Some(t) = node.stop() {
        drop(t);
    }
    Ok(report)
}
