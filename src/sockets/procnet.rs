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
