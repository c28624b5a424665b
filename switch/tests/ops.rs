//! The operations material in `ops/` stays true to the switch: every metric the alert rules and
//! the dashboard use is one the switch exports (the common ones are scraped from a running
//! switch after real payments), and every alert has its runbook section.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use switch::node::Node;

fn ops(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops").join(file))
        .unwrap()
}

/// `switch_*` metric names in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("switch_") && w.len() > "switch_".len())
        .map(str::to_string)
        .collect()
}

fn source_text() -> String {
    let mut all = String::new();
    for dir in ["src", "../adapters/src"] {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                all.push_str(&std::fs::read_to_string(p).unwrap());
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_dashboard_use_metrics_the_switch_exports() {
    let (alerts, dashboard, runbook) =
        (ops("alerts.yml"), ops("dashboard.json"), ops("runbook.md"));
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("the dashboard is JSON");
    let used: BTreeSet<String> =
        metric_names(&alerts).into_iter().chain(metric_names(&dashboard)).collect();
    assert!(used.len() >= 10, "{used:?}");
    let source = source_text();
    for m in &used {
        assert!(source.contains(&format!("\"{m}\"")), "{m} is used in ops/ but never exported");
    }
    for line in alerts.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")) {
        let heading = format!("## {line}");
        assert!(runbook.contains(&heading), "alert {line} has no runbook section");
    }

    // The everyday metrics are really there, scraped after real payments.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let node = Node::start(&cfg).await.unwrap();
    let (banks, stop) = connect(&cfg, node.addr, &node.pki.dir).await;
    let wait = Duration::from_secs(15);
    let now = "2026-11-23T10:00:00Z";
    banks[0].pay("E2E-OPS-1", "000001", &alias(1, 0, 0), 100, now, wait).await.unwrap();
    banks[0].pay("E2E-OPS-2", "000001", "+5521987650011", 100, now, wait).await.unwrap();
    let op = operator(node.addr, &node.pki.dir).await;
    let r = op
        .request(http::Method::GET, "/v1/operator/metrics", "text/plain", bytes::Bytes::new())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let scraped = metric_names(&String::from_utf8_lossy(&r.body));
    for m in [
        "switch_transfers_total",
        "switch_request_seconds",
        "switch_journal_sync_seconds",
        "switch_journal_batch_events",
        "switch_ingress_depth",
        "switch_outbox_depth",
        "switch_messages_total",
        "switch_creditor_answer_seconds",
    ] {
        assert!(used.contains(m), "{m} is not on the dashboard or in an alert");
        assert!(scraped.contains(m), "{m} missing from a live scrape: {scraped:?}");
    }
    let text = String::from_utf8_lossy(&r.body);
    assert!(
        text.lines().any(|l| l.starts_with("switch_messages_total")
            && l.contains("type=\"pacs.008.001.08\"")
            && l.contains("result=\"taken\"")),
        "messages are counted by type and result:\n{text}"
    );
    let _ = stop.send(true);
}
