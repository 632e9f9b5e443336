//! The target's address, chosen as blackbox's `chooseProtocol` does, with the metrics it sets.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::config::IpProtocol;
use super::model::ProbeOut;
use crate::target::{Family, Host};

/// blackbox's `probe_ip_addr_hash`: FNV-1a (32 bit) over the address bytes (4 for IPv4), so a change of
/// address shows as a change of value.
pub fn ip_hash(ip: IpAddr) -> f64 {
    let bytes = match ip {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    };
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    f64::from(h)
}

/// Resolves the target's host as blackbox's `chooseProtocol` does: an address of the preferred family, else
/// (with `fallback`) one of the other; sets `probe_dns_lookup_time_seconds`, `probe_ip_protocol` and
/// `probe_ip_addr_hash`. Returns the address and the time the lookup took.
pub fn choose_ip(
    host: &Host,
    preferred: IpProtocol,
    fallback: bool,
    out: &mut ProbeOut,
) -> Option<(IpAddr, Duration)> {
    let start = Instant::now();
    let (want, other) = match preferred {
        IpProtocol::Ip4 => (Family::V4, Family::V6),
        IpProtocol::Ip6 => (Family::V6, Family::V4),
    };
    out.log(format!(
        "resolving target address: {host} (preferred {})",
        match preferred {
            IpProtocol::Ip4 => "ip4",
            IpProtocol::Ip6 => "ip6",
        }
    ));
    let asked = if fallback { Family::Any } else { want };
    let result = crate::resolve::resolve(host, asked).and_then(|addrs| {
        addrs
            .iter()
            .find(|a| want.matches(a))
            .or_else(|| addrs.iter().find(|a| fallback && other.matches(a)))
            .copied()
            .ok_or_else(|| crate::explain::resolver(crate::explain::EAI_ADDRFAMILY))
    });
    let took = start.elapsed();
    out.samples.gauge(
        "probe_dns_lookup_time_seconds",
        "Returns the time taken for probe dns lookup in seconds",
        took.as_secs_f64(),
    );
    match result {
        Ok(ip) => {
            out.log(format!(
                "resolved target address: {ip} in {}",
                crate::duration::fmt_ms(took)
            ));
            out.samples.gauge(
                "probe_ip_protocol",
                "Specifies whether probe ip protocol is IP4 or IP6",
                if ip.is_ipv4() { 4.0 } else { 6.0 },
            );
            out.samples.gauge(
                "probe_ip_addr_hash",
                "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
                ip_hash(ip),
            );
            Some((ip, took))
        }
        Err(e) => {
            out.samples.gauge(
                "probe_ip_protocol",
                "Specifies whether probe ip protocol is IP4 or IP6",
                0.0,
            );
            out.samples.gauge(
                "probe_ip_addr_hash",
                "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
                0.0,
            );
            out.fail("resolve", e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_hash_is_fnv1a_of_the_address_bytes() {
        // FNV-1a 32 of the bytes 127.0.0.1, as Go's hash/fnv computes it.
        assert_eq!(ip_hash("127.0.0.1".parse().unwrap()), 3_668_918_509.0);
        assert_ne!(
            ip_hash("127.0.0.1".parse().unwrap()),
            ip_hash("127.0.0.2".parse().unwrap())
        );
    }

    #[test]
    fn choose_ip_prefers_the_family_and_falls_back() {
        let mut out = ProbeOut::default();
        let host = Host::Ip("127.0.0.1".parse().unwrap());
        let (ip, _) = choose_ip(&host, IpProtocol::Ip6, true, &mut out).unwrap();
        assert_eq!(ip.to_string(), "127.0.0.1");
        assert_eq!(out.samples.get("probe_ip_protocol"), Some(4.0));
        let mut out = ProbeOut::default();
        assert!(choose_ip(&host, IpProtocol::Ip6, false, &mut out).is_none());
        let f = out.failure.unwrap();
        assert_eq!(
            (f.layer, f.explanation.code.as_str()),
            ("resolve", "EAI_ADDRFAMILY")
        );
    }
}
