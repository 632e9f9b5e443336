//! One exchange on netdiag's own socket: resolve, connect (each address in turn), TLS, write the request, read
//! the answer through the bounded decoder. Every step runs against the one deadline of the whole fetch.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rustls::{ClientConnection, StreamOwned};

use super::eyeballs;
use super::model::{AddressSource, Attempt, BodyInfo, Hop, HttpRequest, Marks, Method};
use super::output::Sink;
use super::parse::{Framing, ParseError};
use super::parse::{Limits, ResponseDecoder};
use super::reroute;
use super::tls;
use super::url::{Scheme, Url};
use crate::explain::{self, Explanation};
use crate::target::Host;

/// Longest single wait, so Ctrl-C is noticed soon even in a long read.
const SLICE: Duration = Duration::from_millis(250);
/// Read buffer size.
const READ_BUF: usize = 64 * 1024;

enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Conn {
    fn sock(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(t) => &t.sock,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            // A server that closes without close_notify ends a read-until-close body, as for every client.
            Conn::Tls(t) => match t.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(data),
            Conn::Tls(t) => {
                t.write_all(data)?;
                t.flush()
            }
        }
    }
}

/// The request bytes: the default headers, replaced or followed by the user's.
pub(super) fn request_bytes(url: &Url, req: &HttpRequest) -> String {
    let version = if req.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let ua = format!("netdiag/{}", env!("CARGO_PKG_VERSION"));
    let defaults = [
        ("Host", url.authority()),
        ("User-Agent", ua),
        ("Accept", "*/*".to_string()),
        ("Connection", "close".to_string()),
    ];
    let mut s = format!("{} {} {version}\r\n", req.method.as_str(), url.path);
    for (name, value) in &defaults {
        let user = req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        if user.is_none() {
            s.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    for (name, value) in &req.headers {
        s.push_str(&format!("{name}: {value}\r\n"));
    }
    let user_length = req
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if let (Some(body), false) = (&req.body, user_length) {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    s
}

/// The request with each `Authorization` value masked as `SCHEME ***` (curl's -v shows it; we never do).
pub(super) fn mask_authorization(request: &str) -> String {
    request
        .split_inclusive("\r\n")
        .map(|line| match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("authorization") => {
                let scheme = value.split_whitespace().next().unwrap_or("");
                format!("{name}: {scheme} ***\r\n")
            }
            _ => line.to_string(),
        })
        .collect()
}

fn new_hop(url: &Url, request: String) -> Hop {
    Hop {
        url: url.clone(),
        resolved: Vec::new(),
        address_source: AddressSource::Resolver,
        resolve_rule: None,
        connect_to: None,
        address: None,
        local_address: None,
        failed_addresses: Vec::new(),
        attempts: Vec::new(),
        request,
        request_bytes: 0,
        upload_bytes: 0,
        tls: None,
        interim: Vec::new(),
        response: None,
        body: BodyInfo::default(),
        timings: Default::default(),
        location: None,
        error: None,
        raw_head: Vec::new(),
    }
}

/// Runs one request/response exchange; returns the hop and the body kept (when asked).
/// With `sink` (`-o`), the body is streamed into it instead of kept.
pub(super) fn exchange(
    url: &Url,
    req: &HttpRequest,
    deadline: Instant,
    mut sink: Option<&mut Sink>,
) -> (Hop, Vec<u8>) {
    let mut marks = Marks::new();
    let mut hop = new_hop(url, request_bytes(url, req));
    let mut body = Vec::new();
    let restarted = match sink.as_deref_mut() {
        Some(s) => s
            .restart()
            .map_err(|e| explain::http::not_saved(&s.path().display().to_string(), &e.to_string())),
        None => Ok(()),
    };
    let r = restarted.and_then(|()| run(url, req, deadline, &mut marks, &mut hop, &mut body, sink));
    if let Err(e) = r {
        hop.error = Some(e);
    }
    if marks.end.is_none() {
        marks.end = Some(Instant::now());
    }
    hop.timings = marks.timings();
    (hop, body)
}

fn run(
    url: &Url,
    req: &HttpRequest,
    deadline: Instant,
    marks: &mut Marks,
    hop: &mut Hop,
    body: &mut Vec<u8>,
    sink: Option<&mut Sink>,
) -> Result<(), Explanation> {
    let port = addresses(hop, url, req, deadline)?;
    marks.dns = Some(Instant::now());
    let sock = connect(hop, port, req, deadline)?;
    marks.connect = Some(Instant::now());
    hop.local_address = sock.local_addr().ok();
    let _ = sock.set_nodelay(true);
    let mut conn = match url.scheme {
        Scheme::Http => Conn::Plain(sock),
        Scheme::Https => {
            let c = handshake(sock, url, req, deadline, hop);
            // A failed handshake still shows how long it ran.
            marks.tls = Some(Instant::now());
            c?
        }
    };
    let remaining = crate::duration::left(deadline).ok_or_else(|| explain::timeout(req.timeout))?;
    let _ = conn.sock().set_write_timeout(Some(remaining));
    let mut wire = hop.request.as_bytes().to_vec();
    // What is shown and recorded never holds the credentials: the Authorization value is masked once sent.
    hop.request = mask_authorization(&hop.request);
    if let Some(b) = &req.body {
        wire.extend_from_slice(b);
    }
    conn.write_all(&wire)
        .map_err(|e| write_error(&e, req.timeout))?;
    hop.request_bytes = wire.len() as u64;
    hop.upload_bytes = req.body.as_ref().map_or(0, |b| b.len() as u64);
    marks.request = Some(Instant::now());
    read_response(&mut conn, url, req, deadline, marks, hop, body, sink)
}

/// Fills the hop's addresses and says which port to connect to: `--connect-to` picks where to connect, then
/// `--resolve` (or the caller) may say what that host's addresses are; otherwise the resolver is asked.
fn addresses(
    hop: &mut Hop,
    url: &Url,
    req: &HttpRequest,
    deadline: Instant,
) -> Result<u16, Explanation> {
    let (host, port, via) = reroute::connect_target(url, req);
    hop.connect_to = via;
    let Some(pin) = reroute::pinned(req, &host, port) else {
        if let Host::Ip(_) = host {
            hop.address_source = AddressSource::Literal;
        }
        hop.resolved = resolve(&host, req, deadline)?;
        return Ok(port);
    };
    hop.address_source = pin.source;
    if pin.source == AddressSource::ResolveOption {
        hop.resolve_rule = Some(pin.rule.clone());
    }
    hop.resolved = pin
        .addresses
        .iter()
        .copied()
        .filter(|ip| req.family.matches(ip))
        .collect();
    if hop.resolved.is_empty() {
        let asked = if req.family == crate::target::Family::V6 {
            "IPv6"
        } else {
            "IPv4"
        };
        return Err(explain::http::resolve_option_family(&pin.rule, asked));
    }
    Ok(port)
}

/// Resolves under the deadline (see [`crate::resolve::resolve_within`]), noticing Ctrl-C.
fn resolve(
    host: &Host,
    req: &HttpRequest,
    deadline: Instant,
) -> Result<Vec<std::net::IpAddr>, Explanation> {
    crate::resolve::resolve_within(host, req.family, deadline, req.timeout)
}

fn write_error(e: &io::Error, timeout: Duration) -> Explanation {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            explain::http::stalled(timeout, "reading the request")
        }
        _ => explain::io_error(e),
    }
}

/// Connects as RFC 8305 (Happy Eyeballs) says: addresses interleaved by family, a new attempt every 250 ms while
/// the earlier ones keep going, the first to connect wins; every address's fate goes into the hop.
fn connect(
    hop: &mut Hop,
    port: u16,
    req: &HttpRequest,
    deadline: Instant,
) -> Result<TcpStream, Explanation> {
    let addrs: Vec<SocketAddr> = hop
        .resolved
        .iter()
        .map(|ip| crate::target::socket_addr(*ip, port))
        .collect();
    let order = eyeballs::interleave(&addrs);
    let stop = crate::interrupt::requested;
    let race = eyeballs::race(
        &order,
        deadline,
        req.timeout,
        eyeballs::ATTEMPT_DELAY,
        &stop,
    );
    hop.failed_addresses = race
        .attempts
        .iter()
        .filter(|a| a.state == eyeballs::AttemptState::Failed)
        .filter_map(|a| {
            a.explanation.clone().map(|error| Attempt {
                address: a.address,
                error,
            })
        })
        .collect();
    hop.attempts = race.attempts;
    let (sock, addr) = race.winner?;
    hop.address = Some(addr);
    Ok(sock)
}

fn handshake(
    sock: TcpStream,
    url: &Url,
    req: &HttpRequest,
    deadline: Instant,
    hop: &mut Hop,
) -> Result<Conn, Explanation> {
    // The name checked and sent in SNI: the override (hostname=, tls_config.server_name) or the URL's host.
    let host = match &req.tls.server_name {
        Some(n) => Host::parse(n).unwrap_or_else(|_| Host::Name(n.clone())),
        None => url.host.clone(),
    };
    match tls::handshake(sock, &host, &req.tls, &[b"http/1.1"], deadline, req.timeout) {
        Ok((stream, info)) => {
            hop.tls = Some(info);
            Ok(Conn::Tls(Box::new(stream)))
        }
        Err(f) => {
            hop.tls = f.info;
            Err(f.explanation)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn read_response(
    conn: &mut Conn,
    url: &Url,
    req: &HttpRequest,
    deadline: Instant,
    marks: &mut Marks,
    hop: &mut Hop,
    body: &mut Vec<u8>,
    mut sink: Option<&mut Sink>,
) -> Result<(), Explanation> {
    let limits = Limits {
        max_body: req.max_size,
        keep_body: req.keep_body || sink.is_some(),
        ..Limits::default()
    };
    let mut dec = ResponseDecoder::new(limits, req.method == Method::Head);
    let mut buf = vec![0u8; READ_BUF];
    let mut head_told = false;
    let result = loop {
        if crate::interrupt::requested() {
            break Err(explain::interrupted("the answer was complete"));
        }
        let Some(remaining) = crate::duration::left(deadline) else {
            let what = if dec.has_head() {
                "the body"
            } else {
                "its answer"
            };
            break Err(explain::http::stalled(req.timeout, what));
        };
        let _ = conn.sock().set_read_timeout(Some(remaining.min(SLICE)));
        match conn.read(&mut buf) {
            Ok(0) => break dec.finish().map_err(|e| parse_error(&e)),
            Ok(n) => {
                if marks.first_byte.is_none() {
                    marks.first_byte = Some(Instant::now());
                }
                let fed = dec.feed(&buf[..n]);
                if !head_told && dec.has_head() {
                    head_told = true;
                    if let (Some(tell), Some(h)) = (req.on_head, dec.response().head.as_ref()) {
                        tell(url, h);
                    }
                }
                if let Some(s) = sink.as_deref_mut() {
                    // A redirect that will be followed is not the body asked for (curl -L -o saves the last
                    // one only): a device or FIFO could not take it back.
                    let chunk = dec.drain_body();
                    let followed = dec.response().head.as_ref().is_some_and(|h| {
                        req.max_redirects > 0
                            && (300..400).contains(&h.status)
                            && h.header("location").is_some()
                    });
                    if let Err(e) = if followed { Ok(()) } else { s.write(&chunk) } {
                        let path = s.path().display().to_string();
                        break Err(explain::http::not_saved(&path, &e.to_string()));
                    }
                }
                match fed {
                    Ok(true) => break Ok(()),
                    Ok(false) => {}
                    Err(e) => break Err(parse_error(&e)),
                }
            }
            Err(e) if crate::net::is_slice_end(&e) => {}
            Err(e) => break Err(explain::io_error(&e)),
        }
    };
    marks.end = Some(Instant::now());
    let r = dec.into_response();
    hop.interim = r.interim;
    hop.raw_head = r.raw_head;
    hop.body = BodyInfo {
        framing: r.framing,
        content_length: match r.framing {
            Some(Framing::ContentLength(n)) => Some(n),
            _ => None,
        },
        length: r.body_len,
        truncated: r.truncated,
        complete: r.complete,
        trailers: r.trailers,
    };
    if let Some(h) = &r.head {
        if (300..400).contains(&h.status) {
            hop.location = h.header("location").map(str::to_string);
        }
    }
    hop.response = r.head;
    *body = r.body;
    result
}

/// Explains a response the parser rejected.
fn parse_error(e: &ParseError) -> Explanation {
    match e {
        ParseError::Empty => explain::http::no_answer(&e.to_string()),
        ParseError::Incomplete(_) => explain::http::incomplete(&e.to_string()),
        ParseError::TooManyHeaders(..) => explain::http::too_many_headers(&e.to_string()),
        _ => explain::http::bad_response(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_is_masked() {
        let r = "GET / HTTP/1.1\r\nHost: h\r\nauthorization: Basic dTpw\r\n\r\n";
        assert_eq!(
            mask_authorization(r),
            "GET / HTTP/1.1\r\nHost: h\r\nauthorization: Basic ***\r\n\r\n"
        );
    }

    #[test]
    fn request_has_the_defaults_and_user_headers() {
        let mut req = HttpRequest::new(Url::parse("http://[::1]:8080/a?b").unwrap());
        req.headers = vec![
            ("Accept".into(), "text/plain".into()),
            ("X-Y".into(), "z".into()),
        ];
        let s = request_bytes(&req.url, &req);
        let want = format!(
            "GET /a?b HTTP/1.1\r\nHost: [::1]:8080\r\nUser-Agent: netdiag/{}\r\nConnection: close\r\nAccept: text/plain\r\nX-Y: z\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(s, want);
        req.body = Some(b"{}".to_vec());
        assert!(request_bytes(&req.url, &req).ends_with("X-Y: z\r\nContent-Length: 2\r\n\r\n"));
        req.headers.push(("content-length".into(), "2".into()));
        assert_eq!(request_bytes(&req.url, &req).matches("ontent-").count(), 1);
        req.body = None;
        req.http10 = true;
        req.method = Method::Head;
        assert!(request_bytes(&req.url, &req).starts_with("HEAD /a?b HTTP/1.0\r\n"));
    }
}
