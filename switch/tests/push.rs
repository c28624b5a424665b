//! Push delivery to a bank's callback endpoint, over real mutual TLS: a bank that never pulls
//! gets every message pushed, in order, once each; pushes wait for an endpoint that is down,
//! are never sent to an endpoint whose certificate names another bank, and the messages they
//! carried are acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use adapters::callback::PushReceiver;
use adapters::simbank::SimBank;
use common::*;
use iso20022::codes::TxStatus;
use std::sync::Arc;
use std::time::Duration;
use switch::node::Node;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);
const NOW: &str = "2026-11-23T10:00:00Z";

/// Serve `bank`'s callback endpoint on `port` with the certificate of `as_bic`.
async fn callbacks(
    bank: &Arc<SimBank>,
    port: u16,
    pki: &std::path::Path,
    as_bic: &str,
) -> watch::Sender<bool> {
    let files = adapters::pki::IdentityFiles {
        cert: pki.join(format!("{as_bic}.pem")),
        key: pki.join(format!("{as_bic}.key")),
    };
    let tls = adapters::tls::server_config(&pki.join("ca.pem"), &files).unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (stop, rx) = watch::channel(false);
    bank.serve_callbacks(listener, tls, rx);
    stop
}

/// The messages of `bank`'s delivery log as (seq, type, whether it mentions `text`).
fn log_with(bank: &SimBank, text: &str) -> Vec<(u64, String)> {
    let log = bank.delivered_log();
    log.into_iter().filter(|m| m.xml.contains(text)).map(|m| (m.seq, m.msg_type)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_with_a_callback_gets_every_message_pushed_in_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = config(dir.path());
    cfg.participants[1].callback_url = Some(format!("https://localhost:{port}/iso20022/in"));
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let banks = banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = watch::channel(false);
    banks[0].spawn_inbox(rx.clone());
    let _b = callbacks(&banks[1], port, &pki, &banks[1].bic).await;
    for i in 0..3 {
        let e2e = format!("E2E-PUSH-{i}");
        let o = banks[0].pay(&e2e, "000001", &alias(1, 3, 0), 100, NOW, WAIT).await.unwrap();
        assert_eq!(o.status, TxStatus::AcceptedSettlementCompleted, "{e2e}");
        let got = log_with(&banks[1], &e2e);
        let types: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
        // The forwarded transfer, then the confirmation of settlement (the confirmation may
        // still be on its way when the debtor has its answer).
        assert_eq!(types.first(), Some(&"pacs.008.001.08"), "{e2e}: {got:?}");
    }
    // Every confirmation arrives and credits the customer; nothing came twice.
    let t0 = std::time::Instant::now();
    while banks[1].stats.credited.load(std::sync::atomic::Ordering::Relaxed) < 3 {
        assert!(t0.elapsed() < WAIT, "the confirmations were not all pushed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = banks[1].delivered_log();
    assert_eq!(log.len(), 6, "three transfers and three confirmations: {log:?}");
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq), "in order, once each");
    // Acknowledged by the pushes: a pull finds nothing left.
    let t0 = std::time::Instant::now();
    loop {
        let left = banks[1].client().pull(0, 10, 0).await.unwrap();
        if left.messages.is_empty() {
            break;
        }
        assert!(t0.elapsed() < WAIT, "pushed messages were not acknowledged: {left:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_wait_for_the_endpoint_and_go_only_to_the_bank_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = config(dir.path());
    cfg.participants[1].callback_url = Some(format!("https://127.0.0.1:{port}/in"));
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let banks = banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = watch::channel(false);
    banks[0].spawn_inbox(rx.clone());
    let (a, b, c) = (banks[0].clone(), banks[1].clone(), banks[2].clone());
    let paying = tokio::spawn(async move {
        a.pay("E2E-PUSH-LATE", "000001", &alias(1, 3, 0), 100, NOW, WAIT).await
    });
    // Nobody listens: the switch keeps trying.
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Another bank's endpoint on that address: its certificate does not name B, nothing is
    // sent to it.
    let impostor = callbacks(&c, port, &pki, &c.bic).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(log_with(&c, "E2E-PUSH-LATE").is_empty(), "B's message went to C's endpoint");
    let _ = impostor.send(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // B's own endpoint comes up: the push goes through and B answers in time.
    let _b = callbacks(&b, port, &pki, &b.bic).await;
    let outcome = paying.await.unwrap().unwrap();
    assert_eq!(outcome.status, TxStatus::AcceptedSettlementCompleted);
    let got = log_with(&b, "E2E-PUSH-LATE");
    assert_eq!(got.iter().filter(|(_, t)| t == "pacs.008.001.08").count(), 1, "{got:?}");
    let _ = stop.send(true);
}

/// A message the bank never took is pushed again by a restarted switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_switch_pushes_what_was_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = config(dir.path());
    cfg.participants[1].callback_url = Some(format!("https://localhost:{port}/in"));
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let banks = banks(&cfg, node.addr, &pki).await;
    let m = banks[0].pacs008_by_alias("E2E-PUSH-RESTART", "000001", &alias(1, 3, 0), 100, NOW);
    banks[0].client().send(iso20022::pacs008::encode(&m)).await.unwrap();
    // B's endpoint is down; the switch stops with the message still waiting for it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(banks);
    node.stop().unwrap().join().unwrap().unwrap();

    let node = Node::start(&cfg).await.unwrap();
    let banks = self::banks(&cfg, node.addr, &pki).await;
    let b_endpoint = callbacks(&banks[1], port, &pki, &banks[1].bic).await;
    let t0 = std::time::Instant::now();
    while log_with(&banks[1], "E2E-PUSH-RESTART").is_empty() {
        assert!(t0.elapsed() < WAIT, "the waiting message was not pushed after the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(log_with(&banks[1], "E2E-PUSH-RESTART")[0].1, "pacs.008.001.08");
    // The endpoint holds B (and B's connection to the switch) until it stops.
    let _ = b_endpoint.send(true);
    drop(banks);
    node.stop().unwrap().join().unwrap().unwrap();
}
