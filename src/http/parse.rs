//! The bounded HTTP/1.x response parser: status line and headers through httparse, body framing of our own
//! (Content-Length, chunked with trailers, read-until-close, 1xx interim responses, no body for HEAD/204/304).
//!
//! It is push-based and does no I/O: [`ResponseDecoder::feed`] takes whatever bytes a read returned, in any
//! split, and [`ResponseDecoder::finish`] says the connection closed. Memory is bounded by [`Limits`] whatever
//! the server sends: the head (all heads together, interim ones included), the header count, one chunk-size
//! line, and the kept body (`max_body`; past it the body is cut and `truncated` set).

use std::fmt;

use serde::Serialize;

/// Longest chunk-size line (size, extensions and CRLF) accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// Most 1xx interim responses accepted before the final one.
const MAX_INTERIM: usize = 16;

/// The bounds of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of response head (status lines, headers and trailers of every head, interim ones included).
    pub max_head: usize,
    /// Headers in one head (and trailers).
    pub max_headers: usize,
    /// Body bytes read; beyond them the body is cut and the response marked truncated.
    pub max_body: u64,
    /// Keep the body bytes (up to `max_body`) in [`ParsedResponse::body`]; otherwise only count them.
    pub keep_body: bool,
}

/// Headers parsed in a first attempt; a head with more is parsed again with room for `max_headers`.
const FIRST_TRY_HEADERS: usize = 64;

impl Default for Limits {
    /// The bounds curl keeps for a response head (300 KiB, 5,000 headers), well past what nginx or any proxy
    /// sends, and still a bound against a hostile server.
    fn default() -> Limits {
        Limits {
            max_head: 300 * 1024,
            max_headers: 5000,
            max_body: 10 * 1024 * 1024,
            keep_body: false,
        }
    }
}

/// One header as received. Values are bytes on the wire; they are shown as UTF-8 with bad bytes replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    pub name: String,
    pub value: String,
    /// True when the value held bytes that are not UTF-8 (shown as U+FFFD).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub non_utf8: bool,
}

impl Header {
    fn new(name: &str, value: &[u8]) -> Header {
        let text = String::from_utf8_lossy(value);
        Header {
            name: name.to_string(),
            non_utf8: matches!(text, std::borrow::Cow::Owned(_)),
            value: text.into_owned(),
        }
    }
}

/// A status line and its headers, in order, duplicates kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<Header>,
}

impl Head {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The status line as it reads: `HTTP/1.1 200 OK`.
    pub fn status_line(&self) -> String {
        if self.reason.is_empty() {
            format!("{} {}", self.version, self.status)
        } else {
            format!("{} {} {}", self.version, self.status, self.reason)
        }
    }
}

/// How the body's end is found. In JSON: `none`, `content-length`, `chunked` or `until-close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: HEAD, 1xx, 204, 304, or nothing received yet.
    None,
    /// `Content-Length: N`.
    ContentLength(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the server closes the connection.
    UntilClose,
}

impl Serialize for Framing {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Framing::None => "none",
            Framing::ContentLength(_) => "content-length",
            Framing::Chunked => "chunked",
            Framing::UntilClose => "until-close",
        })
    }
}

impl Framing {
    pub fn describe(&self) -> String {
        match self {
            Framing::None => "no body".into(),
            Framing::ContentLength(n) => format!("content-length {n}"),
            Framing::Chunked => "chunked".into(),
            Framing::UntilClose => "until close".into(),
        }
    }
}

/// What was parsed so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedResponse {
    /// 1xx interim responses (100 Continue, 103 Early Hints) before the final one.
    pub interim: Vec<Head>,
    /// The final response head, once complete.
    pub head: Option<Head>,
    pub framing: Option<Framing>,
    /// Body bytes received (after de-chunking), at most `max_body`.
    pub body_len: u64,
    /// The body went past `max_body` and was cut there.
    pub truncated: bool,
    /// Trailer fields after the last chunk.
    pub trailers: Vec<Header>,
    /// The response ended where its framing says it ends.
    pub complete: bool,
    /// The body bytes, when kept (`Limits::keep_body`), at most `max_body`.
    pub body: Vec<u8>,
    /// Every response head exactly as received (interim ones first), for `--raw`.
    pub raw_head: Vec<u8>,
}

/// Why a response could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The connection closed before a single byte came.
    Empty,
    HeadTooLarge(usize),
    /// More headers than the limit: (headers counted, limit); the count is a lower bound when the head never
    /// ended.
    TooManyHeaders(usize, usize),
    TooManyInterim,
    /// httparse rejected the status line or a header (its reason).
    BadHead(String),
    BadContentLength(String),
    ConflictingLength,
    BadChunkSize(String),
    ChunkLineTooLong,
    BadChunkEnd,
    BadTrailer,
    /// The connection closed early; the text says where.
    Incomplete(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "the server closed the connection without answering"),
            ParseError::HeadTooLarge(n) => {
                write!(f, "the response head is larger than {} KiB", n / 1024)
            }
            ParseError::TooManyHeaders(n, limit) => {
                write!(f, "too many headers ({n} > {limit})")
            }
            ParseError::TooManyInterim => {
                write!(
                    f,
                    "the server sent more than {MAX_INTERIM} interim (1xx) responses"
                )
            }
            ParseError::BadHead(why) => write!(f, "malformed response head ({why})"),
            ParseError::BadContentLength(v) => write!(f, "invalid Content-Length '{v}'"),
            ParseError::ConflictingLength => write!(f, "conflicting Content-Length headers"),
            ParseError::BadChunkSize(v) => write!(f, "invalid chunk size line '{v}'"),
            ParseError::ChunkLineTooLong => {
                write!(f, "a chunk size line is longer than {MAX_CHUNK_LINE} bytes")
            }
            ParseError::BadChunkEnd => write!(f, "a chunk is not followed by CRLF"),
            ParseError::BadTrailer => write!(f, "malformed trailer field after the last chunk"),
            ParseError::Incomplete(where_) => write!(f, "the connection closed {where_}"),
        }
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
    Done,
}

/// The head httparse parsed.
fn head_of(r: &httparse::Response<'_, '_>) -> Head {
    Head {
        version: format!("HTTP/1.{}", r.version.unwrap_or(1)),
        status: r.code.unwrap_or(0),
        reason: r.reason.unwrap_or("").to_string(),
        headers: r
            .headers
            .iter()
            .map(|h| Header::new(h.name, h.value))
            .collect(),
    }
}

/// Header lines after the status line, up to the blank line or the end of what came.
fn header_lines(buf: &[u8]) -> usize {
    buf.split(|&b| b == b'\n')
        .skip(1)
        .take_while(|l| !l.is_empty() && *l != b"\r")
        .count()
}

/// The number of headers of a head that has ended (a blank line came); None while it has not.
fn header_count(buf: &[u8]) -> Option<usize> {
    let ended = buf
        .windows(3)
        .any(|w| w == b"\n\r\n" || w[..2] == *b"\n\n" || w[1..] == *b"\n\n");
    ended.then(|| header_lines(buf))
}

/// The push parser for one response.
#[derive(Debug, Clone)]
pub struct ResponseDecoder {
    limits: Limits,
    head_request: bool,
    state: State,
    /// Pending bytes: the unfinished head, chunk-size line, chunk end or trailer line.
    buf: Vec<u8>,
    head_bytes: usize,
    seen_any: bool,
    /// The head has more headers than the limit; waiting for its end to count them.
    too_many: bool,
    /// The status line of the head in `buf` has ended.
    line_seen: bool,
    resp: ParsedResponse,
}

impl ResponseDecoder {
    /// A decoder for the answer to a request; `head_request` when the method was HEAD (no body follows).
    pub fn new(limits: Limits, head_request: bool) -> ResponseDecoder {
        ResponseDecoder {
            limits,
            head_request,
            state: State::Head,
            buf: Vec::new(),
            head_bytes: 0,
            seen_any: false,
            too_many: false,
            line_seen: false,
            resp: ParsedResponse::default(),
        }
    }

    /// What was parsed so far (also after an error).
    pub fn response(&self) -> &ParsedResponse {
        &self.resp
    }

    /// Takes the body bytes kept so far (for a caller that streams them elsewhere); counts are unchanged.
    pub fn drain_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.resp.body)
    }

    pub fn into_response(self) -> ParsedResponse {
        self.resp
    }

    /// True once the final head is complete.
    pub fn has_head(&self) -> bool {
        self.resp.head.is_some()
    }

    /// True when the response is over (complete or truncated): stop reading.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes the next bytes received. Returns true when the response is over; later bytes are ignored.
    pub fn feed(&mut self, data: &[u8]) -> Result<bool, ParseError> {
        if !data.is_empty() {
            self.seen_any = true;
        }
        let mut data = data;
        loop {
            if self.state == State::Done {
                return Ok(true);
            }
            if self.state == State::Head {
                match self.feed_head(data)? {
                    // The head is complete: what followed it belongs to the body (or the next head).
                    Some(rest) => return self.feed(&rest),
                    None => return Ok(false),
                }
            }
            if data.is_empty() {
                return Ok(false);
            }
            let used = self.feed_body(data)?;
            data = &data[used..];
        }
    }

    /// The connection closed: a read-until-close body ends here; anything else unfinished is an error.
    pub fn finish(&mut self) -> Result<(), ParseError> {
        let where_ = match self.state {
            State::Done => return Ok(()),
            State::UntilClose => {
                self.resp.complete = true;
                self.state = State::Done;
                return Ok(());
            }
            State::Head if !self.seen_any => return Err(ParseError::Empty),
            State::Head if self.too_many => {
                return Err(ParseError::TooManyHeaders(
                    header_lines(&self.buf),
                    self.limits.max_headers,
                ))
            }
            State::Head => "in the middle of the response head".to_string(),
            State::Length(rest) => format!(
                "after {} of {} body bytes",
                self.resp.body_len,
                self.resp.body_len + rest
            ),
            _ => format!(
                "in the middle of the chunked body, after {} bytes",
                self.resp.body_len
            ),
        };
        Err(ParseError::Incomplete(where_))
    }

    /// Adds head bytes; on a complete final head returns the bytes after it.
    fn feed_head(&mut self, data: &[u8]) -> Result<Option<Vec<u8>>, ParseError> {
        let room = self.limits.max_head.saturating_sub(self.head_bytes);
        let old = self.buf.len();
        // Keep at most one byte beyond the limit: enough to know it was passed.
        let take = data.len().min((room + 1).saturating_sub(old));
        self.buf.extend_from_slice(&data[..take]);
        // Parse only when something can have changed the answer: the first bytes, the end of the status line
        // (garbage is rejected at once), or a blank line (the end of the head). In between only the size is
        // checked, so a head fed in many small pieces costs linear time, not a parse per line.
        let new = &self.buf[old.saturating_sub(2)..];
        let first_line = !self.line_seen && new.contains(&b'\n');
        self.line_seen |= first_line;
        let ended = new.windows(2).any(|w| w == b"\n\n") || new.windows(3).any(|w| w == b"\n\r\n");
        if !(first_line || ended || old == 0) {
            if self.buf.len() > room {
                return Err(ParseError::HeadTooLarge(self.limits.max_head));
            }
            return Ok(None);
        }
        // Most heads are short: a small array first, the full one only for a head that needs it.
        let mut size = FIRST_TRY_HEADERS.min(self.limits.max_headers);
        let (n, head) = loop {
            let mut headers = vec![httparse::EMPTY_HEADER; size];
            let mut r = httparse::Response::new(&mut headers);
            match r.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => break (n, head_of(&r)),
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() > room {
                        return Err(ParseError::HeadTooLarge(self.limits.max_head));
                    }
                    return Ok(None);
                }
                Err(httparse::Error::TooManyHeaders) if size < self.limits.max_headers => {
                    size = self.limits.max_headers;
                }
                Err(httparse::Error::TooManyHeaders) => {
                    // Say how many: wait for the end of the head (within max_head) and count its lines.
                    return match header_count(&self.buf) {
                        Some(count) => {
                            Err(ParseError::TooManyHeaders(count, self.limits.max_headers))
                        }
                        None if self.buf.len() > room => Err(ParseError::TooManyHeaders(
                            header_lines(&self.buf),
                            self.limits.max_headers,
                        )),
                        None => {
                            self.too_many = true;
                            Ok(None)
                        }
                    };
                }
                Err(e) => return Err(ParseError::BadHead(e.to_string())),
            }
        };
        // Bytes of `data` after the head: those not copied into buf, plus those in buf past the head.
        let mut rest = self.buf[n..].to_vec();
        rest.extend_from_slice(&data[take..]);
        self.resp.raw_head.extend_from_slice(&self.buf[..n]);
        self.head_bytes += n;
        self.buf.clear();
        self.line_seen = false;
        if (100..200).contains(&head.status) && head.status != 101 {
            if self.resp.interim.len() >= MAX_INTERIM {
                return Err(ParseError::TooManyInterim);
            }
            self.resp.interim.push(head);
            return Ok(Some(rest));
        }
        let framing = framing(&head, self.head_request)?;
        self.resp.framing = Some(framing);
        self.resp.head = Some(head);
        self.state = match framing {
            Framing::None | Framing::ContentLength(0) => {
                self.resp.complete = true;
                State::Done
            }
            Framing::ContentLength(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        Ok(Some(rest))
    }

    /// Consumes body bytes in the current state; returns how many were used.
    fn feed_body(&mut self, data: &[u8]) -> Result<usize, ParseError> {
        match self.state {
            State::Length(rest) => {
                let n = data.len().min(usize::try_from(rest).unwrap_or(usize::MAX));
                let left = rest - n as u64;
                if !self.take_body(&data[..n]) {
                    return Ok(n);
                }
                if left == 0 {
                    self.resp.complete = true;
                    self.state = State::Done;
                } else if self.resp.body_len >= self.limits.max_body {
                    self.cut();
                } else {
                    self.state = State::Length(left);
                }
                Ok(n)
            }
            State::UntilClose => {
                self.take_body(data);
                Ok(data.len())
            }
            State::ChunkData(rest) => {
                let n = data.len().min(usize::try_from(rest).unwrap_or(usize::MAX));
                if self.take_body(&data[..n]) {
                    let left = rest - n as u64;
                    self.state = if left == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left)
                    };
                }
                Ok(n)
            }
            State::ChunkEnd => {
                // CRLF (or a bare LF) after the chunk data.
                let b = data[0];
                if self.buf.is_empty() && b == b'\r' {
                    self.buf.push(b);
                } else if b == b'\n' {
                    self.buf.clear();
                    self.state = State::ChunkSize;
                } else {
                    return Err(ParseError::BadChunkEnd);
                }
                Ok(1)
            }
            State::ChunkSize | State::Trailers => {
                let (line_done, used) = match data.iter().position(|&b| b == b'\n') {
                    Some(i) => (true, i + 1),
                    None => (false, data.len()),
                };
                self.buf.extend_from_slice(&data[..used]);
                if self.state == State::ChunkSize && self.buf.len() > MAX_CHUNK_LINE {
                    return Err(ParseError::ChunkLineTooLong);
                }
                if self.state == State::Trailers
                    && self.head_bytes + self.buf.len() > self.limits.max_head
                {
                    return Err(ParseError::HeadTooLarge(self.limits.max_head));
                }
                if line_done {
                    let line = std::mem::take(&mut self.buf);
                    if self.state == State::ChunkSize {
                        self.chunk_size_line(&line)?;
                    } else {
                        self.trailer_line(&line)?;
                    }
                }
                Ok(used)
            }
            State::Head | State::Done => Ok(data.len()),
        }
    }

    /// Counts (and keeps, if asked) body bytes up to `max_body`; false when it had to cut.
    fn take_body(&mut self, bytes: &[u8]) -> bool {
        let room = self.limits.max_body - self.resp.body_len;
        let n = (bytes.len() as u64).min(room) as usize;
        if self.limits.keep_body {
            self.resp.body.extend_from_slice(&bytes[..n]);
        }
        self.resp.body_len += n as u64;
        if n < bytes.len() {
            self.cut();
            return false;
        }
        true
    }

    fn cut(&mut self) {
        self.resp.truncated = true;
        self.state = State::Done;
    }

    fn chunk_size_line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let size_part = text.split(|&b| b == b';').next().unwrap_or(b"");
        let size_part = trim_ows(size_part);
        let bad = || ParseError::BadChunkSize(crate::target::shown(&String::from_utf8_lossy(text)));
        if size_part.is_empty()
            || size_part.len() > 16
            || !size_part.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(bad());
        }
        let hex = std::str::from_utf8(size_part).map_err(|_| bad())?;
        let size = u64::from_str_radix(hex, 16).map_err(|_| bad())?;
        self.state = if size == 0 {
            State::Trailers
        } else {
            State::ChunkData(size)
        };
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        self.head_bytes += line.len();
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.is_empty() {
            self.resp.complete = true;
            self.state = State::Done;
            return Ok(());
        }
        if self.resp.trailers.len() >= self.limits.max_headers {
            return Err(ParseError::TooManyHeaders(
                self.resp.trailers.len() + 1,
                self.limits.max_headers,
            ));
        }
        let colon = text
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::BadTrailer)?;
        let name = &text[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(ParseError::BadTrailer);
        }
        let name = std::str::from_utf8(name).map_err(|_| ParseError::BadTrailer)?;
        self.resp
            .trailers
            .push(Header::new(name, trim_ows(&text[colon + 1..])));
        Ok(())
    }
}

/// The body framing of a final response (RFC 9112 section 6.3).
fn framing(head: &Head, head_request: bool) -> Result<Framing, ParseError> {
    if head_request || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(Framing::None);
    }
    let te: Vec<&str> = head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|h| h.value.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(last) = te.last() {
        // Chunked must come last; any other final coding means the body runs to the close.
        return Ok(if last.eq_ignore_ascii_case("chunked") {
            Framing::Chunked
        } else {
            Framing::UntilClose
        });
    }
    let mut length = None;
    for h in head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        for v in h.value.split(',').map(str::trim) {
            if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::BadContentLength(crate::target::shown(&h.value)));
            }
            let n: u64 = v
                .parse()
                .map_err(|_| ParseError::BadContentLength(crate::target::shown(v)))?;
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::ConflictingLength);
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::ContentLength))
}

fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a whole response received in one piece, then the close: the pure entry point for fuzzing.
/// Never panics; memory stays within `limits`.
pub fn parse_response(
    bytes: &[u8],
    limits: Limits,
    head_request: bool,
) -> Result<ParsedResponse, ParseError> {
    let mut d = ResponseDecoder::new(limits, head_request);
    if !d.feed(bytes)? {
        d.finish()?;
    }
    Ok(d.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lim() -> Limits {
        Limits {
            keep_body: true,
            ..Limits::default()
        }
    }

    fn parse(s: &[u8]) -> Result<ParsedResponse, ParseError> {
        parse_response(s, lim(), false)
    }

    #[test]
    fn content_length_body() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: a\r\nX: b\r\n\r\nhelloEXTRA")
            .unwrap();
        let h = r.head.as_ref().unwrap();
        assert_eq!(h.status_line(), "HTTP/1.1 200 OK");
        assert_eq!(h.headers.len(), 3);
        assert_eq!(h.headers[2].value, "b");
        assert_eq!(r.body, b"hello");
        assert_eq!(r.framing, Some(Framing::ContentLength(5)));
        assert!(r.complete && !r.truncated);
        assert!(r.raw_head.ends_with(b"X: b\r\n\r\n"));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\n1 \r\n!\r\n0\r\nX-Sum: 12\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"hello!");
        assert_eq!(r.framing, Some(Framing::Chunked));
        assert_eq!(r.trailers, vec![Header::new("X-Sum", b"12")]);
        assert!(r.complete);
    }

    #[test]
    fn until_close_and_http10() {
        let r = parse(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall of it").unwrap();
        assert_eq!(r.head.unwrap().version, "HTTP/1.0");
        assert_eq!(r.framing, Some(Framing::UntilClose));
        assert_eq!(r.body, b"all of it");
        assert!(r.complete);
    }

    #[test]
    fn interim_responses_are_skipped_and_kept() {
        let r = parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
            .unwrap();
        assert_eq!(r.interim.len(), 2);
        assert_eq!(r.interim[1].status, 103);
        assert_eq!(r.head.unwrap().status, 204);
        assert_eq!(r.framing, Some(Framing::None));
        assert!(r.complete);
    }

    #[test]
    fn no_body_for_head_204_304() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
            lim(),
            true,
        )
        .unwrap();
        assert!(r.complete);
        assert_eq!(r.body_len, 0);
        let r = parse(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n").unwrap();
        assert!(r.complete);
    }

    #[test]
    fn body_is_cut_at_max_size() {
        let l = Limits {
            max_body: 4,
            ..lim()
        };
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123",
            l,
            false,
        )
        .unwrap();
        assert!(r.truncated);
        assert_eq!(r.body, b"0123");
        let r = parse_response(b"HTTP/1.1 200 OK\r\n\r\n0123456789", l, false).unwrap();
        assert!(r.truncated && !r.complete);
        assert_eq!(r.body_len, 4);
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n0123",
            l,
            false,
        )
        .unwrap();
        assert!(!r.truncated && r.complete);
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b""), Err(ParseError::Empty));
        assert!(matches!(
            parse(b"garbage\r\n\r\n"),
            Err(ParseError::BadHead(_))
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nBad\x01: x\r\n\r\n"),
            Err(ParseError::BadHead(_))
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Err(ParseError::BadContentLength(_))
        ));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(ParseError::ConflictingLength)
        );
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(ParseError::BadChunkSize(_))
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"),
            Err(ParseError::BadChunkSize(_))
        ));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab"),
            Err(ParseError::BadChunkEnd)
        );
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"),
            Err(ParseError::Incomplete(_))
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\n"),
            Err(ParseError::Incomplete(_))
        ));
    }

    #[test]
    fn head_limits() {
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 310_000));
        assert_eq!(parse(&long), Err(ParseError::HeadTooLarge(300 * 1024)));
        let many = |n: usize| {
            let mut m = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..n {
                m.extend(format!("H{i}: v\r\n").bytes());
            }
            m.extend(b"Content-Length: 0\r\n\r\n");
            m
        };
        // 150 headers (nginx and curl take them) parse; past the bound, the count is said.
        assert_eq!(parse(&many(149)).unwrap().head.unwrap().headers.len(), 150);
        assert_eq!(
            parse(&many(5000)),
            Err(ParseError::TooManyHeaders(5001, 5000))
        );
        assert_eq!(
            ParseError::TooManyHeaders(5001, 5000).to_string(),
            "too many headers (5001 > 5000)"
        );
        let mut line = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1".to_vec();
        line.extend(std::iter::repeat_n(b' ', 5000));
        assert_eq!(parse(&line), Err(ParseError::ChunkLineTooLong));
        let mut interim = Vec::new();
        for _ in 0..20 {
            interim.extend(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        assert_eq!(parse(&interim), Err(ParseError::TooManyInterim));
    }

    #[test]
    fn non_utf8_header_values_are_shown_lossily() {
        let r = parse(b"HTTP/1.1 200 OK\r\nX-Bin: caf\xe9\r\nContent-Length: 0\r\n\r\n").unwrap();
        let h = &r.head.unwrap().headers[0];
        assert!(h.non_utf8);
        assert_eq!(h.value, "caf\u{fffd}");
    }

    /// Feeds `bytes` split at `cuts` and returns what the decoder ends with.
    fn split_parse(bytes: &[u8], cuts: &[usize], l: Limits) -> Result<ParsedResponse, ParseError> {
        let mut d = ResponseDecoder::new(l, false);
        let mut pos = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        points.push(bytes.len());
        for p in points {
            if d.feed(&bytes[pos..p])? {
                return Ok(d.into_response());
            }
            pos = p;
        }
        d.finish()?;
        Ok(d.into_response())
    }

    const SAMPLES: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX: y\r\n\r\nhello worldtrailing",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;a=b\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nnot here, until close",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\nxyz\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",
        b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 40\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n0123456789012345678901234567890123456789012345678901234567890123",
        b"garbage\r\n\r\n",
    ];

    proptest! {
        /// The same response gives the same result however the reads split it (issue 8).
        #[test]
        fn read_boundaries_do_not_matter(
            which in 0..SAMPLES.len(),
            cuts in proptest::collection::vec(0usize..400, 0..12),
            max_body in prop_oneof![Just(10u64 * 1024 * 1024), 1u64..40],
        ) {
            let l = Limits { max_body, ..lim() };
            let bytes = SAMPLES[which];
            let whole = parse_response(bytes, l, false);
            let split = split_parse(bytes, &cuts, l);
            prop_assert_eq!(whole, split);
        }

        /// A generated chunked response decodes to its body, whatever the chunk sizes and read boundaries.
        #[test]
        fn generated_chunked_bodies_round_trip(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            sizes in proptest::collection::vec(1usize..40, 1..20),
            cuts in proptest::collection::vec(0usize..2000, 0..16),
        ) {
            let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let mut rest = &body[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].min(rest.len());
                wire.extend(format!("{n:x}\r\n").bytes());
                wire.extend(&rest[..n]);
                wire.extend(b"\r\n");
                rest = &rest[n..];
                i += 1;
            }
            wire.extend(b"0\r\nX-T: 1\r\n\r\n");
            let whole = parse_response(&wire, lim(), false).unwrap();
            prop_assert_eq!(&whole.body, &body);
            prop_assert!(whole.complete);
            prop_assert_eq!(split_parse(&wire, &cuts, lim()), Ok(whole));
        }

        /// Arbitrary bytes never panic and never keep more than the limits allow.
        #[test]
        fn arbitrary_bytes_stay_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let l = Limits { max_body: 16, max_head: 256, ..lim() };
            let mut with_head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            with_head.extend(&bytes);
            for input in [&bytes[..], &with_head[..]] {
                if let Ok(r) = parse_response(input, l, false) {
                    prop_assert!(r.body.len() <= 16);
                    prop_assert!(r.raw_head.len() <= 256);
                }
            }
        }
    }
}
