//! Ping as text: iputils' lines for one host (a line per reply, then the statistics) and fping's table for many.

use std::io::{self, Write};
use std::net::IpAddr;

use super::model::{HostResult, IcmpErrorReport, Method, PingReport, ReplyRecord};
use crate::explain::Verdict;
use crate::render::{write_table, Output, Report, Tone};

/// TCP ping's ports as a sentence: `80, then 443`.
pub(crate) fn ports_text(ports: &[u16]) -> String {
    let v: Vec<String> = ports.iter().map(u16::to_string).collect();
    v.join(", then ")
}

/// Loss as ping prints it: `0`, `25`, `66.667`.
pub fn fmt_percent(p: f64) -> String {
    let s = format!("{p:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn fmt_rtt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

/// The iputils-style header line for one host: `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.`
pub fn header_line(
    host: &str,
    addr: IpAddr,
    size: usize,
    method: Method,
    tcp_ports: &[u16],
) -> String {
    match method {
        Method::Tcp => format!(
            "PING {host} ({addr}) TCP connect to port {}",
            ports_text(tcp_ports)
        ),
        Method::Icmp if addr.is_ipv6() => format!("PING {host} ({addr}) {size} data bytes"),
        Method::Icmp => format!("PING {host} ({addr}) {size}({}) bytes of data.", size + 28),
    }
}

/// The iputils-style line for one reply: `64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.033 ms`.
pub fn reply_line(address: IpAddr, r: &ReplyRecord) -> String {
    let t = r.rtt.as_secs_f64() * 1000.0;
    let time = if t < 1.0 {
        format!("{t:.3}")
    } else if t < 10.0 {
        format!("{t:.2}")
    } else {
        format!("{t:.1}")
    };
    let dup = if r.duplicate { " (DUP!)" } else { "" };
    match r.tcp_port {
        Some(port) => {
            let how = if r.refused == Some(true) {
                "refused"
            } else {
                "connected"
            };
            format!(
                "tcp {how} from {address}:{port}: seq={} time={time} ms{dup}",
                r.seq
            )
        }
        None => {
            let ttl = r.ttl.map(|t| format!(" ttl={t}")).unwrap_or_default();
            format!(
                "{} bytes from {address}: icmp_seq={}{ttl} time={time} ms{dup}",
                r.bytes, r.seq
            )
        }
    }
}

/// The line for an ICMP error: `From 10.0.0.1 icmp_seq=1 Destination Host Unreachable`.
pub fn error_line(e: &IcmpErrorReport) -> String {
    format!(
        "From {} icmp_seq={} {}",
        e.from,
        e.seq,
        e.message.ping_words()
    )
}

impl PingReport {
    fn render_single(&self, h: &HostResult, w: &mut dyn Write) -> io::Result<()> {
        let Some(addr) = h.address else {
            // Never pinged: the name did not resolve.
            let (why, code) = h
                .error
                .as_ref()
                .map(|e| (e.sentence(), e.code.clone()))
                .unwrap_or_default();
            return writeln!(w, "{}: {}: {why} ({code})", h.host, h.status);
        };
        let shown = addr.to_string();
        writeln!(w)?;
        writeln!(
            w,
            "--- {shown} ping statistics ({}) ---",
            self.method_label()
        )?;
        let mut line = format!("{} packets transmitted, {} received", h.sent, h.received);
        if h.duplicates > 0 {
            line.push_str(&format!(", +{} duplicates", h.duplicates));
        }
        if h.errors > 0 {
            line.push_str(&format!(", +{} errors", h.errors));
        }
        if h.unfinished > 0 {
            line.push_str(&format!(", +{} unfinished", h.unfinished));
        }
        line.push_str(&format!(
            ", {}% packet loss, time {}ms",
            fmt_percent(h.loss_percent),
            self.elapsed.as_millis()
        ));
        writeln!(w, "{line}")?;
        if let Some(r) = &h.rtt {
            writeln!(
                w,
                "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
                r.min_ms, r.avg_ms, r.max_ms, r.mdev_ms
            )?;
        }
        match &h.error {
            Some(e) if h.status == Verdict::Interrupted => {
                writeln!(w, "{}: {}", h.status, e.cause)?
            }
            Some(e) => writeln!(w, "{}: {} ({})", h.status, e.sentence(), e.code)?,
            None => {}
        }
        if self.interrupted {
            writeln!(w, "interrupted: statistics so far")?;
        }
        Ok(())
    }
}

impl Report for PingReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        if let [h] = self.hosts.as_slice() {
            return self.render_single(h, w);
        }
        let mut t = out.table(&[
            "HOST", "ADDRESS", "STATUS", "SENT", "RECV", "LOSS", "MIN ms", "AVG ms", "MAX ms",
            "MDEV ms", "DETAIL",
        ]);
        let shown = self
            .hosts
            .iter()
            .filter(|h| !(self.failures_only && h.alive()));
        for h in shown {
            let tone = if h.alive() {
                Tone::Good
            } else if h.status == Verdict::Interrupted {
                Tone::Warn
            } else {
                Tone::Bad
            };
            let status = if h.alive() {
                "alive".to_string()
            } else {
                h.status.to_string()
            };
            let r = h.rtt;
            let detail = match (&h.error, h.duplicates) {
                (Some(e), _) => e.cause.clone(),
                (None, d) if d > 0 => format!("+{d} duplicates"),
                _ => String::new(),
            };
            t.add_row(vec![
                out.cell(&h.host, Tone::Plain),
                out.cell(
                    h.address
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "-".into()),
                    Tone::Plain,
                ),
                out.cell(status, tone),
                out.num(h.sent),
                out.num(h.received),
                out.num(if h.sent == 0 {
                    "-".to_string()
                } else {
                    format!("{}%", fmt_percent(h.loss_percent))
                }),
                out.num(fmt_rtt(r.map(|r| r.min_ms))),
                out.num(fmt_rtt(r.map(|r| r.avg_ms))),
                out.num(fmt_rtt(r.map(|r| r.max_ms))),
                out.num(fmt_rtt(r.map(|r| r.mdev_ms))),
                out.cell(detail, Tone::Dim),
            ]);
        }
        if t.row_count() > 0 {
            write_table(w, &t)?;
        }
        let alive = out.paint(&format!("{} alive", self.alive), Tone::Good);
        let down = out.paint(
            &format!("{} unreachable", self.unreachable),
            if self.unreachable > 0 {
                Tone::Bad
            } else {
                Tone::Plain
            },
        );
        let unfinished = if self.unfinished > 0 {
            out.paint(&format!(", {} interrupted", self.unfinished), Tone::Warn)
        } else {
            String::new()
        };
        writeln!(
            w,
            "{alive}, {down}{unfinished} ({} hosts, {}, {})",
            self.hosts.len(),
            self.method_label(),
            crate::duration::fmt_ms(self.elapsed)
        )?;
        if self.interrupted {
            writeln!(w, "interrupted: results so far")?;
        }
        Ok(())
    }
}
