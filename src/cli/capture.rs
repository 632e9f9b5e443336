//! `netdiag capture` flags: tcpdump's (-i, -c, -w, -r, -n, -v, -s, -B, -d) and the conversation analysis.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::{ArgAction, Args, ValueEnum};
use netdiag::capture::rows::Packets;
use netdiag::capture::{
    self, CaptureReport, PacketRow, Request, Source, Started, Summary, TimeFormat,
};
use netdiag::exit::Outcome;
use netdiag::interrupt;
use netdiag::render::Output;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TimeArg {
    /// Local time of day with microseconds (tcpdump's default).
    Absolute,
    /// Seconds since the first packet (tcpdump -ttttt).
    Relative,
    /// Seconds since the previous packet (tcpdump -ttt).
    Delta,
    /// Seconds since 1970 (tcpdump -tt).
    Epoch,
    /// Local date and time (tcpdump -tttt).
    Date,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Filter: the tcpdump/pcap-filter(7) primitives — [src|dst] host ADDR, [src|dst] net CIDR, [tcp|udp] [src|dst]
port N, portrange LO-HI, tcp, udp, icmp, icmp6, arp, ip, ip6 — joined by and/&&, or/||, not/! and parentheses
(quote them for the shell). As in pcap, 'and' and 'or' have equal precedence, left to right, and a bare value
repeats the last qualifier: 'port 80 or 443'. The filter is compiled to a classic BPF program and attached in
the kernel, so packets it rejects are never copied (-d prints the program).

Examples (capturing needs root or CAP_NET_RAW):
  netdiag capture -i lo port 8080
  netdiag capture -i lo -c 20 'tcp and (port 80 or port 443)'
  netdiag capture -i lo -w web.pcap port 8080        # then: tcpdump -r web.pcap
  netdiag capture -r web.pcap --conversations        # per-flow table and verdicts

Ctrl-C ends the capture, prints the counts (captured, received by filter, dropped by kernel) and exits 130.")]
pub struct CaptureArgs {
    /// The filter expression (pcap-filter syntax); several words are joined with spaces, as tcpdump does.
    #[arg(value_name = "FILTER", trailing_var_arg = true)]
    pub filter: Vec<String>,

    /// Interface to capture on, or 'any' for all of them (the default).
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub interface: Option<String>,

    /// Read packets from a pcap or pcapng file instead of capturing.
    #[arg(short = 'r', long = "read", value_name = "FILE", conflicts_with_all = ["interface", "promisc"])]
    pub read: Option<PathBuf>,

    /// Write the matched packets to a pcap file (tcpdump and Wireshark read it); no lines are printed then,
    /// unless --print.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Print packet lines too (with -w or --conversations).
    #[arg(long)]
    pub print: bool,

    /// Stop after this many packets have matched.
    #[arg(short = 'c', long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Stop after this long (e.g. 10s, 500ms, 2m).
    #[arg(long, value_parser = crate::cli::args::duration_arg, value_name = "TIME")]
    pub duration: Option<Duration>,

    /// Numbers only: no service names for ports (-n and -nn do the same; host names are never looked up).
    #[arg(short = 'n', action = ArgAction::Count)]
    pub numeric: u8,

    /// More detail: IP TTL, id and length, TCP options, absolute sequence numbers; and how the filter was
    /// compiled.
    #[arg(short = 'v', long, action = ArgAction::Count)]
    pub verbose: u8,

    /// How time stamps are printed.
    #[arg(long = "time", value_enum, default_value_t = TimeArg::Absolute, value_name = "FORMAT")]
    pub time: TimeArg,

    /// After the capture, show one row per conversation (packets and bytes each way, handshake, RTT,
    /// retransmissions, duplicate ACKs, zero window, FIN/RST, ICMP errors) and a verdict per flow; packet lines
    /// are not printed then, unless --print.
    #[arg(long)]
    pub conversations: bool,

    /// Bytes kept of each packet.
    #[arg(short = 's', long = "snapshot-length", default_value_t = 262_144, value_parser = clap::value_parser!(u32).range(64..=262_144), value_name = "BYTES")]
    pub snaplen: u32,

    /// The kernel ring buffer in KiB (tcpdump -B); a bigger one drops fewer packets in bursts.
    #[arg(short = 'B', long = "buffer-size", default_value_t = 2048, value_parser = clap::value_parser!(u64).range(512..=4_194_304), value_name = "KIB")]
    pub buffer_kib: u64,

    /// Put the interface in promiscuous mode (off unless asked; tcpdump turns it on unless -p).
    #[arg(long)]
    pub promisc: bool,

    /// Print the compiled BPF program, as tcpdump -d does, and exit.
    #[arg(short = 'd', long = "dump-filter")]
    pub dump: bool,
}

pub fn run(a: CaptureArgs, out: &Output) -> Result<Outcome> {
    let req = request(&a)?;
    let live = a.read.is_none();
    let rows = Packets::new(a.time.into(), a.numeric > 0, a.verbose > 0, live);
    let mut lines = Lines::new(rows, out.is_text());
    let mut started_info: Option<Started> = None;
    let verbose = a.verbose > 0;
    let dump = a.dump;
    let mut on_start = |st: &Started| -> Result<()> {
        if dump {
            // Stop right after: the program is what was asked for.
            let _ = write!(io::stdout(), "{}", st.program);
            bail!(DumpDone);
        }
        announce(st, verbose);
        started_info = Some(st.clone());
        Ok(())
    };
    let mut on_packet = |s: &capture::Seen<'_>| lines.packet(s);
    interrupt::install();
    let result = capture::run(&req, &mut on_start, &mut on_packet);
    let summary = match result {
        Ok(s) => s,
        Err(e) if e.downcast_ref::<DumpDone>().is_some() => return Ok(Outcome::Success),
        Err(e) => {
            let _ = lines.w.flush();
            return Err(e);
        }
    };
    let packets = lines.finish(summary.conversations.is_some())?;
    let report = report(&req, live, started_info.as_ref(), packets, summary);
    render(&report, out)
}

/// The capture the flags ask for. The filter is checked here, before the network is touched, so a bad one
/// fails the same with or without root.
fn request(a: &CaptureArgs) -> Result<Request> {
    let filter = a.filter.join(" ");
    let interface = match a.interface.as_deref() {
        None | Some("any") => None,
        Some(i) => Some(i.to_string()),
    };
    let source = match &a.read {
        Some(p) => Source::File(p.clone()),
        None => Source::Live {
            interface,
            promiscuous: a.promisc,
            buffer: (a.buffer_kib as usize) * 1024,
        },
    };
    if let Err(e) = capture::filter::parse(&filter) {
        bail!("{e}");
    }
    let show = (a.write.is_none() && !a.conversations) || a.print;
    Ok(Request {
        source,
        filter,
        snaplen: a.snaplen,
        count: a.count,
        duration: a.duration,
        write: a.write.clone(),
        show: show && !a.dump,
        conversations: a.conversations,
        // Lines want packets promptly; a file only wants them all (1 s, as tcpdump -w: fewer, fuller blocks).
        block_timeout: if show {
            Duration::from_millis(10)
        } else {
            Duration::from_millis(1000)
        },
        stop: None,
    })
}

impl From<TimeArg> for TimeFormat {
    fn from(t: TimeArg) -> Self {
        match t {
            TimeArg::Absolute => TimeFormat::Absolute,
            TimeArg::Relative => TimeFormat::Relative,
            TimeArg::Delta => TimeFormat::Delta,
            TimeArg::Epoch => TimeFormat::Epoch,
            TimeArg::Date => TimeFormat::Date,
        }
    }
}

/// The capture has started: say so on stderr in every format, as tcpdump does (scripts wait for it to know the
/// filter is in place), and with -v how the filter runs.
fn announce(st: &Started, verbose: bool) {
    eprintln!(
        "{}",
        capture::started_text(&st.source, st.live, st.link, st.snaplen)
    );
    if verbose {
        eprintln!(
            "filter: {} classic BPF instructions, run {}; nothing is left to filter in user space",
            st.program.len(),
            if st.live {
                "by the kernel on the socket"
            } else {
                "on each packet of the file"
            }
        );
    }
}

/// Where matched packets go: text streams each packet's line as it comes; JSON and CSV keep the rows for the
/// one document.
struct Lines {
    rows: Packets,
    text: bool,
    tty: bool,
    w: io::BufWriter<io::StdoutLock<'static>>,
    kept: Vec<PacketRow>,
    lines: u64,
    last_flush: Instant,
}

impl Lines {
    fn new(rows: Packets, text: bool) -> Lines {
        let stdout = io::stdout();
        Lines {
            rows,
            text,
            tty: stdout.is_terminal(),
            w: io::BufWriter::with_capacity(64 * 1024, stdout.lock()),
            kept: Vec::new(),
            lines: 0,
            last_flush: Instant::now(),
        }
    }

    fn packet(&mut self, s: &capture::Seen<'_>) -> io::Result<()> {
        if !self.text {
            self.kept.push(self.rows.row(s));
            return Ok(());
        }
        writeln!(self.w, "{}", self.rows.line(s))?;
        self.lines += 1;
        if self.tty || self.last_flush.elapsed() >= Duration::from_millis(200) {
            self.w.flush()?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }

    /// Ends the packet lines (a blank line before a conversation table that follows them) and releases
    /// stdout; returns the rows kept for JSON and CSV.
    fn finish(mut self, conversations: bool) -> io::Result<Vec<PacketRow>> {
        if self.text && self.lines > 0 && conversations {
            writeln!(self.w)?;
        }
        self.w.flush()?;
        Ok(self.kept)
    }
}

fn report(
    req: &Request,
    live: bool,
    st: Option<&Started>,
    packets: Vec<PacketRow>,
    summary: Summary,
) -> CaptureReport {
    CaptureReport {
        source: st.map(|s| s.source.clone()).unwrap_or_default(),
        live,
        link_type: st
            .map(|s| s.link.describe().to_string())
            .unwrap_or_default(),
        filter: req.filter.clone(),
        packets,
        counts: summary.counts,
        conversations: summary.conversations,
        written: summary.written,
        interrupted: summary.interrupted,
        packets_shown: req.show,
    }
}

/// The report in the chosen format, then the counts on stderr (not in JSON, which has them).
fn render(report: &CaptureReport, out: &Output) -> Result<Outcome> {
    let outcome = out.print(report)?;
    if !out.is_json() {
        if report.interrupted {
            eprintln!();
        }
        eprint!("{}", capture::counts_text(&report.counts));
    }
    Ok(outcome)
}

/// Not an error: -d printed the program.
#[derive(Debug)]
struct DumpDone;

impl std::fmt::Display for DumpDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("filter printed")
    }
}

impl std::error::Error for DumpDone {}
