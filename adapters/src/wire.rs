//! JSON shapes of the participant API (besides the ISO 20022 XML bodies themselves).
//!
//! `POST /v1/messages` (XML body) -> 202 [`SendResponse`]; 400 admi.002 XML for a message
//! that cannot be read; 503 with `Retry-After` when the switch is busy.
//! `GET /v1/messages?after=N&max=M&wait_ms=W` -> 200 [`PullResponse`].

use serde::{Deserialize, Serialize};

/// Receipt for a message the switch took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// The message id the switch read (`GrpHdr/MsgId`).
    pub msg_id: String,
    /// Its type, e.g. `pacs.008.001.08`.
    pub msg_type: String,
    /// Transactions taken from it.
    pub transactions: u32,
}

/// One message for a participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    /// Sequence number in this participant's stream (1, 2, ...; stable across restarts).
    pub seq: u64,
    /// ISO message name id, e.g. `pacs.002.001.10`.
    pub msg_type: String,
    /// The message.
    pub xml: String,
}

/// Answer to a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    /// Messages in sequence order.
    pub messages: Vec<Delivered>,
    /// The cursor to pass as `after` next time.
    pub next: u64,
}
