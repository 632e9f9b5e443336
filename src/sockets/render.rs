//! The socket table as rows: one per socket, numbers and addresses written straight into the table's one
//! string (20,000 rows are 200,000 cells), and the per-protocol counts of `--summary`.

use std::fmt::Write as _;

use super::model::{
    Endpoint, Owner, SocketRow, SocketsReport, State, SummaryReport, TcpInfo, Timer,
};
use crate::exit::Outcome;
use crate::render::view::push_u64;
use crate::render::{Column, Line, Report, Table, Tone, View};

fn columns(r: &SocketsReport) -> Vec<Column> {
    let processes = r.processes;
    let mut c = vec![
        Column::left("PROTO"),
        Column::left("STATE"),
        Column::right("RECV-Q").optional(),
        Column::right("SEND-Q").optional(),
        Column::left("LOCAL"),
        Column::left("PEER"),
        Column::right("UID").optional(),
        Column::right("INODE").optional(),
    ];
    if processes {
        c.extend([Column::right("PID"), Column::cut("PROGRAM")]);
    }
    if r.timers {
        c.push(Column::left("TIMER"));
    }
    if r.info {
        c.push(Column::cut("TCP-INFO"));
    }
    c
}

impl Report for SocketsReport {
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, true)
    }

    fn view(&self) -> View<'_> {
        let mut t = Table::new(columns(self));
        t.reserve(self.sockets.len(), 96);
        for s in &self.sockets {
            cells(s, self.processes, &mut t);
            if self.timers {
                timer_cell(s.timer.as_ref(), &mut t);
            }
            if self.info {
                info_cell(s.tcp_info.as_ref(), &mut t);
            }
        }
        let mut v = View::new();
        v.table(t);
        v
    }
}

fn state_tone(st: State) -> Tone {
    match st {
        State::Listen => Tone::Good,
        State::Established | State::Unconn => Tone::Plain,
        State::TimeWait | State::Close => Tone::Dim,
        _ => Tone::Warn,
    }
}

/// Appends one socket's cells to the table.
fn cells(s: &SocketRow, processes: bool, t: &mut Table) {
    t.cell(s.proto.as_str())
        .cell_toned(s.state.as_str(), state_tone(s.state))
        .num(u64::from(s.recv_q))
        .num(u64::from(s.send_q));
    let any = s.dual_stack();
    endpoint(t, &s.local, true, any);
    endpoint(t, &s.peer, false, any);
    match s.uid {
        Some(u) => t.num(u64::from(u)),
        None => t.cell("-"),
    };
    t.num(s.inode);
    if processes {
        owners(t, s.owners.as_deref().unwrap_or(&[]));
    }
}

/// ss's `timer:(keepalive,7.2s,0)` without the wrapper: kind, time left, retransmissions.
fn timer_cell(timer: Option<&Timer>, t: &mut Table) {
    match timer {
        None => {
            t.cell("-");
        }
        Some(tm) => {
            let _ = write!(
                t.buf(),
                "{},{},{}",
                tm.kind.as_str(),
                time_left(tm.expires_ms),
                tm.retrans
            );
            t.end_cell(Tone::Plain);
        }
    }
}

/// Time left as ss writes it: `250ms`, `7.2s`, `1min30s`.
fn time_left(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}min{}s", ms / 60_000, ms % 60_000 / 1000)
    }
}

/// ss -i's second line, shortened: `rtt:0.05/0.025 rto:204 cwnd:10 ssthresh:7 retrans:0/0 rate:1.2Gbps
/// acked:10 rcvd:5`.
fn info_cell(info: Option<&TcpInfo>, t: &mut Table) {
    let Some(i) = info else {
        t.cell("-");
        return;
    };
    let b = t.buf();
    let _ = write!(
        b,
        "rtt:{}/{} rto:{} cwnd:{}",
        i.rtt_ms, i.rttvar_ms, i.rto_ms, i.cwnd
    );
    if let Some(ss) = i.ssthresh {
        let _ = write!(b, " ssthresh:{ss}");
    }
    let _ = write!(
        b,
        " retrans:{}/{} rate:{} acked:{} rcvd:{}",
        i.retransmits,
        i.total_retrans,
        rate(i.delivery_rate_bps),
        i.bytes_acked,
        i.bytes_received
    );
    t.end_cell(Tone::Plain);
}

fn rate(bps: u64) -> String {
    match bps {
        b if b >= 1_000_000_000 => format!("{:.1}Gbps", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{:.1}Mbps", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1}Kbps", b as f64 / 1e3),
        b => format!("{b}bps"),
    }
}

/// `127.0.0.1:80`, `[::1]:443`, `0.0.0.0:*`; with --services `127.0.0.1:http`; with --resolve `localhost:80`.
/// On a dual-stack wildcard socket (`dual_stack`: `::` with IPV6_V6ONLY off) the unspecified address is `*`, as
/// ss writes it: `*:80` takes IPv4 and IPv6, `[::]:80` IPv6 only.
fn endpoint(t: &mut Table, e: &Endpoint, local: bool, dual_stack: bool) {
    let b = t.buf();
    match e {
        Endpoint::Inet {
            address,
            port,
            host,
            service,
        } => {
            match host {
                _ if dual_stack && address.is_unspecified() => b.push('*'),
                Some(h) => b.push_str(h),
                None => match address {
                    std::net::IpAddr::V4(v4) => {
                        for (i, o) in v4.octets().iter().enumerate() {
                            if i > 0 {
                                b.push('.');
                            }
                            push_u64(b, u64::from(*o));
                        }
                    }
                    v6 => {
                        let _ = write!(b, "[{v6}]");
                    }
                },
            }
            b.push(':');
            match (service, port) {
                (Some(name), _) => b.push_str(name),
                (None, 0) => b.push('*'),
                (None, p) => push_u64(b, u64::from(*p)),
            }
        }
        Endpoint::Unix { path, peer_inode } => match (local, path, peer_inode) {
            (true, Some(p), _) => b.push_str(p),
            (false, _, Some(i)) => push_u64(b, *i),
            _ => b.push('*'),
        },
    }
    t.end_cell(Tone::Plain);
}

/// Most pids listed in one cell; a socket shared by a pre-forked server's workers can have hundreds.
const MAX_PIDS_SHOWN: usize = 3;

fn owners(t: &mut Table, o: &[Owner]) {
    if o.is_empty() {
        t.cell("-").cell("-");
        return;
    }
    let b = t.buf();
    for (i, x) in o.iter().take(MAX_PIDS_SHOWN).enumerate() {
        if i > 0 {
            b.push(',');
        }
        push_u64(b, u64::from(x.pid));
    }
    if o.len() > MAX_PIDS_SHOWN {
        let _ = write!(b, ",+{}", o.len() - MAX_PIDS_SHOWN);
    }
    t.end_cell(Tone::Plain);
    let mut names: Vec<&str> = o.iter().map(|x| x.program.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    t.cell(names.join(","));
}

impl Report for SummaryReport {
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, true)
    }

    fn view(&self) -> View<'_> {
        let mut totals = Table::new([
            Column::left("PROTO"),
            Column::right("TOTAL"),
            Column::right("IPV4"),
            Column::right("IPV6"),
        ]);
        for p in &self.protocols {
            totals.cell(p.proto).num(p.total as u64);
            if p.proto.starts_with("unix") {
                totals.cell("-").cell("-");
            } else {
                totals.num(p.ipv4 as u64).num(p.ipv6 as u64);
            }
        }
        let mut states = Table::new([
            Column::left("PROTO"),
            Column::left("STATE"),
            Column::right("COUNT"),
        ]);
        for p in &self.protocols {
            for c in &p.states {
                states
                    .cell(p.proto)
                    .cell_toned(c.state.as_str(), state_tone(c.state))
                    .num(c.count as u64);
            }
        }
        let mut v = View::new();
        v.line(Line::from(format!("Total: {} sockets", self.total)));
        if let Some(t) = &self.tcp {
            v.line(Line::from(format!(
                "TCP:   {} (estab {}, closed {}, orphaned {}, timewait {})",
                t.total, t.established, t.closed, t.orphaned, t.time_wait
            )));
        }
        v.blank().table(totals);
        if self.tcp.is_none() {
            v.blank().table(states);
        }
        v
    }
}

/// A fixed row for tests and benchmarks.
#[cfg(test)]
pub(crate) fn sample_row(i: u32) -> SocketRow {
    use super::model::SockProto;
    use std::net::Ipv4Addr;
    SocketRow {
        proto: if i.is_multiple_of(7) {
            SockProto::Udp
        } else {
            SockProto::Tcp
        },
        state: if i.is_multiple_of(5) {
            State::Listen
        } else {
            State::Established
        },
        recv_q: i % 3,
        send_q: i % 11 * 100,
        local: Endpoint::inet(Ipv4Addr::new(127, 0, 0, 1).into(), 5555),
        peer: Endpoint::inet(
            Ipv4Addr::new(127, 0, 0, (i % 200) as u8).into(),
            (30000 + i % 30000) as u16,
        ),
        uid: Some(i % 2 * 1000),
        inode: 100000 + u64::from(i),
        owners: Some(vec![Owner {
            pid: 4000 + i % 3,
            program: "python3".into(),
        }]),
        v6only: None,
        tcp_info: None,
        timer: None,
        iface: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Format, Output};
    use crate::sockets::model::{SockProto, Source};

    fn report(n: u32, processes: bool) -> SocketsReport {
        let mut sockets: Vec<SocketRow> = (0..n).map(sample_row).collect();
        sockets.push(SocketRow {
            proto: SockProto::UnixStream,
            state: State::Listen,
            recv_q: 0,
            send_q: 128,
            local: Endpoint::Unix {
                path: Some("/run/ünïcode.sock".into()),
                peer_inode: None,
            },
            peer: Endpoint::Unix {
                path: None,
                peer_inode: None,
            },
            uid: None,
            inode: 9,
            owners: Some(Vec::new()),
            v6only: None,
            tcp_info: None,
            timer: None,
            iface: 0,
        });
        SocketsReport {
            source: Source::Netlink,
            processes,
            info: false,
            timers: false,
            sockets,
            notes: Vec::new(),
            interrupted: false,
        }
    }

    fn comfy_text(r: &SocketsReport) -> String {
        crate::render::comfy_text(r)
    }

    #[test]
    fn direct_writer_matches_comfy_table_byte_for_byte() {
        for processes in [false, true] {
            let r = report(60, processes);
            let direct = Output::plain(Format::Table).to_string(&r);
            assert_eq!(direct, comfy_text(&r));
        }
    }

    #[test]
    fn table_text_is_readable() {
        let r = report(2, true);
        let s = Output::plain(Format::Table).to_string(&r);
        let want = "\
PROTO        STATE        RECV-Q  SEND-Q  LOCAL              PEER             UID   INODE   PID   PROGRAM
udp          listen            0       0  127.0.0.1:5555     127.0.0.0:30000     0  100000  4000  python3
tcp          established       1     100  127.0.0.1:5555     127.0.0.1:30001  1000  100001  4001  python3
unix-stream  listen            0     128  /run/ünïcode.sock  *                   -       9     -  -
";
        assert_eq!(s, want);
    }

    #[test]
    fn json_has_typed_fields() {
        let r = report(1, false);
        let v: serde_json::Value =
            serde_json::from_str(&Output::plain(Format::Json).to_string(&r)).unwrap();
        let s = &v["sockets"][0];
        assert_eq!(s["protocol"], "udp");
        assert_eq!(s["state"], "listen");
        assert_eq!(s["local"]["address"], "127.0.0.1");
        assert_eq!(s["local"]["port"], 5555);
        assert_eq!(s["owners"][0]["pid"], 4000);
        assert_eq!(s["owners"][0]["program"], "python3");
        assert_eq!(v["sockets"][1]["protocol"], "unix-stream");
        assert_eq!(v["sockets"][1]["local"]["path"], "/run/ünïcode.sock");
    }

    /// Figures for the docs: `cargo test --release render_figures -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn render_figures() {
        let r = report(20_000, true);
        let t = std::time::Instant::now();
        let direct = Output::plain(Format::Table).to_string(&r);
        let d = t.elapsed();
        let t = std::time::Instant::now();
        let comfy = comfy_text(&r);
        let c = t.elapsed();
        assert_eq!(direct, comfy);
        eprintln!("20,000 rows: direct writer {d:?}, comfy-table {c:?}");
    }
}
