//! The command line: clap types, one Args struct per subcommand (each in its own file beside this one), and the
//! dispatch that turns parsed flags into library calls. Library modules never see clap.

mod args;
mod capture;
mod diagnose;
mod exporter;
mod http_get;
mod lookup;
mod ping;
mod port;
mod probe;
mod serve;
mod sockets;
mod trace;

use std::io::{self, Write};

use args::Lazy;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use netdiag::exit::{self, Outcome};
use netdiag::render::{ColorChoice, Format, Output};

const EXIT_CODES: &str = "\
Exit codes:
  0    every target answered (found, open, reachable, 2xx)
  1    a target failed (not found, closed, filtered, unreachable, HTTP error)
  2    bad input or usage, or netdiag could not run
  130  interrupted (Ctrl-C); what was found so far is printed";

/// Network diagnostics and troubleshooting: what is this host, what is listening, can I reach it, and if
/// not, why?
#[derive(Debug, Parser)]
#[command(name = "netdiag", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print machine-readable JSON instead of tables (same as --format json).
    #[arg(long, global = true)]
    pub json: bool,

    /// Output format.
    #[arg(long, value_enum, global = true, default_value_t = FormatArg::Table, value_name = "FORMAT")]
    pub format: FormatArg,

    /// When to color the output (auto: when stdout is a terminal and NO_COLOR is unset).
    #[arg(long, value_enum, global = true, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Tables and lines for people.
    Table,
    /// One JSON document (the schema is in docs/json.md).
    Json,
    /// The report's tables as CSV (RFC 4180 quoting), for spreadsheets.
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve names and addresses as programs do, or ask DNS servers directly (any record type; UDP, TCP,
    /// TLS, HTTPS; --all-servers, --trace); with no argument, this machine's names and addresses.
    Lookup(Lazy<lookup::LookupArgs>),
    /// Name the service on a port, find the ports of a service, list a range, or search the services table.
    Port(Lazy<port::PortArgs>),
    /// Probe TCP (or UDP) ports: open, closed, filtered or unreachable, with latency; scan ranges fast.
    Probe(Lazy<probe::ProbeArgs>),
    /// Send a raw HTTP/1.1 GET and show the request, status, headers, body size and where the time went.
    #[command(name = "http-get")]
    HttpGet(Lazy<http_get::HttpGetArgs>),
    /// Show this machine's sockets (like ss/netstat): protocol, state, addresses, queues, owning process.
    Sockets(Lazy<sockets::SocketsArgs>),
    /// ICMP echo (or TCP connect when ICMP is not allowed) to one or many hosts, with loss and RTT statistics.
    Ping(Lazy<ping::PingArgs>),
    /// Walk resolve → reach → connect → talk, and name the first layer that fails and why.
    Diagnose(Lazy<diagnose::DiagnoseArgs>),
    /// Run an echo server (TCP and UDP) to test the path between two machines.
    Serve(Lazy<serve::ServeArgs>),
    /// The path to a host hop by hop, as mtr does: loss, round trips and jitter per hop, every router,
    /// ICMP errors and MPLS labels; TCP to a port finds the firewall that drops it.
    Trace(Lazy<trace::TraceArgs>),
    /// Capture packets (like tcpdump): a filter compiled to BPF in the kernel, one line per packet, pcap files,
    /// and a per-conversation analysis with a verdict for each flow.
    Capture(Lazy<capture::CaptureArgs>),
    /// Serve probes to Prometheus: a drop-in for blackbox_exporter that also says why a probe failed.
    Exporter(Lazy<exporter::ExporterArgs>),
    /// Print a shell completion script.
    Completions(Lazy<CompletionsArgs>),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Runs the parsed command line and says how it went.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let format = if cli.json {
        Format::Json
    } else {
        match cli.format {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Csv => Format::Csv,
        }
    };
    let color = match cli.color {
        ColorArg::Auto => ColorChoice::Auto,
        ColorArg::Always => ColorChoice::Always,
        ColorArg::Never => ColorChoice::Never,
    };
    let out = Output::new(format, color);
    match cli.command {
        Command::Lookup(Lazy(a)) => lookup::run(a, &out),
        Command::Port(Lazy(a)) => port::run(a, &out),
        Command::Probe(Lazy(a)) => probe::run(a, &out),
        Command::HttpGet(Lazy(a)) => http_get::run(a, &out),
        Command::Sockets(Lazy(a)) => sockets::run(a, &out),
        Command::Ping(Lazy(a)) => ping::run(a, &out),
        Command::Diagnose(Lazy(a)) => diagnose::run(a, &out),
        Command::Serve(Lazy(a)) => serve::run(a, &out),
        Command::Trace(Lazy(a)) => trace::run(a, &out),
        Command::Capture(Lazy(a)) => capture::run(a, &out),
        Command::Exporter(Lazy(a)) => exporter::run(a, &out),
        Command::Completions(Lazy(a)) => {
            let mut buf = Vec::new();
            clap_complete::generate(a.shell, &mut Cli::command(), "netdiag", &mut buf);
            io::stdout().lock().write_all(&buf)?;
            Ok(Outcome::Success)
        }
    }
}

/// Turns a clap error into netdiag's one-line form and an exit code: help and version print as clap prints them
/// and exit 0; every usage error prints `netdiag: error: …` on one line and exits 2.
pub fn clap_exit(e: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            exit::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            exit::USAGE
        }
        _ => {
            let _ = writeln!(
                io::stderr(),
                "netdiag: error: {}",
                one_line(&e.render().to_string())
            );
            exit::USAGE
        }
    }
}

/// clap's multi-line error as one line: the message, the arguments or values it lists and any tip, without
/// the usage block and the "For more information" footer.
fn one_line(text: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            break;
        }
        if !l.is_empty() {
            parts.push(l);
        }
    }
    let joined = parts.join(" ").replace(" tip: ", "; tip: ");
    let msg = joined.trim_start_matches("error: ").trim_end_matches(':');
    if msg.is_empty() {
        "invalid arguments (see 'netdiag --help')".to_string()
    } else {
        format!("{msg} (see 'netdiag --help')")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    fn usage_error(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).unwrap_err();
        one_line(&e.render().to_string())
    }

    #[test]
    fn usage_errors_name_what_is_missing_or_allowed() {
        let m = usage_error(&["netdiag", "http-get"]);
        assert!(
            m.contains("required arguments were not provided: <URL>"),
            "{m}"
        );
        let m = usage_error(&["netdiag", "--format", "xml", "port", "80"]);
        assert!(
            m.contains("'xml'") && m.contains("possible values: table, json, csv"),
            "{m}"
        );
        let m = usage_error(&["netdiag", "completions", "tcsh"]);
        assert!(
            m.contains("bash") && m.contains("zsh") && m.contains("fish"),
            "{m}"
        );
        assert!(!m.contains('\n'));
    }
}
