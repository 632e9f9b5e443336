//! Happy Eyeballs (RFC 8305) for http-get's connect: the resolved addresses interleaved by family (starting
//! with the family the resolver put first), one connection attempt started every [`ATTEMPT_DELAY`] while the
//! earlier ones keep going, the next one at once when an attempt fails, and the first to connect wins; the
//! others are closed. Every address's fate is recorded — won, failed and why, abandoned while still
//! connecting, or not tried — so the report shows which address won and what the others did.
//!
//! Sockets and waiting go through [`crate::net`] (non-blocking connect, SO_ERROR, ppoll).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;
use socket2::Socket;

use crate::explain::{self, Explanation};
use crate::net::poll::{self, Interest, PollFd};
use crate::net::socket::{self as nsock, Connect};

/// The "Connection Attempt Delay" of RFC 8305 section 5: its recommended 250 ms.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// Longest single wait, so Ctrl-C is noticed soon.
const SLICE: Duration = Duration::from_millis(250);

/// What became of one address. In JSON: `won`, `failed`, `abandoned`, `not-tried`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptState {
    /// Connected first: the exchange used it.
    Won,
    /// Refused, unreachable, or no answer before the deadline.
    Failed,
    /// Still connecting (no answer yet) when another address connected; closed.
    Abandoned,
    /// Another address connected before its turn came.
    NotTried,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Won => "won",
            AttemptState::Failed => "failed",
            AttemptState::Abandoned => "abandoned",
            AttemptState::NotTried => "not-tried",
        }
    }
}

/// One address of the race.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectAttempt {
    #[serde(serialize_with = "crate::target::ser_endpoint")]
    pub address: SocketAddr,
    pub state: AttemptState,
    /// When the attempt started, from the start of the connect phase (null when not tried).
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "started_ms")]
    pub started: Option<Duration>,
    /// How long it ran: to the connection, the failure, or being abandoned (null when not tried).
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "time_ms")]
    pub time: Option<Duration>,
    /// Why it failed.
    pub explanation: Option<Explanation>,
}

/// The race's result: the connected socket (blocking) and the address it reached, or why none connected; and
/// every address's fate, in the order they were tried.
#[derive(Debug)]
pub struct Race {
    pub winner: Result<(TcpStream, SocketAddr), Explanation>,
    pub attempts: Vec<ConnectAttempt>,
}

/// RFC 8305 section 4: alternate families, starting with the family of the first address; within a family
/// the resolver's order is kept.
pub fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut a, mut b): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.iter().partition(|x| x.is_ipv6() == first.is_ipv6());
    a.reverse();
    b.reverse();
    let mut out = Vec::with_capacity(addrs.len());
    loop {
        match (a.pop(), b.pop()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

struct Pending {
    index: usize,
    sock: Socket,
    started: Instant,
}

/// Races connects to `addrs` (already interleaved, see [`interleave`]) until one connects, all fail, the
/// `deadline` passes (explained as no answer within `timeout`), or `stop()` (Ctrl-C).
pub fn race(
    addrs: &[SocketAddr],
    deadline: Instant,
    timeout: Duration,
    delay: Duration,
    stop: &dyn Fn() -> bool,
) -> Race {
    let t0 = Instant::now();
    let mut attempts: Vec<ConnectAttempt> = addrs
        .iter()
        .map(|a| ConnectAttempt {
            address: *a,
            state: AttemptState::NotTried,
            started: None,
            time: None,
            explanation: None,
        })
        .collect();
    let mut pending: Vec<Pending> = Vec::new();
    let mut next = 0;
    let mut next_start = t0;
    let mut last_error = explain::timeout(timeout);
    let fail = |a: &mut ConnectAttempt, started: Instant, e: Explanation| {
        a.state = AttemptState::Failed;
        a.time = Some(started.elapsed());
        a.explanation = Some(e);
    };
    let winner = loop {
        if stop() {
            break Err(explain::interrupted("the answer was complete"));
        }
        let now = Instant::now();
        if now >= deadline {
            break Err(explain::timeout(timeout));
        }
        // Start the next attempt: at once when none is running, else after the attempt delay.
        if next < addrs.len() && (pending.is_empty() || now >= next_start) {
            let i = next;
            next += 1;
            next_start = now + delay;
            attempts[i].started = Some(now.saturating_duration_since(t0));
            match nsock::connect_start(addrs[i]) {
                Ok((sock, Connect::Connected)) => match finish(sock, addrs[i]) {
                    Ok(s) => {
                        attempts[i].time = Some(now.elapsed());
                        break Ok((s, i));
                    }
                    Err(e) => {
                        last_error = explain::io_error(&e);
                        fail(&mut attempts[i], now, last_error.clone());
                    }
                },
                Ok((sock, Connect::InProgress)) => pending.push(Pending {
                    index: i,
                    sock,
                    started: now,
                }),
                Err(e) => {
                    last_error = explain::io_error(&e);
                    fail(&mut attempts[i], now, last_error.clone());
                    next_start = now;
                }
            }
            continue;
        }
        if pending.is_empty() {
            break Err(last_error);
        }
        let mut wake = deadline.min(now + SLICE);
        if next < addrs.len() {
            wake = wake.min(next_start);
        }
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = pending
                .iter()
                .map(|p| PollFd::new(&p.sock, Interest::Writable))
                .collect();
            match poll::poll(&mut fds, wake) {
                Ok(_) => fds.iter().map(PollFd::ready).collect(),
                Err(e) => break Err(explain::io_error(&e)),
            }
        };
        let mut won = None;
        let mut k = 0;
        for r in ready {
            if !r {
                k += 1;
                continue;
            }
            let p = pending.remove(k);
            let addr = addrs[p.index];
            match nsock::connect_result(&p.sock).and_then(|()| finish(p.sock, addr)) {
                Ok(s) => {
                    attempts[p.index].time = Some(p.started.elapsed());
                    won = Some((s, p.index));
                    break;
                }
                Err(e) => {
                    last_error = explain::io_error(&e);
                    fail(&mut attempts[p.index], p.started, last_error.clone());
                    // RFC 8305 section 5: a failed attempt starts the next one at once.
                    next_start = Instant::now();
                }
            }
        }
        if let Some(w) = won {
            break Ok(w);
        }
    };
    // Whatever is still connecting is closed: abandoned when another won, failed (no answer) otherwise.
    for p in pending {
        let a = &mut attempts[p.index];
        a.time = Some(p.started.elapsed());
        match &winner {
            Ok(_) => a.state = AttemptState::Abandoned,
            Err(e) => {
                a.state = AttemptState::Failed;
                a.explanation = Some(e.clone());
            }
        }
    }
    let winner = winner.map(|(s, i)| {
        attempts[i].state = AttemptState::Won;
        (s, addrs[i])
    });
    // In the order they were tried.
    attempts.sort_by_key(|a| a.started.unwrap_or(Duration::MAX));
    Race { winner, attempts }
}

/// A connected socket made blocking; a loopback connect that met itself is what it means: refused.
fn finish(sock: Socket, addr: SocketAddr) -> io::Result<TcpStream> {
    if nsock::is_self_connect(&sock) || sock.local_addr()?.as_socket() == Some(addr) {
        return Err(io::Error::from_raw_os_error(libc::ECONNREFUSED));
    }
    sock.set_nonblocking(false)?;
    Ok(TcpStream::from(sock))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn interleaves_families_starting_with_the_first() {
        let v = [
            a("[fd00::1]:80"),
            a("[fd00::2]:80"),
            a("[fd00::3]:80"),
            a("10.0.0.1:80"),
            a("10.0.0.2:80"),
        ];
        assert_eq!(
            interleave(&v),
            vec![v[0], v[3], v[1], v[4], v[2]],
            "v6, v4, v6, v4, v6"
        );
        let w = [a("10.0.0.1:80"), a("[fd00::1]:80"), a("[fd00::2]:80")];
        assert_eq!(interleave(&w), vec![w[0], w[1], w[2]]);
        assert!(interleave(&[]).is_empty());
    }

    #[test]
    fn a_refused_address_hands_over_at_once_and_the_rest_are_recorded() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = l.local_addr().unwrap();
        let closed = {
            let c = TcpListener::bind("127.0.0.1:0").unwrap();
            c.local_addr().unwrap()
        };
        let spare = a("127.0.0.1:9");
        let stop = || false;
        let r = race(
            &[closed, open, spare],
            Instant::now() + Duration::from_secs(10),
            Duration::from_secs(10),
            Duration::from_secs(5),
            &stop,
        );
        let (_, won) = r.winner.expect("connects");
        assert_eq!(won, open);
        let states: Vec<_> = r.attempts.iter().map(|x| (x.address, x.state)).collect();
        assert_eq!(
            states,
            vec![
                (closed, AttemptState::Failed),
                (open, AttemptState::Won),
                (spare, AttemptState::NotTried)
            ]
        );
        assert_eq!(
            r.attempts[0].explanation.as_ref().unwrap().code,
            "ECONNREFUSED"
        );
        // Refused hands over at once, not after the 5 s attempt delay.
        assert!(r.attempts[1].started.unwrap() < Duration::from_secs(5));
    }

    #[test]
    fn all_refused_is_the_last_error() {
        let closed = {
            let c = TcpListener::bind("127.0.0.1:0").unwrap();
            c.local_addr().unwrap()
        };
        let stop = || false;
        let r = race(
            &[closed],
            Instant::now() + Duration::from_secs(10),
            Duration::from_secs(10),
            ATTEMPT_DELAY,
            &stop,
        );
        assert_eq!(r.winner.unwrap_err().code, "ECONNREFUSED");
        assert_eq!(r.attempts[0].state, AttemptState::Failed);
    }
}
