//! Scenario tests for the directory: claims, infraction reports, anti-scan lookups, and the
//! replay of the event journal. One binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod antiscan;
mod api;
mod claims;
mod compact;
mod fraud;
mod replay;
mod snapshot;

use directory::{Directory, Entry, Key, OwnerType};

pub const ANA_CPF: &str = "52998224725";
pub const BIA_CPF: &str = "39053344705";
pub const ACME_CNPJ: &str = "11222333000181";

pub fn key(text: &str) -> Key {
    Key::parse(text).unwrap()
}

/// Ana's entry for `k` at `participant`, account `account`.
pub fn ana(k: &str, participant: &str, account: &str) -> Entry {
    Entry::new(key(k), participant, "1", account, "Ana Maria Souza")
        .with_owner(OwnerType::Natural, ANA_CPF)
}

/// Bia's entry for `k` at `participant`, account `account`.
pub fn bia(k: &str, participant: &str, account: &str) -> Entry {
    Entry::new(key(k), participant, "1", account, "Bia Lima")
        .with_owner(OwnerType::Natural, BIA_CPF)
}

pub fn directory_with(entries: &[Entry]) -> Directory {
    let mut d = Directory::default();
    for e in entries {
        d.register_entry(e.clone(), 1_000).unwrap();
    }
    d
}
