//! `netdiag port`: service names by port, ports by name, ranges and keyword search over the bundled IANA table.

mod model;
mod render;

use crate::explain;
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
                    explanation: explain::port::no_match(word),
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
                    let explanation = match &q.what {
                        PortWhat::Port(_) => explain::port::unnamed_port(&text),
                        PortWhat::Range(..) => explain::port::unnamed_range(&text),
                        PortWhat::Name(_) => explain::port::unknown_name(&text),
                    };
                    unmatched.push(Unmatched {
                        query: text,
                        explanation,
                    });
                } else {
                    rows.extend(found.into_iter().map(|s| row(&text, s)));
                }
            }
        }
    }
    PortReport {
        results: rows,
        unmatched,
    }
}
