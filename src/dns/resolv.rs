//! The system's DNS configuration: the nameservers of /etc/resolv.conf (parsed here, by the one resolv.conf
//! parser, which diagnose's machine check uses too) and the names /etc/hosts answers before DNS is asked.

use std::net::IpAddr;

use serde::Serialize;

use super::model::{Protocol, Server};
use crate::explain::{self, Explanation};
use crate::target::Family;

/// Where the resolver configuration lives.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// Where static names live.
pub const HOSTS: &str = "/etc/hosts";

/// What /etc/resolv.conf says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// Parses resolv.conf text: `nameserver`, `search`/`domain` and `options` lines; comments (`#`, `;`) and
/// anything else are ignored. Never panics.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut rc = ResolvConf::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ns) = words.next() {
                    // glibc uses at most 3 (MAXNS); more are listed but flagged by the caller.
                    rc.nameservers.push(ns.to_string());
                }
            }
            // The last search/domain line wins, as in glibc.
            Some("search") | Some("domain") => rc.search = words.map(str::to_string).collect(),
            Some("options") => rc.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    rc
}

/// A nameserver line as an address: `192.0.2.53`, `2001:db8::53`, `fe80::1%eth0` (the zone is dropped: the
/// kernel picks the interface of the link-local route). `None` for anything else.
pub fn nameserver_address(s: &str) -> Option<IpAddr> {
    s.split('%').next()?.parse().ok()
}

/// The nameservers the system resolver asks, in order, on `protocol`'s default port; at most the 3 glibc uses.
pub fn system_servers(family: Family, protocol: Protocol) -> Result<Vec<Server>, Explanation> {
    let text = std::fs::read_to_string(RESOLV_CONF).unwrap_or_default();
    let rc = parse_resolv_conf(&text);
    let servers: Vec<Server> = rc
        .nameservers
        .iter()
        .filter_map(|s| nameserver_address(s))
        .filter(|ip| family.matches(ip))
        .take(3)
        .map(|ip| Server::new(ip, protocol))
        .collect();
    if servers.is_empty() {
        return Err(explain::dns::no_nameserver(RESOLV_CONF));
    }
    Ok(servers)
}

/// The addresses /etc/hosts gives `name` (case-insensitive, trailing dot ignored), in file order.
pub fn hosts_addresses(name: &str) -> Vec<IpAddr> {
    let text = std::fs::read_to_string(HOSTS).unwrap_or_default();
    hosts_lookup(&text, name)
}

/// Looks `name` up in hosts-file text: `ADDRESS NAME [ALIAS...]` lines, `#` comments. Never panics.
pub fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let want = name.trim_end_matches('.');
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(ip) = words.next().and_then(nameserver_address) else {
            continue;
        };
        if words.any(|w| w.trim_end_matches('.').eq_ignore_ascii_case(want)) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_match_names_and_aliases() {
        let text = "127.0.0.1 localhost\n# 10.0.0.1 web.test\n10.0.0.2 Web.Test alias.test # comment\n::1 localhost ip6-localhost\nbogus line\n";
        assert_eq!(
            hosts_lookup(text, "web.test."),
            vec!["10.0.0.2".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(hosts_lookup(text, "alias.test").len(), 1);
        assert_eq!(hosts_lookup(text, "localhost").len(), 2);
        assert!(hosts_lookup(text, "nothere.test").is_empty());
    }

    #[test]
    fn nameserver_lines_with_zones() {
        assert_eq!(
            nameserver_address("fe80::1%eth0"),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(nameserver_address("dns.example"), None);
    }
}
