//! `netdiag lookup`: names to addresses, addresses to names, and this machine's own names and addresses,
//! through the system resolver (getaddrinfo/getnameinfo), so /etc/hosts and nsswitch count as for every
//! other program.

mod canonical;
mod model;
mod render;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::explain::{self, Explanation};
use crate::target::{family_name, Family, Host};

pub use model::*;

/// Resolves a host to its addresses in the asked family, in the resolver's order, without duplicates.
/// Addresses are returned as they are; names go through getaddrinfo.
pub fn resolve(host: &Host, family: Family) -> Result<Vec<IpAddr>, Explanation> {
    match host {
        Host::Ip(ip) if family.matches(ip) => Ok(vec![*ip]),
        Host::Ip(_) => Err(explain::resolver(explain::EAI_ADDRFAMILY)),
        Host::Name(name) => forward(name, family).map(|(_, addrs)| addrs),
    }
}

/// [`resolve`] under a deadline: an address at once; a name on a helper thread (getaddrinfo cannot be
/// cancelled), waiting in slices so Ctrl-C and the deadline hold. A resolver that outlives the deadline is
/// left to finish on its own; the error then names `timeout` (the whole budget, for the words).
pub fn resolve_within(
    host: &Host,
    family: Family,
    deadline: Instant,
    timeout: Duration,
) -> Result<Vec<IpAddr>, Explanation> {
    if let Host::Ip(_) = host {
        return resolve(host, family);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let h = host.clone();
    std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let _ = tx.send(resolve(&h, family));
        })
        .map_err(|e| explain::io_error(&e))?;
    loop {
        if crate::interrupt::requested() {
            return Err(explain::interrupted("the answer was complete"));
        }
        let Some(remaining) = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Err(explain::http::resolve_timeout(timeout));
        };
        match rx.recv_timeout(remaining.min(Duration::from_millis(250))) {
            Ok(r) => return r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(explain::resolver(libc::EAI_SYSTEM))
            }
        }
    }
}

/// getaddrinfo with AI_CANONNAME: the canonical name and every address, deduplicated, in resolver order.
pub fn forward(name: &str, family: Family) -> Result<(Option<String>, Vec<IpAddr>), Explanation> {
    let hints = dns_lookup::AddrInfoHints {
        flags: libc::AI_CANONNAME,
        address: match family {
            Family::Any => libc::AF_UNSPEC,
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        },
        socktype: libc::SOCK_STREAM,
        protocol: 0,
    };
    let iter = dns_lookup::getaddrinfo(Some(name), None, Some(hints)).map_err(lookup_error)?;
    let mut canon = None;
    let mut addrs: Vec<IpAddr> = Vec::new();
    for ai in iter {
        let ai = ai.map_err(|e| explain::io_error(&e))?;
        if canon.is_none() {
            canon = ai.canonname.filter(|c| !c.is_empty());
        }
        let ip = ai.sockaddr.ip();
        if family.matches(&ip) && !addrs.contains(&ip) {
            addrs.push(ip);
        }
    }
    if addrs.is_empty() {
        return Err(explain::resolver(libc::EAI_NODATA));
    }
    Ok((canon, addrs))
}

/// getnameinfo with NI_NAMEREQD: the name an address maps back to (PTR, or /etc/hosts).
pub fn reverse(ip: IpAddr) -> Result<String, Explanation> {
    let sa = SocketAddr::new(ip, 0);
    dns_lookup::getnameinfo(&sa, libc::NI_NAMEREQD)
        .map(|(host, _)| host)
        .map_err(lookup_error)
}

fn lookup_error(e: dns_lookup::LookupError) -> Explanation {
    let code = e.error_num();
    if code == libc::EAI_SYSTEM {
        let io: io::Error = e.into();
        return explain::io_error(&io);
    }
    explain::resolver(code)
}

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

    #[test]
    fn resolve_keeps_literal_addresses() {
        let ip: IpAddr = "::1".parse().unwrap();
        assert_eq!(resolve(&Host::Ip(ip), Family::Any).unwrap(), vec![ip]);
        assert!(resolve(&Host::Ip(ip), Family::V4).is_err());
    }
}
