//! `netdiag capture` flags: tcpdump's (-i, -c, -w, -r, -n, -v, -s, -B, -d) and the conversation analysis.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::{ArgAction, Args, ValueEnum};
use netdiag::capture::rows::Packets;
use netdiag::capture::{self, CaptureReport, PacketRow, Request, Source, Started, TimeFormat};
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
    // Check the filter before touching the network, so a bad one fails the same with or without root.
    if let Err(e) = capture::filter::parse(&filter) {
        bail!("{e}");
    }
    let show = (a.write.is_none() && !a.conversations) || a.print;
    let live = a.read.is_none();
    let req = Request {
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
    };
    let time = match a.time {
        TimeArg::Absolute => TimeFormat::Absolute,
        TimeArg::Relative => TimeFormat::Relative,
        TimeArg::Delta => TimeFormat::Delta,
        TimeArg::Epoch => TimeFormat::Epoch,
        TimeArg::Date => TimeFormat::Date,
    };
    let mut rows = Packets::new(time, a.numeric > 0, a.verbose > 0, live);
    // Text streams each packet's line as it comes; JSON and CSV keep the rows for the one document.
    let text = out.is_text();
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let mut w = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut kept: Vec<PacketRow> = Vec::new();
    let mut started_info: Option<Started> = None;
    let mut lines = 0u64;
    let mut last_flush = Instant::now();
    let verbose = a.verbose > 0;
    let dump = a.dump;
    let mut on_start = |st: &Started| -> Result<()> {
        if dump {
            // Stop right after: the program is what was asked for.
            let _ = write!(io::stdout(), "{}", st.program);
            bail!(DumpDone);
        }
        // On stderr in every format, as tcpdump does: scripts wait for it to know the filter is in place.
        eprintln!(
            "{}",
            capture::started_text(&st.source, st.live, st.link, st.snaplen)
        );
        if verbose {
            eprintln!(
                "filter: {} classic BPF instructions, run {}; nothing is left to filter in user space",
                st.program.len(),
                if st.live { "by the kernel on the socket" } else { "on each packet of the file" }
            );
        }
        started_info = Some(st.clone());
        Ok(())
    };
    let mut on_packet = |s: &capture::Seen<'_>| -> io::Result<()> {
        if !text {
            kept.push(rows.row(s));
            return Ok(());
        }
        writeln!(w, "{}", rows.line(s))?;
        lines += 1;
        if tty || last_flush.elapsed() >= Duration::from_millis(200) {
            w.flush()?;
            last_flush = Instant::now();
        }
        Ok(())
    };
    interrupt::install();
    let result = capture::run(&req, &mut on_start, &mut on_packet);
    let summary = match result {
        Ok(s) => s,
        Err(e) if e.downcast_ref::<DumpDone>().is_some() => return Ok(Outcome::Success),
        Err(e) => {
            let _ = w.flush();
            return Err(e);
        }
    };
    if text && lines > 0 && summary.conversations.is_some() {
        writeln!(w)?;
    }
    w.flush()?;
    drop(w);
    let st = started_info.as_ref();
    let report = CaptureReport {
        source: st.map(|s| s.source.clone()).unwrap_or_default(),
        live,
        link_type: st
            .map(|s| s.link.describe().to_string())
            .unwrap_or_default(),
        filter: req.filter.clone(),
        packets: kept,
        counts: summary.counts,
        conversations: summary.conversations,
        written: summary.written,
        interrupted: summary.interrupted,
        packets_shown: req.show,
    };
    let outcome = out.print(&report)?;
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
