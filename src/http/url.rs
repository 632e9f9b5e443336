//! The URLs `http-get` accepts: `host`, `host:port`, `[v6]:port`, `http://host[:port]/path?query` and `https://…`.
//!
//! A small parser for exactly these forms (the host goes through [`crate::target::Host::parse`]); anything else
//! `user:password@` before the host is kept for basic authentication and shown with the password as `***`;
//! anything else (other schemes, spaces or control bytes) gets one clear error naming the input and the forms.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::target::{parse_single_port, shown, Host, InputError};

const URL_FORMS: &str =
    "expected HOST, HOST:PORT, [IPv6]:PORT, http://HOST[:PORT]/PATH?QUERY or https://HOST[:PORT]/PATH?QUERY";

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A parsed URL: scheme, host, port (the scheme's default when not given) and the request target (path and
/// query, always starting with `/`). Fragments are dropped: they never go on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    pub scheme: Scheme,
    pub host: Host,
    pub port: u16,
    pub path: String,
    /// `user:password` (or `user`) from `user:password@host`, percent-decoded: curl's basic authentication.
    pub user: Option<String>,
}

impl Url {
    /// Parses a URL as typed on the command line; a bare host means `http://host/`.
    pub fn parse(s: &str) -> Result<Url, InputError> {
        let bad = |why: &str| InputError(format!("invalid URL '{}': {why}; {URL_FORMS}", shown(s)));
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if let Some(c) = s.chars().find(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad(&format!(
                "character '{}' is not allowed",
                c.escape_default()
            )));
        }
        let (scheme, rest) = match s.find("://") {
            Some(i) => {
                let scheme = match s[..i].to_ascii_lowercase().as_str() {
                    "http" => Scheme::Http,
                    "https" => Scheme::Https,
                    other => {
                        return Err(bad(&format!(
                            "scheme '{}' is not supported (only http and https)",
                            shown(other)
                        )))
                    }
                };
                (scheme, &s[i + 3..])
            }
            None => (Scheme::Http, s),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (user, authority) = match authority.rsplit_once('@') {
            Some(("", _)) => return Err(bad("empty user before '@'")),
            Some((u, a)) => (
                Some(percent_decode(u).ok_or_else(|| bad("bad %-escape in the user"))?),
                a,
            ),
            None => (None, authority),
        };
        let (host, port) = parse_authority(authority).map_err(|why| bad(&why))?;
        let tail = tail.split('#').next().unwrap_or("");
        let path = if tail.is_empty() {
            "/".to_string()
        } else if tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_string()
        };
        Ok(Url {
            scheme,
            host,
            port: port.unwrap_or(scheme.default_port()),
            path,
            user,
        })
    }

    /// The `Authorization` header value for the user in the URL, as curl sends it (`user` alone: empty password).
    pub fn basic_auth(&self) -> Option<String> {
        self.user.as_ref().map(|u| {
            let pair = if u.contains(':') {
                u.clone()
            } else {
                format!("{u}:")
            };
            format!("Basic {}", base64(pair.as_bytes()))
        })
    }

    /// The `Host` header value: the host, with the port when it is not the scheme's default.
    pub fn authority(&self) -> String {
        let host = match &self.host {
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
            h => h.to_string(),
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolves a `Location` header against this URL: absolute, scheme-relative (`//host/…`), absolute-path
    /// (`/…`) or relative (`page`, `../up`, `?q`).
    pub fn join(&self, location: &str) -> Result<Url, InputError> {
        let loc = location.trim();
        let lower = loc.get(..8).unwrap_or(loc).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Url::parse(loc);
        }
        if let Some(rest) = loc.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme.as_str()));
        }
        if loc.contains("://") {
            return Url::parse(loc);
        }
        let loc = loc.split('#').next().unwrap_or("");
        let path = if loc.is_empty() {
            self.path.clone()
        } else if loc.starts_with('/') {
            loc.to_string()
        } else if loc.starts_with('?') {
            let base = self.path.split('?').next().unwrap_or("/");
            format!("{base}{loc}")
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
            normalize(&format!("{dir}{loc}"))
        };
        let joined = format!("{}://{}{}", self.scheme.as_str(), self.authority(), path);
        Url::parse(&joined)
    }
}

/// Decodes `%XX` escapes; None for a bad escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Standard base64 with padding (RFC 4648), for basic authentication.
pub fn base64(data: &[u8]) -> String {
    data_encoding::BASE64.encode(data)
}

fn parse_authority(a: &str) -> Result<(Host, Option<u16>), String> {
    if a.is_empty() {
        return Err("missing host".into());
    }
    if let Some(rest) = a.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| "'[' without a closing ']'".to_string())?;
        // RFC 6874 writes the scope `%25eth0`; curl also takes a bare `%eth0`.
        let ip: std::net::Ipv6Addr = match inner.split_once('%') {
            Some((addr, zone)) => {
                let zone = zone
                    .strip_prefix("25")
                    .filter(|z| !z.is_empty())
                    .unwrap_or(zone);
                match Host::parse(&format!("{addr}%{zone}")).map_err(|e| e.0)? {
                    Host::Ip(IpAddr::V6(ip)) => ip,
                    _ => return Err(format!("'{}' is not an IPv6 address", shown(inner))),
                }
            }
            None => inner
                .parse()
                .map_err(|_| format!("'{}' is not an IPv6 address", shown(inner)))?,
        };
        let port = match after {
            "" => None,
            p => Some(port_after_colon(p)?),
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    match a.split_once(':') {
        Some((h, p)) => {
            if p.contains(':') {
                return Err(
                    "an IPv6 address must be written in brackets, such as [::1]:8080".into(),
                );
            }
            let host = Host::parse(h).map_err(|e| e.0)?;
            Ok((host, Some(port_after_colon(&format!(":{p}"))?)))
        }
        None => Ok((Host::parse(a).map_err(|e| e.0)?, None)),
    }
}

fn port_after_colon(p: &str) -> Result<u16, String> {
    let digits = p
        .strip_prefix(':')
        .ok_or_else(|| "expected ':PORT' after the host".to_string())?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port '{}' is not a number 1-65535", shown(digits)));
    }
    parse_single_port(digits).map_err(|e| e.0)
}

/// Removes `.` and `..` segments from an absolute path (RFC 3986 5.2.4), keeping the query as it is.
fn normalize(path: &str) -> String {
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut s = format!("/{}", out.join("/"));
    if let Some(q) = q {
        s.push('?');
        s.push_str(q);
    }
    s
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}{}",
            self.scheme.as_str(),
            match self
                .user
                .as_deref()
                .map(|u| u.split(':').next().unwrap_or(u))
            {
                Some(name) => format!("{name}:***@"),
                None => String::new(),
            },
            self.authority(),
            self.path
        )
    }
}

impl Serialize for Url {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn bare_host_means_http_root() {
        let u = p("example.com");
        assert_eq!(u.scheme, Scheme::Http);
        assert_eq!(u.port, 80);
        assert_eq!(u.path, "/");
        assert_eq!(u.to_string(), "http://example.com/");
    }

    #[test]
    fn host_port_and_paths() {
        let u = p("127.0.0.1:8080");
        assert_eq!(u.host, Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(u.port, 8080);
        assert_eq!(u.authority(), "127.0.0.1:8080");
        let u = p("https://Example.com/a/b?x=1&y=2#frag");
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.port, 443);
        assert_eq!(u.path, "/a/b?x=1&y=2");
        assert_eq!(u.authority(), "Example.com");
        assert_eq!(p("HTTP://h?q").path, "/?q");
        assert_eq!(p("http://h:443/").authority(), "h:443");
    }

    #[test]
    fn ipv6_literals() {
        let u = p("http://[::1]:8080/x");
        assert_eq!(u.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(u.port, 8080);
        assert_eq!(u.authority(), "[::1]:8080");
        assert_eq!(u.to_string(), "http://[::1]:8080/x");
        assert_eq!(p("[::1]").authority(), "[::1]");
        assert_eq!(p("https://[fe80::1]").port, 443);
    }

    #[test]
    fn scoped_ipv6_literals_as_rfc_6874_and_curl_write_them() {
        for s in [
            "http://[fe80::2:5%25lo]:8080/",
            "http://[fe80::2:5%lo]:8080/",
        ] {
            let u = p(s);
            assert_eq!(u.host, Host::Ip("fe80::2:5".parse().unwrap()));
            assert_eq!(u.port, 8080);
            // The scope is this machine's business: the Host header goes without it (RFC 6874).
            assert_eq!(u.authority(), "[fe80::2:5]:8080");
        }
        let e = Url::parse("http://[fe80::1%25nosuchif0]/").unwrap_err().0;
        assert!(e.contains("unknown interface 'nosuchif0'"), "{e}");
    }

    #[test]
    fn rejects_other_forms_with_one_line() {
        for bad in [
            "",
            "ftp://h/",
            "http://",
            "http://@h/",
            "http://u%zz:p@h/",
            "http://h:0/",
            "http://h:99999/",
            "http://h:x/",
            "http://h:/",
            "http://::1/",
            "http://[::1/",
            "http://[zz]/",
            "http://a b/",
            "http://h/\n",
            "http://-bad-/",
            "http://h..x/",
        ] {
            let e = Url::parse(bad).expect_err(bad).0;
            assert!(
                e.starts_with("invalid URL") || e.contains("host"),
                "{bad}: {e}"
            );
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
        assert!(Url::parse("gopher://h/")
            .unwrap_err()
            .0
            .contains("only http and https"));
    }

    #[test]
    fn joins_locations() {
        let base = p("http://h:8080/a/b/c?q=1");
        assert_eq!(base.join("/x").unwrap().to_string(), "http://h:8080/x");
        assert_eq!(base.join("d").unwrap().to_string(), "http://h:8080/a/b/d");
        assert_eq!(
            base.join("../d?z").unwrap().to_string(),
            "http://h:8080/a/d?z"
        );
        assert_eq!(
            base.join("?z=2").unwrap().to_string(),
            "http://h:8080/a/b/c?z=2"
        );
        assert_eq!(base.join("https://o/").unwrap().to_string(), "https://o/");
        assert_eq!(base.join("//o:81/p").unwrap().to_string(), "http://o:81/p");
        assert_eq!(
            base.join("../../../../d").unwrap().to_string(),
            "http://h:8080/d"
        );
        assert!(base.join("ftp://x/").is_err());
    }
}
