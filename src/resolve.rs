//! The system resolver under netdiag's rules: getaddrinfo and getnameinfo (so /etc/hosts and nsswitch count
//! as for every other program), deduplicated, family-checked, and bounded by a deadline and Ctrl-C. Every
//! subsystem that turns a name into addresses (or back) comes here; `lookup` is the subcommand on top of it,
//! and direct DNS (`dns`) uses it only to find a server given by name.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::explain::{self, Explanation};
use crate::target::{family_name, Family, Host};

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
    let iter = match dns_lookup::getaddrinfo(Some(name), None, Some(hints)) {
        Ok(iter) => iter,
        Err(e) => {
            let e = lookup_error(e);
            // A family-specific lookup that fails where the other family succeeds: say so, not "not found".
            if family != Family::Any && e.verdict == crate::explain::Verdict::NotFound {
                if let Ok((_, other)) = forward(name, Family::Any) {
                    if let Some(ip) = other.first() {
                        let asked = if family == Family::V6 { "IPv6" } else { "IPv4" };
                        return Err(explain::no_address_in_family(name, asked, family_name(ip)));
                    }
                }
            }
            return Err(e);
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_keeps_literal_addresses() {
        let ip: IpAddr = "::1".parse().unwrap();
        assert_eq!(resolve(&Host::Ip(ip), Family::Any).unwrap(), vec![ip]);
        assert!(resolve(&Host::Ip(ip), Family::V4).is_err());
    }
}
