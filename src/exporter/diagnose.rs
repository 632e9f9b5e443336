//! The `diagnose` prober (netdiag's own): the whole resolve → reach → connect → talk walk, one
//! `probe_step_success` and `probe_step_duration_seconds` per step, where the path step traced: the last hop
//! that answered (`probe_path_last_hop`) or the one that rejected (`probe_path_rejected_by_hop`), and the first failing step as
//! `probe_failure_info`'s layer.

use std::time::Duration;

use super::config::{DiagnoseProbe, IpProtocol};
use super::model::{Deadline, ProbeOut};
use crate::diagnose::{self as lib, DiagnoseRequest};
use crate::explain::exporter as texts;
use crate::explain::Verdict;
use crate::target::Family;

/// The steps, in walk order; each has a series even when it did not run.
pub const STEPS: [&str; 4] = ["resolve", "reach", "connect", "talk"];

/// Probes `target` (HOST, HOST:PORT or an http(s) URL, as `netdiag diagnose` takes).
pub fn probe(target: &str, c: &DiagnoseProbe, deadline: Deadline, out: &mut ProbeOut) -> bool {
    let t = match lib::parse_target(target) {
        Ok(t) => t,
        Err(e) => return out.fail("target", texts::bad_target(&e.0)),
    };
    // Resolve, then reach and connect together, then talk: three steps share the probe's time.
    let step = (deadline.left() / 3).max(Duration::from_millis(100));
    let req = DiagnoseRequest {
        target: t,
        family: match c.preferred_ip_protocol {
            None => Family::Any,
            Some(IpProtocol::Ip4) => Family::V4,
            Some(IpProtocol::Ip6) => Family::V6,
        },
        timeout: step,
        tls: c.tls_config.options(),
    };
    out.log(format!(
        "diagnosing {target} with {} per step",
        crate::duration::fmt_ms(step)
    ));
    let report = lib::diagnose(&req);
    for name in STEPS {
        let rows: Vec<&lib::Step> = report.steps.iter().filter(|s| s.step == name).collect();
        let ok = rows.iter().any(|s| s.status == Verdict::Ok);
        // Rows of one step run at the same time (one per address): the step took as long as the longest.
        let took = rows.iter().filter_map(|s| s.time).max().unwrap_or_default();
        out.samples.gauge_with(
            "probe_step_success",
            "Whether a step of netdiag's diagnose walk succeeded (resolve, reach, connect, talk)",
            vec![("step", name.into())],
            if ok { 1.0 } else { 0.0 },
        );
        out.samples.gauge_with(
            "probe_step_duration_seconds",
            "How long a step of netdiag's diagnose walk took",
            vec![("step", name.into())],
            took.as_secs_f64(),
        );
        for s in rows {
            out.log(format!(
                "{}: {} → {} ({})",
                s.step,
                s.tried,
                s.result,
                s.status.as_str()
            ));
        }
    }
    // The path step (a TCP trace, run when the connect was filtered or unreachable): where packets stop.
    if let Some(path) = &report.path {
        if let Some(h) = &path.last_answer {
            out.samples.gauge_with(
                "probe_path_last_hop",
                "The hop (TTL) of the last router or host that answered on the way to the target's port, when diagnose traced the path because the connect was filtered or unreachable",
                vec![("address", h.address.to_string())],
                f64::from(h.hop),
            );
        }
        if let Some(h) = &path.rejected_by {
            out.samples.gauge_with(
                "probe_path_rejected_by_hop",
                "The hop (TTL) of the router or host that rejected the probe with an ICMP error, when diagnose traced the path",
                vec![("address", h.address.to_string())],
                f64::from(h.hop),
            );
        }
    }
    if report.ok {
        return true;
    }
    // The walk's verdict is its first failing step (a failed step that is only a warning does not decide it).
    let layer = report
        .failed_step
        .as_deref()
        .and_then(|f| STEPS.iter().find(|n| **n == f))
        .copied()
        .unwrap_or("talk");
    let e = report
        .explanation
        .clone()
        .unwrap_or_else(|| texts::bad_target(&report.summary));
    out.fail(layer, e)
}
