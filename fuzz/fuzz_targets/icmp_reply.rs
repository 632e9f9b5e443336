//! The ICMP/ICMPv6 reply parser: never panics on any bytes, with or without an IP header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::ping::packet::parse_reply;

fuzz_target!(|data: &[u8]| {
    for (v6, ip) in [(false, true), (false, false), (true, false)] {
        let _ = parse_reply(data, v6, ip);
    }
});
