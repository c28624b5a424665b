//! Configuration of a switch: where it listens and keeps data, its scheme profile, its
//! participants and every limit. Every key is documented in `ops/switchd.toml`.
//!
//! With no config file the switch runs on the embedded default ([`Config::dev`]): three
//! development banks, a journal under the data directory, listening on 127.0.0.1:8443.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Smallest `limits.message_max_bytes`: a minimal pacs.008 with its header.
pub const MESSAGE_MIN_BYTES: usize = 4 << 10;

/// Largest `limits.message_max_bytes`: half a journal record, so that a transaction forwarded
/// as the bank wrote it, with the switch's header and the event around it, always fits.
pub const MESSAGE_MAX_BYTES: usize = store::RECORD_MAX_BYTES / 2;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the participant endpoint.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Data directory: journal, development PKI.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// Scheme profile.
    #[serde(default)]
    pub scheme: Scheme,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// Returns, recalls, status enquiries and fraud holds.
    #[serde(default)]
    pub exceptions: Exceptions,
    /// The journal: snapshots.
    #[serde(default)]
    pub journal: JournalSettings,
    /// How long finished transfers stay in memory.
    #[serde(default)]
    pub retention: RetentionSettings,
    /// Participants.
    #[serde(default)]
    pub participants: Vec<ParticipantConfig>,
    /// Register the development aliases (`dev_customers` per bank) on start.
    #[serde(default)]
    pub dev_aliases: bool,
    /// SHA-256 fingerprints (hex) of revoked client certificates: refused at the handshake.
    #[serde(default)]
    pub revoked_certificates: Vec<String>,
    /// Plain-HTTP address for Prometheus to scrape `/metrics` (keep it on loopback or a
    /// management network); absent: metrics only on the mTLS operator endpoint.
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

/// Scheme profile: the rules a scheme sets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheme {
    /// Scheme name, carried as the clearing system in forwarded messages.
    pub name: String,
    /// Settlement currency (ISO 4217).
    pub currency: String,
    /// Time the creditor bank has to answer a forwarded pacs.008.
    pub creditor_timeout_ms: u64,
    /// Time within which the debtor bank must have its final answer. The switch answers at
    /// the creditor's deadline at the latest (plus one timer tick of 50 ms and a journal
    /// sync), so this must leave a second above `creditor_timeout_ms`.
    #[serde(default = "debtor_deadline")]
    pub debtor_deadline_ms: u64,
    /// Largest amount of one transaction, minor units (AM13 above it).
    pub transaction_amount_max_minor: u64,
    /// Night limit for payments by natural persons (debtor without an organisation id),
    /// minor units; above it: AM02. Absent: no night limit.
    #[serde(default)]
    pub night_amount_max_minor: Option<u64>,
    /// Local hour (0-23) the night starts.
    #[serde(default = "night_start")]
    pub night_start_hour: u8,
    /// Local hour (0-23) the night ends.
    #[serde(default = "night_end")]
    pub night_end_hour: u8,
    /// Offset of the scheme's local time from UTC, minutes (Brasília: -180).
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Settlement model: `gross` (prefunded, each payment settles in central-bank money at
    /// once: Pix, TIPS, FedNow) or `deferred_net` (positions move against each participant's
    /// net debit cap and settle by window: UPI, Mojaloop).
    #[serde(default)]
    pub settlement: SettlementKind,
}

/// How a scheme settles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementKind {
    /// Prefunded, gross: a payment needs the money in the account (AM04 otherwise).
    #[default]
    Gross,
    /// Deferred net: a payment needs headroom under the net debit cap (AM23 otherwise);
    /// operators close and settle windows.
    DeferredNet,
}

fn debtor_deadline() -> u64 {
    10_000
}

fn night_start() -> u8 {
    20
}

fn night_end() -> u8 {
    6
}

impl Default for Scheme {
    fn default() -> Self {
        Scheme {
            name: "IPS".into(),
            currency: "BRL".into(),
            creditor_timeout_ms: 7_000,
            debtor_deadline_ms: debtor_deadline(),
            transaction_amount_max_minor: 100_000_000,
            night_amount_max_minor: None,
            night_start_hour: night_start(),
            night_end_hour: night_end(),
            utc_offset_minutes: -180,
            settlement: SettlementKind::Gross,
        }
    }
}

/// Limits. Hitting one gives an explicit answer (503, 413, admi.002 or a reject code).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Commands queued for the core; when full, banks get 503 with Retry-After.
    pub ingress_max: usize,
    /// Commands the core takes into one journal batch (one fsync).
    pub batch_max: usize,
    /// Concurrent participant connections.
    pub connections_max: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub streams_per_connection_max: u32,
    /// Largest message body, bytes.
    pub message_max_bytes: usize,
    /// Transactions in one pacs.008.
    pub transactions_per_message_max: usize,
    /// Unacknowledged messages waiting for one participant; above it, new transfers to that
    /// participant are rejected with AB08 (creditor agent offline).
    pub outbox_max: usize,
    /// Messages returned by one pull.
    pub pull_max: u32,
    /// Longest long-poll wait.
    pub pull_wait_max_ms: u64,
    /// How long one message stream (`GET /v1/stream`) stays open before it ends cleanly and
    /// the bank opens the next.
    #[serde(default = "stream_lifetime_ms")]
    pub stream_lifetime_ms: u64,
    /// Message streams one participant may have open at once; one more gets 429.
    #[serde(default = "streams_per_participant_max")]
    pub streams_per_participant_max: u32,
    /// Status enquiries (pacs.028 transactions) a participant may send per second on
    /// average; above it, 429 with Retry-After. Enquiries never take a payment's place.
    #[serde(default = "enquiries_per_second")]
    pub enquiries_per_second: u32,
    /// Burst of status enquiries above the average.
    #[serde(default = "enquiry_burst")]
    pub enquiry_burst: u32,
    /// Payments per second the switch is sized for (not a limit). At start it allocates the
    /// ledger's live set for this rate (a minute of finalized transfers plus those in flight)
    /// and the queues of finished transfers up to `[retention]`, so that no table doubles
    /// under load: a doubling of hundreds of thousands of entries stalls every payment
    /// behind it. 0: allocate as the tables grow.
    #[serde(default = "peak_tps")]
    pub peak_tps: u32,
}

fn stream_lifetime_ms() -> u64 {
    60_000
}

fn streams_per_participant_max() -> u32 {
    4
}

fn peak_tps() -> u32 {
    25_000
}

fn enquiries_per_second() -> u32 {
    20
}

fn enquiry_burst() -> u32 {
    100
}

/// The journal (`[journal]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSettings {
    /// The core thread writes a snapshot of the whole core state once this many journal
    /// records were appended since the last one, so a restart replays only the records after
    /// it; 0: never (the default). The journal then deletes the segments the older kept
    /// snapshot covers. The core thread stops taking messages while it encodes one (the journal
    /// thread writes it, and answers wait behind the write), for a time
    /// that grows with the transfers it holds (about 2.5 s per million transfers, see
    /// BENCHMARKS.md "switch-snapshot"), so under load only small cores should use it.
    #[serde(default)]
    pub snapshot_every_records: u64,
    /// At start, after replaying at least this many journal records, write a snapshot before
    /// taking any message: the next restart then replays only what came after it, and no
    /// payment waits for the snapshot. 0: never. Default 100,000.
    #[serde(default = "snapshot_at_start_min_records")]
    pub snapshot_at_start_min_records: u64,
    /// Keep the journal's full history: segments a snapshot covers move to
    /// `<data>/journal-archive` (same file system, a rename) instead of being deleted, and the
    /// offline tools (`switchctl ledger audit`, `transfers verify`, `transfer show`) replay the
    /// archive then the journal, from the first record. Default true: the journal is the record
    /// of every payment; turn it off only where another copy is kept.
    #[serde(default = "archive")]
    pub archive: bool,
    /// Bytes per journal segment file before a new one starts (the unit the archive moves).
    #[serde(default = "segment_bytes_max")]
    pub segment_bytes_max: u64,
}

fn archive() -> bool {
    true
}

fn segment_bytes_max() -> u64 {
    store::JournalOptions::default().segment_bytes_max
}

fn snapshot_at_start_min_records() -> u64 {
    100_000
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings {
            snapshot_every_records: 0,
            snapshot_at_start_min_records: snapshot_at_start_min_records(),
            archive: archive(),
            segment_bytes_max: segment_bytes_max(),
        }
    }
}

/// How long finished transfers stay in the switch's memory (`[retention]`); the journal
/// and its archive keep every one. See [`crate::core::Retention`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// A finished transfer's full record stays at most this long: returns, recalls, status
    /// enquiries and resends work on it. Default 90 days, the default return window
    /// (`exceptions.return_window_ms`); `finished_kept_max` usually comes first.
    #[serde(default = "finished_keep_ms")]
    pub finished_keep_ms: u64,
    /// Full records of finished transfers held at most (about 750 bytes each); beyond it
    /// the oldest go even before `finished_keep_ms`, and a return, recall or enquiry about
    /// one is refused saying so. Default 5,000,000 (about 3.7 GB): at 1,000 payments per
    /// second, the last 83 minutes. Size it to the machine's memory.
    #[serde(default = "finished_kept_max")]
    pub finished_kept_max: u64,
    /// Compact duplicate-detection records of retired transfers held at most (about 120
    /// bytes each); beyond it the oldest are forgotten, and a pacs.008 created before the
    /// newest forgotten one finished is refused with DT01. Default 20,000,000 (about 2.4 GB).
    #[serde(default = "duplicates_kept_max")]
    pub duplicates_kept_max: u64,
}

fn finished_keep_ms() -> u64 {
    crate::core::Retention::default().finished_keep_ms
}

fn finished_kept_max() -> u64 {
    crate::core::Retention::default().finished_kept_max
}

fn duplicates_kept_max() -> u64 {
    crate::core::Retention::default().duplicates_kept_max
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            finished_keep_ms: finished_keep_ms(),
            finished_kept_max: finished_kept_max(),
            duplicates_kept_max: duplicates_kept_max(),
        }
    }
}

impl RetentionSettings {
    /// The core's retention rules.
    pub fn rules(&self) -> crate::core::Retention {
        crate::core::Retention {
            finished_keep_ms: self.finished_keep_ms,
            finished_kept_max: self.finished_kept_max,
            duplicates_kept_max: self.duplicates_kept_max,
        }
    }
}

/// Rules of the exception flows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exceptions {
    /// How long after settlement a creditor bank may return a transfer (pacs.004).
    pub return_window_ms: u64,
    /// How long a recall (camt.056) may stay unanswered, or accepted without its return,
    /// before it expires and both banks get a camt.029 RJCR NOAS.
    pub recall_expiry_ms: u64,
    /// Place a cautionary hold on the creditor's money when a recall is for fraud (FRAD)
    /// and the key paid to is marked in the directory.
    pub fraud_hold: bool,
    /// How long the hold lasts unless the recall ends first.
    pub fraud_hold_ms: u64,
    /// Open fraud reports (key, owner or account) that trigger a hold; 0: never by reports.
    pub fraud_hold_min_reports: u32,
    /// Confirmed fraud reports that trigger a hold; 0: never by confirmed reports.
    pub fraud_hold_min_confirmed: u32,
}

impl Default for Exceptions {
    fn default() -> Self {
        let r = crate::exceptions::ExceptionRules::default();
        let h = crate::exceptions::FraudHold::default();
        Exceptions {
            return_window_ms: r.return_window_ms,
            recall_expiry_ms: r.recall_expiry_ms,
            fraud_hold: true,
            fraud_hold_ms: h.hold_ms,
            fraud_hold_min_reports: h.min_reports,
            fraud_hold_min_confirmed: h.min_confirmed,
        }
    }
}

impl Exceptions {
    /// The core's rules.
    pub fn rules(&self) -> crate::exceptions::ExceptionRules {
        crate::exceptions::ExceptionRules {
            return_window_ms: self.return_window_ms,
            recall_expiry_ms: self.recall_expiry_ms,
            fraud_hold: self.fraud_hold.then_some(crate::exceptions::FraudHold {
                hold_ms: self.fraud_hold_ms,
                min_reports: self.fraud_hold_min_reports,
                min_confirmed: self.fraud_hold_min_confirmed,
            }),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ingress_max: 16_384,
            batch_max: 1_024,
            connections_max: 1_024,
            streams_per_connection_max: 256,
            message_max_bytes: 1 << 20,
            transactions_per_message_max: 10,
            outbox_max: 100_000,
            pull_max: 100,
            pull_wait_max_ms: 30_000,
            stream_lifetime_ms: stream_lifetime_ms(),
            streams_per_participant_max: streams_per_participant_max(),
            enquiries_per_second: enquiries_per_second(),
            enquiry_burst: enquiry_burst(),
            peak_tps: peak_tps(),
        }
    }
}

/// One participant bank.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantConfig {
    /// BIC; also the common name of its client certificate.
    pub bic: String,
    /// Display name.
    pub name: String,
    /// National clearing member id (ISPB, ABA routing number...), if the scheme uses one.
    #[serde(default)]
    pub member_id: Option<String>,
    /// Liquidity moved into its settlement account on first start (development only; real
    /// funding comes from the RTGS system), minor units.
    #[serde(default)]
    pub initial_funding_minor: u64,
    /// Development customers (accounts with aliases) created when `dev_aliases` is on.
    #[serde(default)]
    pub dev_customers: u32,
    /// Initial status; operators change it at run time (journaled).
    #[serde(default)]
    pub status: ParticipantStatus,
    /// Largest amount this participant may send in one transaction, minor units (AM14
    /// above it); absent: only the scheme limit applies.
    #[serde(default)]
    pub transaction_amount_max_minor: Option<u64>,
    /// Deferred net only (and required there): how far its position may go below zero
    /// between settlements, minor units.
    #[serde(default)]
    pub net_debit_cap_minor: Option<u64>,
    /// Where the switch pushes this participant's messages, `https://HOST[:PORT]/PATH`
    /// (mutual TLS: the switch presents its client certificate, and the endpoint's certificate
    /// must name this participant). Absent: the bank pulls or streams them. Either way the
    /// bank may also pull or stream.
    #[serde(default)]
    pub callback_url: Option<String>,
}

/// A participant's standing in the scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantStatus {
    /// Sends and receives.
    #[default]
    Active,
    /// Suspended: its payments are rejected (AG10) and payments to it too (AG11).
    Suspended,
}

fn default_listen() -> String {
    "127.0.0.1:8443".into()
}

fn default_data() -> PathBuf {
    PathBuf::from("./data")
}

/// Errors loading a config file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The file is not valid TOML for this schema (unknown keys are refused).
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    /// A value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// Name of the operator identity in the development PKI.
pub const OPERATOR: &str = "OPERATOR";

impl Config {
    /// The embedded default: three development banks with funding and aliases.
    pub fn dev(data: &Path) -> Config {
        let bank = |bic: &str, name: &str, member: &str, funding: u64| ParticipantConfig {
            bic: bic.into(),
            name: name.into(),
            member_id: Some(member.into()),
            initial_funding_minor: funding,
            dev_customers: 100,
            status: ParticipantStatus::Active,
            transaction_amount_max_minor: None,
            net_debit_cap_minor: None,
            callback_url: None,
        };
        Config {
            listen: default_listen(),
            data: data.to_path_buf(),
            scheme: Scheme::default(),
            limits: Limits::default(),
            exceptions: Exceptions::default(),
            journal: JournalSettings::default(),
            retention: RetentionSettings::default(),
            participants: vec![
                bank("BKAABRSP", "Banco Alfa", "10000001", 5_000_000_000),
                bank("BKBBBRSP", "Banco Beta", "10000002", 5_000_000_000),
                bank("BKCCBRSP", "Banco Gama", "10000003", 2_000_000),
            ],
            dev_aliases: true,
            revoked_certificates: Vec::new(),
            metrics_listen: None,
        }
    }

    /// Load and check a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io(path.into(), e))?;
        let cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse(path.into(), e))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Check ranges and consistency.
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if iso20022::Currency::parse(&self.scheme.currency).is_none() {
            return bad("scheme.currency must be three uppercase letters");
        }
        if self.scheme.night_start_hour > 23 || self.scheme.night_end_hour > 23 {
            return bad("scheme.night_start_hour and night_end_hour must be 0 to 23");
        }
        for f in &self.revoked_certificates {
            if f.len() != 64 || !f.bytes().all(|c| c.is_ascii_hexdigit()) {
                return bad("revoked_certificates holds SHA-256 fingerprints: 64 hex digits");
            }
        }
        if self.scheme.creditor_timeout_ms == 0 {
            return bad("scheme.creditor_timeout_ms must be positive");
        }
        if self.scheme.creditor_timeout_ms.saturating_add(1_000) > self.scheme.debtor_deadline_ms {
            return bad(
                "scheme.creditor_timeout_ms must be at least 1000 ms below debtor_deadline_ms \
                 (the debtor is answered at the creditor's deadline)",
            );
        }
        if self.limits.ingress_max == 0 || self.limits.batch_max == 0 || self.limits.pull_max == 0 {
            return bad("limits.ingress_max, batch_max and pull_max must be positive");
        }
        if !(MESSAGE_MIN_BYTES..=MESSAGE_MAX_BYTES).contains(&self.limits.message_max_bytes) {
            return bad(&format!(
                "limits.message_max_bytes must be within {MESSAGE_MIN_BYTES} and \
                 {MESSAGE_MAX_BYTES}: a transaction is forwarded and journaled as the bank \
                 wrote it, and a journal record holds at most {} bytes",
                store::RECORD_MAX_BYTES
            ));
        }
        if !(1..=3_600_000).contains(&self.limits.stream_lifetime_ms)
            || self.limits.streams_per_participant_max == 0
        {
            return bad("limits.stream_lifetime_ms must be within 1 and 3600000, and \
                 limits.streams_per_participant_max at least 1");
        }
        if self.participants.is_empty() {
            return bad("at least one participant is needed");
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.participants {
            if !iso20022::common::is_bic(&p.bic) {
                return bad(&format!("participant {:?}: not a BIC", p.bic));
            }
            if p.bic == OPERATOR || !seen.insert(p.bic.clone()) {
                return bad(&format!("participant {:?} is duplicated or reserved", p.bic));
            }
            if let Some(url) = &p.callback_url {
                if let Err(e) = crate::push::Callback::parse(url) {
                    return bad(&format!("participant {:?}: callback_url: {e}", p.bic));
                }
            }
            let net = self.scheme.settlement == SettlementKind::DeferredNet;
            if net != p.net_debit_cap_minor.is_some() {
                return bad(&format!(
                    "participant {:?}: net_debit_cap_minor is required with settlement = \
                     \"deferred_net\" and not allowed with \"gross\"",
                    p.bic
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ops_template_is_the_embedded_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/switchd.toml");
        let cfg = Config::load(&path).unwrap();
        let dev = Config::dev(Path::new("./data"));
        assert_eq!(toml::to_string(&cfg).unwrap(), toml::to_string(&dev).unwrap());
    }

    #[test]
    fn the_creditor_timeout_leaves_room_for_the_debtor_deadline() {
        let mut cfg = Config::dev(Path::new("/tmp/x"));
        assert!(cfg.check().is_ok());
        cfg.scheme.creditor_timeout_ms = 9_500;
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("debtor_deadline_ms"), "{e}");
        cfg.scheme.debtor_deadline_ms = 10_500;
        assert!(cfg.check().is_ok());
    }

    #[test]
    fn a_callback_url_must_be_https_with_a_host() {
        let mut cfg = Config::dev(Path::new("/tmp/x"));
        cfg.participants[1].callback_url = Some("http://bank.example/in".into());
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("BKBBBRSP") && e.contains("https://"), "{e}");
        cfg.participants[1].callback_url = Some("https://bank.example:9443/in".into());
        assert!(cfg.check().is_ok());
    }

    #[test]
    fn stream_limits_are_bounded() {
        let mut cfg = Config::dev(Path::new("/tmp/x"));
        cfg.limits.stream_lifetime_ms = 0;
        assert!(cfg.check().unwrap_err().to_string().contains("stream_lifetime_ms"));
        cfg.limits.stream_lifetime_ms = 1_000;
        cfg.limits.streams_per_participant_max = 0;
        assert!(cfg.check().unwrap_err().to_string().contains("streams_per_participant_max"));
        cfg.limits.streams_per_participant_max = 1;
        assert!(cfg.check().is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listn = \"x\"\n").unwrap();
        assert!(matches!(Config::load(&p), Err(ConfigError::Parse(..))));
        std::fs::write(&p, "[[participants]]\nbic = \"nope\"\nname = \"x\"\n").unwrap();
        assert!(matches!(Config::load(&p), Err(ConfigError::Invalid(_))));
        // A message limit past what one journal record can hold is refused at start.
        let mut cfg = Config::dev(dir.path());
        assert!(cfg.check().is_ok());
        cfg.limits.message_max_bytes = MESSAGE_MAX_BYTES + 1;
        let Err(ConfigError::Invalid(why)) = cfg.check() else { panic!("accepted") };
        assert!(why.contains("limits.message_max_bytes"), "{why}");
        cfg.limits.message_max_bytes = MESSAGE_MAX_BYTES;
        assert!(cfg.check().is_ok());
    }
}
