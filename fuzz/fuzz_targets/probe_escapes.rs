//! `--send`/`--expect` escapes and reply display: never panic; what parses shows back without loss.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::probe::{escape_bytes, parse_escapes};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(bytes) = parse_escapes(s) {
            let shown = escape_bytes(&bytes);
            assert_eq!(parse_escapes(&shown).ok(), Some(bytes));
        }
    }
    let _ = escape_bytes(data);
});
