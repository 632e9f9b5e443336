//! Explanations for failures only `netdiag exporter` meets: a target the prober cannot read, and the checks a
//! blackbox module adds on top of a working exchange (accepted status codes, HTTP versions, TLS required or
//! refused, regular expressions on the body, headers and DNS records). The codes are bounded: they become the
//! `code` label of `probe_failure_info`.

use super::verdict::{Explanation, Verdict};

fn new(verdict: Verdict, code: &str, cause: String, fix: &str) -> Explanation {
    Explanation::new(verdict, code, cause, fix)
}

/// The target parameter is not what the prober takes (a URL for http, HOST:PORT for tcp, …).
pub fn bad_target(why: &str) -> Explanation {
    new(
        Verdict::Error,
        "bad-target",
        format!("the target cannot be probed: {why}"),
        "fix the target in the scrape config (the __param_target relabeling)",
    )
}

/// A status the module does not accept (one without an explanation of its own, such as 200 when 404 is asked
/// for, or a redirect that was not followed).
pub fn status_not_accepted(status: u16, accepted: &str) -> Explanation {
    new(
        Verdict::Protocol,
        &format!("HTTP {status}"),
        format!("the server answered {status}, which the module does not accept ({accepted})"),
        "check the URL, or the module's valid_status_codes (and no_follow_redirects)",
    )
}

/// An HTTP version the module does not accept.
pub fn version_not_accepted(version: &str, accepted: &[String]) -> Explanation {
    new(
        Verdict::Protocol,
        "http-version",
        format!(
            "the server answered with {version}, which the module does not accept ({})",
            accepted.join(", ")
        ),
        "check the module's valid_http_versions",
    )
}

/// `fail_if_ssl`: the final answer came over TLS.
pub fn tls_present() -> Explanation {
    new(
        Verdict::Protocol,
        "tls-present",
        "the answer came over TLS, and the module fails when it does (fail_if_ssl)".into(),
        "check where the URL redirects to, or the module's fail_if_ssl",
    )
}

/// `fail_if_not_ssl`: the final answer came in plain text.
pub fn tls_missing() -> Explanation {
    new(
        Verdict::Protocol,
        "tls-missing",
        "the answer came in plain text, and the module requires TLS (fail_if_not_ssl)".into(),
        "use an https:// target, or make the server redirect to https",
    )
}

/// Where a regular expression was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Body,
    Header,
    Answer,
    Authority,
    Additional,
}

impl Checked {
    fn word(self) -> &'static str {
        match self {
            Checked::Body => "body",
            Checked::Header => "header",
            Checked::Answer => "answer",
            Checked::Authority => "authority",
            Checked::Additional => "additional",
        }
    }
}

/// A `fail_if_*_matches_regexp` rule matched (`matched` true) or a `fail_if_*_not_matches_regexp` rule did not.
pub fn regex_failed(on: Checked, matched: bool, what: &str, pattern: &str) -> Explanation {
    let (code, cause) = if matched {
        (
            format!("{}-matches", on.word()),
            format!("the {what} matches '{pattern}', which the module fails on"),
        )
    } else {
        (
            format!("{}-not-matches", on.word()),
            format!("the {what} does not match '{pattern}', which the module requires"),
        )
    };
    new(
        Verdict::Protocol,
        &code,
        cause,
        "check what the server returns (netdiag http-get, or debug=true on /probe)",
    )
}

/// A header the module checks is missing and `allow_missing` is not set.
pub fn header_missing(name: &str) -> Explanation {
    new(
        Verdict::Protocol,
        "header-missing",
        format!("the answer has no {name} header, which the module checks (allow_missing: false)"),
        "check the server, or set allow_missing: true for that header",
    )
}

/// The probe did not finish within the time the scrape allowed it.
pub fn probe_deadline(seconds: f64) -> Explanation {
    new(
        Verdict::Filtered,
        "timeout",
        format!(
            "the probe did not finish within its {seconds:.3} s (the scrape timeout less the offset, capped by \
             the module's timeout)"
        ),
        "raise scrape_timeout or the module's timeout, or look at the target with netdiag diagnose",
    )
}

/// Connected, but the server did not say what was expected before the deadline.
pub fn silent(expected: &str, after: std::time::Duration) -> Explanation {
    new(
        Verdict::Filtered,
        "timeout",
        format!(
            "connected, but the server sent no line matching {expected} within {}",
            crate::duration::fmt_ms(after)
        ),
        "check what the port speaks (netdiag probe --banner HOST:PORT), or the module's expect",
    )
}

/// The connection ended before any line of the reply matched the module's `expect` (`/pattern/`).
pub fn expect_unmatched(expected: &str) -> Explanation {
    let base = super::probe::unexpected_reply();
    new(
        base.verdict,
        &base.code,
        format!("no line of the reply matched {expected} before the connection ended"),
        &base.fix,
    )
}

/// The server sent a line longer than the prober reads (`max` bytes) without a newline.
pub fn line_too_long(max: usize) -> Explanation {
    new(
        Verdict::Protocol,
        "line-too-long",
        format!("the server sent a line longer than {max} bytes"),
        "check what the port speaks (netdiag probe --banner)",
    )
}

/// ICMP cannot be sent by this process.
pub fn icmp_not_permitted(detail: &str) -> Explanation {
    new(
        Verdict::Denied,
        "EPERM",
        format!("the exporter may not send ICMP: {detail}"),
        "run it as root or with CAP_NET_RAW (AmbientCapabilities=CAP_NET_RAW in the systemd unit), or widen \
         net.ipv4.ping_group_range",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_bounded_words() {
        assert_eq!(status_not_accepted(200, "404").code, "HTTP 200");
        assert_eq!(
            regex_failed(Checked::Body, true, "body", "x").code,
            "body-matches"
        );
        assert_eq!(
            regex_failed(Checked::Header, false, "Server header", "x").code,
            "header-not-matches"
        );
        assert_eq!(bad_target("missing port").verdict, Verdict::Error);
        assert!(probe_deadline(4.5).cause.contains("4.500 s"));
        let e = silent("/^SSH-/", std::time::Duration::from_secs(3));
        assert_eq!(e.code, "timeout");
        assert!(e.cause.starts_with("connected, but") && e.cause.contains("/^SSH-/"));
        for e in [tls_present(), tls_missing(), header_missing("Server")] {
            assert!(!e.fix.is_empty() && !e.code.contains(' '));
        }
    }
}
