//! `netdiag port` flags.

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::port::{self, PortRequest};
use netdiag::render::Output;
use netdiag::target::PortQuery;

#[derive(Debug, Args)]
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
            args.specs
                .iter()
                .map(|s| PortQuery::parse(s))
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(out.print(&port::lookup(&req))?)
}
