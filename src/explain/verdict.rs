//! The status vocabulary and the failure object every report shares.

use serde::Serialize;

/// The one status vocabulary: what happened to a target, a port, a host or a step. Serialized in kebab-case
/// (`not-found`), the same word in tables and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// It worked: connected, found, answered.
    Ok,
    /// The host answered and refused (TCP RST, ICMP port unreachable).
    Closed,
    /// No answer before the deadline: dropped by a firewall, or the host is down.
    Filtered,
    /// The network says there is no way there (no route, host unreachable).
    Unreachable,
    /// The name does not exist, or has no address of the kind asked for.
    NotFound,
    /// A temporary failure; trying again later may work.
    Temporary,
    /// The connection was cut by the peer or on the way.
    Reset,
    /// This machine refused: permission, firewall rule, resource limit.
    Denied,
    /// The peer answered with something wrong: TLS failure, HTTP error, protocol violation.
    Protocol,
    /// Anything else.
    Error,
    /// Ctrl-C came before there was an answer: nothing is known yet (neither ok nor failed).
    Interrupted,
    /// Not tried: an earlier step failed, or the check does not apply.
    Skipped,
}

impl Verdict {
    /// Every verdict, in the order above (for documentation and tests).
    pub const ALL: [Verdict; 12] = [
        Verdict::Ok,
        Verdict::Closed,
        Verdict::Filtered,
        Verdict::Unreachable,
        Verdict::NotFound,
        Verdict::Temporary,
        Verdict::Reset,
        Verdict::Denied,
        Verdict::Protocol,
        Verdict::Error,
        Verdict::Interrupted,
        Verdict::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Closed => "closed",
            Verdict::Filtered => "filtered",
            Verdict::Unreachable => "unreachable",
            Verdict::NotFound => "not-found",
            Verdict::Temporary => "temporary",
            Verdict::Reset => "reset",
            Verdict::Denied => "denied",
            Verdict::Protocol => "protocol",
            Verdict::Error => "error",
            Verdict::Interrupted => "interrupted",
            Verdict::Skipped => "skipped",
        }
    }

    /// True for the failure kinds: not `ok`, `interrupted` or `skipped`.
    pub fn is_failure(self) -> bool {
        !matches!(self, Verdict::Ok | Verdict::Interrupted | Verdict::Skipped)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure explained: the verdict, the symbolic code (`ECONNREFUSED`, `EAI_NONAME`, `timeout`), the cause and
/// the likely fix, in plain words. Built only by the functions of this module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    pub code: String,
    pub cause: String,
    pub fix: String,
}

impl Explanation {
    /// The one constructor, for the files of the explanation table.
    pub(super) fn new(
        verdict: Verdict,
        code: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Explanation {
            verdict,
            code: code.into(),
            cause: cause.into(),
            fix: fix.into(),
        }
    }

    /// `cause; fix` in one line.
    pub fn sentence(&self) -> String {
        if self.fix.is_empty() {
            self.cause.clone()
        } else {
            format!("{}; {}", self.cause, self.fix)
        }
    }
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.sentence(), self.code)
    }
}

/// Explains a result that Ctrl-C cut short: `before` says what it was still waiting for ("the answer was
/// complete", "the step had a result").
pub fn interrupted(before: &str) -> Explanation {
    Explanation::new(
        Verdict::Interrupted,
        "interrupted",
        format!("interrupted (Ctrl-C) before {before}"),
        "",
    )
}
