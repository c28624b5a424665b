//! Fuzz target: every type-specific decoder (pain.014 goes through pain002, camt.052/053/054
//! through camt05x) on the same bytes (each also checks namespace and
//! shape on its own, so each gets the input even when it is another type). Must not panic.
#![no_main]

use iso20022::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let l = Limits { max_transactions: 64, ..Limits::default() };
    let _ = pacs008::decode(data, &l);
    let _ = pacs002::decode(data, &l);
    let _ = pacs004::decode(data, &l);
    let _ = pacs028::decode(data, &l);
    let _ = camt056::decode(data, &l);
    let _ = camt029::decode(data, &l);
    let _ = admi002::decode(data, &l);
    let _ = head001::decode(data, &l);
    let _ = pain001::decode(data, &l);
    let _ = pain002::decode(data, &l);
    let _ = pain013::decode(data, &l);
    let _ = camt05x::decode(data, &l);
    let _ = envelope::decode(data, &l);
});
