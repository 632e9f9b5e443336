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
mod model;
pub mod render;
pub mod resolv;
pub mod trace;
mod transport;

use std::time::Instant;

use crate::explain::{self, Explanation};
pub use message::{ExtendedError, QueryFlags, Question, Response, Rr};
pub use model::*;

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
