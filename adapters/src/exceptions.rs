//! Message builders for a bank's exception flows: a return (pacs.004), a recall (camt.056),
//! the answer to a recall (camt.029) and a status enquiry (pacs.028), shaped the way the
//! switch reads them. Part of the bank SDK; the simulated bank, the demo and the tests use
//! them.
//!
//! Every builder references the original transfer by [`Original`]: the switch's clearing
//! reference (`IPSF<id>`, carried by every pacs.002 and as the MsgId of the forwarded
//! pacs.008) is the sure way; the UETR, or the debtor's MsgId + EndToEndId, work too.
//!
//! Must not: decide anything. These only build messages; the switch decides.

use iso20022::camt029::{
    Camt029, CancellationDetails, CancellationStatusReason, CancellationTxStatus,
    InvestigationStatus,
};
use iso20022::camt056::{Assignment, Camt056, CancellationReasonInfo, CancellationTx, Case};
use iso20022::codes::{
    CancellationReason, CancellationRejection, CancellationStatus, InvestigationConfirmation,
    ReturnReason,
};
use iso20022::common::{OriginalGroup, PartyOrAgent};
use iso20022::pacs004::{Pacs004, PaymentReturn, ReturnHeader, ReturnReasonInfo};
use iso20022::pacs028::{Pacs028, StatusRequestTx};
use iso20022::reference::{OriginalIds, Settlement};
use iso20022::{Agent, Amount, Currency};

/// How a bank names the original transfer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Original {
    /// The message id of the pacs.008 as this bank knows it (its own MsgId when it was the
    /// debtor, the forwarded `IPSF<id>` when it was the creditor).
    pub msg_id: Option<String>,
    /// EndToEndId.
    pub end_to_end_id: Option<String>,
    /// TxId.
    pub tx_id: Option<String>,
    /// UETR.
    pub uetr: Option<String>,
    /// The switch's clearing reference, `IPSF<id>`.
    pub clearing_ref: Option<String>,
}

impl Original {
    /// By the switch's clearing reference (`IPSF<id>`) and end-to-end id.
    pub fn by_clearing_ref(clearing_ref: &str, end_to_end_id: &str) -> Original {
        Original {
            clearing_ref: Some(clearing_ref.to_string()),
            end_to_end_id: Some(end_to_end_id.to_string()),
            ..Original::default()
        }
    }

    fn ids(&self) -> OriginalIds {
        OriginalIds {
            group: self.msg_id.as_ref().map(|m| OriginalGroup {
                msg_id: m.clone(),
                msg_name: "pacs.008.001.08".into(),
                created: None,
            }),
            instr_id: None,
            end_to_end_id: self.end_to_end_id.clone(),
            tx_id: self.tx_id.clone(),
            uetr: self.uetr.clone(),
            clearing_ref: self.clearing_ref.clone(),
        }
    }
}

fn agent(bic: &str) -> Agent {
    Agent { bic: Some(bic.to_string()), ..Agent::default() }
}

/// A return of `amount_minor` of a transfer this bank received.
pub fn return_payment(
    bank: &str,
    msg_id: &str,
    original: &Original,
    amount_minor: u64,
    currency: Currency,
    reason: ReturnReason,
    now: &str,
) -> Pacs004 {
    Pacs004 {
        header: ReturnHeader {
            msg_id: msg_id.to_string(),
            created: now.to_string(),
            settlement: Settlement { method: "CLRG".into(), clearing_system: None },
            instructing_agent: Some(agent(bank)),
            ..ReturnHeader::default()
        },
        transactions: vec![PaymentReturn {
            return_id: Some(format!("{msg_id}-1")),
            original: original.ids(),
            returned_amount: Amount { minor: amount_minor, currency },
            settlement_date: now.get(..10).map(str::to_string),
            charge_bearer: Some("SLEV".into()),
            reasons: vec![ReturnReasonInfo { reason: Some(reason), ..ReturnReasonInfo::default() }],
            ..PaymentReturn::default()
        }],
        ..Pacs004::default()
    }
}

/// A recall of a transfer this bank sent.
pub fn recall(
    bank: &str,
    assignment_id: &str,
    original: &Original,
    reason: CancellationReason,
    info: &str,
    now: &str,
) -> Camt056 {
    Camt056 {
        assignment: Assignment {
            id: assignment_id.to_string(),
            assigner: PartyOrAgent::Agent(agent(bank)),
            assignee: PartyOrAgent::Agent(agent(crate::SWITCH_BIC)),
            created: now.to_string(),
        },
        case: Some(Case {
            id: format!("CASE-{assignment_id}"),
            creator: PartyOrAgent::Agent(agent(bank)),
            reopen: None,
        }),
        declared_count: None,
        underlying: vec![iso20022::camt056::Underlying {
            group: None,
            transactions: vec![CancellationTx {
                cancellation_id: Some(format!("{assignment_id}-1")),
                original: original.ids(),
                reasons: vec![CancellationReasonInfo {
                    reason: Some(reason),
                    additional_info: Some(info)
                        .filter(|i| !i.is_empty())
                        .map(str::to_string)
                        .into_iter()
                        .collect(),
                    ..CancellationReasonInfo::default()
                }],
                ..CancellationTx::default()
            }],
        }],
    }
}

/// The creditor bank's answer to a recall it received: accepted (a pacs.004 must follow) or
/// refused with a reason.
pub fn answer_recall(
    bank: &str,
    assignment_id: &str,
    original: &Original,
    refusal: Option<CancellationRejection>,
    now: &str,
) -> Camt029 {
    let accepted = refusal.is_none();
    Camt029 {
        assignment: Assignment {
            id: assignment_id.to_string(),
            assigner: PartyOrAgent::Agent(agent(bank)),
            assignee: PartyOrAgent::Agent(agent(crate::SWITCH_BIC)),
            created: now.to_string(),
        },
        resolved_case: None,
        status: InvestigationStatus::Confirmation(if accepted {
            InvestigationConfirmation::CancelledAsPerRequest
        } else {
            InvestigationConfirmation::RejectedCancellationRequest
        }),
        cancellation_details: vec![CancellationDetails {
            group: None,
            transactions: vec![CancellationTxStatus {
                original: original.ids(),
                status: Some(if accepted {
                    CancellationStatus::AcceptedCancellationRequest
                } else {
                    CancellationStatus::RejectedCancellationRequest
                }),
                reasons: refusal
                    .map(|r| CancellationStatusReason {
                        reason: Some(r),
                        ..CancellationStatusReason::default()
                    })
                    .into_iter()
                    .collect(),
                ..CancellationTxStatus::default()
            }],
        }],
    }
}

/// A status enquiry about a transfer this bank is party to.
pub fn status_enquiry(bank: &str, msg_id: &str, original: &Original, now: &str) -> Pacs028 {
    Pacs028 {
        msg_id: msg_id.to_string(),
        created: now.to_string(),
        instructing_agent: Some(agent(bank)),
        instructed_agent: Some(agent(crate::SWITCH_BIC)),
        original_groups: Vec::new(),
        transactions: vec![StatusRequestTx {
            request_id: Some(format!("{msg_id}-1")),
            // pacs.028 carries the switch's reference as `ClrSysRef`, not `OrgnlClrSysRef`.
            original: OriginalIds { clearing_ref: None, ..original.ids() },
            clearing_ref: original.clearing_ref.clone(),
            ..StatusRequestTx::default()
        }],
    }
}
