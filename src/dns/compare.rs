//! `--all-servers`: the same question to every nameserver at once, side by side with what the system
//! resolver returns and what /etc/hosts says; agreements, differences and dead or slow servers named.
//!
//! Every server runs on its own thread under the same per-server timeout, so the whole comparison takes about
//! one timeout, not the sum of them.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde::Serialize;

use super::{exchange, Endpoint, Exchange, QueryOptions, Question, Server, Status};
use crate::explain::{self, Explanation};
use crate::target::{Family, Host};

/// Servers that said the same thing: (status, sorted answers) and who said it.
type Group = ((&'static str, Vec<String>), Vec<String>);

/// What to compare.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    pub questions: Vec<Question>,
    /// The nameservers (resolv.conf's, and any given with @SERVER).
    pub servers: Vec<Server>,
    pub options: QueryOptions,
    /// Add the system resolver's (getaddrinfo) and /etc/hosts' rows.
    pub system: bool,
}

/// One source of answers.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRow {
    /// `10.0.0.53`, `system resolver`, `/etc/hosts`.
    pub source: String,
    /// `nameserver`, `system` or `hosts`.
    pub kind: &'static str,
    pub server: Option<Endpoint>,
    /// A status word (`ok`, `nxdomain`, `timeout`, `closed`, ..., `override` and `not-listed` for /etc/hosts).
    pub status: &'static str,
    pub rcode: Option<String>,
    /// The answer data of the type asked, sorted.
    pub answers: Vec<String>,
    #[serde(rename = "time_ms", serialize_with = "crate::duration::ser_opt_ms")]
    pub time: Option<Duration>,
    pub explanation: Option<Explanation>,
}

/// One question compared across the sources.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub question: Question,
    /// Every nameserver answered as asked and they agree.
    pub ok: bool,
    /// The nameservers that answered gave the same answer.
    pub agree: bool,
    pub summary: String,
    pub servers: Vec<SourceRow>,
    /// Disagreements and /etc/hosts overrides, explained.
    pub findings: Vec<Explanation>,
}

/// Every comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    /// The document's top-level `ok`.
    #[serde(skip)]
    pub ok: bool,
    pub results: Vec<Comparison>,
}

/// Compares every question across every source.
pub fn compare(req: &CompareRequest) -> CompareReport {
    let results: Vec<Comparison> = req.questions.iter().map(|q| one(req, q)).collect();
    CompareReport {
        ok: results.iter().all(|c| c.ok),
        results,
    }
}

fn one(req: &CompareRequest, q: &Question) -> Comparison {
    let family = match q.rtype {
        RecordType::A => Some(Family::V4),
        RecordType::AAAA => Some(Family::V6),
        _ => None,
    };
    let (exchanges, system) = ask_all(req, q, family);
    let mut rows: Vec<SourceRow> = exchanges.iter().map(server_row).collect();
    let mut findings = Vec::new();
    let groups = group(&rows);
    let agree = groups.len() <= 1;
    if !agree {
        findings.push(disagreement(q, &groups));
    }
    let dns_answers: Option<Vec<String>> = groups.first().map(|((_, a), _)| a.clone());
    if let Some(sys) = system {
        rows.push(sys);
    }
    if req.system {
        let (row, finding) = hosts_row(q, family, dns_answers.as_deref());
        findings.extend(finding);
        rows.push(row);
    }
    let failed: Vec<&Exchange> = exchanges.iter().filter(|e| !e.ok()).collect();
    let ok = failed.is_empty() && agree && !exchanges.is_empty();
    let summary = summary(&exchanges, &failed, agree, &groups);
    Comparison {
        question: q.clone(),
        ok,
        agree,
        summary,
        servers: rows,
        findings,
    }
}

/// Asks every nameserver at once, each on its own thread, and the system resolver beside them when asked.
fn ask_all(
    req: &CompareRequest,
    q: &Question,
    family: Option<Family>,
) -> (Vec<Exchange>, Option<SourceRow>) {
    std::thread::scope(|s| {
        let hs: Vec<_> = req
            .servers
            .iter()
            .map(|srv| s.spawn(move || exchange(srv, q, &req.options)))
            .collect();
        let sys = (req.system).then(|| s.spawn(move || system_row(q, family, req.options.timeout)));
        let ex: Vec<Exchange> = hs
            .into_iter()
            .zip(&req.servers)
            .map(|(h, srv)| {
                h.join().unwrap_or_else(|_| {
                    super::exchange_failed(q, &srv.label(), explain::errno(libc::EIO))
                })
            })
            .collect();
        (ex, sys.and_then(|h| h.join().ok()))
    })
}

/// The servers that answered, grouped by what they said, in the order the groups were first seen.
fn group(rows: &[SourceRow]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for r in rows
        .iter()
        .filter(|r| matches!(r.status, "ok" | "nodata" | "nxdomain"))
    {
        let key = (r.status, r.answers.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, who)) => who.push(r.source.clone()),
            None => groups.push((key, vec![r.source.clone()])),
        }
    }
    groups
}

/// The finding for servers that disagree: who said what.
fn disagreement(q: &Question, groups: &[Group]) -> Explanation {
    let described: Vec<(String, String)> = groups
        .iter()
        .map(|((status, answers), who)| {
            let what = if answers.is_empty() {
                status.to_string()
            } else {
                answers.join(", ")
            };
            (who.join(", "), what)
        })
        .collect();
    explain::dns::disagree(&q.name.to_ascii(), &described)
}

/// What /etc/hosts says for the name (addresses of the family asked), and a finding when it overrides DNS.
fn hosts_row(
    q: &Question,
    family: Option<Family>,
    dns_answers: Option<&[String]>,
) -> (SourceRow, Option<Explanation>) {
    let hosts: Vec<IpAddr> = super::resolv::hosts_addresses(&q.name.to_ascii())
        .into_iter()
        .filter(|ip| family.is_some_and(|f| f.matches(ip)))
        .collect();
    let hosts_txt: Vec<String> = hosts.iter().map(IpAddr::to_string).collect();
    let finding = (!hosts.is_empty())
        .then(|| explain::dns::hosts_override(&q.name.to_ascii(), &hosts_txt, dns_answers));
    let row = SourceRow {
        source: super::resolv::HOSTS.into(),
        kind: "hosts",
        server: None,
        status: if hosts.is_empty() {
            "not-listed"
        } else {
            "override"
        },
        rcode: None,
        answers: hosts_txt,
        time: None,
        explanation: None,
    };
    (row, finding)
}

fn summary(all: &[Exchange], failed: &[&Exchange], agree: bool, groups: &[Group]) -> String {
    if all.is_empty() {
        return "no nameserver to ask".into();
    }
    let n = all.len();
    let answered = groups.iter().map(|(_, who)| who.len()).sum::<usize>();
    let what = groups.first().map_or_else(String::new, |((status, a), _)| {
        if a.is_empty() {
            status.to_string()
        } else {
            a.join(", ")
        }
    });
    let mut s = if !agree {
        format!("{answered} of {n} nameservers answered and they disagree")
    } else if answered == n {
        format!("all {n} nameservers agree: {what}")
    } else if answered > 0 {
        format!("{answered} of {n} nameservers answered and agree: {what}")
    } else {
        format!("none of the {n} nameservers answered")
    };
    let bad: Vec<String> = failed
        .iter()
        .filter(|e| !matches!(e.status, Status::Nxdomain | Status::Nodata) || !agree)
        .map(|e| format!("{} {}", e.server_label, e.status))
        .collect();
    if !bad.is_empty() {
        s.push_str(&format!("; failed: {}", bad.join(", ")));
    }
    s
}

fn server_row(e: &Exchange) -> SourceRow {
    let mut answers: Vec<String> = e.answers().into_iter().map(str::to_string).collect();
    answers.sort();
    SourceRow {
        source: e.server_label.clone(),
        kind: "nameserver",
        server: e.server,
        status: e.status.as_str(),
        rcode: e.response.as_ref().map(|r| r.rcode.clone()),
        answers,
        time: e.timings.request.or(Some(e.timings.total)),
        explanation: e.explanation.clone(),
    }
}

/// What getaddrinfo gives for the name (addresses only, so only for A and AAAA), under the timeout.
fn system_row(q: &Question, family: Option<Family>, timeout: Duration) -> SourceRow {
    let mut row = SourceRow {
        source: "system resolver".into(),
        kind: "system",
        server: None,
        status: "-",
        rcode: None,
        answers: Vec::new(),
        time: None,
        explanation: None,
    };
    let Some(family) = family else {
        row.answers
            .push("(the system resolver gives addresses only: A and AAAA)".into());
        return row;
    };
    let name = q.name.to_ascii();
    let host = Host::Name(name.trim_end_matches('.').to_string());
    let start = Instant::now();
    let r = crate::resolve::resolve_within(&host, family, start + timeout, timeout);
    row.time = Some(start.elapsed());
    match r {
        Ok(addrs) => {
            row.status = "ok";
            let mut a: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
            a.sort();
            row.answers = a;
        }
        Err(e) => {
            row.status = match e.verdict {
                explain::Verdict::NotFound => "not-found",
                _ => "error",
            };
            row.explanation = Some(e);
        }
    }
    row
}
