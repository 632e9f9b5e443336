//! `netdiag port`: service names by port, ports by name, ranges and keyword search over the bundled IANA table.

mod model;
mod render;

use crate::services::{self, Service};
use crate::target::{PortQuery, PortWhat};

pub use model::*;

fn row(query: &str, service: Service) -> PortRow {
    PortRow {
        query: query.to_string(),
        service,
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
