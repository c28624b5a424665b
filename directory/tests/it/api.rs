//! The REST + JSON handler: routes, bodies, stable error codes, 429 headers, and events.

use directory::api::{handle, Context, Problem, Request, Response};
use directory::{AntiScan, DirectoryEvent, SeededRandom};
use serde_json::{json, Value};

use super::*;

struct Server {
    dir: Directory,
    scan: AntiScan,
    rng: SeededRandom,
    now: u64,
    journal: Vec<Vec<u8>>,
}

impl Server {
    fn new() -> Server {
        Server {
            dir: Directory::default(),
            scan: AntiScan::default(),
            rng: SeededRandom(9),
            now: 1_000,
            journal: Vec::new(),
        }
    }
    fn call(
        &mut self,
        who: &str,
        method: &str,
        path: &str,
        payer: Option<&str>,
        body: Value,
    ) -> (Response, Value) {
        self.now += 1;
        let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let ctx = Context { participant: who, now_ms: self.now, rng: &mut self.rng };
        let req = Request { method, path, payer_id: payer, body: &bytes };
        let r = handle(&mut self.dir, &mut self.scan, ctx, req);
        for e in &r.applied.events {
            self.journal.push(e.to_bytes());
        }
        let v: Value = serde_json::from_str(&r.body).unwrap();
        if r.status >= 400 {
            let p: Problem = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(p.kind, format!("urn:directory:error:{}", p.code));
            assert_eq!(p.status, r.status);
        }
        (r, v)
    }
}

fn entry_body(key: &str, key_type: &str, account: &str, tax_id: &str, name: &str) -> Value {
    json!({
        "key": key, "keyType": key_type,
        "account": {"branch": "0001", "accountNumber": account, "accountType": "CACC"},
        "owner": {"type": "NATURAL_PERSON", "taxIdNumber": tax_id, "name": name},
        "requestId": "0102030405060708090a0b0c0d0e0f10"
    })
}

#[test]
fn entries_are_created_looked_up_updated_and_deleted() {
    let mut s = Server::new();
    let (r, v) = s.call(
        "BANKA",
        "POST",
        "/api/v1/directory/entries",
        None,
        entry_body("+5511987654321", "PHONE", "100", ANA_CPF, "Ana Maria Souza"),
    );
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(r.applied.events.len(), 1);
    assert_eq!(v["account"]["participant"], "BANKA");
    assert_eq!(v["cid"].as_str().unwrap().len(), 64);

    let (r, v) =
        s.call("BANKA", "POST", "/entries", None, entry_body("", "EVP", "100", ANA_CPF, "Ana"));
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(v["keyType"], "EVP");

    let (r, v) = s.call("BANKB", "GET", "/entries/%2B5511987654321", Some(BIA_CPF), Value::Null);
    assert_eq!(r.status, 200, "{v}");
    assert_eq!(v["ownerName"], "Ana M. S.");
    assert_eq!(v["ownerTaxIdNumber"], "***.982.247-**");
    assert_eq!(v["fraud"]["key"]["reported"], 0);
    assert!(r.headers.contains(&("RateLimit-Remaining".to_string(), "99".to_string())));

    let (r, v) = s.call("BANKB", "GET", "/entries/%2B5511987654321", None, Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (400, Some("BadRequest")));
    let (r, v) = s.call("BANKB", "GET", "/entries/nobody@example.com", Some(BIA_CPF), Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (404, Some("NotFound")));
    let (r, v) = s.call(
        "BANKB",
        "POST",
        "/entries",
        None,
        entry_body("+5511987654321", "PHONE", "9", BIA_CPF, "Bia"),
    );
    assert_eq!((r.status, v["code"].as_str()), (409, Some("EntryKeyOwnedByDifferentPerson")));
    let (r, v) = s.call(
        "BANKB",
        "POST",
        "/entries",
        None,
        entry_body("+5511987654321", "EMAIL", "9", BIA_CPF, "Bia"),
    );
    assert_eq!((r.status, v["code"].as_str()), (400, Some("InvalidKey")));
    let (r, v) = s.call("BANKB", "POST", "/entries", None, json!({"key": 1}));
    assert_eq!((r.status, v["code"].as_str()), (400, Some("BadRequest")));

    let upd = json!({"account": {"branch": "2", "accountNumber": "200", "accountType": "SVGS"},
                     "owner": {"name": "Ana Souza"}});
    let (r, v) = s.call("BANKB", "PUT", "/entries/%2B5511987654321", None, upd.clone());
    assert_eq!((r.status, v["code"].as_str()), (403, Some("Forbidden")));
    let (r, v) = s.call("BANKA", "PUT", "/entries/%2B5511987654321", None, upd);
    assert_eq!(r.status, 200, "{v}");
    assert_eq!(v["account"]["accountType"], "SVGS");
    let (r, _) = s.call("BANKA", "DELETE", "/entries/%2B5511987654321", None, Value::Null);
    assert_eq!(r.status, 200);
    let (r, v) = s.call("BANKA", "DELETE", "/entries/%2B5511987654321", None, Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (404, Some("NotFound")));
    let (r, v) = s.call("BANKA", "PATCH", "/entries", None, Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (404, Some("NotFound")));

    // The journal of the API's events replays to the same state.
    let mut replayed = Directory::default();
    for b in &s.journal {
        replayed.apply(&DirectoryEvent::from_bytes(b).unwrap()).unwrap();
    }
    assert_eq!(replayed.state_digest(), s.dir.state_digest());
}

#[test]
fn an_empty_bucket_answers_429_with_rate_limit_headers() {
    let mut s = Server::new();
    s.call(
        "BANKA",
        "POST",
        "/entries",
        None,
        entry_body("ana@example.com", "EMAIL", "1", ANA_CPF, "Ana"),
    );
    for _ in 0..5 {
        let (r, _) = s.call("BANKB", "GET", "/entries/x@example.com", Some(BIA_CPF), Value::Null);
        assert_eq!(r.status, 404);
    }
    let (r, v) = s.call("BANKB", "GET", "/entries/ana@example.com", Some(BIA_CPF), Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (429, Some("RateLimited")));
    assert_eq!(r.headers[0], ("Content-Type".to_string(), "application/problem+json".to_string()));
    let h = |name: &str| r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(h("Retry-After").as_deref(), Some("30"));
    assert_eq!(h("RateLimit-Limit").as_deref(), Some("100"));
    assert_eq!(h("RateLimit-Remaining").as_deref(), Some("0"));
    assert_eq!(h("RateLimit-Policy").as_deref(), Some("ENTRIES_READ_USER_ANTISCAN"));
    assert!(v["retryAfterMs"].as_u64().unwrap() > 29_000);
}

#[test]
fn claims_and_reports_through_the_api() {
    let mut s = Server::new();
    s.call(
        "BANKA",
        "POST",
        "/entries",
        None,
        entry_body("ana@example.com", "EMAIL", "1", ANA_CPF, "Ana"),
    );
    let mut claim = entry_body("ana@example.com", "EMAIL", "9", ANA_CPF, "Ana");
    claim["type"] = json!("PORTABILITY");
    let (r, v) = s.call("BANKB", "POST", "/claims", None, claim);
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(r.applied.notices[0].participant, "BANKA");
    let id = v["id"].as_u64().unwrap();
    let (_, list) = s.call("BANKA", "GET", "/claims", None, Value::Null);
    assert_eq!(list["claims"][0]["status"], "OPEN");
    // The donor finds the claim in its notices; the claimer has nothing waiting on it.
    let (r, n) = s.call("BANKA", "GET", "/notices", None, Value::Null);
    assert_eq!(r.status, 200);
    assert_eq!(n["notices"], json!([{"type": "CLAIM_OPENED", "claimId": id}]));
    let (_, n) = s.call("BANKB", "GET", "/notices", None, Value::Null);
    assert_eq!(n["notices"], json!([]));
    let (r, v) = s.call("BANKC", "GET", &format!("/claims/{id}"), None, Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (403, Some("Forbidden")));
    let (r, v) = s.call("BANKA", "DELETE", "/entries/ana@example.com", None, Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (409, Some("EntryLockedByClaim")));
    let (r, v) = s.call("BANKA", "POST", &format!("/claims/{id}/acknowledge"), None, Value::Null);
    assert_eq!((r.status, v["status"].as_str()), (200, Some("WAITING_RESOLUTION")));
    let (r, v) =
        s.call("BANKA", "POST", &format!("/claims/{id}/confirm"), None, json!({"reason": "FRAUD"}));
    assert_eq!((r.status, v["code"].as_str()), (400, Some("InvalidReason")));
    let (r, v) = s.call(
        "BANKA",
        "POST",
        &format!("/claims/{id}/confirm"),
        None,
        json!({"reason": "USER_REQUESTED"}),
    );
    assert_eq!((r.status, v["status"].as_str()), (200, Some("CONFIRMED")));
    let (r, v) = s.call("BANKB", "POST", &format!("/claims/{id}/complete"), None, Value::Null);
    assert_eq!((r.status, v["status"].as_str()), (200, Some("COMPLETED")));

    let report = json!({"key": "ana@example.com", "infractionType": "FRAUD",
        "reportedBy": "DEBITED_PARTICIPANT", "transactionId": "E9999901012341234123412345678900"});
    let (r, v) = s.call("BANKC", "POST", "/infraction-reports", None, report);
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(v["counterpartyParticipant"], "BANKB");
    let rid = v["id"].as_u64().unwrap();
    let (r, v) = s.call(
        "BANKB",
        "POST",
        &format!("/infraction-reports/{rid}/close"),
        None,
        json!({"result": "AGREED", "analysisDetails": "confirmed"}),
    );
    assert_eq!(
        (r.status, v["status"].as_str(), v["result"].as_str()),
        (200, Some("CLOSED"), Some("AGREED"))
    );
    let (_, v) = s.call("BANKC", "GET", "/entries/ana@example.com", Some(BIA_CPF), Value::Null);
    assert_eq!(v["fraud"]["key"], json!({"reported": 1, "confirmed": 1}));
    let (r, v) =
        s.call("BANKB", "POST", &format!("/infraction-reports/{rid}/cancel"), None, Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (403, Some("InfractionReportOperationForbidden")));
}

#[test]
fn reconciliation_through_the_api() {
    let mut s = Server::new();
    s.call(
        "BANKA",
        "POST",
        "/entries",
        None,
        entry_body("ana@example.com", "EMAIL", "1", ANA_CPF, "Ana"),
    );
    s.call(
        "BANKA",
        "POST",
        "/entries",
        None,
        entry_body("ana2@example.com", "EMAIL", "1", ANA_CPF, "Ana"),
    );
    let (_, v) = s.call("BANKA", "GET", "/sync/EMAIL/vsync", None, Value::Null);
    let vsync = v["vsync"].as_str().unwrap().to_string();
    let (_, cids) = s.call("BANKA", "GET", "/sync/EMAIL/cids", None, Value::Null);
    assert_eq!(cids["cids"].as_array().unwrap().len(), 2);
    let (_, ok) =
        s.call("BANKA", "POST", "/sync/EMAIL/verifications", None, json!({"vsync": vsync}));
    assert_eq!(ok["result"], "OK");
    let (_, nok) =
        s.call("BANKA", "POST", "/sync/EMAIL/verifications", None, json!({"vsync": "00"}));
    assert_eq!(nok["result"], "NOK");
    let (r, page) = s.call("BANKA", "GET", "/sync/changes?since=0&limit=1", None, Value::Null);
    assert_eq!(r.status, 200);
    assert_eq!(page["changes"][0]["kind"], "ADDED");
    assert_eq!(page["more"], true);
    let next = page["nextSince"].as_u64().unwrap();
    let (_, rest) =
        s.call("BANKA", "GET", &format!("/sync/changes?since={next}"), None, Value::Null);
    assert_eq!(rest["changes"].as_array().unwrap().len(), 1);
    assert_eq!(rest["more"], false);
    let (r, v) = s.call("BANKA", "GET", "/sync/BOGUS/vsync", None, Value::Null);
    assert_eq!((r.status, v["code"].as_str()), (400, Some("BadRequest")));
    let big = json!({"x": "y".repeat(20_000)});
    let (r, v) = s.call("BANKA", "POST", "/entries", None, big);
    assert_eq!((r.status, v["code"].as_str()), (413, Some("PayloadTooLarge")));
}
