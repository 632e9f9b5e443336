//! `netdiag probe` flags: targets and ports in, a probe request out; a progress bar on stderr for long scans.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::probe::{self, HostPorts, ProbeRequest, Progress};
use netdiag::render::live::{progress_text, Live};
use netdiag::render::Output;
use netdiag::services::Proto;
use netdiag::target::{Family, HostSpec, PortList};

/// The most addresses one CIDR block may expand to.
const MAX_CIDR: u128 = 65_536;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  netdiag probe 127.0.0.1:22                     one port: open (with the connect time) or why not
  netdiag probe localhost -p 1-65535             scan: open ports and services, a count per state
  netdiag probe 10.0.0.0/30 -p 22,80,443 --all   every port of every address, with the cause
  netdiag probe example.test:25 --banner         what the server says first
  netdiag probe --udp 127.0.0.1:7 --send 'hi\\n' --expect hi
  netdiag probe 127.0.0.1:443 --count 5          repeat, like tcping: min/avg/max and loss
  netdiag probe localhost 22 80                  nc -z style: a host, then ports
  netdiag probe http://localhost:8080/           a URL: its host and port
  netdiag probe HOST -p- --syn                   half-open SYN scan (root or CAP_NET_RAW), as nmap -sS

Ports named one by one (-p 22,80, HOST:PORT) are questions: each is listed and must be open. Ports of a
range (-p 8000-8100, -p-) or of a CIDR block are a search: only open ones are listed (every one with --all).
Exit 0 when every named port is open; with only ranges, when each address has an open port; 1 otherwise.")]
pub struct ProbeArgs {
    /// Hosts to probe: HOST:PORT, [IPv6]:PORT, HOST (with -p), a CIDR block such as 127.0.0.0/30 (with -p),
    /// an http(s):// URL (its host and port), or nc's HOST PORT... (netdiag probe host 22 80).
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,

    /// Ports for every target without its own port: 22,80,443, 8000-8100, 1-65535 (or -, as nmap's -p-), or
    /// service names (http).
    #[arg(short, long, value_name = "LIST")]
    pub ports: Option<String>,

    /// Seconds (0.5) or a duration (500ms) to wait for each answer.
    #[arg(short, long, value_name = "DURATION", default_value = "1", value_parser = crate::cli::args::duration_arg)]
    pub timeout: Duration,

    /// List every port of a range scan with its state and cause, not only the open ones.
    #[arg(short, long)]
    pub all: bool,

    /// Repeat each probe N times and show min/avg/max latency and loss (like tcping).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: Option<u32>,

    /// Pause between repeated probes (--count).
    #[arg(short, long, value_name = "DURATION", default_value = "1", value_parser = crate::cli::args::duration_arg)]
    pub interval: Duration,

    /// Show what the server says first (an SSH version, an SMTP greeting), read within the timeout.
    #[arg(short, long)]
    pub banner: bool,

    /// Write TEXT after connecting (UDP: send it as the datagram) and show the reply. Escapes: \r \n \t \0 \\ \xHH.
    #[arg(short, long, value_name = "TEXT")]
    pub send: Option<String>,

    /// The reply (or banner) must contain TEXT, or the probe fails with 'unexpected reply'. Same escapes as --send.
    #[arg(short, long, value_name = "TEXT")]
    pub expect: Option<String>,

    /// Probe UDP ports: a reply is open, ICMP port unreachable is closed, silence is open|filtered.
    #[arg(short, long)]
    pub udp: bool,

    /// Sockets in flight at once (default: from the open-files limit, raised to its maximum).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub concurrency: Option<u32>,

    /// At most N new connections per second; 0 means unpaced (the default), as in ping. With --syn, N
    /// packets per second (default 100000, about 51 Mbit/s of SYNs: safe for a gigabit LAN; 0 unpaced).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10_000_000))]
    pub rate: Option<u32>,

    /// Half-open scan: raw SYNs, never a handshake (SYN-ACK open, RST closed, ICMP or silence filtered, as
    /// nmap -sS). Needs root or CAP_NET_RAW.
    #[arg(long, conflicts_with_all = ["udp", "count"])]
    pub syn: bool,

    /// IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 addresses only.
    #[arg(short = '6')]
    pub ipv6: bool,
}

pub fn run(args: ProbeArgs, out: &Output) -> Result<Outcome> {
    let req = request(&args)?;
    netdiag::interrupt::install();
    let total: usize = req.targets.iter().map(|t| t.ports.len()).sum();
    let progress = Arc::new(Progress::new());
    let finished = Arc::new(AtomicBool::new(false));
    let live = Live::new(out);
    // Open ports as found (nmap style) and a progress line, for scans and multi-port probes on a terminal.
    let watcher = (total > 1 && req.count.is_none()).then(|| {
        let (p, f) = (Arc::clone(&progress), Arc::clone(&finished));
        let protocol = req.protocol;
        std::thread::spawn(move || watch(live, &p, &f, total, protocol))
    });
    let mut line_err = None;
    let report = probe::probe_observed(&req, Some(&progress), &mut |r, seq| {
        if line_err.is_none() {
            if let Err(e) = out.line(&attempt_line(r, seq)) {
                line_err = Some(e);
                netdiag::interrupt::request();
            }
        }
    });
    finished.store(true, Ordering::SeqCst);
    if let Some(h) = watcher {
        // Woken now rather than at its next tick, so the report is not held back by a sleep.
        h.thread().unpark();
        let _ = h.join();
    }
    if let Some(e) = line_err {
        return Err(e.into());
    }
    let report = report?;
    probe::syn::phase("watcher joined");
    let outcome = out.print(&report)?;
    probe::syn::phase("printed");
    Ok(outcome)
}

/// Prints open ports as they are found and redraws the progress line (after half a second) until the run ends;
/// the line is erased when the run ends or Ctrl-C stops it.
fn watch(mut live: Live, p: &Progress, finished: &AtomicBool, total: usize, protocol: Proto) {
    let tick = Duration::from_millis(100);
    loop {
        let done = finished.load(Ordering::SeqCst);
        for a in p.take_found() {
            let service = netdiag::services::name_of(a.port(), protocol).unwrap_or("");
            live.line(format!("open  {a}/{protocol}  {service}").trim_end());
        }
        if done || netdiag::interrupt::requested() {
            break;
        }
        if live.elapsed() > Duration::from_millis(500) {
            let open = p.open.load(Ordering::Relaxed);
            live.status(&progress_text(
                p.done.load(Ordering::Relaxed),
                total,
                live.elapsed(),
                &format!("{open} open"),
            ));
        }
        // Parked between ticks; the run's end unparks it at once.
        std::thread::park_timeout(tick);
    }
    live.clear();
}

/// One line per attempt of `--count`, like tcping: `127.0.0.1:22/tcp open seq=1 time=0.120 ms`.
fn attempt_line(r: &probe::PortResult, seq: u32) -> String {
    let what = match (r.latency, r.explanation()) {
        (Some(l), None) => format!("time={}", netdiag::duration::fmt_ms(l)),
        (Some(l), Some(e)) => format!("time={} {}", netdiag::duration::fmt_ms(l), e.code),
        (None, Some(e)) => e.code,
        (None, None) => String::new(),
    };
    format!(
        "{}/{} {} seq={seq} {what}",
        r.socket_addr(),
        r.protocol,
        r.state
    )
}

/// nc's and curl's habits in the target list: `HOST PORT…` (nc -z HOST 22 80) becomes HOST with those ports,
/// and a URL (`http://host:8080/path`) its host and port (80 or 443 by default).
fn habits(args: &ProbeArgs) -> Result<ProbeArgs> {
    let is_ports = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '-')
            && s.chars().any(|c| c.is_ascii_digit())
    };
    let mut targets: Vec<String> = Vec::new();
    for t in &args.targets {
        let t = match t.split_once("://") {
            Some((scheme, rest)) => {
                let default = match scheme.to_ascii_lowercase().as_str() {
                    "http" | "ws" => 80,
                    "https" | "wss" => 443,
                    other => bail!(
                        "invalid target '{t}': probe takes http:// and https:// URLs (not {other}://), HOST:PORT or HOST -p PORTS"
                    ),
                };
                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                let has_port = match authority.rfind(']') {
                    Some(end) => authority[end..].contains(':'),
                    None => authority.contains(':'),
                };
                if has_port {
                    authority.to_string()
                } else if authority.contains(':') && !authority.starts_with('[') {
                    format!("[{authority}]:{default}")
                } else {
                    format!("{authority}:{default}")
                }
            }
            None => t.clone(),
        };
        targets.push(t);
    }
    let mut ports = args.ports.clone();
    // nc style: the first argument a host, every later one a port or list; only when -p was not given.
    if ports.is_none()
        && targets.len() >= 2
        && !is_ports(&targets[0])
        && targets[1..].iter().all(|t| is_ports(t))
    {
        ports = Some(targets[1..].join(","));
        targets.truncate(1);
    }
    Ok(ProbeArgs {
        targets,
        ports,
        send: args.send.clone(),
        expect: args.expect.clone(),
        ..*args
    })
}

/// Turns the flags into a request, rejecting bad input with one line naming it.
fn request(args: &ProbeArgs) -> Result<ProbeRequest> {
    let args = &habits(args)?;
    let ports = match args.ports.as_deref() {
        // nmap's spelling of every port.
        Some("-") => Some(PortList::from_ranges(vec![(1, 65535)])),
        Some(list) => Some(PortList::parse(list)?),
        None => None,
    };
    // A scan is what the user typed as one (a range, `-p-`, a CIDR block): it lists open ports and succeeds
    // when each address has one. Ports listed one by one (`-p 22,80`, even when adjacent) are each a question
    // that must be answered open.
    let typed_range = args
        .ports
        .as_deref()
        .is_some_and(|l| l == "-" || l.split(',').any(|item| item.trim().contains('-')));
    let (targets, blocks) = targets(&args.targets, ports.as_ref())?;
    let scan = blocks || (typed_range && ports.as_ref().is_some_and(|p| p.len() > 1));
    // Ports named one by one stay questions inside a scan (listed, and they must be open); a CIDR block's
    // ports are all a search.
    let mut named: Vec<u16> = Vec::new();
    if !blocks {
        for item in args.ports.as_deref().unwrap_or("").split(',') {
            let item = item.trim();
            if !item.is_empty() && item != "-" && !item.contains('-') {
                named.extend(PortList::parse(item)?.iter());
            }
        }
        for t in &args.targets {
            if let Ok(HostSpec::Target(t)) = HostSpec::parse(t) {
                named.extend(t.port);
            }
        }
        named.sort_unstable();
        named.dedup();
    }
    let send = args
        .send
        .as_deref()
        .map(probe::parse_escapes)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--send: {e}"))?;
    let expect = args
        .expect
        .as_deref()
        .map(probe::parse_escapes)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--expect: {e}"))?;
    if expect.as_ref().is_some_and(Vec::is_empty) {
        bail!("--expect: empty text; give the text the reply must contain");
    }
    Ok(ProbeRequest {
        targets,
        family: Family::from_flags(args.ipv4, args.ipv6),
        protocol: if args.udp { Proto::Udp } else { Proto::Tcp },
        timeout: args.timeout,
        concurrency: args.concurrency.map(|n| n as usize),
        rate: args.rate,
        count: args.count,
        interval: args.interval,
        // --expect alone on TCP checks the banner.
        banner: args.banner || (expect.is_some() && send.is_none() && !args.udp),
        send,
        expect,
        list_all: args.all,
        scan,
        named,
        syn: args.syn,
        retries: None,
    })
}

/// The targets with their ports: each argument expanded (a CIDR block into every address, as nmap does), with
/// its own port or the `-p` list. Also says whether a CIDR block of more than one address was given (a scan).
fn targets(typed: &[String], ports: Option<&PortList>) -> Result<(Vec<HostPorts>, bool)> {
    let specs = typed
        .iter()
        .map(|t| HostSpec::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut blocks = false;
    for (t, spec) in typed.iter().zip(&specs) {
        let port = match spec {
            HostSpec::Target(t) => t.port,
            HostSpec::Cidr(c) => {
                // Per block: a /16 is fine, a /8 by accident is not.
                if c.len() > MAX_CIDR {
                    bail!(
                        "CIDR block {c} holds {} addresses, more than the limit of {MAX_CIDR}; use a longer prefix",
                        c.len()
                    );
                }
                blocks |= c.len() > 1;
                None
            }
        };
        if port.is_none() && ports.is_none() {
            bail!(
                "no port for '{}': give HOST:PORT, [IPv6]:PORT, or a port list with -p (22,80,8000-8100)",
                netdiag::target::shown(t)
            );
        }
    }
    let targets = netdiag::target::expand_hosts(&specs, probe::MAX_PROBES as u128, false)?
        .into_iter()
        .map(|t| HostPorts {
            host: t.host,
            // Every target without a port has the -p list (checked above).
            ports: t.port.map_or_else(
                || ports.map_or_else(Vec::new, |l| l.iter().collect()),
                |p| vec![p],
            ),
        })
        .collect();
    Ok((targets, blocks))
}
