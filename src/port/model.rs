//! Port's types: the question, the rows of the services table that answer it, and the questions left unanswered.

use serde::Serialize;

use crate::explain::Explanation;
use crate::services::Service;
use crate::target::PortQuery;

/// What `netdiag port` was asked.
#[derive(Debug, Clone)]
pub enum PortRequest {
    Queries(Vec<PortQuery>),
    Search(String),
}

/// One row: a registered service on a port and protocol, and the query it answers.
#[derive(Debug, Clone, Serialize)]
pub struct PortRow {
    /// The query this row answers, as typed.
    pub query: String,
    #[serde(flatten)]
    pub service: Service,
}

/// A query that matched nothing.
#[derive(Debug, Clone, Serialize)]
pub struct Unmatched {
    pub query: String,
    pub explanation: Explanation,
}

/// Every row found, and the queries that found none.
#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    /// One row per registered (port, protocol) that answers a query.
    pub results: Vec<PortRow>,
    pub unmatched: Vec<Unmatched>,
}

impl PortReport {
    pub fn ok(&self) -> bool {
        self.unmatched.is_empty()
    }
}
