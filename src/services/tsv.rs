//! The row parser for `data/services.tsv`, shared by `build.rs` (which pulls this file in with
//! `#[path]`) and the library (`netdiag::services::tsv`, for tests and fuzzing).
//!
//! This file must stay self-contained: std only, no `crate::` paths, because it is also
//! compiled as a module of the build script.
//!
//! Format (written by `scripts/gen-services.py`): lines starting with `#` are comments, empty
//! lines are ignored, every other line is `port<TAB>proto<TAB>name<TAB>description`.
//! The parser never panics, whatever the input.

use std::fmt;

/// The protocols a row may name, in the order of `crate::services::Proto` (tcp < udp < sctp < dccp).
pub const PROTOS: [&str; 4] = ["tcp", "udp", "sctp", "dccp"];

/// Longest service name accepted. RFC 6335 allows 15 characters; this is a sanity bound.
pub const MAX_NAME_LEN: usize = 63;

/// Longest description accepted, in bytes.
pub const MAX_DESC_LEN: usize = 1024;

/// One data row: a named port (`lo == hi`) or port range (`lo < hi`) for one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    pub lo: u16,
    pub hi: u16,
    /// Index into [`PROTOS`].
    pub proto: usize,
    pub name: &'a str,
    pub desc: &'a str,
}

/// Why a line is not a valid row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowError {
    /// Not exactly 4 tab-separated fields (the number found).
    FieldCount(usize),
    /// Port is not `N` or `LO-HI` with canonical decimal numbers in 0..=65535.
    BadPort,
    /// A range whose first port is not below its last port.
    BadRange,
    /// Protocol is not one of tcp, udp, sctp, dccp (lowercase).
    BadProto,
    /// Name is empty, too long, or has a character outside printable ASCII (no spaces).
    BadName,
    /// Description is too long, has a control character or a whitespace other than single
    /// inner spaces, or has leading/trailing spaces.
    BadDescription,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::FieldCount(n) => write!(
                f,
                "expected 4 tab-separated fields (port, proto, name, description), found {n}"
            ),
            RowError::BadPort => f.write_str("port must be a number 0-65535 or a range LO-HI"),
            RowError::BadRange => f.write_str("port range must have its first port below its last"),
            RowError::BadProto => f.write_str("protocol must be one of tcp, udp, sctp, dccp"),
            RowError::BadName => write!(
                f,
                "service name must be 1-{MAX_NAME_LEN} printable ASCII characters without spaces"
            ),
            RowError::BadDescription => write!(
                f,
                "description must be at most {MAX_DESC_LEN} bytes, without control characters, \
                 leading/trailing or repeated spaces"
            ),
        }
    }
}

impl std::error::Error for RowError {}

/// Parses one line (without its line terminator; a trailing `\r` is an error).
/// Returns `Ok(None)` for comments and empty lines.
pub fn parse_row(line: &str) -> Result<Option<Row<'_>>, RowError> {
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split('\t');
    let (port, proto, name, desc) =
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
            (a, b, c, _) => {
                let n = [a, b, c].iter().filter(|f| f.is_some()).count();
                return Err(RowError::FieldCount(n));
            }
        };
    let extra = fields.count();
    if extra > 0 {
        return Err(RowError::FieldCount(4 + extra));
    }

    let (lo, hi) = match port.split_once('-') {
        None => {
            let p = parse_port(port)?;
            (p, p)
        }
        Some((a, b)) => {
            let (lo, hi) = (parse_port(a)?, parse_port(b)?);
            if lo >= hi {
                return Err(RowError::BadRange);
            }
            (lo, hi)
        }
    };

    let proto = PROTOS
        .iter()
        .position(|p| *p == proto)
        .ok_or(RowError::BadProto)?;

    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RowError::BadName);
    }

    if desc.len() > MAX_DESC_LEN
        || desc.starts_with(' ')
        || desc.ends_with(' ')
        || desc.contains("  ")
        || desc
            .chars()
            .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
    {
        return Err(RowError::BadDescription);
    }

    Ok(Some(Row {
        lo,
        hi,
        proto,
        name,
        desc,
    }))
}

/// A canonical decimal port: digits only, no sign, no leading zero (except `0` itself), <= 65535.
fn parse_port(s: &str) -> Result<u16, RowError> {
    let b = s.as_bytes();
    if b.is_empty()
        || b.len() > 5
        || !b.iter().all(u8::is_ascii_digit)
        || (b.len() > 1 && b[0] == b'0')
    {
        return Err(RowError::BadPort);
    }
    s.parse::<u16>().map_err(|_| RowError::BadPort)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Row<'_> {
        parse_row(line).unwrap().unwrap()
    }

    fn err(line: &str) -> RowError {
        parse_row(line).unwrap_err()
    }

    #[test]
    fn valid_rows() {
        assert_eq!(
            ok("80\ttcp\thttp\tWorld Wide Web HTTP"),
            Row {
                lo: 80,
                hi: 80,
                proto: 0,
                name: "http",
                desc: "World Wide Web HTTP"
            }
        );
        let r = ok("6000-6063\tudp\tx11\tX Window System");
        assert_eq!(
            (r.lo, r.hi, PROTOS[r.proto], r.name),
            (6000, 6063, "udp", "x11")
        );
        // empty description, legacy name characters, non-ASCII description
        let r = ok("113\ttcp\tident\t");
        assert_eq!((r.name, r.desc), ("ident", ""));
        assert_eq!(ok("66\tudp\tsql*net\tOracle SQL*NET").name, "sql*net");
        assert_eq!(ok("1\tdccp\tEtherNet/IP-1\tFORTÉ").desc, "FORTÉ");
        assert_eq!(ok("0\tsctp\tx\t").lo, 0);
        assert_eq!(ok("65535\tsctp\tx\t").hi, 65535);
        assert_eq!(ok("0-65535\ttcp\tx\ty").hi, 65535);
    }

    #[test]
    fn comments_and_blank_lines() {
        assert_eq!(parse_row(""), Ok(None));
        assert_eq!(parse_row("# port\tproto\tname\tdescription"), Ok(None));
        assert_eq!(parse_row("#"), Ok(None));
    }

    #[test]
    fn wrong_field_count() {
        assert_eq!(err("80"), RowError::FieldCount(1));
        assert_eq!(err("80\ttcp"), RowError::FieldCount(2));
        assert_eq!(err("80\ttcp\thttp"), RowError::FieldCount(3));
        assert_eq!(err("80\ttcp\thttp\tWeb\textra"), RowError::FieldCount(5));
        assert_eq!(err("80\ttcp\thttp\tWeb\t"), RowError::FieldCount(5));
        assert_eq!(err(" "), RowError::FieldCount(1));
    }

    #[test]
    fn malformed_ports() {
        for bad in [
            "", " 80", "80 ", "+80", "-80", "080", "65536", "99999", "123456", "8o", "٨٠", "80-",
            "-", "1-2-3", "00", "1--2",
        ] {
            let line = format!("{bad}\ttcp\thttp\tWeb");
            assert_eq!(err(&line), RowError::BadPort, "{bad:?}");
        }
        assert_eq!(err("81-80\ttcp\tx\ty"), RowError::BadRange);
        assert_eq!(err("80-80\ttcp\tx\ty"), RowError::BadRange);
    }

    #[test]
    fn malformed_protos() {
        for bad in ["", "TCP", "tcp ", "ip", "ddp", "tcp/udp"] {
            let line = format!("80\t{bad}\thttp\tWeb");
            assert_eq!(err(&line), RowError::BadProto, "{bad:?}");
        }
    }

    #[test]
    fn malformed_names() {
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in ["", "a b", "göttingen", "x\u{7f}", "x\r", long.as_str()] {
            let line = format!("80\ttcp\t{bad}\tWeb");
            assert_eq!(err(&line), RowError::BadName, "{bad:?}");
        }
        assert_eq!(
            ok(&format!("80\ttcp\t{}\t", "a".repeat(MAX_NAME_LEN)))
                .name
                .len(),
            MAX_NAME_LEN
        );
    }

    #[test]
    fn malformed_descriptions() {
        let long = "a".repeat(MAX_DESC_LEN + 1);
        for bad in [
            " Web",
            "Web ",
            "World  Wide",
            "a\rb",
            "Web\r",
            "a\nb",
            "a\u{0}b",
            "a\u{a0}b",
            "a\u{2028}b",
            "a\u{85}b",
            long.as_str(),
        ] {
            let line = format!("80\ttcp\thttp\t{bad}");
            assert_eq!(err(&line), RowError::BadDescription, "{bad:?}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let mut inputs: Vec<String> = [
            "\t\t\t",
            "\t",
            "#\t",
            "-\t-\t-\t-",
            "6\u{0}\ttcp\tx\ty",
            "\u{feff}80\ttcp\thttp\tWeb",
            "65535-0\ttcp\tx\ty",
            "4294967376\ttcp\tx\ty",
            "\u{10ffff}",
            "💥\t💥\t💥\t💥",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // every prefix of a valid row, cut at char boundaries
        let row = "6000-6063\ttcp\tx11\tX Window Systém";
        inputs.extend(row.char_indices().map(|(i, _)| row[..i].to_string()));
        for s in &inputs {
            let _ = parse_row(s);
            let _ = parse_row(s).map_err(|e| e.to_string());
        }
        assert!(parse_row("\u{feff}80\ttcp\thttp\tWeb").is_err());
    }
}
