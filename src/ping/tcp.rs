//! TCP ping: a non-blocking connect to each host, many in flight at once. Connected or refused both prove the
//! host is up (a refusal is the host's own TCP answering); a timeout means no answer; no route is unreachable.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::{HostState, PingEvent, PingRequest, ReplyRecord};
use crate::explain;
use crate::interrupt;

/// Connects in flight at once (well under the usual 1024 open-files limit).
const BATCH: usize = 256;

/// How one connect ended.
#[derive(Debug)]
enum Outcome {
    Up { rtt: Duration, refused: bool },
    Timeout,
    Failed(io::Error),
}

struct Attempt {
    sock: Option<Socket>,
    started: Instant,
    outcome: Option<Outcome>,
}

fn start(addr: SocketAddr) -> Attempt {
    let started = Instant::now();
    let sock = match Socket::new(Domain::for_address(addr), Type::STREAM, None) {
        Ok(s) => s,
        Err(e) => {
            return Attempt {
                sock: None,
                started,
                outcome: Some(Outcome::Failed(e)),
            }
        }
    };
    if let Err(e) = sock.set_nonblocking(true) {
        return Attempt {
            sock: None,
            started,
            outcome: Some(Outcome::Failed(e)),
        };
    }
    match sock.connect(&addr.into()) {
        Ok(()) => Attempt {
            sock: None,
            started,
            outcome: Some(Outcome::Up {
                rtt: started.elapsed(),
                refused: false,
            }),
        },
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Attempt {
            sock: Some(sock),
            started,
            outcome: None,
        },
        Err(e) => Attempt {
            sock: None,
            started,
            outcome: Some(classify(e, started)),
        },
    }
}

fn classify(e: io::Error, started: Instant) -> Outcome {
    if e.raw_os_error() == Some(libc::ECONNREFUSED) {
        Outcome::Up {
            rtt: started.elapsed(),
            refused: true,
        }
    } else {
        Outcome::Failed(e)
    }
}

/// Connects to every address at once and waits for each until `timeout`.
fn connect_all(addrs: &[SocketAddr], timeout: Duration) -> Vec<Outcome> {
    let mut attempts: Vec<Attempt> = addrs.iter().map(|a| start(*a)).collect();
    let deadline = Instant::now() + timeout;
    loop {
        let waiting: Vec<usize> = (0..attempts.len())
            .filter(|&i| attempts[i].outcome.is_none())
            .collect();
        let now = Instant::now();
        if waiting.is_empty() || now >= deadline || interrupt::requested() {
            break;
        }
        let mut fds: Vec<libc::pollfd> = waiting
            .iter()
            .filter_map(|&i| attempts[i].sock.as_ref())
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            })
            .collect();
        let ms = (deadline - now).as_millis().clamp(1, 100) as i32;
        // SAFETY: fds is a live array of fds.len() pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        for (k, &i) in waiting.iter().enumerate() {
            if fds.get(k).is_none_or(|f| f.revents == 0) {
                continue;
            }
            let a = &mut attempts[i];
            let err = a.sock.as_ref().map(|s| s.take_error());
            a.outcome = Some(match err {
                Some(Ok(None)) => Outcome::Up {
                    rtt: a.started.elapsed(),
                    refused: false,
                },
                Some(Ok(Some(e))) | Some(Err(e)) => classify(e, a.started),
                None => Outcome::Timeout,
            });
            a.sock = None;
        }
    }
    attempts
        .into_iter()
        .map(|a| a.outcome.unwrap_or(Outcome::Timeout))
        .collect()
}

/// Runs TCP pings: `count` rounds (or until the deadline), `interval` apart, each round over every host in
/// batches. Returns whether it was interrupted.
pub(crate) fn run(
    req: &PingRequest,
    hosts: &mut [HostState],
    start: Instant,
    on_event: &mut dyn FnMut(&PingEvent),
) -> bool {
    let order: Vec<usize> = (0..hosts.len())
        .filter(|&i| hosts[i].addr.is_some())
        .collect();
    let end = req.deadline.map(|d| start + d);
    let mut round: u64 = 0;
    let mut next_round = start;
    while req.count.is_none_or(|c| round < c) && !order.is_empty() {
        // Wait for the round's time, in short steps so Ctrl-C and the deadline are seen.
        loop {
            if interrupt::requested() {
                return true;
            }
            let now = Instant::now();
            if end.is_some_and(|e| now >= e) {
                return false;
            }
            if now >= next_round {
                break;
            }
            std::thread::sleep((next_round - now).min(Duration::from_millis(50)));
        }
        next_round += req.interval;
        let seq = (round.wrapping_add(1) & 0xffff) as u16;
        let timeout = match end {
            Some(e) => req.timeout.min(e.saturating_duration_since(Instant::now())),
            None => req.timeout,
        };
        for chunk in order.chunks(BATCH) {
            ping_batch(req, hosts, chunk, seq, timeout, on_event);
            if interrupt::requested() {
                return true;
            }
        }
        round += 1;
    }
    false
}

/// One TCP ping of each host in `chunk`: the first port, then the next ports for hosts that did not answer.
fn ping_batch(
    req: &PingRequest,
    hosts: &mut [HostState],
    chunk: &[usize],
    seq: u16,
    timeout: Duration,
    on_event: &mut dyn FnMut(&PingEvent),
) {
    let mut todo: Vec<usize> = chunk.to_vec();
    for &h in chunk {
        hosts[h].sent += 1;
    }
    let mut last_failure: Vec<Option<Outcome>> = (0..hosts.len()).map(|_| None).collect();
    for &port in &req.tcp_ports {
        if todo.is_empty() {
            break;
        }
        let addrs: Vec<SocketAddr> = todo
            .iter()
            .filter_map(|&h| hosts[h].addr.map(|a| SocketAddr::new(a, port)))
            .collect();
        let outcomes = connect_all(&addrs, timeout);
        let mut again = Vec::new();
        for (&h, o) in todo.iter().zip(outcomes) {
            match o {
                Outcome::Up { rtt, refused } => {
                    let host = &mut hosts[h];
                    let Some(address) = host.addr else { continue };
                    host.record(ReplyRecord {
                        seq,
                        bytes: 0,
                        ttl: None,
                        rtt,
                        duplicate: false,
                        tcp_port: Some(port),
                        refused: Some(refused),
                    });
                    if let Some(r) = host.replies.last() {
                        on_event(&PingEvent::Reply {
                            host: &host.label,
                            address,
                            reply: r,
                        });
                    }
                }
                other => {
                    last_failure[h] = Some(other);
                    again.push(h);
                }
            }
        }
        todo = again;
    }
    for h in todo {
        if let Some(Outcome::Failed(e)) = last_failure[h].take() {
            let host = &mut hosts[h];
            host.errors += 1;
            let ex = explain::io_error(&e);
            if let Some(address) = host.addr {
                on_event(&PingEvent::SendError {
                    host: &host.label,
                    address,
                    seq,
                    error: &ex,
                });
            }
            host.send_error = Some(ex);
        }
    }
}
