//! TLS for `https://` URLs: rustls (ring) verifying against this machine's trust store (the one curl and openssl
//! use, read with rustls-native-certs, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`), the bundled webpki
//! roots only where the system has none, or a PEM file (`--cacert`) instead of both; or no verification at all
//! (`--insecure`). A server certificate that is byte for byte one of the `--cacert` certificates (a self-signed
//! one from `openssl req -x509`, which is a CA and so refused as an end entity by webpki) is accepted after its
//! names and dates are checked, as curl does. The verifier records the peer certificate so the report can show
//! it even when verification fails, and failures are mapped to plain-language explanations.

use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};
use serde::Serialize;

use super::cert::CertInfo;
use crate::explain::tls::{self as explain_tls, CertProblem};
use crate::explain::{self, Explanation};
use crate::target::Host;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Skip verification (still shows the certificate).
    pub insecure: bool,
    /// DER certificates to trust instead of the system store (from `--cacert`); empty means the system store.
    pub ca_certs: Vec<Vec<u8>>,
    /// The name sent in SNI and checked against the certificate instead of the URL's host (for a URL that
    /// names an address, or a virtual host reached through another name).
    pub server_name: Option<String>,
    /// The `--cacert` file they came from, named in the report.
    pub ca_file: Option<PathBuf>,
}

impl TlsOptions {
    /// The options of `--insecure` and `--cacert FILE` (read here; a bad file is bad input).
    pub fn from_flags(insecure: bool, cacert: Option<&Path>) -> Result<TlsOptions> {
        Ok(TlsOptions {
            insecure,
            ca_certs: match cacert {
                Some(p) => load_cacert(p)?,
                None => Vec::new(),
            },
            ca_file: cacert.map(Path::to_path_buf),
            server_name: None,
        })
    }
}

/// Reads every certificate from a PEM file, for `--cacert`.
pub fn load_cacert(path: &Path) -> Result<Vec<Vec<u8>>> {
    let data =
        std::fs::read(path).with_context(|| format!("reading --cacert {}", path.display()))?;
    let certs: Vec<Vec<u8>> = rustls_pemfile::certs(&mut data.as_slice())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<io::Result<_>>()
        .with_context(|| format!("--cacert {}: not a valid PEM file", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "--cacert {}: no certificate found; expected a PEM file with -----BEGIN CERTIFICATE----- blocks",
            path.display()
        );
    }
    Ok(certs)
}

/// Which certificates the chain was checked against. In JSON: `{store, location, certificates, exact_match}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trust {
    /// `system` (this machine's store, as curl and openssl use it), `bundled` (the webpki roots compiled in,
    /// used only where the system has no store) or `cacert` (the `--cacert` file).
    pub store: &'static str,
    /// Where the store is: the system's CA file and directories (or `SSL_CERT_FILE=…`, `SSL_CERT_DIR=…`), the
    /// `--cacert` path; null for the bundled roots.
    pub location: Option<String>,
    /// Certificates in the store.
    pub certificates: usize,
    /// The server's certificate is itself one of the `--cacert` certificates, byte for byte (self-signed), and
    /// was accepted after its names and dates were checked.
    pub exact_match: bool,
}

impl Trust {
    /// `system store /etc/ssl/certs/ca-certificates.crt (146 certificates)`.
    pub fn describe(&self) -> String {
        let what = match self.store {
            "system" => "system store",
            "bundled" => "bundled webpki roots (this machine has no trust store)",
            _ => "--cacert",
        };
        let mut s = what.to_string();
        if let Some(l) = &self.location {
            s = format!("{s} {l}");
        }
        let n = self.certificates;
        s = format!("{s} ({n} certificate{})", if n == 1 { "" } else { "s" });
        if self.exact_match {
            s.push_str(", the server's own certificate (byte-identical; names and dates checked)");
        }
        s
    }
}

/// What the handshake settled on.
#[derive(Debug, Clone, Serialize)]
pub struct TlsInfo {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    pub cipher_suite: String,
    pub alpn: Option<String>,
    /// False with `--insecure` (the certificate was not checked).
    pub verified: bool,
    /// The store the chain was checked against; null with `--insecure`.
    pub trust: Option<Trust>,
    pub certificate: Option<CertInfo>,
    /// Whole days until the certificate expires (negative once expired).
    pub days_left: Option<i64>,
    /// When each certificate the server presented expires (Unix seconds, the end entity first), for the
    /// exporter's `probe_ssl_earliest_cert_expiry`.
    #[serde(skip)]
    pub chain_not_after_unix: Vec<i64>,
    /// SHA-256 of the end-entity certificate (lowercase hex), for the exporter's `probe_ssl_last_chain_info`.
    #[serde(skip)]
    pub leaf_sha256: Option<String>,
}

/// From the certificates the server presented: when each expires (Unix seconds) and the SHA-256 of the first.
pub fn chain_facts(seen: &Seen) -> (Vec<i64>, Option<String>) {
    let Ok(s) = seen.lock() else {
        return (Vec::new(), None);
    };
    let expiry = s
        .chain
        .iter()
        .filter_map(|c| super::cert::parse_certificate(c))
        .map(|c| c.not_after_unix)
        .collect();
    let leaf = s.chain.first().map(|der| {
        ring::digest::digest(&ring::digest::SHA256, der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    (expiry, leaf)
}

/// This machine's trust store, read once per run.
struct SystemStore {
    certs: Vec<CertificateDer<'static>>,
    location: String,
}

fn system_store() -> &'static SystemStore {
    static STORE: OnceLock<SystemStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        SystemStore {
            certs: loaded.certs,
            location: system_location(),
        }
    })
}

/// Where rustls-native-certs looks: `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, else what openssl-probe finds.
fn system_location() -> String {
    let env: Vec<String> = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| format!("{k}={}", v.to_string_lossy())))
        .collect();
    if !env.is_empty() {
        return env.join(", ");
    }
    let p = openssl_probe::probe();
    p.cert_file
        .iter()
        .chain(p.cert_dir.iter())
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The roots to verify against and how the report names them.
fn roots(opts: &TlsOptions) -> Result<(RootCertStore, Trust)> {
    let mut roots = RootCertStore::empty();
    if !opts.ca_certs.is_empty() {
        for der in &opts.ca_certs {
            roots
                .add(CertificateDer::from(der.clone()))
                .context("--cacert: a certificate in the file cannot be used as a trust anchor")?;
        }
        let trust = Trust {
            store: "cacert",
            location: opts.ca_file.as_ref().map(|p| p.display().to_string()),
            certificates: opts.ca_certs.len(),
            exact_match: false,
        };
        return Ok((roots, trust));
    }
    let sys = system_store();
    let (added, _) = roots.add_parsable_certificates(sys.certs.iter().cloned());
    if added > 0 {
        let trust = Trust {
            store: "system",
            location: Some(sys.location.clone()),
            certificates: added,
            exact_match: false,
        };
        return Ok((roots, trust));
    }
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let trust = Trust {
        store: "bundled",
        location: None,
        certificates: roots.len(),
        exact_match: false,
    };
    Ok((roots, trust))
}

/// What the verifier saw: the end-entity certificate, and whether it was accepted as a byte-identical
/// `--cacert` certificate.
#[derive(Debug, Default)]
pub struct SeenCert {
    pub der: Option<Vec<u8>>,
    pub exact_match: bool,
    /// Every certificate the server presented (DER, the end entity first, then the intermediates it sent), for
    /// the exporter's chain metrics.
    pub chain: Vec<Vec<u8>>,
}

/// Shared between the verifier and the connection.
pub type Seen = Arc<Mutex<SeenCert>>;

#[derive(Debug)]
struct Recording {
    inner: Option<Arc<WebPkiServerVerifier>>,
    /// `--cacert` certificates a server may present as they are.
    pinned: Vec<Vec<u8>>,
    provider: Arc<CryptoProvider>,
    seen: Seen,
}

/// Checks a certificate that is byte for byte one the user trusts: its names and its dates, as the chain check
/// would have.
fn check_exact(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> std::result::Result<(), rustls::Error> {
    let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
    rustls::client::verify_server_name(&parsed, server_name)?;
    let (_, cert) = <x509_parser::prelude::X509Certificate as x509_parser::prelude::FromDer<
        x509_parser::error::X509Error,
    >>::from_der(end_entity.as_ref())
    .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let v = cert.validity();
    if now < v.not_before.timestamp() {
        return Err(CertificateError::NotValidYet.into());
    }
    if now > v.not_after.timestamp() {
        return Err(CertificateError::Expired.into());
    }
    Ok(())
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut s) = self.seen.lock() {
            s.der = Some(end_entity.to_vec());
            s.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.to_vec())
                .collect();
        }
        let Some(v) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        let chain = v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        match chain {
            Err(e) if self.pinned.iter().any(|p| p[..] == end_entity[..]) => {
                // The user's file holds this very certificate: trust it as curl does, names and dates permitting.
                check_exact(end_entity, server_name, now).map_err(|own| match own {
                    rustls::Error::InvalidCertificate(_) => own,
                    _ => e,
                })?;
                if let Ok(mut s) = self.seen.lock() {
                    s.exact_match = true;
                }
                Ok(ServerCertVerified::assertion())
            }
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration offering the given ALPN protocols (`http/1.1` for HTTPS and DoH, `dot` for DNS over
/// TLS), recording the peer certificate into `seen`; with it, the store the chain is checked against (None with
/// `--insecure`). Built only when TLS is used: a plain exchange never pays for it.
pub fn client_config(
    opts: &TlsOptions,
    seen: Seen,
    alpn: &[&[u8]],
) -> Result<(Arc<ClientConfig>, Option<Trust>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (inner, trust) = if opts.insecure {
        (None, None)
    } else {
        let (roots, trust) = roots(opts)?;
        let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .context("setting up certificate verification")?;
        (Some(v), Some(trust))
    };
    let verifier = Recording {
        inner,
        pinned: opts.ca_certs.clone(),
        provider: provider.clone(),
        seen,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok((Arc::new(config), trust))
}

/// Explains a failed handshake; `cert` is the peer certificate when the server sent one.
pub fn explain_error(e: &io::Error, host: &str, cert: Option<&CertInfo>) -> Explanation {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return explain::io_error(e);
    };
    let problem = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                CertProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                CertProblem::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertProblem::NameMismatch
            }
            CertificateError::UnknownIssuer if cert.is_some_and(|c| c.self_signed) => {
                CertProblem::SelfSigned
            }
            CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
            CertificateError::Revoked => CertProblem::Revoked,
            // `openssl req -x509` certificates are CAs; rustls refuses a CA as a server certificate.
            _ if cert.is_some_and(|c| c.self_signed) => CertProblem::SelfSigned,
            _ => CertProblem::Other,
        },
        other => return explain_tls::handshake_failed(&other.to_string()),
    };
    if format!("{tls:?}").contains("CaUsedAsEndEntity") {
        explain_tls::ca_as_server_certificate(problem, host)
    } else if problem == CertProblem::Other {
        explain_tls::certificate_rejected(host, &tls.to_string())
    } else {
        explain_tls::certificate(problem, host)
    }
}

/// A failed handshake: why, and what was learnt of the session (the certificate the server sent).
pub struct HandshakeError {
    pub explanation: Explanation,
    pub info: Option<TlsInfo>,
}

fn failed(explanation: Explanation, info: Option<TlsInfo>) -> Box<HandshakeError> {
    Box::new(HandshakeError { explanation, info })
}

/// A TLS stream over netdiag's own TCP socket.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Longest single wait in the handshake, so Ctrl-C is noticed soon.
const SLICE: Duration = Duration::from_millis(250);

/// Runs a TLS handshake on a connected socket under a deadline, checking the certificate for `host` as `opts`
/// says and offering `alpn`. On failure, the explanation and what was learnt of the session (the certificate
/// the server sent, the version) when the server got that far. Shared by HTTPS, DoH and DNS over TLS.
pub(crate) fn handshake(
    mut sock: TcpStream,
    host: &Host,
    opts: &TlsOptions,
    alpn: &[&[u8]],
    deadline: Instant,
    timeout: Duration,
) -> std::result::Result<(TlsStream, TlsInfo), Box<HandshakeError>> {
    let seen: Seen = Arc::new(Mutex::new(SeenCert::default()));
    let (config, trust) = client_config(opts, seen.clone(), alpn)
        .map_err(|e| failed(explain_tls::setup_failed(&format!("{e:#}")), None))?;
    let name = match host {
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
        Host::Name(n) => ServerName::try_from(n.clone())
            .map_err(|_| failed(explain_tls::bad_server_name(n), None))?,
    };
    let mut conn = ClientConnection::new(config, name)
        .map_err(|e| failed(explain_tls::setup_failed(&e.to_string()), None))?;
    let host_text = host.to_string();
    let cert_of = |seen: &Seen| {
        seen.lock()
            .ok()
            .and_then(|s| s.der.as_deref().and_then(super::cert::parse_certificate))
    };
    while conn.is_handshaking() {
        if crate::interrupt::requested() {
            return Err(failed(
                explain::interrupted("the answer was complete"),
                None,
            ));
        }
        let Some(remaining) = crate::duration::left(deadline) else {
            return Err(failed(
                explain::http::stalled(timeout, "the TLS handshake"),
                None,
            ));
        };
        let _ = sock.set_read_timeout(Some(remaining.min(SLICE)));
        let _ = sock.set_write_timeout(Some(remaining));
        match conn.complete_io(&mut sock) {
            Ok((0, 0)) if conn.is_handshaking() && conn.wants_read() => {
                return Err(failed(explain_tls::closed_during_handshake(), None));
            }
            Ok(_) => {}
            Err(e) if crate::net::is_slice_end(&e) => {}
            Err(e) => {
                let cert = cert_of(&seen);
                let x = explain_error(&e, &host_text, cert.as_ref());
                return Err(failed(x, Some(info(&conn, cert, false, trust, &seen))));
            }
        }
    }
    let mut trust = trust;
    if let (Some(t), Ok(s)) = (trust.as_mut(), seen.lock()) {
        t.exact_match = s.exact_match;
    }
    let info = info(&conn, cert_of(&seen), !opts.insecure, trust, &seen);
    Ok((StreamOwned::new(conn, sock), info))
}

/// What the handshake settled on, for the report.
fn info(
    c: &ClientConnection,
    cert: Option<CertInfo>,
    verified: bool,
    trust: Option<Trust>,
    seen: &Seen,
) -> TlsInfo {
    let (chain_not_after_unix, leaf_sha256) = chain_facts(seen);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let version = match c.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "-".to_string(),
    };
    TlsInfo {
        version,
        cipher_suite: c
            .negotiated_cipher_suite()
            .map_or_else(|| "-".to_string(), |s| format!("{:?}", s.suite())),
        alpn: c
            .alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned()),
        verified,
        trust,
        days_left: cert.as_ref().map(|c| c.days_left(now)),
        certificate: cert,
        chain_not_after_unix,
        leaf_sha256,
    }
}
