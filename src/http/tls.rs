//! TLS for `https://` URLs: rustls (ring) with the bundled webpki roots, or a PEM file (`--cacert`), or no
//! verification at all (`--insecure`). The verifier records the peer certificate so the report can show it even
//! when verification fails, and failures are mapped to plain-language explanations.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::Serialize;

use super::cert::CertInfo;
use crate::explain::tls::{self as explain_tls, CertProblem};
use crate::explain::{self, Explanation};

/// How the server's certificate is checked.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Skip verification (still shows the certificate).
    pub insecure: bool,
    /// DER certificates to trust instead of the bundled roots (from `--cacert`); empty means the bundled roots.
    pub ca_certs: Vec<Vec<u8>>,
    /// The name sent in SNI and checked against the certificate instead of the URL's host (for a URL that
    /// names an address, or a virtual host reached through another name).
    pub server_name: Option<String>,
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

/// What the handshake settled on.
#[derive(Debug, Clone, Serialize)]
pub struct TlsInfo {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    pub cipher_suite: String,
    pub alpn: Option<String>,
    /// False with `--insecure` (the certificate was not checked).
    pub verified: bool,
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
        .iter()
        .filter_map(|c| super::cert::parse_certificate(c))
        .map(|c| c.not_after_unix)
        .collect();
    let leaf = s.first().map(|der| {
        ring::digest::digest(&ring::digest::SHA256, der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    (expiry, leaf)
}

/// The certificates the server presented (DER, the end entity first, then the intermediates it sent),
/// recorded by the verifier.
pub type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

#[derive(Debug)]
struct Recording {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    seen: Seen,
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
            *s = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.to_vec())
                .collect();
        }
        match &self.inner {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Ok(ServerCertVerified::assertion()),
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

/// A client configuration offering ALPN http/1.1 only, recording the peer certificate into `seen`.
/// Built only for https URLs: a plain fetch never pays for it.
pub fn client_config(opts: &TlsOptions, seen: Seen) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = if opts.insecure {
        None
    } else {
        let mut roots = RootCertStore::empty();
        if opts.ca_certs.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        } else {
            for der in &opts.ca_certs {
                roots.add(CertificateDer::from(der.clone())).context(
                    "--cacert: a certificate in the file cannot be used as a trust anchor",
                )?;
            }
        }
        let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .context("setting up certificate verification")?;
        Some(v)
    };
    let verifier = Recording {
        inner,
        provider: provider.clone(),
        seen,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
