//! `netdiag serve` flags.

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::render::Output;
use netdiag::serve::{self, Event, ServeConfig};
use netdiag::target::{shown, Host};

/// The port served when neither --tcp nor --udp is given.
const DEFAULT_PORT: u16 = 7788;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  netdiag serve                              echo TCP and UDP on port 7788, every address
  netdiag serve --tcp 9000 --bind 127.0.0.1  TCP only, loopback only
  netdiag serve --udp 0 --duration 30s       UDP on a port the kernel picks, for 30 seconds

Each client's address is logged as it connects (UDP: its first datagram) and as it closes.
Ctrl-C stops the server, prints a summary and exits 130.")]
pub struct ServeArgs {
    /// Echo TCP on this port (0: let the kernel pick one; the chosen port is printed).
    #[arg(long, value_name = "PORT")]
    pub tcp: Option<u16>,

    /// Echo UDP on this port (0: let the kernel pick one). With neither --tcp nor --udp, both on 7788.
    #[arg(long, value_name = "PORT")]
    pub udp: Option<u16>,

    /// Local address to listen on; repeat for several. Default: every address, IPv4 and IPv6.
    #[arg(long, value_name = "ADDR")]
    pub bind: Vec<String>,

    /// Close a TCP connection after this long without data.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::cli::args::duration_arg)]
    pub idle_timeout: Duration,

    /// At most this many TCP connections at once; further ones are accepted, closed at once and logged.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_conns: usize,

    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration_arg)]
    pub duration: Option<Duration>,

    /// Do not log each client; print only the listening lines and the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_bind(s: &str) -> Result<IpAddr> {
    match Host::parse(s) {
        Ok(Host::Ip(ip)) => Ok(ip),
        _ => bail!(
            "invalid --bind address '{}': expected a local IP address such as 127.0.0.1, ::1, 0.0.0.0 or ::",
            shown(s)
        ),
    }
}

pub fn run(args: ServeArgs, out: &Output) -> Result<Outcome> {
    if args.max_conns == 0 || args.max_conns > 100_000 {
        bail!(
            "invalid --max-conns '{}': expected a number from 1 to 100000",
            args.max_conns
        );
    }
    let bind = args
        .bind
        .iter()
        .map(|b| parse_bind(b))
        .collect::<Result<Vec<_>>>()?;
    let (tcp, udp) = match (args.tcp, args.udp) {
        (None, None) => (Some(DEFAULT_PORT), Some(DEFAULT_PORT)),
        other => other,
    };
    let cfg = ServeConfig {
        tcp,
        udp,
        bind,
        idle: args.idle_timeout,
        max_conns: args.max_conns,
        max_time: args.duration,
    };
    netdiag::interrupt::install();
    let quiet = args.quiet;
    // Log lines go to stdout in table mode (they are the output), to stderr for JSON and CSV (stdout holds one
    // document). A closed stdout must not stop the server: it only loses its log.
    let log = |e: &Event| {
        if quiet && !matches!(e, Event::Listening { .. } | Event::Stopping { .. }) {
            return;
        }
        let line = e.line();
        if !out.is_text() {
            let _ = writeln!(std::io::stderr(), "{line}");
        } else {
            let _ = out.line(&line);
        }
    };
    Ok(out.print(&serve::serve(&cfg, &log)?)?)
}
