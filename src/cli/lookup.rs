//! `netdiag lookup` flags: the system resolver (getaddrinfo), or direct DNS when a record type, a server, a
//! transport or a DNS option is given.

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use hickory_proto::rr::RecordType;
use netdiag::dns::{self, input, Protocol, QueryOptions, Question, Servers};
use netdiag::exit::Outcome;
use netdiag::lookup::{self, LookupRequest};
use netdiag::render::Output;
use netdiag::target::{Family, Host, InputError};

#[derive(Debug, Args)]
#[command(after_help = "\
Two ways to look up:
  System resolver (the default): what every program on this machine gets, through getaddrinfo:
  /etc/hosts, then the nameservers of /etc/resolv.conf, as nsswitch.conf says.
  Direct DNS: netdiag asks a nameserver itself and shows the whole answer (sections, TTLs, rcode,
  flags, EDNS, extended errors, server, time, size). It starts as soon as a record type, @SERVER,
  --server, -x, --tcp, --tls, --https, --trace, --root, --all-servers or a DNS option (--class,
  --no-recurse, --dnssec, --cd, --bufsize, --no-edns, --ignore-tc) is given. Without a server it
  asks the nameservers of /etc/resolv.conf in turn, as dig does; names are absolute (no search list).

Words after the first name are record types (A, MX, ...) or classes (IN, CH) when they are one;
an address is asked as its PTR name. Servers: ADDRESS[:PORT], [IPv6]:PORT, NAME, tcp://...,
tls://... (DNS over TLS, port 853) or https://HOST/PATH (DNS over HTTPS, RFC 8484).

Examples (127.0.0.1 is your own local resolver):
  netdiag lookup localhost                        the system resolver, as programs see it
  netdiag lookup example.test MX @127.0.0.1       one question to one server, the whole answer
  netdiag lookup example.test A AAAA TXT --short  the answer data only, one per line
  netdiag lookup -x 127.0.0.1 @127.0.0.1          the PTR record of an address
  netdiag lookup example.test @tls://127.0.0.1 --cacert ca.pem   DNS over TLS
  netdiag lookup example.test --all-servers       every resolv.conf nameserver side by side
  netdiag lookup www.example.test --trace --root 127.0.0.1:5300  follow the delegations

Exit 0 when every question got records, 1 when one did not (NXDOMAIN, NODATA, SERVFAIL,
REFUSED, timeout, unreachable) or --all-servers found a failure or a disagreement, 2 on bad input.")]
pub struct LookupArgs {
    /// Names to resolve or addresses to reverse-resolve; in direct DNS also record types, classes and
    /// @SERVER. With none, this machine's hostname, FQDN and addresses.
    #[arg(value_name = "NAME|ADDRESS|TYPE|@SERVER", allow_hyphen_values = false)]
    pub queries: Vec<String>,

    /// IPv4 addresses only (system resolver); IPv4 nameservers only (direct DNS).
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 addresses only (system resolver); IPv6 nameservers only (direct DNS).
    #[arg(short = '6')]
    pub ipv6: bool,

    /// Record types to ask for (repeat, or comma-separated): A, AAAA, CNAME, MX, NS, SOA, TXT, SRV, PTR,
    /// CAA, HTTPS, SVCB, DS, DNSKEY, ANY or TYPEnnn. Default A.
    #[arg(short = 't', long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,

    /// The nameserver to ask (repeat to ask several); same forms as @SERVER.
    #[arg(long = "server", value_name = "SERVER")]
    pub servers: Vec<String>,

    /// Ask for the PTR record of the addresses given (as dig -x).
    #[arg(short = 'x', long = "reverse")]
    pub reverse: bool,

    /// The class: IN (default), CH or HS.
    #[arg(long, value_name = "CLASS")]
    pub class: Option<String>,

    /// Ask over TCP.
    #[arg(long, conflicts_with_all = ["tls", "https"])]
    pub tcp: bool,

    /// Ask over TLS (DNS over TLS, RFC 7858; port 853 unless given).
    #[arg(long, conflicts_with = "https")]
    pub tls: bool,

    /// Ask over HTTPS (DNS over HTTPS, RFC 8484; https://SERVER/dns-query unless a URL is given).
    #[arg(long)]
    pub https: bool,

    /// Print only the answer data, one record per line (as dig +short); failures go to stderr.
    #[arg(long)]
    pub short: bool,

    /// Ask every nameserver of /etc/resolv.conf (and any @SERVER) at once and compare their answers with
    /// each other, with the system resolver and with /etc/hosts.
    #[arg(long, conflicts_with_all = ["trace", "short"])]
    pub all_servers: bool,

    /// Follow the delegations from the root down to the answer, one row per server asked (as dig +trace).
    #[arg(long, conflicts_with_all = ["tls", "https", "short"])]
    pub trace: bool,

    /// Start --trace at this root server instead of the root hints (repeat for several). Implies --trace.
    #[arg(long, value_name = "ADDR[:PORT]", conflicts_with_all = ["tls", "https", "all_servers", "short"])]
    pub root: Vec<String>,

    /// How long to wait for each server: resolving its name, connecting, every UDP retry and the TCP retry
    /// of a truncated answer.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::cli::args::duration_arg)]
    pub timeout: Duration,

    /// Do not ask the server to recurse (clear RD), as dig +norecurse.
    #[arg(long)]
    pub no_recurse: bool,

    /// Ask for DNSSEC records (set the DO bit).
    #[arg(long)]
    pub dnssec: bool,

    /// Set CD (checking disabled): a validating resolver answers even when DNSSEC validation fails.
    #[arg(long)]
    pub cd: bool,

    /// The EDNS UDP payload size to offer (512-65535).
    #[arg(long, value_name = "BYTES", default_value_t = dns::message::DEFAULT_BUFSIZE, value_parser = clap::value_parser!(u16).range(512..))]
    pub bufsize: u16,

    /// Send no EDNS record (plain RFC 1035 queries, 512-byte UDP answers).
    #[arg(long, conflicts_with_all = ["dnssec"])]
    pub no_edns: bool,

    /// Show a truncated UDP answer as it is instead of asking again over TCP.
    #[arg(long)]
    pub ignore_tc: bool,

    /// TLS and HTTPS: do not verify the server's certificate (it is still shown).
    #[arg(long, short = 'k')]
    pub insecure: bool,

    /// TLS and HTTPS: trust the CA certificates in this PEM file instead of the bundled roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
}

impl LookupArgs {
    /// True when direct DNS is asked for (see the help text for the rule).
    fn direct(&self) -> bool {
        !self.types.is_empty()
            || !self.servers.is_empty()
            || self.reverse
            || self.class.is_some()
            || self.tcp
            || self.tls
            || self.https
            || self.all_servers
            || self.trace
            || !self.root.is_empty()
            || self.no_recurse
            || self.dnssec
            || self.cd
            || self.bufsize != dns::message::DEFAULT_BUFSIZE
            || self.no_edns
            || self.ignore_tc
            || self.cacert.is_some()
            || self.insecure
            || self.queries.iter().skip(1).any(|w| {
                w.starts_with('@')
                    || input::type_word(w).is_some()
                    || input::class_word(w).is_some()
            })
            || self.queries.first().is_some_and(|w| w.starts_with('@'))
    }

    fn forced(&self) -> Option<Protocol> {
        if self.tcp {
            Some(Protocol::Tcp)
        } else if self.tls {
            Some(Protocol::Tls)
        } else if self.https {
            Some(Protocol::Https)
        } else {
            None
        }
    }
}

pub fn run(args: LookupArgs, out: &Output) -> Result<Outcome> {
    let family = Family::from_flags(args.ipv4, args.ipv6);
    if args.direct() {
        netdiag::interrupt::install();
        return direct(args, family, out);
    }
    if args.short && args.queries.is_empty() {
        bail!(InputError("--short needs a name to look up".into()));
    }
    if args.queries.is_empty() {
        return Ok(out.print(&lookup::local(family)?)?);
    }
    for q in &args.queries {
        Host::parse(q)?;
    }
    let report = lookup::lookup(&LookupRequest {
        queries: args.queries,
        family,
    });
    if args.short && !out.is_json() {
        return short_system(&report);
    }
    Ok(out.print(&report)?)
}

/// `--short` through the system resolver: the addresses (or names) one per line; failures on stderr.
fn short_system(report: &lookup::LookupReport) -> Result<Outcome> {
    let mut o = std::io::stdout().lock();
    for r in &report.results {
        for a in &r.addresses {
            if r.kind == "forward" {
                writeln!(o, "{}", a.address)?;
            }
        }
        for n in &r.names {
            writeln!(o, "{n}")?;
        }
        if let Some(e) = &r.explanation {
            let _ = writeln!(
                std::io::stderr(),
                "netdiag: {}: {} ({})",
                r.query,
                e.cause,
                e.code
            );
        }
    }
    Ok(Outcome::all([report.ok()]))
}

/// The words of a direct lookup, sorted out.
struct Words {
    /// Each name (or address, flagged) with the types written after it, as dig binds them.
    names: Vec<(String, bool, Vec<RecordType>)>,
    /// `--type`: for the names with no type of their own.
    types: Vec<RecordType>,
    class: Option<hickory_proto::rr::DNSClass>,
    servers: Vec<String>,
}

fn sort_words(args: &LookupArgs) -> Result<Words> {
    let mut w = Words {
        names: Vec::new(),
        types: Vec::new(),
        class: None,
        servers: args.servers.clone(),
    };
    for word in &args.queries {
        if let Some(s) = word.strip_prefix('@') {
            w.servers.push(s.to_string());
        } else if let Some(t) = input::type_word(word).filter(|_| !w.names.is_empty()) {
            let t = input::check_type(t, word)?;
            if let Some(last) = w.names.last_mut() {
                last.2.push(t);
            }
        } else if let Some(c) = input::class_word(word).filter(|_| !w.names.is_empty()) {
            w.class = Some(c);
        } else {
            w.names
                .push((word.clone(), word.parse::<IpAddr>().is_ok(), Vec::new()));
        }
    }
    for t in &args.types {
        w.types.push(input::parse_type(t)?);
    }
    if let Some(c) = &args.class {
        w.class = Some(input::parse_class(c)?);
    }
    if w.names.is_empty() {
        bail!(InputError(
            "no name to look up: give a NAME (or an ADDRESS with -x), e.g. netdiag lookup example.test MX @127.0.0.1".into()
        ));
    }
    Ok(w)
}

/// The questions: every name with every type (A by default); addresses as PTR questions.
fn questions(w: &Words, reverse: bool) -> Result<Vec<Question>> {
    let mut qs = Vec::new();
    for (word, is_addr, own) in &w.names {
        let (name, types) = if *is_addr && own.is_empty() {
            let ip: IpAddr = word.parse()?;
            (input::reverse_name(ip), vec![RecordType::PTR])
        } else {
            if reverse {
                bail!(InputError(format!(
                    "-x needs an address to reverse, not '{}'",
                    netdiag::target::shown(word)
                )));
            }
            let types = match (own.is_empty(), w.types.is_empty()) {
                (false, _) => own.clone(),
                (true, false) => w.types.clone(),
                (true, true) => vec![RecordType::A],
            };
            (input::parse_name(word)?, types)
        };
        for t in types {
            let mut q = Question::new(name.clone(), t);
            if let Some(c) = w.class {
                q.class = c;
            }
            qs.push(q);
        }
    }
    Ok(qs)
}

fn direct(args: LookupArgs, family: Family, out: &Output) -> Result<Outcome> {
    let w = sort_words(&args)?;
    let questions = questions(&w, args.reverse)?;
    let forced = args.forced();
    let servers: Vec<dns::Server> = w
        .servers
        .iter()
        .map(|s| input::parse_server(s, forced))
        .collect::<Result<_, _>>()?;
    let options = query_options(&args, family)?;
    if args.trace || !args.root.is_empty() {
        return trace(&args, questions, &servers, options, out);
    }
    let protocol = forced.unwrap_or(Protocol::Udp);
    if args.all_servers {
        let report = dns::compare::compare(&dns::compare::CompareRequest {
            questions,
            servers: all_servers(servers, family, protocol)?,
            options,
            system: true,
        });
        return Ok(out.print(&report)?);
    }
    let servers = if servers.is_empty() {
        match dns::resolv::system_servers(family, protocol) {
            Ok(l) => Servers::InTurn(l),
            Err(e) => Servers::Unavailable(e),
        }
    } else {
        Servers::Each(servers)
    };
    let mut report = dns::lookup(&dns::DnsRequest {
        questions,
        servers,
        options,
    });
    report.short = args.short;
    let outcome = out.print(&report)?;
    if args.short && !out.is_json() {
        short_failures(&report);
    }
    Ok(outcome)
}

/// How each query is asked: the DNS flags, the timeout, TLS and the address family.
fn query_options(args: &LookupArgs, family: Family) -> Result<QueryOptions> {
    let tls = netdiag::http::TlsOptions::from_flags(args.insecure, args.cacert.as_deref())?;
    Ok(QueryOptions {
        flags: dns::QueryFlags {
            recurse: !args.no_recurse,
            checking_disabled: args.cd,
            edns: (!args.no_edns).then_some(args.bufsize),
            dnssec: args.dnssec,
        },
        timeout: args.timeout,
        tcp_fallback: !args.ignore_tc,
        tls,
        family,
    })
}

/// --trace and --root: from the root hints (or the given roots) down to the answer.
fn trace(
    args: &LookupArgs,
    questions: Vec<Question>,
    servers: &[dns::Server],
    options: QueryOptions,
    out: &Output,
) -> Result<Outcome> {
    if !servers.is_empty() {
        bail!(InputError(
            "--trace starts at the root hints or at --root ADDR, not at @SERVER: use --root ADDR for a private root".into()
        ));
    }
    let roots = args
        .root
        .iter()
        .map(|r| dns::trace::parse_root(r))
        .collect::<Result<Vec<_>, _>>()?;
    let report = dns::trace::trace(&dns::trace::TraceRequest {
        questions,
        roots,
        options,
    });
    Ok(out.print(&report)?)
}

/// --all-servers: the nameservers of /etc/resolv.conf, then the given ones (without any, resolv.conf must
/// have some).
fn all_servers(
    given: Vec<dns::Server>,
    family: Family,
    protocol: Protocol,
) -> Result<Vec<dns::Server>> {
    let mut list = match dns::resolv::system_servers(family, protocol) {
        Ok(l) => l,
        Err(e) if given.is_empty() => {
            bail!(InputError(format!("--all-servers: {}; {}", e.cause, e.fix)))
        }
        Err(_) => Vec::new(),
    };
    list.extend(given);
    Ok(list)
}

/// --short prints the answer data only: each failed query gets a line on stderr.
fn short_failures(report: &dns::DnsReport) {
    for r in report.results.iter().filter(|r| !r.ok()) {
        if let Some(e) = &r.explanation {
            let _ = writeln!(
                std::io::stderr(),
                "netdiag: {} @{}: {}: {} ({})",
                r.question.describe(),
                r.server_label,
                r.status,
                e.cause,
                e.code
            );
        }
    }
}
