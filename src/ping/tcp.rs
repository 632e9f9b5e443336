//! TCP ping: a non-blocking connect to each host, paced like ICMP echoes (the same [`Schedule`]), many in flight
//! at once. Connected or refused both prove the host is up (a refusal is the host's own TCP answering); a
//! timeout means no answer; no route is unreachable. A host that does not answer on the first port is tried on
//! the next (`--tcp-port`, default 80 then 443) within the same ping.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::Socket;

use super::model::{PingEvent, PingRequest, ReplyRecord};
use super::schedule::{HostState, Schedule};
use crate::explain;
use crate::interrupt;
use crate::net::poll::{self, Interest, PollFd};
use crate::net::socket::{self as netsock, Connect};

/// Connects in flight at once (well under the usual 1024 open-files limit).
const MAX_INFLIGHT: usize = 512;

/// How one connect ended.
#[derive(Debug)]
enum Outcome {
    Up { rtt: Duration, refused: bool },
    Timeout,
    Failed(io::Error),
}

/// One connect in flight.
struct Conn {
    sock: Socket,
    host: usize,
    port_idx: usize,
    seq: u16,
    started: Instant,
    deadline: Instant,
}

fn refused_or_failed(e: io::Error, started: Instant) -> Outcome {
    if e.raw_os_error() == Some(libc::ECONNREFUSED) {
        Outcome::Up {
            rtt: started.elapsed(),
            refused: true,
        }
    } else {
        Outcome::Failed(e)
    }
}

/// Starts a connect: either it is in flight, or it ended at once.
fn start(addr: SocketAddr) -> Result<(Socket, Instant), Outcome> {
    let sock = netsock::tcp_socket(addr.is_ipv6()).map_err(Outcome::Failed)?;
    let started = Instant::now();
    match netsock::connect(&sock, &addr.into()) {
        Ok(Connect::Connected) => Err(Outcome::Up {
            rtt: started.elapsed(),
            refused: false,
        }),
        Ok(Connect::InProgress) => Ok((sock, started)),
        Err(e) => Err(refused_or_failed(e, started)),
    }
}

struct Run<'a> {
    req: &'a PingRequest,
    hosts: &'a mut [HostState],
    conns: Vec<Conn>,
    end: Option<Instant>,
    on_event: &'a mut dyn FnMut(&PingEvent),
}

impl Run<'_> {
    /// Tries `port_idx` of the port list on host `h`.
    fn attempt(&mut self, h: usize, port_idx: usize, seq: u16) {
        let Some(addr) = self.hosts[h].addr else {
            return;
        };
        let port = self.req.tcp_ports[port_idx];
        match start(SocketAddr::new(addr, port)) {
            Ok((sock, started)) => {
                let mut deadline = started + self.req.timeout;
                if let Some(e) = self.end {
                    deadline = deadline.min(e);
                }
                self.conns.push(Conn {
                    sock,
                    host: h,
                    port_idx,
                    seq,
                    started,
                    deadline,
                });
            }
            Err(outcome) => self.finish(h, port_idx, seq, outcome),
        }
    }

    /// Records how a connect ended; a host that did not answer gets its next port.
    fn finish(&mut self, h: usize, port_idx: usize, seq: u16, outcome: Outcome) {
        let next_port = port_idx + 1 < self.req.tcp_ports.len() && !self.past_end();
        let host = &mut self.hosts[h];
        let Some(address) = host.addr else { return };
        match outcome {
            Outcome::Up { rtt, refused } => {
                host.record(ReplyRecord {
                    seq,
                    bytes: 0,
                    ttl: None,
                    rtt,
                    duplicate: false,
                    tcp_port: Some(self.req.tcp_ports[port_idx]),
                    refused: Some(refused),
                });
                if let Some(r) = host.replies.last() {
                    (self.on_event)(&PingEvent::Reply {
                        host: &host.label,
                        address,
                        reply: r,
                    });
                }
            }
            _ if next_port => self.attempt(h, port_idx + 1, seq),
            Outcome::Timeout => {}
            Outcome::Failed(e) => {
                host.errors += 1;
                let ex = explain::io_error(&e);
                (self.on_event)(&PingEvent::SendError {
                    host: &host.label,
                    address,
                    seq,
                    error: &ex,
                });
                host.send_error = Some(ex);
            }
        }
    }

    fn past_end(&self) -> bool {
        self.end.is_some_and(|e| Instant::now() >= e)
    }

    /// Waits until `wake` for connects to complete, then settles the ones that did or whose time ran out.
    fn poll(&mut self, wake: Instant) {
        let mut fds: Vec<PollFd> = self
            .conns
            .iter()
            .map(|c| PollFd::new(&c.sock, Interest::Writable))
            .collect();
        // A failed wait only means nothing is settled this round; deadlines still expire below.
        let _ = poll::poll(&mut fds, wake);
        let now = Instant::now();
        let mut settled = Vec::new();
        for (i, (f, c)) in fds.iter().zip(&self.conns).enumerate() {
            if f.ready() {
                let o = match netsock::connect_result(&c.sock) {
                    Ok(()) => Outcome::Up {
                        rtt: c.started.elapsed(),
                        refused: false,
                    },
                    Err(e) => refused_or_failed(e, c.started),
                };
                settled.push((i, o));
            } else if now >= c.deadline {
                settled.push((i, Outcome::Timeout));
            }
        }
        // Highest index first, so swap_remove only ever moves a connect that stays in flight.
        let mut done = Vec::new();
        for (i, o) in settled.into_iter().rev() {
            let c = self.conns.swap_remove(i);
            done.push((c.host, c.port_idx, c.seq, o));
        }
        for (h, p, seq, o) in done {
            self.finish(h, p, seq, o);
        }
    }
}

/// Runs TCP pings: `count` rounds (or until the deadline), `interval` apart per host, paced by `rate` over all
/// hosts. Returns whether it was interrupted.
pub(crate) fn run(
    req: &PingRequest,
    hosts: &mut [HostState],
    start: Instant,
    on_event: &mut dyn FnMut(&PingEvent),
) -> bool {
    let mut sched = Schedule::new(hosts, req, start);
    let mut r = Run {
        req,
        hosts,
        conns: Vec::new(),
        end: req.deadline.map(|d| start + d),
        on_event,
    };
    loop {
        if interrupt::requested() {
            // Connects still within their deadline are not lost: the host has not answered yet.
            let now = Instant::now();
            for c in r.conns.iter().filter(|c| c.deadline > now) {
                if let Some(h) = r.hosts.get_mut(c.host) {
                    h.unfinished += 1;
                }
            }
            return true;
        }
        let now = Instant::now();
        if r.past_end() {
            return false;
        }
        while let Some((h, due)) = sched.peek(r.hosts) {
            if due > now || r.conns.len() >= MAX_INFLIGHT {
                break;
            }
            let seq = (sched.round().wrapping_add(1) & 0xffff) as u16;
            r.hosts[h].sent += 1;
            r.attempt(h, 0, seq);
            sched.advance(due);
        }
        let next_send = sched.peek(r.hosts).map(|(_, due)| due);
        if next_send.is_none() && r.conns.is_empty() {
            return false;
        }
        let mut wake = now + Duration::from_millis(100);
        if r.conns.len() < MAX_INFLIGHT {
            if let Some(t) = next_send {
                wake = wake.min(t);
            }
        }
        for t in r.conns.iter().map(|c| c.deadline).chain(r.end) {
            wake = wake.min(t);
        }
        r.poll(wake);
    }
}
