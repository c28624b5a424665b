//! Fuzz target: the streaming pain.001 decoder with tight limits, so the transaction, depth
//! and element limits are hit often. Must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = iso20022::Limits {
        max_bytes: 256 << 10,
        max_depth: 16,
        max_elements: 4_000,
        max_transactions: 8,
    };
    let _ = iso20022::pain001::decode(data, &limits);
});
