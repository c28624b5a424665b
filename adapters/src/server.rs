//! The participant endpoint: HTTP/2 over TLS 1.3 with mandatory client certificates.
//!
//! Each accepted connection is checked against the connection cap, handshaken, and its peer
//! certificate's common name becomes the participant identity attached to every request.
//! Request bodies are capped; over the cap the answer is 413. The business side is a
//! [`Handler`] supplied by the switch: this module moves bytes and never decides outcomes.
//!
//! Hot path: every message a bank sends passes here. No per-request logging.
//!
//! HTTP/2 is the `h2` crate's, driven directly: each connection is one task that reads its
//! frames and runs the handler of each of its streams (at most `streams_per_connection_max`
//! at once), with no task spawned per request; a stream the client resets has its handler
//! dropped, as a dropped connection has all of its own.

use crate::client::{read_body, BodyError};
use crate::tls::identity_of;
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use http::header::{HeaderName, HeaderValue};
use rustls::ServerConfig;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
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
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Content type of the body.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// A body written piece by piece instead, as its source yields (after `body`, if any):
    /// sent with no `Content-Length`, ended when the source ends.
    pub stream: Option<BodyStream>,
}

/// The source of a streamed response body. The endpoint writes each piece as the client's
/// flow-control window allows, so a client that stops reading holds the source back rather
/// than growing a buffer; a client that resets the stream or drops the connection drops it.
pub struct BodyStream(pub std::pin::Pin<Box<dyn futures_util::Stream<Item = Bytes> + Send>>);

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyStream")
    }
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: String) -> Self {
        Response {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.into(),
            stream: None,
        }
    }

    /// An XML response (ISO 20022 message).
    pub fn xml(status: u16, body: String) -> Self {
        Response {
            status,
            content_type: "application/xml",
            headers: Vec::new(),
            body: body.into(),
            stream: None,
        }
    }

    /// A 200 response whose body is written as `stream` yields.
    pub fn streaming(content_type: &'static str, stream: BodyStream) -> Self {
        Response {
            status: 200,
            content_type,
            headers: Vec::new(),
            body: Bytes::new(),
            stream: Some(stream),
        }
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

/// HTTP/2 receive window of each stream and of the connection (hyper's server had 1 MiB).
const RECEIVE_WINDOW: u32 = 1 << 20;
/// Largest DATA frame sent (the protocol's default).
const FRAME_MAX: u32 = 16 << 10;
/// Bytes a stream may buffer for sending beyond the peer's window (hyper's server: 400 KiB).
const SEND_BUFFER_MAX: usize = 400 << 10;
/// Largest request header list.
const HEADER_LIST_MAX: u32 = 16 << 10;
/// Streams a client may make the server reset before the connection is closed.
const LOCAL_RESETS_MAX: usize = 1_024;

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
            let handshake = h2::server::Builder::new()
                .max_concurrent_streams(limits.streams_per_connection_max)
                .initial_window_size(RECEIVE_WINDOW)
                .initial_connection_window_size(RECEIVE_WINDOW)
                .max_frame_size(FRAME_MAX)
                .max_send_buffer_size(SEND_BUFFER_MAX)
                .max_header_list_size(HEADER_LIST_MAX)
                .max_local_error_reset_streams(Some(LOCAL_RESETS_MAX))
                .handshake::<_, Bytes>(tls);
            let deadline = Duration::from_millis(limits.handshake_timeout_ms);
            let Ok(Ok(conn)) = tokio::time::timeout(deadline, handshake).await else {
                return;
            };
            serve_connection(conn, handler, participant, limits.body_max_bytes).await;
        });
    }
}

/// Serve the streams of one connection until it ends: accept each stream and run its answer
/// in this task, alongside the connection's I/O.
async fn serve_connection<H: Handler, T: AsyncRead + AsyncWrite + Unpin>(
    mut conn: h2::server::Connection<T, Bytes>,
    handler: Arc<H>,
    participant: Arc<str>,
    body_max: usize,
) {
    let mut streams = FuturesUnordered::new();
    loop {
        tokio::select! {
            biased;
            Some(()) = streams.next(), if !streams.is_empty() => {}
            next = conn.accept() => match next {
                Some(Ok((req, respond))) => streams.push(answer(
                    handler.clone(),
                    participant.clone(),
                    req,
                    respond,
                    body_max,
                )),
                Some(Err(_)) | None => break,
            },
        }
    }
    // No new stream: finish the open ones while the connection sends their answers, until it
    // is closed (then what is left can no longer be answered and is dropped).
    let closed = std::future::poll_fn(|cx| conn.poll_closed(cx));
    tokio::pin!(closed);
    loop {
        tokio::select! {
            biased;
            Some(()) = streams.next(), if !streams.is_empty() => {}
            _ = &mut closed => break,
        }
    }
}

/// Read one request (at most `body_max` bytes of body, else 413), have the handler answer it
/// and send the answer; gives up quietly when the client resets the stream.
async fn answer<H: Handler>(
    handler: Arc<H>,
    participant: Arc<str>,
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    body_max: usize,
) {
    // Only what the awaits need is held across them: the future is moved into the
    // connection's set of streams, once per request.
    let (parts, mut body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let read = match declared {
        Some(n) if n > body_max as u64 => Err(BodyError::TooLarge),
        _ => read_body(&mut body, body_max).await,
    };
    // The body's remaining frames, if any, are discarded from here on.
    drop(body);
    let resp = match read {
        Ok(bytes) => {
            let handled = handler.handle(request_of(&participant, parts, bytes));
            tokio::pin!(handled);
            tokio::select! {
                biased;
                r = &mut handled => r,
                _ = std::future::poll_fn(|cx| respond.poll_reset(cx)) => return,
            }
        }
        Err(BodyError::TooLarge) => Response::error(
            413,
            "BODY_TOO_LARGE",
            &format!("request body over {body_max} bytes; split the message"),
        ),
        Err(BodyError::H2(_)) => return,
    };
    let (head, payload, stream) = head_of(resp);
    let end = payload.is_empty() && stream.is_none();
    let Ok(mut send) = respond.send_response(head, end) else { return };
    if !payload.is_empty() {
        // Queued whole (it is in memory already); h2 sends it as the window allows.
        let _ = send.send_data(payload, stream.is_none());
    }
    if let Some(stream) = stream {
        send_stream(&mut send, stream).await;
    }
}

/// Write a streamed body until its source ends (then end the HTTP/2 stream), the client
/// resets the stream, or the connection fails.
async fn send_stream(send: &mut h2::SendStream<Bytes>, mut body: BodyStream) {
    loop {
        let next = tokio::select! {
            biased;
            _ = std::future::poll_fn(|cx| send.poll_reset(cx)) => return,
            n = body.0.next() => n,
        };
        let Some(piece) = next else {
            let _ = send.send_data(Bytes::new(), true);
            return;
        };
        if send_within_window(send, piece).await.is_err() {
            return;
        }
    }
}

/// Send `data` no faster than the client's flow-control window opens: at most what h2 has
/// given capacity for is queued at a time.
async fn send_within_window(send: &mut h2::SendStream<Bytes>, mut data: Bytes) -> Result<(), ()> {
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let mut room = send.capacity();
        if room == 0 {
            room = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(Ok(n)) => n,
                _ => return Err(()),
            };
        }
        if room == 0 {
            continue;
        }
        let piece = data.split_to(room.min(data.len()));
        send.send_data(piece, false).map_err(|_| ())?;
    }
    Ok(())
}

/// The handler's view of a request.
fn request_of(participant: &str, parts: http::request::Parts, body: Bytes) -> Request {
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    Request {
        participant: participant.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        payer_id: header("pi-payerid").map(str::to_string),
        accepts_frames: parts
            .headers
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("multipart/mixed")),
        method: parts.method,
        body,
    }
}

/// The HTTP head of a response, its body and its streamed body; a header the handler got
/// wrong turns the answer into a 500 rather than a panic.
fn head_of(resp: Response) -> (http::Response<()>, Bytes, Option<BodyStream>) {
    let mut head = http::Response::new(());
    let built = http::StatusCode::from_u16(resp.status).ok().and_then(|status| {
        *head.status_mut() = status;
        let h = head.headers_mut();
        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_str(resp.content_type).ok()?);
        if resp.stream.is_none() {
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(resp.body.len()));
        }
        for (k, v) in &resp.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
            h.append(name, HeaderValue::from_str(v).ok()?);
        }
        Some(())
    });
    match built {
        Some(()) => (head, resp.body, resp.stream),
        None => {
            let mut head = http::Response::new(());
            *head.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            (head, Bytes::from_static(b"internal error"), None)
        }
    }
}
