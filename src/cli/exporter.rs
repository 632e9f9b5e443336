//! `netdiag exporter` flags. Blackbox_exporter's flag names are accepted as aliases (`--web.listen-address`,
//! `--config.file`, `--log.level`, `--config.check`), so its systemd units and scripts work unchanged.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use netdiag::exit::Outcome;
use netdiag::exporter::{log::Level, server, Options};
use netdiag::render::Output;

#[derive(Debug, Args)]
#[command(after_help = "\
Endpoints (blackbox_exporter's):
  /probe?target=T&module=M   run a probe; module defaults to http_2xx; debug=true shows its log;
                             hostname=H sets the Host header and TLS name of an http probe
  /metrics                   the exporter's own metrics and process metrics
  /-/healthy                 200 while the exporter runs
  /-/reload                  POST: reload the module file (so does SIGHUP); /config shows it

Examples:
  netdiag exporter                                   built-in modules on 127.0.0.1:9115
  netdiag exporter --config /etc/prometheus/blackbox.yml --listen 127.0.0.1:9115
  curl 'http://127.0.0.1:9115/probe?target=127.0.0.1:22&module=tcp_connect'
  curl 'http://127.0.0.1:9115/probe?target=http://localhost/&module=diagnose&debug=true'

Beyond blackbox: a failed probe has probe_failure_info{layer,code} 1, where layer is target,
resolve, reach, connect, tls, http, talk, dns or probe, and code is ECONNREFUSED, timeout,
EAI_NONAME, cert-expired, HTTP 404, ...; the diagnose prober exports probe_step_success{step}
and probe_step_duration_seconds{step} for resolve, reach, connect and talk.")]
pub struct ExporterArgs {
    /// Address and port to serve on (blackbox: --web.listen-address).
    #[arg(
        long,
        alias = "web.listen-address",
        value_name = "ADDR:PORT",
        default_value = "127.0.0.1:9115"
    )]
    pub listen: String,

    /// blackbox_exporter module file (YAML). Without it, built-in modules: http_2xx, http_post_2xx,
    /// tcp_connect, pop3s_banner, ssh_banner, irc_banner, icmp, icmp_ttl5, diagnose.
    #[arg(long, alias = "config.file", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Seconds subtracted from Prometheus' scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) to give the
    /// probe timeout, which a module's `timeout` caps.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5)]
    pub timeout_offset: f64,

    /// Probes running at once; a probe request beyond this gets 503.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_concurrent: usize,

    /// Least level logged (failed probes are logged at warn).
    #[arg(long, alias = "log.level", value_enum, default_value_t = LevelArg::Info, value_name = "LEVEL")]
    pub log_level: LevelArg,

    /// Check the module file, print how many modules it has, and exit (0 when it loads, 2 otherwise).
    #[arg(long, alias = "config.check")]
    pub check_config: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LevelArg {
    Debug,
    Info,
    Warn,
    Error,
}

pub fn run(args: ExporterArgs, _out: &Output) -> Result<Outcome> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        anyhow::anyhow!(
            "invalid --listen '{}': expected ADDR:PORT such as 127.0.0.1:9115 or [::1]:9115",
            netdiag::target::shown(&args.listen)
        )
    })?;
    if !args.timeout_offset.is_finite() || args.timeout_offset < 0.0 {
        bail!(
            "invalid --timeout-offset {}: expected seconds, 0 or more, such as 0.5",
            args.timeout_offset
        );
    }
    if args.max_concurrent == 0 || args.max_concurrent > 100_000 {
        bail!(
            "invalid --max-concurrent {}: expected 1 to 100000",
            args.max_concurrent
        );
    }
    if args.check_config {
        let n = server::check(&args.config).map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(std::io::stdout(), "config OK: {n} modules")?;
        return Ok(Outcome::Success);
    }
    let log_level = match args.log_level {
        LevelArg::Debug => Level::Debug,
        LevelArg::Info => Level::Info,
        LevelArg::Warn => Level::Warn,
        LevelArg::Error => Level::Error,
    };
    netdiag::exporter::run(Options {
        listen,
        config: args.config,
        timeout_offset: args.timeout_offset,
        max_concurrent: args.max_concurrent,
        log_level,
    })?;
    Ok(Outcome::Success)
}
