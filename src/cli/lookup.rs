//! `netdiag lookup` flags.

use anyhow::Result;
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::lookup::{self, LookupRequest};
use netdiag::render::Output;
use netdiag::target::{Family, Host};

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// Names to resolve (every IPv4 and IPv6 address, the canonical name) or addresses to reverse-resolve.
    /// With none, this machine's hostname, FQDN and addresses.
    #[arg(value_name = "NAME|ADDRESS")]
    pub queries: Vec<String>,

    /// IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 addresses only.
    #[arg(short = '6')]
    pub ipv6: bool,
}

pub fn run(args: LookupArgs, out: &Output) -> Result<Outcome> {
    let family = Family::from_flags(args.ipv4, args.ipv6);
    if args.queries.is_empty() {
        return Ok(out.print(&lookup::local(family)?)?);
    }
    for q in &args.queries {
        Host::parse(q)?;
    }
    let report = lookup::lookup(&LookupRequest {
        queries: args.queries,
        family,
    });
    Ok(out.print(&report)?)
}
