//! TLS: certificate failures as rustls reports them, and handshakes that fail for other reasons.

use super::verdict::{Explanation, Verdict};

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
            "add the issuer to the system trust store (update-ca-certificates) or trust it with --cacert FILE, or use --insecure to look anyway",
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

/// A certificate failure whose certificate is also a CA (`openssl req -x509` makes them so): rustls refuses a CA
/// as a server certificate even when it is trusted with --cacert.
pub fn ca_as_server_certificate(problem: CertProblem, host: &str) -> Explanation {
    let x = certificate(problem, host);
    Explanation::new(
        x.verdict,
        x.code,
        format!(
            "{}; it is also a CA certificate (as `openssl req -x509` makes them), which is refused as a server certificate unless --cacert holds that very certificate",
            x.cause
        ),
        "pass this certificate with --cacert FILE (accepted when byte-identical, as curl does), or use --insecure to look anyway",
    )
}

/// A certificate rejected for a reason without an entry of its own; `detail` is rustls's words.
pub fn certificate_rejected(host: &str, detail: &str) -> Explanation {
    let x = certificate(CertProblem::Other, host);
    Explanation::new(x.verdict, x.code, format!("{} ({detail})", x.cause), x.fix)
}

/// A handshake that failed for a reason other than the certificate; `detail` is rustls's words.
pub fn handshake_failed(detail: &str) -> Explanation {
    Explanation::new(
        Verdict::Protocol,
        "tls",
        format!("the TLS handshake failed: {detail}"),
        "check that the port speaks TLS (try http://) and supports TLS 1.2 or 1.3",
    )
}

/// The server closed the connection in the middle of the handshake.
pub fn closed_during_handshake() -> Explanation {
    Explanation::new(
        Verdict::Reset,
        "EOF",
        "the server closed the connection during the TLS handshake",
        "check that the port speaks TLS (try http://)",
    )
}

/// netdiag could not set up TLS at all (configuration, certificates to trust).
pub fn setup_failed(detail: &str) -> Explanation {
    Explanation::new(Verdict::Error, "tls-setup", detail, "")
}

/// A host name that cannot be a TLS server name (SNI).
pub fn bad_server_name(name: &str) -> Explanation {
    Explanation::new(
        Verdict::Error,
        "tls-name",
        format!("'{name}' cannot be used as a TLS server name"),
        "",
    )
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

/// Explains a TLS handshake failure that is not about the certificate, by kind.
pub fn handshake(problem: TlsProblem, detail: &str) -> Explanation {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = handshake(TlsProblem::NotTls, "");
        assert!(e.cause.contains("does not speak TLS"));
        assert!(e.fix.contains("http://"));
        assert!(handshake(TlsProblem::NoCommonVersion, "")
            .cause
            .contains("TLS 1.2"));
        assert_eq!(
            handshake(TlsProblem::HandshakeFailure, "").code,
            "tls-handshake"
        );
        assert!(handshake(TlsProblem::ClosedDuringHandshake, "")
            .fix
            .contains("SNI"));
        assert!(handshake(TlsProblem::Other, "bad record mac")
            .cause
            .contains("bad record mac"));
    }

    #[test]
    fn ca_certificates_and_other_failures_keep_their_detail() {
        let e = ca_as_server_certificate(CertProblem::SelfSigned, "h");
        assert!(
            e.cause.contains("self-signed") && e.cause.contains("CA certificate"),
            "{}",
            e.cause
        );
        assert!(e.fix.contains("--cacert") && e.fix.contains("byte-identical"));
        assert!(certificate_rejected("h", "BadEncoding")
            .cause
            .ends_with("(BadEncoding)"));
        assert!(handshake_failed("x").fix.contains("try http://"));
        assert_eq!(closed_during_handshake().code, "EOF");
    }
}
