//! `netdiag port` flags.

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::port::{self, PortRequest};
use netdiag::render::Output;
use netdiag::target::PortQuery;

#[derive(Debug, Args)]
#[command(override_usage = "netdiag port [OPTIONS] <SPEC>...\n       netdiag port --search <WORD>")]
#[command(after_help = "\
Examples:
  netdiag port 22                    the service on a port (tcp and udp)
  netdiag port 22,80 443/tcp         several at once; lists and ranges everywhere
  netdiag port postgresql            the ports of a service
  netdiag port 8000-8100             registered services in a range
  netdiag port --search mail         services whose name or description mentions mail")]
pub struct PortArgs {
    /// Ports or names: 80/tcp, 53 (every protocol), http (name → ports), 8000-8010/tcp (one row per named port).
    #[arg(value_name = "SPEC", required_unless_present = "search")]
    pub specs: Vec<String>,

    /// Search service names, aliases and descriptions for a word.
    #[arg(short, long, value_name = "WORD", conflicts_with = "specs")]
    pub search: Option<String>,
}

pub fn run(args: PortArgs, out: &Output) -> Result<Outcome> {
    let req = match args.search {
        Some(word) => {
            if word.trim().is_empty() {
                bail!("empty search word: expected a word such as 'http' or 'postgres'");
            }
            PortRequest::Search(word)
        }
        None => PortRequest::Queries(
            // Lists are accepted here as everywhere: `port 22,80` is `port 22 80`.
            args.specs
                .iter()
                .flat_map(|s| s.split(','))
                .map(|s| PortQuery::parse(s.trim()))
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(out.print(&port::lookup(&req))?)
}
