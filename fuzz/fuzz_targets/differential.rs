//! Fuzz target: the fast decoders against the owned-tree ones. Whatever the input, the plain
//! scanner's tape (when it reads the input) equals quick-xml's, and `decode`, `decode_message`,
//! `pacs008::decode` and `pacs002::decode` give exactly the values or errors of their `_dom`
//! twins, under default and tight limits. Must not panic; any difference aborts.
#![no_main]

use iso20022::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tight = Limits { max_bytes: 4000, max_depth: 7, max_elements: 90, max_transactions: 1 };
    for l in [Limits { max_transactions: 64, ..Limits::default() }, tight] {
        if let Some(t) = tape::scan_plain(data, &l) {
            assert_eq!(Some(t), tape::parse_quick(data, &l).ok(), "plain scanner differs");
        }
        assert_eq!(
            tape::parse(data, &l).map(|_| ()),
            xml::parse(data, &l).map(|_| ()),
            "tape parser differs"
        );
        assert_eq!(decode(data, &l), decode_dom(data, &l), "decode differs");
        assert_eq!(decode_message(data, &l), decode_message_dom(data, &l), "decode_message");
        assert_eq!(pacs008::decode(data, &l), pacs008::decode_dom(data, &l), "pacs008 differs");
        assert_eq!(pacs002::decode(data, &l), pacs002::decode_dom(data, &l), "pacs002 differs");
    }
});
