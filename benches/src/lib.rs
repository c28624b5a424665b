//! Criterion micro-benchmarks of the switch's parts, each with its setup outside the timed
//! loop and none touching the network: `cargo bench -p benches --bench <name>` with
//!
//! - `codec`: pacs.008 / pacs.002 decode and encode beside a bare quick-xml scan (the floor);
//! - `ledger`: reserve+post pairs, the writer thread, window close;
//! - `journal`: appends with fdatasync, group commit, replay;
//! - `directory`: resolves, lookups with anti-scanning, registrations with 1M keys;
//! - `core`: the in-process pipeline, one transfer from pacs.008 to settled (no journal,
//!   no sockets): what the core thread costs per transfer.
//!
//! Figures and the exact commands are in `BENCHMARKS.md`.
