//! Lookups for end users and the anti-scan token buckets (DICT parameters by default).

use directory::antiscan::{Category, RateScope};
use directory::{AntiScan, AntiScanConfig, LookupError, LookupRequest, Masked};

use super::*;

const PAYER: &str = "39053344705"; // a natural person's CPF
const PAYER_LEGAL: &str = "11444777000161"; // a legal entity's CNPJ

fn req(participant: &str, payer: &str, k: &str) -> LookupRequest {
    LookupRequest { participant: participant.into(), payer_id: Masked(payer.into()), key: key(k) }
}

fn limited(r: Result<directory::LookupAnswer, LookupError>) -> directory::antiscan::RateLimit {
    match r {
        Err(LookupError::RateLimited(l)) => l,
        other => panic!("expected rate limited, got {other:?}"),
    }
}

#[test]
fn a_hit_returns_what_the_payers_bank_needs() {
    let d = directory_with(&[ana("ana@example.com", "BANKA", "100")]);
    let mut scan = AntiScan::default();
    let a = d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), 10).unwrap();
    assert_eq!(a.participant, "BANKA");
    assert_eq!(
        (a.branch.as_str(), a.account.0.as_str(), a.account_type.as_str()),
        ("1", "100", "CACC")
    );
    assert_eq!(a.owner_name_masked, "Ana M. S.");
    assert_eq!(a.owner_tax_id_masked, "***.982.247-**");
    assert_eq!(a.fraud, directory::FraudMarks::default());
    assert_eq!((a.user_tokens_left, a.participant_tokens_left), (99, 7_999));
    let legal = Entry::new(key(ACME_CNPJ), "BANKA", "1", "200", "Acme Comércio Ltda");
    let d = directory_with(&[legal]);
    let a = d.lookup(&mut scan, &req("BANKB", PAYER, ACME_CNPJ), 10).unwrap();
    assert_eq!(a.owner_name_masked, "Acme Comércio Ltda", "a company's name is shown in full");
    assert_eq!(a.owner_tax_id_masked, ACME_CNPJ);
}

#[test]
fn a_natural_person_gets_100_tokens_refilled_2_a_minute() {
    let d = directory_with(&[ana("ana@example.com", "BANKA", "100")]);
    let mut scan = AntiScan::default();
    let t = 1_000_000;
    for _ in 0..100 {
        d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), t).unwrap();
    }
    let l = limited(d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), t));
    assert_eq!(l.scope, RateScope::EndUser);
    assert_eq!(l.policy, "ENTRIES_READ_USER_ANTISCAN");
    assert_eq!((l.capacity, l.available, l.refill, l.period_ms), (100, 0, 2, 60_000));
    assert_eq!(l.retry_after_ms, 30_000);
    let headers = l.headers();
    assert!(headers.contains(&("Retry-After", "30".to_string())));
    assert!(headers.contains(&("RateLimit-Limit", "100".to_string())));
    assert!(headers.contains(&("RateLimit-Remaining", "0".to_string())));
    // Half a refill period later, still nothing; at 30 s one token is back.
    let l = limited(d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), t + 29_999));
    assert_eq!(l.retry_after_ms, 1);
    d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), t + 30_000).unwrap();
    limited(d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), t + 30_000));
    // Another end user of the same participant is not affected.
    d.lookup(&mut scan, &req("BANKB", ANA_CPF, "ana@example.com"), t).unwrap();
}

#[test]
fn a_miss_costs_20_and_a_payment_refunds_1() {
    let d = directory_with(&[ana("ana@example.com", "BANKA", "100")]);
    let mut scan = AntiScan::default();
    for _ in 0..5 {
        assert_eq!(
            d.lookup(&mut scan, &req("BANKB", PAYER, "nobody@example.com"), 0),
            Err(LookupError::NotFound)
        );
    }
    let l = limited(d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), 0));
    assert_eq!(l.scope, RateScope::EndUser);
    scan.payment_sent("BANKB", PAYER, directory::KeyType::Email, 0);
    d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), 0).unwrap();
    // CPF, CNPJ and random keys have their own bucket (DICT's V2 policy).
    let d2 = directory_with(&[ana(ANA_CPF, "BANKA", "100")]);
    let a = d2.lookup(&mut scan, &req("BANKB", PAYER, ANA_CPF), 0).unwrap();
    assert_eq!(a.user_tokens_left, 99);
}

#[test]
fn a_legal_entity_gets_1000_tokens() {
    let d = directory_with(&[ana("ana@example.com", "BANKA", "100")]);
    let mut scan = AntiScan::default();
    scan.set_category("BANKB", Category::A);
    for _ in 0..1_000 {
        d.lookup(&mut scan, &req("BANKB", PAYER_LEGAL, "ana@example.com"), 0).unwrap();
    }
    let l = limited(d.lookup(&mut scan, &req("BANKB", PAYER_LEGAL, "ana@example.com"), 0));
    assert_eq!((l.scope, l.capacity), (RateScope::EndUser, 1_000));
}

#[test]
fn participant_buckets_follow_the_category() {
    let d = directory_with(&[ana("ana@example.com", "BANKA", "100")]);
    let mut scan = AntiScan::default();
    scan.set_category("BANKF", Category::F);
    // Category F holds 1,000; a miss costs the participant 3. 20 users x 5 misses x 3 = 300.
    let payers = ["52998224725", "39053344705", "11144477735", "12345678909", "98765432100"];
    let mut spent = 0;
    'outer: for p in payers {
        for _ in 0..5 {
            match d.lookup(&mut scan, &req("BANKF", p, "nobody@example.com"), 0) {
                Err(LookupError::NotFound) => spent += 3,
                Err(LookupError::RateLimited(_)) => break 'outer,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(spent, 75);
    assert_eq!(scan.participant_tokens("BANKF", 0), 1_000 - 75);
    // Hits from one legal entity (1,000 tokens) drain the participant's remaining 925.
    for _ in 0..925 {
        d.lookup(&mut scan, &req("BANKF", PAYER_LEGAL, "ana@example.com"), 0).unwrap();
    }
    let l = limited(d.lookup(&mut scan, &req("BANKF", PAYER_LEGAL, "ana@example.com"), 0));
    assert_eq!(l.scope, RateScope::Participant);
    assert_eq!(l.policy, "ENTRIES_READ_PARTICIPANT_ANTISCAN");
    assert_eq!(l.retry_after_ms, 30_000, "category F refills 2 a minute");
}

#[test]
fn bad_payers_and_bounded_buckets() {
    let d = directory_with(&[ana("ana@example.com", "BANKA", "100")]);
    let mut scan =
        AntiScan::new(AntiScanConfig { user_buckets_max: 1, ..AntiScanConfig::default() });
    assert_eq!(
        d.lookup(&mut scan, &req("BANKB", "123", "ana@example.com"), 0),
        Err(LookupError::InvalidPayer)
    );
    d.lookup(&mut scan, &req("BANKB", PAYER, "ana@example.com"), 0).unwrap();
    assert_eq!(
        d.lookup(&mut scan, &req("BANKB", ANA_CPF, "ana@example.com"), 0),
        Err(LookupError::Busy)
    );
    // Once the first user's bucket is full again it is dropped and the second gets room.
    d.lookup(&mut scan, &req("BANKB", ANA_CPF, "ana@example.com"), 30_000).unwrap();
    assert_eq!(LookupError::Busy.code(), "ServiceUnavailable");
}
