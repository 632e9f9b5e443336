//! The one explanation table: every verdict, cause and fix text netdiag shows is built here, so a failure reads
//! the same in every subcommand and a new subsystem reuses the words instead of writing its own.
//!
//! [`Verdict`] is the one status vocabulary of every report (`ok`, the failure kinds, `interrupted`, `skipped`);
//! [`Explanation`] is the one failure object (`{verdict, code, cause, fix}` in JSON). The functions are named
//! by what they explain: [`errno`], [`io_error`], [`timeout`], [`resolver`] and [`interrupted`] for every
//! subsystem, and one file per domain for the rest ([`http`], [`tls`], [`icmp`], [`probe`], [`ping`],
//! [`diagnose`]). A new domain adds a file here (`pub mod dns;`) and calls [`Explanation::new`] only from it;
//! a test keeps `Explanation { .. }` literals and `.cause =`/`.fix =` edits out of the rest of the crate.

use std::time::Duration;

use serde::Serialize;

pub mod diagnose;
mod errno;
pub mod http;
pub mod icmp;
pub mod ping;
pub mod probe;
mod resolver;
pub mod tls;

pub use errno::{errno, io_error};
pub use resolver::{resolver, EAI_ADDRFAMILY};

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
    /// The one constructor, for the files of this module.
    fn new(
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

/// Explains a deadline that passed with no answer.
pub fn timeout(after: Duration) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "timeout",
        format!(
            "no answer within {}: a firewall is probably dropping the packets, or the host is down",
            crate::duration::fmt_ms(after)
        ),
        "check firewalls on the way and that the host is up; a longer --timeout may help on slow links",
    )
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

/// Names the port in an explanation's words: "nothing listens on that port" becomes "... on port 8080".
pub fn on_port(mut e: Explanation, port: u16) -> Explanation {
    e.cause = e.cause.replace("on that port", &format!("on port {port}"));
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn timeouts_are_filtered() {
        let e = timeout(Duration::from_secs(1));
        assert_eq!(e.verdict, Verdict::Filtered);
        assert!(e.cause.contains("no answer within 1.000 s"), "{}", e.cause);
        assert_eq!(errno(libc::ETIMEDOUT).verdict, Verdict::Filtered);
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::TimedOut)).verdict,
            Verdict::Filtered
        );
    }

    #[test]
    fn timeout_names_the_deadline_and_the_firewall() {
        let e = timeout(Duration::from_millis(500));
        assert_eq!(e.code, "timeout");
        assert!(
            e.cause.starts_with("no answer within 500.0 ms: a firewall"),
            "{}",
            e.cause
        );
        assert!(e.fix.contains("--timeout"));
        let e = errno(libc::ETIMEDOUT);
        assert!(e.cause.contains("firewall"));
        assert_eq!(
            io_error(&io::Error::from(io::ErrorKind::WouldBlock)).verdict,
            Verdict::Filtered
        );
    }

    #[test]
    fn verdicts_are_kebab_case_words_in_text_and_json() {
        for v in Verdict::ALL {
            let s = v.as_str();
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{s}"
            );
            assert_eq!(serde_json::to_value(v).unwrap(), s);
            assert_eq!(v.to_string(), s);
        }
        assert!(Verdict::Closed.is_failure());
        assert!(!Verdict::Interrupted.is_failure() && !Verdict::Skipped.is_failure());
    }

    #[test]
    fn interrupted_is_its_own_verdict() {
        let e = interrupted("the answer was complete");
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Interrupted, "interrupted")
        );
        assert_eq!(
            e.cause,
            "interrupted (Ctrl-C) before the answer was complete"
        );
    }

    /// The table is the one place texts are built: no `Explanation { .. }` literal and no edit of a cause or fix
    /// anywhere else in src/ (a subsystem that needs other words adds a function here).
    #[test]
    fn explanations_are_built_only_in_the_table() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut bad = Vec::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    if p != src.join("explain") {
                        stack.push(p);
                    }
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for (i, line) in text.lines().enumerate() {
                    let l = line.trim_start();
                    if l.starts_with("//") {
                        continue;
                    }
                    let literal = l.contains("Explanation {")
                        && !l.contains("-> Explanation {")
                        && !l.contains("for Explanation {");
                    if literal || l.contains(".cause =") || l.contains(".fix =") {
                        bad.push(format!("{}:{}: {l}", p.display(), i + 1));
                    }
                }
            }
        }
        assert!(
            bad.is_empty(),
            "explanations built outside src/explain:\n{}",
            bad.join("\n")
        );
    }
}
