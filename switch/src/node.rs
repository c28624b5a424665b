//! A running switch: journal recovery, the core thread, the participant endpoint, and the
//! development set-up, assembled from a [`Config`].
//!
//! Start-up order: development PKI (if absent), restore the newest snapshot into a fresh core
//! and replay the journal records after it (all of them without a snapshot),
//! re-publish every unacknowledged message, start the core thread, apply the set-up steps
//! (idempotent), then open the listener. Banks can connect only once recovery is complete.

use crate::api::SwitchApi;
use crate::config::{Config, ParticipantStatus, OPERATOR};
use crate::core::{Core, NightLimit, Participant, Rules};
use crate::runtime::{self, CoreHandle, Delivery};
use adapters::pki::DevPki;
use adapters::server::{ServerLimits, ServerStats};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// A fresh core (no journal replayed yet) for a configuration.
pub fn core_from_config(cfg: &Config) -> anyhow::Result<Core> {
    let currency = iso20022::Currency::parse(&cfg.scheme.currency)
        .ok_or_else(|| anyhow::anyhow!("bad currency {:?}", cfg.scheme.currency))?;
    let night = cfg.scheme.night_amount_max_minor.map(|amount_max_minor| NightLimit {
        amount_max_minor,
        start_hour: cfg.scheme.night_start_hour,
        end_hour: cfg.scheme.night_end_hour,
        utc_offset_minutes: cfg.scheme.utc_offset_minutes,
    });
    let rules = Rules {
        scheme: cfg.scheme.name.clone(),
        currency,
        creditor_timeout_ms: cfg.scheme.creditor_timeout_ms,
        amount_max_minor: cfg.scheme.transaction_amount_max_minor,
        outbox_max: cfg.limits.outbox_max as u64,
        night,
        exceptions: cfg.exceptions.rules(),
        retention: cfg.retention.rules(),
    };
    let participants = cfg
        .participants
        .iter()
        .map(|p| Participant {
            bic: p.bic.clone(),
            name: p.name.clone(),
            member_id: p.member_id.clone(),
            suspended: p.status == ParticipantStatus::Suspended,
            amount_max_minor: p.transaction_amount_max_minor,
            net_debit_cap_minor: p.net_debit_cap_minor,
        })
        .collect();
    Core::new(rules, participants).map_err(anyhow::Error::msg)
}

/// Open the journal of `cfg` and rebuild `core` (fresh, from the same configuration) from it:
/// the newest snapshot, if any, then every record after it. Returns the journal, positioned
/// for appending, and what recovery found (`records_replayed` counts the records after the
/// snapshot only).
pub fn open_journal(
    cfg: &Config,
    core: &mut Core,
) -> anyhow::Result<(store::FileJournal, store::Recovery)> {
    let dir = cfg.data.join("journal");
    let opts = journal_options(cfg);
    let (journal, _) = store::FileJournal::open_with(&dir, opts, |r| match r {
        store::Replay::Snapshot { data, .. } => {
            core.restore_snapshot(data).map_err(|e| e.to_string())
        }
        store::Replay::Record { data, .. } => runtime::recover(core, data),
    })?;
    let recovered = journal.recovery().clone();
    Ok((journal, recovered))
}

/// Where the journal keeps the segments a snapshot covers, with `[journal] archive`.
pub const ARCHIVE_DIR: &str = "journal-archive";

/// The journal options of `cfg`: its segment size, and the archive under the data directory.
pub fn journal_options(cfg: &Config) -> store::JournalOptions {
    store::JournalOptions {
        snapshot_bytes_max: crate::snapshot::SNAPSHOT_BYTES_MAX,
        segment_bytes_max: cfg.journal.segment_bytes_max,
        archive_dir: cfg.journal.archive.then(|| cfg.data.join(ARCHIVE_DIR)),
        ..store::JournalOptions::default()
    }
}

/// A running switch.
#[derive(Debug)]
pub struct Node {
    /// Where the endpoint listens.
    pub addr: SocketAddr,
    /// The development PKI in the data directory.
    pub pki: DevPki,
    /// The core.
    pub core: CoreHandle,
    /// Endpoint counters.
    pub stats: Arc<ServerStats>,
    /// Journal records replayed at start (after the snapshot restored, if any).
    pub replayed: u64,
    shutdown: watch::Sender<bool>,
    core_thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Node {
    /// Start a switch from `cfg`; `listen` overrides `cfg.listen` (e.g. `127.0.0.1:0`).
    pub async fn start(cfg: &Config) -> anyhow::Result<Node> {
        cfg.check()?;
        let mut names: Vec<&str> = cfg.participants.iter().map(|p| p.bic.as_str()).collect();
        names.push(OPERATOR);
        let pki = DevPki::ensure(&cfg.data, &names)?;
        let mut core = core_from_config(cfg)?;
        let (mut journal, recovered) = open_journal(cfg, &mut core)?;
        // After recovery, which may replace the tables with a snapshot's.
        core.preallocate(cfg.limits.peak_tps);
        let replayed = recovered.records_replayed;
        core.conserved().map_err(|e| anyhow::anyhow!("journal replay broke conservation: {e}"))?;
        let mut snapshot_seq = recovered.snapshot_seq.unwrap_or(0);
        let at_start = cfg.journal.snapshot_at_start_min_records;
        if at_start > 0 && replayed >= at_start {
            // Before any message is taken: the core is exactly the journal's last record.
            use store::Journal;
            let seq = journal.last_seq();
            let written = core
                .encode_snapshot()
                .map_err(|e| e.to_string())
                .and_then(|bytes| journal.write_snapshot(seq, &bytes).map_err(|e| e.to_string()));
            match written {
                Ok(()) => snapshot_seq = seq,
                // An optimisation only: the switch starts anyway, and says so.
                Err(e) => eprintln!("switchd: snapshot at start (record {seq}) not written: {e}"),
            }
        }
        let delivery = Arc::new(Delivery::new(cfg.participants.len()));
        runtime::publish_unacked(&mut core, &delivery);
        let by_bic: HashMap<String, u32> =
            cfg.participants.iter().enumerate().map(|(i, p)| (p.bic.clone(), i as u32)).collect();
        let snapshots = runtime::SnapshotPolicy {
            every_records: cfg.journal.snapshot_every_records,
            last_seq: snapshot_seq,
        };
        let (handle, core_thread) = runtime::start_with_snapshots(
            core,
            journal,
            delivery.clone(),
            cfg.limits.ingress_max,
            cfg.limits.batch_max,
            snapshots,
        )
        .map_err(anyhow::Error::msg)?;
        handle.admin(crate::devnet::setup_steps(cfg)).await.map_err(anyhow::Error::msg)?;

        let limits = iso20022::Limits {
            max_bytes: cfg.limits.message_max_bytes,
            max_transactions: cfg.limits.transactions_per_message_max,
            ..iso20022::Limits::default()
        };
        let metrics = crate::telemetry::init();
        let stats = Arc::new(ServerStats::default());
        if let (Some(listen), Some(h)) = (&cfg.metrics_listen, &metrics) {
            crate::telemetry::serve_plain(listen.clone(), h.clone()).await?;
        }
        let api = Arc::new(
            SwitchApi::new(
                handle.clone(),
                delivery.clone(),
                by_bic,
                limits,
                cfg.limits.pull_max,
                cfg.limits.pull_wait_max_ms,
            )
            .with_telemetry(metrics, stats.clone())
            .with_enquiry_quota(cfg.limits.enquiries_per_second, cfg.limits.enquiry_burst)
            .with_stream_limits(
                std::time::Duration::from_millis(cfg.limits.stream_lifetime_ms),
                cfg.limits.streams_per_participant_max as usize,
            ),
        );
        let tls = adapters::tls::server_config(&pki.ca_cert, &pki.server)?;
        let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = watch::channel(false);
        let server_limits = ServerLimits {
            connections_max: cfg.limits.connections_max,
            streams_per_connection_max: cfg.limits.streams_per_connection_max,
            body_max_bytes: cfg.limits.message_max_bytes,
            ..ServerLimits::default()
        };
        let revoked =
            Arc::new(cfg.revoked_certificates.iter().map(|f| f.to_ascii_lowercase()).collect());
        // Banks with a callback endpoint get their messages pushed as well.
        let pushing = cfg.participants.iter().enumerate().filter_map(|(i, p)| {
            let url = p.callback_url.as_deref()?;
            Some((i, p.bic.clone(), crate::push::Callback::parse(url)))
        });
        for (i, bic, callback) in pushing {
            let callback = callback.map_err(|e| anyhow::anyhow!("{bic}: callback_url: {e}"))?;
            let tls = adapters::tls::client_config(&pki.ca_cert, &pki.switch_client())?;
            tokio::spawn(crate::push::run(
                u32::try_from(i)?,
                bic,
                callback,
                tls,
                delivery.clone(),
                handle.clone(),
                rx.clone(),
            ));
        }
        tokio::spawn(adapters::server::serve(
            listener,
            tls,
            api,
            server_limits,
            stats.clone(),
            revoked,
            rx,
        ));
        Ok(Node {
            addr,
            pki,
            core: handle,
            stats,
            replayed,
            shutdown,
            core_thread: Some(core_thread),
        })
    }

    /// A TLS client configuration for a participant (or the operator) of the dev PKI.
    pub fn client_tls(&self, name: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        Ok(adapters::tls::client_config(&self.pki.ca_cert, &self.pki.participant(name))?)
    }

    /// Stop accepting connections. The core thread ends when the last handle is dropped.
    pub fn stop(mut self) -> Option<std::thread::JoinHandle<Result<(), String>>> {
        let _ = self.shutdown.send(true);
        self.core_thread.take()
    }

    /// Whether the core thread has stopped (journal failure).
    pub fn core_stopped(&self) -> bool {
        self.core.is_stopped()
    }
}
