//! `netdiag ping` flags. Not built yet: its issue is open.

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::render::Output;

#[derive(Debug, Args)]
pub struct PingArgs {
    /// Targets.
    pub targets: Vec<String>,
}

pub fn run(_args: PingArgs, _out: &Output) -> Result<Outcome> {
    bail!("this subcommand is not built yet")
}
