//! Exception flows end to end over the real mTLS endpoint: status enquiries (pacs.028),
//! returns (pacs.004), recalls (camt.056 / camt.029) with their expiry, the fraud hold, the
//! races (a recall of a transfer in flight, a return crossing a recall, duplicates), the
//! operator's investigations, and all of it surviving a restart. Every message the switch
//! delivers here is validated against its official XSD.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use adapters::exceptions::{self as x, Original};
use adapters::simbank::SimBank;
use adapters::wire::Delivered;
use common::*;
use iso20022::codes::{CancellationReason, CancellationRejection, ReturnReason, TxStatus};
use iso20022::Currency;
use std::sync::Arc;
use std::time::Duration;
use switch::node::Node;

const WAIT: Duration = Duration::from_secs(15);
const NOW: &str = "2026-11-23T10:00:00Z";

fn brl() -> Currency {
    Currency::parse("BRL").unwrap()
}

/// Wait until `bank` has been delivered a message of `msg_type` whose XML contains every one
/// of `needles`; validate it against its XSD.
async fn wait_msg(bank: &SimBank, msg_type: &str, needles: &[&str]) -> Delivered {
    let t0 = std::time::Instant::now();
    loop {
        let found = bank
            .delivered_log()
            .into_iter()
            .rev()
            .find(|m| m.msg_type == msg_type && needles.iter().all(|n| m.xml.contains(n)));
        if let Some(m) = found {
            assert_xsd_valid(&m.xml);
            return m;
        }
        if t0.elapsed() > WAIT {
            let seen: Vec<String> = bank
                .delivered_log()
                .into_iter()
                .filter(|m| m.msg_type == msg_type)
                .map(|m| m.xml)
                .collect();
            panic!("{} never got {msg_type} with {needles:?}; got:\n{}", bank.bic, seen.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every message of the exception flows the banks were delivered passes its XSD.
fn validate_all(banks: &[Arc<SimBank>]) -> usize {
    let mut n = 0;
    for b in banks {
        for m in b.delivered_log() {
            let exception = matches!(
                m.msg_type.as_str(),
                "pacs.004.001.09" | "camt.056.001.08" | "camt.029.001.09"
            ) || m.xml.contains("<MsgId>IPSE")
                || m.xml.contains("<MsgId>IPSD");
            if exception {
                assert_xsd_valid(&m.xml);
                n += 1;
            }
        }
    }
    n
}

/// How many delivered messages of `msg_type` contain every needle.
fn count_msgs(bank: &SimBank, msg_type: &str, needles: &[&str]) -> usize {
    bank.delivered_log()
        .iter()
        .filter(|m| m.msg_type == msg_type && needles.iter().all(|n| m.xml.contains(n)))
        .count()
}

/// POST a message; the HTTP status and body.
async fn post(bank: &SimBank, xml: String) -> (u16, String) {
    let r = bank
        .client()
        .request(http::Method::POST, "/v1/messages", "application/xml", xml.into())
        .await
        .unwrap();
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

/// Pay `amount` from bank 0's first customer to bank 1's customer `to`; the switch's
/// clearing reference (`IPSF<id>`) from the debtor's ACSC.
async fn pay(banks: &[Arc<SimBank>], e2e: &str, to: u32, amount: u64) -> String {
    let out = banks[0].pay(e2e, "000001", &alias(1, to, 0), amount, NOW, WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted, "{e2e}: {out:?}");
    let m = wait_msg(&banks[0], "pacs.002.001.10", &[e2e, "ACSC"]).await;
    clearing_ref_in(&m.xml)
}

fn balance(list: &[(String, i64)], bic: &str) -> i64 {
    list.iter().find(|(b, _)| b == bic).unwrap().1
}

async fn investigations(op: &adapters::client::BankClient) -> serde_json::Value {
    let r = op
        .request(
            http::Method::GET,
            "/v1/operator/investigations",
            "application/json",
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enquiries_and_returns_full_partial_duplicate_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let (banks, stop) = connect(&cfg, node.addr, &pki).await;
    let op = operator(node.addr, &pki).await;
    let (a, b, c) = (&banks[0], &banks[1], &banks[2]);
    let r1 = pay(&banks, "E2E-RET-1", 0, 1_000).await;
    let orig = Original::by_clearing_ref(&r1, "E2E-RET-1");

    // Status enquiries: each party gets its own view; a third bank learns nothing.
    let (s, _) =
        post(a, iso20022::pacs028::encode(&x::status_enquiry(&a.bic, "ENQ-A1", &orig, NOW))).await;
    assert_eq!(s, 202);
    let m = wait_msg(a, "pacs.002.001.10", &["E2E-RET-1", "ACSC", "IPSE"]).await;
    assert!(m.xml.contains(&r1));
    let (s, _) =
        post(b, iso20022::pacs028::encode(&x::status_enquiry(&b.bic, "ENQ-B1", &orig, NOW))).await;
    assert_eq!(s, 202);
    wait_msg(b, "pacs.002.001.10", &["E2E-RET-1", "ACCC", "IPSE"]).await;
    let (s, _) =
        post(c, iso20022::pacs028::encode(&x::status_enquiry(&c.bic, "ENQ-C1", &orig, NOW))).await;
    assert_eq!(s, 202);
    let foreign = wait_msg(c, "pacs.002.001.10", &["E2E-RET-1", "RJCT", "UNKNOWN_TRANSFER"]).await;
    assert!(!foreign.xml.contains(&r1), "no reference to another bank's transfer leaks");
    let unknown = Original::by_clearing_ref("IPSF99999999", "E2E-NOPE");
    post(a, iso20022::pacs028::encode(&x::status_enquiry(&a.bic, "ENQ-A2", &unknown, NOW))).await;
    wait_msg(a, "pacs.002.001.10", &["E2E-NOPE", "RJCT", "NARR", "UNKNOWN_TRANSFER"]).await;

    // A partial return by the creditor bank: the money moves back, the debtor bank gets the
    // pacs.004, the creditor a pacs.002 ACSC for it.
    let (before, _, _) = positions(&op).await;
    let ret = x::return_payment(
        &b.bic,
        "RET-1",
        &orig,
        400,
        brl(),
        ReturnReason::RefundRequestByEndCustomer,
        NOW,
    );
    let (s, body) = post(b, iso20022::pacs004::encode(&ret)).await;
    assert_eq!(s, 202, "{body}");
    let fwd = wait_msg(a, "pacs.004.001.09", &["E2E-RET-1", "MD06", "4.00"]).await;
    assert!(fwd.xml.contains(&r1), "the debtor's pacs.004 names the original");
    wait_msg(b, "pacs.002.001.10", &["RET-1", "ACSC", "pacs.004.001.09"]).await;
    let (after, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(balance(&after, "BKAABRSP") - balance(&before, "BKAABRSP"), 400);
    assert_eq!(balance(&after, "BKBBBRSP") - balance(&before, "BKBBBRSP"), -400);
    assert_eq!(v["returns"].as_u64(), Some(1));

    // The same return again is applied once: answered again, nothing moves.
    let (s, _) = post(b, iso20022::pacs004::encode(&ret)).await;
    assert_eq!(s, 202);
    let t0 = std::time::Instant::now();
    while count_msgs(b, "pacs.002.001.10", &["RET-1", "ACSC"]) < 2 {
        assert!(t0.elapsed() < WAIT, "the duplicate is answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (again, _, v) = positions(&op).await;
    assert_eq!(again, after);
    assert_eq!(v["returns"].as_u64(), Some(1));
    assert_eq!(count_msgs(a, "pacs.004.001.09", &["E2E-RET-1"]), 1, "the debtor got one pacs.004");

    // Same ids, other content: AM05. Over the original: AM09. From the debtor: DS0G.
    let other = x::return_payment(
        &b.bic,
        "RET-1",
        &orig,
        401,
        brl(),
        ReturnReason::RefundRequestByEndCustomer,
        NOW,
    );
    post(b, iso20022::pacs004::encode(&other)).await;
    wait_msg(b, "pacs.002.001.10", &["RET-1", "RJCT", "AM05"]).await;
    let over = x::return_payment(&b.bic, "RET-2", &orig, 700, brl(), ReturnReason::Fraud, NOW);
    post(b, iso20022::pacs004::encode(&over)).await;
    wait_msg(b, "pacs.002.001.10", &["RET-2", "RJCT", "AM09"]).await;
    let by_debtor = x::return_payment(&a.bic, "RET-3", &orig, 10, brl(), ReturnReason::Fraud, NOW);
    post(a, iso20022::pacs004::encode(&by_debtor)).await;
    wait_msg(a, "pacs.002.001.10", &["RET-3", "RJCT", "DS0G"]).await;
    let unknown_ret =
        x::return_payment(&b.bic, "RET-4", &unknown, 10, brl(), ReturnReason::Fraud, NOW);
    post(b, iso20022::pacs004::encode(&unknown_ret)).await;
    wait_msg(b, "pacs.002.001.10", &["RET-4", "RJCT", "NARR", "NOOR"]).await;
    let (unchanged, conserved, _) = positions(&op).await;
    assert!(conserved);
    assert_eq!(unchanged, after, "refused returns move nothing");
    let inv = investigations(&op).await;
    assert!(inv["count"].as_u64().unwrap() >= 3, "failed returns are investigations: {inv}");
    assert!(inv.to_string().contains("ReturnFailed"));

    // The enquiry now tells the debtor about the return; the rest can be returned.
    post(a, iso20022::pacs028::encode(&x::status_enquiry(&a.bic, "ENQ-A3", &orig, NOW))).await;
    wait_msg(a, "pacs.002.001.10", &["E2E-RET-1", "returned 400 of 1000"]).await;
    let rest = x::return_payment(
        &b.bic,
        "RET-5",
        &orig,
        600,
        brl(),
        ReturnReason::RefundRequestByEndCustomer,
        NOW,
    );
    post(b, iso20022::pacs004::encode(&rest)).await;
    wait_msg(b, "pacs.002.001.10", &["RET-5", "ACSC"]).await;
    // Fully returned: a recall is refused with ARDT.
    let rc = x::recall(&a.bic, "RCL-AFTER", &orig, CancellationReason::DuplicatePayment, "", NOW);
    post(a, iso20022::camt056::encode(&rc)).await;
    wait_msg(a, "camt.029.001.09", &["RJCR", "ARDT"]).await;
    let (end, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(balance(&end, "BKAABRSP") - balance(&before, "BKAABRSP"), 1_000);
    assert_eq!(v["returns"].as_u64(), Some(2));
    assert!(v["enquiries"].as_u64().unwrap() >= 5);

    // Everything survives a restart: positions, counters, and the duplicate check.
    assert!(validate_all(&banks) > 5, "exception messages were delivered");
    let _ = stop.send(true);
    drop(banks);
    drop(op);
    node.stop().unwrap().join().unwrap().unwrap();
    let node = Node::start(&cfg).await.unwrap();
    let (banks, stop) = connect(&cfg, node.addr, &pki).await;
    let op = operator(node.addr, &pki).await;
    let (restarted, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(restarted, end);
    assert_eq!(v["returns"].as_u64(), Some(2));
    let (s, _) = post(&banks[1], iso20022::pacs004::encode(&ret)).await;
    assert_eq!(s, 202);
    wait_msg(&banks[1], "pacs.002.001.10", &["RET-1", "ACSC"]).await;
    let (still, _, v) = positions(&op).await;
    assert_eq!(still, end, "a duplicate after the restart is still applied once");
    assert_eq!(v["returns"].as_u64(), Some(2));
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recalls_accepted_refused_and_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.exceptions.recall_expiry_ms = 1_500;
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let (banks, stop) = connect(&cfg, node.addr, &pki).await;
    let op = operator(node.addr, &pki).await;
    let (a, b, c) = (&banks[0], &banks[1], &banks[2]);
    let (start, _, _) = positions(&op).await;
    let r1 = pay(&banks, "E2E-RCL-1", 0, 2_500).await;
    let r2 = pay(&banks, "E2E-RCL-2", 1, 300).await;
    let r3 = pay(&banks, "E2E-RCL-3", 2, 200).await;
    let o1 = Original::by_clearing_ref(&r1, "E2E-RCL-1");
    let o2 = Original::by_clearing_ref(&r2, "E2E-RCL-2");
    let o3 = Original::by_clearing_ref(&r3, "E2E-RCL-3");

    // Recall 1: forwarded, accepted, returned (FOCR): the money is back.
    let rc1 =
        x::recall(&a.bic, "RCL-1", &o1, CancellationReason::DuplicatePayment, "sent twice", NOW);
    let (s, body) = post(a, iso20022::camt056::encode(&rc1)).await;
    assert_eq!(s, 202, "{body}");
    let fwd = wait_msg(b, "camt.056.001.08", &[&r1, "DUPL", "E2E-RCL-1"]).await;
    assert!(fwd.xml.contains("IPSC"), "the switch's own assignment id");
    // A duplicate recall opens nothing new.
    post(a, iso20022::camt056::encode(&rc1)).await;
    let ans = x::answer_recall(&b.bic, "ANS-1", &o1, None, NOW);
    let (s, body) = post(b, iso20022::camt029::encode(&ans)).await;
    assert_eq!(s, 202, "{body}");
    wait_msg(a, "camt.029.001.09", &["CNCL", "E2E-RCL-1"]).await;
    // The same answer again is applied once.
    let (s, _) = post(b, iso20022::camt029::encode(&ans)).await;
    assert_eq!(s, 202);
    let ret = x::return_payment(
        &b.bic,
        "RET-RCL-1",
        &o1,
        2_500,
        brl(),
        ReturnReason::FollowingCancellationRequest,
        NOW,
    );
    post(b, iso20022::pacs004::encode(&ret)).await;
    wait_msg(a, "pacs.004.001.09", &["E2E-RCL-1", "FOCR"]).await;
    assert_eq!(count_msgs(a, "camt.029.001.09", &["CNCL", "E2E-RCL-1"]), 1, "one acceptance");

    // Recall 2: refused by the creditor with a reason, forwarded to the debtor.
    let rc2 = x::recall(&a.bic, "RCL-2", &o2, CancellationReason::TechnicalProblem, "", NOW);
    post(a, iso20022::camt056::encode(&rc2)).await;
    wait_msg(b, "camt.056.001.08", &[&r2, "TECH"]).await;
    let refuse =
        x::answer_recall(&b.bic, "ANS-2", &o2, Some(CancellationRejection::CustomerDecision), NOW);
    post(b, iso20022::camt029::encode(&refuse)).await;
    wait_msg(a, "camt.029.001.09", &["RJCR", "CUST", "E2E-RCL-2"]).await;
    // An answer for a transfer without an open recall is refused outright.
    let (s, body) =
        post(b, iso20022::camt029::encode(&x::answer_recall(&b.bic, "ANS-9", &o3, None, NOW)))
            .await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("NO_OPEN_RECALL"), "{body}");

    // Only the debtor bank can recall; an unknown transfer cannot be recalled.
    post(
        c,
        iso20022::camt056::encode(&x::recall(
            &c.bic,
            "RCL-C",
            &o3,
            CancellationReason::FraudulentOrigin,
            "",
            NOW,
        )),
    )
    .await;
    wait_msg(c, "camt.029.001.09", &["RJCR", "NOOR"]).await;
    post(
        b,
        iso20022::camt056::encode(&x::recall(
            &b.bic,
            "RCL-B",
            &o3,
            CancellationReason::FraudulentOrigin,
            "",
            NOW,
        )),
    )
    .await;
    wait_msg(b, "camt.029.001.09", &["RJCR", "AGNT"]).await;

    // Recall 3: never answered: it expires and both banks are told (NOAS).
    post(
        a,
        iso20022::camt056::encode(&x::recall(
            &a.bic,
            "RCL-3",
            &o3,
            CancellationReason::DuplicatePayment,
            "",
            NOW,
        )),
    )
    .await;
    wait_msg(b, "camt.056.001.08", &[&r3]).await;
    // A pending answer is taken and changes nothing; an answer that is neither is refused.
    let mut pending = x::answer_recall(&b.bic, "ANS-P", &o3, None, NOW);
    pending.status = iso20022::camt029::InvestigationStatus::Confirmation(
        iso20022::codes::InvestigationConfirmation::PendingCancellationRequest,
    );
    pending.cancellation_details[0].transactions[0].status =
        Some(iso20022::codes::CancellationStatus::PendingCancellationRequest);
    let (s, body) = post(b, iso20022::camt029::encode(&pending)).await;
    assert_eq!(s, 202, "{body}");
    let mut odd = x::answer_recall(&b.bic, "ANS-M", &o3, None, NOW);
    odd.status = iso20022::camt029::InvestigationStatus::Confirmation(
        iso20022::codes::InvestigationConfirmation::ModifiedAsPerRequest,
    );
    odd.cancellation_details[0].transactions[0].status = None;
    let (s, body) = post(b, iso20022::camt029::encode(&odd)).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("UNSUPPORTED_RESOLUTION"), "{body}");
    wait_msg(a, "camt.029.001.09", &["RJCR", "NOAS", "E2E-RCL-3"]).await;
    wait_msg(b, "camt.029.001.09", &["RJCR", "NOAS", &r3]).await;
    let inv = investigations(&op).await;
    let list = inv["investigations"].as_array().unwrap();
    assert!(
        list.iter()
            .any(|i| i["kind"] == "RecallUnanswered" && format!("IPSF{}", i["transfer"]) == r3),
        "{inv}"
    );
    let (end, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(v["recalls"].as_u64(), Some(3), "duplicates and refusals open no recall");
    assert_eq!(
        balance(&end, "BKAABRSP") - balance(&start, "BKAABRSP"),
        -500,
        "only recall 1 came back"
    );

    // Operators read the whole lifecycle from the journal, while the switch runs.
    let ctl = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchctl"))
            .args(args)
            .arg("--data")
            .arg(dir.path())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, show) = ctl(&["transfer", "show", &r3, "--xml"]);
    assert!(ok, "{show}");
    for needle in [
        "pacs.008 from BKAABRSP",
        "reserve",
        "Settled",
        "camt.056 from BKAABRSP",
        "Recall",
        "expired",
        "NOAS",
        "camt.029.001.09",
    ] {
        assert!(show.contains(needle), "{needle} missing in:\n{show}");
    }
    let (ok, show) = ctl(&["transfer", "show", "E2E-RCL-1"]);
    assert!(ok);
    assert!(show.contains("return 1: 25.00 BKBBBRSP -> BKAABRSP"), "{show}");
    assert!(show.contains("camt.029 recall 1 accepted"), "{show}");
    let (ok, _) = ctl(&["transfer", "show", "NO-SUCH-E2E"]);
    assert!(!ok, "an unknown transfer is an error");
    let (ok, list) = ctl(&["investigations"]);
    assert!(ok);
    assert!(list.contains("RecallUnanswered"), "{list}");
    assert!(validate_all(&banks) > 5, "exception messages were delivered");
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn races_in_flight_crossing_and_the_fraud_hold() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.scheme.creditor_timeout_ms = 60_000;
    cfg.scheme.debtor_deadline_ms = 61_000;
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let banks = banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    banks[0].spawn_inbox(rx.clone());
    let op = operator(node.addr, &pki).await;
    let (a, b) = (&banks[0], &banks[1]);

    // A recall and an enquiry while the transfer is in flight (B is not answering yet).
    let msg = a.pacs008_by_alias("E2E-FLY", "000001", &alias(1, 0, 0), 900, NOW);
    let msg_id = msg.header.msg_id.clone();
    a.client().send(iso20022::pacs008::encode(&msg)).await.unwrap();
    let own = Original {
        msg_id: Some(msg_id),
        end_to_end_id: Some("E2E-FLY".into()),
        tx_id: msg.transactions[0].tx_id.clone(),
        uetr: msg.transactions[0].uetr.clone(),
        ..Original::default()
    };
    post(a, iso20022::pacs028::encode(&x::status_enquiry(&a.bic, "ENQ-FLY", &own, NOW))).await;
    wait_msg(a, "pacs.002.001.10", &["E2E-FLY", "PDNG"]).await;
    post(
        a,
        iso20022::camt056::encode(&x::recall(
            &a.bic,
            "RCL-FLY",
            &own,
            CancellationReason::DuplicatePayment,
            "",
            NOW,
        )),
    )
    .await;
    wait_msg(a, "camt.029.001.09", &["RJCR", "ARPL", "in flight"]).await;
    b.spawn_inbox(rx.clone());
    let settled = wait_msg(a, "pacs.002.001.10", &["E2E-FLY", "ACSC", "IPSF"]).await;
    let r = clearing_ref_in(&settled.xml);
    let o = Original::by_clearing_ref(&r, "E2E-FLY");

    // A return crossing a recall: B returns while A's recall is open; the return settles
    // and closes the recall; B's later acceptance changes nothing.
    post(
        a,
        iso20022::camt056::encode(&x::recall(
            &a.bic,
            "RCL-X",
            &o,
            CancellationReason::DuplicatePayment,
            "",
            NOW,
        )),
    )
    .await;
    wait_msg(b, "camt.056.001.08", &[&r]).await;
    let (before, _, _) = positions(&op).await;
    post(
        b,
        iso20022::pacs004::encode(&x::return_payment(
            &b.bic,
            "RET-X",
            &o,
            900,
            brl(),
            ReturnReason::RefundRequestByEndCustomer,
            NOW,
        )),
    )
    .await;
    wait_msg(a, "pacs.004.001.09", &["E2E-FLY", "MD06"]).await;
    let (s, body) =
        post(b, iso20022::camt029::encode(&x::answer_recall(&b.bic, "ANS-X", &o, None, NOW))).await;
    assert_eq!(s, 202, "{body}");
    let (after, conserved, _) = positions(&op).await;
    assert!(conserved);
    assert_eq!(balance(&after, "BKAABRSP") - balance(&before, "BKAABRSP"), 900, "returned once");
    assert_eq!(
        count_msgs(a, "camt.029.001.09", &["CNCL", "E2E-FLY"]),
        0,
        "no acceptance after the return"
    );

    // The fraud hold: the key paid to carries a fraud report; a FRAD recall earmarks the
    // creditor's money until the recall ends.
    let key = alias(1, 3, 0);
    let report = serde_json::json!({
        "key": key, "infractionType": "FRAUD", "reportedBy": "DEBITED_PARTICIPANT",
        "transactionId": "E2EFRAUD0001", "reportDetails": "scam reported by the payer"
    });
    let resp = a
        .client()
        .request(
            http::Method::POST,
            "/api/v1/directory/infraction-reports",
            "application/json",
            report.to_string().into(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let out = a.pay("E2E-FRAUD", "000001", &key, 5_000, NOW, WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);
    let m = wait_msg(a, "pacs.002.001.10", &["E2E-FRAUD", "ACSC"]).await;
    let rf = clearing_ref_in(&m.xml);
    let of = Original::by_clearing_ref(&rf, "E2E-FRAUD");
    let reserved = |v: &serde_json::Value| {
        v["positions"].as_array().unwrap().iter().find(|p| p["bic"] == "BKBBBRSP").unwrap()
            ["reserved_minor"]
            .as_u64()
            .unwrap()
    };
    post(
        a,
        iso20022::camt056::encode(&x::recall(
            &a.bic,
            "RCL-FRAUD",
            &of,
            CancellationReason::FraudulentOrigin,
            "scam",
            NOW,
        )),
    )
    .await;
    wait_msg(b, "camt.056.001.08", &[&rf, "FRAD"]).await;
    let (_, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(reserved(&v), 5_000, "the creditor's money is held");
    assert_eq!(v["holds"].as_u64(), Some(1));
    // A recall for fraud of an unmarked key places no hold.
    let clean = pay_from_a(a, "E2E-CLEAN", &alias(1, 4, 0), 700).await;
    post(
        a,
        iso20022::camt056::encode(&x::recall(
            &a.bic,
            "RCL-CLEAN",
            &Original::by_clearing_ref(&clean, "E2E-CLEAN"),
            CancellationReason::FraudulentOrigin,
            "",
            NOW,
        )),
    )
    .await;
    wait_msg(b, "camt.056.001.08", &[&clean, "FRAD"]).await;
    let (_, _, v) = positions(&op).await;
    assert_eq!(reserved(&v), 5_000);
    assert_eq!(v["holds"].as_u64(), Some(1));
    // B refuses the fraud recall: the hold is released, nothing moved.
    let (before, _, _) = positions(&op).await;
    post(
        b,
        iso20022::camt029::encode(&x::answer_recall(
            &b.bic,
            "ANS-F",
            &of,
            Some(CancellationRejection::LegalDecision),
            NOW,
        )),
    )
    .await;
    wait_msg(a, "camt.029.001.09", &["RJCR", "LEGL", "E2E-FRAUD"]).await;
    let (after, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(reserved(&v), 0, "the hold is released");
    assert_eq!(after, before);
    assert!(validate_all(&banks) > 5, "exception messages were delivered");
    let _ = stop.send(true);
}

async fn pay_from_a(a: &SimBank, e2e: &str, key: &str, amount: u64) -> String {
    let out = a.pay(e2e, "000001", key, amount, NOW, WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);
    let m = wait_msg(a, "pacs.002.001.10", &[e2e, "ACSC"]).await;
    clearing_ref_in(&m.xml)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enquiries_have_their_own_quota() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.enquiries_per_second = 1;
    cfg.limits.enquiry_burst = 3;
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let (banks, stop) = connect(&cfg, node.addr, &pki).await;
    let a = &banks[0];
    let o = Original::by_clearing_ref("IPSF1", "E2E-Q");
    for i in 0..3 {
        let (s, _) = post(
            a,
            iso20022::pacs028::encode(&x::status_enquiry(&a.bic, &format!("Q{i}"), &o, NOW)),
        )
        .await;
        assert_eq!(s, 202);
    }
    let r = a
        .client()
        .request(
            http::Method::POST,
            "/v1/messages",
            "application/xml",
            iso20022::pacs028::encode(&x::status_enquiry(&a.bic, "Q9", &o, NOW)).into(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    // An enquiry that names no transaction is refused, not ignored.
    let mut empty = x::status_enquiry(&banks[1].bic, "Q-EMPTY", &o, NOW);
    empty.transactions.clear();
    let (s, body) = post(&banks[1], iso20022::pacs028::encode(&empty)).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("NO_TRANSACTION"), "{body}");
    assert!(r.retry_after.is_some(), "429 carries Retry-After");
    // Payments go on while enquiries are throttled.
    let out = a.pay("E2E-Q-PAY", "000001", &alias(1, 0, 0), 100, NOW, WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);
    let _ = stop.send(true);
}
