//! The module file: blackbox_exporter's YAML format (`modules: {name: {prober, timeout, http|tcp|icmp|dns}}`),
//! read with serde-saphyr (a maintained YAML reader; serde_yaml is archived). Every struct denies unknown
//! fields, so a blackbox option netdiag does not implement (`basic_auth`, `proxy_url`, a `grpc` prober, …) is
//! an error at load time naming the module, the section and the field, never silently ignored.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::http::Method;

/// Blackbox options netdiag knows by name but does not implement: named as such in the load error, so a user
/// is not left wondering whether the field is misspelt.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "oauth2",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "skip_resolve_phase_with_proxy",
    "compression",
    "body_size_limit",
    "enable_http2",
    "enable_http3",
    "http_headers",
    "authorization",
    "source_ip_address",
    "cert_file",
    "key_file",
    "ca",
    "cert",
    "key",
    "min_version",
    "max_version",
    "dns_over_tls",
    "query_class",
    "grpc",
    "expect_bytes",
    "labels",
    "ip_hash",
    "fail_if_body_json_not_matches_cel",
    "fail_if_body_json_matches_cel",
    "valid_tls_versions",
    "tls_alert_codes",
    "pinned_public_key_hashes",
    "spki_pins",
    "check_revoked",
    "follow_redirects_from_referer",
];

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub modules: BTreeMap<String, Module>,
}

/// The probers netdiag runs: blackbox's http, tcp, icmp and dns, and netdiag's own diagnose walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Prober {
    Http,
    Tcp,
    Icmp,
    Dns,
    Diagnose,
}

impl Prober {
    pub fn as_str(self) -> &'static str {
        match self {
            Prober::Http => "http",
            Prober::Tcp => "tcp",
            Prober::Icmp => "icmp",
            Prober::Dns => "dns",
            Prober::Diagnose => "diagnose",
        }
    }
}

/// One module.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    pub prober: Prober,
    /// The module's cap on the probe timeout (0 or absent: the scrape timeout less the offset decides).
    #[serde(default, with = "prom_duration")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnose: Option<DiagnoseProbe>,
}

/// `ip4` or `ip6` (blackbox's default is `ip6`, with fallback to the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum IpProtocol {
    #[serde(
        rename = "ip4",
        alias = "ipv4",
        alias = "IP4",
        alias = "tcp4",
        alias = "udp4"
    )]
    Ip4,
    #[default]
    #[serde(
        rename = "ip6",
        alias = "ipv6",
        alias = "IP6",
        alias = "tcp6",
        alias = "udp6"
    )]
    Ip6,
}

/// `tls_config`: the parts netdiag implements.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// The CA certificates read from `ca_file` when the config was loaded (DER).
    #[serde(skip)]
    pub ca_certs: Vec<Vec<u8>>,
}

impl TlsConfig {
    /// The http module's TLS options for this configuration.
    pub fn options(&self) -> crate::http::TlsOptions {
        crate::http::TlsOptions {
            insecure: self.insecure_skip_verify,
            ca_certs: self.ca_certs.clone(),
            ca_file: self.ca_file.as_ref().map(std::path::PathBuf::from),
            server_name: self.server_name.clone(),
        }
    }
}

/// `fail_if_header_matches` / `fail_if_header_not_matches` entries.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    pub header: String,
    pub regexp: Pattern,
    #[serde(default)]
    pub allow_missing: bool,
}

/// A regular expression, compiled when the file is read (blackbox uses Go's RE2 syntax, which the regex crate
/// shares).
#[derive(Debug, Clone)]
pub struct Pattern(pub Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Regex::new(&s).map(Pattern).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid regular expression '{s}': {}",
                e.to_string().replace('\n', " ")
            ))
        })
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

/// The `http` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    #[serde(default)]
    pub valid_status_codes: Vec<u16>,
    #[serde(default)]
    pub valid_http_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A file whose content is the body (read when the config is loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_file: Option<String>,
    /// Any status passes the status check (the body and header checks still apply).
    #[serde(default)]
    pub accept_any_response: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// The `Authorization` header value built from basic_auth or the bearer token at load time.
    #[serde(skip)]
    pub authorization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// The older spelling, still accepted by blackbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_follow_redirects: Option<bool>,
    #[serde(default)]
    pub fail_if_ssl: bool,
    #[serde(default)]
    pub fail_if_not_ssl: bool,
    #[serde(default)]
    pub fail_if_body_matches_regexp: Vec<Pattern>,
    #[serde(default)]
    pub fail_if_body_not_matches_regexp: Vec<Pattern>,
    #[serde(default)]
    pub fail_if_header_matches: Vec<HeaderMatch>,
    #[serde(default)]
    pub fail_if_header_not_matches: Vec<HeaderMatch>,
    #[serde(default)]
    pub tls_config: TlsConfig,
    #[serde(default)]
    pub preferred_ip_protocol: IpProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol_fallback: Option<bool>,
}

impl HttpProbe {
    /// The method to send (GET when not set).
    pub fn method(&self) -> Method {
        self.method
            .as_deref()
            .and_then(Method::parse)
            .unwrap_or(Method::Get)
    }

    /// Whether redirects are followed (blackbox's default: yes).
    pub fn follows_redirects(&self) -> bool {
        match (self.follow_redirects, self.no_follow_redirects) {
            (_, Some(true)) => false,
            (Some(f), _) => f,
            _ => true,
        }
    }
}

/// blackbox's default for `ip_protocol_fallback`: yes.
pub fn fallback(v: Option<bool>) -> bool {
    v.unwrap_or(true)
}

/// `basic_auth`: sent as `Authorization: Basic …`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// One `query_response` step.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Pattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    #[serde(default)]
    pub starttls: bool,
}

/// The `tcp` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    #[serde(default)]
    pub preferred_ip_protocol: IpProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol_fallback: Option<bool>,
    #[serde(default)]
    pub query_response: Vec<QueryResponse>,
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub tls_config: TlsConfig,
}

/// The `icmp` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpProbe {
    #[serde(default)]
    pub preferred_ip_protocol: IpProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol_fallback: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_size: Option<usize>,
    #[serde(default)]
    pub dont_fragment: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

/// `validate_answer_rrs` and its siblings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RrValidator {
    #[serde(default)]
    pub fail_if_matches_regexp: Vec<Pattern>,
    #[serde(default)]
    pub fail_if_all_match_regexp: Vec<Pattern>,
    #[serde(default)]
    pub fail_if_not_matches_regexp: Vec<Pattern>,
    #[serde(default)]
    pub fail_if_none_matches_regexp: Vec<Pattern>,
}

/// The `dns` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnsProbe {
    #[serde(default)]
    pub preferred_ip_protocol: IpProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol_fallback: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_protocol: Option<String>,
    pub query_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_type: Option<String>,
    /// The RD flag (default: set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursion_desired: Option<bool>,
    #[serde(default)]
    pub valid_rcodes: Vec<String>,
    #[serde(default)]
    pub validate_answer_rrs: RrValidator,
    #[serde(default)]
    pub validate_authority_rrs: RrValidator,
    #[serde(default)]
    pub validate_additional_rrs: RrValidator,
}

/// The `diagnose` section (netdiag's own prober: the whole resolve → reach → connect → talk walk).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnoseProbe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_ip_protocol: Option<IpProtocol>,
    #[serde(default)]
    pub tls_config: TlsConfig,
}

/// Prometheus' duration syntax, as blackbox reads `timeout`: `5s`, `1m30s`, `500ms`, `0`.
mod prom_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::exporter::config::parse_duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(|d| (!d.is_zero()).then_some(d))
            .map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) if d.subsec_millis() == 0 => s.serialize_str(&format!("{}s", d.as_secs())),
            Some(d) => s.serialize_str(&format!("{}ms", d.as_millis())),
            None => s.serialize_str("0s"),
        }
    }
}

/// Parses Prometheus' duration syntax: one or more of `<int>y|w|d|h|m|s|ms` in that order, or `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid duration '{}': expected a Prometheus duration such as 5s, 1m30s or 500ms",
            crate::target::shown(s)
        )
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_unit = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let i = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if last_unit.is_some_and(|l| i <= l) {
            return Err(bad());
        }
        last_unit = Some(i);
        total = n
            .checked_mul(UNITS[i].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if last_unit.is_none() {
        return Err(bad());
    }
    Ok(Duration::from_millis(total))
}

/// Reads and checks a module file.
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    parse(&text, path.parent()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses and checks a module file's text; `base` resolves relative `ca_file` paths (blackbox resolves them
/// against the config file's directory).
pub fn parse(text: &str, base: Option<&Path>) -> Result<Config, String> {
    let mut config: Config = serde_saphyr::from_str(text).map_err(|e| explain_error(&e))?;
    for (name, m) in config.modules.iter_mut() {
        check_module(m, base).map_err(|e| format!("module '{name}': {e}"))?;
    }
    Ok(config)
}

/// serde's error for an unknown field, in words that say whether netdiag knows the option.
fn explain_error(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    // serde-saphyr follows the message with a snippet of the file (` --> <input>:5:37 | …`): keep one line.
    let first = text.split(" --> ").next().unwrap_or(&text);
    let one_line: String = first
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("-->"))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let one_line = one_line.trim_start_matches("error: ").to_string();
    if let Some(field) = unknown_field(&one_line) {
        if KNOWN_UNSUPPORTED.contains(&field.as_str()) {
            return format!(
                "the blackbox_exporter option '{field}' is not supported by netdiag exporter (remove it, or keep \
                 this module on blackbox_exporter): {one_line}"
            );
        }
    }
    if one_line.contains("unknown variant") && one_line.contains("http, tcp, icmp") {
        return format!(
            "{one_line} (netdiag exporter runs the http, tcp, icmp, dns and diagnose probers; grpc is not \
             supported)"
        );
    }
    one_line
}

/// The field named in serde's "unknown field `x`" message.
fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

fn check_module(m: &mut Module, base: Option<&Path>) -> Result<(), String> {
    let sections = [
        ("http", m.http.is_some()),
        ("tcp", m.tcp.is_some()),
        ("icmp", m.icmp.is_some()),
        ("dns", m.dns.is_some()),
        ("diagnose", m.diagnose.is_some()),
    ];
    for (name, present) in sections {
        if present && name != m.prober.as_str() {
            return Err(format!(
                "has a '{name}' section but its prober is '{}'; the section would be ignored, so remove it or \
                 set 'prober: {name}'",
                m.prober.as_str()
            ));
        }
    }
    match m.prober {
        Prober::Http => check_http(m.http.get_or_insert_with(HttpProbe::default), base),
        Prober::Tcp => {
            let t = m.tcp.get_or_insert_with(TcpProbe::default);
            read_ca(&mut t.tls_config, base, "tcp.tls_config.ca_file")
        }
        Prober::Icmp => check_icmp(m.icmp.get_or_insert_with(IcmpProbe::default)),
        Prober::Dns => match &m.dns {
            Some(d) => check_dns(d),
            None => Err("the dns prober needs a 'dns' section with 'query_name'".into()),
        },
        Prober::Diagnose => {
            let d = m.diagnose.get_or_insert_with(DiagnoseProbe::default);
            read_ca(&mut d.tls_config, base, "diagnose.tls_config.ca_file")
        }
    }
}

fn check_http(h: &mut HttpProbe, base: Option<&Path>) -> Result<(), String> {
    if let Some(m) = &h.method {
        if Method::parse(m).is_none() {
            let all: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
            return Err(format!(
                "http.method '{}' is not supported; netdiag sends {}",
                crate::target::shown(m),
                all.join(", ")
            ));
        }
    }
    if let Some(bad) = h
        .valid_status_codes
        .iter()
        .find(|c| !(100..=599).contains(*c))
    {
        return Err(format!(
            "http.valid_status_codes: {bad} is not an HTTP status (100-599)"
        ));
    }
    for v in &h.valid_http_versions {
        if !matches!(
            v.as_str(),
            "HTTP/1.0" | "HTTP/1.1" | "HTTP/2" | "HTTP/2.0" | "HTTP/3" | "HTTP/3.0"
        ) {
            return Err(format!(
                "http.valid_http_versions: '{}' is not an HTTP version (HTTP/1.0, HTTP/1.1, HTTP/2.0)",
                crate::target::shown(v)
            ));
        }
    }
    for (name, value) in &h.headers {
        crate::http::check_header(&format!("{name}: {value}"))
            .map_err(|e| format!("http.headers: {}", e.0))?;
    }
    if let Some(f) = &h.body_file {
        if h.body.is_some() {
            return Err("http: body and body_file are both set; keep one".into());
        }
        h.body = Some(read_text(base, f, "http.body_file")?);
    }
    h.authorization = authorization(h, base)?;
    if h.fail_if_ssl && h.fail_if_not_ssl {
        return Err(
            "http: fail_if_ssl and fail_if_not_ssl are both set, so every probe would fail".into(),
        );
    }
    read_ca(&mut h.tls_config, base, "http.tls_config.ca_file")
}

fn check_icmp(i: &IcmpProbe) -> Result<(), String> {
    if let Some(t) = i.ttl {
        if !(0..=255).contains(&t) {
            return Err(format!("icmp.ttl {t} must be between 0 and 255"));
        }
    }
    if let Some(s) = i.payload_size {
        if s > crate::ping::MAX_SIZE {
            return Err(format!(
                "icmp.payload_size {s} is larger than {}",
                crate::ping::MAX_SIZE
            ));
        }
    }
    Ok(())
}

/// Response codes `valid_rcodes` may name.
pub const RCODES: &[&str] = &[
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE", "BADSIG", "BADVERS",
];

fn check_dns(d: &DnsProbe) -> Result<(), String> {
    crate::dns::input::parse_name(&d.query_name).map_err(|e| format!("dns.query_name: {}", e.0))?;
    if let Some(t) = &d.query_type {
        crate::dns::input::parse_type(t).map_err(|e| format!("dns.query_type: {}", e.0))?;
    }
    if let Some(p) = &d.transport_protocol {
        if !matches!(p.as_str(), "udp" | "tcp") {
            return Err(format!(
                "dns.transport_protocol '{}' must be udp or tcp",
                crate::target::shown(p)
            ));
        }
    }
    for r in &d.valid_rcodes {
        if !RCODES.contains(&r.as_str()) {
            return Err(format!(
                "dns.valid_rcodes: '{}' is not a DNS response code ({})",
                crate::target::shown(r),
                RCODES.join(", ")
            ));
        }
    }
    Ok(())
}

/// A file named in the config (relative to its directory), as text.
fn read_text(base: Option<&Path>, file: &str, field: &str) -> Result<String, String> {
    let path = match base {
        Some(b) if Path::new(file).is_relative() => b.join(file),
        _ => Path::new(file).to_path_buf(),
    };
    std::fs::read_to_string(&path)
        .map_err(|e| format!("{field}: cannot read {}: {e}", path.display()))
}

/// The `Authorization` header from `basic_auth` or a bearer token (at most one of them).
fn authorization(h: &HttpProbe, base: Option<&Path>) -> Result<Option<String>, String> {
    use base64::Engine;
    let bearer = match (&h.bearer_token, &h.bearer_token_file) {
        (Some(_), Some(_)) => {
            return Err("http: bearer_token and bearer_token_file are both set; keep one".into())
        }
        (Some(t), None) => Some(t.trim().to_string()),
        (None, Some(f)) => Some(
            read_text(base, f, "http.bearer_token_file")?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    let basic = match &h.basic_auth {
        Some(b) => {
            let password = match (&b.password, &b.password_file) {
                (Some(_), Some(_)) => {
                    return Err(
                        "http.basic_auth: password and password_file are both set; keep one".into(),
                    )
                }
                (Some(p), None) => p.clone(),
                (None, Some(f)) => read_text(base, f, "http.basic_auth.password_file")?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
                (None, None) => String::new(),
            };
            let raw = format!("{}:{password}", b.username);
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ))
        }
        None => None,
    };
    if basic.is_some() && bearer.is_some() {
        return Err("http: basic_auth and a bearer token are both set; keep one".into());
    }
    if h.headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("authorization"))
        && (basic.is_some() || bearer.is_some())
    {
        return Err(
            "http: an Authorization header and basic_auth or a bearer token are both set; keep one"
                .into(),
        );
    }
    Ok(basic.or(bearer.map(|t| format!("Bearer {t}"))))
}

/// Reads `ca_file` (relative to the config file's directory) into DER certificates.
fn read_ca(t: &mut TlsConfig, base: Option<&Path>, field: &str) -> Result<(), String> {
    let Some(file) = &t.ca_file else {
        return Ok(());
    };
    let path = match base {
        Some(b) if Path::new(file).is_relative() => b.join(file),
        _ => Path::new(file).to_path_buf(),
    };
    t.ca_certs = crate::http::tls::load_cacert(&path)
        .map_err(|e| format!("{field}: {}", format!("{e:#}").replace("--cacert ", "")))?;
    Ok(())
}

/// The module as YAML, for `debug=true` and `/config`.
pub fn module_yaml(m: &Module) -> String {
    serde_saphyr::to_string(m).unwrap_or_else(|e| format!("(cannot show the module: {e})\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_prometheus_syntax() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "s", "1.5s", "30s1m", "5 s", "-1s", "1x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_match_blackbox() {
        let c = parse("modules:\n  m:\n    prober: http\n", None).unwrap();
        let h = c.modules["m"].http.as_ref().unwrap();
        assert_eq!(h.preferred_ip_protocol, IpProtocol::Ip6);
        assert!(fallback(h.ip_protocol_fallback) && h.follows_redirects());
        assert_eq!(h.method(), Method::Get);
        assert!(c.modules["m"].timeout.is_none());
    }

    #[test]
    fn unknown_and_unsupported_fields_are_named() {
        let e = parse(
            "modules:\n  m:\n    prober: http\n    http:\n      valid_status_code: [200]\n",
            None,
        )
        .unwrap_err();
        assert!(e.contains("valid_status_code"), "{e}");
        let e = parse(
            "modules:\n  m:\n    prober: http\n    http:\n      proxy_url: http://127.0.0.1:3128\n",
            None,
        )
        .unwrap_err();
        assert!(e.contains("'proxy_url' is not supported"), "{e}");
        assert!(!e.contains('\n'));
        let e = parse("modules:\n  g:\n    prober: grpc\n", None).unwrap_err();
        assert!(e.contains("grpc"), "{e}");
    }

    #[test]
    fn basic_auth_and_bearer_become_an_authorization_header() {
        let c = parse(
            "modules:\n  m:\n    prober: http\n    http:\n      basic_auth:\n        username: u\n        password: p\n",
            None,
        )
        .unwrap();
        let h = c.modules["m"].http.as_ref().unwrap();
        assert_eq!(h.authorization.as_deref(), Some("Basic dTpw"));
        assert!(!module_yaml(&c.modules["m"]).contains("password"));
        let c = parse(
            "modules:\n  m:\n    prober: http\n    http:\n      bearer_token: t0k\n",
            None,
        )
        .unwrap();
        assert_eq!(
            c.modules["m"]
                .http
                .as_ref()
                .unwrap()
                .authorization
                .as_deref(),
            Some("Bearer t0k")
        );
        let e = parse(
            "modules:\n  m:\n    prober: http\n    http:\n      bearer_token: a\n      basic_auth:\n        username: u\n",
            None,
        )
        .unwrap_err();
        assert!(e.contains("keep one"), "{e}");
    }

    #[test]
    fn values_are_checked_at_load() {
        for (yaml, want) in [
            (
                "prober: http\n    http:\n      method: BREW",
                "http.method 'BREW'",
            ),
            (
                "prober: http\n    http:\n      valid_status_codes: [999]",
                "999",
            ),
            (
                "prober: http\n    http:\n      fail_if_body_matches_regexp: ['(']",
                "invalid regular expression",
            ),
            ("prober: icmp\n    icmp:\n      ttl: 300", "icmp.ttl 300"),
            ("prober: tcp\n    http: {}", "has a 'http' section"),
            (
                "prober: dns\n    dns:\n      query_name: x\n      query_type: BOGUS",
                "dns.query_type: unknown record type 'BOGUS'",
            ),
            ("prober: http\n    timeout: 5", "invalid duration '5'"),
        ] {
            let e = parse(&format!("modules:\n  m:\n    {yaml}\n"), None).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
            assert!(e.contains("module 'm'") || e.contains("line "), "{e}");
            assert!(!e.contains('\n') && !e.contains("-->"), "{e}");
        }
    }
}
