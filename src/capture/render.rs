//! Capture as text and CSV: the packets (a data table: text has streamed them as lines while the capture ran),
//! the conversation table with a verdict per flow, and tcpdump's opening and closing lines (stderr).

use std::fmt::Write as _;
use std::net::IpAddr;

use super::decode::LinkType;
use super::model::{CaptureReport, Counts, Endpoint, Flow, PacketRow};
use crate::duration::fmt_ms;
use crate::exit::Outcome;
use crate::explain::Verdict;
use crate::render::{Column, Line, Report, Table, Tone, View};

impl Report for CaptureReport {
    /// A capture that ran to its end (count, duration, end of file) succeeded; what its conversations show is
    /// in their verdicts, not in the exit code. Ctrl-C makes it interrupted.
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, true)
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new();
        if self.packets_shown {
            v.table(packet_table(&self.packets));
        }
        if let Some(flows) = &self.conversations {
            v.extend(conversations_view(flows));
        }
        v
    }
}

/// The packets as a data table (CSV): text shows them as lines while the capture runs.
pub fn packet_table(packets: &[PacketRow]) -> Table {
    let mut t = Table::new([
        Column::left("TIME"),
        Column::left("INTERFACE"),
        Column::left("DIRECTION"),
        Column::left("PROTOCOL"),
        Column::left("SRC ADDRESS"),
        Column::right("SRC PORT"),
        Column::left("DST ADDRESS"),
        Column::right("DST PORT"),
        Column::right("LENGTH"),
        Column::left("TCP FLAGS"),
        Column::right("SEQ"),
        Column::right("ACK"),
        Column::right("WINDOW"),
        Column::right("PAYLOAD LENGTH"),
        Column::left("ICMP"),
        Column::text("SUMMARY"),
    ])
    .data_only();
    t.reserve(packets.len(), 160);
    let opt = |t: &mut Table, n: Option<u64>| {
        match n {
            Some(n) => t.num(n),
            None => t.cell(""),
        };
    };
    for p in packets {
        t.cell(&p.time)
            .cell(p.interface.as_deref().unwrap_or(""))
            .cell(p.direction.unwrap_or(""))
            .cell(&p.protocol);
        for e in [&p.src, &p.dst] {
            match e {
                Some(e) => {
                    write!(t, "{}", e.address).ok();
                    t.end_cell(Tone::Plain);
                    opt(&mut t, e.port.map(u64::from));
                }
                None => {
                    t.cell("").cell("");
                }
            }
        }
        t.num(u64::from(p.length));
        match &p.tcp {
            Some(tcp) => {
                t.cell(&tcp.flags).num(u64::from(tcp.seq));
                opt(&mut t, tcp.ack.map(u64::from));
                t.num(u64::from(tcp.window));
            }
            None => {
                t.cell("").cell("").cell("").cell("");
            }
        }
        let payload = p
            .tcp
            .as_ref()
            .map(|x| x.payload_length)
            .or(p.udp.as_ref().map(|u| u.payload_length));
        opt(&mut t, payload.map(u64::from));
        t.cell(p.icmp.as_ref().map_or("", |i| i.name.as_str()))
            .cell(&p.summary);
    }
    t
}

fn endpoint_text(e: &Endpoint) -> String {
    match (e.address, e.port) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    }
}

fn handshake_text(f: &Flow) -> String {
    match &f.handshake {
        None => "-".into(),
        Some(h) => match (h.syn_ack, h.ack) {
            (Some(a), Some(b)) => format!("{} / {}", fmt_ms(a), fmt_ms(b)),
            (Some(a), None) => format!("{} / no ACK", fmt_ms(a)),
            _ if h.syns > 0 => format!("{} SYN, no SYN-ACK", h.syns),
            _ => "-".into(),
        },
    }
}

/// A flow's color: ok is good, loss and protocol trouble a warning, the rest bad.
fn flow_tone(f: &Flow) -> Tone {
    match f.explanation.verdict {
        Verdict::Temporary | Verdict::Protocol => Tone::Warn,
        v => Tone::of(v),
    }
}

/// The conversations: one row per flow (text and CSV), one line per flow with its verdict in words (text), and
/// the verdicts as a data table (CSV: flow, verdict, code, cause, fix).
pub fn conversations_view(flows: &[Flow]) -> View<'static> {
    let mut v = View::new();
    if flows.is_empty() {
        v.line("no conversations");
    }
    v.table(flow_table(flows));
    if !flows.is_empty() {
        v.blank();
    }
    for (i, f) in flows.iter().enumerate() {
        v.line(
            Line::from(format!(
                "#{} {} {} > {}: ",
                i + 1,
                f.protocol,
                endpoint_text(&f.client),
                endpoint_text(&f.server)
            ))
            .then(f.explanation.sentence(), flow_tone(f)),
        );
    }
    let mut verdicts = Table::new([
        Column::right("#"),
        Column::left("VERDICT"),
        Column::left("CODE"),
        Column::text("CAUSE"),
        Column::text("FIX"),
    ])
    .data_only();
    for (i, f) in flows.iter().enumerate() {
        let e = &f.explanation;
        verdicts
            .num(i as u64 + 1)
            .cell_toned(e.verdict.as_str(), flow_tone(f))
            .cell(&e.code)
            .cell(&e.cause)
            .cell(&e.fix);
    }
    v.table(verdicts);
    v
}

/// One row per flow: counts each way, handshake, RTT, TCP analysis, ICMP errors and the state.
fn flow_table(flows: &[Flow]) -> Table {
    let mut t = Table::new([
        Column::right("#"),
        Column::left("PROTO"),
        Column::left("CLIENT"),
        Column::left("SERVER"),
        Column::right("PKTS >"),
        Column::right("PKTS <"),
        Column::right("BYTES >"),
        Column::right("BYTES <"),
        Column::right("DURATION"),
        Column::left("HANDSHAKE"),
        Column::right("RTT"),
        Column::right("RETRANS"),
        Column::right("DUP ACK"),
        Column::left("ZERO WIN"),
        Column::left("FIN"),
        Column::left("RST"),
        Column::text("ICMP"),
        Column::left("STATE"),
    ])
    .omit_when_empty();
    for (i, f) in flows.iter().enumerate() {
        t.num(i as u64 + 1)
            .cell(&f.protocol)
            .cell(endpoint_text(&f.client))
            .cell(endpoint_text(&f.server))
            .num(f.packets_sent)
            .num(f.packets_received)
            .num(f.bytes_sent)
            .num(f.bytes_received)
            .cell(fmt_ms(f.duration))
            .cell(handshake_text(f))
            .cell(f.rtt.map(fmt_ms).unwrap_or_else(|| "-".into()))
            .num(f.retransmissions)
            .num(f.dup_acks);
        if f.zero_window_events == 0 {
            t.cell("0");
        } else {
            t.cell(format!(
                "{} ({})",
                f.zero_window_events,
                fmt_ms(f.zero_window)
            ));
        }
        t.cell(f.fin_from.as_deref().unwrap_or("-"))
            .cell(f.rst_from.as_deref().unwrap_or("-"));
        if f.icmp_errors.is_empty() {
            t.cell("-");
        } else {
            t.cell(
                f.icmp_errors
                    .iter()
                    .map(|e| format!("{} from {}", e.name, e.from))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
        t.cell_toned(&f.state, flow_tone(f));
    }
    t
}

/// tcpdump's closing lines (stderr).
pub fn counts_text(c: &Counts) -> String {
    let mut s = format!("{} packets captured\n", c.matched);
    if let Some(r) = c.received {
        let _ = writeln!(s, "{r} packets received by filter");
    }
    if let Some(d) = c.dropped {
        let _ = writeln!(s, "{d} packets dropped by kernel");
    }
    s
}

/// The opening line, on stderr, as tcpdump writes it.
pub fn started_text(source: &str, live: bool, link: LinkType, snaplen: u32) -> String {
    if live {
        format!(
            "listening on {source}, link-type {}, snapshot length {snaplen} bytes",
            link.describe()
        )
    } else {
        format!("reading from file {source}, link-type {}", link.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::model::Handshake;
    use crate::render::{Format, Output};
    use std::time::Duration;

    fn flow() -> Flow {
        let ep = |a: &str, p| Endpoint {
            address: a.parse().unwrap(),
            port: Some(p),
        };
        Flow {
            protocol: "tcp".into(),
            client: ep("10.0.0.1", 40000),
            server: ep("10.0.0.2", 8080),
            packets_sent: 3,
            packets_received: 0,
            bytes_sent: 180,
            bytes_received: 0,
            start: 0.0,
            duration: Duration::from_secs(3),
            handshake: Some(Handshake {
                syns: 3,
                syn_ack: None,
                ack: None,
            }),
            rtt: None,
            retransmissions: 0,
            dup_acks: 0,
            zero_window_events: 0,
            zero_window: Duration::ZERO,
            fin_from: None,
            rst_from: None,
            icmp_errors: Vec::new(),
            state: "no-answer".into(),
            explanation: crate::explain::capture::tcp_no_answer(3, 3.0, 8080),
        }
    }

    fn report(flows: Option<Vec<Flow>>) -> CaptureReport {
        CaptureReport {
            source: "lo".into(),
            live: true,
            link_type: "EN10MB (Ethernet)".into(),
            filter: String::new(),
            packets: Vec::new(),
            counts: Counts::default(),
            conversations: flows,
            written: None,
            interrupted: false,
            packets_shown: true,
        }
    }

    #[test]
    fn conversations_in_text_and_csv_come_from_the_same_rows() {
        let r = report(Some(vec![flow()]));
        let text = Output::plain(Format::Table).to_string(&r);
        assert!(text.contains("10.0.0.2:8080"), "{text}");
        assert!(text.contains("3 SYN, no SYN-ACK"), "{text}");
        assert!(
            text.contains("#1 tcp 10.0.0.1:40000 > 10.0.0.2:8080: 3 SYNs over 3.0 s"),
            "{text}"
        );
        assert!(
            !text.contains("TIME"),
            "packets are streamed in text: {text}"
        );
        let csv = Output::plain(Format::Csv).to_string(&r);
        let tables: Vec<&str> = csv.split("\n\n").collect();
        assert_eq!(tables.len(), 3, "{csv}");
        assert!(tables[0].starts_with("TIME,INTERFACE,DIRECTION,PROTOCOL,SRC ADDRESS"));
        assert!(tables[1].starts_with("#,PROTO,CLIENT,SERVER"), "{csv}");
        assert!(tables[1].contains("\n1,tcp,10.0.0.1:40000,10.0.0.2:8080,3,0,180,0,"));
        assert!(tables[2].starts_with("#,VERDICT,CODE,CAUSE,FIX\n1,filtered,no-answer,"));
    }

    #[test]
    fn no_conversations_is_said() {
        let text = Output::plain(Format::Table).to_string(&report(Some(Vec::new())));
        assert_eq!(text, "no conversations\n");
        assert_eq!(
            Output::plain(Format::Table).to_string(&report(None)),
            "",
            "the packets were lines already"
        );
    }
}
