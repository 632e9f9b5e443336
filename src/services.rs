//! The bundled services table (IANA registry): by port, by name, by range, by keyword.
//! PLACEHOLDER: being written; API below is the contract.

use crate::target::Proto;

/// Primary registered name for a port and protocol, e.g. (80, Tcp) -> "http".
pub fn name_of(_port: u16, _proto: Proto) -> Option<&'static str> {
    None
}

/// Ports registered under a service name (case-insensitive), e.g. "http" -> [80 tcp, 80 udp, 80 sctp].
pub fn ports_of(_name: &str) -> Vec<(u16, Proto)> {
    Vec::new()
}
