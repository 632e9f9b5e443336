//! The fallback source: the text tables in /proc/net/{tcp,tcp6,udp,udp6,unix}, as `netstat` reads them.
//!
//! [`parse_inet_line`] and [`parse_unix_line`] are pure functions over one line's bytes that never panic; they
//! work on byte slices with no regex, and skip (return `None` for) headers and malformed lines.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::model::{Endpoint, SockProto, SocketRow, State};

/// Reads one /proc/net table (TCP/UDP over one family, or every UNIX socket) into `out`.
#[cfg(target_os = "linux")]
pub fn read(proto: SockProto, v6: bool, out: &mut Vec<SocketRow>) -> anyhow::Result<()> {
    use anyhow::Context;
    let path = match (proto, v6) {
        (SockProto::Tcp, false) => "/proc/net/tcp",
        (SockProto::Tcp, true) => "/proc/net/tcp6",
        (SockProto::Udp, false) => "/proc/net/udp",
        (SockProto::Udp, true) => "/proc/net/udp6",
        _ => "/proc/net/unix",
    };
    let text = match std::fs::read(path) {
        Ok(t) => t,
        // No IPv6 in this kernel: no IPv6 sockets.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && v6 => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {path}")),
    };
    parse_table(&text, proto, out);
    Ok(())
}

/// The kernel's socket counters as `ss -s` reads them: /proc/net/sockstat, /proc/net/sockstat6 (absent without
/// IPv6) and the `Tcp:` CurrEstab of /proc/net/snmp. Three small reads, no socket walk.
#[cfg(target_os = "linux")]
pub fn read_counters() -> anyhow::Result<super::model::SummaryReport> {
    use anyhow::Context;
    let read = |path: &str, optional: bool| match std::fs::read(path) {
        Ok(t) => Ok(t),
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {path}")),
    };
    let v4 = read("/proc/net/sockstat", false)?;
    let v6 = read("/proc/net/sockstat6", true)?;
    let snmp = read("/proc/net/snmp", true)?;
    Ok(summary_from_counters(&v4, &v6, &snmp))
}

/// The value after `key` on the line that starts with `prefix` (`TCP:` / `inuse`), 0 when absent. Pure.
fn stat(text: &[u8], prefix: &str, key: &str) -> usize {
    let text = String::from_utf8_lossy(text);
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        if words.next() != Some(prefix) {
            continue;
        }
        while let Some(w) = words.next() {
            if w == key {
                return words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
    }
    0
}

/// CurrEstab from /proc/net/snmp: the `Tcp:` header line names the fields, the next `Tcp:` line has the values.
fn snmp_curr_estab(text: &[u8]) -> usize {
    let text = String::from_utf8_lossy(text);
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else {
        return 0;
    };
    names
        .split_ascii_whitespace()
        .zip(values.split_ascii_whitespace())
        .find(|(n, _)| *n == "CurrEstab")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Builds the `ss -s` summary from the counter files' text. Pure; never panics.
pub fn summary_from_counters(v4: &[u8], v6: &[u8], snmp: &[u8]) -> super::model::SummaryReport {
    use super::model::{ProtoCount, Source, StateCount, SummaryReport, TcpCounters};
    let tcp4 = stat(v4, "TCP:", "inuse");
    let tcp6 = stat(v6, "TCP6:", "inuse");
    let tw = stat(v4, "TCP:", "tw");
    let alloc = stat(v4, "TCP:", "alloc");
    let hashed = tcp4 + tcp6;
    let tcp = TcpCounters {
        // ss: tcp_total + tcp_tws, closed = tcp_total - (hashed - tws).
        total: alloc + tw,
        established: snmp_curr_estab(snmp),
        closed: (alloc + tw).saturating_sub(hashed),
        orphaned: stat(v4, "TCP:", "orphan"),
        time_wait: tw,
    };
    let row = |proto: &'static str, ipv4: usize, ipv6: usize, states: Vec<StateCount>| ProtoCount {
        proto,
        total: ipv4 + ipv6,
        ipv4,
        ipv6,
        states,
    };
    let raw = (stat(v4, "RAW:", "inuse"), stat(v6, "RAW6:", "inuse"));
    let udp = (stat(v4, "UDP:", "inuse"), stat(v6, "UDP6:", "inuse"));
    let frag = (stat(v4, "FRAG:", "inuse"), stat(v6, "FRAG6:", "inuse"));
    let mut tcp_states = vec![
        StateCount {
            state: State::Established,
            count: tcp.established,
        },
        StateCount {
            state: State::TimeWait,
            count: tcp.time_wait,
        },
    ];
    tcp_states.sort_by(|a, b| b.count.cmp(&a.count).then(a.state.cmp(&b.state)));
    let protocols = vec![
        row("raw", raw.0, raw.1, Vec::new()),
        row("udp", udp.0, udp.1, Vec::new()),
        row("tcp", tcp4, tcp6, tcp_states),
        row(
            "inet",
            raw.0 + udp.0 + tcp4,
            raw.1 + udp.1 + tcp6,
            Vec::new(),
        ),
        row("frag", frag.0, frag.1, Vec::new()),
    ];
    SummaryReport {
        source: Source::Counters,
        total: stat(v4, "sockets:", "used"),
        tcp: Some(tcp),
        protocols,
        notes: Vec::new(),
        interrupted: false,
    }
}

/// Parses a whole /proc/net table (header included) and appends its rows. Pure; never panics.
pub fn parse_table(text: &[u8], proto: SockProto, out: &mut Vec<SocketRow>) {
    for line in text.split(|b| *b == b'\n').skip(1) {
        let row = if proto.is_unix() {
            parse_unix_line(line)
        } else {
            parse_inet_line(line, proto)
        };
        if let Some(r) = row {
            out.push(r);
        }
    }
}

fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
}

fn hex_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &b in s {
        let d = (b as char).to_digit(16)?;
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

fn hex_u32(s: &[u8]) -> Option<u32> {
    if s.len() > 8 {
        return None;
    }
    hex_u64(s).map(|v| v as u32)
}

fn dec_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v = 0u64;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// `0100007F:1F90` → 127.0.0.1:8080. The kernel prints each 32-bit word of the address in host byte order.
fn endpoint(s: &[u8]) -> Option<Endpoint> {
    let colon = s.iter().position(|b| *b == b':')?;
    let (addr, port) = (&s[..colon], &s[colon + 1..]);
    if port.len() != 4 {
        return None;
    }
    let port = hex_u32(port)? as u16;
    let ip: IpAddr = match addr.len() {
        8 => Ipv4Addr::from(hex_u32(addr)?.to_ne_bytes()).into(),
        32 => {
            let mut b = [0u8; 16];
            for (i, chunk) in addr.chunks(8).enumerate() {
                b[i * 4..i * 4 + 4].copy_from_slice(&hex_u32(chunk)?.to_ne_bytes());
            }
            Ipv6Addr::from(b).into()
        }
        _ => return None,
    };
    Some(Endpoint::inet(ip, port))
}

/// Parses one line of /proc/net/{tcp,tcp6,udp,udp6}:
/// `sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...`. Pure; `None` for the
/// header and for anything malformed.
pub fn parse_inet_line(line: &[u8], proto: SockProto) -> Option<SocketRow> {
    let mut f = fields(line);
    let sl = f.next()?;
    if sl.last() != Some(&b':') {
        return None;
    }
    let local = endpoint(f.next()?)?;
    let peer = endpoint(f.next()?)?;
    if local.ip()?.is_ipv4() != peer.ip()?.is_ipv4() {
        return None;
    }
    let st = f.next()?;
    if st.len() != 2 {
        return None;
    }
    let state = State::from_kernel(proto, hex_u32(st)? as u8);
    let queues = f.next()?;
    let colon = queues.iter().position(|b| *b == b':')?;
    let tx = hex_u32(&queues[..colon])?;
    let rx = hex_u32(&queues[colon + 1..])?;
    let _timer = f.next()?;
    let _retransmits = f.next()?;
    let uid = u32::try_from(dec_u64(f.next()?)?).ok()?;
    let _timeout = f.next()?;
    let inode = dec_u64(f.next()?)?;
    Some(SocketRow {
        proto,
        state,
        recv_q: rx,
        send_q: tx,
        local,
        peer,
        uid: Some(uid),
        inode,
        owners: None,
        v6only: None,
        tcp_info: None,
        timer: None,
        iface: 0,
    })
}

/// Parses one line of /proc/net/unix: `Num RefCount Protocol Flags Type St Inode [Path]`. Pure; `None` for the
/// header and for anything malformed. The path is everything after the inode (it may hold spaces).
pub fn parse_unix_line(line: &[u8]) -> Option<SocketRow> {
    let mut rest = line;
    let mut take = || -> Option<&[u8]> {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let r = &rest[start..];
        let end = r
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(r.len());
        let (field, tail) = r.split_at(end);
        rest = tail;
        Some(field)
    };
    let num = take()?;
    if num.last() != Some(&b':') {
        return None;
    }
    let _refcount = hex_u32(take()?)?;
    let _protocol = hex_u32(take()?)?;
    let flags = hex_u32(take()?)?;
    let proto = SockProto::from_unix_type(hex_u32(take()?)?)?;
    let st = hex_u32(take()?)?;
    let inode = dec_u64(take()?)?;
    const SO_ACCEPTCON: u32 = 1 << 16;
    let state = match st {
        _ if flags & SO_ACCEPTCON != 0 => State::Listen,
        1 => State::Unconn,
        2 => State::SynSent,
        3 => State::Established,
        4 => State::Closing,
        _ => return None,
    };
    let path = rest.strip_prefix(b" ").unwrap_or(rest);
    let path = path.strip_suffix(b"\r").unwrap_or(path);
    let path = (!path.is_empty()).then(|| super_path(path));
    Some(SocketRow {
        proto,
        state,
        recv_q: 0,
        send_q: 0,
        local: Endpoint::Unix {
            path,
            peer_inode: None,
        },
        peer: Endpoint::Unix {
            path: None,
            peer_inode: None,
        },
        uid: None,
        inode,
        owners: None,
        v6only: None,
        tcp_info: None,
        timer: None,
        iface: 0,
    })
}

fn super_path(p: &[u8]) -> String {
    String::from_utf8_lossy(p)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn counters_make_ss_summary() {
        let v4 =
            b"sockets: used 190\nTCP: inuse 8 orphan 1 tw 2 alloc 12 mem 3\nUDP: inuse 4 mem 0\n\
UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n";
        let v6 = b"TCP6: inuse 3\nUDP6: inuse 2\nUDPLITE6: inuse 0\nRAW6: inuse 1\nFRAG6: inuse 0 memory 0\n";
        let snmp = b"Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin CurrEstab InSegs\nTcp: 1 200 3 99\n";
        let r = super::summary_from_counters(v4, v6, snmp);
        assert_eq!(r.total, 190);
        let t = r.tcp.unwrap();
        // ss: "TCP: 14 (estab 3, closed 3, orphaned 1, timewait 2)"
        assert_eq!(
            (t.total, t.established, t.closed, t.orphaned, t.time_wait),
            (14, 3, 3, 1, 2)
        );
        let got: Vec<_> = r
            .protocols
            .iter()
            .map(|p| (p.proto, p.total, p.ipv4, p.ipv6))
            .collect();
        assert_eq!(
            got,
            [
                ("raw", 1, 0, 1),
                ("udp", 6, 4, 2),
                ("tcp", 11, 8, 3),
                ("inet", 18, 12, 6),
                ("frag", 0, 0, 0)
            ]
        );
        // Garbage never panics.
        let r = super::summary_from_counters(b"TCP: inuse x tw", b"\xff", b"Tcp:");
        assert_eq!(r.total, 0);
    }

    use super::*;

    // Captured from /proc/net/tcp, tcp6, udp and unix on an x86-64 Linux 6.x machine.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:15B3 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0
   1: 0100007F:15B3 0100007F:D2F0 01 00000010:00000000 01:00000014 00000000  1000        0 123457 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D2F2 0100007F:15B3 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 98765 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000200007F:C350 01 00000000:00000000 00:00000000 00000000    33        0 98766 1 0000000000000000 20 4 30 10 -1
";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  181: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 4321 2 0000000000000000 0
";
    const UNIX: &str = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/systemd/notify
0000000000000000: 00000003 00000000 00000000 0001 03 23457
0000000000000000: 00000002 00000000 00000000 0002 01 23458 @/tmp/abstract name
0000000000000000: 00000002 00000000 00010000 0005 01 23459 /run/with space.sock
";

    fn table(text: &str, proto: SockProto) -> Vec<SocketRow> {
        let mut v = Vec::new();
        parse_table(text.as_bytes(), proto, &mut v);
        v
    }

    #[test]
    fn parses_tcp_lines() {
        let rows = table(TCP, SockProto::Tcp);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].state, State::Listen);
        assert_eq!(
            rows[0].local,
            Endpoint::inet("127.0.0.1".parse().unwrap(), 5555)
        );
        assert_eq!(rows[0].peer, Endpoint::inet("0.0.0.0".parse().unwrap(), 0));
        assert_eq!((rows[0].recv_q, rows[0].send_q), (2, 0));
        assert_eq!(rows[0].inode, 123456);
        assert_eq!(rows[1].state, State::Established);
        assert_eq!(
            rows[1].peer,
            Endpoint::inet("127.0.0.1".parse().unwrap(), 54000)
        );
        assert_eq!((rows[1].send_q, rows[1].uid), (16, Some(1000)));
        assert_eq!((rows[2].state, rows[2].inode), (State::TimeWait, 0));
    }

    #[test]
    fn parses_tcp6_lines_including_mapped_addresses() {
        let rows = table(TCP6, SockProto::Tcp);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].local, Endpoint::inet("::1".parse().unwrap(), 8080));
        assert_eq!(
            rows[1].local,
            Endpoint::inet("::ffff:127.0.0.1".parse().unwrap(), 80)
        );
        assert_eq!(
            rows[1].peer,
            Endpoint::inet("::ffff:127.0.0.2".parse().unwrap(), 50000)
        );
        assert_eq!(rows[1].uid, Some(33));
    }

    #[test]
    fn udp_close_is_unconn() {
        let rows = table(UDP, SockProto::Udp);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, State::Unconn);
        assert_eq!(
            rows[0].local,
            Endpoint::inet("127.0.0.53".parse().unwrap(), 53)
        );
    }

    #[test]
    fn parses_unix_lines() {
        let rows = table(UNIX, SockProto::UnixStream);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            (rows[0].proto, rows[0].state),
            (SockProto::UnixStream, State::Listen)
        );
        assert_eq!(
            rows[0].local,
            Endpoint::Unix {
                path: Some("/run/systemd/notify".into()),
                peer_inode: None
            }
        );
        assert_eq!(rows[1].state, State::Established);
        assert_eq!(
            rows[1].local,
            Endpoint::Unix {
                path: None,
                peer_inode: None
            }
        );
        assert_eq!(
            (rows[2].proto, rows[2].state),
            (SockProto::UnixDgram, State::Unconn)
        );
        assert_eq!(
            rows[2].local,
            Endpoint::Unix {
                path: Some("@/tmp/abstract name".into()),
                peer_inode: None
            }
        );
        assert_eq!(rows[3].proto, SockProto::UnixSeqpacket);
        assert_eq!(rows[3].inode, 23459);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let bad = [
            "",
            "   ",
            "  sl  local_address rem_address   st",
            "   0: 0100007F:15B3",
            "   0: 0100007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0",
            "   0: 0100007G:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
            "   0: 0100007F:15B 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
            "   0: 0100007F15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
            "   0: 0100007F:15B3 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1",
            "   0: 0100007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 -1 0 1",
            "   0: 0100007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 99999999999999999999999",
            "   0: 0100007F:15B3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
            "   0 0100007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
            "   0: ::15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
            "   0: 0100007F:15B3 00000000:0000 0AB 00000000:00000000 00:00000000 00000000 0 0 1",
            "\u{fffd}\u{fffd}: \u{1F600}",
        ];
        for line in bad {
            assert!(
                parse_inet_line(line.as_bytes(), SockProto::Tcp).is_none(),
                "{line:?}"
            );
            assert!(parse_unix_line(line.as_bytes()).is_none(), "{line:?}");
        }
        for line in [
            "0000000000000000: 00000002 00000000 00010000 0003 01 23456 /x",
            "0000000000000000: 00000002 00000000 00000000 0001 09 23456",
            "0000000000000000: 00000002 00000000 00000000 0001 01 -5",
            "0000000000000000: 00000002 00000000 zz 0001 01 5",
        ] {
            assert!(parse_unix_line(line.as_bytes()).is_none(), "{line:?}");
        }
    }

    #[test]
    fn never_panics_on_prefixes_and_bytes() {
        for text in [TCP, TCP6, UDP, UNIX] {
            let b = text.as_bytes();
            for end in 0..b.len() {
                let _ = parse_inet_line(&b[..end], SockProto::Tcp);
                let _ = parse_inet_line(&b[end..], SockProto::Udp);
                let _ = parse_unix_line(&b[..end]);
                let _ = parse_unix_line(&b[end..]);
            }
        }
        let noise: Vec<u8> = (0u16..512).map(|i| (i * 37 % 256) as u8).collect();
        let _ = parse_inet_line(&noise, SockProto::Tcp);
        let _ = parse_unix_line(&noise);
    }
}
