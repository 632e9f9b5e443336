//! The `http` prober: blackbox's HTTP probe on netdiag's http module — resolve as blackbox's `chooseProtocol`
//! does, fetch (following redirects unless told not to), then the module's checks: accepted status codes and
//! HTTP versions, TLS required or refused, regular expressions on the body and headers.

use std::time::Duration;

use super::config::{HeaderMatch, HttpProbe};
use super::model::{Deadline, ProbeOut};
use super::resolve::choose_ip;
use crate::explain::exporter::{self as texts, Checked};
use crate::http::{self as lib, HttpReport, HttpRequest, Scheme, Url};
use crate::target::Host;

/// Body bytes read at most when a body regexp needs them (blackbox reads without limit unless
/// `body_size_limit` is set; netdiag bounds it).
const MAX_BODY: u64 = 10 * 1024 * 1024;

const PHASES: [&str; 5] = ["resolve", "connect", "tls", "processing", "transfer"];
const DURATION: &str = "probe_http_duration_seconds";
const DURATION_HELP: &str = "Duration of http request by phase, summed over all redirects";

/// Probes `target` (a URL, `http://` assumed) with the module's `http` section; `host_header` is the
/// `hostname=` parameter. Returns whether the probe succeeded.
pub fn probe(
    target: &str,
    h: &HttpProbe,
    host_header: Option<&str>,
    deadline: Deadline,
    out: &mut ProbeOut,
) -> bool {
    for p in PHASES {
        out.samples
            .gauge_with(DURATION, DURATION_HELP, vec![("phase", p.into())], 0.0);
    }
    let s = &mut out.samples;
    s.gauge(
        "probe_http_content_length",
        "Length of http content response",
        0.0,
    );
    s.gauge(
        "probe_http_uncompressed_body_length",
        "Length of uncompressed response body",
        0.0,
    );
    s.gauge("probe_http_redirects", "The number of redirects", 0.0);
    s.gauge(
        "probe_http_ssl",
        "Indicates if SSL was used for the final redirect",
        0.0,
    );
    s.gauge("probe_http_status_code", "Response HTTP status code", 0.0);
    s.gauge(
        "probe_http_version",
        "Returns the version of HTTP of the probe response",
        0.0,
    );
    s.gauge(
        "probe_failed_due_to_regex",
        "Indicates if probe failed due to regex",
        0.0,
    );
    let with_scheme = if target.contains("://") {
        target.to_string()
    } else {
        format!("http://{target}")
    };
    let url = match Url::parse(&with_scheme) {
        Ok(u) if u.user.is_some() => {
            return out.fail(
                "target",
                texts::bad_target(
                    "user information (user@host) is not used here; set http.basic_auth",
                ),
            )
        }
        Ok(u) => u,
        Err(e) => return out.fail("target", texts::bad_target(&e.0)),
    };
    let Some((ip, lookup)) = choose_ip(
        &url.host,
        h.preferred_ip_protocol,
        super::config::fallback(h.ip_protocol_fallback),
        out,
    ) else {
        return false;
    };
    add_phase(out, "resolve", lookup);
    let req = request(&url, ip, h, host_header, deadline);
    out.log(format!(
        "making HTTP request: {} {} (address {ip})",
        req.method.as_str(),
        url
    ));
    let report = lib::fetch(&req);
    record(&report, out);
    judge(&report, h, out)
}

/// The request: the URL with the chosen address in place of the name (so the address probed is the one
/// reported), the Host header and TLS server name kept as the target's.
fn request(
    url: &Url,
    ip: std::net::IpAddr,
    h: &HttpProbe,
    host_header: Option<&str>,
    deadline: Deadline,
) -> HttpRequest {
    let mut pinned = url.clone();
    pinned.host = Host::Ip(ip);
    let mut req = HttpRequest::new(pinned);
    req.method = h.method();
    req.headers = h
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(name) = host_header {
        req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("host"));
        req.headers.push(("Host".into(), name.to_string()));
    }
    let host = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone());
    if host.is_none() {
        req.headers.push(("Host".into(), url.authority()));
    }
    if let Some(a) = &h.authorization {
        req.headers.push(("Authorization".into(), a.clone()));
    }
    req.body = h.body.as_ref().map(|b| b.as_bytes().to_vec());
    req.timeout = deadline.left();
    req.max_redirects = if h.follows_redirects() {
        lib::MAX_REDIRECTS
    } else {
        0
    };
    let regexes =
        !h.fail_if_body_matches_regexp.is_empty() || !h.fail_if_body_not_matches_regexp.is_empty();
    req.keep_body = regexes;
    req.max_size = MAX_BODY;
    req.tls = h.tls_config.options();
    if req.tls.server_name.is_none() {
        // SNI and the certificate check use the Host header's name when one is set, else the target's.
        let name = match host {
            Some(v) => strip_port(&v).to_string(),
            None => url.host.to_string(),
        };
        req.tls.server_name = Some(name);
    }
    req
}

/// `name:port` or `[v6]:port` without the port.
fn strip_port(v: &str) -> &str {
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => v,
    }
}

fn add_phase(out: &mut ProbeOut, phase: &'static str, d: Duration) {
    out.samples.add_with(
        DURATION,
        DURATION_HELP,
        vec![("phase", phase.into())],
        d.as_secs_f64(),
    );
}

/// Sets the metrics the report gives: phases summed over hops, the last answer's status, length, version and
/// TLS details.
fn record(r: &HttpReport, out: &mut ProbeOut) {
    for hop in &r.hops {
        let p = &hop.timings.phases;
        let z = Duration::ZERO;
        add_phase(out, "resolve", p.dns.unwrap_or(z));
        add_phase(out, "connect", p.connect.unwrap_or(z));
        add_phase(out, "tls", p.tls.unwrap_or(z));
        add_phase(
            out,
            "processing",
            p.request.unwrap_or(z) + p.first_byte.unwrap_or(z),
        );
        add_phase(out, "transfer", p.body.unwrap_or(z));
        if let Some(head) = &hop.response {
            out.log(format!(
                "received HTTP response: {} {}",
                head.status, head.reason
            ));
        }
    }
    let Some(last) = r.last() else { return };
    out.samples.gauge(
        "probe_http_redirects",
        "",
        r.hops.len().saturating_sub(1) as f64,
    );
    if let Some(head) = &last.response {
        let s = &mut out.samples;
        s.gauge("probe_http_status_code", "", f64::from(head.status));
        let length = last.body.content_length.map_or(-1.0, |n| n as f64);
        s.gauge("probe_http_content_length", "", length);
        s.gauge(
            "probe_http_uncompressed_body_length",
            "",
            last.body.length as f64,
        );
        s.gauge("probe_http_version", "", http_version(&head.version));
        if let Some(t) = head
            .header("last-modified")
            .and_then(|v| humantime::parse_rfc3339_weak(&rfc1123_to_rfc3339(v)?).ok())
        {
            let secs = t
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            s.gauge(
                "probe_http_last_modified_timestamp_seconds",
                "Returns the Last-Modified HTTP response header in unixtime",
                secs,
            );
        }
    }
    let ssl = last.url.scheme == Scheme::Https && last.tls.is_some() && last.response.is_some();
    out.samples
        .gauge("probe_http_ssl", "", if ssl { 1.0 } else { 0.0 });
    if let (true, Some(t)) = (ssl, &last.tls) {
        super::tcp::record_tls(t, out);
    }
}

/// `HTTP/1.1` → 1.1.
fn http_version(v: &str) -> f64 {
    v.strip_prefix("HTTP/")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → `1994-11-06 08:49:37` (what humantime reads), or None.
fn rfc1123_to_rfc3339(v: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() != 6 || f[5] != "GMT" {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == f[2])? + 1;
    let day: u32 = f[1].parse().ok()?;
    let year: u32 = f[3].parse().ok()?;
    Some(format!("{year:04}-{month:02}-{day:02} {}", f[4]))
}

/// Applies the module's checks in blackbox's order; the first failure is the cause.
fn judge(r: &HttpReport, h: &HttpProbe, out: &mut ProbeOut) -> bool {
    let Some(last) = r.last() else {
        return out.fail("http", texts::bad_target("no request was made"));
    };
    if let Some(e) = &r.explanation {
        if last.response.is_none() || !e.code.starts_with("HTTP ") {
            let layer = if last.resolved.is_empty() {
                "resolve"
            } else if last.address.is_none() {
                "connect"
            } else if e.code.starts_with("cert-") || e.code.starts_with("tls") {
                "tls"
            } else {
                "http"
            };
            return out.fail(layer, e.clone());
        }
    }
    let Some(head) = &last.response else {
        return out.fail("http", texts::bad_target("no response"));
    };
    let status = head.status;
    let accepted = if h.accept_any_response {
        true
    } else if h.valid_status_codes.is_empty() {
        (200..300).contains(&status)
    } else {
        h.valid_status_codes.contains(&status)
    };
    if !accepted {
        let list = if h.valid_status_codes.is_empty() {
            "2xx".to_string()
        } else {
            let v: Vec<String> = h.valid_status_codes.iter().map(u16::to_string).collect();
            v.join(", ")
        };
        let e = crate::explain::http::status(status)
            .unwrap_or_else(|| texts::status_not_accepted(status, &list));
        return out.fail("http", e);
    }
    if !h.valid_http_versions.is_empty() {
        let v = head.version.as_str();
        let ok = h
            .valid_http_versions
            .iter()
            .any(|a| a == v || (a == "HTTP/2.0" && v == "HTTP/2"));
        if !ok {
            return out.fail(
                "http",
                texts::version_not_accepted(v, &h.valid_http_versions),
            );
        }
    }
    let ssl = out.samples.get("probe_http_ssl") == Some(1.0);
    if h.fail_if_ssl && ssl {
        return out.fail("tls", texts::tls_present());
    }
    if h.fail_if_not_ssl && !ssl {
        return out.fail("tls", texts::tls_missing());
    }
    regexes(r, h, out)
}

fn regex_failed(out: &mut ProbeOut, e: crate::explain::Explanation) -> bool {
    out.samples.gauge("probe_failed_due_to_regex", "", 1.0);
    out.fail("http", e)
}

fn regexes(r: &HttpReport, h: &HttpProbe, out: &mut ProbeOut) -> bool {
    let body = String::from_utf8_lossy(&r.body);
    for p in &h.fail_if_body_matches_regexp {
        if p.0.is_match(&body) {
            return regex_failed(
                out,
                texts::regex_failed(Checked::Body, true, "body", p.0.as_str()),
            );
        }
    }
    for p in &h.fail_if_body_not_matches_regexp {
        if !p.0.is_match(&body) {
            return regex_failed(
                out,
                texts::regex_failed(Checked::Body, false, "body", p.0.as_str()),
            );
        }
    }
    let Some(head) = r.last().and_then(|l| l.response.as_ref()) else {
        return true;
    };
    for (rules, fail_on_match) in [
        (&h.fail_if_header_matches, true),
        (&h.fail_if_header_not_matches, false),
    ] {
        for m in rules {
            if let Some(e) = header_check(head, m, fail_on_match) {
                return regex_failed(out, e);
            }
        }
    }
    true
}

/// One header rule: blackbox fails a `fail_if_header_matches` rule when any value matches, and a
/// `fail_if_header_not_matches` rule when none does; a missing header fails both unless `allow_missing`.
fn header_check(
    head: &lib::Head,
    m: &HeaderMatch,
    fail_on_match: bool,
) -> Option<crate::explain::Explanation> {
    let values: Vec<&str> = head
        .headers
        .iter()
        .filter(|x| x.name.eq_ignore_ascii_case(&m.header))
        .map(|x| x.value.as_str())
        .collect();
    if values.is_empty() {
        return (!m.allow_missing).then(|| texts::header_missing(&m.header));
    }
    let any = values.iter().any(|v| m.regexp.0.is_match(v));
    let what = format!("{} header", m.header);
    match (fail_on_match, any) {
        (true, true) => Some(texts::regex_failed(
            Checked::Header,
            true,
            &what,
            m.regexp.0.as_str(),
        )),
        (false, false) => Some(texts::regex_failed(
            Checked::Header,
            false,
            &what,
            m.regexp.0.as_str(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped_from_host_headers() {
        assert_eq!(strip_port("example.test:8080"), "example.test");
        assert_eq!(strip_port("example.test"), "example.test");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
    }

    #[test]
    fn versions_and_dates() {
        assert_eq!(http_version("HTTP/1.1"), 1.1);
        assert_eq!(http_version("HTTP/1.0"), 1.0);
        assert_eq!(
            rfc1123_to_rfc3339("Sun, 06 Nov 1994 08:49:37 GMT").as_deref(),
            Some("1994-11-06 08:49:37")
        );
        assert!(rfc1123_to_rfc3339("yesterday").is_none());
    }
}
