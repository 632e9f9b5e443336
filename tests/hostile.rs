//! Every subcommand, given each of a shared list of hostile arguments, exits 0, 1 or 2 with at most a few lines
//! on stderr and never a panic (issue 8). Runs inside a network namespace of its own whose resolver is a DNS
//! responder of the test's own, so nothing a hostile name triggers can leave the machine.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fn hostile() -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "",
        " ",
        "\u{1}\u{7f}",
        "a\tb",
        "-1",
        "-0",
        "--",
        "-9999999999999999999999",
        "99999999999999999999999999",
        "4294967296",
        "65536",
        "1e308",
        "NaN",
        "inf",
        "bücher.example",
        "xn--bcher-kva.example",
        "пример.испытание",
        "::::",
        "[",
        "]",
        "[::1]:",
        "%s%n%x",
        "../../../../etc/passwd",
        "0.0.0.0/0",
        "::/0",
        "127.0.0.1/8",
        "http://",
        "https://[::1",
        "http://127.0.0.1:0/",
        "127.0.0.1:0",
        "1-65535,0",
        "\\0",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    // NUL cannot travel in argv (C strings end there), so the nearest thing is the byte after it: a string that
    // a shell would have cut at the NUL.
    v.push(OsString::from("a".repeat(10_000)));
    v.push(OsString::from(format!("{}:80", "b".repeat(10_000))));
    v.push(OsString::from_vec(vec![0xff, 0xfe, b'a', 0x80]));
    v.push(OsString::from_vec(b"host\xc3\x28.example".to_vec()));
    v
}

/// Argument shapes per subcommand: where a hostile value goes.
fn shapes() -> Vec<Vec<&'static str>> {
    vec![
        vec!["lookup", "{}"],
        vec!["port", "{}"],
        vec!["port", "--search", "{}"],
        vec!["probe", "{}"],
        vec!["probe", "127.0.0.1", "-p", "{}"],
        vec!["probe", "127.0.0.1:9", "--timeout", "{}"],
        vec!["http-get", "{}"],
        vec!["http-get", "http://127.0.0.1:9/", "--timeout", "{}"],
        vec!["sockets", "--port", "{}"],
        vec!["sockets", "--state", "{}"],
        vec!["ping", "{}"],
        vec!["ping", "127.0.0.1", "-c", "{}"],
        vec!["diagnose", "{}"],
        vec!["trace", "-n", "-w", "0.2", "{}"],
        vec!["trace", "-n", "-w", "0.2", "127.0.0.1", "-m", "{}"],
        vec!["trace", "-n", "127.0.0.1", "-w", "{}"],
        vec!["trace", "-n", "-w", "0.2", "127.0.0.1", "--size", "{}"],
        vec!["serve", "--tcp", "{}"],
        vec!["capture", "-r", "/dev/null", "{}"],
        vec!["capture", "-r", "{}"],
        vec!["capture", "-i", "{}", "-c", "1", "--duration", "1s"],
        vec!["exporter", "--check-config", "--config", "{}"],
        vec!["exporter", "--check-config", "--listen", "{}"],
        vec!["exporter", "--check-config", "--timeout-offset", "{}"],
        vec!["exporter", "--check-config", "--max-concurrent", "{}"],
    ]
}

#[test]
fn hostile_arguments_never_crash() {
    if !common::can_netns("hostile_arguments_never_crash") {
        return;
    }
    let dns = common::DnsNs::new("host", &[]);
    let mut failures = Vec::new();
    for shape in shapes() {
        for h in hostile() {
            let args: Vec<OsString> = shape
                .iter()
                .map(|a| {
                    if *a == "{}" {
                        h.clone()
                    } else {
                        OsString::from(a)
                    }
                })
                .collect();
            let mut cmd = std::process::Command::new("ip");
            cmd.args(["netns", "exec", &dns.ns.name, "timeout", "-s", "KILL", "30"])
                .arg(env!("CARGO_BIN_EXE_netdiag"))
                .args(&args)
                .env("NO_COLOR", "1")
                .stdin(std::process::Stdio::null());
            let o = cmd.output().expect("run netdiag");
            let code = o.status.code().unwrap_or(-1);
            let err = String::from_utf8_lossy(&o.stderr);
            let shown = format!("{:?}", args).chars().take(120).collect::<String>();
            if ![0, 1, 2].contains(&code) {
                failures.push(format!("{shown}: exit {code}: {err}"));
            } else if err.lines().count() > 3 {
                failures.push(format!(
                    "{shown}: {} stderr lines: {err}",
                    err.lines().count()
                ));
            } else if err.contains("panicked")
                || err.contains("internal error")
                || err.contains("RUST_BACKTRACE")
            {
                failures.push(format!("{shown}: panic: {err}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
