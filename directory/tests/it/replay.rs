//! The durability hook: every change is an event; encoding them, decoding them and replaying
//! them into a fresh directory reproduces the same state.

use directory::fraud::{InfractionType, NewReport, ReportResult, ReportTarget, ReportedBy};
use directory::{
    AccountUpdate, Applied, ClaimReason, ClaimType, DecodeError, DirectoryEvent, KeyType, Masked,
    SeededRandom, DAY_MS,
};
use proptest::prelude::*;

use super::*;

fn journal(log: &mut Vec<Vec<u8>>, a: Applied) {
    for e in a.events {
        log.push(e.to_bytes());
    }
}

fn replay(log: &[Vec<u8>]) -> Directory {
    let mut d = Directory::default();
    for bytes in log {
        let e = DirectoryEvent::from_bytes(bytes).unwrap();
        d.apply(&e).unwrap();
    }
    d
}

/// Every kind of event, in one history.
fn busy_history() -> (Directory, Vec<Vec<u8>>) {
    let mut d = Directory::default();
    let mut log = Vec::new();
    let t = 1_700_000_000_000;
    for e in [
        ana("ana@example.com", "BANKA", "100"),
        ana("+5511987654321", "BANKA", "100"),
        ana(ANA_CPF, "BANKA", "100"),
        bia("bia@example.com", "BANKB", "7"),
    ] {
        journal(&mut log, d.register_entry(e, t).unwrap());
    }
    let template = bia("bia@example.com", "BANKB", "7");
    let (rk, a) = d.register_random(template, &mut SeededRandom(42), t + 1).unwrap();
    journal(&mut log, a);
    let upd = AccountUpdate {
        branch: "2".into(),
        account: Masked("8".into()),
        account_type: "SVGS".into(),
        owner_name: Masked("Bia Lima".into()),
        trade_name: Masked::default(),
    };
    journal(&mut log, d.update_account(&rk, "BANKB", upd, t + 2).unwrap());
    let (p, a) = d.open_claim(ClaimType::Portability, ana(ANA_CPF, "BANKC", "3"), t + 3).unwrap();
    journal(&mut log, a);
    journal(&mut log, d.acknowledge_claim(p, "BANKA", t + 4).unwrap());
    journal(&mut log, d.confirm_claim(p, "BANKA", ClaimReason::UserRequested, t + 5).unwrap());
    journal(&mut log, d.complete_claim(p, "BANKC", t + 6).unwrap());
    let (o, a) =
        d.open_claim(ClaimType::Ownership, bia("ana@example.com", "BANKB", "7"), t).unwrap();
    journal(&mut log, a);
    let (o2, a) =
        d.open_claim(ClaimType::Ownership, bia("+5511987654321", "BANKB", "7"), t).unwrap();
    journal(&mut log, a);
    journal(&mut log, d.cancel_claim(o2, "BANKB", ClaimReason::UserRequested, t + 7).unwrap());
    journal(&mut log, d.expire_claims(t + 7 * DAY_MS, 10));
    assert_eq!(d.claim(o).unwrap().status, directory::ClaimStatus::Confirmed);
    journal(&mut log, d.complete_claim(o, "BANKB", t + 7 * DAY_MS).unwrap());
    let report = |target| NewReport {
        reporter: "BANKC".into(),
        target,
        infraction_type: InfractionType::Fraud,
        reported_by: ReportedBy::DebitedParticipant,
        transaction_id: "E9999901012341234123412345678900".into(),
        details: Masked("scam".into()),
    };
    let (r1, a) = d.file_report(report(ReportTarget::Key(key("ana@example.com"))), t + 8).unwrap();
    journal(&mut log, a);
    let (r2, a) = d.file_report(report(ReportTarget::Key(rk.clone())), t + 8).unwrap();
    journal(&mut log, a);
    journal(&mut log, d.acknowledge_report(r1, "BANKB", t + 9).unwrap());
    journal(
        &mut log,
        d.close_report(r1, "BANKB", ReportResult::Agreed, Masked("yes".into()), t + 10).unwrap(),
    );
    journal(&mut log, d.cancel_report(r2, "BANKC", t + 11).unwrap());
    journal(&mut log, d.delete_entry(&key("bia@example.com"), "BANKB", t + 12).unwrap());
    (d, log)
}

#[test]
fn replaying_the_journal_reproduces_the_same_state() {
    let (d, log) = busy_history();
    assert_eq!(log.len() as u64, d.seq());
    let r = replay(&log);
    assert_eq!(r.state_digest(), d.state_digest());
    assert_eq!(r.len(), d.len());
    for p in ["BANKA", "BANKB", "BANKC"] {
        for t in KeyType::ALL {
            assert_eq!(r.vsync(p, t), d.vsync(p, t));
        }
        assert_eq!(r.changes_since(p, 0, 1_000), d.changes_since(p, 0, 1_000));
    }
    let e = d.resolve(&key("ana@example.com")).unwrap();
    assert_eq!(e.participant, "BANKB");
    assert_eq!(r.fraud_marks(e), d.fraud_marks(e));
    assert_eq!(d.fraud_marks(e).key.confirmed, 1);
    // A prefix replays to an earlier state, never the final one.
    assert_ne!(replay(&log[..log.len() - 1]).state_digest(), d.state_digest());
}

#[test]
fn events_round_trip_and_bad_bytes_are_refused() {
    let (_, log) = busy_history();
    for bytes in &log {
        let e = DirectoryEvent::from_bytes(bytes).unwrap();
        assert_eq!(&e.to_bytes(), bytes);
        for cut in 0..bytes.len() {
            assert!(DirectoryEvent::from_bytes(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(DirectoryEvent::from_bytes(&longer), Err(DecodeError::Trailing(1)));
    }
    let mut v2 = log[0].clone();
    v2[0] = 2;
    assert_eq!(DirectoryEvent::from_bytes(&v2), Err(DecodeError::Version(2)));
    let mut tag = log[0].clone();
    tag[1] = 99;
    assert_eq!(DirectoryEvent::from_bytes(&tag), Err(DecodeError::Tag { field: "event", tag: 99 }));
}

#[test]
fn an_event_that_does_not_fit_changes_nothing() {
    let (d, log) = busy_history();
    let mut r = replay(&log);
    let before = r.state_digest();
    let first = DirectoryEvent::from_bytes(&log[0]).unwrap();
    assert!(r.apply(&first).is_err(), "registering twice");
    let late = DirectoryEvent::ClaimCompleted { claim_id: 0, at_ms: 1 };
    assert!(r.apply(&late).is_err(), "completing a finished claim");
    assert_eq!(r.state_digest(), before);
    assert_eq!(r.seq(), d.seq());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of operations, accepted or refused, journals events that replay to the same
    /// state.
    #[test]
    fn random_operations_replay_to_the_same_state(
        ops in prop::collection::vec((0u8..8, 0u8..6, 0u8..3), 1..80)
    ) {
        let mails: Vec<String> = (0..6).map(|i| format!("user{i}@example.com")).collect();
        let banks = ["BANKA", "BANKB", "BANKC"];
        let mut d = Directory::default();
        let mut log = Vec::new();
        let mut t = 1_000u64;
        for (op, k, b) in ops {
            t += DAY_MS;
            let mail = &mails[usize::from(k)];
            let bank = banks[usize::from(b)];
            let r = match op {
                0 => d.register_entry(ana(mail, bank, "1"), t),
                1 => d.register_entry(bia(mail, bank, "2"), t),
                2 => d.delete_entry(&key(mail), bank, t),
                3 => d.open_claim(ClaimType::Ownership, bia(mail, bank, "2"), t).map(|x| x.1),
                4 => d.open_claim(ClaimType::Portability, ana(mail, bank, "1"), t).map(|x| x.1),
                5 => d.confirm_claim(u64::from(k), bank, ClaimReason::UserRequested, t),
                6 => d.complete_claim(u64::from(k), bank, t),
                _ => Ok(d.expire_claims(t, 10)),
            };
            if let Ok(a) = r {
                journal(&mut log, a);
            }
        }
        let r = replay(&log);
        prop_assert_eq!(r.state_digest(), d.state_digest());
        for bank in banks {
            prop_assert_eq!(r.vsync(bank, KeyType::Email), d.vsync(bank, KeyType::Email));
        }
    }
}

#[test]
fn the_hash_seed_changes_nothing_but_iteration_order() {
    let (d, log) = busy_history();
    let mut other = Directory::new(directory::DirectoryConfig {
        hash_seed: 12_345,
        ..directory::DirectoryConfig::default()
    });
    other.reserve(1_000);
    for bytes in &log {
        other.apply(&DirectoryEvent::from_bytes(bytes).unwrap()).unwrap();
    }
    assert_eq!(other.state_digest(), d.state_digest());
    for p in ["BANKA", "BANKB", "BANKC"] {
        assert_eq!(other.vsync(p, KeyType::Email), d.vsync(p, KeyType::Email));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes, and valid events with one byte changed, never panic the decoder; what
    /// it accepts re-encodes to the same bytes.
    #[test]
    fn decoding_damaged_events_never_panics(
        noise in prop::collection::vec(any::<u8>(), 0..300),
        pick in 0usize..1_000,
        at in 0usize..1_000,
        byte in any::<u8>(),
    ) {
        let _ = DirectoryEvent::from_bytes(&noise);
        let (_, log) = busy_history();
        let mut bytes = log[pick % log.len()].clone();
        let i = at % bytes.len();
        bytes[i] = byte;
        if let Ok(e) = DirectoryEvent::from_bytes(&bytes) {
            prop_assert_eq!(e.to_bytes(), bytes);
        }
    }
}
