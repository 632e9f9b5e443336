//! The net layer seen from another user: without root or CAP_NET_RAW, opening a raw socket is refused with the
//! distinguishable `NotPermitted` error (so callers can say "needs root or CAP_NET_RAW"), not a bare errno.
//!
//! The test re-runs this test binary as user nobody (`setpriv`, which drops every capability) and runs the
//! ignored child test there.

mod common;

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
    if !common::have_setpriv() {
        eprintln!("skipping raw_sockets_as_nobody_are_not_permitted: setpriv (util-linux) is not installed");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = common::as_nobody(None, &exe)
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
        assert!(stderr.contains(&line), "{line}\n{stdout}{stderr}");
    }
    assert!(
        stderr.contains("child: all refusals checked"),
        "{stdout}{stderr}"
    );
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
                    eprintln!("child: raw {fam} {proto:?} refused: {shown}");
                }
                Err(OpenError::Other(e)) if v6 && e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                    eprintln!("child: no IPv6 here ({e})");
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
    eprintln!("child: all refusals checked");
}

/// What issue 17 and a tracepath-style trace need from the error queue: a TCP connect and a UDP datagram
/// rejected by a router name the router and the reason, and a datagram whose TTL runs out names the hop.
#[test]
fn the_error_queue_names_the_router_and_the_reason() {
    use netdiag::net::errqueue::{self, Origin};
    use netdiag::net::poll::{self, Interest};
    use netdiag::net::{socket, sockopt};
    use std::time::{Duration, Instant};

    if !common::can_nft("the_error_queue_names_the_router_and_the_reason") {
        return;
    }
    // client — router — server; the router faces the client at 10.77.1.2, the server is 10.77.2.2.
    let n = common::Chain::line("neq", 1);
    n.nft(
        0,
        "forward",
        "tcp dport 7001 reject with icmpx type admin-prohibited ; \
         udp dport 7002 reject with icmpx type admin-prohibited",
    );
    // A listener on the server, reached through the router, proves the path works at all.
    let server: std::net::IpAddr = n.server_ip.parse().unwrap();
    let _listener = n.server.listen(&format!("{server}:7003"));
    let reports = n.client.enter(move || {
        let end = Instant::now() + Duration::from_secs(10);
        // TCP: the connect fails, and the error queue says who refused it and how.
        let tcp = socket::tcp_socket(false).unwrap();
        errqueue::enable(&tcp, false).unwrap();
        let st = socket::connect(&tcp, &std::net::SocketAddr::new(server, 7001).into());
        assert_eq!(st.unwrap(), socket::Connect::InProgress);
        assert!(poll::wait(&tcp, Interest::Writable, end).unwrap());
        let e = socket::connect_result(&tcp).unwrap_err();
        let tcp_report = errqueue::read(&tcp).unwrap();
        // The open port through the same router connects.
        let ok = socket::connect_by(
            std::net::SocketAddr::new(server, 7003),
            end,
            Duration::from_millis(100),
            &|| false,
        );
        // UDP: the same for a datagram.
        let udp = socket::udp_socket(false).unwrap();
        errqueue::enable(&udp, false).unwrap();
        udp.send_to(b"hello?", &std::net::SocketAddr::new(server, 7002).into())
            .unwrap();
        let mut udp_report = None;
        while udp_report.is_none() && Instant::now() < end {
            poll::wait(&udp, Interest::Readable, end).unwrap();
            udp_report = errqueue::read(&udp).unwrap();
        }
        // TTL 1: the router answers time exceeded (tracepath's first hop).
        let hop = socket::udp_socket(false).unwrap();
        errqueue::enable(&hop, false).unwrap();
        sockopt::set_recv_hop_limit(&hop, false, true).unwrap();
        sockopt::set_hop_limit(&hop, false, 1).unwrap();
        hop.send_to(b"hop 1", &std::net::SocketAddr::new(server, 33434).into())
            .unwrap();
        let mut hop_report = None;
        while hop_report.is_none() && Instant::now() < end {
            poll::wait(&hop, Interest::Readable, end).unwrap();
            hop_report = errqueue::read(&hop).unwrap();
        }
        (
            e.raw_os_error(),
            tcp_report,
            ok.is_ok(),
            udp_report,
            hop_report,
        )
    });
    let (errno, tcp_report, open_ok, udp_report, hop_report) = reports;
    let router: std::net::IpAddr = n.hops[0].parse().unwrap();
    assert!(open_ok, "the open port behind the router must connect");
    assert_eq!(errno, Some(libc::EHOSTUNREACH));
    let t = tcp_report.expect("a TCP error report");
    assert_eq!(t.error.origin, Origin::Icmp);
    assert_eq!((t.error.icmp_type, t.error.icmp_code), (3, 13));
    assert_eq!(t.error.offender, Some(router));
    assert_eq!(t.destination.map(|d| d.port()), Some(7001));
    let u = udp_report.expect("a UDP error report");
    assert_eq!((u.error.icmp_type, u.error.icmp_code), (3, 13));
    assert_eq!(u.error.offender, Some(router));
    assert_eq!(u.payload, b"hello?");
    let h = hop_report.expect("a time-exceeded report");
    assert_eq!((h.error.icmp_type, h.error.icmp_code), (11, 0));
    assert_eq!(h.error.errno, libc::EHOSTUNREACH);
    assert_eq!(h.error.offender, Some(router));
    assert_eq!(h.payload, b"hop 1");
    // The ICMP error left the router with TTL 64 and crossed no other hop.
    assert_eq!(h.hop_limit, Some(64));
}
