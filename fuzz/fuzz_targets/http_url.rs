//! URLs for http-get: never panic; joining any Location onto a parsed URL never panics either.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (a, b) = s.split_once('\n').unwrap_or((s, "/"));
    if let Ok(u) = netdiag::http::url::Url::parse(a) {
        let _ = u.join(b);
    }
    let _ = netdiag::http::cert::parse_certificate(data);
});
