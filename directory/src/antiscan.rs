//! Lookups on behalf of an end user, and DICT's anti-scanning token buckets (SCHEMES.md 2.4).
//!
//! A lookup is made by a participant for one of its end users (the payer, by national id or tax
//! id) and returns what the payer's bank needs to show and route: masked name, participant,
//! account, fraud counts. Each lookup is charged to a bucket per end user (100 tokens for a
//! natural person, 1,000 for a legal entity, refilled 2 a minute; a hit costs 1, a miss 20; a
//! payment sent refunds 1; EMAIL/PHONE keys and CPF/CNPJ/EVP keys have separate buckets as
//! DICT's V1 and V2 policies) and to a bucket per participant by category (A 12,000/min
//! holding 20,000 down to F 2/min holding 1,000; a hit costs 1, a miss 3). A lookup needs one
//! token in both buckets; otherwise it is refused with [`LookupError::RateLimited`], carrying
//! the wait until a token is back.
//!
//! Guarantees: integer arithmetic only (tokens are kept multiplied by the refill period, so a
//! refill of 2 per minute is exact to the millisecond); every parameter is configurable; the
//! number of buckets is bounded, a full bucket being the same as a missing one, so full ones
//! are dropped first. Must not: read the clock (time is `now_ms`); hold bucket state in the
//! journal (buckets are ephemeral, like DICT's after a restart they start full).

use std::collections::HashMap;

use crate::{Directory, FraudMarks, Key, KeyType, Masked, OwnerType};

/// A token bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketPolicy {
    /// Most tokens held (a new bucket starts full).
    pub capacity: u64,
    /// Tokens added per period.
    pub refill: u64,
    /// The refill period, in ms.
    pub period_ms: u64,
}

const MINUTE_MS: u64 = 60_000;

const fn per_minute(refill: u64, capacity: u64) -> BucketPolicy {
    BucketPolicy { capacity, refill, period_ms: MINUTE_MS }
}

/// A participant's anti-scan category (DICT's A to F).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// 12,000 a minute, 20,000 held.
    A,
    /// 8,000 a minute, 15,000 held.
    B,
    /// 2,000 a minute, 8,000 held.
    C,
    /// 500 a minute, 4,000 held.
    D,
    /// 50 a minute, 3,000 held.
    E,
    /// 2 a minute, 1,000 held.
    F,
}

impl Category {
    fn index(self) -> usize {
        self as usize
    }
}

/// Every anti-scan parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AntiScanConfig {
    /// End-user bucket for a natural person (DICT: 100, 2 a minute).
    pub user_natural: BucketPolicy,
    /// End-user bucket for a legal entity (DICT: 1,000, 2 a minute).
    pub user_legal: BucketPolicy,
    /// End-user tokens a hit costs (DICT: 1).
    pub user_hit_cost: u64,
    /// End-user tokens a miss costs (DICT: 20).
    pub user_miss_cost: u64,
    /// End-user tokens a payment sent gives back (DICT: 1).
    pub user_payment_refund: u64,
    /// Participant tokens a hit costs (DICT: 1).
    pub participant_hit_cost: u64,
    /// Participant tokens a miss costs (DICT: 3).
    pub participant_miss_cost: u64,
    /// Participant tokens a payment sent gives back (DICT: 1).
    pub participant_payment_refund: u64,
    /// Participant buckets by category, A to F.
    pub categories: [BucketPolicy; 6],
    /// Category of a participant not given one.
    pub default_category: Category,
    /// Most end-user buckets held.
    pub user_buckets_max: usize,
    /// Most participant buckets held.
    pub participant_buckets_max: usize,
}

impl Default for AntiScanConfig {
    fn default() -> Self {
        AntiScanConfig {
            user_natural: per_minute(2, 100),
            user_legal: per_minute(2, 1_000),
            user_hit_cost: 1,
            user_miss_cost: 20,
            user_payment_refund: 1,
            participant_hit_cost: 1,
            participant_miss_cost: 3,
            participant_payment_refund: 1,
            categories: [
                per_minute(12_000, 20_000),
                per_minute(8_000, 15_000),
                per_minute(2_000, 8_000),
                per_minute(500, 4_000),
                per_minute(50, 3_000),
                per_minute(2, 1_000),
            ],
            default_category: Category::C,
            user_buckets_max: 1_000_000,
            participant_buckets_max: 10_000,
        }
    }
}

/// One bucket: tokens are kept multiplied by the period (`scaled`), so refill is exact.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub(crate) scaled: u128,
    pub(crate) last_ms: u64,
}

impl Bucket {
    fn full(p: &BucketPolicy, now_ms: u64) -> Bucket {
        Bucket { scaled: cap(p), last_ms: now_ms }
    }
    fn refilled(&self, p: &BucketPolicy, now_ms: u64) -> u128 {
        let elapsed = u128::from(now_ms.saturating_sub(self.last_ms));
        self.scaled.saturating_add(elapsed.saturating_mul(u128::from(p.refill))).min(cap(p))
    }
    fn refill(&mut self, p: &BucketPolicy, now_ms: u64) {
        self.scaled = self.refilled(p, now_ms);
        self.last_ms = self.last_ms.max(now_ms);
    }
    fn tokens(&self, p: &BucketPolicy) -> u64 {
        u64::try_from(self.scaled / u128::from(p.period_ms.max(1))).unwrap_or(u64::MAX)
    }
    fn charge(&mut self, p: &BucketPolicy, cost: u64) {
        let c = u128::from(cost).saturating_mul(u128::from(p.period_ms.max(1)));
        self.scaled = self.scaled.saturating_sub(c);
    }
    fn credit(&mut self, p: &BucketPolicy, n: u64) {
        let c = u128::from(n).saturating_mul(u128::from(p.period_ms.max(1)));
        self.scaled = self.scaled.saturating_add(c).min(cap(p));
    }
    /// Ms until one whole token is there (0 if it is).
    fn wait_ms(&self, p: &BucketPolicy) -> u64 {
        let one = u128::from(p.period_ms.max(1));
        if self.scaled >= one {
            return 0;
        }
        if p.refill == 0 {
            return u64::MAX;
        }
        let missing = one - self.scaled;
        u64::try_from(missing.div_ceil(u128::from(p.refill))).unwrap_or(u64::MAX)
    }
}

fn cap(p: &BucketPolicy) -> u128 {
    u128::from(p.capacity).saturating_mul(u128::from(p.period_ms.max(1)))
}

/// Which bucket refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateScope {
    /// The end user's bucket.
    EndUser,
    /// The participant's bucket.
    Participant,
}

/// A refusal for lack of tokens, with what an HTTP 429 needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Which bucket.
    pub scope: RateScope,
    /// DICT policy name (`ENTRIES_READ_USER_ANTISCAN`, `ENTRIES_READ_USER_ANTISCAN_V2`,
    /// `ENTRIES_READ_PARTICIPANT_ANTISCAN`).
    pub policy: &'static str,
    /// Bucket capacity.
    pub capacity: u64,
    /// Tokens now (below one).
    pub available: u64,
    /// Tokens added per period.
    pub refill: u64,
    /// Refill period, ms.
    pub period_ms: u64,
    /// Ms until a lookup can succeed on this bucket.
    pub retry_after_ms: u64,
}

impl RateLimit {
    /// HTTP headers for the 429 answer: `Retry-After` (whole seconds, rounded up) and the
    /// `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` triple.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let secs = self.retry_after_ms.div_ceil(1_000);
        vec![
            ("Retry-After", secs.to_string()),
            ("RateLimit-Limit", self.capacity.to_string()),
            ("RateLimit-Remaining", self.available.to_string()),
            ("RateLimit-Reset", secs.to_string()),
            ("RateLimit-Policy", self.policy.to_string()),
        ]
    }
}

/// Why a lookup gave no entry. [`LookupError::code`] gives the stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The payer id is neither a valid national id nor a valid tax id.
    #[error("payer id is not a valid national id or tax id")]
    InvalidPayer,
    /// The key is not registered (the miss was charged).
    #[error("key not found")]
    NotFound,
    /// A bucket is empty: retry after the time given.
    #[error("rate limited ({:?}); retry after {} ms", .0.scope, .0.retry_after_ms)]
    RateLimited(RateLimit),
    /// Too many buckets held and none can be dropped: retry later.
    #[error("too many end users being tracked; retry later")]
    Busy,
}

impl LookupError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            LookupError::InvalidPayer => "InvalidPayerId",
            LookupError::NotFound => "NotFound",
            LookupError::RateLimited(_) => "RateLimited",
            LookupError::Busy => "ServiceUnavailable",
        }
    }
}

/// A lookup: which participant asks, for which end user, for which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRequest {
    /// The asking participant.
    pub participant: String,
    /// The payer's national id or tax id.
    pub payer_id: Masked<String>,
    /// The key looked up.
    pub key: Key,
}

/// What the payer's bank needs to show and route a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupAnswer {
    /// The key.
    pub key: Key,
    /// Participant holding the account.
    pub participant: String,
    /// Branch.
    pub branch: String,
    /// Account number (for routing; not to be shown).
    pub account: Masked<String>,
    /// Account type.
    pub account_type: String,
    /// Natural person or legal entity.
    pub owner_type: OwnerType,
    /// Owner's name for display: a natural person's first name and initials, a legal
    /// entity's name in full.
    pub owner_name_masked: String,
    /// Owner's id for display: a national id with only its middle digits, a tax id in full.
    pub owner_tax_id_masked: String,
    /// Trade name of a legal entity.
    pub trade_name: String,
    /// When the key was registered (ms).
    pub created_at_ms: u64,
    /// Since when its owner holds it (ms).
    pub owned_since_ms: u64,
    /// Fraud counts for key, owner and account.
    pub fraud: FraudMarks,
    /// Tokens left in the end user's bucket.
    pub user_tokens_left: u64,
    /// Tokens left in the participant's bucket.
    pub participant_tokens_left: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum UserPolicy {
    V1,
    V2,
}

impl UserPolicy {
    fn of(t: KeyType) -> UserPolicy {
        match t {
            KeyType::Phone | KeyType::Email => UserPolicy::V1,
            _ => UserPolicy::V2,
        }
    }
    fn name(self) -> &'static str {
        match self {
            UserPolicy::V1 => "ENTRIES_READ_USER_ANTISCAN",
            UserPolicy::V2 => "ENTRIES_READ_USER_ANTISCAN_V2",
        }
    }
}

const PARTICIPANT_POLICY: &str = "ENTRIES_READ_PARTICIPANT_ANTISCAN";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UserId {
    pub(crate) participant: String,
    pub(crate) payer: String,
    pub(crate) policy: UserPolicy,
}

/// The anti-scan buckets. Separate from [`Directory`]: bucket state is not journaled.
#[derive(Debug, Clone, Default)]
pub struct AntiScan {
    pub(crate) config: AntiScanConfig,
    pub(crate) categories: HashMap<String, Category>,
    pub(crate) participants: HashMap<String, Bucket>,
    pub(crate) users: HashMap<UserId, (Bucket, OwnerType)>,
}

impl AntiScan {
    /// Buckets with the given parameters.
    pub fn new(config: AntiScanConfig) -> AntiScan {
        AntiScan { config, ..AntiScan::default() }
    }

    /// The parameters in force.
    pub fn config(&self) -> &AntiScanConfig {
        &self.config
    }

    /// Put a participant in a category (its bucket restarts full at the new size).
    pub fn set_category(&mut self, participant: &str, category: Category) {
        self.categories.insert(participant.to_string(), category);
        self.participants.remove(participant);
    }

    fn participant_policy(&self, participant: &str) -> BucketPolicy {
        let c = self.categories.get(participant).copied().unwrap_or(self.config.default_category);
        self.config.categories.get(c.index()).copied().unwrap_or(self.config.user_natural)
    }

    fn user_policy(&self, owner: OwnerType) -> BucketPolicy {
        match owner {
            OwnerType::Natural => self.config.user_natural,
            OwnerType::Legal => self.config.user_legal,
        }
    }

    /// Tokens now in the participant's bucket.
    pub fn participant_tokens(&self, participant: &str, now_ms: u64) -> u64 {
        let p = self.participant_policy(participant);
        let b = self.participants.get(participant).copied().unwrap_or(Bucket::full(&p, now_ms));
        let mut b = b;
        b.refill(&p, now_ms);
        b.tokens(&p)
    }

    /// Tokens now in the end user's bucket for lookups of this key type.
    pub fn user_tokens(
        &self,
        participant: &str,
        payer_id: &str,
        payer_type: OwnerType,
        key_type: KeyType,
        now_ms: u64,
    ) -> u64 {
        let p = self.user_policy(payer_type);
        let id = user_id(participant, payer_id, key_type);
        let mut b = self.users.get(&id).map_or(Bucket::full(&p, now_ms), |(b, _)| *b);
        b.refill(&p, now_ms);
        b.tokens(&p)
    }

    /// A payment was sent after a lookup: give back tokens to the end user and participant.
    pub fn payment_sent(
        &mut self,
        participant: &str,
        payer_id: &str,
        key_type: KeyType,
        now_ms: u64,
    ) {
        let pp = self.participant_policy(participant);
        if let Some(b) = self.participants.get_mut(participant) {
            b.refill(&pp, now_ms);
            b.credit(&pp, self.config.participant_payment_refund);
        }
        let id = user_id(participant, payer_id, key_type);
        let (natural, legal, refund) =
            (self.config.user_natural, self.config.user_legal, self.config.user_payment_refund);
        if let Some((b, owner)) = self.users.get_mut(&id) {
            let p = if *owner == OwnerType::Legal { legal } else { natural };
            b.refill(&p, now_ms);
            b.credit(&p, refund);
        }
    }

    /// Check both buckets hold a token; create them (full) if new.
    fn admit(&mut self, id: &UserId, payer: OwnerType, now_ms: u64) -> Result<(), LookupError> {
        let pp = self.participant_policy(&id.participant);
        if !self.participants.contains_key(&id.participant) {
            if self.participants.len() >= self.config.participant_buckets_max {
                self.participants.retain(|_, b| b.refilled(&pp, now_ms) < cap(&pp));
                if self.participants.len() >= self.config.participant_buckets_max {
                    return Err(LookupError::Busy);
                }
            }
            self.participants.insert(id.participant.clone(), Bucket::full(&pp, now_ms));
        }
        let up = self.user_policy(payer);
        if !self.users.contains_key(id) {
            if self.users.len() >= self.config.user_buckets_max {
                let (n, l) = (self.config.user_natural, self.config.user_legal);
                self.users.retain(|_, (b, o)| {
                    let p = if *o == OwnerType::Legal { l } else { n };
                    b.refilled(&p, now_ms) < cap(&p)
                });
                if self.users.len() >= self.config.user_buckets_max {
                    return Err(LookupError::Busy);
                }
            }
            self.users.insert(id.clone(), (Bucket::full(&up, now_ms), payer));
        }
        let refused = |scope, policy, p: &BucketPolicy, b: &Bucket| {
            LookupError::RateLimited(RateLimit {
                scope,
                policy,
                capacity: p.capacity,
                available: b.tokens(p),
                refill: p.refill,
                period_ms: p.period_ms,
                retry_after_ms: b.wait_ms(p),
            })
        };
        if let Some(b) = self.participants.get_mut(&id.participant) {
            b.refill(&pp, now_ms);
            if b.tokens(&pp) < 1 {
                return Err(refused(RateScope::Participant, PARTICIPANT_POLICY, &pp, b));
            }
        }
        if let Some((b, _)) = self.users.get_mut(id) {
            b.refill(&up, now_ms);
            if b.tokens(&up) < 1 {
                return Err(refused(RateScope::EndUser, id.policy.name(), &up, b));
            }
        }
        Ok(())
    }

    /// Charge a hit or a miss; returns the tokens left (user, participant).
    fn charge(&mut self, id: &UserId, payer: OwnerType, hit: bool) -> (u64, u64) {
        let c = &self.config;
        let (uc, pc) = if hit {
            (c.user_hit_cost, c.participant_hit_cost)
        } else {
            (c.user_miss_cost, c.participant_miss_cost)
        };
        let (pp, up) = (self.participant_policy(&id.participant), self.user_policy(payer));
        let mut left = (0, 0);
        if let Some((b, _)) = self.users.get_mut(id) {
            b.charge(&up, uc);
            left.0 = b.tokens(&up);
        }
        if let Some(b) = self.participants.get_mut(&id.participant) {
            b.charge(&pp, pc);
            left.1 = b.tokens(&pp);
        }
        left
    }
}

fn user_id(participant: &str, payer: &str, key_type: KeyType) -> UserId {
    UserId {
        participant: participant.to_string(),
        payer: payer.to_string(),
        policy: UserPolicy::of(key_type),
    }
}

/// A natural person's name for display: the first name in full, the others as initials.
pub fn mask_name(name: &str) -> String {
    let mut words = name.split_whitespace();
    let mut out = words.next().unwrap_or_default().to_string();
    for w in words {
        if let Some(c) = w.chars().next() {
            out.push(' ');
            out.push(c);
            out.push('.');
        }
    }
    out
}

/// A national id for display: only the middle digits (a CPF shows as `***.982.247-**`).
pub fn mask_national_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() == 11 {
        let mid: String = chars.iter().skip(3).take(6).collect();
        let (a, b) = mid.split_at(3.min(mid.len()));
        return format!("***.{a}.{b}-**");
    }
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 3 || i.saturating_add(2) >= n { '*' } else { *c })
        .collect()
}

impl<S: crate::EntryStore> Directory<S> {
    /// Look a key up for an end user of `req.participant`, charging both anti-scan buckets:
    /// refused with [`LookupError::RateLimited`] when either is empty, [`LookupError::NotFound`]
    /// (after charging a miss) when the key is not registered.
    pub fn lookup(
        &self,
        scan: &mut AntiScan,
        req: &LookupRequest,
        now_ms: u64,
    ) -> Result<LookupAnswer, LookupError> {
        let id = req.payer_id.0.as_str();
        let rules = self.rules();
        let payer = if rules.is_national_id_shape(id) && rules.national_id_valid(id) {
            OwnerType::Natural
        } else if rules.is_tax_id_shape(id) && rules.tax_id_valid(id) {
            OwnerType::Legal
        } else {
            return Err(LookupError::InvalidPayer);
        };
        let uid = user_id(&req.participant, id, req.key.key_type());
        scan.admit(&uid, payer, now_ms)?;
        let Some(e) = self.entries.view(&req.key) else {
            scan.charge(&uid, payer, false);
            return Err(LookupError::NotFound);
        };
        let (user_left, participant_left) = scan.charge(&uid, payer, true);
        let natural = e.owner_type == OwnerType::Natural;
        Ok(LookupAnswer {
            key: req.key.clone(),
            participant: e.participant.to_string(),
            branch: e.branch.to_string(),
            account: Masked(e.account.0.to_string()),
            account_type: e.account_type.to_string(),
            owner_type: e.owner_type,
            owner_name_masked: if natural {
                mask_name(e.owner_name.0)
            } else {
                e.owner_name.0.to_string()
            },
            owner_tax_id_masked: if natural {
                mask_national_id(e.owner_tax_id.0)
            } else {
                e.owner_tax_id.0.to_string()
            },
            trade_name: e.trade_name.0.to_string(),
            created_at_ms: e.created_at_ms,
            owned_since_ms: e.owned_since_ms,
            fraud: self.fraud_marks_of(&req.key, &e),
            user_tokens_left: user_left,
            participant_tokens_left: participant_left,
        })
    }
}
