//! Ping's types: the request, what a run reports per host and in all, and the events it streams.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::stats::RttStats;
use crate::explain::{self, Explanation, Verdict};
use crate::target::{Family, Host};

/// More hosts than this need `--force` (fping-like sweeps of a /16 are fine; a /8 by accident is not).
pub const MAX_HOSTS: usize = 65_536;
/// The hard ceiling even with `--force`: a /8.
pub const MAX_HOSTS_FORCED: usize = 1 << 24;
/// Replies kept per host in the report (statistics cover every reply; this only bounds memory).
pub const MAX_REPLIES_KEPT: usize = 10_000;
/// Largest ICMP data size (65535 − 20-byte IPv4 header − 8-byte ICMP header), as ping allows.
pub const MAX_SIZE: usize = 65_507;

/// How to reach the hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MethodChoice {
    /// ICMP when this process may send it; otherwise TCP connect, with a note.
    #[default]
    Auto,
    /// ICMP only: an error when not permitted.
    Icmp,
    /// TCP connect only (`--tcp`).
    Tcp,
}

/// What was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Icmp,
    Tcp,
}

/// What to ping and how.
#[derive(Debug, Clone)]
pub struct PingRequest {
    /// Hosts (addresses or names; CIDR blocks already expanded with [`expand`](super::expand)).
    pub hosts: Vec<Host>,
    pub family: Family,
    /// Echo requests per host; `None` means until `deadline` (which must then be set).
    pub count: Option<u64>,
    /// Time between two pings to the same host.
    pub interval: Duration,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// Stop everything after this long, whatever is outstanding.
    pub deadline: Option<Duration>,
    /// ICMP data bytes (ping's -s).
    pub size: usize,
    pub ttl: Option<u8>,
    /// Set the don't-fragment bit (ping's `-M do`): an echo larger than the path MTU fails instead of being
    /// fragmented.
    pub dont_fragment: bool,
    /// Packets per second over all hosts; `None` sends as fast as the sockets take them.
    pub rate: Option<f64>,
    pub method: MethodChoice,
    /// Ports for TCP ping, tried in order until one answers (connected or refused).
    pub tcp_ports: Vec<u16>,
    /// With one echo per host (`count` 1, the sweep default): pings a host with no reply yet again, up to
    /// this many times, before it counts as down (fping's `--retry`, default [`DEFAULT_RETRIES`]).
    pub retries: u32,
}

/// fping's default retry count (`-r 3`).
pub const DEFAULT_RETRIES: u32 = 3;

/// The default pace over many hosts: 1,000 packets per second (a 1 ms gap, fping's `-i 1`).
pub const DEFAULT_RATE: f64 = 1000.0;

impl PingRequest {
    /// Defaults as `ping` has them for one host (4 echoes, 1 s apart) and as fping has them for several (one
    /// echo each); 2 s per reply, 56 data bytes, 1,000 packets/s, TCP ports 80 then 443.
    pub fn new(hosts: Vec<Host>) -> PingRequest {
        let count = if hosts.len() == 1 { 4 } else { 1 };
        PingRequest {
            hosts,
            family: Family::Any,
            count: Some(count),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            deadline: None,
            size: 56,
            ttl: None,
            dont_fragment: false,
            rate: Some(DEFAULT_RATE),
            method: MethodChoice::Auto,
            tcp_ports: vec![80, 443],
            retries: DEFAULT_RETRIES,
        }
    }
}

/// One reply (or duplicate) as kept in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyRecord {
    pub seq: u16,
    /// ICMP message bytes (header + data); 0 for TCP.
    pub bytes: usize,
    pub ttl: Option<u8>,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "rtt_ms")]
    pub rtt: Duration,
    pub duplicate: bool,
    /// TCP: the port that answered, and whether it refused (which also proves the host is up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<bool>,
}

/// An ICMP error received for one of our echo requests. JSON: `{from, seq, type, code, name}`, the type and
/// code as on the wire and the name as the explanation's code says it (`host-unreachable`).
#[derive(Debug, Clone)]
pub struct IcmpErrorReport {
    /// The router or host that sent the error.
    pub from: IpAddr,
    pub seq: u16,
    pub message: explain::icmp::Message,
}

impl Serialize for IcmpErrorReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("IcmpErrorReport", 5)?;
        st.serialize_field("from", &self.from)?;
        st.serialize_field("seq", &self.seq)?;
        st.serialize_field("type", &self.message.icmp_type)?;
        st.serialize_field("code", &self.message.code)?;
        st.serialize_field("name", self.message.name())?;
        st.end()
    }
}

/// The result for one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    /// The host as given.
    pub host: String,
    pub address: Option<IpAddr>,
    /// True when at least one reply came back.
    pub ok: bool,
    /// `ok` when at least one reply came back; otherwise why not, or `interrupted` when Ctrl-C came while
    /// its echo requests were still within their reply window (or before any was sent).
    pub status: Verdict,
    /// Echo requests whose outcome is known: answered, or unanswered for the whole reply window.
    pub sent: u64,
    /// Echo requests sent but still within their reply window when Ctrl-C came: neither received nor lost.
    pub unfinished: u64,
    pub received: u64,
    pub duplicates: u64,
    /// ICMP errors and send errors.
    pub errors: u64,
    pub loss_percent: f64,
    pub rtt: Option<RttStats>,
    /// The last ICMP error about the host's echo requests: who sent it, its type and code.
    pub icmp: Option<IcmpErrorReport>,
    /// Why the host did not answer (no reply, unreachable, not found), or what Ctrl-C cut short.
    pub explanation: Option<Explanation>,
    /// Replies in arrival order (at most [`MAX_REPLIES_KEPT`]).
    pub replies: Vec<ReplyRecord>,
}

impl HostResult {
    pub fn alive(&self) -> bool {
        self.received > 0
    }
}

/// The result of a ping run.
#[derive(Debug, Clone, Serialize)]
pub struct PingReport {
    /// `icmp`, or `tcp` when forced or when ICMP was not permitted.
    pub method: Method,
    /// For ICMP: `raw` (root or CAP_NET_RAW) or `datagram` (unprivileged ping socket).
    pub socket: Option<&'static str>,
    /// Why the method differs from what was asked (the TCP fallback), in one line.
    pub note: Option<String>,
    pub interrupted: bool,
    /// ICMP data bytes per echo request.
    pub size: usize,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "elapsed_ms")]
    pub elapsed: Duration,
    pub alive: usize,
    pub unreachable: usize,
    /// Hosts with no reply yet whose echo requests were still waiting (or not sent) when Ctrl-C came.
    pub unfinished: usize,
    /// One result per host, sorted by address; hosts whose name did not resolve come last.
    #[serde(rename = "results")]
    pub hosts: Vec<HostResult>,
    /// Text output only: list just the hosts that did not answer, then the counts (`-q` with many hosts).
    #[serde(skip)]
    pub failures_only: bool,
}

impl PingReport {
    /// True when every host answered at least once.
    pub fn all_alive(&self) -> bool {
        self.unreachable == 0 && self.unfinished == 0 && !self.hosts.is_empty()
    }

    /// The method as shown to people: `ICMP`, `ICMP (datagram socket)` or `TCP`.
    pub fn method_label(&self) -> String {
        match (self.method, self.socket) {
            (Method::Tcp, _) => "TCP".into(),
            (Method::Icmp, Some("datagram")) => "ICMP, datagram socket".into(),
            (Method::Icmp, _) => "ICMP".into(),
        }
    }
}

/// Something that happened during a run, for streaming output.
#[derive(Debug, Clone)]
pub enum PingEvent<'a> {
    /// Sockets are open: the method is known.
    Started {
        method: Method,
        socket: Option<&'static str>,
        note: Option<&'a str>,
        /// How many hosts, and the first one with an address (label, address), for a ping-style header.
        hosts: usize,
        first: Option<(&'a str, IpAddr)>,
    },
    /// An echo reply (or TCP connect result that proves the host is up).
    Reply {
        host: &'a str,
        address: IpAddr,
        reply: &'a ReplyRecord,
    },
    /// An ICMP error about one of our echo requests.
    IcmpError {
        host: &'a str,
        address: IpAddr,
        error: &'a IcmpErrorReport,
    },
    /// Sending failed at once (no route, firewall).
    SendError {
        host: &'a str,
        address: IpAddr,
        seq: u16,
        error: &'a Explanation,
    },
}
