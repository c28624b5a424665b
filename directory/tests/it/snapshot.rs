//! Snapshots: a directory (with its anti-scan buckets and random source) restored from a
//! snapshot behaves exactly like the one snapshotted, for any further operations; damaged
//! bytes are refused with a specific error and never panic the decoder.

use directory::antiscan::Category;
use directory::fraud::{InfractionType, NewReport, ReportResult, ReportTarget, ReportedBy};
use directory::snapshot::{snapshot_checksum, SNAPSHOT_HEADER_LEN};
use directory::sync::{ChangePage, SyncError};
use directory::{
    AccountRef, AccountUpdate, AntiScan, AntiScanConfig, Applied, ClaimReason, ClaimType,
    CompactStore, DirectoryConfig, DirectoryError, DirectoryEvent, KeyType, LookupAnswer,
    LookupError, LookupRequest, Masked, SeededRandom, SharedStore, SnapshotError, DAY_MS,
};
use proptest::prelude::*;

use super::*;

/// Limits small enough that a few thousand operations reach every one of them.
fn config() -> DirectoryConfig {
    DirectoryConfig {
        max_entries: 60,
        keys_per_account_natural: 3,
        keys_per_account_legal: 6,
        open_claims_max: 8,
        finished_claims_max: 5,
        reports_max: 6,
        changes_per_participant_max: 20,
        ..DirectoryConfig::default()
    }
}

fn scan_config() -> AntiScanConfig {
    AntiScanConfig {
        user_natural: directory::antiscan::BucketPolicy {
            capacity: 30,
            refill: 2,
            period_ms: 60_000,
        },
        user_buckets_max: 4,
        participant_buckets_max: 3,
        ..AntiScanConfig::default()
    }
}

/// The directory, buckets and random source the switch keeps side by side.
struct World {
    d: Directory<CompactStore>,
    scan: AntiScan,
    rng: SeededRandom,
    t: u64,
}

impl World {
    fn new() -> World {
        World {
            d: Directory::compact(config()),
            scan: AntiScan::new(scan_config()),
            rng: SeededRandom(77),
            t: 1_700_000_000_000,
        }
    }

    fn snapshot(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        self.d.encode_snapshot(&mut a);
        self.scan.encode_snapshot(&mut b);
        self.rng.encode_snapshot(&mut c);
        (a, b, c)
    }

    fn restore(s: &(Vec<u8>, Vec<u8>, Vec<u8>), t: u64) -> World {
        World {
            d: Directory::decode_snapshot(&s.0, config()).unwrap(),
            scan: AntiScan::decode_snapshot(&s.1, scan_config()).unwrap(),
            rng: SeededRandom::decode_snapshot(&s.2).unwrap(),
            t,
        }
    }
}

/// Everything an operation can answer, compared between the original and the restored one.
#[derive(Debug, PartialEq)]
enum Out {
    Applied(Result<Applied, DirectoryError>),
    Id(Result<(u64, Applied), DirectoryError>),
    Random(Result<(Key, Applied), DirectoryError>),
    Lookup(Result<LookupAnswer, LookupError>),
    Changes(Result<ChangePage, SyncError>),
    Read(Box<Read>),
    Unit,
}

#[derive(Debug, PartialEq)]
struct Read {
    entry: Option<Entry>,
    marks: Option<directory::FraudMarks>,
    claim: Option<directory::Claim>,
    report: Option<directory::InfractionReport>,
    notices: Vec<directory::Notice>,
    vsync: Vec<[u8; 32]>,
    cids: Vec<[u8; 32]>,
    keys_of_account: u32,
    tokens: (u64, u64),
    len: usize,
    seq: u64,
}

const BANKS: [&str; 3] = ["BANKA", "BANKB", "BANKC"];
const PAYERS: [&str; 3] = [ANA_CPF, BIA_CPF, ACME_CNPJ];
const REASONS: [ClaimReason; 5] = [
    ClaimReason::UserRequested,
    ClaimReason::AccountClosure,
    ClaimReason::Fraud,
    ClaimReason::DefaultOperation,
    ClaimReason::Reconciliation,
];

/// A small pool of keys, so that operations collide: e-mails, phones and the owners' ids.
fn pool_key(i: u64) -> String {
    match i % 16 {
        0 => ANA_CPF.to_string(),
        1 => BIA_CPF.to_string(),
        2 => ACME_CNPJ.to_string(),
        n if n < 10 => format!("user{n}@example.com"),
        n => format!("+55119876543{n:02}"),
    }
}

fn owner_entry(k: &str, who: u64, bank: &str, account: u64) -> Entry {
    let account = format!("{}", 100 + account % 4);
    let e = Entry::new(key(k), bank, "1", &account, "Ana Maria Souza");
    match key(k).key_type() {
        KeyType::NationalId | KeyType::TaxId => e,
        _ => match who % 3 {
            0 => e.with_owner(OwnerType::Natural, ANA_CPF),
            1 => Entry { owner_name: Masked("Bia Lima".into()), ..e }
                .with_owner(OwnerType::Natural, BIA_CPF),
            _ => Entry { owner_name: Masked("Acme Ltda".into()), ..e }
                .with_owner(OwnerType::Legal, ACME_CNPJ),
        },
    }
}

/// One operation chosen by `r` (five random numbers), applied to `w`.
fn step(w: &mut World, r: [u64; 5]) -> Out {
    let [op, a, b, c, dt] = r;
    w.t += match dt % 64 {
        0 => DAY_MS * (dt % 5),
        1..=3 => 60_000,
        _ => dt % 1_000,
    };
    let t = w.t;
    let bank = BANKS[(b % 3) as usize];
    let k = pool_key(a);
    let d = &mut w.d;
    match op % 20 {
        0..=2 => Out::Applied(d.register_entry(owner_entry(&k, c, bank, c / 3), t)),
        3 => Out::Random(d.register_random(owner_entry(&k, c, bank, c), &mut w.rng, t)),
        4 => {
            let upd = AccountUpdate {
                branch: "2".into(),
                account: Masked(format!("{}", 200 + c % 3)),
                account_type: ["CACC", "SVGS"][(c % 2) as usize].into(),
                owner_name: Masked("Renamed Owner".into()),
                trade_name: Masked::default(),
            };
            Out::Applied(d.update_account(&key(&k), bank, upd, t))
        }
        5 => Out::Applied(d.delete_entry(&key(&k), bank, t)),
        6 => Out::Id(d.open_claim(ClaimType::Ownership, owner_entry(&k, c, bank, c), t)),
        7 => Out::Id(d.open_claim(ClaimType::Portability, owner_entry(&k, c, bank, c), t)),
        8 => Out::Applied(d.acknowledge_claim(c % 12, bank, t)),
        9 => Out::Applied(d.confirm_claim(c % 12, bank, REASONS[(a % 5) as usize], t)),
        10 => Out::Applied(d.cancel_claim(c % 12, bank, REASONS[(a % 5) as usize], t)),
        11 => Out::Applied(d.complete_claim(c % 12, bank, t)),
        12 => Out::Applied(Ok(d.expire_claims(t, (c % 4) as usize))),
        13 => Out::Id(d.file_report(report(&k, bank, c), t)),
        14 => Out::Applied(match a % 3 {
            0 => d.acknowledge_report(c % 10, bank, t),
            1 => {
                let result = [ReportResult::Agreed, ReportResult::Disagreed][(c % 2) as usize];
                d.close_report(c % 10, bank, result, Masked("checked".into()), t)
            }
            _ => d.cancel_report(c % 10, bank, t),
        }),
        15 | 16 => {
            let payer = PAYERS[(c % 3) as usize];
            let req = LookupRequest {
                participant: bank.into(),
                payer_id: Masked(payer.into()),
                key: key(&k),
            };
            Out::Lookup(d.lookup(&mut w.scan, &req, t))
        }
        17 => {
            w.scan.payment_sent(bank, PAYERS[(c % 3) as usize], key(&k).key_type(), t);
            if c % 5 == 0 {
                let cat = [Category::A, Category::E, Category::F][(a % 3) as usize];
                w.scan.set_category(bank, cat);
            }
            Out::Unit
        }
        18 => Out::Changes(d.changes_since(bank, c % (d.seq() + 2), (a % 6) as usize)),
        _ => Out::Read(Box::new(read(w, &k, bank, c))),
    }
}

fn report(k: &str, bank: &str, c: u64) -> NewReport {
    let target = if c % 3 == 0 {
        let account = AccountRef {
            participant: BANKS[(c % 2) as usize].into(),
            branch: "1".into(),
            account: Masked("101".into()),
            account_type: "CACC".into(),
        };
        ReportTarget::Account(account, Masked(ANA_CPF.into()))
    } else {
        ReportTarget::Key(key(k))
    };
    NewReport {
        reporter: bank.into(),
        target,
        infraction_type: [InfractionType::Fraud, InfractionType::RefundRequest][(c % 2) as usize],
        reported_by: ReportedBy::DebitedParticipant,
        transaction_id: format!("E{:031}", c),
        details: Masked("scam".into()),
    }
}

fn read(w: &World, k: &str, bank: &str, c: u64) -> Read {
    let d = &w.d;
    let entry = d.resolve_entry(&key(k)).map(|e| e.into_owned());
    let kt = key(k).key_type();
    Read {
        marks: entry.as_ref().map(|e| d.fraud_marks(e)),
        keys_of_account: entry.as_ref().map_or(0, |e| d.keys_of_account(&e.account_ref())),
        entry,
        claim: d.claim(c % 12).cloned(),
        report: d.report(c % 10).cloned(),
        notices: d.pending_notices(bank, 10),
        vsync: KeyType::ALL.iter().map(|t| d.vsync(bank, *t)).collect(),
        cids: d.cids_of(bank, kt),
        tokens: (
            w.scan.participant_tokens(bank, w.t),
            w.scan.user_tokens(bank, PAYERS[(c % 3) as usize], OwnerType::Natural, kt, w.t),
        ),
        len: d.len(),
        seq: d.seq(),
    }
}

/// SplitMix64, for the operations' random numbers.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn ops(seed: u64, n: usize) -> Vec<[u64; 5]> {
    let mut s = seed;
    (0..n).map(|_| std::array::from_fn(|_| next(&mut s) % 1_000)).collect()
}

/// Run `before` operations, snapshot, restore, then run `after` on both: same answers, same
/// state, same snapshot bytes at every check.
fn same_future(seed: u64, before: usize, after: usize) {
    let mut w = World::new();
    for r in ops(seed, before) {
        step(&mut w, r);
    }
    let snap = w.snapshot();
    let mut back = World::restore(&snap, w.t);
    assert_eq!(back.snapshot(), snap, "seed {seed}: re-encoding gives other bytes");
    assert_eq!(back.d.state_digest(), w.d.state_digest());
    for (i, r) in ops(seed ^ 0xabcdef, after).into_iter().enumerate() {
        let (x, y) = (step(&mut w, r), step(&mut back, r));
        assert_eq!(x, y, "seed {seed}, operation {i} after the snapshot: {r:?}");
        if i % 97 == 0 {
            assert_eq!(back.snapshot(), w.snapshot(), "seed {seed}, after operation {i}");
        }
    }
    assert_eq!(back.snapshot(), w.snapshot(), "seed {seed}, at the end");
    assert_eq!(back.d.state_digest(), w.d.state_digest());
}

#[test]
fn a_restored_directory_answers_every_further_operation_the_same() {
    for seed in 0..12 {
        same_future(seed, 3_000, 3_000);
    }
}

#[test]
fn the_workload_reaches_every_part_of_the_state() {
    let mut w = World::new();
    let mut counts = [0usize; 4];
    for r in ops(3, 3_000) {
        match step(&mut w, r) {
            Out::Applied(Ok(a)) | Out::Id(Ok((_, a))) | Out::Random(Ok((_, a))) => {
                for e in a.events {
                    match e {
                        DirectoryEvent::Registered { .. } => counts[0] += 1,
                        DirectoryEvent::ClaimCompleted { .. } => counts[1] += 1,
                        DirectoryEvent::ReportClosed { .. } => counts[2] += 1,
                        _ => {}
                    }
                }
            }
            Out::Lookup(Err(LookupError::RateLimited(_))) => counts[3] += 1,
            _ => {}
        }
    }
    assert!(
        counts.iter().all(|c| *c > 0),
        "registrations, completed claims, closed reports, rate limits: {counts:?}"
    );
    assert!(!w.d.is_empty());
    assert!(BANKS.iter().all(|b| w.d.changes_since(b, 0, 1).is_err()), "change logs were cut");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any workload, snapshotted at any point, has the same future.
    #[test]
    fn any_workload_has_the_same_future(seed in any::<u64>(), before in 0usize..600) {
        same_future(seed, before, 300);
    }
}

#[test]
fn the_snapshot_and_the_journal_after_it_rebuild_the_state() {
    let mut w = World::new();
    for r in ops(5, 1_500) {
        step(&mut w, r);
    }
    let snap = w.snapshot();
    let mut journal = Vec::new();
    for r in ops(6, 1_500) {
        match step(&mut w, r) {
            Out::Applied(Ok(a)) | Out::Id(Ok((_, a))) | Out::Random(Ok((_, a))) => {
                journal.extend(a.events.iter().map(DirectoryEvent::to_bytes))
            }
            _ => {}
        }
    }
    assert!(!journal.is_empty());
    let mut d = Directory::<CompactStore>::decode_snapshot(&snap.0, config()).unwrap();
    for bytes in &journal {
        d.apply(&DirectoryEvent::from_bytes(bytes).unwrap()).unwrap();
    }
    assert_eq!(d.state_digest(), w.d.state_digest());
    let (mut x, mut y) = (Vec::new(), Vec::new());
    d.encode_snapshot(&mut x);
    w.d.encode_snapshot(&mut y);
    assert_eq!(x, y);
}

#[test]
fn the_same_history_gives_the_same_bytes_whatever_the_store_and_seed() {
    let mut a = Directory::compact(config());
    let mut b: Directory<SharedStore> =
        Directory::new(DirectoryConfig { hash_seed: 99, ..config() });
    let mut s = 11;
    for i in 0..400u64 {
        let e = owner_entry(&pool_key(next(&mut s)), i, BANKS[(i % 3) as usize], i);
        let k = e.key.clone();
        assert_eq!(a.register_entry(e.clone(), i).is_ok(), b.register_entry(e, i).is_ok());
        if i % 4 == 0 {
            let bank = BANKS[(i % 3) as usize];
            assert_eq!(a.delete_entry(&k, bank, i).is_ok(), b.delete_entry(&k, bank, i).is_ok());
        }
    }
    a.reclaim_garbage();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    a.encode_snapshot(&mut x);
    b.encode_snapshot(&mut y);
    assert_eq!(x, y);
    let shared: Directory<SharedStore> =
        Directory::decode_snapshot_with(&x, config(), std::sync::Arc::new(directory::BrazilIds))
            .unwrap();
    assert_eq!(shared.state_digest(), a.state_digest());
}

fn small_snapshot() -> Vec<u8> {
    let mut w = World::new();
    for r in ops(9, 400) {
        step(&mut w, r);
    }
    assert!(!w.d.is_empty());
    w.snapshot().0
}

/// The bytes with their checksum recomputed, as a writer with a bug would produce them.
fn resealed(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() - 8;
    let sum = snapshot_checksum(&b[..n]);
    b[n..].copy_from_slice(&sum.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Result<Directory<CompactStore>, SnapshotError> {
    Directory::decode_snapshot(b, config())
}

#[test]
fn truncated_or_damaged_snapshots_are_refused() {
    let good = small_snapshot();
    assert!(decode(&good).is_ok());
    for cut in 0..good.len() {
        assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    assert!(matches!(decode(&good[..good.len() - 1]), Err(SnapshotError::Length { .. })));
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(decode(&longer), Err(SnapshotError::Length { .. })));
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x10;
        let e = decode(&b).err();
        assert!(e.is_some(), "flipped byte {i} accepted");
        if i >= SNAPSHOT_HEADER_LEN {
            assert_eq!(e, Some(SnapshotError::Checksum), "byte {i}");
        }
    }
    assert_eq!(decode(b"not a snapshot at all").err(), Some(SnapshotError::Magic));
    let mut v = good.clone();
    v[8] = 2;
    assert_eq!(decode(&resealed(v)).err(), Some(SnapshotError::Version(2)));
    let mut other = Vec::new();
    AntiScan::default().encode_snapshot(&mut other);
    assert_eq!(decode(&other).err(), Some(SnapshotError::Kind { expected: 1, found: 2 }));
}

#[test]
fn inconsistent_bodies_are_refused_with_the_reason() {
    let good = small_snapshot();
    let body = SNAPSHOT_HEADER_LEN;
    // The entry count (after three counters) claims more entries than the bytes hold.
    let mut b = good.clone();
    b[body + 24..body + 32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(decode(&resealed(b)).err(), Some(SnapshotError::Count("entries")));
    // A next claim id of 0 while claims exist.
    let mut b = good.clone();
    b[body + 8..body + 16].copy_from_slice(&0u64.to_le_bytes());
    assert!(matches!(decode(&resealed(b)), Err(SnapshotError::Inconsistent(_))));
    // One entry fewer: the bytes after the entries no longer parse as what follows.
    let mut b = good.clone();
    let n = u64::from_le_bytes(b[body + 24..body + 32].try_into().unwrap());
    b[body + 24..body + 32].copy_from_slice(&(n + 1).to_le_bytes());
    assert!(decode(&resealed(b)).is_err());
    // A key of the first entry made invalid (a CPF's check digit, or an e-mail's '@').
    let mut b = good.clone();
    let first_key = body + 32 + 1 + 4;
    b[first_key] = b'!';
    assert!(matches!(decode(&resealed(b)), Err(SnapshotError::Field(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Noise, and a good snapshot with bytes changed and the checksum recomputed, never panic
    /// the decoders; what they accept re-encodes to the same bytes.
    #[test]
    fn decoding_damaged_snapshots_never_panics(
        noise in prop::collection::vec(any::<u8>(), 0..400),
        changes in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let _ = decode(&noise);
        let _ = AntiScan::decode_snapshot(&noise, scan_config());
        let _ = SeededRandom::decode_snapshot(&noise);
        let mut b = small_snapshot();
        let n = b.len() - 8 - SNAPSHOT_HEADER_LEN;
        for (at, byte) in changes {
            b[SNAPSHOT_HEADER_LEN + at % n] = byte;
        }
        let b = resealed(b);
        if let Ok(d) = decode(&b) {
            let mut again = Vec::new();
            d.encode_snapshot(&mut again);
            prop_assert_eq!(again, b);
        }
    }
}
