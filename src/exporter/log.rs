//! The exporter's log: one logfmt line per event on stderr (`ts=… level=… msg=… key=value`), the format
//! blackbox_exporter and Prometheus write, so the same log pipelines parse it.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// Log levels, most verbose first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        [Level::Debug, Level::Info, Level::Warn, Level::Error]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the least level written.
pub fn set_level(l: Level) {
    LEVEL.store(l as u8, Ordering::Relaxed);
}

/// True when a line at `l` would be written.
pub fn enabled(l: Level) -> bool {
    l as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// A logfmt value: bare when it is a plain word, quoted (with `"` and `\` escaped, control characters as
/// `\n`, `\xHH`) otherwise, so a hostile target cannot forge a second line or field.
pub fn value(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'=' && b != b'\\');
    if plain {
        return v.to_string();
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\x{:02x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// One logfmt line, without the newline.
pub fn line(level: Level, msg: &str, fields: &[(&str, &str)]) -> String {
    line_at(std::time::SystemTime::now(), level, msg, fields)
}

/// One logfmt line stamped with `at`.
pub fn line_at(
    at: std::time::SystemTime,
    level: Level,
    msg: &str,
    fields: &[(&str, &str)],
) -> String {
    let ts = humantime::format_rfc3339_millis(at);
    let mut s = format!("ts={ts} level={} msg={}", level.as_str(), value(msg));
    for (k, v) in fields {
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(&value(v));
    }
    s
}

/// Writes one line to stderr when the level is enabled.
pub fn log(level: Level, msg: &str, fields: &[(&str, &str)]) {
    if !enabled(level) {
        return;
    }
    let mut l = line(level, msg, fields);
    l.push('\n');
    let _ = std::io::stderr().lock().write_all(l.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_break_the_line() {
        assert_eq!(value("http_2xx"), "http_2xx");
        assert_eq!(value("a b"), "\"a b\"");
        assert_eq!(value("x\ny=1"), "\"x\\ny=1\"");
        assert_eq!(value("\u{1b}[31m"), "\"\\x1b[31m\"");
        assert_eq!(value(""), "\"\"");
        let l = line(
            Level::Warn,
            "Probe failed",
            &[("target", "a\r\nlevel=info")],
        );
        assert!(!l.contains('\n') && !l.contains('\r'));
        assert!(
            l.contains("level=warn msg=\"Probe failed\" target=\"a\\r\\nlevel=info\""),
            "{l}"
        );
    }
}
