//! http-get and diagnose against real peers (issue 17 items 5-10), each beside curl's answer in the same test:
//! nginx in a namespace of the test's own, certificates made by openssl in the test, a dual-stack name whose
//! IPv6 path nftables drops, a CA added to the system store inside a private mount namespace (`unshare -m`
//! with a bind mount over /etc/ssl/certs/ca-certificates.crt: the host's /etc/ssl is never touched) and through
//! `SSL_CERT_FILE`, which rustls-native-certs honours as OpenSSL does.
//!
//! Network rule: loopback and addresses inside namespaces these tests create. Needs root (namespaces, nft,
//! mounts); skips without it or without nginx/curl/openssl.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::http::Nginx;
use common::{decode, NetNs, VethPair};
use serde_json::Value;

fn ready(test: &str) -> bool {
    common::can_nft(test)
        && common::need_tool(test, "nginx", "nginx")
        && common::need_tool(test, "curl", "curl")
        && common::need_tool(test, "openssl", "openssl")
        && common::need_tool(test, "unshare", "util-linux")
}

/// nginx's `http { }` body for these `server { }` blocks: files are served as application/octet-stream.
fn with_default_type(servers: &str) -> String {
    format!("default_type application/octet-stream;\n{servers}")
}

/// Variables that point curl, OpenSSL and rustls-native-certs at a store of their own: cleared, so every tool
/// in these tests uses the system's default store unless the test sets one.
const STORE_VARS: [&str; 3] = ["SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE"];

/// Runs a shell command inside the namespace and returns (exit code, stdout, stderr) without asserting.
fn ns_try(ns: &NetNs, cmd: &str) -> (i32, String, String) {
    let mut c = Command::new("ip");
    for v in STORE_VARS {
        c.env_remove(v);
    }
    decode(
        c.args(["netns", "exec", &ns.name, "sh", "-c", cmd])
            .env("NO_COLOR", "1")
            .output()
            .expect("sh in netns"),
    )
}

fn nd() -> &'static str {
    env!("CARGO_BIN_EXE_netdiag")
}

fn parse(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}"))
}

fn hop(v: &Value) -> &Value {
    let hops = v["results"][0]["hops"].as_array().expect("hops");
    &hops[hops.len() - 1]
}

fn sh_in(dir: &Path, cmd: &str) {
    common::sh(&format!("cd '{}' && {cmd}", dir.display()));
}

/// A self-signed certificate as `openssl req -x509` makes it (CA:TRUE), for `names` (subjectAltName).
fn openssl_self_signed(dir: &Path, stem: &str, san: &str) {
    sh_in(
        dir,
        &format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {stem}.key \
             -out {stem}.pem -days 30 -subj /CN=netdiag-{stem} -addext subjectAltName={san} 2>/dev/null"
        ),
    );
}

/// Item 7 (and 10): a self-signed certificate from `openssl req -x509`, trusted with --cacert as curl trusts
/// it; a wrong name and an expired one still fail, as with curl.
#[test]
fn openssl_self_signed_certificate_is_trusted_with_cacert_like_curl() {
    if !ready("openssl_self_signed") {
        return;
    }
    let ns = NetNs::new("hps");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_self_signed(d, "good", "DNS:localhost,IP:127.0.0.1");
    openssl_self_signed(d, "other", "DNS:other.example");
    // An expired self-signed CA:TRUE certificate (openssl req cannot backdate; rcgen can).
    {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = rcgen::date_time_ymd(2018, 1, 1);
        p.not_after = rcgen::date_time_ymd(2019, 1, 1);
        let key = KeyPair::generate().unwrap();
        let c = p.self_signed(&key).unwrap();
        std::fs::write(d.join("old.pem"), c.pem()).unwrap();
        std::fs::write(d.join("old.key"), key.serialize_pem()).unwrap();
    }
    let server = |port: u16, stem: &str| {
        format!(
            "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {0}/{stem}.pem; ssl_certificate_key {0}/{stem}.key; return 200 \"secure\\n\"; }}",
            d.display()
        )
    };
    let conf = [
        server(443, "good"),
        server(8443, "other"),
        server(9443, "old"),
    ]
    .join("\n");
    let _nginx = Nginx::start(&ns, d, &with_default_type(&conf), "127.0.0.1:443");
    let dp = d.display();
    let curl = |args: &str| {
        ns_try(
            &ns,
            &format!("curl -sS -o /dev/null -w '%{{http_code}}' {args}"),
        )
    };
    let netdiag = |args: &str| ns_try(&ns, &format!("{} --json http-get {args}", nd()));

    // Trusted by --cacert holding the very certificate.
    let (c, out, err) = curl(&format!("--cacert {dp}/good.pem https://127.0.0.1/"));
    assert_eq!((c, out.as_str()), (0, "200"), "curl: {err}");
    let (c, out, err) = netdiag(&format!("--cacert {dp}/good.pem https://127.0.0.1/"));
    assert_eq!(c, 0, "netdiag: {out}{err}");
    let v = parse(&out);
    assert_eq!(v["results"][0]["status"], 200);
    let trust = &hop(&v)["tls"]["trust"];
    assert_eq!(trust["store"], "cacert", "{trust}");
    assert_eq!(trust["exact_match"], true, "{trust}");
    assert_eq!(hop(&v)["tls"]["verified"], true);
    // The same by name, and the text says which store verified it.
    let (c, out, _) = ns_try(
        &ns,
        &format!(
            "{} http-get --cacert {dp}/good.pem https://localhost/",
            nd()
        ),
    );
    assert_eq!(c, 0, "{out}");
    assert!(
        out.contains("trust") && out.contains("byte-identical"),
        "{out}"
    );

    // Without it: both refuse.
    let (c, _, _) = curl("https://127.0.0.1/");
    assert_eq!(c, 60, "curl without --cacert");
    let (c, out, _) = netdiag("https://127.0.0.1/");
    assert_eq!(c, 1);
    assert_eq!(
        parse(&out)["results"][0]["explanation"]["code"],
        "cert-self-signed"
    );

    // The right certificate for the wrong name: both refuse.
    let (c, _, _) = curl(&format!("--cacert {dp}/other.pem https://127.0.0.1:8443/"));
    assert_eq!(c, 60, "curl name mismatch");
    let (c, out, _) = netdiag(&format!("--cacert {dp}/other.pem https://127.0.0.1:8443/"));
    assert_eq!(c, 1);
    assert_eq!(
        parse(&out)["results"][0]["explanation"]["code"],
        "cert-name-mismatch",
        "{out}"
    );

    // Expired: both refuse, and the days read as words (item 10).
    let (c, _, _) = curl(&format!("--cacert {dp}/old.pem https://127.0.0.1:9443/"));
    assert_eq!(c, 60, "curl expired");
    let (c, out, _) = netdiag(&format!("--cacert {dp}/old.pem https://127.0.0.1:9443/"));
    assert_eq!(c, 1);
    let v = parse(&out);
    assert_eq!(v["results"][0]["explanation"]["code"], "cert-expired");
    assert!(hop(&v)["tls"]["days_left"].as_i64().unwrap() < -2000);
    let (_, text, _) = ns_try(
        &ns,
        &format!("{} http-get --insecure https://127.0.0.1:9443/", nd()),
    );
    assert!(text.contains(" days ago)"), "{text}");
    assert!(text.contains("(expired "), "{text}");
    assert!(!text.contains("days left"), "{text}");
}

/// Item 6: a CA added to the system store is trusted as curl trusts it. The store is changed only inside a
/// private mount namespace (a bind mount over /etc/ssl/certs/ca-certificates.crt), and through SSL_CERT_FILE
/// (compared with openssl s_client, which honours it too). --cacert replaces the system store.
#[test]
fn a_ca_added_to_the_system_store_is_trusted_like_curl() {
    if !ready("system_store") {
        return;
    }
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if !bundle.exists() {
        eprintln!("skipping system_store: no /etc/ssl/certs/ca-certificates.crt (ca-certificates)");
        return;
    }
    let ns = NetNs::new("hpc");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh_in(
        d,
        &format!(
            "openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 30 -subj '/CN=netdiag test CA' 2>/dev/null && \
             openssl req {ec} -keyout leaf.key -out leaf.csr -subj /CN=localhost 2>/dev/null && \
             printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && \
             openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 30 -extfile ext.cnf 2>/dev/null && \
             openssl req -x509 {ec} -keyout other.key -out other.pem -days 30 -subj '/CN=another CA' 2>/dev/null && \
             cat /etc/ssl/certs/ca-certificates.crt ca.pem > bundle.crt && : > empty.pem"
        ),
    );
    let dp = d.display();
    let conf = format!(
        "server {{ listen 127.0.0.1:443 ssl; ssl_certificate {dp}/leaf.pem; ssl_certificate_key {dp}/leaf.key; return 200 \"secure\\n\"; }}"
    );
    let _nginx = Nginx::start(&ns, d, &with_default_type(&conf), "127.0.0.1:443");
    let curl = "curl -sS -o /dev/null -w '%{http_code}' https://127.0.0.1/";
    let netdiag = format!("{} --json http-get https://127.0.0.1/", nd());

    // The CA is not in the system store yet: both refuse, and netdiag says it checked the system store.
    let (c, _, _) = ns_try(&ns, curl);
    assert_eq!(c, 60, "curl before");
    let (c, out, _) = ns_try(&ns, &netdiag);
    assert_eq!(c, 1, "{out}");
    let v = parse(&out);
    assert_eq!(
        v["results"][0]["explanation"]["code"],
        "cert-unknown-issuer"
    );
    assert_eq!(hop(&v)["tls"]["trust"]["store"], "system");

    // Added to the system store, in a private mount namespace: both trust it.
    let mounted = |cmd: &str| {
        ns_try(
            &ns,
            &format!(
                "unshare -m --propagation private sh -c 'mount --bind {dp}/bundle.crt /etc/ssl/certs/ca-certificates.crt && {cmd}'"
            ),
        )
    };
    let (c, out, err) = mounted(curl);
    assert_eq!(
        (c, out.as_str()),
        (0, "200"),
        "curl with the CA in the store: {err}"
    );
    let (c, out, err) = mounted(&netdiag);
    assert_eq!(c, 0, "netdiag with the CA in the store: {out}{err}");
    let v = parse(&out);
    let trust = &hop(&v)["tls"]["trust"];
    assert_eq!(trust["store"], "system", "{trust}");
    assert!(
        trust["location"]
            .as_str()
            .unwrap()
            .contains("ca-certificates.crt"),
        "{trust}"
    );
    assert_eq!(trust["exact_match"], false);
    // --cacert replaces the store: another CA fails, as with curl.
    let (c, _, _) = mounted(&format!(
        "curl -sS -o /dev/null --cacert {dp}/other.pem https://127.0.0.1/"
    ));
    assert_eq!(c, 60, "curl --cacert other");
    let (c, out, _) = mounted(&format!(
        "{} --json http-get --cacert {dp}/other.pem https://127.0.0.1/",
        nd()
    ));
    assert_eq!(c, 1, "{out}");
    assert_eq!(
        parse(&out)["results"][0]["explanation"]["code"],
        "cert-unknown-issuer"
    );
    // The host's store is untouched outside the mount namespace.
    let (c, _, _) = ns_try(&ns, curl);
    assert_eq!(c, 60, "curl after");

    // SSL_CERT_FILE names the store for netdiag and for openssl alike.
    let (_, out, _) = ns_try(
        &ns,
        &format!(
            "SSL_CERT_FILE={dp}/ca.pem openssl s_client -connect 127.0.0.1:443 -verify_return_error </dev/null 2>&1"
        ),
    );
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    let (c, out, _) = ns_try(&ns, &format!("SSL_CERT_FILE={dp}/ca.pem {netdiag}"));
    assert_eq!(c, 0, "{out}");
    let v = parse(&out);
    assert!(
        hop(&v)["tls"]["trust"]["location"]
            .as_str()
            .unwrap()
            .starts_with("SSL_CERT_FILE="),
        "{v}"
    );
    // A system with no store at all: the bundled webpki roots (which do not know the test CA).
    let (c, out, _) = ns_try(&ns, &format!("SSL_CERT_FILE={dp}/empty.pem {netdiag}"));
    assert_eq!(c, 1, "{out}");
    assert_eq!(hop(&parse(&out))["tls"]["trust"]["store"], "bundled");
}

/// Item 8: nginx answering with 150 headers is read as curl reads it; past the bound (5,000), the failure
/// says "too many headers (N > limit)", in http-get and in diagnose.
#[test]
fn many_headers_from_nginx_are_read_like_curl() {
    if !ready("many_headers") {
        return;
    }
    let ns = NetNs::new("hph");
    let dir = tempfile::tempdir().unwrap();
    let headers = |n: usize| -> String {
        (0..n)
            .map(|i| format!("add_header X-H{i} v always;"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let conf = format!(
        "server {{ listen 127.0.0.1:8080; location / {{ {} return 200 \"ok\\n\"; }} }}\n\
         server {{ listen 127.0.0.1:8081; location / {{ {} return 200 \"ok\\n\"; }} }}",
        headers(150),
        headers(5100)
    );
    let _nginx = Nginx::start(&ns, dir.path(), &with_default_type(&conf), "127.0.0.1:8080");
    // curl's count of response headers (lines after the status line, before the blank one).
    let curl_count = |port: u16| -> usize {
        let (c, out, err) = ns_try(
            &ns,
            &format!("curl -sS -D - -o /dev/null http://127.0.0.1:{port}/"),
        );
        assert_eq!(c, 0, "curl: {err}");
        out.lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .count()
    };
    let n = curl_count(8080);
    assert!(n > 150, "curl saw {n} headers");
    let (c, out, err) = ns_try(
        &ns,
        &format!("{} --json http-get http://127.0.0.1:8080/", nd()),
    );
    assert_eq!(c, 0, "{out}{err}");
    let v = parse(&out);
    assert_eq!(
        hop(&v)["response"]["headers"].as_array().unwrap().len(),
        n,
        "the same headers as curl"
    );
    let (c, out, _) = ns_try(
        &ns,
        &format!("{} --json diagnose http://127.0.0.1:8080/", nd()),
    );
    assert_eq!(c, 0, "{out}");

    // Past the bound: curl still reads it; netdiag says how many and what the bound is.
    let big = curl_count(8081);
    assert!(big > 5000, "curl saw {big}");
    let (c, out, _) = ns_try(
        &ns,
        &format!("{} --json http-get http://127.0.0.1:8081/", nd()),
    );
    assert_eq!(c, 1, "{out}");
    let e = &parse(&out)["results"][0]["explanation"];
    assert_eq!(e["code"], "too-many-headers", "{e}");
    // nginx adds Server, Date, Content-Type, Content-Length and Connection to the 5100.
    assert!(
        e["cause"]
            .as_str()
            .unwrap()
            .contains(&format!("too many headers ({big} > 5000)")),
        "{e}"
    );
    let (c, out, _) = ns_try(&ns, &format!("{} diagnose http://127.0.0.1:8081/", nd()));
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("too many headers"), "{out}");
    assert!(!out.contains("no HTTP answer"), "{out}");
}

/// Item 9 (and 10): `-o FILE` saves the whole body as curl does (no --max-size cut), follows a redirect and
/// says "after 1 redirect"; with --max-size smaller than the body, or a body cut short, nothing is left under
/// FILE (nor a temporary file) and the run fails saying why.
#[test]
fn output_file_is_whole_or_absent() {
    if !ready("output_file") {
        return;
    }
    let ns = NetNs::new("hpo");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let www = d.join("www");
    std::fs::create_dir_all(&www).unwrap();
    // 12 MiB: more than the 10 MiB default --max-size.
    let data: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::write(www.join("big.bin"), &data).unwrap();
    let conf = format!(
        "server {{ listen 127.0.0.1:8080; root {}; location = /moved {{ return 301 /big.bin; }} }}",
        www.display()
    );
    let _nginx = Nginx::start(&ns, d, &with_default_type(&conf), "127.0.0.1:8080");
    let out_dir = d.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let od = out_dir.display();

    let (c, _, err) = ns_try(
        &ns,
        &format!("curl -sS -L -o {od}/curl.bin http://127.0.0.1:8080/moved"),
    );
    assert_eq!(c, 0, "curl: {err}");
    let (c, out, err) = ns_try(
        &ns,
        &format!(
            "{} http-get -L -o {od}/nd.bin http://127.0.0.1:8080/moved",
            nd()
        ),
    );
    assert_eq!(c, 0, "{out}{err}");
    assert!(
        out.contains("after 1 redirect") && !out.contains("after 1 redirects"),
        "{out}"
    );
    assert!(
        out.contains(&format!("saved {} bytes to", data.len())),
        "{out}"
    );
    let saved = std::fs::read(out_dir.join("nd.bin")).unwrap();
    assert_eq!(saved, std::fs::read(out_dir.join("curl.bin")).unwrap());
    assert_eq!(saved, data);

    // A limit smaller than the body: exit 1, nothing under the name, no temporary file, and why.
    let (c, out, _) = ns_try(
        &ns,
        &format!(
            "{} --json http-get --max-size 1M -o {od}/cut.bin http://127.0.0.1:8080/big.bin",
            nd()
        ),
    );
    assert_eq!(c, 1, "{out}");
    let v = parse(&out);
    assert_eq!(v["results"][0]["explanation"]["code"], "too-large");
    assert!(v["results"][0]["saved"].is_null());
    assert!(!out_dir.join("cut.bin").exists());
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "only curl.bin and nd.bin: {left:?}");

    // A 404 body is whole: saved, as curl saves it, and the run fails on the status.
    let (c, out, _) = ns_try(
        &ns,
        &format!(
            "{} --json http-get -o {od}/404.html http://127.0.0.1:8080/missing",
            nd()
        ),
    );
    assert_eq!(c, 1);
    let v = parse(&out);
    assert_eq!(v["results"][0]["status"], 404);
    assert!(out_dir.join("404.html").exists());
    assert_eq!(
        v["results"][0]["saved"]["bytes"].as_u64().unwrap(),
        std::fs::metadata(out_dir.join("404.html")).unwrap().len()
    );
}

/// A body cut short by the server (Content-Length promised, connection closed): no file.
#[test]
fn output_file_of_a_body_cut_short_is_not_left() {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.read(&mut [0u8; 4096]);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this");
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.bin");
    let (c, out, _) = common::run(&[
        "--json",
        "http-get",
        "-o",
        file.to_str().unwrap(),
        &format!("http://127.0.0.1:{port}/"),
    ]);
    t.join().unwrap();
    assert_eq!(c, 1, "{out}");
    let e = &parse(&out)["results"][0]["explanation"];
    assert!(
        e["cause"]
            .as_str()
            .unwrap()
            .contains("nothing was saved to"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Item 5: a dual-stack name whose IPv6 path is dropped by nftables. curl answers 200 over IPv4 at once;
/// netdiag races the addresses (RFC 8305), shows that IPv4 won and that the IPv6 attempt was abandoned, and
/// diagnose talks over the address its connect step proved open.
#[test]
fn happy_eyeballs_reaches_ipv4_when_ipv6_is_dropped() {
    if !ready("happy_eyeballs") {
        return;
    }
    let pair = VethPair::new("hpe");
    let dir = tempfile::tempdir().unwrap();
    let conf = "server { listen 0.0.0.0:80; listen [::]:80; return 200 \"dual\\n\"; }";
    let _nginx = Nginx::start(
        &pair.b,
        dir.path(),
        &with_default_type(conf),
        &format!("{}:80", pair.b_ip),
    );
    pair.b.nft_input("meta nfproto ipv6 tcp dport 80 drop");
    // The client's names: dual.test has both addresses, the AAAA first (ip netns exec bind-mounts these).
    let etc = PathBuf::from(format!("/etc/netns/{}", pair.a.name));
    std::fs::create_dir_all(&etc).unwrap();
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(etc.clone());
    std::fs::write(
        etc.join("hosts"),
        format!(
            "127.0.0.1 localhost\n{} dual.test\n{} dual.test\n",
            pair.b_ip6, pair.b_ip
        ),
    )
    .unwrap();
    std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();

    let (c, out, err) = ns_try(
        &pair.a,
        "curl -sS -o /dev/null -w '%{http_code} %{remote_ip}' --max-time 10 http://dual.test/",
    );
    assert_eq!(c, 0, "curl: {err}");
    assert_eq!(out, format!("200 {}", pair.b_ip), "curl");

    let (c, out, err) = ns_try(
        &pair.a,
        &format!("{} --json http-get --timeout 10 http://dual.test/", nd()),
    );
    assert_eq!(c, 0, "{out}{err}");
    let v = parse(&out);
    let h = hop(&v);
    assert_eq!(v["results"][0]["status"], 200);
    assert_eq!(h["address"]["address"], pair.b_ip.as_str(), "{h}");
    let attempts = h["attempts"].as_array().unwrap();
    let state_of = |ip: &str| {
        attempts
            .iter()
            .find(|a| a["address"]["address"] == ip)
            .map(|a| a["state"].as_str().unwrap().to_string())
    };
    assert_eq!(state_of(&pair.b_ip).as_deref(), Some("won"), "{h}");
    assert_eq!(state_of(&pair.b_ip6).as_deref(), Some("abandoned"), "{h}");
    if h["resolved"][0] == pair.b_ip6.as_str() {
        // The resolver put IPv6 first: it was tried first, and IPv4 started while it was still connecting.
        assert_eq!(attempts[0]["address"]["address"], pair.b_ip6.as_str());
        assert!(attempts[1]["started_ms"].as_f64().unwrap() > 0.0);
    }
    let (_, text, _) = ns_try(&pair.a, &format!("{} http-get http://dual.test/", nd()));
    assert!(text.contains("abandoned"), "{text}");
    assert!(text.contains("won"), "{text}");

    // diagnose: the IPv6 connect is filtered, the IPv4 one open, and talk goes over IPv4.
    let (c, out, err) = ns_try(
        &pair.a,
        &format!("{} --json diagnose --timeout 2 http://dual.test/", nd()),
    );
    assert_eq!(c, 0, "{out}{err}");
    let v = parse(&out);
    let talk = common::step(&v, "talk").clone();
    assert!(
        talk["tried"]
            .as_str()
            .unwrap()
            .ends_with(&format!("via {}", pair.b_ip)),
        "{talk}"
    );
    assert_eq!(talk["status"], "ok", "{talk}");
}
