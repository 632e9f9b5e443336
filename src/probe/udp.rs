//! UDP probes: one connected socket per port sends a datagram (the `--send` bytes, or an empty one) and waits.
//! A reply means open; ICMP port unreachable (ECONNREFUSED on the connected socket) means closed; silence until
//! the deadline is `open|filtered`, the honest answer for UDP. Batches of sockets wait together under poll(2).
//!
//! Each socket has IP_RECVERR (IPV6_RECVERR): every ICMP error about the datagram — host unreachable, a
//! firewall's admin-prohibited, net unreachable — ends the probe with the type, code and sender from the error
//! queue, as `nmap -sU` reports `filtered host-unreach (from …)`. Without `--send`, a well-known port gets a
//! datagram its service answers ([`payload_for`]: a DNS query to 53, an NTP request to 123, ...), so an open
//! service answers and shows as open rather than `open|filtered`.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::model::Reply;
use super::model::{PortResult, PortState, ProbeRequest, Reason};
use super::talk::{contains, MAX_REPLY};
use super::timing::{self, Next, RttEstimator};
use crate::explain::icmp::Message;
use crate::net::errqueue::{self, Origin};
use crate::net::poll::{self, Interest, PollFd};
use crate::services::Proto;

/// Probes each address, `batch` sockets at a time, and returns one result per address in order.
pub fn probe(
    addrs: &[SocketAddr],
    req: &ProbeRequest,
    batch: usize,
    progress: Option<&AtomicUsize>,
) -> Vec<PortResult> {
    let mut out = Vec::with_capacity(addrs.len());
    // The addresses of one call are one host (the caller probes host by host).
    let mut est = RttEstimator::new(req.timeout);
    for chunk in addrs.chunks(batch.clamp(1, 1024)) {
        if crate::interrupt::requested() {
            break;
        }
        out.extend(probe_batch(chunk, req, &mut est));
        if let Some(p) = progress {
            p.fetch_add(chunk.len(), Ordering::Relaxed);
        }
    }
    out
}

fn result(addr: SocketAddr, state: PortState, reason: Reason) -> PortResult {
    let mut r = PortResult::new(&addr.ip().to_string(), addr, Proto::Udp, state, reason);
    r.ok = state == PortState::Open && reason == Reason::None;
    r
}

enum Pending {
    Waiting(UdpSocket, Instant),
    Done(PortResult),
}

fn payload<'a>(req: &'a ProbeRequest, addr: &SocketAddr) -> &'a [u8] {
    match &req.send {
        Some(p) => p,
        None => payload_for(addr.port()).unwrap_or(&[]),
    }
}

/// One batch, timed by the one rule of [`super::timing`]: the wait shrinks to the host's measured round
/// trips once a reply or an ICMP error has been timed (`est`, kept across batches of the host), and ports
/// still silent then get their datagram once more before they are called `open|filtered`.
fn probe_batch(
    addrs: &[SocketAddr],
    req: &ProbeRequest,
    est: &mut RttEstimator,
) -> Vec<PortResult> {
    let mut slots: Vec<Pending> = addrs.iter().map(|a| start(*a, payload(req, a))).collect();
    let mut waited = Duration::ZERO;
    for tries in 0..timing::MAX_TRIES {
        let t0 = Instant::now();
        if tries > 0 {
            // The retry: the same datagram on the same (connected) socket.
            for (slot, a) in slots.iter_mut().zip(addrs) {
                if let Pending::Waiting(sock, sent) = slot {
                    *sent = t0;
                    if let Err(e) = sock.send(payload(req, a)) {
                        let code = e.raw_os_error().unwrap_or(libc::EIO);
                        *slot = Pending::Done(result(
                            *a,
                            super::model::state_of_errno(code),
                            Reason::Errno(code),
                        ));
                    }
                }
            }
        }
        let timeout = wait_phase(&mut slots, addrs, req, est, tries, t0);
        waited += timeout;
        let silent = slots.iter().any(|s| matches!(s, Pending::Waiting(..)));
        if !silent
            || crate::interrupt::requested()
            || est.after_silence(tries + 1, timeout) == Next::Silent
        {
            break;
        }
    }
    slots
        .into_iter()
        .zip(addrs)
        .map(|(p, a)| match p {
            Pending::Done(r) => r,
            Pending::Waiting(..) if crate::interrupt::requested() => {
                result(*a, PortState::Interrupted, Reason::None)
            }
            Pending::Waiting(..) => {
                let reason = if req.expect.is_some() {
                    Reason::Unexpected
                } else {
                    Reason::NoReply(waited)
                };
                result(*a, PortState::OpenFiltered, reason)
            }
        })
        .collect()
}

/// Waits for answers to the datagrams sent at `t0` (try `tries`, 0 for the first) until the estimate's
/// timeout; first tries feed the estimate (Karn). Returns the timeout it waited to.
fn wait_phase(
    slots: &mut [Pending],
    addrs: &[SocketAddr],
    req: &ProbeRequest,
    est: &mut RttEstimator,
    tries: u8,
    t0: Instant,
) -> Duration {
    loop {
        let timeout = est.timeout_for(tries);
        let deadline = t0 + timeout;
        let waiting: Vec<usize> = (0..slots.len())
            .filter(|i| matches!(slots[*i], Pending::Waiting(..)))
            .collect();
        let now = Instant::now();
        if waiting.is_empty() || crate::interrupt::requested() || now >= deadline {
            return timeout;
        }
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd> = waiting
                .iter()
                .filter_map(|&i| match &slots[i] {
                    Pending::Waiting(s, _) => Some(PollFd::new(s, Interest::Readable)),
                    Pending::Done(_) => None,
                })
                .collect();
            let wake = deadline.min(now + Duration::from_millis(50));
            if !matches!(poll::poll(&mut fds, wake), Ok(n) if n > 0) {
                continue;
            }
            (0..fds.len()).filter(|&k| fds[k].ready()).collect()
        };
        for k in ready {
            let i = waiting[k];
            if let Pending::Waiting(sock, sent) = &slots[i] {
                if let Some(r) = receive(sock, addrs[i], *sent, req) {
                    let answered = matches!(r.reason, Reason::None | Reason::Icmp { .. })
                        || r.reason == Reason::Errno(libc::ECONNREFUSED);
                    if tries == 0 && answered {
                        est.sample(sent.elapsed());
                    }
                    slots[i] = Pending::Done(r);
                }
            }
        }
    }
}

fn start(addr: SocketAddr, payload: &[u8]) -> Pending {
    let bind: SocketAddr = if addr.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let t0 = Instant::now();
    let fail = |e: std::io::Error| {
        let code = e.raw_os_error().unwrap_or(libc::EIO);
        Pending::Done(result(
            addr,
            super::model::state_of_errno(code),
            Reason::Errno(code),
        ))
    };
    let sock = match UdpSocket::bind(bind) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let Err(e) = errqueue::enable(&sock, addr.is_ipv6()) {
        return fail(e);
    }
    if let Err(e) = sock.connect(addr) {
        return fail(e);
    }
    if let Err(e) = sock.set_nonblocking(true) {
        return fail(e);
    }
    match sock.send(payload) {
        Ok(_) => Pending::Waiting(sock, t0),
        Err(e) => fail(e),
    }
}

/// Reads what arrived on a probe socket: a reply (open), a refusal (closed), or nothing yet (`None`).
fn receive(
    sock: &UdpSocket,
    addr: SocketAddr,
    t0: Instant,
    req: &ProbeRequest,
) -> Option<PortResult> {
    let mut buf = vec![0u8; MAX_REPLY + 1];
    match sock.recv(&mut buf) {
        Ok(n) => {
            let mut r = result(addr, PortState::Open, Reason::None);
            r.latency = Some(t0.elapsed());
            let kept = &buf[..n.min(MAX_REPLY)];
            if let Some(want) = &req.expect {
                if !contains(kept, want) {
                    r.reason = Reason::Unexpected;
                    r.ok = false;
                }
            }
            r.reply = Some(Reply::from_bytes(kept, n > MAX_REPLY));
            Some(r)
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => None,
        Err(e) => {
            let code = e.raw_os_error().unwrap_or(libc::EIO);
            let mut r = match icmp_report(sock) {
                Some((msg, from)) => result(
                    addr,
                    super::model::state_of_icmp(msg, from == addr.ip()),
                    Reason::Icmp {
                        msg,
                        from,
                        by_target: from == addr.ip(),
                    },
                ),
                None if code == libc::EACCES && addr.is_ipv6() => {
                    result(addr, PortState::Filtered, Reason::DeniedV6)
                }
                None => result(
                    addr,
                    super::model::state_of_errno(code),
                    Reason::Errno(code),
                ),
            };
            if r.state == PortState::Closed {
                r.latency = Some(t0.elapsed());
            }
            Some(r)
        }
    }
}

/// The first ICMP error on the socket's error queue (type, code, sender), draining the queue.
fn icmp_report(sock: &UdpSocket) -> Option<(Message, std::net::IpAddr)> {
    let mut found = None;
    for _ in 0..8 {
        let Ok(Some(r)) = errqueue::read(sock) else {
            break;
        };
        if let (None, Origin::Icmp | Origin::Icmp6, Some(from)) =
            (found, r.error.origin, r.error.offender)
        {
            found = Some((
                Message {
                    v6: r.error.origin == Origin::Icmp6,
                    icmp_type: r.error.icmp_type,
                    code: r.error.icmp_code,
                },
                from,
            ));
        }
    }
    found
}

/// DNS: a query for the root's NS records (id 0x6e64, recursion desired), which any DNS server answers.
const DNS_QUERY: &[u8] = &[
    0x6e, 0x64, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x01,
];

/// NTP: a version 4 client request (mode 3), 48 bytes.
const NTP_REQUEST: &[u8] = &[
    0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// SNMP: a v2c GetRequest for sysDescr.0 with community "public" (as nmap sends).
const SNMP_GET: &[u8] = &[
    0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x1c, 0x02,
    0x04, 0x6e, 0x64, 0x69, 0x61, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06,
    0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
];

/// SSDP: a discovery request.
const SSDP_SEARCH: &[u8] = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";

/// The datagram a well-known UDP service answers, for ports that have one: DNS (53, and mDNS on 5353), NTP
/// (123), SNMP (161), SSDP (1900). Other ports get an empty datagram.
pub fn payload_for(port: u16) -> Option<&'static [u8]> {
    match port {
        53 | 5353 => Some(DNS_QUERY),
        123 => Some(NTP_REQUEST),
        161 => Some(SNMP_GET),
        1900 => Some(SSDP_SEARCH),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_payloads_are_well_formed() {
        let q = payload_for(53).unwrap();
        // Header, the root name, type NS, class IN.
        assert_eq!(q.len(), 12 + 1 + 4);
        assert_eq!(&q[4..6], &[0, 1]);
        let n = payload_for(123).unwrap();
        assert_eq!(n.len(), 48);
        assert_eq!(n[0] & 7, 3, "client mode");
        let s = payload_for(161).unwrap();
        assert_eq!(s[0], 0x30);
        assert_eq!(usize::from(s[1]) + 2, s.len(), "BER length");
        assert!(payload_for(1900).unwrap().ends_with(b"\r\n\r\n"));
        assert!(payload_for(9).is_none());
    }
}
