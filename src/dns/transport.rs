//! The transports: UDP (retransmitted, ICMP errors read from the error queue, a truncated answer asked again
//! over TCP), TCP and TLS (two-byte length framing, RFC 1035 4.2.2 and RFC 7858), and HTTPS (RFC 8484 GET
//! through netdiag's HTTP client). Every wait is bounded by the exchange's deadline and sliced so Ctrl-C is
//! noticed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::message::{parse_response, Question, Response, ResponseError};
use super::model::{Endpoint, Exchange, Protocol, QueryOptions, Server};
use crate::explain::dns::{self as ex, Unreachable};
use crate::explain::{interrupted, Explanation};
use crate::net::errqueue::{self, Origin};
use crate::net::poll::{self, Interest, PollFd};
use crate::net::socket;
use crate::target::Host;

/// Time left before the deadline, or None once it passed.
fn left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// Longest single wait, so Ctrl-C is noticed soon.
const SLICE: Duration = Duration::from_millis(250);
/// Largest DNS message.
const MAX_MESSAGE: usize = 65_535;

/// Runs the exchange on the server's transport; fills in the endpoint, protocol, timings and TLS details.
pub(super) fn run(
    server: &Server,
    q: &Question,
    id: u16,
    wire: Vec<u8>,
    opts: &QueryOptions,
    deadline: Instant,
    out: &mut Exchange,
) -> Result<Response, Explanation> {
    if wire.is_empty() {
        return Err(ex::bad_response(
            &out.server_label,
            "the query could not be encoded",
        ));
    }
    if server.protocol == Protocol::Https {
        return https(server, q, wire, opts, deadline, out);
    }
    let label = out.server_label.clone();
    let t = Instant::now();
    let ip = match &server.host {
        Host::Ip(ip) => *ip,
        host => {
            let ips = crate::resolve::resolve_within(host, opts.family, deadline, opts.timeout);
            out.timings.resolve = Some(t.elapsed());
            *ips?
                .first()
                .ok_or_else(|| crate::explain::resolver(libc::EAI_NODATA))?
        }
    };
    let addr = SocketAddr::new(ip, server.port);
    out.server = Some(Endpoint::from(addr));
    if let Host::Name(_) = server.host {
        // Name the address too: the name alone does not say which of its addresses failed.
        out.server_label = format!("{label} ({ip})");
    }
    let label = out.server_label.clone();
    match server.protocol {
        Protocol::Udp => {
            let t = Instant::now();
            let r = udp(addr, &wire, id, q, deadline, opts.timeout, &label);
            out.timings.request = Some(t.elapsed());
            let r = r?;
            if !(r.flag("tc") && opts.tcp_fallback) {
                return Ok(r);
            }
            out.udp_truncated = true;
            out.protocol = Protocol::Tcp;
            stream(addr, &server.host, false, &wire, id, q, opts, deadline, out)
                .map_err(|e| ex::truncated(&label, &e))
        }
        Protocol::Tcp => stream(addr, &server.host, false, &wire, id, q, opts, deadline, out),
        Protocol::Tls => stream(addr, &server.host, true, &wire, id, q, opts, deadline, out),
        Protocol::Https => unreachable!("handled above"),
    }
}

/// One question over UDP on a connected socket: sent again at a third and two thirds of the timeout (as stub
/// resolvers retry), the first valid answer wins; datagrams that answer something else are ignored, and a
/// queued ICMP error ends the wait with its cause.
fn udp(
    addr: SocketAddr,
    wire: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
    timeout: Duration,
    label: &str,
) -> Result<Response, Explanation> {
    let sock = udp_connect(addr).map_err(|e| ex::socket(label, &e))?;
    let start = Instant::now();
    let mut resends = [start + timeout / 3, start + timeout * 2 / 3].into_iter();
    let mut next_send = Some(start);
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut bad: Option<ResponseError> = None;
    loop {
        if crate::interrupt::requested() {
            return Err(interrupted("the answer was complete"));
        }
        if next_send.is_some_and(|t| Instant::now() >= t) {
            if let Err(e) = sock.send(wire) {
                return Err(icmp_or(&sock, label, &e));
            }
            next_send = resends.next();
        }
        let Some(remaining) = left(deadline) else {
            return Err(match bad {
                Some(b) => ex::bad_response(label, &b.to_string()),
                None => ex::timeout(label, timeout),
            });
        };
        let until_send =
            next_send.map_or(remaining, |t| t.saturating_duration_since(Instant::now()));
        let wait_until = Instant::now() + remaining.min(until_send).min(SLICE);
        let mut fds = [PollFd::new(&sock, Interest::Readable)];
        poll::poll(&mut fds, wait_until).map_err(|e| ex::socket(label, &e))?;
        let ready = &fds[0];
        if ready.failed() {
            if let Some(e) = icmp_error(&sock, label) {
                return Err(e);
            }
        }
        if !ready.readable() {
            continue;
        }
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => match parse_response(&buf[..n], id, q) {
                    Ok(r) => return Ok(r),
                    Err(e) => bad = Some(e),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(icmp_or(&sock, label, &e)),
            }
        }
    }
}

/// A non-blocking UDP socket connected to `addr`, with ICMP errors queued for [`errqueue::read`].
fn udp_connect(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let sock = socket::udp_socket(addr.is_ipv6())?;
    errqueue::enable(&sock, addr.is_ipv6())?;
    sock.connect(&addr.into())?;
    Ok(sock.into())
}

/// The queued ICMP error, explained, if there is one.
fn icmp_error(sock: &std::net::UdpSocket, label: &str) -> Option<Explanation> {
    let qe = errqueue::read(sock).ok()??.error;
    // Reading the queue leaves the socket error set; clear it so a later recv does not report it again.
    let _ = sock.take_error();
    if !matches!(qe.origin, Origin::Icmp | Origin::Icmp6) {
        return Some(ex::socket(label, &io::Error::from_raw_os_error(qe.errno)));
    }
    let v6 = qe.offender.is_some_and(|o| o.is_ipv6());
    let kind = match (v6, qe.icmp_type, qe.icmp_code) {
        (false, 3, 3) | (true, 1, 4) => Unreachable::Port,
        (false, 3, 0 | 6 | 11) | (true, 1, 0) => Unreachable::Net,
        (false, 3, 1 | 7 | 12) | (true, 1, 3) => Unreachable::Host,
        (false, 3, 9 | 10 | 13) | (true, 1, 1 | 5 | 6) => Unreachable::Prohibited,
        _ => Unreachable::Other,
    };
    Some(ex::icmp(label, kind, qe.offender))
}

/// A send/recv error: the queued ICMP error when there is one (it names the sender), else the errno.
fn icmp_or(sock: &std::net::UdpSocket, label: &str, e: &io::Error) -> Explanation {
    icmp_error(sock, label).unwrap_or_else(|| ex::socket(label, e))
}

/// A TCP or TLS stream whose socket read timeout can be set.
trait Framed: Read + Write {
    fn tcp(&self) -> &TcpStream;
}

impl Framed for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Framed for crate::http::tls::TlsStream {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

/// One question over TCP, or TLS when `tls`: connect, handshake, the length-prefixed query, the
/// length-prefixed answer.
#[allow(clippy::too_many_arguments)]
fn stream(
    addr: SocketAddr,
    host: &Host,
    tls: bool,
    wire: &[u8],
    id: u16,
    q: &Question,
    opts: &QueryOptions,
    deadline: Instant,
    out: &mut Exchange,
) -> Result<Response, Explanation> {
    let label = out.server_label.clone();
    let t = Instant::now();
    let stop = crate::interrupt::requested;
    let sock = socket::connect_by(addr, deadline, SLICE, &stop)
        .map(TcpStream::from)
        .map_err(|e| match e.kind() {
            io::ErrorKind::TimedOut => ex::timeout(&label, opts.timeout),
            io::ErrorKind::Interrupted => interrupted("the answer was complete"),
            _ => ex::socket(&label, &e),
        });
    out.timings.connect = Some(t.elapsed());
    let sock = sock?;
    let _ = sock.set_nodelay(true);
    let mut framed = wire.len().to_be_bytes()[6..].to_vec();
    framed.extend_from_slice(wire);
    if !tls {
        let mut s = sock;
        let t = Instant::now();
        let r = framed_exchange(&mut s, &framed, id, q, deadline, opts.timeout, &label);
        out.timings.request = Some(t.elapsed());
        return r;
    }
    let t = Instant::now();
    let hs = crate::http::tls::handshake(sock, host, &opts.tls, &[b"dot"], deadline, opts.timeout);
    out.timings.tls = Some(t.elapsed());
    let mut s = match hs {
        Ok((s, info)) => {
            out.tls = Some(info);
            s
        }
        Err(f) => {
            out.tls = f.info;
            let e = f.explanation;
            return Err(if e.code == "interrupted" {
                e
            } else {
                ex::at_server(&label, e)
            });
        }
    };
    let t = Instant::now();
    let r = framed_exchange(&mut s, &framed, id, q, deadline, opts.timeout, &label);
    out.timings.request = Some(t.elapsed());
    r
}

fn framed_exchange<S: Framed>(
    s: &mut S,
    framed: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
    timeout: Duration,
    label: &str,
) -> Result<Response, Explanation> {
    let remaining = left(deadline).ok_or_else(|| ex::timeout(label, timeout))?;
    let _ = s.tcp().set_write_timeout(Some(remaining));
    s.write_all(framed)
        .and_then(|()| s.flush())
        .map_err(|e| stream_error(&e, label, timeout))?;
    let mut len = [0u8; 2];
    read_full(s, &mut len, deadline, timeout, label)?;
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    read_full(s, &mut msg, deadline, timeout, label)?;
    parse_response(&msg, id, q).map_err(|e| ex::bad_response(label, &e.to_string()))
}

/// Fills `buf` before the deadline, reading in slices.
fn read_full<S: Framed>(
    s: &mut S,
    buf: &mut [u8],
    deadline: Instant,
    timeout: Duration,
    label: &str,
) -> Result<(), Explanation> {
    let mut got = 0;
    while got < buf.len() {
        if crate::interrupt::requested() {
            return Err(interrupted("the answer was complete"));
        }
        let remaining = left(deadline).ok_or_else(|| ex::timeout(label, timeout))?;
        let _ = s.tcp().set_read_timeout(Some(remaining.min(SLICE)));
        match s.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(ex::bad_response(
                    label,
                    &format!(
                        "the connection closed after {got} of {} bytes of the answer",
                        buf.len()
                    ),
                ))
            }
            Ok(n) => got += n,
            Err(e) if crate::net::is_slice_end(&e) => {}
            Err(e) => return Err(stream_error(&e, label, timeout)),
        }
    }
    Ok(())
}

fn stream_error(e: &io::Error, label: &str, timeout: Duration) -> Explanation {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ex::timeout(label, timeout),
        _ => ex::socket(label, e),
    }
}

/// DNS over HTTPS (RFC 8484): `GET PATH?dns=BASE64URL` with `Accept: application/dns-message`, through the
/// http module (its connect, TLS and bounded response parser), ID 0 as the RFC recommends for caches.
fn https(
    server: &Server,
    q: &Question,
    mut wire: Vec<u8>,
    opts: &QueryOptions,
    deadline: Instant,
    out: &mut Exchange,
) -> Result<Response, Explanation> {
    wire[0] = 0;
    wire[1] = 0;
    let label = out.server_label.clone();
    let sep = if server.path.contains('?') { '&' } else { '?' };
    let path = format!(
        "{}{sep}dns={}",
        server.path,
        data_encoding::BASE64URL_NOPAD.encode(&wire)
    );
    let url = crate::http::Url {
        scheme: crate::http::Scheme::Https,
        host: server.host.clone(),
        port: server.port,
        path,
        user: None,
    };
    let mut req = crate::http::HttpRequest::new(url);
    req.headers = vec![("Accept".into(), "application/dns-message".into())];
    req.timeout = left(deadline).unwrap_or(Duration::from_millis(1));
    req.keep_body = true;
    req.max_size = MAX_MESSAGE as u64;
    req.family = opts.family;
    req.tls = opts.tls.clone();
    let report = crate::http::fetch(&req);
    let Some(hop) = report.hops.last() else {
        return Err(report
            .explanation
            .unwrap_or_else(|| ex::timeout(&label, opts.timeout)));
    };
    let p = &hop.timings.phases;
    out.timings.resolve = matches!(server.host, Host::Name(_))
        .then_some(p.dns)
        .flatten();
    out.timings.connect = p.connect;
    out.timings.tls = p.tls;
    out.timings.request = p
        .request
        .map(|r| r + p.first_byte.unwrap_or_default() + p.body.unwrap_or_default());
    out.server = hop.address.map(Endpoint::from);
    out.tls = hop.tls.clone();
    if let Some(e) = report.explanation {
        let mut e = e;
        if e.code.starts_with("HTTP") {
            e = ex::doh_not_dns(&label, &e.cause);
        } else if e.verdict == crate::explain::Verdict::Filtered {
            e = ex::timeout(&label, opts.timeout);
        } else if e.code != "interrupted" {
            e = ex::at_server(&label, e);
        }
        return Err(e);
    }
    let ctype = hop
        .response
        .as_ref()
        .and_then(|h| h.header("content-type"))
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ctype.starts_with("application/dns-message") {
        return Err(ex::doh_not_dns(
            &label,
            &format!(
                "the Content-Type is '{}', not application/dns-message",
                crate::target::shown(&ctype)
            ),
        ));
    }
    parse_response(&report.body, 0, q).map_err(|e| ex::bad_response(&label, &e.to_string()))
}
