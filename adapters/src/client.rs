//! The bank-side SDK: connect to the switch with the bank's certificate, send ISO 20022
//! messages, and pull (long-poll) the messages the switch has for the bank.
//!
//! Pulling is cursor-based: `pull(after)` returns messages with a sequence number above
//! `after`; passing a higher `after` acknowledges everything up to it. A bank that crashes
//! pulls again from its last processed sequence and gets every unacknowledged message again.
//! `stream(after)` instead keeps one answer open, into which the switch writes each message
//! as it becomes durable (no pull round trip per batch); `ack(through)` acknowledges.
//!
//! The HTTP/2 client is the `h2` crate's, driven directly: a request's head and body go out
//! from the caller's task (no per-request task, no body pipe), and the connection's I/O runs
//! in one task per connection. Guarantees: every answer is read whole (up to
//! [`RESPONSE_BODY_MAX`], over it a [`ClientError::TooLarge`]) with its flow-control credit
//! given back as it is read; a lost connection fails every request on it with
//! [`ClientError::H2`] (callers reconnect by connecting again); dropping the last clone of a
//! client closes its connection. It must not retry on its own nor decide what an answer means
//! beyond its status.

use crate::wire::{self, Frame, PullResponse, SendResponse};
use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;

/// Largest answer body read; over it the request fails with [`ClientError::TooLarge`]. A pull
/// of the switch's default 100 messages of at most 1 MiB each fits.
pub const RESPONSE_BODY_MAX: usize = 128 << 20;

/// HTTP/2 receive window of each stream (as hyper's client had it: 2 MiB).
const STREAM_WINDOW: u32 = 2 << 20;
/// HTTP/2 receive window of the connection (as hyper's client had it: 5 MiB).
const CONNECTION_WINDOW: u32 = 5 << 20;
/// Largest header list accepted from the switch.
const HEADER_LIST_MAX: u32 = 16 << 10;
/// Bytes a stream may buffer for sending beyond the peer's window (hyper's client: 1 MiB).
const SEND_BUFFER_MAX: usize = 1 << 20;

/// Client failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// TCP connect failed: is the switch running at that address?
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// TLS handshake failed: check the CA file, the certificate and the server name.
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    /// The server name is not valid.
    #[error("invalid server name {0:?}")]
    ServerName(String),
    /// HTTP/2 failure (connection lost, stream reset). No longer produced by this client
    /// (see [`ClientError::H2`]); kept for callers that match on it.
    #[error("HTTP/2: {0}")]
    Http(#[from] hyper::Error),
    /// HTTP/2 failure (connection lost, stream reset): connect again.
    #[error("HTTP/2: {0}")]
    H2(#[from] h2::Error),
    /// The switch's answer was larger than [`RESPONSE_BODY_MAX`].
    #[error("answer body over {limit} bytes; ask for fewer messages per pull")]
    TooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// The request could not be built.
    #[error("request: {0}")]
    Request(#[from] http::Error),
    /// The switch answered with an unexpected status or body.
    #[error("switch answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Body text.
        body: String,
    },
    /// The switch's JSON could not be read.
    #[error("response JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A framed pull body did not follow the format.
    #[error("{0}")]
    Frames(#[from] wire::FrameError),
    /// A stream's body ended without its close delimiter: the switch or the connection went
    /// away. Open a new stream from the cursor.
    #[error("the stream was cut before its close delimiter")]
    StreamCut,
}

impl From<PullResponse> for FramedPull {
    fn from(p: PullResponse) -> FramedPull {
        FramedPull { messages: p.messages.into_iter().map(Frame::from).collect(), next: p.next }
    }
}

/// Answer to a framed pull: the messages as the raw bytes the switch sent.
#[derive(Debug, Clone, Default)]
pub struct FramedPull {
    /// Messages in sequence order.
    pub messages: Vec<Frame>,
    /// The cursor to pass as `after` next time.
    pub next: u64,
}

/// A raw HTTP answer.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// `Retry-After` header, seconds, when present.
    pub retry_after: Option<String>,
    /// Content type of the body.
    pub content_type: Option<String>,
    /// The cursor header of a framed pull, when present.
    pub pull_next: Option<u64>,
    /// Body.
    pub body: Bytes,
}

impl RawResponse {
    /// This answer as an error: its status and its body's text.
    pub fn refused(&self) -> ClientError {
        ClientError::Status {
            status: self.status,
            body: String::from_utf8_lossy(&self.body).into_owned(),
        }
    }
}

/// A connection to the switch. Cheap to clone; clones share the HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct BankClient {
    sender: SendRequest<Bytes>,
    // Dropped with the last clone (after `sender`): wakes the connection task so that it
    // notices no handle is left and closes the connection.
    _closer: Arc<Closer>,
}

/// Tells the connection task, when dropped, that the last handle is gone.
#[derive(Debug)]
struct Closer(#[allow(dead_code)] oneshot::Sender<()>);

impl BankClient {
    /// Connect over TLS 1.3 with the bank's client certificate (in `tls`).
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<ClientConfig>,
    ) -> Result<BankClient, ClientError> {
        Self::connect_to(addr, server_name, tls, None).await
    }

    /// Connect like [`BankClient::connect`], and refuse a server whose certificate's common
    /// name is not `identity` (the switch pushing to a bank checks that the endpoint is that
    /// bank's).
    pub async fn connect_to(
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<ClientConfig>,
        identity: Option<&str>,
    ) -> Result<BankClient, ClientError> {
        let tcp = TcpStream::connect(addr).await.map_err(ClientError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| ClientError::ServerName(server_name.to_string()))?;
        let stream = TlsConnector::from(tls).connect(name, tcp).await.map_err(ClientError::Tls)?;
        if let Some(expected) = identity {
            let peer = stream.get_ref().1.peer_certificates().and_then(|c| c.first());
            let found = peer.and_then(crate::tls::identity_of);
            if found.as_deref() != Some(expected) {
                return Err(ClientError::Tls(std::io::Error::other(format!(
                    "the server's certificate names {found:?}, not {expected:?}"
                ))));
            }
        }
        let (sender, conn) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_header_list_size(HEADER_LIST_MAX)
            .max_send_buffer_size(SEND_BUFFER_MAX)
            .enable_push(false)
            .handshake::<_, Bytes>(stream)
            .await?;
        let (closer, closed) = oneshot::channel::<()>();
        tokio::spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                _ = &mut conn => return,
                _ = closed => {}
            }
            // Every handle is gone: polled once more, the connection says goodbye and ends.
            let _ = conn.await;
        });
        Ok(BankClient { sender, _closer: Arc::new(Closer(closer)) })
    }

    /// One HTTP request.
    pub async fn request(
        &self,
        method: http::Method,
        path_and_query: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<RawResponse, ClientError> {
        self.request_with(method, path_and_query, content_type, &[], body).await
    }

    /// One HTTP request with extra headers (e.g. `PI-PayerId` for directory lookups).
    pub async fn request_with(
        &self,
        method: http::Method,
        path_and_query: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<RawResponse, ClientError> {
        // Only what the awaits need is held across them (the future is moved when a caller
        // spawns it): the handle while waiting for a stream, the answer future, then the body.
        let sender = self.sender.clone().ready().await?;
        let answer =
            send_head_and_body(sender, method, path_and_query, content_type, headers, body)?;
        let resp = answer.await?;
        let status = resp.status().as_u16();
        let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok());
        let retry_after = header(http::header::RETRY_AFTER.as_str()).map(str::to_string);
        let content_type = header(http::header::CONTENT_TYPE.as_str()).map(str::to_string);
        let pull_next = header(wire::PULL_NEXT_HEADER).and_then(|v| v.parse().ok());
        let body = read_body(&mut resp.into_body(), RESPONSE_BODY_MAX).await?;
        Ok(RawResponse { status, retry_after, content_type, pull_next, body })
    }

    /// Send an ISO 20022 message. `Ok` carries the switch's receipt once the message was
    /// taken and journaled; a technical reject comes back as `Err(Status{400, admi.002})`.
    pub async fn send(&self, xml: impl Into<Bytes>) -> Result<SendResponse, ClientError> {
        let r =
            self.request(http::Method::POST, "/v1/messages", "application/xml", xml.into()).await?;
        if r.status != 202 {
            return Err(r.refused());
        }
        Ok(serde_json::from_slice(&r.body)?)
    }

    /// Pull messages with sequence above `after` (acknowledging everything up to `after`),
    /// waiting up to `wait_ms` for the first one.
    pub async fn pull(
        &self,
        after: u64,
        max: u32,
        wait_ms: u64,
    ) -> Result<PullResponse, ClientError> {
        let path = format!("/v1/messages?after={after}&max={max}&wait_ms={wait_ms}");
        let r = self.request(http::Method::GET, &path, "application/json", Bytes::new()).await?;
        if r.status != 200 {
            return Err(r.refused());
        }
        Ok(serde_json::from_slice(&r.body)?)
    }

    /// Pull like [`BankClient::pull`], asking for `multipart/mixed` (as Pix's SPI delivers):
    /// the messages arrive as their raw bytes, with no JSON escaping on either side. A switch
    /// that answers in JSON instead (it does when a message holds the frame boundary) is read
    /// just the same.
    pub async fn pull_framed(
        &self,
        after: u64,
        max: u32,
        wait_ms: u64,
    ) -> Result<FramedPull, ClientError> {
        let path = format!("/v1/messages?after={after}&max={max}&wait_ms={wait_ms}");
        let accept = [("accept", "multipart/mixed, application/json")];
        let r = self
            .request_with(http::Method::GET, &path, "application/json", &accept, Bytes::new())
            .await?;
        let framed = r.content_type.as_deref().is_some_and(|c| c.starts_with("multipart/mixed"));
        match r.status {
            204 => Ok(FramedPull { messages: Vec::new(), next: r.pull_next.unwrap_or(after) }),
            200 if framed => {
                let messages = wire::decode_frames(&r.body)?;
                let next = r.pull_next.or(messages.last().map(|m| m.seq)).unwrap_or(after);
                Ok(FramedPull { messages, next })
            }
            200 => {
                let p: PullResponse = serde_json::from_slice(&r.body)?;
                Ok(p.into())
            }
            _ => Err(r.refused()),
        }
    }

    /// Open the message stream from `after` (acknowledging everything up to it, as a pull
    /// does). Acknowledge what it delivers with [`BankClient::ack`] from time to time: the
    /// switch keeps, and redelivers after a reconnect, every message not acknowledged.
    pub async fn stream(&self, after: u64) -> Result<MessageStream, ClientError> {
        let sender = self.sender.clone().ready().await?;
        let path = format!("/v1/stream?after={after}");
        let accept = [("accept", "multipart/mixed")];
        let answer = send_head_and_body(
            sender,
            http::Method::GET,
            &path,
            "application/json",
            &accept,
            Bytes::new(),
        )?;
        let resp = answer.await?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        if status != 200 {
            let text = read_body(&mut body, 64 << 10).await?;
            return Err(ClientError::Status {
                status,
                body: String::from_utf8_lossy(&text).into_owned(),
            });
        }
        let reader = wire::FrameReader::new(RESPONSE_BODY_MAX);
        Ok(MessageStream { body, reader, _client: self.clone() })
    }

    /// Acknowledge every message up to `through`: the switch drops them from the bank's
    /// stream and will not deliver them again.
    pub async fn ack(&self, through: u64) -> Result<(), ClientError> {
        let path = format!("/v1/acks?through={through}");
        let r = self.request(http::Method::POST, &path, "application/json", Bytes::new()).await?;
        if r.status != 204 {
            return Err(r.refused());
        }
        Ok(())
    }
}

/// An open message stream (`GET /v1/stream`): the switch writes each message as soon as it
/// is durable, with no pull in between. Holds its connection open.
#[derive(Debug)]
pub struct MessageStream {
    body: h2::RecvStream,
    reader: wire::FrameReader,
    _client: BankClient,
}

impl MessageStream {
    /// The next messages: every whole one received, waiting for at least one. `Ok(None)` when
    /// the switch ended the stream cleanly (its lifetime is over, or the next message must be
    /// pulled: it holds the frame delimiter): pull once, then open the next stream from the
    /// cursor. Flow-control credit is given back as the bytes are read.
    pub async fn next(&mut self) -> Result<Option<Vec<Frame>>, ClientError> {
        loop {
            let frames = self.reader.frames()?;
            if !frames.is_empty() {
                return Ok(Some(frames));
            }
            if self.reader.ended() {
                return Ok(None);
            }
            match self.body.data().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    let _ = self.body.flow_control().release_capacity(chunk.len());
                    self.reader.push(&chunk);
                }
                None => return Err(ClientError::StreamCut),
            }
        }
    }
}

/// Paces the acknowledgements of a stream: at most one on its way at a time, and at most one
/// per `every`; each acknowledges the highest sequence processed when it leaves. A bank calls
/// [`Acker::ack`] after each batch it has processed, and again when its stream is idle, so
/// that the last messages are acknowledged too.
#[derive(Debug)]
pub struct Acker {
    every: std::time::Duration,
    acked: std::sync::atomic::AtomicU64,
    in_flight: std::sync::atomic::AtomicBool,
}

impl Acker {
    /// Acknowledgements at most once per `every`.
    pub fn new(every: std::time::Duration) -> Arc<Acker> {
        Arc::new(Acker {
            every,
            acked: std::sync::atomic::AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The highest sequence the switch confirmed as acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Acknowledge up to `through` on `client` in the background, unless it is already
    /// acknowledged, or an acknowledgement is on its way or left less than `every` ago (the
    /// next call then covers it). A failed one is simply repeated by the next call.
    pub fn ack(self: &Arc<Self>, client: &BankClient, through: u64) {
        use std::sync::atomic::Ordering;
        if through <= self.acked() || self.in_flight.swap(true, Ordering::AcqRel) {
            return;
        }
        let acker = self.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let next_allowed = tokio::time::Instant::now() + acker.every;
            let answered = tokio::time::timeout(ACK_TIMEOUT, client.ack(through)).await;
            if let Ok(Ok(())) = answered {
                acker.acked.fetch_max(through, Ordering::AcqRel);
            }
            tokio::time::sleep_until(next_allowed).await;
            acker.in_flight.store(false, Ordering::Release);
        });
    }
}

/// Longest wait for the answer to an acknowledgement.
const ACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Open a stream on a ready connection and queue the request's head and body on it.
fn send_head_and_body(
    mut sender: SendRequest<Bytes>,
    method: http::Method,
    path_and_query: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<h2::client::ResponseFuture, ClientError> {
    let uri = http::Uri::builder()
        .scheme(http::uri::Scheme::HTTPS)
        .authority(http::uri::Authority::from_static("switch"))
        .path_and_query(path_and_query)
        .build()?;
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, content_type);
    if !body.is_empty() {
        builder = builder.header(http::header::CONTENT_LENGTH, body.len());
    }
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(())?;
    let (answer, mut outgoing) = sender.send_request(req, body.is_empty())?;
    if !body.is_empty() {
        // Queued whole; h2 sends it as the switch's window allows (the body is bounded by the
        // caller: one message). The answer future keeps the stream open. A refusal here means
        // the switch has already answered and closed the stream (a 413 on the declared
        // length can get there first): that answer, or the connection's error, comes from
        // `answer`.
        let _ = outgoing.send_data(body, true);
    }
    Ok(answer)
}

/// Why a body could not be read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// More than the limit arrived.
    TooLarge,
    /// The stream or the connection failed.
    H2(h2::Error),
}

impl From<BodyError> for ClientError {
    fn from(e: BodyError) -> ClientError {
        match e {
            BodyError::TooLarge => ClientError::TooLarge { limit: RESPONSE_BODY_MAX },
            BodyError::H2(e) => ClientError::H2(e),
        }
    }
}

/// Read a body whole, at most `max` bytes, giving the flow-control credit back as it arrives.
/// A body of one DATA frame is returned as it came (no copy). Used by the client for answers
/// and by the server for requests.
pub(crate) async fn read_body(body: &mut h2::RecvStream, max: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(BodyError::H2)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        let held = first.as_ref().map_or(0, Bytes::len) + joined.as_ref().map_or(0, BytesMut::len);
        if held + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        match (&mut joined, first.take()) {
            (Some(j), _) => j.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(f)) => {
                let mut j = BytesMut::with_capacity(f.len() + chunk.len());
                j.extend_from_slice(&f);
                j.extend_from_slice(&chunk);
                joined = Some(j);
            }
        }
    }
    Ok(match joined {
        Some(j) => j.freeze(),
        None => first.unwrap_or_default(),
    })
}
