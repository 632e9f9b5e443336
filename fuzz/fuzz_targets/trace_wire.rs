//! The trace's packet parsers: ICMP errors with the quoted probe and RFC 4884/4950 extensions, TCP answers,
//! error-queue payloads and quoted transport headers never panic, and matching them against a flow plan never
//! does either.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::trace::flow::FlowPlan;
use netdiag::trace::wire;
use netdiag::trace::{Ecmp, Protocol};

fuzz_target!(|data: &[u8]| {
    for (v6, ip) in [(false, true), (false, false), (true, false)] {
        if let Some(wire::IcmpMessage::Error(e)) = wire::parse_icmp_from(data, v6, ip) {
            for protocol in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
                for ecmp in [Ecmp::Classic, Ecmp::Paris, Ecmp::Dublin] {
                    let plan = FlowPlan {
                        protocol,
                        ecmp,
                        flows: 8,
                        src: e.quoted.src,
                        dst: e.quoted.dst,
                        sport: 40000,
                        dport: 33434,
                        icmp_id: 7,
                        token: 0x0102_0304,
                        payload_len: 32,
                    };
                    let _ = plan.match_quoted(&e.quoted);
                }
            }
        }
        let _ = wire::parse_tcp(data, v6);
    }
    let _ = wire::queued_extensions(data, None, 28);
    let _ = wire::queued_extensions(data, Some(data.len() / 3), 8);
    for proto in [wire::PROTO_ICMP, wire::PROTO_ICMPV6, wire::PROTO_UDP, wire::PROTO_TCP] {
        let _ = wire::probe_fields(proto, data, proto == wire::PROTO_ICMPV6);
    }
});
