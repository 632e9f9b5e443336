//! `netdiag serve`: a TCP and UDP echo server for testing the path between two machines.
//!
//! One thread polls every listening socket: it accepts TCP connections (one small thread each, at most
//! `max_conns` at once; extra ones are accepted and closed at once, and logged) and echoes UDP datagrams
//! itself. Each TCP connection is closed after `idle` without data. Ctrl-C (or `max_time`) stops everything;
//! connection threads notice within a fraction of a second. Events go to a callback, so the module never prints.

mod model;
mod render;

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};

use crate::explain;
use crate::net::poll::{self, Interest, PollFd};
use crate::services::Proto;

pub use model::*;

/// How often blocked threads look at the stop flag.
const TICK: Duration = Duration::from_millis(200);
/// UDP peers remembered for "first datagram" logging; beyond this, datagrams are echoed but peers not logged.
const MAX_UDP_PEERS: usize = 10_000;
/// Datagrams handled per wake-up of the poll loop, so TCP accepts are not starved by a UDP flood.
const UDP_BURST: usize = 64;
/// The largest datagram echoed (the largest a UDP/IPv4 datagram can carry).
const UDP_MAX: usize = 65_507;

#[derive(Default)]
struct Counters {
    open: AtomicUsize,
    connections: AtomicU64,
    refused: AtomicU64,
    idle_closed: AtomicU64,
    tcp_bytes: AtomicU64,
}

/// The addresses to bind: the given ones, or every address.
fn bind_addrs(cfg: &ServeConfig) -> Vec<IpAddr> {
    if cfg.bind.is_empty() {
        vec![IpAddr::V6(Ipv6Addr::UNSPECIFIED)]
    } else {
        cfg.bind.clone()
    }
}

fn new_socket(addr: SocketAddr, ty: Type, proto: Protocol, wildcard: bool) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() && wildcard {
        // `[::]` also takes IPv4 (as `::ffff:a.b.c.d`), like most servers.
        s.set_only_v6(false)?;
    }
    if ty == Type::STREAM {
        s.set_reuse_address(true)?;
    }
    s.bind(&addr.into())?;
    Ok(s)
}

/// Binds one socket, falling back from `[::]` to `0.0.0.0` when IPv6 is off on this machine.
fn bind_one(ip: IpAddr, port: u16, ty: Type, proto: Protocol, any: bool) -> anyhow::Result<Socket> {
    let addr = SocketAddr::new(ip, port);
    match new_socket(addr, ty, proto, any) {
        Ok(s) => Ok(s),
        Err(e) if any && e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
            let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            new_socket(v4, ty, proto, false).map_err(|e| bind_error(v4, ty, &e))
        }
        Err(e) => Err(bind_error(addr, ty, &e)),
    }
}

fn bind_error(addr: SocketAddr, ty: Type, e: &io::Error) -> anyhow::Error {
    let proto = if ty == Type::STREAM { "tcp" } else { "udp" };
    anyhow::anyhow!(
        "cannot listen on {proto} {addr}: {}",
        explain::io_error(e).sentence()
    )
}

/// Runs the echo server until Ctrl-C or `max_time`, sending every event to `log`.
pub fn serve(cfg: &ServeConfig, log: &(dyn Fn(&Event) + Sync)) -> anyhow::Result<ServeReport> {
    if cfg.tcp.is_none() && cfg.udp.is_none() {
        anyhow::bail!("nothing to serve: give --tcp PORT and/or --udp PORT");
    }
    let Sockets {
        tcp,
        udp,
        listeners,
    } = listen(cfg)?;
    for l in &listeners {
        log(&Event::Listening {
            proto: l.proto,
            address: l.address,
        });
    }
    let mut report = ServeReport {
        listeners,
        ..ServeReport::default()
    };
    let start = Instant::now();
    let stop = AtomicBool::new(false);
    let counters = Counters::default();
    let mut udp_state = UdpState::default();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut fds = poll_fds(&tcp, &udp);
        let mut buf = vec![0u8; UDP_MAX];
        loop {
            if let Some(end) = stop_now(cfg, start) {
                report.interrupted = end == Stop::Interrupted;
                log(&Event::Stopping { why: end.why() });
                break;
            }
            // A signal ends the wait with nothing ready; the loop then looks at the Ctrl-C flag.
            if let Err(e) = poll::poll(&mut fds, Instant::now() + Duration::from_millis(100)) {
                stop.store(true, Ordering::SeqCst);
                return Err(anyhow::Error::from(e).context("waiting for clients"));
            }
            for (i, pfd) in fds.iter().enumerate() {
                if !pfd.ready() {
                    continue;
                }
                if i < tcp.len() {
                    accept_all(&tcp[i], cfg, &counters, &stop, log, scope);
                } else {
                    udp_state.echo(&udp[i - tcp.len()], &mut buf, log);
                }
            }
        }
        stop.store(true, Ordering::SeqCst);
        Ok(())
    })?;
    report.elapsed = start.elapsed();
    tally(&mut report, &counters, &udp_state);
    Ok(report)
}

/// The listening sockets, non-blocking: TCP and UDP (as asked) on each bind address.
struct Sockets {
    tcp: Vec<TcpListener>,
    udp: Vec<UdpSocket>,
    /// Each socket's protocol and bound address, TCP and UDP of one address in turn.
    listeners: Vec<Listener>,
}

fn listen(cfg: &ServeConfig) -> anyhow::Result<Sockets> {
    let any = cfg.bind.is_empty();
    let mut socks = Sockets {
        tcp: Vec::new(),
        udp: Vec::new(),
        listeners: Vec::new(),
    };
    for ip in bind_addrs(cfg) {
        if let Some(port) = cfg.tcp {
            let s = bind_one(ip, port, Type::STREAM, Protocol::TCP, any)?;
            s.listen(1024)
                .with_context(|| format!("listening on tcp {ip} port {port}"))?;
            s.set_nonblocking(true)?;
            let l: TcpListener = s.into();
            let address = l.local_addr()?;
            socks.listeners.push(Listener {
                proto: Proto::Tcp,
                address,
            });
            socks.tcp.push(l);
        }
        if let Some(port) = cfg.udp {
            let s = bind_one(ip, port, Type::DGRAM, Protocol::UDP, any)?;
            s.set_nonblocking(true)?;
            let u: UdpSocket = s.into();
            let address = u.local_addr()?;
            socks.listeners.push(Listener {
                proto: Proto::Udp,
                address,
            });
            socks.udp.push(u);
        }
    }
    Ok(socks)
}

/// What the poll loop waits on: the TCP listeners first, then the UDP sockets.
fn poll_fds<'a>(tcp: &'a [TcpListener], udp: &'a [UdpSocket]) -> Vec<PollFd<'a>> {
    tcp.iter()
        .map(|l| PollFd::new(l, Interest::Readable))
        .chain(udp.iter().map(|u| PollFd::new(u, Interest::Readable)))
        .collect()
}

/// Why the server stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Interrupted,
    TimeUp,
}

impl Stop {
    fn why(self) -> &'static str {
        match self {
            Stop::Interrupted => "interrupted (Ctrl-C)",
            Stop::TimeUp => "the --duration ran out",
        }
    }
}

/// Whether the server stops now: Ctrl-C, or `max_time` has passed since `start`.
fn stop_now(cfg: &ServeConfig, start: Instant) -> Option<Stop> {
    if crate::interrupt::requested() {
        Some(Stop::Interrupted)
    } else if cfg.max_time.is_some_and(|t| start.elapsed() >= t) {
        Some(Stop::TimeUp)
    } else {
        None
    }
}

/// The counts of the run, into the report.
fn tally(report: &mut ServeReport, counters: &Counters, udp: &UdpState) {
    report.tcp_connections = counters.connections.load(Ordering::SeqCst);
    report.tcp_refused = counters.refused.load(Ordering::SeqCst);
    report.tcp_idle_closed = counters.idle_closed.load(Ordering::SeqCst);
    report.tcp_bytes = counters.tcp_bytes.load(Ordering::SeqCst);
    report.udp_datagrams = udp.datagrams;
    report.udp_bytes = udp.bytes;
    report.udp_peers = udp.peers_seen;
}

/// Shows an IPv4 client of a dual-stack socket as IPv4 (`127.0.0.1:5000`, not `[::ffff:127.0.0.1]:5000`).
fn plain(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}

/// Accepts every pending connection (bounded per wake-up) and starts an echo thread for each.
fn accept_all<'scope, 'env>(
    l: &TcpListener,
    cfg: &'env ServeConfig,
    counters: &'env Counters,
    stop: &'env AtomicBool,
    log: &'env (dyn Fn(&Event) + Sync),
    scope: &'scope std::thread::Scope<'scope, 'env>,
) {
    for _ in 0..256 {
        let (stream, peer) = match l.accept() {
            Ok((s, p)) => (s, plain(p)),
            // WouldBlock: nothing more pending. Other errors (ECONNABORTED, EMFILE) concern one client; the
            // listener stays usable, and the next poll retries.
            Err(_) => return,
        };
        let open = counters.open.load(Ordering::SeqCst);
        if open >= cfg.max_conns {
            counters.refused.fetch_add(1, Ordering::SeqCst);
            log(&Event::Refused { peer, open });
            drop(stream);
            continue;
        }
        counters.open.fetch_add(1, Ordering::SeqCst);
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let local = stream.local_addr().map_or(peer, plain);
        log(&Event::Connected {
            peer,
            local,
            open: open + 1,
        });
        let spawned = std::thread::Builder::new()
            .name("echo".into())
            .stack_size(64 * 1024)
            .spawn_scoped(scope, move || {
                let started = Instant::now();
                let (reason, bytes, detail) = echo_tcp(stream, cfg.idle, stop);
                counters.tcp_bytes.fetch_add(bytes, Ordering::SeqCst);
                if reason == CloseReason::Idle {
                    counters.idle_closed.fetch_add(1, Ordering::SeqCst);
                }
                counters.open.fetch_sub(1, Ordering::SeqCst);
                log(&Event::Closed {
                    peer,
                    reason,
                    bytes,
                    elapsed: started.elapsed(),
                    detail,
                });
            });
        if let Err(e) = spawned {
            counters.open.fetch_sub(1, Ordering::SeqCst);
            log(&Event::Closed {
                peer,
                reason: CloseReason::Error,
                bytes: 0,
                elapsed: Duration::ZERO,
                detail: Some(format!("could not start a thread: {e}")),
            });
        }
    }
}

/// Echoes one TCP connection until the client closes, it idles out, an error, or the server stops.
fn echo_tcp(
    mut s: TcpStream,
    idle: Duration,
    stop: &AtomicBool,
) -> (CloseReason, u64, Option<String>) {
    let fail = |e: &io::Error| Some(explain::io_error(e).sentence());
    if let Err(e) = s
        .set_nonblocking(false)
        .and_then(|_| s.set_read_timeout(Some(idle.min(TICK))))
        .and_then(|_| s.set_write_timeout(Some(idle)))
    {
        return (CloseReason::Error, 0, fail(&e));
    }
    let _ = s.set_nodelay(true);
    let mut buf = [0u8; 16 * 1024];
    let mut bytes = 0u64;
    let mut last = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return (CloseReason::Stopping, bytes, None);
        }
        match s.read(&mut buf) {
            Ok(0) => return (CloseReason::ClientClosed, bytes, None),
            Ok(n) => {
                if let Err(e) = s.write_all(&buf[..n]) {
                    return (CloseReason::Error, bytes, fail(&e));
                }
                bytes += n as u64;
                last = Instant::now();
            }
            Err(e) if crate::net::is_slice_end(&e) => {
                if last.elapsed() >= idle {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                    return (CloseReason::Idle, bytes, None);
                }
            }
            Err(e) => return (CloseReason::Error, bytes, fail(&e)),
        }
    }
}

#[derive(Default)]
struct UdpState {
    peers: HashSet<SocketAddr>,
    peers_seen: u64,
    datagrams: u64,
    bytes: u64,
}

impl UdpState {
    /// Echoes the datagrams waiting on `sock` (at most `UDP_BURST`), logging each new peer once.
    fn echo(&mut self, sock: &UdpSocket, buf: &mut [u8], log: &(dyn Fn(&Event) + Sync)) {
        for _ in 0..UDP_BURST {
            let (n, peer) = match sock.recv_from(buf) {
                Ok(x) => x,
                // WouldBlock ends the burst; other errors (an ICMP error from an earlier send) concern one peer.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            // A reply that cannot be sent (buffer full, peer gone) is dropped, as UDP does.
            let _ = sock.send_to(&buf[..n], peer);
            self.datagrams += 1;
            self.bytes += n as u64;
            if self.peers.len() < MAX_UDP_PEERS && self.peers.insert(peer) {
                self.peers_seen += 1;
                let local = sock.local_addr().unwrap_or(peer);
                log(&Event::UdpPeer {
                    peer: plain(peer),
                    local,
                    bytes: n,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn cfg() -> ServeConfig {
        ServeConfig {
            tcp: Some(0),
            udp: Some(0),
            bind: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            idle: Duration::from_secs(5),
            max_conns: 4,
            max_time: Some(Duration::from_millis(1500)),
        }
    }

    #[test]
    fn event_lines_read_well() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let e = Event::Listening {
            proto: Proto::Tcp,
            address: peer,
        };
        assert_eq!(e.line(), "listening tcp 127.0.0.1:5000");
        let e = Event::Refused { peer, open: 4 };
        assert!(e.line().contains("--max-conns"));
        let e = Event::Closed {
            peer,
            reason: CloseReason::Idle,
            bytes: 3,
            elapsed: Duration::from_secs(2),
            detail: None,
        };
        assert_eq!(
            e.line(),
            "tcp 127.0.0.1:5000 closed after 2.000 s: idle timeout, 3 bytes echoed"
        );
    }

    #[test]
    fn mapped_ipv4_clients_show_as_ipv4() {
        let m: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert_eq!(plain(m), "127.0.0.1:5000".parse::<SocketAddr>().unwrap());
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(plain(v6), v6);
    }

    #[test]
    fn nothing_to_serve_is_an_error() {
        let mut c = cfg();
        c.tcp = None;
        c.udp = None;
        assert!(serve(&c, &|_| {}).is_err());
    }

    #[test]
    fn echoes_tcp_and_udp_then_stops_on_time() {
        let events: Mutex<Vec<Event>> = Mutex::new(Vec::new());
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Listener>>();
        let tx = Mutex::new(Some(tx));
        let listeners: Mutex<Vec<Listener>> = Mutex::new(Vec::new());
        let log = |e: &Event| {
            if let Event::Listening { proto, address } = e {
                let mut ls = listeners.lock().unwrap();
                ls.push(Listener {
                    proto: *proto,
                    address: *address,
                });
                if ls.len() == 2 {
                    if let Some(tx) = tx.lock().unwrap().take() {
                        let _ = tx.send(ls.clone());
                    }
                }
            }
            events.lock().unwrap().push(e.clone());
        };
        let report = std::thread::scope(|s| {
            let h = s.spawn(|| serve(&cfg(), &log));
            let ls = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            let t = ls.iter().find(|l| l.proto == Proto::Tcp).unwrap().address;
            let u = ls.iter().find(|l| l.proto == Proto::Udp).unwrap().address;
            let mut c = TcpStream::connect(t).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            c.write_all(b"hello").unwrap();
            let mut got = [0u8; 5];
            c.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"hello");
            drop(c);
            let us = UdpSocket::bind("127.0.0.1:0").unwrap();
            us.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            us.send_to(b"ping", u).unwrap();
            let mut b = [0u8; 16];
            let (n, from) = us.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], b"ping");
            assert_eq!(from, u);
            h.join().unwrap().unwrap()
        });
        assert_eq!(report.tcp_connections, 1);
        assert_eq!(report.udp_datagrams, 1);
        assert_eq!(report.udp_peers, 1);
        assert!(!report.interrupted);
        let ev = events.lock().unwrap();
        assert!(ev.iter().any(|e| matches!(e, Event::UdpPeer { .. })));
        assert!(ev.iter().any(|e| matches!(e, Event::Stopping { .. })));
    }
}
