//! Crash and restart: `switchd serve` as a child process is killed with SIGKILL (no clean
//! shutdown), started again on the same data directory, and every acknowledged outcome and
//! every balance must be as before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use adapters::simbank::{Outcome, SimBank};
use common::*;
use iso20022::codes::TxStatus;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use switch::config::Config;
use switch::demo::Rng;

const NOW: &str = "2026-11-23T10:00:00Z";

fn spawn_switch(data: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchd"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

struct Sent {
    bank: usize,
    e2e: String,
    xml: String,
}

/// `n` payments between the dev banks, some to unknown aliases, some over C's funding.
fn payments(banks: &[Arc<SimBank>], cfg: &Config, n: usize, seed: u64, tag: &str) -> Vec<Sent> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|k| {
            let bank = k % 3;
            let to = (bank + 1 + rng.range(0, 2) as usize) % 3;
            let customers = cfg.participants[to].dev_customers;
            let alias = if rng.range(0, 10) == 0 {
                format!("+55118{:08}", rng.range(0, 100_000_000))
            } else {
                common::alias(to as u32, rng.range(0, u64::from(customers)) as u32, (k / 3) % 3)
            };
            let amount =
                if bank == 2 { rng.range(100_000, 900_000) } else { rng.range(100, 10_000) };
            let e2e = format!("{tag}{k:06}");
            let msg = banks[bank].pacs008_by_alias(&e2e, "000001", &alias, amount, NOW);
            Sent { bank, e2e, xml: iso20022::pacs008::encode(&msg) }
        })
        .collect()
}

async fn send_all(banks: &[Arc<SimBank>], sent: &[Sent]) -> HashMap<String, Outcome> {
    let mut tasks = Vec::new();
    for s in sent {
        let bank = banks[s.bank].clone();
        let (e2e, xml) = (s.e2e.clone(), s.xml.clone());
        tasks.push(tokio::spawn(async move {
            let r = bank.send_and_wait(&e2e, xml, Duration::from_secs(20)).await;
            (e2e, r)
        }));
    }
    let mut out = HashMap::new();
    for t in tasks {
        if let (e2e, Ok(o)) = t.await.unwrap() {
            out.insert(e2e, o);
        }
    }
    out
}

/// The banks here take their messages by long-poll pulls; the other tests here read the
/// stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_keeps_balances_and_acknowledged_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let cfg = Config::dev(&data);
    let pki = data.join("pki");

    // Phase 1: a quiet kill. Everything acknowledged, then SIGKILL.
    let mut child = spawn_switch(&data, port);
    wait_ready(addr).await;
    let (banks, stop) = connect_pulling(&cfg, addr, &pki).await;
    let batch1 = payments(&banks, &cfg, 120, 7, "R1-");
    let outcomes1 = send_all(&banks, &batch1).await;
    assert_eq!(outcomes1.len(), batch1.len(), "every payment got a final status");
    assert!(outcomes1.values().any(|o| o.status == TxStatus::AcceptedSettlementCompleted));
    assert!(outcomes1.values().any(|o| o.status == TxStatus::Rejected));
    let op = operator(addr, &pki).await;
    let (before, conserved, _) = positions(&op).await;
    assert!(conserved);
    let _ = stop.send(true);
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = spawn_switch(&data, port);
    wait_ready(addr).await;
    let op = operator(addr, &pki).await;
    let (after, conserved, _) = positions(&op).await;
    assert!(conserved);
    assert_eq!(before, after, "balances survive a SIGKILL");

    // The same messages again: the stored outcomes come back, nothing moves twice.
    let (banks, stop) = connect_pulling(&cfg, addr, &pki).await;
    let again = send_all(&banks, &batch1).await;
    assert_eq!(again, outcomes1);
    assert_eq!(positions(&op).await.0, before);

    // Phase 2: SIGKILL under load. What was acknowledged before the kill must hold after.
    let batch2 = payments(&banks, &cfg, 300, 11, "R2-");
    let bank_handles = banks.clone();
    let settled_before = positions(&op).await.2["settled"].as_u64().unwrap();
    let load = tokio::spawn(async move { send_all(&bank_handles, &batch2).await });
    // Kill once the switch has settled some of this batch (however slow the machine is),
    // with the rest still in flight.
    let t0 = std::time::Instant::now();
    while positions(&op).await.2["settled"].as_u64().unwrap() < settled_before + 20 {
        assert!(t0.elapsed() < Duration::from_secs(30), "no payment of the batch settled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Give the banks a moment to pull those outcomes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = stop.send(true);
    let acknowledged = load.await.unwrap();
    assert!(!acknowledged.is_empty(), "some payments were acknowledged before the kill");

    let mut child = spawn_switch(&data, port);
    wait_ready(addr).await;
    let (banks, stop) = connect_pulling(&cfg, addr, &pki).await;
    let batch2 = payments(&banks, &cfg, 300, 11, "R2-");
    let replay = send_all(&banks, &batch2).await;
    assert_eq!(replay.len(), batch2.len(), "after restart every payment gets a final status");
    for (e2e, o) in &acknowledged {
        assert_eq!(replay.get(e2e), Some(o), "{e2e}: outcome changed across the crash");
    }
    let op = operator(addr, &pki).await;
    assert!(positions(&op).await.1, "money conserved after a crash under load");
    let _ = stop.send(true);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The switch's clearing reference of a settled payment, from the debtor's ACSC.
async fn clearing_ref(bank: &SimBank, e2e: &str) -> String {
    let t0 = std::time::Instant::now();
    loop {
        let found = bank.delivered_log().into_iter().find(|m| {
            m.msg_type == "pacs.002.001.10" && m.xml.contains(e2e) && m.xml.contains("ACSC")
        });
        if let Some(m) = found {
            return clearing_ref_in(&m.xml);
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "no ACSC for {e2e}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_and_recalls_sent_across_a_sigkill_apply_once() {
    use adapters::exceptions::{self as x, Original};
    use iso20022::codes::{CancellationReason, ReturnReason};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let cfg = Config::dev(&data);
    let pki = data.join("pki");
    let mut child = spawn_switch(&data, port);
    wait_ready(addr).await;
    let (banks, stop) = connect(&cfg, addr, &pki).await;
    let brl = iso20022::Currency::parse("BRL").unwrap();
    // 40 payments from A to B; B returns the first 30 in part, A recalls the last 10.
    let mut refs = Vec::new();
    for k in 0..40u32 {
        let e2e = format!("XK{k:04}");
        let to = alias(1, k % 10, 0);
        let out = banks[0].pay(&e2e, "000001", &to, 1_000, NOW, Duration::from_secs(15)).await;
        assert_eq!(out.unwrap().status, TxStatus::AcceptedSettlementCompleted);
        refs.push((e2e.clone(), clearing_ref(&banks[0], &e2e).await));
    }
    let messages: Vec<(usize, String)> = refs
        .iter()
        .enumerate()
        .map(|(k, (e2e, r))| {
            let o = Original::by_clearing_ref(r, e2e);
            if k < 30 {
                let m = x::return_payment(
                    &banks[1].bic,
                    &format!("RK{k}"),
                    &o,
                    400,
                    brl,
                    ReturnReason::RefundRequestByEndCustomer,
                    NOW,
                );
                (1, iso20022::pacs004::encode(&m))
            } else {
                let m = x::recall(
                    &banks[0].bic,
                    &format!("CK{k}"),
                    &o,
                    CancellationReason::DuplicatePayment,
                    "",
                    NOW,
                );
                (0, iso20022::camt056::encode(&m))
            }
        })
        .collect();
    let op = operator(addr, &pki).await;
    let send = |banks: Vec<Arc<SimBank>>, msgs: Vec<(usize, String)>| {
        tokio::spawn(async move {
            for (b, xml) in msgs {
                let _ = banks[b].client().send(xml).await;
            }
        })
    };
    let first = send(banks.clone(), messages.clone());
    let t0 = std::time::Instant::now();
    while positions(&op).await.2["returns"].as_u64().unwrap() < 5 {
        assert!(t0.elapsed() < Duration::from_secs(30), "no return applied");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = first.await;
    let _ = stop.send(true);

    // After the restart every message is sent again: each applies exactly once.
    let mut child = spawn_switch(&data, port);
    wait_ready(addr).await;
    let (banks, stop) = connect(&cfg, addr, &pki).await;
    send(banks.clone(), messages).await.unwrap();
    let op = operator(addr, &pki).await;
    let (_, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(v["returns"].as_u64(), Some(30), "{v}");
    assert_eq!(v["recalls"].as_u64(), Some(10), "{v}");
    let out = Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["ledger", "audit", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("conserved=true"), "{text}");
    let _ = stop.send(true);
    child.kill().unwrap();
    child.wait().unwrap();
}
