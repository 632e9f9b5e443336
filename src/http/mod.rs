//! `netdiag http-get`: a raw HTTP/1.1 fetch on netdiag's own socket, with a timing breakdown per phase, TLS
//! details, redirects hop by hop, and a bounded parser that stays safe against hostile servers.
//!
//! The library face is [`fetch`]: it takes an [`HttpRequest`] and returns an [`HttpReport`]; a failed target
//! (refused, timed out, bad certificate, garbage answer, HTTP 404) is data in the report, never an `Err`.

pub mod cert;
mod conn;
pub mod eyeballs;
mod model;
mod output;
pub mod parse;
mod render;
pub mod reroute;
pub mod tls;
pub mod url;
pub mod writeout;

use std::collections::HashSet;
use std::time::Instant;

use crate::explain::{self, Explanation, Verdict};
use crate::target::InputError;
pub use model::*;
pub use parse::{Framing, Head, Header, Limits, ParseError, ParsedResponse};
pub use tls::{TlsInfo, TlsOptions};
pub use url::{Scheme, Url};

/// Checks a `-H 'Name: value'` header and splits it.
pub fn check_header(s: &str) -> Result<(String, String), InputError> {
    let bad = |why: &str| {
        InputError(format!(
            "invalid header '{}': {why}; expected 'Name: value'",
            crate::target::shown(s)
        ))
    };
    let (name, value) = s.split_once(':').ok_or_else(|| bad("missing ':'"))?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        return Err(bad("the name must be a token (letters, digits, '-')"));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(bad("the value cannot hold CR, LF or NUL"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// Fetches a URL: resolve, connect, TLS for https, write the request, read and parse the answer, and follow
/// redirects when asked, all under one deadline. Every failure of the target is in the report.
pub fn fetch(req: &HttpRequest) -> HttpReport {
    let deadline = Instant::now() + req.timeout;
    let mut hops: Vec<Hop> = Vec::new();
    let mut url = req.url.clone();
    let mut visited: HashSet<String> = HashSet::from([url.to_string()]);
    let mut body: Vec<u8>;
    let mut error = None;
    let mut sink = match req.output.as_deref().map(output::Sink::create) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            let path = req.output.as_deref().unwrap_or(std::path::Path::new(""));
            let mut r = conclude(req, hops, Vec::new(), None);
            let x = explain::http::not_saved(&path.display().to_string(), &e.to_string());
            r.summary = x.cause.clone();
            r.verdict = x.verdict;
            r.ok = false;
            r.explanation = Some(x);
            return r;
        }
        None => None,
    };
    let mut hop_req = std::borrow::Cow::Borrowed(req);
    loop {
        let (hop, b) = conn::exchange(&url, &hop_req, deadline, sink.as_mut());
        body = b;
        let status = hop.response.as_ref().map(|h| h.status);
        let next = hop.location.clone();
        let failed = hop.error.is_some();
        hops.push(hop);
        if failed || req.max_redirects == 0 {
            break;
        }
        let Some(next) = next else { break };
        let next = match url.join(&next) {
            Ok(u) => u,
            Err(e) => {
                error = Some(explain::http::redirect("bad-location", &e.0));
                break;
            }
        };
        if hops.len() > req.max_redirects {
            error = Some(explain::http::redirect(
                "too-many-redirects",
                &format!("more than {} redirects", req.max_redirects),
            ));
            break;
        }
        if !visited.insert(next.to_string()) {
            error = Some(explain::http::redirect(
                "redirect-loop",
                &format!("redirect loop: {next} was already visited"),
            ));
            break;
        }
        url = next;
        if let Some(s) = status {
            if let Some(r) = after_redirect(&hop_req, s) {
                hop_req = std::borrow::Cow::Owned(r);
            }
        }
    }
    let mut report = conclude(req, hops, body, error);
    if let Some(sink) = sink {
        save(&mut report, sink);
    }
    report
}

/// Puts the body streamed with `-o` in place when it is whole; otherwise removes it and says why the run failed.
fn save(report: &mut HttpReport, sink: output::Sink) {
    let path = sink.path().display().to_string();
    let Some(last) = report.hops.last() else {
        sink.discard();
        return;
    };
    let whole = last.response.is_some() && last.body.complete && !last.body.truncated;
    if whole
        && report
            .explanation
            .as_ref()
            .is_none_or(|e| e.code.starts_with("HTTP"))
    {
        match sink.commit() {
            Ok(bytes) => {
                report.saved = Some(Saved {
                    path: path.into(),
                    bytes,
                });
            }
            Err(e) => fail_save(report, explain::http::not_saved(&path, &e.to_string())),
        }
        return;
    }
    sink.discard();
    let x = if last.body.truncated {
        explain::http::body_over_limit(&path, last.body.length)
    } else {
        match &report.explanation {
            Some(e) => explain::http::and_not_saved(e, &path),
            None => explain::http::not_saved(&path, "the body did not arrive whole"),
        }
    };
    fail_save(report, x);
}

fn fail_save(report: &mut HttpReport, x: Explanation) {
    report.summary = if report.summary.is_empty() || report.explanation.is_some() {
        x.cause.clone()
    } else {
        format!("{}: {}", report.summary, x.cause)
    };
    report.verdict = x.verdict;
    report.ok = false;
    report.explanation = Some(x);
}

/// The request to send after a redirect with `status`, when it differs: 301, 302 and 303 turn a method other
/// than GET and HEAD into a GET without a body (as browsers and Go's and curl's clients do); 307 and 308 keep
/// the method and the body.
fn after_redirect(req: &HttpRequest, status: u16) -> Option<HttpRequest> {
    if !matches!(status, 301..=303) || matches!(req.method, Method::Get | Method::Head) {
        return None;
    }
    let mut r = req.clone();
    r.method = Method::Get;
    r.body = None;
    r.headers.retain(|(n, _)| {
        !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("content-type")
    });
    Some(r)
}

fn conclude(
    req: &HttpRequest,
    hops: Vec<Hop>,
    body: Vec<u8>,
    redirect_err: Option<Explanation>,
) -> HttpReport {
    let mut report = HttpReport {
        url: req.url.clone(),
        method: req.method,
        ok: true,
        status: None,
        verdict: Verdict::Ok,
        summary: String::new(),
        explanation: None,
        body,
        hops,
        saved: None,
    };
    let Some(last) = report.hops.last() else {
        return report;
    };
    let error = redirect_err.or_else(|| last.error.clone()).or_else(|| {
        last.response
            .as_ref()
            .and_then(|h| explain::http::status(h.status))
    });
    report.summary = summary(&report.hops, error.as_ref());
    report.verdict = error.as_ref().map_or(Verdict::Ok, |e| e.verdict);
    report.ok = report.verdict == Verdict::Ok;
    report.status = last.response.as_ref().map(|h| h.status);
    report.explanation = error;
    report
}

/// The one-line summary of a fetch: `200 OK`, `301 Moved Permanently: redirect to …`, `… after 2 redirects`,
/// or the status with why it failed.
fn summary(hops: &[Hop], error: Option<&Explanation>) -> String {
    let Some(last) = hops.last() else {
        return String::new();
    };
    let mut summary = match &last.response {
        Some(h) if h.reason.is_empty() => h.status.to_string(),
        Some(h) => format!("{} {}", h.status, h.reason),
        None => String::new(),
    };
    if let Some(loc) = &last.location {
        let to = last
            .url
            .join(loc)
            .map_or_else(|_| loc.clone(), |u| u.to_string());
        summary = format!("{summary}: redirect to {to}");
    }
    if hops.len() > 1 {
        let n = hops.len() - 1;
        let s = if n == 1 { "" } else { "s" };
        summary = format!("{summary} after {n} redirect{s}");
    }
    if last.body.truncated {
        summary = format!(
            "{summary} (body truncated at {} bytes, --max-size)",
            last.body.length
        );
    }
    let Some(e) = error else {
        return summary;
    };
    if summary.is_empty() {
        e.cause.clone()
    } else if e.code.starts_with("HTTP") {
        // The status line is already in the summary: keep only the explanation after "404 Not Found: ".
        let why = e
            .cause
            .split_once(": ")
            .filter(|(head, _)| head.starts_with(|c: char| c.is_ascii_digit()))
            .map_or(e.cause.as_str(), |(_, why)| why);
        format!("{summary}: {why}")
    } else if last.error.is_some() {
        format!("{summary}: {}", e.cause)
    } else {
        e.cause.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn headers_are_checked() {
        assert_eq!(
            check_header("X-A: b c ").unwrap(),
            ("X-A".to_string(), "b c".to_string())
        );
        assert_eq!(check_header("X-Empty:").unwrap().1, "");
        for bad in [
            "nocolon",
            ": v",
            "Bad Name: v",
            "X: a\r\nInjected: 1",
            "X: \n",
        ] {
            let e = check_header(bad).unwrap_err().0;
            assert!(e.starts_with("invalid header"), "{e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn methods_parse_and_redirects_turn_posts_into_gets() {
        assert_eq!(Method::parse("post"), Some(Method::Post));
        assert_eq!(Method::parse("PATCH").map(Method::as_str), Some("PATCH"));
        assert_eq!(Method::parse("PROPFIND"), None);
        let mut req = HttpRequest::new(Url::parse("http://127.0.0.1/").unwrap());
        req.method = Method::Post;
        req.body = Some(b"{}".to_vec());
        req.headers = vec![("Content-Type".into(), "application/json".into())];
        let r = after_redirect(&req, 302).expect("a POST after 302 becomes a GET");
        assert_eq!((r.method, r.body, r.headers.len()), (Method::Get, None, 0));
        assert!(after_redirect(&req, 307).is_none());
        req.method = Method::Head;
        assert!(after_redirect(&req, 301).is_none());
    }

    #[test]
    fn marks_give_phases_and_cumulative() {
        let mut m = Marks::new();
        let s = m.start;
        m.dns = Some(s + Duration::from_millis(1));
        m.connect = Some(s + Duration::from_millis(3));
        m.request = Some(s + Duration::from_millis(4));
        m.first_byte = Some(s + Duration::from_millis(10));
        m.end = Some(s + Duration::from_millis(12));
        let t = m.timings();
        assert_eq!(t.phases.connect, Some(Duration::from_millis(2)));
        assert_eq!(t.phases.tls, None);
        assert_eq!(t.phases.request, Some(Duration::from_millis(1)));
        assert_eq!(t.phases.first_byte, Some(Duration::from_millis(6)));
        assert_eq!(t.phases.body, Some(Duration::from_millis(2)));
        assert_eq!(t.cumulative.first_byte, Some(Duration::from_millis(10)));
        assert_eq!(t.total, Duration::from_millis(12));
    }
}
