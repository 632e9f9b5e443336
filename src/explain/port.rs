//! `netdiag port`: questions the bundled services table has no answer for.

use super::verdict::{Explanation, Verdict};

/// A port (`8/tcp`, `4`) with no registered service name.
pub fn unnamed_port(port: &str) -> Explanation {
    Explanation::new(
        Verdict::NotFound,
        "no-service",
        format!("port {port} has no registered service name"),
        "",
    )
}

/// A range in which no port has a registered service name.
pub fn unnamed_range(range: &str) -> Explanation {
    Explanation::new(
        Verdict::NotFound,
        "no-service",
        format!("no port in {range} has a registered service name"),
        "",
    )
}

/// A service name that is not registered.
pub fn unknown_name(name: &str) -> Explanation {
    Explanation::new(
        Verdict::NotFound,
        "no-service",
        format!("no service is registered as '{name}'"),
        "try netdiag port --search WORD",
    )
}

/// A search word that no service name or description contains.
pub fn no_match(word: &str) -> Explanation {
    Explanation::new(
        Verdict::NotFound,
        "no-service",
        format!("no registered service name or description contains '{word}'"),
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanswered_questions_read_as_before() {
        assert_eq!(
            unnamed_port("4/tcp").sentence(),
            "port 4/tcp has no registered service name"
        );
        assert_eq!(
            unknown_name("nope").sentence(),
            "no service is registered as 'nope'; try netdiag port --search WORD"
        );
        assert_eq!(no_match("zz").verdict, Verdict::NotFound);
        assert!(unnamed_range("1-2").cause.starts_with("no port in 1-2"));
    }
}
