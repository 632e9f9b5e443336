//! Direct DNS: ask a chosen nameserver a question over UDP, TCP, TLS (DoT) or HTTPS (DoH) and show the whole
//! answer — sections, TTLs, rcode, flags, EDNS, extended errors, timings — with every failure explained:
//! `netdiag lookup NAME TYPE @SERVER`, `--all-servers`, `--trace`, and diagnose's nameserver checks.
//!
//! The library face is [`exchange`]: one question to one server under one deadline, returning an [`Exchange`]
//! with the response, the time of each phase and, when it failed, an [`Explanation`]. A failed question
//! (NXDOMAIN, SERVFAIL, a dead nameserver) is data in the exchange, never an `Err`. Messages are hickory-proto's;
//! the transports are netdiag's own sockets (UDP, TCP, TLS) and netdiag's HTTP client (DoH).
//!
//! ```no_run
//! use std::time::Duration;
//! use netdiag::dns::{exchange, input, QueryOptions, Question};
//!
//! // What blackbox_exporter's dns prober needs: one question, one server, one deadline.
//! let server = input::parse_server("tcp://127.0.0.1:53", None).unwrap();
//! let q = Question::new(input::parse_name("example.test").unwrap(), input::parse_type("SOA").unwrap());
//! let opts = QueryOptions { timeout: Duration::from_secs(2), tcp_fallback: false, ..Default::default() };
//! let ex = exchange(&server, &q, &opts);
//! let total = ex.timings.total; // probe_dns_lookup_time_seconds
//! let (resolve, connect, request) = (ex.timings.resolve, ex.timings.connect, ex.timings.request);
//! if let Some(r) = &ex.response {
//!     let valid = ["NOERROR"].contains(&r.rcode.as_str()); // valid_rcodes
//!     let lines: Vec<String> = r.answer.iter().map(|rr| rr.zone_line()).collect(); // validate_answer_rrs
//!     let (answers, authority, additional) = (r.answer.len(), r.authority.len(), r.additional.len());
//!     let serial = r.serial(); // probe_dns_serial
//! } else if let Some(why) = &ex.explanation {
//!     eprintln!("{}: {}", why.code, why.cause); // timeout, port-unreachable, ENETUNREACH, ...
//! }
//! ```

pub mod check;
pub mod compare;
pub mod input;
pub mod message;
pub mod render;
pub mod resolv;
pub mod trace;
mod transport;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::explain::{self, Explanation};
use crate::http::TlsInfo;
use crate::target::{Family, Host};
pub use message::{ExtendedError, QueryFlags, Question, Response, Rr};

/// How a question travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Udp,
    Tcp,
    /// DNS over TLS (RFC 7858), port 853.
    Tls,
    /// DNS over HTTPS (RFC 8484), port 443.
    Https,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Udp | Protocol::Tcp => 53,
            Protocol::Tls => 853,
            Protocol::Https => 443,
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A nameserver: where and how to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// An address, or a name resolved through the system resolver (and checked as the TLS name).
    pub host: Host,
    pub port: u16,
    pub protocol: Protocol,
    /// DoH only: the URL path, `/dns-query` by default.
    pub path: String,
}

impl Server {
    /// A server on its protocol's default port.
    pub fn new(ip: IpAddr, protocol: Protocol) -> Server {
        Server {
            host: Host::Ip(ip),
            port: protocol.default_port(),
            protocol,
            path: "/dns-query".into(),
        }
    }

    /// How the server is named in words: `10.0.0.53`, `10.0.0.53 over TCP`, `https://dns.test/dns-query`.
    pub fn label(&self) -> String {
        match (&self.protocol, &self.host) {
            (Protocol::Https, h) => {
                let host = match h {
                    Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
                    h => h.to_string(),
                };
                let port = if self.port == 443 {
                    String::new()
                } else {
                    format!(":{}", self.port)
                };
                format!("https://{host}{port}{}", self.path)
            }
            (p, Host::Ip(ip)) => {
                explain::dns::server_label(SocketAddr::new(*ip, self.port), p.as_str())
            }
            (p, Host::Name(n)) => {
                let port = if self.port == p.default_port() {
                    String::new()
                } else {
                    format!(":{}", self.port)
                };
                match p {
                    Protocol::Udp => format!("{n}{port}"),
                    p => format!("{n}{port} over {}", p.as_str().to_uppercase()),
                }
            }
        }
    }
}

/// How to ask.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    pub flags: QueryFlags,
    /// The whole exchange with one server: resolving its name, connecting, the TLS handshake, every UDP
    /// retransmission and the TCP retry of a truncated answer.
    pub timeout: Duration,
    /// Retry a truncated UDP answer over TCP (as dig does; off shows the truncated answer).
    pub tcp_fallback: bool,
    /// Certificate checks for TLS and HTTPS.
    pub tls: crate::http::TlsOptions,
    /// Family of the server's addresses when it is given by name.
    pub family: Family,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            flags: QueryFlags::default(),
            timeout: Duration::from_secs(5),
            tcp_fallback: true,
            tls: Default::default(),
            family: Family::Any,
        }
    }
}

/// What a question came to, the headline of each result (`.results[].status` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// NOERROR with records in the answer section.
    Ok,
    /// NOERROR, no answer, and the nameservers of a zone below: what an authoritative server says when not
    /// asked to recurse.
    Referral,
    /// NOERROR without a record of that type.
    Nodata,
    Nxdomain,
    Servfail,
    Refused,
    /// Another error rcode (FORMERR, NOTIMP, ...).
    ErrorRcode,
    /// No answer before the deadline.
    Timeout,
    /// ICMP port unreachable: nothing listens there.
    Closed,
    /// No route, host or network unreachable.
    Unreachable,
    /// Something came back that is not an answer to the question.
    BadResponse,
    /// Any other failure (TLS, HTTP, local errors).
    Error,
    /// Ctrl-C came first.
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Referral => "referral",
            Status::Nodata => "nodata",
            Status::Nxdomain => "nxdomain",
            Status::Servfail => "servfail",
            Status::Refused => "refused",
            Status::ErrorRcode => "error-rcode",
            Status::Timeout => "timeout",
            Status::Closed => "closed",
            Status::Unreachable => "unreachable",
            Status::BadResponse => "bad-response",
            Status::Error => "error",
            Status::Interrupted => "interrupted",
        }
    }

    /// True when the server answered (whatever the rcode).
    pub fn answered(self) -> bool {
        matches!(
            self,
            Status::Ok
                | Status::Referral
                | Status::Nodata
                | Status::Nxdomain
                | Status::Servfail
                | Status::Refused
                | Status::ErrorRcode
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the time went (blackbox's `probe_dns_duration_seconds{phase=resolve|connect|request}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Resolving the server's name (null when it was given as an address).
    #[serde(rename = "resolve_ms", serialize_with = "crate::duration::ser_opt_ms")]
    pub resolve: Option<Duration>,
    /// The TCP connection (null over UDP).
    #[serde(rename = "connect_ms", serialize_with = "crate::duration::ser_opt_ms")]
    pub connect: Option<Duration>,
    /// The TLS handshake (DoT and DoH).
    #[serde(rename = "tls_ms", serialize_with = "crate::duration::ser_opt_ms")]
    pub tls: Option<Duration>,
    /// From sending the query to the whole answer: dig's "Query time" (over UDP, including retransmissions;
    /// with a TCP retry, the TCP exchange).
    #[serde(rename = "request_ms", serialize_with = "crate::duration::ser_opt_ms")]
    pub request: Option<Duration>,
    /// Everything, including a UDP try that came back truncated.
    #[serde(rename = "total_ms", serialize_with = "crate::duration::ser_ms")]
    pub total: Duration,
}

/// An address and port, as every netdiag endpoint is written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub address: IpAddr,
    pub port: u16,
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Self {
        Endpoint {
            address: a.ip(),
            port: a.port(),
        }
    }
}

/// A server that was tried first and did not answer.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// The server in words.
    pub server_label: String,
    /// The address asked (null when a server name did not resolve).
    pub server: Option<Endpoint>,
    pub protocol: Protocol,
    pub status: Status,
    pub explanation: Explanation,
}

/// One question to one server, and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub question: Question,
    /// True for an answer with records, or a referral that was asked for (RD off): [`Exchange::ok`].
    pub ok: bool,
    /// The server in words (`10.0.0.53`, `https://dns.test/dns-query`).
    pub server_label: String,
    /// The address asked (null when a server name did not resolve).
    pub server: Option<Endpoint>,
    /// The transport of the final answer (`tcp` after a truncated UDP answer).
    pub protocol: Protocol,
    pub status: Status,
    pub response: Option<Response>,
    /// The UDP answer was truncated (TC) and the question was asked again over TCP.
    pub udp_truncated: bool,
    /// Bytes of the query.
    pub query_size: usize,
    pub timings: Timings,
    pub tls: Option<TlsInfo>,
    /// Servers asked before this one that did not answer (resolv.conf order).
    pub tried: Vec<Attempt>,
    pub explanation: Option<Explanation>,
}

impl Exchange {
    /// True for an answer with records, or a referral that was asked for (RD off).
    pub fn ok(&self) -> bool {
        self.status == Status::Ok || (self.status == Status::Referral && self.explanation.is_none())
    }

    /// The data of the answer records of the type asked (all of them for ANY; CNAMEs count for CNAME).
    pub fn answers(&self) -> Vec<&str> {
        let Some(r) = &self.response else {
            return Vec::new();
        };
        let t = self.question.rtype.to_string();
        r.answer
            .iter()
            .filter(|rr| t == "ANY" || rr.rtype == t)
            .map(|rr| rr.data.as_str())
            .collect()
    }
}

/// Asks one server one question under `opts.timeout`. Never fails: a dead server, a negative answer or a
/// garbled reply is a status and an explanation in the exchange.
pub fn exchange(server: &Server, q: &Question, opts: &QueryOptions) -> Exchange {
    let start = Instant::now();
    let deadline = start + opts.timeout;
    let (id, wire) = message::build_query(q, &opts.flags);
    let mut ex = Exchange {
        question: q.clone(),
        ok: false,
        server_label: server.label(),
        server: None,
        protocol: server.protocol,
        status: Status::Error,
        response: None,
        udp_truncated: false,
        query_size: wire.len(),
        timings: Timings::default(),
        tls: None,
        tried: Vec::new(),
        explanation: None,
    };
    let result = transport::run(server, q, id, wire, opts, deadline, &mut ex);
    ex.timings.total = start.elapsed();
    match result {
        Ok(resp) => {
            let (status, why) = classify(&resp, q, &opts.flags, &ex.server_label);
            ex.status = status;
            ex.explanation = why;
            ex.response = Some(resp);
        }
        Err(e) => {
            ex.status = status_of(&e);
            ex.explanation = Some(e);
        }
    }
    ex.ok = ex.ok();
    ex
}

/// Asks the servers in order until one answers (any rcode), as dig and the system resolver do; those that
/// did not answer are listed in `tried`.
pub fn exchange_first(servers: &[Server], q: &Question, opts: &QueryOptions) -> Exchange {
    let mut failed: Vec<Exchange> = Vec::new();
    for s in servers {
        if crate::interrupt::requested() {
            break;
        }
        let mut ex = exchange(s, q, opts);
        if ex.status.answered() {
            ex.tried = failed.into_iter().map(attempt).collect();
            return ex;
        }
        failed.push(ex);
    }
    let Some(mut last) = failed.pop() else {
        return exchange_failed(q, "-", explain::dns::no_nameserver("/etc/resolv.conf"));
    };
    last.tried = failed.into_iter().map(attempt).collect();
    last
}

fn attempt(ex: Exchange) -> Attempt {
    Attempt {
        server_label: ex.server_label,
        server: ex.server,
        protocol: ex.protocol,
        status: ex.status,
        explanation: ex.explanation.unwrap_or_else(|| explain::errno(libc::EIO)),
    }
}

/// An exchange that never reached a server.
pub fn exchange_failed(q: &Question, label: &str, e: Explanation) -> Exchange {
    Exchange {
        question: q.clone(),
        ok: false,
        server_label: label.to_string(),
        server: None,
        protocol: Protocol::Udp,
        status: status_of(&e),
        response: None,
        udp_truncated: false,
        query_size: 0,
        timings: Timings::default(),
        tls: None,
        tried: Vec::new(),
        explanation: Some(e),
    }
}

/// The status a transport failure stands for.
fn status_of(e: &Explanation) -> Status {
    use crate::explain::Verdict;
    match (e.verdict, e.code.as_str()) {
        (_, "interrupted") => Status::Interrupted,
        (_, "bad-response") => Status::BadResponse,
        (Verdict::Filtered, _) => Status::Timeout,
        (Verdict::Closed, _) => Status::Closed,
        (Verdict::Unreachable, _) => Status::Unreachable,
        _ => Status::Error,
    }
}

/// What an answer means: its status and, unless it is a plain answer, the explanation.
pub fn classify(
    r: &Response,
    q: &Question,
    flags: &QueryFlags,
    server: &str,
) -> (Status, Option<Explanation>) {
    let name = q.name.to_ascii();
    let ede: Vec<(u16, String, Option<String>)> = r
        .edns
        .iter()
        .flat_map(|e| &e.extended_errors)
        .map(|e| (e.code, e.name.clone(), e.text.clone()))
        .collect();
    let soa = r.authority_soa.as_ref();
    match r.rcode.as_str() {
        "NOERROR" => {}
        "NXDOMAIN" => {
            let zone = soa.map(|s| (s.zone.as_str(), s.primary.as_str(), s.serial));
            return (
                Status::Nxdomain,
                Some(explain::dns::nxdomain(&name, zone, server)),
            );
        }
        "SERVFAIL" => {
            return (
                Status::Servfail,
                Some(explain::dns::servfail(&name, &ede, server)),
            )
        }
        "REFUSED" => {
            return (
                Status::Refused,
                Some(explain::dns::refused(&name, &ede, server)),
            )
        }
        other => {
            return (
                Status::ErrorRcode,
                Some(explain::dns::rcode(other, &name, server)),
            )
        }
    }
    if !r.answer.is_empty() {
        return (Status::Ok, None);
    }
    let referral = r
        .authority
        .iter()
        .find(|rr| rr.rtype == "NS")
        .filter(|_| soa.is_none() && !r.flag("aa"));
    if let Some(ns) = referral {
        let why = (flags.recurse).then(|| explain::dns::no_recursion(&name, &ns.name, server));
        return (Status::Referral, why);
    }
    let rtype = q.rtype.to_string();
    (
        Status::Nodata,
        Some(explain::dns::nodata(
            &name,
            &rtype,
            soa.map(|s| s.zone.as_str()),
            server,
        )),
    )
}

/// The report of `netdiag lookup` in direct mode: one exchange per name, type and server.
#[derive(Debug, Clone, Serialize)]
pub struct DnsReport {
    /// Every exchange is ok (the document's top-level `ok`).
    #[serde(skip)]
    pub ok: bool,
    pub results: Vec<Exchange>,
    /// `--short`: only the answer data, one per line.
    #[serde(skip)]
    pub short: bool,
}

/// Which nameservers a lookup asks.
#[derive(Debug, Clone)]
pub enum Servers {
    /// Each of these, every question (servers given with @SERVER).
    Each(Vec<Server>),
    /// These in turn until one answers (resolv.conf's nameservers, as the system resolver does).
    InTurn(Vec<Server>),
    /// None can be asked, and why (resolv.conf lists no nameserver).
    Unavailable(Explanation),
}

/// Questions and where to ask them.
#[derive(Debug, Clone)]
pub struct DnsRequest {
    pub questions: Vec<Question>,
    pub servers: Servers,
    pub options: QueryOptions,
}

/// Asks every question: of each server given, or of resolv.conf's nameservers in turn. Questions run at
/// once (one thread each, at most 16 at a time), results keep the order asked.
pub fn lookup(req: &DnsRequest) -> DnsReport {
    let mut jobs: Vec<(Question, Option<Server>)> = Vec::new();
    for q in &req.questions {
        match &req.servers {
            Servers::Each(list) => {
                for s in list {
                    jobs.push((q.clone(), Some(s.clone())));
                }
            }
            _ => jobs.push((q.clone(), None)),
        }
    }
    let run = |(q, s): &(Question, Option<Server>)| match (s, &req.servers) {
        (Some(s), _) => exchange(s, q, &req.options),
        (None, Servers::InTurn(list)) => exchange_first(list, q, &req.options),
        (None, Servers::Unavailable(e)) => exchange_failed(q, "-", e.clone()),
        (None, Servers::Each(_)) => {
            exchange_failed(q, "-", explain::dns::no_nameserver(resolv::RESOLV_CONF))
        }
    };
    let mut results = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(16) {
        if chunk.len() == 1 {
            results.push(run(&chunk[0]));
            continue;
        }
        std::thread::scope(|s| {
            let hs: Vec<_> = chunk.iter().map(|j| s.spawn(move || run(j))).collect();
            for (h, (q, _)) in hs.into_iter().zip(chunk) {
                results.push(
                    h.join()
                        .unwrap_or_else(|_| exchange_failed(q, "-", explain::errno(libc::EIO))),
                );
            }
        });
    }
    DnsReport {
        ok: results.iter().all(Exchange::ok),
        results,
        short: false,
    }
}
