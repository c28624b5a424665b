//! Portability and ownership claims through their states, locks, periods and notices.

use directory::claims::ClaimError;
use directory::{
    AccountUpdate, ClaimReason, ClaimSide, ClaimStatus, ClaimType, DirectoryError, Entry, Masked,
    NoticeKind, DAY_MS,
};

use super::*;

const PHONE: &str = "+5511987654321";
const T0: u64 = 1_700_000_000_000;

fn claim_err(r: Result<directory::Applied, DirectoryError>) -> ClaimError {
    match r {
        Err(DirectoryError::Claim(e)) => e,
        other => panic!("expected a claim error, got {other:?}"),
    }
}

#[test]
fn portability_moves_the_key_to_the_claimer_with_notices_and_a_lock() {
    let mut d = directory_with(&[ana(PHONE, "BANKA", "100")]);
    let (id, opened) =
        d.open_claim(ClaimType::Portability, ana(PHONE, "BANKB", "900"), T0).unwrap();
    assert_eq!(opened.notices.len(), 1);
    assert_eq!(opened.notices[0].participant, "BANKA");
    assert_eq!(opened.notices[0].kind, NoticeKind::ClaimOpened(id));
    let c = d.claim(id).unwrap();
    assert_eq!(c.status, ClaimStatus::Open);
    assert_eq!(c.resolution_period_end_ms, T0 + 7 * DAY_MS);

    // Locked: the donor can neither update nor delete; nobody can register or claim again.
    let k = key(PHONE);
    assert_eq!(
        d.delete_entry(&k, "BANKA", T0),
        Err(DirectoryError::LockedByClaim { claim_id: id })
    );
    let upd = AccountUpdate {
        branch: "1".into(),
        account: Masked("101".into()),
        account_type: "CACC".into(),
        owner_name: Masked("Ana".into()),
        trade_name: Masked::default(),
    };
    assert_eq!(
        d.update_account(&k, "BANKA", upd, T0),
        Err(DirectoryError::LockedByClaim { claim_id: id })
    );
    assert_eq!(
        d.open_claim(ClaimType::Portability, ana(PHONE, "BANKC", "1"), T0).unwrap_err(),
        DirectoryError::Claim(ClaimError::AlreadyExistsForKey(id))
    );
    // Payments keep flowing to the donor until confirmation.
    assert_eq!(d.resolve(&k).unwrap().participant, "BANKA");

    assert_eq!(claim_err(d.acknowledge_claim(id, "BANKB", T0)), ClaimError::NotAllowed);
    let ack = d.acknowledge_claim(id, "BANKA", T0 + 1).unwrap();
    assert_eq!(ack.notices[0].participant, "BANKB");
    assert!(d.acknowledge_claim(id, "BANKA", T0 + 2).unwrap().events.is_empty(), "idempotent");
    assert_eq!(d.claim(id).unwrap().status, ClaimStatus::WaitingResolution);

    assert_eq!(
        claim_err(d.confirm_claim(id, "BANKA", ClaimReason::Fraud, T0 + 3)),
        ClaimError::InvalidReason
    );
    let conf = d.confirm_claim(id, "BANKA", ClaimReason::UserRequested, T0 + 3).unwrap();
    assert_eq!(conf.notices[0].kind, NoticeKind::ClaimConfirmed(id));
    assert!(d.resolve(&k).is_none(), "the key left the donor");
    assert_eq!(
        d.register_entry(bia(PHONE, "BANKC", "5"), T0 + 4),
        Err(DirectoryError::LockedByClaim { claim_id: id })
    );

    assert_eq!(claim_err(d.complete_claim(id, "BANKA", T0 + 5)), ClaimError::NotAllowed);
    let done = d.complete_claim(id, "BANKB", T0 + 5).unwrap();
    assert_eq!(done.notices[0].participant, "BANKA");
    assert_eq!(done.notices[0].kind, NoticeKind::ClaimCompleted(id));
    let e = d.resolve(&k).unwrap();
    assert_eq!((e.participant.as_str(), e.account.0.as_str()), ("BANKB", "900"));
    assert_eq!(e.created_at_ms, T0 + 5);
    assert_eq!(e.owned_since_ms, 1_000, "portability keeps the owner's date");
    assert_eq!(d.claim(id).unwrap().status, ClaimStatus::Completed);
    // Unlocked: the new holder can change it.
    d.delete_entry(&k, "BANKB", T0 + 6).unwrap();
}

#[test]
fn ownership_waits_for_the_resolution_period_unless_the_donor_confirms() {
    let mail = "ana@example.com";
    let mut d = directory_with(&[ana(mail, "BANKA", "100")]);
    let (id, _) = d.open_claim(ClaimType::Ownership, bia(mail, "BANKB", "7"), T0).unwrap();
    assert_eq!(
        claim_err(d.confirm_claim(id, "BANKA", ClaimReason::DefaultOperation, T0 + DAY_MS)),
        ClaimError::ResolutionPeriodNotEnded
    );
    // Confirmed on the user's request: the claimer may complete at once.
    d.confirm_claim(id, "BANKA", ClaimReason::UserRequested, T0 + DAY_MS).unwrap();
    d.complete_claim(id, "BANKB", T0 + DAY_MS + 1).unwrap();
    let e = d.resolve(&key(mail)).unwrap();
    assert_eq!(e.owner_tax_id.0, BIA_CPF);
    assert_eq!(e.owned_since_ms, T0 + DAY_MS + 1, "a new owner starts a new date");

    // An unanswered ownership claim is confirmed by default at the end of the period, and
    // can be completed only from then.
    let mail2 = "ana2@example.com";
    d.register_entry(ana(mail2, "BANKA", "100"), T0).unwrap();
    let (id2, _) = d.open_claim(ClaimType::Ownership, bia(mail2, "BANKB", "7"), T0).unwrap();
    assert!(d.expire_claims(T0 + 7 * DAY_MS - 1, 100).events.is_empty());
    let expired = d.expire_claims(T0 + 7 * DAY_MS, 100);
    assert_eq!(expired.events.len(), 1);
    let c = d.claim(id2).unwrap();
    assert_eq!(
        (c.status, c.confirm_reason),
        (ClaimStatus::Confirmed, Some(ClaimReason::DefaultOperation))
    );
    d.complete_claim(id2, "BANKB", T0 + 7 * DAY_MS).unwrap();
    assert_eq!(d.resolve(&key(mail2)).unwrap().participant, "BANKB");
}

#[test]
fn ownership_completion_period_is_enforced() {
    let mail = "ana@example.com";
    let mut d = directory_with(&[ana(mail, "BANKA", "100")]);
    let (id, _) = d.open_claim(ClaimType::Ownership, bia(mail, "BANKB", "7"), T0).unwrap();
    d.acknowledge_claim(id, "BANKA", T0).unwrap();
    d.confirm_claim(id, "BANKA", ClaimReason::DefaultOperation, T0 + 7 * DAY_MS).unwrap();
    let c = d.claim(id).unwrap().clone();
    assert_eq!(c.completion_period_end_ms, T0 + 7 * DAY_MS);
    assert_eq!(c.completion_deadline_ms, T0 + 37 * DAY_MS);
    // A claimer that never completes loses the claim; the key stays unregistered.
    let late = d.expire_claims(T0 + 37 * DAY_MS, 100);
    assert_eq!(late.notices[0].kind, NoticeKind::ClaimCancelled(id));
    assert_eq!(late.notices[0].participant, "BANKA");
    let c = d.claim(id).unwrap();
    assert_eq!(c.cancelled, Some((ClaimSide::Claimer, ClaimReason::DefaultOperation)));
    assert!(d.resolve(&key(mail)).is_none());
    assert_eq!(
        claim_err(d.complete_claim(id, "BANKB", T0 + 38 * DAY_MS)),
        ClaimError::WrongStatus(ClaimStatus::Cancelled)
    );
    d.register_entry(bia(mail, "BANKB", "7"), T0 + 38 * DAY_MS).unwrap();
}

#[test]
fn an_unanswered_portability_is_cancelled_and_the_key_stays() {
    let mut d = directory_with(&[ana(ANA_CPF, "BANKA", "100")]);
    let (id, _) = d.open_claim(ClaimType::Portability, ana(ANA_CPF, "BANKB", "9"), T0).unwrap();
    assert_eq!(
        claim_err(d.cancel_claim(id, "BANKA", ClaimReason::DefaultOperation, T0 + 1)),
        ClaimError::ResolutionPeriodNotEnded
    );
    let a = d.expire_claims(T0 + 7 * DAY_MS, 100);
    assert_eq!(a.notices[0].participant, "BANKB");
    assert_eq!(d.claim(id).unwrap().status, ClaimStatus::Cancelled);
    assert_eq!(d.resolve(&key(ANA_CPF)).unwrap().participant, "BANKA");
    // Unlocked again.
    d.delete_entry(&key(ANA_CPF), "BANKA", T0 + 7 * DAY_MS + 1).unwrap();
}

#[test]
fn claims_follow_dicts_rules_on_types_owners_and_reasons() {
    let mail = "ana@example.com";
    let mut d = directory_with(&[ana(mail, "BANKA", "100"), ana(ANA_CPF, "BANKA", "100")]);
    let random = Entry::new(Key::default(), "BANKA", "1", "100", "Ana")
        .with_owner(OwnerType::Natural, ANA_CPF);
    let (rk, _) = d.register_random(random, &mut directory::SeededRandom(3), 1).unwrap();
    let mut claimer = ana(mail, "BANKB", "1");
    claimer.key = rk;
    let err = |r: Result<(u64, directory::Applied), DirectoryError>| match r {
        Err(DirectoryError::Claim(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(d.open_claim(ClaimType::Portability, claimer, T0)),
        ClaimError::KeyTypeNotAllowed
    );
    assert_eq!(
        err(d.open_claim(ClaimType::Ownership, ana(ANA_CPF, "BANKB", "1"), T0)),
        ClaimError::KeyTypeNotAllowed
    );
    assert_eq!(
        err(d.open_claim(ClaimType::Portability, bia(mail, "BANKB", "1"), T0)),
        ClaimError::OwnerMismatch
    );
    assert_eq!(
        err(d.open_claim(ClaimType::Ownership, ana(mail, "BANKB", "1"), T0)),
        ClaimError::OwnerMismatch
    );
    assert_eq!(
        err(d.open_claim(ClaimType::Portability, ana(mail, "BANKA", "2"), T0)),
        ClaimError::ClaimerIsDonor
    );
    assert_eq!(
        err(d.open_claim(ClaimType::Ownership, bia("nobody@example.com", "BANKB", "1"), T0)),
        ClaimError::KeyNotRegistered
    );
    // Ownership: the donor may cancel only for fraud; the claimer for its own reasons.
    let (id, _) = d.open_claim(ClaimType::Ownership, bia(mail, "BANKB", "1"), T0).unwrap();
    assert_eq!(
        claim_err(d.cancel_claim(id, "BANKA", ClaimReason::UserRequested, T0)),
        ClaimError::InvalidReason
    );
    assert_eq!(
        claim_err(d.cancel_claim(id, "BANKZ", ClaimReason::Fraud, T0)),
        ClaimError::NotAllowed
    );
    let c = d.cancel_claim(id, "BANKA", ClaimReason::Fraud, T0).unwrap();
    assert_eq!(c.notices[0].participant, "BANKB");
    assert!(
        d.cancel_claim(id, "BANKA", ClaimReason::Fraud, T0 + 1).unwrap().events.is_empty(),
        "idempotent"
    );
    assert_eq!(d.resolve(&key(mail)).unwrap().participant, "BANKA");
    assert_eq!(ClaimError::ResolutionPeriodNotEnded.code(), "ClaimResolutionPeriodNotEnded");
}

#[test]
fn the_claimer_account_limit_is_checked_at_opening() {
    let mut d = Directory::new(directory::DirectoryConfig {
        keys_per_account_natural: 1,
        ..directory::DirectoryConfig::default()
    });
    d.register_entry(ana("ana@example.com", "BANKA", "1"), 1).unwrap();
    d.register_entry(ana("other@example.com", "BANKB", "9"), 1).unwrap();
    assert_eq!(
        d.open_claim(ClaimType::Portability, ana("ana@example.com", "BANKB", "9"), T0).unwrap_err(),
        DirectoryError::AccountKeyLimit { limit: 1 }
    );
}

#[test]
fn pending_notices_list_what_each_participant_must_act_on_until_it_does() {
    use directory::fraud::{InfractionType, NewReport, ReportResult, ReportTarget, ReportedBy};
    let mut d = directory_with(&[ana(PHONE, "BANKA", "100"), ana("ana@example.com", "BANKA", "1")]);
    assert!(d.pending_notices("BANKA", 10).is_empty());
    let (id, _) = d.open_claim(ClaimType::Portability, ana(PHONE, "BANKB", "900"), T0).unwrap();
    let report = NewReport {
        reporter: "BANKC".into(),
        target: ReportTarget::Key(key("ana@example.com")),
        infraction_type: InfractionType::Fraud,
        reported_by: ReportedBy::DebitedParticipant,
        transaction_id: "E9999901012341234123412345678900".into(),
        details: Masked("scam".into()),
    };
    let (rid, _) = d.file_report(report, T0 + 1).unwrap();
    let kinds = |d: &Directory, p: &str| -> Vec<NoticeKind> {
        d.pending_notices(p, 10).into_iter().map(|n| n.kind).collect()
    };
    assert_eq!(kinds(&d, "BANKA"), vec![NoticeKind::ClaimOpened(id), NoticeKind::ReportFiled(rid)]);
    assert_eq!(d.pending_notices("BANKA", 1).len(), 1, "at most max");
    assert!(kinds(&d, "BANKB").is_empty() && kinds(&d, "BANKC").is_empty());
    // Acknowledged but not answered: still pending for the donor.
    d.acknowledge_claim(id, "BANKA", T0 + 2).unwrap();
    assert_eq!(kinds(&d, "BANKA")[0], NoticeKind::ClaimOpened(id));
    d.confirm_claim(id, "BANKA", ClaimReason::UserRequested, T0 + 3).unwrap();
    assert_eq!(kinds(&d, "BANKA"), vec![NoticeKind::ReportFiled(rid)]);
    assert_eq!(kinds(&d, "BANKB"), vec![NoticeKind::ClaimConfirmed(id)]);
    d.complete_claim(id, "BANKB", T0 + 4).unwrap();
    assert!(kinds(&d, "BANKB").is_empty());
    d.acknowledge_report(rid, "BANKA", T0 + 5).unwrap();
    assert_eq!(kinds(&d, "BANKA"), vec![NoticeKind::ReportFiled(rid)]);
    d.close_report(rid, "BANKA", ReportResult::Agreed, Masked("ok".into()), T0 + 6).unwrap();
    assert!(kinds(&d, "BANKA").is_empty());
    let n = d.pending_notices("BANKA", 10);
    assert!(n.iter().all(|n| n.participant == "BANKA"));
}
