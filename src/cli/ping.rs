//! `netdiag ping` flags: ping's options for one host, fping's for many, and the TCP fallback.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::interrupt;
use netdiag::ping::{self, MethodChoice, PingEvent, PingRequest};
use netdiag::render::Output;
use netdiag::target::{Family, HostSpec, PortList};

/// Intervals below this need root, as in iputils ping ("cannot flood").
const MIN_USER_INTERVAL: Duration = Duration::from_millis(2);
/// Rates above this (and 0, unpaced) need root, as fping's -i below 1 ms does.
const MAX_USER_RATE: f64 = 1000.0;

#[derive(Debug, Args)]
#[command(after_help = "\
One host: a line per reply as ping prints it, then the statistics (min/avg/max/mdev as iputils computes them).
Several hosts or CIDR blocks (IPv4 blocks skip the network and broadcast addresses, as fping -g): a table
sorted by address with alive/unreachable counts. Exit 0 when every host answered at least once, 1 otherwise.
Without permission for ICMP (root, CAP_NET_RAW or net.ipv4.ping_group_range), netdiag says so on stderr and
pings with TCP connects instead; a refused connection also proves the host is up.")]
pub struct PingArgs {
    /// Hosts: addresses, names or CIDR blocks such as 192.168.1.0/24.
    #[arg(value_name = "HOST|CIDR", required = true)]
    pub targets: Vec<String>,

    /// Echo requests per host, up to 65535 (the sequence number space; -w runs longer) [default: 4 for one
    /// host, 1 per host for several; until the deadline with -w].
    #[arg(short = 'c', long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..=65_535))]
    pub count: Option<u64>,

    /// Time between two pings to the same host [default: 1s]. Below 2ms needs root, as in ping.
    #[arg(short = 'i', long, value_parser = crate::cli::args::duration_arg, value_name = "INTERVAL")]
    pub interval: Option<Duration>,

    /// How long to wait for each reply.
    #[arg(short = 'W', long, value_parser = crate::cli::args::duration_arg, default_value = "2s", value_name = "TIMEOUT")]
    pub timeout: Duration,

    /// Sweeps (several hosts, no -c): ping a host that has not answered again, up to N times, before calling
    /// it down; the waits grow as fping's (500 ms, then ×1.5, at most -W) [default: 3, as fping; 0 with -c].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: Option<u32>,

    /// Stop after this long, whatever is outstanding (with no -c, ping until then).
    #[arg(short = 'w', long, value_parser = crate::cli::args::duration_arg, value_name = "DEADLINE")]
    pub deadline: Option<Duration>,

    /// ICMP data bytes per echo request (the packet is 8 bytes more, plus the IP header).
    #[arg(short = 's', long, default_value_t = 56, value_parser = clap::value_parser!(u32).range(0..=65_507), value_name = "SIZE")]
    pub size: u32,

    /// IP time to live (IPv6 hop limit) of the echo requests.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..), value_name = "TTL")]
    pub ttl: Option<u8>,

    /// Packets per second over all hosts (1000 = a 1 ms gap, fping's -i 1); 0 sends as fast as possible.
    /// Above 1000, and 0, need root.
    #[arg(long, default_value_t = ping::DEFAULT_RATE, value_name = "PPS")]
    pub rate: f64,

    /// Ping with TCP connects instead of ICMP (no privilege needed).
    #[arg(long)]
    pub tcp: bool,

    /// Ports for TCP ping, tried in order until one answers [default: 80,443].
    #[arg(long, value_name = "PORTS")]
    pub tcp_port: Option<String>,

    /// Allow more than 65,536 hosts.
    #[arg(long)]
    pub force: bool,

    /// Quiet: for one host only the statistics (no line per reply); for several, only the hosts that did not
    /// answer and the counts.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,
}

fn is_root() -> bool {
    netdiag::net::process::is_root()
}

/// Turns the flags into a request (without resolving names).
pub fn request(args: &PingArgs) -> Result<PingRequest> {
    let specs = args
        .targets
        .iter()
        .map(|t| HostSpec::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let hosts = ping::expand(&specs, args.force)?;
    let interval = args.interval.unwrap_or(Duration::from_secs(1));
    if interval < MIN_USER_INTERVAL && !is_root() {
        bail!(
            "interval {} is below the 2ms allowed without root (as in ping); use -i 0.002 or more",
            netdiag::duration::fmt_ms(interval)
        );
    }
    if !args.rate.is_finite() || args.rate < 0.0 {
        bail!(
            "invalid --rate '{}': expected packets per second, a number >= 0 (0 = unpaced)",
            args.rate
        );
    }
    if (args.rate == 0.0 || args.rate > MAX_USER_RATE) && !is_root() {
        bail!(
            "--rate {} needs root: without it netdiag sends at most {MAX_USER_RATE} packets/s (as fping's -i 1)",
            args.rate
        );
    }
    let tcp_ports: Vec<u16> = match &args.tcp_port {
        Some(p) => {
            let list = PortList::parse(p)?;
            if list.len() > 16 {
                bail!(
                    "--tcp-port '{p}' lists {} ports; TCP ping tries at most 16",
                    list.len()
                );
            }
            list.iter().collect()
        }
        None => vec![80, 443],
    };
    let mut req = PingRequest::new(hosts);
    req.count = match (args.count, args.deadline) {
        (Some(c), _) => Some(c),
        (None, Some(_)) => None,
        (None, None) => req.count,
    };
    req.retries = args.retries.unwrap_or(if args.count.is_some() {
        0
    } else {
        ping::DEFAULT_RETRIES
    });
    req.family = Family::from_flags(args.ipv4, args.ipv6);
    req.interval = interval;
    req.timeout = args.timeout;
    req.deadline = args.deadline;
    req.size = args.size as usize;
    req.ttl = args.ttl;
    req.rate = (args.rate > 0.0).then_some(args.rate);
    req.method = if args.tcp {
        MethodChoice::Tcp
    } else {
        MethodChoice::Auto
    };
    req.tcp_ports = tcp_ports;
    Ok(req)
}

pub fn run(args: PingArgs, out: &Output) -> Result<Outcome> {
    let req = request(&args)?;
    interrupt::install();
    let stream = req.hosts.len() == 1 && out.is_text() && !args.quiet;
    let mut write_err: Option<std::io::Error> = None;
    let mut seq_name = "icmp_seq";
    let mut on_event = |ev: &PingEvent| {
        let line = match ev {
            PingEvent::Started {
                method,
                note,
                first,
                ..
            } => {
                if *method == ping::Method::Tcp {
                    seq_name = "seq";
                }
                if let Some(n) = note {
                    let _ = writeln!(std::io::stderr(), "netdiag: note: {n}");
                }
                match first {
                    Some((label, addr)) if stream => {
                        ping::header_line(label, *addr, req.size, *method, &req.tcp_ports)
                    }
                    _ => return,
                }
            }
            _ if !stream => return,
            PingEvent::Reply { address, reply, .. } => ping::reply_line(*address, reply),
            PingEvent::IcmpError { error, .. } => ping::error_line(error),
            PingEvent::SendError {
                address,
                seq,
                error,
                ..
            } => format!(
                "To {address} {seq_name}={seq}: send failed: {} ({})",
                error.cause, error.code
            ),
        };
        if write_err.is_none() {
            if let Err(e) = out.line(&line) {
                // The reader went away (closed pipe): stop pinging now rather than at the end of the count.
                write_err = Some(e);
                interrupt::request();
            }
        }
    };
    let mut report = ping::ping_with(&req, &mut on_event)?;
    report.failures_only = args.quiet;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    Ok(out.print(&report)?)
}
