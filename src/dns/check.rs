//! DNS as `diagnose` checks it: the system resolver under a deadline, and when it fails, is slow or is
//! shadowed by /etc/hosts, each configured nameserver asked directly so the cause is named precisely
//! (NXDOMAIN and the zone that said so, NODATA, SERVFAIL with its extended error, REFUSED, timeout, port
//! unreachable or no route to a named nameserver, no nameserver configured).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use super::{exchange, input, resolv, Exchange, Protocol, QueryOptions, Question, Server, Status};
use crate::explain::{self, Explanation};
use crate::target::{Family, Host};

/// Resolution slower than this is flagged even when it works: a healthy resolver answers in milliseconds;
/// this much means a nameserver timed out first.
pub const SLOW: Duration = Duration::from_millis(500);

/// What resolving a name found.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The addresses, or why there are none (the precise cause when the nameservers could be asked).
    pub result: Result<Vec<IpAddr>, Explanation>,
    pub elapsed: Duration,
    /// The addresses /etc/hosts gives the name (in the family asked).
    pub hosts: Vec<IpAddr>,
    /// Each nameserver asked directly (only when the system resolver failed, was slow, or /etc/hosts answered).
    pub nameservers: Vec<Exchange>,
    /// Set when resolution worked but took longer than [`SLOW`].
    pub slow: Option<Explanation>,
    /// Set when /etc/hosts answers for the name and DNS says otherwise.
    pub shadowed: Option<Explanation>,
}

/// Resolves `name` through the system resolver within `timeout`, and asks the nameservers directly when
/// that fails, is slow, or /etc/hosts answered (to compare).
pub fn resolve(name: &str, family: Family, timeout: Duration) -> Resolution {
    let start = Instant::now();
    let host = Host::Name(name.to_string());
    let result = crate::resolve::resolve_within(&host, family, start + timeout, timeout);
    let elapsed = start.elapsed();
    let hosts: Vec<IpAddr> = resolv::hosts_addresses(name)
        .into_iter()
        .filter(|ip| family.matches(ip))
        .collect();
    let mut r = Resolution {
        result,
        elapsed,
        hosts,
        nameservers: Vec::new(),
        slow: None,
        shadowed: None,
    };
    let failed = r.result.as_ref().map_or(true, Vec::is_empty);
    let slow = !failed && elapsed >= SLOW;
    // localhost names never go to DNS (RFC 6761): /etc/hosts answering them is no shadowing.
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    let local = lower == "localhost" || lower.ends_with(".localhost");
    let compare_hosts = !r.hosts.is_empty() && !local;
    if !(failed || slow || compare_hosts) || crate::interrupt::requested() {
        return r;
    }
    let Ok(qname) = input::parse_name(name) else {
        return r;
    };
    let rtype = if family == Family::V6 {
        RecordType::AAAA
    } else {
        RecordType::A
    };
    let q = Question::new(qname, rtype);
    let servers = match resolv::system_servers(Family::Any, Protocol::Udp) {
        Ok(s) => s,
        Err(e) => {
            if failed && r.hosts.is_empty() {
                r.result = Err(e);
            }
            return r;
        }
    };
    let opts = QueryOptions {
        timeout,
        ..QueryOptions::default()
    };
    r.nameservers = ask_each(&servers, &q, &opts);
    let timed_out = matches!(&r.result, Err(e) if e.code == "timeout");
    let direct: Vec<IpAddr> = r
        .nameservers
        .iter()
        .find(|e| e.status == Status::Ok)
        .map(|e| e.answers().iter().filter_map(|a| a.parse().ok()).collect())
        .unwrap_or_default();
    let slow = if timed_out && !direct.is_empty() {
        // The system resolver was still waiting at the deadline (a dead nameserver first) but a nameserver
        // answers: programs get there, late. Go on with what DNS said, flagged as slow.
        r.result = Ok(direct);
        true
    } else {
        if failed && r.hosts.is_empty() {
            r.result = Err(why_unresolved(&r.nameservers, r.result.err()));
        }
        slow
    };
    if slow {
        let dead: Vec<String> = r
            .nameservers
            .iter()
            .filter(|e| !e.status.answered())
            .map(|e| e.server_label.clone())
            .collect();
        r.slow = Some(explain::dns::slow(elapsed, &dead));
    }
    if compare_hosts {
        let hosts: Vec<String> = r.hosts.iter().map(IpAddr::to_string).collect();
        let dns: Option<Vec<String>> = r
            .nameservers
            .iter()
            .find(|e| e.status.answered())
            .map(|e| e.answers().into_iter().map(str::to_string).collect());
        let differs = dns
            .as_ref()
            .is_some_and(|d| d.iter().any(|a| !hosts.contains(a)));
        if differs || dns.as_ref().is_some_and(Vec::is_empty) {
            r.shadowed = Some(explain::dns::hosts_override(name, &hosts, dns.as_deref()));
        }
    }
    r
}

/// Asks every server the same question at once, each under the same timeout.
pub fn ask_each(servers: &[Server], q: &Question, opts: &QueryOptions) -> Vec<Exchange> {
    std::thread::scope(|s| {
        let hs: Vec<_> = servers
            .iter()
            .map(|srv| s.spawn(move || exchange(srv, q, opts)))
            .collect();
        hs.into_iter()
            .zip(servers)
            .map(|(h, srv)| {
                h.join().unwrap_or_else(|_| {
                    super::exchange_failed(q, &srv.label(), explain::errno(libc::EIO))
                })
            })
            .collect()
    })
}

/// The most telling cause among the nameservers' answers: a negative answer (the name does not exist, has
/// no such record) beats a server failure, which beats a transport failure; with no answer at all, the
/// first nameserver's failure, naming every dead one.
pub fn why_unresolved(each: &[Exchange], fallback: Option<Explanation>) -> Explanation {
    for status in [
        Status::Nxdomain,
        Status::Nodata,
        Status::Servfail,
        Status::Refused,
        Status::ErrorRcode,
    ] {
        if let Some(e) = each
            .iter()
            .find(|e| e.status == status)
            .and_then(|e| e.explanation.clone())
        {
            return e;
        }
    }
    let Some(first) = each.iter().find_map(|e| e.explanation.clone()) else {
        return fallback.unwrap_or_else(|| explain::resolver(libc::EAI_FAIL));
    };
    let others: Vec<String> = each
        .iter()
        .skip(1)
        .map(|e| format!("{} {}", e.server_label, e.status))
        .collect();
    explain::dns::none_answered(first, &others)
}

/// `diagnose` with no target: ". NS" to each configured nameserver, at once.
pub fn nameservers(timeout: Duration) -> Result<Vec<Exchange>, Explanation> {
    let servers = resolv::system_servers(Family::Any, Protocol::Udp)?;
    let q = Question::new(hickory_proto::rr::Name::root(), RecordType::NS);
    let opts = QueryOptions {
        timeout,
        ..QueryOptions::default()
    };
    Ok(ask_each(&servers, &q, &opts))
}
