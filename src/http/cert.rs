//! The peer certificate as netdiag shows it: subject, issuer, subject alternative names and the validity
//! period, read with x509-parser (the X.509 reader rustls's ecosystem uses); every malformed input gives
//! `None`, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::time::ASN1Time;

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

/// `12 days left`, `1 day left`, `expires today`, `expired 1 day ago`, `expired 2495 days ago`, from
/// [`CertInfo::days_left`].
pub fn days_phrase(days_left: i64) -> String {
    let plural = |n: i64| if n == 1 { "" } else { "s" };
    match days_left {
        0 => "expires within a day".to_string(),
        d if d > 0 => format!("{d} day{} left", plural(d)),
        d => {
            let ago = d.unsigned_abs() as i64;
            format!("expired {ago} day{} ago", plural(ago))
        }
    }
}

/// Parses a DER certificate. Pure and bounded: the fuzzing entry point for certificates.
pub fn parse_certificate(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let validity = cert.validity();
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(general_name)
            .collect(),
        Ok(None) => Vec::new(),
        Err(_) => return None,
    };
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: fmt_time(&validity.not_before),
        not_after: fmt_time(&validity.not_after),
        not_after_unix: validity.not_after.timestamp(),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

/// A subject alternative name as `DNS:name`, `IP:address`, `email:…` or `URI:…`.
fn general_name(g: &GeneralName) -> Option<String> {
    match g {
        GeneralName::DNSName(n) => Some(format!("DNS:{n}")),
        GeneralName::IPAddress(b) => ip_of(b).map(|ip| format!("IP:{ip}")),
        GeneralName::RFC822Name(n) => Some(format!("email:{n}")),
        GeneralName::URI(u) => Some(format!("URI:{u}")),
        _ => None,
    }
}

fn ip_of(v: &[u8]) -> Option<IpAddr> {
    match v.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(v);
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// `2026-01-31 23:59:59 UTC`.
fn fmt_time(t: &ASN1Time) -> String {
    let d = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
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
    fn days_read_as_words() {
        assert_eq!(days_phrase(12), "12 days left");
        assert_eq!(days_phrase(1), "1 day left");
        assert_eq!(days_phrase(0), "expires within a day");
        assert_eq!(days_phrase(-1), "expired 1 day ago");
        assert_eq!(days_phrase(-2495), "expired 2495 days ago");
    }

    #[test]
    fn garbage_is_none() {
        assert!(parse_certificate(b"").is_none());
        assert!(parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse_certificate(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_certificate(&bytes);
        }
    }
}
