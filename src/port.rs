//! `netdiag port`: service names by port, ports by name, ranges and keyword search over the bundled IANA table.

use std::io::{self, Write};

use serde::Serialize;

use crate::render::{write_table, Output, Report, Tone};
use crate::services::Proto;
use crate::services::{self, Service};
use crate::target::{PortQuery, PortWhat};

/// What `netdiag port` was asked.
#[derive(Debug, Clone)]
pub enum PortRequest {
    Queries(Vec<PortQuery>),
    Search(String),
}

/// One row: a registered service on a port and protocol.
#[derive(Debug, Clone, Serialize)]
pub struct PortRow {
    /// The query this row answers, as typed.
    pub query: String,
    pub port: u16,
    pub proto: Proto,
    pub name: &'static str,
    pub aliases: Vec<&'static str>,
    pub description: &'static str,
    /// The registered range when the name covers several ports (x11: 6000-6063).
    pub range: Option<(u16, u16)>,
}

/// A query that matched nothing.
#[derive(Debug, Clone, Serialize)]
pub struct Unmatched {
    pub query: String,
    pub reason: String,
}

/// Every row found, and the queries that found none.
#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    pub rows: Vec<PortRow>,
    pub unmatched: Vec<Unmatched>,
}

impl PortReport {
    pub fn ok(&self) -> bool {
        self.unmatched.is_empty()
    }
}

fn row(query: &str, s: Service) -> PortRow {
    PortRow {
        query: query.to_string(),
        port: s.port,
        proto: s.proto,
        name: s.name,
        aliases: s.aliases,
        description: s.description,
        range: s.range,
    }
}

fn describe(q: &PortQuery) -> String {
    let body = match &q.what {
        PortWhat::Port(p) => p.to_string(),
        PortWhat::Range(a, b) => format!("{a}-{b}"),
        PortWhat::Name(n) => n.clone(),
    };
    match q.proto {
        Some(p) => format!("{body}/{p}"),
        None => body,
    }
}

/// Answers every query from the bundled table.
pub fn lookup(req: &PortRequest) -> PortReport {
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    match req {
        PortRequest::Search(word) => {
            rows.extend(services::search(word).into_iter().map(|s| row(word, s)));
            if rows.is_empty() {
                unmatched.push(Unmatched {
                    query: word.clone(),
                    reason: format!("no registered service name or description contains '{word}'"),
                });
            }
        }
        PortRequest::Queries(queries) => {
            for q in queries {
                let text = describe(q);
                let found: Vec<Service> = match &q.what {
                    PortWhat::Port(p) => services::by_port(*p, q.proto),
                    PortWhat::Range(a, b) => services::in_range(*a, *b, q.proto),
                    PortWhat::Name(n) => services::by_name(n)
                        .into_iter()
                        .filter(|s| q.proto.is_none_or(|p| p == s.proto))
                        .collect(),
                };
                if found.is_empty() {
                    let reason = match &q.what {
                        PortWhat::Port(_) => format!("port {text} has no registered service name"),
                        PortWhat::Range(..) => {
                            format!("no port in {text} has a registered service name")
                        }
                        PortWhat::Name(_) => format!(
                            "no service is registered as '{text}'; try netdiag port --search WORD"
                        ),
                    };
                    unmatched.push(Unmatched {
                        query: text,
                        reason,
                    });
                } else {
                    rows.extend(found.into_iter().map(|s| row(&text, s)));
                }
            }
        }
    }
    PortReport { rows, unmatched }
}

impl Report for PortReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        if !self.rows.is_empty() {
            let mut t = out.table(&["PORT", "PROTO", "SERVICE", "ALIASES", "DESCRIPTION"]);
            for r in &self.rows {
                // A name query shows a registered range whole (x11: 6000-6063); a port query shows the port.
                let by_name = !r.query.starts_with(|c: char| c.is_ascii_digit());
                let port = match r.range {
                    Some((a, b)) if a != b && by_name => format!("{a}-{b}"),
                    _ => r.port.to_string(),
                };
                t.add_row(vec![
                    out.cell(port, Tone::Plain),
                    out.cell(r.proto, Tone::Plain),
                    out.cell(r.name, Tone::Good),
                    out.cell(
                        if r.aliases.is_empty() {
                            "-".to_string()
                        } else {
                            r.aliases.join(",")
                        },
                        Tone::Plain,
                    ),
                    out.cell(r.description, Tone::Plain),
                ]);
            }
            write_table(w, &t)?;
        }
        for u in &self.unmatched {
            writeln!(w, "{}", out.paint(&u.reason, Tone::Bad))?;
        }
        Ok(())
    }
}
