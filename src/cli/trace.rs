//! `netdiag trace` flags: traceroute's and mtr's options, the ECMP strategy, and the live table.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use netdiag::exit::Outcome;
use netdiag::interrupt;
use netdiag::render::{Format, Output};
use netdiag::target::{Family, Target};
use netdiag::trace::{self, render, Ecmp, Protocol, TraceEvent, TraceRequest};

/// Intervals below this need root (mtr asks root for anything under a second).
const MIN_USER_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProtoArg {
    Icmp,
    Udp,
    Tcp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EcmpArg {
    /// The flow changes with every probe (traceroute): ECMP paths mix, hops show several routers.
    Classic,
    /// One flow for the whole trace: one ECMP path, hop after hop.
    Paris,
    /// Several Paris flows at once (--flows): every ECMP path, every router of each hop.
    Dublin,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  netdiag trace 127.0.0.1                  ICMP, one round, names resolved
  netdiag trace -n -c 10 -i 0.5 HOST       ten rounds half a second apart: per-hop loss, jitter (mtr -r)
  netdiag trace HOST:443                   TCP SYNs to port 443: where does a firewall drop them?
  netdiag trace --proto udp --ecmp dublin HOST   every ECMP path, every router of each hop

All TTLs of a round are in flight at once: a round takes one round trip, a silent hop one --timeout.
With root (or CAP_NET_RAW) probes are written on raw sockets; without, netdiag traces as tracepath does
(UDP or TCP through ordinary sockets and the error queue, or ICMP where net.ipv4.ping_group_range allows)
and says on stderr which method runs. On a terminal the table is redrawn after each round; piped, the
final table is printed once. --json and --format csv give the same report.
Exit 0 when the destination answered, 1 when it did not (the hop where packets stop is named), 2 on bad
input, 130 on Ctrl-C (the rounds so far are reported).")]
pub struct TraceArgs {
    /// The destination: HOST, HOST:PORT or [IPv6]:PORT. A port makes TCP the default protocol.
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,

    /// Probe protocol [default: tcp when a port is given, else icmp (udp when ICMP is not permitted)].
    #[arg(long = "proto", value_enum, value_name = "PROTO")]
    pub protocol: Option<ProtoArg>,

    /// Destination port: TCP's (default 80), UDP's (default 33434; classic mode counts up from it).
    #[arg(short = 'p', long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Source port of the probes (dublin: the first of consecutive ports) [default: one the kernel picks].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub source_port: Option<u16>,

    /// TTL (hop limit) of the first hop probed.
    #[arg(short = 'f', long, default_value_t = 1, value_name = "TTL", value_parser = clap::value_parser!(u8).range(1..))]
    pub first_ttl: u8,

    /// Largest TTL (hop limit) probed.
    #[arg(short = 'm', long, default_value_t = 30, value_name = "TTL", value_parser = clap::value_parser!(u8).range(1..))]
    pub max_ttl: u8,

    /// Rounds of probes (mtr's report cycles); statistics cover them all.
    #[arg(short = 'c', long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rounds: u32,

    /// Time between the starts of two rounds; below 0.1 s needs root.
    #[arg(short = 'i', long, default_value = "1s", value_parser = crate::cli::args::duration_arg, value_name = "INTERVAL")]
    pub interval: Duration,

    /// How long each probe waits for its answer; a silent hop costs this once per round.
    #[arg(short = 'w', long, default_value = "1s", value_parser = crate::cli::args::duration_arg, value_name = "TIMEOUT")]
    pub timeout: Duration,

    /// Show addresses only: no reverse lookups of the hops.
    #[arg(short = 'n', long)]
    pub numeric: bool,

    /// How probes treat ECMP routers' flow hashing.
    #[arg(long, value_enum, default_value_t = EcmpArg::Paris, value_name = "STRATEGY")]
    pub ecmp: EcmpArg,

    /// Flows per round with --ecmp dublin.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(2..=64))]
    pub flows: Option<u16>,

    /// IP packet size of ICMP and UDP probes, headers included [default: 60, 80 for IPv6]. TCP probes are SYNs.
    #[arg(short = 's', long, value_name = "BYTES", value_parser = clap::value_parser!(u16).range(28..=65_000))]
    pub size: Option<u16>,

    /// Use ordinary sockets (the tracepath way) even with root.
    #[arg(long)]
    pub unprivileged: bool,

    /// IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,
}

/// Turns the flags into a request.
pub fn request(a: &TraceArgs) -> Result<TraceRequest> {
    let target = Target::parse(&a.target)?;
    if a.first_ttl > a.max_ttl {
        bail!(
            "--first-ttl {} is above --max-ttl {}: the first TTL must be at most the last",
            a.first_ttl,
            a.max_ttl
        );
    }
    if let (Some(p), Some(q)) = (target.port, a.port) {
        if p != q {
            bail!("the target says port {p} and --port says {q}: give the port once");
        }
    }
    if a.interval < MIN_USER_INTERVAL && !netdiag::net::process::is_root() {
        bail!(
            "--interval {} is below the 0.1 s allowed without root; use -i 0.1 or more",
            netdiag::duration::fmt_ms(a.interval)
        );
    }
    let ecmp = match a.ecmp {
        EcmpArg::Classic => Ecmp::Classic,
        EcmpArg::Paris => Ecmp::Paris,
        EcmpArg::Dublin => Ecmp::Dublin,
    };
    if a.flows.is_some() && ecmp != Ecmp::Dublin {
        bail!("--flows needs --ecmp dublin (classic and paris send one flow per round)");
    }
    let protocol = a.protocol.map(|p| match p {
        ProtoArg::Icmp => Protocol::Icmp,
        ProtoArg::Udp => Protocol::Udp,
        ProtoArg::Tcp => Protocol::Tcp,
    });
    let mut req = TraceRequest::new(target, &a.target);
    req.protocol = protocol;
    req.family = Family::from_flags(a.ipv4, a.ipv6);
    req.first_ttl = a.first_ttl;
    req.max_ttl = a.max_ttl;
    req.rounds = a.rounds;
    req.interval = a.interval;
    req.timeout = a.timeout;
    req.resolve_names = !a.numeric;
    req.port = a.port;
    req.source_port = a.source_port;
    req.ecmp = ecmp;
    req.flows = a.flows.unwrap_or(trace::DUBLIN_FLOWS);
    req.size = a.size.map(usize::from);
    req.unprivileged = a.unprivileged;
    Ok(req)
}

pub fn run(args: TraceArgs, out: &Output) -> Result<Outcome> {
    let req = request(&args)?;
    interrupt::install();
    // mtr's screen on a terminal: the table redrawn after each round. Piped (or for one round), only the
    // final table.
    let live = out.format == Format::Table && out.tty && req.rounds > 1;
    let mut drawn = 0usize;
    let mut write_err: Option<std::io::Error> = None;
    let mut on_event = |ev: &TraceEvent| match ev {
        TraceEvent::Started { note, .. } => {
            let _ = writeln!(std::io::stderr(), "netdiag: trace: {note}");
        }
        TraceEvent::Round(r) if live && write_err.is_none() => {
            let text = render::live(r, req.rounds, out);
            let mut o = std::io::stdout().lock();
            let res = (|| {
                if drawn > 0 {
                    write!(o, "\x1b[{drawn}A\x1b[J")?;
                }
                o.write_all(text.as_bytes())?;
                o.flush()
            })();
            drawn = text.lines().count();
            if let Err(e) = res {
                write_err = Some(e);
                interrupt::request();
            }
        }
        TraceEvent::Round(_) => {}
    };
    let report = trace::trace_with(&req, &mut on_event).map_err(anyhow::Error::from)?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    if drawn > 0 {
        let mut o = std::io::stdout().lock();
        write!(o, "\x1b[{drawn}A\x1b[J")?;
        o.flush()?;
    }
    Ok(out.print(&report)?)
}
