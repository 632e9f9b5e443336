//! Socket errnos and I/O errors.

use std::io;
use std::time::Duration;

use super::verdict::{Explanation, Verdict};

/// One row of the errno table: the errnos it covers, the verdict, the symbolic code, the cause and the fix.
type ErrnoRow = (
    &'static [i32],
    Verdict,
    &'static str,
    &'static str,
    &'static str,
);

/// The socket errnos netdiag explains. Any other errno keeps the system's own message.
const ERRNOS: &[ErrnoRow] = &[
    (
        &[libc::ECONNREFUSED],
        Verdict::Closed,
        "ECONNREFUSED",
        "connection refused: the host is up but nothing listens on that port",
        "is the service running, or bound to 127.0.0.1 only?",
    ),
    (
        &[libc::ETIMEDOUT],
        Verdict::Filtered,
        "ETIMEDOUT",
        "no answer before the deadline: a firewall is probably dropping the packets, or the host is down",
        "check firewalls on the way and that the host is up",
    ),
    (
        &[libc::EHOSTUNREACH],
        Verdict::Unreachable,
        "EHOSTUNREACH",
        "host unreachable: a router (or this machine) reports that the host cannot be reached",
        "check that the host is up and that the address is right",
    ),
    (
        &[libc::ENETUNREACH],
        Verdict::Unreachable,
        "ENETUNREACH",
        "network unreachable: this machine has no route to that network",
        "check the routing table (ip route) and the default gateway",
    ),
    (
        &[libc::EADDRNOTAVAIL],
        Verdict::Unreachable,
        "EADDRNOTAVAIL",
        "address not available: the address cannot be used from here (no local address of that family, or no free local port)",
        "check the address family and local interfaces",
    ),
    (
        &[libc::ENETDOWN],
        Verdict::Unreachable,
        "ENETDOWN",
        "network is down: the interface toward that network is down",
        "bring the interface up (ip link)",
    ),
    (
        &[libc::ECONNRESET],
        Verdict::Reset,
        "ECONNRESET",
        "connection reset by peer: the other side closed the connection abruptly",
        "the server may have crashed, rejected the request or hit a limit; check its logs",
    ),
    (
        &[libc::ECONNABORTED],
        Verdict::Reset,
        "ECONNABORTED",
        "connection aborted on this machine",
        "retry; check local firewall rules",
    ),
    (
        &[libc::EPIPE],
        Verdict::Reset,
        "EPIPE",
        "broken pipe: the peer closed the connection while data was still being sent",
        "the server stopped reading; check its limits and logs",
    ),
    (
        &[libc::EACCES],
        Verdict::Denied,
        "EACCES",
        "permission denied: this machine refuses the operation (a firewall rule, or a privileged port or socket type)",
        "run with the needed privilege (root or CAP_NET_RAW) or check local firewall rules",
    ),
    (
        &[libc::EPERM],
        Verdict::Denied,
        "EPERM",
        "operation not permitted: a local firewall rule or missing privilege blocked it",
        "check local firewall rules (nft list ruleset) or run with CAP_NET_RAW",
    ),
    (
        &[libc::EADDRINUSE],
        Verdict::Denied,
        "EADDRINUSE",
        "address already in use: another socket is bound to that address and port",
        "stop the other program (netdiag sockets -l -p shows who) or choose another port",
    ),
    (
        &[libc::EMFILE],
        Verdict::Denied,
        "EMFILE",
        "too many open files: this process reached its open-files limit",
        "raise the limit (ulimit -n) or lower the concurrency",
    ),
    (
        &[libc::ENFILE],
        Verdict::Denied,
        "ENFILE",
        "too many open files in the system",
        "close other programs or raise fs.file-max",
    ),
    (
        &[libc::ENOBUFS, libc::ENOMEM],
        Verdict::Denied,
        "ENOBUFS",
        "out of buffer space or memory in the kernel",
        "lower the concurrency or rate",
    ),
    (
        &[libc::EAFNOSUPPORT],
        Verdict::Unreachable,
        "EAFNOSUPPORT",
        "address family not supported: IPv6 (or IPv4) is disabled on this machine",
        "use the other address family (-4 or -6)",
    ),
    (
        &[libc::EMSGSIZE],
        Verdict::Unreachable,
        "EMSGSIZE",
        "message too long: the packet is larger than the path MTU and may not be fragmented (don't-fragment set)",
        "send smaller packets, or find the path MTU (tracepath)",
    ),
    (
        &[libc::EPROTO],
        Verdict::Protocol,
        "EPROTO",
        "protocol error reported by the kernel",
        "",
    ),
    (
        &[libc::EINPROGRESS, libc::EALREADY, libc::EAGAIN],
        Verdict::Filtered,
        "EINPROGRESS",
        "the operation did not complete in time",
        "",
    ),
];

/// Explains an errno value from a socket call.
pub fn errno(code: i32) -> Explanation {
    match ERRNOS.iter().find(|row| row.0.contains(&code)) {
        Some(&(_, verdict, name, cause, fix)) => Explanation::new(verdict, name, cause, fix),
        None => Explanation::new(
            Verdict::Error,
            format!("errno {code}"),
            io::Error::from_raw_os_error(code)
                .to_string()
                .to_lowercase(),
            "",
        ),
    }
}

/// The verdict of an errno alone, without building the words (a scan asks it for every closed port).
pub fn errno_verdict(code: i32) -> Verdict {
    ERRNOS
        .iter()
        .find(|row| row.0.contains(&code))
        .map_or(Verdict::Error, |row| row.1)
}

/// Explains an I/O error: its errno when it has one, its kind otherwise.
pub fn io_error(e: &io::Error) -> Explanation {
    if let Some(code) = e.raw_os_error() {
        return errno(code);
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => errno(libc::ETIMEDOUT),
        io::ErrorKind::ConnectionRefused => errno(libc::ECONNREFUSED),
        io::ErrorKind::ConnectionReset => errno(libc::ECONNRESET),
        io::ErrorKind::ConnectionAborted => errno(libc::ECONNABORTED),
        io::ErrorKind::BrokenPipe => errno(libc::EPIPE),
        io::ErrorKind::PermissionDenied => errno(libc::EACCES),
        io::ErrorKind::AddrInUse => errno(libc::EADDRINUSE),
        io::ErrorKind::AddrNotAvailable => errno(libc::EADDRNOTAVAIL),
        io::ErrorKind::UnexpectedEof => Explanation::new(
            Verdict::Reset,
            "EOF",
            "the peer closed the connection before answering in full",
            "the server may have crashed or rejected the request; check its logs",
        ),
        _ => Explanation::new(Verdict::Error, "error", e.to_string(), ""),
    }
}

/// Explains a failed connect to `port`, naming the port and the deadline in the words.
pub fn connect_error(e: &io::Error, deadline: Duration, port: u16) -> Explanation {
    let x = if e.kind() == io::ErrorKind::TimedOut && e.raw_os_error().is_none() {
        timeout(deadline)
    } else {
        io_error(e)
    };
    on_port(x, port)
}

/// Explains a deadline that passed with no answer.
pub fn timeout(after: Duration) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "timeout",
        format!(
            "no answer within {}: a firewall is probably dropping the packets, or the host is down",
            crate::duration::fmt_ms(after)
        ),
        "check firewalls on the way and that the host is up; a longer --timeout may help on slow links",
    )
}

/// Names the port in an explanation's words: "nothing listens on that port" becomes "... on port 8080".
pub fn on_port(mut e: Explanation, port: u16) -> Explanation {
    e.cause = e.cause.replace("on that port", &format!("on port {port}"));
    e
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use std::io;

    #[test]
    fn refused_is_closed_with_a_hint() {
        let e = errno(libc::ECONNREFUSED);
        assert_eq!(e.verdict, Verdict::Closed);
        assert_eq!(e.code, "ECONNREFUSED");
        assert!(e.cause.contains("nothing listens"));
        assert!(e.fix.contains("127.0.0.1"));
    }

    #[test]
    fn unreachable_family() {
        for (code, name) in [
            (libc::EHOSTUNREACH, "EHOSTUNREACH"),
            (libc::ENETUNREACH, "ENETUNREACH"),
            (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
        ] {
            let e = errno(code);
            assert_eq!(e.verdict, Verdict::Unreachable, "{name}");
            assert_eq!(e.code, name);
        }
        assert!(errno(libc::ENETUNREACH).fix.contains("route"));
    }

    #[test]
    fn emsgsize_names_the_path_mtu() {
        let e = errno(libc::EMSGSIZE);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Unreachable, "EMSGSIZE")
        );
        assert!(e.cause.contains("path MTU"));
    }

    #[test]
    fn resets_and_pipes() {
        assert_eq!(errno(libc::ECONNRESET).verdict, Verdict::Reset);
        assert_eq!(errno(libc::EPIPE).code, "EPIPE");
    }

    #[test]
    fn local_refusals() {
        assert_eq!(errno(libc::EACCES).verdict, Verdict::Denied);
        assert!(errno(libc::EPERM).cause.contains("firewall"));
        assert!(errno(libc::EADDRINUSE).cause.contains("already in use"));
        assert!(errno(libc::EMFILE).fix.contains("ulimit"));
    }

    #[test]
    fn the_verdict_alone_matches_the_explanation() {
        for code in 0..200 {
            assert_eq!(errno_verdict(code), errno(code).verdict, "errno {code}");
        }
    }

    #[test]
    fn unknown_errno_keeps_the_system_message() {
        let e = errno(libc::ENOTDIR);
        assert_eq!(e.verdict, Verdict::Error);
        assert!(e.code.starts_with("errno"));
        assert!(!e.cause.is_empty());
    }

    // One test per case listed in issue 7, item 3.

    #[test]
    fn econnrefused_says_nothing_listens_and_names_the_port() {
        let e = on_port(errno(libc::ECONNREFUSED), 8080);
        assert_eq!(e.verdict, Verdict::Closed);
        assert_eq!(
            e.sentence(),
            "connection refused: the host is up but nothing listens on port 8080; is the service running, or bound to 127.0.0.1 only?"
        );
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::ConnectionRefused)).code,
            "ECONNREFUSED"
        );
    }

    #[test]
    fn ehostunreach_is_unreachable_host() {
        let e = errno(libc::EHOSTUNREACH);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Unreachable, "EHOSTUNREACH")
        );
        assert!(e.cause.starts_with("host unreachable"));
        assert!(e.fix.contains("host is up"));
    }

    #[test]
    fn enetunreach_points_at_the_routing_table() {
        let e = errno(libc::ENETUNREACH);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Unreachable, "ENETUNREACH")
        );
        assert!(e.cause.contains("no route"));
        assert!(e.fix.contains("ip route"));
    }

    #[test]
    fn eaddrnotavail_is_about_local_addresses() {
        let e = errno(libc::EADDRNOTAVAIL);
        assert_eq!(e.code, "EADDRNOTAVAIL");
        assert!(e.cause.contains("no local address"));
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::AddrNotAvailable)).code,
            "EADDRNOTAVAIL"
        );
    }

    #[test]
    fn econnreset_is_a_reset_by_the_peer() {
        let e = errno(libc::ECONNRESET);
        assert_eq!((e.verdict, e.code.as_str()), (Verdict::Reset, "ECONNRESET"));
        assert!(e.cause.starts_with("connection reset by peer"));
        assert!(e.fix.contains("logs"));
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::ConnectionReset)).code,
            "ECONNRESET"
        );
    }

    #[test]
    fn epipe_is_a_broken_pipe() {
        let e = errno(libc::EPIPE);
        assert_eq!((e.verdict, e.code.as_str()), (Verdict::Reset, "EPIPE"));
        assert!(e.cause.starts_with("broken pipe"));
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::BrokenPipe)).code,
            "EPIPE"
        );
    }

    #[test]
    fn eacces_and_eperm_name_privilege_and_firewall() {
        let e = errno(libc::EACCES);
        assert_eq!((e.verdict, e.code.as_str()), (Verdict::Denied, "EACCES"));
        assert!(e.cause.contains("firewall") && e.cause.contains("socket type"));
        assert!(e.fix.contains("CAP_NET_RAW"));
        let e = errno(libc::EPERM);
        assert_eq!((e.verdict, e.code.as_str()), (Verdict::Denied, "EPERM"));
        assert!(e.fix.contains("nft list ruleset"));
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::PermissionDenied)).code,
            "EACCES"
        );
    }

    #[test]
    fn eaddrinuse_says_who_to_look_for() {
        let e = errno(libc::EADDRINUSE);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Denied, "EADDRINUSE")
        );
        assert!(e.fix.contains("netdiag sockets"));
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::AddrInUse)).code,
            "EADDRINUSE"
        );
    }

    #[test]
    fn emfile_points_at_ulimit() {
        let e = errno(libc::EMFILE);
        assert_eq!((e.verdict, e.code.as_str()), (Verdict::Denied, "EMFILE"));
        assert!(e.cause.contains("open-files limit"));
        assert!(e.fix.contains("ulimit -n"));
    }
}
