//! The instant-payment switch: the transfer pipeline and the programs around it.
//!
//! A tour: `switchd demo` runs everything below on one machine.
//!
//! - [`core`]: the sans-IO pipeline. A pacs.008 is validated, its creditor resolved through
//!   the alias directory, its amount reserved in the ledger, and it is forwarded; the
//!   creditor's pacs.002 posts or voids it; a deadline voids it (AB05). Deterministic:
//!   events in, state and outbound messages out.
//! - [`events`]: the journal records; replaying them rebuilds everything.
//! - [`runtime`]: the core thread (batch, journal, one fsync, then release) and the
//!   per-participant delivery streams banks long-poll.
//! - [`api`]: the participant API served over HTTP/2 with mutual TLS by `adapters`.
//! - [`node`]: assembles a running switch from a [`config::Config`].
//! - [`demo`]: three simulated banks paying each other by alias over loopback TLS.
//!
//! ```no_run
//! # async fn tour() -> anyhow::Result<()> {
//! let cfg = switch::config::Config::dev(std::path::Path::new("./data"));
//! let node = switch::node::Node::start(&cfg).await?;
//! println!("listening on {}", node.addr);
//! # Ok(()) }
//! ```

pub mod api;
pub mod audit;
pub mod config;
pub mod core;
pub mod demo;
pub mod devnet;
pub mod events;
pub mod exceptions;
pub mod lifecycle;
pub mod memory;
pub mod node;
pub mod push;
pub mod runtime;
pub mod snapshot;
pub mod telemetry;
pub mod time;
