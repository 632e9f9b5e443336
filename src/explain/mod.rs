//! The one explanation table: every verdict, cause and fix text netdiag shows is built here, so a failure reads
//! the same in every subcommand and a new subsystem reuses the words instead of writing its own.
//!
//! [`Verdict`] is the one status vocabulary of every report (`ok`, the failure kinds, `interrupted`, `skipped`);
//! [`Explanation`] is the one failure object (`{verdict, code, cause, fix}` in JSON). The functions are named
//! by what they explain: [`errno`], [`io_error`], [`connect_error`], [`timeout`], [`resolver`] and
//! [`interrupted`] for every subsystem, and one file per domain for the rest ([`http`], [`tls`], [`icmp`],
//! [`probe`], [`ping`], [`port`], [`diagnose`], [`path`], [`capture`]). A new domain adds a file here (`pub mod dns;`), imports
//! `super::verdict::{Explanation, Verdict}` and builds with `Explanation::new`; a test keeps `Explanation { .. }`
//! literals and `.cause =`/`.fix =` edits out of the rest of the crate.

pub mod capture;
pub mod diagnose;
pub mod dns;
mod errno;
pub mod exporter;
pub mod http;
pub mod icmp;
pub mod path;
pub mod ping;
pub mod port;
pub mod probe;
mod resolver;
pub mod tls;
mod verdict;

pub use errno::{connect_error, errno, errno_verdict, io_error, on_port, timeout};
pub use resolver::{resolver, EAI_ADDRFAMILY};
pub use verdict::{interrupted, Explanation, Verdict};

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::time::Duration;

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
