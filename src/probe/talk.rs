//! Talking to an open TCP port: read what the server says first (`--banner`), or write bytes and read the reply
//! (`--send`), optionally checking that the reply contains a text (`--expect`). Replies are bounded and shown
//! escaped, so any bytes a server sends print safely on one line.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::model::{PortResult, PortState, ProbeRequest, Reason, Reply};
use crate::services::Proto;

/// The most reply bytes kept.
pub const MAX_REPLY: usize = 4096;
/// Once some reply arrived, how long a quiet connection is waited on for more.
const IDLE_GAP: Duration = Duration::from_millis(200);

impl Reply {
    pub fn from_bytes(b: &[u8], truncated: bool) -> Reply {
        Reply {
            bytes: b.len(),
            text: escape_bytes(b),
            truncated,
        }
    }
}

/// Parses `--send`/`--expect` text with escapes: `\r`, `\n`, `\t`, `\0`, `\\`, `\xHH`. Any other backslash
/// sequence, or a trailing backslash, is an error naming it. Never panics.
pub fn parse_escapes(s: &str) -> Result<Vec<u8>, String> {
    let forms = "escapes are \\r, \\n, \\t, \\0, \\\\ and \\xHH";
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.char_indices();
    while let Some((_, c)) = it.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match it.next() {
            Some((_, 'r')) => out.push(b'\r'),
            Some((_, 'n')) => out.push(b'\n'),
            Some((_, 't')) => out.push(b'\t'),
            Some((_, '0')) => out.push(0),
            Some((_, '\\')) => out.push(b'\\'),
            Some((_, 'x')) => {
                let hex: String = it.by_ref().take(2).map(|(_, c)| c).collect();
                match (hex.len(), u8::from_str_radix(&hex, 16)) {
                    (2, Ok(b)) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => out.push(b),
                    _ => {
                        return Err(format!(
                            "invalid escape '\\x{}' in '{}': {forms}",
                            crate::target::shown(&hex),
                            crate::target::shown(s)
                        ))
                    }
                }
            }
            Some((_, other)) => {
                return Err(format!(
                    "invalid escape '\\{}' in '{}': {forms}",
                    other.escape_default(),
                    crate::target::shown(s)
                ))
            }
            None => {
                return Err(format!(
                    "trailing backslash in '{}': {forms}",
                    crate::target::shown(s)
                ))
            }
        }
    }
    Ok(out)
}

/// Escapes bytes for one-line display: printable ASCII as is, `\r \n \t \\` by name, the rest as `\xHH`.
/// Never panics.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// True when `hay` contains `needle` (an empty needle is always found).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Connects to `addr`, then reads the banner or sends the request's bytes and reads the reply, each within the
/// request's timeout. The result is open with the reply, or the connect failure.
pub fn exchange(addr: SocketAddr, req: &ProbeRequest) -> PortResult {
    let host = addr.ip().to_string();
    let fail = |state: PortState, reason: Reason| {
        let mut f = PortResult::new(&host, addr, Proto::Tcp, state, reason);
        f.ok = false;
        f
    };
    let start = Instant::now();
    let stream = match TcpStream::connect_timeout(&addr, req.timeout) {
        Ok(s) => s,
        Err(e) => {
            return match e.raw_os_error() {
                Some(code) => fail(super::model::state_of_errno(code), Reason::Errno(code)),
                None => fail(PortState::Filtered, Reason::Timeout(req.timeout)),
            }
        }
    };
    let latency = start.elapsed();
    if stream.local_addr().ok() == stream.peer_addr().ok() {
        return fail(PortState::Closed, Reason::SelfConnect);
    }
    let mut r = PortResult::new(&host, addr, Proto::Tcp, PortState::Open, Reason::None);
    r.latency = Some(latency);
    let (bytes, truncated, err) = converse(stream, req);
    if bytes.is_empty() {
        if let Some(code) = err {
            r.reason = Reason::Errno(code);
        }
    } else {
        r.reply = Some(Reply::from_bytes(&bytes, truncated));
    }
    if let Some(want) = &req.expect {
        if !contains(&bytes, want) {
            r.reason = Reason::Unexpected;
        }
    }
    r.ok = r.reason == Reason::None;
    r
}

/// Writes the request's bytes (if any) and reads until the deadline, EOF, [`MAX_REPLY`] bytes, the expected text,
/// or a quiet gap after some data. Returns the bytes, whether more were cut, and an errno if reading failed.
/// True when the reply so far is all the probe waits for: it holds the `--expect` text, or (for a banner, with
/// nothing sent) a whole line.
fn answered(buf: &[u8], req: &ProbeRequest) -> bool {
    req.expect
        .as_deref()
        .is_some_and(|want| contains(buf, want))
        || (req.send.is_none() && buf.contains(&b'\n'))
}

fn converse(mut s: TcpStream, req: &ProbeRequest) -> (Vec<u8>, bool, Option<i32>) {
    let deadline = Instant::now() + req.timeout;
    let _ = s.set_nodelay(true);
    if let Some(data) = &req.send {
        let _ = s.set_write_timeout(Some(req.timeout));
        if let Err(e) = s.write_all(data) {
            return (
                Vec::new(),
                false,
                Some(e.raw_os_error().unwrap_or(libc::EPIPE)),
            );
        }
    }
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let mut truncated = false;
    let mut err = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let mut wait = deadline - now;
        if !buf.is_empty() {
            wait = wait.min(IDLE_GAP);
        }
        if s.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .is_err()
        {
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let room = MAX_REPLY - buf.len();
                buf.extend_from_slice(&chunk[..n.min(room)]);
                truncated = n > room;
                if truncated || buf.len() >= MAX_REPLY || answered(&buf, req) {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                err = e.raw_os_error();
                break;
            }
        }
    }
    let _ = s.shutdown(Shutdown::Both);
    (buf, truncated, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_parse() {
        assert_eq!(
            parse_escapes("GET / HTTP/1.0\\r\\n\\r\\n").unwrap(),
            b"GET / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(
            parse_escapes("a\\tb\\0\\\\\\x41\\x7f").unwrap(),
            b"a\tb\0\\A\x7f"
        );
        assert_eq!(parse_escapes("h\u{e9}").unwrap(), "h\u{e9}".as_bytes());
        for bad in ["\\", "x\\q", "\\x4", "\\xZZ", "\\x", "\\x\u{e9}\u{e9}"] {
            let e = parse_escapes(bad).unwrap_err();
            assert!(e.contains("escapes are"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn bytes_escape_to_one_printable_line() {
        assert_eq!(escape_bytes(b"SSH-2.0-x\r\n"), "SSH-2.0-x\\r\\n");
        assert_eq!(escape_bytes(&[0, 0x1b, 0xff, b'\\']), "\\x00\\x1b\\xff\\\\");
        let all: Vec<u8> = (0..=255).collect();
        let s = escape_bytes(&all);
        assert!(s.chars().all(|c| (' '..='~').contains(&c)));
        // Escaping then parsing gives the bytes back.
        assert_eq!(parse_escapes(&s).unwrap(), all);
    }

    proptest::proptest! {
        #[test]
        fn escaping_never_panics_and_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let text = escape_bytes(&bytes);
            proptest::prop_assert_eq!(parse_escapes(&text).unwrap(), bytes);
        }

        #[test]
        fn parse_escapes_never_panics(s in "\\PC{0,40}") {
            let _ = parse_escapes(&s);
        }
    }

    #[test]
    fn contains_finds_text() {
        assert!(contains(b"hello world", b"lo w"));
        assert!(!contains(b"hello", b"world"));
        assert!(contains(b"", b""));
        assert!(!contains(b"", b"x"));
    }
}
