//! The two settlement models, chosen in the config: gross prefunded (AM04 beyond the
//! balance) and deferred net (positions go below zero down to the net debit cap, AM23 beyond
//! it; operators close a window, get each participant's net and the settlement instructions,
//! and record its settlement). Over the real mTLS endpoint; the journal's independent audit
//! (`switchctl ledger audit`) agrees, also after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use iso20022::codes::{StatusReason, TxStatus};
use std::time::Duration;
use switch::config::SettlementKind;
use switch::node::Node;

const WAIT: Duration = Duration::from_secs(15);
const NOW: &str = "2026-11-23T10:00:00Z";

async fn call(
    op: &adapters::client::BankClient,
    method: http::Method,
    path: &str,
) -> (u16, serde_json::Value) {
    let r = op.request(method, path, "application/json", bytes::Bytes::new()).await.unwrap();
    let v = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, v)
}

fn audit(data: &std::path::Path, config: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["ledger", "audit", "--data"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_net_moves_positions_against_the_cap_and_settles_by_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.scheme.settlement = SettlementKind::DeferredNet;
    for (p, cap) in cfg.participants.iter_mut().zip([1_000_000u64, 1_000_000, 5_000]) {
        p.net_debit_cap_minor = Some(cap);
        p.initial_funding_minor = 0;
    }
    let cfg_file = dir.path().join("switchd.toml");
    std::fs::write(&cfg_file, toml::to_string(&cfg).unwrap()).unwrap();
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let (banks, stop) = connect(&cfg, node.addr, &pki).await;
    let op = operator(node.addr, &pki).await;

    // Nobody is funded: payments go through on the cap alone.
    let ok = banks[2].pay("E2E-NET-1", "000001", &alias(0, 0, 0), 3_000, NOW, WAIT).await.unwrap();
    assert_eq!(ok.status, TxStatus::AcceptedSettlementCompleted);
    let ok = banks[0].pay("E2E-NET-2", "000001", &alias(1, 0, 0), 700, NOW, WAIT).await.unwrap();
    assert_eq!(ok.status, TxStatus::AcceptedSettlementCompleted);
    // C has 2,000 of headroom left under its cap of 5,000: 2,500 is refused with AM23.
    let over =
        banks[2].pay("E2E-NET-3", "000001", &alias(0, 0, 0), 2_500, NOW, WAIT).await.unwrap();
    assert_eq!(over.status, TxStatus::Rejected);
    assert_eq!(over.reason, Some(StatusReason::AmountExceedsSettlementLimit));
    let (pos, conserved, v) = positions(&op).await;
    assert!(conserved, "{v}");
    let bal = |bic: &str| pos.iter().find(|(b, _)| b == bic).unwrap().1;
    assert_eq!((bal("BKAABRSP"), bal("BKBBBRSP"), bal("BKCCBRSP")), (2_300, 700, -3_000));
    let c = v["positions"].as_array().unwrap().iter().find(|p| p["bic"] == "BKCCBRSP").unwrap();
    assert_eq!(c["headroom_minor"].as_i64(), Some(2_000));

    // Close the window: each participant's net and who pays whom.
    let (s, w) = call(&op, http::Method::POST, "/v1/operator/windows/close").await;
    assert_eq!(s, 200, "{w}");
    let closed = &w["windows"][0];
    let window = closed["window"].as_u64().unwrap();
    assert!(closed["settled_at"].is_null());
    let nets: Vec<(String, String)> = closed["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["bic"].as_str().unwrap().into(), p["net_minor"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        nets,
        [
            ("BKAABRSP".into(), "2300".into()),
            ("BKBBBRSP".into(), "700".into()),
            ("BKCCBRSP".into(), "-3000".into())
        ]
    );
    let pays: Vec<(&str, &str, u64)> = closed["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["bic"].as_str().unwrap(),
                i["direction"].as_str().unwrap(),
                i["amount_minor"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pays,
        [("BKAABRSP", "receive", 2_300), ("BKBBBRSP", "receive", 700), ("BKCCBRSP", "pay", 3_000)]
    );
    assert_eq!(w["open_window"].as_u64(), Some(window + 1));

    // Payments go on in the next window while the closed one waits for the RTGS.
    let ok = banks[1].pay("E2E-NET-4", "000001", &alias(2, 0, 0), 100, NOW, WAIT).await.unwrap();
    assert_eq!(ok.status, TxStatus::AcceptedSettlementCompleted);

    // The RTGS settled it: the window's nets leave the positions; settling again is a no-op.
    let (s, w) =
        call(&op, http::Method::POST, &format!("/v1/operator/windows/{window}/settle")).await;
    assert_eq!(s, 200, "{w}");
    assert!(w["windows"][0]["settled_at"].is_string(), "{w}");
    let (s, _) =
        call(&op, http::Method::POST, &format!("/v1/operator/windows/{window}/settle")).await;
    assert_eq!(s, 200);
    let (s, e) = call(&op, http::Method::POST, "/v1/operator/windows/99/settle").await;
    assert_eq!(s, 409, "{e}");
    let (pos, conserved, _) = positions(&op).await;
    assert!(conserved);
    let bal = |bic: &str| pos.iter().find(|(b, _)| b == bic).unwrap().1;
    assert_eq!((bal("BKAABRSP"), bal("BKBBBRSP"), bal("BKCCBRSP")), (0, -100, 100));

    // The independent audit of the journal agrees, and so does a restart.
    let text = audit(dir.path(), &cfg_file);
    assert!(text.contains("balances_ok=true conserved=true"), "{text}");
    let _ = stop.send(true);
    drop(banks);
    drop(op);
    node.stop().unwrap().join().unwrap().unwrap();
    let node = Node::start(&cfg).await.unwrap();
    let op = operator(node.addr, &pki).await;
    let (again, conserved, _) = positions(&op).await;
    assert!(conserved);
    assert_eq!(again, pos);
    let (_, w) = call(&op, http::Method::GET, "/v1/operator/windows").await;
    assert_eq!(w["open_window"].as_u64(), Some(window + 1));
    assert!(w["windows"][0]["settled_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gross_is_prefunded_and_a_net_cap_without_deferred_net_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.participants[2].net_debit_cap_minor = Some(1_000);
    let err = cfg.check().unwrap_err().to_string();
    assert!(err.contains("net_debit_cap_minor"), "{err}");
    cfg.participants[2].net_debit_cap_minor = None;
    cfg.participants[2].initial_funding_minor = 1_000;
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let (banks, stop) = connect(&cfg, node.addr, &pki).await;
    let out = banks[2].pay("E2E-GROSS", "000001", &alias(0, 0, 0), 1_001, NOW, WAIT).await.unwrap();
    assert_eq!(out.reason, Some(StatusReason::InsufficientFunds));
    let out =
        banks[2].pay("E2E-GROSS-2", "000001", &alias(0, 0, 0), 1_000, NOW, WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);
    let _ = stop.send(true);
}
