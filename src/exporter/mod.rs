//! `netdiag exporter`: a Prometheus exporter that speaks blackbox_exporter's interface (`/probe?target=…&
//! module=…`, its YAML module file, its metric names) and also says why a probe failed
//! (`probe_failure_info{layer,code}` from the explanation table), plus a `diagnose` prober that exports each step
//! of netdiag's walk.
//!
//! The probers call netdiag's library (http, probe, ping, diagnose); they block, so the server runs them on
//! tokio's blocking pool under a semaphore. [`config`] reads the module file, [`server`] serves HTTP,
//! [`metrics`] exposes samples, [`model`] holds what a prober fills in and its deadline, [`resolve`] picks
//! the target's address as blackbox does, and each prober has its file.

pub mod config;
pub mod diagnose;
pub mod dns;
pub mod http;
pub mod icmp;
pub mod log;
pub mod metrics;
pub mod model;
pub mod resolve;
pub mod server;
pub mod tcp;

pub use model::{Deadline, Failure, ProbeOut};
pub use resolve::{choose_ip, ip_hash};
pub use server::{run, Options};
