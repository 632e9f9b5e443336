//! `netdiag diagnose`: every verdict from a real setup in network namespaces the tests create: a working HTTP
//! server across a veth pair, an HTTP 500, a closed port, a port dropped by nftables, addresses with no route and
//! unreachable, a name that does not exist (answered NXDOMAIN by common::DnsNs, a DNS responder on the
//! namespace's loopback), a DNS server that is down, and the machine check. Skipped with a reason when not root.
//!
//! Network rule: traffic goes only to loopback or to addresses inside the namespaces created here. Names are
//! resolved inside a namespace whose resolv.conf (/etc/netns/NAME/resolv.conf, bind-mounted by `ip netns exec`)
//! points at its own 127.0.0.1.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::http::{pki, serve_on, serve_tls_on, tls_config, Pki, Server};
use common::{can_netns, can_nft, decode, interrupted_after, run, DnsNs, NetNs, VethPair};

/// A tiny HTTP server on a listener (already bound inside a namespace): answers every GET with `status`, for up
/// to 20 connections (a connect-only client gets nothing).
struct HttpResponder {
    port: u16,
    server: Server,
}

impl HttpResponder {
    fn start(listener: TcpListener, status: &'static str) -> HttpResponder {
        let server = serve_on(listener, 20, move |_, s, req| {
            if !req.starts_with("GET ") {
                return;
            }
            let body = format!("status {status}\n");
            let resp = format!(
                "HTTP/1.1 {status}\r\nServer: tiny-test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes());
        });
        HttpResponder {
            port: server.port,
            server,
        }
    }

    /// The requests it answered.
    fn hits(&self) -> usize {
        let seen = self.server.seen();
        seen.iter().filter(|r| r.text.starts_with("GET ")).count()
    }
}

/// A resolv.conf of the namespace's own (`ip netns exec` bind-mounts /etc/netns/NAME/*); removed on drop.
struct NsResolvConf {
    dir: String,
}

impl NsResolvConf {
    fn new(ns: &NetNs, content: &str) -> NsResolvConf {
        let dir = format!("/etc/netns/{}", ns.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/resolv.conf"), content).unwrap();
        NsResolvConf { dir }
    }
}

impl Drop for NsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn diagnose_in(ns: &NetNs, args: &[&str]) -> (i32, String, String) {
    decode(
        ns.netdiag()
            .arg("diagnose")
            .args(args)
            .output()
            .expect("run netdiag in netns"),
    )
}

#[test]
fn working_http_server_across_a_veth_works_end_to_end() {
    if !can_netns("working_http_server_across_a_veth_works_end_to_end") {
        return;
    }
    let v = VethPair::new("dgok");
    let server = HttpResponder::start(v.b.listen("0.0.0.0:0"), "200 OK");
    let url = format!("http://{}:{}/index.html", v.b_ip, server.port);
    let (code, out, err) = diagnose_in(&v.a, &[&url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok: works end to end"), "{out}");
    assert!(
        out.contains(&format!("TCP {}:{}", v.b_ip, server.port)),
        "{out}"
    );
    assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
    assert!(out.contains("server tiny-test"), "{out}");
    assert!(out.contains(&format!("ICMP echo to {}", v.b_ip)), "{out}");
    assert!(out.contains("echo reply"), "{out}");
    let (code, out, _) = diagnose_in(&v.a, &["--json", &url]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["ok"], true);
    assert_eq!(j["verdict"], "ok");
    let talk = common::step(&j, "talk");
    assert_eq!(talk["status"], "ok");
    assert!(talk["elapsed_ms"].as_f64().unwrap() > 0.0);
    assert!(server.hits() >= 2);
}

#[test]
fn http_500_fails_at_talk_and_points_at_the_server_logs() {
    if !can_netns("http_500_fails_at_talk_and_points_at_the_server_logs") {
        return;
    }
    let ns = NetNs::new("dg500");
    let server = HttpResponder::start(ns.listen("127.0.0.1:0"), "500 Internal Server Error");
    let url = format!("http://127.0.0.1:{}/", server.port);
    let (code, out, err) = diagnose_in(&ns, &[&url]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL at talk: protocol"), "{out}");
    assert!(out.contains("HTTP/1.1 500 Internal Server Error"), "{out}");
    assert!(
        out.contains("the server failed while handling the request"),
        "{out}"
    );
    assert!(out.contains("fix: check the server's logs"), "{out}");
    assert_eq!(server.hits(), 1);
}

#[test]
fn closed_port_fails_at_connect_with_refused() {
    if !can_netns("closed_port_fails_at_connect_with_refused") {
        return;
    }
    let ns = NetNs::new("dgcl");
    let (code, out, err) = diagnose_in(&ns, &["http://127.0.0.1:8080/"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL at connect: closed"), "{out}");
    assert!(
        out.contains("connection refused: the host is up but nothing listens on port 8080"),
        "{out}"
    );
    assert!(
        out.contains("is the service running, or bound to 127.0.0.1 only?"),
        "{out}"
    );
    assert!(out.contains("skipped: no connection to talk over"), "{out}");
}

#[test]
fn dropped_port_on_a_pinging_host_blames_a_firewall() {
    if !can_nft("dropped_port_on_a_pinging_host_blames_a_firewall") {
        return;
    }
    let ns = NetNs::new("dgdr");
    ns.nft_input("tcp dport 8081 drop");
    let start = Instant::now();
    let (code, out, err) = diagnose_in(&ns, &["--timeout", "1", "127.0.0.1:8081"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "must wait for the deadline"
    );
    assert!(out.contains("FAIL at connect: filtered"), "{out}");
    assert!(out.contains("echo reply"), "{out}");
    assert!(
        out.contains("no answer within 1.000 s, although the host answers ping: a firewall is dropping the packets to port 8081"),
        "{out}"
    );
    assert!(out.contains("fix: open port 8081 in the firewall"), "{out}");
}

#[test]
fn silent_host_is_filtered_or_down() {
    if !can_nft("silent_host_is_filtered_or_down") {
        return;
    }
    let v = VethPair::new("dgsi");
    // b drops everything that comes in: no ping reply, no SYN-ACK, no RST.
    v.b.nft_input("drop");
    let start = Instant::now();
    let (code, out, err) = diagnose_in(
        &v.a,
        &["--timeout", "1", &format!("http://{}:8080/", v.b_ip)],
    );
    assert_eq!(code, 1, "{out}{err}");
    // Reach and connect wait at the same time: one deadline, not two.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert!(out.contains("reach    ICMP echo to"), "{out}");
    assert!(out.contains("warn: filtered"), "{out}");
    assert!(out.contains("FAIL at connect: filtered"), "{out}");
    assert!(
        out.contains("no answer within 1.000 s: a firewall is probably dropping the packets, or the host is down"),
        "{out}"
    );
    assert!(out.contains("skipped: no connection to talk over"), "{out}");
}

#[test]
fn address_with_no_route_is_unreachable() {
    if !can_netns("address_with_no_route_is_unreachable") {
        return;
    }
    let v = VethPair::new("dgnr");
    // Without its routes, namespace a has no way to b's network.
    v.a.sh("ip -4 route flush table main");
    let (code, out, err) = diagnose_in(&v.a, &[&format!("{}:80", v.b_ip)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL at connect: unreachable"), "{out}");
    assert!(out.contains("ENETUNREACH"), "{out}");
    assert!(
        out.contains("network unreachable: this machine has no route to that network"),
        "{out}"
    );
    assert!(out.contains("fix: check the routing table"), "{out}");
}

#[test]
fn unreachable_host_route_is_host_unreachable() {
    if !can_netns("unreachable_host_route_is_host_unreachable") {
        return;
    }
    let v = VethPair::new("dghu");
    v.a.sh(&format!("ip route add unreachable {}/32", v.b_ip));
    let (code, out, err) = diagnose_in(&v.a, &[&format!("{}:22", v.b_ip)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("EHOSTUNREACH"), "{out}");
    assert!(out.contains("host unreachable"), "{out}");
}

#[test]
fn unknown_name_is_not_found_and_later_steps_say_why_they_were_skipped() {
    if !can_netns("unknown_name_is_not_found_and_later_steps_say_why_they_were_skipped") {
        return;
    }
    let dns = DnsNs::new("dgnx", &[("web.test", "127.0.0.1")]);
    let (code, out, err) = diagnose_in(&dns.ns, &["no-such-host.netdiag-test.invalid"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL at resolve: not-found"), "{out}");
    // Issue 15: the nameserver is asked directly and named.
    assert!(
        out.contains(
            "the name no-such-host.netdiag-test.invalid. does not exist, says nameserver 127.0.0.1"
        ),
        "{out}"
    );
    assert!(out.contains("(NXDOMAIN)"), "{out}");
    assert!(out.contains("check the spelling"), "{out}");
    assert!(out.contains("skipped: no address to reach"), "{out}");
    assert!(out.contains("skipped: no address to connect to"), "{out}");
    assert!(out.contains("skipped: no connection to talk over"), "{out}");
}

#[test]
fn name_with_two_addresses_works_over_one_and_warns_about_the_other() {
    if !can_netns("name_with_two_addresses_works_over_one_and_warns_about_the_other") {
        return;
    }
    let dns = DnsNs::new("dgtw", &[("web.test", "127.0.0.1"), ("web.test", "::1")]);
    // The server listens on IPv4 loopback only.
    let server = HttpResponder::start(dns.ns.listen("127.0.0.1:0"), "200 OK");
    let url = format!("http://web.test:{}/", server.port);
    let (code, out, err) = diagnose_in(&dns.ns, &[&url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("IPv4 127.0.0.1; IPv6 ::1"), "{out}");
    assert!(out.contains(&format!("TCP [::1]:{}", server.port)), "{out}");
    assert!(out.contains("warn: closed (ECONNREFUSED)"), "{out}");
    assert!(
        out.contains(&format!("nothing listens on port {}", server.port)),
        "{out}"
    );
    assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
    assert!(out.contains("ok: works end to end"), "{out}");
    let (_, out, _) = diagnose_in(&dns.ns, &["-6", &url]);
    assert!(out.contains("FAIL at connect: closed"), "{out}");
}

#[test]
fn an_explanation_shared_by_several_steps_is_printed_once() {
    if !can_netns("an_explanation_shared_by_several_steps_is_printed_once") {
        return;
    }
    let dns = DnsNs::new("dgon", &[("two.test", "127.0.0.1"), ("two.test", "::1")]);
    let port = dns.ns.enter(common::closed_port);
    let (code, out, err) = diagnose_in(&dns.ns, &[&format!("two.test:{port}")]);
    assert_eq!(code, 1, "{out}{err}");
    // Both addresses are refused: two connect rows, one explanation.
    assert!(out.contains(&format!("TCP [::1]:{port}")), "{out}");
    assert!(out.contains(&format!("TCP 127.0.0.1:{port}")), "{out}");
    assert_eq!(out.matches("connection refused").count(), 1, "{out}");
    assert_eq!(out.matches("  fix: ").count(), 1, "{out}");
}

#[test]
fn dns_server_down_is_named_with_its_port_unreachable() {
    if !can_netns("dns_server_down_is_named_with_its_port_unreachable") {
        return;
    }
    let ns = NetNs::new("dgdn");
    // Nothing listens on 127.0.0.1:53 in this namespace.
    let _rc = NsResolvConf::new(&ns, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    let (code, out, err) = diagnose_in(&ns, &["www.netdiag-test.invalid"]);
    assert_eq!(code, 1, "{out}{err}");
    // Issue 15: not glibc's EAI_AGAIN, but which nameserver and why.
    assert!(out.contains("FAIL at resolve: closed"), "{out}");
    assert!(out.contains("port-unreachable"), "{out}");
    assert!(
        out.contains("nameserver 127.0.0.1 is up but nothing listens for DNS there"),
        "{out}"
    );
}

#[test]
fn machine_check_in_a_bare_namespace_finds_no_default_route() {
    if !can_netns("machine_check_in_a_bare_namespace_finds_no_default_route") {
        return;
    }
    let ns = NetNs::new("dgm0");
    let _rc = NsResolvConf::new(&ns, "nameserver 127.0.0.1\n");
    let _l = ns.listen("127.0.0.1:0");
    let (code, out, err) = diagnose_in(&ns, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("nameservers 127.0.0.1"), "{out}");
    assert!(out.contains("ok: 127.0.0.1:"), "{out}");
    assert!(out.contains("1 TCP listening"), "{out}");
    assert!(out.contains("no IPv4 default route"), "{out}");
    assert!(out.contains("only loopback has an address"), "{out}");
    // Issue 15: the nameserver is asked; nothing listens there, the first failure.
    assert!(out.contains("ask 127.0.0.1 for . NS"), "{out}");
    assert!(out.contains("FAIL at nameserver: closed"), "{out}");
    assert!(out.contains("interfaces"), "{out}");
    assert!(
        out.contains("fix: add one (ip route add default via GATEWAY)"),
        "{out}"
    );
}

#[test]
fn machine_check_with_default_routes_passes() {
    if !can_netns("machine_check_with_default_routes_passes") {
        return;
    }
    let v = VethPair::new("dgm1");
    v.a.sh(&format!(
        "ip route add default via {} && ip -6 route add default via {}",
        v.b_ip, v.b_ip6
    ));
    let _rc = NsResolvConf::new(&v.a, "nameserver 127.0.0.1\nsearch example.test\n");
    // The nameserver answers (the machine check asks it directly).
    common::dns_responder(&v.a, &[]);
    let (code, out, err) = diagnose_in(&v.a, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("IPv4 default via {}", v.b_ip)),
        "{out}"
    );
    assert!(
        out.contains(&format!("IPv6 default via {}", v.b_ip6)),
        "{out}"
    );
    assert!(out.contains("search example.test"), "{out}");
    assert!(out.contains(&format!("{}/24", v.a_ip)), "{out}");
    assert!(out.contains("ok: no problem found"), "{out}");
    let (code, out, _) = diagnose_in(&v.a, &["--json"]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["target"], "this machine");
    assert_eq!(j["ok"], true);
}

#[test]
fn serve_across_a_veth_is_diagnosed_as_open() {
    if !can_netns("serve_across_a_veth_is_diagnosed_as_open") {
        return;
    }
    let v = VethPair::new("dgsv");
    // netdiag serve in b on a fixed port of b's own address; diagnose from a.
    let mut child =
        v.b.netdiag()
            .args([
                "serve",
                "--bind",
                &v.b_ip,
                "--tcp",
                "7788",
                "--duration",
                "20",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
    let target = format!("{}:7788", v.b_ip);
    let mut last = (0, String::new(), String::new());
    for _ in 0..50 {
        last = diagnose_in(&v.a, &[&target]);
        if last.0 == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let (code, out, err) = last;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("TCP {target}  ")), "{out}");
    assert!(out.contains("echo reply"), "{out}");
    assert!(
        out.contains("skipped: no protocol check for port 7788"),
        "{out}"
    );
}

#[test]
fn bad_targets_are_one_line_errors() {
    for (args, needle) in [
        (
            vec!["diagnose", "ftp://example.test/"],
            "scheme 'ftp' is not supported",
        ),
        (vec!["diagnose", "host/path"], "a path needs a URL"),
        (vec!["diagnose", "a", "b"], "unexpected argument 'b'"),
        (vec!["diagnose", "--timeout", "0", "x"], "duration"),
    ] {
        common::bad_input(&args, needle);
    }
}

#[test]
fn closed_loopback_port_without_root() {
    let port = common::closed_port();
    let (code, out, err) = run(&["diagnose", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("nothing listens on port {port}")),
        "{out}"
    );
}

/// An HTTPS responder (200 OK) on a listener bound inside a namespace, for up to `max` connections.
fn https_responder(listener: TcpListener, p: &Pki, max: usize) -> u16 {
    serve_tls_on(listener, tls_config(p, &[]), max, |_, tls, req| {
        if !req.is_empty() {
            let _ = tls.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure",
            );
        }
    })
    .port
}

#[test]
fn https_with_a_self_signed_certificate_fails_at_talk_and_insecure_or_cacert_pass() {
    if !can_netns("https_with_a_self_signed_certificate_fails_at_talk_and_insecure_or_cacert_pass")
    {
        return;
    }
    let dns = DnsNs::new("dgtl", &[("secure.test", "127.0.0.1")]);
    let p = pki(&["secure.test"], "netdiag diagnose test", None, None);
    let port = https_responder(dns.ns.listen("127.0.0.1:0"), &p, 10);
    let url = format!("https://secure.test:{port}/");

    let (code, out, err) = diagnose_in(&dns.ns, &[&url]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL at talk: protocol"), "{out}");
    assert!(
        out.contains("the server's certificate is self-signed"),
        "{out}"
    );
    assert!(out.contains("--insecure"), "{out}");

    let (code, out, err) = diagnose_in(&dns.ns, &["--insecure", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
    assert!(out.contains("TLSv1.3"), "{out}");
    assert!(out.contains("CN=netdiag diagnose test"), "{out}");

    let ca = p.ca_file();
    let (code, out, err) = diagnose_in(&dns.ns, &["--cacert", &ca.arg(), &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok: works end to end"), "{out}");
}

#[test]
fn without_icmp_privilege_reach_is_skipped_with_the_reason() {
    if !can_netns("without_icmp_privilege_reach_is_skipped_with_the_reason") {
        return;
    }
    if !common::have_setpriv() {
        eprintln!("skipping without_icmp_privilege_reach_is_skipped_with_the_reason: setpriv (util-linux) is missing");
        return;
    }
    let ns = NetNs::new("dgnp");
    // A new namespace allows no group to open ping sockets (net.ipv4.ping_group_range = "1 0"); nobody has no
    // CAP_NET_RAW: ICMP is impossible, TCP is not.
    ns.sh("echo '1 0' > /proc/sys/net/ipv4/ping_group_range");
    let l = ns.listen("127.0.0.1:0");
    let port = l.local_addr().unwrap().port();
    let (code, out, err) = ns
        .run_as_nobody(&["diagnose", &format!("127.0.0.1:{port}")])
        .expect("nobody runs netdiag");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("skipped: ICMP echo is not possible here"),
        "{out}"
    );
    assert!(out.contains("the connect step tests reachability"), "{out}");
    assert!(out.contains("ok: works end to end"), "{out}");
}

#[test]
fn ctrl_c_while_connect_waits_says_interrupted_not_an_errno() {
    if !can_nft("ctrl_c_while_connect_waits_says_interrupted_not_an_errno") {
        return;
    }
    let ns = NetNs::new("dgint");
    ns.nft_input("tcp dport 8082 drop");
    let mut cmd = ns.netdiag();
    cmd.args(["diagnose", "--timeout", "3", "127.0.0.1:8082"]);
    let (code, out, err, _) = interrupted_after(cmd, Duration::from_secs(1));
    assert_eq!(code, 130, "{out}{err}");
    assert!(out.contains("interrupted (Ctrl-C)"), "{out}");
    assert!(out.contains("skipped: interrupted"), "{out}");
    assert!(!out.contains("errno 5"), "{out}");
    assert!(!out.contains("input/output error"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    assert!(!out.contains("filtered"), "{out}");

    let mut cmd = ns.netdiag();
    cmd.args(["--json", "diagnose", "--timeout", "3", "127.0.0.1:8082"]);
    let (code, out, err, _) = interrupted_after(cmd, Duration::from_secs(1));
    assert_eq!(code, 130, "{out}{err}");
    assert!(!out.contains("errno 5"), "{out}");
    assert!(!out.contains("input/output error"), "{out}");
    let j = common::json(&out);
    assert_eq!(j["verdict"], "interrupted", "{out}");
    assert_eq!(j["interrupted"], true, "{out}");
    assert_eq!(j["ok"], false, "{out}");
    let connect = common::step(&j, "connect");
    assert_eq!(connect["status"], "interrupted", "{out}");
    assert_eq!(connect["result"], "interrupted (Ctrl-C)", "{out}");
    assert_eq!(connect["explanation"]["verdict"], "interrupted", "{out}");
}
