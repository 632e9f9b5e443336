//! `netdiag http-get` against real servers started by each test on loopback: normal answers, redirects, TLS
//! with certificates made here (rcgen), and hostile servers. Each ends within its deadline with a clear error
//! or a reported truncation.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use common::http::{fixed, pki, serve, serve_on, serve_tls, tls_config, Pki, Server};
use common::{netdiag, run};
use serde_json::Value;

fn path_of(req: &str) -> &str {
    req.split(' ').nth(1).unwrap_or("")
}

fn json(args: &[&str]) -> (i32, Value, String) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (code, out, err) = run(&a);
    let v: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}\n{err}"));
    (code, v, err)
}

/// Waits (at most 10 s) until process `pid` catches SIGINT, so a Ctrl-C test never races its start-up.
fn wait_for_sigint_handler(pid: u32) {
    for _ in 0..200 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|m| m & (1 << (libc::SIGINT - 1)) != 0);
        if caught {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn last_hop(v: &Value) -> &Value {
    let hops = v["results"][0]["hops"].as_array().expect("hops");
    hops.last().expect("a hop")
}

#[test]
fn ok_200_shows_request_status_headers_and_timings() {
    let srv = fixed(
        1,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\nhello",
    );
    let (code, out, err) = run(&["http-get", &srv.url("/p?q=1"), "-H", "X-Test: yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let req = srv.request(0);
    assert!(req.starts_with("GET /p?q=1 HTTP/1.1\r\n"), "{req}");
    assert!(
        req.contains(&format!("Host: 127.0.0.1:{}\r\n", srv.port)),
        "{req}"
    );
    assert!(req.contains("User-Agent: netdiag/"), "{req}");
    assert!(req.contains("Accept: */*\r\n") && req.contains("Connection: close\r\n"));
    assert!(req.contains("X-Test: yes\r\n"), "{req}");
    assert!(out.contains("> GET /p?q=1 HTTP/1.1"), "{out}");
    assert!(out.contains("< HTTP/1.1 200 OK"), "{out}");
    let dups: Vec<&str> = out.lines().filter(|l| l.starts_with("X-Dup")).collect();
    assert_eq!(dups.len(), 2, "duplicates kept in order: {out}");
    assert!(out.contains("5 bytes (content-length 5)"), "{out}");
    for phase in ["dns", "connect", "request", "first byte", "body", "total"] {
        assert!(out.lines().any(|l| l.starts_with(phase)), "{phase}: {out}");
    }
    assert!(out.contains("ok: 200 OK"), "{out}");
}

#[test]
fn json_has_the_same_content() {
    let srv = fixed(1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    let (code, v, _) = json(&["http-get", &srv.url("/")]);
    assert_eq!(code, 0);
    let r = &v["results"][0];
    assert_eq!(r["verdict"], "ok");
    let hop = last_hop(&v);
    assert_eq!(hop["address"]["address"], "127.0.0.1");
    assert_eq!(hop["address"]["port"], srv.port);
    assert_eq!(r["status"], 200);
    assert_eq!(hop["response"]["status"], 200);
    assert_eq!(hop["body"]["framing"], "content-length");
    assert_eq!(hop["body"]["length"], 2);
    assert!(hop["timings"]["phases"]["connect_ms"].as_f64().is_some());
    assert!(hop["timings"]["phases"]["tls_ms"].is_null());
    assert!(hop["timings"]["total_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn chunked_body_with_trailers_is_decoded() {
    let srv = fixed(
        1,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5;x=y\r\nworld\r\n0\r\nX-Checksum: abc\r\n\r\n",
    );
    let (code, out, err) = run(&["http-get", &srv.url("/"), "--body"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("11 bytes (chunked)"), "{out}");
    assert!(out.contains("X-Checksum: abc"), "{out}");
    assert!(out.trim_end().ends_with("hello world"), "{out}");
}

#[test]
fn until_close_http10_and_output_file() {
    let srv = fixed(2, b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until close");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.bin");
    let (code, out, _) = run(&[
        "http-get",
        &srv.url("/x"),
        "--http1.0",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(srv.request(0).starts_with("GET /x HTTP/1.0\r\n"));
    assert!(out.contains("16 bytes (until close)"), "{out}");
    assert_eq!(std::fs::read(&file).unwrap(), b"body until close");
}

/// -o into a FIFO writes through it (as curl does) and leaves the FIFO a FIFO; -o through a symbolic link
/// replaces the file it points to and keeps the link.
#[test]
fn output_into_a_fifo_and_through_a_symlink() {
    use std::os::unix::fs::FileTypeExt;
    let srv = fixed(4, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    // A reader that does not block: netdiag's open for writing finds it, the 5 bytes wait in the pipe.
    let mut reader = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap()
    };
    let (code, out, err) = run(&["http-get", &srv.url("/"), "-o", fifo.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let mut got = Vec::new();
    let _ = reader.read_to_end(&mut got);
    assert_eq!(got, b"hello");
    let ft = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(ft.is_fifo(), "{ft:?}");

    let real = dir.path().join("real.txt");
    std::fs::write(&real, b"old").unwrap();
    let link = dir.path().join("link.txt");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, out, err) = run(&["http-get", &srv.url("/"), "-o", link.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&real).unwrap(), b"hello");
}

/// With -L, a redirect's own body is not saved: a FIFO given to -o gets the final body only, as curl -L -o.
#[test]
fn followed_redirect_body_is_not_written_to_a_fifo() {
    use std::os::unix::fs::OpenOptionsExt;
    let srv = serve(2, |_, s, req| {
        let answer: &[u8] = if path_of(req) == "/r" {
            b"HTTP/1.1 302 Found\r\nLocation: /f\r\nContent-Length: 10\r\n\r\nmoved here"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
        };
        let _ = s.write_all(answer);
    });
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut reader = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let (code, out, err) = run(&[
        "http-get",
        "-L",
        &srv.url("/r"),
        "-o",
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let mut got = Vec::new();
    let _ = reader.read_to_end(&mut got);
    assert_eq!(got, b"final");
}

#[test]
fn not_found_exits_1_with_an_explanation() {
    let srv = fixed(1, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    let (code, out, _) = run(&["http-get", &srv.url("/missing")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("404 Not Found: the server has nothing at this path"),
        "{out}"
    );
    assert!(out.contains("fix: check the path in the URL"), "{out}");
}

#[test]
fn head_sends_head_and_expects_no_body() {
    // The server announces a body but, as HEAD requires, sends none and keeps the connection open.
    let srv = serve(1, |_, s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        let _ = s.read(&mut [0u8; 1]);
    });
    let (code, out, _) = run(&["http-get", "--head", "--timeout", "5", &srv.url("/")]);
    assert_eq!(code, 0, "{out}");
    assert!(srv.request(0).starts_with("HEAD / HTTP/1.1\r\n"));
    assert!(out.contains("0 bytes (no body)"), "{out}");
}

#[test]
fn interim_1xx_is_skipped_and_reported() {
    let srv = fixed(
        1,
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
    );
    let (code, v, _) = json(&["http-get", &srv.url("/")]);
    assert_eq!(code, 0);
    let hop = last_hop(&v);
    assert_eq!(hop["interim"][0]["status"], 103);
    assert_eq!(hop["response"]["status"], 200);
}

fn redirector(max: usize) -> Server {
    serve(max, |_, s, req| {
        let answer = match path_of(req) {
            "/a" => "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n".to_string(),
            "/b" => {
                "HTTP/1.1 301 Moved Permanently\r\nLocation: c?z=1\r\nContent-Length: 0\r\n\r\n"
                    .into()
            }
            "/c?z=1" => "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone".into(),
            "/loop1" => "HTTP/1.1 302 Found\r\nLocation: /loop2\r\n\r\n".into(),
            "/loop2" => "HTTP/1.1 302 Found\r\nLocation: /loop1\r\n\r\n".into(),
            p if p.starts_with("/n") => {
                let n: u32 = p[2..].parse().unwrap_or(0);
                format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: /n{}\r\nContent-Length: 0\r\n\r\n", n + 1)
            }
            _ => "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".into(),
        };
        let _ = s.write_all(answer.as_bytes());
    })
}

#[test]
fn redirect_is_reported_and_followed_hop_by_hop() {
    let srv = redirector(4);
    let (code, out, _) = run(&["http-get", &srv.url("/a")]);
    assert_eq!(code, 0, "{out}");
    let want = format!("ok: 302 Found: redirect to {}", srv.url("/b"));
    assert!(out.contains(&want), "{out}");

    let (code, v, _) = json(&["http-get", "--follow", &srv.url("/a")]);
    assert_eq!(code, 0, "{v}");
    let hops = v["results"][0]["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 3);
    assert_eq!(hops[1]["url"], srv.url("/b"));
    assert_eq!(hops[2]["url"], srv.url("/c?z=1"));
    assert_eq!(hops[2]["response"]["status"], 200);
    assert!(v["results"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("after 2 redirects"));
}

#[test]
fn redirect_loop_is_detected() {
    let srv = redirector(4);
    let (code, out, _) = run(&["http-get", "-L", &srv.url("/loop1")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("redirect loop"), "{out}");
    assert_eq!(srv.hits(), 2);
}

#[test]
fn at_most_ten_redirects() {
    let srv = redirector(20);
    let (code, v, _) = json(&["http-get", "--follow", &srv.url("/n0")]);
    assert_eq!(code, 1);
    assert_eq!(v["results"][0]["explanation"]["code"], "too-many-redirects");
    assert_eq!(v["results"][0]["hops"].as_array().unwrap().len(), 11);
}

#[test]
fn raw_shows_the_exact_bytes() {
    let srv = fixed(
        1,
        b"HTTP/1.1 200 OK\r\nX-Odd:   spaced   \r\nContent-Length: 0\r\n\r\n",
    );
    let o = netdiag()
        .args(["http-get", "--raw", &srv.url("/r")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = o.stdout;
    let has = |needle: &[u8]| out.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"GET /r HTTP/1.1\r\nHost: 127.0.0.1:"));
    assert!(has(b"Connection: close\r\n\r\n"));
    assert!(has(
        b"HTTP/1.1 200 OK\r\nX-Odd:   spaced   \r\nContent-Length: 0\r\n\r\n"
    ));
}

#[test]
fn ipv6_literal_url() {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipping ipv6_literal_url: no IPv6 loopback here");
        return;
    };
    let srv = serve_on(l, 1, |_, s, _| {
        let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
    });
    let url = format!("http://[::1]:{}/v6", srv.port);
    let (code, out, _) = run(&["http-get", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(srv
        .request(0)
        .contains(&format!("Host: [::1]:{}\r\n", srv.port)));
    assert!(out.contains(&format!("[::1]:{}", srv.port)), "{out}");
}

#[test]
fn closed_port_exits_1_refused() {
    let port = common::closed_port();
    let (code, out, _) = run(&["http-get", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ECONNREFUSED"), "{out}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for args in [
        vec!["http-get", "ftp://127.0.0.1/"],
        vec!["http-get", "http://@127.0.0.1/"],
        vec!["http-get", "http://[::1/"],
        vec!["http-get", "127.0.0.1", "-H", "no colon"],
        vec!["http-get", "127.0.0.1", "--max-size", "lots"],
        vec![
            "http-get",
            "https://127.0.0.1/",
            "--cacert",
            "/nonexistent/ca.pem",
        ],
    ] {
        common::bad_input(&args, "");
    }
}

// ---- hostile servers ----

#[test]
fn endless_header_line_is_cut_at_300_kib() {
    let srv = serve(1, |_, s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX-Endless: ");
        let chunk = [b'a'; 8192];
        for _ in 0..10_000 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let (code, out, _) = run(&["http-get", "--timeout", "20", &srv.url("/")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the response head is larger than 300 KiB"),
        "{out}"
    );
}

#[test]
fn gib_body_is_truncated_at_max_size() {
    // 1 GiB announced and streamed (never allocated): netdiag reads 10 MiB (the default) and stops.
    let srv = serve(1, |_, s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n");
        let chunk = vec![0u8; 65536];
        for _ in 0..16_384 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let (code, v, _) = json(&["http-get", "--timeout", "30", &srv.url("/big")]);
    assert_eq!(code, 0, "{v}");
    let hop = last_hop(&v);
    assert_eq!(hop["body"]["truncated"], true);
    assert_eq!(hop["body"]["length"], 10 * 1024 * 1024);
    assert_eq!(hop["body"]["content_length"], 1_073_741_824u64);
    assert!(v["results"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("truncated"));
}

#[test]
fn one_byte_a_second_drip_is_stopped_by_the_deadline() {
    let srv = serve(1, |_, s, _| {
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
            .iter()
            .take(30)
        {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    let start = Instant::now();
    let (code, out, _) = run(&["http-get", "--timeout", "2", &srv.url("/")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("did not finish its answer within 2.000 s"),
        "{out}"
    );
    // Generous: the deadline is 2 s; a hang would run for 30 s.
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[test]
fn accept_and_never_answer_times_out() {
    let srv = serve(1, |_, s, _| {
        // Hold the connection until the client leaves (bounded by the 20 s read timeout).
        let _ = s.read(&mut [0u8; 1]);
    });
    let start = Instant::now();
    let (code, v, _) = json(&["http-get", "--timeout", "1", &srv.url("/")]);
    assert_eq!(code, 1);
    assert_eq!(v["results"][0]["explanation"]["code"], "timeout");
    assert!(last_hop(&v)["response"].is_null());
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[test]
fn garbage_status_line_is_rejected() {
    let srv = serve(1, |_, s, _| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n");
        let _ = s.read(&mut [0u8; 1]);
    });
    let (code, out, _) = run(&["http-get", "--timeout", "10", &srv.url("/")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not valid HTTP/1.x"), "{out}");
}

#[test]
fn reset_in_the_middle_of_the_body() {
    let srv = serve(1, |_, s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        let _ = s.write_all(&[b'x'; 1000]);
        let _ = s.flush();
        thread::sleep(Duration::from_millis(200));
        // SO_LINGER 0: close sends a RST instead of a FIN.
        let _ = socket2::SockRef::from(&*s).set_linger(Some(Duration::ZERO));
    });
    let (code, v, _) = json(&["http-get", &srv.url("/")]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["results"][0]["verdict"], "reset");
    let hop = last_hop(&v);
    assert_eq!(hop["response"]["status"], 200);
    assert!(hop["body"]["length"].as_u64().unwrap() <= 1000);
    assert_eq!(hop["body"]["complete"], false);
}

#[test]
fn bad_chunk_size_is_rejected() {
    let srv = fixed(
        1,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nnot-hex\r\n",
    );
    let (code, out, _) = run(&["http-get", &srv.url("/")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("invalid chunk size line 'not-hex'"), "{out}");
    assert!(out.contains("5 bytes (chunked), incomplete"), "{out}");
}

#[test]
fn non_utf8_header_bytes_are_shown_lossily() {
    let srv = fixed(
        1,
        b"HTTP/1.1 200 OK\r\nX-Latin1: caf\xe9 cr\xe8me\r\nContent-Length: 0\r\n\r\n",
    );
    let (code, out, _) = run(&["http-get", &srv.url("/")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("caf\u{fffd} cr\u{fffd}me"), "{out}");
    let srv = fixed(
        1,
        b"HTTP/1.1 200 OK\r\nX-Latin1: caf\xe9\r\nContent-Length: 0\r\n\r\n",
    );
    let (_, v, _) = json(&["http-get", &srv.url("/")]);
    assert_eq!(last_hop(&v)["response"]["headers"][0]["non_utf8"], true);
}

#[test]
fn connect_timeout_in_a_namespace_is_filtered() {
    if !common::can_nft("connect_timeout_in_a_namespace_is_filtered") {
        return;
    }
    let ns = common::NetNs::new("http");
    // (NetNs::nft_input's one-line script lacks the ';' nft needs between '}' and '}'.)
    ns.sh("echo 'table inet t { chain input { type filter hook input priority 0; policy accept; tcp dport 18099 drop; }; }' | nft -f -");
    let o = ns
        .netdiag()
        .args([
            "--json",
            "http-get",
            "--timeout",
            "1",
            "http://127.0.0.1:18099/",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"][0]["verdict"], "filtered");
    assert_eq!(v["results"][0]["explanation"]["code"], "timeout");

    // Ctrl-C during a long connect ends it at once, with the report so far.
    let start = Instant::now();
    let child = ns
        .netdiag()
        .args([
            "--json",
            "http-get",
            "--timeout",
            "30",
            "http://127.0.0.1:18099/",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `ip netns exec` execs netdiag, so the child's pid is netdiag's.
    wait_for_sigint_handler(child.id());
    thread::sleep(Duration::from_millis(500));
    // SAFETY: kill() on the pid of a child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"][0]["explanation"]["code"], "interrupted");
    assert!(start.elapsed() < Duration::from_secs(20));
}

// ---- TLS ----

/// A certificate for `names`, self-signed or issued by a test CA (whose PEM is `ca_pem`).
fn cert(names: &[&str], self_signed: bool, expired: bool) -> Pki {
    let ca = (!self_signed).then_some("netdiag test CA");
    pki(
        names,
        "netdiag test server",
        ca,
        expired.then_some((2020, 2021)),
    )
}

/// An HTTPS server on loopback answering 200 "secure" (ALPN http/1.1).
fn tls_server(p: &Pki, max: usize) -> Server {
    serve_tls(tls_config(p, &["http/1.1"]), max, |_, tls, _| {
        let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure");
    })
}

fn https(srv: &Server, host: &str) -> String {
    format!("https://{host}:{}/", srv.port)
}

#[test]
fn self_signed_certificate_is_explained_and_insecure_looks_anyway() {
    let p = cert(&["localhost", "127.0.0.1"], true, false);
    let srv = tls_server(&p, 2);
    let (code, out, _) = run(&["http-get", &https(&srv, "127.0.0.1")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the server's certificate is self-signed"),
        "{out}"
    );
    assert!(
        out.contains("--cacert") && out.contains("--insecure"),
        "{out}"
    );
    assert!(
        out.contains("CN=netdiag test server"),
        "the certificate is still shown: {out}"
    );

    let (code, v, _) = json(&["http-get", "--insecure", &https(&srv, "127.0.0.1")]);
    assert_eq!(code, 0, "{v}");
    let tls = &last_hop(&v)["tls"];
    assert!(tls["version"].as_str().unwrap().starts_with("TLSv1."));
    assert_eq!(tls["alpn"], "http/1.1");
    assert_eq!(tls["verified"], false);
    assert_eq!(tls["certificate"]["sans"][0], "DNS:localhost");
    assert!(last_hop(&v)["timings"]["phases"]["tls_ms"]
        .as_f64()
        .is_some());
}

#[test]
fn unknown_issuer_without_cacert_and_ok_with_it() {
    let p = cert(&["localhost", "127.0.0.1"], false, false);
    let srv = tls_server(&p, 3);
    let (code, v, _) = json(&["http-get", &https(&srv, "127.0.0.1")]);
    assert_eq!(code, 1);
    assert_eq!(
        v["results"][0]["explanation"]["code"],
        "cert-unknown-issuer"
    );
    assert!(v["results"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("issued by an authority this machine does not trust"));

    let ca = p.ca_file();
    for host in ["127.0.0.1", "localhost"] {
        let (code, out, err) = run(&[
            "http-get",
            "--cacert",
            &ca.arg(),
            "--body",
            "-4",
            &https(&srv, host),
        ]);
        assert_eq!(code, 0, "{host}: {out}{err}");
        assert!(out.contains("issuer   CN=netdiag test CA"), "{out}");
        assert!(out.trim_end().ends_with("secure"), "{out}");
    }
}

#[test]
fn name_mismatch_and_expired_certificates() {
    for (names, expired, want) in [
        (&["only.example"][..], false, "cert-name-mismatch"),
        (&["127.0.0.1"][..], true, "cert-expired"),
    ] {
        let p = cert(names, false, expired);
        let srv = tls_server(&p, 1);
        let ca = p.ca_file();
        let (code, v, _) = json(&["http-get", "--cacert", &ca.arg(), &https(&srv, "127.0.0.1")]);
        assert_eq!(code, 1, "{names:?}");
        assert_eq!(v["results"][0]["explanation"]["code"], want);
    }
}

#[test]
fn https_to_a_plain_http_port_is_explained() {
    // A plain HTTP server answers the ClientHello with a 400 at once, as nginx does.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.read(&mut [0u8; 512]);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let (code, v, _) = json(&["http-get", &format!("https://127.0.0.1:{port}/")]);
    assert_eq!(code, 1);
    let e = &v["results"][0]["explanation"];
    assert!(e["code"] == "tls" || e["code"] == "EOF", "{e}");
    assert!(e["fix"].as_str().unwrap().contains("try http://"), "{e}");
}

#[test]
fn ctrl_c_prints_what_was_found_and_exits_130() {
    let srv = serve(1, |_, s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
        let _ = s.read(&mut [0u8; 1]);
    });
    let child = netdiag()
        .args(["--json", "http-get", "--timeout", "20", &srv.url("/")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the server has the request, then a little for the head to be read.
    for _ in 0..200 {
        if !srv.seen().is_empty() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    wait_for_sigint_handler(child.id());
    thread::sleep(Duration::from_millis(1000));
    // SAFETY: kill() on the pid of a child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    let v: Value = serde_json::from_slice(&o.stdout).expect("valid JSON after Ctrl-C");
    assert_eq!(last_hop(&v)["response"]["status"], 200);
    assert_eq!(last_hop(&v)["body"]["length"], 7);
    assert_eq!(v["results"][0]["explanation"]["code"], "interrupted");
}

#[test]
fn openssl_style_self_signed_ca_certificate_is_explained() {
    // `openssl req -x509` makes self-signed certificates marked CA:TRUE; rustls refuses them as server certificates.
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let p = Pki {
        ca_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
    };
    let srv = tls_server(&p, 1);
    let (code, v, _) = json(&["http-get", &https(&srv, "127.0.0.1")]);
    assert_eq!(code, 1);
    let e = &v["results"][0]["explanation"];
    assert_eq!(e["code"], "cert-self-signed", "{e}");
    assert!(
        e["cause"].as_str().unwrap().contains("CA certificate"),
        "{e}"
    );
}

/// A server that answers every request with its own request line and Authorization header as the body.
fn echo_request_server(n: usize) -> u16 {
    serve(n, |_, s, req| {
        let line = req.lines().next().unwrap_or("").to_string();
        let auth = req
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            .unwrap_or("no-auth")
            .to_string();
        let body = format!("{line}\n{auth}\n");
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    })
    .port
}

#[test]
fn curl_habits_silent_body_to_stdout_head_method_and_basic_auth() {
    let port = echo_request_server(6);
    let url = format!("http://127.0.0.1:{port}/p");
    // -s: the body alone.
    let (code, out, err) = run(&["http-get", "-s", "-u", "user:pass", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out, "GET /p HTTP/1.1\nAuthorization: Basic dXNlcjpwYXNz\n",
        "{err}"
    );
    // -o -: the same.
    let (code, out, _) = run(&["http-get", "-o", "-", &url]);
    assert_eq!(code, 0);
    assert!(out.starts_with("GET /p HTTP/1.1\n"), "{out}");
    // -I and -X HEAD send HEAD; -X POST is refused in one line.
    let (code, out, err) = run(&["--json", "http-get", "-I", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"HEAD\""), "{out}");
    let (code, out, _) = run(&["--json", "http-get", "-X", "head", &url]);
    assert_eq!(code, 0);
    assert!(out.contains("\"HEAD\""), "{out}");
    let (code, _, err) = run(&["http-get", "-X", "PROPFIND", &url]);
    assert_eq!(code, 2);
    assert!(
        err.contains("-X PROPFIND") && err.lines().count() == 1,
        "{err}"
    );
    // -v shows the exact request.
    let (code, out, _) = run(&["http-get", "-v", &url]);
    assert_eq!(code, 0);
    assert!(out.contains("GET /p HTTP/1.1"), "{out}");
    // -s on a failure: nothing on stdout, one line on stderr, exit 1.
    let closed = common::closed_port();
    let (code, out, err) = run(&["http-get", "-s", &format!("http://127.0.0.1:{closed}/")]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A server that answers each request with what it got: the request line, the Host, Content-Type and
/// Authorization headers, and the body (read by its Content-Length).
fn echo_body_server(n: usize) -> u16 {
    serve(n, |_, s, req| {
        let (head, body) = req.split_once("\r\n\r\n").unwrap_or((req, ""));
        let header = |name: &str| {
            head.lines()
                .find(|l| l.to_ascii_lowercase().starts_with(name))
                .unwrap_or("-")
                .to_string()
        };
        let answer = format!(
            "{}\n{}\n{}\n{}\nbody={body}\n",
            head.lines().next().unwrap_or(""),
            header("host:"),
            header("content-type:"),
            header("authorization:"),
        );
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        );
    })
    .port
}

fn curl(args: &[&str]) -> Option<String> {
    let o = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(args)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn curl_habits_data_and_methods_send_the_body_as_curl_does() {
    let port = echo_body_server(20);
    let url = format!("http://127.0.0.1:{port}/form");
    let dir = std::env::temp_dir().join(format!("netdiag-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body.txt");
    std::fs::write(&file, "a=1\nb=2\r\n").unwrap();
    let at_file = format!("@{}", file.display());
    let cases: Vec<Vec<&str>> = vec![
        vec!["-d", "x=1&y=2"],
        vec!["-d", "x=1", "--data", "y=2"],
        vec!["-d", &at_file],
        vec![
            "-X",
            "PUT",
            "-d",
            "{}",
            "-H",
            "Content-Type: application/json",
        ],
        vec!["-X", "DELETE"],
        vec!["-X", "patch", "-d", "z"],
    ];
    for c in &cases {
        let mut a = vec!["http-get", "-s"];
        a.extend_from_slice(c);
        a.push(&url);
        let (code, out, err) = run(&a);
        assert_eq!(code, 0, "{c:?}: {out}{err}");
        if let Some(theirs) = curl(&[&c[..], &[&url]].concat()) {
            // -X patch: curl sends the method as typed; netdiag sends it upper case.
            let theirs = theirs.replacen("patch /", "PATCH /", 1);
            assert_eq!(
                out, theirs,
                "{c:?}: netdiag and curl sent different requests"
            );
        }
    }
    let (_, out, _) = run(&["http-get", "-s", "-d", "x=1&y=2", &url]);
    assert_eq!(
        out,
        format!(
            "POST /form HTTP/1.1\nHost: 127.0.0.1:{port}\n\
             Content-Type: application/x-www-form-urlencoded\n-\nbody=x=1&y=2\n"
        )
    );
    let (_, out, _) = run(&["http-get", "-s", "-d", &at_file, &url]);
    assert!(out.ends_with("body=a=1b=2\n"), "{out}");
    // Bad input: one line, exit 2.
    for bad in [
        vec!["-d", "@/nonexistent/netdiag-body"],
        vec!["-I", "-d", "x"],
        vec!["-X", "BREW"],
    ] {
        let mut a = vec!["http-get"];
        a.extend_from_slice(&bad);
        a.push(&url);
        let (code, out, err) = run(&a);
        assert_eq!(code, 2, "{bad:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn curl_habits_user_in_the_url_is_basic_auth_and_never_shown() {
    let port = echo_body_server(12);
    let secret = "s3cr%40t";
    let with_pass = format!("http://user:{secret}@127.0.0.1:{port}/a");
    let user_only = format!("http://user@127.0.0.1:{port}/a");
    for url in [&with_pass, &user_only] {
        let (code, out, err) = run(&["http-get", "-s", url]);
        assert_eq!(code, 0, "{url}: {out}{err}");
        assert!(out.contains("Authorization: Basic "), "{url}: {out}");
        if let Some(theirs) = curl(&[url]) {
            assert_eq!(
                out, theirs,
                "{url}: netdiag and curl sent different requests"
            );
        }
    }
    // The password (s3cr@t, base64 dXNlcjpzM2NyQHQ=) never appears: URL and Authorization value masked.
    for args in [vec![], vec!["-v"], vec!["--json"], vec!["--json", "-v"]] {
        let mut a: Vec<&str> = Vec::new();
        let json = args.contains(&"--json");
        if json {
            a.push("--json");
        }
        a.push("http-get");
        a.extend(args.iter().filter(|x| **x != "--json"));
        a.push(&with_pass);
        let (code, out, err) = run(&a);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        let all = format!("{out}{err}");
        for leak in ["s3cr", "dXNlcjpzM2NyQHQ"] {
            assert!(!all.contains(leak), "{args:?} shows the password: {all}");
        }
        assert!(all.contains("user:***@127.0.0.1"), "{args:?}: {all}");
        assert!(all.contains("Basic ***"), "{args:?}: {all}");
    }
    let (code, out, err) = run(&["http-get", &format!("http://@127.0.0.1:{port}/")]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
