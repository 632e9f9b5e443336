//! http-get's types: the request, the timing of each phase, each hop and the report.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::eyeballs::ConnectAttempt;
use super::parse::{Framing, Head, Header};
use super::tls::{TlsInfo, TlsOptions};
use super::url::Url;
use crate::explain::{Explanation, Verdict};
use crate::target::Family;

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
    /// replaces it. Check them with [`check_header`](super::check_header).
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
    /// Save the final body to this file (`-o`): streamed to a temporary file beside it and renamed into place
    /// only when the body arrived whole, so the file is never silently short.
    pub output: Option<PathBuf>,
    pub family: Family,
    pub tls: TlsOptions,
    /// Addresses to use for a host (and port) instead of the system resolver: curl's `--resolve`, and callers
    /// that resolved the name already (diagnose). The first entry that matches the host and port connected to
    /// (after `connect_to`) applies, on every hop; other hosts resolve as usual.
    pub addresses: Vec<Pin>,
    /// curl's `--connect-to`: connect somewhere else while the Host header, SNI and the certificate check
    /// keep the URL's host. The first entry that matches a hop's host and port applies.
    pub connect_to: Vec<ConnectTo>,
    /// Called once per exchange when the response head has arrived, before the body is read (http-get on a
    /// terminal shows the head at once, while a slow body is still coming).
    pub on_head: Option<fn(&Url, &Head)>,
}

impl HttpRequest {
    /// A GET with the defaults: 10 s, 10 MiB, no redirects, the system's trust store.
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
            output: None,
            family: Family::Any,
            tls: TlsOptions::default(),
            addresses: Vec::new(),
            connect_to: Vec::new(),
            on_head: None,
        }
    }
}

/// Where a hop's addresses came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressSource {
    /// The system resolver (/etc/hosts, DNS), as getaddrinfo answers.
    #[default]
    Resolver,
    /// The URL (or a `--connect-to` target) is an address.
    Literal,
    /// A `--resolve HOST:PORT:ADDRESS` entry, not the resolver.
    ResolveOption,
    /// The caller resolved the name before (diagnose's resolve step).
    Given,
}

/// Addresses to use for a host instead of resolving it (curl's `--resolve HOST:PORT:ADDRESS[,ADDRESS...]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub host: crate::target::Host,
    /// The port it applies to; `None`: every port (diagnose).
    pub port: Option<u16>,
    pub addresses: Vec<IpAddr>,
    pub source: AddressSource,
    /// The entry as typed, shown in the report.
    pub rule: String,
}

/// curl's `--connect-to HOST:PORT:CONNECT_HOST:CONNECT_PORT`: `None` in `host`/`port` matches any; `None` in
/// `to_host`/`to_port` keeps the URL's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    pub host: Option<crate::target::Host>,
    pub port: Option<u16>,
    pub to_host: Option<crate::target::Host>,
    pub to_port: Option<u16>,
    /// The entry as typed.
    pub rule: String,
}

/// Where a hop connected instead of the URL's host and port (`--connect-to`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectedVia {
    /// The host connected to (a name or an address, as the rule gives it).
    pub host: String,
    pub port: u16,
    /// The `--connect-to` entry as typed.
    pub rule: String,
}

/// Time spent in each phase (null when the phase did not happen: no TLS, or it failed before).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "dns_ms")]
    pub dns: Option<Duration>,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "connect_ms")]
    pub connect: Option<Duration>,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "tls_ms")]
    pub tls: Option<Duration>,
    /// Writing the request.
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "request_ms")]
    pub request: Option<Duration>,
    /// From the request written to the first response byte (the server's think time).
    #[serde(
        serialize_with = "crate::duration::ser_opt_ms",
        rename = "first_byte_ms"
    )]
    pub first_byte: Option<Duration>,
    /// From the first byte to the end of the response.
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "body_ms")]
    pub body: Option<Duration>,
}

/// Timings of one hop: per phase, and cumulative from the start (as curl's -w fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub phases: Phases,
    /// Time from the start of the hop to the end of each phase.
    pub cumulative: Phases,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "total_ms")]
    pub total: Duration,
}

/// Instants at the end of each phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marks {
    pub start: Instant,
    pub dns: Option<Instant>,
    pub connect: Option<Instant>,
    pub tls: Option<Instant>,
    pub request: Option<Instant>,
    pub first_byte: Option<Instant>,
    pub end: Option<Instant>,
}

impl Marks {
    pub fn new() -> Marks {
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

    pub fn timings(&self) -> Timings {
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
    #[serde(serialize_with = "crate::target::ser_endpoint")]
    pub address: SocketAddr,
    #[serde(rename = "explanation")]
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
    /// Where `resolved` came from: the resolver, an address in the URL, `--resolve`, or the caller.
    pub address_source: AddressSource,
    /// The `--resolve` entry that gave the addresses, as typed (null otherwise).
    pub resolve_rule: Option<String>,
    /// Where the hop connected instead of the URL's host and port (`--connect-to`); null otherwise.
    pub connect_to: Option<ConnectedVia>,
    /// The address actually used.
    #[serde(serialize_with = "crate::target::ser_opt_endpoint")]
    pub address: Option<SocketAddr>,
    /// This side's address of the connection.
    #[serde(serialize_with = "crate::target::ser_opt_endpoint")]
    pub local_address: Option<SocketAddr>,
    /// Addresses that failed (refused, unreachable, no answer), with why.
    pub failed_addresses: Vec<Attempt>,
    /// Every address of the Happy Eyeballs race (RFC 8305) in the order tried: which won, which failed, which
    /// were abandoned while still connecting, which were never tried.
    pub attempts: Vec<ConnectAttempt>,
    /// The request exactly as sent, with any `Authorization` value masked as `SCHEME ***` once sent.
    pub request: String,
    /// Bytes of the request written (head and body, as sent: before any masking).
    pub request_bytes: u64,
    /// Of those, the body's bytes.
    #[serde(skip)]
    pub upload_bytes: u64,
    pub tls: Option<TlsInfo>,
    /// 1xx interim responses before the final one.
    pub interim: Vec<Head>,
    pub response: Option<Head>,
    pub body: BodyInfo,
    pub timings: Timings,
    /// The next URL, when the answer is a redirect.
    pub location: Option<String>,
    /// What went wrong on this hop, if anything.
    #[serde(rename = "explanation")]
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
    /// True when the target answered as asked: 2xx, or 3xx not followed.
    pub ok: bool,
    /// The final HTTP status (the last hop's), or null when no answer came.
    pub status: Option<u16>,
    /// `ok` for 2xx and 3xx; otherwise what failed.
    pub verdict: Verdict,
    /// One line: `200 OK`, `301 Moved Permanently: redirect to …`, or the cause of the failure.
    pub summary: String,
    /// Why it failed (the last hop's error, an HTTP error status, a redirect loop).
    pub explanation: Option<Explanation>,
    pub hops: Vec<Hop>,
    /// The file the body was saved to (`-o`), when it was: only a whole body is saved.
    pub saved: Option<Saved>,
    /// The last hop's body (with `keep_body`), at most `max_size` bytes.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// A body saved with `-o`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Saved {
    pub path: PathBuf,
    pub bytes: u64,
}

impl HttpReport {
    /// True when the target answered as asked (2xx, or 3xx not followed).
    pub fn ok(&self) -> bool {
        self.ok
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
    /// True when Ctrl-C stopped the run: the last result (or the URLs after it) is incomplete.
    pub interrupted: bool,
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
