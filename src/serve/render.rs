//! Serve as text: one log line per event while it runs, a summary when it stops.

use super::model::{Event, ServeReport};
use crate::duration::fmt_ms;
use crate::exit::Outcome;
use crate::render::{Column, Pairs, Report, Table, View};

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
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, true)
    }

    fn view(&self) -> View<'_> {
        let listening = self
            .listeners
            .iter()
            .map(|l| format!("{} {}", l.proto, l.address))
            .collect::<Vec<_>>()
            .join(", ");
        let mut p = Pairs::new();
        p.add("listened on", listening.clone())
            .add("ran for", fmt_ms(self.elapsed))
            .add(
                "tcp",
                format!(
                    "{} connections, {} bytes echoed, {} closed idle, {} refused (limit)",
                    self.tcp_connections, self.tcp_bytes, self.tcp_idle_closed, self.tcp_refused
                ),
            )
            .add(
                "udp",
                format!(
                    "{} datagrams, {} bytes echoed, {} peers",
                    self.udp_datagrams, self.udp_bytes, self.udp_peers
                ),
            );
        // The same counters as one CSV row.
        let mut t = Table::new([
            Column::text("LISTENED ON"),
            Column::right("RAN FOR"),
            Column::right("TCP CONNECTIONS"),
            Column::right("TCP BYTES"),
            Column::right("TCP IDLE CLOSED"),
            Column::right("TCP REFUSED"),
            Column::right("UDP DATAGRAMS"),
            Column::right("UDP BYTES"),
            Column::right("UDP PEERS"),
        ])
        .data_only();
        t.cell(listening)
            .cell(fmt_ms(self.elapsed))
            .num(self.tcp_connections)
            .num(self.tcp_bytes)
            .num(self.tcp_idle_closed)
            .num(self.tcp_refused)
            .num(self.udp_datagrams)
            .num(self.udp_bytes)
            .num(self.udp_peers);
        let mut v = View::new();
        v.blank().pairs(p).table(t);
        v
    }
}
