//! The alias directory: keys people know (phone, e-mail, national id, tax id, random key)
//! mapped to a participant and account, so payers never type account numbers.
//!
//! A tour:
//!
//! ```
//! use directory::{Directory, Entry, Key, KeyType};
//!
//! let mut d = Directory::default();
//! let key = Key::parse("+5511987654321").unwrap();
//! assert_eq!(key.key_type(), KeyType::Phone);
//! d.register(Entry::new(key.clone(), "BANKAAAA", "0001", "12345", "Ana Souza")).unwrap();
//! let e = d.resolve(&key).unwrap();
//! assert_eq!(e.participant, "BANKAAAA");
//! assert_eq!(format!("{:?}", e.owner_name), "<redacted>");
//!
//! // Every change is an event: journal it, and replay it into a fresh directory after restart.
//! let applied = d.delete_entry(&key, "BANKAAAA", 1_000).unwrap();
//! let bytes = applied.events[0].to_bytes();
//! let event = directory::DirectoryEvent::from_bytes(&bytes).unwrap();
//! assert_eq!(event, applied.events[0]);
//! ```
//!
//! Pure: no I/O, no clock, no random source, no ledger. Time comes in as milliseconds and
//! randomness as a [`RandomSource`]. Every change is a [`DirectoryEvent`] that the caller journals
//! and that [`Directory::apply`] replays deterministically. Keys are validated and normalized on
//! parse (CPF and CNPJ check digits by default, behind [`IdRules`]; E.164 phones; lower-cased
//! e-mails up to 77 characters; UUIDv4 random keys). Personal data sits in [`Masked`], whose
//! `Debug` is redacted. Every collection has a configured limit ([`DirectoryConfig`]). The only
//! threads are the short-lived ones a bulk load shares its field checks and CIDs among
//! ([`Directory::register_stream`]); results never depend on them.
//!
//! Entries live in an [`EntryStore`]: [`SharedStore`] keeps them whole (the default;
//! [`Directory::resolve`] lends `&Entry`), [`CompactStore`] keeps 100 million keys in about 15 GB
//! (read with [`Directory::resolve_view`], [`Directory::resolve_many`] or
//! [`Directory::resolve_entry`]); [`bench::run`] measures it.
//!
//! Modules: [`keys`] (key formats), [`claims`] (portability and ownership), [`fraud`]
//! (infraction reports), [`antiscan`] (lookups and token buckets), [`events`] (the journal
//! form), [`sync`] (CIDs, VSync, changes since), [`api`] (typed requests and stable codes).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

pub mod antiscan;
pub mod api;
pub mod bench;
pub mod claims;
pub mod compact;
pub mod events;
mod fasthash;
pub mod fraud;
pub mod hugemem;
pub mod keys;
pub mod snapshot;
pub mod store;
pub mod sync;

pub use antiscan::{AntiScan, AntiScanConfig, LookupAnswer, LookupError, LookupRequest};
pub use claims::{Claim, ClaimReason, ClaimSide, ClaimStatus, ClaimType};
pub use compact::CompactStore;
pub use events::{ApplyError, DecodeError, DirectoryEvent};
pub use fraud::{FraudCounts, FraudMarks, InfractionReport, ReportStatus};
pub use keys::{
    cnpj_ok, cpf_ok, BrazilIds, IdRules, Key, KeyError, KeyType, RandomSource, SeededRandom,
};
pub use snapshot::SnapshotError;
pub use store::{EntryStore, EntryView, SharedStore};

/// A value that must not appear in logs: its `Debug` and `Display` print `<redacted>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Masked<T>(pub T);

impl<T> Masked<T> {
    /// The value itself, for the few places that must see it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Masked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Masked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Whether the account owner is a natural person or a legal entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum OwnerType {
    /// A natural person (identified by a national id, Brazil's CPF).
    #[default]
    Natural,
    /// A legal entity (identified by a tax id, Brazil's CNPJ).
    Legal,
}

/// Account types accepted in entries (DICT `AccountType`).
pub const ACCOUNT_TYPES: [&str; 4] = ["CACC", "SVGS", "TRAN", "SLRY"];

/// Where a key points: a participant's account and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: Key,
    /// Participant (BIC) holding the account.
    pub participant: String,
    /// Branch.
    pub branch: String,
    /// Account number.
    pub account: Masked<String>,
    /// Account type (CACC, SVGS, TRAN, SLRY).
    pub account_type: String,
    /// Owner's name.
    pub owner_name: Masked<String>,
    /// Natural person or legal entity.
    pub owner_type: OwnerType,
    /// Owner's national id (natural person) or tax id (legal entity); empty when unknown (then
    /// the key cannot be ported, and no national-id or tax-id key can point to the account).
    pub owner_tax_id: Masked<String>,
    /// Legal entity's trade name (may be empty).
    pub trade_name: Masked<String>,
    /// When the key was registered (ms since the epoch), set by the directory.
    pub created_at_ms: u64,
    /// Since when the owner holds the key (ms), set by the directory on register and claim.
    pub owned_since_ms: u64,
    /// The 16 bytes of the creating request's id; keys the entry's CID (see [`sync`]).
    pub request_id: [u8; 16],
}

impl Default for Entry {
    fn default() -> Self {
        Entry::new(Key::default(), "", "", "", "")
    }
}

impl Entry {
    /// An entry for a checking account (CACC). For a national-id key the owner is the natural
    /// person of that id; for a tax-id key, the legal entity of that id; otherwise a natural
    /// person whose id is not given (see [`Entry::with_owner`]).
    pub fn new(key: Key, participant: &str, branch: &str, account: &str, owner: &str) -> Entry {
        let (owner_type, tax_id) = match key.key_type() {
            KeyType::NationalId => (OwnerType::Natural, key.as_str().to_string()),
            KeyType::TaxId => (OwnerType::Legal, key.as_str().to_string()),
            _ => (OwnerType::Natural, String::new()),
        };
        Entry {
            key,
            participant: participant.to_string(),
            branch: branch.to_string(),
            account: Masked(account.to_string()),
            account_type: "CACC".to_string(),
            owner_name: Masked(owner.to_string()),
            owner_type,
            owner_tax_id: Masked(tax_id),
            trade_name: Masked(String::new()),
            created_at_ms: 0,
            owned_since_ms: 0,
            request_id: [0; 16],
        }
    }

    /// The same entry with the owner's type and national id or tax id.
    pub fn with_owner(mut self, owner_type: OwnerType, tax_id: &str) -> Entry {
        self.owner_type = owner_type;
        self.owner_tax_id = Masked(tax_id.to_string());
        self
    }

    /// The same entry with another account type (CACC, SVGS, TRAN, SLRY).
    pub fn with_account_type(mut self, account_type: &str) -> Entry {
        self.account_type = account_type.to_string();
        self
    }

    /// The account this entry points to.
    pub fn account_ref(&self) -> AccountRef {
        AccountRef {
            participant: self.participant.clone(),
            branch: self.branch.clone(),
            account: self.account.clone(),
            account_type: self.account_type.clone(),
        }
    }
}

/// One account: the unit the per-account key limit counts on (DICT counts per participant,
/// branch, account number and account type).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AccountRef {
    /// Participant holding the account.
    pub participant: String,
    /// Branch.
    pub branch: String,
    /// Account number.
    pub account: Masked<String>,
    /// Account type.
    pub account_type: String,
}

/// The new account (and owner name) for a key, in [`Directory::update_account`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountUpdate {
    /// Branch.
    pub branch: String,
    /// Account number.
    pub account: Masked<String>,
    /// Account type.
    pub account_type: String,
    /// Owner's name (the owner's id cannot change; a new owner claims the key).
    pub owner_name: Masked<String>,
    /// Trade name.
    pub trade_name: Masked<String>,
}

/// Every limit and period of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    /// Most keys in the directory.
    pub max_entries: usize,
    /// Most keys per account of a natural person (DICT: 5).
    pub keys_per_account_natural: u32,
    /// Most keys per account of a legal entity (DICT: 20).
    pub keys_per_account_legal: u32,
    /// How long the donor has to answer a claim (default 7 days).
    pub claim_resolution_period_ms: u64,
    /// How long the claimer has to complete a confirmed claim (default 30 days).
    pub claim_completion_period_ms: u64,
    /// Most claims not yet completed or cancelled.
    pub open_claims_max: usize,
    /// Most finished claims kept for reading (oldest dropped first).
    pub finished_claims_max: usize,
    /// Most infraction reports kept (open and finished).
    pub reports_max: usize,
    /// Longest report details and analysis text, in characters (DICT: 2000).
    pub report_text_max: usize,
    /// Longest participant id, in bytes.
    pub participant_len_max: usize,
    /// Longest branch, in bytes.
    pub branch_len_max: usize,
    /// Longest account number, in bytes.
    pub account_len_max: usize,
    /// Longest owner name, in characters (DICT: 120).
    pub owner_name_len_max: usize,
    /// Longest trade name, in characters (DICT: 100).
    pub trade_name_len_max: usize,
    /// Most changes kept per participant for "changes since" (older ones need a full resync).
    pub changes_per_participant_max: usize,
    /// How many random keys to draw before giving up when each collides.
    pub random_key_attempts_max: u32,
    /// Seed of the hash function of the key index. Production should draw it at random at
    /// start, so that crafted keys cannot be aimed at one bucket; results never depend on it.
    pub hash_seed: u64,
}

/// Milliseconds in a day.
pub const DAY_MS: u64 = 86_400_000;

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            max_entries: 10_000_000,
            keys_per_account_natural: 5,
            keys_per_account_legal: 20,
            claim_resolution_period_ms: 7 * DAY_MS,
            claim_completion_period_ms: 30 * DAY_MS,
            open_claims_max: 1_000_000,
            finished_claims_max: 1_000_000,
            reports_max: 1_000_000,
            report_text_max: 2_000,
            participant_len_max: 35,
            branch_len_max: 16,
            account_len_max: 34,
            owner_name_len_max: 120,
            trade_name_len_max: 100,
            changes_per_participant_max: 100_000,
            random_key_attempts_max: 8,
            hash_seed: 0x5eed_d1c7_0000_0001,
        }
    }
}

/// Why a directory change was refused. [`DirectoryError::code`] gives the stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The key is registered to another account. Delete it there first, or claim it.
    #[error("key already registered to another account")]
    KeyTaken,
    /// The key is not registered.
    #[error("key not found")]
    NotFound,
    /// Only the participant holding the key may change it.
    #[error("key belongs to another participant")]
    NotOwner,
    /// The directory is at its configured size limit.
    #[error("directory full ({0} keys)")]
    Full(usize),
    /// A field of the entry is not valid.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key is already registered by this participant to another of its accounts; update
    /// the entry instead.
    #[error("key already registered by this participant; update the entry instead")]
    KeyAlreadyExists,
    /// The key belongs to the same owner at another participant: open a portability claim.
    #[error("key held by the same owner at another participant; open a portability claim")]
    KeyInCustodyOfDifferentParticipant,
    /// The key belongs to another person: open an ownership claim.
    #[error("key owned by a different person; open an ownership claim")]
    KeyOwnedByDifferentPerson,
    /// The account already has as many keys as its owner type allows.
    #[error("account already has {limit} keys, the limit for its owner type")]
    AccountKeyLimit {
        /// The limit.
        limit: u32,
    },
    /// A national-id or tax-id key must be the account owner's own id.
    #[error("a national-id or tax-id key must be the account owner's own id")]
    TaxIdOfDifferentOwner,
    /// A claim on the key is under way: wait for it to be completed or cancelled.
    #[error("key locked by claim {claim_id}; wait until it is completed or cancelled")]
    LockedByClaim {
        /// The claim.
        claim_id: u64,
    },
    /// Every random key drawn collided with an existing one: draw again.
    #[error("random key collided {0} times; try again")]
    RandomKeyExhausted(u32),
    /// A claim or report operation was refused.
    #[error(transparent)]
    Claim(#[from] claims::ClaimError),
    /// An infraction-report operation was refused.
    #[error(transparent)]
    Report(#[from] fraud::ReportError),
}

impl DirectoryError {
    /// The stable code for this refusal (DICT's error type names where DICT has one).
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::KeyTaken => "EntryKeyTaken",
            DirectoryError::NotFound => "NotFound",
            DirectoryError::NotOwner => "Forbidden",
            DirectoryError::Full(_) => "DirectoryFull",
            DirectoryError::Invalid { .. } => "EntryInvalid",
            DirectoryError::KeyAlreadyExists => "EntryAlreadyExists",
            DirectoryError::KeyInCustodyOfDifferentParticipant => {
                "EntryKeyInCustodyOfDifferentParticipant"
            }
            DirectoryError::KeyOwnedByDifferentPerson => "EntryKeyOwnedByDifferentPerson",
            DirectoryError::AccountKeyLimit { .. } => "EntryLimitExceeded",
            DirectoryError::TaxIdOfDifferentOwner => "EntryTaxIdNumberByDifferentOwner",
            DirectoryError::LockedByClaim { .. } => "EntryLockedByClaim",
            DirectoryError::RandomKeyExhausted(_) => "RandomKeyExhausted",
            DirectoryError::Claim(e) => e.code(),
            DirectoryError::Report(e) => e.code(),
        }
    }
}

/// Something a participant must be told (a claim on its key, a report against its account).
/// The directory returns these; the caller delivers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The participant to tell.
    pub participant: String,
    /// What happened.
    pub kind: NoticeKind,
}

/// What a [`Notice`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoticeKind {
    /// A claim was opened on one of your keys (you are the donor).
    ClaimOpened(u64),
    /// The donor acknowledged your claim.
    ClaimAcknowledged(u64),
    /// The claim was confirmed (the key left the donor).
    ClaimConfirmed(u64),
    /// The claim was cancelled.
    ClaimCancelled(u64),
    /// The claim was completed (the key is now the claimer's).
    ClaimCompleted(u64),
    /// An infraction report was filed against one of your keys or accounts.
    ReportFiled(u64),
    /// Your infraction report was acknowledged.
    ReportAcknowledged(u64),
    /// Your infraction report was closed.
    ReportClosed(u64),
    /// An infraction report against you was cancelled.
    ReportCancelled(u64),
}

/// What one operation changed: the events to journal (in order) and the notices to deliver.
/// No events means the operation was a repeat that changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    /// Events, already applied here; journal them and replay them with [`Directory::apply`].
    pub events: Vec<DirectoryEvent>,
    /// Notices for participants.
    pub notices: Vec<Notice>,
}

/// What a bulk load did ([`Directory::register_bulk`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkLoad {
    /// Events of the keys registered, in input order, already applied: journal them.
    pub events: Vec<DirectoryEvent>,
    /// Refused entries: their position in the input and why.
    pub refused: Vec<(usize, DirectoryError)>,
}

/// The directory, over a store of entries: [`SharedStore`] by default (entries kept whole, so
/// [`Directory::resolve`] lends `&Entry`), or [`CompactStore`] (fixed-size records and an arena,
/// for 100 million keys on one machine; read with [`Directory::resolve_view`]).
#[derive(Debug, Clone)]
pub struct Directory<S: EntryStore = SharedStore> {
    entries: S,
    max_entries: usize,
    config: DirectoryConfig,
    rules: Arc<dyn IdRules>,
    claims: claims::ClaimBook,
    reports: fraud::ReportBook,
    sync: sync::SyncState,
}

impl Default for Directory {
    fn default() -> Self {
        Directory::new(DirectoryConfig::default())
    }
}

impl Directory<SharedStore> {
    /// A directory holding at most `max_entries` keys.
    pub fn with_limit(max_entries: usize) -> Self {
        Directory::new(DirectoryConfig { max_entries, ..DirectoryConfig::default() })
    }

    /// A directory with the given limits and Brazil's id rules.
    pub fn new(config: DirectoryConfig) -> Self {
        Directory::with_rules(config, Arc::new(BrazilIds))
    }

    /// A directory with the given limits and another country's id rules.
    pub fn with_rules(config: DirectoryConfig, rules: Arc<dyn IdRules>) -> Self {
        Directory::with_store(config, rules)
    }

    /// Resolve a key to its entry.
    pub fn resolve(&self, key: &Key) -> Option<&Entry> {
        self.entries.get_ref(key)
    }
}

impl Directory<CompactStore> {
    /// A directory over the compact store (see [`CompactStore`]), with Brazil's id rules.
    pub fn compact(config: DirectoryConfig) -> Self {
        Directory::with_store(config, Arc::new(BrazilIds))
    }

    /// Rebuild the store without the texts of removed or replaced entries (see
    /// [`CompactStore::garbage_bytes`]); every answer stays the same. It reads every entry and
    /// holds both stores meanwhile, so callers run it when the garbage is worth it.
    pub fn reclaim_garbage(&mut self) {
        self.entries = self.entries.rebuilt();
    }
}

impl<S: EntryStore> Directory<S> {
    /// A directory over the store `S`, with the given limits and id rules.
    pub fn with_store(config: DirectoryConfig, rules: Arc<dyn IdRules>) -> Self {
        Directory {
            entries: S::with_seed(config.hash_seed),
            max_entries: config.max_entries,
            config,
            rules,
            claims: claims::ClaimBook::default(),
            reports: fraud::ReportBook::default(),
            sync: sync::SyncState::default(),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    /// The id rules in force.
    pub fn rules(&self) -> &dyn IdRules {
        self.rules.as_ref()
    }

    /// Register a key. Registering the same key to the same account again changes nothing.
    /// The entry's dates are kept as given; [`Directory::register_entry`] stamps them and
    /// returns the event to journal.
    pub fn register(&mut self, entry: Entry) -> Result<(), DirectoryError> {
        if let Some(old) = self.entries.get(&entry.key) {
            if old.participant == entry.participant && old.account == entry.account {
                return Ok(());
            }
        }
        let now_ms = entry.created_at_ms;
        match self.register_entry(entry, now_ms) {
            Ok(_) => Ok(()),
            Err(
                DirectoryError::KeyAlreadyExists
                | DirectoryError::KeyInCustodyOfDifferentParticipant
                | DirectoryError::KeyOwnedByDifferentPerson,
            ) => Err(DirectoryError::KeyTaken),
            Err(e) => Err(e),
        }
    }

    /// Register a key at `now_ms`, checking every rule: valid fields, one key one account, the
    /// per-account key limit, a national-id or tax-id key belongs to the owner, no claim under
    /// way. A repeat (same key, same account) changes nothing and returns no event.
    pub fn register_entry(&mut self, entry: Entry, now_ms: u64) -> Result<Applied, DirectoryError> {
        match self.register_one(entry, now_ms, None)? {
            Some(event) => Ok(Applied { events: vec![event], notices: Vec::new() }),
            None => Ok(Applied::default()),
        }
    }

    /// Register many keys at `now_ms` (a bulk load): the same checks, outcome and events as
    /// calling [`Directory::register_entry`] on each entry in order, without building one
    /// [`Applied`] per entry. Room is reserved for the whole batch first. Journal
    /// `events` (in order) before acknowledging any of them.
    pub fn register_bulk(&mut self, entries: Vec<Entry>, now_ms: u64) -> BulkLoad {
        let mut events = Vec::with_capacity(entries.len());
        let refused = self.register_stream(entries, now_ms, |e| events.push(e));
        BulkLoad { events, refused }
    }

    /// [`Directory::register_bulk`] handing each event to `on_event` as it is made (to encode
    /// it into the journal at once) instead of collecting them: the same checks, outcomes and
    /// events, in order. Returns the refused entries (position in the input, why). The field
    /// checks and CIDs of each block of 8,192 entries, which need no other entry, are worked
    /// out first on up to 4 threads (as many as the machine has); the rest goes in order.
    pub fn register_stream(
        &mut self,
        entries: Vec<Entry>,
        now_ms: u64,
        mut on_event: impl FnMut(DirectoryEvent),
    ) -> Vec<(usize, DirectoryError)> {
        /// Entries whose memory is read ahead at once, so the reads overlap.
        const AHEAD: usize = 16;
        /// Entries checked and hashed (CIDs) together before insertion.
        const BLOCK: usize = 8_192;
        self.reserve(entries.len());
        let parallel = threads_available() >= 2 && entries.len() >= PREPARE_PARALLEL_MIN;
        let config = self.config.clone();
        let rules = Arc::clone(&self.rules);
        let (c, r) = (&config, rules.as_ref());
        let mut refused = Vec::new();
        let mut warm = 0u64;
        let mut it = entries.into_iter();
        std::thread::scope(|scope| {
            let mut cur: Vec<Entry> = it.by_ref().take(BLOCK).collect();
            let mut cur_pre = prepare_batch(c, r, &cur);
            let mut base = 0usize;
            while !cur.is_empty() {
                // The next block is checked and hashed on a helper thread meanwhile.
                let next: Arc<Vec<Entry>> = Arc::new(it.by_ref().take(BLOCK).collect());
                let helper = (parallel && !next.is_empty()).then(|| {
                    let shared = Arc::clone(&next);
                    scope.spawn(move || prepare_sequential(c, r, &shared))
                });
                let len = cur.len();
                let mut block = cur.into_iter();
                for (j, pre) in cur_pre.into_iter().enumerate() {
                    if j % AHEAD == 0 {
                        for e in block.as_slice().iter().take(AHEAD) {
                            warm ^= self.entries.warm(&e.key, store::account_parts(e));
                        }
                    }
                    let Some(entry) = block.next() else { break };
                    match self.register_one(entry, now_ms, Some(pre)) {
                        Ok(Some(event)) => on_event(event),
                        Ok(None) => {}
                        Err(e) => refused.push((base + j, e)),
                    }
                }
                base += len;
                // A helper that could not finish leaves its work to this thread.
                let pre = helper.and_then(|h| h.join().ok());
                cur = Arc::try_unwrap(next).unwrap_or_else(|shared| shared.as_ref().clone());
                cur_pre = pre.unwrap_or_else(|| prepare_batch(c, r, &cur));
            }
        });
        std::hint::black_box(warm);
        refused
    }

    /// [`Directory::register_entry`]'s checks and change: the event, or none for a repeat.
    /// `pre`, when given, is [`prepare_batch`]'s answer for this entry.
    fn register_one(
        &mut self,
        mut entry: Entry,
        now_ms: u64,
        pre: Option<Prepared>,
    ) -> Result<Option<DirectoryEvent>, DirectoryError> {
        let cid = match pre {
            Some((checked, cid)) => checked.map(|()| Some(cid))?,
            None => self.check_entry(&entry).map(|()| None)?,
        };
        if let Some(claim_id) = self.claims.lock_on(&entry.key) {
            return Err(DirectoryError::LockedByClaim { claim_id });
        }
        if let Some(old) = self.entries.get(&entry.key) {
            return if old.account_ref() == entry.account_ref() {
                Ok(None)
            } else if old.participant == entry.participant {
                Err(DirectoryError::KeyAlreadyExists)
            } else if !old.owner_tax_id.0.is_empty() && old.owner_tax_id == entry.owner_tax_id {
                Err(DirectoryError::KeyInCustodyOfDifferentParticipant)
            } else {
                Err(DirectoryError::KeyOwnedByDifferentPerson)
            };
        }
        if self.entries.len() >= self.max_entries {
            return Err(DirectoryError::Full(self.max_entries));
        }
        self.check_account_room(&entry)?;
        entry.created_at_ms = now_ms;
        entry.owned_since_ms = now_ms;
        let entry = Arc::new(entry);
        // What `apply` does with this event: its own checks (key free, no claim) were made
        // above, so the key is not looked up twice more.
        self.sync.seq = self.sync.seq.saturating_add(1);
        self.insert_entry_with(Arc::clone(&entry), cid);
        Ok(Some(DirectoryEvent::Registered { entry }))
    }

    /// Register a random key (UUIDv4 drawn from `rng`) for the account in `template` (whose
    /// key is ignored). Returns the new key and the event.
    pub fn register_random(
        &mut self,
        mut template: Entry,
        rng: &mut dyn RandomSource,
        now_ms: u64,
    ) -> Result<(Key, Applied), DirectoryError> {
        let attempts = self.config.random_key_attempts_max;
        for _ in 0..attempts {
            let mut bytes = [0u8; 16];
            rng.fill(&mut bytes);
            let key = Key::random_v4(bytes);
            if self.entries.contains_key(&key) || self.claims.lock_on(&key).is_some() {
                continue;
            }
            template.key = key.clone();
            return self.register_entry(template, now_ms).map(|a| (key, a));
        }
        Err(DirectoryError::RandomKeyExhausted(attempts))
    }

    /// Point a key to another account of the same owner (or rename the owner); only the
    /// participant holding the key may, and not while a claim is under way.
    pub fn update_account(
        &mut self,
        key: &Key,
        participant: &str,
        update: AccountUpdate,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        let old = self.owned_entry(key, participant)?;
        let mut new: Entry = old.as_ref().clone();
        new.branch = update.branch;
        new.account = update.account;
        new.account_type = update.account_type;
        new.owner_name = update.owner_name;
        new.trade_name = update.trade_name;
        self.check_entry(&new)?;
        if new == *old {
            return Ok(Applied::default());
        }
        if new.account_ref() != old.account_ref() {
            self.check_account_room(&new)?;
        }
        self.commit(DirectoryEvent::Updated { entry: Arc::new(new), at_ms: now_ms })
    }

    /// Delete a key; only its participant may.
    pub fn delete(&mut self, key: &Key, participant: &str) -> Result<Entry, DirectoryError> {
        let entry = self.owned_entry(key, participant)?.into_owned();
        self.delete_entry(key, participant, entry.created_at_ms)?;
        Ok(entry)
    }

    /// Delete a key at `now_ms`; only its participant may, and not while a claim is under way.
    pub fn delete_entry(
        &mut self,
        key: &Key,
        participant: &str,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        self.owned_entry(key, participant)?;
        self.commit(DirectoryEvent::Deleted {
            key: key.clone(),
            participant: participant.to_string(),
            at_ms: now_ms,
        })
    }

    /// Resolve a key to a borrowed view of its entry (no allocation, any store).
    #[inline]
    pub fn resolve_view(&self, key: &Key) -> Option<EntryView<'_>> {
        self.entries.view(key)
    }

    /// Resolve many keys at once, in order, into `out` (cleared first): the same answers as
    /// [`Directory::resolve_view`], with the memory reads of the keys overlapped.
    pub fn resolve_many<'s>(&'s self, keys: &[Key], out: &mut Vec<Option<EntryView<'s>>>) {
        self.entries.view_many(keys, out)
    }

    /// Resolve a key to its whole entry (borrowed from a store that keeps entries whole, built
    /// by one that does not).
    pub fn resolve_entry(&self, key: &Key) -> Option<Cow<'_, Entry>> {
        self.entries.get(key)
    }

    /// The store of entries.
    pub fn store(&self) -> &S {
        &self.entries
    }

    /// What `participant` still has to act on, oldest claim or report first, at most `max`:
    /// derived from the journaled state (so it survives a restart with it), for the switch to
    /// deliver on the participant's pull stream until it is acted on:
    /// - [`NoticeKind::ClaimOpened`]: a claim on one of its keys awaits its answer (open or
    ///   waiting for resolution, it is the donor);
    /// - [`NoticeKind::ClaimConfirmed`]: its claim was confirmed and awaits completion;
    /// - [`NoticeKind::ReportFiled`]: a report against it awaits acknowledgement or closing.
    ///
    /// It scans the claims and reports kept (both bounded by the configuration), so callers
    /// poll it at a bounded rate.
    pub fn pending_notices(&self, participant: &str, max: usize) -> Vec<Notice> {
        let mut found: Vec<(u64, u8, NoticeKind)> = Vec::new();
        for c in self.claims.claims.values() {
            let kind = match c.status {
                ClaimStatus::Open | ClaimStatus::WaitingResolution
                    if c.donor_participant == participant =>
                {
                    NoticeKind::ClaimOpened(c.id)
                }
                ClaimStatus::Confirmed if c.claimer.participant == participant => {
                    NoticeKind::ClaimConfirmed(c.id)
                }
                _ => continue,
            };
            found.push((c.opened_at_ms, 0, kind));
        }
        for r in self.reports.reports.values() {
            let waiting = matches!(r.status, ReportStatus::Open | ReportStatus::Acknowledged);
            if waiting && r.counterparty == participant {
                found.push((r.opened_at_ms, 1, NoticeKind::ReportFiled(r.id)));
            }
        }
        found.sort_by_key(|(at, src, kind)| (*at, *src, notice_id(kind)));
        found
            .into_iter()
            .take(max)
            .map(|(_, _, kind)| Notice { participant: participant.to_string(), kind })
            .collect()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many keys point to the account.
    pub fn keys_of_account(&self, account: &AccountRef) -> u32 {
        self.entries.keys_of_account([
            &account.participant,
            &account.branch,
            &account.account.0,
            &account.account_type,
        ])
    }

    /// Make room for `additional` more keys at once (a bulk load), instead of growing the index
    /// step by step. Capped at the configured `max_entries`.
    pub fn reserve(&mut self, additional: usize) {
        let room = self.max_entries.saturating_sub(self.entries.len());
        self.entries.reserve(additional.min(room));
    }

    /// The entry, if `participant` holds it and no claim locks it.
    fn owned_entry(&self, key: &Key, participant: &str) -> Result<Cow<'_, Entry>, DirectoryError> {
        let entry = self.entries.get(key).ok_or(DirectoryError::NotFound)?;
        if entry.participant != participant {
            return Err(DirectoryError::NotOwner);
        }
        if let Some(claim_id) = self.claims.lock_on(key) {
            return Err(DirectoryError::LockedByClaim { claim_id });
        }
        Ok(entry)
    }

    /// Whether the entry's account has room for one more key.
    pub(crate) fn check_account_room(&self, entry: &Entry) -> Result<(), DirectoryError> {
        let limit = match entry.owner_type {
            OwnerType::Natural => self.config.keys_per_account_natural,
            OwnerType::Legal => self.config.keys_per_account_legal,
        };
        if self.entries.keys_of_account(store::account_parts(entry)) >= limit {
            return Err(DirectoryError::AccountKeyLimit { limit });
        }
        Ok(())
    }

    /// Field checks and the owner rules, without looking at other entries.
    pub(crate) fn check_entry(&self, e: &Entry) -> Result<(), DirectoryError> {
        check_fields(&self.config, self.rules.as_ref(), e)
    }

    /// Apply an event made here and wrap it with its notices.
    pub(crate) fn commit(&mut self, event: DirectoryEvent) -> Result<Applied, DirectoryError> {
        match self.apply_with_notices(&event) {
            Ok(notices) => Ok(Applied { events: vec![event], notices }),
            // An event built by the checks above always applies; if not, nothing changed.
            Err(_) => Err(DirectoryError::Invalid { field: "event", reason: "does not apply" }),
        }
    }

    /// Insert an entry (applying an event): indexes and digests follow.
    pub(crate) fn insert_entry(&mut self, entry: Arc<Entry>) {
        self.insert_entry_with(entry, None)
    }

    /// [`Directory::insert_entry`] with the entry's CID when it is known already.
    fn insert_entry_with(&mut self, entry: Arc<Entry>, cid: Option<sync::Cid>) {
        let max = self.config.changes_per_participant_max;
        let cid = cid.unwrap_or_else(|| sync::cid(&entry));
        self.sync.record_cid(&entry, cid, sync::ChangeKind::Added, max);
        self.entries.insert(entry);
    }

    /// Remove an entry (applying an event): indexes and digests follow.
    pub(crate) fn remove_entry(&mut self, key: &Key) -> Option<Arc<Entry>> {
        let entry = self.entries.remove(key)?;
        self.sync.record(
            &entry,
            sync::ChangeKind::Removed,
            self.config.changes_per_participant_max,
        );
        Some(entry)
    }
}

/// A bulk load's work on one entry that needs no other entry: its field checks and its CID.
type Prepared = (Result<(), DirectoryError>, sync::Cid);

/// Most threads [`prepare_batch`] uses.
const PREPARE_THREADS_MAX: usize = 4;
/// Fewest entries worth sharing among threads.
const PREPARE_PARALLEL_MIN: usize = 2_048;

/// Check the fields of `entries` and compute their CIDs, on up to [`PREPARE_THREADS_MAX`]
/// threads (as many as the machine has): the same answers, in order, as one at a time.
fn prepare_batch(c: &DirectoryConfig, rules: &dyn IdRules, entries: &[Entry]) -> Vec<Prepared> {
    let one = |e: &Entry| (check_fields(c, rules, e), sync::cid(e));
    let threads = threads_available().min(PREPARE_THREADS_MAX);
    if threads < 2 || entries.len() < PREPARE_PARALLEL_MIN {
        return entries.iter().map(one).collect();
    }
    let per = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut chunks = entries.chunks(per);
        let first = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks
            .map(|chunk| (chunk, scope.spawn(move || chunk.iter().map(one).collect::<Vec<_>>())))
            .collect();
        let mut out: Vec<Prepared> = Vec::with_capacity(entries.len());
        out.extend(first.iter().map(one));
        for (chunk, handle) in others {
            match handle.join() {
                Ok(v) => out.extend(v),
                // A thread that could not finish: do its share here.
                Err(_) => out.extend(chunk.iter().map(one)),
            }
        }
        out
    })
}

/// [`prepare_batch`] on this thread only.
fn prepare_sequential(
    c: &DirectoryConfig,
    rules: &dyn IdRules,
    entries: &[Entry],
) -> Vec<Prepared> {
    entries.iter().map(|e| (check_fields(c, rules, e), sync::cid(e))).collect()
}

/// How many threads the machine runs at once (1 when it cannot tell).
fn threads_available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Field checks and the owner rules of one entry, without looking at other entries.
fn check_fields(c: &DirectoryConfig, rules: &dyn IdRules, e: &Entry) -> Result<(), DirectoryError> {
    let invalid = |field, reason| Err(DirectoryError::Invalid { field, reason });
    if !ident_ok(&e.participant, c.participant_len_max, false) {
        return invalid("participant", "must be 1 to 35 letters or digits");
    }
    if !ident_ok(&e.branch, c.branch_len_max, true) {
        return invalid("branch", "must be at most 16 letters or digits");
    }
    if !ident_ok(&e.account.0, c.account_len_max, false) {
        return invalid("account", "must be 1 to 34 letters, digits or '-'");
    }
    if !ACCOUNT_TYPES.contains(&e.account_type.as_str()) {
        return invalid("account_type", "must be CACC, SVGS, TRAN or SLRY");
    }
    if !name_ok(&e.owner_name.0, c.owner_name_len_max, false) {
        return invalid("owner_name", "must be 1 to 120 characters, no control characters");
    }
    if !name_ok(&e.trade_name.0, c.trade_name_len_max, true) {
        return invalid("trade_name", "must be at most 100 characters, no control characters");
    }
    let id = e.owner_tax_id.0.as_str();
    let id_ok = match e.owner_type {
        OwnerType::Natural => rules.is_national_id_shape(id) && rules.national_id_valid(id),
        OwnerType::Legal => rules.is_tax_id_shape(id) && rules.tax_id_valid(id),
    };
    if !id.is_empty() && !id_ok {
        return invalid("owner_tax_id", "not a valid id for the owner type");
    }
    let own_id_key = match e.key.key_type() {
        KeyType::NationalId => Some(OwnerType::Natural),
        KeyType::TaxId => Some(OwnerType::Legal),
        _ => None,
    };
    if let Some(t) = own_id_key {
        if t != e.owner_type || id != e.key.as_str() {
            return Err(DirectoryError::TaxIdOfDifferentOwner);
        }
    }
    Ok(())
}

/// The claim or report id a notice is about.
fn notice_id(kind: &NoticeKind) -> u64 {
    match *kind {
        NoticeKind::ClaimOpened(id)
        | NoticeKind::ClaimAcknowledged(id)
        | NoticeKind::ClaimConfirmed(id)
        | NoticeKind::ClaimCancelled(id)
        | NoticeKind::ClaimCompleted(id)
        | NoticeKind::ReportFiled(id)
        | NoticeKind::ReportAcknowledged(id)
        | NoticeKind::ReportClosed(id)
        | NoticeKind::ReportCancelled(id) => id,
    }
}

fn ident_ok(s: &str, max: usize, may_be_empty: bool) -> bool {
    (may_be_empty || !s.is_empty())
        && s.len() <= max
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

fn name_ok(s: &str, max: usize, may_be_empty: bool) -> bool {
    (may_be_empty || !s.trim().is_empty())
        && s.chars().count() <= max
        && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats_and_check_digits() {
        assert_eq!(Key::parse("52998224725").unwrap().key_type(), KeyType::NationalId);
        assert_eq!(Key::parse("52998224724"), Err(KeyError::NationalIdCheckDigits));
        assert_eq!(Key::parse("11111111111"), Err(KeyError::NationalIdCheckDigits));
        assert_eq!(Key::parse("11222333000181").unwrap().key_type(), KeyType::TaxId);
        assert_eq!(Key::parse("11222333000182"), Err(KeyError::TaxIdCheckDigits));
        assert_eq!(Key::parse("Ana.Souza@Example.COM").unwrap().as_str(), "ana.souza@example.com");
        assert_eq!(Key::parse("ana@"), Err(KeyError::Email));
        assert_eq!(Key::parse("+0123"), Err(KeyError::Phone));
        let r = Key::parse("8A562C67-CA16-48BA-B074-65581BE6F011").unwrap();
        assert_eq!(
            (r.key_type(), r.as_str()),
            (KeyType::Random, "8a562c67-ca16-48ba-b074-65581be6f011")
        );
        assert_eq!(Key::parse("hello"), Err(KeyError::UnknownFormat));
        assert_eq!(Key::parse(&"a".repeat(78)), Err(KeyError::Length));
    }

    #[test]
    fn a_key_points_to_one_account_and_only_its_owner_deletes_it() {
        let mut d = Directory::with_limit(2);
        let k = Key::parse("+5511987654321").unwrap();
        d.register(Entry::new(k.clone(), "BANKAAAA", "1", "100", "Ana")).unwrap();
        d.register(Entry::new(k.clone(), "BANKAAAA", "1", "100", "Ana")).unwrap();
        assert_eq!(
            d.register(Entry::new(k.clone(), "BANKBBBB", "1", "200", "Bia")),
            Err(DirectoryError::KeyTaken)
        );
        assert_eq!(d.delete(&k, "BANKBBBB"), Err(DirectoryError::NotOwner));
        d.delete(&k, "BANKAAAA").unwrap();
        assert!(d.resolve(&k).is_none());
        d.register(Entry::new(Key::parse("a@b.co").unwrap(), "X", "1", "1", "A")).unwrap();
        d.register(Entry::new(Key::parse("c@b.co").unwrap(), "X", "1", "2", "C")).unwrap();
        assert_eq!(
            d.register(Entry::new(Key::parse("d@b.co").unwrap(), "X", "1", "3", "D")),
            Err(DirectoryError::Full(2))
        );
    }

    const CPF: &str = "52998224725";
    const CNPJ: &str = "11222333000181";

    fn email(i: u32) -> Key {
        Key::parse(&format!("user{i}@example.com")).unwrap()
    }

    #[test]
    fn register_entry_gives_precise_refusals() {
        let mut d = Directory::default();
        let k = email(1);
        let ana = Entry::new(k.clone(), "BANKAAAA", "1", "100", "Ana")
            .with_owner(OwnerType::Natural, CPF);
        let applied = d.register_entry(ana.clone(), 5_000).unwrap();
        assert_eq!(applied.events.len(), 1);
        let stored = d.resolve(&k).unwrap();
        assert_eq!((stored.created_at_ms, stored.owned_since_ms), (5_000, 5_000));
        assert!(d.register_entry(ana.clone(), 6_000).unwrap().events.is_empty(), "repeat");
        let other_account = Entry { account: Masked("101".into()), ..ana.clone() };
        assert_eq!(d.register_entry(other_account, 1), Err(DirectoryError::KeyAlreadyExists));
        let same_owner_elsewhere = Entry { participant: "BANKBBBB".into(), ..ana.clone() };
        assert_eq!(
            d.register_entry(same_owner_elsewhere, 1),
            Err(DirectoryError::KeyInCustodyOfDifferentParticipant)
        );
        let someone_else = Entry::new(k, "BANKBBBB", "1", "9", "Bia");
        assert_eq!(
            d.register_entry(someone_else, 1),
            Err(DirectoryError::KeyOwnedByDifferentPerson)
        );
        assert_eq!(
            DirectoryError::KeyOwnedByDifferentPerson.code(),
            "EntryKeyOwnedByDifferentPerson"
        );
    }

    #[test]
    fn per_account_key_limits_follow_the_owner_type_and_are_configurable() {
        let mut d = Directory::default();
        for i in 0..5 {
            d.register_entry(Entry::new(email(i), "BANKAAAA", "1", "100", "Ana"), 1).unwrap();
        }
        assert_eq!(
            d.register_entry(Entry::new(email(5), "BANKAAAA", "1", "100", "Ana"), 1),
            Err(DirectoryError::AccountKeyLimit { limit: 5 })
        );
        // Another account of the same person has its own count.
        d.register_entry(Entry::new(email(5), "BANKAAAA", "1", "101", "Ana"), 1).unwrap();
        let acme = |i: u32| {
            Entry::new(email(100 + i), "BANKAAAA", "1", "200", "Acme")
                .with_owner(OwnerType::Legal, CNPJ)
        };
        for i in 0..20 {
            d.register_entry(acme(i), 1).unwrap();
        }
        assert_eq!(
            d.register_entry(acme(20), 1),
            Err(DirectoryError::AccountKeyLimit { limit: 20 })
        );
        let mut small = Directory::new(DirectoryConfig {
            keys_per_account_natural: 1,
            ..DirectoryConfig::default()
        });
        small.register_entry(Entry::new(email(0), "B", "1", "1", "A"), 1).unwrap();
        assert_eq!(
            small.register_entry(Entry::new(email(1), "B", "1", "1", "A"), 1),
            Err(DirectoryError::AccountKeyLimit { limit: 1 })
        );
        // Deleting frees room.
        small.delete_entry(&email(0), "B", 2).unwrap();
        small.register_entry(Entry::new(email(1), "B", "1", "1", "A"), 3).unwrap();
    }

    #[test]
    fn a_tax_id_key_must_be_the_owners_own_id() {
        let mut d = Directory::default();
        let cpf_key = Key::parse(CPF).unwrap();
        let wrong = Entry::new(cpf_key.clone(), "B", "1", "1", "Ana")
            .with_owner(OwnerType::Natural, "39053344705");
        assert_eq!(d.register_entry(wrong, 1), Err(DirectoryError::TaxIdOfDifferentOwner));
        let legal =
            Entry::new(cpf_key.clone(), "B", "1", "1", "Ana").with_owner(OwnerType::Legal, CNPJ);
        assert_eq!(d.register_entry(legal, 1), Err(DirectoryError::TaxIdOfDifferentOwner));
        d.register_entry(Entry::new(cpf_key.clone(), "B", "1", "1", "Ana"), 1).unwrap();
        assert_eq!(d.resolve(&cpf_key).unwrap().owner_tax_id.0, CPF);
        let cnpj = Entry::new(Key::parse(CNPJ).unwrap(), "B", "1", "2", "Acme");
        assert_eq!(cnpj.owner_type, OwnerType::Legal);
        d.register_entry(cnpj, 1).unwrap();
    }

    #[test]
    fn invalid_fields_are_named() {
        let mut d = Directory::default();
        let base = Entry::new(email(1), "BANKAAAA", "1", "100", "Ana");
        let cases: Vec<(Entry, &str)> = vec![
            (Entry { participant: String::new(), ..base.clone() }, "participant"),
            (Entry { branch: "1 2".into(), ..base.clone() }, "branch"),
            (Entry { account: Masked("x".repeat(35)), ..base.clone() }, "account"),
            (base.clone().with_account_type("XXXX"), "account_type"),
            (Entry { owner_name: Masked("a".repeat(121)), ..base.clone() }, "owner_name"),
            (Entry { owner_name: Masked("Ana\nB".into()), ..base.clone() }, "owner_name"),
            (Entry { trade_name: Masked("t".repeat(101)), ..base.clone() }, "trade_name"),
            (base.clone().with_owner(OwnerType::Natural, "52998224724"), "owner_tax_id"),
            (base.clone().with_owner(OwnerType::Legal, CPF), "owner_tax_id"),
        ];
        for (e, field) in cases {
            match d.register_entry(e, 1) {
                Err(DirectoryError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(d.is_empty());
    }

    #[test]
    fn update_moves_the_key_to_another_account_within_limits() {
        let mut d = Directory::default();
        let k = email(1);
        d.register_entry(Entry::new(k.clone(), "BANKAAAA", "1", "100", "Ana"), 1).unwrap();
        let upd = AccountUpdate {
            branch: "2".into(),
            account: Masked("200".into()),
            account_type: "SVGS".into(),
            owner_name: Masked("Ana Souza".into()),
            trade_name: Masked::default(),
        };
        assert_eq!(d.update_account(&k, "BANKBBBB", upd.clone(), 2), Err(DirectoryError::NotOwner));
        d.update_account(&k, "BANKAAAA", upd.clone(), 2).unwrap();
        let e = d.resolve(&k).unwrap();
        assert_eq!(
            (e.branch.as_str(), e.account.0.as_str(), e.account_type.as_str()),
            ("2", "200", "SVGS")
        );
        assert_eq!(e.created_at_ms, 1);
        let old = AccountRef {
            participant: "BANKAAAA".into(),
            branch: "1".into(),
            account: Masked("100".into()),
            account_type: "CACC".into(),
        };
        assert_eq!(d.keys_of_account(&old), 0);
        assert_eq!(d.keys_of_account(&e.account_ref()), 1);
        assert!(d.update_account(&k, "BANKAAAA", upd, 3).unwrap().events.is_empty());
    }

    #[test]
    fn random_keys_come_from_the_callers_source() {
        let mut d = Directory::default();
        let template = Entry::new(Key::default(), "BANKAAAA", "1", "100", "Ana");
        let (k1, _) = d.register_random(template.clone(), &mut SeededRandom(1), 1).unwrap();
        assert_eq!(k1.key_type(), KeyType::Random);
        assert_eq!(d.resolve(&k1).unwrap().participant, "BANKAAAA");
        // The same seed draws the same key: the directory draws again until one is free.
        let (k2, _) = d.register_random(template.clone(), &mut SeededRandom(1), 1).unwrap();
        assert_ne!(k1, k2);
        struct Stuck;
        impl RandomSource for Stuck {
            fn fill(&mut self, out: &mut [u8; 16]) {
                *out = [0; 16];
            }
        }
        d.register_random(template.clone(), &mut Stuck, 1).unwrap();
        assert_eq!(
            d.register_random(template, &mut Stuck, 1),
            Err(DirectoryError::RandomKeyExhausted(8))
        );
    }

    #[test]
    fn personal_data_is_masked_in_debug() {
        let e = Entry::new(Key::parse(CPF).unwrap(), "BANKAAAA", "1", "98765", "Ana Souza");
        let text = format!("{e:?}");
        for secret in [CPF, "98765", "Ana Souza"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
        assert!(text.contains("BANKAAAA"));
        assert_eq!(Masked("x").to_string(), "<redacted>");
    }
}
