//! `netdiag lookup`: names to addresses, addresses to names, and this machine's own names and addresses,
//! through the system resolver (getaddrinfo/getnameinfo), so /etc/hosts and nsswitch count as for every
//! other program.

mod canonical;
mod model;
mod render;

use std::io;
use std::net::IpAddr;
use std::time::Instant;

use crate::explain;
use crate::target::{family_name, Family};

use crate::resolve::{forward, reverse};
pub use model::*;

/// Looks up one query: an address gets a reverse lookup, anything else a forward one.
pub fn lookup_one(query: &str, family: Family) -> LookupResult {
    let start = Instant::now();
    let mut r = LookupResult::new(query);
    if let Ok(ip) = query.parse::<IpAddr>() {
        r.kind = "reverse";
        r.addresses.push(Address {
            address: ip,
            family: family_name(&ip),
        });
        match reverse(ip) {
            Ok(name) => r.names.push(name),
            Err(e) => r.explanation = Some(e),
        }
    } else {
        match forward(query, family) {
            Ok((canon, addrs)) => {
                r.canonical_name = canon;
                if let Some(c) = r.canonical_name.clone() {
                    let (queried, chain) = canonical::explain(query, &c, family);
                    r.queried_name = queried;
                    r.cname_chain = chain;
                }
                r.addresses = addrs
                    .into_iter()
                    .map(|a| Address {
                        address: a,
                        family: family_name(&a),
                    })
                    .collect();
            }
            Err(e) => r.explanation = Some(e),
        }
    }
    r.elapsed = start.elapsed();
    r.ok = r.explanation.is_none();
    r
}

/// Looks up every query concurrently (the system resolver blocks, so one thread per query, at most 32 at once),
/// keeping the order of the queries.
pub fn lookup(req: &LookupRequest) -> LookupReport {
    let mut results = Vec::with_capacity(req.queries.len());
    for chunk in req.queries.chunks(32) {
        if chunk.len() == 1 {
            results.push(lookup_one(&chunk[0], req.family));
            continue;
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|q| s.spawn(move || lookup_one(q, req.family)))
                .collect();
            for (h, q) in handles.into_iter().zip(chunk) {
                results.push(h.join().unwrap_or_else(|_| {
                    let mut r = LookupResult::new(q);
                    r.explanation = Some(explain::resolver(libc::EAI_SYSTEM));
                    r
                }));
            }
        });
    }
    LookupReport { results }
}

/// Looks up this machine: hostname, FQDN, the hostname's addresses and every interface address.
pub fn local(family: Family) -> io::Result<SelfReport> {
    let hostname = dns_lookup::get_hostname()?;
    let (fqdn, resolved, explanation) = match forward(&hostname, family) {
        Ok((canon, addrs)) => (canon, addrs, None),
        Err(e) => (None, Vec::new(), Some(e)),
    };
    let mut addresses: Vec<LocalAddress> = if_addrs::get_if_addrs()?
        .into_iter()
        .filter(|i| family.matches(&i.ip()))
        .map(|i| {
            let ip = i.ip();
            let prefix = match &i.addr {
                if_addrs::IfAddr::V4(a) => Some(a.prefixlen),
                if_addrs::IfAddr::V6(a) => Some(a.prefixlen),
            };
            LocalAddress {
                loopback: ip.is_loopback(),
                interface: i.name,
                family: family_name(&ip),
                address: ip,
                prefix,
            }
        })
        .collect();
    addresses.sort_by(|a, b| {
        (a.loopback, &a.interface, a.address.is_ipv6(), a.address).cmp(&(
            b.loopback,
            &b.interface,
            b.address.is_ipv6(),
            b.address,
        ))
    });
    Ok(SelfReport {
        hostname,
        fqdn,
        resolved,
        explanation,
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_to_loopback() {
        let r = lookup_one("localhost", Family::Any);
        assert!(r.ok, "{:?}", r.explanation);
        assert!(r.addresses.iter().any(|a| a.address.is_loopback()));
    }

    #[test]
    fn family_filter_holds() {
        let r = lookup_one("localhost", Family::V4);
        if r.ok {
            assert!(r.addresses.iter().all(|a| a.address.is_ipv4()));
        }
    }

    #[test]
    fn address_is_reverse() {
        let r = lookup_one("127.0.0.1", Family::Any);
        assert_eq!(r.kind, "reverse");
    }
}
