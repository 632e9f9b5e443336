//! Errors → a verdict and the cause in plain words, with the likely fix. Shared by every subcommand.
//!
//! One table: socket errnos, resolver (EAI_*) codes, timeouts, TLS certificate failures and HTTP statuses.

pub mod exporter;

use std::io;
use std::time::Duration;

use serde::Serialize;

/// What a failure means for the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// It worked: connected, found, answered.
    Ok,
    /// The host answered and refused (TCP RST, ICMP port unreachable).
    Closed,
    /// No answer before the deadline: dropped by a firewall, or the host is down.
    Filtered,
    /// The network says there is no way there (no route, host unreachable).
    Unreachable,
    /// The name does not exist, or has no address of the kind asked for.
    NotFound,
    /// A temporary failure; trying again later may work.
    Temporary,
    /// The connection was cut by the peer or on the way.
    Reset,
    /// This machine refused: permission, firewall rule, resource limit.
    Denied,
    /// The peer answered with something wrong: TLS failure, HTTP error, protocol violation.
    Protocol,
    /// Anything else.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Closed => "closed",
            Verdict::Filtered => "filtered",
            Verdict::Unreachable => "unreachable",
            Verdict::NotFound => "not-found",
            Verdict::Temporary => "temporary",
            Verdict::Reset => "reset",
            Verdict::Denied => "denied",
            Verdict::Protocol => "protocol",
            Verdict::Error => "error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure explained: the verdict, the symbolic code (`ECONNREFUSED`, `EAI_NONAME`, `timeout`), the cause and
/// the likely fix, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    pub code: String,
    pub cause: String,
    pub fix: String,
}

impl Explanation {
    fn new(verdict: Verdict, code: &str, cause: &str, fix: &str) -> Explanation {
        Explanation {
            verdict,
            code: code.to_string(),
            cause: cause.to_string(),
            fix: fix.to_string(),
        }
    }

    /// `cause; fix` in one line.
    pub fn sentence(&self) -> String {
        if self.fix.is_empty() {
            self.cause.clone()
        } else {
            format!("{}; {}", self.cause, self.fix)
        }
    }
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.sentence(), self.code)
    }
}

/// Explains an errno value from a socket call.
pub fn errno(code: i32) -> Explanation {
    use Verdict::*;
    let (v, name, cause, fix) = match code {
        libc::ECONNREFUSED => (
            Closed,
            "ECONNREFUSED",
            "connection refused: the host is up but nothing listens on that port",
            "is the service running, or bound to 127.0.0.1 only?",
        ),
        libc::ETIMEDOUT => (
            Filtered,
            "ETIMEDOUT",
            "no answer before the deadline: a firewall is probably dropping the packets, or the host is down",
            "check firewalls on the way and that the host is up",
        ),
        libc::EHOSTUNREACH => (
            Unreachable,
            "EHOSTUNREACH",
            "host unreachable: a router (or this machine) reports that the host cannot be reached",
            "check that the host is up and that the address is right",
        ),
        libc::ENETUNREACH => (
            Unreachable,
            "ENETUNREACH",
            "network unreachable: this machine has no route to that network",
            "check the routing table (ip route) and the default gateway",
        ),
        libc::EADDRNOTAVAIL => (
            Unreachable,
            "EADDRNOTAVAIL",
            "address not available: the address cannot be used from here (no local address of that family, or no free local port)",
            "check the address family and local interfaces",
        ),
        libc::ENETDOWN => (
            Unreachable,
            "ENETDOWN",
            "network is down: the interface toward that network is down",
            "bring the interface up (ip link)",
        ),
        libc::ECONNRESET => (
            Reset,
            "ECONNRESET",
            "connection reset by peer: the other side closed the connection abruptly",
            "the server may have crashed, rejected the request or hit a limit; check its logs",
        ),
        libc::ECONNABORTED => (
            Reset,
            "ECONNABORTED",
            "connection aborted on this machine",
            "retry; check local firewall rules",
        ),
        libc::EPIPE => (
            Reset,
            "EPIPE",
            "broken pipe: the peer closed the connection while data was still being sent",
            "the server stopped reading; check its limits and logs",
        ),
        libc::EACCES => (
            Denied,
            "EACCES",
            "permission denied: this machine refuses the operation (a firewall rule, or a privileged port or socket type)",
            "run with the needed privilege (root or CAP_NET_RAW) or check local firewall rules",
        ),
        libc::EPERM => (
            Denied,
            "EPERM",
            "operation not permitted: a local firewall rule or missing privilege blocked it",
            "check local firewall rules (nft list ruleset) or run with CAP_NET_RAW",
        ),
        libc::EADDRINUSE => (
            Denied,
            "EADDRINUSE",
            "address already in use: another socket is bound to that address and port",
            "stop the other program (netdiag sockets -l -p shows who) or choose another port",
        ),
        libc::EMFILE => (
            Denied,
            "EMFILE",
            "too many open files: this process reached its open-files limit",
            "raise the limit (ulimit -n) or lower the concurrency",
        ),
        libc::ENFILE => (
            Denied,
            "ENFILE",
            "too many open files in the system",
            "close other programs or raise fs.file-max",
        ),
        libc::ENOBUFS | libc::ENOMEM => (
            Denied,
            "ENOBUFS",
            "out of buffer space or memory in the kernel",
            "lower the concurrency or rate",
        ),
        libc::EAFNOSUPPORT => (
            Unreachable,
            "EAFNOSUPPORT",
            "address family not supported: IPv6 (or IPv4) is disabled on this machine",
            "use the other address family (-4 or -6)",
        ),
        libc::EMSGSIZE => (
            Unreachable,
            "EMSGSIZE",
            "message too long: the packet is larger than the path MTU and may not be fragmented (don't-fragment set)",
            "send smaller packets, or find the path MTU (tracepath)",
        ),
        libc::EPROTO => (
            Protocol,
            "EPROTO",
            "protocol error reported by the kernel",
            "",
        ),
        libc::EINPROGRESS | libc::EALREADY | libc::EAGAIN => (
            Filtered,
            "EINPROGRESS",
            "the operation did not complete in time",
            "",
        ),
        _ => (Error, "", "", ""),
    };
    if v == Error {
        let msg = io::Error::from_raw_os_error(code).to_string();
        return Explanation {
            verdict: Error,
            code: format!("errno {code}"),
            cause: msg.to_lowercase(),
            fix: String::new(),
        };
    }
    Explanation::new(v, name, cause, fix)
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
        _ => Explanation::new(Verdict::Error, "error", &e.to_string(), ""),
    }
}

/// Explains a deadline that passed with no answer.
pub fn timeout(after: Duration) -> Explanation {
    Explanation {
        verdict: Verdict::Filtered,
        code: "timeout".into(),
        cause: format!(
            "no answer within {}: a firewall is probably dropping the packets, or the host is down",
            crate::duration::fmt_ms(after)
        ),
        fix: "check firewalls on the way and that the host is up; a longer --timeout may help on slow links".into(),
    }
}

/// glibc's EAI_ADDRFAMILY (not exported by the libc crate): the host has no address in the requested family.
pub const EAI_ADDRFAMILY: i32 = -9;

/// Explains a getaddrinfo/getnameinfo failure code (`EAI_*`).
pub fn resolver(eai: i32) -> Explanation {
    use Verdict::*;
    let (v, name, cause, fix) = match eai {
        libc::EAI_NONAME => (
            NotFound,
            "EAI_NONAME",
            "name not found: the resolver knows no such name",
            "check the spelling or the DNS server (/etc/resolv.conf)",
        ),
        libc::EAI_NODATA => (
            NotFound,
            "EAI_NODATA",
            "the name exists but has no address of the kind asked for",
            "try the other address family (-4 or -6), or check the DNS records",
        ),
        EAI_ADDRFAMILY => (
            NotFound,
            "EAI_ADDRFAMILY",
            "the name has no address in the requested family",
            "try the other address family (-4 or -6)",
        ),
        libc::EAI_AGAIN => (
            Temporary,
            "EAI_AGAIN",
            "temporary failure in name resolution: the DNS server did not answer or is unreachable",
            "check the network and the nameservers in /etc/resolv.conf, then try again",
        ),
        libc::EAI_FAIL => (
            Error,
            "EAI_FAIL",
            "the DNS server failed permanently to answer (SERVFAIL or refused)",
            "check the nameservers in /etc/resolv.conf and the zone's DNS servers",
        ),
        libc::EAI_FAMILY => (
            Error,
            "EAI_FAMILY",
            "address family not supported by the resolver",
            "use -4 or -6",
        ),
        libc::EAI_MEMORY => (Denied, "EAI_MEMORY", "the resolver ran out of memory", ""),
        libc::EAI_SERVICE => (
            NotFound,
            "EAI_SERVICE",
            "service name not known for this socket type",
            "give the port as a number",
        ),
        libc::EAI_SYSTEM => (
            Error,
            "EAI_SYSTEM",
            "a system error happened during name resolution",
            "",
        ),
        _ => (Error, "", "", ""),
    };
    if name.is_empty() {
        return Explanation {
            verdict: Error,
            code: format!("EAI {eai}"),
            cause: "name resolution failed".into(),
            fix: String::new(),
        };
    }
    Explanation::new(v, name, cause, fix)
}

/// Kinds of TLS certificate failure, as rustls reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertProblem {
    Expired,
    NotYetValid,
    NameMismatch,
    UnknownIssuer,
    SelfSigned,
    Revoked,
    Other,
}

/// Explains a TLS certificate failure.
pub fn certificate(problem: CertProblem, host: &str) -> Explanation {
    let (code, cause, fix) = match problem {
        CertProblem::Expired => (
            "cert-expired",
            "the server's certificate has expired".to_string(),
            "the server must renew its certificate; check this machine's clock too",
        ),
        CertProblem::NotYetValid => (
            "cert-not-yet-valid",
            "the server's certificate is not valid yet".to_string(),
            "check this machine's clock (date)",
        ),
        CertProblem::NameMismatch => (
            "cert-name-mismatch",
            format!("the server's certificate is not valid for the name '{host}'"),
            "use the name the certificate was issued for, or fix the server's certificate",
        ),
        CertProblem::UnknownIssuer => (
            "cert-unknown-issuer",
            "the server's certificate was issued by an authority this machine does not trust"
                .to_string(),
            "trust the issuer with --cacert FILE, or use --insecure to look anyway",
        ),
        CertProblem::SelfSigned => (
            "cert-self-signed",
            "the server's certificate is self-signed".to_string(),
            "trust it with --cacert FILE, or use --insecure to look anyway",
        ),
        CertProblem::Revoked => (
            "cert-revoked",
            "the server's certificate has been revoked".to_string(),
            "the server must get a new certificate",
        ),
        CertProblem::Other => (
            "cert-invalid",
            "the server's certificate was rejected".to_string(),
            "use --insecure to look anyway",
        ),
    };
    Explanation {
        verdict: Verdict::Protocol,
        code: code.into(),
        cause,
        fix: fix.into(),
    }
}

/// Explains an HTTP status; `None` for 1xx-3xx (not failures).
pub fn http_status(status: u16) -> Option<Explanation> {
    let (cause, fix) = match status {
        400 => (
            "400 Bad Request: the server could not understand the request",
            "check the URL and headers",
        ),
        401 => (
            "401 Unauthorized: the resource needs authentication",
            "send credentials (-H 'Authorization: ...')",
        ),
        403 => (
            "403 Forbidden: the server refuses to serve this resource",
            "check permissions or access rules on the server",
        ),
        404 => (
            "404 Not Found: the server has nothing at this path",
            "check the path in the URL",
        ),
        405 => (
            "405 Method Not Allowed: the server does not accept this method here",
            "try GET, or check the API",
        ),
        408 => (
            "408 Request Timeout: the server gave up waiting for the request",
            "retry; check for slow links",
        ),
        429 => (
            "429 Too Many Requests: the server is rate-limiting this client",
            "slow down and retry later",
        ),
        500 => (
            "500 Internal Server Error: the server failed while handling the request",
            "check the server's logs",
        ),
        502 => (
            "502 Bad Gateway: a proxy got a bad answer from the server behind it",
            "check the upstream server behind the proxy",
        ),
        503 => (
            "503 Service Unavailable: the server is overloaded or down for maintenance",
            "retry later; check the server's health",
        ),
        504 => (
            "504 Gateway Timeout: a proxy got no answer in time from the server behind it",
            "check the upstream server behind the proxy",
        ),
        _ => return http_status_class(status),
    };
    Some(Explanation {
        verdict: Verdict::Protocol,
        code: format!("HTTP {status}"),
        cause: cause.into(),
        fix: fix.into(),
    })
}

/// The generic explanation for a 4xx or 5xx status without a specific entry.
fn http_status_class(status: u16) -> Option<Explanation> {
    let (cause, fix) = match status / 100 {
        4 => (
            format!("{status} client error: the server rejected the request"),
            "check the URL, method and headers",
        ),
        5 => (
            format!("{status} server error: the server failed to handle the request"),
            "check the server's logs",
        ),
        _ => return None,
    };
    Some(Explanation {
        verdict: Verdict::Protocol,
        code: format!("HTTP {status}"),
        cause,
        fix: fix.into(),
    })
}

/// Kinds of TLS failure other than the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The peer's first bytes are not a TLS record (plain HTTP, SSH, ... on that port).
    NotTls,
    /// No protocol version in common (e.g. the server speaks only TLS 1.0).
    NoCommonVersion,
    /// The server sent a handshake_failure alert: no cipher suite or extension in common.
    HandshakeFailure,
    /// The server closed the connection in the middle of the handshake.
    ClosedDuringHandshake,
    /// Any other alert or error; the text is kept.
    Other,
}

/// Explains a TLS handshake failure that is not about the certificate.
pub fn tls(problem: TlsProblem, detail: &str) -> Explanation {
    let (code, cause, fix) = match problem {
        TlsProblem::NotTls => (
            "tls-not-tls",
            "the server does not speak TLS on this port (it answered in plain text)".to_string(),
            "use http:// for this port, or the port the TLS service listens on",
        ),
        TlsProblem::NoCommonVersion => (
            "tls-version",
            "the server and netdiag share no TLS version (netdiag speaks TLS 1.2 and 1.3)"
                .to_string(),
            "the server must enable TLS 1.2 or 1.3",
        ),
        TlsProblem::HandshakeFailure => (
            "tls-handshake",
            "the TLS handshake failed: the server accepts no cipher suite or option netdiag offers"
                .to_string(),
            "check the server's TLS configuration (ciphers, SNI name)",
        ),
        TlsProblem::ClosedDuringHandshake => (
            "tls-closed",
            "the server closed the connection during the TLS handshake".to_string(),
            "the server may require a different name (SNI) or client certificate; check its logs",
        ),
        TlsProblem::Other => (
            "tls-error",
            format!("the TLS handshake failed: {detail}"),
            "check the server's TLS configuration",
        ),
    };
    Explanation {
        verdict: Verdict::Protocol,
        code: code.into(),
        cause,
        fix: fix.into(),
    }
}

/// Names the port in an explanation's words: "nothing listens on that port" becomes "... on port 8080".
pub fn on_port(mut e: Explanation, port: u16) -> Explanation {
    e.cause = e.cause.replace("on that port", &format!("on port {port}"));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn timeouts_are_filtered() {
        let e = timeout(Duration::from_secs(1));
        assert_eq!(e.verdict, Verdict::Filtered);
        assert!(e.cause.contains("no answer within 1.000 s"), "{}", e.cause);
        assert_eq!(errno(libc::ETIMEDOUT).verdict, Verdict::Filtered);
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::TimedOut)).verdict,
            Verdict::Filtered
        );
    }

    #[test]
    fn resolver_codes() {
        let e = resolver(libc::EAI_NONAME);
        assert_eq!(e.verdict, Verdict::NotFound);
        assert!(e.cause.starts_with("name not found"));
        assert!(e.fix.contains("spelling"));
        assert_eq!(resolver(libc::EAI_AGAIN).verdict, Verdict::Temporary);
        assert_eq!(resolver(libc::EAI_FAIL).code, "EAI_FAIL");
        assert_eq!(resolver(libc::EAI_NODATA).verdict, Verdict::NotFound);
        assert_eq!(resolver(12345).verdict, Verdict::Error);
    }

    #[test]
    fn certificates() {
        assert!(certificate(CertProblem::Expired, "x")
            .cause
            .contains("expired"));
        assert!(certificate(CertProblem::NameMismatch, "example.test")
            .cause
            .contains("example.test"));
        assert!(certificate(CertProblem::UnknownIssuer, "x")
            .fix
            .contains("--cacert"));
        assert!(certificate(CertProblem::SelfSigned, "x")
            .cause
            .contains("self-signed"));
    }

    #[test]
    fn http_statuses() {
        assert!(http_status(200).is_none());
        assert!(http_status(301).is_none());
        assert!(http_status(404).unwrap().cause.contains("Not Found"));
        assert!(http_status(500).unwrap().fix.contains("logs"));
        assert!(http_status(599).is_some());
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
    fn timeout_names_the_deadline_and_the_firewall() {
        let e = timeout(Duration::from_millis(500));
        assert_eq!(e.code, "timeout");
        assert!(
            e.cause.starts_with("no answer within 500.0 ms: a firewall"),
            "{}",
            e.cause
        );
        assert!(e.fix.contains("--timeout"));
        let e = errno(libc::ETIMEDOUT);
        assert!(e.cause.contains("firewall"));
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::WouldBlock)).verdict,
            Verdict::Filtered
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

    #[test]
    fn eai_noname_is_name_not_found() {
        let e = resolver(libc::EAI_NONAME);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::NotFound, "EAI_NONAME")
        );
        assert_eq!(
            e.sentence(),
            "name not found: the resolver knows no such name; check the spelling or the DNS server (/etc/resolv.conf)"
        );
    }

    #[test]
    fn eai_again_is_temporary_and_names_the_nameservers() {
        let e = resolver(libc::EAI_AGAIN);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Temporary, "EAI_AGAIN")
        );
        assert!(e.cause.contains("did not answer"));
        assert!(e.fix.contains("/etc/resolv.conf"));
    }

    #[test]
    fn eai_fail_is_a_server_failure() {
        let e = resolver(libc::EAI_FAIL);
        assert_eq!(e.code, "EAI_FAIL");
        assert!(e.cause.contains("SERVFAIL"));
        assert!(e.fix.contains("nameservers"));
    }

    #[test]
    fn eai_nodata_and_addrfamily_suggest_the_other_family() {
        let e = resolver(libc::EAI_NODATA);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::NotFound, "EAI_NODATA")
        );
        assert!(e.fix.contains("-4 or -6"));
        assert_eq!(resolver(EAI_ADDRFAMILY).code, "EAI_ADDRFAMILY");
    }

    #[test]
    fn every_certificate_problem_has_its_own_code_and_fix() {
        let all = [
            CertProblem::Expired,
            CertProblem::NotYetValid,
            CertProblem::NameMismatch,
            CertProblem::UnknownIssuer,
            CertProblem::SelfSigned,
            CertProblem::Revoked,
            CertProblem::Other,
        ];
        let codes: std::collections::HashSet<String> =
            all.iter().map(|p| certificate(*p, "h.test").code).collect();
        assert_eq!(codes.len(), all.len());
        for p in all {
            let e = certificate(p, "h.test");
            assert_eq!(e.verdict, Verdict::Protocol);
            assert!(e.code.starts_with("cert-"));
            assert!(!e.fix.is_empty(), "{p:?}");
        }
        assert!(certificate(CertProblem::NotYetValid, "x")
            .fix
            .contains("clock"));
    }

    #[test]
    fn tls_handshake_failures_other_than_certificates() {
        let e = tls(TlsProblem::NotTls, "");
        assert!(e.cause.contains("does not speak TLS"));
        assert!(e.fix.contains("http://"));
        assert!(tls(TlsProblem::NoCommonVersion, "")
            .cause
            .contains("TLS 1.2"));
        assert_eq!(tls(TlsProblem::HandshakeFailure, "").code, "tls-handshake");
        assert!(tls(TlsProblem::ClosedDuringHandshake, "")
            .fix
            .contains("SNI"));
        assert!(tls(TlsProblem::Other, "bad record mac")
            .cause
            .contains("bad record mac"));
    }

    #[test]
    fn http_4xx_and_5xx_are_failures_with_specific_words() {
        for s in [400, 401, 403, 404, 405, 408, 429, 418, 451, 499] {
            let e = http_status(s).expect("4xx explained");
            assert_eq!(e.verdict, Verdict::Protocol);
            assert_eq!(e.code, format!("HTTP {s}"));
            assert!(e.cause.starts_with(&s.to_string()), "{}", e.cause);
        }
        for s in [500, 502, 503, 504, 507, 599] {
            let e = http_status(s).expect("5xx explained");
            assert!(e.cause.starts_with(&s.to_string()), "{}", e.cause);
            assert!(!e.fix.is_empty());
        }
        for s in [100, 200, 204, 301, 304, 399, 600, 0] {
            assert!(http_status(s).is_none(), "{s}");
        }
        assert!(http_status(429).unwrap().fix.contains("slow down"));
        assert!(http_status(503).unwrap().cause.contains("overloaded"));
    }
}
