//! Metrics: the `metrics` facade recorded into a Prometheus registry, rendered on
//! `GET /v1/operator/metrics` (operator certificate) and, when `metrics_listen` is set, on a
//! plain-HTTP `/metrics` for a local Prometheus scraper.
//!
//! Names (all prefixed `switch_`): `messages_total{type,result}`, `transfers_total{outcome,
//! reason}`, `request_seconds{type}` (histogram, receipt to durable answer),
//! `journal_batch_events` and `journal_sync_seconds` (histograms), `core_batch_seconds`,
//! `ingress_depth` and `outbox_depth{participant}` (gauges), `late_answers_total`,
//! and the endpoint's `connections_refused_total`, `handshakes_failed_total`,
//! `revoked_refused_total`.
//!
//! Hot path: recording is a few atomic operations; no allocation per event except labels
//! that are `&'static str`.

use crate::events::Event;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the process-wide recorder (once); later calls return the same handle.
pub fn init() -> Option<PrometheusHandle> {
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok()).clone()
}

/// Count a finished transfer: settled (`reason` empty) or rejected with an ISO reason code.
fn count_finished(reason: &str) {
    let (outcome, reason) = match reason {
        "" => ("settled", ""),
        r => {
            ("rejected", iso20022::codes::StatusReason::from_code(r).map_or("other", |r| r.code()))
        }
    };
    metrics::counter!("switch_transfers_total", "outcome" => outcome, "reason" => reason)
        .increment(1);
}

/// Count what a journaled event means for transfers.
pub fn record_event(e: &Event) {
    match e {
        Event::Reserved { .. } | Event::ReservedRouted { .. } => {
            metrics::counter!("switch_transfers_total", "outcome" => "reserved", "reason" => "")
                .increment(1)
        }
        Event::Accepted { .. } => count_finished(""),
        Event::Rejected { reason, .. } | Event::Declined { reason, .. } => count_finished(reason),
        Event::Answered { answers, .. } => {
            answers.iter().for_each(|(_, reason)| count_finished(reason));
        }
        Event::Expired { .. } => {
            metrics::counter!("switch_transfers_total", "outcome" => "rejected", "reason" => "AB05")
                .increment(1)
        }
        Event::LateAnswer { .. } => metrics::counter!("switch_late_answers_total").increment(1),
        Event::ReturnSettled { reason, .. } => {
            let reason =
                iso20022::codes::ReturnReason::from_code(reason).map_or("other", |r| r.code());
            metrics::counter!("switch_returns_total", "reason" => reason).increment(1)
        }
        Event::RecallOpened { .. } => metrics::counter!("switch_recalls_total").increment(1),
        Event::RecallExpired { .. } => {
            metrics::counter!("switch_recalls_expired_total").increment(1)
        }
        Event::Notice { kind, .. } => {
            metrics::counter!("switch_notices_total", "kind" => kind.to_string()).increment(1)
        }
        _ => {}
    }
}

/// Serve `render()` as plain HTTP on `listen` (any path) until the process ends.
pub async fn serve_plain(listen: String, handle: PrometheusHandle) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { continue };
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(2), sock.read(&mut buf))
                        .await;
                let body = handle.render();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    Ok(())
}
