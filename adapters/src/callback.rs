//! A bank's callback endpoint: where the switch pushes the bank's messages when the bank's
//! `callback_url` is configured (see `switch::push`).
//!
//! The endpoint is the participant endpoint's server (HTTP/2, TLS 1.3, client certificates
//! from the scheme's CA) with one handler: only the switch's certificate
//! ([`crate::pki::SWITCH_CLIENT`]) may POST; the body is read with [`crate::wire::decode_push`];
//! a message already taken (its sequence not above [`PushReceiver::taken`]) is dropped, since
//! the switch pushes at least once; the rest go to [`PushReceiver::take_pushed`] in order, and
//! the answer is 204, which acknowledges them. A body that cannot be read gets 400 (the switch
//! pushes it again and raises it to its operators).

use crate::server::{self, Handler, Request, Response, ServerLimits, ServerStats};
use crate::wire::Frame;
use std::sync::Arc;
use tokio::sync::watch;

/// What a bank does with the messages pushed to it.
pub trait PushReceiver: Send + Sync + 'static {
    /// The highest sequence already taken.
    fn taken(&self) -> u64;
    /// Take `frames` (in order, each above [`PushReceiver::taken`]); `next` is the last one's
    /// sequence.
    fn take_pushed(self: &Arc<Self>, frames: Vec<Frame>, next: u64);

    /// Serve this receiver's callback endpoint on `listener` until `stop` turns true (see
    /// [`serve`]).
    fn serve_callbacks(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
        tls: Arc<rustls::ServerConfig>,
        stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()>
    where
        Self: Sized,
    {
        serve(self.clone(), listener, tls, stop)
    }
}

/// The handler of a callback endpoint.
struct Endpoint<R>(Arc<R>);

impl<R: PushReceiver> Handler for Endpoint<R> {
    async fn handle(&self, req: Request) -> Response {
        if req.participant != crate::pki::SWITCH_CLIENT {
            return Response::error(403, "NOT_THE_SWITCH", "only the switch pushes here");
        }
        if req.method != http::Method::POST {
            return Response::error(405, "POST_ONLY", "the switch POSTs its messages here");
        }
        match crate::wire::decode_push(&req.body) {
            Ok(mut frames) => {
                let taken = self.0.taken();
                frames.retain(|f| f.seq > taken);
                let next = frames.last().map_or(taken, |f| f.seq);
                self.0.take_pushed(frames, next);
                Response::json(204, String::new())
            }
            Err(e) => Response::error(400, "BAD_PUSH", &e),
        }
    }
}

/// Serve `receiver`'s callback endpoint on `listener` (TLS 1.3 with `tls`, which must require
/// client certificates from the scheme's CA) until `stop` turns true.
pub fn serve<R: PushReceiver>(
    receiver: Arc<R>,
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(server::serve(
        listener,
        tls,
        Arc::new(Endpoint(receiver)),
        ServerLimits::default(),
        Arc::new(ServerStats::default()),
        Arc::new(std::collections::HashSet::new()),
        stop,
    ))
}
