//! Durations: never panic; anything accepted is positive and at most a day.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(d) = netdiag::duration::parse(s) {
        assert!(!d.is_zero() && d <= netdiag::duration::MAX);
    }
});
