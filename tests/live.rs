//! Results as they happen on a terminal (a pseudo-terminal from `script`): open ports appear while the scan is
//! still running, the progress line is erased at the end, and `--json` on a terminal stays one document.
//! The scans run inside namespaces the test creates (skipped without root).

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{can_nft, need_tool, VethPair};

/// Runs a shell command line under a pseudo-terminal; returns the child with its terminal output piped.
fn on_a_terminal(cmdline: &str) -> std::process::Child {
    Command::new("script")
        .args(["-qfec", cmdline, "/dev/null"])
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script")
}

/// What the child writes, chunk by chunk as it comes, from a reader thread.
fn chunks(mut stdout: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn open_ports_show_while_the_scan_runs_and_the_progress_line_is_erased() {
    if !can_nft("open_ports_show_while_the_scan_runs_and_the_progress_line_is_erased")
        || !need_tool("live", "script", "bsdutils")
    {
        return;
    }
    let v = VethPair::new("live");
    let l = v.b.listen(&format!("{}:0", v.b_ip));
    let port = l.local_addr().unwrap().port();
    // Every other port of the range is dropped: the scan waits its whole timeout for them.
    v.b.nft_input(&format!("tcp dport != {port} drop"));
    let cmdline = format!(
        "ip netns exec {} {} probe {} -p {}-{} -t 6",
        v.a.name,
        env!("CARGO_BIN_EXE_netdiag"),
        v.b_ip,
        port - 2,
        port + 2
    );
    let mut child = on_a_terminal(&cmdline);
    let rx = chunks(child.stdout.take().unwrap());
    let found = format!("open  {}:{port}/tcp", v.b_ip);
    let mut seen = Vec::new();
    let mut running_when_found = None;
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(30)) {
        seen.extend_from_slice(&chunk);
        if running_when_found.is_none() && String::from_utf8_lossy(&seen).contains(&found) {
            // The dropped ports keep the scan busy for six seconds: it must still be running.
            running_when_found = Some(child.try_wait().unwrap().is_none());
        }
    }
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen).replace('\r', "");
    assert_eq!(running_when_found, Some(true), "{text}");
    assert_eq!(status.code(), Some(0), "{text}");
    // The live line comes first, the report after it.
    let live_at = text.find(&found).unwrap();
    let table_at = text.find("ADDRESS").unwrap_or_else(|| panic!("{text}"));
    assert!(live_at < table_at, "{text}");
    // Whatever progress line was drawn is erased before the report.
    let before_table = &text[..table_at];
    if let Some(last_progress) = before_table.rfind("ETA") {
        assert!(before_table[last_progress..].contains("\x1b[K"), "{text:?}");
    }
    assert!(!text[table_at..].contains("ETA"), "{text:?}");
}

#[test]
fn json_on_a_terminal_is_one_document() {
    if !can_nft("json_on_a_terminal_is_one_document") || !need_tool("live", "script", "bsdutils") {
        return;
    }
    let v = VethPair::new("ljsn");
    let l = v.b.listen(&format!("{}:0", v.b_ip));
    let port = l.local_addr().unwrap().port();
    let cmdline = format!(
        "ip netns exec {} {} --json probe {} -p {}-{} 2>/dev/null",
        v.a.name,
        env!("CARGO_BIN_EXE_netdiag"),
        v.b_ip,
        port - 2,
        port + 2
    );
    let o = on_a_terminal(&cmdline).wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    let j: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    assert_eq!(j["results"][0]["port"], port);
}

/// A server on loopback that sends the head and the first part of the body, then stalls until told to finish
/// (or 60 s pass), then sends the rest. Answers `n` connections.
fn slow_body_server(n: usize) -> (u16, mpsc::Sender<()>) {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let Ok(mut s) = s else { break };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Slow: yes\r\nConnection: close\r\n\r\nhello",
            );
            let _ = s.flush();
            let _ = rx.recv_timeout(Duration::from_secs(60));
            let _ = s.write_all(b"world");
        }
    });
    (port, tx)
}

#[test]
fn http_get_on_a_terminal_shows_the_head_before_a_slow_body_ends() {
    if !need_tool("live", "script", "bsdutils") {
        return;
    }
    let (port, finish) = slow_body_server(1);
    let cmdline = format!(
        "{} http-get http://127.0.0.1:{port}/ --timeout 90",
        env!("CARGO_BIN_EXE_netdiag")
    );
    let mut child = on_a_terminal(&cmdline);
    let rx = chunks(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let mut running_when_head_shown = None;
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(60)) {
        seen.extend_from_slice(&chunk);
        if running_when_head_shown.is_none()
            && String::from_utf8_lossy(&seen).contains("X-Slow: yes")
        {
            // The body is stalled until the server is told to finish: the fetch must still be running.
            running_when_head_shown = Some(child.try_wait().unwrap().is_none());
            finish.send(()).unwrap();
        }
    }
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen).replace('\r', "");
    assert_eq!(running_when_head_shown, Some(true), "{text}");
    assert_eq!(status.code(), Some(0), "{text}");
    // The head came first, the whole report after it.
    let head_at = text.find("HTTP/1.1 200 OK").unwrap();
    let report_at = text.rfind("200").unwrap();
    assert!(head_at < report_at, "{text}");
}

#[test]
fn http_get_piped_and_json_stay_whole_documents() {
    if !need_tool("live", "script", "bsdutils") {
        return;
    }
    let (port, finish) = slow_body_server(2);
    let url = format!("http://127.0.0.1:{port}/");
    // Piped: no live head, only the report.
    let (tx, rx) = mpsc::channel();
    let u = url.clone();
    std::thread::spawn(move || {
        let o = Command::new(env!("CARGO_BIN_EXE_netdiag"))
            .args(["http-get", &u, "--timeout", "90"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let _ = tx.send(o);
    });
    std::thread::sleep(Duration::from_millis(300));
    finish.send(()).unwrap();
    let o = rx.recv_timeout(Duration::from_secs(90)).unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(!text.contains("X-Slow: yes"), "{text}");
    // --json on a terminal: one document.
    let cmdline = format!(
        "{} --json http-get {url} --timeout 90 2>/dev/null",
        env!("CARGO_BIN_EXE_netdiag")
    );
    let child = on_a_terminal(&cmdline);
    std::thread::sleep(Duration::from_millis(300));
    finish.send(()).unwrap();
    let o = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    let j: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    assert_eq!(j["results"][0]["status"], 200, "{text}");
}
