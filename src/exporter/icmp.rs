//! The `icmp` prober: one ICMP (or ICMPv6) echo through netdiag's ping engine, timed by blackbox's phases
//! (resolve, setup, rtt), with the reply's hop limit.

use std::time::{Duration, Instant};

use super::config::IcmpProbe;
use super::model::{Deadline, ProbeOut};
use super::resolve::choose_ip;
use crate::explain::exporter as texts;
use crate::ping::{self, MethodChoice, PingRequest};
use crate::target::Host;

const DURATION: &str = "probe_icmp_duration_seconds";
const DURATION_HELP: &str = "Duration of icmp request by phase";

/// Probes `target` (a host name or address) with the module's `icmp` section.
pub fn probe(target: &str, c: &IcmpProbe, deadline: Deadline, out: &mut ProbeOut) -> bool {
    for p in ["resolve", "setup", "rtt"] {
        out.samples
            .gauge_with(DURATION, DURATION_HELP, vec![("phase", p.into())], 0.0);
    }
    let host = match Host::parse(target) {
        Ok(h) => h,
        Err(e) => return out.fail("target", texts::bad_target(&e.0)),
    };
    let Some((ip, lookup)) = choose_ip(
        &host,
        c.preferred_ip_protocol,
        super::config::fallback(c.ip_protocol_fallback),
        out,
    ) else {
        return false;
    };
    set(out, "resolve", lookup);
    let mut req = PingRequest::new(vec![Host::Ip(ip)]);
    req.count = Some(1);
    req.timeout = deadline.left();
    req.deadline = Some(deadline.left());
    req.size = c.payload_size.unwrap_or(56);
    req.ttl = c.ttl.and_then(|t| u8::try_from(t).ok());
    req.dont_fragment = c.dont_fragment;
    req.method = MethodChoice::Icmp;
    req.rate = None;
    out.log(format!(
        "sending ICMP echo to {ip} ({} data bytes)",
        req.size
    ));
    let start = Instant::now();
    let report = match ping::ping(&req) {
        Ok(r) => r,
        Err(e) => return out.fail("reach", texts::icmp_not_permitted(&format!("{e:#}"))),
    };
    let elapsed = start.elapsed();
    let Some(h) = report.hosts.first() else {
        return out.fail("reach", texts::bad_target("no host was pinged"));
    };
    if let Some(r) = h.replies.iter().find(|r| !r.duplicate) {
        set(out, "rtt", r.rtt);
        set(out, "setup", elapsed.saturating_sub(r.rtt));
        if let Some(ttl) = r.ttl {
            out.samples.gauge(
                "probe_icmp_reply_hop_limit",
                "Replied packet hop limit (TTL for ipv4)",
                f64::from(ttl),
            );
        }
        out.log(format!(
            "found matching ICMP echo reply in {}",
            crate::duration::fmt_ms(r.rtt)
        ));
        return true;
    }
    set(out, "setup", Duration::ZERO);
    let e = h
        .explanation
        .clone()
        .unwrap_or_else(|| crate::explain::timeout(deadline.total));
    out.fail("reach", e)
}

fn set(out: &mut ProbeOut, phase: &'static str, d: Duration) {
    out.samples.gauge_with(
        DURATION,
        DURATION_HELP,
        vec![("phase", phase.into())],
        d.as_secs_f64(),
    );
}
