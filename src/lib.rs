//! netdiag: network diagnostics and troubleshooting as a library.
//!
//! Every capability module takes parsed inputs and returns a typed, serializable report; it never prints. Each has
//! the same shape: `model.rs` (the request and the report), the engine, and `render.rs`, which implements
//! [`render::Report`]: the report's `outcome()` (its exit code, see [`exit`]) and its `view()`, the rows and lines
//! [`render`] draws as a table, piped text or CSV (JSON comes from `Serialize`, in the schema of docs/json.md).
//! Every verdict, cause and fix text comes from [`explain`].

pub mod capture;
pub mod diagnose;
pub mod dns;
pub mod duration;
pub mod exit;
pub mod explain;
pub mod exporter;
pub mod http;
pub mod interrupt;
pub mod lookup;
pub mod net;
pub mod ping;
pub mod port;
pub mod probe;
pub mod render;
pub mod resolve;
pub mod serve;
pub mod services;
pub mod sockets;
pub mod target;
pub mod trace;
