//! curl's `--resolve HOST:PORT:ADDRESS[,ADDRESS...]` and `--connect-to HOST:PORT:CONNECT_HOST:CONNECT_PORT`:
//! parsed from what the user typed, and applied to one hop's host and port. Both follow curl: `--connect-to`
//! first picks where to connect (empty HOST or PORT match any; empty CONNECT_HOST or CONNECT_PORT keep the
//! URL's), then `--resolve` entries are matched against that host and port. The Host header, SNI and the
//! certificate check always keep the URL's host.

use std::net::IpAddr;

use super::model::{AddressSource, ConnectTo, ConnectedVia, HttpRequest, Pin};
use super::url::Url;
use crate::target::{shown, Host, InputError};

const RESOLVE_FORM: &str =
    "expected HOST:PORT:ADDRESS[,ADDRESS...], such as example.test:443:127.0.0.1 or example.test:443:[::1]";
const CONNECT_TO_FORM: &str = "expected HOST:PORT:CONNECT_HOST:CONNECT_PORT (an empty HOST or PORT matches any), such as example.test:443:127.0.0.1:8443";

/// The first field of `s` up to `:` (a `[...]` field whole, without its brackets) and what follows that
/// colon (`None` when no colon follows).
fn take_field(s: &str) -> Option<(String, Option<&str>)> {
    let (field, after) = if let Some(inner) = s.strip_prefix('[') {
        let end = inner.find(']')?;
        (inner[..end].to_string(), &inner[end + 1..])
    } else {
        let i = s.find(':').unwrap_or(s.len());
        (s[..i].to_string(), &s[i..])
    };
    match after.strip_prefix(':') {
        Some(next) => Some((field, Some(next))),
        None if after.is_empty() => Some((field, None)),
        None => None,
    }
}

/// Splits `s` at `:` into fields, keeping `[...]` (IPv6) whole; brackets are removed from the fields.
fn fields(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let (field, next) = take_field(rest)?;
        out.push(field);
        match next {
            Some(n) => rest = n,
            None => return Some(out),
        }
    }
}

/// A port field: 1-65535.
fn port(what: &str, typed: &str, p: &str) -> Result<u16, InputError> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(InputError(format!(
            "{what} '{}': bad port '{}': a port is a number 1-65535",
            shown(typed),
            shown(p)
        ))),
    }
}

fn host(what: &str, typed: &str, h: &str, form: &str) -> Result<Host, InputError> {
    if h == "*" {
        return Err(InputError(format!(
            "{what} '{}': '*' (any host) is not supported: name the host; {form}",
            shown(typed)
        )));
    }
    Host::parse(h).map_err(|e| InputError(format!("{what} '{}': {e}; {form}", shown(typed))))
}

/// Parses one `--resolve HOST:PORT:ADDRESS[,ADDRESS...]` (IPv6 addresses in brackets or bare).
pub fn parse_resolve(s: &str) -> Result<Pin, InputError> {
    let bad = |why: &str| InputError(format!("--resolve '{}': {why}{RESOLVE_FORM}", shown(s)));
    if s.starts_with('+') || s.starts_with('-') {
        return Err(bad("curl's '+' and '-' forms are not supported; "));
    }
    // HOST and PORT are the first two fields; the addresses are the rest (bare IPv6 addresses hold colons).
    let (h, rest) = take_field(s).ok_or_else(|| bad(""))?;
    let (p, list) = rest.and_then(take_field).ok_or_else(|| bad(""))?;
    let list = list.ok_or_else(|| bad(""))?;
    let h = host("--resolve", s, &h, RESOLVE_FORM)?;
    let p = port("--resolve", s, &p)?;
    let mut addresses = Vec::new();
    for a in list.split(',') {
        let a = a.trim();
        let bare = a
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(a);
        match bare.parse::<IpAddr>() {
            Ok(ip) if !addresses.contains(&ip) => addresses.push(ip),
            Ok(_) => {}
            Err(_) => {
                return Err(InputError(format!(
                    "--resolve '{}': '{}' is not an IP address; give IPv4 such as 127.0.0.1 or IPv6 such as [::1]",
                    shown(s),
                    shown(a)
                )))
            }
        }
    }
    Ok(Pin {
        host: h,
        port: Some(p),
        addresses,
        source: AddressSource::ResolveOption,
        rule: s.to_string(),
    })
}

/// Parses one `--connect-to HOST:PORT:CONNECT_HOST:CONNECT_PORT`.
pub fn parse_connect_to(s: &str) -> Result<ConnectTo, InputError> {
    let f = fields(s)
        .filter(|f| f.len() == 4)
        .ok_or_else(|| InputError(format!("--connect-to '{}': {CONNECT_TO_FORM}", shown(s))))?;
    let opt_host = |h: &str| -> Result<Option<Host>, InputError> {
        if h.is_empty() {
            Ok(None)
        } else {
            host("--connect-to", s, h, CONNECT_TO_FORM).map(Some)
        }
    };
    let opt_port = |p: &str| -> Result<Option<u16>, InputError> {
        if p.is_empty() {
            Ok(None)
        } else {
            port("--connect-to", s, p).map(Some)
        }
    };
    Ok(ConnectTo {
        host: opt_host(&f[0])?,
        port: opt_port(&f[1])?,
        to_host: opt_host(&f[2])?,
        to_port: opt_port(&f[3])?,
        rule: s.to_string(),
    })
}

/// Names compare without regard to case (and a trailing dot); addresses as addresses.
fn same_host(a: &Host, b: &Host) -> bool {
    match (a, b) {
        (Host::Name(x), Host::Name(y)) => x
            .trim_end_matches('.')
            .eq_ignore_ascii_case(y.trim_end_matches('.')),
        _ => a == b,
    }
}

/// Where a hop connects: the URL's host and port, or a `--connect-to` entry's (with the entry, for the report).
pub(super) fn connect_target(url: &Url, req: &HttpRequest) -> (Host, u16, Option<ConnectedVia>) {
    let rule = req.connect_to.iter().find(|c| {
        c.host.as_ref().is_none_or(|h| same_host(h, &url.host))
            && c.port.is_none_or(|p| p == url.port)
    });
    match rule {
        None => (url.host.clone(), url.port, None),
        Some(c) => {
            let h = c.to_host.clone().unwrap_or_else(|| url.host.clone());
            let p = c.to_port.unwrap_or(url.port);
            let via = ConnectedVia {
                host: h.to_string(),
                port: p,
                rule: c.rule.clone(),
            };
            (h, p, Some(via))
        }
    }
}

/// The `--resolve` (or caller's) entry for this host and port, if any.
pub(super) fn pinned<'a>(req: &'a HttpRequest, host: &Host, port: u16) -> Option<&'a Pin> {
    req.addresses
        .iter()
        .find(|p| same_host(&p.host, host) && p.port.is_none_or(|q| q == port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries_parse_as_curl_writes_them() {
        let p = parse_resolve("example.test:8080:127.0.0.1").unwrap();
        assert_eq!(p.host, Host::Name("example.test".into()));
        assert_eq!(p.port, Some(8080));
        assert_eq!(p.addresses, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        let p = parse_resolve("example.test:443:[::1],127.0.0.2").unwrap();
        assert_eq!(p.addresses.len(), 2);
        let p = parse_resolve("example.test:443:::1").unwrap();
        assert_eq!(p.addresses, vec!["::1".parse::<IpAddr>().unwrap()]);
        let p = parse_resolve("[::1]:443:127.0.0.1").unwrap();
        assert_eq!(p.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(p.addresses, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        for bad in [
            "foo",
            "foo:80",
            "foo:0:127.0.0.1",
            "foo:99999:127.0.0.1",
            "foo:x:127.0.0.1",
            "foo:80:not-an-ip",
            "foo:80:",
            "*:80:127.0.0.1",
            "-foo:80",
            ":80:127.0.0.1",
        ] {
            let e = parse_resolve(bad).unwrap_err().0;
            assert!(e.starts_with("--resolve '"), "{bad}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn connect_to_entries_parse_with_empty_fields() {
        let c = parse_connect_to("example.test:443:127.0.0.1:8443").unwrap();
        assert_eq!(c.host, Some(Host::Name("example.test".into())));
        assert_eq!((c.port, c.to_port), (Some(443), Some(8443)));
        let c = parse_connect_to("::[::1]:").unwrap();
        assert_eq!((c.host, c.port, c.to_port), (None, None, None));
        assert_eq!(c.to_host, Some(Host::Ip("::1".parse().unwrap())));
        for bad in [
            "a:b",
            "a:1:b",
            "a:1:b:2:3",
            "a:0:b:2",
            "a:1:b:65536",
            "a:1:[::1:2",
        ] {
            let e = parse_connect_to(bad).unwrap_err().0;
            assert!(e.starts_with("--connect-to '"), "{bad}: {e}");
        }
    }

    #[test]
    fn connect_to_matches_host_and_port_then_resolve_matches_the_target() {
        let mut req = HttpRequest::new(Url::parse("https://example.test/").unwrap());
        req.connect_to = vec![
            parse_connect_to("example.test:80:a.test:81").unwrap(),
            parse_connect_to("EXAMPLE.test::b.test:").unwrap(),
        ];
        let (h, p, via) = connect_target(&req.url, &req);
        assert_eq!((h.to_string(), p), ("b.test".to_string(), 443));
        assert_eq!(via.unwrap().rule, "EXAMPLE.test::b.test:");
        req.addresses = vec![
            parse_resolve("b.test:80:127.0.0.9").unwrap(),
            parse_resolve("b.test:443:127.0.0.8").unwrap(),
        ];
        let pin = pinned(&req, &h, p).unwrap();
        assert_eq!(pin.addresses, vec!["127.0.0.8".parse::<IpAddr>().unwrap()]);
        assert!(pinned(&req, &Host::Name("c.test".into()), 443).is_none());
    }
}
