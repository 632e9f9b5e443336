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
//! println!("{}: {} in {:?} hops", r.target, r.status, r.destination_hop);
//! ```

pub mod engine;
pub mod flow;
pub mod hops;
pub mod model;
pub mod names;
mod open;
pub mod raw;
pub mod render;
mod report;
pub mod sockets;
pub mod wire;

use std::io;
use std::time::{Duration, Instant};

use crate::explain;
use crate::target::{Family, Host, Target};

pub use model::*;
pub use report::probe_words;

use engine::{Progress, RunConfig};
use names::Names;
use open::{Open, OpenFail};
use report::{early, endpoint, result, Ctx};

/// Traces without events.
pub fn trace(req: &TraceRequest) -> Result<TraceReport, TraceError> {
    trace_with(req, &mut |_| {})
}

/// Traces, telling `on_event` which method runs and each completed round.
pub fn trace_with(
    req: &TraceRequest,
    on_event: &mut dyn FnMut(&TraceEvent),
) -> Result<TraceReport, TraceError> {
    let started = Instant::now();
    let port = req.target.port.or(req.port);
    let protocol = req.protocol.unwrap_or(if port.is_some() {
        Protocol::Tcp
    } else {
        Protocol::Icmp
    });
    let mut ctx = Ctx::new(req, protocol);
    // The first address of the family asked for, as traceroute does.
    let dst = match crate::resolve::resolve(&req.target.host, req.family) {
        Ok(addrs) => addrs[0],
        Err(e) => return Ok(early(&ctx, e, started)),
    };
    let v6 = dst.is_ipv6();
    let ip_len = if v6 {
        wire::IPV6_HEADER
    } else {
        wire::IPV4_HEADER
    };
    let asked_size = req.size.unwrap_or(if v6 { 80 } else { 60 });
    ctx.size = asked_size.max(ip_len + 8 + wire::MIN_PAYLOAD);
    let mut open = Open {
        req,
        dst,
        port,
        protocol,
        payload_len: ctx.size - ip_len - 8,
    };
    let (mut prober, plan, method, mut note) = match open.prober(req.protocol.is_none()) {
        Ok(x) => x,
        Err(OpenFail::NoRoute(e)) => {
            ctx.dst = Some(endpoint(dst, protocol, port));
            let e = explain::io_error(&e);
            return Ok(early(&ctx, e, started));
        }
        Err(OpenFail::Fatal(e)) => return Err(e),
    };
    ctx.protocol = plan.protocol;
    ctx.dst = Some(endpoint(dst, plan.protocol, Some(plan.dport)));
    ctx.method = Some(method);
    adjust(&mut ctx, &mut note, asked_size, v6);
    on_event(&TraceEvent::Started { method, note });
    let cfg = RunConfig {
        first_ttl: req.first_ttl,
        max_ttl: req.max_ttl,
        rounds: req.rounds,
        interval: req.interval,
        timeout: ctx.timeout,
        flows: ctx.flows,
        destination: dst,
        port_unreachable_arrives: plan.protocol == Protocol::Udp,
        first_seq: (plan.token >> 8) as u16,
    };
    rounds(req, &ctx, prober.as_mut(), &cfg, started, on_event)
}

/// What the method changes, said in the method's note: unprivileged TCP waits at most until the kernel would
/// resend the SYN, and a --size below the smallest probe grows to it.
fn adjust(ctx: &mut Ctx, note: &mut String, asked_size: usize, v6: bool) {
    if ctx.method == Some(Method::TcpConnect) && ctx.timeout > TCP_CONNECT_MAX_WAIT {
        ctx.timeout = TCP_CONNECT_MAX_WAIT;
        note.push_str("; each probe waits 1 s at most, when the kernel would resend the SYN");
    }
    if asked_size < ctx.size && ctx.protocol != Protocol::Tcp {
        let fam = if v6 { "IPv6" } else { "IPv4" };
        note.push_str(&format!(
            "; packets of {} bytes, the smallest probe over {fam}",
            ctx.size
        ));
    }
}

/// Runs the rounds and builds the report, looking hop names up as routers first answer.
fn rounds(
    req: &TraceRequest,
    ctx: &Ctx,
    prober: &mut dyn engine::Prober,
    cfg: &RunConfig,
    started: Instant,
    on_event: &mut dyn FnMut(&TraceEvent),
) -> Result<TraceReport, TraceError> {
    let names = Names::default();
    let progress = engine::run(prober, cfg, &mut |p| {
        if req.resolve_names {
            start_lookups(p, &names);
        }
        on_event(&TraceEvent::Round(&result(ctx, p, &names, started)));
    })
    .map_err(|e| send_error(e, ctx.size, cfg.destination))?;
    if req.resolve_names {
        start_lookups(&progress, &names);
        // Names still on their way get a little longer than a probe; then the report goes out without them.
        names.wait(Instant::now() + ctx.timeout.max(Duration::from_secs(1)));
    }
    let r = result(ctx, &progress, &names, started);
    Ok(TraceReport {
        results: vec![r],
        interrupted: progress.interrupted,
    })
}

/// A failed send as the user reads it: EMSGSIZE is a --size the interface cannot carry.
fn send_error(e: io::Error, size: usize, dst: std::net::IpAddr) -> TraceError {
    if e.raw_os_error() == Some(libc::EMSGSIZE) {
        return TraceError::Io(io::Error::new(
            e.kind(),
            format!(
                "--size {size} is more than the interface toward {dst} carries (its MTU); give a smaller --size"
            ),
        ));
    }
    TraceError::Io(e)
}

fn start_lookups(p: &Progress, names: &Names) {
    for h in &p.hops {
        for r in &h.responders {
            names.lookup(r.address);
        }
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
