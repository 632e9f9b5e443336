//! `netdiag serve` flags. Not built yet: its issue is open.

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::render::Output;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Targets.
    pub targets: Vec<String>,
}

pub fn run(_args: ServeArgs, _out: &Output) -> Result<Outcome> {
    bail!("this subcommand is not built yet")
}
