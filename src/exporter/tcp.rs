//! The `tcp` prober: connect (over TLS with `tls: true`), then blackbox's `query_response` dialogue: `expect` reads
//! lines until one matches a regular expression, `send` writes a line (with `${1}` taken from the last match),
//! `starttls` upgrades the connection. Everything runs against the probe's one deadline.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use rustls::{ClientConnection, StreamOwned};

use super::config::{TcpProbe, TlsConfig};
use super::model::{Deadline, ProbeOut};
use super::resolve::choose_ip;
use crate::explain::{self, exporter as texts, Explanation};
use crate::http::tls::{self, TlsInfo};
use crate::target::{Host, Target};

/// The longest line `expect` reads (Go's bufio.Scanner default, which blackbox uses).
const MAX_LINE: usize = 64 * 1024;
/// Bytes read at most over a whole dialogue, so a server streaming forever cannot hold the probe past a bound.
const MAX_READ: usize = 1024 * 1024;

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn sock(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => match t.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }

    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(b),
            Stream::Tls(t) => {
                t.write_all(b)?;
                t.flush()
            }
        }
    }
}

/// Probes `target` (HOST:PORT) with the module's `tcp` section.
pub fn probe(target: &str, t: &TcpProbe, deadline: Deadline, out: &mut ProbeOut) -> bool {
    out.samples.gauge(
        "probe_failed_due_to_regex",
        "Indicates if probe failed due to regex",
        0.0,
    );
    let parsed = match Target::parse(target) {
        Ok(p) => p,
        Err(e) => return out.fail("target", texts::bad_target(&e.0)),
    };
    let Some(port) = parsed.port else {
        return out.fail(
            "target",
            texts::bad_target(&format!(
                "missing port in address '{target}' (expected HOST:PORT)"
            )),
        );
    };
    let Some((ip, _)) = choose_ip(
        &parsed.host,
        t.preferred_ip_protocol,
        super::config::fallback(t.ip_protocol_fallback),
        out,
    ) else {
        return false;
    };
    let addr = SocketAddr::new(ip, port);
    out.log(format!("dialing TCP with {addr}"));
    let sock = match connect(addr, deadline) {
        Ok(s) => s,
        Err(e) => return out.fail("connect", explain::on_port(e, port)),
    };
    out.log("successfully dialed");
    let server_name = server_name(&t.tls_config, &parsed.host);
    let stream = if t.tls {
        match handshake(sock, &t.tls_config, &server_name, deadline, out) {
            Ok(s) => s,
            Err(e) => return out.fail("tls", e),
        }
    } else {
        Stream::Plain(sock)
    };
    dialogue(stream, t, &server_name, deadline, out)
}

fn server_name(c: &TlsConfig, host: &Host) -> String {
    c.server_name.clone().unwrap_or_else(|| host.to_string())
}

/// A connect under the deadline, on src/net's connect (a loopback connect that met itself is refused, as
/// everywhere in netdiag). Probes are not cut by Ctrl-C: the server stops taking them instead.
fn connect(addr: SocketAddr, deadline: Deadline) -> Result<TcpStream, Explanation> {
    match crate::net::socket::connect_by(addr, deadline.at, deadline.total, &|| false) {
        Ok(s) => Ok(TcpStream::from(s)),
        Err(e) if e.raw_os_error().is_some() => Err(explain::io_error(&e)),
        Err(_) => Err(explain::timeout(deadline.total)),
    }
}

/// The TLS handshake under the deadline (http-get's and DNS over TLS's handshake), recording the TLS metrics.
/// Not HTTP: no ALPN, as blackbox's TCP prober offers none.
fn handshake(
    sock: TcpStream,
    c: &TlsConfig,
    name: &str,
    deadline: Deadline,
    out: &mut ProbeOut,
) -> Result<Stream, Explanation> {
    let host = Host::parse(name).unwrap_or_else(|_| Host::Name(name.to_string()));
    out.log(format!("TLS handshake with server name {name}"));
    match tls::handshake(sock, &host, &c.options(), &[], deadline.at, deadline.total) {
        Ok((stream, info)) => {
            record_tls(&info, out);
            Ok(Stream::Tls(Box::new(stream)))
        }
        Err(f) => Err(f.explanation),
    }
}

/// blackbox's TLS metrics from a handshake: the earliest expiry over the certificates presented, the expiry
/// of the chain, and the version.
pub fn record_tls(t: &TlsInfo, out: &mut ProbeOut) {
    if let Some(min) = t.chain_not_after_unix.iter().min() {
        out.samples.gauge(
            "probe_ssl_earliest_cert_expiry",
            "Returns earliest SSL cert expiry in unixtime",
            *min as f64,
        );
        out.samples.gauge(
            "probe_ssl_last_chain_expiry_timestamp_seconds",
            "Returns last SSL chain expiry in timestamp seconds",
            *min as f64,
        );
    }
    if let (Some(c), Some(fp)) = (&t.certificate, &t.leaf_sha256) {
        let sans: Vec<&str> = c
            .sans
            .iter()
            .filter_map(|s| s.strip_prefix("DNS:"))
            .collect();
        out.samples.gauge_with(
            "probe_ssl_last_chain_info",
            "Contains SSL leaf certificate information",
            vec![
                ("fingerprint_sha256", fp.clone()),
                ("subject", c.subject.clone()),
                ("issuer", c.issuer.clone()),
                ("subjectalternative", sans.join(",")),
            ],
            1.0,
        );
    }
    let version = match t.version.as_str() {
        "TLSv1.3" => "TLS 1.3",
        "TLSv1.2" => "TLS 1.2",
        other => other,
    };
    out.samples.gauge_with(
        "probe_tls_version_info",
        "Contains the TLS version used",
        vec![("version", version.to_string())],
        1.0,
    );
}

/// The `query_response` steps.
fn dialogue(
    mut s: Stream,
    t: &TcpProbe,
    server_name: &str,
    deadline: Deadline,
    out: &mut ProbeOut,
) -> bool {
    let mut pending: Vec<u8> = Vec::new();
    let mut read_total = 0usize;
    for (i, step) in t.query_response.iter().enumerate() {
        let mut send = step.send.clone().unwrap_or_default();
        if let Some(re) = &step.expect {
            out.log(format!("step {i}: expecting /{}/", re.0.as_str()));
            loop {
                let line = match next_line(&mut s, &mut pending, &mut read_total, deadline) {
                    Ok(Some(l)) => l,
                    Ok(None) => {
                        out.samples.gauge("probe_failed_due_to_regex", "", 1.0);
                        let e = texts::expect_unmatched(&format!("/{}/", re.0.as_str()));
                        return out.fail("talk", e);
                    }
                    Err(e) if e.code == "timeout" => {
                        return out.fail(
                            "talk",
                            texts::silent(&format!("/{}/", re.0.as_str()), deadline.total),
                        )
                    }
                    Err(e) => return out.fail("talk", e),
                };
                let text = String::from_utf8_lossy(&line);
                if let Some(caps) = re.0.captures(&text) {
                    out.log(format!(
                        "step {i}: matched '{}'",
                        crate::probe::escape_bytes(&line)
                    ));
                    let mut expanded = String::new();
                    caps.expand(&send, &mut expanded);
                    send = expanded;
                    break;
                }
                out.log(format!(
                    "step {i}: read '{}'",
                    crate::probe::escape_bytes(&line)
                ));
            }
        }
        if !send.is_empty() {
            out.log(format!(
                "step {i}: sending '{}'",
                crate::probe::escape_bytes(send.as_bytes())
            ));
            let _ = s.sock().set_write_timeout(Some(deadline.left()));
            if let Err(e) = s.write_all(format!("{send}\n").as_bytes()) {
                return out.fail("talk", explain::io_error(&e));
            }
        }
        if step.starttls {
            s = match s {
                Stream::Plain(sock) => {
                    match handshake(sock, &t.tls_config, server_name, deadline, out) {
                        Ok(tls) => tls,
                        Err(e) => return out.fail("tls", e),
                    }
                }
                Stream::Tls(_) => {
                    return out.fail(
                        "tls",
                        texts::bad_target("starttls on a connection that is already TLS"),
                    )
                }
            };
            pending.clear();
        }
    }
    true
}

/// A read or write that failed: a timeout at the deadline, otherwise the errno explained.
fn io_failure(e: &io::Error, deadline: Deadline) -> Explanation {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => explain::timeout(deadline.total),
        _ => explain::io_error(e),
    }
}

/// The next line (without `\n` and a trailing `\r`, as Go's line scanner gives it), `None` at the end of the
/// stream; errors are explained (timeouts as such).
fn next_line(
    s: &mut Stream,
    pending: &mut Vec<u8>,
    read_total: &mut usize,
    deadline: Deadline,
) -> Result<Option<Vec<u8>>, Explanation> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = pending.drain(..=i).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
        if pending.len() > MAX_LINE {
            return Err(texts::line_too_long(MAX_LINE));
        }
        if deadline.passed() || *read_total > MAX_READ {
            return Err(explain::timeout(deadline.total));
        }
        let _ = s.sock().set_read_timeout(Some(deadline.left()));
        match s.read(&mut chunk) {
            Ok(0) if pending.is_empty() => return Ok(None),
            Ok(0) => return Ok(Some(std::mem::take(pending))),
            Ok(n) => {
                *read_total += n;
                pending.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_failure(&e, deadline)),
        }
    }
}
