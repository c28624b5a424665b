//! The load test's parts, as a library so they are unit-tested: the seeded workload
//! ([`workload`]), the crash-tolerant simulated banks ([`bank`]), the shared counters, latency
//! histogram and acknowledgement log ([`stats`]), the child switch ([`child`]), the host's
//! speed around a run ([`host`]) and the timed steps ([`run`]). The `loadtest` binary
//! (`src/main.rs`) wires them to the command line.
//!
//! Guarantees: nothing here talks to anything but loopback addresses; every loop, queue and
//! wait is bounded. It must not be used inside the switch: it is a client of it.

pub mod bank;
pub mod child;
pub mod host;
pub mod run;
pub mod scan;
pub mod stats;
pub mod workload;
