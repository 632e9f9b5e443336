//! `netdiag serve`: a real echo server on loopback, many concurrent TCP and UDP clients, idle timeout,
//! connection limit, Ctrl-C and bad input.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{netdiag, run};

/// A running `netdiag serve` on 127.0.0.1; killed on drop if still running.
struct Server {
    child: Child,
    lines: Receiver<String>,
    tcp: Option<SocketAddr>,
    udp: Option<SocketAddr>,
    seen: Vec<String>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = netdiag()
            .args(["serve", "--bind", "127.0.0.1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn netdiag serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Server {
            child,
            lines,
            tcp: None,
            udp: None,
            seen: Vec::new(),
        };
        let want_tcp = extra.contains(&"--tcp");
        let want_udp = extra.contains(&"--udp");
        let deadline = Instant::now() + Duration::from_secs(20);
        while (want_tcp && s.tcp.is_none()) || (want_udp && s.udp.is_none()) {
            assert!(
                Instant::now() < deadline,
                "no listening line; saw {:?}",
                s.seen
            );
            let Ok(line) = s.lines.recv_timeout(Duration::from_secs(1)) else {
                continue;
            };
            if let Some(a) = line.strip_prefix("listening tcp ") {
                s.tcp = Some(a.parse().expect("tcp address"));
            } else if let Some(a) = line.strip_prefix("listening udp ") {
                s.udp = Some(a.parse().expect("udp address"));
            }
            s.seen.push(line);
        }
        s
    }

    /// Waits (bounded) for a log line containing `needle`.
    fn wait_for(&mut self, needle: &str, within: Duration) -> bool {
        if self.seen.iter().any(|l| l.contains(needle)) {
            return true;
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                let hit = line.contains(needle);
                self.seen.push(line);
                if hit {
                    return true;
                }
            }
        }
        false
    }

    /// Sends SIGINT and returns (exit code, rest of stdout lines, stderr).
    fn interrupt(mut self) -> (i32, Vec<String>, String) {
        // SAFETY: kill on the pid of a child this test started.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break st;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(l);
        }
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (
            status.code().unwrap_or(-1),
            std::mem::take(&mut self.seen),
            err,
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tcp_round_trip(addr: SocketAddr, msg: &[u8]) -> Vec<u8> {
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    c.read_exact(&mut got).expect("echo");
    got
}

/// Runs `client(i)` for i in 0..n, each on a thread of its own, and waits for all; `client` waits on the barrier
/// once it is ready, so all start their exchange together.
fn together(n: usize, client: fn(usize, SocketAddr, &Barrier), addr: SocketAddr) {
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let b = barrier.clone();
            std::thread::spawn(move || client(i, addr, &b))
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
}

/// Stops the server once its log has a `first` line: it exits 130, with `n` log lines containing `each` and
/// one containing `total`.
fn stop_and_count(mut srv: Server, first: &str, each: &str, n: usize, total: &str) {
    assert!(srv.wait_for(first, Duration::from_secs(5)));
    let (code, lines, _) = srv.interrupt();
    assert_eq!(code, 130);
    let count = lines.iter().filter(|l| l.contains(each)).count();
    assert_eq!(count, n, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains(total)), "{lines:?}");
}

#[test]
fn fifty_concurrent_tcp_clients_get_their_own_bytes_back() {
    let srv = Server::start(&["--tcp", "0", "--max-conns", "200"]);
    together(
        50,
        |i, addr, b| {
            let mut c =
                TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            // Every client is connected before any sends: 50 connections open at once.
            b.wait();
            let msg = format!("client {i} says hello\n").repeat(100);
            c.write_all(msg.as_bytes()).unwrap();
            let mut got = vec![0u8; msg.len()];
            c.read_exact(&mut got).expect("echo");
            assert_eq!(got, msg.as_bytes(), "client {i}");
        },
        srv.tcp.unwrap(),
    );
    stop_and_count(srv, "connected", " connected to ", 50, "50 connections");
}

#[test]
fn fifty_concurrent_udp_clients_get_their_datagrams_back() {
    let srv = Server::start(&["--udp", "0"]);
    together(
        50,
        |i, addr, b| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let msg = format!("datagram from client {i}");
            b.wait();
            let mut buf = [0u8; 256];
            // UDP may drop under load: up to 5 tries, each with its own wait.
            for _ in 0..5 {
                s.send_to(msg.as_bytes(), addr).unwrap();
                if let Ok((len, from)) = s.recv_from(&mut buf) {
                    assert_eq!(from, addr);
                    assert_eq!(&buf[..len], msg.as_bytes(), "client {i}");
                    return;
                }
            }
            panic!("client {i}: no echo after 5 tries");
        },
        srv.udp.unwrap(),
    );
    stop_and_count(srv, "first datagram", "first datagram", 50, "50 peers");
}

#[test]
fn silent_client_is_closed_after_the_idle_timeout() {
    let mut srv = Server::start(&["--tcp", "0", "--idle-timeout", "1s"]);
    let addr = srv.tcp.unwrap();
    // A talking client keeps working while the silent one waits.
    assert_eq!(tcp_round_trip(addr, b"still here"), b"still here");
    let mut silent = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 8];
    let n = silent
        .read(&mut buf)
        .expect("server closes, not a read timeout");
    assert_eq!(n, 0, "expected EOF from the server");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "closed too early"
    );
    assert!(
        srv.wait_for("idle timeout", Duration::from_secs(10)),
        "{:?}",
        srv.seen
    );
    let (code, lines, _) = srv.interrupt();
    assert_eq!(code, 130);
    assert!(
        lines.iter().any(|l| l.contains("1 closed idle")),
        "{lines:?}"
    );
}

#[test]
fn connections_over_the_limit_are_closed_and_logged() {
    let mut srv = Server::start(&["--tcp", "0", "--max-conns", "2"]);
    let addr = srv.tcp.unwrap();
    let keep: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap())
        .collect();
    // Both are accepted (logged) before the third arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv
        .seen
        .iter()
        .filter(|l| l.contains(" connected to "))
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "{:?}", srv.seen);
        srv.wait_for("\u{0}", Duration::from_millis(200));
    }
    let mut extra = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4];
    let n = extra.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the extra connection is closed");
    assert!(
        srv.wait_for("refused: 2 connections open", Duration::from_secs(10)),
        "{:?}",
        srv.seen
    );
    drop(keep);
    let (code, lines, _) = srv.interrupt();
    assert_eq!(code, 130);
    assert!(
        lines.iter().any(|l| l.contains("1 refused (limit)")),
        "{lines:?}"
    );
}

#[test]
fn json_summary_stays_valid_and_logs_go_to_stderr() {
    let child = netdiag()
        .args([
            "--json",
            "serve",
            "--bind",
            "127.0.0.1",
            "--tcp",
            "0",
            "--udp",
            "0",
            "--duration",
            "1s",
        ])
        .output()
        .expect("run");
    let (code, out, err) = common::decode(child);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["listeners"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["interrupted"], false);
    assert!(err.contains("listening tcp 127.0.0.1:"), "{err}");
}

#[test]
fn port_in_use_is_a_one_line_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let (code, out, err) = run(&[
        "serve",
        "--bind",
        "127.0.0.1",
        "--tcp",
        &port,
        "--duration",
        "1",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("address already in use"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_bind_and_limits_are_rejected() {
    let (code, _, err) = run(&["serve", "--bind", "localhostx!", "--tcp", "0"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("invalid --bind address 'localhostx!'"),
        "{err}"
    );
    let (code, _, err) = run(&["serve", "--max-conns", "0", "--tcp", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--max-conns"), "{err}");
    let (code, _, err) = run(&["serve", "--idle-timeout", "0", "--tcp", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("duration"), "{err}");
}

#[test]
fn listens_on_ipv4_and_ipv6_binds_at_once() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipping listens_on_ipv4_and_ipv6_binds_at_once: no IPv6 loopback here");
        return;
    }
    let mut child = netdiag()
        .args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--bind",
            "::1",
            "--tcp",
            "0",
            "--udp",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addrs: Vec<(String, SocketAddr)> = Vec::new();
    while addrs.len() < 4 {
        let Some(Ok(line)) = lines.next() else { break };
        let mut w = line.split_whitespace();
        if let (Some("listening"), Some(p), Some(a)) = (w.next(), w.next(), w.next()) {
            addrs.push((p.to_string(), a.parse().unwrap()));
        }
    }
    assert_eq!(addrs.len(), 4, "{addrs:?}");
    for (proto, a) in &addrs {
        let msg = format!("hello over {proto} {a}");
        if proto == "tcp" {
            assert_eq!(tcp_round_trip(*a, msg.as_bytes()), msg.as_bytes());
        } else {
            let bind = if a.is_ipv6() {
                "[::1]:0"
            } else {
                "127.0.0.1:0"
            };
            let s = UdpSocket::bind(bind).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.send_to(msg.as_bytes(), a).unwrap();
            let mut buf = [0u8; 128];
            let (n, from) = s.recv_from(&mut buf).expect("udp echo");
            assert_eq!((&buf[..n], from), (msg.as_bytes(), *a));
        }
    }
    assert!(addrs.iter().any(|(_, a)| a.is_ipv6()));
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `netdiag probe ARGS` with a wall-clock bound (killed after 60 s) and returns (code, stdout, stderr).
fn probe(args: &[&str]) -> (i32, String, String) {
    let mut child = netdiag()
        .arg("probe")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn netdiag probe");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netdiag probe {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    common::decode(child.wait_with_output().expect("probe output"))
}

/// The table row for `port/proto`, split into fields: ADDRESS PORT STATE SERVICE TIME(2 fields) REPLY.
fn row<'a>(out: &'a str, port: u16, proto: &str) -> Vec<&'a str> {
    let col = format!("{port}/{proto}");
    let line = out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(col.as_str()))
        .unwrap_or_else(|| panic!("no row for {col}:\n{out}"));
    line.split_whitespace().collect()
}

#[test]
fn probe_send_expect_round_trips_through_the_real_server() {
    let mut srv = Server::start(&["--tcp", "0", "--udp", "0"]);
    let (tcp, udp) = (srv.tcp.unwrap(), srv.udp.unwrap());
    let (t, u) = (tcp.to_string(), udp.to_string());

    // TCP: the echoed text is the reply, and it contains the expected text.
    let (code, out, err) = probe(&[&t, "--send", "hello", "--expect", "hello", "-t", "5"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.lines().next().unwrap_or("").ends_with("REPLY"), "{out}");
    let f = row(&out, tcp.port(), "tcp");
    assert_eq!(f[0], "127.0.0.1", "{out}");
    assert_eq!(f[2], "open", "{out}");
    assert_eq!(f.last(), Some(&"hello"), "{out}");
    assert!(!out.contains("unexpected"), "{out}");
    assert!(
        srv.wait_for(" connected to ", Duration::from_secs(10)),
        "the probe did not reach the server: {:?}",
        srv.seen
    );

    // UDP: the echoed datagram makes the port open.
    let (code, out, err) = probe(&[
        "--udp", &u, "--send", "hello", "--expect", "hello", "-t", "5",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let f = row(&out, udp.port(), "udp");
    assert_eq!(f[2], "open", "{out}");
    assert_eq!(f.last(), Some(&"hello"), "{out}");
    assert!(!out.contains("unexpected"), "{out}");
    assert!(
        srv.wait_for("first datagram", Duration::from_secs(10)),
        "the probe did not reach the server: {:?}",
        srv.seen
    );

    // A reply without the expected text: exit 1, the port still open, the verdict and what came back.
    for (args, port, proto, addr) in [
        (vec![t.as_str()], tcp.port(), "tcp", &t),
        (vec!["--udp", u.as_str()], udp.port(), "udp", &u),
    ] {
        let mut args = args;
        args.extend([
            "--send",
            "hello",
            "--expect",
            "nothing-like-this",
            "-t",
            "5",
        ]);
        let (code, out, err) = probe(&args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        let f = row(&out, port, proto);
        assert_eq!(f[2], "open", "{out}");
        assert_eq!(f.last(), Some(&"hello"), "{out}");
        let verdict = format!("{addr}/{proto} open: unexpected reply: ");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&verdict) && l.ends_with("(unexpected-reply)")),
            "{args:?}: {out}"
        );
        assert!(
            out.lines().any(|l| l == "  got: 'hello'"),
            "{args:?}: {out}"
        );
    }

    let (code, _, _) = srv.interrupt();
    assert_eq!(code, 130);
}
