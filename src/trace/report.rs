//! From the engine's progress to the report: hops with their state, routers and names, the notes that say
//! what silence or loss means, and the verdict with its explanation from the one table.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::explain::{self, icmp::Message, path, Explanation, Verdict};

use super::engine::{End, Progress};
use super::hops::{HopAcc, ReplyKind};
use super::model::{Ecmp, Endpoint, Hop, HopRef, HopState, IcmpNote, Method, Protocol, Responder};
use super::model::{TraceReport, TraceRequest, TraceResult};
use super::names::Names;

/// The fixed facts of one run, for building results.
pub(super) struct Ctx {
    pub(super) input: String,
    pub(super) dst: Option<Endpoint>,
    pub(super) protocol: Protocol,
    pub(super) method: Option<Method>,
    pub(super) ecmp: Ecmp,
    pub(super) flows: u16,
    pub(super) first_ttl: u8,
    pub(super) max_ttl: u8,
    pub(super) timeout: Duration,
    pub(super) interval: Duration,
    pub(super) size: usize,
}

impl Ctx {
    /// The facts a request fixes before anything is resolved or opened.
    pub(super) fn new(req: &TraceRequest, protocol: Protocol) -> Ctx {
        Ctx {
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
        }
    }
}

pub(super) fn endpoint(address: IpAddr, protocol: Protocol, port: Option<u16>) -> Endpoint {
    Endpoint {
        address,
        port: if protocol == Protocol::Icmp {
            None
        } else {
            port
        },
    }
}

/// A result for a trace that could not start.
pub(super) fn early(ctx: &Ctx, e: Explanation, started: Instant) -> TraceReport {
    let r = TraceResult {
        target: ctx.input.clone(),
        ok: false,
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
        status: e.verdict,
        destination_hop: None,
        last_answer: None,
        first_silent: None,
        rejected_by: None,
        hops: Vec::new(),
        late: 0,
        explanation: Some(e),
    };
    TraceReport {
        results: vec![r],
        interrupted: false,
    }
}

/// How the probe reads in a sentence: `SYN to 10.0.3.2:443`, `UDP to [fd00::2]:33434`, `ICMP echo to 10.0.3.2`.
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
    Hop {
        hop: ttl,
        state,
        sent: acc.sent,
        received: acc.received,
        loss_percent: acc.loss_percent(),
        stats: acc.stats(),
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
                name: message(n.v6, n.icmp_type, n.code).name(),
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
pub(super) fn result(ctx: &Ctx, p: &Progress, names: &Names, started: Instant) -> TraceResult {
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
    let v = verdict(ctx, p, &hops, last_answer);
    TraceResult {
        target: ctx.input.clone(),
        ok: v.status == Verdict::Ok,
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
        status: v.status,
        destination_hop: match p.end {
            Some(End::Reached { ttl }) => Some(ttl),
            _ => None,
        },
        last_answer,
        first_silent: v.first_silent,
        rejected_by: v.rejected_by,
        hops,
        late: p.late,
        explanation: v.explanation,
    }
}

/// How the trace ended, in the report's terms.
struct Ending {
    status: Verdict,
    rejected_by: Option<HopRef>,
    first_silent: Option<u8>,
    explanation: Option<Explanation>,
}

/// The state and its explanation: reached, rejected by a router, out of TTLs, or silent after some hop.
fn verdict(ctx: &Ctx, p: &Progress, hops: &[Hop], last_answer: Option<HopRef>) -> Ending {
    let dst = ctx.dst.unwrap_or(Endpoint {
        address: IpAddr::from([0, 0, 0, 0]),
        port: None,
    });
    let probe = probe_words(ctx.protocol, &dst);
    let what = what_words(ctx.protocol, dst.port);
    let (e, rejected_by, first_silent) = match p.end {
        Some(End::Reached { .. }) => {
            return Ending {
                status: Verdict::Ok,
                rejected_by: None,
                first_silent: None,
                explanation: None,
            }
        }
        Some(End::Rejected { ttl, from, kind }) => {
            // The engine ends on ICMP errors only; their type and code are in the kind.
            let msg = match kind {
                ReplyKind::Error {
                    v6,
                    icmp_type,
                    code,
                } => message(v6, icmp_type, code),
                _ => message(from.is_ipv6(), 0, 0),
            };
            let mtu = p.hops[usize::from(ttl) - 1]
                .notes
                .iter()
                .find_map(|n| n.mtu);
            let by_destination = from == dst.address;
            let e = path::rejected(&probe, from, ttl, by_destination, msg, mtu, &what);
            let by = HopRef {
                hop: ttl,
                address: from,
            };
            (e, Some(by), None)
        }
        None if p.interrupted => (explain::interrupted("the destination answered"), None, None),
        None => {
            let first_silent = match last_answer {
                None => Some(ctx.first_ttl),
                Some(h) => (h.hop < ctx.max_ttl).then_some(h.hop + 1),
            };
            let e = silent(ctx, &dst, hops, last_answer, &probe, &what);
            (e, None, first_silent)
        }
    };
    Ending {
        status: e.verdict,
        rejected_by,
        first_silent,
        explanation: Some(e),
    }
}

/// Answers stop after `last_answer` (or never start): where, in the explanation table's words.
fn silent(
    ctx: &Ctx,
    dst: &Endpoint,
    hops: &[Hop],
    last_answer: Option<HopRef>,
    probe: &str,
    what: &str,
) -> Explanation {
    let passed: Vec<IpAddr> = hops
        .iter()
        .filter(|h| h.state == HopState::Answered)
        .filter_map(|h| h.responders.first().map(|r| r.address))
        .collect();
    let hint = (ctx.protocol != Protocol::Icmp)
        .then(|| format!("netdiag trace --proto icmp {}", dst.address));
    match last_answer {
        Some(h) if h.hop >= ctx.max_ttl => path::beyond_max_ttl(probe, ctx.max_ttl, h.address),
        Some(h) => path::silent_after(probe, &passed, h.hop, what, hint.as_deref()),
        None => path::silent_after(probe, &[], 0, what, hint.as_deref()),
    }
}

fn message(v6: bool, icmp_type: u8, code: u8) -> Message {
    if v6 {
        Message::v6(icmp_type, code)
    } else {
        Message::v4(icmp_type, code)
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
