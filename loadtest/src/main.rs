//! `loadtest`: open-loop load on the instant-payment switch over real loopback TLS.
//!
//! Payments arrive as a Poisson process at `--rate` per second for `--duration` seconds,
//! whatever the switch does (open loop: a slow switch builds a queue and the latencies show
//! it). Payers and payees are drawn from Zipf distributions over `--banks` simulated banks
//! and their customers; a `--reject-share` of payments go to an unknown alias and must be
//! rejected. Every pacs.008 is prepared before the clock starts. Latency runs from each
//! payment's scheduled time to its final pacs.002 (corrected for coordinated omission).
//!
//! Without `--target` it writes a configuration with `--banks` funded banks and starts its own
//! `switchd serve` (found next to this executable, or `--switchd PATH`) on a temporary data
//! directory (or `--data DIR`, kept afterwards) and a free loopback port. With
//! `--target ADDR --data DIR` it drives a running `switchd serve --data DIR` with the
//! development certificates in `DIR/pki`; its banks are the participants of `--config FILE`,
//! else of the embedded default (BKAABRSP, BKBBBRSP, BKCCBRSP).
//!
//! The banks ride out a switch crash: a failed request drops the connection, the next one
//! reconnects with back-off; payments whose send failed count as errors.
//!
//! Each bank takes its messages from the switch's stream (`GET /v1/stream`, written as they
//! become durable, acknowledged every 20 ms at most), or with `--pulls` by long-poll pulls
//! (`GET /v1/messages`, up to 100 per pull); `loadtest-detail` counts the reads (`pulls=`) and
//! the messages each carried. With `--push` the switch pushes them to each bank's callback
//! endpoint instead (served by the load test on loopback, with the bank's certificate).
//!
//! Output: detail lines, then exactly one summary line:
//! `loadtest: offered_tps=X achieved_tps=X accepted=N rejected=N p50_ms=X p99_ms=X p999_ms=X`
//! With `--warmup S`, a `loadtest-warmup:` line first gives the same figures for S seconds of
//! payments at the rate that the summary leaves out (a switch in service is warm: its memory
//! faulted in, its tables grown). With `--timeline`, one `loadtest-second: s=N answers=N
//! p50_ms=X p99_ms=X max_ms=X` line per second of scheduled time tells steady queueing from
//! stalls.
//! With `--find-max`: one `loadtest-step:` line per step, then
//! `loadtest: max_sustained_tps=X p99_ms=X`.
//!
//! Acknowledgement log (`--ack-log FILE`), read by `switchctl transfers verify`: one line per
//! final answer the debtor bank received, in arrival order, written as it arrives:
//!
//! ```text
//! <debtor BIC> <EndToEndId> <status> <reason or ->
//! BKAABRSP LT18F2A3B4C5D0000000042 ACSC -
//! BKBBBRSP LT18F2A3B4C5D0000000043 RJCT BE23
//! ```
//!
//! Fields are separated by one space; status is the ISO 20022 code (ACSC or RJCT), reason the
//! ISO reason code of a reject or `-`. Each EndToEndId appears at most once. Lines are
//! buffered and flushed every second and at the end (then synced to disk), so a killed load test
//! may lose its last second of lines but never writes half a line before a complete one. Answers
//! to payments already counted as errors (send failed or timed out, then answered after a
//! switch restart) are logged too, and counted as `late_answers`; so the number of lines is
//! accepted + rejected + late_answers.

use anyhow::{bail, Context};
use clap::Parser;
use loadtest::bank::Bank;
use loadtest::child;
use loadtest::run::{self, Search, StepLimits};
use loadtest::stats::Shared;
use loadtest::workload::{self, BankSpec, Spec};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// mimalloc, as in `switchd`: glibc's allocator was a third of the CPU profile.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Duration;
use switch::config::Config;
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(name = "loadtest", about = "Open-loop load test of the instant-payment switch")]
struct Cli {
    /// Payments per second offered (Poisson arrivals).
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,
    /// Seconds of arrivals.
    #[arg(long, alias = "duration-s", default_value_t = 10.0)]
    duration: f64,
    /// Simulated banks (a generated config for the child switch; with --target, at most the
    /// participants of the target's config).
    #[arg(long, default_value_t = 16)]
    banks: usize,
    /// Development customers per generated bank.
    #[arg(long, default_value_t = 100)]
    customers: u32,
    /// Share of payments sent to an unknown alias, which the switch must reject.
    #[arg(long, default_value_t = 0.02)]
    reject_share: f64,
    /// Zipf exponent of payer and payee banks and customers (0: uniform).
    #[arg(long, default_value_t = 1.0)]
    zipf_s: f64,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Payments in flight at most; beyond it, arrivals are shed and counted.
    #[arg(long, default_value_t = 50_000)]
    inflight_max: u64,
    /// Seconds a payment waits for its final status (from its scheduled time).
    #[arg(long, default_value_t = 30)]
    wait_s: u64,
    /// Megabytes of prepared messages at most.
    #[arg(long, default_value_t = 2_048)]
    prepared_mb_max: u64,
    /// Address of a running `switchd serve` (loopback only); needs --data.
    #[arg(long, alias = "addr")]
    target: Option<SocketAddr>,
    /// Data directory: of the target (for its PKI), or for the child switch (kept; must be
    /// empty or absent).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The target's config file, for its participants.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The switchd binary for the child switch.
    #[arg(long)]
    switchd: Option<PathBuf>,
    /// Write one line per final answer: `<debtor BIC> <EndToEndId> <status> <reason or ->`.
    #[arg(long)]
    ack_log: Option<PathBuf>,
    /// Ramp the rate until p99 breaks --p99-objective-ms; report the highest sustained rate.
    #[arg(long)]
    find_max: bool,
    /// p99 objective of --find-max, milliseconds.
    #[arg(long, default_value_t = 100.0)]
    p99_objective_ms: f64,
    /// Seconds of each --find-max step (its rate starts at --rate).
    #[arg(long, default_value_t = 5.0)]
    step_s: f64,
    /// Banks decode every delivered message in full instead of scanning for the ids they need
    /// (to measure what the scan saves).
    #[arg(long)]
    full_decode: bool,
    /// Seconds --find-max waits after a step that failed, before the next one.
    #[arg(long, default_value_t = 10)]
    settle_after_failure_s: u64,
    /// Steps of --find-max at most.
    #[arg(long, default_value_t = 14)]
    steps_max: u32,
    /// Payments a debtor bank puts in one pacs.008 at most (Pix allows 1 to 10 per message;
    /// 1 sends every payment alone). Creditor banks answer up to as many transfers per
    /// pacs.002 (`--answer-batch`).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Milliseconds a payment waits at most for others to join its pacs.008 (counted in its
    /// latency).
    #[arg(long, default_value_t = 2)]
    batch_window_ms: u64,
    /// Forwarded transfers a creditor bank answers in one pacs.002 at most (those of one pull).
    #[arg(long, default_value_t = 10)]
    answer_batch: usize,
    /// Seconds of payments at `--rate` before the measured run (or the first `--find-max`
    /// step), reported on a `loadtest-warmup:` line and left out of the summary: the switch
    /// and the banks fault in their memory and fill their tables first, as a switch in service
    /// has. Warm-up payments are checked like the others and are in the acknowledgement log.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Print one `loadtest-second:` line per second of scheduled time (answers, p50, p99 and
    /// max latency), to tell steady queueing from stalls.
    #[arg(long)]
    timeline: bool,
    /// Banks pull in JSON instead of `multipart/mixed` frames (to measure what frames save;
    /// implies --pulls).
    #[arg(long)]
    json_pulls: bool,
    /// Banks take their messages by long-poll pulls (`GET /v1/messages`) instead of the
    /// stream (`GET /v1/stream`), to compare the two.
    #[arg(long)]
    pulls: bool,
    /// The switch pushes each bank's messages to the bank's callback endpoint (one per bank,
    /// on loopback, mutual TLS) instead of the banks pulling or streaming them. Not with
    /// --target (the target's configuration decides).
    #[arg(long, conflicts_with_all = ["pulls", "json_pulls", "target"])]
    push: bool,
}

fn main() -> anyhow::Result<()> {
    // The banks' process has the same allocation pattern as the switch's: same settings.
    switch::memory::keep_memory();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The whole run is a task on the workers, so the payments it spawns start on the local
    // queue instead of waking a worker from outside.
    rt.block_on(async move { tokio::spawn(run(cli)).await? })
}

/// The switch being driven, and the banks it knows.
struct Target {
    addr: SocketAddr,
    data: PathBuf,
    cfg: Config,
    child: Option<child::Child>,
    _tmp: Option<tempfile::TempDir>,
    /// With --push: each bank's callback listener, in participant order.
    callbacks: Vec<std::net::TcpListener>,
}

fn target(cli: &Cli) -> anyhow::Result<Target> {
    if let Some(addr) = cli.target {
        if !addr.ip().is_loopback() {
            bail!("--target {addr}: only loopback addresses are allowed");
        }
        let Some(data) = cli.data.clone() else {
            bail!("--target needs --data DIR (the target's data directory, for DIR/pki)");
        };
        let cfg = match &cli.config {
            Some(p) => Config::load(p)?,
            None => Config::dev(&data),
        };
        return Ok(Target { addr, data, cfg, child: None, _tmp: None, callbacks: Vec::new() });
    }
    let switchd = child::switchd_path(cli.switchd.as_deref())?;
    let (data, tmp) = match &cli.data {
        Some(d) => {
            let empty = std::fs::read_dir(d).map(|mut r| r.next().is_none()).unwrap_or(true);
            if !empty {
                bail!(
                    "--data {} is not empty; the child switch needs a fresh directory",
                    d.display()
                );
            }
            (d.clone(), None)
        }
        None => {
            let t = tempfile::tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let mut cfg = child::config(&data, cli.banks, cli.customers)?;
    let mut callbacks = Vec::new();
    if cli.push {
        for p in &mut cfg.participants {
            let l = std::net::TcpListener::bind("127.0.0.1:0").context("a callback listener")?;
            l.set_nonblocking(true)?;
            p.callback_url = Some(format!("https://localhost:{}/in", l.local_addr()?.port()));
            callbacks.push(l);
        }
    }
    let started = std::time::Instant::now();
    let c = child::start(&switchd, &cfg)?;
    println!(
        "loadtest-info: started {} on {} with {} banks (data {}) in {:.1} s",
        switchd.display(),
        c.addr,
        cfg.participants.len(),
        data.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Target { addr: c.addr, data, cfg, child: Some(c), _tmp: tmp, callbacks })
}

fn banks(
    cli: &Cli,
    t: &Target,
    shared: &Arc<Shared>,
) -> anyhow::Result<(Vec<Arc<Bank>>, Vec<BankSpec>)> {
    let pki = t.data.join("pki");
    let n = cli.banks.min(t.cfg.participants.len());
    if n < cli.banks {
        println!("loadtest-info: the target has {n} participants; using {n} banks");
    }
    let mut out = Vec::new();
    let mut specs = Vec::new();
    for (i, p) in t.cfg.participants.iter().enumerate().take(n) {
        let files = adapters::pki::IdentityFiles {
            cert: pki.join(format!("{}.pem", p.bic)),
            key: pki.join(format!("{}.key", p.bic)),
        };
        let tls = adapters::tls::client_config(&pki.join("ca.pem"), &files)
            .with_context(|| format!("TLS identity of {} in {}", p.bic, pki.display()))?;
        let bank = Bank::new(&p.bic, t.addr, tls, shared.clone())
            .with_full_decode(cli.full_decode)
            .with_answer_batch(cli.answer_batch)
            .with_json_pulls(cli.json_pulls)
            .with_pulls(cli.pulls || cli.json_pulls);
        out.push(Arc::new(bank));
        specs.push(BankSpec { bic: p.bic.clone(), index: i as u32, customers: p.dev_customers });
    }
    Ok((out, specs))
}

/// With --push: serve each bank's callback endpoint with its own certificate.
fn serve_callbacks(
    t: &Target,
    banks: &[Arc<Bank>],
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let pki = t.data.join("pki");
    let mut out = Vec::new();
    for (bank, listener) in banks.iter().zip(&t.callbacks) {
        let files = adapters::pki::IdentityFiles {
            cert: pki.join(format!("{}.pem", bank.bic)),
            key: pki.join(format!("{}.key", bank.bic)),
        };
        let tls = adapters::tls::server_config(&pki.join("ca.pem"), &files)
            .with_context(|| format!("callback TLS identity of {}", bank.bic))?;
        let listener = tokio::net::TcpListener::from_std(listener.try_clone()?)?;
        out.push(adapters::callback::serve(bank.clone(), listener, tls, stop.clone()));
    }
    Ok(out)
}

fn spec(
    cli: &Cli,
    t: &Target,
    banks: Vec<BankSpec>,
    rate: f64,
    duration_s: f64,
    tag: &str,
) -> anyhow::Result<Spec> {
    let currency = iso20022::Currency::parse(&t.cfg.scheme.currency)
        .with_context(|| format!("currency {:?}", t.cfg.scheme.currency))?;
    let now = switch::time::now_ms();
    Ok(Spec {
        banks,
        currency,
        rate_tps: rate,
        duration_s,
        reject_share: cli.reject_share,
        zipf_s: cli.zipf_s,
        seed: cli.seed,
        id_prefix: format!("LT{now:X}{tag}"),
        created: switch::time::iso_datetime(now),
        prepared_bytes_max: cli.prepared_mb_max.saturating_mul(1 << 20),
    })
}

fn prepare(spec: &Spec) -> anyhow::Result<Vec<workload::Planned>> {
    let started = std::time::Instant::now();
    let plans = workload::plan(spec).map_err(anyhow::Error::msg)?;
    let bytes: usize = plans.iter().map(|p| p.xml.len()).sum();
    println!(
        "loadtest-info: prepared {} payments ({} MB) in {:.2} s",
        plans.len(),
        bytes >> 20,
        started.elapsed().as_secs_f64()
    );
    Ok(plans)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let t = target(&cli)?;
    let mut shared = Shared::new(cli.ack_log.as_deref()).context("creating the ack log")?;
    if cli.timeline {
        shared = shared.with_timeline();
    }
    let shared = Arc::new(shared);
    let (bank_list, specs) = banks(&cli, &t, &shared)?;
    // Connect every bank before the clock starts, so handshakes do not count as latency.
    for b in &bank_list {
        b.client().await.with_context(|| format!("connecting {} to {}", b.bic, t.addr))?;
    }
    let delivery = match (cli.push, cli.pulls || cli.json_pulls) {
        (true, _) => "push",
        (false, true) => "pulls",
        (false, false) => "stream",
    };
    println!("loadtest-info: delivery={delivery}");
    let (stop_tx, stop_rx) = watch::channel(false);
    let inboxes: Vec<_> = if cli.push {
        serve_callbacks(&t, &bank_list, &stop_rx)?
    } else {
        bank_list.iter().map(|b| b.spawn_inbox(stop_rx.clone())).collect()
    };
    let wait = Duration::from_secs(cli.wait_s);
    let keeper = run::spawn_housekeeping(bank_list.clone(), shared.clone(), wait, stop_rx);
    if cli.batch == 0 || cli.batch > 10 || cli.answer_batch == 0 || cli.answer_batch > 10 {
        bail!("--batch and --answer-batch must be within 1 to 10 (the switch's limit per message)");
    }
    let limits = StepLimits {
        inflight_max: cli.inflight_max,
        wait,
        batch_max: cli.batch,
        batch_window: Duration::from_millis(cli.batch_window_ms),
    };
    if cli.warmup > 0.0 {
        let plans = prepare(&spec(&cli, &t, specs.clone(), cli.rate, cli.warmup, "W")?)?;
        let w = run::step(&bank_list, &shared, plans, cli.warmup, limits).await;
        println!("loadtest-warmup: {}", w.line().trim_start_matches("loadtest: "));
        if w.errors() > 0 || w.shed > 0 {
            println!("loadtest-warmup: {}", w.detail());
        }
    }
    let result = if cli.find_max {
        find_max(&cli, &t, &bank_list, &specs, &shared, limits).await
    } else {
        let plans = prepare(&spec(&cli, &t, specs, cli.rate, cli.duration, "")?)?;
        let host = loadtest::host::Host::start();
        let cpu = Cpu::start(&t);
        let s = run::step(&bank_list, &shared, plans, cli.duration, limits).await;
        print_timeline(&shared);
        println!("{}", host.line());
        println!("{}", cpu.line(s.accepted + s.rejected));
        println!("{}", s.detail());
        println!("{}", s.line());
        Ok(())
    };
    let _ = stop_tx.send(true);
    for h in inboxes {
        let _ = h.await;
    }
    let _ = keeper.await;
    shared.flush_ack_log(true).context("flushing the ack log")?;
    result
}

fn print_timeline(shared: &Shared) {
    for (second, n, p50, p99, max) in shared.timeline() {
        println!(
            "loadtest-second: s={second} answers={n} p50_ms={p50:.2} p99_ms={p99:.2} max_ms={max:.2}"
        );
    }
}

/// CPU time of the load test and of its child switch over a step.
struct Cpu {
    child: Option<u32>,
    loadtest_s: Option<f64>,
    switchd_s: Option<f64>,
}

impl Cpu {
    fn start(t: &Target) -> Cpu {
        let child = t.child.as_ref().map(child::Child::pid);
        Cpu {
            child,
            loadtest_s: child::cpu_seconds(None),
            switchd_s: child.and_then(|p| child::cpu_seconds(Some(p))),
        }
    }

    /// `loadtest-cpu:` line: seconds used since the start, and microseconds per answer.
    fn line(&self, answered: u64) -> String {
        let used = |before: Option<f64>, pid: Option<u32>| match before {
            Some(b) => child::cpu_seconds(pid).map(|now| now - b),
            None => None,
        };
        let lt = used(self.loadtest_s, None);
        let sw = self.child.and_then(|p| used(self.switchd_s, Some(p)));
        let per = |s: Option<f64>| {
            s.map_or("-".to_string(), |s| format!("{:.0}", s * 1e6 / answered.max(1) as f64))
        };
        let secs = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{s:.2}"));
        format!(
            "loadtest-cpu: loadtest_s={} switchd_s={} loadtest_us_per_transfer={} \
             switchd_us_per_transfer={}",
            secs(lt),
            secs(sw),
            per(lt),
            per(sw)
        )
    }
}

async fn find_max(
    cli: &Cli,
    t: &Target,
    banks: &[Arc<Bank>],
    specs: &[BankSpec],
    shared: &Arc<Shared>,
    limits: StepLimits,
) -> anyhow::Result<()> {
    let mut search = Search::new(cli.rate, cli.steps_max);
    let mut n = 0u32;
    while let Some(rate) = search.next {
        n += 1;
        let plans = prepare(&spec(cli, t, specs.to_vec(), rate, cli.step_s, &format!("S{n}"))?)?;
        let cpu = Cpu::start(t);
        let s = run::step(banks, shared, plans, cli.step_s, limits).await;
        print_timeline(shared);
        println!("loadtest-step: {}", cpu.line(s.accepted + s.rejected));
        let ok = run::sustained(&s, cli.p99_objective_ms);
        println!("loadtest-step: rate={rate:.0} sustained={ok} {}", s.detail());
        println!("loadtest-step: {}", s.line());
        search.record(rate, ok, s.latency_ms[1]);
        // Let the switch drain its queues before the next step; after an overload it still
        // has creditor time-outs and redeliveries to work off.
        let pause_s = if ok { 1 } else { cli.settle_after_failure_s };
        tokio::time::sleep(Duration::from_secs(pause_s)).await;
    }
    let (best, p99) = search.best.unwrap_or((0.0, 0.0));
    println!("loadtest: max_sustained_tps={best:.0} p99_ms={p99:.2}");
    Ok(())
}
