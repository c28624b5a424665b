//! Participant connectivity: the switch's HTTP/2 + mutual-TLS endpoint, the bank-side SDK,
//! and a development PKI.
//!
//! A tour (see `switch`'s tests for a full run):
//!
//! ```no_run
//! # async fn tour() -> Result<(), Box<dyn std::error::Error>> {
//! use adapters::{pki::DevPki, tls, client::BankClient};
//! let pki = DevPki::ensure(std::path::Path::new("./data"), &["BKAABRSP"])?;
//! let cfg = tls::client_config(&pki.ca_cert, &pki.participant("BKAABRSP"))?;
//! let bank = BankClient::connect("127.0.0.1:8443".parse()?, "localhost", cfg).await?;
//! let inbox = bank.pull(0, 10, 1_000).await?;      // long-poll for messages
//! println!("{} messages", inbox.messages.len());
//! # Ok(()) }
//! ```
//!
//! Adapters move bytes and establish identity; they never decide business outcomes.

pub mod callback;
pub mod client;
pub mod exceptions;
pub mod pki;
pub mod server;
pub mod simbank;
pub mod tls;
pub mod wire;

/// The switch's own BIC, as assignee of recalls and instructed agent of status enquiries.
pub const SWITCH_BIC: &str = "IPSWXXXXXXX";
