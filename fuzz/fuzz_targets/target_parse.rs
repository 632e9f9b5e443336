//! Targets, host specs, CIDR blocks, port lists and port queries: never panic; what parses displays back to the
//! same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::target::{HostSpec, PortList, PortQuery, Target};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Target::parse(s) {
        assert_eq!(Target::parse(&t.to_string()).as_ref(), Ok(&t));
    }
    if let Ok(p) = PortList::parse(s) {
        assert_eq!(PortList::parse(&p.to_string()).as_ref(), Ok(&p));
    }
    let _ = HostSpec::parse(s);
    let _ = PortQuery::parse(s);
});
