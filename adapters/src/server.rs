//! The participant endpoint: HTTP/2 over TLS 1.3 with mandatory client certificates.
//!
//! Each accepted connection is checked against the connection cap, handshaken, and its peer
//! certificate's common name becomes the participant identity attached to every request.
//! Request bodies are capped; over the cap the answer is 413. The business side is a
//! [`Handler`] supplied by the switch: this module moves bytes and never decides outcomes.
//!
//! Hot path: every message a bank sends passes here. No per-request logging.

use crate::tls::identity_of;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ServerConfig;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// A request from an authenticated participant.
#[derive(Debug, Clone)]
pub struct Request {
    /// The participant, from its certificate's common name.
    pub participant: String,
    /// HTTP method.
    pub method: http::Method,
    /// Path, e.g. `/v1/messages`.
    pub path: String,
    /// Raw query string (may be empty).
    pub query: String,
    /// The `PI-PayerId` header (directory lookups on behalf of an end user), if sent.
    pub payer_id: Option<String>,
    /// Whether the client accepts `multipart/mixed` (framed pulls, [`crate::wire`]).
    pub accepts_frames: bool,
    /// Body.
    pub body: Bytes,
}

/// A response to a participant.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Content type of the body.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: String) -> Self {
        Response {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// An XML response (ISO 20022 message).
    pub fn xml(status: u16, body: String) -> Self {
        Response { status, content_type: "application/xml", headers: Vec::new(), body: body.into() }
    }

    /// A JSON error with a stable code and a message saying what to do.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({ "error": code, "message": message }).to_string();
        Response::json(status, body)
    }
}

/// The business side of the endpoint.
pub trait Handler: Send + Sync + 'static {
    /// Answer one request.
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send;
}

/// Limits of the endpoint. Every one is explicit.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Concurrent connections; further connections are closed at once.
    pub connections_max: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub streams_per_connection_max: u32,
    /// Largest request body; larger gets 413.
    pub body_max_bytes: usize,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            connections_max: 1_024,
            streams_per_connection_max: 256,
            body_max_bytes: 1 << 20,
            handshake_timeout_ms: 5_000,
        }
    }
}

/// Counters of the endpoint, for metrics and tests.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections refused over the cap.
    pub connections_refused: AtomicU64,
    /// Handshakes that failed (no or bad client certificate, wrong protocol, timeout).
    pub handshakes_failed: AtomicU64,
    /// Connections served.
    pub connections_served: AtomicU64,
    /// Connections refused because the client certificate is revoked.
    pub revoked_refused: AtomicU64,
}

/// SHA-256 fingerprint of a DER certificate, lowercase hex (as `sha256sum` prints it).
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
}

/// Serve participants on `listener` until `shutdown` turns true. Client certificates whose
/// fingerprint is in `revoked` are refused after the handshake, before any request.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    handler: Arc<H>,
    limits: ServerLimits,
    stats: Arc<ServerStats>,
    revoked: Arc<HashSet<String>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(limits.connections_max));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, _peer)) = accepted else { continue };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            stats.connections_refused.fetch_add(1, Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        let stats = stats.clone();
        let revoked = revoked.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let hs = tokio::time::timeout(
                Duration::from_millis(limits.handshake_timeout_ms),
                acceptor.accept(tcp),
            )
            .await;
            let Ok(Ok(tls)) = hs else {
                stats.handshakes_failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let peer = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
            if peer.is_some_and(|c| revoked.contains(&fingerprint(c.as_ref()))) {
                stats.revoked_refused.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let Some(participant) = peer.and_then(identity_of) else {
                stats.handshakes_failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            stats.connections_served.fetch_add(1, Ordering::Relaxed);
            let participant: Arc<str> = participant.into();
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let handler = handler.clone();
                let participant = participant.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        answer(handler, participant, req, limits.body_max_bytes).await,
                    )
                }
            });
            let _ = http2::Builder::new(TokioExecutor::new())
                .max_concurrent_streams(limits.streams_per_connection_max)
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn answer<H: Handler>(
    handler: Arc<H>,
    participant: Arc<str>,
    req: hyper::Request<hyper::body::Incoming>,
    body_max: usize,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let resp = match Limited::new(body, body_max).collect().await {
        Ok(collected) => {
            let request = Request {
                participant: participant.to_string(),
                method: parts.method,
                path: parts.uri.path().to_string(),
                query: parts.uri.query().unwrap_or_default().to_string(),
                payer_id: parts
                    .headers
                    .get("pi-payerid")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                accepts_frames: parts
                    .headers
                    .get_all(http::header::ACCEPT)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .any(|v| v.contains("multipart/mixed")),
                body: collected.to_bytes(),
            };
            handler.handle(request).await
        }
        Err(_) => Response::error(
            413,
            "BODY_TOO_LARGE",
            &format!("request body over {body_max} bytes; split the message"),
        ),
    };
    let mut builder = hyper::Response::builder()
        .status(resp.status)
        .header(http::header::CONTENT_TYPE, resp.content_type);
    for (k, v) in resp.headers {
        builder = builder.header(k, v);
    }
    builder.body(Full::new(resp.body)).unwrap_or_else(|_| {
        let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"internal error")));
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
