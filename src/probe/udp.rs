//! UDP probes: one connected socket per port sends a datagram (the `--send` bytes, or an empty one) and waits.
//! A reply means open; ICMP port unreachable (ECONNREFUSED on the connected socket) means closed; silence until
//! the deadline is `open|filtered`, the honest answer for UDP. Batches of sockets wait together under poll(2).

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::model::Reply;
use super::model::{PortResult, PortState, ProbeRequest, Reason};
use super::talk::{contains, MAX_REPLY};
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
    for chunk in addrs.chunks(batch.clamp(1, 1024)) {
        if crate::interrupt::requested() {
            break;
        }
        out.extend(probe_batch(chunk, req));
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

fn probe_batch(addrs: &[SocketAddr], req: &ProbeRequest) -> Vec<PortResult> {
    let payload: &[u8] = req.send.as_deref().unwrap_or(&[]);
    let mut slots: Vec<Pending> = addrs.iter().map(|a| start(*a, payload)).collect();
    let deadline = Instant::now() + req.timeout;
    loop {
        let waiting: Vec<usize> = (0..slots.len())
            .filter(|i| matches!(slots[*i], Pending::Waiting(..)))
            .collect();
        if waiting.is_empty() || crate::interrupt::requested() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
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
            if let Pending::Waiting(sock, t0) = &slots[i] {
                if let Some(r) = receive(sock, addrs[i], *t0, req) {
                    slots[i] = Pending::Done(r);
                }
            }
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
                    Reason::NoReply(req.timeout)
                };
                result(*a, PortState::OpenFiltered, reason)
            }
        })
        .collect()
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
            let mut r = result(
                addr,
                super::model::state_of_errno(code),
                Reason::Errno(code),
            );
            if code == libc::ECONNREFUSED {
                r.latency = Some(t0.elapsed());
            }
            Some(r)
        }
    }
}
