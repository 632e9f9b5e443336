//! The services table loader's row parser: never panics on any line.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for line in s.lines() {
        let _ = netdiag::services::tsv::parse_row(line);
    }
});
