//! Serve as text: one log line per event while it runs, a summary when it stops.

use std::io;

use super::model::{Event, ServeReport};
use crate::duration::fmt_ms;
use crate::render::{kv_table, write_table, Output, Report};

impl Event {
    /// One log line, e.g. `tcp 127.0.0.1:40112 connected (3 open)`.
    pub fn line(&self) -> String {
        match self {
            Event::Listening { proto, address } => format!("listening {proto} {address}"),
            Event::Connected { peer, local, open } => {
                format!("tcp {peer} connected to {local} ({open} open)")
            }
            Event::Closed {
                peer,
                reason,
                bytes,
                elapsed,
                detail,
            } => {
                let mut s = format!(
                    "tcp {peer} closed after {}: {}, {bytes} bytes echoed",
                    fmt_ms(*elapsed),
                    reason.as_str()
                );
                if let Some(d) = detail {
                    s.push_str(&format!(" ({d})"));
                }
                s
            }
            Event::Refused { peer, open } => {
                format!("tcp {peer} refused: {open} connections open, the --max-conns limit")
            }
            Event::UdpPeer { peer, local, bytes } => {
                format!("udp {peer} first datagram ({bytes} bytes) on {local}, echoing")
            }
            Event::Stopping { why } => format!("stopping: {why}"),
        }
    }
}

impl Report for ServeReport {
    fn render_text(&self, out: &Output, w: &mut dyn io::Write) -> io::Result<()> {
        let listening = self
            .listeners
            .iter()
            .map(|l| format!("{} {}", l.proto, l.address))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = [
            ("listened on", listening),
            ("ran for", fmt_ms(self.elapsed)),
            (
                "tcp",
                format!(
                    "{} connections, {} bytes echoed, {} closed idle, {} refused (limit)",
                    self.tcp_connections, self.tcp_bytes, self.tcp_idle_closed, self.tcp_refused
                ),
            ),
            (
                "udp",
                format!(
                    "{} datagrams, {} bytes echoed, {} peers",
                    self.udp_datagrams, self.udp_bytes, self.udp_peers
                ),
            ),
        ];
        write_table(w, &kv_table(out, rows))
    }
}
