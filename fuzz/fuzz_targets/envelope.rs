//! Fuzz target: the AppHdr + Document envelope decoder, and re-encoding of what decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = iso20022::Limits::default();
    if let Ok(env) = iso20022::envelope::decode(data, &limits) {
        let xml = iso20022::envelope::encode(&env);
        assert!(iso20022::envelope::decode(xml.as_bytes(), &limits).is_ok(), "{xml}");
    }
});
