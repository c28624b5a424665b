//! `switchctl`: the operator's and the bank integrator's tool.
//!
//! - `switchctl iso check FILE...`: decode ISO 20022 files; one line each, exit 1 if any fails.
//! - `switchctl send --as BIC FILE`: send a message as a bank (development PKI).
//! - `switchctl pull --as BIC [--after N]`: pull a bank's messages.
//! - `switchctl positions`: settlement positions (operator certificate).
//! - `switchctl journal [--data DIR]`: replay a journal offline and summarize it.

use adapters::client::BankClient;
use clap::{Args, Parser, Subcommand};

/// mimalloc, as in `switchd`: glibc's allocator was a third of the CPU profile.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "switchctl", about = "Operator and bank tooling for the instant-payment switch")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Debug, Clone)]
struct Conn {
    /// Switch address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    addr: String,
    /// Data directory holding the development PKI (`DIR/pki`).
    #[arg(long, default_value = "./data")]
    data: PathBuf,
}

/// A participant's messages: whose, and from where.
#[derive(Args, Debug)]
struct Inbox {
    #[command(flatten)]
    conn: Conn,
    /// The participant's BIC.
    #[arg(long = "as")]
    bic: String,
    /// Acknowledge up to this sequence and deliver what follows.
    #[arg(long, default_value_t = 0)]
    after: u64,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// ISO 20022 tools.
    Iso {
        #[command(subcommand)]
        cmd: IsoCmd,
    },
    /// Send an ISO 20022 message as a participant.
    Send {
        #[command(flatten)]
        conn: Conn,
        /// The participant's BIC (its certificate in DIR/pki).
        #[arg(long = "as")]
        bic: String,
        /// The message file.
        file: PathBuf,
    },
    /// Pull a participant's messages.
    Pull {
        #[command(flatten)]
        inbox: Inbox,
        /// Long-poll wait.
        #[arg(long, default_value_t = 1_000)]
        wait_ms: u64,
    },
    /// Read a participant's message stream (`GET /v1/stream`): each message is printed as
    /// the switch writes it, until the stream ends or `--for-s` seconds have passed.
    Stream {
        #[command(flatten)]
        inbox: Inbox,
        /// Seconds to read at most (the switch ends a stream after 60 s).
        #[arg(long, default_value_t = 60)]
        for_s: u64,
        /// Acknowledge what was printed (`POST /v1/acks`) before leaving.
        #[arg(long)]
        ack: bool,
    },
    /// Settlement positions and the conservation check (operator certificate).
    Positions {
        #[command(flatten)]
        conn: Conn,
    },
    /// Settlement windows (deferred net; operator certificate): list them, close the open
    /// one, or record that the RTGS settled window N.
    Windows {
        #[command(flatten)]
        conn: Conn,
        /// `list` (default), `close`, or `settle`.
        #[arg(value_parser = ["list", "close", "settle"], default_value = "list")]
        action: String,
        /// The window to settle.
        window: Option<u64>,
    },
    /// Suspend or re-activate a participant (operator certificate).
    Participant {
        #[command(flatten)]
        conn: Conn,
        /// `suspend` or `activate`.
        #[arg(value_parser = ["suspend", "activate"])]
        action: String,
        /// The participant's BIC.
        bic: String,
    },
    /// Call the participant directory API as a bank, e.g.
    /// `switchctl directory --as BKAABRSP GET /entries/%2B5511900000000 --payer 52998224725`.
    Directory {
        #[command(flatten)]
        conn: Conn,
        /// The participant's BIC.
        #[arg(long = "as")]
        bic: String,
        /// HTTP method: GET, POST, PUT, DELETE.
        method: String,
        /// Path under /api/v1/directory (see schemas/directory-openapi.yaml).
        path: String,
        /// End user the lookup is made for (PI-PayerId).
        #[arg(long)]
        payer: Option<String>,
        /// JSON body file.
        #[arg(long)]
        body: Option<PathBuf>,
    },
    /// Benchmarks printed in a fixed form for the benchmark document.
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
    /// Ledger tools.
    Ledger {
        #[command(subcommand)]
        cmd: LedgerCmd,
    },
    /// Transfer tools.
    Transfers {
        #[command(subcommand)]
        cmd: TransfersCmd,
    },
    /// One transfer's lifecycle from the journal (read-only; the switch may be running):
    /// every message in and out, every ledger movement, every state change, with times.
    Transfer {
        #[command(subcommand)]
        cmd: TransferCmd,
    },
    /// Cases for operators (late acceptances, expired recalls, failed returns), each with
    /// the full history of its transfer, from the journal (read-only).
    Investigations {
        /// Data directory.
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// Config file of the switch that wrote it (default: the embedded default).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print every message in full.
        #[arg(long)]
        xml: bool,
    },
    /// Replay a journal offline (the switch must not be running on it) and summarize it.
    Journal {
        /// Data directory.
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// Config file of the switch that wrote it (default: the embedded default).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// Reserve+post pairs per second in memory, the same through the journal (a record per
    /// pair, one fdatasync per 1,000), and journal records replayed per second:
    /// `ledger: in_memory_tps=X durable_tps=X replay_rps=X`.
    Ledger {
        /// Pairs per phase.
        #[arg(long, default_value_t = 1_000_000)]
        pairs: u64,
        /// Scratch directory for the journal (deleted before and after).
        #[arg(long, default_value = "./bench-ledger")]
        dir: PathBuf,
    },
    /// Transfers through the in-process core (decoded pacs.008 by alias, the creditor's
    /// accept, streams acknowledged, timers run every 1,000 at 10,000 a second of simulated
    /// time) with the given `[retention]`, and the memory they leave:
    /// `retention: transfers=N finished_held=N retired_records=N rss_growth_mb=X
    /// bytes_per_transfer=X us_per_transfer=X`.
    Retention {
        /// Transfers to run.
        #[arg(long, default_value_t = 2_000_000)]
        transfers: u64,
        /// `[retention] finished_kept_max`.
        #[arg(long, default_value_t = 5_000_000)]
        finished_kept_max: u64,
        /// `[retention] duplicates_kept_max`.
        #[arg(long, default_value_t = 20_000_000)]
        duplicates_kept_max: u64,
    },
    /// Bulk-load the directory with `entries` keys, then resolve hits on one core:
    /// `directory: resolve_per_s=X register_per_s=X bytes_per_entry=X entries=N`.
    Directory {
        /// Entries to load (the target is stated for 20,000,000 and more).
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
    },
}

#[derive(Subcommand, Debug)]
enum LedgerCmd {
    /// Replay the journal (read-only), recompute every balance independently, check the
    /// invariants: `audit: records=N balances_ok=true|false conserved=true|false`; exit 1 on
    /// any violation. When a snapshot covers the first records (their segments are deleted),
    /// the audit starts from the snapshot's state and says so: `audit: from_snapshot=SEQ
    /// records=N ...` (N: the records after it).
    Audit {
        /// Data directory.
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// Config file of the switch that wrote it (default: the embedded default).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum TransfersCmd {
    /// Check that every outcome a bank was told (an ack log of `loadtest --ack-log`: lines
    /// `<debtor BIC> <EndToEndId> <status> <reason or ->`) is in the journal, the same:
    /// `verify: checked=N missing=N mismatched=N`; exit 1 unless all match.
    Verify {
        /// Data directory.
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// Config file of the switch that wrote it (default: the embedded default).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The ack log.
        #[arg(long)]
        ack_log: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum TransferCmd {
    /// Print the lifecycle of the transfers matching ID: a transfer id (`12`, `IPSF12`), or
    /// the debtor's MsgId, EndToEndId or UETR. Exit 1 if none matches.
    Show {
        /// Transfer id or reference.
        id: String,
        /// Data directory.
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// Config file of the switch that wrote it (default: the embedded default).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print every message in full.
        #[arg(long)]
        xml: bool,
    },
}

#[derive(Subcommand, Debug)]
enum IsoCmd {
    /// Decode a file and print the re-encoded XML on stdout (the codec's view of it).
    Roundtrip {
        /// The file.
        file: PathBuf,
    },
    /// Decode and validate files: `OK <type> <file>` or `ERR <file>: <path>: <reason>`.
    Check {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Iso { cmd: IsoCmd::Check { files } } => return iso_check(&files),
        Cmd::Iso { cmd: IsoCmd::Roundtrip { file } } => std::fs::read(&file)
            .map_err(anyhow::Error::from)
            .and_then(|b| {
                iso20022::roundtrip(&b, &iso20022::Limits::default())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
            })
            .map(|xml| println!("{xml}")),
        Cmd::Journal { data, config } => journal(data, config),
        Cmd::Transfer { cmd: TransferCmd::Show { id, data, config, xml } } => {
            return transfer_show(&id, data, config, xml)
        }
        Cmd::Investigations { data, config, xml } => investigations(data, config, xml),
        Cmd::Bench { cmd: BenchCmd::Ledger { pairs, dir } } => bench_ledger(pairs, &dir),
        Cmd::Bench {
            cmd: BenchCmd::Retention { transfers, finished_kept_max, duplicates_kept_max },
        } => bench_retention(transfers, finished_kept_max, duplicates_kept_max),
        Cmd::Bench { cmd: BenchCmd::Directory { entries } } => {
            println!("{}", directory::bench::run(entries));
            Ok(())
        }
        Cmd::Ledger { cmd: LedgerCmd::Audit { data, config } } => {
            return ledger_audit(data, config)
        }
        Cmd::Transfers { cmd: TransfersCmd::Verify { data, config, ack_log } } => {
            return transfers_verify(data, config, ack_log)
        }
        other => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(online(other)),
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchctl: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn iso_check(files: &[PathBuf]) -> ExitCode {
    let limits = iso20022::Limits::default();
    let mut failed = false;
    for f in files {
        let line = match std::fs::read(f) {
            Err(e) => Err(format!("{e}")),
            Ok(bytes) => {
                iso20022::check(&bytes, &limits).map(|t| t.name()).map_err(|e| e.to_string())
            }
        };
        match line {
            Ok(t) => println!("OK {t} {}", f.display()),
            Err(e) => {
                failed = true;
                println!("ERR {}: {e}", f.display());
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

async fn client(conn: &Conn, name: &str) -> anyhow::Result<BankClient> {
    let pki = conn.data.join("pki");
    let files = adapters::pki::IdentityFiles {
        cert: pki.join(format!("{name}.pem")),
        key: pki.join(format!("{name}.key")),
    };
    let tls = adapters::tls::client_config(&pki.join("ca.pem"), &files)?;
    Ok(BankClient::connect(conn.addr.parse()?, "localhost", tls).await?)
}

async fn online(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Send { conn, bic, file } => {
            let xml = std::fs::read(&file)?;
            let r = client(&conn, &bic)
                .await?
                .request(http::Method::POST, "/v1/messages", "application/xml", xml.into())
                .await?;
            println!("{} {}", r.status, String::from_utf8_lossy(&r.body));
            if r.status != 202 {
                anyhow::bail!("the switch did not take the message");
            }
        }
        Cmd::Pull { inbox: Inbox { conn, bic, after }, wait_ms } => {
            let p = client(&conn, &bic).await?.pull(after, 100, wait_ms).await?;
            for m in &p.messages {
                println!("--- seq {} {}\n{}", m.seq, m.msg_type, m.xml);
            }
            println!("next: {}", p.next);
        }
        Cmd::Stream { inbox: Inbox { conn, bic, after }, for_s, ack } => {
            let c = client(&conn, &bic).await?;
            let mut stream = c.stream(after).await?;
            let until = tokio::time::Instant::now() + std::time::Duration::from_secs(for_s);
            let mut next = after;
            let ended = loop {
                match tokio::time::timeout_at(until, stream.next()).await {
                    Ok(Ok(Some(frames))) => {
                        for m in &frames {
                            println!("--- seq {} {}", m.seq, m.msg_type);
                            println!("{}", String::from_utf8_lossy(&m.xml));
                            next = m.seq;
                        }
                    }
                    Ok(Ok(None)) => break "the switch ended the stream",
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => break "time is up",
                }
            };
            if ack && next > after {
                c.ack(next).await?;
            }
            println!("next: {next} ({ended}{})", if ack { ", acknowledged" } else { "" });
        }
        Cmd::Windows { conn, action, window } => {
            let c = client(&conn, switch::config::OPERATOR).await?;
            let (method, path) = match (action.as_str(), window) {
                ("close", _) => (http::Method::POST, "/v1/operator/windows/close".to_string()),
                ("settle", Some(w)) => {
                    (http::Method::POST, format!("/v1/operator/windows/{w}/settle"))
                }
                ("settle", None) => anyhow::bail!("settle needs the window number"),
                _ => (http::Method::GET, "/v1/operator/windows".to_string()),
            };
            let r = c.request(method, &path, "application/json", bytes::Bytes::new()).await?;
            let v: serde_json::Value = serde_json::from_slice(&r.body)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            anyhow::ensure!(r.status == 200, "the switch answered {}", r.status);
        }
        Cmd::Positions { conn } => {
            let c = client(&conn, switch::config::OPERATOR).await?;
            let r = c
                .request(
                    http::Method::GET,
                    "/v1/operator/positions",
                    "application/json",
                    bytes::Bytes::new(),
                )
                .await?;
            let v: serde_json::Value = serde_json::from_slice(&r.body)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Cmd::Directory { conn, bic, method, path, payer, body } => {
            let c = client(&conn, &bic).await?;
            let body = match body {
                Some(f) => std::fs::read(f)?.into(),
                None => bytes::Bytes::new(),
            };
            let method = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())?;
            let full = format!("{}{}", directory::api::PATH_PREFIX, path);
            let headers: Vec<(&str, &str)> =
                payer.as_deref().map(|p| vec![("PI-PayerId", p)]).unwrap_or_default();
            let r = c.request_with(method, &full, "application/json", &headers, body).await?;
            println!("{} {}", r.status, String::from_utf8_lossy(&r.body));
            anyhow::ensure!(r.status < 400, "the directory refused");
        }
        Cmd::Participant { conn, action, bic } => {
            let c = client(&conn, switch::config::OPERATOR).await?;
            let path = format!("/v1/operator/participants/{bic}/{action}");
            let r = c
                .request(http::Method::POST, &path, "application/json", bytes::Bytes::new())
                .await?;
            println!("{} {}", r.status, String::from_utf8_lossy(&r.body));
            anyhow::ensure!(r.status == 200, "the switch refused");
        }
        _ => {}
    }
    Ok(())
}

/// Resident memory of this process, bytes (`/proc/self/statm`).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn bench_retention(transfers: u64, kept_max: u64, duplicates_max: u64) -> anyhow::Result<()> {
    let mut cfg = switch::config::Config::dev(std::path::Path::new("/nonexistent"));
    cfg.retention.finished_kept_max = kept_max;
    cfg.retention.duplicates_kept_max = duplicates_max;
    let mut core = switch::node::core_from_config(&cfg)?;
    let start_ms = 1_795_000_000_000u64;
    core.process_funding(0, 1 << 50, start_ms).map_err(anyhow::Error::msg)?;
    const CUSTOMERS: u32 = 100;
    for c in switch::devnet::customers(1, CUSTOMERS) {
        let key = directory::Key::parse(&c.keys[0])?;
        core.process_alias(&key, 1, "0001", &c.account, &c.owner).map_err(anyhow::Error::msg)?;
    }
    core.drain_outbound();
    let before = resident_bytes();
    let cpu = std::time::Instant::now();
    for i in 1..=transfers {
        let now = start_ms + i / 10;
        let created = switch::time::iso_datetime(now);
        let msg = switch::devnet::bench_payment(i, CUSTOMERS, &created);
        let (events, _) = core.process_pacs008(0, &msg, now);
        if let Some(switch::events::Event::ReservedRouted { id, .. }) = events.first() {
            core.process_pacs002(1, &switch::devnet::bench_accept(*id, &created), now);
        }
        if i % 1_000 == 0 {
            core.process_timeouts(now, 64);
            for p in 0..3 {
                core.process_ack(p, u64::MAX);
            }
        }
        core.drain_outbound();
    }
    let elapsed = cpu.elapsed();
    let grown = resident_bytes().saturating_sub(before);
    let kept = core.retention_stats();
    println!(
        "retention: transfers={transfers} finished_held={} retired_records={} rss_growth_mb={} \
         bytes_per_transfer={} us_per_transfer={:.2}",
        kept.finished_held,
        kept.retired_records,
        grown >> 20,
        grown / transfers.max(1),
        elapsed.as_secs_f64() * 1e6 / transfers.max(1) as f64
    );
    Ok(())
}

fn bench_ledger(pairs: u64, dir: &std::path::Path) -> anyhow::Result<()> {
    use ledger::{AccountFlags, Ledger};
    const COMPACT_EVERY: u64 = 100_000;
    use store::Journal;
    let fresh = || -> anyhow::Result<Ledger> {
        let mut l = Ledger::default();
        // The live set (compacted every 100,000) sized up front, as a long-running ledger's
        // map is after its first compaction: the figure is the steady state, not the growth.
        l.preallocate(COMPACT_EVERY as usize);
        l.create_account(1, AccountFlags::FUNDING)?;
        l.create_account(10, AccountFlags::SETTLEMENT)?;
        l.create_account(20, AccountFlags::SETTLEMENT)?;
        l.transfer(1 << 100, 1, 10, 1 << 40)?;
        l.transfer((1 << 100) + 1, 1, 20, 1 << 40)?;
        Ok(l)
    };
    let pair = |l: &mut Ledger, i: u64| -> anyhow::Result<()> {
        let (d, c) = if i % 2 == 0 { (10, 20) } else { (20, 10) };
        l.reserve(u128::from(i) + 1, d, c, 100 + i % 1000, u64::MAX)?;
        l.post(u128::from(i) + 1, i)?;
        if i % COMPACT_EVERY == COMPACT_EVERY - 1 {
            l.compact(u64::MAX);
        }
        Ok(())
    };
    let mut l = fresh()?;
    let t = std::time::Instant::now();
    for i in 0..pairs {
        pair(&mut l, i)?;
    }
    let in_memory = pairs as f64 / t.elapsed().as_secs_f64();
    l.audit().map_err(anyhow::Error::msg)?;

    let _ = std::fs::remove_dir_all(dir);
    let (mut j, _) = store::FileJournal::open(dir, |_, _| Ok(()))?;
    let mut l = fresh()?;
    let mut rec = [0u8; 64];
    let t = std::time::Instant::now();
    for i in 0..pairs {
        if let Some(head) = rec.get_mut(..8) {
            head.copy_from_slice(&i.to_le_bytes());
        }
        j.append(&rec)?;
        pair(&mut l, i)?;
        if i % 1000 == 999 {
            j.sync()?;
        }
    }
    j.sync()?;
    let durable = pairs as f64 / t.elapsed().as_secs_f64();
    drop(j);
    let t = std::time::Instant::now();
    let mut n = 0u64;
    store::FileJournal::replay_read_only(dir, &store::JournalOptions::default(), |_| {
        n += 1;
        Ok(())
    })?;
    let replay = n as f64 / t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(dir);
    println!(
        "ledger: in_memory_tps={in_memory:.0} durable_tps={durable:.0} replay_rps={replay:.0}"
    );
    Ok(())
}

fn load_config(
    data: &std::path::Path,
    config: Option<PathBuf>,
) -> anyhow::Result<switch::config::Config> {
    Ok(match config {
        Some(p) => switch::config::Config::load(&p)?,
        None => switch::config::Config::dev(data),
    })
}

/// What a read-only replay hands over, in order.
enum Replayed<'a> {
    /// The newest snapshot, as of this journal record, was restored into the core.
    Snapshot(u64),
    /// A journal record after it (or after the start); not yet applied to the core.
    Event(&'a switch::events::Event),
}

/// Whether the journal in `dir` still holds every record from the first one (no segment was
/// deleted because a snapshot covered it). Reads only up to the first record.
fn history_complete(dir: &std::path::Path, opts: &store::JournalOptions) -> anyhow::Result<bool> {
    let first = store::FileJournal::replay_history_read_only(dir, opts, |seq, _| {
        Err(format!("first record {seq}"))
    });
    match first {
        Ok(_) => Ok(true),
        Err(store::JournalError::Replay { seq, .. }) => Ok(seq <= 1),
        Err(e) => Err(e.into()),
    }
}

/// Replay the journal in `data` read-only into `core`, each record given to `on` (which
/// applies events to the core). The whole history when the journal still holds it (snapshots
/// ignored, so the tools recompute everything); otherwise the newest snapshot (restored into
/// `core`) then every record after it. Returns the records replayed and the snapshot's
/// record, if one was used.
fn replay(
    data: &std::path::Path,
    core: &mut switch::core::Core,
    mut on: impl FnMut(&mut switch::core::Core, Replayed<'_>),
) -> anyhow::Result<(u64, Option<u64>)> {
    let dir = data.join("journal");
    anyhow::ensure!(dir.is_dir(), "no journal in {}", dir.display());
    let mut n = 0u64;
    // The archive, where `[journal] archive` keeps what snapshots cover, is read first.
    let archive = data.join(switch::node::ARCHIVE_DIR);
    let opts = store::JournalOptions {
        snapshot_bytes_max: switch::snapshot::SNAPSHOT_BYTES_MAX,
        archive_dir: archive.is_dir().then_some(archive),
        ..store::JournalOptions::default()
    };
    if history_complete(&dir, &opts)? {
        store::FileJournal::replay_history_read_only(&dir, &opts, |_, data| {
            let e = switch::events::decode(data)?;
            on(core, Replayed::Event(&e));
            n += 1;
            Ok(())
        })?;
        return Ok((n, None));
    }
    let rec = store::FileJournal::replay_read_only(&dir, &opts, |r| match r {
        store::Replay::Record { data, .. } => {
            let e = switch::events::decode(data)?;
            on(core, Replayed::Event(&e));
            n += 1;
            Ok(())
        }
        store::Replay::Snapshot { seq, data } => {
            core.restore_snapshot(data).map_err(|e| format!("snapshot at record {seq}: {e}"))?;
            on(core, Replayed::Snapshot(seq));
            Ok(())
        }
    })?;
    Ok((n, rec.snapshot_seq))
}

/// [`replay`] applying every event to the core.
fn replay_apply(
    data: &std::path::Path,
    core: &mut switch::core::Core,
) -> anyhow::Result<(u64, Option<u64>)> {
    replay(data, core, |core, r| {
        if let Replayed::Event(e) = r {
            core.apply(e);
        }
    })
}

/// [`replay`] through a lifecycle tracer.
fn replay_traced(
    data: &std::path::Path,
    core: &mut switch::core::Core,
    tracer: &mut switch::lifecycle::Tracer,
) -> anyhow::Result<(u64, Option<u64>)> {
    replay(data, core, |core, r| match r {
        Replayed::Snapshot(seq) => tracer.from_snapshot(core, seq),
        Replayed::Event(e) => tracer.feed(core, e),
    })
}

fn transfer_show(id: &str, data: PathBuf, config: Option<PathBuf>, xml: bool) -> ExitCode {
    let run = || -> anyhow::Result<bool> {
        let cfg = load_config(&data, config)?;
        let mut core = switch::node::core_from_config(&cfg)?;
        let mut tracer = switch::lifecycle::Tracer::new(switch::lifecycle::Selector::parse(id));
        replay_traced(&data, &mut core, &mut tracer)?;
        print!("{}", tracer.render(&core, xml));
        Ok(!tracer.steps().is_empty())
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("no transfer matches {id:?}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn investigations(data: PathBuf, config: Option<PathBuf>, xml: bool) -> anyhow::Result<()> {
    let cfg = load_config(&data, config)?;
    let mut core = switch::node::core_from_config(&cfg)?;
    replay_apply(&data, &mut core)?;
    let cases = core.investigations();
    println!("investigations: {}", cases.len());
    let ids = cases.iter().map(|c| c.transfer).filter(|t| *t != 0).collect();
    let mut again = switch::node::core_from_config(&cfg)?;
    let mut tracer = switch::lifecycle::Tracer::new(switch::lifecycle::Selector::Ids(ids));
    replay_traced(&data, &mut again, &mut tracer)?;
    for c in &cases {
        println!(
            "{} {:?} transfer={} recall={} participant={} {}",
            switch::time::iso_datetime(c.at_ms),
            c.kind,
            c.transfer,
            c.recall.map_or_else(|| "-".to_string(), |r| r.to_string()),
            c.participant,
            c.detail
        );
    }
    print!("{}", tracer.render(&again, xml));
    Ok(())
}

fn journal(data: PathBuf, config: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = load_config(&data, config)?;
    let mut core = switch::node::core_from_config(&cfg)?;
    let (n, snapshot) = replay_apply(&data, &mut core)?;
    let c = core.counters();
    if let Some(seq) = snapshot {
        println!("snapshot: as of record {seq}");
    }
    println!("events: {n}");
    println!(
        "settled: {}  rejected: {}  in flight: {}  late answers: {}",
        c.settled, c.rejected, c.in_flight, c.late_answers
    );
    for p in core.positions() {
        println!(
            "{}  balance {}  reserved {}  funded {}",
            p.bic, p.balance_minor, p.reserved_minor, p.funded_minor
        );
    }
    match core.conserved() {
        Ok(()) => println!("conserved: true"),
        Err(e) => {
            println!("conserved: false ({e})");
            anyhow::bail!("conservation check failed");
        }
    }
    Ok(())
}

fn ledger_audit(data: PathBuf, config: Option<PathBuf>) -> ExitCode {
    let run = || -> anyhow::Result<bool> {
        let cfg = load_config(&data, config)?;
        let mut core = switch::node::core_from_config(&cfg)?;
        let caps: std::collections::HashMap<u32, u64> = cfg
            .participants
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.net_debit_cap_minor.map(|c| (i as u32, c)))
            .collect();
        let mut audit = switch::audit::Audit::with_net_caps(caps.clone());
        replay(&data, &mut core, |core, r| match r {
            Replayed::Snapshot(seq) => {
                audit = switch::audit::Audit::from_snapshot(core, caps.clone(), seq);
            }
            Replayed::Event(e) => {
                audit.record(e);
                core.apply(e);
            }
        })?;
        let ledger: Vec<(u32, i128)> =
            core.positions().iter().enumerate().map(|(i, p)| (i as u32, p.balance_minor)).collect();
        let balances_ok = audit.compare(&ledger) && core.conserved().is_ok();
        let conserved = audit.conserved();
        for v in audit.violations.iter().take(20) {
            eprintln!("violation: {v}");
        }
        let from = audit.from_snapshot.map(|s| format!("from_snapshot={s} ")).unwrap_or_default();
        println!(
            "audit: {from}records={} balances_ok={balances_ok} conserved={conserved}",
            audit.records
        );
        Ok(balances_ok && conserved)
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("switchctl: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// What an ack-log line of transfer `t` must say: its debtor's BIC and EndToEndId, and its
/// outcome (`None` while in flight).
type KnownOutcome = ((String, String), Option<(String, String)>);

fn known_outcome(core: &switch::core::Core, t: &switch::core::Transfer) -> KnownOutcome {
    let bic = core.participants().get(t.debtor as usize).map(|p| p.bic.clone()).unwrap_or_default();
    let outcome = match t.state {
        switch::core::State::Settled => Some(("ACSC".to_string(), "-".to_string())),
        switch::core::State::Rejected(r) => Some(("RJCT".to_string(), r.code().to_string())),
        switch::core::State::Reserved { .. } => None,
    };
    ((bic, t.ids.end_to_end_id.clone()), outcome)
}

fn transfers_verify(data: PathBuf, config: Option<PathBuf>, ack_log: PathBuf) -> ExitCode {
    let run = || -> anyhow::Result<(u64, u64, u64)> {
        let cfg = load_config(&data, config)?;
        let mut core = switch::node::core_from_config(&cfg)?;
        let mut known = std::collections::HashMap::new();
        // Transfers retired from memory during the replay are read just before they go.
        replay(&data, &mut core, |core, r| {
            if let Replayed::Event(e) = r {
                if let switch::events::Event::Retired { ids, .. } = e {
                    let retired = ids.iter().filter_map(|id| core.transfer(*id));
                    known.extend(retired.map(|t| known_outcome(core, t)));
                }
                core.apply(e);
            }
        })?;
        known.extend(core.transfers().map(|t| known_outcome(&core, t)));
        let text = std::fs::read_to_string(&ack_log)?;
        let (mut checked, mut missing, mut mismatched) = (0u64, 0u64, 0u64);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [bic, e2e, status, reason] = f.as_slice() else {
                anyhow::bail!(
                    "bad ack-log line {line:?}: want <BIC> <EndToEndId> <status> <reason|->"
                );
            };
            checked += 1;
            match known.get(&(bic.to_string(), e2e.to_string())) {
                None => missing += 1,
                Some(Some((s, r))) if s == status && r == reason => {}
                Some(_) => mismatched += 1,
            }
        }
        Ok((checked, missing, mismatched))
    };
    match run() {
        Ok((checked, missing, mismatched)) => {
            println!("verify: checked={checked} missing={missing} mismatched={mismatched}");
            if missing == 0 && mismatched == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("switchctl: {e:#}");
            ExitCode::from(2)
        }
    }
}
