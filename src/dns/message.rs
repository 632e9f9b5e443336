//! DNS messages: the query netdiag sends and the response it shows, on top of hickory-proto's wire codec.
//!
//! [`parse_response`] is the one door for bytes from the network: it decodes with hickory, checks that the
//! message answers the query that was sent (QR set, same ID, same question), and turns it into [`Response`],
//! plain serializable data in dig's presentation format. It never panics (fuzzed: `fuzz/fuzz_targets/dns_response.rs`).

use std::fmt::Write as _;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use serde::Serialize;

/// The EDNS(0) UDP payload size netdiag offers by default (the DNS flag day 2020 value, as dig and kdig use).
pub const DEFAULT_BUFSIZE: u16 = 1232;

/// A question: name, type and class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub rtype: RecordType,
    pub class: DNSClass,
}

impl Question {
    /// An `IN` question.
    pub fn new(name: Name, rtype: RecordType) -> Question {
        Question {
            name,
            rtype,
            class: DNSClass::IN,
        }
    }

    /// `www.example.test. A` (the class only when not IN); names in ASCII (punycode), as on the wire.
    pub fn describe(&self) -> String {
        if self.class == DNSClass::IN {
            format!("{} {}", self.name.to_ascii(), self.rtype)
        } else {
            format!("{} {} {}", self.name.to_ascii(), self.class, self.rtype)
        }
    }
}

impl Serialize for Question {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Question", 3)?;
        st.serialize_field("name", &self.name.to_ascii())?;
        st.serialize_field("type", &self.rtype.to_string())?;
        st.serialize_field("class", &self.class.to_string())?;
        st.end()
    }
}

/// What goes into the query besides the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFlags {
    /// RD: ask the server to recurse (default on, as dig).
    pub recurse: bool,
    /// CD: checking disabled (a validating resolver returns bogus data instead of SERVFAIL).
    pub checking_disabled: bool,
    /// EDNS(0) UDP payload size offered; `None` sends no OPT record (plain RFC 1035, 512-byte answers).
    pub edns: Option<u16>,
    /// DO: ask for DNSSEC records (needs EDNS).
    pub dnssec: bool,
}

impl Default for QueryFlags {
    fn default() -> Self {
        QueryFlags {
            recurse: true,
            checking_disabled: false,
            edns: Some(DEFAULT_BUFSIZE),
            dnssec: false,
        }
    }
}

/// The wire form of a query with a random ID.
pub fn build_query(q: &Question, flags: &QueryFlags) -> (u16, Vec<u8>) {
    let id: u16 = rand_id();
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = flags.recurse;
    m.metadata.checking_disabled = flags.checking_disabled;
    let mut query = Query::query(q.name.clone(), q.rtype);
    query.set_query_class(q.class);
    m.add_query(query);
    if let Some(size) = flags.edns {
        let mut e = Edns::new();
        e.set_max_payload(size.max(512));
        e.set_version(0);
        e.set_dnssec_ok(flags.dnssec);
        m.set_edns(e);
    }
    // Encoding a message built from a parsed name cannot fail; an empty vector would be refused by the
    // transport and explained.
    (id, m.to_vec().unwrap_or_default())
}

/// A query ID from the kernel's random pool (getrandom), falling back to the clock.
fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    if crate::net::process::random_bytes(&mut b) {
        return u16::from_ne_bytes(b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (t ^ (t >> 16)) as u16
}

/// One resource record in presentation form, as dig prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    pub class: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub data: String,
}

impl Rr {
    /// The zone-file line: `www.example.test.\t300\tIN\tA\t192.0.2.1` (the form blackbox_exporter's regexps see).
    pub fn zone_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}",
            self.name, self.ttl, self.class, self.rtype, self.data
        )
    }
}

/// An extended DNS error (RFC 8914) carried in the OPT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtendedError {
    pub code: u16,
    /// The registered name: `DNSKEY Missing`, `Network Error`, ...
    pub name: String,
    /// The server's free text, when it sent one.
    pub text: Option<String>,
}

impl std::fmt::Display for ExtendedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EDE {} ({})", self.code, self.name)?;
        if let Some(t) = &self.text {
            write!(f, ": {t}")?;
        }
        Ok(())
    }
}

/// The response's OPT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdnsInfo {
    pub version: u8,
    /// The UDP payload size the server can receive.
    pub udp_size: u16,
    pub dnssec_ok: bool,
    pub extended_errors: Vec<ExtendedError>,
    /// The server's NSID, when it sent one.
    pub nsid: Option<String>,
    /// Other options, as `CODE:hex`.
    pub options: Vec<String>,
}

/// A response in plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    pub id: u16,
    pub opcode: String,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, ... (with the EDNS extended bits merged).
    pub rcode: String,
    /// Header flags that are set, lowercase, in dig's order: qr aa tc rd ra ad cd.
    pub flags: Vec<&'static str>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    pub edns: Option<EdnsInfo>,
    /// Bytes on the wire.
    pub size: usize,
    #[serde(skip)]
    pub rcode_value: u16,
    /// SOA records of the authority section, parsed, for negative answers.
    #[serde(skip)]
    pub authority_soa: Option<Soa>,
}

/// The parts of an SOA record that explain a negative answer and that blackbox reports (`probe_dns_serial`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Soa {
    /// The zone: the owner name of the SOA record.
    pub zone: String,
    /// The primary nameserver (MNAME).
    pub primary: String,
    pub serial: u32,
    /// The negative-caching TTL: min(SOA minimum, SOA TTL).
    pub negative_ttl: u32,
}

impl Response {
    pub fn flag(&self, f: &str) -> bool {
        self.flags.contains(&f)
    }

    /// The SOA serial from the answer section, else the authority section.
    pub fn serial(&self) -> Option<u32> {
        self.answer
            .iter()
            .chain(&self.authority)
            .find(|r| r.rtype == "SOA")
            .and_then(|r| r.data.split_whitespace().nth(2)?.parse().ok())
    }
}

/// Why a datagram is not the answer to the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// hickory could not decode it; the text says where.
    Malformed(String),
    /// A query, not a response (QR clear).
    NotAResponse,
    /// Another transaction's ID.
    WrongId { expected: u16, got: u16 },
    /// It answers another question.
    WrongQuestion { got: String },
}

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResponseError::Malformed(e) => write!(f, "malformed DNS message: {e}"),
            ResponseError::NotAResponse => f.write_str("the message is a query, not a response"),
            ResponseError::WrongId { expected, got } => {
                write!(
                    f,
                    "the response ID {got} does not match the query ID {expected}"
                )
            }
            ResponseError::WrongQuestion { got } => {
                write!(f, "the response answers another question ({got})")
            }
        }
    }
}

/// Decodes `bytes` and checks that they answer `q` sent with `id`. A response with no question section is
/// accepted when it carries an error rcode (FORMERR, NOTIMP and REFUSED answers may omit it).
pub fn parse_response(bytes: &[u8], id: u16, q: &Question) -> Result<Response, ResponseError> {
    let m =
        Message::from_vec(bytes).map_err(|e| ResponseError::Malformed(one_line(&e.to_string())))?;
    if m.metadata.message_type != MessageType::Response {
        return Err(ResponseError::NotAResponse);
    }
    if m.metadata.id != id {
        return Err(ResponseError::WrongId {
            expected: id,
            got: m.metadata.id,
        });
    }
    let rcode = u16::from(m.metadata.response_code);
    match m.queries.first() {
        Some(got)
            if got.name().eq_ignore_root_case(&q.name)
                && got.query_type() == q.rtype
                && got.query_class() == q.class => {}
        None if rcode != 0 => {}
        other => {
            return Err(ResponseError::WrongQuestion {
                got: other.map_or_else(
                    || "none".to_string(),
                    |g| format!("{} {}", g.name(), g.query_type()),
                ),
            })
        }
    }
    Ok(to_response(&m, bytes.len()))
}

/// `Response` from a decoded message.
pub fn to_response(m: &Message, size: usize) -> Response {
    let md = &m.metadata;
    let mut flags = Vec::new();
    for (set, name) in [
        (md.message_type == MessageType::Response, "qr"),
        (md.authoritative, "aa"),
        (md.truncation, "tc"),
        (md.recursion_desired, "rd"),
        (md.recursion_available, "ra"),
        (md.authentic_data, "ad"),
        (md.checking_disabled, "cd"),
    ] {
        if set {
            flags.push(name);
        }
    }
    let rcode_value = u16::from(md.response_code);
    Response {
        id: md.id,
        opcode: format!("{:?}", md.op_code).to_uppercase(),
        rcode: rcode_name(rcode_value),
        flags,
        answer: m.answers.iter().map(rr).collect(),
        authority: m.authorities.iter().map(rr).collect(),
        additional: m.additionals.iter().map(rr).collect(),
        edns: m.edns.as_ref().map(edns_info),
        size,
        rcode_value,
        authority_soa: m.authorities.iter().find_map(soa_of),
    }
}

fn soa_of(r: &Record) -> Option<Soa> {
    match &r.data {
        RData::SOA(s) => Some(Soa {
            zone: r.name.to_ascii(),
            primary: s.mname.to_ascii(),
            serial: s.serial,
            negative_ttl: s.minimum.min(r.ttl),
        }),
        _ => None,
    }
}

/// The mnemonic of an rcode (RFC 6895's registry), or `RCODE<n>`.
pub fn rcode_name(v: u16) -> String {
    let s = match v {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        23 => "BADCOOKIE",
        _ => return format!("RCODE{v}"),
    };
    s.to_string()
}

fn rr(r: &Record) -> Rr {
    Rr {
        name: r.name.to_ascii(),
        ttl: r.ttl,
        class: r.dns_class.to_string(),
        rtype: r.record_type().to_string(),
        data: rdata_text(&r.data),
    }
}

/// RDATA in presentation form. TXT strings are quoted and escaped as dig does; types without a text form
/// (unknown ones, NULL, OPT outside the additional section) use RFC 3597's `\# LEN HEX`.
pub fn rdata_text(d: &RData) -> String {
    match d {
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|s| quote(s))
            .collect::<Vec<_>>()
            .join(" "),
        // Names in their ASCII form with dig's escapes (hickory's Display decodes punycode to Unicode).
        RData::CNAME(n) => n.0.to_ascii(),
        RData::NS(n) => n.0.to_ascii(),
        RData::PTR(n) => n.0.to_ascii(),
        RData::MX(m) => format!("{} {}", m.preference, m.exchange.to_ascii()),
        RData::SRV(v) => format!(
            "{} {} {} {}",
            v.priority,
            v.weight,
            v.port,
            v.target.to_ascii()
        ),
        RData::SOA(v) => format!(
            "{} {} {} {} {} {} {}",
            v.mname.to_ascii(),
            v.rname.to_ascii(),
            v.serial,
            v.refresh,
            v.retry,
            v.expire,
            v.minimum
        ),
        RData::SVCB(v) => svcb_text(v),
        RData::HTTPS(v) => svcb_text(&v.0),
        RData::Unknown { rdata, .. } => generic(&rdata.anything),
        RData::NULL(n) => generic(&n.anything),
        RData::OPT(_) | RData::Update0(_) => generic(&[]),
        other => {
            let mut s = String::new();
            // A Display impl that fails (hickory refuses some values) must not panic: fall back to nothing.
            if write!(s, "{other}").is_err() {
                s.clear();
            }
            s
        }
    }
}

/// SVCB/HTTPS as dig prints them: `1 . alpn="h2,http/1.1" port=8443` (hickory leaves trailing commas).
fn svcb_text(v: &hickory_proto::rr::rdata::SVCB) -> String {
    use hickory_proto::rr::rdata::svcb::SvcParamValue;
    let mut s = format!("{} {}", v.svc_priority, v.target_name);
    for (key, value) in &v.svc_params {
        let _ = write!(s, " {key}");
        let text = match value {
            SvcParamValue::NoDefaultAlpn => continue,
            SvcParamValue::Alpn(a) => format!("\"{}\"", a.0.join(",")),
            other => {
                let mut t = String::new();
                if write!(t, "{other}").is_err() {
                    t.clear();
                }
                t.trim_end_matches(',').to_string()
            }
        };
        let _ = write!(s, "={text}");
    }
    s
}

fn generic(b: &[u8]) -> String {
    let mut s = format!("\\# {}", b.len());
    if !b.is_empty() {
        s.push(' ');
        for x in b {
            let _ = write!(s, "{x:02X}");
        }
    }
    s
}

/// A character-string quoted as in zone files: `"`, `\` escaped, bytes outside printable ASCII as `\DDD`.
pub fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\{c:03}");
            }
        }
    }
    s.push('"');
    s
}

fn edns_info(e: &Edns) -> EdnsInfo {
    let mut info = EdnsInfo {
        version: e.version(),
        udp_size: e.max_payload(),
        dnssec_ok: e.flags().dnssec_ok,
        extended_errors: Vec::new(),
        nsid: None,
        options: Vec::new(),
    };
    for (code, opt) in e.options().as_ref() {
        let code = u16::from(*code);
        let data: Vec<u8> = match opt {
            EdnsOption::Unknown(_, d) => d.clone(),
            EdnsOption::NSID(n) => n.as_ref().to_vec(),
            other => {
                info.options.push(format!("{other:?}"));
                continue;
            }
        };
        match code {
            15 => info.extended_errors.push(extended_error(&data)),
            3 => info.nsid = Some(printable(&data)),
            _ => info.options.push(format!(
                "{code}:{}",
                data.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )),
        }
    }
    info
}

/// RFC 8914: INFO-CODE (2 bytes), then EXTRA-TEXT (UTF-8, may be empty).
fn extended_error(d: &[u8]) -> ExtendedError {
    let code = match d {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => u16::MAX,
    };
    let text = d
        .get(2..)
        .map(|t| {
            String::from_utf8_lossy(t)
                .trim_end_matches('\0')
                .to_string()
        })
        .filter(|t| !t.is_empty());
    ExtendedError {
        code,
        name: crate::explain::dns::ede_name(code).to_string(),
        text,
    }
}

/// Bytes as text when printable, else hex.
fn printable(d: &[u8]) -> String {
    if d.iter().all(|b| (0x20..0x7f).contains(b)) {
        String::from_utf8_lossy(d).into_owned()
    } else {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, SOA, TXT};

    fn q(name: &str, t: RecordType) -> Question {
        Question::new(Name::from_ascii(name).unwrap(), t)
    }

    fn response(id: u16, q: &Question) -> Message {
        let mut m = Message::new(id, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(q.name.clone(), q.rtype));
        m
    }

    #[test]
    fn query_has_the_question_rd_and_edns() {
        let question = q("www.example.test.", RecordType::MX);
        let (id, bytes) = build_query(&question, &QueryFlags::default());
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, id);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.queries[0].query_type(), RecordType::MX);
        assert_eq!(m.edns.as_ref().unwrap().max_payload(), 1232);
        let (_, plain) = build_query(
            &question,
            &QueryFlags {
                edns: None,
                recurse: false,
                ..Default::default()
            },
        );
        let m = Message::from_vec(&plain).unwrap();
        assert!(m.edns.is_none() && !m.metadata.recursion_desired);
    }

    #[test]
    fn response_must_match_id_and_question() {
        let question = q("a.test.", RecordType::A);
        let mut m = response(7, &question);
        m.add_answer(Record::from_rdata(
            question.name.clone(),
            60,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        let bytes = m.to_vec().unwrap();
        let r = parse_response(&bytes, 7, &question).unwrap();
        assert_eq!(r.rcode, "NOERROR");
        assert_eq!(r.flags, vec!["qr"]);
        assert_eq!(r.answer[0].data, "192.0.2.1");
        assert_eq!(r.answer[0].zone_line(), "a.test.\t60\tIN\tA\t192.0.2.1");
        assert!(matches!(
            parse_response(&bytes, 8, &question),
            Err(ResponseError::WrongId { .. })
        ));
        assert!(matches!(
            parse_response(&bytes, 7, &q("b.test.", RecordType::A)),
            Err(ResponseError::WrongQuestion { .. })
        ));
        assert!(matches!(
            parse_response(&bytes[..5], 7, &question),
            Err(ResponseError::Malformed(_))
        ));
    }

    #[test]
    fn txt_is_quoted_like_dig() {
        let t = TXT::from_bytes(vec![b"v=spf1 -all", b"say \"hi\"\\", &[0x07, b'x']]);
        assert_eq!(
            rdata_text(&RData::TXT(t)),
            r#""v=spf1 -all" "say \"hi\"\\" "\007x""#
        );
    }

    #[test]
    fn negative_answers_keep_the_soa() {
        let question = q("nope.zone.test.", RecordType::A);
        let mut m = response(1, &question);
        m.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain;
        m.add_authority(Record::from_rdata(
            Name::from_ascii("zone.test.").unwrap(),
            300,
            RData::SOA(SOA::new(
                Name::from_ascii("ns1.zone.test.").unwrap(),
                Name::from_ascii("hostmaster.zone.test.").unwrap(),
                2024010101,
                3600,
                600,
                86400,
                60,
            )),
        ));
        let r = parse_response(&m.to_vec().unwrap(), 1, &question).unwrap();
        assert_eq!(r.rcode, "NXDOMAIN");
        let soa = r.authority_soa.as_ref().unwrap();
        assert_eq!(
            (
                soa.zone.as_str(),
                soa.primary.as_str(),
                soa.serial,
                soa.negative_ttl
            ),
            ("zone.test.", "ns1.zone.test.", 2024010101, 60)
        );
        assert_eq!(r.serial(), Some(2024010101));
    }

    #[test]
    fn extended_errors_are_named() {
        let e = extended_error(&[0, 9, b'n', b'o']);
        assert_eq!((e.code, e.name.as_str()), (9, "DNSKEY Missing"));
        assert_eq!(e.text.as_deref(), Some("no"));
        assert_eq!(extended_error(&[]).code, u16::MAX);
    }
}
