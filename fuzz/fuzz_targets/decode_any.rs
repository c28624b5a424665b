//! Fuzz target: `iso20022::check` and `iso20022::decode` on any bytes, and re-encoding of
//! whatever decodes, which must decode again and re-encode to the same XML (a pain.001.001.03
//! or pacs.004.001.10 is written as its current version, so values may differ only there).
//! Must not panic, ever.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = iso20022::Limits::default();
    let _ = iso20022::check(data, &limits);
    if let Ok(msg) = iso20022::decode(data, &limits) {
        let xml = iso20022::encode(&msg);
        match iso20022::decode(xml.as_bytes(), &limits) {
            Ok(again) => assert_eq!(iso20022::encode(&again), xml, "re-encoding is not stable"),
            Err(e) => panic!("encoder output does not decode: {e}\n{xml}"),
        }
    }
});
