//! The ledger's integration tests, one binary with a module per scenario.
//!
//! `auditor` is an independent model of the ledger's documented behaviour, written apart
//! from the implementation with plain ordered maps; `properties` runs long random workloads
//! against both and demands identical results, balances and conservation. The other modules
//! are scenarios: settlement windows, the writer thread.
//!
//! These tests must not time anything: performance lives in `benches/benches/ledger.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod auditor;
mod properties;
mod settlement;
mod writer;
