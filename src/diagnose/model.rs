//! Diagnose's types: the target, the steps of the walk and the report with its verdict.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::capture::Flow;
use crate::explain::{self, Explanation, Verdict};
use crate::http::Scheme;
use crate::target::{Family, Host};

/// The name of the path step (a TCP trace after a filtered or unreachable connect).
pub const PATH_STEP: &str = "path";

/// The target name of the machine check.
pub const MACHINE: &str = "this machine";

/// A target as `diagnose` understands it: host, port, and the HTTP scheme and path when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnoseTarget {
    pub input: String,
    pub host: Host,
    pub port: u16,
    pub scheme: Option<Scheme>,
    pub path: String,
    /// True when no port was given and 80 was assumed, as curl does.
    pub port_assumed: bool,
}

/// One row: a step, what was tried, how it went.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub tried: String,
    /// `ok`, the failure's verdict (`closed`, `filtered`, ...), `skipped` or `interrupted`.
    pub status: Verdict,
    /// A failed step that does not decide the verdict: one address of several fails, ICMP is dropped while TCP
    /// works. Shown as `warn`.
    pub warning: bool,
    pub result: String,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "elapsed_ms")]
    pub time: Option<Duration>,
    pub explanation: Option<Explanation>,
}

impl Step {
    pub fn ok(step: &'static str, tried: String, result: String, time: Option<Duration>) -> Step {
        Step {
            step,
            tried,
            status: Verdict::Ok,
            warning: false,
            result,
            time,
            explanation: None,
        }
    }

    pub fn fail(
        step: &'static str,
        tried: String,
        result: String,
        time: Option<Duration>,
        e: Explanation,
    ) -> Step {
        Step {
            step,
            tried,
            status: e.verdict,
            warning: false,
            result,
            time,
            explanation: Some(e),
        }
    }

    /// The failed step as a warning: it does not decide the verdict (shown as `warn`).
    pub fn as_warning(self) -> Step {
        Step {
            warning: true,
            ..self
        }
    }

    /// A step that Ctrl-C cut short: no result yet.
    pub fn interrupted(step: &'static str, tried: String, time: Option<Duration>) -> Step {
        Step {
            step,
            tried,
            status: Verdict::Interrupted,
            warning: false,
            result: "interrupted (Ctrl-C)".into(),
            time,
            explanation: Some(explain::interrupted("the step had a result")),
        }
    }

    /// A step not run, and why (an explanation whose verdict is `skipped`).
    pub fn skipped(step: &'static str, tried: String, why: Explanation) -> Step {
        Step {
            step,
            tried,
            status: Verdict::Skipped,
            warning: false,
            result: format!("skipped: {}", why.sentence()),
            time: None,
            explanation: Some(why),
        }
    }

    /// True for a failure that decides the verdict (not a warning).
    pub fn failed(&self) -> bool {
        self.status.is_failure() && !self.warning
    }

    /// `FAIL` or `warn` for a failed step, as the table shows it.
    pub fn label(&self) -> Option<&'static str> {
        match (self.status.is_failure(), self.warning) {
            (false, _) => None,
            (true, false) => Some("FAIL"),
            (true, true) => Some("warn"),
        }
    }
}

/// The walk's result.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnoseReport {
    /// The target as typed, or `this machine`.
    pub target: String,
    pub steps: Vec<Step>,
    /// True when the target works end to end (no step failed). In JSON as the top-level `ok` every report has.
    #[serde(skip)]
    pub ok: bool,
    /// `ok`, the verdict of the first failure (closed, filtered, unreachable, not-found, protocol, ...), or
    /// `interrupted` when Ctrl-C cut the walk short.
    pub verdict: Verdict,
    /// The step that failed first (or, when interrupted, the step Ctrl-C cut short).
    pub failed_step: Option<String>,
    /// That step's explanation: why the target fails, and the likely fix (null when it works).
    pub explanation: Option<Explanation>,
    /// One sentence: what works, or what fails and why.
    pub summary: String,
    /// Whether Ctrl-C cut the walk short.
    pub interrupted: bool,
    /// When a connect was filtered or unreachable: the TCP trace to that address and port, hop by hop (the
    /// path step's details; null otherwise).
    pub path: Option<crate::trace::TraceResult>,
    /// With `--capture`: the packets of the walk and what they show (absent without `--capture`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<Evidence>,
}

/// What `--capture` saw during the walk.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The filter the capture ran with (on all interfaces).
    pub filter: String,
    /// One sentence per conversation of the walk: what was sent and what came back, from which address.
    pub evidence: Vec<String>,
    /// The conversations to the target's port (and ICMP), each with its verdict.
    pub flows: Vec<Flow>,
    /// The packets, one line each (at most 200).
    pub packets: Vec<String>,
    /// Why there is no capture, when it could not run (no root, ...); null when it ran.
    pub explanation: Option<Explanation>,
}

impl DiagnoseReport {
    /// The report of a walk; `interrupted` when Ctrl-C cut it short, which makes the verdict `interrupted`
    /// whatever the steps found so far.
    pub(crate) fn finish(target: String, steps: Vec<Step>, interrupted: bool) -> DiagnoseReport {
        let interrupted = interrupted || steps.iter().any(|s| s.status == Verdict::Interrupted);
        if interrupted {
            return DiagnoseReport::cut_short(target, steps);
        }
        let first = steps.iter().find(|s| s.failed());
        let (verdict, failed_step, summary) = match first {
            None => {
                let warns = steps.iter().filter(|s| s.warning).count();
                let summary = match warns {
                    0 => format!("{target}: everything checked works"),
                    n => format!(
                        "{target}: works, with {n} warning{}",
                        if n == 1 { "" } else { "s" }
                    ),
                };
                (Verdict::Ok, None, summary)
            }
            Some(s) => {
                let (v, mut why) = s
                    .explanation
                    .as_ref()
                    .map_or((Verdict::Error, s.result.clone()), |e| {
                        (e.verdict, e.cause.clone())
                    });
                // A connect that got nowhere: the path step says where on the way it stops.
                if let Some(e) = steps
                    .iter()
                    .find(|p| p.step == PATH_STEP && p.status.is_failure())
                    .and_then(|p| p.explanation.as_ref())
                {
                    why = e.cause.clone();
                }
                (
                    v,
                    Some(s.step.to_string()),
                    format!("{target}: fails at {}: {why}", s.step),
                )
            }
        };
        let explanation = first.and_then(|s| s.explanation.clone());
        DiagnoseReport {
            ok: first.is_none(),
            target,
            steps,
            verdict,
            failed_step,
            explanation,
            summary,
            interrupted: false,
            path: None,
            capture: None,
        }
    }

    /// The report of a walk Ctrl-C cut short: no verdict, the step it stopped at and why.
    fn cut_short(target: String, steps: Vec<Step>) -> DiagnoseReport {
        let cut = steps.iter().find(|s| s.status == Verdict::Interrupted);
        let at = cut.map(|s| s.step.to_string());
        let explanation = cut
            .and_then(|s| s.explanation.clone())
            .or_else(|| Some(explain::interrupted("the walk was complete")));
        let summary = match &at {
            Some(step) => format!("{target}: interrupted (Ctrl-C) during {step}: no verdict"),
            None => format!("{target}: interrupted (Ctrl-C): no verdict"),
        };
        DiagnoseReport {
            ok: false,
            target,
            steps,
            verdict: Verdict::Interrupted,
            failed_step: at,
            explanation,
            summary,
            interrupted: true,
            path: None,
            capture: None,
        }
    }
}

/// How to diagnose a target.
#[derive(Debug, Clone)]
pub struct DiagnoseRequest {
    pub target: DiagnoseTarget,
    pub family: Family,
    /// Per-step deadline (resolve included: a resolver still waiting then is reported, not waited for).
    pub timeout: Duration,
    /// How the talk step checks an HTTPS server's certificate.
    pub tls: crate::http::TlsOptions,
}

pub(crate) fn join_addrs(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
