//! `netdiag diagnose`: what the walk and the machine check find beyond a single errno — a port dropped although
//! the host answers ping, a hostname that does not resolve, a missing resolver, address or default route.

use std::time::Duration;

use super::verdict::{Explanation, Verdict};
use crate::duration::fmt_ms;

/// A connect that timed out although the host answers ICMP echo: a firewall drops that port, the host is up.
pub fn filtered_but_pings(timeout: Duration, port: u16) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "timeout",
        format!(
            "no answer within {}, although the host answers ping: a firewall is dropping the packets to port {port}",
            fmt_ms(timeout)
        ),
        format!(
            "open port {port} in the firewall (on the host or on the way), or check that the service listens on this address"
        ),
    )
}

/// An ICMP echo without a reply within `timeout` (a warning: many hosts and firewalls drop ICMP).
pub fn no_echo_reply(timeout: Duration) -> Explanation {
    let t = super::errno::timeout(timeout);
    Explanation::new(
        t.verdict,
        t.code,
        format!("no echo reply within {}", fmt_ms(timeout)),
        t.fix,
    )
}

/// This machine's own hostname does not resolve: `e` says why; the fix names the /etc/hosts line.
pub fn hostname_unresolved(e: Explanation, name: &str) -> Explanation {
    Explanation::new(
        e.verdict,
        e.code,
        e.cause,
        format!(
            "add '127.0.1.1 {name}' to /etc/hosts, or a DNS record; some programs (sudo, mail) stall without it"
        ),
    )
}

/// No listener could be opened on ::1 (`e` says why): IPv6 is off on loopback.
pub fn ipv6_loopback_unavailable(e: Explanation) -> Explanation {
    Explanation::new(
        e.verdict,
        e.code,
        format!("cannot use ::1: {}", e.cause),
        "IPv6 looks disabled (net.ipv6.conf.lo.disable_ipv6); fine if you do not need it",
    )
}

/// A connect to a listener on IPv4 loopback failed (`e` says why): loopback itself may be down.
pub fn loopback_v4_failed(e: Explanation) -> Explanation {
    let fix = format!("{}; lo is down? (ip link set lo up)", e.fix);
    Explanation::new(e.verdict, e.code, e.cause, fix)
}

/// There is no /etc/resolv.conf.
pub fn no_resolv_conf() -> Explanation {
    Explanation::new(
        Verdict::Error,
        "no-resolv-conf",
        "there is no /etc/resolv.conf: the resolver falls back to a nameserver on 127.0.0.1",
        "create /etc/resolv.conf with a 'nameserver' line, or start the local resolver",
    )
}

/// /etc/resolv.conf lists no nameserver.
pub fn no_nameserver() -> Explanation {
    Explanation::new(
        Verdict::Error,
        "no-nameserver",
        "/etc/resolv.conf lists no nameserver: the resolver falls back to 127.0.0.1",
        "add a 'nameserver ADDRESS' line, or start a local resolver",
    )
}

/// /etc/resolv.conf lists more nameservers than the resolver uses (3).
pub fn too_many_nameservers(listed: usize) -> Explanation {
    Explanation::new(
        Verdict::Error,
        "too-many-nameservers",
        format!("{listed} nameservers are listed but the resolver uses only the first 3"),
        "keep the three you want first",
    )
}

/// No interface other than loopback has an address.
pub fn no_interface_address() -> Explanation {
    Explanation::new(
        Verdict::Unreachable,
        "no-address",
        "no network interface other than loopback has an address: nothing beyond this machine can be reached",
        "bring the interface up and configure it (ip link set DEV up; DHCP or ip addr add)",
    )
}

/// No default route for a family (`IPv4`, `IPv6`).
pub fn no_default_route(family: &str) -> Explanation {
    Explanation::new(
        Verdict::Unreachable,
        "no-default-route",
        format!(
            "no {family} default route: only directly connected networks can be reached over {family}"
        ),
        "add one (ip route add default via GATEWAY), or check DHCP / the network configuration",
    )
}

/// A step not run because Ctrl-C came first.
pub fn skipped_interrupted() -> Explanation {
    Explanation::new(Verdict::Skipped, "interrupted", "interrupted", "")
}

/// A step not run because the name gave no address (`what`: "reach", "connect to").
pub fn skipped_no_address(what: &str) -> Explanation {
    Explanation::new(
        Verdict::Skipped,
        "no-address",
        format!("no address to {what}"),
        "",
    )
}

/// The reach step not run because ICMP echo could not be sent (`error`, ping's words): most often no
/// permission.
pub fn skipped_no_icmp(error: &str) -> Explanation {
    let permission = ["EACCES", "EPERM", "permission"]
        .iter()
        .any(|w| error.contains(w));
    let why = if permission {
        "no permission for ICMP: needs root, CAP_NET_RAW or a group in net.ipv4.ping_group_range"
    } else {
        error
    };
    Explanation::new(
        Verdict::Skipped,
        "no-icmp",
        format!("ICMP echo is not possible here ({why})"),
        "the connect step tests reachability",
    )
}

/// Addresses past the first `max`, which are not connected to.
pub fn skipped_too_many_addresses(max: usize) -> Explanation {
    Explanation::new(
        Verdict::Skipped,
        "too-many-addresses",
        format!("only the first {max} are tried"),
        "",
    )
}

/// The talk step for a port with no protocol netdiag checks.
pub fn skipped_no_protocol_check(port: u16) -> Explanation {
    Explanation::new(
        Verdict::Skipped,
        "no-protocol-check",
        format!("no protocol check for port {port}"),
        "give a URL (http://...) to check HTTP",
    )
}

/// The talk step when no address accepted a connection.
pub fn skipped_no_connection() -> Explanation {
    Explanation::new(
        Verdict::Skipped,
        "no-connection",
        "no connection to talk over",
        "",
    )
}

/// The path step when the trace could not run (`error`, the trace's words: no socket, no permission).
pub fn skipped_no_trace(error: &str) -> Explanation {
    Explanation::new(
        Verdict::Skipped,
        "no-trace",
        format!("the trace could not run ({error})"),
        "run netdiag trace HOST:PORT as root to see where the path stops",
    )
}

/// The listening-sockets check when the socket table cannot be read (`detail`).
pub fn skipped_no_socket_table(detail: &str) -> Explanation {
    Explanation::new(
        Verdict::Skipped,
        "no-socket-table",
        format!("cannot read the socket table ({detail})"),
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_check_words() {
        let e = filtered_but_pings(Duration::from_secs(1), 8080);
        assert!(e.cause.contains("although the host answers ping") && e.fix.contains("port 8080"));
        assert!(no_echo_reply(Duration::from_secs(1))
            .cause
            .starts_with("no echo reply within 1"));
        let e = hostname_unresolved(crate::explain::resolver(libc::EAI_NONAME), "box");
        assert_eq!(e.code, "EAI_NONAME");
        assert!(e.fix.contains("127.0.1.1 box"));
        let e = loopback_v4_failed(crate::explain::errno(libc::ECONNREFUSED));
        assert!(e.fix.ends_with("lo is down? (ip link set lo up)"));
        assert!(too_many_nameservers(4).cause.starts_with("4 nameservers"));
        assert_eq!(no_default_route("IPv6").code, "no-default-route");
        let e = skipped_no_protocol_check(7788);
        assert_eq!(e.verdict, Verdict::Skipped);
        assert_eq!(
            e.sentence(),
            "no protocol check for port 7788; give a URL (http://...) to check HTTP"
        );
        assert!(skipped_no_icmp("x")
            .sentence()
            .ends_with("the connect step tests reachability"));
    }
}
