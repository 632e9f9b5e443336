//! netdiag: network diagnostics and troubleshooting as a library.
//!
//! Every capability module takes parsed inputs and returns a typed, serializable report; it never prints.
//! [`render`] turns reports into tables or JSON, and [`exit`] maps outcomes to exit codes.

pub mod diagnose;
pub mod duration;
pub mod exit;
pub mod explain;
pub mod exporter;
pub mod http;
pub mod interrupt;
pub mod lookup;
pub mod ping;
pub mod port;
pub mod probe;
pub mod render;
pub mod serve;
pub mod services;
pub mod sockets;
pub mod target;
