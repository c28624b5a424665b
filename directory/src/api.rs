//! The participant-facing REST + JSON API as a pure handler: a method, a path, the caller (named
//! by its mTLS certificate, resolved by the server), a body and the time go in; a status,
//! headers, a JSON body and the events to journal come out. `schemas/directory-openapi.yaml`
//! describes the same API; the server only moves bytes.
//!
//! Guarantees: every refusal is an RFC 7807 problem with a stable `code` (the same codes as the
//! error enums' `code()`); a 429 carries `Retry-After` and `RateLimit-*` headers; bodies are
//! capped at [`BODY_LEN_MAX`] bytes; the caller can only act as itself. Must not: do I/O, read
//! the clock or a random source (they come in [`Context`]), or journal (the caller does, with
//! [`Response::applied`], before sending the answer).

use serde::{Deserialize, Serialize};

use crate::antiscan::RateLimit;
use crate::claims::{Claim, ClaimReason, ClaimSide, ClaimStatus, ClaimType};
use crate::fraud::{
    InfractionReport, InfractionType, NewReport, ReportResult, ReportStatus, ReportTarget,
    ReportedBy,
};
use crate::sync::{cid, to_hex, ChangeKind, SyncError};
use crate::{
    AccountRef, AccountUpdate, AntiScan, Applied, Directory, DirectoryError, Entry, EntryStore,
    Key, KeyType, LookupAnswer, LookupError, LookupRequest, Masked, OwnerType, RandomSource,
};

/// Largest request body accepted, in bytes.
pub const BODY_LEN_MAX: usize = 16 * 1024;
/// Most changes in one page of `GET /sync/changes`.
pub const CHANGES_PAGE_MAX: usize = 1_000;
/// The path prefix the API is served under (accepted, not required).
pub const PATH_PREFIX: &str = "/api/v1/directory";

/// Who calls and when.
pub struct Context<'a> {
    /// The calling participant, from its client certificate.
    pub participant: &'a str,
    /// Now, ms since the epoch.
    pub now_ms: u64,
    /// Random bytes for random keys.
    pub rng: &'a mut dyn RandomSource,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({}, {})", self.participant, self.now_ms)
    }
}

/// One HTTP request, as far as the directory needs it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: &'a str,
    /// Path, with or without [`PATH_PREFIX`], with an optional `?query`.
    pub path: &'a str,
    /// The `PI-PayerId` header (lookups).
    pub payer_id: Option<&'a str>,
    /// The body (JSON).
    pub body: &'a [u8],
}

/// The answer: status, headers, JSON body, and what changed (journal it before answering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (content type included).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: String,
    /// Events to journal and notices to deliver.
    pub applied: Applied,
}

/// RFC 7807 problem body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `urn:directory:error:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short title.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable code.
    pub code: String,
    /// What went wrong and what to do.
    pub detail: String,
    /// With `RateLimited`: ms until a token is back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// An account in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccountJson {
    /// Participant (set by the directory).
    #[serde(default)]
    pub participant: String,
    /// Branch.
    #[serde(default)]
    pub branch: String,
    /// Account number.
    pub account_number: String,
    /// CACC, SVGS, TRAN, SLRY.
    pub account_type: String,
}

/// Owner type in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OwnerTypeJson {
    /// Natural person.
    NaturalPerson,
    /// Legal entity.
    LegalPerson,
}

/// An owner in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerJson {
    /// Natural or legal.
    #[serde(rename = "type")]
    pub kind: OwnerTypeJson,
    /// CPF or CNPJ.
    pub tax_id_number: String,
    /// Name.
    pub name: String,
    /// Trade name.
    #[serde(default)]
    pub trade_name: String,
}

/// `POST /entries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateEntryJson {
    /// The key (absent for EVP).
    #[serde(default)]
    pub key: String,
    /// CPF, CNPJ, PHONE, EMAIL, EVP.
    pub key_type: String,
    /// Account.
    pub account: AccountJson,
    /// Owner.
    pub owner: OwnerJson,
    /// UUID of the request.
    pub request_id: String,
}

/// An entry in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryJson {
    /// Key.
    pub key: String,
    /// Key type.
    pub key_type: String,
    /// Account.
    pub account: AccountJson,
    /// Owner.
    pub owner: OwnerJson,
    /// Registered at (ms).
    pub created_at_ms: u64,
    /// Owned since (ms).
    pub owned_since_ms: u64,
    /// CID, 64 hex.
    pub cid: String,
}

/// `PUT /entries/{key}` owner part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerNameJson {
    /// Name.
    pub name: String,
    /// Trade name.
    #[serde(default)]
    pub trade_name: String,
}

/// `PUT /entries/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateEntryJson {
    /// New account.
    pub account: AccountJson,
    /// Owner name.
    pub owner: OwnerNameJson,
}

/// Fraud counts in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsJson {
    /// Reported.
    pub reported: u32,
    /// Confirmed.
    pub confirmed: u32,
}

/// Fraud marks in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudJson {
    /// Key.
    pub key: CountsJson,
    /// Owner.
    pub owner: CountsJson,
    /// Account.
    pub account: CountsJson,
}

/// `GET /entries/{key}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LookupJson {
    /// Key.
    pub key: String,
    /// Key type.
    pub key_type: String,
    /// Account.
    pub account: AccountJson,
    /// Owner type.
    pub owner_type: OwnerTypeJson,
    /// Masked name.
    pub owner_name: String,
    /// Masked id.
    pub owner_tax_id_number: String,
    /// Trade name.
    pub trade_name: String,
    /// Registered at.
    pub created_at_ms: u64,
    /// Owned since.
    pub owned_since_ms: u64,
    /// Fraud counts.
    pub fraud: FraudJson,
    /// Tokens left for the end user.
    pub user_tokens_left: u64,
}

/// `POST /claims`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateClaimJson {
    /// OWNERSHIP or PORTABILITY.
    #[serde(rename = "type")]
    pub kind: ClaimTypeJson,
    /// Key.
    pub key: String,
    /// Key type.
    pub key_type: String,
    /// Claimer's account.
    pub account: AccountJson,
    /// Claimer's owner.
    pub owner: OwnerJson,
}

/// Claim type in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimTypeJson {
    /// Ownership.
    Ownership,
    /// Portability.
    Portability,
}

/// Claim reason in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonJson {
    /// User requested.
    UserRequested,
    /// Account closure.
    AccountClosure,
    /// Fraud.
    Fraud,
    /// Default operation.
    DefaultOperation,
    /// Reconciliation.
    Reconciliation,
}

/// Body with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonBody {
    /// The reason.
    pub reason: ReasonJson,
}

/// A claim in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimJson {
    /// Id.
    pub id: u64,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ClaimTypeJson,
    /// Key.
    pub key: String,
    /// Key type.
    pub key_type: String,
    /// OPEN, WAITING_RESOLUTION, CONFIRMED, CANCELLED, COMPLETED.
    pub status: String,
    /// Claimer.
    pub claimer_participant: String,
    /// Donor.
    pub donor_participant: String,
    /// Opened at.
    pub opened_at_ms: u64,
    /// Updated at.
    pub updated_at_ms: u64,
    /// Resolution period end.
    pub resolution_period_end_ms: u64,
    /// Completion period end.
    pub completion_period_end_ms: u64,
    /// Completion deadline.
    pub completion_deadline_ms: u64,
    /// Confirm reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_reason: Option<ReasonJson>,
    /// Cancel reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<ReasonJson>,
    /// CLAIMER or DONOR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

/// `POST /infraction-reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReportJson {
    /// Against a key...
    #[serde(default)]
    pub key: Option<String>,
    /// ...or an account.
    #[serde(default)]
    pub account: Option<AccountJson>,
    /// FRAUD, REFUND_REQUEST, REFUND_CANCELLED.
    pub infraction_type: String,
    /// DEBITED_PARTICIPANT, CREDITED_PARTICIPANT.
    pub reported_by: String,
    /// End-to-end id.
    pub transaction_id: String,
    /// Details.
    #[serde(default)]
    pub report_details: String,
}

/// `POST /infraction-reports/{id}/close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseReportJson {
    /// AGREED or DISAGREED.
    pub result: String,
    /// Analysis.
    #[serde(default)]
    pub analysis_details: String,
}

/// A report in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportJson {
    /// Id.
    pub id: u64,
    /// Status.
    pub status: String,
    /// Result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Type.
    pub infraction_type: String,
    /// Reported by.
    pub reported_by: String,
    /// Reporter.
    pub reporter_participant: String,
    /// Counterparty.
    pub counterparty_participant: String,
    /// Key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Transaction id.
    pub transaction_id: String,
    /// Opened at.
    pub opened_at_ms: u64,
    /// Updated at.
    pub updated_at_ms: u64,
}

/// Problem or success, inside the handler.
type Answer = Result<(u16, String, Applied), Failure>;

/// A refusal on its way to becoming a problem document.
#[derive(Debug)]
struct Failure {
    status: u16,
    code: &'static str,
    detail: String,
    limit: Option<RateLimit>,
}

fn fail(status: u16, code: &'static str, detail: impl Into<String>) -> Failure {
    Failure { status, code, detail: detail.into(), limit: None }
}

fn bad(detail: impl Into<String>) -> Failure {
    fail(400, "BadRequest", detail)
}

impl From<DirectoryError> for Failure {
    fn from(e: DirectoryError) -> Failure {
        use crate::claims::ClaimError as C;
        use crate::fraud::ReportError as R;
        let status = match &e {
            DirectoryError::Invalid { .. } => 400,
            DirectoryError::NotFound => 404,
            DirectoryError::NotOwner => 403,
            DirectoryError::Full(_) => 503,
            DirectoryError::Claim(C::NotFound | C::KeyNotRegistered) => 404,
            DirectoryError::Claim(C::NotAllowed) => 403,
            DirectoryError::Claim(C::InvalidReason) => 400,
            DirectoryError::Report(R::NotFound | R::KeyNotRegistered) => 404,
            DirectoryError::Report(R::NotAllowed | R::OwnTarget) => 403,
            DirectoryError::Report(R::TransactionId | R::Text(_)) => 400,
            _ => 409,
        };
        fail(status, e.code(), e.to_string())
    }
}

impl From<LookupError> for Failure {
    fn from(e: LookupError) -> Failure {
        let status = match &e {
            LookupError::InvalidPayer => 400,
            LookupError::NotFound => 404,
            LookupError::RateLimited(_) => 429,
            _ => 503,
        };
        let limit = match &e {
            LookupError::RateLimited(l) => Some(l.clone()),
            _ => None,
        };
        Failure { status, code: e.code(), detail: e.to_string(), limit }
    }
}

impl From<SyncError> for Failure {
    fn from(e: SyncError) -> Failure {
        fail(410, e.code(), e.to_string())
    }
}

/// Handle one request.
pub fn handle<S: EntryStore>(
    dir: &mut Directory<S>,
    scan: &mut AntiScan,
    ctx: Context<'_>,
    req: Request<'_>,
) -> Response {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    let answer = if req.body.len() > BODY_LEN_MAX {
        Err(fail(413, "PayloadTooLarge", format!("body over {BODY_LEN_MAX} bytes")))
    } else {
        route(dir, scan, ctx, req, &mut headers)
    };
    match answer {
        Ok((status, body, applied)) => Response { status, headers, body, applied },
        Err(f) => {
            if let Some(h) = headers.first_mut() {
                h.1 = "application/problem+json".to_string();
            }
            if let Some(l) = &f.limit {
                headers.extend(l.headers().into_iter().map(|(k, v)| (k.to_string(), v)));
            }
            let p = Problem {
                kind: format!("urn:directory:error:{}", f.code),
                title: f.code.to_string(),
                status: f.status,
                code: f.code.to_string(),
                detail: f.detail,
                retry_after_ms: f.limit.map(|l| l.retry_after_ms),
            };
            let body = serde_json::to_string(&p).unwrap_or_default();
            Response { status: f.status, headers, body, applied: Applied::default() }
        }
    }
}

fn route<S: EntryStore>(
    dir: &mut Directory<S>,
    scan: &mut AntiScan,
    ctx: Context<'_>,
    req: Request<'_>,
    headers: &mut Vec<(String, String)>,
) -> Answer {
    let path = req.path.strip_prefix(PATH_PREFIX).unwrap_or(req.path);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let me = ctx.participant;
    let now = ctx.now_ms;
    match (req.method, segs.as_slice()) {
        ("POST", ["entries"]) => create_entry(dir, ctx, parse(req.body)?),
        ("GET", ["entries", k]) => {
            let key = path_key(dir, k)?;
            let payer = req.payer_id.ok_or_else(|| bad("PI-PayerId header missing"))?;
            let lr = LookupRequest {
                participant: me.to_string(),
                payer_id: Masked(payer.to_string()),
                key,
            };
            let a = dir.lookup(scan, &lr, now)?;
            headers.push(("RateLimit-Remaining".into(), a.user_tokens_left.to_string()));
            ok(200, &lookup_json(&a), Applied::default())
        }
        ("PUT", ["entries", k]) => {
            let key = path_key(dir, k)?;
            let body: UpdateEntryJson = parse(req.body)?;
            let upd = AccountUpdate {
                branch: body.account.branch,
                account: Masked(body.account.account_number),
                account_type: body.account.account_type,
                owner_name: Masked(body.owner.name),
                trade_name: Masked(body.owner.trade_name),
            };
            let applied = dir.update_account(&key, me, upd, now)?;
            let e = dir.resolve_entry(&key).ok_or(DirectoryError::NotFound)?;
            ok(200, &entry_json(&e), applied)
        }
        ("DELETE", ["entries", k]) => {
            let key = path_key(dir, k)?;
            let applied = dir.delete_entry(&key, me, now)?;
            let body =
                serde_json::json!({"key": key.as_str(), "keyType": key.key_type().dict_name()});
            ok(200, &body, applied)
        }
        ("POST", ["claims"]) => {
            let body: CreateClaimJson = parse(req.body)?;
            let key = typed_key(dir, &body.key_type, &body.key)?;
            let entry = entry_from(key, me, body.account, body.owner);
            let t = match body.kind {
                ClaimTypeJson::Ownership => ClaimType::Ownership,
                ClaimTypeJson::Portability => ClaimType::Portability,
            };
            let (id, applied) = dir.open_claim(t, entry, now)?;
            claim_answer(dir, id, 201, applied)
        }
        ("GET", ["notices"]) => {
            let notices: Vec<serde_json::Value> = dir
                .pending_notices(me, NOTICES_MAX)
                .into_iter()
                .map(|n| notice_json(&n.kind))
                .collect();
            ok(200, &serde_json::json!({ "notices": notices }), Applied::default())
        }
        ("GET", ["claims"]) => {
            let claims: Vec<ClaimJson> =
                dir.open_claims_of(me).into_iter().map(claim_json).collect();
            ok(200, &serde_json::json!({ "claims": claims }), Applied::default())
        }
        ("GET", ["claims", id]) => {
            let id = parse_id(id)?;
            let c = dir
                .claim(id)
                .ok_or(crate::claims::ClaimError::NotFound)
                .map_err(DirectoryError::from)?;
            if c.claimer.participant != me && c.donor_participant != me {
                return Err(fail(403, "Forbidden", "not a party to this claim"));
            }
            claim_answer(dir, id, 200, Applied::default())
        }
        ("POST", ["claims", id, action]) => {
            let id = parse_id(id)?;
            let applied = match *action {
                "acknowledge" => dir.acknowledge_claim(id, me, now)?,
                "complete" => dir.complete_claim(id, me, now)?,
                "confirm" => dir.confirm_claim(id, me, reason(parse(req.body)?), now)?,
                "cancel" => dir.cancel_claim(id, me, reason(parse(req.body)?), now)?,
                _ => return Err(fail(404, "NotFound", "no such claim operation")),
            };
            claim_answer(dir, id, 200, applied)
        }
        ("POST", ["infraction-reports"]) => {
            let body: CreateReportJson = parse(req.body)?;
            let report = new_report(dir, me, body)?;
            let (id, applied) = dir.file_report(report, now)?;
            report_answer(dir, id, 201, applied)
        }
        ("GET", ["infraction-reports", id]) => {
            let id = parse_id(id)?;
            let r = dir
                .report(id)
                .ok_or(crate::fraud::ReportError::NotFound)
                .map_err(DirectoryError::from)?;
            if r.reporter != me && r.counterparty != me {
                return Err(fail(403, "Forbidden", "not a party to this report"));
            }
            report_answer(dir, id, 200, Applied::default())
        }
        ("POST", ["infraction-reports", id, action]) => {
            let id = parse_id(id)?;
            let applied = match *action {
                "acknowledge" => dir.acknowledge_report(id, me, now)?,
                "cancel" => dir.cancel_report(id, me, now)?,
                "close" => {
                    let body: CloseReportJson = parse(req.body)?;
                    let result = match body.result.as_str() {
                        "AGREED" => ReportResult::Agreed,
                        "DISAGREED" => ReportResult::Disagreed,
                        _ => return Err(bad("result must be AGREED or DISAGREED")),
                    };
                    dir.close_report(id, me, result, Masked(body.analysis_details), now)?
                }
                _ => return Err(fail(404, "NotFound", "no such report operation")),
            };
            report_answer(dir, id, 200, applied)
        }
        ("GET", ["sync", t, "vsync"]) => {
            let t = key_type(t)?;
            let body = serde_json::json!({
                "keyType": t.dict_name(), "vsync": to_hex(&dir.vsync(me, t)), "seq": dir.seq()
            });
            ok(200, &body, Applied::default())
        }
        ("POST", ["sync", t, "verifications"]) => {
            let t = key_type(t)?;
            let body: serde_json::Value = parse(req.body)?;
            let theirs = body.get("vsync").and_then(|v| v.as_str()).unwrap_or_default();
            let mine = to_hex(&dir.vsync(me, t));
            let result = if theirs == mine { "OK" } else { "NOK" };
            ok(200, &serde_json::json!({ "result": result }), Applied::default())
        }
        ("GET", ["sync", t, "cids"]) => {
            let t = key_type(t)?;
            let cids: Vec<String> = dir.cids_of(me, t).iter().map(to_hex).collect();
            ok(200, &serde_json::json!({ "cids": cids, "seq": dir.seq() }), Applied::default())
        }
        ("GET", ["sync", "changes"]) => {
            let since = query_u64(query, "since")?.ok_or_else(|| bad("since is required"))?;
            let limit = query_u64(query, "limit")?.map_or(CHANGES_PAGE_MAX, |l| {
                usize::try_from(l).unwrap_or(CHANGES_PAGE_MAX).clamp(1, CHANGES_PAGE_MAX)
            });
            let page = dir.changes_since(me, since, limit)?;
            let changes: Vec<serde_json::Value> = page
                .changes
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "seq": c.seq,
                        "key": c.key.as_str(),
                        "keyType": c.key.key_type().dict_name(),
                        "kind": if c.kind == ChangeKind::Added { "ADDED" } else { "REMOVED" },
                        "cid": to_hex(&c.cid),
                    })
                })
                .collect();
            let body = serde_json::json!({
                "changes": changes, "nextSince": page.next_since, "more": page.more
            });
            ok(200, &body, Applied::default())
        }
        _ => Err(fail(404, "NotFound", "no such resource or method")),
    }
}

/// Notices returned by one `GET /notices`, oldest first.
const NOTICES_MAX: usize = 100;

/// One pending notice as JSON: what waits on the caller, and the claim or report it is.
fn notice_json(kind: &crate::NoticeKind) -> serde_json::Value {
    use crate::NoticeKind as K;
    let (t, field, id) = match *kind {
        K::ClaimOpened(id) => ("CLAIM_OPENED", "claimId", id),
        K::ClaimAcknowledged(id) => ("CLAIM_ACKNOWLEDGED", "claimId", id),
        K::ClaimConfirmed(id) => ("CLAIM_CONFIRMED", "claimId", id),
        K::ClaimCancelled(id) => ("CLAIM_CANCELLED", "claimId", id),
        K::ClaimCompleted(id) => ("CLAIM_COMPLETED", "claimId", id),
        K::ReportFiled(id) => ("REPORT_FILED", "reportId", id),
        K::ReportAcknowledged(id) => ("REPORT_ACKNOWLEDGED", "reportId", id),
        K::ReportClosed(id) => ("REPORT_CLOSED", "reportId", id),
        K::ReportCancelled(id) => ("REPORT_CANCELLED", "reportId", id),
    };
    serde_json::json!({ "type": t, field: id })
}

fn ok<T: Serialize>(status: u16, body: &T, applied: Applied) -> Answer {
    let text =
        serde_json::to_string(body).map_err(|e| fail(500, "InternalServerError", e.to_string()))?;
    Ok((status, text, applied))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| bad(format!("body: {e}")))
}

fn parse_id(s: &str) -> Result<u64, Failure> {
    s.parse().map_err(|_| bad("id must be a number"))
}

fn query_u64(query: &str, name: &str) -> Result<Option<u64>, Failure> {
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            if k == name {
                return v.parse().map(Some).map_err(|_| bad(format!("{name} must be a number")));
            }
        }
    }
    Ok(None)
}

fn key_type(s: &str) -> Result<KeyType, Failure> {
    KeyType::from_dict_name(s).ok_or_else(|| bad("key type must be CPF, CNPJ, PHONE, EMAIL or EVP"))
}

fn typed_key<S: EntryStore>(dir: &Directory<S>, t: &str, text: &str) -> Result<Key, Failure> {
    Key::parse_typed(key_type(t)?, text, dir.rules())
        .map_err(|e| fail(400, "InvalidKey", e.to_string()))
}

fn path_key<S: EntryStore>(dir: &Directory<S>, seg: &str) -> Result<Key, Failure> {
    let text = percent_decode(seg).ok_or_else(|| bad("key is not valid percent-encoding"))?;
    Key::parse_with(&text, dir.rules()).map_err(|e| fail(400, "InvalidKey", e.to_string()))
}

fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

fn request_id(s: &str) -> Result<[u8; 16], Failure> {
    let hex: Vec<u32> = s
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_digit(16))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("requestId must be a UUID"))?;
    if hex.len() != 32 {
        return Err(bad("requestId must be a UUID"));
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks(2)) {
        let v = pair.iter().fold(0u32, |acc, d| acc * 16 + d);
        *o = u8::try_from(v).map_err(|_| bad("requestId must be a UUID"))?;
    }
    Ok(out)
}

fn owner_type(t: OwnerTypeJson) -> OwnerType {
    match t {
        OwnerTypeJson::NaturalPerson => OwnerType::Natural,
        OwnerTypeJson::LegalPerson => OwnerType::Legal,
    }
}

fn entry_from(key: Key, me: &str, a: AccountJson, o: OwnerJson) -> Entry {
    let mut e = Entry::new(key, me, &a.branch, &a.account_number, &o.name)
        .with_owner(owner_type(o.kind), &o.tax_id_number)
        .with_account_type(&a.account_type);
    e.trade_name = Masked(o.trade_name);
    e
}

fn create_entry<S: EntryStore>(
    dir: &mut Directory<S>,
    ctx: Context<'_>,
    body: CreateEntryJson,
) -> Answer {
    let rid = request_id(&body.request_id)?;
    let me = ctx.participant;
    if !body.account.participant.is_empty() && body.account.participant != me {
        return Err(fail(403, "Forbidden", "account participant must be the caller"));
    }
    let random = body.key_type == "EVP" && body.key.is_empty();
    let key = if random { Key::default() } else { typed_key(dir, &body.key_type, &body.key)? };
    let mut entry = entry_from(key, me, body.account, body.owner);
    entry.request_id = rid;
    let (key, applied) = if random {
        dir.register_random(entry, ctx.rng, ctx.now_ms)?
    } else {
        let k = entry.key.clone();
        (k, dir.register_entry(entry, ctx.now_ms)?)
    };
    let e = dir.resolve_entry(&key).ok_or(DirectoryError::NotFound)?;
    ok(201, &entry_json(&e), applied)
}

fn account_json(a: &AccountRef) -> AccountJson {
    AccountJson {
        participant: a.participant.clone(),
        branch: a.branch.clone(),
        account_number: a.account.0.clone(),
        account_type: a.account_type.clone(),
    }
}

fn owner_type_json(t: OwnerType) -> OwnerTypeJson {
    match t {
        OwnerType::Natural => OwnerTypeJson::NaturalPerson,
        OwnerType::Legal => OwnerTypeJson::LegalPerson,
    }
}

fn entry_json(e: &Entry) -> EntryJson {
    EntryJson {
        key: e.key.as_str().to_string(),
        key_type: e.key.key_type().dict_name().to_string(),
        account: account_json(&e.account_ref()),
        owner: OwnerJson {
            kind: owner_type_json(e.owner_type),
            tax_id_number: e.owner_tax_id.0.clone(),
            name: e.owner_name.0.clone(),
            trade_name: e.trade_name.0.clone(),
        },
        created_at_ms: e.created_at_ms,
        owned_since_ms: e.owned_since_ms,
        cid: to_hex(&cid(e)),
    }
}

fn lookup_json(a: &LookupAnswer) -> LookupJson {
    let counts =
        |c: crate::FraudCounts| CountsJson { reported: c.reported, confirmed: c.confirmed };
    LookupJson {
        key: a.key.as_str().to_string(),
        key_type: a.key.key_type().dict_name().to_string(),
        account: AccountJson {
            participant: a.participant.clone(),
            branch: a.branch.clone(),
            account_number: a.account.0.clone(),
            account_type: a.account_type.clone(),
        },
        owner_type: owner_type_json(a.owner_type),
        owner_name: a.owner_name_masked.clone(),
        owner_tax_id_number: a.owner_tax_id_masked.clone(),
        trade_name: a.trade_name.clone(),
        created_at_ms: a.created_at_ms,
        owned_since_ms: a.owned_since_ms,
        fraud: FraudJson {
            key: counts(a.fraud.key),
            owner: counts(a.fraud.owner),
            account: counts(a.fraud.account),
        },
        user_tokens_left: a.user_tokens_left,
    }
}

fn reason(b: ReasonBody) -> ClaimReason {
    match b.reason {
        ReasonJson::UserRequested => ClaimReason::UserRequested,
        ReasonJson::AccountClosure => ClaimReason::AccountClosure,
        ReasonJson::Fraud => ClaimReason::Fraud,
        ReasonJson::DefaultOperation => ClaimReason::DefaultOperation,
        ReasonJson::Reconciliation => ClaimReason::Reconciliation,
    }
}

fn reason_json(r: ClaimReason) -> ReasonJson {
    match r {
        ClaimReason::UserRequested => ReasonJson::UserRequested,
        ClaimReason::AccountClosure => ReasonJson::AccountClosure,
        ClaimReason::Fraud => ReasonJson::Fraud,
        ClaimReason::DefaultOperation => ReasonJson::DefaultOperation,
        ClaimReason::Reconciliation => ReasonJson::Reconciliation,
    }
}

fn claim_json(c: &Claim) -> ClaimJson {
    ClaimJson {
        id: c.id,
        kind: match c.claim_type {
            ClaimType::Ownership => ClaimTypeJson::Ownership,
            ClaimType::Portability => ClaimTypeJson::Portability,
        },
        key: c.key().as_str().to_string(),
        key_type: c.key().key_type().dict_name().to_string(),
        status: match c.status {
            ClaimStatus::Open => "OPEN",
            ClaimStatus::WaitingResolution => "WAITING_RESOLUTION",
            ClaimStatus::Confirmed => "CONFIRMED",
            ClaimStatus::Cancelled => "CANCELLED",
            ClaimStatus::Completed => "COMPLETED",
        }
        .to_string(),
        claimer_participant: c.claimer.participant.clone(),
        donor_participant: c.donor_participant.clone(),
        opened_at_ms: c.opened_at_ms,
        updated_at_ms: c.updated_at_ms,
        resolution_period_end_ms: c.resolution_period_end_ms,
        completion_period_end_ms: c.completion_period_end_ms,
        completion_deadline_ms: c.completion_deadline_ms,
        confirm_reason: c.confirm_reason.map(reason_json),
        cancel_reason: c.cancelled.map(|(_, r)| reason_json(r)),
        cancelled_by: c
            .cancelled
            .map(|(s, _)| if s == ClaimSide::Claimer { "CLAIMER" } else { "DONOR" }.to_string()),
    }
}

fn claim_answer<S: EntryStore>(
    dir: &Directory<S>,
    id: u64,
    status: u16,
    applied: Applied,
) -> Answer {
    let c = dir.claim(id).ok_or_else(|| fail(404, "ClaimNotFound", "claim not found"))?;
    ok(status, &claim_json(c), applied)
}

fn new_report<S: EntryStore>(
    dir: &Directory<S>,
    me: &str,
    b: CreateReportJson,
) -> Result<NewReport, Failure> {
    let target = match (b.key, b.account) {
        (Some(k), None) => ReportTarget::Key(path_key(dir, &k)?),
        (None, Some(a)) => ReportTarget::Account(
            AccountRef {
                participant: a.participant,
                branch: a.branch,
                account: Masked(a.account_number),
                account_type: a.account_type,
            },
            Masked::default(),
        ),
        _ => return Err(bad("give exactly one of key and account")),
    };
    let infraction_type = match b.infraction_type.as_str() {
        "FRAUD" => InfractionType::Fraud,
        "REFUND_REQUEST" => InfractionType::RefundRequest,
        "REFUND_CANCELLED" => InfractionType::RefundCancelled,
        _ => return Err(bad("infractionType must be FRAUD, REFUND_REQUEST or REFUND_CANCELLED")),
    };
    let reported_by = match b.reported_by.as_str() {
        "DEBITED_PARTICIPANT" => ReportedBy::DebitedParticipant,
        "CREDITED_PARTICIPANT" => ReportedBy::CreditedParticipant,
        _ => return Err(bad("reportedBy must be DEBITED_PARTICIPANT or CREDITED_PARTICIPANT")),
    };
    Ok(NewReport {
        reporter: me.to_string(),
        target,
        infraction_type,
        reported_by,
        transaction_id: b.transaction_id,
        details: Masked(b.report_details),
    })
}

fn report_json(r: &InfractionReport) -> ReportJson {
    ReportJson {
        id: r.id,
        status: match r.status {
            ReportStatus::Open => "OPEN",
            ReportStatus::Acknowledged => "ACKNOWLEDGED",
            ReportStatus::Closed => "CLOSED",
            ReportStatus::Cancelled => "CANCELLED",
        }
        .to_string(),
        result: r
            .result
            .map(|x| if x == ReportResult::Agreed { "AGREED" } else { "DISAGREED" }.to_string()),
        infraction_type: match r.infraction_type {
            InfractionType::Fraud => "FRAUD",
            InfractionType::RefundRequest => "REFUND_REQUEST",
            InfractionType::RefundCancelled => "REFUND_CANCELLED",
        }
        .to_string(),
        reported_by: match r.reported_by {
            ReportedBy::DebitedParticipant => "DEBITED_PARTICIPANT",
            ReportedBy::CreditedParticipant => "CREDITED_PARTICIPANT",
        }
        .to_string(),
        reporter_participant: r.reporter.clone(),
        counterparty_participant: r.counterparty.clone(),
        key: r.key.as_ref().map(|k| k.as_str().to_string()),
        transaction_id: r.transaction_id.clone(),
        opened_at_ms: r.opened_at_ms,
        updated_at_ms: r.updated_at_ms,
    }
}

fn report_answer<S: EntryStore>(
    dir: &Directory<S>,
    id: u64,
    status: u16,
    applied: Applied,
) -> Answer {
    let r =
        dir.report(id).ok_or_else(|| fail(404, "InfractionReportNotFound", "report not found"))?;
    ok(status, &report_json(r), applied)
}
