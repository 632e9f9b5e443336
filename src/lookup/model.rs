//! Lookup's types: the request, the answer per query, and this machine's names and addresses.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::explain::Explanation;
use crate::target::Family;

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

/// One CNAME record of a chain: `name` is an alias of `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CnameLink {
    pub name: String,
    pub target: String,
}

/// The answer for one query.
#[derive(Debug, Clone, Serialize)]
pub struct LookupResult {
    pub query: String,
    /// True when the lookup found an answer.
    pub ok: bool,
    /// `forward` (name → addresses) or `reverse` (address → name).
    pub kind: &'static str,
    /// The canonical name the resolver gave (getaddrinfo's AI_CANONNAME), as it gave it.
    pub canonical_name: Option<String>,
    /// The name the resolver actually asked, when the search list expanded the query (`web` asked as
    /// `web.lab.test`); null when the query was asked as typed (or it is unknown).
    pub queried_name: Option<String>,
    /// The CNAME chain from the name asked to the canonical name, one link per record, as DNS gives it (asked
    /// directly of the configured nameservers, only when the canonical name differs from the name asked).
    /// Empty when there is no CNAME.
    pub cname_chain: Vec<CnameLink>,
    pub addresses: Vec<Address>,
    /// The name found by a reverse lookup.
    pub names: Vec<String>,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "elapsed_ms")]
    pub elapsed: Duration,
    /// Why the lookup found nothing.
    pub explanation: Option<Explanation>,
}

impl LookupResult {
    /// A forward lookup of `query` with no answer yet.
    pub fn new(query: &str) -> LookupResult {
        LookupResult {
            query: query.to_string(),
            ok: false,
            kind: "forward",
            canonical_name: None,
            queried_name: None,
            cname_chain: Vec::new(),
            addresses: Vec::new(),
            names: Vec::new(),
            elapsed: Duration::ZERO,
            explanation: None,
        }
    }
}

/// The answer for every query.
#[derive(Debug, Clone, Serialize)]
pub struct LookupReport {
    pub results: Vec<LookupResult>,
}

impl LookupReport {
    pub fn ok(&self) -> bool {
        self.results.iter().all(|r| r.ok)
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
    /// Why the hostname does not resolve.
    pub explanation: Option<Explanation>,
    /// Addresses on the interfaces.
    pub addresses: Vec<LocalAddress>,
}

impl SelfReport {
    pub fn ok(&self) -> bool {
        self.explanation.is_none()
    }
}
