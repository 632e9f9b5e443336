//! `--trace`: iterate from the root hints (or `--root ADDR`, a private root) down the delegations to the
//! answer, one row per server asked, as `dig +trace` does. Queries go without RD; glue from the additional
//! section gives the next servers, and a glueless delegation is resolved by a nested trace (bounded).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

use super::{exchange, Endpoint, Exchange, Protocol, QueryOptions, Question, Rr, Server, Status};
use crate::explain::{self, Explanation};
use crate::target::{Family, Host};

/// The most referrals followed before calling it a loop.
const MAX_STEPS: usize = 30;
/// The most servers of one zone asked before giving up on it.
const MAX_SERVERS_PER_ZONE: usize = 4;
/// How deep nested traces (for glueless delegations) go.
const MAX_DEPTH: usize = 2;

/// The root servers (IANA's root hints, named.root).
pub const ROOT_HINTS: [(&str, &str, &str); 13] = [
    ("a.root-servers.net.", "198.41.0.4", "2001:503:ba3e::2:30"),
    ("b.root-servers.net.", "170.247.170.2", "2801:1b8:10::b"),
    ("c.root-servers.net.", "192.33.4.12", "2001:500:2::c"),
    ("d.root-servers.net.", "199.7.91.13", "2001:500:2d::d"),
    ("e.root-servers.net.", "192.203.230.10", "2001:500:a8::e"),
    ("f.root-servers.net.", "192.5.5.241", "2001:500:2f::f"),
    ("g.root-servers.net.", "192.112.36.4", "2001:500:12::d0d"),
    ("h.root-servers.net.", "198.97.190.53", "2001:500:1::53"),
    ("i.root-servers.net.", "192.36.148.17", "2001:7fe::53"),
    ("j.root-servers.net.", "192.58.128.30", "2001:503:c27::2:30"),
    ("k.root-servers.net.", "193.0.14.129", "2001:7fd::1"),
    ("l.root-servers.net.", "199.7.83.42", "2001:500:9f::42"),
    ("m.root-servers.net.", "202.12.27.33", "2001:dc3::35"),
];

/// What to trace.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    pub questions: Vec<Question>,
    /// Private roots (`--root`); empty means the root hints.
    pub roots: Vec<SocketAddr>,
    /// Per query: the timeout, EDNS, DNSSEC flags (RD is turned off).
    pub options: QueryOptions,
}

/// One server asked.
#[derive(Debug, Clone, Serialize)]
pub struct TraceStep {
    pub step: usize,
    /// The zone the server was asked as a server of.
    pub zone: String,
    /// `ns.example.test. (192.0.2.53)`, or the address alone for a private root.
    pub server_label: String,
    /// The address asked.
    pub server: Endpoint,
    pub status: Status,
    /// `referral to test. (ns.nic.test.)`, `answer: 1 record`, `NXDOMAIN`, or the failure.
    pub result: String,
    /// The nameservers of the next zone, for a referral.
    pub referral: Vec<String>,
    /// The answer records, on the last step.
    pub records: Vec<Rr>,
    #[serde(rename = "time_ms", serialize_with = "crate::duration::ser_opt_ms")]
    pub time: Option<Duration>,
    pub explanation: Option<Explanation>,
}

/// The trace of one question.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub question: Question,
    pub ok: bool,
    pub status: Status,
    pub steps: Vec<TraceStep>,
    pub explanation: Option<Explanation>,
}

/// Every trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    /// The document's top-level `ok`.
    #[serde(skip)]
    pub ok: bool,
    pub results: Vec<Trace>,
}

/// Traces every question.
pub fn trace(req: &TraceRequest) -> TraceReport {
    let mut opts = req.options.clone();
    opts.flags.recurse = false;
    let roots: Vec<(Option<String>, SocketAddr)> = if req.roots.is_empty() {
        hints(opts.family)
    } else {
        req.roots.iter().map(|a| (None, *a)).collect()
    };
    let results: Vec<Trace> = req
        .questions
        .iter()
        .map(|q| {
            let mut steps = Vec::new();
            let (status, explanation) = iterate(q, &roots, &opts, &mut steps, 0);
            Trace {
                question: q.clone(),
                ok: status == Status::Ok,
                status,
                steps,
                explanation,
            }
        })
        .collect();
    TraceReport {
        ok: results.iter().all(|t| t.ok),
        results,
    }
}

/// The root hints in the family asked, starting at a random one (as resolvers spread their load).
fn hints(family: Family) -> Vec<(Option<String>, SocketAddr)> {
    let mut v: Vec<(Option<String>, SocketAddr)> = Vec::new();
    for (name, v4, v6) in ROOT_HINTS {
        for a in [v4, v6] {
            if let Ok(ip) = a.parse::<IpAddr>() {
                if family.matches(&ip) {
                    v.push((Some(name.to_string()), SocketAddr::new(ip, 53)));
                }
            }
        }
    }
    let start = usize::from(
        super::message::build_query(
            &Question::new(Name::root(), RecordType::NS),
            &Default::default(),
        )
        .0,
    ) % v.len().max(1);
    v.rotate_left(start);
    v
}

/// Follows referrals from `servers` (the root's) to the answer. Returns the final status and, on failure,
/// why; every server asked is a step.
fn iterate(
    q: &Question,
    roots: &[(Option<String>, SocketAddr)],
    opts: &QueryOptions,
    steps: &mut Vec<TraceStep>,
    depth: usize,
) -> (Status, Option<Explanation>) {
    let mut zone = Name::root();
    let mut servers = roots.to_vec();
    for _ in 0..MAX_STEPS {
        let mut answered: Option<(Exchange, String)> = None;
        let mut last_err = None;
        for (name, addr) in servers.iter().take(MAX_SERVERS_PER_ZONE) {
            if crate::interrupt::requested() {
                return (Status::Interrupted, None);
            }
            let mut srv = Server::new(addr.ip(), Protocol::Udp);
            srv.port = addr.port();
            let ex = exchange(&srv, q, opts);
            let label = match name {
                Some(n) => format!("{n} ({})", addr.ip()),
                None => ex.server_label.clone(),
            };
            if ex.status.answered() && !matches!(ex.status, Status::Servfail | Status::Refused) {
                answered = Some((ex, label));
                break;
            }
            steps.push(step(steps.len() + 1, &zone, &label, &ex, String::new()));
            last_err = ex.explanation.clone();
        }
        let Some((ex, label)) = answered else {
            let status = steps.last().map_or(Status::Error, |s| s.status);
            return (status, last_err);
        };
        let Some(resp) = &ex.response else {
            return (Status::Error, ex.explanation);
        };
        if ex.status != Status::Referral {
            let records = resp.answer.clone();
            let mut s = step(steps.len() + 1, &zone, &label, &ex, String::new());
            s.records = records;
            steps.push(s);
            return (ex.status, ex.explanation);
        }
        // A referral: the NS set of a zone below the current one, on the way to the name.
        let ns: Vec<&Rr> = resp.authority.iter().filter(|r| r.rtype == "NS").collect();
        let child = ns
            .first()
            .and_then(|r| Name::from_ascii(&r.name).ok())
            .unwrap_or_else(Name::root);
        let names: Vec<String> = ns.iter().map(|r| r.data.clone()).collect();
        let below = zone.zone_of(&child) && child.num_labels() > zone.num_labels();
        if !below || !child.zone_of(&q.name) {
            let e = explain::dns::trace_bad_referral(&label, &zone.to_ascii(), &child.to_ascii());
            let mut s = step(steps.len() + 1, &zone, &label, &ex, String::new());
            s.status = Status::BadResponse;
            s.result = format!("bad referral to {}", child.to_ascii());
            s.explanation = Some(e.clone());
            steps.push(s);
            return (Status::BadResponse, Some(e));
        }
        let mut s = step(
            steps.len() + 1,
            &zone,
            &label,
            &ex,
            format!("referral to {} ({})", child.to_ascii(), names.join(", ")),
        );
        s.referral = names.clone();
        steps.push(s);
        let mut next = glue(resp, &names, opts.family);
        if next.is_empty() && depth < MAX_DEPTH {
            next = resolve_glueless(&names, roots, opts, steps, depth);
        }
        if next.is_empty() {
            return (
                Status::Error,
                Some(explain::dns::trace_no_address(&child.to_ascii(), &names)),
            );
        }
        zone = child;
        servers = next;
    }
    (Status::Error, Some(explain::dns::trace_too_long(MAX_STEPS)))
}

fn step(n: usize, zone: &Name, label: &str, ex: &Exchange, result: String) -> TraceStep {
    let result = if !result.is_empty() {
        result
    } else {
        match (&ex.response, ex.status) {
            (Some(r), Status::Ok) => format!(
                "answer: {} record{}{}",
                r.answer.len(),
                if r.answer.len() == 1 { "" } else { "s" },
                if r.flag("aa") { " (authoritative)" } else { "" }
            ),
            (Some(r), _) => format!("{} ({})", r.rcode, ex.status),
            (None, s) => ex
                .explanation
                .as_ref()
                .map_or_else(|| s.to_string(), |e| format!("{s}: {}", e.cause)),
        }
    };
    TraceStep {
        step: n,
        zone: zone.to_ascii(),
        server_label: label.to_string(),
        server: ex.server.unwrap_or(Endpoint {
            address: IpAddr::from([0, 0, 0, 0]),
            port: 0,
        }),
        status: ex.status,
        result,
        referral: Vec::new(),
        records: Vec::new(),
        time: ex.timings.request,
        explanation: ex.explanation.clone(),
    }
}

/// Addresses of the named servers from the additional section.
fn glue(
    r: &super::Response,
    names: &[String],
    family: Family,
) -> Vec<(Option<String>, SocketAddr)> {
    let mut out = Vec::new();
    for n in names {
        for rr in r
            .additional
            .iter()
            .filter(|rr| rr.name.eq_ignore_ascii_case(n))
        {
            if !matches!(rr.rtype.as_str(), "A" | "AAAA") {
                continue;
            }
            if let Ok(ip) = rr.data.parse::<IpAddr>() {
                if family.matches(&ip) {
                    out.push((Some(n.clone()), SocketAddr::new(ip, 53)));
                }
            }
        }
    }
    out
}

/// A glueless delegation: find the nameservers' addresses by tracing them from the root too.
fn resolve_glueless(
    names: &[String],
    roots: &[(Option<String>, SocketAddr)],
    opts: &QueryOptions,
    steps: &mut Vec<TraceStep>,
    depth: usize,
) -> Vec<(Option<String>, SocketAddr)> {
    for n in names.iter().take(2) {
        let Ok(name) = Name::from_ascii(n) else {
            continue;
        };
        let rtype = if opts.family == Family::V6 {
            RecordType::AAAA
        } else {
            RecordType::A
        };
        let mut sub = Vec::new();
        let (status, _) = iterate(
            &Question::new(name, rtype),
            roots,
            opts,
            &mut sub,
            depth + 1,
        );
        let found: Vec<(Option<String>, SocketAddr)> = sub
            .last()
            .filter(|_| status == Status::Ok)
            .map(|s| {
                s.records
                    .iter()
                    .filter_map(|rr| rr.data.parse::<IpAddr>().ok())
                    .map(|ip| (Some(n.clone()), SocketAddr::new(ip, 53)))
                    .collect()
            })
            .unwrap_or_default();
        for mut s in sub {
            s.step = steps.len() + 1;
            s.result = format!("(address of {n}) {}", s.result);
            steps.push(s);
        }
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// Parses `--root ADDR[:PORT]`.
pub fn parse_root(s: &str) -> Result<SocketAddr, crate::target::InputError> {
    let t = crate::target::Target::parse(s).map_err(|e| {
        crate::target::InputError(format!(
            "invalid --root '{}': {}; expected an address such as 192.0.2.1 or [2001:db8::1]:5353",
            crate::target::shown(s),
            e.0.split(';').next().unwrap_or("")
        ))
    })?;
    match t.host {
        Host::Ip(ip) => Ok(SocketAddr::new(ip, t.port.unwrap_or(53))),
        Host::Name(_) => Err(crate::target::InputError(format!(
            "invalid --root '{}': give the root server's address, not a name (there is no resolver to ask yet)",
            crate::target::shown(s)
        ))),
    }
}
