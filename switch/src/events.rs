//! Journal records: every state change of the switch is one [`Event`], appended and synced
//! before anything that depends on it leaves the switch. Replaying the events in order
//! rebuilds the whole state (balances, transfers, idempotency records, timers, and every
//! participant's outbound message stream with the same sequence numbers).
//!
//! Records are serialized with rkyv. Variants may be added at the end; existing ones never
//! change (frozen fixtures guard this).

use rkyv::{Archive, Deserialize, Serialize};

/// The identifiers a debtor bank gave a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct Ids {
    /// `GrpHdr/MsgId` of the debtor's pacs.008.
    pub msg_id: String,
    /// `InstrId`.
    pub instr_id: Option<String>,
    /// `EndToEndId`.
    pub end_to_end_id: String,
    /// `TxId`.
    pub tx_id: Option<String>,
    /// `UETR`.
    pub uetr: Option<String>,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum Event {
    /// Liquidity moved from the scheme's funding account into a participant's account.
    Funded {
        /// Participant index.
        participant: u32,
        /// Amount, minor units.
        amount_minor: u64,
        /// When.
        at_ms: u64,
    },
    /// An alias was registered.
    AliasRegistered {
        /// Normalized key.
        key: String,
        /// Participant index.
        participant: u32,
        /// Branch.
        branch: String,
        /// Account number.
        account: String,
        /// Owner name.
        owner: String,
    },
    /// A transfer passed every check; its amount is reserved and it goes to the creditor.
    Reserved {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
        /// Deadline for the creditor's answer.
        deadline_ms: u64,
        /// Debtor participant.
        debtor: u32,
        /// Creditor participant.
        creditor: u32,
        /// Amount, minor units.
        amount_minor: u64,
        /// The debtor's ids.
        ids: Ids,
        /// Content fingerprint for idempotency.
        fingerprint: u64,
        /// The pacs.008 forwarded to the creditor.
        forward_xml: String,
    },
    /// A transfer was refused by the switch itself.
    Rejected {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
        /// Debtor participant.
        debtor: u32,
        /// Amount, minor units.
        amount_minor: u64,
        /// The debtor's ids.
        ids: Ids,
        /// Content fingerprint.
        fingerprint: u64,
        /// ISO status reason code.
        reason: String,
    },
    /// The creditor accepted: the reservation is posted.
    Accepted {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
    },
    /// The creditor rejected: the reservation is voided.
    Declined {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
        /// The creditor's reason code.
        reason: String,
    },
    /// The creditor did not answer in time: voided, both banks told (AB05).
    Expired {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
    },
    /// An answer came after the transfer was final: recorded for operators, nothing moves.
    LateAnswer {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
        /// The status the creditor sent.
        status: String,
    },
    /// The same pacs.008 came again after the transfer was final: the outcome is re-sent.
    Resent {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
    },
    /// Known ids with different content: refused (AM05); the original stands.
    DuplicateRefused {
        /// Debtor participant.
        debtor: u32,
        /// When.
        at_ms: u64,
        /// The ids of the refused message.
        ids: Ids,
    },
    /// A participant acknowledged its stream up to `up_to`.
    Acked {
        /// Participant index.
        participant: u32,
        /// Last acknowledged sequence number.
        up_to: u64,
    },
    /// An operator suspended or re-activated a participant.
    StatusChanged {
        /// Participant index.
        participant: u32,
        /// Suspended after the change.
        suspended: bool,
        /// When.
        at_ms: u64,
    },
    /// A change of the alias directory made through its API (a `directory::DirectoryEvent`
    /// in its own versioned binary form).
    Directory {
        /// `DirectoryEvent::to_bytes`.
        bytes: Vec<u8>,
    },
    /// Like [`Event::Reserved`], with the alias key the creditor was resolved by (empty when
    /// routed by agent and account), so a later fraud recall can check the key's marks.
    ReservedRouted {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
        /// Deadline for the creditor's answer.
        deadline_ms: u64,
        /// Debtor participant.
        debtor: u32,
        /// Creditor participant.
        creditor: u32,
        /// Amount, minor units.
        amount_minor: u64,
        /// The debtor's ids.
        ids: Ids,
        /// Content fingerprint for idempotency.
        fingerprint: u64,
        /// The pacs.008 forwarded to the creditor.
        forward_xml: String,
        /// Normalized alias key, or empty.
        creditor_key: String,
    },
    /// A message from the switch that changes no state: the answer to a status enquiry, or
    /// the refusal of a return or recall. Journaled so the participant's stream is a function
    /// of the journal.
    Notice {
        /// Participant the message goes to.
        participant: u32,
        /// Transfer it concerns (0 when none was found).
        transfer: u64,
        /// When.
        at_ms: u64,
        /// What kind of notice (see `core::NoticeKind`).
        kind: u8,
        /// The message.
        xml: String,
    },
    /// A return (pacs.004) from the creditor bank settled: the amount moved back from the
    /// creditor to the debtor as a new transfer linked to the original.
    ReturnSettled {
        /// Return id (the switch's; the ledger id is derived from it).
        return_id: u64,
        /// The original transfer.
        original: u64,
        /// When.
        at_ms: u64,
        /// Amount returned, minor units.
        amount_minor: u64,
        /// `GrpHdr/MsgId` of the creditor's pacs.004.
        msg_id: String,
        /// `RtrId` (or the original end-to-end id when absent).
        rtr_id: String,
        /// Return reason code.
        reason: String,
        /// Content fingerprint for idempotency.
        fingerprint: u64,
        /// The pacs.004 forwarded to the original debtor bank.
        forward_xml: String,
    },
    /// A recall (camt.056) from the debtor bank was forwarded to the creditor bank.
    RecallOpened {
        /// Recall id.
        recall: u64,
        /// The transfer recalled.
        transfer: u64,
        /// When.
        at_ms: u64,
        /// When it expires unanswered.
        expires_ms: u64,
        /// `Assgnmt/Id` of the debtor's camt.056.
        assignment_id: String,
        /// `Case/Id`, or empty.
        case_id: String,
        /// The request's own id inside the camt.056 (`CxlId`, else its position), for the
        /// duplicate check.
        cancellation_id: String,
        /// Cancellation reason code.
        reason: String,
        /// Content fingerprint for idempotency.
        fingerprint: u64,
        /// The camt.056 forwarded to the creditor bank.
        forward_xml: String,
        /// Cautionary hold placed on the creditor's account (0: none).
        hold_minor: u64,
        /// When the hold lapses.
        hold_until_ms: u64,
    },
    /// The creditor bank answered a recall (camt.056) with a camt.029.
    RecallAnswered {
        /// Recall id.
        recall: u64,
        /// When.
        at_ms: u64,
        /// Accepted (CNCL): a return follows; refused (RJCR) otherwise.
        accepted: bool,
        /// Rejection reason code, or empty.
        reason: String,
        /// The camt.029 forwarded to the debtor bank.
        forward_xml: String,
    },
    /// A recall ended without the return it needed: unanswered, or accepted and never
    /// returned. Both banks are told; operators see it as an investigation.
    RecallExpired {
        /// Recall id.
        recall: u64,
        /// When.
        at_ms: u64,
    },
    /// A cautionary hold was released (its recall ended, a return came, or it lapsed).
    HoldReleased {
        /// Recall id.
        recall: u64,
        /// When.
        at_ms: u64,
    },
    /// An operator closed the open settlement window (deferred net); the next one opened.
    WindowClosed {
        /// The window closed.
        window: u64,
        /// When.
        at_ms: u64,
    },
    /// The RTGS settled a closed window: each deferred-net participant's net moved through
    /// the funding account.
    WindowSettled {
        /// The window settled.
        window: u64,
        /// When.
        at_ms: u64,
    },
    /// Retention: finished transfers leave memory (`[retention]` in the configuration).
    /// Each named transfer's full record is dropped and a compact duplicate-detection
    /// record takes its place; then the `forget` oldest duplicate-detection records are
    /// dropped too, and pacs.008s created before the newest of them are refused (DT01), so a
    /// forgotten payment can never be paid twice. The journal keeps everything.
    Retired {
        /// When.
        at_ms: u64,
        /// Finished transfers retired, in the order the switch finished them.
        ids: Vec<u64>,
        /// Duplicate-detection records forgotten, oldest first.
        forget: u32,
    },
    /// A pacs.008 sent again for a transfer that was retired: the debtor gets the stored
    /// outcome again (the ids and amount are the resent message's, which matched the
    /// retired transfer's fingerprint).
    ResentRetired {
        /// Transfer id.
        id: u64,
        /// When.
        at_ms: u64,
        /// Debtor participant.
        debtor: u32,
        /// Amount, minor units.
        amount_minor: u64,
        /// The debtor's ids.
        ids: Ids,
        /// The stored outcome: empty if settled, else the reject reason code.
        reason: String,
    },
    /// A creditor bank answered several transfers in one pacs.002: each is posted (accepted)
    /// or voided (declined), each debtor gets its pacs.002 as for [`Event::Accepted`] and
    /// [`Event::Declined`], and the creditor gets one confirmation listing them all instead
    /// of one per transfer.
    Answered {
        /// When.
        at_ms: u64,
        /// The creditor participant that answered.
        creditor: u32,
        /// Each transfer and its answer: empty if accepted, else the reject reason code.
        answers: Vec<(u64, String)>,
    },
}

/// Serialize an event for the journal.
pub fn encode(event: &Event) -> Result<Vec<u8>, String> {
    rkyv::to_bytes::<rkyv::rancor::Error>(event).map(|b| b.to_vec()).map_err(|e| e.to_string())
}

/// Read an event from journal bytes (validated; any alignment).
pub fn decode(bytes: &[u8]) -> Result<Event, String> {
    let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    rkyv::from_bytes::<Event, rkyv::rancor::Error>(&aligned).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids {
        Ids {
            msg_id: "M1".into(),
            instr_id: Some("I1".into()),
            end_to_end_id: "E1".into(),
            tx_id: Some("T1".into()),
            uetr: Some("8a562c67-ca16-48ba-b074-65581be6f011".into()),
        }
    }

    /// One event of every variant, in declaration order.
    fn one_of_each() -> Vec<Event> {
        vec![
            Event::Funded { participant: 1, amount_minor: 2, at_ms: 3 },
            Event::AliasRegistered {
                key: "+5511999990001".into(),
                participant: 1,
                branch: "0001".into(),
                account: "000001".into(),
                owner: "Ana".into(),
            },
            Event::Reserved {
                id: 4,
                at_ms: 5,
                deadline_ms: 6,
                debtor: 0,
                creditor: 1,
                amount_minor: 7,
                ids: ids(),
                fingerprint: 8,
                forward_xml: "<x/>".into(),
            },
            Event::Rejected {
                id: 9,
                at_ms: 10,
                debtor: 0,
                amount_minor: 11,
                ids: ids(),
                fingerprint: 12,
                reason: "AM04".into(),
            },
            Event::Accepted { id: 4, at_ms: 13 },
            Event::Declined { id: 4, at_ms: 14, reason: "AC03".into() },
            Event::Expired { id: 4, at_ms: 15 },
            Event::LateAnswer { id: 4, at_ms: 16, status: "ACSP".into() },
            Event::Resent { id: 4, at_ms: 17 },
            Event::DuplicateRefused { debtor: 0, at_ms: 18, ids: ids() },
            Event::Acked { participant: 2, up_to: 19 },
            Event::StatusChanged { participant: 2, suspended: true, at_ms: 20 },
            Event::Directory { bytes: vec![1, 2, 3] },
            Event::ReservedRouted {
                id: 21,
                at_ms: 22,
                deadline_ms: 23,
                debtor: 0,
                creditor: 1,
                amount_minor: 24,
                ids: ids(),
                fingerprint: 25,
                forward_xml: "<y/>".into(),
                creditor_key: "ana@example.com".into(),
            },
            Event::Notice { participant: 1, transfer: 21, at_ms: 26, kind: 1, xml: "<z/>".into() },
            Event::ReturnSettled {
                return_id: 1,
                original: 21,
                at_ms: 27,
                amount_minor: 28,
                msg_id: "R1".into(),
                rtr_id: "R1-1".into(),
                reason: "MD06".into(),
                fingerprint: 29,
                forward_xml: "<r/>".into(),
            },
            Event::RecallOpened {
                recall: 1,
                transfer: 21,
                at_ms: 30,
                expires_ms: 31,
                assignment_id: "A1".into(),
                case_id: "C1".into(),
                cancellation_id: "X1".into(),
                reason: "FRAD".into(),
                fingerprint: 32,
                forward_xml: "<c/>".into(),
                hold_minor: 33,
                hold_until_ms: 34,
            },
            Event::RecallAnswered {
                recall: 1,
                at_ms: 35,
                accepted: true,
                reason: String::new(),
                forward_xml: "<a/>".into(),
            },
            Event::RecallExpired { recall: 1, at_ms: 36 },
            Event::HoldReleased { recall: 1, at_ms: 37 },
            Event::WindowClosed { window: 1, at_ms: 38 },
            Event::WindowSettled { window: 1, at_ms: 39 },
            Event::Retired { at_ms: 40, ids: vec![1, 3], forget: 2 },
            Event::ResentRetired {
                id: 3,
                at_ms: 41,
                debtor: 1,
                amount_minor: 500,
                ids: ids(),
                reason: "AM04".into(),
            },
            Event::Answered {
                at_ms: 42,
                creditor: 2,
                answers: vec![(5, String::new()), (6, "AC03".into())],
            },
        ]
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Journals written by earlier builds must replay: the bytes of one event of every
    /// variant are frozen in `tests/fixtures/events.hex` (one line per event). A change that
    /// alters them breaks old journals. Variants added later are appended to the file with
    /// `UPDATE_EVENT_FIXTURES=1 cargo test -p switch events`; existing lines never change.
    #[test]
    fn frozen_fixtures_still_decode_to_the_same_events() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events.hex");
        let events = one_of_each();
        let frozen: Vec<String> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if std::env::var_os("UPDATE_EVENT_FIXTURES").is_some() {
            let mut lines = frozen.clone();
            for e in events.iter().skip(frozen.len()) {
                lines.push(hex(&encode(e).unwrap()));
            }
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
            return;
        }
        assert_eq!(frozen.len(), events.len(), "every variant has a frozen line");
        for (line, e) in frozen.iter().zip(&events) {
            let bytes: Vec<u8> = (0..line.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
                .collect();
            assert_eq!(&decode(&bytes).unwrap(), e);
            assert_eq!(hex(&encode(e).unwrap()), *line, "the encoding of {e:?} changed");
        }
    }

    #[test]
    fn events_round_trip() {
        let e = Event::Rejected {
            id: 7,
            at_ms: 1,
            debtor: 2,
            amount_minor: 300,
            ids: Ids { msg_id: "M".into(), end_to_end_id: "E".into(), ..Ids::default() },
            fingerprint: 9,
            reason: "BE23".into(),
        };
        let bytes = encode(&e).unwrap();
        assert_eq!(decode(&bytes).unwrap(), e);
        assert!(decode(&bytes[..bytes.len() / 2]).is_err());
    }
}
