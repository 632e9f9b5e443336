//! http-get's last curl habits of issue 12, each beside real curl on the same local server in the same test:
//! `--resolve HOST:PORT:ADDRESS` (a name no resolver knows, `example.test`, pinned to 127.0.0.1), `--connect-to`
//! with TLS (the certificate is for the URL's name; the connection goes to 127.0.0.1), and `-w/--write-out`
//! (curl's variables, `%{json}`, escapes, `@file`, unknown variables, the quiet -s/-o paths).
//!
//! Network rule: loopback only. Names outside /etc/hosts (`*.test`) are never resolved: --resolve and
//! --connect-to give their addresses, for curl and netdiag alike. Skips the curl comparisons without curl.

mod common;

use std::io::Write;
use std::net::TcpListener;

use common::http::{pki, serve_on, serve_tls, tls_config, Pki, Server};
use common::{decode, run};
use serde_json::Value;

const BODY: &str = "hello from the test server\n";

fn answer(path: &str, redirect_host: &str) -> Vec<u8> {
    if path == "/r" {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://{redirect_host}/f\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        )
        .into_bytes()
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nServer: habits\r\nContent-Type: text/plain; charset=utf-8\r\nX-Echo-Host: {{HOST}}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            BODY.len()
        )
        .into_bytes()
    }
}

fn respond(s: &mut dyn Write, head: &str, redirect_host: &str) {
    let path = head.split(' ').nth(1).unwrap_or("/");
    let host = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Host: ")
                .or_else(|| l.strip_prefix("host: "))
        })
        .unwrap_or("-");
    let a = String::from_utf8(answer(path, redirect_host))
        .unwrap()
        .replace("{HOST}", host);
    // The echoed Host has a length of its own: recount the body-free head (the body is fixed).
    let _ = s.write_all(a.as_bytes());
    let _ = s.flush();
}

/// A loopback server answering up to `max` requests with fixed bytes: `/r` redirects to `/f` (absolute, on
/// `redirect_host`), anything else is a 200 with a known body. It remembers what it saw.
fn serve(max: usize, redirect_host: impl Fn(u16) -> String) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect_host = redirect_host(l.local_addr().unwrap().port());
    serve_on(l, max, move |_, s, req| respond(s, req, &redirect_host))
}

/// A certificate for `names` issued by a CA of the test's own.
fn cert(names: &[&str]) -> Pki {
    pki(
        names,
        "netdiag habits server",
        Some("netdiag habits CA"),
        None,
    )
}

/// An HTTPS server on 127.0.0.1 with that certificate, remembering the SNI each client sent.
fn tls_server(p: &Pki, max: usize) -> Server {
    serve_tls(tls_config(p, &["http/1.1"]), max, |_, tls, req| {
        if !req.is_empty() {
            respond(tls, req, "unused.test");
        }
    })
}

fn have_curl() -> bool {
    common::need_tool("curl comparisons", "curl", "curl")
}

/// curl with these arguments: (exit code, stdout, stderr).
fn curl(args: &[&str]) -> (i32, String, String) {
    decode(
        std::process::Command::new("curl")
            .args(["--max-time", "10"])
            .args(args)
            .env_remove("SSL_CERT_FILE")
            .env_remove("CURL_CA_BUNDLE")
            .output()
            .expect("curl"),
    )
}

fn json(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json", "http-get"];
    a.extend_from_slice(args);
    let (code, out, err) = run(&a);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}{err}"));
    (code, v)
}

fn hops(v: &Value) -> &Vec<Value> {
    v["results"][0]["hops"].as_array().expect("hops")
}

#[test]
fn resolve_pins_a_name_no_resolver_knows_like_curl() {
    let srv = serve(20, |p| format!("example.test:{p}"));
    let p = srv.port;
    let url = format!("http://example.test:{p}/f");
    let pin = format!("example.test:{p}:127.0.0.1");
    let (code, ours, err) = run(&["http-get", "-s", "--resolve", &pin, &url]);
    assert_eq!(code, 0, "{ours}{err}");
    assert_eq!(ours, BODY);
    let seen = srv.seen();
    assert_eq!(seen[0].host(), format!("example.test:{p}"), "{seen:?}");
    if have_curl() {
        srv.clear();
        let (c, theirs, err) = curl(&["-s", "--resolve", &pin, &url]);
        assert_eq!((c, theirs.as_str()), (0, BODY), "curl: {err}");
        assert_eq!(srv.seen()[0].host(), format!("example.test:{p}"));
    }
    // The report says where the address came from, in text and in JSON.
    let (code, out, err) = run(&["http-get", "--resolve", &pin, &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "resolved by  --resolve {pin} (not DNS or /etc/hosts)"
        )),
        "{out}"
    );
    let (code, v) = json(&["--resolve", &pin, &url]);
    assert_eq!(code, 0, "{v}");
    let h = &hops(&v)[0];
    assert_eq!(h["address_source"], "resolve-option", "{h}");
    assert_eq!(h["resolve_rule"], pin.as_str());
    assert_eq!(h["address"]["address"], "127.0.0.1");
    assert_eq!(h["resolved"], serde_json::json!(["127.0.0.1"]));
    // A redirect to the same host and port uses the entry again: both hops, as curl follows it.
    let r = format!("http://example.test:{p}/r");
    let (code, v) = json(&["-L", "--resolve", &pin, &r]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(hops(&v).len(), 2, "{v}");
    for h in hops(&v) {
        assert_eq!(h["address_source"], "resolve-option", "{h}");
    }
    if have_curl() {
        let (c, out, err) = curl(&[
            "-sL",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_redirects}",
            "--resolve",
            &pin,
            &r,
        ]);
        assert_eq!((c, out.as_str()), (0, "200 1"), "{err}");
    }
    // Several addresses, an IPv6 one in brackets first: the first that connects wins (IPv6 loopback may be
    // missing here; either way 127.0.0.1 answers).
    let two = format!("example.test:{p}:[::1],127.0.0.1");
    let (code, v) = json(&["--resolve", &two, &url]);
    assert_eq!(code, 0, "{v}");
    let h = &hops(&v)[0];
    assert_eq!(
        h["resolved"],
        serde_json::json!(["::1", "127.0.0.1"]),
        "{h}"
    );
    // -6 with only an IPv4 address pinned: said in one place, not a DNS lookup.
    let (code, v) = json(&["-6", "--resolve", &pin, &url]);
    assert_eq!(code, 1, "{v}");
    let e = &v["results"][0]["explanation"];
    assert_eq!(e["code"], "no-address-in-family", "{e}");
}

#[test]
fn resolve_applies_only_where_host_and_port_match() {
    let srv = serve(10, |p| format!("127.0.0.1:{p}"));
    let p = srv.port;
    let url = format!("http://localhost:{p}/f");
    // Pinned for another port: not applied; localhost comes from /etc/hosts (the resolver), as with curl.
    let other = format!("localhost:{}:127.0.0.3", if p == 1 { 2 } else { p - 1 });
    let (code, v) = json(&["--resolve", &other, &url]);
    assert_eq!(code, 0, "{v}");
    let h = &hops(&v)[0];
    assert_eq!(h["address_source"], "resolver", "{h}");
    assert!(h["resolve_rule"].is_null(), "{h}");
    assert_eq!(h["address"]["address"], "127.0.0.1", "{h}");
    if have_curl() {
        let (c, out, err) = curl(&["-s", "--resolve", &other, &url]);
        assert_eq!((c, out.as_str()), (0, BODY), "{err}");
    }
    // Pinned for this port to an address where nothing listens: applied, so refused there (curl alike).
    let here = format!("localhost:{p}:127.0.0.3");
    let (code, v) = json(&["--resolve", &here, &url]);
    assert_eq!(code, 1, "{v}");
    let h = &hops(&v)[0];
    assert_eq!(h["address_source"], "resolve-option", "{h}");
    assert_eq!(h["resolved"], serde_json::json!(["127.0.0.3"]), "{h}");
    assert_eq!(
        v["results"][0]["explanation"]["code"], "ECONNREFUSED",
        "{v}"
    );
    if have_curl() {
        let (c, _, _) = curl(&["-s", "--resolve", &here, &url]);
        assert_eq!(c, 7, "curl connects to the pinned address too");
    }
    // An address in the URL is named as such.
    let (code, v) = json(&[&format!("http://127.0.0.1:{p}/f")]);
    assert_eq!(code, 0);
    assert_eq!(hops(&v)[0]["address_source"], "literal");
}

#[test]
fn connect_to_keeps_the_host_header_sni_and_certificate_check_on_the_url_name() {
    let p = cert(&["web.test"]);
    let ca_file = p.ca_file();
    let ca_arg = ca_file.arg();
    let srv = tls_server(&p, 20);
    let p = srv.port;
    let rule = format!("web.test:443:127.0.0.1:{p}");
    let args = [
        "--cacert",
        &ca_arg,
        "--connect-to",
        &rule,
        "https://web.test/f",
    ];
    let (code, out, err) = run(&[&["http-get", "-s"][..], &args].concat());
    assert_eq!((code, out.as_str()), (0, BODY), "{err}");
    let s = &srv.seen()[0];
    assert_eq!(s.sni.as_deref(), Some("web.test"), "{s:?}");
    assert_eq!(s.host(), "web.test", "{s:?}");
    if have_curl() {
        srv.clear();
        let (c, theirs, err) = curl(&[&["-s"][..], &args].concat());
        assert_eq!((c, theirs.as_str()), (0, BODY), "curl: {err}");
        let s = &srv.seen()[0];
        assert_eq!((s.sni.as_deref(), s.host()), (Some("web.test"), "web.test"));
    }
    // The report shows where it connected and why.
    let (code, out, err) = run(&[&["http-get"][..], &args].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines().any(|l| l.starts_with("connect to ")
            && l.ends_with(&format!(
                " 127.0.0.1:{p} (--connect-to {rule}; the Host header and the TLS name stay web.test)"
            ))),
        "{out}"
    );
    let (code, v) = json(&args);
    assert_eq!(code, 0, "{v}");
    let h = &hops(&v)[0];
    assert_eq!(
        h["connect_to"],
        serde_json::json!({"host": "127.0.0.1", "port": p, "rule": rule}),
        "{h}"
    );
    assert_eq!(h["address_source"], "literal", "{h}");
    assert_eq!(h["tls"]["verified"], true, "{h}");
    // Empty HOST and PORT match any request.
    let any = format!("::127.0.0.1:{p}");
    let (code, out, err) = run(&[
        "http-get",
        "-s",
        "--cacert",
        &ca_arg,
        "--connect-to",
        &any,
        "https://web.test/f",
    ]);
    assert_eq!((code, out.as_str()), (0, BODY), "{err}");
    // The certificate is still checked against the URL's name: another name fails, for curl too.
    let wrong = format!("other.test:443:127.0.0.1:{p}");
    let wrong = [
        "--cacert",
        &ca_arg,
        "--connect-to",
        &wrong,
        "https://other.test/f",
    ];
    let (code, v) = json(&wrong);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        v["results"][0]["explanation"]["code"], "cert-name-mismatch",
        "{v}"
    );
    if have_curl() {
        let (c, _, _) = curl(&[&["-s"], &wrong[..]].concat());
        assert_eq!(c, 60, "curl rejects the name too");
    }
    // --connect-to to a name, resolved by --resolve (curl's order: connect-to, then the pinned address).
    let via_name = format!("web.test:443:backend.test:{p}");
    let pin = format!("backend.test:{p}:127.0.0.1");
    let via_name = [
        "--cacert",
        &ca_arg,
        "--connect-to",
        &via_name,
        "--resolve",
        &pin,
        "https://web.test/f",
    ];
    let (code, v) = json(&via_name);
    assert_eq!(code, 0, "{v}");
    let h = &hops(&v)[0];
    assert_eq!(h["address_source"], "resolve-option", "{h}");
    assert_eq!(h["connect_to"]["host"], "backend.test", "{h}");
    if have_curl() {
        let (c, out, err) = curl(&[&["-s"], &via_name[..]].concat());
        assert_eq!((c, out.as_str()), (0, BODY), "{err}");
    }
}

/// Parses `key=value` pairs separated by `|`.
fn fields(s: &str) -> std::collections::BTreeMap<String, String> {
    s.split('|')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const EXACT: [&str; 11] = [
    "http_code",
    "response_code",
    "size_download",
    "size_header",
    "num_redirects",
    "remote_ip",
    "remote_port",
    "url_effective",
    "content_type",
    "scheme",
    "http_version",
];

const TIMES: [&str; 7] = [
    "time_namelookup",
    "time_connect",
    "time_appconnect",
    "time_pretransfer",
    "time_starttransfer",
    "time_total",
    "time_redirect",
];

fn format_all() -> String {
    EXACT
        .iter()
        .chain(TIMES.iter())
        .chain(
            [
                "size_request",
                "local_ip",
                "local_port",
                "exitcode",
                "errormsg",
            ]
            .iter(),
        )
        .map(|k| format!("{k}=%{{{k}}}"))
        .collect::<Vec<_>>()
        .join("|")
}

fn secs(m: &std::collections::BTreeMap<String, String>, k: &str) -> f64 {
    let s = &m[k];
    let (_, frac) = s.split_once('.').unwrap_or_else(|| panic!("{k}={s}"));
    assert_eq!(frac.len(), 6, "{k}={s}: six decimals as curl");
    s.parse().unwrap()
}

fn monotone(m: &std::collections::BTreeMap<String, String>, tls: bool) {
    let mut order = vec!["time_namelookup", "time_connect"];
    if tls {
        order.push("time_appconnect");
    }
    order.extend(["time_pretransfer", "time_starttransfer", "time_total"]);
    for w in order.windows(2) {
        assert!(secs(m, w[0]) <= secs(m, w[1]), "{} > {}: {m:?}", w[0], w[1]);
    }
    if !tls {
        assert_eq!(m["time_appconnect"], "0.000000");
    }
}

#[test]
fn write_out_matches_curl_for_the_same_requests() {
    let srv = serve(40, |p| format!("127.0.0.1:{p}"));
    let p = srv.port;
    let fmt = format_all();
    for path in ["/f", "/r"] {
        let url = format!("http://127.0.0.1:{p}{path}");
        srv.clear();
        let (code, ours, err) = run(&["http-get", "-s", "-L", "-o", "/dev/null", "-w", &fmt, &url]);
        assert_eq!(code, 0, "{ours}{err}");
        let mine = fields(&ours);
        // size_request: the bytes the server read, over every hop.
        let sent: usize = srv.seen().iter().map(|s| s.bytes).sum();
        assert_eq!(mine["size_request"], sent.to_string(), "{ours}");
        assert_eq!(mine["local_ip"], "127.0.0.1");
        assert_ne!(mine["local_port"], "0");
        assert_eq!(
            (mine["exitcode"].as_str(), mine["errormsg"].as_str()),
            ("0", "")
        );
        monotone(&mine, false);
        if path == "/r" {
            assert!(secs(&mine, "time_redirect") > 0.0, "{ours}");
            assert!(secs(&mine, "time_redirect") <= secs(&mine, "time_total"));
        }
        if have_curl() {
            let (c, theirs, err) = curl(&["-s", "-L", "-o", "/dev/null", "-w", &fmt, &url]);
            assert_eq!(c, 0, "{err}");
            let theirs = fields(&theirs);
            for k in EXACT {
                assert_eq!(
                    mine[k], theirs[k],
                    "{path}: %{{{k}}} differs: netdiag {ours:?} curl {theirs:?}"
                );
            }
            monotone(&theirs, false);
        }
    }
    // %{json}: one JSON object with curl's keys and types.
    let url = format!("http://127.0.0.1:{p}/f");
    let (code, out, _) = run(&["http-get", "-s", "-o", "/dev/null", "-w", "%{json}", &url]);
    assert_eq!(code, 0);
    // -o wrote into the device; it did not rename a file over it.
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device(),
        "/dev/null is no longer a device after -o /dev/null"
    );
    let mine: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    for k in EXACT.iter().chain(TIMES.iter()) {
        assert!(mine.get(*k).is_some(), "%{{json}} lacks {k}: {out}");
    }
    assert_eq!(mine["http_code"], 200);
    assert!(mine["time_total"].is_f64(), "{out}");
    if have_curl() {
        let (_, theirs, _) = curl(&["-s", "-o", "/dev/null", "-w", "%{json}", &url]);
        let theirs: Value = serde_json::from_str(&theirs).unwrap();
        for (k, v) in mine.as_object().unwrap() {
            let t = &theirs[k];
            assert!(
                !t.is_null() || v.is_null(),
                "{k}: curl has no {k} or null: {theirs}"
            );
            if EXACT.contains(&k.as_str()) {
                assert_eq!(v, t, "{k}");
            } else if !k.starts_with("time_") && !k.starts_with("speed_") {
                // Same type (number, string, null) for the rest.
                assert_eq!(
                    std::mem::discriminant(v),
                    std::mem::discriminant(t),
                    "{k}: netdiag {v} curl {t}"
                );
            }
        }
    }
}

#[test]
fn write_out_over_tls_has_an_appconnect_time_like_curl() {
    let p = cert(&["web.test"]);
    let ca_file = p.ca_file();
    let ca_arg = ca_file.arg();
    let srv = tls_server(&p, 4);
    let pin = format!("web.test:{}:127.0.0.1", srv.port);
    let url = format!("https://web.test:{}/f", srv.port);
    let fmt = format_all();
    let args = [
        "-s",
        "-o",
        "/dev/null",
        "--cacert",
        &ca_arg,
        "--resolve",
        &pin,
        "-w",
        &fmt,
        &url,
    ];
    let (code, ours, err) = run(&[&["http-get"][..], &args].concat());
    assert_eq!(code, 0, "{ours}{err}");
    let mine = fields(&ours);
    monotone(&mine, true);
    assert!(secs(&mine, "time_appconnect") > 0.0, "{ours}");
    if have_curl() {
        let (c, theirs, err) = curl(&args);
        assert_eq!(c, 0, "{err}");
        let theirs = fields(&theirs);
        for k in EXACT {
            assert_eq!(mine[k], theirs[k], "%{{{k}}}: netdiag {ours:?}");
        }
        monotone(&theirs, true);
    }
}

#[test]
fn write_out_escapes_files_unknown_variables_and_quiet_paths() {
    let srv = serve(30, |p| format!("127.0.0.1:{p}"));
    let url = format!("http://127.0.0.1:{}/f", srv.port);
    // Escapes, %%, %header{} and an unknown variable, as curl prints them.
    let fmt = "a\\tb\\n%%|%{http_code}|%header{server}|%{nope}|%q|\\\\|end\\n";
    let (code, ours, err) = run(&["http-get", "-s", "-o", "/dev/null", "-w", fmt, &url]);
    assert_eq!(code, 0, "{ours}{err}");
    assert_eq!(ours, "a\tb\n%|200|habits||%q|\\\\|end\n");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("unknown --write-out variable: 'nope'"),
        "{err}"
    );
    if have_curl() {
        let (_, theirs, cerr) = curl(&["-s", "-o", "/dev/null", "-w", fmt, &url]);
        assert_eq!(ours, theirs);
        assert!(cerr.contains("'nope'"), "{cerr}");
    }
    // @file.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("fmt");
    std::fs::write(&f, "code %{http_code}\n").unwrap();
    let at = format!("@{}", f.display());
    let (code, ours, _) = run(&["http-get", "-s", "-o", "/dev/null", "-w", &at, &url]);
    assert_eq!((code, ours.as_str()), (0, "code 200\n"));
    // -o FILE without -s: stdout is the -w text alone (curl's habit), the body is in the file.
    let saved = dir.path().join("body");
    let (code, ours, err) = run(&[
        "http-get",
        "-o",
        &saved.display().to_string(),
        "-w",
        "%{http_code}",
        &url,
    ]);
    assert_eq!((code, ours.as_str()), (0, "200"), "{err}");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), BODY);
    // No -s, no -o: the body then the -w text on stdout; the report on stderr.
    let (code, ours, err) = run(&["http-get", "-w", "%{size_download}\\n", &url]);
    assert_eq!(code, 0);
    assert_eq!(ours, format!("{BODY}{}\n", BODY.len()));
    assert!(err.contains("200 OK"), "{err}");
    if have_curl() {
        let (_, theirs, _) = curl(&["-s", "-w", "%{size_download}\\n", &url]);
        assert_eq!(ours, theirs);
    }
    // A failure: curl's 000 and empty address; netdiag's exit code and the cause; -s keeps one line on stderr.
    let closed = format!("http://127.0.0.1:{}/", common::closed_port());
    let f = "%{http_code}|%{remote_ip}|%{remote_port}|%{exitcode}|%{onerror}failed: %{errormsg}";
    let (code, ours, err) = run(&["http-get", "-s", "-w", f, &closed]);
    assert_eq!(code, 1);
    assert!(
        ours.starts_with("000||0|1|failed: connection refused"),
        "{ours}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    if have_curl() {
        let (_, theirs, _) = curl(&[
            "-s",
            "-w",
            "%{http_code}|%{remote_ip}|%{remote_port}",
            &closed,
        ]);
        assert_eq!(theirs, "000||0");
    }
    let (code, ours, _) = run(&["http-get", "-s", "-w", "%{http_code}%{onerror} never", &url]);
    assert_eq!((code, ours.as_str()), (0, format!("{BODY}200").as_str()));
}

#[test]
fn bad_input_is_one_line_naming_the_right_form_and_exit_2() {
    let cases: [(&[&str], &str); 10] = [
        (&["--resolve", "foo"], "HOST:PORT:ADDRESS"),
        (&["--resolve", "foo:80"], "HOST:PORT:ADDRESS"),
        (&["--resolve", "foo.test:99999:127.0.0.1"], "1-65535"),
        (&["--resolve", "foo.test:0:127.0.0.1"], "1-65535"),
        (&["--resolve", "foo.test:80:1.2.3"], "not an IP address"),
        (&["--resolve", "*:80:127.0.0.1"], "name the host"),
        (
            &["--connect-to", "a:b"],
            "HOST:PORT:CONNECT_HOST:CONNECT_PORT",
        ),
        (&["--connect-to", "a.test:80:b.test:70000"], "1-65535"),
        (&["-w", "@/nonexistent/netdiag-format"], "readable file"),
        (&["--json", "-w", "%{http_code}"], "%{json}"),
    ];
    for (args, want) in cases {
        let mut a = vec!["http-get"];
        a.extend_from_slice(args);
        a.push("http://127.0.0.1:9/");
        common::bad_input(&a, want);
    }
}
