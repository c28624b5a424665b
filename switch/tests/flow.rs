//! One credit transfer end to end over real TLS sockets, and the ways it must be refused.
//! Every message the switch emits in these runs is validated against the official XSD.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use adapters::simbank::Outcome;
use common::*;
use iso20022::codes::{StatusReason, TxStatus};
use iso20022::pacs008;
use std::time::Duration;
use switch::node::Node;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(15);
const NOW: &str = "2026-11-23T10:00:00Z";

fn rjct(reason: StatusReason) -> Outcome {
    Outcome { status: TxStatus::Rejected, reason: Some(reason) }
}

/// A switch with the development configuration on `dir`, and its banks pulling their streams
/// until `true` is sent.
async fn started(
    dir: &std::path::Path,
) -> (Node, Vec<std::sync::Arc<adapters::simbank::SimBank>>, watch::Sender<bool>) {
    let cfg = config(dir);
    let node = Node::start(&cfg).await.unwrap();
    let banks = banks(&cfg, node.addr, &node.pki.dir).await;
    let (stop, rx) = watch::channel(false);
    for b in &banks {
        b.spawn_inbox(rx.clone());
    }
    (node, banks, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_by_alias_settles_and_refusals_carry_iso_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    cfg.metrics_listen = Some(format!("127.0.0.1:{port}"));
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let banks = banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = watch::channel(false);
    for b in &banks {
        b.spawn_inbox(rx.clone());
    }
    let (a, b, c) = (&banks[0], &banks[1], &banks[2]);
    let op = operator(node.addr, &pki).await;
    let (before, conserved, _) = positions(&op).await;
    assert!(conserved);

    // 1. A pays B's customer 3 by phone: settled; B's customer is credited.
    let b_account = "000004";
    let out = a.pay("E2E-OK-1", "000001", &alias(1, 3, 0), 12_345, NOW, WAIT).await.unwrap();
    assert_eq!(out, Outcome { status: TxStatus::AcceptedSettlementCompleted, reason: None });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.balance(b_account), Some(1_000_000 + 12_345));
    let (after, conserved, _) = positions(&op).await;
    assert!(conserved);
    assert_eq!(after[0].1, before[0].1 - 12_345);
    assert_eq!(after[1].1, before[1].1 + 12_345);

    // 2. By e-mail and national id too.
    for which in [1, 2] {
        let e2e = format!("E2E-KEY-{which}");
        let out = a.pay(&e2e, "000001", &alias(2, 5, which), 100, NOW, WAIT).await.unwrap();
        assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted, "key type {which}");
    }

    // 3. Unknown alias: BE23.
    let out = a.pay("E2E-NOALIAS", "000001", "+5511800000000", 100, NOW, WAIT).await.unwrap();
    assert_eq!(out, rjct(StatusReason::AccountProxyInvalid));

    // 4. Insufficient funds: C has 20,000.00.
    let out = c.pay("E2E-AM04", "000001", &alias(0, 1, 0), 2_500_000, NOW, WAIT).await.unwrap();
    assert_eq!(out, rjct(StatusReason::InsufficientFunds));

    // 5. The same pacs.008 again: same outcome, no second debit.
    let first = a.pacs008_by_alias("E2E-DUP", "000001", &alias(1, 2, 0), 500, NOW);
    let xml = pacs008::encode(&first);
    let o1 = a.send_and_wait("E2E-DUP", xml.clone(), WAIT).await.unwrap();
    let (p1, _, _) = positions(&op).await;
    let o2 = a.send_and_wait("E2E-DUP", xml, WAIT).await.unwrap();
    let (p2, _, _) = positions(&op).await;
    assert_eq!(o1.status, TxStatus::AcceptedSettlementCompleted);
    assert_eq!(o1, o2);
    assert_eq!(p1, p2);

    // 6. Same ids, different content: AM05, and the original stands.
    let mut changed = first.clone();
    changed.transactions[0].amount.minor = 501;
    let o3 = a.send_and_wait("E2E-DUP", pacs008::encode(&changed), WAIT).await.unwrap();
    assert_eq!(o3, rjct(StatusReason::Duplication));
    assert_eq!(positions(&op).await.0, p2);

    // 7. A bank cannot pay from another bank: A sends a pacs.008 whose debtor agent is B.
    let mut forged = b.pacs008_by_alias("E2E-FORGED", "000001", &alias(2, 1, 0), 100, NOW);
    forged.header.msg_id = "FORGED-1".into();
    let o4 = a.send_and_wait("E2E-FORGED", pacs008::encode(&forged), WAIT).await.unwrap();
    assert_eq!(o4, rjct(StatusReason::SignerNotAuthorised));

    // 8. Unreadable input: 400 with an admi.002 that names the problem.
    let err = a.client().send("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\"><FIToFICstmrCdtTrf>").await;
    let adapters::client::ClientError::Status { status, body } = err.unwrap_err() else { panic!() };
    assert_eq!(status, 400);
    assert!(body.contains("admi.002.001.01") && body.contains("not well-formed"), "{body}");
    assert_xsd_valid(&body);
    let bad_amount =
        pacs008::encode(&a.pacs008_by_alias("E2E-BAD", "000001", "+5511800000000", 1, NOW))
            .replace(">0.01<", ">0.0100001<");
    let err = a.client().send(bad_amount).await.unwrap_err();
    let adapters::client::ClientError::Status { status, body } = err else { panic!() };
    assert_eq!(status, 400);
    assert!(body.contains("IntrBkSttlmAmt") && body.contains("fraction digits"), "{body}");
    assert_xsd_valid(&body);

    // 9. The operator certificate is not a participant; a participant is not an operator.
    let err = op.send(pacs008::encode(&first)).await.unwrap_err();
    assert!(matches!(err, adapters::client::ClientError::Status { status: 403, .. }));
    let r = a
        .client()
        .request(
            http::Method::GET,
            "/v1/operator/positions",
            "application/json",
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);

    // Prometheus metrics, on the operator endpoint and on the plain listener.
    let r = op
        .request(http::Method::GET, "/v1/operator/metrics", "application/json", bytes::Bytes::new())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 200, "{text}");
    assert!(text.contains("switch_transfers_total") && text.contains("reason=\"BE23\""), "{text}");
    assert!(text.contains("switch_journal_sync_seconds"), "{text}");
    let plain = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock =
            tokio::net::TcpStream::connect(cfg.metrics_listen.as_deref().unwrap()).await.unwrap();
        sock.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut out = String::new();
        sock.read_to_string(&mut out).await.unwrap();
        out
    };
    assert!(
        plain.starts_with("HTTP/1.1 200") && plain.contains("switch_messages_total"),
        "{plain}"
    );

    // Every message the switch delivered validates against its official XSD.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut n = 0;
    for bank in &banks {
        for m in bank.delivered_log() {
            assert_xsd_valid(&m.xml);
            n += 1;
        }
    }
    assert!(n >= 15, "only {n} messages delivered");
    assert!(positions(&op).await.1);
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creditor_silence_voids_and_a_late_accept_is_only_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.scheme.creditor_timeout_ms = 300;
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let banks = banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = watch::channel(false);
    // Only A runs its inbox: B never answers.
    banks[0].spawn_inbox(rx.clone());
    let op = operator(node.addr, &pki).await;
    let (before, _, _) = positions(&op).await;
    let out = banks[0].pay("E2E-SILENT", "000001", &alias(1, 0, 0), 700, NOW, WAIT).await.unwrap();
    assert_eq!(out, rjct(StatusReason::TimeoutCreditorAgent));
    let (after, conserved, _) = positions(&op).await;
    assert!(conserved);
    assert_eq!(before, after, "a voided transfer moves nothing");

    // B wakes up and accepts late: recorded for operators, never posted.
    let pulled = banks[1].client().pull(0, 10, 1_000).await.unwrap();
    let fwd = pulled.messages.iter().find(|m| m.msg_type == "pacs.008.001.08").unwrap();
    assert_xsd_valid(&fwd.xml);
    let timeout_note = pulled.messages.iter().find(|m| m.msg_type == "pacs.002.001.10").unwrap();
    assert!(timeout_note.xml.contains("AB05"), "the creditor is told of the timeout");
    let m = pacs008::decode(fwd.xml.as_bytes(), &iso20022::Limits::default()).unwrap();
    let accept = iso20022::pacs002::Pacs002 {
        msg_id: "LATE-1".into(),
        created: NOW.into(),
        original_msg_id: Some(m.header.msg_id.clone()),
        original_msg_name: Some("pacs.008.001.08".into()),
        transactions: vec![iso20022::pacs002::TxStatusReport {
            original_end_to_end_id: Some(m.transactions[0].end_to_end_id.clone()),
            status: TxStatus::AcceptedSettlementInProcess,
            ..Default::default()
        }],
        ..Default::default()
    };
    banks[1].client().send(iso20022::pacs002::encode(&accept)).await.unwrap();
    let (later, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(later, before);
    assert_eq!(v["late_answers"].as_u64(), Some(1));
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_for_unknown_or_foreign_transfers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let node = Node::start(&cfg).await.unwrap();
    let banks = banks(&cfg, node.addr, &node.pki.dir).await;
    let report = iso20022::pacs002::Pacs002 {
        msg_id: "X-1".into(),
        created: NOW.into(),
        original_msg_id: Some("IPSF999999".into()),
        original_msg_name: Some("pacs.008.001.08".into()),
        transactions: vec![iso20022::pacs002::TxStatusReport {
            status: TxStatus::AcceptedSettlementInProcess,
            ..Default::default()
        }],
        ..Default::default()
    };
    let err = banks[1].client().send(iso20022::pacs002::encode(&report)).await.unwrap_err();
    let adapters::client::ClientError::Status { status, body } = err else { panic!() };
    assert_eq!(status, 422);
    assert!(body.contains("UNKNOWN_ORIGINAL"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_in_an_apphdr_envelope_are_accepted_only_from_their_sender() {
    use iso20022::common::PartyOrAgent;
    use iso20022::envelope::{self, Envelope};
    use iso20022::head001::AppHdr;
    use iso20022::{Agent, Message};

    let dir = tempfile::tempdir().unwrap();
    let (_node, banks, stop) = started(dir.path()).await;
    let wrap = |from: &str, msg: iso20022::pacs008::Pacs008| {
        let header = AppHdr {
            from: PartyOrAgent::Agent(Agent::bic(from)),
            to: PartyOrAgent::Agent(Agent::bic("IPSWBRSP")),
            biz_msg_id: msg.header.msg_id.clone(),
            msg_def_id: "pacs.008.001.08".into(),
            created: NOW.into(),
            ..AppHdr::default()
        };
        let xml = envelope::encode(&Envelope { header, message: Message::Pacs008(msg) });
        assert_xsd_valid_parts(&xml);
        xml
    };
    let msg = banks[0].pacs008_by_alias("E2E-ENV-1", "000001", &alias(1, 1, 0), 900, NOW);
    let out = banks[0].send_and_wait("E2E-ENV-1", wrap("BKAABRSP", msg), WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);

    let msg = banks[0].pacs008_by_alias("E2E-ENV-2", "000001", &alias(1, 1, 0), 900, NOW);
    let err = banks[0].client().send(wrap("BKBBBRSP", msg)).await.unwrap_err();
    let adapters::client::ClientError::Status { status, body } = err else { panic!() };
    assert_eq!(status, 403);
    assert!(body.contains("/AppHdr/Fr"), "{body}");
    assert_xsd_valid(&body);
    let _ = stop.send(true);
}

/// What the debtor bank wrote reaches the creditor bank: elements the codec does not model
/// (instructions for the creditor agent, regulatory reporting, supplementary data in a
/// foreign namespace) are forwarded byte for byte; only the agents and the resolved creditor
/// account are the switch's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_transfer_carries_every_element_the_debtor_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, banks, stop) = started(dir.path()).await;
    let extra = [
        "<InstrForCdtrAgt><InstrInf>Credit before noon</InstrInf></InstrForCdtrAgt>",
        "<RgltryRptg><DbtCdtRptgInd>CRED</DbtCdtRptgInd></RgltryRptg>",
    ];
    let supplementary =
        "<SplmtryData><Envlp><x:Note xmlns:x=\"urn:example:note\">kept</x:Note></Envlp></SplmtryData>";
    let msg = banks[0].pacs008_by_alias("E2E-KEEP-1", "000001", &alias(1, 3, 0), 700, NOW);
    let xml = pacs008::encode(&msg);
    assert!(!xml.contains("<Purp>") && xml.contains("</CdtrAcct><RmtInf>"), "{xml}");
    let xml = xml
        .replace("</CdtrAcct><RmtInf>", &format!("</CdtrAcct>{}<RmtInf>", extra.concat()))
        .replace("</CdtTrfTxInf>", &format!("{supplementary}</CdtTrfTxInf>"));
    assert_xsd_valid(&xml);
    let out = banks[0].send_and_wait("E2E-KEEP-1", xml, WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);
    let forwarded: Vec<_> = banks[1]
        .delivered_log()
        .into_iter()
        .filter(|m| m.msg_type == "pacs.008.001.08" && m.xml.contains("E2E-KEEP-1"))
        .collect();
    assert_eq!(forwarded.len(), 1);
    let fwd = &forwarded[0].xml;
    assert_xsd_valid(fwd);
    for part in extra.iter().chain([&supplementary]) {
        assert!(fwd.contains(part), "lost {part}:\n{fwd}");
    }
    let decoded = pacs008::decode(fwd.as_bytes(), &iso20022::Limits::default()).unwrap();
    let tx = &decoded.transactions[0];
    assert_eq!(tx.instructing_agent.as_ref().and_then(|a| a.bic.as_deref()), Some("BKAABRSP"));
    assert_eq!(tx.instructed_agent.as_ref().and_then(|a| a.bic.as_deref()), Some("BKBBBRSP"));
    assert_eq!(tx.creditor_agent.bic.as_deref(), Some("BKBBBRSP"));
    let acct = tx.creditor_account.as_ref().unwrap();
    assert_eq!(acct.id.as_str(), "000004", "the account the alias resolved to");
    assert!(decoded.header.msg_id.starts_with(switch::core::FORWARD_PREFIX));
    let _ = stop.send(true);
}

/// The AppHdr and the Document of an envelope each validate against their own XSD.
fn assert_xsd_valid_parts(xml: &str) {
    let hdr_start = xml.find("<AppHdr").unwrap();
    let hdr_end = xml.find("</AppHdr>").unwrap() + "</AppHdr>".len();
    let doc_start = xml.find("<Document").unwrap();
    let doc_end = xml.rfind("</Document>").unwrap() + "</Document>".len();
    assert_xsd_valid(&xml[hdr_start..hdr_end]);
    assert_xsd_valid(&xml[doc_start..doc_end]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_suspension_and_revoked_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // Night covers the current hour (UTC), whatever time the test runs.
    let hour = ((switch::time::now_ms() / 3_600_000) % 24) as u8;
    cfg.scheme.utc_offset_minutes = 0;
    cfg.scheme.night_start_hour = hour;
    cfg.scheme.night_end_hour = (hour + 2) % 24;
    cfg.scheme.night_amount_max_minor = Some(100_000);
    cfg.participants[1].transaction_amount_max_minor = Some(5_000);
    // Revoke C's certificate: generate the PKI first to know its fingerprint.
    let names: Vec<&str> =
        cfg.participants.iter().map(|p| p.bic.as_str()).chain(["OPERATOR"]).collect();
    let pki = adapters::pki::DevPki::ensure(dir.path(), &names).unwrap();
    let c_pem = std::fs::read(pki.participant("BKCCBRSP").cert).unwrap();
    let c_der = rustls_pemfile::certs(&mut c_pem.as_slice()).next().unwrap().unwrap();
    cfg.revoked_certificates = vec![adapters::server::fingerprint(c_der.as_ref())];

    let node = Node::start(&cfg).await.unwrap();
    let op = operator(node.addr, &pki.dir).await;
    let mut all = Vec::new();
    for (i, p) in cfg.participants.iter().enumerate().take(2) {
        let files = pki.participant(&p.bic);
        let tls = adapters::tls::client_config(&pki.ca_cert, &files).unwrap();
        let client =
            adapters::client::BankClient::connect(node.addr, "localhost", tls).await.unwrap();
        let accounts =
            switch::devnet::customers(i as u32, 10).map(|c| (c.account, 0i128)).collect();
        all.push(adapters::simbank::SimBank::new(
            &p.bic,
            client,
            iso20022::Currency::parse("BRL").unwrap(),
            accounts,
        ));
    }
    let (stop, rx) = watch::channel(false);
    for b in &all {
        b.spawn_inbox(rx.clone());
    }
    let (a, b) = (&all[0], &all[1]);

    // Night limit for a natural person (no organisation id): AM02 above it, fine below.
    let out = a.pay("E2E-NIGHT-1", "000001", &alias(1, 0, 0), 100_001, NOW, WAIT).await.unwrap();
    assert_eq!(out, rjct(StatusReason::NotAllowedAmount));
    let out = a.pay("E2E-NIGHT-2", "000001", &alias(1, 0, 0), 100_000, NOW, WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);

    // B's own limit: AM14.
    let out = b.pay("E2E-BLIM", "000001", &alias(0, 0, 0), 5_001, NOW, WAIT).await.unwrap();
    assert_eq!(out, rjct(StatusReason::AmountExceedsAgreedLimit));

    // The operator suspends B: B's payments get AG10, payments to B get AG11; then back.
    let suspend = |action: &'static str| {
        let op = op.clone();
        async move {
            let r = op
                .request(
                    http::Method::POST,
                    &format!("/v1/operator/participants/BKBBBRSP/{action}"),
                    "application/json",
                    bytes::Bytes::new(),
                )
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }
    };
    suspend("suspend").await;
    let out = b.pay("E2E-SUSP-1", "000001", &alias(0, 0, 0), 100, NOW, WAIT).await.unwrap();
    assert_eq!(out, rjct(StatusReason::AgentSuspended));
    let out = a.pay("E2E-SUSP-2", "000001", &alias(1, 0, 0), 100, NOW, WAIT).await.unwrap();
    assert_eq!(out, rjct(StatusReason::CreditorAgentSuspended));
    suspend("activate").await;
    let out = a.pay("E2E-SUSP-3", "000001", &alias(1, 0, 0), 100, NOW, WAIT).await.unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);

    // C's certificate is revoked: the connection is refused before any request is served.
    let files = pki.participant("BKCCBRSP");
    let tls = adapters::tls::client_config(&pki.ca_cert, &files).unwrap();
    let refused = match adapters::client::BankClient::connect(node.addr, "localhost", tls).await {
        Err(_) => true,
        Ok(c) => c.pull(0, 1, 0).await.is_err(),
    };
    assert!(refused, "a revoked certificate must not be served");
    assert!(node.stats.revoked_refused.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iban_with_wrong_check_digits_is_refused_with_the_side_it_is_on() {
    use iso20022::{Account, AccountId};
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let node = Node::start(&cfg).await.unwrap();
    let (banks, stop) = connect(&cfg, node.addr, &node.pki.dir).await;
    let iban = |s: &str| Account { id: AccountId::Iban(s.into()), ..Account::default() };
    // DE89 3704 0044 0532 0130 00 is a valid IBAN; ...01 breaks its check digits.
    for (e2e, debtor, creditor, reason) in [
        ("E2E-IBAN-C", None, "DE89370400440532013001", StatusReason::InvalidCreditorAccountNumber),
        (
            "E2E-IBAN-D",
            Some("DE89370400440532013001"),
            "DE89370400440532013000",
            StatusReason::InvalidDebtorAccountNumber,
        ),
    ] {
        let mut msg = banks[0].pacs008_by_alias(e2e, "000001", &alias(1, 0, 0), 100, NOW);
        let tx = &mut msg.transactions[0];
        tx.creditor_account = Some(iban(creditor));
        tx.creditor_agent = iso20022::Agent { bic: Some("BKBBBRSP".into()), ..Default::default() };
        if let Some(d) = debtor {
            tx.debtor_account = Some(iban(d));
        }
        let out = banks[0].send_and_wait(e2e, pacs008::encode(&msg), WAIT).await.unwrap();
        assert_eq!(out, rjct(reason), "{e2e}");
    }
    let _ = stop.send(true);
}

/// Pulls with `Accept: multipart/mixed` carry the same messages, byte for byte, as the JSON
/// pulls; a message holding the frame delimiter (here in a payer's remittance text, which the
/// switch forwards) sends that pull out as JSON, so no payer can forge a frame for a bank.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_pulls_carry_the_json_messages_and_cannot_be_forged() {
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, _node, _pki, banks) = unread(dir.path()).await;
    let (a, b) = (&banks[0], &banks[1]);
    for (i, remittance) in ["plain", "ok --iso20022-frame", "x"].iter().enumerate() {
        let mut m = a.pacs008_by_alias(&format!("E2E-FR-{i}"), "000001", &alias(1, 3, 0), 10, NOW);
        m.transactions[0].remittance = vec![remittance.to_string()];
        a.client().send(pacs008::encode(&m)).await.unwrap();
    }
    let json = b.client().pull(0, 10, 2_000).await.unwrap();
    let framed = b.client().pull_framed(0, 10, 2_000).await.unwrap();
    assert_eq!(json.messages.len(), 3, "B has the three forwarded transfers");
    assert_eq!((framed.messages.len(), framed.next), (3, json.next));
    for (j, f) in json.messages.iter().zip(&framed.messages) {
        assert_eq!((j.seq, &j.msg_type, j.xml.as_bytes()), (f.seq, &f.msg_type, &f.xml[..]));
        assert_xsd_valid(&j.xml);
    }
    // Nothing after the cursor: 204 with the cursor kept.
    let empty = b.client().pull_framed(json.next, 10, 0).await.unwrap();
    assert_eq!((empty.messages.len(), empty.next), (0, json.next));

    let forged = format!("--{} X-Seq: 99", adapters::wire::FRAME_BOUNDARY);
    let mut m = a.pacs008_by_alias("E2E-FR-FORGE", "000001", &alias(1, 3, 0), 10, NOW);
    m.transactions[0].remittance = vec![forged.clone()];
    a.client().send(pacs008::encode(&m)).await.unwrap();
    let r = b
        .client()
        .request_with(
            http::Method::GET,
            &format!("/v1/messages?after={}&max=10&wait_ms=2000", json.next),
            "application/json",
            &[("accept", "multipart/mixed")],
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"), "JSON, not frames");
    let framed = b.client().pull_framed(json.next, 10, 2_000).await.unwrap();
    assert_eq!(framed.messages.len(), 1);
    let text = std::str::from_utf8(&framed.messages[0].xml).unwrap();
    assert!(text.contains("E2E-FR-FORGE"));
    let m = pacs008::decode(text.as_bytes(), &iso20022::Limits::default()).unwrap();
    assert_eq!(m.transactions[0].remittance, vec![forged]);
}

/// A creditor bank may answer several transfers in one pacs.002, each report naming its
/// transfer by `ClrSysRef` (the forwarded MsgId). Such a message is taken whole or refused
/// whole: one report for a transfer that does not exist refuses it with the report's place,
/// and nothing of it is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pacs002_answers_several_transfers_or_none() {
    use iso20022::pacs002::{Pacs002, TxStatusReport};
    let dir = tempfile::tempdir().unwrap();
    let (cfg, node, pki, banks) = unread(dir.path()).await;
    let (a, b) = (&banks[0], &banks[1]);
    for k in 0..2 {
        let m = a.pacs008_by_alias(&format!("E2E-MULTI-{k}"), "000001", &alias(1, 3, 0), 50, NOW);
        a.client().send(pacs008::encode(&m)).await.unwrap();
    }
    let pulled = b.client().pull_framed(0, 10, 2_000).await.unwrap();
    let forwarded: Vec<String> = pulled
        .messages
        .iter()
        .filter(|m| m.msg_type == "pacs.008.001.08")
        .map(|m| {
            let m = pacs008::decode(&m.xml, &iso20022::Limits::default()).unwrap();
            m.header.msg_id
        })
        .collect();
    assert_eq!(forwarded.len(), 2, "both forwarded to B");
    let report = |clearing_ref: &str| TxStatusReport {
        clearing_ref: Some(clearing_ref.to_string()),
        status: TxStatus::AcceptedSettlementInProcess,
        ..TxStatusReport::default()
    };
    let answer = |id: &str, refs: &[&str]| Pacs002 {
        msg_id: id.into(),
        created: NOW.into(),
        transactions: refs.iter().map(|r| report(r)).collect(),
        ..Pacs002::default()
    };
    let op = operator(node.addr, &pki).await;
    // Refused whole, naming its second report, with nothing applied.
    let refused = |msg: Pacs002, code: &'static str| {
        let (b, op) = (b.clone(), &op);
        async move {
            let err = b.client().send(iso20022::pacs002::encode(&msg)).await.unwrap_err();
            let adapters::client::ClientError::Status { status, body } = err else { panic!() };
            assert_eq!(status, 422);
            assert!(body.contains(code) && body.contains("TxInfAndSts[2]"), "{body}");
            let (_, _, v) = positions(op).await;
            assert_eq!(v["in_flight"].as_u64(), Some(2), "nothing applied: {v}");
        }
    };
    refused(answer("MULTI-BAD", &[&forwarded[0], "IPSF999999"]), "UNKNOWN_ORIGINAL").await;
    // The same transfer twice in one message (it would be applied twice).
    refused(answer("MULTI-TWICE", &[&forwarded[0], &forwarded[0]]), "DUPLICATE_REPORT").await;

    let good = answer("MULTI-OK", &[&forwarded[0], &forwarded[1]]);
    let taken = b.client().send(iso20022::pacs002::encode(&good)).await.unwrap();
    assert_eq!(taken.transactions, 2);
    let (_, conserved, v) = positions(&op).await;
    assert!(conserved);
    assert_eq!(v["in_flight"].as_u64(), Some(0), "both settled: {v}");
    let to_a = a.client().pull_framed(0, 10, 2_000).await.unwrap();
    let acsc = to_a
        .messages
        .iter()
        .filter(|m| m.msg_type == "pacs.002.001.10")
        .filter(|m| std::str::from_utf8(&m.xml).unwrap().contains("ACSC"))
        .count();
    assert_eq!(acsc, 2, "A is told of both settlements");
    // B gets one confirmation naming both transfers (ACCC each), valid against the XSD.
    let to_b = b.client().pull_framed(pulled.next, 10, 2_000).await.unwrap();
    let confirmations: Vec<String> = to_b
        .messages
        .iter()
        .filter(|m| m.msg_type == "pacs.002.001.10")
        .map(|m| String::from_utf8(m.xml.to_vec()).unwrap())
        .collect();
    assert_eq!(confirmations.len(), 1, "{confirmations:?}");
    let c = &confirmations[0];
    common::assert_xsd_valid(c);
    assert_eq!(c.matches("<TxSts>ACCC</TxSts>").count(), 2, "{c}");
    for f in &forwarded {
        assert!(c.contains(&format!("<ClrSysRef>{f}</ClrSysRef>")), "{f} in {c}");
    }
    drop((banks, op));
    node.stop().unwrap().join().unwrap().unwrap();
    // A replay rebuilds the same streams: a restarted switch delivers B the same bytes.
    let node = Node::start(&cfg).await.unwrap();
    let restarted = common::banks(&cfg, node.addr, &pki).await;
    let again = restarted[1].client().pull_framed(pulled.next, 10, 2_000).await.unwrap();
    let again: Vec<String> = again
        .messages
        .iter()
        .filter(|m| m.msg_type == "pacs.002.001.10")
        .map(|m| String::from_utf8(m.xml.to_vec()).unwrap())
        .collect();
    assert_eq!(again, confirmations);
}

/// Retention on a running switch: once a settled transfer is retired from memory, the same
/// pacs.008 again still gets its stored outcome, before and after a restart, and no money
/// moves twice; `switchctl transfer show` finds it in the journal, retirement included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_transfer_answers_its_resend_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.retention.finished_keep_ms = 300;
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let all = banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = watch::channel(false);
    let _inboxes: Vec<_> = all.iter().map(|b| b.spawn_inbox(rx.clone())).collect();
    let op = operator(node.addr, &pki).await;
    let m = all[0].pacs008_by_alias("E2E-RETIRED", "000001", &alias(1, 2, 0), 700, NOW);
    let xml = pacs008::encode(&m);
    let first = all[0].send_and_wait("E2E-RETIRED", xml.clone(), WAIT).await.unwrap();
    assert_eq!(first.status, TxStatus::AcceptedSettlementCompleted);
    let (settled, _, _) = positions(&op).await;
    // The core's timer retires it once it is 300 ms old.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let again = all[0].send_and_wait("E2E-RETIRED", xml.clone(), WAIT).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(positions(&op).await.0, settled);
    let _ = stop.send(true);
    drop((all, op));
    node.stop().unwrap().join().unwrap().unwrap();

    let node = Node::start(&cfg).await.unwrap();
    let all = banks(&cfg, node.addr, &pki).await;
    let (stop, rx) = watch::channel(false);
    let _inboxes: Vec<_> = all.iter().map(|b| b.spawn_inbox(rx.clone())).collect();
    let op = operator(node.addr, &pki).await;
    let third = all[0].send_and_wait("E2E-RETIRED", xml, WAIT).await.unwrap();
    assert_eq!(third, first);
    let (after, conserved, _) = positions(&op).await;
    assert!(conserved);
    assert_eq!(after, settled);
    let _ = stop.send(true);
    drop((all, op));
    node.stop().unwrap().join().unwrap().unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["transfer", "show", "E2E-RETIRED", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("retired from the switch's memory"), "{text}");
    assert_eq!(
        text.matches("after retirement: the stored outcome is re-sent").count(),
        2,
        "{text}"
    );
}

/// A switch on `dir` and banks that do not read their messages (the test does).
async fn unread(
    dir: &std::path::Path,
) -> (
    switch::config::Config,
    Node,
    std::path::PathBuf,
    Vec<std::sync::Arc<adapters::simbank::SimBank>>,
) {
    let cfg = config(dir);
    let node = Node::start(&cfg).await.unwrap();
    let pki = node.pki.dir.clone();
    let banks = banks(&cfg, node.addr, &pki).await;
    (cfg, node, pki, banks)
}

/// A new stream from 0, waiting (at most [`WAIT`]) for a slot that a closed stream frees once
/// the switch has seen it end.
async fn stream_once_free(c: &adapters::client::BankClient) -> adapters::client::MessageStream {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match c.stream(0).await {
            Ok(s) => return s,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("no stream slot came free: {e}"),
        }
    }
}

/// Read a stream until it has delivered `n` messages in all.
async fn streamed(s: &mut adapters::client::MessageStream, n: usize) -> Vec<adapters::wire::Frame> {
    let mut out = Vec::new();
    while out.len() < n {
        let got = tokio::time::timeout(WAIT, s.next()).await.expect("stream silent").unwrap();
        out.extend(got.expect("stream ended early"));
    }
    out
}

/// The stream (`GET /v1/stream`) writes each message into one open answer as it becomes
/// durable: the same bytes a pull gets, in order, with no pull in between. Acknowledged
/// messages are not delivered again, by this switch or after a restart; the rest are. Its
/// limits answer with their own status, and a message holding the frame delimiter ends the
/// stream cleanly so that a pull takes it as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_delivers_messages_as_they_become_durable_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, node, pki, banks) = unread(dir.path()).await;
    let (a, b) = (&banks[0], &banks[1]);
    let send = |i: usize| {
        let m = a.pacs008_by_alias(&format!("E2E-ST-{i}"), "000001", &alias(1, 3, 0), 10, NOW);
        a.client().send(pacs008::encode(&m))
    };
    let mut stream = b.client().stream(0).await.unwrap();
    // Sent one at a time after the stream opened: each arrives on the open answer.
    let mut frames = Vec::new();
    for i in 0..3 {
        send(i).await.unwrap();
        frames.extend(streamed(&mut stream, 1).await);
        let last = frames.last().unwrap();
        assert_eq!(last.msg_type, "pacs.008.001.08");
        let text = std::str::from_utf8(&last.xml).unwrap();
        assert!(text.contains(&format!("E2E-ST-{i}")), "message {i} out of order: {text}");
        assert_xsd_valid(text);
    }
    assert!(frames.windows(2).all(|w| w[0].seq < w[1].seq));
    let pulled = b.client().pull_framed(0, 10, 0).await.unwrap();
    assert_eq!(pulled.messages, frames, "the stream and a pull carry the same bytes");

    // Limits: frames only, integer parameters, at most four streams per participant.
    let plain = b
        .client()
        .request(http::Method::GET, "/v1/stream", "application/json", bytes::Bytes::new())
        .await
        .unwrap();
    assert_eq!(plain.status, 406, "{}", String::from_utf8_lossy(&plain.body));
    for bad in ["/v1/acks", "/v1/acks?through=x", "/v1/acks?upto=3"] {
        let r = b.client().request(http::Method::POST, bad, "", bytes::Bytes::new()).await.unwrap();
        assert_eq!(r.status, 400, "{bad}");
    }
    let mut more = Vec::new();
    for _ in 0..3 {
        more.push(b.client().stream(0).await.unwrap());
    }
    match b.client().stream(0).await {
        Err(adapters::client::ClientError::Status { status: 429, body }) => {
            assert!(body.contains("TOO_MANY_STREAMS"), "{body}")
        }
        other => panic!("a fifth stream was not refused: {other:?}"),
    }
    // A stream the bank drops gives its slot back.
    drop(more.pop());
    let fourth = stream_once_free(b.client()).await;
    drop((more, fourth));

    // Acknowledged through the second: a new stream starts at the third.
    b.client().ack(frames[1].seq).await.unwrap();
    let mut again = b.client().stream(0).await.unwrap();
    assert_eq!(streamed(&mut again, 1).await[0], frames[2]);

    // A message holding the delimiter ends the stream cleanly, before it; a pull takes it.
    let forged = format!("--{} X-Seq: 99", adapters::wire::FRAME_BOUNDARY);
    let mut m = a.pacs008_by_alias("E2E-ST-FORGE", "000001", &alias(1, 3, 0), 10, NOW);
    m.transactions[0].remittance = vec![forged];
    a.client().send(pacs008::encode(&m)).await.unwrap();
    assert!(tokio::time::timeout(WAIT, stream.next()).await.unwrap().unwrap().is_none());
    let p = b.client().pull_framed(frames[2].seq, 10, 2_000).await.unwrap();
    assert_eq!(p.messages.len(), 1);
    assert!(std::str::from_utf8(&p.messages[0].xml).unwrap().contains("E2E-ST-FORGE"));
    let forged_seq = p.messages[0].seq;
    drop((stream, again));

    // After a restart the third and the forged one come again (never acknowledged by a
    // stream: the pull from the third acknowledged the third only), the first two do not.
    drop(banks);
    node.stop().unwrap().join().unwrap().unwrap();
    let node = Node::start(&cfg).await.unwrap();
    let banks = self::banks(&cfg, node.addr, &pki).await;
    let p = banks[1].client().pull_framed(0, 10, 2_000).await.unwrap();
    let seqs: Vec<u64> = p.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![forged_seq], "only the message after the acknowledged ones is kept");
    // Opened from the forged one, the stream acknowledges it and carries what comes next.
    let mut s = banks[1].client().stream(forged_seq).await.unwrap();
    let m = banks[0].pacs008_by_alias("E2E-ST-NEXT", "000001", &alias(1, 3, 0), 10, NOW);
    banks[0].client().send(pacs008::encode(&m)).await.unwrap();
    let next = streamed(&mut s, 1).await;
    assert!(next[0].seq > forged_seq);
    assert!(std::str::from_utf8(&next[0].xml).unwrap().contains("E2E-ST-NEXT"));
    let p = banks[1].client().pull_framed(0, 10, 0).await.unwrap();
    assert_eq!(p.messages, next);
    drop((s, banks));
    node.stop().unwrap().join().unwrap().unwrap();
}

/// `switchctl stream` prints a bank's messages as the switch writes them, and with `--ack`
/// acknowledges them, so that they are not delivered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchctl_stream_prints_the_messages_and_acknowledges_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, node, _pki, banks) = unread(dir.path()).await;
    let (a, b) = (&banks[0], &banks[1]);
    for i in 0..2 {
        let m = a.pacs008_by_alias(&format!("E2E-CTL-{i}"), "000001", &alias(1, 3, 0), 10, NOW);
        a.client().send(pacs008::encode(&m)).await.unwrap();
    }
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchctl"));
    cmd.args(["stream", "--as", &b.bic, "--for-s", "2", "--ack", "--addr"])
        .arg(node.addr.to_string())
        .arg("--data")
        .arg(dir.path());
    let run = tokio::task::spawn_blocking(move || cmd.output());
    let out = tokio::time::timeout(WAIT, run).await.unwrap().unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.matches("--- seq ").count(), 2, "{text}");
    assert!(text.contains("E2E-CTL-0") && text.contains("E2E-CTL-1"), "{text}");
    assert!(text.contains("(time is up, acknowledged)"), "{text}");
    let left = b.client().pull(0, 10, 0).await.unwrap();
    assert!(left.messages.is_empty(), "acknowledged messages came again: {left:?}");
}

/// A stream ends cleanly when its lifetime (`limits.stream_lifetime_ms`) is over, and a bank
/// over `limits.streams_per_participant_max` gets 429; the next stream carries on from the
/// cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_cleanly_at_its_lifetime_and_the_next_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.stream_lifetime_ms = 300;
    cfg.limits.streams_per_participant_max = 1;
    let node = Node::start(&cfg).await.unwrap();
    let banks = banks(&cfg, node.addr, &node.pki.dir).await;
    let (a, b) = (&banks[0], &banks[1]);
    let mut first = b.client().stream(0).await.unwrap();
    match b.client().stream(0).await {
        Err(adapters::client::ClientError::Status { status: 429, .. }) => {}
        other => panic!("a second stream was not refused: {other:?}"),
    }
    let t0 = std::time::Instant::now();
    assert!(tokio::time::timeout(WAIT, first.next()).await.unwrap().unwrap().is_none());
    assert!(t0.elapsed() >= Duration::from_millis(250), "ended before its lifetime");
    drop(first);
    let m = a.pacs008_by_alias("E2E-ST-LIFE", "000001", &alias(1, 3, 0), 10, NOW);
    a.client().send(pacs008::encode(&m)).await.unwrap();
    // The ended stream's slot comes back once the switch has seen it end.
    let mut next = stream_once_free(b.client()).await;
    let got = streamed(&mut next, 1).await;
    assert!(std::str::from_utf8(&got[0].xml).unwrap().contains("E2E-ST-LIFE"));
}
