//! The compact store gives the same answers as the shared store: the same operations on a
//! directory over each give the same outcomes, events, state digest, VSyncs, per-account counts
//! and entries; and a bulk load equals registering one by one.

use directory::{
    AccountRef, AccountUpdate, ClaimReason, ClaimType, CompactStore, DirectoryConfig,
    DirectoryError, DirectoryEvent, EntryStore, KeyType, Masked, SeededRandom, SharedStore, DAY_MS,
};
use proptest::prelude::*;

use super::*;

type Compact = Directory<CompactStore>;

fn workload_entry_at(i: u64) -> Entry {
    directory::bench::workload_entry(i)
}

fn compact() -> Compact {
    Directory::compact(DirectoryConfig::default())
}

/// Every observable of the two directories is the same, for these keys and accounts.
fn assert_same(a: &Directory<SharedStore>, b: &Compact, keys: &[Key], accounts: &[AccountRef]) {
    assert_eq!(a.len(), b.len());
    assert_eq!(a.state_digest(), b.state_digest());
    for k in keys {
        let want = a.resolve(k);
        assert_eq!(b.resolve_entry(k).as_deref(), want);
        assert_eq!(b.resolve_view(k), want.map(directory::EntryView::of));
        assert_eq!(a.resolve_view(k), b.resolve_view(k));
    }
    let mut many_a = Vec::new();
    let mut many_b = Vec::new();
    a.resolve_many(keys, &mut many_a);
    b.resolve_many(keys, &mut many_b);
    assert_eq!(many_a, many_b);
    for acct in accounts {
        assert_eq!(a.keys_of_account(acct), b.keys_of_account(acct));
    }
    for p in ["BANKA", "BANKB", "BANKC"] {
        for t in KeyType::ALL {
            assert_eq!(a.vsync(p, t), b.vsync(p, t));
            assert_eq!(a.cids_of(p, t), b.cids_of(p, t));
        }
    }
}

fn account(p: &str, n: &str) -> AccountRef {
    AccountRef {
        participant: p.into(),
        branch: "1".into(),
        account: Masked(n.into()),
        account_type: "CACC".into(),
    }
}

#[test]
fn every_key_type_round_trips_through_the_compact_store() {
    let mut a = Directory::default();
    let mut b = compact();
    let long_branch = "B".repeat(16);
    let entries = [
        ana(ANA_CPF, "BANKA", "100"),
        ana("+5511987654321", "BANKA", "100"),
        ana("Ana.Souza@Example.com", "BANKA", "100"),
        bia(BIA_CPF, "BANKB", "7"),
        Entry::new(key(ACME_CNPJ), "BANKC", "0001", "55-1", "Acme Ltda"),
        Entry::new(key("+12345678"), "BANKC", &long_branch, "x".repeat(34).as_str(), "Zoë Ærø")
            .with_account_type("SLRY"),
    ];
    for e in entries.iter().cloned() {
        let ea = a.register_entry(e.clone(), 5).unwrap();
        let eb = b.register_entry(e, 5).unwrap();
        assert_eq!(ea, eb);
    }
    let template = bia("x@y.co", "BANKB", "7");
    let (ka, _) = a.register_random(template.clone(), &mut SeededRandom(3), 6).unwrap();
    let (kb, _) = b.register_random(template, &mut SeededRandom(3), 6).unwrap();
    assert_eq!(ka, kb);
    let mut keys: Vec<Key> = entries.iter().map(|e| e.key.clone()).collect();
    keys.push(ka);
    keys.push(key("nobody@example.com"));
    keys.push(key("00000000-0000-4000-8000-000000000001"));
    let accounts = [account("BANKA", "100"), account("BANKB", "7"), account("BANKC", "55-1")];
    assert_same(&a, &b, &keys, &accounts);
    assert_eq!(b.keys_of_account(&account("BANKA", "100")), 3);
    let text = format!("{:?}", b.store());
    assert!(!text.contains("Ana") && !text.contains(ANA_CPF), "{text}");
}

#[test]
fn entries_the_rules_would_refuse_still_replay_exactly() {
    // Replay applies what the journal holds, even past today's limits: an unknown account
    // type and a long branch take the store's long path.
    let mut e = ana("ana@example.com", "BANKA", &"9".repeat(300));
    e.branch = "b".repeat(300);
    e.account_type = "XXXX".into();
    let e2 = Entry { key: key("+5511987654321"), ..e.clone() };
    let mut a = Directory::default();
    let mut b = compact();
    for ev in [e, e2].map(|e| DirectoryEvent::Registered { entry: std::sync::Arc::new(e) }) {
        a.apply(&ev).unwrap();
        b.apply(&ev).unwrap();
    }
    let keys = [key("ana@example.com"), key("+5511987654321")];
    let long = AccountRef {
        participant: "BANKA".into(),
        branch: "b".repeat(300),
        account: Masked("9".repeat(300)),
        account_type: "XXXX".into(),
    };
    assert_same(&a, &b, &keys, std::slice::from_ref(&long));
    assert_eq!(b.keys_of_account(&long), 2);
    assert_eq!(b.resolve_view(&keys[1]).unwrap().account_type, "XXXX");
}

#[test]
fn a_journal_replays_into_a_compact_directory_to_the_same_state() {
    let mut a = Directory::default();
    let mut log: Vec<DirectoryEvent> = Vec::new();
    let t = 1_700_000_000_000;
    for e in [
        ana("ana@example.com", "BANKA", "100"),
        ana("+5511987654321", "BANKA", "100"),
        ana(ANA_CPF, "BANKA", "100"),
        bia("bia@example.com", "BANKB", "7"),
    ] {
        log.extend(a.register_entry(e, t).unwrap().events);
    }
    let upd = AccountUpdate {
        branch: "2".into(),
        account: Masked("8".into()),
        account_type: "SVGS".into(),
        owner_name: Masked("Bia Lima".into()),
        trade_name: Masked("Bia Doces".into()),
    };
    log.extend(a.update_account(&key("bia@example.com"), "BANKB", upd, t + 1).unwrap().events);
    let (p, x) = a.open_claim(ClaimType::Portability, ana(ANA_CPF, "BANKC", "3"), t + 2).unwrap();
    log.extend(x.events);
    log.extend(a.confirm_claim(p, "BANKA", ClaimReason::UserRequested, t + 3).unwrap().events);
    log.extend(a.complete_claim(p, "BANKC", t + 4).unwrap().events);
    log.extend(a.delete_entry(&key("+5511987654321"), "BANKA", t + 5).unwrap().events);
    let mut b = compact();
    for e in &log {
        b.apply(e).unwrap();
    }
    let keys: Vec<Key> = ["ana@example.com", "+5511987654321", ANA_CPF, "bia@example.com"]
        .into_iter()
        .map(key)
        .collect();
    let accounts = [account("BANKA", "100"), account("BANKC", "3")];
    assert_same(&a, &b, &keys, &accounts);
    assert_eq!(b.resolve_view(&key(ANA_CPF)).unwrap().participant, "BANKC");
    assert!(b.store().garbage_bytes() > 0, "removed entries leave garbage");
}

#[test]
fn a_bulk_load_equals_registering_one_by_one() {
    // Three blocks of the bulk load (8,192 entries each): the later ones are checked on a
    // helper thread while the one before goes in.
    let mut entries: Vec<Entry> = (0..20_000u64).map(directory::bench::workload_entry).collect();
    // Refusals and repeats inside the batch: a repeat, a key taken by another person, and a
    // sixth key on an account of five.
    entries.push(entries[0].clone());
    entries.push(bia("user1@example.com", "BANKB", "9"));
    let mut sixth = entries[0].clone();
    sixth.key = key("sixth@example.com");
    entries.push(sixth);
    // A field refused by the checks the bulk load makes on several threads.
    let mut nameless = workload_entry_at(50_000);
    nameless.owner_name = Masked(String::new());
    entries.insert(9_000, nameless);
    let mut one = Directory::default();
    let mut events = Vec::new();
    let mut refused = Vec::new();
    for (i, e) in entries.iter().cloned().enumerate() {
        match one.register_entry(e, 9) {
            Ok(a) => events.extend(a.events),
            Err(err) => refused.push((i, err)),
        }
    }
    for bulk_compact in [false, true] {
        let keys: Vec<Key> = entries.iter().map(|e| e.key.clone()).collect();
        if bulk_compact {
            let mut b = compact();
            let load = b.register_bulk(entries.clone(), 9);
            assert_eq!((load.events, load.refused), (events.clone(), refused.clone()));
            assert_same(&one, &b, &keys, &[]);
        } else {
            let mut b = Directory::default();
            let load = b.register_bulk(entries.clone(), 9);
            assert_eq!((load.events, load.refused), (events.clone(), refused.clone()));
            assert_eq!(b.state_digest(), one.state_digest());
        }
    }
    assert_eq!(refused.len(), 3);
    assert!(matches!(refused[0], (9_000, DirectoryError::Invalid { field: "owner_name", .. })));
    assert_eq!(events.len(), 20_000);
}

#[test]
fn many_removals_and_reinsertions_keep_the_index_exact() {
    let mut a = Directory::default();
    let mut b = compact();
    let entries: Vec<Entry> = (0..5_000u64).map(directory::bench::workload_entry).collect();
    a.register_bulk(entries.clone(), 1);
    b.register_bulk(entries.clone(), 1);
    for e in entries.iter().step_by(3) {
        a.delete_entry(&e.key, &e.participant, 2).unwrap();
        b.delete_entry(&e.key, &e.participant, 2).unwrap();
    }
    let keys: Vec<Key> = entries.iter().map(|e| e.key.clone()).collect();
    assert_same(&a, &b, &keys, &[]);
    for e in entries.iter().step_by(6) {
        a.register_entry(e.clone(), 3).unwrap();
        b.register_entry(e.clone(), 3).unwrap();
    }
    assert_same(&a, &b, &keys, &[]);
    assert_eq!(b.store().len(), 5_000 - 1_667 + 834);
    let garbage = b.store().garbage_bytes();
    assert!(garbage > 0);
    let used = b.store().allocated_bytes();
    b.reclaim_garbage();
    assert_eq!(b.store().garbage_bytes(), 0);
    assert!(b.store().allocated_bytes() < used, "{} < {used}", b.store().allocated_bytes());
    assert_same(&a, &b, &keys, &[]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of operations has the same outcome on both stores.
    #[test]
    fn random_operations_give_the_same_answers_on_both_stores(
        ops in prop::collection::vec((0u8..9, 0u8..8, 0u8..3), 1..80)
    ) {
        let texts: Vec<String> = vec![
            "user0@example.com".into(), "user1@example.com".into(), "+5511900000001".into(),
            "+5511900000002".into(), ANA_CPF.into(), BIA_CPF.into(),
            "8a562c67-ca16-48ba-b074-65581be6f011".into(), "User0@Example.com".into(),
        ];
        let banks = ["BANKA", "BANKB", "BANKC"];
        let mut a = Directory::default();
        let mut b = compact();
        let mut t = 1_000u64;
        for (op, k, bk) in ops {
            t += DAY_MS;
            let text = &texts[usize::from(k)];
            let bank = banks[usize::from(bk)];
            let upd = AccountUpdate {
                branch: "3".into(),
                account: Masked(format!("{k}")),
                account_type: "TRAN".into(),
                owner_name: Masked("Ana".into()),
                trade_name: Masked::default(),
            };
            macro_rules! both {
                ($d:ident) => {
                    match op {
                        0 => $d.register_entry(ana(text, bank, "1"), t),
                        1 => $d.register_entry(bia(text, bank, "2"), t),
                        2 => $d.delete_entry(&key(text), bank, t),
                        3 => $d.open_claim(ClaimType::Ownership, bia(text, bank, "2"), t)
                            .map(|x| x.1),
                        4 => $d.open_claim(ClaimType::Portability, ana(text, bank, "1"), t)
                            .map(|x| x.1),
                        5 => $d.confirm_claim(u64::from(k), bank, ClaimReason::UserRequested, t),
                        6 => $d.complete_claim(u64::from(k), bank, t),
                        7 => $d.update_account(&key(text), bank, upd.clone(), t),
                        _ => Ok($d.expire_claims(t, 10)),
                    }
                };
            }
            let ra = both!(a);
            let rb = both!(b);
            prop_assert_eq!(ra, rb);
        }
        let keys: Vec<Key> = texts.iter().map(|t| key(t)).collect();
        let accounts: Vec<AccountRef> = banks
            .iter()
            .flat_map(|p| ["1", "2"].map(|n| account(p, n)))
            .collect();
        assert_same(&a, &b, &keys, &accounts);
    }
}

#[test]
fn the_api_answers_the_same_over_both_stores() {
    use directory::api::{handle, Context, Request};
    use directory::AntiScan;
    let calls: Vec<(&str, &str, String, Option<&str>, String)> = vec![
        (
            "POST",
            "BANKA",
            "/api/v1/directory/entries".into(),
            None,
            serde_json::json!({
                "key": "+5511987654321", "keyType": "PHONE",
                "account": {"branch": "0001", "accountNumber": "100", "accountType": "CACC"},
                "owner": {"type": "NATURAL_PERSON", "taxIdNumber": ANA_CPF, "name": "Ana Souza"},
                "requestId": "0102030405060708090a0b0c0d0e0f10"
            })
            .to_string(),
        ),
        (
            "GET",
            "BANKB",
            "/api/v1/directory/entries/+5511987654321".into(),
            Some(BIA_CPF),
            "".into(),
        ),
        (
            "GET",
            "BANKB",
            "/api/v1/directory/entries/+5511900000000".into(),
            Some(BIA_CPF),
            "".into(),
        ),
        (
            "PUT",
            "BANKA",
            "/api/v1/directory/entries/+5511987654321".into(),
            None,
            serde_json::json!({
                "account": {"branch": "0002", "accountNumber": "200", "accountType": "SVGS"},
                "owner": {"name": "Ana M. Souza"}
            })
            .to_string(),
        ),
        ("DELETE", "BANKA", "/api/v1/directory/entries/+5511987654321".into(), None, "".into()),
    ];
    let mut a = Directory::default();
    let mut b = compact();
    let (mut scan_a, mut scan_b) = (AntiScan::default(), AntiScan::default());
    let (mut rng_a, mut rng_b) = (SeededRandom(1), SeededRandom(1));
    for (i, (method, who, path, payer, body)) in calls.iter().enumerate() {
        let now = 1_000 + i as u64;
        let req = || Request { method, path, payer_id: *payer, body: body.as_bytes() };
        let ctx = Context { participant: who, now_ms: now, rng: &mut rng_a };
        let ra = handle(&mut a, &mut scan_a, ctx, req());
        let ctx = Context { participant: who, now_ms: now, rng: &mut rng_b };
        let rb = handle(&mut b, &mut scan_b, ctx, req());
        assert_eq!(ra, rb, "{method} {path}");
        assert!(ra.status < 500, "{method} {path}: {}", ra.body);
    }
    assert_eq!(a.state_digest(), b.state_digest());
}

#[test]
fn lookups_with_fraud_marks_answer_the_same_over_both_stores() {
    use directory::fraud::{InfractionType, NewReport, ReportTarget, ReportedBy};
    use directory::{AntiScan, LookupRequest};
    let mut a = Directory::default();
    let mut b = compact();
    let entries = [ana("ana@example.com", "BANKA", "100"), ana("+5511987654321", "BANKA", "100")];
    let report = |target| NewReport {
        reporter: "BANKB".into(),
        target,
        infraction_type: InfractionType::Fraud,
        reported_by: ReportedBy::DebitedParticipant,
        transaction_id: "E9999901012341234123412345678900".into(),
        details: Masked("scam".into()),
    };
    let acct = account("BANKA", "100");
    for (i, e) in entries.iter().enumerate() {
        a.register_entry(e.clone(), 1 + i as u64).unwrap();
        b.register_entry(e.clone(), 1 + i as u64).unwrap();
    }
    for target in [
        ReportTarget::Key(key("ana@example.com")),
        ReportTarget::Account(acct.clone(), Masked(ANA_CPF.into())),
    ] {
        assert_eq!(a.file_report(report(target.clone()), 5), b.file_report(report(target), 5));
    }
    let (mut sa, mut sb) = (AntiScan::default(), AntiScan::default());
    for k in ["ana@example.com", "+5511987654321", "nobody@example.com"] {
        let req = LookupRequest {
            participant: "BANKB".into(),
            payer_id: Masked(BIA_CPF.into()),
            key: key(k),
        };
        let (ra, rb) = (a.lookup(&mut sa, &req, 10), b.lookup(&mut sb, &req, 10));
        assert_eq!(ra, rb, "{k}");
        if k == "ana@example.com" {
            let m = ra.unwrap().fraud;
            assert_eq!((m.key.reported, m.owner.reported, m.account.reported), (1, 2, 2));
        }
    }
}

/// The batch path (`resolve_many`, a software pipeline with reads fetched ahead) gives exactly
/// the views of one-at-a-time resolves: hits, misses and both mixed, in batches of every size
/// around the pipeline's distances (0, 1, not a multiple of the distance, longer than the ring).
#[test]
fn batched_resolves_equal_one_at_a_time_for_every_batch_size() {
    let mut d = compact();
    let registered = 3_000u64;
    let entries: Vec<Entry> = (0..registered).map(workload_entry_at).collect();
    assert!(d.register_stream(entries, 1_700_000_000_000, drop).is_empty());
    assert_eq!(d.len(), registered as usize);
    let hits: Vec<Key> =
        (0..registered).rev().step_by(7).map(directory::bench::workload_key).collect();
    let misses: Vec<Key> =
        (registered..registered + 500).map(directory::bench::workload_key).collect();
    let mut mixed = Vec::new();
    for (i, (h, m)) in hits.iter().zip(&misses).enumerate() {
        mixed.push(h.clone());
        if i % 3 != 1 {
            mixed.push(m.clone());
        }
    }
    let pipeline = directory::compact::PIPE_DISTANCE;
    let mut sizes = vec![0, 1, 2, 3, pipeline - 1, pipeline, pipeline + 1, 2 * pipeline + 1];
    sizes.extend([3 * pipeline, 3 * pipeline + 1, 31, 32, 33, 64, 65, 100, 257, 1_000]);
    let mut views = Vec::new();
    for keys in [&hits, &misses, &mixed] {
        for size in &sizes {
            let batches: Vec<&[Key]> =
                if *size == 0 { vec![&keys[..0]] } else { keys.chunks(*size).collect() };
            for batch in batches {
                d.resolve_many(batch, &mut views);
                let one: Vec<_> = batch.iter().map(|k| d.resolve_view(k)).collect();
                assert_eq!(views, one, "batch of {}", batch.len());
            }
        }
        d.resolve_many(keys, &mut views);
        assert_eq!(views.len(), keys.len());
    }
    assert!(hits.iter().all(|k| d.resolve_view(k).is_some()));
    assert!(misses.iter().all(|k| d.resolve_view(k).is_none()));
    // An empty directory: every key a miss.
    let empty = compact();
    empty.resolve_many(&mixed, &mut views);
    assert!(views.len() == mixed.len() && views.iter().all(Option::is_none));
}
