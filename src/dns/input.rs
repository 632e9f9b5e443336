//! What users type for direct DNS: names (with their length limits), record types, classes, reverse
//! addresses and nameservers (`192.0.2.53`, `[2001:db8::53]:5353`, `tls://dns.example`, `https://HOST/PATH`).
//! Every malformed input is one line naming it and the accepted forms.

use std::net::IpAddr;
use std::str::FromStr;

use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::{Protocol, Server};
use crate::target::{shown, InputError, Target};

type Result<T> = std::result::Result<T, InputError>;

/// The types `--help` lists; any other type hickory knows, or `TYPEnnn`, is accepted too.
pub const COMMON_TYPES: &str =
    "A, AAAA, CNAME, MX, NS, SOA, TXT, SRV, PTR, CAA, HTTPS, SVCB, DS, DNSKEY, ANY or TYPEnnn";

const SERVER_FORMS: &str = "expected ADDRESS, ADDRESS:PORT, [IPv6]:PORT or NAME, optionally as udp://, tcp://, tls:// (DNS over TLS), or an https://HOST/PATH URL (DNS over HTTPS)";

/// Parses a domain name to ask about. Names are absolute (a trailing dot is optional; no search list, as
/// dig): at most 253 characters and 63 per label; non-ASCII names go to their punycode form.
pub fn parse_name(s: &str) -> Result<Name> {
    let bad = |why: String| InputError(format!("invalid name '{}': {why}", shown(s)));
    if s.is_empty() {
        return Err(InputError(
            "empty name: expected a domain name such as www.example.test".into(),
        ));
    }
    if s == "." {
        return Ok(Name::root());
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(format!(
            "'{}' is not allowed in a name",
            c.escape_default()
        )));
    }
    let body = s.strip_suffix('.').unwrap_or(s);
    if body.len() > 253 {
        return Err(bad(format!(
            "a name has at most 253 characters, this one has {}",
            body.len()
        )));
    }
    for label in body.split('.') {
        if label.is_empty() {
            return Err(bad(
                "empty label (two dots in a row, or a leading dot)".into()
            ));
        }
        if label.len() > 63 {
            return Err(bad(format!(
                "a label has at most 63 characters, '{}' has {}",
                shown(label),
                label.len()
            )));
        }
    }
    let mut name = Name::from_utf8(body).map_err(|e| bad(e.to_string()))?;
    name.set_fqdn(true);
    // Punycode can make a name longer than its Unicode form.
    if name.len() > 254 {
        return Err(bad(
            "its ASCII (punycode) form is longer than 253 characters".into(),
        ));
    }
    Ok(name)
}

/// A record type by name (case-insensitive) or as `TYPEnnn`; `None` when the word is not one.
pub fn type_word(s: &str) -> Option<RecordType> {
    let up = s.to_ascii_uppercase();
    if let Some(n) = up.strip_prefix("TYPE") {
        return n.parse::<u16>().ok().map(RecordType::from);
    }
    if up == "*" {
        return None;
    }
    RecordType::from_str(&up).ok()
}

/// Parses a record type for `--type`; transfers and meta types are refused with the reason.
pub fn parse_type(s: &str) -> Result<RecordType> {
    let t = type_word(s).ok_or_else(|| {
        InputError(format!(
            "unknown record type '{}': expected {COMMON_TYPES}",
            shown(s)
        ))
    })?;
    check_type(t, s)
}

/// Refuses the types a single question cannot ask: zone transfers, OPT, TSIG.
pub fn check_type(t: RecordType, s: &str) -> Result<RecordType> {
    match t {
        RecordType::AXFR | RecordType::IXFR => Err(InputError(format!(
            "record type '{}' is a zone transfer, which netdiag does not do: use dig or kdig for transfers; expected {COMMON_TYPES}",
            shown(s)
        ))),
        RecordType::OPT | RecordType::TSIG | RecordType::ZERO => Err(InputError(format!(
            "record type '{}' cannot be asked for: expected {COMMON_TYPES}",
            shown(s)
        ))),
        t => Ok(t),
    }
}

/// A class word: IN, CH or HS (case-insensitive); `None` otherwise.
pub fn class_word(s: &str) -> Option<DNSClass> {
    match s.to_ascii_uppercase().as_str() {
        "IN" => Some(DNSClass::IN),
        "CH" | "CHAOS" => Some(DNSClass::CH),
        "HS" | "HESIOD" => Some(DNSClass::HS),
        _ => None,
    }
}

/// Parses `--class`.
pub fn parse_class(s: &str) -> Result<DNSClass> {
    class_word(s).ok_or_else(|| {
        InputError(format!(
            "unknown class '{}': expected IN, CH or HS",
            shown(s)
        ))
    })
}

/// The PTR name of an address: `4.3.2.1.in-addr.arpa.` or the nibbles under `ip6.arpa.`.
pub fn reverse_name(ip: IpAddr) -> Name {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(73);
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa.");
            s
        }
    };
    // Built from an address: always a valid name.
    Name::from_ascii(&text).unwrap_or_else(|_| Name::root())
}

/// Parses a nameserver. `forced` is the transport flag given (`--tcp`, `--tls`, `--https`); a URL scheme that
/// disagrees with it is an error.
pub fn parse_server(s: &str, forced: Option<Protocol>) -> Result<Server> {
    let bad = |why: &str| {
        InputError(format!(
            "invalid server '{}': {why}; {SERVER_FORMS}",
            shown(s)
        ))
    };
    if s.is_empty() {
        return Err(InputError(format!("empty server: {SERVER_FORMS}")));
    }
    let (scheme, rest) = match s.split_once("://") {
        Some((sch, rest)) => {
            let p = match sch.to_ascii_lowercase().as_str() {
                "udp" | "dns" => Protocol::Udp,
                "tcp" => Protocol::Tcp,
                "tls" | "dot" => Protocol::Tls,
                "https" | "doh" => Protocol::Https,
                _ => return Err(bad(&format!("unknown scheme '{}'", shown(sch)))),
            };
            (Some(p), rest)
        }
        None => (None, s),
    };
    if let (Some(a), Some(b)) = (scheme, forced) {
        if a != b {
            return Err(bad(&format!(
                "the {}:// scheme contradicts --{}",
                a.as_str(),
                b.as_str()
            )));
        }
    }
    let protocol = scheme.or(forced).unwrap_or(Protocol::Udp);
    if protocol == Protocol::Https {
        let url = crate::http::Url::parse(&format!("https://{rest}"))
            .map_err(|e| InputError(format!("invalid server '{}': {}", shown(s), e.0)))?;
        if url.user.is_some() {
            return Err(InputError(format!(
                "invalid server '{}': user information (user@host) is not supported for DNS over HTTPS",
                shown(s)
            )));
        }
        let path = if url.path == "/" {
            "/dns-query".to_string()
        } else {
            url.path
        };
        return Ok(Server {
            host: url.host,
            port: url.port,
            protocol,
            path,
        });
    }
    if rest.contains(['/', '?', '#']) {
        return Err(bad("a path is only for https:// (DNS over HTTPS)"));
    }
    let t = Target::parse(rest).map_err(|e| bad(e.0.split(';').next().unwrap_or(&e.0)))?;
    Ok(Server {
        host: t.host,
        port: t.port.unwrap_or(protocol.default_port()),
        protocol,
        path: "/dns-query".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_limits() {
        assert_eq!(
            parse_name("www.example.test").unwrap().to_string(),
            "www.example.test."
        );
        assert_eq!(
            parse_name("_sip._udp.example.test.").unwrap().to_string(),
            "_sip._udp.example.test."
        );
        assert!(parse_name(".").unwrap().is_root());
        let long_label = format!("{}.test", "a".repeat(64));
        let e = parse_name(&long_label).unwrap_err().0;
        assert!(
            e.contains("at most 63 characters") && e.contains("64"),
            "{e}"
        );
        let long_name = vec!["abcdefghi"; 26].join(".");
        let e = parse_name(&long_name).unwrap_err().0;
        assert!(
            e.contains("at most 253 characters, this one has 259"),
            "{e}"
        );
        for bad in ["", "a..b", ".a", "a b", "a\tb"] {
            let e = parse_name(bad).unwrap_err().0;
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
        assert_eq!(
            parse_name("bücher.test").unwrap().to_ascii(),
            "xn--bcher-kva.test."
        );
    }

    #[test]
    fn types_by_name_or_number() {
        assert_eq!(parse_type("mx").unwrap(), RecordType::MX);
        assert_eq!(parse_type("HTTPS").unwrap(), RecordType::HTTPS);
        assert_eq!(parse_type("TYPE65").unwrap(), RecordType::HTTPS);
        assert_eq!(parse_type("type999").unwrap(), RecordType::from(999));
        let e = parse_type("FOO").unwrap_err().0;
        assert!(
            e.starts_with("unknown record type 'FOO': expected A, AAAA"),
            "{e}"
        );
        assert!(parse_type("AXFR").unwrap_err().0.contains("zone transfer"));
        assert!(type_word("www.example.test").is_none());
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("10.53.0.80".parse().unwrap()).to_string(),
            "80.0.53.10.in-addr.arpa."
        );
        let v6 = reverse_name("2001:db8::1".parse().unwrap()).to_string();
        assert!(
            v6.starts_with("1.0.0.0.0.0.0.0") && v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa."),
            "{v6}"
        );
    }

    #[test]
    fn servers_in_every_form() {
        let s = parse_server("10.0.0.53", None).unwrap();
        assert_eq!((s.port, s.protocol), (53, Protocol::Udp));
        let s = parse_server("[::1]:5353", Some(Protocol::Tcp)).unwrap();
        assert_eq!(
            (s.host.to_string().as_str(), s.port, s.protocol),
            ("::1", 5353, Protocol::Tcp)
        );
        let s = parse_server("tls://dns.test", None).unwrap();
        assert_eq!((s.port, s.protocol), (853, Protocol::Tls));
        let s = parse_server("https://10.0.0.6/q", None).unwrap();
        assert_eq!((s.port, s.path.as_str()), (443, "/q"));
        let s = parse_server("10.0.0.6", Some(Protocol::Https)).unwrap();
        assert_eq!((s.port, s.path.as_str()), (443, "/dns-query"));
        for bad in [
            "",
            "10.0.0.1:0",
            "10.0.0.1:99999",
            "quic://x",
            "a..b",
            "10.0.0.1/x",
            "tcp://[::1",
        ] {
            let e = parse_server(bad, None).unwrap_err().0;
            assert!(e.contains("server") && !e.contains('\n'), "{bad}: {e}");
        }
        assert!(parse_server("tcp://10.0.0.1", Some(Protocol::Tls))
            .unwrap_err()
            .0
            .contains("contradicts --tls"));
    }
}
