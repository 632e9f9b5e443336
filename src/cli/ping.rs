//! `netdiag ping` flags: ping's options for one host, fping's for many, and the TCP fallback.

use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::interrupt;
use netdiag::ping::{self, MethodChoice, PingEvent, PingRequest};
use netdiag::render::live::Live;
use netdiag::render::Output;
use netdiag::target::{Family, HostSpec, PortList};

/// Intervals below this need root, as in iputils ping ("cannot flood").
const MIN_USER_INTERVAL: Duration = Duration::from_millis(2);
/// Rates above this (and 0, unpaced) need root, as fping's -i below 1 ms does.
const MAX_USER_RATE: f64 = 1000.0;

#[derive(Debug, Args)]
#[command(after_help = "\
One host: a line per reply as ping prints it, then the statistics (min/avg/max/mdev as iputils computes \
them); without -c it pings until Ctrl-C, as iputils does. Several hosts or CIDR blocks (IPv4 blocks skip the \
network and broadcast addresses, as fping -g): each host as it answers on a terminal, then a table sorted by \
address and a count per status (ok, filtered, unreachable, ...), the same words as the table and the JSON.

Exit 0 when every host answered at least once, 1 otherwise. Without permission for ICMP (root, CAP_NET_RAW \
or net.ipv4.ping_group_range), netdiag says so on stderr and pings with TCP connects instead; a refused \
connection also proves the host is up.

Examples:
  netdiag ping 127.0.0.1              until Ctrl-C, a line per reply, then the statistics
  netdiag ping -c 3 ::1               three echo requests
  netdiag ping 10.0.0.0/24 -q         a sweep: only the counts
  netdiag ping --tcp --tcp-port 22 host   TCP connects instead of ICMP")]
pub struct PingArgs {
    /// Hosts: addresses, names or CIDR blocks such as 192.168.1.0/24.
    #[arg(value_name = "HOST|CIDR", required = true)]
    pub targets: Vec<String>,

    /// Echo requests per host, up to 65535 (the sequence number space) [default: one host until Ctrl-C (or
    /// the -w deadline), as iputils; 1 per host for several].
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
        // One host: until Ctrl-C, as iputils' ping.
        (None, None) if req.hosts.len() == 1 => None,
        (None, None) => req.count,
    };
    req.retries = args
        .retries
        .unwrap_or(if args.count.is_some() || req.hosts.len() == 1 {
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
    let total = req.hosts.len();
    let mut progress = (total > 1).then(|| Progress::new(out, total, args.quiet));
    let mut echo = Echo {
        stream: total == 1 && out.is_text() && !args.quiet,
        seq_name: "icmp_seq",
    };
    let mut write_err: Option<std::io::Error> = None;
    let mut on_event = |ev: &PingEvent| {
        if let (
            Some(p),
            PingEvent::Reply {
                host,
                address,
                reply,
            },
        ) = (progress.as_mut(), ev)
        {
            p.reply(host, *address, reply);
        }
        let Some(line) = echo.line(ev, &req) else {
            return;
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
    if let Some(p) = progress.as_mut() {
        p.live.clear();
    }
    report.failures_only = args.quiet;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    Ok(out.print(&report)?)
}

/// Several hosts on a terminal: each host as it first answers (fping style) and a progress line.
struct Progress {
    live: Live,
    total: usize,
    quiet: bool,
    answered: HashSet<IpAddr>,
    drawn: Instant,
}

impl Progress {
    fn new(out: &Output, total: usize, quiet: bool) -> Progress {
        Progress {
            live: Live::new(out),
            total,
            quiet,
            answered: HashSet::new(),
            drawn: Instant::now(),
        }
    }

    fn reply(&mut self, host: &str, address: IpAddr, reply: &ping::ReplyRecord) {
        if !self.answered.insert(address) {
            return;
        }
        if !self.quiet {
            let who = if host == address.to_string() {
                address.to_string()
            } else {
                format!("{host} ({address})")
            };
            self.live
                .line(&format!("{who} is alive ({})", ping::reply_time(reply)));
        }
        if self.drawn.elapsed() > Duration::from_millis(100) {
            self.live.status(&format!(
                "{}/{} hosts answered  {} elapsed",
                self.answered.len(),
                self.total,
                netdiag::duration::fmt_ms(self.live.elapsed())
            ));
            self.drawn = Instant::now();
        }
    }
}

/// One host: ping's own lines (the header, a line per reply or error), streamed as they happen.
struct Echo {
    stream: bool,
    /// `seq` for the TCP method, `icmp_seq` for ICMP, as in the header.
    seq_name: &'static str,
}

impl Echo {
    /// The line an event prints, if any; a note about the method goes to stderr whether lines stream or not.
    fn line(&mut self, ev: &PingEvent, req: &PingRequest) -> Option<String> {
        match ev {
            PingEvent::Started {
                method,
                note,
                first,
                ..
            } => {
                if *method == ping::Method::Tcp {
                    self.seq_name = "seq";
                }
                if let Some(n) = note {
                    let _ = writeln!(std::io::stderr(), "netdiag: note: {n}");
                }
                match first {
                    Some((label, addr)) if self.stream => Some(ping::header_line(
                        label,
                        *addr,
                        req.size,
                        *method,
                        &req.tcp_ports,
                    )),
                    _ => None,
                }
            }
            _ if !self.stream => None,
            PingEvent::Reply { address, reply, .. } => Some(ping::reply_line(*address, reply)),
            PingEvent::IcmpError { error, .. } => Some(ping::error_line(error)),
            PingEvent::SendError {
                address,
                seq,
                error,
                ..
            } => Some(format!(
                "To {address} {}={seq}: send failed: {} ({})",
                self.seq_name, error.cause, error.code
            )),
        }
    }
}
