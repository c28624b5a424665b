//! The bank-side SDK: connect to the switch with the bank's certificate, send ISO 20022
//! messages, and pull (long-poll) the messages the switch has for the bank.
//!
//! Pulling is cursor-based: `pull(after)` returns messages with a sequence number above
//! `after`; passing a higher `after` acknowledges everything up to it. A bank that crashes
//! pulls again from its last processed sequence and gets every unacknowledged message again.

use crate::wire::{self, Frame, PullResponse, SendResponse};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

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
    /// HTTP/2 failure (connection lost, stream reset).
    #[error("HTTP/2: {0}")]
    Http(#[from] hyper::Error),
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

/// A connection to the switch. Cheap to clone; clones share the HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct BankClient {
    sender: SendRequest<Full<Bytes>>,
}

impl BankClient {
    /// Connect over TLS 1.3 with the bank's client certificate (in `tls`).
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<ClientConfig>,
    ) -> Result<BankClient, ClientError> {
        let tcp = TcpStream::connect(addr).await.map_err(ClientError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| ClientError::ServerName(server_name.to_string()))?;
        let stream = TlsConnector::from(tls).connect(name, tcp).await.map_err(ClientError::Tls)?;
        let (sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(BankClient { sender })
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
        let mut sender = self.sender.clone();
        sender.ready().await?;
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(format!("https://switch{path_and_query}"))
            .header(http::header::CONTENT_TYPE, content_type);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let req = builder.body(Full::new(body))?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok());
        let content_type = header(http::header::CONTENT_TYPE.as_str()).map(str::to_string);
        let pull_next = header(wire::PULL_NEXT_HEADER).and_then(|v| v.parse().ok());
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(RawResponse { status, retry_after, content_type, pull_next, body })
    }

    /// Send an ISO 20022 message. `Ok` carries the switch's receipt once the message was
    /// taken and journaled; a technical reject comes back as `Err(Status{400, admi.002})`.
    pub async fn send(&self, xml: impl Into<Bytes>) -> Result<SendResponse, ClientError> {
        let r =
            self.request(http::Method::POST, "/v1/messages", "application/xml", xml.into()).await?;
        if r.status != 202 {
            return Err(ClientError::Status {
                status: r.status,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            });
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
            return Err(ClientError::Status {
                status: r.status,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            });
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
            status => Err(ClientError::Status {
                status,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            }),
        }
    }
}
