//! A DNS world of the tests' own inside a network namespace: a fake root (knot), a `test.` TLD (knot), the
//! authoritative zone `zone.test.` (knot), unbound recursing from that root (also over TLS), unbound
//! forwarding to a dead upstream (SERVFAIL), dnsdist serving DNS over HTTPS, and dead addresses (nothing
//! listening, packets dropped by nftables, no route). Every daemon runs with config files in a temp dir,
//! in the foreground as a child of the test, and is killed in Drop; /etc/netns/NAME/resolv.conf makes the
//! namespace's resolver ours.

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::NetNs;

/// knot: the authoritative server of zone.test. (and 0.53.10.in-addr.arpa.).
pub const AUTH: &str = "10.53.0.1";
/// unbound: recursive from the fake root, UDP/TCP 53 and TLS 853; validates one name against a bogus
/// trust anchor (SERVFAIL with an extended error).
pub const RESOLVER: &str = "10.53.0.2";
/// unbound forwarding everything to DEAD: SERVFAIL.
pub const SERVFAIL: &str = "10.53.0.3";
/// An address of the namespace where nothing listens: ICMP port unreachable.
pub const DEAD: &str = "10.53.0.4";
/// An address whose DNS packets nftables drops: timeout.
pub const DROPPED: &str = "10.53.0.5";
/// dnsdist: DNS over HTTPS on 443 in front of RESOLVER.
pub const DOH: &str = "10.53.0.6";
/// knot: the fake root zone.
pub const ROOT: &str = "10.53.0.10";
/// knot: the test. zone.
pub const TLD: &str = "10.53.0.11";
/// AUTH's IPv6 address.
pub const AUTH6: &str = "fd53::1";
/// An IPv6 address of the namespace where nothing listens.
pub const DEAD6: &str = "fd53::4";
/// No route to it in the namespace: network unreachable.
pub const UNROUTED: &str = "10.99.0.1";

/// The authoritative zone: A, AAAA, a CNAME chain, MX, TXT, SRV, CAA, HTTPS, a name with many A records and
/// a TXT set too large for UDP.
pub fn zone_text(www: &str) -> String {
    let mut z = format!(
        "$ORIGIN zone.test.\n$TTL 300\n\
@       IN SOA ns1.zone.test. hostmaster.zone.test. 2024010101 3600 600 86400 60\n\
@       IN NS  ns1.zone.test.\n\
ns1     IN A   {AUTH}\n\
www     IN A   {www}\n\
www     IN AAAA fd53::80\n\
alias   IN CNAME alias2\n\
alias2  IN CNAME www\n\
@       IN MX  10 mail.zone.test.\n\
@       IN MX  20 mail2.zone.test.\n\
mail    IN A   10.53.0.25\n\
@       IN TXT \"v=spf1 -all\" \"second string\"\n\
_sip._udp IN SRV 10 60 5060 sip.zone.test.\n\
sip     IN A   10.53.0.60\n\
@       IN CAA 0 issue \"ca.test\"\n\
svc     IN HTTPS 1 . alpn=\"h2,http/1.1\"\n\
signed  IN A   10.53.0.99\n"
    );
    for i in 1..=30 {
        z.push_str(&format!("many    IN A   10.53.1.{i}\n"));
    }
    for i in 0..8 {
        let chunk: String = format!("chunk{i}-").repeat(25).chars().take(200).collect();
        z.push_str(&format!("big     IN TXT \"{chunk}\"\n"));
    }
    z
}

const REVERSE_ZONE: &str = "$ORIGIN 0.53.10.in-addr.arpa.\n$TTL 300\n\
@  IN SOA ns1.zone.test. hostmaster.zone.test. 1 3600 600 86400 60\n\
@  IN NS  ns1.zone.test.\n\
80 IN PTR www.zone.test.\n";

fn root_zone() -> String {
    format!(
        "$ORIGIN .\n$TTL 86400\n\
.       IN SOA a.root.test. admin.root.test. 1 1800 900 604800 86400\n\
.       IN NS  a.root.test.\n\
test.   IN NS  ns.nic.test.\n\
ns.nic.test. IN A {TLD}\n\
a.root.test. IN A {ROOT}\n\
0.53.10.in-addr.arpa. IN NS ns1.zone.test.\n"
    )
}

fn tld_zone() -> String {
    format!(
        "$ORIGIN test.\n$TTL 3600\n\
@       IN SOA ns.nic.test. admin.nic.test. 1 1800 900 604800 3600\n\
@       IN NS  ns.nic.test.\n\
ns.nic  IN A   {TLD}\n\
a.root  IN A   {ROOT}\n\
zone    IN NS  ns1.zone.test.\n\
ns1.zone IN A  {AUTH}\n"
    )
}

/// Which servers to start.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parts {
    /// RESOLVER (and the root and TLD it recurses from).
    pub resolver: bool,
    /// SERVFAIL.
    pub servfail: bool,
    /// DoT on RESOLVER:853 and DoH on DOH:443 (implies resolver).
    pub encrypted: bool,
    /// The root and TLD alone (for --trace).
    pub hierarchy: bool,
}

impl Parts {
    /// The recursive resolver (with the root and TLD it recurses from).
    pub const RESOLVER: Parts = Parts {
        resolver: true,
        servfail: false,
        encrypted: false,
        hierarchy: false,
    };

    /// The recursive resolver and the resolver whose upstream is dead (SERVFAIL).
    pub const RESOLVER_AND_SERVFAIL: Parts = Parts {
        servfail: true,
        ..Parts::RESOLVER
    };
}

/// A certificate authority and a server certificate for RESOLVER, DOH and dns.test.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct DnsWorld {
    pub ns: NetNs,
    pub dir: tempfile::TempDir,
    etc: PathBuf,
    children: Vec<Child>,
    pub pki: Option<Pki>,
}

impl Drop for DnsWorld {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

/// True when the daemons and clients the DNS tests use are here (installing them as root); prints why not.
pub fn can_dns(test: &str, parts: Parts) -> bool {
    if !super::can_nft(test) {
        return false;
    }
    let mut need = vec![
        ("knotd", "knot"),
        ("dig", "bind9-dnsutils"),
        ("kdig", "knot-dnsutils"),
    ];
    if parts.resolver || parts.servfail || parts.encrypted {
        need.push(("unbound", "unbound"));
    }
    if parts.encrypted {
        need.push(("dnsdist", "dnsdist"));
    }
    need.iter()
        .all(|(cmd, pkg)| super::need_tool(test, cmd, pkg))
}

impl DnsWorld {
    /// Starts the world; the authoritative zone.test. server always runs.
    pub fn new(tag: &str, parts: Parts) -> DnsWorld {
        let ns = NetNs::new(tag);
        let dir = tempfile::tempdir().expect("tempdir");
        let etc = PathBuf::from(format!("/etc/netns/{}", ns.name));
        std::fs::create_dir_all(&etc).expect("mkdir /etc/netns");
        let mut w = DnsWorld {
            ns,
            dir,
            etc,
            children: Vec::new(),
            pki: None,
        };
        let mut addrs = vec![AUTH, DEAD, DROPPED];
        let resolver = parts.resolver || parts.encrypted;
        if resolver || parts.hierarchy {
            addrs.extend([ROOT, TLD]);
        }
        if resolver {
            addrs.push(RESOLVER);
        }
        if parts.servfail {
            addrs.push(SERVFAIL);
        }
        if parts.encrypted {
            addrs.push(DOH);
        }
        let cmds: Vec<String> = addrs
            .iter()
            .map(|a| format!("ip addr add {a}/32 dev lo"))
            .collect();
        w.ns.sh(&cmds.join(" && "));
        w.ns.sh(&format!(
            "ip -6 addr add {AUTH6}/128 dev lo nodad && ip -6 addr add {DEAD6}/128 dev lo nodad"
        ));
        w.ns.nft_input(&format!(
            "ip daddr {DROPPED} udp dport 53 drop ; ip daddr {DROPPED} tcp dport 53 drop"
        ));
        w.resolv_conf(&[RESOLVER], "options timeout:1 attempts:1");
        w.knot(
            "auth",
            &[AUTH, AUTH6],
            &[
                ("zone.test.", zone_text("10.53.0.80")),
                ("0.53.10.in-addr.arpa.", REVERSE_ZONE.into()),
            ],
        );
        if resolver || parts.hierarchy {
            w.knot("root", &[ROOT], &[(".", root_zone())]);
            w.knot("tld", &[TLD], &[("test.", tld_zone())]);
        }
        if parts.encrypted {
            w.pki = Some(w.make_pki());
        }
        if resolver {
            w.unbound(
                "resolver",
                RESOLVER,
                &format!("stub-zone:\n    name: \".\"\n    stub-addr: {ROOT}\n"),
                parts.encrypted,
            );
        }
        if parts.servfail {
            // Give up on the dead upstream at once instead of retrying for seconds.
            w.unbound("servfail", SERVFAIL, &format!("    outbound-msg-retry: 0\n    max-sent-count: 2\nforward-zone:\n    name: \".\"\n    forward-addr: {DEAD}\n"), false);
        }
        if parts.encrypted {
            w.dnsdist();
        }
        w
    }

    /// An HTTP server answering 200 on `addr`:80 inside the namespace (the address is added to lo), for at
    /// most 20 connections or 60 s.
    pub fn http_server(&self, addr: &str) {
        self.ns.sh(&format!("ip addr add {addr}/32 dev lo"));
        let l = self.ns.listen(&format!("{addr}:80"));
        l.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let end = std::time::Instant::now() + Duration::from_secs(60);
            let mut served = 0;
            while served < 20 && std::time::Instant::now() < end {
                match l.accept() {
                    Ok((mut c, _)) => {
                        served += 1;
                        let _ = c.set_nonblocking(false);
                        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 2048];
                        let _ = c.read(&mut buf);
                        let _ = c.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
    }

    /// Writes the namespace's resolv.conf.
    pub fn resolv_conf(&self, servers: &[&str], extra: &str) {
        let mut s: String = servers
            .iter()
            .map(|a| format!("nameserver {a}\n"))
            .collect();
        s.push_str(extra);
        s.push('\n');
        std::fs::write(self.etc.join("resolv.conf"), s).expect("write resolv.conf");
    }

    /// Writes the namespace's /etc/hosts (ip netns exec mounts it over /etc/hosts).
    pub fn hosts(&self, text: &str) {
        std::fs::write(self.etc.join("hosts"), text).expect("write hosts");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spawn(&mut self, what: &str, args: &[&str]) {
        let log = std::fs::File::create(self.path(&format!("{what}.log"))).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        self.children.push(child);
    }

    fn knot(&mut self, what: &str, addrs: &[&str], zones: &[(&str, String)]) {
        let d = self.path(what);
        std::fs::create_dir_all(&d).expect("mkdir");
        let listen: Vec<String> = addrs.iter().map(|a| format!("{a}@53")).collect();
        let mut conf = format!(
            "server:\n    rundir: \"{0}\"\n    listen: [ {1} ]\nlog:\n  - target: stderr\n    any: warning\ndatabase:\n    storage: \"{0}\"\nzone:\n",
            d.display(),
            listen.join(", ")
        );
        for (i, (origin, text)) in zones.iter().enumerate() {
            let file = d.join(format!("zone{i}.zone"));
            std::fs::write(&file, text).expect("write zone");
            conf.push_str(&format!(
                "  - domain: \"{origin}\"\n    file: \"{}\"\n    zonefile-load: whole\n    journal-content: none\n",
                file.display()
            ));
        }
        let cf = d.join("knot.conf");
        std::fs::write(&cf, conf).expect("write knot.conf");
        let cf = cf.display().to_string();
        self.spawn(what, &["knotd", "-c", &cf]);
        self.wait_udp(addrs[0], what);
    }

    /// Changes www.zone.test.'s address on the authoritative server (for stale-cache disagreements).
    pub fn set_www(&self, addr: &str) {
        let d = self.path("auth");
        std::fs::write(
            d.join("zone0.zone"),
            zone_text(addr).replace("2024010101", "2024010102"),
        )
        .expect("write zone");
        self.ns.sh(&format!(
            "knotc -s {}/knot.sock zone-reload zone.test.",
            d.display()
        ));
        // The reload is asynchronous: wait until knot serves the new address.
        for _ in 0..100 {
            let out = self.dig(&["+short", &format!("@{AUTH}"), "www.zone.test"]);
            if out.trim() == addr {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("knot did not load the new zone");
    }

    fn unbound(&mut self, what: &str, addr: &str, upstream: &str, tls: bool) {
        let d = self.path(what);
        std::fs::create_dir_all(&d).expect("mkdir");
        let mut tls_conf = String::new();
        if let (true, Some(p)) = (tls, &self.pki) {
            tls_conf = format!(
                "    interface: {addr}@853\n    tls-service-key: \"{}\"\n    tls-service-pem: \"{}\"\n    tls-port: 853\n",
                p.key.display(),
                p.cert.display()
            );
        }
        let conf = format!(
            "server:\n    interface: {addr}\n{tls_conf}    port: 53\n    access-control: 0.0.0.0/0 allow\n    do-not-query-localhost: no\n    username: \"\"\n    chroot: \"\"\n    directory: \"{dir}\"\n    pidfile: \"{dir}/unbound.pid\"\n    use-syslog: no\n    logfile: \"\"\n    verbosity: 0\n    num-threads: 1\n    so-reuseport: no\n    module-config: \"validator iterator\"\n    trust-anchor: \"signed.zone.test. DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n    auto-trust-anchor-file: \"\"\n    root-hints: \"\"\n    local-zone: \"test.\" nodefault\n    local-zone: \"10.in-addr.arpa.\" nodefault\n    ede: yes\n{upstream}",
            dir = d.display()
        );
        let cf = d.join("unbound.conf");
        std::fs::write(&cf, conf).expect("write unbound.conf");
        let cf = cf.display().to_string();
        self.spawn(what, &["unbound", "-d", "-c", &cf]);
        self.wait_udp(addr, what);
        if !tls_conf.is_empty() {
            self.wait_tcp(&format!("{addr}:853"), what);
        }
    }

    fn dnsdist(&mut self) {
        let p = self.pki.as_ref().expect("pki");
        let conf = format!(
            "setSecurityPollSuffix(\"\")\nsetLocal(\"{DOH}:53\")\naddDOHLocal(\"{DOH}:443\", \"{}\", \"{}\", \"/dns-query\")\nnewServer({{address=\"{RESOLVER}:53\"}})\n",
            p.cert.display(),
            p.key.display()
        );
        let cf = self.path("dnsdist.conf");
        std::fs::write(&cf, conf).expect("write dnsdist.conf");
        let cf = cf.display().to_string();
        self.spawn(
            "dnsdist",
            &["dnsdist", "--supervised", "--disable-syslog", "-C", &cf],
        );
        self.wait_tcp(&format!("{DOH}:443"), "dnsdist");
    }

    fn make_pki(&self) -> Pki {
        let names = [RESOLVER, DOH, "dns.test"];
        let made = super::http::pki(&names, "dns.test", Some("netdiag DNS test CA"), None);
        let pki = Pki {
            ca: self.path("ca.pem"),
            cert: self.path("cert.pem"),
            key: self.path("key.pem"),
        };
        std::fs::write(&pki.ca, made.ca_pem).expect("write ca");
        std::fs::write(&pki.cert, made.cert_pem).expect("write cert");
        std::fs::write(&pki.key, made.key_pem).expect("write key");
        pki
    }

    /// Waits until something answers DNS on addr:53 (any answer), at most about 10 s.
    fn wait_udp(&self, addr: &str, what: &str) {
        let a: SocketAddr = format!("{addr}:53").parse().expect("addr");
        // A query for ". SOA".
        let q: Vec<u8> = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1];
        let ok = self.ns.enter(move || {
            for _ in 0..200 {
                if let Ok(s) = UdpSocket::bind("0.0.0.0:0") {
                    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
                    let mut buf = [0u8; 512];
                    if s.send_to(&q, a).is_ok() && s.recv_from(&mut buf).is_ok() {
                        return true;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        });
        assert!(ok, "{what} did not start: {}", self.log(what));
    }

    fn wait_tcp(&self, addr: &str, what: &str) {
        let a: SocketAddr = addr.parse().expect("addr");
        let ok = self.ns.enter(move || {
            for _ in 0..200 {
                if TcpStream::connect_timeout(&a, Duration::from_millis(100)).is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        });
        assert!(ok, "{what} did not listen on {addr}: {}", self.log(what));
    }

    fn log(&self, what: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{what}.log"))).unwrap_or_default()
    }

    /// Runs netdiag inside the namespace: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.ns.run(args)
    }

    /// netdiag --json inside the namespace: (exit code, document).
    pub fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let (code, out, err) = self.run(&a);
        let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        (code, v)
    }

    /// dig inside the namespace (never retrying longer than a second a try).
    pub fn dig(&self, args: &[&str]) -> String {
        self.tool("dig", &["+time=2", "+tries=1"], args)
    }

    /// kdig inside the namespace.
    pub fn kdig(&self, args: &[&str]) -> String {
        self.tool("kdig", &["+timeout=2", "+retry=0"], args)
    }

    fn tool(&self, cmd: &str, limits: &[&str], args: &[&str]) -> String {
        let o = Command::new("ip")
            .args(["netns", "exec", &self.ns.name, cmd])
            .args(limits)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    }

    pub fn ca(&self) -> &Path {
        &self.pki.as_ref().expect("pki").ca
    }
}

/// What dig printed, parsed: status, flags, answer records (name, ttl, class, type, data).
#[derive(Debug, Clone, Default)]
pub struct Dig {
    pub status: String,
    pub flags: Vec<String>,
    pub answer: Vec<(String, u32, String, String, String)>,
    pub authority: Vec<(String, u32, String, String, String)>,
    pub ede: Option<u16>,
    pub ede_name: Option<String>,
    pub text: String,
}

/// Parses dig's default output.
pub fn parse_dig(text: &str) -> Dig {
    let mut d = Dig {
        text: text.to_string(),
        ..Default::default()
    };
    let mut section = "";
    for line in text.lines() {
        // dig: "status: NOERROR, id: 1"; kdig: "status: NOERROR; id: 1".
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split([',', ';']).next().unwrap_or("").to_string();
        }
        if let Some(rest) = line
            .strip_prefix(";; flags: ")
            .or_else(|| line.strip_prefix(";; Flags: "))
        {
            d.flags = rest
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
        }
        if let Some(rest) = line.strip_prefix("; EDE: ") {
            d.ede = rest.split_whitespace().next().and_then(|c| c.parse().ok());
            d.ede_name = rest
                .split_once('(')
                .and_then(|(_, n)| n.split_once(')'))
                .map(|(n, _)| n.to_string());
        }
        if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
            continue;
        }
        if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
            continue;
        }
        if line.starts_with(";;") || line.is_empty() {
            if line.is_empty() {
                section = "";
            }
            continue;
        }
        if line.starts_with(';') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 {
            continue;
        }
        let rr = (
            f[0].to_string(),
            f[1].parse().unwrap_or(0),
            f[2].to_string(),
            f[3].to_string(),
            f[4..].join(" "),
        );
        match section {
            "answer" => d.answer.push(rr),
            "authority" => d.authority.push(rr),
            _ => {}
        }
    }
    d
}
