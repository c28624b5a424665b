//! The directory API on the participant endpoint: a bank registers a key over mTLS, another
//! looks it up on behalf of a payer (anti-scan buckets, 429 with rate-limit headers) and pays
//! it by alias; the registration is journaled and survives a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use adapters::client::BankClient;
use common::*;
use iso20022::codes::TxStatus;
use std::time::Duration;
use switch::node::Node;

const NOW: &str = "2026-11-23T10:00:00Z";
const PAYER: &str = "52998224725";

async fn call(
    c: &BankClient,
    method: http::Method,
    path: &str,
    payer: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value, Option<String>) {
    let headers: Vec<(&str, &str)> = payer.map(|p| vec![("PI-PayerId", p)]).unwrap_or_default();
    let body = if body.is_null() { bytes::Bytes::new() } else { body.to_string().into() };
    let r = c.request_with(method, path, "application/json", &headers, body).await.unwrap();
    let v = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, v, r.retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_registered_through_the_api_route_payments_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let node = Node::start(&cfg).await.unwrap();
    let (banks, stop) = connect(&cfg, node.addr, &node.pki.dir).await;
    let entry = serde_json::json!({
        "key": "+5511955550001", "keyType": "PHONE",
        "account": {"branch": "0001", "accountNumber": "000002", "accountType": "CACC"},
        "owner": {"type": "NATURAL_PERSON", "taxIdNumber": "39053344705", "name": "Rita de Cassia Lima"},
        "requestId": "0102030405060708090a0b0c0d0e0f10"
    });
    let (status, v, _) =
        call(banks[1].client(), http::Method::POST, "/api/v1/directory/entries", None, entry).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["account"]["participant"], "BKBBBRSP");

    let (status, v, _) = call(
        banks[0].client(),
        http::Method::GET,
        "/api/v1/directory/entries/%2B5511955550001",
        Some(PAYER),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ownerName"], "Rita d. C. L.");

    let out = banks[0]
        .pay("E2E-DIRAPI-1", "000001", "+5511955550001", 4_200, NOW, Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);

    // Misses cost 20 tokens of the payer's 100: the sixth miss in a row is refused with 429.
    let mut last = 0;
    for i in 0..6 {
        let path = format!("/api/v1/directory/entries/%2B55119555599{i:02}");
        let (status, _, _) =
            call(banks[0].client(), http::Method::GET, &path, Some(PAYER), serde_json::Value::Null)
                .await;
        last = status;
    }
    assert_eq!(last, 429);

    // Restart on the same data: the key is still there (journaled), and still routes.
    let _ = stop.send(true);
    drop(banks);
    let _ = node.stop();
    let node = Node::start(&cfg).await.unwrap();
    let (banks, stop) = connect(&cfg, node.addr, &node.pki.dir).await;
    let (status, v, _) = call(
        banks[2].client(),
        http::Method::GET,
        "/api/v1/directory/entries/%2B5511955550001",
        Some(PAYER),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let out = banks[2]
        .pay("E2E-DIRAPI-2", "000001", "+5511955550001", 100, NOW, Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_after_a_lookup_gives_the_payer_a_token_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let node = Node::start(&cfg).await.unwrap();
    let (banks, stop) = connect(&cfg, node.addr, &node.pki.dir).await;
    let a = banks[0].client();
    let key = alias(1, 0, 0);
    assert!(key.starts_with('+'), "the first development key is a phone: {key}");
    let lookup = |k: String| async move {
        let path = format!("/api/v1/directory/entries/{}", k.replace('+', "%2B"));
        call(a, http::Method::GET, &path, Some(PAYER), serde_json::Value::Null).await.0
    };
    // A natural person's bucket holds 100: four misses (20 each) and a hit leave 19.
    for i in 0..4 {
        assert_eq!(lookup(format!("+55219876543{i:02}")).await, 404);
    }
    assert_eq!(lookup(key.clone()).await, 200);
    // The payer pays the key it looked up: one token back, so one more miss fits.
    let mut msg = banks[0].pacs008_by_alias("E2E-REFUND", "000001", &key, 100, NOW);
    msg.transactions[0].debtor.id = Some(iso20022::common::PartyId {
        private: true,
        others: vec![iso20022::common::GenericId { id: PAYER.into(), ..Default::default() }],
        ..Default::default()
    });
    let out = banks[0]
        .send_and_wait("E2E-REFUND", iso20022::pacs008::encode(&msg), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(out.status, TxStatus::AcceptedSettlementCompleted);
    assert_eq!(lookup("+5521987654399".into()).await, 404, "the refund paid for this miss");
    assert_eq!(lookup(key.clone()).await, 429, "and now the bucket is empty");
    let _ = stop.send(true);
}
