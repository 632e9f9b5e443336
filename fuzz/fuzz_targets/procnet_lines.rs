//! The /proc/net/{tcp,udp,unix} parsers (the sockets fallback): never panic on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::sockets::{procnet, SockProto};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    procnet::parse_table(data, SockProto::Tcp, &mut out);
    procnet::parse_table(data, SockProto::Udp, &mut out);
    for line in data.split(|b| *b == b'\n') {
        let _ = procnet::parse_inet_line(line, SockProto::Tcp);
        let _ = procnet::parse_unix_line(line);
    }
    let _ = netdiag::sockets::owners::socket_inode(data);
});
