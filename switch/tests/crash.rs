//! Crash safety under load: `switchd serve` runs as a child process while simulated banks pay
//! continuously; it is killed with SIGKILL at random moments (20 times; `CRASH_KILLS=N` for a
//! longer run) and restarted each time. After every kill the independent auditor
//! (`switchctl ledger audit`) must find the journal consistent; at the end every payment a
//! bank was told the outcome of must have that same outcome, none applied twice, and every
//! payment ever sent must reach a final status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use adapters::simbank::{Outcome, SimBank};
use common::*;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switch::config::Config;
use switch::demo::Rng;

const NOW: &str = "2026-11-23T10:00:00Z";

fn spawn(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchd"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn audit(config: &Path, data: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["ledger", "audit", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("balances_ok=true conserved=true"),
        "audit failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

type Sent = Arc<Mutex<Vec<(usize, String, String)>>>;
type Acked = Arc<Mutex<HashMap<String, Outcome>>>;

/// Pay continuously from every bank until `stop`, recording what was sent and what each
/// debtor bank was told.
fn load(
    banks: &[Arc<SimBank>],
    cfg: &Config,
    seed: u64,
    sent: &Sent,
    acked: &Acked,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for lane in 0..24u64 {
        let banks = banks.to_vec();
        let (sent, acked) = (sent.clone(), acked.clone());
        let customers = cfg.participants[0].dev_customers;
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed * 1000 + lane + 1);
            for k in 0.. {
                let bank = rng.range(0, 3) as usize;
                let to = (bank + 1 + rng.range(0, 2) as usize) % 3;
                let alias = if rng.range(0, 20) == 0 {
                    format!("+55118{:08}", rng.range(0, 100_000_000))
                } else {
                    common::alias(to as u32, rng.range(0, u64::from(customers)) as u32, k % 3)
                };
                let amount =
                    if bank == 2 && k % 7 == 0 { 5_000_000 } else { rng.range(100, 20_000) };
                let e2e = format!("C{seed}L{lane}K{k}");
                let msg = banks[bank].pacs008_by_alias(&e2e, "000001", &alias, amount, NOW);
                let xml = iso20022::pacs008::encode(&msg);
                sent.lock().unwrap().push((bank, e2e.clone(), xml.clone()));
                match banks[bank].send_and_wait(&e2e, xml, Duration::from_secs(5)).await {
                    Ok(o) => {
                        acked.lock().unwrap().insert(e2e, o);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sigkills_under_load_lose_and_duplicate_nothing() {
    let kills: u64 = std::env::var("CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cfg = Config::dev(&data);
    cfg.listen = addr.to_string();
    cfg.scheme.creditor_timeout_ms = 1_500;
    // Snapshots all the time, so kills land before, during and after snapshot writes, and
    // restarts restore one and replay the tail.
    cfg.journal.snapshot_every_records = 300;
    for p in &mut cfg.participants {
        p.dev_customers = 10;
    }
    let config = dir.path().join("switchd.toml");
    std::fs::write(&config, toml::to_string(&cfg).unwrap()).unwrap();
    let pki = data.join("pki");
    let sent: Sent = Arc::default();
    let acked: Acked = Arc::default();
    let mut rng = Rng::new(20261123);

    for round in 0..kills {
        let mut child = spawn(&config);
        wait_ready(addr).await;
        let (banks, stop) = connect(&cfg, addr, &pki).await;
        let tasks = load(&banks, &cfg, round, &sent, &acked);
        tokio::time::sleep(Duration::from_millis(rng.range(150, 700))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = stop.send(true);
        for t in &tasks {
            t.abort();
        }
        audit(&config, &data);
    }

    // Final run: every payment ever sent is sent again. Those a bank was told about must come
    // back with the same outcome; every other one must now reach a final status.
    let mut child = spawn(&config);
    wait_ready(addr).await;
    let (banks, stop) = connect(&cfg, addr, &pki).await;
    let all = sent.lock().unwrap().clone();
    let told = acked.lock().unwrap().clone();
    assert!(told.len() > 100, "the load reached only {} outcomes", told.len());
    let mut tasks = Vec::new();
    for chunk in all.chunks(all.len().div_ceil(16).max(1)) {
        let chunk = chunk.to_vec();
        let banks = banks.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for (bank, e2e, xml) in chunk {
                let r = banks[bank].send_and_wait(&e2e, xml, Duration::from_secs(20)).await;
                out.push((e2e, r.ok()));
            }
            out
        }));
    }
    let mut finals = HashMap::new();
    for t in tasks {
        for (e2e, o) in t.await.unwrap() {
            finals.insert(e2e, o);
        }
    }
    let unanswered: Vec<_> =
        finals.iter().filter(|(_, o)| o.is_none()).map(|(e, _)| e.clone()).collect();
    assert!(
        unanswered.is_empty(),
        "{} payments never reached a final status: {:?}",
        unanswered.len(),
        &unanswered[..unanswered.len().min(5)]
    );
    for (e2e, o) in &told {
        assert_eq!(
            finals.get(e2e).copied().flatten().as_ref(),
            Some(o),
            "{e2e}: outcome changed across crashes"
        );
    }
    let op = operator(addr, &pki).await;
    assert!(positions(&op).await.1);
    let _ = stop.send(true);
    child.kill().unwrap();
    child.wait().unwrap();
    audit(&config, &data);
    let snapshots = std::fs::read_dir(data.join("journal"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".snap"))
        .count();
    assert!(snapshots > 0, "snapshots were written during the crash test");

    // The ack log of what the banks were told checks out against the journal; a tampered
    // line is caught.
    let bank_of: HashMap<String, usize> = all.iter().map(|(b, e, _)| (e.clone(), *b)).collect();
    let mut log = String::new();
    for (e2e, o) in &told {
        let bic = &cfg.participants[bank_of[e2e]].bic;
        let reason = o.reason.map_or("-".to_string(), |r| r.code().to_string());
        log.push_str(&format!("{bic} {e2e} {} {reason}\n", o.status.code()));
    }
    let verify = |log: &str| {
        let file = dir.path().join("ack.log");
        std::fs::write(&file, log).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_switchctl"))
            .args(["transfers", "verify", "--config"])
            .arg(&config)
            .arg("--data")
            .arg(&data)
            .arg("--ack-log")
            .arg(&file)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let (code, line) = verify(&log);
    assert_eq!(line, format!("verify: checked={} missing=0 mismatched=0", told.len()));
    assert_eq!(code, Some(0));
    let tampered = log.replacen(" ACSC -", " RJCT AM04", 1) + "BKAABRSP NEVER-SENT ACSC -\n";
    let (code, line) = verify(&tampered);
    assert_eq!(line, format!("verify: checked={} missing=1 mismatched=1", told.len() + 1));
    assert_eq!(code, Some(1));
    eprintln!(
        "crash test: {kills} kills, {} payments sent, {} outcomes told before kills",
        all.len(),
        told.len()
    );
}
