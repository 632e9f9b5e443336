//! The socket table as text.
//!
//! On a terminal the table is a comfy-table one (colors, wrapping to the terminal's width). Piped, with no color
//! and no wrapping to do, the same layout is written directly: comfy-table builds a styled `Cell` per value and
//! lays out line by line, which took 369 ms for 20,000 rows against 27 ms for the direct writer (release
//! build, the ignored `render_figures` test, on a busy 2-core machine), longer than the whole `ss -tan` run.
//! The direct writer stores every cell in one string, formats numbers without `core::fmt`, and pads in one pass.
//! A unit test checks that both produce byte-identical text.

use std::fmt::Write as _;
use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::model::{Endpoint, Owner, SocketRow, State, SummaryReport};
use super::SocketsReport;
use crate::render::{write_table, Output, Report, Tone};

const HEADERS: [&str; 8] = [
    "PROTO", "STATE", "RECV-Q", "SEND-Q", "LOCAL", "PEER", "UID", "INODE",
];
const RIGHT: [bool; 10] = [
    false, false, true, true, false, false, true, true, true, false,
];

impl Report for SocketsReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        let mut headers: Vec<&str> = HEADERS.to_vec();
        if self.processes {
            headers.extend(["PID", "PROGRAM"]);
        }
        let mut grid = Grid::new(headers.len());
        for s in &self.sockets {
            cells(s, self.processes, &mut grid);
        }
        if out.tty || out.color {
            write_comfy(out, &headers, &grid, &self.sockets, w)
        } else {
            grid.write(&headers, &RIGHT, w)
        }
    }
}

/// Every cell of the table in one string: cell i is `text[start(i)..ends[i]]`, `widths[i]` columns wide.
pub(crate) struct Grid {
    cols: usize,
    text: String,
    ends: Vec<usize>,
    widths: Vec<u32>,
}

impl Grid {
    pub(crate) fn new(cols: usize) -> Grid {
        Grid {
            cols: cols.max(1),
            text: String::new(),
            ends: Vec::new(),
            widths: Vec::new(),
        }
    }

    /// Ends the current cell (whatever was written to `text` since the last one).
    fn end_cell(&mut self) {
        let start = self.ends.last().copied().unwrap_or(0);
        let w = width(&self.text[start..]);
        self.ends.push(self.text.len());
        self.widths.push(u32::try_from(w).unwrap_or(u32::MAX));
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.end_cell();
    }

    fn cell(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn row_count(&self) -> usize {
        self.ends.len() / self.cols
    }

    fn rows(&self) -> impl Iterator<Item = impl Iterator<Item = &str>> {
        (0..self.row_count())
            .map(move |r| (0..self.cols).map(move |c| self.cell(r * self.cols + c)))
    }

    /// Writes the grid in netdiag's table layout (as `Output::table` + `write_table` would): each column as
    /// wide as its widest cell, two spaces after each, numbers right-aligned, trailing spaces trimmed.
    pub(crate) fn write(
        &self,
        headers: &[&str],
        right: &[bool],
        w: &mut dyn Write,
    ) -> io::Result<()> {
        let cols = self.cols;
        let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
        widths.resize(cols, 0);
        for (i, cw) in self.widths.iter().enumerate() {
            let c = i % cols;
            widths[c] = widths[c].max(*cw as usize);
        }
        let mut w = io::BufWriter::with_capacity(256 * 1024, w);
        let mut line: Vec<u8> = Vec::with_capacity(256);
        let put = |line: &mut Vec<u8>, c: usize, cell: &str, cw: usize, right: bool| {
            let pad = widths[c].saturating_sub(cw);
            if right {
                line.resize(line.len() + pad, b' ');
                line.extend_from_slice(cell.as_bytes());
            } else {
                line.extend_from_slice(cell.as_bytes());
                line.resize(line.len() + pad, b' ');
            }
            line.extend_from_slice(b"  ");
        };
        let mut flush = |line: &mut Vec<u8>| -> io::Result<()> {
            let end = line.iter().rposition(|b| *b != b' ').map_or(0, |i| i + 1);
            line.truncate(end);
            line.push(b'\n');
            w.write_all(line)?;
            line.clear();
            Ok(())
        };
        for (c, h) in headers.iter().enumerate() {
            put(&mut line, c, h, width(h), false);
        }
        flush(&mut line)?;
        for r in 0..self.row_count() {
            for c in 0..cols {
                let i = r * cols + c;
                let right = right.get(c).copied().unwrap_or(false);
                put(&mut line, c, self.cell(i), self.widths[i] as usize, right);
            }
            flush(&mut line)?;
        }
        w.flush()
    }
}

/// Appends a number in decimal without going through `core::fmt` (the table has 100,000+ of them).
fn push_u64(s: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("?"));
}

fn width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.width()
    }
}

fn write_comfy(
    out: &Output,
    headers: &[&str],
    grid: &Grid,
    rows: &[SocketRow],
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut t = out.table(headers);
    for (row, s) in grid.rows().zip(rows) {
        t.add_row(
            row.enumerate()
                .map(|(c, cell)| {
                    if RIGHT.get(c).copied().unwrap_or(false) {
                        out.num(cell)
                    } else if c == 1 {
                        out.cell(cell, state_tone(s.state))
                    } else {
                        out.cell(cell, Tone::Plain)
                    }
                })
                .collect::<Vec<_>>(),
        );
    }
    write_table(w, &t)
}

fn state_tone(st: State) -> Tone {
    match st {
        State::Listen => Tone::Good,
        State::Established | State::Unconn => Tone::Plain,
        State::TimeWait | State::Close => Tone::Dim,
        _ => Tone::Warn,
    }
}

/// Appends one socket's cells to the grid.
pub(crate) fn cells(s: &SocketRow, processes: bool, g: &mut Grid) {
    g.push(s.proto.as_str());
    g.push(s.state.as_str());
    num(g, s.recv_q);
    num(g, s.send_q);
    endpoint(g, &s.local, true);
    endpoint(g, &s.peer, false);
    match s.uid {
        Some(u) => num(g, u),
        None => g.push("-"),
    }
    num(g, s.inode);
    if processes {
        owners(g, s.owners.as_deref().unwrap_or(&[]));
    }
}

fn num(g: &mut Grid, n: impl Into<u64>) {
    push_u64(&mut g.text, n.into());
    g.end_cell();
}

/// `127.0.0.1:80`, `[::1]:443`, `0.0.0.0:*`; with --services `127.0.0.1:http`; with --resolve `localhost:80`.
fn endpoint(g: &mut Grid, e: &Endpoint, local: bool) {
    match e {
        Endpoint::Inet {
            address,
            port,
            host,
            service,
        } => {
            let t = &mut g.text;
            match host {
                Some(h) => t.push_str(h),
                None if address.is_ipv6() => {
                    let _ = write!(t, "[{address}]");
                }
                None => match address {
                    std::net::IpAddr::V4(v4) => {
                        for (i, o) in v4.octets().iter().enumerate() {
                            if i > 0 {
                                t.push('.');
                            }
                            push_u64(t, u64::from(*o));
                        }
                    }
                    v6 => {
                        let _ = write!(t, "{v6}");
                    }
                },
            }
            t.push(':');
            match (service, port) {
                (Some(name), _) => t.push_str(name),
                (None, 0) => t.push('*'),
                (None, p) => push_u64(t, u64::from(*p)),
            }
        }
        Endpoint::Unix { path, peer_inode } => match (local, path, peer_inode) {
            (true, Some(p), _) => g.text.push_str(p),
            (false, _, Some(i)) => push_u64(&mut g.text, *i),
            _ => g.text.push('*'),
        },
    }
    g.end_cell();
}

/// Most pids listed in one cell; a socket shared by a pre-forked server's workers can have hundreds.
const MAX_PIDS_SHOWN: usize = 3;

fn owners(g: &mut Grid, o: &[Owner]) {
    if o.is_empty() {
        g.push("-");
        g.push("-");
        return;
    }
    for (i, x) in o.iter().take(MAX_PIDS_SHOWN).enumerate() {
        if i > 0 {
            g.text.push(',');
        }
        push_u64(&mut g.text, u64::from(x.pid));
    }
    if o.len() > MAX_PIDS_SHOWN {
        let _ = write!(g.text, ",+{}", o.len() - MAX_PIDS_SHOWN);
    }
    g.end_cell();
    let mut names: Vec<&str> = o.iter().map(|x| x.program.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    g.push(&names.join(","));
}

impl Report for SummaryReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "Total: {} sockets", self.total)?;
        writeln!(w)?;
        let mut t = out.table(&["PROTO", "TOTAL", "IPV4", "IPV6"]);
        for p in &self.protocols {
            let (v4, v6) = if p.proto.is_unix() {
                ("-".to_string(), "-".to_string())
            } else {
                (p.ipv4.to_string(), p.ipv6.to_string())
            };
            t.add_row(vec![
                out.cell(p.proto.as_str(), Tone::Plain),
                out.num(p.total),
                out.num(v4),
                out.num(v6),
            ]);
        }
        write_table(w, &t)?;
        writeln!(w)?;
        let mut t = out.table(&["PROTO", "STATE", "COUNT"]);
        for p in &self.protocols {
            for c in &p.states {
                t.add_row(vec![
                    out.cell(p.proto.as_str(), Tone::Plain),
                    out.cell(c.state.as_str(), state_tone(c.state)),
                    out.num(c.count),
                ]);
            }
        }
        write_table(w, &t)
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Format;
    use crate::sockets::{SockProto, Source};

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
        });
        SocketsReport {
            source: Source::Netlink,
            processes,
            sockets,
            notes: Vec::new(),
        }
    }

    fn comfy_text(r: &SocketsReport) -> String {
        let out = Output::plain(Format::Table);
        let mut headers: Vec<&str> = HEADERS.to_vec();
        if r.processes {
            headers.extend(["PID", "PROGRAM"]);
        }
        let mut g = Grid::new(headers.len());
        for s in &r.sockets {
            cells(s, r.processes, &mut g);
        }
        let mut buf = Vec::new();
        write_comfy(&out, &headers, &g, &r.sockets, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
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
udp          LISTEN            0       0  127.0.0.1:5555     127.0.0.0:30000     0  100000  4000  python3
tcp          ESTABLISHED       1     100  127.0.0.1:5555     127.0.0.1:30001  1000  100001  4001  python3
unix-stream  LISTEN            0     128  /run/ünïcode.sock  *                   -       9     -  -
";
        assert_eq!(s, want);
    }

    #[test]
    fn json_has_typed_fields() {
        let r = report(1, false);
        let v: serde_json::Value =
            serde_json::from_str(&Output::plain(Format::Json).to_string(&r)).unwrap();
        let s = &v["sockets"][0];
        assert_eq!(s["proto"], "udp");
        assert_eq!(s["state"], "LISTEN");
        assert_eq!(s["local"]["address"], "127.0.0.1");
        assert_eq!(s["local"]["port"], 5555);
        assert_eq!(s["owners"][0]["pid"], 4000);
        assert_eq!(s["owners"][0]["program"], "python3");
        assert_eq!(v["sockets"][1]["proto"], "unix-stream");
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
