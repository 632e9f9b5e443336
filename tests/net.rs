//! The net layer seen from another user: without root or CAP_NET_RAW, opening a raw socket is refused with the
//! distinguishable `NotPermitted` error (so callers can say "needs root or CAP_NET_RAW"), not a bare errno.
//!
//! The test re-runs this test binary as user nobody (`setpriv`, which drops every capability) and runs the
//! ignored child test there.

mod common;

use std::process::Command;

use netdiag::net::icmp::{IcmpKind, IcmpOptions, IcmpSocket};
use netdiag::net::raw::{RawProtocol, RawSocket};
use netdiag::net::{self, OpenError};

const CHILD: &str = "NETDIAG_NET_TEST_CHILD";

#[test]
fn raw_sockets_as_nobody_are_not_permitted() {
    if !common::is_root() {
        eprintln!("skipping raw_sockets_as_nobody_are_not_permitted: needs root to become nobody");
        return;
    }
    if !std::path::Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipping raw_sockets_as_nobody_are_not_permitted: setpriv (util-linux) is not installed");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args([
            "--exact",
            "child_opens_raw_sockets",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let (code, stdout, stderr) = common::decode(out);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}{stderr}");
    for proto in ["Tcp", "Udp", "Icmp", "Raw"] {
        let line = format!("child: raw IPv4 {proto} refused: needs root or CAP_NET_RAW (");
        assert!(stdout.contains(&line), "{line}\n{stdout}");
    }
    assert!(stdout.contains("child: all refusals checked"), "{stdout}");
}

/// Run as nobody by the test above; does nothing when run any other way.
#[test]
#[ignore = "run as user nobody by raw_sockets_as_nobody_are_not_permitted"]
fn child_opens_raw_sockets() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    assert!(!net::process::is_root(), "the child must not run as root");
    for v6 in [false, true] {
        for proto in [
            RawProtocol::Tcp,
            RawProtocol::Udp,
            RawProtocol::Icmp,
            RawProtocol::Raw,
        ] {
            match RawSocket::open(v6, proto) {
                Err(OpenError::NotPermitted(e)) => {
                    assert!(net::is_permission(&e), "{e}");
                    let shown = OpenError::NotPermitted(e).to_string();
                    assert!(shown.starts_with("needs root or CAP_NET_RAW"), "{shown}");
                    let fam = if v6 { "IPv6" } else { "IPv4" };
                    println!("child: raw {fam} {proto:?} refused: {shown}");
                }
                Err(OpenError::Other(e)) if v6 && e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                    println!("child: no IPv6 here ({e})");
                }
                Ok(_) => panic!("nobody opened a raw {proto:?} socket (v6 {v6})"),
                Err(e) => panic!("raw {proto:?} (v6 {v6}): not a permission error: {e}"),
            }
        }
    }
    // A raw ICMP socket is refused the same way; the datagram one follows net.ipv4.ping_group_range.
    let opts = IcmpOptions::echo(false);
    assert!(matches!(
        IcmpSocket::open_kind(false, IcmpKind::Raw, &opts),
        Err(OpenError::NotPermitted(_))
    ));
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
    let v: Vec<u32> = range
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let allowed = v.len() == 2 && v[0] <= 65534 && 65534 <= v[1];
    match IcmpSocket::open(false, &opts) {
        Ok(s) => {
            assert!(allowed, "a ping socket outside ping_group_range {range:?}");
            assert_eq!(s.kind(), IcmpKind::Datagram);
        }
        Err(OpenError::NotPermitted(_)) => assert!(!allowed, "refused inside {range:?}"),
        Err(e) => panic!("{e}"),
    }
    println!("child: all refusals checked");
}
