//! The whole lifecycle of a transfer, rebuilt from the journal: every message in and out,
//! every ledger movement, every state change, with its time. `switchctl transfer show` and
//! `switchctl investigations` print it.
//!
//! A [`Tracer`] is fed every journal event in order; it applies each to a [`Core`] (so the
//! messages out are exactly those the switch sent, with their stream sequence numbers) and
//! keeps the steps of the transfers it was asked about.
//!
//! Must not: write anything. Offline tool; runs on a read-only replay.

use crate::core::{Core, FORWARD_PREFIX};
use crate::events::Event;
use std::collections::{BTreeMap, BTreeSet};

/// Which transfers to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Transfer ids (`12` or `IPSF12`).
    Ids(BTreeSet<u64>),
    /// A debtor's MsgId, EndToEndId or UETR: every transfer carrying it.
    Reference(String),
}

impl Selector {
    /// Parse what an operator typed: a transfer id (`12`, `IPSF12`) or a reference.
    pub fn parse(text: &str) -> Selector {
        let n = text.strip_prefix(FORWARD_PREFIX).unwrap_or(text);
        match n.parse::<u64>() {
            Ok(id) => Selector::Ids(BTreeSet::from([id])),
            Err(_) => Selector::Reference(text.to_string()),
        }
    }
}

/// One line of a lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When (the journaled time of the event).
    pub at_ms: Option<u64>,
    /// `in`, `state`, `ledger` or `out`.
    pub kind: &'static str,
    /// What happened.
    pub text: String,
    /// The message, for `out` steps.
    pub xml: Option<String>,
}

/// Follows transfers through a replay.
#[derive(Debug)]
pub struct Tracer {
    selector: Selector,
    followed: BTreeSet<u64>,
    steps: BTreeMap<u64, Vec<Step>>,
    /// Followed transfers as they were when retention retired them from the core.
    retired: BTreeMap<u64, crate::core::Transfer>,
}

/// An amount in the scheme's currency, with its own number of decimals.
fn amount(core: &Core, minor: u64) -> String {
    iso20022::Amount { minor, currency: core.currency() }.to_decimal_string()
}

impl Tracer {
    /// A tracer for `selector`.
    pub fn new(selector: Selector) -> Tracer {
        let followed = match &selector {
            Selector::Ids(ids) => ids.clone(),
            Selector::Reference(_) => BTreeSet::new(),
        };
        Tracer { selector, followed, steps: BTreeMap::new(), retired: BTreeMap::new() }
    }

    /// The transfers followed, each with its steps in order.
    pub fn steps(&self) -> &BTreeMap<u64, Vec<Step>> {
        &self.steps
    }

    /// The replay started from a snapshot as of journal record `seq` (restored into `core`):
    /// the records before it may be gone, so each selected transfer the snapshot holds starts
    /// with one step giving its state then; the events after `seq` are fed as usual.
    pub fn from_snapshot(&mut self, core: &Core, seq: u64) {
        let mut ids: Vec<u64> = match &self.selector {
            Selector::Ids(ids) => {
                ids.iter().copied().filter(|id| core.transfer(*id).is_some()).collect()
            }
            Selector::Reference(r) => core
                .transfers()
                .filter(|t| {
                    t.ids.msg_id == *r
                        || t.ids.end_to_end_id == *r
                        || t.ids.uetr.as_deref() == Some(r)
                })
                .map(|t| t.id)
                .collect(),
        };
        ids.sort_unstable();
        for id in ids {
            let Some(t) = core.transfer(id) else { continue };
            self.followed.insert(id);
            let text = format!(
                "as of journal record {seq} (snapshot; earlier records may be compacted away): \
                 created {}, {:?}, last change {}, returned {}",
                crate::time::iso_datetime(t.created_ms),
                t.state,
                crate::time::iso_datetime(t.updated_ms),
                amount(core, t.returned_minor)
            );
            let step = Step { at_ms: Some(t.updated_ms), kind: "state", text, xml: None };
            self.steps.entry(id).or_default().push(step);
        }
    }

    /// Apply `e` to `core` and record what it did to the followed transfers.
    pub fn feed(&mut self, core: &mut Core, e: &Event) {
        if let (Selector::Reference(r), Some((id, ids))) = (&self.selector, created(e)) {
            if ids.msg_id == *r || ids.end_to_end_id == *r || ids.uetr.as_deref() == Some(r) {
                self.followed.insert(id);
            }
        }
        let recall_transfer = |core: &Core, r: u64| core.recall(r).map(|r| r.transfer);
        let before = match e {
            Event::RecallAnswered { recall, .. }
            | Event::RecallExpired { recall, .. }
            | Event::HoldReleased { recall, .. } => recall_transfer(core, *recall),
            _ => None,
        };
        if let Event::Retired { at_ms, ids, .. } = e {
            for id in ids.iter().filter(|id| self.followed.contains(id)) {
                let text = "retired from the switch's memory ([retention]); the journal keeps it"
                    .to_string();
                let step = Step { at_ms: Some(*at_ms), kind: "state", text, xml: None };
                self.steps.entry(*id).or_default().push(step);
                if let Some(t) = core.transfer(*id) {
                    self.retired.insert(*id, t.clone());
                }
            }
        }
        core.apply(e);
        let out = core.drain_outbound();
        if let Event::Answered { at_ms, creditor, answers } = e {
            self.answered(core, (*at_ms, *creditor, answers), &out);
            return;
        }
        let transfer = before.or_else(|| touched(e));
        let Some(id) = transfer.filter(|id| self.followed.contains(id)) else { return };
        let bic = |p: u32| {
            core.participants().get(p as usize).map_or_else(|| p.to_string(), |p| p.bic.clone())
        };
        let mut steps = describe(e, core, &bic);
        for o in out {
            steps.push(Step {
                at_ms: at(e),
                kind: "out",
                text: format!("{} #{} {}", bic(o.participant), o.seq, o.msg_type),
                xml: Some(o.xml.as_ref().clone()),
            });
        }
        self.steps.entry(id).or_default().extend(steps);
    }

    /// Steps of the followed transfers one creditor's pacs.002 answered together, with the
    /// messages that name each of them.
    fn answered(
        &mut self,
        core: &Core,
        (at_ms, creditor, answers): (u64, u32, &[(u64, String)]),
        out: &[crate::core::Outbound],
    ) {
        let bic = |p: u32| {
            core.participants().get(p as usize).map_or_else(|| p.to_string(), |p| p.bic.clone())
        };
        for (id, reason) in answers.iter().filter(|(id, _)| self.followed.contains(id)) {
            let mut steps = answered(at_ms, &bic(creditor), reason, answers.len());
            let reference = format!("<ClrSysRef>{FORWARD_PREFIX}{id}</ClrSysRef>");
            for o in out.iter().filter(|o| o.xml.contains(&reference)) {
                steps.push(Step {
                    at_ms: Some(at_ms),
                    kind: "out",
                    text: format!("{} #{} {}", bic(o.participant), o.seq, o.msg_type),
                    xml: Some(o.xml.as_ref().clone()),
                });
            }
            self.steps.entry(*id).or_default().extend(steps);
        }
    }

    /// Render the followed transfers for a terminal; with `xml`, every message in full.
    pub fn render(&self, core: &Core, xml: bool) -> String {
        let mut s = String::new();
        for (id, steps) in &self.steps {
            if let Some(t) = core.transfer(*id).or_else(|| self.retired.get(id)) {
                let bic = |p: u32| {
                    core.participants().get(p as usize).map_or("?", |p| p.bic.as_str()).to_string()
                };
                s.push_str(&format!(
                    "transfer {id} ({FORWARD_PREFIX}{id}) e2e={} uetr={} debtor={} creditor={} \
                     amount={} state={:?} returned={}\n",
                    t.ids.end_to_end_id,
                    t.ids.uetr.as_deref().unwrap_or("-"),
                    bic(t.debtor),
                    t.creditor.map_or_else(|| "-".to_string(), bic),
                    amount(core, t.amount_minor),
                    t.state,
                    amount(core, t.returned_minor),
                ));
            }
            for step in steps {
                let when = step.at_ms.map_or_else(|| "-".repeat(24), crate::time::iso_datetime);
                s.push_str(&format!("  {when:<24}  {:<6} {}\n", step.kind, step.text));
                if let (true, Some(x)) = (xml, &step.xml) {
                    s.push_str(&format!("{x}\n"));
                }
            }
        }
        s
    }
}

/// The transfer an event creates, with the debtor's ids.
fn created(e: &Event) -> Option<(u64, &crate::events::Ids)> {
    match e {
        Event::Reserved { id, ids, .. }
        | Event::ReservedRouted { id, ids, .. }
        | Event::Rejected { id, ids, .. } => Some((*id, ids)),
        _ => None,
    }
}

/// The transfer an event is about (recall events are resolved through the core before).
fn touched(e: &Event) -> Option<u64> {
    match e {
        Event::Reserved { id, .. }
        | Event::ReservedRouted { id, .. }
        | Event::Rejected { id, .. }
        | Event::Accepted { id, .. }
        | Event::Declined { id, .. }
        | Event::Expired { id, .. }
        | Event::LateAnswer { id, .. }
        | Event::Resent { id, .. }
        | Event::ResentRetired { id, .. } => Some(*id),
        Event::Notice { transfer, .. } => Some(*transfer).filter(|t| *t != 0),
        Event::ReturnSettled { original, .. } => Some(*original),
        Event::RecallOpened { transfer, .. } => Some(*transfer),
        _ => None,
    }
}

fn at(e: &Event) -> Option<u64> {
    match e {
        Event::Funded { at_ms, .. }
        | Event::Reserved { at_ms, .. }
        | Event::ReservedRouted { at_ms, .. }
        | Event::Rejected { at_ms, .. }
        | Event::Accepted { at_ms, .. }
        | Event::Declined { at_ms, .. }
        | Event::Expired { at_ms, .. }
        | Event::LateAnswer { at_ms, .. }
        | Event::Resent { at_ms, .. }
        | Event::ResentRetired { at_ms, .. }
        | Event::Retired { at_ms, .. }
        | Event::DuplicateRefused { at_ms, .. }
        | Event::StatusChanged { at_ms, .. }
        | Event::Notice { at_ms, .. }
        | Event::ReturnSettled { at_ms, .. }
        | Event::RecallOpened { at_ms, .. }
        | Event::RecallAnswered { at_ms, .. }
        | Event::RecallExpired { at_ms, .. }
        | Event::HoldReleased { at_ms, .. } => Some(*at_ms),
        _ => None,
    }
}

/// The steps of one answer inside a creditor's pacs.002 that answered `of` transfers.
fn answered(at_ms: u64, creditor: &str, reason: &str, of: usize) -> Vec<Step> {
    let step =
        |kind: &'static str, text: String| Step { at_ms: Some(at_ms), kind, text, xml: None };
    match reason {
        "" => vec![
            step("in", format!("pacs.002 accept from {creditor} (one of {of} it answered)")),
            step("ledger", "post the reservation".into()),
            step("state", "Settled".into()),
        ],
        r => vec![
            step("in", format!("pacs.002 RJCT {r} from {creditor} (one of {of} it answered)")),
            step("ledger", "void the reservation".into()),
            step("state", format!("Rejected by the creditor: {r}")),
        ],
    }
}

fn describe(e: &Event, core: &Core, bic: &dyn Fn(u32) -> String) -> Vec<Step> {
    let when = at(e);
    let step = |kind: &'static str, text: String| Step { at_ms: when, kind, text, xml: None };
    let party = |id: &u64| core.transfer(*id).map(|t| (t.debtor, t.creditor));
    match e {
        Event::Reserved { debtor, creditor, amount_minor, ids, deadline_ms, .. }
        | Event::ReservedRouted { debtor, creditor, amount_minor, ids, deadline_ms, .. } => vec![
            step("in", format!("pacs.008 from {} MsgId={}", bic(*debtor), ids.msg_id)),
            step(
                "ledger",
                format!(
                    "reserve {} {} -> {} until {}",
                    amount(core, *amount_minor),
                    bic(*debtor),
                    bic(*creditor),
                    crate::time::iso_datetime(*deadline_ms)
                ),
            ),
            step("state", "Reserved: forwarded to the creditor".into()),
        ],
        Event::Rejected { debtor, ids, reason, .. } => vec![
            step("in", format!("pacs.008 from {} MsgId={}", bic(*debtor), ids.msg_id)),
            step("state", format!("Rejected by the switch: {reason}")),
        ],
        Event::Accepted { id, .. } => {
            let c = party(id).and_then(|(_, c)| c).map_or_else(String::new, bic);
            vec![
                step("in", format!("pacs.002 accept from {c}")),
                step("ledger", "post the reservation".into()),
                step("state", "Settled".into()),
            ]
        }
        Event::Declined { id, reason, .. } => {
            let c = party(id).and_then(|(_, c)| c).map_or_else(String::new, bic);
            vec![
                step("in", format!("pacs.002 RJCT {reason} from {c}")),
                step("ledger", "void the reservation".into()),
                step("state", format!("Rejected by the creditor: {reason}")),
            ]
        }
        Event::Expired { .. } => vec![
            step("ledger", "void the reservation".into()),
            step("state", "Rejected: AB05, the creditor did not answer in time".into()),
        ],
        Event::LateAnswer { status, .. } => vec![
            step("in", format!("pacs.002 {status} after the transfer was final")),
            step("state", "Investigation: late answer recorded, nothing posted".into()),
        ],
        Event::Resent { .. } => {
            vec![step("in", "pacs.008 again (same content): the outcome is re-sent".into())]
        }
        Event::ResentRetired { .. } => vec![step(
            "in",
            "pacs.008 again (same content) after retirement: the stored outcome is re-sent".into(),
        )],
        Event::Notice { participant, kind, .. } => {
            let what = match kind {
                1 => "pacs.028 status enquiry",
                2 => "pacs.004 refused",
                3 => "camt.056 refused",
                _ => "pacs.004 again (applied once)",
            };
            vec![step("in", format!("{what} from {}", bic(*participant)))]
        }
        Event::ReturnSettled {
            return_id, original, amount_minor, msg_id, rtr_id, reason, ..
        } => {
            let (d, c) = party(original).unwrap_or((0, None));
            let c = c.map_or_else(String::new, bic);
            vec![
                step("in", format!("pacs.004 from {c} MsgId={msg_id} RtrId={rtr_id} {reason}")),
                step(
                    "ledger",
                    format!(
                        "return {return_id}: {} {c} -> {}",
                        amount(core, *amount_minor),
                        bic(d)
                    ),
                ),
                step("state", format!("Returned {}", amount(core, *amount_minor))),
            ]
        }
        Event::RecallOpened { recall, transfer, assignment_id, reason, hold_minor, .. } => {
            let (d, c) = party(transfer).unwrap_or((0, None));
            let mut v = vec![
                step("in", format!("camt.056 from {} Assgnmt={assignment_id} {reason}", bic(d))),
                step("state", format!("Recall {recall} open: forwarded to the creditor")),
            ];
            if *hold_minor > 0 {
                let c = c.map_or_else(String::new, bic);
                v.push(step("ledger", format!("fraud hold {} on {c}", amount(core, *hold_minor))));
            }
            v
        }
        Event::RecallAnswered { recall, accepted, reason, .. } => vec![step(
            "in",
            format!(
                "camt.029 recall {recall} {}",
                if *accepted { "accepted (CNCL)".to_string() } else { format!("refused {reason}") }
            ),
        )],
        Event::RecallExpired { recall, .. } => {
            vec![step("state", format!("Recall {recall} expired: investigation"))]
        }
        Event::HoldReleased { recall, .. } => {
            vec![step("ledger", format!("fraud hold of recall {recall} released"))]
        }
        _ => Vec::new(),
    }
}
