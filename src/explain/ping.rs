//! Ping: hosts that got nothing sent, and hosts Ctrl-C caught with echo requests still waiting.

use super::verdict::{Explanation, Verdict};

/// Nothing could be sent to the host (no socket of its family, and no error to say why).
pub fn not_sent() -> Explanation {
    Explanation::new(
        Verdict::Error,
        "not-sent",
        "nothing was sent to this host",
        "",
    )
}

/// A host with no reply yet when Ctrl-C came: `unfinished` echo requests were still within their reply window
/// and `lost` earlier ones got no answer.
pub fn interrupted(unfinished: u64, lost: u64) -> Explanation {
    let waiting = match unfinished {
        0 => "Ctrl-C came before a ping was sent".to_string(),
        1 => "Ctrl-C came while 1 ping still waited for its answer".to_string(),
        n => format!("Ctrl-C came while {n} pings still waited for their answers"),
    };
    let cause = match lost {
        0 => waiting,
        n => format!("{waiting}; {n} earlier got no answer"),
    };
    Explanation::new(Verdict::Interrupted, "interrupted", cause, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_hosts_say_what_was_waiting() {
        assert_eq!(
            interrupted(0, 0).cause,
            "Ctrl-C came before a ping was sent"
        );
        assert_eq!(
            interrupted(2, 1).cause,
            "Ctrl-C came while 2 pings still waited for their answers; 1 earlier got no answer"
        );
        assert_eq!(interrupted(1, 0).verdict, Verdict::Interrupted);
    }
}
