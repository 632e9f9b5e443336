//! Serve's types: what to serve, the events it logs and the summary it ends with.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use crate::services::Proto;

/// What to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// TCP port to listen on (0: the kernel picks one).
    pub tcp: Option<u16>,
    /// UDP port to listen on (0: the kernel picks one).
    pub udp: Option<u16>,
    /// Local addresses to bind; empty means every address (`[::]`, dual-stack, or `0.0.0.0` without IPv6).
    pub bind: Vec<IpAddr>,
    /// A TCP connection without data for this long is closed.
    pub idle: Duration,
    /// At most this many TCP connections at once; further ones are closed as soon as they are accepted.
    pub max_conns: usize,
    /// Stop after this long (for scripts); `None` runs until Ctrl-C.
    pub max_time: Option<Duration>,
}

/// Why a TCP connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseReason {
    /// The client closed its side.
    ClientClosed,
    /// No data within the idle timeout.
    Idle,
    /// The server is stopping.
    Stopping,
    /// A read or write failed.
    Error,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "closed by client",
            CloseReason::Idle => "idle timeout",
            CloseReason::Stopping => "server stopping",
            CloseReason::Error => "error",
        }
    }
}

/// Something that happened, for the log.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Listening {
        #[serde(rename = "protocol")]
        proto: Proto,
        #[serde(serialize_with = "crate::target::ser_endpoint")]
        address: SocketAddr,
    },
    Connected {
        #[serde(serialize_with = "crate::target::ser_endpoint")]
        peer: SocketAddr,
        #[serde(serialize_with = "crate::target::ser_endpoint")]
        local: SocketAddr,
        open: usize,
    },
    Closed {
        #[serde(serialize_with = "crate::target::ser_endpoint")]
        peer: SocketAddr,
        reason: CloseReason,
        bytes: u64,
        #[serde(serialize_with = "crate::duration::ser_ms", rename = "elapsed_ms")]
        elapsed: Duration,
        detail: Option<String>,
    },
    Refused {
        #[serde(serialize_with = "crate::target::ser_endpoint")]
        peer: SocketAddr,
        open: usize,
    },
    UdpPeer {
        #[serde(serialize_with = "crate::target::ser_endpoint")]
        peer: SocketAddr,
        #[serde(serialize_with = "crate::target::ser_endpoint")]
        local: SocketAddr,
        bytes: usize,
    },
    Stopping {
        why: &'static str,
    },
}

/// A socket the server listened on.
#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    #[serde(rename = "protocol")]
    pub proto: Proto,
    #[serde(serialize_with = "crate::target::ser_endpoint")]
    pub address: SocketAddr,
}

/// What the server did, for the end-of-run summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServeReport {
    pub listeners: Vec<Listener>,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "elapsed_ms")]
    pub elapsed: Duration,
    pub tcp_connections: u64,
    pub tcp_refused: u64,
    pub tcp_idle_closed: u64,
    pub tcp_bytes: u64,
    pub udp_datagrams: u64,
    pub udp_bytes: u64,
    pub udp_peers: u64,
    /// Whether Ctrl-C stopped the server (as opposed to `max_time`).
    pub interrupted: bool,
}
