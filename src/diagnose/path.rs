//! The path step of `diagnose`: when a connect is filtered or unreachable, a TCP trace to the same address and
//! port names where the SYN stops: the last hop that answered and the first that did not, or the router that
//! rejected it and with what ICMP code. One round, every TTL at once, so the step costs one timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::model::{Step, PATH_STEP as STEP};
use crate::explain::{self, Verdict};
use crate::target::{Family, Host};
use crate::trace::{self, HopState, TraceResult};

/// Traces TCP to `addr` and turns the result into a step; the trace's result comes too (its hops go in the
/// report).
pub fn step(addr: SocketAddr, timeout: Duration) -> (Step, Option<TraceResult>) {
    let tried = format!("TCP trace to {addr} (TTL 1-30)");
    let req = trace::tcp_request(Host::Ip(addr.ip()), addr.port(), Family::Any, timeout);
    let start = Instant::now();
    let report = match trace::trace(&req) {
        Ok(r) => r,
        Err(e) => {
            let why = explain::diagnose::skipped_no_trace(&e.to_string());
            return (Step::skipped(STEP, tried, why), None);
        }
    };
    let time = Some(start.elapsed());
    if report.interrupted {
        return (
            Step::interrupted(STEP, tried, time),
            report.results.into_iter().next(),
        );
    }
    let Some(r) = report.results.into_iter().next() else {
        let why = explain::diagnose::skipped_no_trace("no result");
        return (Step::skipped(STEP, tried, why), None);
    };
    let step = match &r.explanation {
        None => Step::ok(
            STEP,
            tried,
            format!(
                "the SYN reaches {} in {} hops now",
                addr.ip(),
                r.destination_hop.unwrap_or(0)
            ),
            time,
        ),
        Some(e) => Step::fail(STEP, tried, result_words(&r), time, e.clone()),
    };
    (step, Some(r))
}

/// The step's result in a few words: where the SYN stops.
fn result_words(r: &TraceResult) -> String {
    match (r.status, r.last_answer, r.rejected_by) {
        (_, _, Some(by)) => {
            let name = r
                .hops
                .iter()
                .find(|h| h.hop == by.hop && h.state == HopState::Rejected)
                .and_then(|h| h.icmp.first())
                .map_or("an ICMP error", |n| n.name);
            format!("rejected at hop {} by {} ({name})", by.hop, by.address)
        }
        (Verdict::Filtered, Some(last), _) => {
            format!("nothing after hop {} ({})", last.hop, last.address)
        }
        (Verdict::Filtered, None, _) => "no hop answers".into(),
        (s, _, _) => s.to_string(),
    }
}
