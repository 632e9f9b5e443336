//! `netdiag diagnose` flags.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use netdiag::diagnose::{self, DiagnoseRequest};
use netdiag::exit::Outcome;
use netdiag::render::Output;
use netdiag::target::Family;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  netdiag diagnose                         this machine: hostname, resolver, loopback, routes
  netdiag diagnose http://127.0.0.1:8080/  resolve, reach, connect, HTTP GET, verdict
  netdiag diagnose https://example.test/   the same with TLS: version, cipher, certificate
  netdiag diagnose db.internal:5432 -4     TCP only (no protocol check), IPv4 only

A bare HOST is checked as http://HOST/ (port 80), as curl does; HOST:443 as https.
Exit 0 when the target works end to end, 1 when a step fails (the cause and the likely fix are
printed), 2 on bad input.")]
pub struct DiagnoseArgs {
    /// What to check: HOST, HOST:PORT, [IPv6]:PORT or an http:// or https:// URL. With none, this machine.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,

    /// IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 addresses only.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// HTTPS: do not verify the server's certificate (it is still shown).
    #[arg(long, short = 'k')]
    pub insecure: bool,

    /// HTTPS: trust the CA certificates in this PEM file instead of the system's trust store.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,

    /// Capture the walk's packets (needs root or CAP_NET_RAW) and add what they show to the verdict: the SYNs
    /// sent, what came back and from which address.
    #[arg(long, requires = "target")]
    pub capture: bool,

    /// How long each network step may take.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = crate::cli::args::duration_arg)]
    pub timeout: Duration,
}

pub fn run(args: DiagnoseArgs, out: &Output) -> Result<Outcome> {
    netdiag::interrupt::install();
    let family = Family::from_flags(args.ipv4, args.ipv6);
    let report = match &args.target {
        None => diagnose::machine::check(args.timeout),
        Some(t) => {
            let target = diagnose::parse_target(t)?;
            let port = target.port;
            let req = DiagnoseRequest {
                target,
                family,
                timeout: args.timeout,
                tls: netdiag::http::TlsOptions::from_flags(args.insecure, args.cacert.as_deref())?,
            };
            if args.capture {
                let (mut report, evidence) =
                    diagnose::capture::with_capture(port, || diagnose::diagnose(&req));
                report.capture = Some(evidence);
                report
            } else {
                diagnose::diagnose(&req)
            }
        }
    };
    Ok(out.print(&report)?)
}
