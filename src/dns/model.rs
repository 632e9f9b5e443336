//! Direct DNS's types: servers and how to ask them, the status of a question, the exchange with its timings,
//! and the report and request of a direct lookup. The engine is in [`super`]; rendering in `render.rs`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use super::message::{QueryFlags, Question, Response};
use crate::explain::{self, Explanation};
use crate::http::TlsInfo;
use crate::target::{Family, Host};

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
