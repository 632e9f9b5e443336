//! Probe's types: port states, why a probe ended as it did, the request and the report.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::explain::{self, Explanation, Verdict};
use crate::services::{self, Proto};
use crate::target::{Family, Host};

/// The state of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    /// The connection was accepted (TCP), or a UDP reply came back.
    Open,
    /// The host refused: TCP RST / ECONNREFUSED, or ICMP port unreachable for UDP.
    Closed,
    /// No answer before the deadline.
    Filtered,
    /// UDP only: no reply and no refusal; the port may be open and silent, or filtered.
    #[serde(rename = "open|filtered")]
    OpenFiltered,
    /// The network says there is no way there (EHOSTUNREACH, ENETUNREACH, …).
    Unreachable,
    /// Anything else (a local error).
    Error,
    /// Not probed: Ctrl-C came first.
    Interrupted,
}

impl PortState {
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::OpenFiltered => "open|filtered",
            PortState::Unreachable => "unreachable",
            PortState::Error => "error",
            PortState::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for PortState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state an errno from connect() means.
pub fn state_of_errno(code: i32) -> PortState {
    match explain::errno_verdict(code) {
        Verdict::Closed | Verdict::Reset => PortState::Closed,
        Verdict::Filtered => PortState::Filtered,
        Verdict::Unreachable => PortState::Unreachable,
        _ => PortState::Error,
    }
}

/// The state an ICMP error about a probe means: port or protocol unreachable closed, a firewall's reject
/// filtered, no route unreachable.
/// A host or net unreachable sent by the target itself is a firewall's reject on it (filtered).
pub fn state_of_icmp(msg: explain::icmp::Message, by_target: bool) -> PortState {
    use explain::icmp::Kind;
    match msg.kind() {
        Kind::PortUnreachable | Kind::ProtocolUnreachable => PortState::Closed,
        Kind::AdminProhibited => PortState::Filtered,
        Kind::HostUnreachable | Kind::NetUnreachable if by_target => PortState::Filtered,
        Kind::Other | Kind::ParameterProblem => PortState::Error,
        _ => PortState::Unreachable,
    }
}

/// Why a probe ended as it did, kept compact; [`Reason::explain`] gives the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Nothing to explain (open).
    None,
    /// The errno from connect(), send() or recv().
    Errno(i32),
    /// No answer within this timeout.
    Timeout(Duration),
    /// The connect reached its own socket (loopback, ephemeral port): nothing listens there.
    SelfConnect,
    /// The connect reached another of netdiag's own probe sockets (TCP simultaneous open): nothing listens there.
    CrossConnect,
    /// UDP: no reply and no refusal within this timeout.
    NoReply(Duration),
    /// `--expect` was given and the reply did not contain the text.
    Unexpected,
    /// SYN scan: the target answered the SYN with a RST.
    Reset,
    /// SYN scan: an ICMP destination-unreachable from `from` about our SYN (`by_target`: sent by the target).
    SynIcmp {
        msg: crate::explain::icmp::Message,
        from: IpAddr,
        by_target: bool,
    },
    /// SYN scan: no answer to `tries` SYNs, each given `timeout`.
    NoAnswer { timeout: Duration, tries: u32 },
    /// IPv6 EACCES without an ICMPv6 report: a firewall's administratively-prohibited.
    DeniedV6,
    /// An ICMP (ICMPv6) error about the probe, read from the socket's error queue: what it said and who sent
    /// it (`by_target`: the target itself, else a router on the way).
    Icmp {
        msg: explain::icmp::Message,
        from: IpAddr,
        by_target: bool,
    },
}

impl Reason {
    /// The plain-language explanation, or `None` for a clean success.
    pub fn explain(&self) -> Option<Explanation> {
        match *self {
            Reason::None => None,
            Reason::Errno(code) => Some(explain::errno(code)),
            Reason::Timeout(t) => Some(explain::timeout(t)),
            Reason::SelfConnect => Some(explain::probe::self_connect()),
            Reason::CrossConnect => Some(explain::probe::cross_connect()),
            Reason::NoReply(t) => Some(explain::probe::no_reply(t)),
            Reason::Unexpected => Some(explain::probe::unexpected_reply()),
            Reason::Reset => Some(explain::probe::syn_reset()),
            Reason::SynIcmp {
                msg,
                from,
                by_target,
            } => Some(explain::probe::syn_icmp(msg, from, by_target)),
            Reason::NoAnswer { timeout, tries } => {
                Some(explain::probe::syn_no_answer(timeout, tries))
            }
            Reason::DeniedV6 => Some(explain::probe::denied_v6()),
            Reason::Icmp {
                msg,
                from,
                by_target,
            } => Some(explain::icmp::about_probe(msg, from, by_target)),
        }
    }

    /// The errno behind the result, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Reason::Errno(e) => Some(*e),
            _ => None,
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.explain().serialize(s)
    }
}

/// `explanation`, and `icmp` `{from, type, code, name}` when an ICMP error ended the probe.
fn ser_reason<S: Serializer>(r: &Reason, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(None)?;
    m.serialize_entry("explanation", &r.explain())?;
    if let Reason::Icmp { msg, from, .. } = r {
        m.serialize_entry(
            "icmp",
            &serde_json::json!({
                "from": from,
                "type": msg.icmp_type,
                "code": msg.code,
                "name": msg.name(),
            }),
        )?;
    }
    m.end()
}

/// Latency statistics of a repeated probe (`--count`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub sent: u32,
    /// Attempts that connected (TCP) or got a reply (UDP).
    pub answered: u32,
    pub loss_percent: f64,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "min_ms")]
    pub min: Option<Duration>,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "avg_ms")]
    pub avg: Option<Duration>,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "max_ms")]
    pub max: Option<Duration>,
}

impl Stats {
    /// Statistics over latencies of answered attempts, out of `sent`.
    pub fn from_latencies(sent: u32, lat: &[Duration]) -> Stats {
        let answered = lat.len() as u32;
        let loss_percent = if sent == 0 {
            0.0
        } else {
            f64::from(sent - answered.min(sent)) * 100.0 / f64::from(sent)
        };
        let sum: Duration = lat.iter().sum();
        Stats {
            sent,
            answered,
            loss_percent,
            min: lat.iter().min().copied(),
            avg: (answered > 0).then(|| sum / answered),
            max: lat.iter().max().copied(),
        }
    }
}

/// The result of probing one address and port.
#[derive(Debug, Clone, Serialize)]
pub struct PortResult {
    /// The host as given (a name, or the address itself).
    pub host: String,
    pub address: IpAddr,
    pub port: u16,
    pub protocol: Proto,
    pub state: PortState,
    /// The registered service name for the port, from the bundled table.
    pub service: Option<&'static str>,
    /// Time to connect (TCP) or to the reply (UDP).
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "latency_ms")]
    pub latency: Option<Duration>,
    /// Why, in plain words (`explanation`, null when open and as expected), and for an ICMP error `icmp`
    /// `{from, type, code, name}` as ping reports it.
    #[serde(flatten, serialize_with = "ser_reason")]
    pub reason: Reason,
    /// What the server said (`--banner`) or answered (`--send`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
    /// Repeated probes (`--count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// True when the port answered as asked: open (and, with `--expect`, the reply matched).
    pub ok: bool,
}

impl PortResult {
    pub(crate) fn new(
        host: &str,
        addr: SocketAddr,
        protocol: Proto,
        state: PortState,
        reason: Reason,
    ) -> PortResult {
        PortResult {
            host: host.to_string(),
            address: addr.ip(),
            port: addr.port(),
            protocol,
            state,
            service: services::name_of(addr.port(), protocol),
            latency: None,
            reason,
            reply: None,
            stats: None,
            ok: state == PortState::Open && reason == Reason::None,
        }
    }

    pub fn socket_addr(&self) -> SocketAddr {
        crate::target::socket_addr(self.address, self.port)
    }

    /// The plain-language explanation of a result that is not a clean open.
    pub fn explanation(&self) -> Option<Explanation> {
        self.reason.explain()
    }

    /// The errno behind the result, if any.
    pub fn errno(&self) -> Option<i32> {
        self.reason.errno()
    }
}

/// What to probe.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// Hosts with their ports, in the order given.
    pub targets: Vec<HostPorts>,
    pub family: Family,
    pub protocol: Proto,
    pub timeout: Duration,
    /// Sockets in flight at once; `None` derives it from the open-files limit.
    pub concurrency: Option<usize>,
    /// New connections per second (SYNs per second with --syn); `Some(0)` is unpaced, `None` the default.
    pub rate: Option<u32>,
    /// Repeat each probe this many times and report statistics.
    pub count: Option<u32>,
    /// Pause between repeated probes.
    pub interval: Duration,
    /// Read what the server says first.
    pub banner: bool,
    /// Bytes to send after connecting (TCP) or as the datagram (UDP).
    pub send: Option<Vec<u8>>,
    /// With `send`/`banner`: the reply must contain these bytes.
    pub expect: Option<Vec<u8>>,
    /// List every port of a range scan, not only the open ones.
    pub list_all: bool,
    /// A range scan: list open ports only (unless `list_all`), exit 0 when each address has one open.
    pub scan: bool,
    /// Ports named one by one (`-p 22,80`, `HOST:PORT`), not from a range or a CIDR block: even in a scan
    /// they are always listed and must be open for success (see [`ProbeReport::ok`]).
    pub named: Vec<u16>,
    /// Half-open scan with raw SYNs (`--syn`) instead of connects.
    pub syn: bool,
    /// SYN scan: SYNs to a silent port after the first (`None`: the default).
    pub retries: Option<u32>,
}

/// A host and the ports to probe on it.
#[derive(Debug, Clone)]
pub struct HostPorts {
    pub host: Host,
    pub ports: Vec<u16>,
}

/// A host that could not be probed (its name did not resolve).
#[derive(Debug, Clone, Serialize)]
pub struct HostError {
    pub host: String,
    pub explanation: Explanation,
}

/// Counts of each state for one address.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub open: usize,
    pub closed: usize,
    pub filtered: usize,
    #[serde(rename = "open|filtered")]
    pub open_filtered: usize,
    pub unreachable: usize,
    pub error: usize,
    pub interrupted: usize,
}

impl Counts {
    pub(crate) fn add(&mut self, s: PortState) {
        match s {
            PortState::Open => self.open += 1,
            PortState::Closed => self.closed += 1,
            PortState::Filtered => self.filtered += 1,
            PortState::OpenFiltered => self.open_filtered += 1,
            PortState::Unreachable => self.unreachable += 1,
            PortState::Error => self.error += 1,
            PortState::Interrupted => self.interrupted += 1,
        }
    }

    /// Ports with an answer or a deadline: every state but `interrupted`.
    pub fn probed(&self) -> usize {
        self.open + self.closed + self.filtered + self.open_filtered + self.unreachable + self.error
    }

    /// Non-zero counts as (state, count), in a fixed order.
    pub fn nonzero(&self) -> Vec<(&'static str, usize)> {
        [
            ("open", self.open),
            ("closed", self.closed),
            ("filtered", self.filtered),
            ("open|filtered", self.open_filtered),
            ("unreachable", self.unreachable),
            ("error", self.error),
            ("interrupted", self.interrupted),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// The per-address summary of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub host: String,
    pub address: IpAddr,
    pub probed: usize,
    pub counts: Counts,
}

/// Everything a probe run found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub protocol: Proto,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "timeout_ms")]
    pub timeout: Duration,
    /// True for range scans (only open ports listed unless `--all`).
    pub scan: bool,
    /// True when every probed port is listed in `results`.
    pub all_listed: bool,
    pub concurrency: usize,
    /// The listed results: every probe, or the open ports of a range scan.
    pub results: Vec<PortResult>,
    pub summary: Vec<Summary>,
    /// Hosts whose name did not resolve.
    pub unresolved: Vec<HostError>,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "elapsed_ms")]
    pub elapsed: Duration,
    /// True when Ctrl-C stopped the run; the results are what was found until then.
    pub interrupted: bool,
    /// True when open ports were talked to (`--banner`, `--send`): their replies are shown.
    pub talked: bool,
    /// Ports named one by one (see [`ProbeRequest::named`]).
    #[serde(skip)]
    pub named: Vec<u16>,
    /// `--syn` runs: what was sent (absent for connect and UDP scans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syn: Option<SynStats>,
}

/// What a SYN scan sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SynStats {
    /// SYNs sent, retries included.
    pub packets: u64,
    /// From the first SYN to the last.
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "sending_ms")]
    pub sending: Duration,
    /// The packets-per-second cap; 0 is unpaced.
    pub rate: u32,
    /// SYNs to a silent port after the first.
    pub retries: u32,
    /// How the SYNs left: `tx-ring` (whole frames through an AF_PACKET transmit ring, after the first batches
    /// while it is set up) or `sendmmsg` (a raw IP socket's batches only).
    pub method: &'static str,
    /// SYNs that went through the transmit ring.
    pub ring_packets: u64,
}

impl ProbeReport {
    /// True when every target answered as asked, by one rule: a port named one by one (`-p 22,80`,
    /// `HOST:PORT`) is a question and must be open; ports of a range (`-p 8000-8100`, `-p-`) or of a CIDR
    /// block are a search, and when nothing was named each address must have an open one. Every name must
    /// resolve.
    pub fn ok(&self) -> bool {
        if !self.unresolved.is_empty() || self.summary.is_empty() {
            return false;
        }
        if !self.scan {
            self.results.iter().all(|r| r.ok)
        } else if self.named.is_empty() {
            self.summary.iter().all(|s| s.counts.open > 0)
        } else {
            self.results
                .iter()
                .filter(|r| self.named.contains(&r.port))
                .all(|r| r.ok)
        }
    }

    /// True when a result is one the user named (listed and explained even in a scan).
    pub fn is_named(&self, r: &PortResult) -> bool {
        !self.scan || self.named.contains(&r.port)
    }
}

/// The most probes one run accepts (memory stays bounded: a few dozen bytes per probe).
pub const MAX_PROBES: usize = 1 << 21;

/// What the peer said, escaped for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// Bytes received (at most [`MAX_REPLY`](super::talk::MAX_REPLY)).
    pub bytes: usize,
    /// The bytes, printable ASCII as is, everything else escaped (`\r`, `\n`, `\t`, `\\`, `\xHH`).
    pub text: String,
    /// True when the peer sent more than [`MAX_REPLY`](super::talk::MAX_REPLY) bytes before the deadline.
    pub truncated: bool,
}

/// A run as it happens, for a progress line and for open ports shown as they are found (nmap's "Discovered
/// open port"): probes finished, open ports so far, and the open ports not yet taken by the watcher.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicUsize,
    pub open: AtomicUsize,
    found: Mutex<Vec<SocketAddr>>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Counts `n` finished probes.
    pub fn add_done(&self, n: usize) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Notes an open port.
    pub fn found(&self, addr: SocketAddr) {
        self.open.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.found.lock() {
            f.push(addr);
        }
    }

    /// The open ports found since the last call.
    pub fn take_found(&self) -> Vec<SocketAddr> {
        self.found
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }
}
