//! The participant API on the mTLS endpoint: routes, decoding, and the answers banks get.
//!
//! - `POST /v1/messages` (ISO 20022 XML): decoded here (on the I/O threads, not the core),
//!   then handed to the core; 202 with a JSON receipt once the resulting events are durable.
//!   A message that cannot be read gets 400 with an admi.002 saying where and why. A full
//!   ingress queue gets 503 with `Retry-After`.
//! - `GET /v1/messages?after=N&max=M&wait_ms=W`: long-poll of the participant's stream;
//!   `after` acknowledges everything up to N.
//! - `GET /v1/stream?after=N` (`Accept: multipart/mixed`): the same stream written as its
//!   messages become durable, with no pull between them, for up to `stream_lifetime_ms`;
//!   `POST /v1/acks?through=N` acknowledges what a stream delivered.
//! - `GET /v1/operator/positions` (operator certificate only): positions and conservation.
//!
//! Hot path: every message passes here.

use crate::core::Answer;
use crate::runtime::{
    AdminStep, Command, CoreHandle, Delivery, Inbound, Query, QueryAnswer, StreamSlot, SubmitError,
};
use adapters::server::{BodyStream, Handler, Request, Response};
use adapters::wire::{SendResponse, FRAMES_CONTENT_TYPE, PULL_NEXT_HEADER};
use iso20022::admi002::{self, Admi002};
use iso20022::common::PartyOrAgent;
use iso20022::head001::AppHdr;
use iso20022::{DecodeError, Limits, Message, Reject};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Parse `a=1&b=2` into the values of `names` (in that order); an unknown name or a value
/// that is not an integer is refused with the answer to give.
fn integer_query<const N: usize>(
    query: &str,
    names: [&str; N],
) -> Result<[Option<u64>; N], Response> {
    let mut out = [None; N];
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = names.iter().position(|n| *n == k).and_then(|i| out.get_mut(i));
        match (slot, v.parse::<u64>()) {
            (Some(slot), Ok(n)) => *slot = Some(n),
            _ => {
                return Err(Response::error(
                    400,
                    "BAD_QUERY",
                    &format!("bad parameter {pair:?}; use {} as integers", names.join(", ")),
                ))
            }
        }
    }
    Ok(out)
}

/// Where one stream is.
struct StreamState {
    slot: StreamSlot,
    cursor: u64,
    max: usize,
    ends: tokio::time::Instant,
    done: bool,
}

/// The switch's [`Handler`].
#[derive(Debug)]
pub struct SwitchApi {
    core: CoreHandle,
    delivery: Arc<Delivery>,
    participants: HashMap<String, u32>,
    operator: String,
    limits: Limits,
    pull_max: u32,
    pull_wait_max_ms: u64,
    /// How long one stream stays open (a stream never outlives a changed certificate or
    /// participant status by more than this), and how many one participant may have open.
    stream_lifetime: Duration,
    streams_max: usize,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    stats: Option<Arc<adapters::server::ServerStats>>,
    enquiries: EnquiryQuota,
}

impl SwitchApi {
    /// An API over a running core.
    pub fn new(
        core: CoreHandle,
        delivery: Arc<Delivery>,
        participants: HashMap<String, u32>,
        limits: Limits,
        pull_max: u32,
        pull_wait_max_ms: u64,
    ) -> Self {
        SwitchApi {
            core,
            delivery,
            participants,
            operator: crate::config::OPERATOR.to_string(),
            limits,
            pull_max,
            pull_wait_max_ms,
            stream_lifetime: Duration::from_secs(60),
            streams_max: 4,
            metrics: None,
            stats: None,
            enquiries: EnquiryQuota {
                per_second: 20,
                burst: 100,
                buckets: std::sync::Mutex::new(HashMap::new()),
            },
        }
    }

    /// Status-enquiry quota per participant: `per_second` on average, `burst` at once.
    pub fn with_enquiry_quota(mut self, per_second: u32, burst: u32) -> Self {
        self.enquiries.per_second = per_second;
        self.enquiries.burst = burst;
        self
    }

    /// Streams last `lifetime`, at most `max` open per participant.
    pub fn with_stream_limits(mut self, lifetime: Duration, max: usize) -> Self {
        self.stream_lifetime = lifetime;
        self.streams_max = max;
        self
    }

    /// Serve metrics from this registry, with the endpoint's counters.
    pub fn with_telemetry(
        mut self,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
        stats: Arc<adapters::server::ServerStats>,
    ) -> Self {
        self.metrics = metrics;
        self.stats = Some(stats);
        self
    }

    fn render_metrics(&self) -> Response {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(s) = &self.stats {
            metrics::gauge!("switch_connections_refused_total")
                .set(s.connections_refused.load(Relaxed) as f64);
            metrics::gauge!("switch_handshakes_failed_total")
                .set(s.handshakes_failed.load(Relaxed) as f64);
            metrics::gauge!("switch_revoked_refused_total")
                .set(s.revoked_refused.load(Relaxed) as f64);
        }
        match &self.metrics {
            Some(h) => Response {
                status: 200,
                content_type: "text/plain; version=0.0.4",
                headers: Vec::new(),
                body: h.render().into(),
                stream: None,
            },
            None => Response::error(
                503,
                "NO_METRICS",
                "another metrics recorder is installed in this process",
            ),
        }
    }

    fn busy(e: SubmitError) -> Response {
        match e {
            SubmitError::Busy => {
                let mut r = Response::error(
                    503,
                    "BUSY",
                    "the switch is at its ingress limit; retry after the delay",
                );
                r.headers.push(("retry-after".into(), "1".into()));
                r
            }
            SubmitError::Stopped => Response::error(
                503,
                "UNAVAILABLE",
                "the switch is restarting after a storage failure; retry",
            ),
        }
    }

    async fn post_message(&self, from: u32, bic: &str, body: &[u8]) -> Response {
        let started = std::time::Instant::now();
        let mut kind = "unreadable";
        let r = self.take_message(from, bic, body, &mut kind).await;
        let result = match r.status {
            202 => "taken",
            400 => "technical_reject",
            403 => "forbidden",
            503 => "busy",
            _ => "refused",
        };
        metrics::counter!("switch_messages_total", "type" => kind, "result" => result).increment(1);
        metrics::histogram!("switch_request_seconds").record(started.elapsed().as_secs_f64());
        r
    }

    async fn take_message(
        &self,
        from: u32,
        bic: &str,
        body: &[u8],
        kind: &mut &'static str,
    ) -> Response {
        let (header, msg) = match read_message(body, &self.limits) {
            Ok(m) => m,
            Err(e) => return technical_reject(body, &e),
        };
        *kind = msg.message_type().name();
        if let Some(h) = &header {
            if !sender_is(&h.from, bic) {
                let e = DecodeError::new(
                    "/AppHdr/Fr",
                    iso20022::ErrorKind::Invalid(format!(
                        "the header names another sender than the certificate's participant {bic}"
                    )),
                );
                let mut r = technical_reject(body, &e);
                r.status = 403;
                return r;
            }
        }
        let (instructing, where_) = match &msg {
            Message::Pacs008(m) => {
                (m.header.instructing_agent.as_ref(), "/Document/GrpHdr/InstgAgt")
            }
            Message::Pacs002(m) => (m.instructing_agent.as_ref(), "/Document/GrpHdr/InstgAgt"),
            Message::Pacs004(m) => {
                (m.header.instructing_agent.as_ref(), "/Document/PmtRtr/GrpHdr/InstgAgt")
            }
            Message::Pacs028(m) => (m.instructing_agent.as_ref(), "/Document/GrpHdr/InstgAgt"),
            Message::Camt056(m) => (agent(&m.assignment.assigner), "/Document/Assgnmt/Assgnr"),
            Message::Camt029(m) => (agent(&m.assignment.assigner), "/Document/Assgnmt/Assgnr"),
            _ => (None, ""),
        };
        if instructing.is_some_and(|a| a.bic.as_deref().is_some_and(|b| b != bic)) {
            let e = DecodeError::new(
                where_,
                iso20022::ErrorKind::Invalid(format!(
                    "the instructing agent is not the certificate's participant {bic}"
                )),
            );
            let mut r = technical_reject(body, &e);
            r.status = 403;
            return r;
        }
        let (msg_id, msg_type, inbound) = match msg {
            Message::Pacs008(m) => {
                // Found here, off the core thread: where each transaction lies in the body.
                let received = crate::core::Received::of(body).map(Box::new);
                (
                    m.header.msg_id.clone(),
                    "pacs.008.001.08",
                    Inbound::Pacs008(Box::new(m), received),
                )
            }
            Message::Pacs002(m) => {
                (m.msg_id.clone(), "pacs.002.001.10", Inbound::Pacs002(Box::new(m)))
            }
            Message::Pacs004(m) => {
                (m.header.msg_id.clone(), "pacs.004.001.09", Inbound::Pacs004(Box::new(m)))
            }
            Message::Pacs028(m) => {
                if let Err(wait_s) = self.enquiries.take(from, m.transactions.len()) {
                    let mut r = Response::error(
                        429,
                        "ENQUIRY_QUOTA",
                        "status enquiry quota exhausted; payments are not affected; retry later",
                    );
                    r.headers.push(("retry-after".into(), wait_s.to_string()));
                    return r;
                }
                (m.msg_id.clone(), "pacs.028.001.03", Inbound::Pacs028(Box::new(m)))
            }
            Message::Camt056(m) => {
                (m.assignment.id.clone(), "camt.056.001.08", Inbound::Camt056(Box::new(m)))
            }
            Message::Camt029(m) => {
                (m.assignment.id.clone(), "camt.029.001.09", Inbound::Camt029(Box::new(m)))
            }
            other => {
                let e = DecodeError::new(
                    "/Document",
                    iso20022::ErrorKind::WrongMessage(format!(
                        "{} is not accepted on this endpoint",
                        other.message_type().name()
                    )),
                );
                return technical_reject(body, &e);
            }
        };
        let (reply, rx) = oneshot::channel();
        if let Err(e) = self.core.submit(Command::Message { from, msg: inbound, reply }) {
            return Self::busy(e);
        }
        match rx.await {
            Ok(Answer::Taken { transactions }) => {
                let r = SendResponse { msg_id, msg_type: msg_type.into(), transactions };
                Response::json(202, serde_json::to_string(&r).unwrap_or_default())
            }
            Ok(Answer::Refused { code, message }) => Response::error(422, code, &message),
            Err(_) => Self::busy(SubmitError::Stopped),
        }
    }

    async fn pull(&self, from: u32, query: &str, framed: bool) -> Response {
        let [after, max, wait_ms] = match integer_query(query, ["after", "max", "wait_ms"]) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let after = after.unwrap_or(0);
        let max = max.map_or(self.pull_max, |n| {
            u32::try_from(n).unwrap_or(u32::MAX).clamp(1, self.pull_max)
        });
        let wait_ms = wait_ms.unwrap_or(0).min(self.pull_wait_max_ms);
        if after > 0 {
            // Acknowledgements are journaled with the next batch; if the queue is full the
            // acknowledgement is simply repeated by the next pull.
            let _ = self.core.submit(Command::Ack { participant: from, up_to: after });
        }
        let messages = self
            .delivery
            .pull_shared(from, after, max as usize, Duration::from_millis(wait_ms))
            .await;
        let next = messages.last().map_or(after, |m| m.seq);
        if framed {
            let next_header = (PULL_NEXT_HEADER.to_string(), next.to_string());
            if messages.is_empty() {
                let mut r = Response::json(204, String::new());
                r.headers.push(next_header);
                return r;
            }
            let size: usize = messages.iter().map(|m| m.xml.len()).sum();
            let parts = messages.iter().map(|m| (m.seq, m.msg_type, m.xml.as_bytes()));
            if let Some(body) = adapters::wire::encode_frames(parts, size + 128 * messages.len()) {
                return Response {
                    status: 200,
                    content_type: FRAMES_CONTENT_TYPE,
                    headers: vec![next_header],
                    body: body.into(),
                    stream: None,
                };
            }
            // A message holds the frame delimiter: this pull goes out as JSON instead.
        }
        // The same JSON as `adapters::wire::PullResponse`, written from the shared messages.
        #[derive(serde::Serialize)]
        struct Out<'a> {
            messages: Vec<&'a crate::runtime::Queued>,
            next: u64,
        }
        let out = Out { messages: messages.iter().map(|m| m.as_ref()).collect(), next };
        Response::json(200, serde_json::to_string(&out).unwrap_or_default())
    }

    /// `GET /v1/stream?after=N`: the participant's messages above N, each written as soon as
    /// it is durable, until the stream's lifetime has passed; `after` acknowledges up to N.
    fn stream(&self, from: u32, query: &str, framed: bool) -> Response {
        let [after] = match integer_query(query, ["after"]) {
            Ok(v) => v,
            Err(r) => return r,
        };
        if !framed {
            return Response::error(
                406,
                "FRAMES_ONLY",
                "the stream is written as multipart/mixed parts; send Accept: multipart/mixed \
                 (or long-poll GET /v1/messages)",
            );
        }
        let Some(slot) = self.delivery.open_stream(from, self.streams_max) else {
            let mut r = Response::error(
                429,
                "TOO_MANY_STREAMS",
                &format!(
                    "this participant has {} streams open (limits.streams_per_participant_max); \
                     close one or wait for one to end",
                    self.streams_max
                ),
            );
            r.headers.push(("retry-after".to_string(), "1".to_string()));
            return r;
        };
        let after = after.unwrap_or(0);
        if after > 0 {
            // A full queue leaves it to the next acknowledgement.
            let _ = self.delivery.acknowledge(&self.core, from, after);
        }
        let state = StreamState {
            slot,
            cursor: after,
            max: self.pull_max as usize,
            ends: tokio::time::Instant::now() + self.stream_lifetime,
            done: false,
        };
        let body = futures_util::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            let d = st.slot.delivery();
            let batch = d.peek(st.slot.participant(), st.cursor, st.max, st.ends).await;
            let mut out = Vec::with_capacity(batch.iter().map(|m| m.xml.len() + 128).sum());
            let parts = batch.iter().map(|m| (m.seq, m.msg_type, m.xml.as_bytes()));
            let (n, forged) = adapters::wire::encode_parts(parts, &mut out);
            if let Some(m) = n.checked_sub(1).and_then(|i| batch.get(i)) {
                st.cursor = m.seq;
            }
            if batch.is_empty() || forged {
                // The lifetime is over, or a message holds the delimiter: the stream ends
                // before it, and the bank's next pull gets it as JSON.
                out.extend_from_slice(adapters::wire::FRAMES_CLOSE.as_bytes());
                st.done = true;
            }
            Some((bytes::Bytes::from(out), st))
        });
        Response::streaming(FRAMES_CONTENT_TYPE, BodyStream(Box::pin(body)))
    }

    /// `POST /v1/acks?through=N`: acknowledge the participant's messages up to N.
    fn ack(&self, from: u32, query: &str) -> Response {
        let through = match integer_query(query, ["through"]) {
            Ok([Some(n)]) => n,
            Ok([None]) => {
                return Response::error(
                    400,
                    "BAD_QUERY",
                    "give through=N, the sequence of the last message processed",
                )
            }
            Err(r) => return r,
        };
        match self.delivery.acknowledge(&self.core, from, through) {
            Ok(()) => Response::json(204, String::new()),
            Err(e) => Self::busy(e),
        }
    }

    /// The participant-facing directory API (`schemas/directory-openapi.yaml`).
    async fn directory(&self, from: u32, method: &str, req: &Request) -> Response {
        let path = if req.query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{}", req.path, req.query)
        };
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Directory {
            from,
            method: method.to_string(),
            path,
            payer_id: req.payer_id.clone(),
            body: req.body.clone(),
            reply,
        };
        if let Err(e) = self.core.submit(cmd) {
            return Self::busy(e);
        }
        match rx.await {
            Ok(a) => {
                let mut headers = a.headers;
                headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                Response {
                    status: a.status,
                    content_type: "application/json",
                    headers,
                    body: a.body.into(),
                    stream: None,
                }
            }
            Err(_) => Self::busy(SubmitError::Stopped),
        }
    }

    /// `POST /v1/operator/participants/{BIC}/suspend` or `.../activate`.
    async fn participant_status(&self, path: &str) -> Response {
        let rest = path.trim_start_matches("/v1/operator/participants/");
        let (bic, action) = rest.split_once('/').unwrap_or((rest, ""));
        let suspended = match action {
            "suspend" => true,
            "activate" => false,
            _ => {
                return Response::error(
                    404,
                    "NOT_FOUND",
                    "use .../participants/{BIC}/suspend or /activate",
                )
            }
        };
        let Some(participant) = self.participants.get(bic).copied() else {
            return Response::error(404, "UNKNOWN_PARTICIPANT", &format!("no participant {bic:?}"));
        };
        match self.core.admin(vec![AdminStep::Status { participant, suspended }]).await {
            Ok(changed) => {
                let status = if suspended { "suspended" } else { "active" };
                let body =
                    serde_json::json!({ "bic": bic, "status": status, "changed": changed > 0 });
                Response::json(200, body.to_string())
            }
            Err(e) => Response::error(503, "UNAVAILABLE", &e),
        }
    }

    async fn positions(&self) -> Response {
        match self.core.query(Query::Positions).await {
            Ok(QueryAnswer::Positions { positions, conserved, counters }) => {
                let body = serde_json::json!({
                    "positions": positions,
                    "conserved": conserved.is_ok(),
                    "conservation_error": conserved.err(),
                    "settled": counters.settled,
                    "rejected": counters.rejected,
                    "in_flight": counters.in_flight,
                    "late_answers": counters.late_answers,
                    "returns": counters.returns,
                    "recalls": counters.recalls,
                    "enquiries": counters.enquiries,
                    "holds": counters.holds,
                });
                Response::json(200, body.to_string())
            }
            Ok(_) => Response::error(500, "INTERNAL", "unexpected answer"),
            Err(e) => Self::busy(e),
        }
    }

    async fn windows(&self) -> Response {
        match self.core.query(Query::Windows).await {
            Ok(QueryAnswer::Windows(v)) => Response::json(200, v.to_string()),
            Ok(_) => Response::error(500, "INTERNAL", "unexpected answer"),
            Err(e) => Self::busy(e),
        }
    }

    /// `POST /v1/operator/windows/close` or `/v1/operator/windows/{N}/settle`.
    async fn window_action(&self, path: &str) -> Response {
        let rest = path.trim_start_matches("/v1/operator/windows/");
        let step = match rest.split_once('/') {
            None if rest == "close" => AdminStep::CloseWindow,
            Some((n, "settle")) => match n.parse() {
                Ok(window) => AdminStep::SettleWindow { window },
                Err(_) => return Response::error(400, "BAD_WINDOW", "window must be a number"),
            },
            _ => {
                return Response::error(
                    404,
                    "NOT_FOUND",
                    "use /v1/operator/windows/close or /v1/operator/windows/{N}/settle",
                )
            }
        };
        match self.core.admin(vec![step]).await {
            Ok(_) => self.windows().await,
            Err(e) => Response::error(409, "WINDOW_REFUSED", &e),
        }
    }

    async fn investigations(&self) -> Response {
        match self.core.query(Query::Investigations).await {
            Ok(QueryAnswer::Investigations(list)) => {
                let body = serde_json::json!({ "count": list.len(), "investigations": list });
                Response::json(200, body.to_string())
            }
            Ok(_) => Response::error(500, "INTERNAL", "unexpected answer"),
            Err(e) => Self::busy(e),
        }
    }
}

/// The agent of an assignment's assigner or assignee.
fn agent(p: &PartyOrAgent) -> Option<&iso20022::Agent> {
    match p {
        PartyOrAgent::Agent(a) => Some(a),
        PartyOrAgent::Party(_) => None,
    }
}

/// Per-participant token buckets for status enquiries, on the I/O side: an enquiry over
/// quota never reaches the core, so enquiries cannot take the place of payments there.
#[derive(Debug)]
struct EnquiryQuota {
    per_second: u32,
    burst: u32,
    buckets: std::sync::Mutex<HashMap<u32, (f64, std::time::Instant)>>,
}

impl EnquiryQuota {
    /// Take `n` tokens, or say how many seconds to wait.
    fn take(&self, participant: u32, n: usize) -> Result<(), u64> {
        let now = std::time::Instant::now();
        let Ok(mut b) = self.buckets.lock() else { return Err(1) };
        let (tokens, at) = b.entry(participant).or_insert((f64::from(self.burst), now));
        let refill = now.duration_since(*at).as_secs_f64() * f64::from(self.per_second);
        *tokens = (*tokens + refill).min(f64::from(self.burst));
        *at = now;
        let need = n as f64;
        if *tokens >= need {
            *tokens -= need;
            return Ok(());
        }
        let per_s = f64::from(self.per_second.max(1));
        Err(((need - *tokens) / per_s).ceil().max(1.0) as u64)
    }
}

/// Read a bare `Document` or an `AppHdr` + `Document` envelope, in one pass over the input
/// (the codec's tape; no tree is built).
fn read_message(body: &[u8], limits: &Limits) -> Result<(Option<AppHdr>, Message), DecodeError> {
    iso20022::decode_message(body, limits)
}

/// Whether a header's sender is the participant with this BIC.
fn sender_is(from: &PartyOrAgent, bic: &str) -> bool {
    match from {
        PartyOrAgent::Agent(a) => a.bic.as_deref() == Some(bic),
        PartyOrAgent::Party(p) => p.id.as_ref().and_then(|i| i.any_bic.as_deref()) == Some(bic),
    }
}

/// Best effort: the MsgId of an unreadable message, for the admi.002's related reference.
fn guess_msg_id(body: &[u8]) -> String {
    let text =
        String::from_utf8_lossy(body.get(..body.len().min(4096)).unwrap_or_default()).into_owned();
    text.split_once("<MsgId>")
        .and_then(|(_, rest)| rest.split_once("</MsgId>"))
        .map(|(id, _)| id.trim().to_string())
        .filter(|id| !id.is_empty() && id.len() <= 35 && !id.contains('<'))
        .unwrap_or_else(|| "NOTAVAILABLE".to_string())
}

/// 400 with an admi.002 naming the rule broken, where, and why.
pub fn technical_reject(body: &[u8], e: &DecodeError) -> Response {
    let reason = match e.reject() {
        Reject::Technical => match e.kind {
            iso20022::ErrorKind::TooLarge(_) => "LIMIT",
            iso20022::ErrorKind::Forbidden(_) => "FORBIDDEN",
            iso20022::ErrorKind::WrongMessage(_) => "UNSUPPORTED",
            _ => "FF01",
        },
        Reject::Business(code) => code.code(),
    };
    let xml = admi002::encode(&Admi002 {
        related_ref: guess_msg_id(body),
        reason: reason.to_string(),
        rejected_at: Some(crate::time::iso_datetime(crate::time::now_ms())),
        location: Some(e.path.clone()),
        description: Some(e.to_string()),
    });
    Response::xml(400, xml)
}

impl Handler for SwitchApi {
    async fn handle(&self, req: Request) -> Response {
        let is_operator = req.participant == self.operator;
        let from = self.participants.get(&req.participant).copied();
        match (req.method.as_str(), req.path.as_str(), from) {
            (method, path, Some(from)) if path.starts_with(directory::api::PATH_PREFIX) => {
                self.directory(from, method, &req).await
            }
            // Boxed: the per-request future stays small, so spawning and polling it moves
            // little memory (memmove was the top symbol of the profile).
            ("POST", "/v1/messages", Some(from)) => {
                Box::pin(self.post_message(from, &req.participant, &req.body)).await
            }
            ("GET", "/v1/messages", Some(from)) => {
                Box::pin(self.pull(from, &req.query, req.accepts_frames)).await
            }
            ("GET", "/v1/stream", Some(from)) => self.stream(from, &req.query, req.accepts_frames),
            ("POST", "/v1/acks", Some(from)) => self.ack(from, &req.query),
            ("GET", "/v1/operator/positions", _) if is_operator => self.positions().await,
            ("GET", "/v1/operator/metrics", _) if is_operator => self.render_metrics(),
            ("GET", "/v1/operator/investigations", _) if is_operator => self.investigations().await,
            ("GET", "/v1/operator/windows", _) if is_operator => self.windows().await,
            ("POST", path, _) if is_operator && path.starts_with("/v1/operator/windows/") => {
                self.window_action(path).await
            }
            ("POST", path, _) if is_operator && path.starts_with("/v1/operator/participants/") => {
                self.participant_status(path).await
            }
            (_, "/v1/operator/positions", _) => Response::error(
                403,
                "NOT_OPERATOR",
                "operator endpoints need the operator certificate",
            ),
            (_, "/v1/messages" | "/v1/stream" | "/v1/acks", None) => Response::error(
                403,
                "UNKNOWN_PARTICIPANT",
                &format!("certificate {:?} is not a participant of this scheme", req.participant),
            ),
            _ => Response::error(
                404,
                "NOT_FOUND",
                "unknown path; see the participant API in the README",
            ),
        }
    }
}
