//! Just enough X.509 DER reading to show a peer certificate: subject, issuer, subject alternative names and
//! the validity period. A small bounded reader (definite lengths only, no recursion beyond the fixed shape);
//! every malformed input gives `None`, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Subject alternative names: `DNS:name`, `IP:address`, `email:…`, `URI:…`.
    pub sans: Vec<String>,
    /// `2026-01-31 23:59:59 UTC`.
    pub not_before: String,
    pub not_after: String,
    /// Seconds since the Unix epoch when it expires.
    pub not_after_unix: i64,
    /// Subject and issuer are the same name.
    pub self_signed: bool,
}

impl CertInfo {
    /// Whole days until expiry from `now_unix` (negative once expired).
    pub fn days_left(&self, now_unix: i64) -> i64 {
        (self.not_after_unix - now_unix).div_euclid(86_400)
    }
}

/// One DER element: tag, contents, and what follows it.
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur in the fields we read
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Reads one element that must have `tag`.
fn expect(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = tlv(data)?;
    (t == tag).then_some((content, rest))
}

const SEQ: u8 = 0x30;
const SET: u8 = 0x31;

/// Parses a DER certificate. Pure and bounded: the fuzzing entry point for certificates.
pub fn parse_certificate(der: &[u8]) -> Option<CertInfo> {
    let (cert, _) = expect(der, SEQ)?;
    let (tbs, _) = expect(cert, SEQ)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2; // version
    }
    rest = expect(rest, 0x02)?.1; // serial number
    rest = expect(rest, SEQ)?.1; // signature algorithm
    let (issuer, r) = expect(rest, SEQ)?;
    let (validity, r) = expect(r, SEQ)?;
    let (subject, r) = expect(r, SEQ)?;
    let (_spki, mut r) = expect(r, SEQ)?;
    let (nb_tag, nb, v) = tlv(validity)?;
    let (na_tag, na, _) = tlv(v)?;
    let not_before = time(nb_tag, nb)?;
    let not_after = time(na_tag, na)?;
    let mut sans = Vec::new();
    while let Some((tag, content, next)) = tlv(r) {
        if tag == 0xa3 {
            sans = subject_alt_names(content).unwrap_or_default();
        }
        r = next;
    }
    Some(CertInfo {
        subject: name(subject),
        issuer: name(issuer),
        sans,
        not_before: fmt_time(not_before),
        not_after: fmt_time(not_after),
        not_after_unix: unix(not_after),
        self_signed: subject == issuer,
    })
}

/// `CN=example.com, O=Example, C=US`, in certificate order; unknown attribute types are left out.
fn name(mut rdns: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((SET, set, next)) = tlv(rdns) {
        let mut atvs = set;
        while let Some((SEQ, atv, n)) = tlv(atvs) {
            if let Some((oid, value)) = expect(atv, 0x06) {
                if let (Some(label), Some((tag, v, _))) = (attr_label(oid), tlv(value)) {
                    parts.push(format!("{label}={}", string_value(tag, v)));
                }
            }
            atvs = n;
        }
        rdns = next;
    }
    parts.join(", ")
}

fn attr_label(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        _ => return None,
    })
}

fn string_value(tag: u8, v: &[u8]) -> String {
    let s = if tag == 0x1e {
        // BMPString: UTF-16BE
        let units: Vec<u16> = v
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(v).into_owned()
    };
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn subject_alt_names(exts: &[u8]) -> Option<Vec<String>> {
    let (mut list, _) = expect(exts, SEQ)?;
    while let Some((SEQ, ext, next)) = tlv(list) {
        let (oid, mut r) = expect(ext, 0x06)?;
        if oid == [0x55, 0x1d, 0x11] {
            if r.first() == Some(&0x01) {
                r = tlv(r)?.2; // critical
            }
            let (value, _) = expect(r, 0x04)?;
            let (mut names, _) = expect(value, SEQ)?;
            let mut out = Vec::new();
            while let Some((tag, v, n)) = tlv(names) {
                match tag {
                    0x82 => out.push(format!("DNS:{}", string_value(0x16, v))),
                    0x81 => out.push(format!("email:{}", string_value(0x16, v))),
                    0x86 => out.push(format!("URI:{}", string_value(0x16, v))),
                    0x87 => {
                        if let Some(ip) = ip_of(v) {
                            out.push(format!("IP:{ip}"));
                        }
                    }
                    _ => {}
                }
                names = n;
                if out.len() >= 1000 {
                    break;
                }
            }
            return Some(out);
        }
        list = next;
    }
    Some(Vec::new())
}

fn ip_of(v: &[u8]) -> Option<IpAddr> {
    match v.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(v);
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// (year, month, day, hour, minute, second) from a UTCTime or GeneralizedTime.
type Civil = (i64, u32, u32, u32, u32, u32);

fn time(tag: u8, v: &[u8]) -> Option<Civil> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.strip_suffix('Z')?;
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, s.len()) {
        (0x17, 12) => {
            let yy: i64 = s[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        (0x18, 14) => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    let n = |i: usize| rest[i..i + 2].parse::<u32>().ok();
    let t = (year, n(0)?, n(2)?, n(4)?, n(6)?, n(8)?);
    let ok = (1..=12).contains(&t.1) && (1..=31).contains(&t.2) && t.3 < 24 && t.4 < 60 && t.5 < 61;
    ok.then_some(t)
}

fn fmt_time(t: Civil) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.0, t.1, t.2, t.3, t.4, t.5
    )
}

/// Seconds since the epoch (days-from-civil, proleptic Gregorian).
fn unix(t: Civil) -> i64 {
    let (y, m, d) = (t.0, i64::from(t.1), i64::from(t.2));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + i64::from(t.3) * 3600 + i64::from(t.4) * 60 + i64::from(t.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_rcgen_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "netdiag test");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme");
        params.not_before = rcgen::date_time_ymd(2025, 1, 2);
        params.not_after = rcgen::date_time_ymd(2035, 3, 4);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = parse_certificate(cert.der()).expect("parses");
        assert!(info.subject.contains("CN=netdiag test"), "{}", info.subject);
        assert!(info.subject.contains("O=Acme"));
        assert_eq!(info.subject, info.issuer);
        assert!(info.self_signed);
        assert_eq!(info.sans, vec!["DNS:localhost", "IP:127.0.0.1"]);
        assert_eq!(info.not_before, "2025-01-02 00:00:00 UTC");
        assert_eq!(info.not_after, "2035-03-04 00:00:00 UTC");
        assert_eq!(info.not_after_unix, 2_056_579_200);
        assert_eq!(info.days_left(2_056_579_200 - 86_400 * 3), 3);
    }

    #[test]
    fn garbage_is_none() {
        assert!(parse_certificate(b"").is_none());
        assert!(parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse_certificate(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_none());
        assert_eq!(unix((1970, 1, 1, 0, 0, 0)), 0);
        assert_eq!(unix((2000, 3, 1, 0, 0, 0)), 951_868_800);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_certificate(&bytes);
        }
    }
}
