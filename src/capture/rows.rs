//! Packets as rows: the fields of each matched packet (for JSON and CSV) and its readable line, tcpdump-like
//! (`TIME [IFACE DIR] PROTO SRC > DST: DETAILS`), with what relative numbers need (the first time stamp, each
//! TCP direction's initial sequence number).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use super::decode::{Decoded, Direction, TcpSeg, L4};
use super::model::{
    Endpoint, IcmpFields, PacketRow, Quoted, Seen, TcpFields, TimeFormat, UdpFields,
};
use crate::explain::capture::icmp_name;
use crate::services::Proto;

/// An IP protocol's name as lines show it (`TCP`, `ICMP6`, `ip-proto-99`).
fn ip_proto_name(p: u8) -> String {
    match p {
        1 => "ICMP".into(),
        2 => "IGMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        58 => "ICMP6".into(),
        132 => "SCTP".into(),
        p => format!("ip-proto-{p}"),
    }
}

/// The endpoint of an address without a port.
fn bare(a: IpAddr) -> Endpoint {
    Endpoint {
        address: a,
        port: None,
    }
}

fn tcp_flags(f: u8) -> String {
    const NAMES: [(u8, &str); 8] = [
        (0x02, "SYN"),
        (0x01, "FIN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x10, "ACK"),
        (0x20, "URG"),
        (0x40, "ECE"),
        (0x80, "CWR"),
    ];
    let v: Vec<&str> = NAMES
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

fn mac_text(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Turns packets into lines, JSON or CSV rows; keeps what relative numbers need (first time, each TCP
/// direction's initial sequence number).
pub struct Packets {
    pub time: TimeFormat,
    /// Port numbers as numbers (no service names).
    pub numeric: bool,
    pub verbose: bool,
    /// Interface names can be looked up (a live capture on this machine).
    pub live: bool,
    first: Option<f64>,
    prev: Option<f64>,
    isn: HashMap<(IpAddr, u16, IpAddr, u16), u32>,
    names: HashMap<u32, String>,
}

impl Packets {
    pub fn new(time: TimeFormat, numeric: bool, verbose: bool, live: bool) -> Packets {
        Packets {
            time,
            numeric,
            verbose,
            live,
            first: None,
            prev: None,
            isn: HashMap::new(),
            names: HashMap::new(),
        }
    }

    fn iface(&mut self, i: u32) -> String {
        if !self.live {
            return format!("if{i}");
        }
        self.names
            .entry(i)
            .or_insert_with(|| {
                crate::net::packet::interface_name(i).unwrap_or_else(|| format!("if{i}"))
            })
            .clone()
    }

    fn stamp(&mut self, sec: u64, nsec: u32) -> (String, Duration) {
        let t = sec as f64 + f64::from(nsec) / 1e9;
        let first = *self.first.get_or_insert(t);
        let prev = self.prev.replace(t).unwrap_or(t);
        let us = nsec / 1000;
        let s = match self.time {
            TimeFormat::Absolute | TimeFormat::Date => {
                let local = sec as i64 + crate::net::clock::utc_offset(sec as i64);
                let day = local.rem_euclid(86_400);
                let hms = format!(
                    "{:02}:{:02}:{:02}.{us:06}",
                    day / 3600,
                    day / 60 % 60,
                    day % 60
                );
                if self.time == TimeFormat::Date {
                    let (y, m, d) = civil(local.div_euclid(86_400));
                    format!("{y:04}-{m:02}-{d:02} {hms}")
                } else {
                    hms
                }
            }
            TimeFormat::Relative => format!("{:.6}", (t - first).max(0.0)),
            TimeFormat::Delta => format!("{:.6}", (t - prev).max(0.0)),
            TimeFormat::Epoch => format!("{sec}.{us:06}"),
        };
        (s, Duration::from_secs_f64((t - first).max(0.0)))
    }

    fn endpoint(
        &self,
        a: IpAddr,
        port: Option<u16>,
        other: Option<u16>,
        proto: Proto,
    ) -> (String, Endpoint) {
        let host = match a {
            IpAddr::V4(v) => v.to_string(),
            IpAddr::V6(v) => format!("[{v}]"),
        };
        let j = Endpoint { address: a, port };
        let text = match port {
            None => a.to_string(),
            Some(p) => {
                // Name the service side only: the lower port of the two, when the services table knows it.
                let named = (!self.numeric && other.is_none_or(|o| p <= o))
                    .then(|| crate::services::name_of(p, proto))
                    .flatten();
                match named {
                    Some(n) => format!("{host}:{n}"),
                    None => format!("{host}:{p}"),
                }
            }
        };
        (text, j)
    }

    fn relative(&mut self, src: IpAddr, dst: IpAddr, t: &TcpSeg) -> (u32, Option<u32>) {
        const SYN: u8 = 0x02;
        const ACK: u8 = 0x10;
        let k = (src, t.sport, dst, t.dport);
        if self.isn.len() > 100_000 {
            self.isn.clear();
        }
        let base = if t.flags & SYN != 0 {
            self.isn.insert(k, t.seq);
            t.seq
        } else {
            *self.isn.entry(k).or_insert(t.seq)
        };
        let ack = (t.flags & ACK != 0).then(|| {
            let rk = (dst, t.dport, src, t.sport);
            let rb = *self.isn.entry(rk).or_insert(t.ack.wrapping_sub(1));
            t.ack.wrapping_sub(rb)
        });
        (t.seq.wrapping_sub(base), ack)
    }

    /// The fields of one packet.
    pub fn row(&mut self, s: &Seen<'_>) -> PacketRow {
        let d: &Decoded = s.decoded;
        let (stamp, elapsed) = self.stamp(s.sec, s.nsec);
        let time =
            humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::new(s.sec, s.nsec)).to_string();
        let interface = d.ifindex.map(|i| self.iface(i));
        let direction = d
            .direction
            .map(|x| if x == Direction::Out { "out" } else { "in" });
        let mut row = PacketRow {
            time,
            elapsed,
            interface,
            direction,
            protocol: String::new(),
            src: None,
            dst: None,
            length: s.wire_len,
            tcp: None,
            udp: None,
            icmp: None,
            summary: String::new(),
            stamp,
            label: String::new(),
            src_text: String::new(),
            dst_text: String::new(),
        };
        let Some(ip) = d.ip else {
            match d.l4 {
                L4::Arp(a) => {
                    row.label = "ARP".into();
                    row.summary = match a.op {
                        1 => format!("who-has {} tell {}", a.tpa, a.spa),
                        2 => format!("reply {} is-at {}", a.spa, mac_text(&a.sha)),
                        op => format!("operation {op} {} > {}", a.spa, a.tpa),
                    };
                    row.src = Some(bare(IpAddr::V4(a.spa)));
                    row.dst = Some(bare(IpAddr::V4(a.tpa)));
                }
                _ => {
                    row.label = format!("ethertype 0x{:04x}", d.ethertype);
                    row.protocol = format!("ethertype-0x{:04x}", d.ethertype);
                    row.summary = format!("length {}", s.wire_len);
                }
            }
            if row.protocol.is_empty() {
                row.protocol = row.label.to_ascii_lowercase();
            }
            return row;
        };
        let verbose_ip = || {
            let id = ip.id.map(|i| format!(", id {i}")).unwrap_or_default();
            format!(" (ttl {}{id}, iplen {})", ip.ttl, ip.len)
        };
        match d.l4 {
            L4::Tcp(t) => {
                row.label = "TCP".into();
                let (st, sj) = self.endpoint(ip.src, Some(t.sport), Some(t.dport), Proto::Tcp);
                let (dt, dj) = self.endpoint(ip.dst, Some(t.dport), Some(t.sport), Proto::Tcp);
                (row.src_text, row.dst_text, row.src, row.dst) = (st, dt, Some(sj), Some(dj));
                let (seq, ack) = if self.verbose {
                    (t.seq, (t.flags & 0x10 != 0).then_some(t.ack))
                } else {
                    self.relative(ip.src, ip.dst, &t)
                };
                let flags = tcp_flags(t.flags);
                let mut m = format!("[{flags}] seq {seq}");
                if t.len > 0 {
                    let _ = write!(m, ":{}", seq.wrapping_add(t.len));
                }
                if let Some(a) = ack {
                    let _ = write!(m, " ack {a}");
                }
                let _ = write!(m, " win {}", t.win);
                if self.verbose {
                    let mut o = Vec::new();
                    if let Some(v) = t.opts.mss {
                        o.push(format!("mss {v}"));
                    }
                    if t.opts.sack_ok {
                        o.push("sackOK".into());
                    }
                    if let Some((a, b)) = t.opts.ts {
                        o.push(format!("TS val {a} ecr {b}"));
                    }
                    if let Some(v) = t.opts.wscale {
                        o.push(format!("wscale {v}"));
                    }
                    if !o.is_empty() {
                        let _ = write!(m, " [{}]", o.join(","));
                    }
                }
                let _ = write!(m, " len {}", t.len);
                row.tcp = Some(TcpFields {
                    flags,
                    seq,
                    ack,
                    window: t.win,
                    payload_length: t.len,
                });
                row.summary = m;
            }
            L4::Udp { sport, dport, len } => {
                row.label = "UDP".into();
                let (st, sj) = self.endpoint(ip.src, Some(sport), Some(dport), Proto::Udp);
                let (dt, dj) = self.endpoint(ip.dst, Some(dport), Some(sport), Proto::Udp);
                (row.src_text, row.dst_text, row.src, row.dst) = (st, dt, Some(sj), Some(dj));
                row.summary = format!("len {len}");
                row.udp = Some(UdpFields {
                    payload_length: len,
                });
            }
            L4::Icmp(m) => {
                row.label = if m.v6 { "ICMP6".into() } else { "ICMP".into() };
                let (st, sj) = self.endpoint(ip.src, None, None, Proto::Tcp);
                let (dt, dj) = self.endpoint(ip.dst, None, None, Proto::Tcp);
                (row.src_text, row.dst_text, row.src, row.dst) = (st, dt, Some(sj), Some(dj));
                let name = icmp_name(m.v6, m.ty, m.code);
                let mut text = format!("{name} ({}/{})", m.ty, m.code);
                if let Some((id, seq)) = m.echo {
                    let _ = write!(text, " id {id} seq {seq}");
                }
                let mut quoted = None;
                if let Some(q) = m.quoted {
                    let (qs, qsj) = self.endpoint(q.src, q.sport, None, Proto::Tcp);
                    let (qd, qdj) = self.endpoint(q.dst, q.dport, None, Proto::Tcp);
                    let _ = write!(text, " for {} {qs} > {qd}", ip_proto_name(q.protocol));
                    quoted = Some(Quoted {
                        protocol: ip_proto_name(q.protocol).to_ascii_lowercase(),
                        src: qsj,
                        dst: qdj,
                    });
                }
                let _ = write!(text, " len {}", m.len);
                row.icmp = Some(IcmpFields {
                    ty: m.ty,
                    code: m.code,
                    name,
                    quoted,
                });
                row.summary = text;
            }
            L4::Fragment { protocol } => {
                row.label = ip_proto_name(protocol);
                (row.src_text, row.dst_text) = (ip.src.to_string(), ip.dst.to_string());
                row.src = Some(bare(ip.src));
                row.dst = Some(bare(ip.dst));
                row.summary = format!("fragment, iplen {}", ip.len);
            }
            L4::Other { protocol } => {
                row.label = ip_proto_name(protocol);
                (row.src_text, row.dst_text) = (ip.src.to_string(), ip.dst.to_string());
                row.src = Some(bare(ip.src));
                row.dst = Some(bare(ip.dst));
                row.summary = format!("iplen {}", ip.len);
            }
            L4::None | L4::Arp(_) => {
                row.label = if ip.src.is_ipv6() {
                    "IP6".into()
                } else {
                    "IP".into()
                };
                (row.src_text, row.dst_text) = (ip.src.to_string(), ip.dst.to_string());
                row.src = Some(bare(ip.src));
                row.dst = Some(bare(ip.dst));
                row.summary = format!("truncated, iplen {}", ip.len);
            }
        }
        row.protocol = row.label.to_ascii_lowercase();
        if self.verbose {
            row.summary.push_str(&verbose_ip());
        }
        row
    }

    /// One readable line: `TIME [IFACE DIR] PROTO SRC > DST: DETAILS`.
    pub fn line(&mut self, s: &Seen<'_>) -> String {
        let r = self.row(s);
        let mut l = r.stamp.clone();
        if let (Some(i), Some(d)) = (&r.interface, r.direction) {
            let _ = write!(l, " {i} {}", if d == "out" { "Out" } else { "In " });
        }
        if r.src_text.is_empty() {
            let _ = write!(l, " {} {}", r.label, r.summary);
        } else {
            let _ = write!(
                l,
                " {} {} > {}: {}",
                r.label, r.src_text, r.dst_text, r.summary
            );
        }
        l
    }
}

/// Days since 1970-01-01 as (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(civil(20_513), (2026, 3, 1));
    }

    #[test]
    fn flags_and_icmp_names() {
        assert_eq!(tcp_flags(0x12), "SYN,ACK");
        assert_eq!(tcp_flags(0x18), "PSH,ACK");
        assert_eq!(icmp_name(false, 3, 3), "port unreachable");
        assert_eq!(icmp_name(true, 1, 4), "port unreachable");
        assert_eq!(icmp_name(false, 99, 1), "type 99 code 1");
    }
}
