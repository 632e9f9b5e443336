//! `netdiag sockets` flags: which sockets (protocol, family, state, port, process) and which columns.

use std::io::Write;

use anyhow::{anyhow, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::render::Output;
use netdiag::sockets::{self, SocketsRequest, Source, State, SummaryReport};
use netdiag::target::{Family, PortList};

/// Environment variable that picks the socket-table source (auto, netlink, proc), like the hidden --source.
const SOURCE_ENV: &str = "NETDIAG_SOCKETS_SOURCE";

#[derive(Debug, Args)]
#[command(after_help = "\
With no protocol flag, TCP and UDP sockets in every state are listed (like `ss -tua`). Filters combine: \
`-tl --port 22` lists TCP listeners on port 22. ss/netstat habits such as `-tanp` work.

FILTER, as ss takes it: [state STATE | exclude STATE]... [EXPRESSION]
  STATE: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait,
    closed, close-wait, last-ack, listening, closing, or a group: all,
    connected, synchronized, bucket, big. These replace what -l selects.
  EXPRESSION: conditions joined by and (&&, or nothing), or (||), not (!)
    and parentheses. As in ss, and/or have equal precedence and group left to
    right: use parentheses. Quote ( ) < > ! for the shell.
    src|dst ADDR[/PREFIX][:PORT]   also [IPV6]:PORT, *:PORT, :PORT
    sport|dport OP PORT            PORT: 22, :22, :ssh; OP: = == eq != ne neq
                                   < lt > gt <= le leq >= ge geq
    dev NAME, dev != NAME, autobound

Examples:
  netdiag sockets -tl            what is listening on TCP
  netdiag sockets -tp --port 443 who holds connections to or from port 443
  netdiag sockets --state time-wait,close-wait
  netdiag sockets -tn sport = :22
  netdiag sockets -t '( dport = :443 or dport = :80 )'
  netdiag sockets -tan dst 10.0.0.0/8 and not sport = :22
  netdiag sockets -t state established '( sport = :ssh )'
  netdiag sockets -s             counts from the kernel's counters (ss -s)
  netdiag sockets -s -t          counts TCP sockets per state")]
pub struct SocketsArgs {
    /// TCP sockets.
    #[arg(short, long)]
    pub tcp: bool,

    /// UDP sockets.
    #[arg(short, long)]
    pub udp: bool,

    /// UNIX domain sockets.
    #[arg(short = 'x', long)]
    pub unix: bool,

    /// Only listening sockets (TCP and UNIX listeners, unconnected UDP sockets).
    #[arg(short, long)]
    pub listening: bool,

    /// Sockets in every state; this is the default, accepted for ss/netstat habits.
    #[arg(short, long)]
    pub all: bool,

    /// Only sockets in these states (established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, close,
    /// close-wait, last-ack, listen, closing, unconn); repeat or separate with commas.
    #[arg(long, value_name = "STATE", value_delimiter = ',')]
    pub state: Vec<String>,

    /// Only sockets whose local or remote port is one of these (22, 8000-8100, 22,80, http).
    #[arg(long, value_name = "PORTS")]
    pub port: Vec<String>,

    /// Only sockets held by these processes (shows the owner columns).
    #[arg(long, value_name = "PID", value_delimiter = ',')]
    pub pid: Vec<u32>,

    /// IPv4 sockets only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 sockets only.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// Show the owning process (pid and program) of each socket; other users' processes need root.
    #[arg(short, long)]
    pub processes: bool,

    /// TCP internals from tcp_info: rtt, rto, cwnd, ssthresh, retransmits.
    #[arg(short, long)]
    pub info: bool,

    /// Show socket timers (on, keepalive, timewait, persist) and time left.
    #[arg(short = 'o', long)]
    pub timers: bool,

    /// Show port names from the bundled services table (127.0.0.1:ssh) instead of numbers.
    #[arg(long)]
    pub services: bool,

    /// Resolve addresses to host names (reverse lookups through the system resolver).
    #[arg(long)]
    pub resolve: bool,

    /// Numeric addresses and ports; this is the default, accepted for ss/netstat habits.
    #[arg(short, long)]
    pub numeric: bool,

    /// Count sockets from the kernel's counters, as `ss -s` does; with filters
    /// (-t, -u, -x, -l, -4, -6, --state, --port, --pid, FILTER) count the matching
    /// sockets per protocol and state instead.
    #[arg(short, long)]
    pub summary: bool,

    /// Where to read the socket table: netlink (as ss does), proc (/proc/net, as netstat does) or auto.
    #[arg(long, hide = true, value_name = "SOURCE")]
    pub source: Option<String>,

    /// ss's filter: `state STATE`/`exclude STATE` words, then an expression such as `sport = :22`,
    /// `dst 10.0.0.0/8`, `not dport = :443` (see below).
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// Turns the flags into a request.
fn request(a: &SocketsArgs) -> Result<SocketsRequest> {
    let states = a
        .state
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| State::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let ports = if a.port.is_empty() {
        None
    } else {
        let mut ranges = Vec::new();
        for p in &a.port {
            ranges.extend_from_slice(PortList::parse(p)?.ranges());
        }
        Some(PortList::from_ranges(ranges))
    };
    let source = match a.source.clone().or_else(|| std::env::var(SOURCE_ENV).ok()) {
        None => Source::Auto,
        Some(s) => Source::parse(&s).ok_or_else(|| {
            anyhow!(
                "invalid socket source '{}': expected auto, netlink or proc",
                netdiag::target::shown(&s)
            )
        })?,
    };
    let none = !a.tcp && !a.udp && !a.unix;
    let filter = sockets::filter::SsFilter::parse(
        &a.filter,
        sockets::filter::ParseCtx {
            tcp: a.tcp || none,
            udp: a.udp || none,
            family: Family::from_flags(a.ipv4, a.ipv6),
        },
    )?;
    Ok(SocketsRequest {
        tcp: a.tcp || none,
        udp: a.udp || none,
        unix: a.unix,
        family: Family::from_flags(a.ipv4, a.ipv6),
        listening: a.listening,
        states,
        ports,
        pids: a.pid.clone(),
        processes: a.processes,
        services: a.services,
        resolve: a.resolve,
        info: a.info,
        timers: a.timers,
        source,
        filter,
    })
}

/// True when no flag narrows the sockets: `-s` then reads the kernel's counters instead of walking the table.
fn unfiltered(a: &SocketsArgs) -> bool {
    !(a.tcp
        || a.udp
        || a.unix
        || a.listening
        || a.ipv4
        || a.ipv6
        || a.processes
        || a.info
        || a.timers
        || !a.state.is_empty()
        || !a.port.is_empty()
        || !a.pid.is_empty()
        || !a.filter.is_empty()
        || a.source.is_some())
}

pub fn run(args: SocketsArgs, out: &Output) -> Result<Outcome> {
    let req = request(&args)?;
    #[cfg(target_os = "linux")]
    if args.summary && unfiltered(&args) && std::env::var_os(SOURCE_ENV).is_none() {
        return Ok(out.print(&sockets::procnet::read_counters()?)?);
    }
    // Ctrl-C during the owner walk stops it; what was found is printed and the exit code is 130.
    netdiag::interrupt::install();
    let report = sockets::list(&req)?;
    let notes = report.notes.clone();
    let outcome = if args.summary {
        out.print(&SummaryReport::from_report(&report))?
    } else {
        out.print(&report)?
    };
    // JSON carries the notes; text and CSV get them on stderr.
    if !out.is_json() {
        let mut err = std::io::stderr().lock();
        for n in &notes {
            let _ = writeln!(err, "note: {n}");
        }
    }
    Ok(outcome)
}
