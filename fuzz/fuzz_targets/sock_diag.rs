//! The netlink sock_diag dump parser: never panics on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::sockets::{netlink, SockProto};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = netlink::parse_dump(data, SockProto::Tcp, &mut out);
    let _ = netlink::parse_dump(data, SockProto::UnixStream, &mut out);
});
