//! HTTP: error statuses, redirects that go wrong, servers that stall or answer something that is not HTTP.

use std::time::Duration;

use super::verdict::{Explanation, Verdict};
use crate::duration::fmt_ms;

/// Explains an HTTP status; `None` for 1xx-3xx (not failures).
pub fn status(status: u16) -> Option<Explanation> {
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
        _ => return status_class(status),
    };
    Some(Explanation {
        verdict: Verdict::Protocol,
        code: format!("HTTP {status}"),
        cause: cause.into(),
        fix: fix.into(),
    })
}

/// The generic explanation for a 4xx or 5xx status without a specific entry.
fn status_class(status: u16) -> Option<Explanation> {
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

/// `--resolve` gave a host only addresses of the other family than -4/-6 asks for.
pub fn resolve_option_family(rule: &str, asked: &str) -> Explanation {
    let flag = if asked == "IPv6" { "-6" } else { "-4" };
    Explanation::new(
        Verdict::NotFound,
        "no-address-in-family",
        format!("--resolve {rule} gives no {asked} address"),
        format!("drop {flag}, or add an {asked} address to --resolve"),
    )
}

/// A redirect that cannot be followed: `code` is `bad-location`, `too-many-redirects` or `redirect-loop`.
pub fn redirect(code: &str, cause: &str) -> Explanation {
    Explanation::new(
        Verdict::Protocol,
        code,
        cause,
        "check the server's redirect rules (the Location headers above)",
    )
}

/// A deadline that passed after the connection was made: the server is stalled or slow, not filtered. `what` is
/// what it did not finish ("its answer", "the body", "the TLS handshake", "reading the request").
pub fn stalled(timeout: Duration, what: &str) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "timeout",
        format!(
            "the server did not finish {what} within {} (--timeout)",
            fmt_ms(timeout)
        ),
        "the server is stalled or very slow; check its logs, or give it a longer --timeout",
    )
}

/// Name resolution that did not finish before the fetch's deadline.
pub fn resolve_timeout(timeout: Duration) -> Explanation {
    Explanation::new(
        Verdict::Temporary,
        "timeout",
        format!(
            "name resolution did not finish within {} (--timeout)",
            fmt_ms(timeout)
        ),
        "check the nameservers in /etc/resolv.conf, or give it a longer --timeout",
    )
}

/// The connection closed before any answer; `detail` is the parser's words.
pub fn no_answer(detail: &str) -> Explanation {
    Explanation::new(
        Verdict::Reset,
        "EOF",
        detail,
        "the port may not speak HTTP, or the server rejected the request; check its logs",
    )
}

/// The connection closed in the middle of the answer; `detail` is the parser's words.
pub fn incomplete(detail: &str) -> Explanation {
    Explanation::new(
        Verdict::Reset,
        "incomplete",
        detail,
        "the server may have crashed or hit a limit; check its logs",
    )
}

/// The body could not be saved to the `-o` file (`why`: the I/O error, or what was wrong with the body).
pub fn not_saved(path: &str, why: &str) -> Explanation {
    Explanation::new(
        Verdict::Error,
        "not-saved",
        format!("the body was not saved to {path}: {why}"),
        "check the path and free space, and fetch again",
    )
}

/// A fetch that failed (`e`) with `-o`: the same failure, saying that nothing was saved.
pub fn and_not_saved(e: &Explanation, path: &str) -> Explanation {
    Explanation::new(
        e.verdict,
        e.code.clone(),
        format!("{}; nothing was saved to {path}", e.cause),
        e.fix.clone(),
    )
}

/// With `-o` and `--max-size`, a body longer than the limit: nothing is saved, since the file would be short.
pub fn body_over_limit(path: &str, limit: u64) -> Explanation {
    Explanation::new(
        Verdict::Error,
        "too-large",
        format!(
            "the body is larger than --max-size ({limit} bytes): nothing was saved to {path}, which would be short"
        ),
        "leave out --max-size (with -o the whole body is saved by default), or raise it",
    )
}

/// A response head with more headers than netdiag accepts (`detail`: "too many headers (N > limit)"): valid
/// HTTP, but past the bound kept against hostile servers.
pub fn too_many_headers(detail: &str) -> Explanation {
    Explanation::new(
        Verdict::Protocol,
        "too-many-headers",
        format!("the server answered, but with {detail}"),
        "the server (or a proxy) adds headers in a loop or far too many; check its configuration",
    )
}

/// An answer the parser rejected as not HTTP/1.x; `detail` is the parser's words.
pub fn bad_response(detail: &str) -> Explanation {
    Explanation::new(
        Verdict::Protocol,
        "bad-response",
        format!("the answer is not valid HTTP/1.x: {detail}"),
        "the port may speak another protocol (HTTPS? try https://), or the server is broken",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses() {
        assert!(status(200).is_none());
        assert!(status(301).is_none());
        assert!(status(404).unwrap().cause.contains("Not Found"));
        assert!(status(500).unwrap().fix.contains("logs"));
        assert!(status(599).is_some());
    }

    #[test]
    fn http_4xx_and_5xx_are_failures_with_specific_words() {
        for s in [400, 401, 403, 404, 405, 408, 429, 418, 451, 499] {
            let e = status(s).expect("4xx explained");
            assert_eq!(e.verdict, Verdict::Protocol);
            assert_eq!(e.code, format!("HTTP {s}"));
            assert!(e.cause.starts_with(&s.to_string()), "{}", e.cause);
        }
        for s in [500, 502, 503, 504, 507, 599] {
            let e = status(s).expect("5xx explained");
            assert!(e.cause.starts_with(&s.to_string()), "{}", e.cause);
            assert!(!e.fix.is_empty());
        }
        for s in [100, 200, 204, 301, 304, 399, 600, 0] {
            assert!(status(s).is_none(), "{s}");
        }
        assert!(status(429).unwrap().fix.contains("slow down"));
        assert!(status(503).unwrap().cause.contains("overloaded"));
    }

    #[test]
    fn stalls_and_bad_answers() {
        let e = stalled(Duration::from_secs(2), "the body");
        assert_eq!((e.verdict, e.code.as_str()), (Verdict::Filtered, "timeout"));
        assert!(
            e.cause.contains("did not finish the body within 2.000 s"),
            "{}",
            e.cause
        );
        assert_eq!(
            resolve_timeout(Duration::from_secs(1)).verdict,
            Verdict::Temporary
        );
        assert_eq!(no_answer("x").code, "EOF");
        assert_eq!(incomplete("x").verdict, Verdict::Reset);
        assert!(bad_response("bad status line")
            .cause
            .ends_with("bad status line"));
        assert_eq!(redirect("redirect-loop", "loop").code, "redirect-loop");
    }
}
