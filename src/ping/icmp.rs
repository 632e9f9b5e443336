//! The ICMP engine: one socket per address family for every target (raw when permitted, else the unprivileged
//! datagram "ping" socket), paced sends, and a poll loop that matches replies by source, identifier and
//! sequence (plus a run token in the data), counts duplicates and ignores everything else.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::model::{IcmpErrorReport, PingEvent, PingRequest, ReplyRecord};
use super::packet::{self, Parsed, TOKEN_LEN};
use super::schedule::{HostState, Schedule};
use crate::explain;
use crate::explain::icmp::Message;
use crate::interrupt;
use crate::net::{
    self,
    errqueue::Origin,
    icmp::{IcmpKind, IcmpOptions, IcmpSocket},
    poll::{self, Interest, PollFd},
    sockopt::PmtuDiscovery,
};

/// Why the sockets could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Neither a raw nor a datagram ICMP socket is allowed for this process.
    NotPermitted(String),
    Other(io::Error),
}

/// Largest datagram read.
const RECV_MAX: usize = 65_536 + 128;

/// Opens the ICMP socket of a family (raw when permitted, else datagram) with ping's options.
fn open_socket(v6: bool, ttl: Option<u8>, dont_fragment: bool) -> Result<IcmpSocket, OpenError> {
    let opts = IcmpOptions {
        hop_limit: ttl,
        // Path MTU discovery "do": the DF bit is set and an oversized echo fails with EMSGSIZE, as ping -M do.
        pmtu: dont_fragment.then_some(PmtuDiscovery::Do),
        ..IcmpOptions::echo(v6)
    };
    IcmpSocket::open(v6, &opts).map_err(|e| match e {
        net::OpenError::NotPermitted(e) => OpenError::NotPermitted(explain::io_error(&e).code),
        net::OpenError::Other(e) => OpenError::Other(e),
    })
}

/// The echo identifier of host `host`'s requests: the kernel's on a datagram socket, `base + host` on raw.
fn id_for(sock: &IcmpSocket, base: u16, host: usize) -> u16 {
    sock.ident()
        .unwrap_or_else(|| base.wrapping_add(host as u16))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Replied,
    Errored,
}

struct Probe {
    key: (IpAddr, u16, u16),
    host: usize,
    seq: u16,
    sent: Instant,
    /// Wall-clock send time, to compare with the kernel's receive timestamp.
    sent_wall: Option<Duration>,
    state: State,
}

/// The probes in flight, in send order (so timeouts expire from the front), with a map from
/// (address, identifier, sequence) to the probe's serial number.
#[derive(Default)]
pub(crate) struct Inflight {
    probes: VecDeque<Probe>,
    first_serial: u64,
    by_key: HashMap<(IpAddr, u16, u16), u64>,
    pending: usize,
    /// The next sequence number on the wire for datagram sockets, where every probe shares the kernel's
    /// identifier: one counter for all hosts keeps (address, id, seq) unique even when two names resolve to
    /// the same address.
    wire_seq: u16,
}

/// What a received message means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Match {
    Reply {
        host: usize,
        /// The host's own sequence number (icmp_seq as shown), whatever went on the wire.
        seq: u16,
        rtt: Duration,
        duplicate: bool,
    },
    Error {
        host: usize,
        seq: u16,
    },
    /// Not ours, or too late.
    Ignore,
}

impl Inflight {
    fn push(
        &mut self,
        key: (IpAddr, u16, u16),
        host: usize,
        seq: u16,
        sent: Instant,
        sent_wall: Option<Duration>,
    ) {
        let serial = self.first_serial + self.probes.len() as u64;
        self.by_key.insert(key, serial);
        self.probes.push_back(Probe {
            key,
            host,
            seq,
            sent,
            sent_wall,
            state: State::Pending,
        });
        self.pending += 1;
    }

    fn get(&mut self, key: &(IpAddr, u16, u16)) -> Option<&mut Probe> {
        let serial = *self.by_key.get(key)?;
        let idx = serial.checked_sub(self.first_serial)?;
        self.probes.get_mut(usize::try_from(idx).ok()?)
    }

    /// Matches a parsed message from `src` against the probes in flight. Pure apart from updating the probe's
    /// state; `token` is checked when the request carried one.
    pub(crate) fn classify(
        &mut self,
        parsed: &Parsed,
        src: Option<IpAddr>,
        token: Option<[u8; TOKEN_LEN]>,
        now: Instant,
        rx_wall: Option<Duration>,
    ) -> Match {
        match parsed {
            Parsed::EchoReply {
                id,
                seq,
                token: got,
                source,
                ..
            } => {
                let Some(src) = src.or(*source) else {
                    return Match::Ignore;
                };
                if token.is_some() && *got != token {
                    return Match::Ignore;
                }
                let Some(p) = self.get(&(src, *id, *seq)) else {
                    return Match::Ignore;
                };
                let mono = now.saturating_duration_since(p.sent);
                // The kernel timestamp when it is sane (the wall clock can step); our own clock otherwise.
                let rtt = match (rx_wall, p.sent_wall) {
                    (Some(rx), Some(tx)) if rx >= tx && rx - tx <= mono => rx - tx,
                    _ => mono,
                };
                let (host, seq) = (p.host, p.seq);
                match p.state {
                    State::Pending => {
                        p.state = State::Replied;
                        self.pending -= 1;
                        Match::Reply {
                            host,
                            seq,
                            rtt,
                            duplicate: false,
                        }
                    }
                    State::Replied => Match::Reply {
                        host,
                        seq,
                        rtt,
                        duplicate: true,
                    },
                    State::Errored => Match::Ignore,
                }
            }
            Parsed::Error {
                original_destination,
                id,
                seq,
                ..
            } => {
                let Some(p) = self.get(&(*original_destination, *id, *seq)) else {
                    return Match::Ignore;
                };
                if p.state != State::Pending {
                    return Match::Ignore;
                }
                p.state = State::Errored;
                let (host, seq) = (p.host, p.seq);
                self.pending -= 1;
                Match::Error { host, seq }
            }
        }
    }

    /// Forgets probes sent more than `timeout` ago (unanswered ones are lost). Returns when the next one
    /// expires.
    fn expire(&mut self, now: Instant, timeout: Duration) -> Option<Instant> {
        while let Some(front) = self.probes.front() {
            let until = front.sent + timeout;
            if until > now {
                return Some(until);
            }
            if front.state == State::Pending {
                self.pending -= 1;
            }
            if self.by_key.get(&front.key) == Some(&self.first_serial) {
                self.by_key.remove(&front.key);
            }
            self.probes.pop_front();
            self.first_serial += 1;
        }
        None
    }

    /// The hosts of the probes still waiting for a reply that had no time to answer yet (sent less than
    /// `window(host)` ago), one entry per probe.
    fn unfinished(&self, now: Instant, window: impl Fn(usize) -> Duration) -> Vec<usize> {
        self.probes
            .iter()
            .filter(|p| p.state == State::Pending && p.sent + window(p.host) > now)
            .map(|p| p.host)
            .collect()
    }

    /// Drops every probe: the run is over; anything unanswered is lost.
    fn clear(&mut self) {
        self.probes.clear();
        self.by_key.clear();
        self.pending = 0;
    }
}

/// Open sockets for the families in use.
pub(crate) struct Engine {
    v4: Option<IcmpSocket>,
    v6: Option<IcmpSocket>,
    /// Per-family open failures other than permission (IPv6 disabled, ...): hosts of that family get it.
    v6_error: Option<io::Error>,
    v4_error: Option<io::Error>,
}

impl Engine {
    /// Opens one socket per family listed (`false` = IPv4, `true` = IPv6).
    pub fn open(families: &[bool], req: &PingRequest) -> Result<Engine, OpenError> {
        let mut e = Engine {
            v4: None,
            v6: None,
            v4_error: None,
            v6_error: None,
        };
        for &v6 in families {
            match open_socket(v6, req.ttl, req.dont_fragment) {
                Ok(s) if v6 => e.v6 = Some(s),
                Ok(s) => e.v4 = Some(s),
                Err(OpenError::Other(err)) if families.len() > 1 => {
                    if v6 {
                        e.v6_error = Some(err)
                    } else {
                        e.v4_error = Some(err)
                    }
                }
                Err(err) => return Err(err),
            }
        }
        if families.len() > 1 && e.v4.is_none() && e.v6.is_none() {
            return Err(OpenError::Other(
                e.v4_error
                    .take()
                    .unwrap_or_else(|| io::Error::from(io::ErrorKind::Unsupported)),
            ));
        }
        Ok(e)
    }

    pub fn socket_kind(&self) -> &'static str {
        let k = self.v4.as_ref().or(self.v6.as_ref()).map(|s| s.kind());
        match k {
            Some(IcmpKind::Datagram) => "datagram",
            _ => "raw",
        }
    }

    fn sock(&self, v6: bool) -> Option<&IcmpSocket> {
        if v6 {
            self.v6.as_ref()
        } else {
            self.v4.as_ref()
        }
    }

    /// Runs the sweep to the end (count, deadline or Ctrl-C). Returns whether it was interrupted.
    pub fn run(
        &self,
        req: &PingRequest,
        hosts: &mut [HostState],
        start: Instant,
        on_event: &mut dyn FnMut(&PingEvent),
    ) -> anyhow::Result<bool> {
        for h in hosts.iter_mut() {
            let Some(a) = h.addr else { continue };
            let err = if a.is_ipv6() {
                &self.v6_error
            } else {
                &self.v4_error
            };
            if let Some(e) = err {
                h.send_error = Some(explain::io_error(e));
            }
        }
        let rs = std::collections::hash_map::RandomState::new();
        let mut hasher = rs.build_hasher();
        hasher.write_u32(std::process::id());
        let random = hasher.finish();
        let token = random.to_be_bytes();
        let base_id = (random >> 48) as u16;
        let data = packet::payload(token, req.size);
        let check_token = (req.size >= TOKEN_LEN).then_some(token);
        let mut sched = Schedule::new(hosts, req, start);
        let mut inflight = Inflight::default();
        let end = req.deadline.map(|d| start + d);
        let mut buf = vec![0u8; RECV_MAX];
        let socks: Vec<&IcmpSocket> = [self.v4.as_ref(), self.v6.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        loop {
            if interrupt::requested() {
                // Probes still within their reply window are not lost: the host simply has not answered yet.
                let windows: Vec<Duration> =
                    hosts.iter().map(|h| h.answer_time(req.timeout)).collect();
                let window = |h: usize| windows.get(h).copied().unwrap_or(req.timeout);
                for h in inflight.unfinished(Instant::now(), window) {
                    if let Some(host) = hosts.get_mut(h) {
                        host.unfinished += 1;
                    }
                }
                inflight.clear();
                return Ok(true);
            }
            let now = Instant::now();
            if end.is_some_and(|e| now >= e) {
                break;
            }
            let mut sent_now = 0;
            while let Some((h, due)) = sched.peek(hosts) {
                if due > now || sent_now >= 256 {
                    break;
                }
                self.send_one(
                    hosts,
                    h,
                    sched.round(),
                    base_id,
                    &data,
                    &mut inflight,
                    on_event,
                );
                sched.advance(due);
                sent_now += 1;
                if sent_now % 32 == 0 {
                    for s in &socks {
                        self.drain(s, &mut buf, hosts, &mut inflight, check_token, on_event);
                    }
                }
            }
            for s in &socks {
                self.drain(s, &mut buf, hosts, &mut inflight, check_token, on_event);
            }
            let now = Instant::now();
            let next_expiry = inflight.expire(now, req.timeout);
            let next_send = sched.peek(hosts).map(|(_, due)| due);
            if next_send.is_none() && inflight.pending == 0 {
                break;
            }
            let mut wake = now + Duration::from_millis(100);
            for t in [next_send, next_expiry, end].into_iter().flatten() {
                wake = wake.min(t);
            }
            let mut fds: Vec<PollFd> = socks
                .iter()
                .map(|s| PollFd::new(*s, Interest::Readable))
                .collect();
            // A failed wait is retried by the loop, which is bounded by its deadline and the expiries.
            let _ = poll::poll(&mut fds, wake);
        }
        inflight.clear();
        Ok(false)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_one(
        &self,
        hosts: &mut [HostState],
        h: usize,
        round: u64,
        base_id: u16,
        data: &[u8],
        inflight: &mut Inflight,
        on_event: &mut dyn FnMut(&PingEvent),
    ) {
        let Some(addr) = hosts[h].addr else { return };
        let Some(sock) = self.sock(addr.is_ipv6()) else {
            return;
        };
        let id = id_for(sock, base_id, h);
        let seq = (round.wrapping_add(1) & 0xffff) as u16;
        let wire_seq = match sock.kind() {
            IcmpKind::Raw => seq,
            IcmpKind::Datagram => {
                inflight.wire_seq = inflight.wire_seq.wrapping_add(1);
                inflight.wire_seq
            }
        };
        let msg = packet::echo_request(sock.is_v6(), id, wire_seq, data);
        let sent = Instant::now();
        let sent_wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok();
        let to = crate::target::socket_addr(addr, 0);
        let mut result = sock.send_to(&msg, to);
        // A full send buffer at --rate 0: wait a little for room, a bounded number of times.
        for _ in 0..50 {
            match &result {
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    std::thread::sleep(Duration::from_millis(1));
                    result = sock.send_to(&msg, to);
                }
                _ => break,
            }
        }
        let host = &mut hosts[h];
        host.sent += 1;
        match result {
            Ok(_) => inflight.push((addr, id, wire_seq), h, seq, sent, sent_wall),
            Err(e) => {
                host.errors += 1;
                let ex = explain::io_error(&e);
                on_event(&PingEvent::SendError {
                    host: &host.label,
                    address: addr,
                    seq,
                    error: &ex,
                });
                host.send_error = Some(ex);
            }
        }
    }

    fn drain(
        &self,
        sock: &IcmpSocket,
        buf: &mut [u8],
        hosts: &mut [HostState],
        inflight: &mut Inflight,
        token: Option<[u8; TOKEN_LEN]>,
        on_event: &mut dyn FnMut(&PingEvent),
    ) {
        // A datagram socket gets ICMP errors on its error queue (IP_RECVERR), not as packets.
        let mut errqueue = sock.kind() == IcmpKind::Datagram;
        let v6 = sock.is_v6();
        // Bounded: at most this many datagrams per call; the poll loop comes back for more.
        for _ in 0..4096 {
            let got = if errqueue {
                match sock.recv_error(buf) {
                    Ok(Some(r)) => r,
                    _ => {
                        errqueue = false;
                        continue;
                    }
                }
            } else {
                match sock.recv(buf) {
                    Ok(r) => r,
                    Err(_) => return,
                }
            };
            let src = got.from.map(|a| a.ip());
            let (n, cmsg_ttl, rx_wall) = (got.len, got.hop_limit, got.timestamp);
            let now = Instant::now();
            let parsed = match (&got.error, src) {
                (Some(e), Some(dst)) if matches!(e.origin, Origin::Icmp | Origin::Icmp6) => {
                    packet::parse_queued_error(
                        &buf[..n],
                        v6,
                        e.icmp_type,
                        e.icmp_code,
                        dst,
                        e.offender,
                    )
                }
                (Some(_), _) => None,
                (None, _) => packet::parse_reply(&buf[..n], v6, sock.kind() == IcmpKind::Raw),
            };
            let Some(parsed) = parsed else {
                continue;
            };
            match inflight.classify(&parsed, src, token, now, rx_wall) {
                Match::Ignore => {}
                Match::Reply {
                    host,
                    seq,
                    rtt,
                    duplicate,
                } => {
                    let (icmp_len, ttl) = match &parsed {
                        Parsed::EchoReply { icmp_len, ttl, .. } => (*icmp_len, ttl.or(cmsg_ttl)),
                        Parsed::Error { .. } => continue,
                    };
                    let h = &mut hosts[host];
                    let Some(address) = h.addr else { continue };
                    h.record(ReplyRecord {
                        seq,
                        bytes: icmp_len,
                        ttl,
                        rtt,
                        duplicate,
                        tcp_port: None,
                        refused: None,
                    });
                    if let Some(r) = h.replies.last() {
                        on_event(&PingEvent::Reply {
                            host: &h.label,
                            address,
                            reply: r,
                        });
                    }
                }
                Match::Error { host, seq } => {
                    let Parsed::Error {
                        kind, code, source, ..
                    } = parsed
                    else {
                        continue;
                    };
                    let Some(from) = source.or(src) else { continue };
                    let h = &mut hosts[host];
                    let Some(address) = h.addr else { continue };
                    h.errors += 1;
                    let report = IcmpErrorReport {
                        from,
                        seq,
                        message: Message {
                            v6,
                            icmp_type: kind.icmp_type(v6),
                            code,
                        },
                    };
                    on_event(&PingEvent::IcmpError {
                        host: &h.label,
                        address,
                        error: &report,
                    });
                    h.icmp_error = Some(report);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ping::packet::IcmpErrorKind;

    fn reply(id: u16, seq: u16, token: Option<[u8; 8]>) -> Parsed {
        Parsed::EchoReply {
            id,
            seq,
            icmp_len: 64,
            token,
            ttl: Some(64),
            source: None,
        }
    }

    #[test]
    fn replies_match_by_source_id_and_seq_and_dups_are_flagged() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let tok = Some(*b"tokentok");
        let mut f = Inflight::default();
        let t0 = Instant::now();
        f.push((a, 100, 1), 0, 1, t0, None);
        f.push((b, 101, 1), 1, 1, t0, None);
        assert_eq!(f.pending, 2);
        let now = t0 + Duration::from_millis(5);
        // Wrong source, foreign id, wrong seq, foreign token: ignored.
        assert_eq!(
            f.classify(&reply(100, 1, tok), Some(b), tok, now, None),
            Match::Ignore
        );
        assert_eq!(
            f.classify(&reply(999, 1, tok), Some(a), tok, now, None),
            Match::Ignore
        );
        assert_eq!(
            f.classify(&reply(100, 2, tok), Some(a), tok, now, None),
            Match::Ignore
        );
        assert_eq!(
            f.classify(&reply(100, 1, Some(*b"someone ")), Some(a), tok, now, None),
            Match::Ignore
        );
        assert_eq!(
            f.classify(&reply(100, 1, tok), Some(a), tok, now, None),
            Match::Reply {
                host: 0,
                seq: 1,
                rtt: Duration::from_millis(5),
                duplicate: false
            }
        );
        assert!(matches!(
            f.classify(&reply(100, 1, tok), Some(a), tok, now, None),
            Match::Reply {
                duplicate: true,
                ..
            }
        ));
        assert_eq!(f.pending, 1);
        let err = Parsed::Error {
            kind: IcmpErrorKind::DestinationUnreachable,
            code: 1,
            original_destination: b,
            id: 101,
            seq: 1,
            source: Some("10.0.0.254".parse().unwrap()),
        };
        assert_eq!(
            f.classify(&err, None, tok, now, None),
            Match::Error { host: 1, seq: 1 }
        );
        assert_eq!(f.classify(&err, None, tok, now, None), Match::Ignore);
        assert_eq!(f.pending, 0);
    }

    #[test]
    fn kernel_timestamps_give_the_rtt_when_sane() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let mut f = Inflight::default();
        let t0 = Instant::now();
        let tx = Duration::from_secs(1_000_000);
        f.push((a, 1, 1), 0, 1, t0, Some(tx));
        f.push((a, 1, 2), 0, 2, t0, Some(tx));
        let now = t0 + Duration::from_millis(5);
        // Received 20 us after sending by the kernel's clock, seen by us 5 ms later: 20 us.
        assert!(matches!(
            f.classify(&reply(1, 1, None), Some(a), None, now, Some(tx + Duration::from_micros(20))),
            Match::Reply { rtt, .. } if rtt == Duration::from_micros(20)
        ));
        // A wall clock that stepped backwards: our own clock.
        assert!(matches!(
            f.classify(&reply(1, 2, None), Some(a), None, now, Some(tx - Duration::from_secs(3))),
            Match::Reply { rtt, .. } if rtt == Duration::from_millis(5)
        ));
    }

    #[test]
    fn late_replies_after_the_timeout_are_ignored() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let mut f = Inflight::default();
        let t0 = Instant::now();
        f.push((a, 1, 1), 0, 1, t0, None);
        f.push((a, 1, 2), 0, 2, t0 + Duration::from_secs(1), None);
        let next = f.expire(t0 + Duration::from_millis(1500), Duration::from_secs(1));
        assert_eq!(next, Some(t0 + Duration::from_secs(2)));
        assert_eq!(f.pending, 1);
        let now = t0 + Duration::from_millis(1600);
        assert_eq!(
            f.classify(&reply(1, 1, None), Some(a), None, now, None),
            Match::Ignore
        );
        assert!(matches!(
            f.classify(&reply(1, 2, None), Some(a), None, now, None),
            Match::Reply {
                host: 0,
                duplicate: false,
                ..
            }
        ));
    }
}
