//! The "talk" step's HTTP exchange: one GET over a connected socket, the response head parsed with httparse and
//! the body counted (bounded). Plain HTTP only; HTTPS needs the http module's TLS.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::explain::{self, Explanation, Verdict};

/// The largest response head read.
const MAX_HEAD: usize = 64 * 1024;
/// The most body bytes read (the rest is not needed to judge the server).
const MAX_BODY: usize = 1024 * 1024;

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub version: u8,
    pub status: u16,
    pub reason: String,
    /// The length of the head in bytes, including the blank line.
    pub len: usize,
    pub content_length: Option<u64>,
    pub server: Option<String>,
}

/// Parses an HTTP/1.x response head from the bytes read so far: `Ok(None)` when more bytes are needed, an error
/// message when it is not HTTP. Never panics.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) => {
            let find = |name: &str| {
                resp.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
            };
            Ok(Some(Head {
                version: resp.version.unwrap_or(1),
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or("").to_string(),
                len,
                content_length: find("content-length").and_then(|v| v.parse().ok()),
                server: find("server"),
            }))
        }
        Err(e) => Err(format!("not an HTTP response ({e})")),
    }
}

/// What the exchange gave.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub head: Head,
    pub body_bytes: u64,
    pub first_byte: Duration,
    pub total: Duration,
}

/// Sends `GET path` with `Host: host` over a new connection to `addr` and reads the answer.
pub fn http_get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
) -> Result<Exchange, Explanation> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| super::connect_error(&e, timeout, addr.port()))?;
    let io = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            let mut x = explain::timeout(timeout);
            x.cause = format!(
                "the server accepted the connection but sent no HTTP answer within {}",
                crate::duration::fmt_ms(timeout)
            );
            x.fix = "the service may be hung or not speak HTTP on this port; check its logs".into();
            x
        } else {
            explain::io_error(&e)
        }
    };
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: netdiag/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes()).map_err(io)?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let mut first_byte = None;
    let head = loop {
        let n = s.read(&mut chunk).map_err(io)?;
        if n == 0 {
            return Err(explain::io_error(&std::io::Error::from(
                std::io::ErrorKind::UnexpectedEof,
            )));
        }
        first_byte.get_or_insert_with(|| start.elapsed());
        buf.extend_from_slice(&chunk[..n]);
        match parse_head(&buf) {
            Ok(Some(h)) => break h,
            Ok(None) if buf.len() < MAX_HEAD => continue,
            Ok(None) => return Err(not_http("the response head is larger than 64 KiB")),
            Err(e) => return Err(not_http(&e)),
        }
        // Each read is bounded by the timeout; the loop by MAX_HEAD.
    };
    let mut body = (buf.len() - head.len) as u64;
    let want = head.content_length.unwrap_or(u64::MAX).min(MAX_BODY as u64);
    while body < want {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body += n as u64,
        }
    }
    Ok(Exchange {
        head,
        body_bytes: body,
        first_byte: first_byte.unwrap_or_default(),
        total: start.elapsed(),
    })
}

fn not_http(why: &str) -> Explanation {
    Explanation {
        verdict: Verdict::Protocol,
        code: "not-http".into(),
        cause: format!("the server answered, but {why}"),
        fix:
            "is this the right port? the service may speak another protocol (or TLS: try https://)"
                .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_complete_head() {
        let h = parse_head(
            b"HTTP/1.1 500 Internal Server Error\r\nServer: x\r\nContent-Length: 5\r\n\r\nhello",
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.status, 500);
        assert_eq!(h.reason, "Internal Server Error");
        assert_eq!(h.content_length, Some(5));
        assert_eq!(h.server.as_deref(), Some("x"));
        assert_eq!(h.len, 68);
    }

    #[test]
    fn partial_and_garbage() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nA: b\r\n"), Ok(None));
        assert!(parse_head(b"SSH-2.0-OpenSSH_9.2\r\n").is_err());
        assert!(parse_head(b"\x16\x03\x01\x00").is_err());
        assert_eq!(parse_head(b""), Ok(None));
    }

    proptest::proptest! {
        #[test]
        fn parse_head_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_head(&b);
        }
    }
}
