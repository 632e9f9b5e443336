//! curl's `-w/--write-out FORMAT`: a line for scripts after each transfer, with curl's variables, escapes and
//! `%{json}`. Every value comes from the report (the timing marks of each hop, the sizes counted while the
//! exchange ran), never from a timer of its own.
//!
//! As curl 7.88 does: `%{name}` is a variable and `%header{name}` a response header; `%%` is `%`; `\n`, `\r`
//! and `\t` are escapes and any other backslash pair is printed as it stands; an unknown variable prints
//! nothing (the caller warns once); `%{stdout}`, `%{stderr}` switch streams and `%{onerror}` prints the rest
//! only when the transfer failed. Times are seconds with 6 decimals, cumulative from the start and summed over
//! the hops of a redirect chain (curl adds each transfer's times); sizes of headers and requests are summed
//! over the hops, the download size is the final body's.

use std::io::{self, Write};
use std::time::Duration;

use super::model::{Hop, HttpReport};

/// Every variable `%{name}` knows, in the order `%{json}` writes them (curl's: alphabetical).
pub const VARIABLES: [&str; 34] = [
    "content_type",
    "errormsg",
    "exitcode",
    "filename_effective",
    "http_code",
    "http_version",
    "local_ip",
    "local_port",
    "method",
    "num_connects",
    "num_headers",
    "num_redirects",
    "redirect_url",
    "remote_ip",
    "remote_port",
    "response_code",
    "scheme",
    "size_download",
    "size_header",
    "size_request",
    "size_upload",
    "speed_download",
    "speed_upload",
    "ssl_verify_result",
    "time_appconnect",
    "time_connect",
    "time_namelookup",
    "time_pretransfer",
    "time_redirect",
    "time_starttransfer",
    "time_total",
    "url",
    "url_effective",
    "urlnum",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(&'static str),
    Header(String),
    Json,
    Stdout,
    Stderr,
    OnError,
}

/// A parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOut {
    parts: Vec<Part>,
}

/// What one transfer's line is made of besides its report.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub report: &'a HttpReport,
    /// The exit code this transfer alone would give (0, 1 or 130).
    pub exit_code: u8,
    /// Which URL of the command line (from 0).
    pub urlnum: usize,
    /// The `-o` file, if any.
    pub filename: Option<&'a str>,
}

/// A value as curl types it: numbers stay numbers in `%{json}`.
enum Val {
    Int(u64),
    /// An HTTP status: three digits in text (`000` without an answer).
    Code(u16),
    Secs(Duration),
    Str(String),
    Null,
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Int(n) => n.to_string(),
            Val::Code(c) => format!("{c:03}"),
            Val::Secs(d) => format!("{:.6}", d.as_secs_f64()),
            Val::Str(s) => s.clone(),
            Val::Null => String::new(),
        }
    }

    fn json(&self) -> String {
        match self {
            Val::Int(n) => n.to_string(),
            Val::Code(c) => c.to_string(),
            Val::Secs(d) => format!("{:.6}", d.as_secs_f64()),
            Val::Str(s) => serde_json::to_string(s).unwrap_or_else(|_| "null".into()),
            Val::Null => "null".into(),
        }
    }
}

impl WriteOut {
    /// Parses a format; returns it with the names of the unknown variables in it (each once).
    pub fn parse(format: &str) -> (WriteOut, Vec<String>) {
        let mut parts = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        while let Some(c) = rest.chars().next() {
            let next = rest[c.len_utf8()..].chars().next();
            match (c, next) {
                ('%', Some('%')) => {
                    text.push('%');
                    rest = &rest[2..];
                }
                ('%', Some(_)) => {
                    let after = &rest[1..];
                    let (braced, header) = if let Some(b) = after.strip_prefix('{') {
                        (Some(b), false)
                    } else {
                        (after.strip_prefix("header{"), true)
                    };
                    match braced.and_then(|b| b.find('}').map(|end| (b, end))) {
                        Some((b, end)) => {
                            let name = &b[..end];
                            let part = if header {
                                Some(Part::Header(name.to_string()))
                            } else {
                                match name {
                                    "json" => Some(Part::Json),
                                    "stdout" => Some(Part::Stdout),
                                    "stderr" => Some(Part::Stderr),
                                    "onerror" => Some(Part::OnError),
                                    n => VARIABLES.iter().find(|v| **v == n).map(|v| Part::Var(v)),
                                }
                            };
                            match part {
                                Some(p) => {
                                    if !text.is_empty() {
                                        parts.push(Part::Text(std::mem::take(&mut text)));
                                    }
                                    parts.push(p);
                                }
                                None if !unknown.iter().any(|u| u == name) => {
                                    unknown.push(name.to_string());
                                }
                                None => {}
                            }
                            rest = &b[end + 1..];
                        }
                        // No closing brace, or `%` before anything else: printed as it stands (curl).
                        None => {
                            let n = next.map_or(0, char::len_utf8);
                            text.push_str(&rest[..1 + n]);
                            rest = &rest[1 + n..];
                        }
                    }
                }
                ('\\', Some(e)) => {
                    match e {
                        'n' => text.push('\n'),
                        'r' => text.push('\r'),
                        't' => text.push('\t'),
                        other => {
                            text.push('\\');
                            text.push(other);
                        }
                    }
                    rest = &rest[1 + e.len_utf8()..];
                }
                (c, _) => {
                    text.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        (WriteOut { parts }, unknown)
    }

    /// Writes one transfer's line; `%{stderr}` switches to `err` until `%{stdout}`.
    pub fn write(&self, cx: &Context, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        let mut to_err = false;
        for p in &self.parts {
            let s = match p {
                Part::Text(t) => t.clone(),
                Part::Var(name) => value(name, cx).text(),
                Part::Header(name) => header(cx.report, name),
                Part::Json => json(cx),
                Part::Stdout => {
                    to_err = false;
                    continue;
                }
                Part::Stderr => {
                    to_err = true;
                    continue;
                }
                Part::OnError if cx.exit_code == 0 => break,
                Part::OnError => continue,
            };
            if to_err {
                err.write_all(s.as_bytes())?;
            } else {
                out.write_all(s.as_bytes())?;
            }
        }
        Ok(())
    }

    /// The line as text (stdout and stderr parts together): for tests and callers that keep it.
    pub fn to_text(&self, cx: &Context) -> String {
        let mut buf = Vec::new();
        let mut same = Vec::new();
        let _ = self.write(cx, &mut buf, &mut same);
        buf.extend(same);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Every variable as one JSON object, as curl's `%{json}` (alphabetical keys).
fn json(cx: &Context) -> String {
    let fields: Vec<String> = VARIABLES
        .iter()
        .map(|name| format!("\"{name}\":{}", value(name, cx).json()))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// Every value of a response header of the final answer, joined with `, ` (empty when absent).
fn header(r: &HttpReport, name: &str) -> String {
    let Some(head) = r.last().and_then(|h| h.response.as_ref()) else {
        return String::new();
    };
    head.headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// curl's timers: each hop's times from its own start, added up over the hops (curl adds each transfer's);
/// the total and the redirect time from the start of the first hop.
struct Times {
    namelookup: Duration,
    connect: Duration,
    appconnect: Duration,
    pretransfer: Duration,
    starttransfer: Duration,
    total: Duration,
    redirect: Duration,
}

fn times(hops: &[Hop]) -> Times {
    let mut t = Times {
        namelookup: Duration::ZERO,
        connect: Duration::ZERO,
        appconnect: Duration::ZERO,
        pretransfer: Duration::ZERO,
        starttransfer: Duration::ZERO,
        total: Duration::ZERO,
        redirect: Duration::ZERO,
    };
    for (i, hop) in hops.iter().enumerate() {
        let c = &hop.timings.cumulative;
        let z = Duration::ZERO;
        t.namelookup += c.dns.unwrap_or(z);
        t.connect += c.connect.unwrap_or(z);
        t.appconnect += c.tls.unwrap_or(z);
        // Just before the request is written: after TLS, or after the connect without it.
        t.pretransfer += c.tls.or(c.connect).unwrap_or(z);
        t.starttransfer += c.first_byte.unwrap_or(z);
        t.total += hop.timings.total;
        if i + 1 < hops.len() {
            t.redirect += hop.timings.total;
        }
    }
    t
}

fn per_second(bytes: u64, d: Duration) -> u64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        (bytes as f64 / s) as u64
    } else {
        0
    }
}

fn value(name: &str, cx: &Context) -> Val {
    let r = cx.report;
    let last = r.last();
    let head = last.and_then(|h| h.response.as_ref());
    let address = last.and_then(|h| h.address);
    let local = last.and_then(|h| h.local_address);
    let str_or_null = |s: Option<String>| s.map_or(Val::Null, Val::Str);
    let t = || times(&r.hops);
    let size_download = last.map_or(0, |h| h.body.length);
    let size_upload: u64 = r.hops.iter().map(|h| h.upload_bytes).sum();
    match name {
        "content_type" => str_or_null(
            head.and_then(|h| h.header("content-type"))
                .map(str::to_string),
        ),
        "errormsg" => str_or_null(r.explanation.as_ref().map(|e| e.cause.clone())),
        "exitcode" => Val::Int(u64::from(cx.exit_code)),
        "filename_effective" => str_or_null(cx.filename.map(str::to_string)),
        "http_code" | "response_code" => Val::Code(head.map_or(0, |h| h.status)),
        "http_version" => Val::Str(head.map_or_else(
            || "0".to_string(),
            |h| h.version.trim_start_matches("HTTP/").to_string(),
        )),
        "local_ip" => Val::Str(local.map_or_else(String::new, |a| a.ip().to_string())),
        "local_port" => Val::Int(local.map_or(0, |a| u64::from(a.port()))),
        "method" => Val::Str(
            last.and_then(|h| h.request.split(' ').next())
                .unwrap_or(r.method.as_str())
                .to_string(),
        ),
        "num_connects" => Val::Int(r.hops.iter().filter(|h| h.address.is_some()).count() as u64),
        "num_headers" => Val::Int(head.map_or(0, |h| h.headers.len() as u64)),
        "num_redirects" => Val::Int(r.hops.len().saturating_sub(1) as u64),
        "redirect_url" => str_or_null(last.and_then(|h| {
            let loc = h.location.as_ref()?;
            Some(
                h.url
                    .join(loc)
                    .map_or_else(|_| loc.clone(), |u| u.to_string()),
            )
        })),
        "remote_ip" => Val::Str(address.map_or_else(String::new, |a| a.ip().to_string())),
        "remote_port" => Val::Int(address.map_or(0, |a| u64::from(a.port()))),
        "scheme" => Val::Str(
            last.map_or(r.url.scheme, |h| h.url.scheme)
                .as_str()
                .to_ascii_uppercase(),
        ),
        "size_download" => Val::Int(size_download),
        "size_header" => Val::Int(r.hops.iter().map(|h| h.raw_head.len() as u64).sum()),
        "size_request" => Val::Int(r.hops.iter().map(|h| h.request_bytes).sum()),
        "size_upload" => Val::Int(size_upload),
        "speed_download" => Val::Int(per_second(size_download, t().total)),
        "speed_upload" => Val::Int(per_second(size_upload, t().total)),
        "ssl_verify_result" => Val::Int(u64::from(
            last.and_then(|h| h.tls.as_ref())
                .is_some_and(|t| !t.verified),
        )),
        "time_appconnect" => Val::Secs(t().appconnect),
        "time_connect" => Val::Secs(t().connect),
        "time_namelookup" => Val::Secs(t().namelookup),
        "time_pretransfer" => Val::Secs(t().pretransfer),
        "time_redirect" => Val::Secs(t().redirect),
        "time_starttransfer" => Val::Secs(t().starttransfer),
        "time_total" => Val::Secs(t().total),
        "url" => Val::Str(r.url.to_string()),
        "url_effective" => Val::Str(last.map_or_else(|| r.url.to_string(), |h| h.url.to_string())),
        "urlnum" => Val::Int(cx.urlnum as u64),
        _ => Val::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(w: &WriteOut) -> Vec<String> {
        w.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => format!("T:{t}"),
                Part::Var(v) => format!("V:{v}"),
                Part::Header(h) => format!("H:{h}"),
                Part::Json => "json".into(),
                Part::Stdout => "stdout".into(),
                Part::Stderr => "stderr".into(),
                Part::OnError => "onerror".into(),
            })
            .collect()
    }

    #[test]
    fn formats_parse_as_curl_reads_them() {
        let (w, unknown) = WriteOut::parse(
            "%{http_code} %% a\\\\b\\n\\t%{nope}%{nope}%q %header{Server}é%{json}%{abc",
        );
        assert_eq!(unknown, vec!["nope".to_string()]);
        assert_eq!(
            texts(&w),
            vec![
                "V:http_code",
                "T: % a\\\\b\n\t%q ",
                "H:Server",
                "T:é",
                "json",
                "T:%{abc"
            ]
        );
        let (w, _) = WriteOut::parse("%{stderr}x%{stdout}%{onerror}y%");
        assert_eq!(
            texts(&w),
            vec!["stderr", "T:x", "stdout", "onerror", "T:y%"]
        );
        assert!(VARIABLES.windows(2).all(|w| w[0] < w[1]), "alphabetical");
    }
}

#[cfg(test)]
mod value_tests {
    use super::*;
    use crate::explain::Verdict;
    use crate::http::model::{BodyInfo, Method, Phases, Timings};
    use crate::http::parse::{Head, Header};
    use crate::http::url::Url;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    /// A hop whose phases end at the given milliseconds from its own start.
    fn hop(url: &str, status: u16, cumulative: [u64; 4], total: u64) -> Hop {
        let [dns, connect, first_byte, _] = cumulative;
        Hop {
            url: Url::parse(url).unwrap(),
            resolved: vec!["127.0.0.1".parse().unwrap()],
            address_source: Default::default(),
            resolve_rule: None,
            connect_to: None,
            address: Some("127.0.0.1:8080".parse().unwrap()),
            local_address: Some("127.0.0.1:40000".parse().unwrap()),
            failed_addresses: Vec::new(),
            attempts: Vec::new(),
            request: "GET / HTTP/1.1\r\nHost: h\r\n\r\n".into(),
            request_bytes: 30,
            upload_bytes: 0,
            tls: None,
            interim: Vec::new(),
            response: Some(Head {
                version: "HTTP/1.1".into(),
                status,
                reason: String::new(),
                headers: vec![Header {
                    name: "Content-Type".into(),
                    value: "text/plain".into(),
                    non_utf8: false,
                }],
            }),
            body: BodyInfo {
                length: 12,
                complete: true,
                ..BodyInfo::default()
            },
            timings: Timings {
                phases: Phases::default(),
                cumulative: Phases {
                    dns: ms(dns),
                    connect: ms(connect),
                    tls: None,
                    request: ms(connect + 1),
                    first_byte: ms(first_byte),
                    body: ms(total),
                },
                total: Duration::from_millis(total),
            },
            location: (status == 302).then(|| "/f".to_string()),
            error: None,
            raw_head: vec![b'x'; 100 + usize::from(status == 302)],
        }
    }

    #[test]
    fn times_add_up_over_redirects_as_curl_adds_them() {
        let r = HttpReport {
            url: Url::parse("http://h:8080/r").unwrap(),
            method: Method::Get,
            ok: true,
            status: Some(200),
            verdict: Verdict::Ok,
            summary: String::new(),
            explanation: None,
            hops: vec![
                hop("http://h:8080/r", 302, [1, 3, 10, 0], 12),
                hop("http://h:8080/f", 200, [2, 5, 20, 0], 25),
            ],
            saved: None,
            body: Vec::new(),
        };
        let cx = Context {
            report: &r,
            exit_code: 0,
            urlnum: 0,
            filename: None,
        };
        let (w, _) = WriteOut::parse(
            "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{time_total} %{time_redirect}|%{size_header} %{size_request} %{size_download} %{num_redirects} %{num_connects} %{url_effective} %{redirect_url} %{http_code} %{local_port}",
        );
        assert_eq!(
            w.to_text(&cx),
            "0.003000 0.008000 0.000000 0.008000 0.030000 0.037000 0.012000|201 60 12 1 2 http://h:8080/f  200 40000"
        );
        let v: serde_json::Value = serde_json::from_str(&json(&cx)).unwrap();
        assert_eq!(v.as_object().unwrap().len(), VARIABLES.len());
        assert_eq!(v["http_code"], 200);
        assert_eq!(v["redirect_url"], serde_json::Value::Null);
        assert_eq!(v["scheme"], "HTTP");
    }
}
