//! Errors → a verdict and the cause in plain words, with the likely fix. Shared by every subcommand.
//!
//! One table: socket errnos, resolver (EAI_*) codes, timeouts, TLS certificate failures and HTTP statuses.

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
#[allow(clippy::match_overlapping_arm)] // specific codes first, then the class ranges
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
        400..=499 => (
            "client error: the server rejected the request",
            "check the URL, method and headers",
        ),
        500..=599 => (
            "server error: the server failed to handle the request",
            "check the server's logs",
        ),
        _ => return None,
    };
    Some(Explanation {
        verdict: Verdict::Protocol,
        code: format!("HTTP {status}"),
        cause: cause.into(),
        fix: fix.into(),
    })
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
}
