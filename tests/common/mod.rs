//! Shared test helpers: the built binary, root checks, and network namespaces the tests create themselves.
//!
//! Network rule: tests send traffic only to loopback or to addresses inside namespaces they created here.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The built netdiag binary with a clean environment: no color, no config variables.
pub fn netdiag() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netdiag"));
    c.env("NO_COLOR", "1").env_remove("RUST_BACKTRACE");
    c
}

/// Runs netdiag with arguments and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let o = netdiag().args(args).output().expect("run netdiag");
    decode(o)
}

pub fn decode(o: Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn have(cmd: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(cmd).exists())
}

/// True when the test can create network namespaces (root and `ip` present). Prints why not otherwise.
pub fn can_netns(test: &str) -> bool {
    if !is_root() {
        eprintln!("skipping {test}: needs root to create network namespaces");
        return false;
    }
    if !have("ip") {
        eprintln!("skipping {test}: the 'ip' command (iproute2) is not installed");
        return false;
    }
    true
}

/// True when nftables is usable as well.
pub fn can_nft(test: &str) -> bool {
    if !can_netns(test) {
        return false;
    }
    if !have("nft") {
        eprintln!("skipping {test}: the 'nft' command (nftables) is not installed");
        return false;
    }
    true
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace of the test's own, with loopback up; deleted on drop. The name carries the process id
/// and a sequence number so parallel tests never collide.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new(tag: &str) -> NetNs {
        let name = format!(
            "nd{}{}{}",
            &tag[..tag.len().min(4)],
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        sh(&format!("ip netns add {name}"));
        let ns = NetNs { name };
        ns.sh("ip link set lo up");
        ns
    }

    /// Runs a shell command inside the namespace; panics with its output if it fails.
    pub fn sh(&self, cmd: &str) -> String {
        sh(&format!(
            "ip netns exec {} sh -c '{}'",
            self.name,
            cmd.replace('\'', "'\\''")
        ))
    }

    /// Adds nftables rules: `rules` is the body of an `inet t` table's input chain, e.g. `tcp dport 9 drop`.
    pub fn nft_input(&self, rules: &str) {
        let script = format!(
            "table inet t {{ chain input {{ type filter hook input priority 0; policy accept; {rules} ; }} ; }}"
        );
        self.sh(&format!("echo '{script}' | nft -f -"));
    }

    /// netdiag run inside the namespace.
    pub fn netdiag(&self) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_netdiag")])
            .env("NO_COLOR", "1");
        c
    }

    /// Runs netdiag inside the namespace and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        decode(
            self.netdiag()
                .args(args)
                .output()
                .expect("run netdiag in netns"),
        )
    }

    /// Runs a closure on a thread that has entered the namespace: sockets it creates live in the namespace.
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns");
            use std::os::fd::AsRawFd;
            // SAFETY: setns on a valid namespace fd affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("netns thread")
    }

    /// A TCP listener on `addr` (e.g. "127.0.0.1:0") inside the namespace.
    pub fn listen(&self, addr: &str) -> TcpListener {
        let a = addr.to_string();
        self.enter(move || TcpListener::bind(a).expect("bind in netns"))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
    }
}

/// Two namespaces joined by a veth pair: `a` at 10.`net`.0.1/24 and fd`net`::1/64, `b` at .2 / ::2.
/// These addresses exist only inside the two namespaces.
pub struct VethPair {
    pub a: NetNs,
    pub b: NetNs,
    pub a_ip: String,
    pub b_ip: String,
    pub a_ip6: String,
    pub b_ip6: String,
}

impl VethPair {
    pub fn new(tag: &str) -> VethPair {
        let a = NetNs::new(tag);
        let b = NetNs::new(tag);
        let net = 100 + (std::process::id() as usize + SEQ.fetch_add(1, Ordering::SeqCst)) % 150;
        let (va, vb) = (format!("va{}", &a.name[2..]), format!("vb{}", &b.name[2..]));
        let (va, vb) = (trunc(&va), trunc(&vb));
        sh(&format!(
            "ip link add {va} netns {} type veth peer name {vb} netns {}",
            a.name, b.name
        ));
        let (a_ip, b_ip) = (format!("10.{net}.0.1"), format!("10.{net}.0.2"));
        let (a_ip6, b_ip6) = (format!("fd{net:02x}::1"), format!("fd{net:02x}::2"));
        a.sh(&format!("ip addr add {a_ip}/24 dev {va} && ip -6 addr add {a_ip6}/64 dev {va} nodad && ip link set {va} up"));
        b.sh(&format!("ip addr add {b_ip}/24 dev {vb} && ip -6 addr add {b_ip6}/64 dev {vb} nodad && ip link set {vb} up"));
        VethPair {
            a,
            b,
            a_ip,
            b_ip,
            a_ip6,
            b_ip6,
        }
    }
}

fn trunc(s: &str) -> String {
    s.chars().take(15).collect()
}

/// Runs a shell command; panics with its output if it fails.
pub fn sh(cmd: &str) -> String {
    let o = Command::new("sh").args(["-c", cmd]).output().expect("sh");
    assert!(
        o.status.success(),
        "command failed: {cmd}\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A loopback port with nothing listening: bind port 0, note the port, drop the listener.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A network namespace whose resolver is a DNS responder of the test's own on 127.0.0.1:53: `ip netns exec`
/// bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf, so getaddrinfo inside the namespace asks
/// only this responder. It answers A/AAAA for the names it is given and NXDOMAIN for everything else, so
/// tests of unresolvable names never send a query off the machine.
pub struct DnsNs {
    pub ns: NetNs,
    etc: std::path::PathBuf,
}

impl DnsNs {
    /// `records`: (name, address) pairs to answer, e.g. ("web.test", "127.0.0.1").
    pub fn new(tag: &str, records: &[(&str, &str)]) -> DnsNs {
        let ns = NetNs::new(tag);
        let etc = std::path::PathBuf::from(format!("/etc/netns/{}", ns.name));
        std::fs::create_dir_all(&etc).expect("mkdir /etc/netns");
        std::fs::write(
            etc.join("resolv.conf"),
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
        .expect("write resolv.conf");
        dns_responder(&ns, records);
        DnsNs { ns, etc }
    }
}

/// The DNS responder of [`DnsNs`] on 127.0.0.1:53 inside an existing namespace.
pub fn dns_responder(ns: &NetNs, records: &[(&str, &str)]) {
    let sock = ns.enter(|| std::net::UdpSocket::bind("127.0.0.1:53").expect("bind :53 in netns"));
    let records: Vec<(String, std::net::IpAddr)> = records
        .iter()
        .map(|(n, a)| {
            (
                n.trim_end_matches('.').to_ascii_lowercase(),
                a.parse().expect("record address"),
            )
        })
        .collect();
    std::thread::spawn(move || serve_dns(sock, records));
}

impl Drop for DnsNs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

/// Answers DNS queries until the namespace goes away (the socket then errors or idles out after 120 s).
fn serve_dns(sock: std::net::UdpSocket, records: Vec<(String, std::net::IpAddr)>) {
    sock.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .ok();
    let mut buf = [0u8; 1500];
    for _ in 0..10_000 {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            return;
        };
        if let Some(reply) = dns_reply(&buf[..n], &records) {
            let _ = sock.send_to(&reply, peer);
        }
    }
}

/// A reply to one query: the matching A/AAAA records, NOERROR with no answer for a known name of the other
/// family, NXDOMAIN otherwise.
pub fn dns_reply(q: &[u8], records: &[(String, std::net::IpAddr)]) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    while i < q.len() && q[i] != 0 {
        let l = q[i] as usize;
        labels.push(String::from_utf8_lossy(q.get(i + 1..i + 1 + l)?).to_ascii_lowercase());
        i += 1 + l;
    }
    let qend = i + 5; // zero byte, qtype, qclass
    let qtype = u16::from_be_bytes([*q.get(i + 1)?, *q.get(i + 2)?]);
    let name = labels.join(".");
    let answers: Vec<&std::net::IpAddr> = records
        .iter()
        .filter(|(n, a)| {
            *n == name && ((qtype == 1 && a.is_ipv4()) || (qtype == 28 && a.is_ipv6()))
        })
        .map(|(_, a)| a)
        .collect();
    let known = records.iter().any(|(n, _)| *n == name);
    let mut r = Vec::with_capacity(512);
    r.extend_from_slice(&q[0..2]);
    let rcode = if known { 0 } else { 3 };
    r.extend_from_slice(&[0x81, 0x80 | rcode]);
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(q.get(12..qend)?);
    for a in answers {
        r.extend_from_slice(&[0xc0, 12]);
        let (t, data) = match a {
            std::net::IpAddr::V4(v) => (1u16, v.octets().to_vec()),
            std::net::IpAddr::V6(v) => (28u16, v.octets().to_vec()),
        };
        r.extend_from_slice(&t.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(&data);
    }
    Some(r)
}

/// True when `cmd` (from Debian package `package`) is installed, installing it first when the test runs as root
/// (as CI does). Installs are serialised with a lock file, since tests run in parallel and apt takes a lock of its
/// own; `policy-rc.d` keeps package scripts from starting daemons (tests run their own instances). Prints why and
/// returns false when the tool cannot be had, so the caller skips.
pub fn need_tool(test: &str, cmd: &str, package: &str) -> bool {
    if have(cmd) {
        return true;
    }
    if !is_root() {
        eprintln!("skipping {test}: '{cmd}' (Debian package {package}) is not installed and only root can install it");
        return false;
    }
    let script = format!(
        "set -e; exec 9>/tmp/netdiag-tests-apt.lock; flock -w 600 9; \
         command -v {cmd} >/dev/null 2>&1 && exit 0; \
         [ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; \
         export DEBIAN_FRONTEND=noninteractive; \
         apt-get install -y -qq {package} >/dev/null 2>&1 || {{ apt-get update -qq && apt-get install -y -qq {package} >/dev/null; }}"
    );
    let ok = Command::new("sh")
        .args(["-c", &script])
        .status()
        .is_ok_and(|s| s.success());
    if !ok || !have(cmd) {
        eprintln!("skipping {test}: could not install Debian package {package} for '{cmd}'");
        return false;
    }
    true
}

/// The DNS world (knot, unbound, dnsdist in a namespace) of the direct-DNS and diagnose tests.
pub mod dns;
