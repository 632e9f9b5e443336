//! `netdiag http-get` flags.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::http::{
    self, HttpGetReport, HttpRequest, Method, Show, TlsOptions, Url, MAX_REDIRECTS,
};
use netdiag::render::Output;
use netdiag::target::Family;

#[derive(Debug, Args)]
pub struct HttpGetArgs {
    /// What to fetch: HOST, HOST:PORT, [IPv6]:PORT, http://HOST[:PORT]/PATH?QUERY or https://…
    /// (a bare host means http://HOST/).
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,

    /// Add a request header ('Name: value'); one named like a default header (Host, User-Agent, Accept,
    /// Connection) replaces it. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Send HEAD instead of GET.
    #[arg(long)]
    pub head: bool,

    /// Send HTTP/1.0 instead of HTTP/1.1.
    #[arg(long = "http1.0")]
    pub http10: bool,

    /// Show the exact bytes sent and the response head exactly as received.
    #[arg(long)]
    pub raw: bool,

    /// Print the body after the report.
    #[arg(long, conflicts_with = "output")]
    pub body: bool,

    /// Save the body to FILE: streamed to a temporary file beside it and renamed into place only when the
    /// whole body arrived (no size limit unless --max-size is given); otherwise nothing is left under FILE and
    /// the run fails, saying why.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Follow redirects (up to 10) and show each hop.
    #[arg(short = 'L', long)]
    pub follow: bool,

    /// Read at most this much body (bytes, or with a unit: 512K, 10M, 1G; default 10M, and no limit with -o);
    /// the rest is not read and the report says the body was truncated. With -o, a longer body fails the run
    /// and nothing is saved.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub max_size: Option<u64>,

    /// One deadline for everything (resolve, connect, TLS, request, response, redirects): seconds or 500ms, 2s.
    #[arg(long, value_name = "DURATION", default_value = "10", value_parser = crate::cli::args::duration_arg)]
    pub timeout: Duration,

    /// Do not verify the server's certificate (it is still shown).
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Trust the certificates in this PEM file instead of the system's trust store.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 addresses only.
    #[arg(short = '6')]
    pub ipv6: bool,
}

/// The body read at most without -o: 10 MiB.
const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;

/// Parses a size: bytes, or a number with K, M, G (powers of 1024; KiB/MB forms too).
pub fn size_arg(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        format!(
            "invalid size '{}': expected bytes or a number with K, M or G, such as 10M",
            s.trim()
        )
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

pub fn run(args: HttpGetArgs, out: &Output) -> Result<Outcome> {
    let urls = args
        .urls
        .iter()
        .map(|u| Url::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    let headers = args
        .headers
        .iter()
        .map(|h| http::check_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    if args.output.is_some() && urls.len() > 1 {
        bail!("-o FILE saves one body: give one URL");
    }
    let tls = TlsOptions::from_flags(args.insecure, args.cacert.as_deref())?;
    netdiag::interrupt::install();
    let mut results = Vec::with_capacity(urls.len());
    for url in urls {
        if netdiag::interrupt::requested() {
            break;
        }
        let req = HttpRequest {
            url,
            method: if args.head { Method::Head } else { Method::Get },
            http10: args.http10,
            body: None,
            headers: headers.clone(),
            timeout: args.timeout,
            max_size: match (args.max_size, &args.output) {
                (Some(n), _) => n,
                (None, Some(_)) => u64::MAX,
                (None, None) => DEFAULT_MAX_SIZE,
            },
            max_redirects: if args.follow { MAX_REDIRECTS } else { 0 },
            keep_body: args.body,
            output: args.output.clone(),
            family: Family::from_flags(args.ipv4, args.ipv6),
            tls: tls.clone(),
            addresses: None,
        };
        results.push(http::fetch(&req));
    }
    let report = HttpGetReport {
        results,
        interrupted: netdiag::interrupt::requested(),
        show: Show {
            raw: args.raw,
            body: args.body,
        },
    };
    Ok(out.print(&report)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size_arg("100"), Ok(100));
        assert_eq!(size_arg("10M"), Ok(10 << 20));
        assert_eq!(size_arg("512KiB"), Ok(512 << 10));
        assert_eq!(size_arg("1g"), Ok(1 << 30));
        assert!(size_arg("").is_err());
        assert!(size_arg("10X").is_err());
        assert!(size_arg("-1").is_err());
        assert!(size_arg("99999999999999G").is_err());
    }
}
