//! `netdiag lookup`: names to addresses, addresses to names, and this machine's own names and addresses,
//! through the system resolver (getaddrinfo/getnameinfo), so /etc/hosts and nsswitch count as for every
//! other program.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::duration::fmt_ms;
use crate::explain::{self, Explanation};
use crate::render::{write_table, Output, Report, Tone};
use crate::target::{family_name, Family, Host};

/// What to look up.
#[derive(Debug, Clone)]
pub struct LookupRequest {
    /// Names or addresses, as typed.
    pub queries: Vec<String>,
    pub family: Family,
}

/// One resolved address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub address: IpAddr,
    pub family: &'static str,
}

/// The answer for one query.
#[derive(Debug, Clone, Serialize)]
pub struct LookupResult {
    pub query: String,
    /// `forward` (name → addresses) or `reverse` (address → name).
    pub kind: &'static str,
    pub canonical_name: Option<String>,
    pub addresses: Vec<Address>,
    /// The name found by a reverse lookup.
    pub names: Vec<String>,
    #[serde(serialize_with = "crate::duration::ser_ms")]
    pub elapsed: Duration,
    pub error: Option<Explanation>,
}

impl LookupResult {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The answer for every query.
#[derive(Debug, Clone, Serialize)]
pub struct LookupReport {
    pub results: Vec<LookupResult>,
}

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
            return Err(crate::http::conn::interrupted());
        }
        let Some(remaining) = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Err(explain::dns::resolve_timeout(timeout));
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
    let mut r = LookupResult {
        query: query.to_string(),
        kind: "forward",
        canonical_name: None,
        addresses: Vec::new(),
        names: Vec::new(),
        elapsed: Duration::ZERO,
        error: None,
    };
    if let Ok(ip) = query.parse::<IpAddr>() {
        r.kind = "reverse";
        r.addresses.push(Address {
            address: ip,
            family: family_name(&ip),
        });
        match reverse(ip) {
            Ok(name) => r.names.push(name),
            Err(e) => r.error = Some(e),
        }
    } else {
        match forward(query, family) {
            Ok((canon, addrs)) => {
                r.canonical_name = canon;
                r.addresses = addrs
                    .into_iter()
                    .map(|a| Address {
                        address: a,
                        family: family_name(&a),
                    })
                    .collect();
            }
            Err(e) => r.error = Some(e),
        }
    }
    r.elapsed = start.elapsed();
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
                results.push(h.join().unwrap_or_else(|_| LookupResult {
                    query: q.clone(),
                    kind: "forward",
                    canonical_name: None,
                    addresses: Vec::new(),
                    names: Vec::new(),
                    elapsed: Duration::ZERO,
                    error: Some(explain::resolver(libc::EAI_SYSTEM)),
                }));
            }
        });
    }
    LookupReport { results }
}

impl LookupReport {
    pub fn ok(&self) -> bool {
        self.results.iter().all(LookupResult::ok)
    }
}

impl Report for LookupReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        let mut t = out.table(&["QUERY", "TYPE", "ANSWER", "FAMILY", "TIME"]);
        for r in &self.results {
            let time = fmt_ms(r.elapsed);
            if let Some(e) = &r.error {
                t.add_row(vec![
                    out.cell(&r.query, Tone::Plain),
                    out.cell(r.kind, Tone::Plain),
                    out.cell(format!("{} ({})", e.cause, e.code), Tone::Bad),
                    out.cell("-", Tone::Dim),
                    out.num(time),
                ]);
                continue;
            }
            if r.kind == "reverse" {
                for n in &r.names {
                    t.add_row(vec![
                        out.cell(&r.query, Tone::Plain),
                        out.cell("PTR", Tone::Plain),
                        out.cell(n, Tone::Good),
                        out.cell(r.addresses.first().map_or("-", |a| a.family), Tone::Plain),
                        out.num(&time),
                    ]);
                }
                continue;
            }
            if let Some(c) = r.canonical_name.as_ref().filter(|c| **c != r.query) {
                t.add_row(vec![
                    out.cell(&r.query, Tone::Plain),
                    out.cell("CNAME", Tone::Plain),
                    out.cell(c, Tone::Plain),
                    out.cell("-", Tone::Dim),
                    out.num(&time),
                ]);
            }
            for a in &r.addresses {
                t.add_row(vec![
                    out.cell(&r.query, Tone::Plain),
                    out.cell(if a.address.is_ipv4() { "A" } else { "AAAA" }, Tone::Plain),
                    out.cell(a.address, Tone::Good),
                    out.cell(a.family, Tone::Plain),
                    out.num(&time),
                ]);
            }
        }
        write_table(w, &t)?;
        for r in &self.results {
            if let Some(e) = &r.error {
                writeln!(w, "{}: {}", r.query, out.paint(&e.sentence(), Tone::Bad))?;
            }
        }
        Ok(())
    }
}

/// One address of this machine.
#[derive(Debug, Clone, Serialize)]
pub struct LocalAddress {
    pub interface: String,
    pub address: IpAddr,
    pub family: &'static str,
    pub prefix: Option<u8>,
    pub loopback: bool,
}

/// This machine's names and addresses.
#[derive(Debug, Clone, Serialize)]
pub struct SelfReport {
    pub hostname: String,
    /// The canonical name the hostname resolves to, when it resolves.
    pub fqdn: Option<String>,
    /// What the hostname resolves to through the resolver (/etc/hosts, DNS).
    pub resolved: Vec<IpAddr>,
    pub resolve_error: Option<Explanation>,
    /// Addresses on the interfaces.
    pub addresses: Vec<LocalAddress>,
}

impl SelfReport {
    pub fn ok(&self) -> bool {
        self.resolve_error.is_none()
    }
}

/// Looks up this machine: hostname, FQDN, the hostname's addresses and every interface address.
pub fn local(family: Family) -> io::Result<SelfReport> {
    let hostname = dns_lookup::get_hostname()?;
    let (fqdn, resolved, resolve_error) = match forward(&hostname, family) {
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
        resolve_error,
        addresses,
    })
}

impl Report for SelfReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "hostname  {}", self.hostname)?;
        match (&self.fqdn, &self.resolve_error) {
            (_, Some(e)) => writeln!(
                w,
                "fqdn      {}",
                out.paint(&format!("does not resolve: {}", e.sentence()), Tone::Bad)
            )?,
            (Some(f), None) => writeln!(w, "fqdn      {f}")?,
            (None, None) => writeln!(w, "fqdn      -")?,
        }
        if !self.resolved.is_empty() {
            let list: Vec<String> = self.resolved.iter().map(ToString::to_string).collect();
            writeln!(w, "resolves  {}", list.join(", "))?;
        }
        writeln!(w)?;
        let mut t = out.table(&["INTERFACE", "ADDRESS", "FAMILY", "SCOPE"]);
        for a in &self.addresses {
            let addr = match a.prefix {
                Some(p) => format!("{}/{p}", a.address),
                None => a.address.to_string(),
            };
            t.add_row(vec![
                out.cell(&a.interface, Tone::Plain),
                out.cell(addr, Tone::Good),
                out.cell(a.family, Tone::Plain),
                out.cell(scope(&a.address), Tone::Plain),
            ]);
        }
        write_table(w, &t)
    }
}

fn scope(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => "loopback",
        IpAddr::V4(v4) if v4.is_link_local() => "link",
        IpAddr::V4(v4) if v4.is_private() => "private",
        IpAddr::V4(_) => "global",
        IpAddr::V6(v6) if v6.is_loopback() => "loopback",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "link",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "private",
        IpAddr::V6(_) => "global",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_to_loopback() {
        let r = lookup_one("localhost", Family::Any);
        assert!(r.ok(), "{:?}", r.error);
        assert!(r.addresses.iter().any(|a| a.address.is_loopback()));
    }

    #[test]
    fn family_filter_holds() {
        let r = lookup_one("localhost", Family::V4);
        if r.ok() {
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
