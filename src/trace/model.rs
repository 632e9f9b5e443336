//! What a trace reports: the protocol, flow strategy and method, and per hop the routers, statistics, ICMP
//! errors and MPLS labels; plain data that serializes to netdiag's JSON conventions.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::explain::{Explanation, Verdict};
use crate::target::{Family, Target};

use super::hops::HopStats;
use super::wire::MplsLabel;

/// The first UDP destination port, traceroute's.
pub const UDP_PORT: u16 = 33434;
/// The TCP destination port when none is given.
pub const TCP_PORT: u16 = 80;
/// Flows of a dublin trace when none is asked for.
pub const DUBLIN_FLOWS: u16 = 8;
/// The kernel resends an unanswered SYN after 1 s; an unprivileged TCP probe waits no longer than that.
pub const TCP_CONNECT_MAX_WAIT: Duration = Duration::from_secs(1);

/// What to trace and how.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    /// The target as typed.
    pub input: String,
    pub target: Target,
    /// None: TCP when a port is given, else ICMP (UDP when ICMP is not permitted).
    pub protocol: Option<Protocol>,
    pub family: Family,
    pub first_ttl: u8,
    pub max_ttl: u8,
    pub rounds: u32,
    pub interval: Duration,
    /// How long each probe waits for its answer.
    pub timeout: Duration,
    pub resolve_names: bool,
    /// Destination port (UDP: the first of classic mode's); the target's port wins over this.
    pub port: Option<u16>,
    pub source_port: Option<u16>,
    pub ecmp: Ecmp,
    /// Flows of a dublin trace.
    pub flows: u16,
    /// IP packet size of ICMP and UDP probes (traceroute's packet length); 60 for IPv4, 80 for IPv6 when None.
    pub size: Option<usize>,
    /// Use ordinary sockets even with root.
    pub unprivileged: bool,
}

impl TraceRequest {
    /// mtr's and traceroute's defaults: TTL 1 to 30, one round, 1 s per probe, names resolved, Paris flows.
    pub fn new(target: Target, input: &str) -> TraceRequest {
        TraceRequest {
            input: input.to_string(),
            target,
            protocol: None,
            family: Family::Any,
            first_ttl: 1,
            max_ttl: 30,
            rounds: 1,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            resolve_names: true,
            port: None,
            source_port: None,
            ecmp: Ecmp::Paris,
            flows: DUBLIN_FLOWS,
            size: None,
            unprivileged: false,
        }
    }
}

/// The probe protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Icmp,
    Udp,
    Tcp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Icmp => "icmp",
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How probes keep or vary the fields ECMP routers hash (see [`super::flow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Ecmp {
    Classic,
    #[default]
    Paris,
    Dublin,
}

impl Ecmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Ecmp::Classic => "classic",
            Ecmp::Paris => "paris",
            Ecmp::Dublin => "dublin",
        }
    }
}

/// Which sockets carried the probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Raw sockets (root or CAP_NET_RAW): every probe written whole.
    Raw,
    /// The datagram ICMP ("ping") socket and its error queue.
    DatagramIcmp,
    /// Ordinary UDP sockets with a TTL per probe and the error queue (tracepath's way).
    UdpSockets,
    /// TCP connects with a TTL per probe and the error queue.
    TcpConnect,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Raw => "raw",
            Method::DatagramIcmp => "datagram-icmp",
            Method::UdpSockets => "udp-sockets",
            Method::TcpConnect => "tcp-connect",
        }
    }
}

/// An address and, for UDP and TCP, a port (null for ICMP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub address: IpAddr,
    pub port: Option<u16>,
}

/// What happened at one hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HopState {
    /// Routers answered (time exceeded).
    Answered,
    /// No answer to any probe of this TTL.
    Silent,
    /// The destination answered here.
    Destination,
    /// The trace ends here on an ICMP error.
    Rejected,
}

impl HopState {
    pub fn as_str(self) -> &'static str {
        match self {
            HopState::Answered => "answered",
            HopState::Silent => "silent",
            HopState::Destination => "destination",
            HopState::Rejected => "rejected",
        }
    }
}

/// One router (or the destination) that answered at a hop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Responder {
    pub address: IpAddr,
    /// Its name (reverse lookup), unless `-n` or none.
    pub name: Option<String>,
    /// Answers it sent at this hop.
    pub received: u64,
    /// RFC 4950 MPLS label stack of its latest answer that carried one.
    pub mpls: Vec<MplsLabel>,
}

/// An ICMP error other than "time exceeded" heard at a hop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IcmpNote {
    pub from: IpAddr,
    /// `admin-prohibited`, `host-unreachable`, `frag-needed`, `port-unreachable`, ... (the ICMP table's names,
    /// [`crate::explain::icmp::Message::name`]).
    pub name: &'static str,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
    /// The next-hop MTU of frag-needed / packet-too-big.
    pub mtu: Option<u32>,
    pub count: u64,
}

/// One hop of the report: statistics over every round, as mtr's report shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    /// The TTL (hop limit) of the probes.
    pub hop: u8,
    pub state: HopState,
    pub sent: u64,
    pub received: u64,
    pub loss_percent: f64,
    /// last/best/avg/worst/stddev and jitter, in milliseconds (flat in the JSON: `last_ms`, `avg_ms`, ...).
    #[serde(flatten)]
    pub stats: HopStats,
    pub responders: Vec<Responder>,
    pub icmp: Vec<IcmpNote>,
    /// What a silent hop or a hop's own loss means, when it does not mean failure.
    pub note: Option<String>,
}

/// A hop and the router that answered there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HopRef {
    pub hop: u8,
    pub address: IpAddr,
}

/// The trace of one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceResult {
    /// The target as typed.
    pub target: String,
    /// True when the destination answered.
    pub ok: bool,
    pub destination: Option<Endpoint>,
    pub protocol: Protocol,
    pub method: Option<Method>,
    pub ecmp: Ecmp,
    pub flows: u16,
    pub first_ttl: u8,
    pub max_ttl: u8,
    /// Rounds completed.
    pub rounds: u32,
    #[serde(rename = "timeout_ms", serialize_with = "crate::duration::ser_ms")]
    pub timeout: Duration,
    #[serde(rename = "interval_ms", serialize_with = "crate::duration::ser_ms")]
    pub interval: Duration,
    #[serde(rename = "elapsed_ms", serialize_with = "crate::duration::ser_ms")]
    pub elapsed: Duration,
    /// IP packet size of ICMP and UDP probes.
    pub packet_size: usize,
    /// The headline: `ok` (the destination answered), the failure's verdict (`filtered` when answers stop,
    /// `filtered`/`unreachable`/`closed` for an ICMP rejection, `unreachable` with no route, `not-found`), or
    /// `interrupted`.
    pub status: Verdict,
    /// The hop where the destination answered.
    pub destination_hop: Option<u8>,
    /// The last hop that answered before the end (or before the silence).
    pub last_answer: Option<HopRef>,
    /// Filtered: the first hop after the last answer (every later TTL up to max_ttl was silent too).
    pub first_silent: Option<u8>,
    /// Rejected: the router that rejected, and the hop.
    pub rejected_by: Option<HopRef>,
    pub hops: Vec<Hop>,
    /// Answers that came after their probe had timed out (counted here, not in the statistics).
    pub late: u64,
    pub explanation: Option<Explanation>,
}

/// The report: one result per target (one target today); the JSON's top-level `ok` is true when every
/// destination was reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceReport {
    pub results: Vec<TraceResult>,
    pub interrupted: bool,
}

/// What a trace tells as it runs.
#[derive(Debug)]
pub enum TraceEvent<'a> {
    /// The sockets are open: which method runs, in words for stderr.
    Started { method: Method, note: String },
    /// A round completed; the result so far (for the live table).
    Round(&'a TraceResult),
}

/// Why a trace could not run (as opposed to a target that failed, which is a result).
#[derive(Debug)]
pub enum TraceError {
    /// ICMP was asked for and this process may open neither a raw nor a datagram ICMP socket.
    IcmpNotPermitted,
    Io(io::Error),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::IcmpNotPermitted => f.write_str(
                "ICMP tracing needs root, CAP_NET_RAW or a group in net.ipv4.ping_group_range; use --proto udp or --proto tcp (they work without privilege)",
            ),
            TraceError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TraceError {}

impl From<io::Error> for TraceError {
    fn from(e: io::Error) -> Self {
        TraceError::Io(e)
    }
}

impl TraceReport {
    /// True when every destination answered and Ctrl-C did not cut the run short.
    pub fn ok(&self) -> bool {
        !self.interrupted && self.results.iter().all(|r| r.ok)
    }

    /// The first result (a trace has one target).
    pub fn result(&self) -> Option<&TraceResult> {
        self.results.first()
    }
}
