//! `netdiag trace`: the path to a host hop by hop, as mtr and trippy trace it: every TTL of a round in flight
//! at once, replies matched exactly to their probe, Paris-style flows by default (one ECMP path) or classic or
//! dublin ones, per-hop loss, round trips and jitter, every router that answered, ICMP errors by name and
//! code, and RFC 4950 MPLS labels.
//!
//! Privileged (root or CAP_NET_RAW) it writes probes on raw sockets; without privilege it traces as tracepath
//! does, through ordinary sockets with a TTL per probe and the error queue ([`sockets`]), or datagram ICMP
//! where `net.ipv4.ping_group_range` allows. [`trace_with`] says which in its first event.
//!
//! ```no_run
//! use netdiag::trace::{trace, TraceRequest};
//! use netdiag::target::Target;
//!
//! let req = TraceRequest::new(Target::parse("127.0.0.1").unwrap(), "127.0.0.1");
//! let report = trace(&req).unwrap();
//! let r = &report.results[0];
//! println!("{}: {} in {:?} hops", r.target, r.state, r.destination_hop);
//! ```

pub mod engine;
pub mod flow;
pub mod hops;
pub mod names;
pub mod raw;
pub mod render;
pub mod sockets;
pub mod wire;

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::explain::{self, path, Explanation};
use crate::lookup;
use crate::net::OpenError;
use crate::target::{Family, Host, Target};

use engine::{End, Progress, RunConfig};
use flow::FlowPlan;
use hops::{HopAcc, ReplyKind};
use names::Names;
use wire::MplsLabel;

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

/// How probes keep or vary the fields ECMP routers hash (see [`flow`]).
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

/// An address and, for UDP and TCP, a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub address: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// How a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceState {
    /// The destination answered (echo reply, port unreachable to UDP, SYN-ACK or RST).
    Reached,
    /// A router (or the destination) answered with an ICMP error that ends the path: admin-prohibited,
    /// network or host unreachable, ...
    Rejected,
    /// Answers stop after some hop (or never start): something drops the probes.
    Filtered,
    /// No route from this machine.
    Unreachable,
    /// The name did not resolve.
    NotFound,
}

impl TraceState {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceState::Reached => "reached",
            TraceState::Rejected => "rejected",
            TraceState::Filtered => "filtered",
            TraceState::Unreachable => "unreachable",
            TraceState::NotFound => "not-found",
        }
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// `admin-prohibited`, `host-unreachable`, `frag-needed`, `port-unreachable`, ...
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
    pub last_ms: Option<f64>,
    pub best_ms: Option<f64>,
    pub avg_ms: Option<f64>,
    pub worst_ms: Option<f64>,
    /// Sample standard deviation of the round trips (mtr's StDev).
    pub stddev_ms: Option<f64>,
    /// |difference| between the last two round trips.
    pub jitter_ms: Option<f64>,
    pub jitter_avg_ms: Option<f64>,
    pub jitter_max_ms: Option<f64>,
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
    /// The headline: reached, rejected, filtered, unreachable, not-found.
    pub state: TraceState,
    /// The hop where the destination answered.
    pub destination_hop: Option<u8>,
    /// The last hop that answered before the end (or before the silence).
    pub last_answer: Option<HopRef>,
    /// Filtered: the first hop after the last answer (every later TTL up to max_ttl was silent too).
    pub first_silent: Option<u8>,
    /// Rejected: the router that rejected, and the hop.
    pub rejected_by: Option<HopRef>,
    pub hops: Vec<Hop>,
    /// Answers that came after their probe's deadline (not counted).
    pub late: u64,
    pub explanation: Option<Explanation>,
}

impl TraceResult {
    pub fn ok(&self) -> bool {
        self.state == TraceState::Reached
    }
}

/// The report: one result per target (one target today), `ok` when every destination was reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceReport {
    pub ok: bool,
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

/// Traces without events.
pub fn trace(req: &TraceRequest) -> Result<TraceReport, TraceError> {
    trace_with(req, &mut |_| {})
}

/// The fixed facts of one run, for building results.
struct Ctx {
    input: String,
    dst: Option<Endpoint>,
    protocol: Protocol,
    method: Option<Method>,
    ecmp: Ecmp,
    flows: u16,
    first_ttl: u8,
    max_ttl: u8,
    timeout: Duration,
    interval: Duration,
    size: usize,
}

/// Traces, telling `on_event` which method runs and each completed round.
pub fn trace_with(
    req: &TraceRequest,
    on_event: &mut dyn FnMut(&TraceEvent),
) -> Result<TraceReport, TraceError> {
    let started = Instant::now();
    let port = req.target.port.or(req.port);
    let asked = req.protocol;
    let protocol = asked.unwrap_or(if port.is_some() {
        Protocol::Tcp
    } else {
        Protocol::Icmp
    });
    let mut ctx = Ctx {
        input: req.input.clone(),
        dst: None,
        protocol,
        method: None,
        ecmp: req.ecmp,
        flows: if req.ecmp == Ecmp::Dublin {
            req.flows.max(1)
        } else {
            1
        },
        first_ttl: req.first_ttl,
        max_ttl: req.max_ttl,
        timeout: req.timeout,
        interval: req.interval,
        size: 0,
    };
    // Resolve: the first address of the family asked for, as traceroute does.
    let dst = match lookup::resolve(&req.target.host, req.family) {
        Ok(addrs) => addrs[0],
        Err(e) => return Ok(early(&ctx, TraceState::NotFound, e, started)),
    };
    let v6 = dst.is_ipv6();
    let ip_len = if v6 {
        wire::IPV6_HEADER
    } else {
        wire::IPV4_HEADER
    };
    let size = req.size.unwrap_or(if v6 { 80 } else { 60 });
    ctx.size = size.max(ip_len + 8 + wire::MIN_PAYLOAD);
    let payload_len = ctx.size - ip_len - 8;
    let mut open = Open {
        req,
        dst,
        port,
        protocol,
        payload_len,
    };
    let (mut prober, plan, method, note) = match open.prober(asked.is_none()) {
        Ok(x) => x,
        Err(OpenFail::NoRoute(e)) => {
            ctx.dst = Some(endpoint(dst, protocol, port));
            return Ok(early(
                &ctx,
                TraceState::Unreachable,
                explain::io_error(&e),
                started,
            ));
        }
        Err(OpenFail::Fatal(e)) => return Err(e),
    };
    ctx.protocol = plan.protocol;
    ctx.dst = Some(endpoint(dst, plan.protocol, Some(plan.dport)));
    ctx.method = Some(method);
    let mut timeout = req.timeout;
    let mut note = note;
    if method == Method::TcpConnect && timeout > TCP_CONNECT_MAX_WAIT {
        timeout = TCP_CONNECT_MAX_WAIT;
        note.push_str("; each probe waits 1 s at most, when the kernel would resend the SYN");
    }
    ctx.timeout = timeout;
    on_event(&TraceEvent::Started { method, note });
    let cfg = RunConfig {
        first_ttl: req.first_ttl,
        max_ttl: req.max_ttl,
        rounds: req.rounds,
        interval: req.interval,
        timeout,
        flows: ctx.flows,
        destination: dst,
        port_unreachable_arrives: plan.protocol == Protocol::Udp,
        first_seq: (plan.token >> 8) as u16,
    };
    let names = Names::default();
    let progress = engine::run(prober.as_mut(), &cfg, &mut |p| {
        if req.resolve_names {
            start_lookups(p, &names);
        }
        let r = result(&ctx, p, &names, started);
        on_event(&TraceEvent::Round(&r));
    })?;
    if req.resolve_names {
        start_lookups(&progress, &names);
        // Names still on their way get a little longer than a probe; then the report goes out without them.
        names.wait(Instant::now() + timeout.max(Duration::from_secs(1)));
    }
    let r = result(&ctx, &progress, &names, started);
    Ok(TraceReport {
        ok: r.ok() && !progress.interrupted,
        results: vec![r],
        interrupted: progress.interrupted,
    })
}

fn endpoint(address: IpAddr, protocol: Protocol, port: Option<u16>) -> Endpoint {
    Endpoint {
        address,
        port: if protocol == Protocol::Icmp {
            None
        } else {
            port
        },
    }
}

fn start_lookups(p: &Progress, names: &Names) {
    for h in &p.hops {
        for r in &h.responders {
            names.lookup(r.address);
        }
    }
}

/// A result for a trace that could not start.
fn early(ctx: &Ctx, state: TraceState, e: Explanation, started: Instant) -> TraceReport {
    let r = TraceResult {
        target: ctx.input.clone(),
        destination: ctx.dst,
        protocol: ctx.protocol,
        method: None,
        ecmp: ctx.ecmp,
        flows: ctx.flows,
        first_ttl: ctx.first_ttl,
        max_ttl: ctx.max_ttl,
        rounds: 0,
        timeout: ctx.timeout,
        interval: ctx.interval,
        elapsed: started.elapsed(),
        packet_size: ctx.size,
        state,
        destination_hop: None,
        last_answer: None,
        first_silent: None,
        rejected_by: None,
        hops: Vec::new(),
        late: 0,
        explanation: Some(e),
    };
    TraceReport {
        ok: false,
        results: vec![r],
        interrupted: false,
    }
}

enum OpenFail {
    /// No route from here (the route lookup failed): a result, not an error.
    NoRoute(io::Error),
    Fatal(TraceError),
}

impl From<io::Error> for OpenFail {
    fn from(e: io::Error) -> Self {
        OpenFail::Fatal(TraceError::Io(e))
    }
}

/// Opening the sockets for a trace.
struct Open<'a> {
    req: &'a TraceRequest,
    dst: IpAddr,
    port: Option<u16>,
    protocol: Protocol,
    payload_len: usize,
}

fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.write_u32(std::process::id());
    h.finish() as u32
}

type Opened = (Box<dyn engine::Prober>, FlowPlan, Method, String);

impl Open<'_> {
    /// The source address the kernel picks toward the target (a UDP connect sends nothing).
    fn source(&self) -> Result<IpAddr, OpenFail> {
        let s = crate::net::socket::udp_socket(self.dst.is_ipv6())?;
        let to = SocketAddr::new(self.dst, self.port.unwrap_or(UDP_PORT));
        if let Err(e) = s.connect(&to.into()) {
            return Err(
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::EADDRNOTAVAIL)
                ) {
                    OpenFail::NoRoute(e)
                } else {
                    OpenFail::Fatal(e.into())
                },
            );
        }
        let local = s.local_addr()?.as_socket().map(|a| a.ip());
        local.ok_or_else(|| OpenFail::Fatal(io::Error::other("no local address").into()))
    }

    fn plan(&self, protocol: Protocol, src: IpAddr, token: u32) -> FlowPlan {
        let flows = if self.req.ecmp == Ecmp::Dublin {
            self.req.flows.max(1)
        } else {
            1
        };
        let dport = match protocol {
            Protocol::Icmp => 0,
            Protocol::Udp => self.port.unwrap_or(UDP_PORT),
            Protocol::Tcp => self.port.unwrap_or(TCP_PORT),
        };
        FlowPlan {
            protocol,
            ecmp: self.req.ecmp,
            flows,
            src,
            dst: self.dst,
            sport: self.req.source_port.unwrap_or(0),
            dport,
            icmp_id: (token ^ (token >> 16)) as u16,
            token,
            payload_len: self.payload_len,
        }
    }

    /// Opens the sockets: raw when permitted (and not declined), else the unprivileged method of the protocol.
    /// `may_switch`: ICMP was not asked for by name, so UDP may replace it when ICMP is not permitted.
    fn prober(&mut self, may_switch: bool) -> Result<Opened, OpenFail> {
        let src = self.source()?;
        let token = random_u32();
        if !self.req.unprivileged {
            let mut plan = self.plan(self.protocol, src, token);
            let reserved = reserve_ports(&mut plan, self.req.source_port.is_some())?;
            match raw::open(plan.clone(), reserved) {
                Ok(p) => {
                    let note = format!(
                        "raw sockets: {} probes written whole, {} flow{}",
                        self.protocol,
                        plan.ecmp.as_str(),
                        if plan.flows > 1 { "s" } else { "" }
                    );
                    return Ok((Box::new(p), plan, Method::Raw, note));
                }
                Err(OpenError::NotPermitted(_)) => {}
                Err(OpenError::Other(e)) => return Err(e.into()),
            }
        }
        let why = if self.req.unprivileged {
            "unprivileged (--unprivileged)"
        } else {
            "no raw socket permission"
        };
        let mut plan = self.plan(self.protocol, src, token);
        if self.protocol == Protocol::Icmp {
            match sockets::open_dgram_icmp(plan.clone()) {
                Ok(p) => {
                    plan.icmp_id = p.ident();
                    let note = format!(
                        "{why}: ICMP echo through a datagram ICMP socket (net.ipv4.ping_group_range) and its error queue"
                    );
                    return Ok((Box::new(p), plan, Method::DatagramIcmp, note));
                }
                Err(OpenError::NotPermitted(_)) if may_switch => {
                    self.protocol = Protocol::Udp;
                    plan = self.plan(Protocol::Udp, src, token);
                }
                Err(OpenError::NotPermitted(_)) => {
                    return Err(OpenFail::Fatal(TraceError::IcmpNotPermitted))
                }
                Err(OpenError::Other(e)) => return Err(e.into()),
            }
        }
        match self.protocol {
            Protocol::Udp => {
                let switched = if may_switch && self.req.protocol.is_none() && self.port.is_none() {
                    "ICMP is not permitted here (root, CAP_NET_RAW or net.ipv4.ping_group_range), so UDP: "
                } else {
                    ""
                };
                let p = sockets::open_udp(plan.clone(), self.req.source_port.is_some())?;
                plan.sport = p.ports().first().copied().unwrap_or(plan.sport);
                let note = format!(
                    "{why}: {switched}UDP through ordinary sockets with the TTL set per probe and the error queue, as tracepath"
                );
                Ok((Box::new(p), plan, Method::UdpSockets, note))
            }
            _ => {
                let mut note =
                    format!("{why}: TCP connects with the TTL set per probe and the error queue");
                if plan.ecmp != Ecmp::Classic {
                    note.push_str(
                        "; each TTL keeps its own source port, so ECMP routers may put hops on different paths (root traces one flow)",
                    );
                }
                let p = sockets::open_tcp(plan.clone());
                Ok((Box::new(p), plan, Method::TcpConnect, note))
            }
        }
    }
}

/// Binds ordinary sockets to the source ports a raw trace uses, so no other program gets them meanwhile, and
/// records the first in the plan. Paris: one port; dublin: one per flow, consecutive; classic TCP cycles over
/// many ports and reserves none (as traceroute -T).
fn reserve_ports(plan: &mut FlowPlan, fixed: bool) -> Result<Vec<socket2::Socket>, OpenFail> {
    let v6 = plan.dst.is_ipv6();
    let mk = |port: u16| -> io::Result<socket2::Socket> {
        let s = match plan.protocol {
            Protocol::Tcp => crate::net::socket::tcp_socket(v6)?,
            _ => crate::net::socket::udp_socket(v6)?,
        };
        s.bind(&SocketAddr::new(plan.src, port).into())?;
        Ok(s)
    };
    match (plan.protocol, plan.ecmp) {
        (Protocol::Icmp, _) => Ok(Vec::new()),
        (Protocol::Tcp, Ecmp::Classic) => {
            if !fixed {
                plan.sport = 32768 + (plan.token % 27_000) as u16;
            }
            Ok(Vec::new())
        }
        _ => {
            let n = plan.flows.max(1);
            // A few tries for a run of free consecutive ports.
            for _ in 0..16 {
                let first = mk(if fixed { plan.sport } else { 0 })?;
                let base = crate::net::socket::local_port(&first).unwrap_or(plan.sport);
                let mut held = vec![first];
                for i in 1..n {
                    match mk(base.wrapping_add(i)) {
                        Ok(s) => held.push(s),
                        Err(_) => break,
                    }
                }
                if held.len() == usize::from(n) {
                    plan.sport = base;
                    return Ok(held);
                }
                if fixed {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!(
                            "source ports {base}-{} are not all free",
                            base.wrapping_add(n - 1)
                        ),
                    )
                    .into());
                }
            }
            Err(io::Error::new(io::ErrorKind::AddrInUse, "no run of free source ports").into())
        }
    }
}

/// How the probe reads in a sentence: "SYN to 10.0.3.2:443", "UDP to [fd00::2]:33434", "ICMP echo to 10.0.3.2".
pub fn probe_words(protocol: Protocol, dst: &Endpoint) -> String {
    let at = match dst.port {
        Some(p) => SocketAddr::new(dst.address, p).to_string(),
        None => dst.address.to_string(),
    };
    match protocol {
        Protocol::Tcp => format!("SYN to {at}"),
        Protocol::Udp => format!("UDP to {at}"),
        Protocol::Icmp => format!("ICMP echo to {at}"),
    }
}

/// What a firewall rule would have to allow, for fixes: "tcp port 443", "udp port 33434", "ICMP echo".
fn what_words(protocol: Protocol, port: Option<u16>) -> String {
    match (protocol, port) {
        (Protocol::Icmp, _) | (_, None) => "ICMP echo".into(),
        (p, Some(port)) => format!("{p} port {port}"),
    }
}

fn hop_of(acc: &HopAcc, ttl: u8, state: HopState, names: &Names) -> Hop {
    let s = acc.stats();
    Hop {
        hop: ttl,
        state,
        sent: acc.sent,
        received: acc.received,
        loss_percent: acc.loss_percent(),
        last_ms: s.last_ms,
        best_ms: s.best_ms,
        avg_ms: s.avg_ms,
        worst_ms: s.worst_ms,
        stddev_ms: s.stddev_ms,
        jitter_ms: s.jitter_ms,
        jitter_avg_ms: s.jitter_avg_ms,
        jitter_max_ms: s.jitter_max_ms,
        responders: acc
            .responders
            .iter()
            .map(|r| Responder {
                address: r.address,
                name: names.get(&r.address),
                received: r.received,
                mpls: r.mpls.clone(),
            })
            .collect(),
        icmp: acc
            .notes
            .iter()
            .map(|n| IcmpNote {
                from: n.from,
                name: path::icmp_code(n.v6, n.icmp_type, n.code).name,
                icmp_type: n.icmp_type,
                code: n.code,
                mtu: n.mtu,
                count: n.count,
            })
            .collect(),
        note: None,
    }
}

/// The result so far from the engine's progress.
fn result(ctx: &Ctx, p: &Progress, names: &Names, started: Instant) -> TraceResult {
    let last = p.last_ttl(ctx.first_ttl, ctx.max_ttl);
    let mut hops: Vec<Hop> = (ctx.first_ttl..=last)
        .map(|ttl| {
            let acc = &p.hops[usize::from(ttl) - 1];
            let state = match p.end {
                Some(End::Reached { ttl: t }) if t == ttl => HopState::Destination,
                Some(End::Rejected { ttl: t, .. }) if t == ttl => HopState::Rejected,
                _ if acc.received > 0 => HopState::Answered,
                _ => HopState::Silent,
            };
            hop_of(acc, ttl, state, names)
        })
        .collect();
    annotate(&mut hops, p.end.is_some());
    let last_answer = hops
        .iter()
        .rfind(|h| h.received > 0 && h.state == HopState::Answered)
        .and_then(|h| {
            h.responders.first().map(|r| HopRef {
                hop: h.hop,
                address: r.address,
            })
        });
    let dst = ctx.dst.unwrap_or(Endpoint {
        address: IpAddr::from([0, 0, 0, 0]),
        port: None,
    });
    let probe = probe_words(ctx.protocol, &dst);
    let what = what_words(ctx.protocol, dst.port);
    let (state, rejected_by, first_silent, explanation) = match p.end {
        Some(End::Reached { .. }) => (TraceState::Reached, None, None, None),
        Some(End::Rejected { ttl, from, kind }) => {
            let ReplyKind::Error {
                v6,
                icmp_type,
                code,
            } = kind
            else {
                unreachable!("only ICMP errors reject")
            };
            let mtu = p.hops[usize::from(ttl) - 1]
                .notes
                .iter()
                .find_map(|n| n.mtu);
            let e = path::rejected(
                &probe,
                from,
                ttl,
                from == dst.address,
                (v6, icmp_type, code),
                mtu,
                &what,
            );
            (
                TraceState::Rejected,
                Some(HopRef {
                    hop: ttl,
                    address: from,
                }),
                None,
                Some(e),
            )
        }
        None => {
            let passed: Vec<IpAddr> = hops
                .iter()
                .filter(|h| h.state == HopState::Answered)
                .filter_map(|h| h.responders.first().map(|r| r.address))
                .collect();
            let hint = (ctx.protocol != Protocol::Icmp)
                .then(|| format!("netdiag trace --proto icmp {}", dst.address));
            let last_hop = last_answer.map_or(0, |h| h.hop);
            let e = path::silent_after(&probe, &passed, last_hop, &what, hint.as_deref());
            let first_silent = match last_answer {
                None => Some(ctx.first_ttl),
                Some(h) => (h.hop < ctx.max_ttl).then_some(h.hop + 1),
            };
            (TraceState::Filtered, None, first_silent, Some(e))
        }
    };
    TraceResult {
        target: ctx.input.clone(),
        destination: ctx.dst,
        protocol: ctx.protocol,
        method: ctx.method,
        ecmp: ctx.ecmp,
        flows: ctx.flows,
        first_ttl: ctx.first_ttl,
        max_ttl: ctx.max_ttl,
        rounds: p.rounds_done,
        timeout: ctx.timeout,
        interval: ctx.interval,
        elapsed: started.elapsed(),
        packet_size: ctx.size,
        state,
        destination_hop: match p.end {
            Some(End::Reached { ttl }) => Some(ttl),
            _ => None,
        },
        last_answer,
        first_silent,
        rejected_by,
        hops,
        late: p.late,
        explanation,
    }
}

/// Notes for hops whose silence or loss is not the path's: a silent hop with answers after it, and loss at a
/// hop that later hops do not share (its ICMP rate limit).
fn annotate(hops: &mut [Hop], ended: bool) {
    let n = hops.len();
    for i in 0..n {
        let later_ok = hops[i + 1..].iter().any(|h| h.received > 0);
        let later_loss = hops[i + 1..]
            .iter()
            .filter(|h| h.received > 0)
            .map(|h| h.loss_percent)
            .fold(f64::INFINITY, f64::min);
        let h = &mut hops[i];
        if h.state == HopState::Silent && (later_ok || ended) && i + 1 < n {
            h.note = Some(path::silent_hop(h.hop));
        } else if h.state == HopState::Answered
            && h.loss_percent > 0.0
            && later_ok
            && later_loss < h.loss_percent
        {
            h.note = Some(path::loss_not_forwarded(h.hop, h.loss_percent - later_loss));
        }
    }
}

impl TraceReport {
    /// The first result (a trace has one target).
    pub fn result(&self) -> Option<&TraceResult> {
        self.results.first()
    }
}

/// A trace request as `diagnose` runs it: TCP to the port, the shared defaults otherwise.
pub fn tcp_request(host: Host, port: u16, family: Family, timeout: Duration) -> TraceRequest {
    let input = Target {
        host: host.clone(),
        port: Some(port),
    }
    .to_string();
    let mut req = TraceRequest::new(
        Target {
            host,
            port: Some(port),
        },
        &input,
    );
    req.protocol = Some(Protocol::Tcp);
    req.family = family;
    req.timeout = timeout;
    req.resolve_names = false;
    req
}
