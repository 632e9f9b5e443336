//! Where a canonical name came from: the search-list expansion the resolver asked, and the real CNAME chain,
//! so `lookup` never shows a CNAME that is not there. getaddrinfo gives only the canonical name at the end;
//! when it differs from the name typed, the resolver's own order of candidate names (resolv.conf `search`,
//! `ndots`) is replayed and the configured nameservers are asked directly for the chain.

use std::time::Duration;

use super::model::CnameLink;
use crate::dns::{self, input, QueryOptions, Question, Status};
use crate::target::Family;

/// Longest a nameserver is waited for while following a chain (the addresses are already known).
const TIMEOUT: Duration = Duration::from_secs(2);
/// Longest chain followed (glibc gives up well before).
const MAX_LINKS: usize = 16;

/// True when two names are the same DNS name (case and a trailing dot aside).
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The names the resolver tries for `query`, in its order: an absolute name (trailing dot) alone; a name with
/// at least `ndots` dots first as typed, then with each search domain; a shorter one with each search domain
/// first, then as typed.
pub fn candidates(query: &str, search: &[String], ndots: usize) -> Vec<String> {
    if query.ends_with('.') {
        return vec![query.trim_end_matches('.').to_string()];
    }
    let expanded = search
        .iter()
        .map(|d| d.trim_end_matches('.'))
        .filter(|d| !d.is_empty())
        .map(|d| format!("{query}.{d}"));
    let mut out = Vec::new();
    if query.matches('.').count() >= ndots {
        out.push(query.to_string());
        out.extend(expanded);
    } else {
        out.extend(expanded);
        out.push(query.to_string());
    }
    out
}

/// The CNAME links of an answer section from `start` on, in chain order (at most [`MAX_LINKS`]).
pub fn chain(answer: &[dns::Rr], start: &str) -> Vec<CnameLink> {
    let mut out: Vec<CnameLink> = Vec::new();
    let mut cur = start.to_string();
    while out.len() < MAX_LINKS {
        let Some(rr) = answer
            .iter()
            .find(|rr| rr.rtype == "CNAME" && same_name(&rr.name, &cur))
        else {
            break;
        };
        let link = CnameLink {
            name: rr.name.trim_end_matches('.').to_string(),
            target: rr.data.trim_end_matches('.').to_string(),
        };
        cur = link.target.clone();
        out.push(link);
    }
    out
}

/// The name the resolver asked (when the search list changed it) and the CNAME chain to `canonical`. Both
/// empty when the canonical name is the query itself. A canonical name no DNS chain explains (an /etc/hosts
/// alias, say) gets no chain: it is shown as the canonical name, never as a CNAME.
pub fn explain(query: &str, canonical: &str, family: Family) -> (Option<String>, Vec<CnameLink>) {
    if same_name(query, canonical) {
        return (None, Vec::new());
    }
    let text = std::fs::read_to_string(dns::resolv::RESOLV_CONF).unwrap_or_default();
    let rc = crate::dns::resolv::parse_resolv_conf(&text);
    let ndots = rc
        .options
        .iter()
        .find_map(|o| o.strip_prefix("ndots:")?.parse::<usize>().ok())
        .unwrap_or(1)
        .min(15);
    let names = candidates(query, &rc.search, ndots);
    let queried = |name: &str| (!same_name(name, query)).then(|| name.to_string());
    // The search list alone explains it: the name asked is the canonical name, no CNAME.
    if let Some(n) = names.iter().find(|n| same_name(n, canonical)) {
        return (queried(n), Vec::new());
    }
    let Ok(servers) = dns::resolv::system_servers(Family::Any, dns::Protocol::Udp) else {
        return (None, Vec::new());
    };
    let rtype = if family == Family::V6 { "AAAA" } else { "A" };
    let opts = QueryOptions {
        timeout: TIMEOUT,
        ..Default::default()
    };
    for n in &names {
        if crate::interrupt::requested() {
            break;
        }
        let (Ok(name), Ok(t)) = (
            input::parse_name(&format!("{n}.")),
            input::parse_type(rtype),
        ) else {
            continue;
        };
        let ex = dns::exchange_first(&servers, &Question::new(name, t), &opts);
        let Some(resp) = ex.response.as_ref().filter(|_| ex.status == Status::Ok) else {
            continue;
        };
        let links = chain(&resp.answer, n);
        if links
            .last()
            .is_some_and(|l| same_name(&l.target, canonical))
        {
            return (queried(n), links);
        }
    }
    (None, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(d: &[&str]) -> Vec<String> {
        d.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn candidates_follow_the_resolver_order() {
        let s = search(&["lab.test", "corp.test."]);
        assert_eq!(candidates("a.lab.test.", &s, 1), ["a.lab.test"]);
        assert_eq!(
            candidates("web", &s, 1),
            ["web.lab.test", "web.corp.test", "web"]
        );
        assert_eq!(
            candidates("a.b", &s, 1),
            ["a.b", "a.b.lab.test", "a.b.corp.test"]
        );
        assert_eq!(
            candidates("a.b", &s, 2),
            ["a.b.lab.test", "a.b.corp.test", "a.b"]
        );
    }

    #[test]
    fn names_compare_without_case_or_trailing_dot() {
        assert!(same_name("A.lab.test.", "a.LAB.test"));
        assert!(!same_name("a.lab.test", "b.lab.test"));
    }

    fn rr(name: &str, rtype: &str, data: &str) -> dns::Rr {
        dns::Rr {
            name: name.into(),
            ttl: 300,
            class: "IN".into(),
            rtype: rtype.into(),
            data: data.into(),
        }
    }

    #[test]
    fn a_chain_is_followed_link_by_link() {
        let answer = [
            rr("c2.lab.test.", "CNAME", "c3.lab.test."),
            rr("c1.lab.test.", "CNAME", "c2.lab.test."),
            rr("c3.lab.test.", "A", "10.0.0.3"),
        ];
        let links = chain(&answer, "c1.lab.test");
        let pairs: Vec<(&str, &str)> = links
            .iter()
            .map(|l| (l.name.as_str(), l.target.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("c1.lab.test", "c2.lab.test"),
                ("c2.lab.test", "c3.lab.test")
            ]
        );
        assert!(chain(&answer, "c3.lab.test").is_empty());
    }
}
