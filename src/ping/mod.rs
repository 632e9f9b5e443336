//! `netdiag ping`: ICMP/ICMPv6 echo to one or many hosts on one socket per family, with loss and RTT statistics
//! as iputils computes them, and a TCP connect fallback when this process may not send ICMP.
//!
//! The library entry points are [`ping`] and [`ping_with`] (which also streams [`PingEvent`]s, for the
//! ping-style one-line-per-reply output). Neither prints. `netdiag diagnose` calls [`ping`] for its reach step
//! and reads [`PingReport::method`] to know whether ICMP was used or it fell back to TCP.
//!
//! ```no_run
//! use std::time::Duration;
//! use netdiag::ping::{ping, Method, PingRequest};
//! use netdiag::target::Host;
//!
//! let mut req = PingRequest::new(vec![Host::Ip("127.0.0.1".parse().unwrap())]);
//! req.count = Some(3);
//! req.interval = Duration::from_millis(200);
//! req.timeout = Duration::from_secs(1);
//! let report = ping(&req).unwrap();
//! let h = &report.hosts[0];
//! let via = if report.method == Method::Icmp { "ICMP" } else { "TCP" };
//! println!("{} via {via}: {}/{} replies, avg {:?} ms", h.host, h.received, h.sent, h.rtt.map(|r| r.avg_ms));
//! ```

mod icmp;
pub mod packet;
pub mod stats;
mod tcp;

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::explain::{self, Explanation, Verdict};
use crate::lookup;
use crate::render::{write_table, Output, Report, Tone};
use crate::target::{Cidr, Family, Host, HostSpec, InputError};

pub use stats::{RttAccumulator, RttStats};

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
    /// Hosts (addresses or names; CIDR blocks already expanded with [`expand`]).
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
}

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
    #[serde(serialize_with = "crate::duration::ser_ms")]
    pub rtt: Duration,
    pub duplicate: bool,
    /// TCP: the port that answered, and whether it refused (which also proves the host is up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<bool>,
}

/// An ICMP error received for one of our echo requests.
#[derive(Debug, Clone, Serialize)]
pub struct IcmpErrorReport {
    /// The router or host that sent the error.
    pub from: IpAddr,
    pub seq: u16,
    pub icmp_type: &'static str,
    pub code: u8,
    pub message: &'static str,
}

/// How a host did: a verdict (`ok`, `filtered`, `unreachable`, ...), or `interrupted` when Ctrl-C came while
/// its echo requests were still waiting for their replies (or before any was sent), so nothing is known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    Verdict(Verdict),
    Interrupted,
}

impl HostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Verdict(v) => v.as_str(),
            HostStatus::Interrupted => "interrupted",
        }
    }
}

impl From<Verdict> for HostStatus {
    fn from(v: Verdict) -> HostStatus {
        HostStatus::Verdict(v)
    }
}

impl PartialEq<Verdict> for HostStatus {
    fn eq(&self, v: &Verdict) -> bool {
        *self == HostStatus::Verdict(*v)
    }
}

impl std::fmt::Display for HostStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for HostStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The result for one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    /// The host as given.
    pub host: String,
    pub address: Option<IpAddr>,
    /// `ok` when at least one reply came back; otherwise why not, or `interrupted` when Ctrl-C came while
    /// its echo requests were still within their reply window.
    pub status: HostStatus,
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
    pub icmp_error: Option<IcmpErrorReport>,
    /// Why the host did not answer (no reply, unreachable, not found).
    pub error: Option<Explanation>,
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
    #[serde(serialize_with = "crate::duration::ser_ms")]
    pub elapsed: Duration,
    pub alive: usize,
    pub unreachable: usize,
    /// Hosts with no reply yet whose echo requests were still waiting (or not sent) when Ctrl-C came.
    pub unfinished: usize,
    /// Sorted by address; hosts whose name did not resolve come last.
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

/// Expands host arguments: CIDR blocks into addresses (IPv4 blocks up to /30 skip the network and broadcast
/// addresses, as fping's -g does), names and addresses as they are, duplicates dropped. Refuses more than
/// [`MAX_HOSTS`] hosts unless `force` (and more than [`MAX_HOSTS_FORCED`] always). Ports are refused: ping
/// takes hosts (`--tcp-port` sets the TCP port).
pub fn expand(specs: &[HostSpec], force: bool) -> Result<Vec<Host>, InputError> {
    let limit = if force { MAX_HOSTS_FORCED } else { MAX_HOSTS };
    let too_many = |n: u128| {
        InputError(if force {
            format!("{n} hosts is more than netdiag ping handles ({MAX_HOSTS_FORCED}); use longer prefixes")
        } else {
            format!("{n} hosts is more than {MAX_HOSTS}; add --force to ping them all, or use longer prefixes")
        })
    };
    let mut total: u128 = 0;
    for s in specs {
        total = total.saturating_add(match s {
            HostSpec::Cidr(c) => c.len(),
            HostSpec::Target(_) => 1,
        });
    }
    if total > limit as u128 {
        return Err(too_many(total));
    }
    let mut seen = HashSet::new();
    let mut hosts = Vec::new();
    for s in specs {
        match s {
            HostSpec::Target(t) => {
                if let Some(p) = t.port {
                    return Err(InputError(format!(
                        "ping takes hosts, not ports: '{t}' has port {p}; give the host alone (and --tcp-port {p} for a TCP ping)"
                    )));
                }
                if seen.insert(t.host.clone()) {
                    hosts.push(t.host.clone());
                }
            }
            HostSpec::Cidr(c) => {
                for ip in cidr_hosts(c, limit as u128)? {
                    let h = Host::Ip(ip);
                    if seen.insert(h.clone()) {
                        hosts.push(h);
                    }
                }
            }
        }
    }
    Ok(hosts)
}

fn cidr_hosts(c: &Cidr, max: u128) -> Result<Vec<IpAddr>, InputError> {
    let mut all = c.addresses(max)?;
    if c.network.is_ipv4() && c.prefix <= 30 && all.len() >= 4 {
        all.pop();
        all.remove(0);
    }
    Ok(all)
}

/// Per-host state during a run (shared by the ICMP and TCP engines).
#[derive(Debug)]
pub(crate) struct HostState {
    pub label: String,
    pub addr: Option<IpAddr>,
    pub resolve_error: Option<Explanation>,
    pub sent: u64,
    /// Of `sent`: still within their reply window when the run was interrupted.
    pub unfinished: u64,
    pub received: u64,
    pub duplicates: u64,
    pub errors: u64,
    pub rtt: RttAccumulator,
    pub replies: Vec<ReplyRecord>,
    pub icmp_error: Option<IcmpErrorReport>,
    pub send_error: Option<Explanation>,
}

impl HostState {
    fn new(label: String, addr: Result<IpAddr, Explanation>) -> HostState {
        let (addr, resolve_error) = match addr {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(e)),
        };
        HostState {
            label,
            addr,
            resolve_error,
            sent: 0,
            unfinished: 0,
            received: 0,
            duplicates: 0,
            errors: 0,
            rtt: RttAccumulator::default(),
            replies: Vec::new(),
            icmp_error: None,
            send_error: None,
        }
    }

    /// Records a reply (or duplicate); it is then `self.replies.last()`.
    pub fn record(&mut self, r: ReplyRecord) {
        if r.duplicate {
            self.duplicates += 1;
        } else {
            self.received += 1;
            self.rtt.add(r.rtt);
        }
        if self.replies.len() < MAX_REPLIES_KEPT {
            self.replies.push(r);
        } else if let Some(last) = self.replies.last_mut() {
            // Over the cap: the latest takes the last slot, so the event still sees it.
            *last = r;
        }
    }
}

/// The pacing of sends: round-robin over the hosts, `interval` between two sends to one host, `gap` between
/// any two sends. Times are scheduled, not measured, so pacing does not drift.
pub(crate) struct Schedule {
    order: Vec<usize>,
    pos: usize,
    round: u64,
    count: Option<u64>,
    interval: Duration,
    gap: Duration,
    next_global: Instant,
    next_host: Vec<Instant>,
    end: Option<Instant>,
}

impl Schedule {
    pub fn new(hosts: &[HostState], req: &PingRequest, start: Instant) -> Schedule {
        let order: Vec<usize> = (0..hosts.len())
            .filter(|&i| hosts[i].addr.is_some())
            .collect();
        let gap = match req.rate {
            Some(r) if r > 0.0 && r.is_finite() => Duration::from_secs_f64((1.0 / r).min(60.0)),
            _ => Duration::ZERO,
        };
        Schedule {
            next_host: vec![start; hosts.len()],
            order,
            pos: 0,
            round: 0,
            count: req.count,
            interval: req.interval,
            gap,
            next_global: start,
            end: req.deadline.map(|d| start + d),
        }
    }

    /// The next host to ping and when, or `None` when every echo has been sent.
    pub fn peek(&self) -> Option<(usize, Instant)> {
        if self.order.is_empty() || self.count.is_some_and(|c| self.round >= c) {
            return None;
        }
        let h = self.order[self.pos];
        let due = self.next_global.max(self.next_host[h]);
        if self.end.is_some_and(|e| due >= e) {
            return None;
        }
        Some((h, due))
    }

    /// Marks the peeked send as done.
    pub fn advance(&mut self, due: Instant) {
        let h = self.order[self.pos];
        self.next_host[h] = due + self.interval;
        self.next_global = due + self.gap;
        self.pos += 1;
        if self.pos == self.order.len() {
            self.pos = 0;
            self.round += 1;
        }
    }

    pub fn round(&self) -> u64 {
        self.round
    }
}

/// Pings the hosts; see [`ping_with`].
pub fn ping(req: &PingRequest) -> anyhow::Result<PingReport> {
    ping_with(req, &mut |_| {})
}

/// Pings every host of the request and returns per-host statistics; `on_event` sees each reply, ICMP error and
/// send error as it happens. Stops early (with `interrupted` set) when Ctrl-C was pressed
/// ([`crate::interrupt`]). Errors only when it cannot run at all (bad request, ICMP forced but not permitted);
/// hosts that do not answer are results.
pub fn ping_with(
    req: &PingRequest,
    on_event: &mut dyn FnMut(&PingEvent),
) -> anyhow::Result<PingReport> {
    if req.count.is_none() && req.deadline.is_none() {
        anyhow::bail!("ping needs a count or a deadline");
    }
    if req.count == Some(0) {
        anyhow::bail!("ping count must be at least 1");
    }
    if req.size > MAX_SIZE {
        anyhow::bail!("packet size {} is larger than {MAX_SIZE}", req.size);
    }
    if req.tcp_ports.is_empty() && req.method == MethodChoice::Tcp {
        anyhow::bail!("TCP ping needs at least one port");
    }
    let mut hosts: Vec<HostState> = req
        .hosts
        .iter()
        .map(|h| {
            let addr = lookup::resolve(h, req.family).and_then(|a| {
                a.first()
                    .copied()
                    .ok_or_else(|| explain::resolver(libc::EAI_NODATA))
            });
            HostState::new(h.to_string(), addr)
        })
        .collect();
    let start = Instant::now();
    let mut note = None;
    let mut socket = None;
    let mut interrupted = false;
    let method = match req.method {
        MethodChoice::Tcp => Method::Tcp,
        MethodChoice::Icmp | MethodChoice::Auto => {
            let families: Vec<bool> = [false, true]
                .into_iter()
                .filter(|v6| {
                    hosts
                        .iter()
                        .any(|h| h.addr.is_some_and(|a| a.is_ipv6() == *v6))
                })
                .collect();
            match icmp::Engine::open(&families, req) {
                Ok(engine) => {
                    socket = Some(engine.socket_kind());
                    on_event(&PingEvent::Started {
                        method: Method::Icmp,
                        socket,
                        note: None,
                        hosts: hosts.len(),
                        first: first_host(&hosts),
                    });
                    interrupted = engine.run(req, &mut hosts, start, on_event)?;
                    Method::Icmp
                }
                Err(icmp::OpenError::NotPermitted(e)) if req.method == MethodChoice::Auto => {
                    note = Some(format!(
                        "no permission for ICMP ({e}: needs root or CAP_NET_RAW, or net.ipv4.ping_group_range \
                         covering your group); using TCP connect to port {} instead",
                        ports_text(&req.tcp_ports)
                    ));
                    Method::Tcp
                }
                Err(icmp::OpenError::NotPermitted(e)) => anyhow::bail!(
                    "no permission for ICMP ({e}); run as root or with CAP_NET_RAW, widen net.ipv4.ping_group_range, or use --tcp"
                ),
                Err(icmp::OpenError::Other(e)) => {
                    return Err(anyhow::Error::from(e).context("opening the ICMP socket"))
                }
            }
        }
    };
    if method == Method::Tcp {
        if req.tcp_ports.is_empty() {
            anyhow::bail!("TCP ping needs at least one port");
        }
        on_event(&PingEvent::Started {
            method,
            socket: None,
            note: note.as_deref(),
            hosts: hosts.len(),
            first: first_host(&hosts),
        });
        interrupted = tcp::run(req, &mut hosts, start, on_event);
    }
    Ok(build_report(
        req,
        hosts,
        method,
        socket,
        note,
        interrupted,
        start.elapsed(),
    ))
}

fn first_host(hosts: &[HostState]) -> Option<(&str, IpAddr)> {
    hosts
        .iter()
        .find_map(|h| h.addr.map(|a| (h.label.as_str(), a)))
}

fn ports_text(ports: &[u16]) -> String {
    let v: Vec<String> = ports.iter().map(u16::to_string).collect();
    v.join(", then ")
}

fn build_report(
    req: &PingRequest,
    hosts: Vec<HostState>,
    method: Method,
    socket: Option<&'static str>,
    note: Option<String>,
    interrupted: bool,
    elapsed: Duration,
) -> PingReport {
    let mut results: Vec<HostResult> = hosts
        .into_iter()
        .map(|h| host_result(h, req.timeout, interrupted))
        .collect();
    results.sort_by(|a, b| match (a.address, b.address) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let alive = results.iter().filter(|h| h.alive()).count();
    let unfinished = results
        .iter()
        .filter(|h| h.status == HostStatus::Interrupted)
        .count();
    PingReport {
        method,
        socket,
        note,
        interrupted,
        size: req.size,
        elapsed,
        alive,
        unreachable: results.len() - alive - unfinished,
        unfinished,
        hosts: results,
        failures_only: false,
    }
}

fn host_result(h: HostState, timeout: Duration, interrupted: bool) -> HostResult {
    // Probes still in their reply window at Ctrl-C are neither received nor lost.
    let sent = h.sent.saturating_sub(h.unfinished);
    let (status, error) = if h.received > 0 {
        (Verdict::Ok.into(), None)
    } else if let Some(e) = h.resolve_error {
        (e.verdict.into(), Some(e))
    } else if let Some(ie) = &h.icmp_error {
        (
            Verdict::Unreachable.into(),
            Some(Explanation {
                verdict: Verdict::Unreachable,
                code: format!("ICMP {} code {}", ie.icmp_type, ie.code),
                cause: format!("{} reports: {}", ie.from, ie.message),
                fix: if ie.icmp_type == "time-exceeded" {
                    "the packets ran out of hops: a routing loop, or a --ttl too small for the path"
                        .into()
                } else {
                    "check that the host is up and the routes toward it (netdiag diagnose)".into()
                },
            }),
        )
    } else if let Some(e) = h.send_error {
        (e.verdict.into(), Some(e))
    } else if interrupted && (h.unfinished > 0 || h.sent == 0) {
        // Not finished: what is known so far says nothing about the host.
        (HostStatus::Interrupted, None)
    } else if h.sent == 0 {
        (
            Verdict::Error.into(),
            Some(Explanation {
                verdict: Verdict::Error,
                code: "not-sent".into(),
                cause: "nothing was sent to this host".into(),
                fix: String::new(),
            }),
        )
    } else {
        (Verdict::Filtered.into(), Some(explain::timeout(timeout)))
    };
    HostResult {
        loss_percent: stats::loss_percent(sent, h.received),
        rtt: h.rtt.stats(),
        host: h.label,
        address: h.addr,
        status,
        sent,
        unfinished: h.unfinished,
        received: h.received,
        duplicates: h.duplicates,
        errors: h.errors,
        icmp_error: h.icmp_error,
        error,
        replies: h.replies,
    }
}

/// Why a host has no status yet: Ctrl-C came while its echo requests were waiting (or before any was sent).
fn interrupted_detail(h: &HostResult) -> String {
    let waiting = match h.unfinished {
        0 => "Ctrl-C came before a ping was sent".to_string(),
        1 => "Ctrl-C came while 1 ping still waited for its answer".to_string(),
        n => format!("Ctrl-C came while {n} pings still waited for their answers"),
    };
    match h.sent {
        0 => waiting,
        n => format!("{waiting}; {n} earlier got no answer"),
    }
}

/// Loss as ping prints it: `0`, `25`, `66.667`.
pub fn fmt_percent(p: f64) -> String {
    let s = format!("{p:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn fmt_rtt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

/// The iputils-style header line for one host: `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.`
pub fn header_line(
    host: &str,
    addr: IpAddr,
    size: usize,
    method: Method,
    tcp_ports: &[u16],
) -> String {
    match method {
        Method::Tcp => format!(
            "PING {host} ({addr}) TCP connect to port {}",
            ports_text(tcp_ports)
        ),
        Method::Icmp if addr.is_ipv6() => format!("PING {host} ({addr}) {size} data bytes"),
        Method::Icmp => format!("PING {host} ({addr}) {size}({}) bytes of data.", size + 28),
    }
}

/// The iputils-style line for one reply: `64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.033 ms`.
pub fn reply_line(address: IpAddr, r: &ReplyRecord) -> String {
    let t = r.rtt.as_secs_f64() * 1000.0;
    let time = if t < 1.0 {
        format!("{t:.3}")
    } else if t < 10.0 {
        format!("{t:.2}")
    } else {
        format!("{t:.1}")
    };
    let dup = if r.duplicate { " (DUP!)" } else { "" };
    match r.tcp_port {
        Some(port) => {
            let how = if r.refused == Some(true) {
                "refused"
            } else {
                "connected"
            };
            format!(
                "tcp {how} from {address}:{port}: seq={} time={time} ms{dup}",
                r.seq
            )
        }
        None => {
            let ttl = r.ttl.map(|t| format!(" ttl={t}")).unwrap_or_default();
            format!(
                "{} bytes from {address}: icmp_seq={}{ttl} time={time} ms{dup}",
                r.bytes, r.seq
            )
        }
    }
}

/// The line for an ICMP error: `From 10.0.0.1 icmp_seq=1 Destination Host Unreachable`.
pub fn error_line(e: &IcmpErrorReport) -> String {
    format!("From {} icmp_seq={} {}", e.from, e.seq, e.message)
}

impl PingReport {
    fn render_single(&self, h: &HostResult, w: &mut dyn Write) -> io::Result<()> {
        let Some(addr) = h.address else {
            // Never pinged: the name did not resolve.
            let (why, code) = h
                .error
                .as_ref()
                .map(|e| (e.sentence(), e.code.clone()))
                .unwrap_or_default();
            return writeln!(w, "{}: {}: {why} ({code})", h.host, h.status);
        };
        let shown = addr.to_string();
        writeln!(w)?;
        writeln!(
            w,
            "--- {shown} ping statistics ({}) ---",
            self.method_label()
        )?;
        let mut line = format!("{} packets transmitted, {} received", h.sent, h.received);
        if h.duplicates > 0 {
            line.push_str(&format!(", +{} duplicates", h.duplicates));
        }
        if h.errors > 0 {
            line.push_str(&format!(", +{} errors", h.errors));
        }
        if h.unfinished > 0 {
            line.push_str(&format!(", +{} unfinished", h.unfinished));
        }
        line.push_str(&format!(
            ", {}% packet loss, time {}ms",
            fmt_percent(h.loss_percent),
            self.elapsed.as_millis()
        ));
        writeln!(w, "{line}")?;
        if let Some(r) = &h.rtt {
            writeln!(
                w,
                "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
                r.min_ms, r.avg_ms, r.max_ms, r.mdev_ms
            )?;
        }
        if let Some(e) = &h.error {
            writeln!(w, "{}: {} ({})", h.status, e.sentence(), e.code)?;
        } else if h.status == HostStatus::Interrupted {
            writeln!(w, "{}: {}", h.status, interrupted_detail(h))?;
        }
        if self.interrupted {
            writeln!(w, "interrupted: statistics so far")?;
        }
        Ok(())
    }
}

impl Report for PingReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        if let [h] = self.hosts.as_slice() {
            return self.render_single(h, w);
        }
        let mut t = out.table(&[
            "HOST", "ADDRESS", "STATUS", "SENT", "RECV", "LOSS", "MIN ms", "AVG ms", "MAX ms",
            "MDEV ms", "DETAIL",
        ]);
        let shown = self
            .hosts
            .iter()
            .filter(|h| !(self.failures_only && h.alive()));
        for h in shown {
            let tone = if h.alive() {
                Tone::Good
            } else if h.status == HostStatus::Interrupted {
                Tone::Warn
            } else {
                Tone::Bad
            };
            let status = if h.alive() {
                "alive".to_string()
            } else {
                h.status.to_string()
            };
            let r = h.rtt;
            let detail = match (&h.error, h.duplicates) {
                (Some(e), _) => e.cause.clone(),
                (None, _) if h.status == HostStatus::Interrupted => interrupted_detail(h),
                (None, d) if d > 0 => format!("+{d} duplicates"),
                _ => String::new(),
            };
            t.add_row(vec![
                out.cell(&h.host, Tone::Plain),
                out.cell(
                    h.address
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "-".into()),
                    Tone::Plain,
                ),
                out.cell(status, tone),
                out.num(h.sent),
                out.num(h.received),
                out.num(if h.sent == 0 {
                    "-".to_string()
                } else {
                    format!("{}%", fmt_percent(h.loss_percent))
                }),
                out.num(fmt_rtt(r.map(|r| r.min_ms))),
                out.num(fmt_rtt(r.map(|r| r.avg_ms))),
                out.num(fmt_rtt(r.map(|r| r.max_ms))),
                out.num(fmt_rtt(r.map(|r| r.mdev_ms))),
                out.cell(detail, Tone::Dim),
            ]);
        }
        if t.row_count() > 0 {
            write_table(w, &t)?;
        }
        let alive = out.paint(&format!("{} alive", self.alive), Tone::Good);
        let down = out.paint(
            &format!("{} unreachable", self.unreachable),
            if self.unreachable > 0 {
                Tone::Bad
            } else {
                Tone::Plain
            },
        );
        let unfinished = if self.unfinished > 0 {
            out.paint(&format!(", {} interrupted", self.unfinished), Tone::Warn)
        } else {
            String::new()
        };
        writeln!(
            w,
            "{alive}, {down}{unfinished} ({} hosts, {}, {})",
            self.hosts.len(),
            self.method_label(),
            crate::duration::fmt_ms(self.elapsed)
        )?;
        if self.interrupted {
            writeln!(w, "interrupted: results so far")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Format;

    fn specs(v: &[&str]) -> Vec<HostSpec> {
        v.iter().map(|s| HostSpec::parse(s).unwrap()).collect()
    }

    #[test]
    fn expand_skips_network_and_broadcast_like_fping() {
        let h = expand(&specs(&["10.0.0.0/30"]), false).unwrap();
        assert_eq!(
            h,
            vec![
                Host::Ip("10.0.0.1".parse().unwrap()),
                Host::Ip("10.0.0.2".parse().unwrap())
            ]
        );
        assert_eq!(expand(&specs(&["10.0.0.0/31"]), false).unwrap().len(), 2);
        assert_eq!(expand(&specs(&["10.0.0.7/32"]), false).unwrap().len(), 1);
        assert_eq!(expand(&specs(&["fd00::/126"]), false).unwrap().len(), 4);
    }

    #[test]
    fn expand_drops_duplicates_and_refuses_ports() {
        let h = expand(&specs(&["127.0.0.1", "localhost", "127.0.0.1"]), false).unwrap();
        assert_eq!(h.len(), 2);
        let e = expand(&specs(&["127.0.0.1:80"]), false).unwrap_err();
        assert!(e.0.contains("--tcp-port 80"), "{e}");
    }

    #[test]
    fn more_than_65536_hosts_needs_force() {
        let e = expand(&specs(&["10.0.0.0/15"]), false).unwrap_err();
        assert!(e.0.contains("--force"), "{e}");
        assert_eq!(
            expand(&specs(&["10.0.0.0/16"]), false).unwrap().len(),
            65_534
        );
        assert!(expand(&specs(&["10.0.0.0/7"]), true).is_err());
        assert!(expand(&specs(&["::/0", "::/0", "0.0.0.0/0"]), true).is_err());
    }

    #[test]
    fn schedule_is_round_robin_with_gap_and_interval() {
        let hosts: Vec<HostState> = (1..=3)
            .map(|i| HostState::new(format!("h{i}"), Ok(IpAddr::from([127, 0, 0, i]))))
            .collect();
        let mut req = PingRequest::new(vec![]);
        req.count = Some(2);
        req.rate = Some(100.0);
        req.interval = Duration::from_secs(1);
        let t0 = Instant::now();
        let mut s = Schedule::new(&hosts, &req, t0);
        let mut got = Vec::new();
        while let Some((h, due)) = s.peek() {
            got.push((h, (due - t0).as_millis()));
            s.advance(due);
        }
        assert_eq!(
            got,
            vec![(0, 0), (1, 10), (2, 20), (0, 1000), (1, 1010), (2, 1020)]
        );
    }

    #[test]
    fn schedule_stops_at_the_deadline() {
        let hosts = vec![HostState::new("h".into(), Ok(IpAddr::from([127, 0, 0, 1])))];
        let mut req = PingRequest::new(vec![]);
        req.count = None;
        req.deadline = Some(Duration::from_millis(2500));
        let t0 = Instant::now();
        let mut s = Schedule::new(&hosts, &req, t0);
        let mut n = 0;
        while let Some((_, due)) = s.peek() {
            s.advance(due);
            n += 1;
            assert!(n < 10);
        }
        assert_eq!(n, 3);
    }

    fn sample_report(n: usize) -> PingReport {
        let mut hosts = Vec::new();
        for i in 0..n {
            let mut h = HostState::new(
                format!("127.0.0.{}", 9 - i),
                Ok(IpAddr::from([127, 0, 0, 9 - i as u8])),
            );
            h.sent = 4;
            for (seq, us) in [(1u16, 40u64), (2, 20), (3, 30)] {
                h.record(ReplyRecord {
                    seq,
                    bytes: 64,
                    ttl: Some(64),
                    rtt: Duration::from_micros(us),
                    duplicate: false,
                    tcp_port: None,
                    refused: None,
                });
            }
            hosts.push(h);
        }
        hosts.push(HostState::new(
            "nx.invalid".into(),
            Err(explain::resolver(libc::EAI_NONAME)),
        ));
        let req = PingRequest::new(vec![]);
        build_report(
            &req,
            hosts,
            Method::Icmp,
            Some("raw"),
            None,
            false,
            Duration::from_millis(3003),
        )
    }

    #[test]
    fn single_host_summary_reads_like_ping() {
        let mut r = sample_report(1);
        r.hosts.pop();
        let s = Output::plain(Format::Table).to_string(&r);
        assert!(
            s.contains("--- 127.0.0.9 ping statistics (ICMP) ---"),
            "{s}"
        );
        assert!(
            s.contains("4 packets transmitted, 3 received, 25% packet loss, time 3003ms"),
            "{s}"
        );
        assert!(
            s.contains("rtt min/avg/max/mdev = 0.020/0.030/0.040/0.008 ms"),
            "{s}"
        );
    }

    #[test]
    fn many_hosts_table_is_sorted_with_counts_and_json_matches() {
        let r = sample_report(2);
        let s = Output::plain(Format::Table).to_string(&r);
        let a = s.find("127.0.0.8").unwrap();
        let b = s.find("127.0.0.9").unwrap();
        let c = s.find("nx.invalid").unwrap();
        assert!(a < b && b < c, "{s}");
        assert!(s.contains("2 alive, 1 unreachable (3 hosts, ICMP"), "{s}");
        assert!(s.contains("not-found"), "{s}");
        let j: serde_json::Value =
            serde_json::from_str(&Output::plain(Format::Json).to_string(&r)).unwrap();
        assert_eq!(j["method"], "icmp");
        assert_eq!(j["alive"], 2);
        assert_eq!(j["hosts"][0]["address"], "127.0.0.8");
        assert_eq!(j["hosts"][0]["rtt"]["avg_ms"], 0.03);
        assert_eq!(j["hosts"][0]["loss_percent"], 25.0);
        assert_eq!(j["hosts"][2]["status"], "not-found");
        assert_eq!(j["elapsed"], 3003.0);
    }

    #[test]
    fn a_single_unresolved_host_is_one_line() {
        let mut r = sample_report(1);
        r.hosts.remove(0);
        let s = Output::plain(Format::Table).to_string(&r);
        assert_eq!(
            s,
            "nx.invalid: not-found: name not found: the resolver knows no such name; check the spelling or \
             the DNS server (/etc/resolv.conf) (EAI_NONAME)\n"
        );
    }

    #[test]
    fn failures_only_lists_just_the_hosts_that_did_not_answer() {
        let mut r = sample_report(2);
        r.failures_only = true;
        let s = Output::plain(Format::Table).to_string(&r);
        assert!(!s.contains("127.0.0.8"), "{s}");
        assert!(s.contains("nx.invalid"), "{s}");
        assert!(s.contains("2 alive, 1 unreachable"), "{s}");
        r.hosts.pop();
        r.unreachable = 0;
        let s = Output::plain(Format::Table).to_string(&r);
        assert!(s.starts_with("2 alive, 0 unreachable"), "{s}");
    }

    #[test]
    fn pings_still_waiting_at_ctrl_c_are_neither_lost_nor_filtered() {
        let mut waiting = HostState::new("10.0.0.2".into(), Ok(IpAddr::from([10, 0, 0, 2])));
        waiting.sent = 3;
        waiting.unfinished = 1;
        let h = host_result(waiting, Duration::from_secs(3), true);
        assert_eq!(h.status, HostStatus::Interrupted);
        assert_eq!((h.sent, h.unfinished, h.loss_percent), (2, 1, 100.0));
        assert!(h.error.is_none());
        let never = HostState::new("10.0.0.3".into(), Ok(IpAddr::from([10, 0, 0, 3])));
        let h = host_result(never, Duration::from_secs(3), true);
        assert_eq!(h.status, HostStatus::Interrupted);
        // Every window ended before Ctrl-C: that is a real loss.
        let mut lost = HostState::new("10.0.0.4".into(), Ok(IpAddr::from([10, 0, 0, 4])));
        lost.sent = 2;
        let h = host_result(lost, Duration::from_secs(3), true);
        assert_eq!(h.status, Verdict::Filtered);
        let j = serde_json::to_value(HostStatus::Interrupted).unwrap();
        assert_eq!(j, "interrupted");
    }

    #[test]
    fn lines_read_like_ping() {
        let r = ReplyRecord {
            seq: 1,
            bytes: 64,
            ttl: Some(64),
            rtt: Duration::from_micros(33),
            duplicate: false,
            tcp_port: None,
            refused: None,
        };
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            reply_line(a, &r),
            "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.033 ms"
        );
        assert_eq!(
            header_line("127.0.0.1", a, 56, Method::Icmp, &[]),
            "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data."
        );
        assert_eq!(fmt_percent(66.667), "66.667");
        assert_eq!(fmt_percent(100.0), "100");
    }
}
