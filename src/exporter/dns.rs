//! The `dns` prober: blackbox's DNS probe on netdiag's DNS client ([`crate::dns::exchange`]): one question to the
//! target server (UDP or TCP) under the probe's deadline, the response code checked against `valid_rcodes`, the
//! records of each section against the module's regular expressions (matched on their zone-file lines, as
//! blackbox does), and the serial of an SOA answer.

use super::config::{DnsProbe, RrValidator};
use super::model::{Deadline, ProbeOut};
use super::resolve::choose_ip;
use crate::dns::{self, input, Protocol, QueryOptions, Question, Rr, Server};
use crate::explain::exporter::{self as texts, Checked};
use crate::explain::Explanation;
use crate::target::{Host, Target};

const DURATION: &str = "probe_dns_duration_seconds";
const DURATION_HELP: &str = "Duration of DNS request by phase";

/// Probes the DNS server `target` (HOST or HOST:PORT, port 53 by default) with the module's `dns` section.
pub fn probe(target: &str, d: &DnsProbe, deadline: Deadline, out: &mut ProbeOut) -> bool {
    for p in ["resolve", "connect", "request"] {
        out.samples
            .gauge_with(DURATION, DURATION_HELP, vec![("phase", p.into())], 0.0);
    }
    let s = &mut out.samples;
    s.gauge(
        "probe_dns_answer_rrs",
        "Returns number of entries in the answer resource record list",
        0.0,
    );
    s.gauge(
        "probe_dns_authority_rrs",
        "Returns number of entries in the authority resource record list",
        0.0,
    );
    s.gauge(
        "probe_dns_additional_rrs",
        "Returns number of entries in the additional resource record list",
        0.0,
    );
    s.gauge(
        "probe_dns_query_succeeded",
        "Displays whether or not the query was executed successfully",
        0.0,
    );
    let (host, port) = match Target::parse(target) {
        Ok(t) => (t.host, t.port.unwrap_or(53)),
        Err(e) => return out.fail("target", texts::bad_target(&e.0)),
    };
    let question = match question(d) {
        Ok(q) => q,
        Err(e) => return out.fail("target", texts::bad_target(&e)),
    };
    let fallback = super::config::fallback(d.ip_protocol_fallback);
    let Some((ip, lookup)) = choose_ip(&host, d.preferred_ip_protocol, fallback, out) else {
        return false;
    };
    set(out, "resolve", lookup);
    let protocol = match d.transport_protocol.as_deref() {
        Some("tcp") => Protocol::Tcp,
        _ => Protocol::Udp,
    };
    let server = Server {
        host: Host::Ip(ip),
        port,
        protocol,
        path: "/dns-query".into(),
    };
    let mut opts = QueryOptions {
        timeout: deadline.left(),
        tcp_fallback: false,
        ..QueryOptions::default()
    };
    opts.flags.recurse = d.recursion_desired.unwrap_or(true);
    out.log(format!(
        "asking {} for {} over {}",
        server.label(),
        question.describe(),
        protocol.as_str()
    ));
    let ex = dns::exchange(&server, &question, &opts);
    let t = ex.timings;
    set(out, "connect", t.connect.unwrap_or_default());
    set(out, "request", t.request.unwrap_or_default());
    let Some(r) = &ex.response else {
        let e = ex
            .explanation
            .clone()
            .unwrap_or_else(|| crate::explain::timeout(deadline.total));
        return out.fail("dns", e);
    };
    out.log(format!(
        "got {} with {} answer, {} authority and {} additional records",
        r.rcode,
        r.answer.len(),
        r.authority.len(),
        r.additional.len()
    ));
    let s = &mut out.samples;
    s.gauge("probe_dns_query_succeeded", "", 1.0);
    s.gauge("probe_dns_answer_rrs", "", r.answer.len() as f64);
    s.gauge("probe_dns_authority_rrs", "", r.authority.len() as f64);
    s.gauge("probe_dns_additional_rrs", "", r.additional.len() as f64);
    if question.rtype.to_string() == "SOA" {
        if let Some(serial) = r.serial() {
            s.gauge(
                "probe_dns_serial",
                "Returns the serial number of the zone",
                f64::from(serial),
            );
        }
    }
    let valid: Vec<&str> = if d.valid_rcodes.is_empty() {
        vec!["NOERROR"]
    } else {
        d.valid_rcodes.iter().map(String::as_str).collect()
    };
    if !valid.contains(&r.rcode.as_str()) {
        let e = ex
            .explanation
            .clone()
            .filter(|e| e.code == r.rcode)
            .unwrap_or_else(|| {
                crate::explain::dns::rcode(&r.rcode, &question.describe(), &server.label())
            });
        return out.fail("dns", e);
    }
    for (rrs, v, on) in [
        (&r.answer, &d.validate_answer_rrs, Checked::Answer),
        (&r.authority, &d.validate_authority_rrs, Checked::Authority),
        (
            &r.additional,
            &d.validate_additional_rrs,
            Checked::Additional,
        ),
    ] {
        if let Some(e) = validate(rrs, v, on) {
            return out.fail("dns", e);
        }
    }
    true
}

fn question(d: &DnsProbe) -> Result<Question, String> {
    let name = input::parse_name(&d.query_name).map_err(|e| e.0)?;
    let rtype = input::parse_type(d.query_type.as_deref().unwrap_or("ANY")).map_err(|e| e.0)?;
    Ok(Question::new(name, rtype))
}

fn set(out: &mut ProbeOut, phase: &'static str, d: std::time::Duration) {
    out.samples.gauge_with(
        DURATION,
        DURATION_HELP,
        vec![("phase", phase.into())],
        d.as_secs_f64(),
    );
}

/// blackbox's `validRRs`: a `fail_if_matches` or `fail_if_not_matches` rule decides on each record; a
/// `fail_if_all_match` rule fails when every record matches, a `fail_if_none_matches` rule when none does; an
/// empty section fails the rules that need a match.
fn validate(rrs: &[Rr], v: &RrValidator, on: Checked) -> Option<Explanation> {
    let what = match on {
        Checked::Authority => "authority section",
        Checked::Additional => "additional section",
        _ => "answer section",
    };
    let lines: Vec<String> = rrs.iter().map(Rr::zone_line).collect();
    let first =
        |pats: &[super::config::Pattern]| pats.first().map_or(String::new(), |p| p.0.to_string());
    if lines.is_empty() && !v.fail_if_not_matches_regexp.is_empty() {
        return Some(texts::regex_failed(
            on,
            false,
            what,
            &first(&v.fail_if_not_matches_regexp),
        ));
    }
    if lines.is_empty() && !v.fail_if_none_matches_regexp.is_empty() {
        return Some(texts::regex_failed(
            on,
            false,
            what,
            &first(&v.fail_if_none_matches_regexp),
        ));
    }
    for line in &lines {
        if let Some(p) = v.fail_if_matches_regexp.iter().find(|p| p.0.is_match(line)) {
            return Some(texts::regex_failed(
                on,
                true,
                &format!("record '{line}'"),
                p.0.as_str(),
            ));
        }
        if let Some(p) = v
            .fail_if_not_matches_regexp
            .iter()
            .find(|p| !p.0.is_match(line))
        {
            return Some(texts::regex_failed(
                on,
                false,
                &format!("record '{line}'"),
                p.0.as_str(),
            ));
        }
    }
    if let Some(p) = v
        .fail_if_all_match_regexp
        .iter()
        .find(|p| !lines.is_empty() && lines.iter().all(|l| p.0.is_match(l)))
    {
        return Some(texts::regex_failed(
            on,
            true,
            &format!("{what} (every record)"),
            p.0.as_str(),
        ));
    }
    if let Some(p) = v
        .fail_if_none_matches_regexp
        .iter()
        .find(|p| !lines.iter().any(|l| p.0.is_match(l)))
    {
        return Some(texts::regex_failed(on, false, what, p.0.as_str()));
    }
    None
}
