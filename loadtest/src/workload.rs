//! The workload: a seeded, deterministic plan of payments prepared before the timed phase.
//!
//! Arrival times are a Poisson process (exponential gaps at the offered rate); payer and payee
//! banks and customers are drawn from Zipf distributions; a configurable share of payments go
//! to an alias nobody registered, so the switch must reject them (AccountProxyInvalid). Every
//! pacs.008 is encoded here, ahead of time, so the generator only moves prepared bytes while
//! the clock runs.
//!
//! Guarantees: the same seed and parameters give the same plan, byte for byte; the number of
//! payments and the bytes prepared are capped (explicit error above the cap). It must not touch
//! the network or the clock: the creation time comes in as an argument.

use iso20022::common::NOT_PROVIDED;
use iso20022::pacs008::{self, CreditTransfer, GroupHeader, Pacs008};
use iso20022::{Account, AccountId, Agent, Amount, Currency, Party, Proxy};

/// Payments in one plan at most.
pub const PAYMENTS_MAX: u64 = 20_000_000;
/// Smallest and largest amount drawn, minor units (the upper bound is excluded).
pub const AMOUNT_RANGE_MINOR: (u64, u64) = (100, 10_000);

/// A small, fast, seeded generator (splitmix64). Not for cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed; the same seed gives the same sequence.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..hi`; `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        match hi.checked_sub(lo) {
            Some(span) if span > 0 => lo + self.next_u64() % span,
            _ => lo,
        }
    }
}

/// Zipf distribution over ranks `0..n`: rank `k` has weight `1 / (k + 1)^s`.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

/// Largest number of ranks a [`Zipf`] takes.
pub const ZIPF_RANKS_MAX: usize = 10_000_000;

impl Zipf {
    /// A Zipf over `n` ranks (1 to [`ZIPF_RANKS_MAX`]) with exponent `s` (0 to 10; 0 is
    /// uniform).
    pub fn new(n: usize, s: f64) -> Result<Zipf, String> {
        if n == 0 || n > ZIPF_RANKS_MAX {
            return Err(format!("zipf: {n} ranks, expected 1 to {ZIPF_RANKS_MAX}"));
        }
        if !(0.0..=10.0).contains(&s) {
            return Err(format!("zipf: exponent {s}, expected 0 to 10"));
        }
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 0..n {
            sum += 1.0 / ((k + 1) as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Ok(Zipf { cdf })
    }

    /// Number of ranks.
    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    /// Never empty (kept for clippy's `len` without `is_empty` rule).
    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }

    /// Draw a rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c <= u).min(self.cdf.len().saturating_sub(1))
    }
}

/// One participant as the workload sees it.
#[derive(Debug, Clone)]
pub struct BankSpec {
    /// BIC.
    pub bic: String,
    /// Index in the switch's participant list (the development customers depend on it).
    pub index: u32,
    /// Number of development customers (accounts with aliases) it has.
    pub customers: u32,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Banks taking part (at least two: a payment never stays inside one bank).
    pub banks: Vec<BankSpec>,
    /// Settlement currency.
    pub currency: Currency,
    /// Offered payments per second.
    pub rate_tps: f64,
    /// Seconds of arrivals.
    pub duration_s: f64,
    /// Share (0 to 1) of payments sent to an unknown alias.
    pub reject_share: f64,
    /// Zipf exponent for banks and customers.
    pub zipf_s: f64,
    /// Seed.
    pub seed: u64,
    /// Prefix of every EndToEndId (at most 22 characters): makes runs against the same switch
    /// distinct.
    pub id_prefix: String,
    /// `CreDtTm` of every message.
    pub created: String,
    /// Bytes of prepared XML at most.
    pub prepared_bytes_max: u64,
}

/// One prepared payment.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Offset of its scheduled send time from the start, nanoseconds.
    pub due_ns: u64,
    /// Index of the paying bank in [`Spec::banks`].
    pub debtor: usize,
    /// EndToEndId.
    pub e2e: String,
    /// Whether it goes to an unknown alias and must be rejected.
    pub expect_reject: bool,
    /// The pacs.008.
    pub xml: String,
}

/// Development keys of every customer of every bank (same rule as
/// `switch::devnet::customers`), computed once: `keys[bank][customer]`.
fn alias_table(banks: &[BankSpec]) -> Vec<Vec<[String; 3]>> {
    banks
        .iter()
        .map(|b| switch::devnet::customers(b.index, b.customers).map(|c| c.keys).collect())
        .collect()
}

/// The pacs.008 paying `amount_minor` from `debtor_account` at `debtor_bic` to `alias`.
pub fn pacs008_xml(
    debtor_bic: &str,
    debtor_account: &str,
    e2e: &str,
    alias: &str,
    amount_minor: u64,
    currency: Currency,
    created: &str,
) -> String {
    let msg = Pacs008 {
        header: GroupHeader {
            msg_id: format!("M{e2e}"),
            created: created.to_string(),
            settlement_method: "CLRG".into(),
            ..GroupHeader::default()
        },
        transactions: vec![CreditTransfer {
            end_to_end_id: e2e.to_string(),
            tx_id: Some(e2e.to_string()),
            amount: Amount { minor: amount_minor, currency },
            charge_bearer: "SLEV".into(),
            debtor: Party { name: Some("Load test payer".into()), ..Party::default() },
            debtor_account: Some(Account {
                id: AccountId::Other(debtor_account.to_string()),
                ..Account::default()
            }),
            debtor_agent: Agent::bic(debtor_bic),
            creditor_agent: Agent { other_id: Some(NOT_PROVIDED.into()), ..Agent::default() },
            creditor: Party { name: Some("Payee".into()), ..Party::default() },
            creditor_account: Some(Account {
                id: AccountId::Other(NOT_PROVIDED.into()),
                proxy: Some(Proxy { id: alias.to_string(), ..Proxy::default() }),
                ..Account::default()
            }),
            remittance: vec!["load test".into()],
            ..CreditTransfer::default()
        }],
    };
    pacs008::encode(&msg)
}

/// One pacs.008 carrying the transactions of `messages` (single-transaction pacs.008 of one
/// debtor bank, as [`pacs008_xml`] writes them), under the group header of the first: the
/// bank's side of batching, done by copying prepared bytes, not by encoding. `None` when a
/// message is not of that shape.
pub fn batch_xml(messages: &[&str]) -> Option<String> {
    const OPEN: &str = "<CdtTrfTxInf>";
    const CLOSE: &str = "</CdtTrfTxInf>";
    const ONE: &str = "<NbOfTxs>1</NbOfTxs>";
    let first = messages.first()?;
    if messages.len() == 1 {
        return Some((*first).to_string());
    }
    let tx_start = first.find(OPEN)?;
    let head = first.get(..tx_start)?;
    let at = head.find(ONE)?;
    let tail = first.get(first.rfind(CLOSE)? + CLOSE.len()..)?;
    let size: usize = messages.iter().map(|m| m.len()).sum();
    let mut out = String::with_capacity(size);
    out.push_str(head.get(..at)?);
    out.push_str(&format!("<NbOfTxs>{}</NbOfTxs>", messages.len()));
    out.push_str(head.get(at + ONE.len()..)?);
    for m in messages {
        let start = m.find(OPEN)?;
        let end = m.rfind(CLOSE)? + CLOSE.len();
        out.push_str(m.get(start..end)?);
    }
    out.push_str(tail);
    Some(out)
}

/// Check a spec before planning.
fn check(spec: &Spec) -> Result<u64, String> {
    if spec.banks.len() < 2 {
        return Err("the workload needs at least two banks".into());
    }
    if spec.banks.iter().any(|b| b.customers == 0) {
        return Err("every bank needs at least one development customer".into());
    }
    if !(spec.rate_tps > 0.0 && spec.rate_tps.is_finite()) {
        return Err(format!("rate {} must be positive", spec.rate_tps));
    }
    if !(spec.duration_s > 0.0 && spec.duration_s.is_finite()) {
        return Err(format!("duration {} must be positive", spec.duration_s));
    }
    if !(0.0..=1.0).contains(&spec.reject_share) {
        return Err(format!("reject share {} must be within 0 to 1", spec.reject_share));
    }
    if spec.id_prefix.len() > 22 {
        return Err(format!("id prefix {:?} is longer than 22 characters", spec.id_prefix));
    }
    let expected = (spec.rate_tps * spec.duration_s).ceil();
    if expected > PAYMENTS_MAX as f64 {
        return Err(format!(
            "rate x duration = {expected} payments, above the limit of {PAYMENTS_MAX}"
        ));
    }
    Ok(expected as u64)
}

/// Plan the whole run. Fails with a clear message on a bad spec or when the prepared messages
/// would exceed `prepared_bytes_max`.
pub fn plan(spec: &Spec) -> Result<Vec<Planned>, String> {
    let expected = check(spec)?;
    let mut rng = Rng::new(spec.seed);
    let bank_zipf = Zipf::new(spec.banks.len(), spec.zipf_s)?;
    let aliases = alias_table(&spec.banks);
    let customer_zipfs: Vec<Zipf> = spec
        .banks
        .iter()
        .map(|b| Zipf::new(b.customers as usize, spec.zipf_s))
        .collect::<Result<_, _>>()?;
    let horizon_ns = (spec.duration_s * 1e9) as u64;
    let mean_gap_ns = 1e9 / spec.rate_tps;
    // Poisson arrivals overshoot the mean now and then: leave room, keep a hard cap.
    let count_max = expected.saturating_mul(2).saturating_add(100).min(PAYMENTS_MAX);
    let mut out = Vec::with_capacity(expected as usize);
    let mut bytes = 0u64;
    let mut t_ns = 0f64;
    for k in 0..count_max {
        t_ns += -(1.0 - rng.unit()).ln() * mean_gap_ns;
        let due_ns = t_ns as u64;
        if due_ns >= horizon_ns {
            break;
        }
        let debtor = bank_zipf.sample(&mut rng);
        let mut creditor = bank_zipf.sample(&mut rng);
        if creditor == debtor {
            creditor = (creditor + 1) % spec.banks.len();
        }
        let Some(d) = spec.banks.get(debtor) else {
            return Err("bank index out of range".into());
        };
        let payer = customer_zipfs.get(debtor).map_or(0, |z| z.sample(&mut rng)) as u32;
        let payee = customer_zipfs.get(creditor).map_or(0, |z| z.sample(&mut rng)) as u32;
        let which = rng.range(0, 3);
        let amount_minor = rng.range(AMOUNT_RANGE_MINOR.0, AMOUNT_RANGE_MINOR.1);
        let expect_reject = rng.unit() < spec.reject_share;
        let e2e = format!("{}{k:010}", spec.id_prefix);
        let alias = if expect_reject {
            format!("nobody{k}@unknown.example")
        } else {
            aliases
                .get(creditor)
                .and_then(|keys| keys.get(payee as usize))
                .and_then(|k| k.get(which as usize))
                .cloned()
                .ok_or_else(|| format!("no development key {which} of customer {payee}"))?
        };
        let account = format!("{:06}", payer + 1);
        let xml =
            pacs008_xml(&d.bic, &account, &e2e, &alias, amount_minor, spec.currency, &spec.created);
        bytes = bytes.saturating_add(xml.len() as u64 + e2e.len() as u64);
        if bytes > spec.prepared_bytes_max {
            return Err(format!(
                "the prepared messages exceed {} MB after {k} payments; lower the rate or the \
                 duration, or raise --prepared-mb-max",
                spec.prepared_bytes_max >> 20
            ));
        }
        out.push(Planned { due_ns, debtor, e2e, expect_reject, xml });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use iso20022::Limits;

    fn spec(n: u32) -> Spec {
        Spec {
            banks: (0..n)
                .map(|i| BankSpec {
                    bic: format!("BK{0}{0}BRSP", (b'A' + i as u8) as char),
                    index: i,
                    customers: 50,
                })
                .collect(),
            currency: Currency::parse("BRL").unwrap(),
            rate_tps: 2_000.0,
            duration_s: 2.0,
            reject_share: 0.05,
            zipf_s: 1.0,
            seed: 7,
            id_prefix: "LTTEST".into(),
            created: "2026-11-23T20:00:00".into(),
            prepared_bytes_max: 1 << 30,
        }
    }

    #[test]
    fn zipf_ranks_follow_the_weights() {
        let z = Zipf::new(4, 1.0).unwrap();
        let mut rng = Rng::new(1);
        let mut counts = [0u32; 4];
        for _ in 0..100_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        // Weights 1, 1/2, 1/3, 1/4 over 25/12: 48%, 24%, 16%, 12%.
        let expect = [48_000, 24_000, 16_000, 12_000];
        for (c, e) in counts.iter().zip(expect) {
            assert!((*c as i64 - e as i64).abs() < 1_500, "{counts:?}");
        }
        let uniform = Zipf::new(3, 0.0).unwrap();
        let mut u = [0u32; 3];
        for _ in 0..30_000 {
            u[uniform.sample(&mut rng)] += 1;
        }
        assert!(u.iter().all(|c| (*c as i64 - 10_000).abs() < 600), "{u:?}");
        assert!(Zipf::new(0, 1.0).is_err());
        assert!(Zipf::new(3, -1.0).is_err());
    }

    #[test]
    fn the_plan_is_deterministic_poisson_and_valid() {
        let a = plan(&spec(4)).unwrap();
        let b = plan(&spec(4)).unwrap();
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.xml == y.xml && x.due_ns == y.due_ns));
        // 4,000 expected; Poisson standard deviation is about 63.
        assert!((a.len() as i64 - 4_000).abs() < 400, "{}", a.len());
        assert!(a.windows(2).all(|w| w[0].due_ns <= w[1].due_ns));
        assert!(a.last().unwrap().due_ns < 2_000_000_000);
        let rejects = a.iter().filter(|p| p.expect_reject).count();
        assert!((100..=300).contains(&rejects), "{rejects}");
        // The most popular bank pays the most.
        let first = a.iter().filter(|p| p.debtor == 0).count();
        let last = a.iter().filter(|p| p.debtor == 3).count();
        assert!(first > 2 * last, "{first} {last}");
        for p in a.iter().step_by(97) {
            let m = pacs008::decode(p.xml.as_bytes(), &Limits::default()).unwrap();
            let tx = &m.transactions[0];
            assert_eq!(tx.end_to_end_id, p.e2e);
            assert_eq!(tx.debtor_agent.bic.as_deref(), Some(spec(4).banks[p.debtor].bic.as_str()));
            let alias = tx.creditor_account.as_ref().unwrap().proxy.as_ref().unwrap().id.clone();
            assert_eq!(alias.contains("@unknown.example"), p.expect_reject);
            assert!(p.e2e.len() <= 35);
        }
        let other = plan(&Spec { seed: 8, ..spec(4) }).unwrap();
        assert_ne!(other[0].xml, a[0].xml);
    }

    #[test]
    fn payments_never_stay_inside_one_bank() {
        let specs = spec(2);
        for p in plan(&specs).unwrap().iter().filter(|p| !p.expect_reject) {
            let m = pacs008::decode(p.xml.as_bytes(), &Limits::default()).unwrap();
            let alias = m.transactions[0].creditor_account.as_ref().unwrap().proxy.clone().unwrap();
            // Bank 0's customers have keys with bank digit 0, bank 1's with 1.
            let payee_bank = if alias.id.contains("@bank1.") || alias.id.starts_with("+551191") {
                1
            } else if alias.id.contains("@bank0.") || alias.id.starts_with("+551190") {
                0
            } else {
                // National id: the CPF base encodes the bank.
                let base: u32 = alias.id[..9].parse().unwrap();
                base / 100_000 - 1
            };
            assert_ne!(payee_bank, p.debtor as u32, "{}", alias.id);
        }
    }

    #[test]
    fn bad_specs_and_caps_are_refused() {
        assert!(plan(&spec(1)).unwrap_err().contains("two banks"));
        assert!(plan(&Spec { rate_tps: 0.0, ..spec(2) }).unwrap_err().contains("positive"));
        assert!(plan(&Spec { reject_share: 1.5, ..spec(2) }).unwrap_err().contains("share"));
        let e = plan(&Spec { prepared_bytes_max: 100_000, ..spec(2) }).unwrap_err();
        assert!(e.contains("--prepared-mb-max"), "{e}");
        let e = plan(&Spec { rate_tps: 1e9, duration_s: 1e3, ..spec(2) }).unwrap_err();
        assert!(e.contains("limit"), "{e}");
    }

    #[test]
    fn a_batch_carries_every_transaction_under_one_header() {
        let eur = Currency::parse("EUR").unwrap();
        let t = "2026-11-24T01:00:00Z";
        let xs: Vec<String> = (0..3)
            .map(|i| {
                pacs008_xml(
                    "BKAABRSP",
                    "000001",
                    &format!("E2E{i}"),
                    "x@y.example",
                    100 + i,
                    eur,
                    t,
                )
            })
            .collect();
        let refs: Vec<&str> = xs.iter().map(String::as_str).collect();
        let batch = batch_xml(&refs).unwrap();
        let m = pacs008::decode(batch.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(m.header.msg_id, "ME2E0");
        let ids: Vec<(&str, u64)> =
            m.transactions.iter().map(|t| (t.end_to_end_id.as_str(), t.amount.minor)).collect();
        assert_eq!(ids, [("E2E0", 100), ("E2E1", 101), ("E2E2", 102)]);
        assert_eq!(batch_xml(&refs[..1]).unwrap(), xs[0]);
        assert_eq!(batch_xml(&["<Document/>", "<Document/>"]), None);
    }
}
