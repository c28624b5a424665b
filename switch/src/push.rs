//! Push delivery: for a participant with a `callback_url`, the switch POSTs the participant's
//! messages to the bank's own HTTPS endpoint as they become durable, instead of waiting for
//! the bank to pull them (as Mojaloop's callbacks do).
//!
//! One task per such participant, one push on the wire at a time, so the bank receives its
//! messages in order. A push carries up to [`PUSH_MAX`] messages as a `multipart/mixed` body in
//! the format of a framed pull (`adapters::wire`), or, for a message that holds the frame
//! delimiter, that one message alone as the JSON of a pull (`Content-Type` says which). A 2xx
//! answer acknowledges what the push carried; anything else, or no answer within
//! [`PUSH_TIMEOUT`], and the same messages are pushed again after a back-off (doubling from
//! [`BACKOFF`]'s first to its last), so delivery is at least once: the bank drops a message
//! whose `X-Seq` it has already taken. Meanwhile the bank may pull or stream them as well.
//!
//! Guarantees: the endpoint is the participant's (mutual TLS: the switch presents its client
//! certificate, and the server's certificate must name the participant, else nothing is sent);
//! nothing is pushed before it is journaled; a restarted switch pushes every message not yet
//! acknowledged. Counted in `switch_push_total{participant=BIC, result="delivered"|"failed"}`.

use crate::runtime::{CoreHandle, Delivery, Queued};
use adapters::client::BankClient;
use adapters::wire;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Messages in one push at most.
pub const PUSH_MAX: usize = 100;
/// Longest wait for a bank's answer to one push (connect included).
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// First and longest wait before a failed push is tried again.
pub const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// A bank's callback endpoint, from `https://HOST[:PORT]/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// Host name or IPv4 address; also the name its certificate is checked against.
    pub host: String,
    /// Port (443 when the URL has none).
    pub port: u16,
    /// Path and query the pushes are POSTed to.
    pub path: String,
}

impl Callback {
    /// Read a callback URL; the error says what is wrong with it.
    pub fn parse(url: &str) -> Result<Callback, String> {
        let rest = url.strip_prefix("https://").ok_or("must start with https://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("bad port {p:?}"))?),
            None => (authority, 443),
        };
        let host_ok = !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !host_ok {
            return Err(format!("bad host {host:?}: a DNS name or an IPv4 address"));
        }
        if port == 0 || path.chars().any(|c| c.is_whitespace() || c == '#') {
            return Err("bad port or path".to_string());
        }
        Ok(Callback { host: host.to_string(), port, path: path.to_string() })
    }
}

/// Push `participant`'s messages to `callback` until `shutdown` turns true.
pub async fn run(
    participant: u32,
    bic: String,
    callback: Callback,
    tls: Arc<rustls::ClientConfig>,
    delivery: Arc<Delivery>,
    core: CoreHandle,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut cursor = 0u64;
    let mut client: Option<BankClient> = None;
    let mut backoff = BACKOFF.0;
    loop {
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        let batch = tokio::select! {
            b = delivery.peek(participant, cursor, PUSH_MAX, until) => b,
            _ = shutdown.changed() => return,
        };
        if batch.is_empty() {
            continue;
        }
        let pushed =
            tokio::time::timeout(PUSH_TIMEOUT, push(&mut client, &callback, &tls, &bic, &batch))
                .await
                .unwrap_or_else(|_| Err(Failure::Connection("no answer in time".to_string())));
        match pushed {
            Ok(last) => {
                cursor = last;
                // If the core's queue is full, the next push's acknowledgement covers this one
                // (and a restart would push it again).
                let _ = delivery.acknowledge(&core, participant, last);
                metrics::counter!("switch_push_total", "participant" => bic.clone(), "result" => "delivered")
                    .increment(1);
                backoff = BACKOFF.0;
            }
            Err(e) => {
                metrics::counter!("switch_push_total", "participant" => bic.clone(), "result" => "failed")
                    .increment(1);
                let what = match &e {
                    Failure::Connection(m) => {
                        client = None;
                        m.clone()
                    }
                    Failure::Refused(m) => m.clone(),
                };
                eprintln!(
                    "warning: push to {bic} at https://{}:{}{} failed: {what}; again in {} ms",
                    callback.host,
                    callback.port,
                    callback.path,
                    backoff.as_millis()
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

/// Why a push failed.
enum Failure {
    /// No connection, or it broke: connect again.
    Connection(String),
    /// The bank answered, but not with 2xx.
    Refused(String),
}

/// Push the first messages of `batch` (connecting first if needed); the sequence of the last
/// one the bank took.
async fn push(
    client: &mut Option<BankClient>,
    callback: &Callback,
    tls: &Arc<rustls::ClientConfig>,
    bic: &str,
    batch: &[Arc<Queued>],
) -> Result<u64, Failure> {
    let c = match client {
        Some(c) => c.clone(),
        None => {
            let addr = tokio::net::lookup_host((callback.host.as_str(), callback.port))
                .await
                .map_err(|e| Failure::Connection(format!("resolve: {e}")))?
                .next()
                .ok_or_else(|| Failure::Connection("resolve: no address".to_string()))?;
            let c = BankClient::connect_to(addr, &callback.host, tls.clone(), Some(bic))
                .await
                .map_err(|e| Failure::Connection(e.to_string()))?;
            *client = Some(c.clone());
            c
        }
    };
    let (body, content_type, last) = body_of(batch)
        .ok_or_else(|| Failure::Refused("nothing to push (internal: empty batch)".to_string()))?;
    let r = c
        .request(http::Method::POST, &callback.path, content_type, body.into())
        .await
        .map_err(|e| Failure::Connection(e.to_string()))?;
    if (200..300).contains(&r.status) {
        Ok(last)
    } else {
        let text = String::from_utf8_lossy(r.body.get(..r.body.len().min(200)).unwrap_or_default())
            .into_owned();
        Err(Failure::Refused(format!("the bank answered {}: {text}", r.status)))
    }
}

/// The body of one push: the leading messages that can be framed, or the first alone as JSON
/// when it holds the frame delimiter; with its content type and its last sequence.
fn body_of(batch: &[Arc<Queued>]) -> Option<(Vec<u8>, &'static str, u64)> {
    let mut out = Vec::with_capacity(batch.iter().map(|m| m.xml.len() + 128).sum());
    let parts = batch.iter().map(|m| (m.seq, m.msg_type, m.xml.as_bytes()));
    let (n, _) = wire::encode_parts(parts, &mut out);
    if let Some(last) = n.checked_sub(1).and_then(|i| batch.get(i)) {
        out.extend_from_slice(wire::FRAMES_CLOSE.as_bytes());
        return Some((out, wire::FRAMES_CONTENT_TYPE, last.seq));
    }
    let first = batch.first()?;
    let json = wire::PullResponse {
        messages: vec![wire::Delivered {
            seq: first.seq,
            msg_type: first.msg_type.to_string(),
            xml: first.xml.as_ref().clone(),
        }],
        next: first.seq,
    };
    Some((serde_json::to_vec(&json).ok()?, "application/json", first.seq))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn callback_urls_are_read_or_refused_with_the_reason() {
        let c = Callback::parse("https://bank.example:9443/iso/in?x=1").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.path.as_str()),
            ("bank.example", 9443, "/iso/in?x=1")
        );
        let c = Callback::parse("https://127.0.0.1").unwrap();
        assert_eq!((c.host.as_str(), c.port, c.path.as_str()), ("127.0.0.1", 443, "/"));
        for (url, why) in [
            ("http://bank.example/in", "https://"),
            ("https://:9443/in", "bad host"),
            ("https://bank.example:99999/in", "bad port"),
            ("https://user@bank.example/in", "bad host"),
            ("https://bank.example/a b", "bad port or path"),
        ] {
            let e = Callback::parse(url).unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn a_push_frames_what_it_can_and_sends_a_forged_message_alone_as_json() {
        let q = |seq, xml: &str| {
            Arc::new(Queued { seq, msg_type: "pacs.002.001.10", xml: Arc::new(xml.to_string()) })
        };
        let forged = format!("<x>--{}</x>", wire::FRAME_BOUNDARY);
        let batch = vec![q(4, "<a/>"), q(5, "<b/>"), q(6, &forged), q(7, "<c/>")];
        let (body, ct, last) = body_of(&batch).unwrap();
        assert_eq!((ct, last), (wire::FRAMES_CONTENT_TYPE, 5));
        let frames = wire::decode_frames(&body.into()).unwrap();
        assert_eq!(frames.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![4, 5]);
        let (body, ct, last) = body_of(&batch[2..]).unwrap();
        assert_eq!((ct, last), ("application/json", 6));
        let p: wire::PullResponse = serde_json::from_slice(&body).unwrap();
        assert_eq!((p.messages.len(), p.messages[0].xml.as_str()), (1, forged.as_str()));
    }
}
