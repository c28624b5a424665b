//! `loadtest`: open-loop load over real sockets.
//!
//! Payments are *scheduled* at a fixed rate whatever the switch does (open loop: a slow
//! switch builds a queue and the latencies show it, instead of the generator politely
//! slowing down). Latency is measured from each payment's scheduled time to its final
//! pacs.002, into an HDR histogram. Simulated banks connect over HTTP/2 + mutual TLS to an
//! in-process switch (default) or to a running `switchd serve` (`--addr`).
//!
//! Prints one fixed summary line for the benchmark document:
//! `loadtest: offered=N completed=N settled=N rejected=N shed=N errors=N tps=X p50_ms=X p99_ms=X p999_ms=X max_ms=X`

use adapters::client::BankClient;
use adapters::simbank::SimBank;
use clap::Parser;
use iso20022::codes::TxStatus;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switch::config::Config;
use switch::demo::Rng;
use switch::devnet;
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Parser, Debug)]
#[command(name = "loadtest", about = "Open-loop load test of the instant-payment switch")]
struct Cli {
    /// Payments per second offered.
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    duration_s: u64,
    /// Payments in flight at most; beyond it, scheduled payments are shed and counted.
    #[arg(long, default_value_t = 50_000)]
    inflight_max: u64,
    /// Data directory (journal, PKI). For the in-process switch it is wiped first.
    #[arg(long, default_value = "./data-loadtest")]
    data: PathBuf,
    /// Address of a running `switchd serve` (its --data must be the same DIR for the PKI).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Default)]
struct Tally {
    settled: AtomicU64,
    rejected: AtomicU64,
    errors: AtomicU64,
    shed: AtomicU64,
    inflight: AtomicU64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut cfg = Config::dev(&cli.data);
    cfg.listen = "127.0.0.1:0".into();
    let mut _node = None;
    let addr = match cli.addr {
        Some(a) => a,
        None => {
            let _ = std::fs::remove_dir_all(cli.data.join("journal"));
            let node = switch::node::Node::start(&cfg).await?;
            let a = node.addr;
            _node = Some(node);
            a
        }
    };
    let pki = cli.data.join("pki");
    let (stop_tx, stop_rx) = watch::channel(false);
    // One simulated bank (one HTTP/2 connection) per funded participant; it sends payments and
    // pulls its stream.
    let mut senders: Vec<Vec<Arc<SimBank>>> = Vec::new();
    for (i, p) in cfg.participants.iter().enumerate().take(2) {
        let files = adapters::pki::IdentityFiles {
            cert: pki.join(format!("{}.pem", p.bic)),
            key: pki.join(format!("{}.key", p.bic)),
        };
        let tls = adapters::tls::client_config(&pki.join("ca.pem"), &files)?;
        let accounts: Vec<(String, i128)> = devnet::customers(i as u32, p.dev_customers)
            .map(|c| (c.account, 1_000_000_000))
            .collect();
        let client = BankClient::connect(addr, "localhost", tls).await?;
        let bank = SimBank::new(
            &p.bic,
            client,
            iso20022::Currency::parse(&cfg.scheme.currency).unwrap_or_default(),
            accounts,
        );
        bank.spawn_inbox(stop_rx.clone());
        senders.push(vec![bank]);
    }

    let total = cli.rate.saturating_mul(cli.duration_s);
    let tally = Arc::new(Tally::default());
    let hist =
        Arc::new(Mutex::new(hdrhistogram::Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?));
    let now = switch::time::iso_datetime(switch::time::now_ms());
    let run_id = switch::time::now_ms();
    let mut rng = Rng::new(cli.seed);
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for k in 0..total {
        let due = t0 + Duration::from_nanos(k.saturating_mul(1_000_000_000) / cli.rate.max(1));
        tokio::time::sleep_until(due).await;
        if tally.inflight.load(Ordering::Relaxed) >= cli.inflight_max {
            tally.shed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let debtor = (k % 2) as usize;
        let creditor = 1 - debtor;
        let c = rng.range(0, 100) as u32;
        let alias = devnet::customers(creditor as u32, c + 1)
            .last()
            .and_then(|cu| cu.keys.get((k % 3) as usize).cloned())
            .unwrap_or_default();
        let amount = rng.range(100, 10_000);
        let Some(bank) = senders.get(debtor).and_then(|v| v.first()).cloned() else { continue };
        let (tally, hist, now) = (tally.clone(), hist.clone(), now.clone());
        tally.inflight.fetch_add(1, Ordering::Relaxed);
        tasks.push(tokio::spawn(async move {
            let e2e = format!("L{run_id:x}{k:010}");
            let r = bank.pay(&e2e, "000001", &alias, amount, &now, Duration::from_secs(60)).await;
            let latency_us = due.elapsed().as_micros() as u64;
            tally.inflight.fetch_sub(1, Ordering::Relaxed);
            match r {
                Ok(o) if o.status == TxStatus::AcceptedSettlementCompleted => {
                    tally.settled.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {
                    tally.rejected.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            if let Ok(mut h) = hist.lock() {
                let _ = h.record(latency_us.max(1));
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let h = hist.lock().map_err(|_| anyhow::anyhow!("histogram lock poisoned"))?;
    let settled = tally.settled.load(Ordering::Relaxed);
    let rejected = tally.rejected.load(Ordering::Relaxed);
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "loadtest: offered={total} completed={} settled={settled} rejected={rejected} shed={} errors={} tps={:.0} p50_ms={:.2} p99_ms={:.2} p999_ms={:.2} max_ms={:.2}",
        settled + rejected,
        tally.shed.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        (settled + rejected) as f64 / secs.max(1e-9),
        ms(0.50),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0,
    );
    Ok(())
}
