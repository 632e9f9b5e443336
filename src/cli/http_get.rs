//! `netdiag http-get` flags.

use std::path::PathBuf;
use std::time::Duration;

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;
use netdiag::exit::Outcome;
use netdiag::explain::Verdict;
use netdiag::http::url::base64;
use netdiag::http::writeout::{Context, WriteOut};
use netdiag::http::{
    self, reroute, HttpGetReport, HttpReport, HttpRequest, Method, Show, TlsOptions, Url,
    MAX_REDIRECTS,
};
use netdiag::render::Output;
use netdiag::target::Family;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  netdiag http-get http://127.0.0.1:8080/        status, headers, body size, where the time went
  netdiag http-get -L https://localhost:8443/ -k follow redirects, accept a self-signed certificate
  netdiag http-get http://localhost/ --json      the same as one JSON document
  netdiag http-get --resolve web.test:80:127.0.0.1 http://web.test/
  netdiag http-get --connect-to web.test:443:127.0.0.1:8443 https://web.test/
  netdiag http-get -s -o /dev/null -w '%{http_code} %{time_total}\\n' localhost")]
pub struct HttpGetArgs {
    /// What to fetch: HOST, HOST:PORT, [IPv6]:PORT, http://HOST[:PORT]/PATH?QUERY or https://…
    /// (a bare host means http://HOST/).
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,

    /// Add a request header ('Name: value'); one named like a default header (Host, User-Agent, Accept,
    /// Connection) replaces it. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Send HEAD instead of GET (curl's -I).
    #[arg(short = 'I', long)]
    pub head: bool,

    /// The request method, as curl's -X: GET, HEAD, POST, PUT, DELETE, OPTIONS or PATCH.
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,

    /// Send DATA as the body, as curl -d: POST unless -X says otherwise, Content-Type
    /// application/x-www-form-urlencoded unless -H sets one; '@FILE' reads the body from FILE (newlines
    /// removed, as curl does). Repeated -d are joined with '&'.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Vec<String>,

    /// Basic authentication, as curl's -u USER:PASSWORD (sent as an Authorization header).
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    pub user: Option<String>,

    /// Silent, as curl -s: print only the body (a failure is one line on stderr); the exit code is the same.
    #[arg(short = 's', long)]
    pub silent: bool,

    /// Send HTTP/1.0 instead of HTTP/1.1.
    #[arg(long = "http1.0")]
    pub http10: bool,

    /// Show the exact bytes sent and the response head exactly as received (curl's -v).
    #[arg(long, short = 'v', visible_alias = "verbose")]
    pub raw: bool,

    /// Print the body after the report.
    #[arg(long, conflicts_with = "output")]
    pub body: bool,

    /// Save the body to FILE: streamed to a temporary file beside it and renamed into place only when the
    /// whole body arrived (no size limit unless --max-size is given); otherwise nothing is left under FILE and
    /// the run fails, saying why. A device or FIFO (/dev/null) is written in place. '-' writes only the body to
    /// stdout, as curl -o - does.
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

    /// Use ADDRESS for HOST at PORT instead of DNS and /etc/hosts, as curl's --resolve:
    /// HOST:PORT:ADDRESS[,ADDRESS...] (IPv6 in brackets: [::1]). It applies where the host and port connected
    /// to match, redirects included; the report says the address came from --resolve. Repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDRESS")]
    pub resolve: Vec<String>,

    /// Connect to CONNECT_HOST:CONNECT_PORT instead, for requests to HOST:PORT, as curl's --connect-to
    /// (an empty HOST or PORT matches any; an empty CONNECT_HOST or CONNECT_PORT keeps the URL's). The Host
    /// header, SNI and the certificate check keep the URL's host. Redirects included; the first match
    /// applies. Repeatable.
    #[arg(
        long = "connect-to",
        value_name = "HOST:PORT:CONNECT_HOST:CONNECT_PORT"
    )]
    pub connect_to: Vec<String>,

    /// After each transfer print FORMAT to stdout, as curl's -w ('@FILE' reads it from FILE, '@-' from
    /// stdin). stdout is then as curl's: the body (nothing with -o FILE), then FORMAT; the report goes to
    /// stderr, or with -s only a failure's one line. %{name} variables: http_code response_code
    /// size_download size_header size_request size_upload time_namelookup time_connect time_appconnect
    /// time_pretransfer time_starttransfer time_total time_redirect (seconds, 6 decimals, from the start)
    /// remote_ip remote_port local_ip local_port num_redirects num_connects num_headers url url_effective
    /// redirect_url content_type scheme http_version method speed_download speed_upload ssl_verify_result
    /// filename_effective urlnum exitcode (netdiag's) errormsg; %{json} (all of them), %header{NAME},
    /// %{stderr} %{stdout} %{onerror}; escapes \n \t \r and %%.
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    pub write_out: Option<String>,

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
    let message = message(&args)?;
    let (addresses, connect_to) = reroutes(&args)?;
    let sinks = Sinks::from_flags(&args, out, urls.len())?;
    let common = Common {
        message,
        tls: TlsOptions::from_flags(args.insecure, args.cacert.as_deref())?,
        addresses,
        connect_to,
    };
    netdiag::interrupt::install();
    let mut results = Vec::with_capacity(urls.len());
    for url in urls {
        if netdiag::interrupt::requested() {
            break;
        }
        results.push(http::fetch(&request(url, &common, &args, &sinks)));
    }
    let report = HttpGetReport {
        results,
        interrupted: netdiag::interrupt::requested(),
        show: Show {
            raw: args.raw,
            body: args.body && sinks.write_out.is_none(),
        },
    };
    emit(&report, &args, out, &sinks)
}

/// What every URL's request shares, from the flags.
struct Common {
    message: Message,
    tls: TlsOptions,
    addresses: Vec<http::Pin>,
    connect_to: Vec<http::ConnectTo>,
}

/// The method, headers and body of every request.
struct Message {
    method: Method,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

/// The method, headers and body the flags ask for (-X, -H, -u, -d, -I), checked; a body without a
/// Content-Type header gets curl's form type.
fn message(args: &HttpGetArgs) -> Result<Message> {
    let mut headers = args
        .headers
        .iter()
        .map(|h| http::check_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(user) = &args.user {
        if !user.contains(':') {
            bail!("-u '{user}': expected USER:PASSWORD (netdiag does not prompt for a password)");
        }
        headers.push(http::check_header(&format!(
            "Authorization: Basic {}",
            base64(user.as_bytes())
        ))?);
    }
    let body = request_body(&args.data)?;
    let method = match args.method.as_deref() {
        Some(m) => Method::parse(m).ok_or_else(|| {
            anyhow::anyhow!(
                "-X {m}: unknown method; use one of {}",
                Method::ALL.map(Method::as_str).join(", ")
            )
        })?,
        None if args.head => Method::Head,
        None if body.is_some() => Method::Post,
        None => Method::Get,
    };
    if args.head && body.is_some() {
        bail!("-I and -d: a HEAD request carries no body; drop -I or -d");
    }
    if body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ));
    }
    Ok(Message {
        method,
        headers,
        body,
    })
}

/// Where the output goes: -w's format, and whether bodies go to stdout (-s, -o -, -w) or a head shows live.
struct Sinks {
    write_out: Option<WriteOut>,
    to_stdout: bool,
    body_only: bool,
    body_to_stdout: bool,
    live_head: bool,
}

impl Sinks {
    fn from_flags(args: &HttpGetArgs, out: &Output, urls: usize) -> Result<Sinks> {
        let write_out = args.write_out.as_deref().map(load_write_out).transpose()?;
        if write_out.is_some() && !out.is_text() {
            bail!("-w with --json or --format csv: both write a summary to stdout; use -w's %{{json}}, or drop -w");
        }
        let to_stdout = args.output.as_deref().is_some_and(|p| p.as_os_str() == "-");
        let body_only = args.silent || to_stdout;
        // With -w the body goes to stdout as curl's, unless -o FILE takes it.
        let body_to_stdout = body_only || (write_out.is_some() && args.output.is_none());
        if args.output.is_some() && urls > 1 {
            bail!("-o FILE saves one body: give one URL");
        }
        // On a terminal the head shows as soon as it arrives; piped output and --json stay whole documents.
        let live_head = out.is_text() && out.tty && !body_only && write_out.is_none();
        Ok(Sinks {
            write_out,
            to_stdout,
            body_only,
            body_to_stdout,
            live_head,
        })
    }
}

/// One URL's request.
fn request(url: Url, common: &Common, args: &HttpGetArgs, sinks: &Sinks) -> HttpRequest {
    // Credentials in the URL are basic authentication, as curl sends them; -u wins over them.
    let mut headers = common.message.headers.clone();
    if let (Some(auth), None) = (url.basic_auth(), &args.user) {
        headers.push(("Authorization".to_string(), auth));
    }
    HttpRequest {
        url,
        method: common.message.method,
        http10: args.http10,
        body: common.message.body.clone(),
        headers,
        timeout: args.timeout,
        max_size: match (args.max_size, &args.output) {
            (Some(n), _) => n,
            (None, Some(_)) => u64::MAX,
            (None, None) => DEFAULT_MAX_SIZE,
        },
        max_redirects: if args.follow { MAX_REDIRECTS } else { 0 },
        keep_body: args.body || sinks.body_to_stdout,
        output: if sinks.to_stdout {
            None
        } else {
            args.output.clone()
        },
        family: Family::from_flags(args.ipv4, args.ipv6),
        tls: common.tls.clone(),
        addresses: common.addresses.clone(),
        connect_to: common.connect_to.clone(),
        on_head: sinks
            .live_head
            .then_some(print_head as fn(&Url, &http::Head)),
    }
}

/// The report as the flags ask: -w's text, the bodies alone (-s, -o -), or the report itself.
fn emit(
    report: &HttpGetReport,
    args: &HttpGetArgs,
    out: &Output,
    sinks: &Sinks,
) -> Result<Outcome> {
    if let Some(w) = &sinks.write_out {
        return print_write_out(w, report, args, out, sinks.body_to_stdout);
    }
    if sinks.body_only {
        // curl -s / -o -: the body alone on stdout; a failure in one line on stderr.
        let mut o = std::io::stdout().lock();
        for r in &report.results {
            o.write_all(&r.body)?;
        }
        o.flush()?;
        let outcome = netdiag::render::Report::outcome(report);
        failure_line(report, outcome);
        return Ok(outcome);
    }
    Ok(out.print(report)?)
}

/// -w: stdout as curl's (each body unless -o FILE took it, then the -w text); the report goes to stderr in
/// place of curl's progress meter, or with -s only a failure's line.
fn print_write_out(
    w: &WriteOut,
    report: &HttpGetReport,
    args: &HttpGetArgs,
    out: &Output,
    body_to_stdout: bool,
) -> Result<Outcome> {
    if !args.silent {
        out.write(report, &mut std::io::stderr().lock())?;
    }
    let filename = args.output.as_deref().map(|p| p.display().to_string());
    let mut o = std::io::stdout().lock();
    let mut e = std::io::stderr().lock();
    for (i, r) in report.results.iter().enumerate() {
        if body_to_stdout {
            o.write_all(&r.body)?;
        }
        let cx = Context {
            report: r,
            exit_code: exit_code(r),
            urlnum: i,
            filename: filename.as_deref(),
        };
        w.write(&cx, &mut o, &mut e)?;
    }
    o.flush()?;
    drop(e);
    let outcome = netdiag::render::Report::outcome(report);
    if args.silent {
        failure_line(report, outcome);
    }
    Ok(outcome)
}

/// The --resolve and --connect-to entries, checked.
fn reroutes(args: &HttpGetArgs) -> Result<(Vec<http::Pin>, Vec<http::ConnectTo>)> {
    let pins = args
        .resolve
        .iter()
        .map(|s| reroute::parse_resolve(s))
        .collect::<Result<Vec<_>, _>>()?;
    let connect_to = args
        .connect_to
        .iter()
        .map(|s| reroute::parse_connect_to(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((pins, connect_to))
}

/// A failed run in one line on stderr (-s).
fn failure_line(report: &HttpGetReport, outcome: Outcome) {
    if outcome == Outcome::Success {
        return;
    }
    let _ = writeln!(
        std::io::stderr(),
        "netdiag: http-get: {}",
        report
            .results
            .iter()
            .filter_map(|r| r.explanation.as_ref().map(ToString::to_string))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// The exit code one transfer alone would give (-w's %{exitcode}).
fn exit_code(r: &HttpReport) -> u8 {
    if r.verdict == Verdict::Interrupted {
        Outcome::Interrupted.code()
    } else {
        netdiag::render::Report::outcome(r).code()
    }
}

/// The -w format: as given, or read from '@FILE' ('@-': stdin); unknown variables are named on stderr once
/// each, and print nothing, as curl does.
fn load_write_out(arg: &str) -> Result<WriteOut> {
    let format = match arg.strip_prefix('@') {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| anyhow::anyhow!("-w @-: cannot read stdin: {e}"))?;
            s
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "-w @{path}: cannot read the file ({e}); give a readable file or the format itself"
            )
        })?,
        None => arg.to_string(),
    };
    let (w, unknown) = WriteOut::parse(&format);
    for name in unknown {
        let _ = writeln!(
            std::io::stderr(),
            "netdiag: http-get: unknown --write-out variable: '{name}' (it prints nothing; `netdiag http-get --help` lists the variables)"
        );
    }
    Ok(w)
}

/// The body -d asks for, as curl builds it: each DATA as given, '@FILE' read from FILE with CR and LF
/// removed, '@-' from stdin; several joined with '&'.
fn request_body(data: &[String]) -> Result<Option<Vec<u8>>> {
    if data.is_empty() {
        return Ok(None);
    }
    let mut body = Vec::new();
    for (i, d) in data.iter().enumerate() {
        if i > 0 {
            body.push(b'&');
        }
        match d.strip_prefix('@') {
            Some(path) => {
                let bytes = if path == "-" {
                    let mut b = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                        .map_err(|e| anyhow::anyhow!("-d @-: cannot read stdin: {e}"))?;
                    b
                } else {
                    std::fs::read(path).map_err(|e| {
                        anyhow::anyhow!("-d @{path}: cannot read the file ({e}); give a readable file or the data itself")
                    })?
                };
                body.extend(bytes.into_iter().filter(|&b| b != b'\r' && b != b'\n'));
            }
            None => body.extend_from_slice(d.as_bytes()),
        }
    }
    Ok(Some(body))
}

/// Prints a response head as it arrives (a terminal only), before the body is read; the report follows.
fn print_head(url: &Url, head: &http::Head) {
    // A hostile server's bytes never reach the terminal as control sequences.
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "< {}  ({url}: the head arrived; the body follows)",
        clean(&head.status_line())
    );
    for h in &head.headers {
        let _ = writeln!(o, "< {}: {}", clean(&h.name), clean(&h.value));
    }
    let _ = writeln!(o);
    let _ = o.flush();
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_as_rfc_4648() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

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
