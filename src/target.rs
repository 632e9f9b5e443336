//! Targets and ports as users type them: `host`, `host:port`, `[ipv6]:port`, bare IPv6, CIDR blocks,
//! port lists and ranges (`22,80,8000-8100`), `80/tcp`, and service names as ports (`http` → 80).
//!
//! One parser for every subcommand. Every malformed input gets one clear error naming the input and the
//! accepted forms.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use serde::Serialize;

use crate::services::Proto;

/// Which address families to use: both, IPv4 only (`-4`) or IPv6 only (`-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

impl Family {
    /// From the `-4` / `-6` flags.
    pub fn from_flags(v4: bool, v6: bool) -> Family {
        match (v4, v6) {
            (true, false) => Family::V4,
            (false, true) => Family::V6,
            _ => Family::Any,
        }
    }

    pub fn matches(self, ip: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }
}

/// The family name of an address, as shown in tables: `IPv4` or `IPv6`.
pub fn family_name(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// serde `serialize_with`: a socket address as netdiag's one JSON form of an endpoint, `{"address": "10.0.0.1",
/// "port": 443}` (never `"10.0.0.1:443"`, which needs parsing and brackets for IPv6).
pub fn ser_endpoint<S: serde::Serializer>(
    a: &SocketAddr,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("Endpoint", 2)?;
    st.serialize_field("address", &a.ip())?;
    st.serialize_field("port", &a.port())?;
    st.end()
}

/// serde `serialize_with`: an optional socket address as an endpoint object, or null.
pub fn ser_opt_endpoint<S: serde::Serializer>(
    a: &Option<SocketAddr>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match a {
        Some(a) => ser_endpoint(a, s),
        None => s.serialize_none(),
    }
}

/// A malformed input: the message names the input and the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

type Result<T> = std::result::Result<T, InputError>;

fn err<T>(msg: String) -> Result<T> {
    Err(InputError(msg))
}

/// Shortens an input for an error message (users paste long garbage; the message must stay one line).
pub fn shown(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if clean.chars().count() > 60 {
        let head: String = clean.chars().take(57).collect();
        format!("{head}...")
    } else {
        clean
    }
}

const TARGET_FORMS: &str =
    "expected HOST, HOST:PORT, [IPv6]:PORT, an IPv6 address (fe80::1%eth0 with a scope) or a CIDR block such as 127.0.0.0/30";

/// Scope ids typed with IPv6 addresses (`fe80::1%eth0`, `fe80::1%3`), by address. An address carries its scope
/// from the parser to every socket through [`socket_addr`]: a link-local address means nothing without the
/// link it is on. One scope per address per run (the last typed wins).
static SCOPES: std::sync::Mutex<Vec<(Ipv6Addr, u32)>> = std::sync::Mutex::new(Vec::new());

/// The scope id typed with `ip`, or 0 (none).
pub fn scope_of(ip: &Ipv6Addr) -> u32 {
    SCOPES
        .lock()
        .map(|v| v.iter().rev().find(|(a, _)| a == ip).map_or(0, |(_, s)| *s))
        .unwrap_or(0)
}

/// The socket address of `ip`:`port`, an IPv6 address with the scope typed with it: every socket that
/// sends to a parsed target gets its address here.
pub fn socket_addr(ip: IpAddr, port: u16) -> SocketAddr {
    match ip {
        IpAddr::V6(v6) => SocketAddr::V6(std::net::SocketAddrV6::new(v6, port, 0, scope_of(&v6))),
        v4 => SocketAddr::new(v4, port),
    }
}

/// Parses `ADDR%ZONE` (`fe80::1%eth0`, `fe80::1%3`): the address, its scope id registered for sockets.
/// An interface name must exist here.
fn parse_scoped(s: &str, addr: &str, zone: &str) -> Result<Ipv6Addr> {
    let ip: Ipv6Addr = addr.parse().map_err(|_| {
        InputError(format!(
            "invalid target '{}': a '%' scope only follows an IPv6 address, such as fe80::1%eth0",
            shown(s)
        ))
    })?;
    let id = if zone.is_empty() {
        return err(format!(
            "invalid target '{}': empty scope after '%'; write an interface name or index, such as fe80::1%eth0 or fe80::1%2",
            shown(s)
        ));
    } else if zone.bytes().all(|b| b.is_ascii_digit()) {
        zone.parse::<u32>().map_err(|_| {
            InputError(format!(
                "invalid target '{}': scope index '{}' is out of range; use an interface index from `ip link`",
                shown(s),
                shown(zone)
            ))
        })?
    } else {
        crate::net::packet::interface_index(zone).map_err(|_| {
            InputError(format!(
                "unknown interface '{}' in '{}': no such network interface here; use a name from `ip link`, such as fe80::1%eth0",
                shown(zone),
                shown(s)
            ))
        })?
    };
    if let Ok(mut v) = SCOPES.lock() {
        v.push((ip, id));
    }
    Ok(ip)
}
const PORT_FORMS: &str =
    "expected a port 1-65535, a range such as 8000-8100, a list such as 22,80,443, or a service name such as http";

/// A host: an address or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    /// Parses an address or a host name (RFC 1123 labels, up to 253 characters).
    pub fn parse(s: &str) -> Result<Host> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        if let Some((addr, zone)) = s.split_once('%') {
            return Ok(Host::Ip(IpAddr::V6(parse_scoped(s, addr, zone)?)));
        }
        validate_name(s)?;
        Ok(Host::Name(s.to_string()))
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

fn validate_name(s: &str) -> Result<()> {
    let what = || format!("invalid host '{}'", shown(s));
    if s.is_empty() {
        return err(format!("empty host: {TARGET_FORMS}"));
    }
    if !s.is_ascii() {
        return err(format!(
            "{}: non-ASCII name; give its ASCII (punycode, xn--...) form",
            what()
        ));
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.len() > 253 {
        return err(format!(
            "{}: a host name has at most 253 characters, this one has {}",
            what(),
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return err(format!(
                "{}: empty label (two dots in a row, or a leading dot)",
                what()
            ));
        }
        if label.len() > 63 {
            return err(format!(
                "{}: a label has at most 63 characters, one has {}",
                what(),
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return err(format!(
                "{}: character '{}' is not allowed; names use letters, digits, '-' and '.'",
                what(),
                c.escape_default()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return err(format!("{}: a label cannot start or end with '-'", what()));
        }
    }
    if name
        .split('.')
        .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return err(format!("{}: not a valid IPv4 address", what()));
    }
    Ok(())
}

/// A host with an optional port: `host`, `host:port`, `[v6]:port`, `v6`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub host: Host,
    pub port: Option<u16>,
}

impl Target {
    pub fn parse(s: &str) -> Result<Target> {
        let s_shown = shown(s);
        let bad =
            |why: &str| InputError(format!("invalid target '{s_shown}': {why}; {TARGET_FORMS}"));
        if s.is_empty() {
            return err(format!("empty target: {TARGET_FORMS}"));
        }
        if let Some(rest) = s.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(bad("'[' without a closing ']'"));
            };
            let inner = &rest[..end];
            let ip: Ipv6Addr = match inner.split_once('%') {
                Some((addr, zone)) => parse_scoped(inner, addr, zone)?,
                None => inner
                    .parse()
                    .map_err(|_| bad(&format!("'{}' is not an IPv6 address", shown(inner))))?,
            };
            let after = &rest[end + 1..];
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(p) => Some(parse_single_port(p).map_err(|e| bad(&e.0))?),
                    None => return Err(bad("expected ':PORT' after ']'")),
                },
            };
            return Ok(Target {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        match s.matches(':').count() {
            0 => Ok(Target {
                host: Host::parse(s)?,
                port: None,
            }),
            1 => {
                let (h, p) = s.split_once(':').unwrap_or((s, ""));
                if h.is_empty() {
                    return Err(bad("missing host before ':'"));
                }
                if p.is_empty() {
                    return Err(bad("missing port after ':'"));
                }
                let host = Host::parse(h)?;
                let port = parse_single_port(p).map_err(|e| bad(&e.0))?;
                Ok(Target {
                    host,
                    port: Some(port),
                })
            }
            _ if s.contains('%') => Ok(Target {
                host: Host::parse(s)?,
                port: None,
            }),
            _ => match s.parse::<Ipv6Addr>() {
                Ok(ip) => Ok(Target {
                    host: Host::Ip(IpAddr::V6(ip)),
                    port: None,
                }),
                Err(_) => Err(bad("not an IPv6 address (write [IPv6]:PORT to add a port)")),
            },
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.port) {
            (Host::Ip(IpAddr::V6(ip)), Some(p)) => write!(f, "[{ip}]:{p}"),
            (h, Some(p)) => write!(f, "{h}:{p}"),
            (h, None) => write!(f, "{h}"),
        }
    }
}

impl FromStr for Target {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Target> {
        Target::parse(s)
    }
}

/// A CIDR block such as `127.0.0.0/30` or `fd00::/120`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr> {
        let bad = |why: String| {
            InputError(format!(
                "invalid CIDR block '{}': {why}; expected ADDRESS/PREFIX such as 127.0.0.0/30 or fd00::/120",
                shown(s)
            ))
        };
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| bad("missing '/PREFIX'".into()))?;
        let addr: IpAddr = a
            .parse()
            .map_err(|_| bad(format!("'{}' is not an IP address", shown(a))))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| bad(format!("prefix '{}' is not a number 0-{max}", shown(p))))?;
        Ok(Cidr {
            network: mask(addr, prefix),
            prefix,
        })
    }

    /// How many addresses the block holds.
    pub fn len(&self) -> u128 {
        let bits = if self.network.is_ipv4() { 32 } else { 128 };
        1u128
            .checked_shl(bits - u32::from(self.prefix))
            .unwrap_or(u128::MAX)
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Every address in the block, refusing blocks larger than `max` addresses.
    pub fn addresses(&self, max: u128) -> Result<Vec<IpAddr>> {
        let n = self.len();
        if n > max {
            return err(format!(
                "CIDR block {self} holds {n} addresses, more than the limit of {max}; use a longer prefix"
            ));
        }
        let start = ip_to_u128(self.network);
        Ok((0..n)
            .map(|i| u128_to_ip(start + i, self.network.is_ipv4()))
            .collect())
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn ip_to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn u128_to_ip(n: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    let bits: u32 = if ip.is_ipv4() { 32 } else { 128 };
    let n = ip_to_u128(ip);
    let keep = u32::from(prefix);
    let host_bits = bits - keep;
    let m = if host_bits >= 128 {
        0
    } else {
        (!0u128) << host_bits
    };
    u128_to_ip(n & m, ip.is_ipv4())
}

/// One host argument: a host (with optional port) or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSpec {
    Target(Target),
    Cidr(Cidr),
}

impl HostSpec {
    pub fn parse(s: &str) -> Result<HostSpec> {
        if s.contains('/') {
            Ok(HostSpec::Cidr(Cidr::parse(s)?))
        } else {
            Ok(HostSpec::Target(Target::parse(s)?))
        }
    }
}

/// How many addresses host arguments stand for: a CIDR block its size, any other argument one.
pub fn host_count(specs: &[HostSpec]) -> u128 {
    specs
        .iter()
        .map(|s| match s {
            HostSpec::Cidr(c) => c.len(),
            HostSpec::Target(_) => 1,
        })
        .fold(0u128, u128::saturating_add)
}

/// Expands host arguments into targets, the one expansion ping and probe share: each CIDR block into its
/// addresses, names and addresses as typed with the port typed with them, repeats dropped, order kept.
/// With `skip_ends`, IPv4 blocks of /30 and wider leave out their network and broadcast addresses, as
/// `fping -g` does (ping sweeps hosts); without, every address is kept, as nmap does (probe scans addresses).
/// Refuses more than `max` addresses in all; a caller with its own words for that checks [`host_count`] first.
pub fn expand_hosts(specs: &[HostSpec], max: u128, skip_ends: bool) -> Result<Vec<Target>> {
    let total = host_count(specs);
    if total > max {
        return err(format!(
            "{total} addresses asked, more than the limit of {max}; use longer prefixes"
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut keep = |t: Target| {
        if seen.insert((t.host.clone(), t.port)) {
            out.push(t);
        }
    };
    for s in specs {
        match s {
            HostSpec::Target(t) => keep(t.clone()),
            HostSpec::Cidr(c) => {
                let mut all = c.addresses(max)?;
                if skip_ends && c.network.is_ipv4() && c.prefix <= 30 && all.len() >= 4 {
                    all.pop();
                    all.remove(0);
                }
                for ip in all {
                    keep(Target {
                        host: Host::Ip(ip),
                        port: None,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Parses one port: a number 1-65535 or a TCP service name (`http` → 80).
pub fn parse_single_port(s: &str) -> Result<u16> {
    parse_port_or_name(s, Proto::Tcp)
}

fn parse_port_or_name(s: &str, proto: Proto) -> Result<u16> {
    if s.is_empty() {
        return err(format!("empty port: {PORT_FORMS}"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u32>() {
            Ok(n @ 1..=65535) => Ok(n as u16),
            Ok(0) => err(format!("port 0 is not a valid port: {PORT_FORMS}")),
            _ => err(format!("port '{}' is out of range: {PORT_FORMS}", shown(s))),
        };
    }
    if s.starts_with('-') || s.starts_with('+') {
        return err(format!("port '{}' is out of range: {PORT_FORMS}", shown(s)));
    }
    if !s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) || s.len() > 64 {
        return err(format!("invalid port '{}': {PORT_FORMS}", shown(s)));
    }
    let ports = crate::services::ports_of(s);
    ports
        .iter()
        .find(|(_, p)| *p == proto)
        .or(ports.first())
        .map(|(port, _)| *port)
        .ok_or_else(|| {
            InputError(format!(
                "unknown service name '{}': {PORT_FORMS} (netdiag port --search WORD finds names)",
                shown(s)
            ))
        })
}

/// A list of ports and ranges: `22,80,8000-8100`, `http,https`, `1-65535`. Kept sorted and merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortList {
    ranges: Vec<(u16, u16)>,
}

impl PortList {
    pub fn parse(s: &str) -> Result<PortList> {
        if s.trim().is_empty() {
            return err(format!("empty port list: {PORT_FORMS}"));
        }
        let mut ranges = Vec::new();
        for item in s.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return err(format!(
                    "empty item in port list '{}': {PORT_FORMS}",
                    shown(s)
                ));
            }
            ranges.push(parse_range(item)?);
        }
        Ok(PortList::from_ranges(ranges))
    }

    /// A list from ranges (merged and sorted).
    pub fn from_ranges(mut ranges: Vec<(u16, u16)>) -> PortList {
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        PortList { ranges: merged }
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// How many ports the list holds.
    pub fn len(&self) -> usize {
        self.ranges
            .iter()
            .map(|(a, b)| usize::from(*b) - usize::from(*a) + 1)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Every port, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.ranges.iter().flat_map(|&(a, b)| a..=b)
    }
}

impl fmt::Display for PortList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

fn parse_range(item: &str) -> Result<(u16, u16)> {
    match item.split_once('-') {
        Some((a, b)) if !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) => {
            if b.is_empty() {
                return err(format!("range '{}' has no end: {PORT_FORMS}", shown(item)));
            }
            let lo = parse_port_or_name(a, Proto::Tcp)?;
            let hi = parse_port_or_name(b, Proto::Tcp)?;
            if lo > hi {
                return err(format!(
                    "range '{}' is reversed (start above end); write {hi}-{lo}",
                    shown(item)
                ));
            }
            Ok((lo, hi))
        }
        _ => {
            let p = parse_port_or_name(item, Proto::Tcp)?;
            Ok((p, p))
        }
    }
}

/// What `netdiag port` is asked: a port, a range or a name, optionally with a protocol (`80/tcp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortQuery {
    pub what: PortWhat,
    #[serde(rename = "protocol")]
    pub proto: Option<Proto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortWhat {
    Port(u16),
    Range(u16, u16),
    Name(String),
}

impl PortQuery {
    pub fn parse(s: &str) -> Result<PortQuery> {
        const FORMS: &str =
            "expected PORT, PORT/PROTO (80/tcp), a range (8000-8010/tcp) or a service name (http)";
        let bad =
            |why: String| InputError(format!("invalid port spec '{}': {why}; {FORMS}", shown(s)));
        if s.is_empty() {
            return err(format!("empty port spec: {FORMS}"));
        }
        let (body, proto) = match s.rsplit_once('/') {
            Some((b, p)) => {
                let proto = Proto::parse(p).ok_or_else(|| {
                    bad(format!(
                        "unknown protocol '{}' (use tcp, udp, sctp or dccp)",
                        shown(p)
                    ))
                })?;
                (b, Some(proto))
            }
            None => (s, None),
        };
        if body.is_empty() {
            return Err(bad("missing port before '/'".into()));
        }
        let num = |t: &str| -> Result<u16> {
            match t.parse::<u32>() {
                Ok(n @ 1..=65535) if t.bytes().all(|b| b.is_ascii_digit()) => Ok(n as u16),
                _ => Err(bad(format!("'{}' is not a port number 1-65535", shown(t)))),
            }
        };
        let what = if body.bytes().all(|b| b.is_ascii_digit()) {
            PortWhat::Port(num(body)?)
        } else if body.bytes().next().is_some_and(|b| b.is_ascii_digit()) || body.starts_with('-') {
            match body.split_once('-') {
                Some((a, b)) => {
                    let (lo, hi) = (num(a)?, num(b)?);
                    if lo > hi {
                        return Err(bad(format!("range is reversed; write {hi}-{lo}")));
                    }
                    PortWhat::Range(lo, hi)
                }
                None => return Err(bad("not a port number or a range".into())),
            }
        } else if body.len() <= 64
            && body.is_ascii()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.*+/".contains(&b))
        {
            PortWhat::Name(body.to_string())
        } else {
            return Err(bad("not a port number or a service name".into()));
        };
        Ok(PortQuery { what, proto })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_ipv6_addresses_carry_their_scope_to_sockets() {
        let lo = crate::net::packet::interface_index("lo").unwrap();
        let t = Target::parse("fe80::1:77%lo").unwrap();
        assert_eq!(t.host, Host::Ip("fe80::1:77".parse().unwrap()));
        assert_eq!(t.port, None);
        let a = socket_addr("fe80::1:77".parse().unwrap(), 22);
        assert!(matches!(a, SocketAddr::V6(v6) if v6.scope_id() == lo && v6.port() == 22));

        let t = Target::parse("[fe80::1:78%7]:22").unwrap();
        assert_eq!(t.port, Some(22));
        let a = socket_addr("fe80::1:78".parse().unwrap(), 22);
        assert!(matches!(a, SocketAddr::V6(v6) if v6.scope_id() == 7));
        assert!(matches!(
            HostSpec::parse("fe80::1:79%1"),
            Ok(HostSpec::Target(_))
        ));

        // No scope typed: none given.
        let a = socket_addr("fe80::1:80".parse().unwrap(), 1);
        assert!(matches!(a, SocketAddr::V6(v6) if v6.scope_id() == 0));

        for (bad, says) in [
            ("fe80::1%nosuchif0", "unknown interface 'nosuchif0'"),
            ("[fe80::1%nosuchif0]:22", "unknown interface 'nosuchif0'"),
            ("fe80::1%", "empty scope"),
            ("10.0.0.1%eth0", "only follows an IPv6 address"),
            ("[fe80::1%99999999999]:22", "out of range"),
        ] {
            let e = Target::parse(bad).unwrap_err().0;
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn expand_hosts_is_the_one_cidr_expansion() {
        let specs: Vec<HostSpec> = ["10.0.0.0/30", "h.test:22", "10.0.0.1", "h.test:22"]
            .iter()
            .map(|s| HostSpec::parse(s).unwrap())
            .collect();
        assert_eq!(host_count(&specs), 7);
        let all = expand_hosts(&specs, 100, false).unwrap();
        let shown: Vec<String> = all.iter().map(Target::to_string).collect();
        // Every address of the block (nmap), the named target with its port, repeats dropped.
        assert_eq!(
            shown,
            ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "h.test:22"]
        );
        let hosts = expand_hosts(&specs, 100, true).unwrap();
        let shown: Vec<String> = hosts.iter().map(Target::to_string).collect();
        // fping -g: no network or broadcast address.
        assert_eq!(shown, ["10.0.0.1", "10.0.0.2", "h.test:22"]);
        let e = expand_hosts(&specs, 6, false).unwrap_err();
        assert!(
            e.0.contains("7 addresses") && e.0.contains("limit of 6"),
            "{e}"
        );
    }

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn targets() {
        assert_eq!(t("example.com").port, None);
        assert_eq!(t("example.com:80").port, Some(80));
        assert_eq!(
            t("127.0.0.1:443").host,
            Host::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!(t("[::1]:8080").port, Some(8080));
        assert_eq!(t("[::1]").port, None);
        assert_eq!(t("::1").host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(t("fe80::1").port, None);
        assert_eq!(t("localhost.").host, Host::Name("localhost.".into()));
    }

    #[test]
    fn bad_targets_name_the_input() {
        for bad in [
            "",
            ":80",
            "host:",
            "host:99999",
            "host:0",
            "[::1",
            "[::1]x",
            "[zz]:80",
            "a..b",
            "-a.com",
            "a b",
            "1.2.3.4.5",
            "999.1.1.1",
            "::1::2",
            "host:-1",
            "ex\u{e4}mple.com",
        ] {
            let e = Target::parse(bad).unwrap_err().0;
            assert!(!e.contains('\n'), "{bad}: {e}");
            assert!(
                e.contains("expected")
                    || e.contains("punycode")
                    || e.contains("valid")
                    || e.contains("allowed")
                    || e.contains("label"),
                "{bad}: {e}"
            );
        }
        let long = "a".repeat(300);
        assert!(Target::parse(&long).unwrap_err().0.contains("253"));
        let label = format!("{}.com", "b".repeat(64));
        assert!(Target::parse(&label).unwrap_err().0.contains("63"));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "example.com",
            "example.com:80",
            "[::1]:8080",
            "::1",
            "10.0.0.1:22",
        ] {
            assert_eq!(t(s).to_string(), s);
            assert_eq!(t(&t(s).to_string()), t(s));
        }
    }

    #[test]
    fn port_lists_sort_and_merge() {
        let p = PortList::parse("80,22,8000-8100,81").unwrap();
        assert_eq!(p.ranges(), &[(22, 22), (80, 81), (8000, 8100)]);
        assert_eq!(p.len(), 1 + 2 + 101);
        assert_eq!(p.to_string(), "22,80-81,8000-8100");
        assert_eq!(PortList::parse("1-65535").unwrap().len(), 65535);
    }

    #[test]
    fn bad_port_lists() {
        for bad in [
            "",
            "0",
            "65536",
            "100-10",
            "1,,2",
            "0-",
            "-1",
            "1-",
            "abc!",
            "22,",
            "99999999999",
        ] {
            let e = PortList::parse(bad).unwrap_err().0;
            assert!(!e.contains('\n'), "{bad}: {e}");
            assert!(
                e.contains("expected") || e.contains("reversed"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn cidr_blocks() {
        let c = Cidr::parse("127.0.0.1/30").unwrap();
        assert_eq!(c.to_string(), "127.0.0.0/30");
        let a = c.addresses(1024).unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(a[3], "127.0.0.3".parse::<IpAddr>().unwrap());
        assert_eq!(Cidr::parse("::1/128").unwrap().len(), 1);
        assert_eq!(Cidr::parse("::/0").unwrap().len(), u128::MAX);
        assert!(Cidr::parse("10.0.0.0/8").unwrap().addresses(65536).is_err());
        for bad in [
            "1.2.3.4/33",
            "1.2.3.4/",
            "x/24",
            "/24",
            "::/129",
            "1.2.3.4/-1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_queries() {
        let q = PortQuery::parse("80/tcp").unwrap();
        assert_eq!(q.what, PortWhat::Port(80));
        assert_eq!(q.proto, Some(Proto::Tcp));
        assert_eq!(PortQuery::parse("53").unwrap().proto, None);
        assert_eq!(
            PortQuery::parse("8000-8010/udp").unwrap().what,
            PortWhat::Range(8000, 8010)
        );
        assert_eq!(
            PortQuery::parse("http").unwrap().what,
            PortWhat::Name("http".into())
        );
        for bad in [
            "", "80/xyz", "/tcp", "0", "65536", "-1", "0-", "10-5", "a b", "80/",
        ] {
            assert!(PortQuery::parse(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod props {
    //! Round trips: display(parse(x)) parses back to the same value (issue 8).
    use super::*;
    use proptest::prelude::*;

    fn host() -> impl Strategy<Value = Host> {
        prop_oneof![
            any::<u32>().prop_map(|n| Host::Ip(IpAddr::V4(Ipv4Addr::from(n)))),
            any::<u128>().prop_map(|n| Host::Ip(IpAddr::V6(Ipv6Addr::from(n)))),
            "[a-z]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,20}[a-z0-9])?){0,4}"
                .prop_map(Host::Name),
        ]
    }

    proptest! {
        #[test]
        fn target_round_trips(h in host(), port in proptest::option::of(1u16..)) {
            let t = Target { host: h, port };
            let shown = t.to_string();
            prop_assert_eq!(Target::parse(&shown).unwrap(), t);
        }

        #[test]
        fn port_list_round_trips(ranges in proptest::collection::vec((1u16.., 0u16..300), 1..20)) {
            let ranges: Vec<(u16, u16)> =
                ranges.into_iter().map(|(a, w)| (a, a.saturating_add(w))).collect();
            let list = PortList::from_ranges(ranges);
            let shown = list.to_string();
            let back = PortList::parse(&shown).unwrap();
            prop_assert_eq!(back.len(), list.len());
            prop_assert_eq!(back, list);
        }

        #[test]
        fn cidr_round_trips(n in any::<u32>(), p in 0u8..=32, m in any::<u128>(), q in 0u8..=128) {
            for c in [Cidr::parse(&format!("{}/{p}", Ipv4Addr::from(n))).unwrap(),
                      Cidr::parse(&format!("{}/{q}", Ipv6Addr::from(m))).unwrap()] {
                prop_assert_eq!(Cidr::parse(&c.to_string()).unwrap(), c);
            }
        }

        /// Strings as users type them, not values: whatever parses displays to a form that parses back to it.
        #[test]
        fn parsed_strings_round_trip(s in "[a-z0-9.:\\[\\]/,-]{1,40}") {
            if let Ok(t) = Target::parse(&s) {
                prop_assert_eq!(Target::parse(&t.to_string()).unwrap(), t);
            }
            if let Ok(p) = PortList::parse(&s) {
                prop_assert_eq!(PortList::parse(&p.to_string()).unwrap(), p);
            }
            if let Ok(c) = Cidr::parse(&s) {
                prop_assert_eq!(Cidr::parse(&c.to_string()).unwrap(), c);
            }
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = Target::parse(&s);
            let _ = PortList::parse(&s);
            let _ = PortQuery::parse(&s);
            let _ = HostSpec::parse(&s);
            let _ = crate::duration::parse(&s);
        }
    }
}
