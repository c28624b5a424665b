//! The SDK client against the participant endpoint over real loopback TLS 1.3 with client
//! certificates: bodies larger than one HTTP/2 frame go out and come back whole, answers far
//! beyond the receive windows are read (flow-control credit is given back), the participant is
//! the certificate's name, dropping the last clone of a client closes its connection, and a
//! body over the cap gets 413, declared or not.
//!
//! Guarantees: outcomes only, no timings; waits are bounded only so a regression fails instead
//! of hanging. Must not use anything but real sockets, TLS and HTTP/2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use adapters::client::BankClient;
use adapters::pki::DevPki;
use adapters::server::{self, BodyStream, Handler, Request, Response, ServerLimits, ServerStats};
use adapters::{tls, wire};
use bytes::Bytes;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Echoes the body, or answers `size=N` bytes, and names the participant in a header;
/// `GET /v1/stream` is a streamed answer of [`STREAM_PARTS`] parts, counted as they are made.
struct Echo {
    produced: Arc<AtomicUsize>,
}

/// Parts of the test stream, and the size of each.
const STREAM_PARTS: u64 = 200;
const PART_BYTES: usize = 64 << 10;

fn part_xml(seq: u64) -> Vec<u8> {
    let mut x = format!("<Document seq=\"{seq}\">").into_bytes();
    x.resize(PART_BYTES - 11, b'a' + (seq % 26) as u8);
    x.extend_from_slice(b"</Document>");
    x
}

impl Handler for Echo {
    async fn handle(&self, req: Request) -> Response {
        if req.path == "/v1/stream" {
            let produced = self.produced.clone();
            let parts = futures_util::stream::unfold(1u64, move |seq| {
                let produced = produced.clone();
                async move {
                    let mut out = Vec::new();
                    match seq {
                        s if s <= STREAM_PARTS => {
                            let xml = part_xml(s);
                            wire::encode_parts([(s, "pacs.008.001.08", xml.as_slice())], &mut out);
                            produced.fetch_add(1, Ordering::SeqCst);
                        }
                        s if s == STREAM_PARTS + 1 => {
                            out.extend_from_slice(wire::FRAMES_CLOSE.as_bytes())
                        }
                        _ => return None,
                    }
                    Some((Bytes::from(out), seq + 1))
                }
            });
            return Response::streaming(wire::FRAMES_CONTENT_TYPE, BodyStream(Box::pin(parts)));
        }
        let size = req.query.strip_prefix("size=").and_then(|n| n.parse::<usize>().ok());
        let body = match size {
            _ if req.path == "/whoami" => Bytes::from(req.participant.clone()),
            Some(n) => Bytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>()),
            None => req.body,
        };
        Response {
            status: 200,
            content_type: "application/octet-stream",
            headers: vec![("x-participant".to_string(), req.participant)],
            body,
            stream: None,
        }
    }
}

struct Endpoint {
    addr: SocketAddr,
    client_tls: Arc<rustls::ClientConfig>,
    stats: Arc<ServerStats>,
    produced: Arc<AtomicUsize>,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn endpoint(limits: ServerLimits) -> Endpoint {
    let dir = tempfile::tempdir().unwrap();
    let pki = DevPki::ensure(dir.path(), &["BKAABRSP"]).unwrap();
    let server_tls = tls::server_config(&pki.ca_cert, &pki.server).unwrap();
    let client_tls = tls::client_config(&pki.ca_cert, &pki.participant("BKAABRSP")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(ServerStats::default());
    let (stop, stopped) = watch::channel(false);
    let produced = Arc::new(AtomicUsize::new(0));
    tokio::spawn(server::serve(
        listener,
        server_tls,
        Arc::new(Echo { produced: produced.clone() }),
        limits,
        stats.clone(),
        Arc::new(HashSet::new()),
        stopped,
    ));
    Endpoint { addr, client_tls, stats, produced, _stop: stop, _dir: dir }
}

/// Fails the test instead of hanging when a request never completes.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f).await.expect("request hung")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_many_frames_go_out_and_come_back_whole_as_the_certificate_s_participant() {
    let e = endpoint(ServerLimits::default()).await;
    let client = BankClient::connect(e.addr, "localhost", e.client_tls.clone()).await.unwrap();
    // 200 KB: more than the server's 64 KiB initial stream window and many 16 KiB frames.
    let body: Bytes = (0..200_000u32).map(|i| (i % 7) as u8).collect::<Vec<u8>>().into();
    let r =
        bounded(client.request(http::Method::POST, "/echo", "x/y", body.clone())).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert_eq!(r.content_type.as_deref(), Some("application/octet-stream"));
    // An empty request (a pull's GET) is a request with no DATA frame at all.
    let r = bounded(client.request(http::Method::GET, "/echo", "x/y", Bytes::new())).await.unwrap();
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = bounded(client.request_with(
        http::Method::GET,
        "/echo?size=10",
        "x/y",
        &[("pi-payerid", "12345678901")],
        Bytes::new(),
    ))
    .await
    .unwrap();
    assert_eq!(&r.body[..], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let r =
        bounded(client.request(http::Method::GET, "/whoami", "x/y", Bytes::new())).await.unwrap();
    assert_eq!(&r.body[..], b"BKAABRSP");
    // A path the URI grammar refuses is a request error, not a panic nor a lost connection.
    let bad = client.request(http::Method::GET, "/a b", "x/y", Bytes::new()).await;
    assert!(matches!(bad, Err(adapters::client::ClientError::Request(_))), "{bad:?}");
    let r = bounded(client.request(http::Method::GET, "/echo", "x/y", Bytes::new())).await.unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_far_beyond_the_receive_windows_are_read_whole() {
    let e = endpoint(ServerLimits::default()).await;
    let client = BankClient::connect(e.addr, "localhost", e.client_tls.clone()).await.unwrap();
    // 12 answers of 1 MiB: more than the connection's 5 MiB window twice over, so the credit
    // of every byte read must be given back or the later answers stall.
    for _ in 0..12 {
        let r =
            bounded(client.request(http::Method::GET, "/big?size=1048576", "x/y", Bytes::new()))
                .await
                .unwrap();
        assert_eq!(r.body.len(), 1 << 20);
        assert!(r.body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    }
    // Concurrent requests on clones of one client share its connection.
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let body = Bytes::from(format!("message {i}").repeat(100));
            let r = c.request(http::Method::POST, "/echo", "x/y", body.clone()).await.unwrap();
            (r.body == body, r.status)
        }));
    }
    for t in tasks {
        assert_eq!(bounded(t).await.unwrap(), (true, 200));
    }
    assert_eq!(e.stats.connections_served.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_clone_closes_the_connection() {
    // One connection at most: a second client gets in only once the first one's is closed.
    let e = endpoint(ServerLimits { connections_max: 1, ..ServerLimits::default() }).await;
    let first = BankClient::connect(e.addr, "localhost", e.client_tls.clone()).await.unwrap();
    let r = bounded(first.request(http::Method::GET, "/echo", "x/y", Bytes::new())).await.unwrap();
    assert_eq!(r.status, 200);
    let clone = first.clone();
    drop(first);
    // A clone keeps the connection.
    let r = bounded(clone.request(http::Method::GET, "/echo", "x/y", Bytes::new())).await.unwrap();
    assert_eq!(r.status, 200);
    drop(clone);
    let mut attempts = 0;
    let second = loop {
        attempts += 1;
        assert!(attempts <= 500, "the first connection was never closed");
        if let Ok(c) = BankClient::connect(e.addr, "localhost", e.client_tls.clone()).await {
            if let Ok(r) = c.request(http::Method::GET, "/echo", "x/y", Bytes::new()).await {
                break (c, r);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(second.1.status, 200);
    assert_eq!(e.stats.connections_served.load(Ordering::Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_cap_gets_413_and_the_connection_serves_on() {
    let e = endpoint(ServerLimits { body_max_bytes: 1_000, ..ServerLimits::default() }).await;
    let client = BankClient::connect(e.addr, "localhost", e.client_tls.clone()).await.unwrap();
    for size in [1_001usize, 100_000] {
        let body = Bytes::from(vec![b'x'; size]);
        let r = bounded(client.request(http::Method::POST, "/echo", "x/y", body)).await.unwrap();
        assert_eq!(r.status, 413, "{size} bytes");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"], "BODY_TOO_LARGE");
        assert!(v["message"].as_str().unwrap().contains("over 1000 bytes"), "{v}");
    }
    // Exactly at the cap is taken, on the same connection.
    let body = Bytes::from(vec![b'y'; 1_000]);
    let r =
        bounded(client.request(http::Method::POST, "/echo", "x/y", body.clone())).await.unwrap();
    assert_eq!((r.status, r.body), (200, body));
    assert_eq!(e.stats.connections_served.load(Ordering::Relaxed), 1);
}

/// A body sent without `content-length` (a raw HTTP/2 client streaming it in chunks) is cut
/// off at the cap while it is read: 413, and the connection serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_body_over_the_cap_gets_413_while_it_is_read() {
    let e = endpoint(ServerLimits { body_max_bytes: 1_000, ..ServerLimits::default() }).await;
    let tcp = tokio::net::TcpStream::connect(e.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls =
        tokio_rustls::TlsConnector::from(e.client_tls.clone()).connect(name, tcp).await.unwrap();
    let (h2, connection) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(connection);
    let mut h2 = h2.ready().await.unwrap();
    let send = |h2: &mut h2::client::SendRequest<Bytes>, chunks: usize| {
        let req = http::Request::post("https://localhost/echo")
            .header("content-type", "x/y")
            .body(())
            .unwrap();
        let (answer, mut body) = h2.send_request(req, false).unwrap();
        for i in 0..chunks {
            body.send_data(Bytes::from(vec![b'z'; 400]), i + 1 == chunks).unwrap();
        }
        answer
    };
    let over = bounded(send(&mut h2, 3)).await.unwrap();
    assert_eq!(over.status(), 413);
    let mut body = over.into_body();
    let mut text = Vec::new();
    while let Some(chunk) = bounded(body.data()).await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        text.extend_from_slice(&chunk);
    }
    let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(v["error"], "BODY_TOO_LARGE", "{v}");
    // Two chunks (800 bytes) are under the cap, on the same connection.
    let mut h2 = h2.ready().await.unwrap();
    let under = bounded(send(&mut h2, 2)).await.unwrap();
    assert_eq!(under.status(), 200);
    assert_eq!(e.stats.connections_served.load(Ordering::Relaxed), 1);
}

/// A streamed answer is written no faster than the client reads it: a client that does not
/// read holds the source back at about its receive window (2 MiB) plus the server's send
/// buffer (400 KiB), and every part then arrives whole and in order, ended by the close
/// delimiter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_waits_for_its_reader_and_arrives_whole() {
    let e = endpoint(ServerLimits::default()).await;
    let c = bounded(BankClient::connect(e.addr, "localhost", e.client_tls.clone())).await.unwrap();
    let mut s = bounded(c.stream(0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = e.produced.load(Ordering::SeqCst);
    let window_parts = ((2 << 20) + (400 << 10)) / PART_BYTES;
    assert!(held > 0, "nothing was written");
    assert!(held <= window_parts + 4, "{held} parts made for a reader that reads nothing");
    let mut seqs = Vec::new();
    while let Some(frames) = bounded(s.next()).await.unwrap() {
        for f in frames {
            assert_eq!(f.xml.as_ref(), part_xml(f.seq).as_slice(), "part {}", f.seq);
            seqs.push(f.seq);
        }
    }
    assert_eq!(seqs, (1..=STREAM_PARTS).collect::<Vec<_>>());
    assert_eq!(e.produced.load(Ordering::SeqCst), STREAM_PARTS as usize);
}
