//! `netdiag diagnose` with no target: checks this machine. The hostname and whether it resolves, the resolver
//! configuration, loopback over IPv4 and IPv6, the interface addresses, a summary of listening sockets and the
//! default routes.
//!
//! The files read here (/etc/resolv.conf, /proc/net/route, /proc/net/ipv6_route) go through pure parsers that
//! never panic, for fuzzing; listening sockets come from the sockets module.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::model::{join_addrs, DiagnoseReport, Step, MACHINE};
use crate::dns::resolv::parse_resolv_conf;
use crate::explain;
use crate::target::Family;

/// Listening sockets, counted from the sockets module's table (sock_diag, or /proc/net as fallback).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listeners {
    pub tcp: usize,
    pub udp: usize,
    /// Distinct listening TCP ports, ascending.
    pub tcp_ports: Vec<u16>,
    /// Distinct bound UDP ports, ascending.
    pub udp_ports: Vec<u16>,
}

/// The IPv4 default route's gateway and device from /proc/net/route (destination and mask 0, route up);
/// the gateway is `None` for a device route. Never panics.
pub fn parse_default_route_v4(text: &str) -> Option<(Option<Ipv4Addr>, String)> {
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
            return None;
        }
        let flags = u32::from_str_radix(f[3], 16).ok()?;
        // RTF_UP = 0x1; RTF_REJECT = 0x200 marks an "unreachable" route.
        if flags & 0x1 == 0 || flags & 0x200 != 0 {
            return None;
        }
        let gw = u32::from_str_radix(f[2], 16).ok()?;
        let gw = (gw != 0).then(|| Ipv4Addr::from(gw.to_le_bytes()));
        Some((gw, f[0].to_string()))
    })
}

/// The IPv6 default route's next hop and device from /proc/net/ipv6_route (::/0, up, not a reject route, not
/// on `lo`). Never panics.
pub fn parse_default_route_v6(text: &str) -> Option<(Option<Ipv6Addr>, String)> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || f[1] != "00" || f[0].len() != 32 || f[0].bytes().any(|b| b != b'0') {
            return None;
        }
        let flags = u32::from_str_radix(f[8], 16).ok()?;
        if flags & 0x1 == 0 || flags & 0x200 != 0 || f[9] == "lo" {
            return None;
        }
        let hop = u128::from_str_radix(f[4], 16).ok()?;
        let hop = (hop != 0).then(|| Ipv6Addr::from(hop));
        Some((hop, f[9].to_string()))
    })
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Runs every check on this machine.
pub fn check(timeout: Duration) -> DiagnoseReport {
    let mut steps = hostname_steps();
    steps.push(resolver_step());
    steps.extend(nameserver_steps(timeout));
    steps.push(loopback_step(IpAddr::V4(Ipv4Addr::LOCALHOST), timeout));
    steps.push(loopback_step(IpAddr::V6(Ipv6Addr::LOCALHOST), timeout));
    steps.push(interfaces_step());
    steps.push(listeners_step());
    steps.extend(route_steps());
    DiagnoseReport::finish(MACHINE.into(), steps, crate::interrupt::requested())
}

fn hostname_steps() -> Vec<Step> {
    let start = Instant::now();
    let name = match dns_lookup::get_hostname() {
        Ok(n) => n,
        Err(e) => {
            return vec![Step::fail(
                "hostname",
                "gethostname()".into(),
                "could not read the hostname".into(),
                Some(start.elapsed()),
                explain::io_error(&e),
            )]
        }
    };
    let mut steps = vec![Step::ok(
        "hostname",
        "gethostname()".into(),
        name.clone(),
        None,
    )];
    let start = Instant::now();
    let tried = format!("resolve {name} (/etc/hosts, then DNS)");
    match crate::resolve::forward(&name, Family::Any) {
        Ok((_, addrs)) => steps.push(Step::ok(
            "hostname",
            tried,
            join_addrs(&addrs),
            Some(start.elapsed()),
        )),
        Err(e) => {
            steps.push(
                Step::fail(
                    "hostname",
                    tried,
                    "does not resolve".into(),
                    Some(start.elapsed()),
                    explain::diagnose::hostname_unresolved(e, &name),
                )
                .as_warning(),
            );
        }
    }
    steps
}

fn resolver_step() -> Step {
    let tried = "read /etc/resolv.conf".to_string();
    let Some(text) = read("/etc/resolv.conf") else {
        return Step::fail(
            "resolver",
            tried,
            "missing".into(),
            None,
            explain::diagnose::no_resolv_conf(),
        )
        .as_warning();
    };
    let rc = parse_resolv_conf(&text);
    if rc.nameservers.is_empty() {
        return Step::fail(
            "resolver",
            tried,
            "no nameserver lines".into(),
            None,
            explain::diagnose::no_nameserver(),
        )
        .as_warning();
    }
    let mut result = format!("nameservers {}", rc.nameservers.join(", "));
    if !rc.search.is_empty() {
        result.push_str(&format!("; search {}", rc.search.join(" ")));
    }
    if !rc.options.is_empty() {
        result.push_str(&format!("; options {}", rc.options.join(" ")));
    }
    if rc.nameservers.len() > 3 {
        return Step::fail(
            "resolver",
            tried,
            result,
            None,
            explain::diagnose::too_many_nameservers(rc.nameservers.len()),
        )
        .as_warning();
    }
    Step::ok("resolver", tried, result, None)
}

/// Each configured nameserver asked ". NS" directly, at once: which answer, how fast, which are dead (no
/// route, nothing listening, silent). A dead one is a warning while another answers, a failure when none does.
fn nameserver_steps(timeout: Duration) -> Vec<Step> {
    let Ok(each) = crate::dns::check::nameservers(timeout) else {
        // No usable nameserver: the resolver step said so already.
        return Vec::new();
    };
    let any = each.iter().any(|e| e.status.answered());
    each.iter()
        .map(|e| {
            let mut s = super::nameserver_row(e);
            if e.status.answered() {
                let rcode = e.response.as_ref().map_or("-", |r| r.rcode.as_str());
                let mut result = format!("answers ({rcode})");
                if e.status == crate::dns::Status::Refused {
                    result.push_str(": refuses this machine");
                    s.result = result;
                } else {
                    s = Step::ok(s.step, s.tried, result, s.time);
                }
            } else if !any {
                s.warning = false;
            }
            s
        })
        .collect()
}

/// Opens a listener on the loopback address and connects to it.
fn loopback_step(ip: IpAddr, timeout: Duration) -> Step {
    let tried = format!("TCP connect to a listener on {}", SocketAddr::new(ip, 0));
    let tried = tried.replace(":0", "");
    let listener = match TcpListener::bind(SocketAddr::new(ip, 0)) {
        Ok(l) => l,
        Err(e) if ip.is_ipv6() => {
            let x = explain::diagnose::ipv6_loopback_unavailable(explain::io_error(&e));
            return Step::fail(
                "loopback",
                tried,
                "IPv6 loopback unavailable".into(),
                None,
                x,
            )
            .as_warning();
        }
        Err(e) => {
            return Step::fail(
                "loopback",
                tried,
                "cannot listen".into(),
                None,
                explain::io_error(&e),
            )
        }
    };
    let Ok(addr) = listener.local_addr() else {
        return Step::fail(
            "loopback",
            tried,
            "cannot listen".into(),
            None,
            explain::errno(libc::EADDRNOTAVAIL),
        );
    };
    let start = Instant::now();
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(_) => Step::ok(
            "loopback",
            tried,
            format!("ok: {addr}"),
            Some(start.elapsed()),
        ),
        Err(e) => {
            let mut x = explain::connect_error(&e, timeout, addr.port());
            if ip.is_ipv4() {
                x = explain::diagnose::loopback_v4_failed(x);
            }
            Step::fail(
                "loopback",
                tried,
                x.verdict.to_string(),
                Some(start.elapsed()),
                x,
            )
        }
    }
}

/// The addresses on interfaces other than loopback: without one, nothing beyond this machine is reachable.
fn interfaces_step() -> Step {
    let tried = "list interface addresses".to_string();
    let ifs = match if_addrs::get_if_addrs() {
        Ok(i) => i,
        Err(e) => {
            return Step::fail(
                "interfaces",
                tried,
                "cannot list".into(),
                None,
                explain::io_error(&e),
            )
            .as_warning()
        }
    };
    let mut shown: Vec<String> = ifs
        .iter()
        .filter(|i| !i.is_loopback() && !i.ip().is_loopback())
        .map(|i| {
            let prefix = match &i.addr {
                if_addrs::IfAddr::V4(a) => a.prefixlen,
                if_addrs::IfAddr::V6(a) => a.prefixlen,
            };
            format!("{} {}/{prefix}", i.name, i.ip())
        })
        .collect();
    if shown.is_empty() {
        return Step::fail(
            "interfaces",
            tried,
            "only loopback has an address".into(),
            None,
            explain::diagnose::no_interface_address(),
        );
    }
    let n = shown.len();
    if n > 8 {
        shown.truncate(8);
        shown.push(format!("… {} more", n - 8));
    }
    Step::ok("interfaces", tried, shown.join(", "), None)
}

fn listeners_step() -> Step {
    let tried = "list listening sockets (netdiag sockets -l)".to_string();
    let req = crate::sockets::SocketsRequest {
        tcp: true,
        udp: true,
        listening: true,
        ..Default::default()
    };
    let table = match crate::sockets::list(&req) {
        Ok(t) => t,
        Err(e) => {
            return Step::skipped(
                "listening",
                tried,
                explain::diagnose::skipped_no_socket_table(&format!("{e:#}")),
            )
        }
    };
    let mut l = Listeners::default();
    for row in &table.sockets {
        match row.proto {
            crate::sockets::SockProto::Tcp => {
                l.tcp += 1;
                l.tcp_ports.push(row.local.port());
            }
            crate::sockets::SockProto::Udp => {
                l.udp += 1;
                l.udp_ports.push(row.local.port());
            }
            _ => {}
        }
    }
    for v in [&mut l.tcp_ports, &mut l.udp_ports] {
        v.sort_unstable();
        v.dedup();
    }
    let show = |ports: &[u16]| {
        let mut s: Vec<String> = ports.iter().take(12).map(u16::to_string).collect();
        if ports.len() > 12 {
            s.push(format!("… {} more", ports.len() - 12));
        }
        if s.is_empty() {
            "none".to_string()
        } else {
            s.join(",")
        }
    };
    let result = format!(
        "{} TCP listening (ports {}), {} UDP bound (ports {})",
        l.tcp,
        show(&l.tcp_ports),
        l.udp,
        show(&l.udp_ports)
    );
    Step::ok("listening", tried, result, None)
}

fn route_steps() -> Vec<Step> {
    let v4 = read("/proc/net/route").and_then(|t| parse_default_route_v4(&t));
    let v6 = read("/proc/net/ipv6_route").and_then(|t| parse_default_route_v6(&t));
    let none = v4.is_none() && v6.is_none();
    let no_route = explain::diagnose::no_default_route;
    let mut steps = Vec::new();
    let tried4 = "read /proc/net/route".to_string();
    match v4 {
        Some((gw, dev)) => steps.push(Step::ok(
            "route",
            tried4,
            via("IPv4", gw.map(IpAddr::V4), &dev),
            None,
        )),
        None if none => steps.push(Step::fail(
            "route",
            tried4,
            "no IPv4 default route".into(),
            None,
            no_route("IPv4"),
        )),
        None => steps.push(
            Step::fail(
                "route",
                tried4,
                "no IPv4 default route".into(),
                None,
                no_route("IPv4"),
            )
            .as_warning(),
        ),
    }
    let tried6 = "read /proc/net/ipv6_route".to_string();
    match v6 {
        Some((gw, dev)) => steps.push(Step::ok(
            "route",
            tried6,
            via("IPv6", gw.map(IpAddr::V6), &dev),
            None,
        )),
        None if none => steps.push(Step::fail(
            "route",
            tried6,
            "no IPv6 default route".into(),
            None,
            no_route("IPv6"),
        )),
        // Many networks have no IPv6: worth a note, not a failure.
        None => steps.push(
            Step::fail(
                "route",
                tried6,
                "no IPv6 default route".into(),
                None,
                no_route("IPv6"),
            )
            .as_warning(),
        ),
    }
    steps
}

fn via(fam: &str, gw: Option<IpAddr>, dev: &str) -> String {
    match gw {
        Some(g) => format!("{fam} default via {g} dev {dev}"),
        None => format!("{fam} default dev {dev}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::resolv::ResolvConf;

    #[test]
    fn resolv_conf_lines() {
        let rc = parse_resolv_conf(
            "# generated\nnameserver 10.0.0.53\nnameserver ::1 # local\n; x\nsearch a.test b.test\noptions ndots:2 edns0\nbogus\nnameserver\n",
        );
        assert_eq!(rc.nameservers, ["10.0.0.53", "::1"]);
        assert_eq!(rc.search, ["a.test", "b.test"]);
        assert_eq!(rc.options, ["ndots:2", "edns0"]);
        assert_eq!(parse_resolv_conf(""), ResolvConf::default());
    }

    #[test]
    fn default_routes() {
        let r4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\nlo\t00000000\t00000000\t0201\t0\t0\t0\t00000000\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n";
        assert_eq!(
            parse_default_route_v4(r4),
            Some((Some(Ipv4Addr::new(192, 0, 2, 1)), "eth0".into()))
        );
        assert_eq!(parse_default_route_v4("Iface\n"), None);
        let r6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n";
        assert_eq!(
            parse_default_route_v6(r6),
            Some((Some("fd00::1".parse().unwrap()), "eth0".into()))
        );
        assert_eq!(parse_default_route_v6(""), None);
    }

    #[test]
    fn parsers_survive_garbage() {
        for s in ["", "\n\n", "x y z", "a:b:c 0A 0A 0A", "\u{0}\u{ffff}:zz 0A"] {
            let _ = parse_resolv_conf(s);
            let _ = parse_default_route_v4(s);
            let _ = parse_default_route_v6(s);
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*", lines in proptest::collection::vec("[0-9A-Fa-f: .lo-]{0,80}", 0..6)) {
            let joined = lines.join("\n");
            for text in [s.as_str(), joined.as_str()] {
                let _ = parse_resolv_conf(text);
                let _ = parse_default_route_v4(text);
                let _ = parse_default_route_v6(text);
            }
        }
    }
}
