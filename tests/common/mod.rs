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

/// Parses a JSON report; panics with the text when it is not JSON.
pub fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{stdout}"))
}

/// The rows of a diagnose report's `steps` named `step`.
pub fn steps<'a>(report: &'a serde_json::Value, step: &str) -> Vec<&'a serde_json::Value> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["step"] == step)
        .collect()
}

/// The first row of a diagnose report's `steps` named `step`; panics with the report when there is none.
pub fn step<'a>(report: &'a serde_json::Value, step: &str) -> &'a serde_json::Value {
    steps(report, step)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no {step} step: {report}"))
}

/// Runs netdiag with bad input and checks what bad input gets: exit 2, nothing on stdout, one line on stderr
/// that starts `netdiag: error: ` and contains `want`, no panic. Returns that line.
pub fn bad_input(args: &[&str], want: &str) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert!(out.is_empty(), "{args:?}: {out}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("netdiag: error: "), "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{args:?}: {err}"
    );
    err
}

/// Starts `cmd` with its output piped, sends it SIGINT after `after` and waits for it. Returns (exit code,
/// stdout, stderr, how long it took to end after the signal).
pub fn interrupted_after(
    mut cmd: Command,
    after: std::time::Duration,
) -> (i32, String, String, std::time::Duration) {
    use std::process::Stdio;
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netdiag");
    std::thread::sleep(after);
    // SAFETY: signalling our own child by its pid (`ip netns exec` execs netdiag in place).
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = std::time::Instant::now();
    let (code, out, err) = decode(child.wait_with_output().expect("wait for netdiag"));
    (code, out, err, start.elapsed())
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
    /// The veth interface names in `a` and in `b`.
    pub a_if: String,
    pub b_if: String,
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
            a_if: va,
            b_if: vb,
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
        let etc = resolver_in(&ns, records);
        DnsNs { ns, etc }
    }
}

/// The resolver of an existing namespace: a responder of the test's own on 127.0.0.1:53 in it (A, AAAA and
/// PTR for the given records; NXDOMAIN for everything else). Drop removes /etc/netns/NAME.
pub struct NsResolver {
    etc: std::path::PathBuf,
}

impl NsResolver {
    pub fn new(ns: &NetNs, records: &[(&str, &str)]) -> NsResolver {
        NsResolver {
            etc: resolver_in(ns, records),
        }
    }
}

impl Drop for NsResolver {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

/// Writes the namespace's resolv.conf and starts its DNS responder; returns the /etc/netns directory.
fn resolver_in(ns: &NetNs, records: &[(&str, &str)]) -> std::path::PathBuf {
    let etc = std::path::PathBuf::from(format!("/etc/netns/{}", ns.name));
    std::fs::create_dir_all(&etc).expect("mkdir /etc/netns");
    std::fs::write(
        etc.join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .expect("write resolv.conf");
    dns_responder(ns, records);
    etc
}

/// The DNS responder alone on 127.0.0.1:53 inside an existing namespace (its resolv.conf left as it is).
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
    if qtype == 12 {
        return ptr_reply(q, qend, &name, records);
    }
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

/// A routed chain of namespaces joined by veth links, for traces: client — r1 — … — rN — server, or (with
/// [`Chain::ecmp`]) client — r1 =(r2a | r2b)= r3 — server with r1 spreading flows over both middle routers.
/// IPv4 and IPv6 on every link, forwarding on in the routers, their ICMP rate limits off (and the server's,
/// so its port unreachables are not rate-limited either), DAD off so IPv6 works at once. Link k joins
/// 10.77.k.1 (the client side) and 10.77.k.2 (fd77:k::1 and ::2); a router answers a trace from the address
/// facing the client. These addresses exist only inside the chain's namespaces; everything is deleted on drop.
pub struct Chain {
    pub client: NetNs,
    /// r1, r2, r3 (ECMP: r1, r2a, r2b, r3).
    pub routers: Vec<NetNs>,
    pub server: NetNs,
    pub server_ip: String,
    pub server_ip6: String,
    /// The addresses a trace should list, hop by hop (the server last). ECMP: hop 2 is r2a's here.
    pub hops: Vec<String>,
    pub hops6: Vec<String>,
}

static LINK: AtomicUsize = AtomicUsize::new(0);

/// A veth link between two namespaces with 10.77.`net`.1/24 on `a`'s side and .2 on `b`'s (fd77:`net`::1
/// and ::2 /64).
fn chain_link<'a>(a: &'a NetNs, b: &NetNs, net: u8) -> [(&'a NetNs, String); 2] {
    let id = format!(
        "{}x{}",
        std::process::id(),
        LINK.fetch_add(1, Ordering::SeqCst)
    );
    let (va, vb) = (trunc(&format!("ta{id}")), trunc(&format!("tb{id}")));
    sh(&format!(
        "ip link add {va} netns {} type veth peer name {vb} netns {}",
        a.name, b.name
    ));
    a.sh(&format!(
        "ip addr add 10.77.{net}.1/24 dev {va} && ip -6 addr add fd77:{net}::1/64 dev {va} nodad && ip link set {va} up"
    ));
    b.sh(&format!(
        "ip addr add 10.77.{net}.2/24 dev {vb} && ip -6 addr add fd77:{net}::2/64 dev {vb} nodad && ip link set {vb} up"
    ));
    [(a, format!("10.77.{net}.2")), (a, format!("fd77:{net}::2"))]
}

/// Waits until every link answers: from its client-side end, one ping (IPv4 and IPv6) to the other end, all
/// links at once. A fresh veth pair ignores the first IPv6 neighbour solicitation (the kernel answers the
/// retransmission a second later), which would cost a fresh chain's first probes. The pings are netdiag's own,
/// so the settling does not hang on iputils being installed.
fn settle(pairs: &[(&NetNs, String)]) {
    let bin = env!("CARGO_BIN_EXE_netdiag");
    let cmds: Vec<String> = pairs
        .iter()
        .map(|(ns, addr)| {
            format!(
                "(for i in 1 2 3 4 5; do ip netns exec {} {bin} ping -c 1 -W 2 {addr} >/dev/null 2>&1 && exit 0; done; exit 1) &",
                ns.name
            )
        })
        .collect();
    let script = format!(
        "{} ok=0; for p in $(jobs -p); do wait $p || ok=1; done; exit $ok",
        cmds.join(" ")
    );
    sh(&script);
}

/// The interface in `ns` that holds `addr`.
fn dev_of(ns: &NetNs, addr: &str) -> String {
    ns.sh(&format!("ip -o addr show to {addr} | awk '{{print $2}}'"))
        .trim()
        .to_string()
}

fn chain_ns(tag: &str) -> NetNs {
    let ns = NetNs::new(tag);
    // No duplicate address detection: link-local and global IPv6 addresses usable at once.
    ns.sh("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
    ns
}

fn router_setup(r: &NetNs) {
    r.sh("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0");
}

impl Chain {
    /// client — r1 — r2 — r3 — server.
    pub fn new(tag: &str) -> Chain {
        Chain::line(tag, 3)
    }

    /// client — r1 — … — r`n` — server.
    pub fn line(tag: &str, n: u8) -> Chain {
        let client = chain_ns(tag);
        let routers: Vec<NetNs> = (0..n).map(|_| chain_ns(tag)).collect();
        let server = chain_ns(tag);
        let mut nodes: Vec<&NetNs> = vec![&client];
        nodes.extend(routers.iter());
        nodes.push(&server);
        let mut ends = Vec::new();
        for k in 1..nodes.len() {
            ends.extend(chain_link(nodes[k - 1], nodes[k], k as u8));
        }
        client.sh("ip route add default via 10.77.1.2 && ip -6 route add default via fd77:1::2");
        for (i, r) in routers.iter().enumerate() {
            let j = i as u8 + 1;
            router_setup(r);
            r.sh(&format!(
                "ip route add default via 10.77.{}.2 && ip -6 route add default via fd77:{}::2",
                j + 1,
                j + 1
            ));
            for k in 1..j {
                r.sh(&format!(
                    "ip route add 10.77.{k}.0/24 via 10.77.{j}.1 && ip -6 route add fd77:{k}::/64 via fd77:{j}::1"
                ));
            }
        }
        let last = n + 1;
        server.sh(&format!(
            "ip route add default via 10.77.{last}.1 && ip -6 route add default via fd77:{last}::1"
        ));
        server.sh("sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0");
        settle(&ends);
        drop(nodes);
        let hops = (1..=last).map(|k| format!("10.77.{k}.2")).collect();
        let hops6 = (1..=last).map(|k| format!("fd77:{k}::2")).collect();
        Chain {
            client,
            routers,
            server,
            server_ip: format!("10.77.{last}.2"),
            server_ip6: format!("fd77:{last}::2"),
            hops,
            hops6,
        }
    }

    /// client — r1 =(r2a | r2b)= r3 — server: r1 has two next hops and hashes flows by their ports
    /// (fib_multipath_hash_policy=1, IPv4 and IPv6). Hop 2 answers from 10.77.2.2 (r2a) or 10.77.12.2 (r2b).
    pub fn ecmp(tag: &str) -> Chain {
        let client = chain_ns(tag);
        let r1 = chain_ns(tag);
        let r2a = chain_ns(tag);
        let r2b = chain_ns(tag);
        let r3 = chain_ns(tag);
        let server = chain_ns(tag);
        let ends = [
            chain_link(&client, &r1, 1),
            chain_link(&r1, &r2a, 2),
            chain_link(&r1, &r2b, 12),
            chain_link(&r2a, &r3, 3),
            chain_link(&r2b, &r3, 13),
            chain_link(&r3, &server, 4),
        ]
        .concat();
        for r in [&r1, &r2a, &r2b, &r3] {
            router_setup(r);
        }
        client.sh("ip route add default via 10.77.1.2 && ip -6 route add default via fd77:1::2");
        r1.sh(
            "sysctl -qw net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1",
        );
        r1.sh("ip route add default nexthop via 10.77.2.2 nexthop via 10.77.12.2");
        r1.sh("ip -6 route add default nexthop via fd77:2::2 nexthop via fd77:12::2");
        r2a.sh("ip route add 10.77.1.0/24 via 10.77.2.1 && ip route add default via 10.77.3.2");
        r2a.sh(
            "ip -6 route add fd77:1::/64 via fd77:2::1 && ip -6 route add default via fd77:3::2",
        );
        r2b.sh("ip route add 10.77.1.0/24 via 10.77.12.1 && ip route add default via 10.77.13.2");
        r2b.sh(
            "ip -6 route add fd77:1::/64 via fd77:12::1 && ip -6 route add default via fd77:13::2",
        );
        r3.sh("ip route add default via 10.77.3.1 && ip -6 route add default via fd77:3::1");
        server.sh("ip route add default via 10.77.4.1 && ip -6 route add default via fd77:4::1");
        server.sh("sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0");
        settle(&ends);
        drop(ends);
        Chain {
            client,
            routers: vec![r1, r2a, r2b, r3],
            server,
            server_ip: "10.77.4.2".into(),
            server_ip6: "fd77:4::2".into(),
            hops: ["10.77.1.2", "10.77.2.2", "10.77.3.2", "10.77.4.2"]
                .map(String::from)
                .to_vec(),
            hops6: ["fd77:1::2", "fd77:2::2", "fd77:3::2", "fd77:4::2"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// The server's address in the family (`v6`).
    pub fn server(&self, v6: bool) -> &str {
        if v6 {
            &self.server_ip6
        } else {
            &self.server_ip
        }
    }

    pub fn expected(&self, v6: bool) -> &[String] {
        if v6 {
            &self.hops6
        } else {
            &self.hops
        }
    }

    /// Adds nftables rules to router `i` (0-based): `chain` is `forward` or `output`, `rules` the body.
    pub fn nft(&self, i: usize, chain: &str, rules: &str) {
        let script = format!(
            "table inet t {{ chain {chain} {{ type filter hook {chain} priority 0; policy accept; {rules} ; }} ; }}"
        );
        self.routers[i].sh(&format!("echo '{script}' | nft -f -"));
    }

    /// Router `i` sends no "time exceeded" (a silent hop): its own ICMP and ICMPv6 time exceeded are dropped
    /// on the way out.
    pub fn silence(&self, i: usize) {
        self.nft(
            i,
            "output",
            "icmp type time-exceeded drop ; icmpv6 type time-exceeded drop",
        );
    }

    /// The MTU of link `k` (both ends).
    pub fn link_mtu(&self, k: u8, mtu: u32) {
        let left = if k == 1 {
            &self.client
        } else {
            &self.routers[usize::from(k) - 2]
        };
        let right = self.routers.get(usize::from(k) - 1).unwrap_or(&self.server);
        for (ns, addr) in [
            (left, format!("10.77.{k}.1")),
            (right, format!("10.77.{k}.2")),
        ] {
            let dev = dev_of(ns, &addr);
            ns.sh(&format!("ip link set {dev} mtu {mtu}"));
        }
    }
}

/// Parses `traceroute -n` output into hops: (TTL, addresses that answered, in order; empty for `*`), and the
/// `!X`-style marks seen.
pub fn traceroute_hops(out: &str) -> Vec<(u8, Vec<String>, Vec<String>)> {
    out.lines()
        .skip_while(|l| l.starts_with("traceroute"))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let ttl: u8 = words.next()?.parse().ok()?;
            let mut addrs = Vec::new();
            let mut marks = Vec::new();
            for w in words {
                if w.parse::<std::net::IpAddr>().is_ok() {
                    if !addrs.contains(&w.to_string()) {
                        addrs.push(w.to_string());
                    }
                } else if w.starts_with('!') {
                    marks.push(w.to_string());
                }
            }
            Some((ttl, addrs, marks))
        })
        .collect()
}

/// Parses `mtr --json` output into (hop, host) pairs (`???` for a silent hop).
pub fn mtr_hops(json: &str) -> Vec<(u8, String, f64)> {
    let v: serde_json::Value = serde_json::from_str(json).expect("mtr --json output");
    v["report"]["hubs"]
        .as_array()
        .map(|hubs| {
            hubs.iter()
                .map(|h| {
                    (
                        h["count"].as_u64().unwrap_or(0) as u8,
                        h["host"].as_str().unwrap_or("").to_string(),
                        h["Loss%"].as_f64().unwrap_or(-1.0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The address a reverse-lookup name stands for (`2.1.77.10.in-addr.arpa`, nibbles under `ip6.arpa`).
fn arpa_to_ip(name: &str) -> Option<std::net::IpAddr> {
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<&str> = v4.split('.').collect();
        o.reverse();
        return o.join(".").parse().ok();
    }
    let v6 = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<&str> = v6.split('.').collect();
    if nibbles.len() != 32 {
        return None;
    }
    let hex: String = nibbles.iter().rev().copied().collect();
    let groups: Vec<String> = (0..8).map(|g| hex[g * 4..g * 4 + 4].to_string()).collect();
    groups.join(":").parse().ok()
}

/// A PTR answer for the record whose address the query names, NXDOMAIN otherwise.
fn ptr_reply(
    q: &[u8],
    qend: usize,
    name: &str,
    records: &[(String, std::net::IpAddr)],
) -> Option<Vec<u8>> {
    let target = arpa_to_ip(name).and_then(|ip| records.iter().find(|(_, a)| *a == ip));
    let mut r = Vec::with_capacity(512);
    r.extend_from_slice(&q[0..2]);
    r.extend_from_slice(&[0x81, if target.is_some() { 0x80 } else { 0x83 }]);
    r.extend_from_slice(&[0, 1, 0, u8::from(target.is_some()), 0, 0, 0, 0]);
    r.extend_from_slice(q.get(12..qend)?);
    if let Some((host, _)) = target {
        let mut rdata = Vec::new();
        for label in host.split('.') {
            rdata.push(label.len() as u8);
            rdata.extend_from_slice(label.as_bytes());
        }
        rdata.push(0);
        r.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(&rdata);
    }
    Some(r)
}

/// True when setpriv (util-linux) is installed.
pub fn have_setpriv() -> bool {
    have("setpriv")
}

/// `program` run as user nobody (uid and gid 65534, no groups, no capabilities) with setpriv, inside `ns` when
/// one is given, without color.
pub fn as_nobody(ns: Option<&NetNs>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns.name, "setpriv"]);
            c
        }
        None => Command::new("setpriv"),
    };
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(program)
    .env("NO_COLOR", "1");
    c
}

impl NetNs {
    /// Runs netdiag in the namespace as user nobody ([`as_nobody`]); None (after saying why) when setpriv is
    /// missing or nobody cannot run the test binary.
    pub fn run_as_nobody(&self, args: &[&str]) -> Option<(i32, String, String)> {
        if !have_setpriv() {
            eprintln!("setpriv (util-linux) is not installed");
            return None;
        }
        let o = as_nobody(Some(self), env!("CARGO_BIN_EXE_netdiag"))
            .args(args)
            .output()
            .ok()?;
        let r = decode(o);
        if r.0 == 126 || r.0 == 127 {
            eprintln!("nobody cannot run the test binary: {}", r.2);
            return None;
        }
        Some(r)
    }
}

/// An MPLS router for traces: router `i` of a chain answers the probes that expire there itself, as a label
/// switching router does, with an ICMP (ICMPv6) time exceeded carrying an RFC 4884 extension with an
/// RFC 4950 MPLS label stack object. The kernel's own time exceeded is dropped (nftables, output); ours are
/// marked so they pass. A thread in the router's namespace reads the arriving packets (AF_PACKET) and answers
/// those with TTL 1 from the client. Stopped and joined on drop.
pub struct MplsRouter {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The mark of the MPLS router's own ICMP (passes its nftables rule).
const MPLS_MARK: u32 = 0x4950;

/// An RFC 4884 extension structure with one RFC 4950 label stack object: (label, tc, bottom, ttl) entries.
pub fn mpls_extension(labels: &[(u32, u8, bool, u8)]) -> Vec<u8> {
    let mut e = vec![0x20, 0, 0, 0];
    e.extend_from_slice(&((4 + 4 * labels.len()) as u16).to_be_bytes());
    e.extend_from_slice(&[1, 1]);
    for &(label, tc, s, ttl) in labels {
        let v = (label << 12) | (u32::from(tc) << 9) | (u32::from(s) << 8) | u32::from(ttl);
        e.extend_from_slice(&v.to_be_bytes());
    }
    let c = inet_checksum(&e);
    e[2..4].copy_from_slice(&c.to_be_bytes());
    e
}

fn inet_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl MplsRouter {
    pub fn start(chain: &Chain, i: usize, labels: &[(u32, u8, bool, u8)]) -> MplsRouter {
        chain.nft(
            i,
            "output",
            &format!(
                "meta mark != {MPLS_MARK} icmp type time-exceeded drop ; meta mark != {MPLS_MARK} icmpv6 type time-exceeded drop"
            ),
        );
        let path = format!("/var/run/netns/{}", chain.routers[i].name);
        let k = i + 1;
        let (src4, src6): (std::net::IpAddr, std::net::IpAddr) = (
            format!("10.77.{k}.2").parse().unwrap(),
            format!("fd77:{k}::2").parse().unwrap(),
        );
        let client4: std::net::IpAddr = "10.77.1.1".parse().unwrap();
        let client6: std::net::IpAddr = "fd77:1::1".parse().unwrap();
        let ext = mpls_extension(labels);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            use socket2::{Domain, Protocol, Socket, Type};
            use std::io::Read;
            use std::os::fd::AsRawFd;
            let file = std::fs::File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace fd affects only this thread.
            assert_eq!(
                unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                0
            );
            let eth_p_all = (libc::ETH_P_ALL as u16).to_be() as i32;
            let cap = Socket::new(Domain::PACKET, Type::DGRAM, Some(Protocol::from(eth_p_all)))
                .expect("AF_PACKET socket");
            let one: libc::c_int = 1;
            // SAFETY: a valid fd and an int option of the size given. PACKET_IGNORE_OUTGOING (23): only what
            // arrives, not what this router forwards.
            unsafe {
                libc::setsockopt(
                    cap.as_raw_fd(),
                    libc::SOL_PACKET,
                    23,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            cap.set_read_timeout(Some(std::time::Duration::from_millis(100)))
                .unwrap();
            let open = |v6: bool, src: std::net::IpAddr| {
                let s = if v6 {
                    Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
                } else {
                    Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
                }
                .expect("raw ICMP socket");
                s.set_mark(MPLS_MARK).unwrap();
                s.bind(&std::net::SocketAddr::new(src, 0).into()).unwrap();
                s
            };
            let (tx4, tx6) = (open(false, src4), open(true, src6));
            ready_tx.send(()).unwrap();
            let end = std::time::Instant::now() + std::time::Duration::from_secs(300);
            let mut buf = [0u8; 2048];
            while !flag.load(std::sync::atomic::Ordering::SeqCst) && std::time::Instant::now() < end
            {
                let Ok(n) = (&cap).read(&mut buf) else {
                    continue;
                };
                let p = &buf[..n];
                let (v6, ttl, src) = match p.first().map(|b| b >> 4) {
                    Some(4) if n >= 20 => (
                        false,
                        p[8],
                        std::net::IpAddr::from(<[u8; 4]>::try_from(&p[12..16]).unwrap()),
                    ),
                    Some(6) if n >= 40 => (
                        true,
                        p[7],
                        std::net::IpAddr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap()),
                    ),
                    _ => continue,
                };
                if ttl != 1 || (src != client4 && src != client6) {
                    continue;
                }
                let mut original = p[..n.min(128)].to_vec();
                original.resize(128, 0);
                let mut icmp = if v6 {
                    vec![3, 0, 0, 0, 128 / 8, 0, 0, 0]
                } else {
                    vec![11, 0, 0, 0, 0, 128 / 4, 0, 0]
                };
                icmp.extend_from_slice(&original);
                icmp.extend_from_slice(&ext);
                if !v6 {
                    let c = inet_checksum(&icmp);
                    icmp[2..4].copy_from_slice(&c.to_be_bytes());
                }
                let to: socket2::SockAddr = std::net::SocketAddr::new(src, 0).into();
                let _ = if v6 { &tx6 } else { &tx4 }.send_to(&icmp, &to);
            }
        });
        ready_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("MPLS router started");
        MplsRouter {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for MplsRouter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
pub mod dns;
pub mod http;
pub mod scan;
