//! diagnose's inputs: the target (host, host:port or URL), /etc/resolv.conf and the route tables it reads.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::diagnose::{machine, parse_target};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = parse_target(s);
    let _ = machine::parse_resolv_conf(s);
    let _ = machine::parse_default_route_v4(s);
    let _ = machine::parse_default_route_v6(s);
});
