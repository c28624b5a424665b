//! Shared helpers for the switch's integration tests: a switch on loopback, simulated banks
//! connected over mTLS, and XSD validation with xmllint.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use adapters::client::BankClient;
use adapters::simbank::SimBank;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use switch::config::Config;
use switch::devnet;

pub fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/iso20022/xsd")
}

/// Validate a message against its official XSD, chosen by its namespace.
pub fn assert_xsd_valid(xml: &str) {
    let ns = xml
        .split("urn:iso:std:iso:20022:tech:xsd:")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("ISO namespace");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas().join(format!("{ns}.xsd")))
        .arg(&file)
        .output()
        .expect("xmllint must be installed (apt-get install libxml2-utils)");
    assert!(out.status.success(), "{ns}: {}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

/// A small development config on an ephemeral port.
pub fn config(data: &Path) -> Config {
    let mut cfg = Config::dev(data);
    cfg.listen = "127.0.0.1:0".into();
    for p in &mut cfg.participants {
        p.dev_customers = 10;
    }
    cfg
}

/// Simulated banks for every participant of `cfg`, connected to `addr`, with the dev PKI.
pub async fn banks(cfg: &Config, addr: SocketAddr, pki_dir: &Path) -> Vec<Arc<SimBank>> {
    let ca = pki_dir.join("ca.pem");
    let mut out = Vec::new();
    for (i, p) in cfg.participants.iter().enumerate() {
        let files = adapters::pki::IdentityFiles {
            cert: pki_dir.join(format!("{}.pem", p.bic)),
            key: pki_dir.join(format!("{}.key", p.bic)),
        };
        let tls = adapters::tls::client_config(&ca, &files).unwrap();
        let client = BankClient::connect(addr, "localhost", tls).await.unwrap();
        let accounts = devnet::customers(i as u32, p.dev_customers)
            .map(|c| (c.account, 1_000_000i128))
            .collect();
        out.push(SimBank::new(&p.bic, client, iso20022::Currency::parse("BRL").unwrap(), accounts));
    }
    out
}

/// A client with the operator certificate.
pub async fn operator(addr: SocketAddr, pki_dir: &Path) -> BankClient {
    let files = adapters::pki::IdentityFiles {
        cert: pki_dir.join("OPERATOR.pem"),
        key: pki_dir.join("OPERATOR.key"),
    };
    let tls = adapters::tls::client_config(&pki_dir.join("ca.pem"), &files).unwrap();
    BankClient::connect(addr, "localhost", tls).await.unwrap()
}

/// Positions as the operator API reports them: (BIC, balance) and the conservation flag.
pub async fn positions(op: &BankClient) -> (Vec<(String, i64)>, bool, serde_json::Value) {
    let r = op
        .request(
            http::Method::GET,
            "/v1/operator/positions",
            "application/json",
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let list = v["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["bic"].as_str().unwrap().to_string(), p["balance_minor"].as_i64().unwrap()))
        .collect();
    (list, v["conserved"].as_bool().unwrap(), v)
}

pub fn alias(bank: u32, customer: u32, which: usize) -> String {
    devnet::customers(bank, customer + 1).last().unwrap().keys[which].clone()
}

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Wait until something listens on `addr` (a child `switchd` starting), at most 30 s.
pub async fn wait_ready(addr: SocketAddr) {
    let t0 = std::time::Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(30), "switchd did not start");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Simulated banks connected and reading their message streams until the returned sender
/// says stop.
pub async fn connect(
    cfg: &Config,
    addr: SocketAddr,
    pki: &Path,
) -> (Vec<Arc<SimBank>>, tokio::sync::watch::Sender<bool>) {
    connect_with(cfg, addr, pki, false).await
}

/// [`connect`], the banks taking their messages by long-poll pulls instead of the stream.
pub async fn connect_pulling(
    cfg: &Config,
    addr: SocketAddr,
    pki: &Path,
) -> (Vec<Arc<SimBank>>, tokio::sync::watch::Sender<bool>) {
    connect_with(cfg, addr, pki, true).await
}

async fn connect_with(
    cfg: &Config,
    addr: SocketAddr,
    pki: &Path,
    pulls: bool,
) -> (Vec<Arc<SimBank>>, tokio::sync::watch::Sender<bool>) {
    let banks = banks(cfg, addr, pki).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    for b in &banks {
        if pulls {
            b.spawn_pull_inbox(rx.clone());
        } else {
            b.spawn_inbox(rx.clone());
        }
    }
    (banks, stop)
}

/// The switch's clearing reference (`IPSF<id>`) carried by a pacs.002.
pub fn clearing_ref_in(xml: &str) -> String {
    xml.split("<ClrSysRef>").nth(1).unwrap().split('<').next().unwrap().to_string()
}

/// `bank` pays `n` payments of `amount_minor` by alias to customers of bank 1 (EndToEndIds
/// `{prefix}000`, `{prefix}001`, ...), each answered ACSC within 20 s.
#[allow(dead_code)]
pub async fn pay_settled(bank: &SimBank, prefix: &str, n: u32, amount_minor: u64, now: &str) {
    for k in 0..n {
        let e2e = format!("{prefix}{k:03}");
        let msg = bank.pacs008_by_alias(&e2e, "000001", &alias(1, k % 10, 0), amount_minor, now);
        let xml = iso20022::pacs008::encode(&msg);
        let out = bank.send_and_wait(&e2e, xml, std::time::Duration::from_secs(20)).await.unwrap();
        assert_eq!(out.status, iso20022::codes::TxStatus::AcceptedSettlementCompleted, "{e2e}");
    }
}
