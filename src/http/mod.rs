//! `netdiag http-get`: a raw HTTP/1.1 fetch on netdiag's own socket, with a timing breakdown per phase, TLS
//! details, redirects hop by hop, and a bounded parser that stays safe against hostile servers.
//!
//! The library face is [`fetch`]: it takes an [`HttpRequest`] and returns an [`HttpReport`]; a failed target
//! (refused, timed out, bad certificate, garbage answer, HTTP 404) is data in the report, never an `Err`.

pub mod cert;
mod conn;
pub mod parse;
mod render;
pub mod tls;
pub mod url;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::explain::{self, Explanation, Verdict};
use crate::target::{Family, InputError};
pub use parse::{Framing, Head, Header, Limits, ParseError, ParsedResponse};
pub use tls::{TlsInfo, TlsOptions};
pub use url::{Scheme, Url};

/// Most redirects `--follow` goes through.
pub const MAX_REDIRECTS: usize = 10;

/// The request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
}

impl Method {
    /// Every method netdiag sends, in the order help texts list them.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Options,
        Method::Patch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
        }
    }

    /// The method named `s` (case-insensitive), or `None` for one netdiag does not send.
    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

/// One fetch, as asked.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub url: Url,
    pub method: Method,
    /// Send `HTTP/1.0` instead of `HTTP/1.1`.
    pub http10: bool,
    /// Extra headers (`-H`); one with the name of a default header (Host, User-Agent, Accept, Connection)
    /// replaces it. Check them with [`check_header`].
    pub headers: Vec<(String, String)>,
    /// A request body, sent with a `Content-Length` header (on the first request only: a redirect is
    /// followed with the same method and no body, as a 301/302/303 would be by a browser).
    pub body: Option<Vec<u8>>,
    /// One deadline for everything: resolve, connect, TLS, request, response, and every redirect.
    pub timeout: Duration,
    /// Body bytes read at most; the rest is not read and the report says the body was truncated.
    pub max_size: u64,
    /// Redirects to follow (0: report the redirect and stop).
    pub max_redirects: usize,
    /// Keep the final body (up to `max_size`) in [`HttpReport::body`].
    pub keep_body: bool,
    pub family: Family,
    pub tls: TlsOptions,
}

impl HttpRequest {
    /// A GET with the defaults: 10 s, 10 MiB, no redirects, bundled roots.
    pub fn new(url: Url) -> HttpRequest {
        HttpRequest {
            url,
            method: Method::Get,
            http10: false,
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(10),
            max_size: 10 * 1024 * 1024,
            max_redirects: 0,
            keep_body: false,
            family: Family::Any,
            tls: TlsOptions::default(),
        }
    }
}

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

/// Time spent in each phase (null when the phase did not happen: no TLS, or it failed before).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    #[serde(serialize_with = "crate::duration::ser_opt_ms")]
    pub dns: Option<Duration>,
    #[serde(serialize_with = "crate::duration::ser_opt_ms")]
    pub connect: Option<Duration>,
    #[serde(serialize_with = "crate::duration::ser_opt_ms")]
    pub tls: Option<Duration>,
    /// Writing the request.
    #[serde(serialize_with = "crate::duration::ser_opt_ms")]
    pub request: Option<Duration>,
    /// From the request written to the first response byte (the server's think time).
    #[serde(serialize_with = "crate::duration::ser_opt_ms")]
    pub first_byte: Option<Duration>,
    /// From the first byte to the end of the response.
    #[serde(serialize_with = "crate::duration::ser_opt_ms")]
    pub body: Option<Duration>,
}

/// Timings of one hop: per phase, and cumulative from the start (as curl's -w fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub phases: Phases,
    /// Time from the start of the hop to the end of each phase.
    pub cumulative: Phases,
    #[serde(serialize_with = "crate::duration::ser_ms")]
    pub total: Duration,
}

/// Instants at the end of each phase.
#[derive(Debug, Clone, Copy)]
struct Marks {
    start: Instant,
    dns: Option<Instant>,
    connect: Option<Instant>,
    tls: Option<Instant>,
    request: Option<Instant>,
    first_byte: Option<Instant>,
    end: Option<Instant>,
}

impl Marks {
    fn new() -> Marks {
        Marks {
            start: Instant::now(),
            dns: None,
            connect: None,
            tls: None,
            request: None,
            first_byte: None,
            end: None,
        }
    }

    fn timings(&self) -> Timings {
        let end = self.end.unwrap_or_else(Instant::now);
        let order = [
            self.dns,
            self.connect,
            self.tls,
            self.request,
            self.first_byte,
            self.first_byte.map(|_| end),
        ];
        let mut phases = [None; 6];
        let mut cumulative = [None; 6];
        let mut prev = self.start;
        for (i, m) in order.iter().enumerate() {
            if let Some(m) = m {
                phases[i] = Some(m.saturating_duration_since(prev));
                cumulative[i] = Some(m.saturating_duration_since(self.start));
                prev = *m;
            }
        }
        let mk = |a: [Option<Duration>; 6]| Phases {
            dns: a[0],
            connect: a[1],
            tls: a[2],
            request: a[3],
            first_byte: a[4],
            body: a[5],
        };
        Timings {
            phases: mk(phases),
            cumulative: mk(cumulative),
            total: end.saturating_duration_since(self.start),
        }
    }
}

/// An address that was tried and failed before the one used (or all of them, when none worked).
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub address: SocketAddr,
    pub error: Explanation,
}

/// The body as received.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BodyInfo {
    /// How its end was found: `none`, `content-length`, `chunked` or `until-close`.
    pub framing: Option<Framing>,
    /// The Content-Length the server announced, if any.
    pub content_length: Option<u64>,
    /// Bytes received (after de-chunking).
    pub length: u64,
    /// The body went past --max-size and the rest was not read.
    pub truncated: bool,
    /// It ended where its framing said it would.
    pub complete: bool,
    pub trailers: Vec<Header>,
}

/// One request and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub url: Url,
    /// Every address the name resolved to, in resolver order.
    pub resolved: Vec<IpAddr>,
    /// The address actually used.
    pub address: Option<SocketAddr>,
    /// Addresses that failed before it.
    pub failed_addresses: Vec<Attempt>,
    /// The request exactly as sent.
    pub request: String,
    pub tls: Option<TlsInfo>,
    /// 1xx interim responses before the final one.
    pub interim: Vec<Head>,
    pub response: Option<Head>,
    pub body: BodyInfo,
    pub timings: Timings,
    /// The next URL, when the answer is a redirect.
    pub location: Option<String>,
    /// What went wrong on this hop, if anything.
    pub error: Option<Explanation>,
    /// The response head(s) exactly as received.
    #[serde(skip)]
    pub raw_head: Vec<u8>,
}

/// The whole fetch: every hop, and the verdict on the last one.
#[derive(Debug, Clone, Serialize)]
pub struct HttpReport {
    pub url: Url,
    pub method: Method,
    pub hops: Vec<Hop>,
    /// `ok` for 2xx and 3xx; otherwise what failed.
    pub verdict: Verdict,
    /// One line: `200 OK`, `301 Moved Permanently: redirect to …`, or the cause of the failure.
    pub summary: String,
    /// Why it failed (the last hop's error, an HTTP error status, a redirect loop).
    pub error: Option<Explanation>,
    /// The last hop's body (with `keep_body`), at most `max_size` bytes.
    #[serde(skip)]
    pub body: Vec<u8>,
}

impl HttpReport {
    /// True when the target answered as asked (2xx, or 3xx not followed).
    pub fn ok(&self) -> bool {
        self.verdict == Verdict::Ok
    }

    /// The last hop (there is always at least one).
    pub fn last(&self) -> Option<&Hop> {
        self.hops.last()
    }
}

/// The reports of every URL given on the command line.
#[derive(Debug, Clone, Serialize)]
pub struct HttpGetReport {
    pub results: Vec<HttpReport>,
    /// What the caller asked to show besides the report.
    #[serde(skip)]
    pub show: Show,
}

/// Extra text output for `--raw` and `--body`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Show {
    pub raw: bool,
    pub body: bool,
}

impl HttpGetReport {
    pub fn ok(&self) -> bool {
        self.results.iter().all(HttpReport::ok)
    }
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
    let mut hop_req = std::borrow::Cow::Borrowed(req);
    loop {
        let (hop, b) = conn::exchange(&url, &hop_req, deadline);
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
                error = Some(redirect_error("bad-location", &e.0));
                break;
            }
        };
        if hops.len() > req.max_redirects {
            error = Some(redirect_error(
                "too-many-redirects",
                &format!("more than {} redirects", req.max_redirects),
            ));
            break;
        }
        if !visited.insert(next.to_string()) {
            error = Some(redirect_error(
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
    conclude(req, hops, body, error)
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

fn redirect_error(code: &str, cause: &str) -> Explanation {
    Explanation {
        verdict: Verdict::Protocol,
        code: code.into(),
        cause: cause.into(),
        fix: "check the server's redirect rules (the Location headers above)".into(),
    }
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
        verdict: Verdict::Ok,
        summary: String::new(),
        error: None,
        body,
        hops,
    };
    let Some(last) = report.hops.last() else {
        return report;
    };
    let error = redirect_err.or_else(|| last.error.clone()).or_else(|| {
        last.response
            .as_ref()
            .and_then(|h| explain::http_status(h.status))
    });
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
    if report.hops.len() > 1 {
        summary = format!("{summary} after {} redirects", report.hops.len() - 1);
    }
    if last.body.truncated {
        summary = format!(
            "{summary} (body truncated at {} bytes, --max-size)",
            last.body.length
        );
    }
    if let Some(e) = &error {
        report.verdict = e.verdict;
        summary = if summary.is_empty() {
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
        };
    }
    report.summary = summary;
    report.error = error;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

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
