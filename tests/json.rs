//! One JSON schema for every subcommand (issue 11): each subcommand's `--json` output, for successes and for
//! failures, is checked against the rules of docs/json.md mechanically; the same runs with `--format csv` must be
//! well-formed CSV; and every jq line of README.md and docs/json.md runs against real servers (nginx) in a
//! network namespace of the test's own and prints what it says it prints.
//!
//! Network rule: loopback only, and addresses inside namespaces this test creates.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use common::http::{serve, Nginx};
use common::{closed_port, decode, netdiag, DnsNs, NetNs};
use serde_json::Value;

/// Keys that would be a duration without its unit; holding a number under one of them breaks the `_ms` rule.
/// (`total` is left out: sockets --summary counts with it.)
const BARE_DURATIONS: [&str; 14] = [
    "elapsed",
    "time",
    "rtt",
    "latency",
    "duration",
    "timeout",
    "interval",
    "delay",
    "dns",
    "connect",
    "tls",
    "request",
    "first_byte",
    "body",
];

/// The four keys of the one failure object.
const EXPLANATION_KEYS: [&str; 4] = ["cause", "code", "fix", "verdict"];

/// The words of the one status vocabulary (explain::Verdict).
const VERDICTS: [&str; 12] = [
    "ok",
    "closed",
    "filtered",
    "unreachable",
    "not-found",
    "temporary",
    "reset",
    "denied",
    "protocol",
    "error",
    "interrupted",
    "skipped",
];

/// What the checks saw over all documents, so a run that never exercised a rule fails instead of passing.
#[derive(Default)]
struct Seen {
    explanations: usize,
    ms_numbers: usize,
    endpoints: usize,
    states: BTreeSet<String>,
}

fn is_endpoint_string(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse::<std::net::IpAddr>().is_ok()
}

/// True for the keys that echo an argument as the user typed it, and for the words that name a DNS server for
/// people (`server_label`, `source`: `10.53.0.1:5300 over TCP`), which sit beside its `server` endpoint object.
fn typed(path: &str) -> bool {
    [".target", ".query", ".host", ".server_label", ".source"]
        .iter()
        .any(|k| path.ends_with(k))
}

fn is_status_word(s: &str) -> bool {
    !s.is_empty()
        && s.split('|').all(|w| {
            w.starts_with(|c: char| c.is_ascii_lowercase())
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Every rule of docs/json.md that a document can break, with the path where it breaks.
fn violations(v: &Value, path: &str, seen: &mut Seen, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                violations(item, &format!("{path}[{i}]"), seen, out);
            }
        }
        // What the user typed (`target`, `query`, `host`) is echoed as typed; every other value is data.
        Value::String(s) if is_endpoint_string(s) && !typed(path) => out.push(format!(
            "{path}: endpoint as a string {s:?}, not {{address, port}}"
        )),
        Value::Object(map) => {
            let keys: BTreeSet<&str> = map.keys().map(String::as_str).collect();
            if keys == EXPLANATION_KEYS.into_iter().collect() && !path.ends_with(".explanation") {
                out.push(format!("{path}: a failure object not named explanation"));
            }
            if keys == ["address", "port"].into_iter().collect() {
                seen.endpoints += 1;
            }
            for (k, val) in map {
                let p = format!("{path}.{k}");
                object_key(k, val, &p, seen, out);
                violations(val, &p, seen, out);
            }
        }
        _ => {}
    }
}

/// The rules about one key and its value.
fn object_key(k: &str, val: &Value, p: &str, seen: &mut Seen, out: &mut Vec<String>) {
    if k.ends_with("_ms") {
        match val {
            Value::Number(_) => seen.ms_numbers += 1,
            Value::Null => {}
            other => out.push(format!("{p}: a duration that is not a number: {other}")),
        }
    }
    if BARE_DURATIONS.contains(&k) && val.is_number() {
        out.push(format!("{p}: a duration without the _ms suffix"));
    }
    // `error` as a count (probe's counts per state) is a state's name; as anything else it is a failure object.
    if k == "proto" || k == "icmp_error" || (k == "error" && !val.is_number()) {
        out.push(format!(
            "{p}: key {k:?} (use protocol / explanation / icmp)"
        ));
    }
    if k == "explanation" {
        match val {
            Value::Null => {}
            Value::Object(e) => {
                seen.explanations += 1;
                let keys: BTreeSet<&str> = e.keys().map(String::as_str).collect();
                if keys != EXPLANATION_KEYS.into_iter().collect() {
                    out.push(format!("{p}: explanation keys {keys:?}"));
                }
                if !e["verdict"].as_str().is_some_and(|s| VERDICTS.contains(&s)) {
                    out.push(format!("{p}.verdict: not a verdict: {}", e["verdict"]));
                }
            }
            other => out.push(format!(
                "{p}: explanation is neither null nor an object: {other}"
            )),
        }
    }
    if matches!(k, "state" | "status" | "verdict") {
        if let Some(s) = val.as_str() {
            seen.states.insert(s.to_string());
            if !is_status_word(s) {
                out.push(format!("{p}: {s:?} is not a lowercase kebab-case word"));
            }
        }
    }
    if k == "address" {
        if let Some(s) = val.as_str() {
            if s.parse::<std::net::IpAddr>().is_err() {
                out.push(format!("{p}: {s:?} is not an address"));
            }
        }
    }
}

/// Checks one document against the rules, `ok` against the exit code included.
fn check_document(what: &str, code: i32, stdout: &str, seen: &mut Seen) {
    let v: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("{what}: not one JSON document ({e}): {stdout}"));
    assert!(v.is_object(), "{what}: {stdout}");
    assert!(
        stdout.starts_with("{\n  \"ok\": "),
        "{what}: ok comes first: {stdout}"
    );
    assert_eq!(
        v["ok"].as_bool(),
        Some(code == 0),
        "{what}: ok is {} but the exit code is {code}",
        v["ok"]
    );
    let mut bad = Vec::new();
    violations(&v, "", seen, &mut bad);
    assert!(bad.is_empty(), "{what}:\n{}\n{stdout}", bad.join("\n"));
}

/// Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas, quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => record.push(std::mem::take(&mut field)),
            ('\n', false) => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (c, _) => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quoted field in {text:?}");
    assert!(
        field.is_empty() && record.is_empty(),
        "no final line break: {text:?}"
    );
    records
}

/// Checks that `--format csv` output is tables of equal-width records, each headed by uppercase names.
fn check_csv(what: &str, text: &str) {
    let records = parse_csv(text);
    assert!(!records.is_empty(), "{what}: empty CSV");
    let mut width = None;
    for r in &records {
        if r.len() == 1 && r[0].is_empty() {
            width = None; // a blank line between two tables
            continue;
        }
        match width {
            None => {
                assert!(
                    r.iter()
                        .all(|h| !h.is_empty() && h.to_uppercase() == *h || h.ends_with(" ms")),
                    "{what}: header {r:?}"
                );
                width = Some(r.len());
            }
            Some(w) => assert_eq!(r.len(), w, "{what}: {r:?} in\n{text}"),
        }
    }
}

/// A loopback HTTP server for the whole test: 200 on `/`, 404 on `/missing`, a redirect on `/moved`. Serves at
/// most `max` connections, then stops.
fn http_server(max: usize) -> u16 {
    serve(max, |_, s, req| {
        let answer: &[u8] = if req.starts_with("GET /missing ") {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        } else if req.starts_with("GET /moved ") {
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: /\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
        };
        let _ = s.write_all(answer);
    })
    .port
}

/// Runs netdiag with `--json` and with `--format csv`, checks both, and returns the exit code.
fn run_both(args: &[String], seen: &mut Seen) -> i32 {
    let what = format!("netdiag {}", args.join(" "));
    let (code, out, err) = decode(
        netdiag()
            .arg("--json")
            .args(args)
            .output()
            .expect("run netdiag"),
    );
    assert!(matches!(code, 0 | 1), "{what}: exit {code}: {err}");
    check_document(&what, code, &out, seen);
    let (csv_code, csv, err) = decode(
        netdiag()
            .args(["--format", "csv"])
            .args(args)
            .output()
            .expect("run netdiag"),
    );
    assert!(
        matches!(csv_code, 0 | 1),
        "{what} (csv): exit {csv_code}: {err}"
    );
    check_csv(&what, &csv);
    code
}

/// Builds a pcap file (link type raw IPv4) of loopback packets: a SYN to 127.0.0.1:9 answered by RST, a
/// completed exchange with 127.0.0.1:8080, and a UDP datagram to port 7 answered by ICMP port unreachable.
fn sample_pcap(path: &Path) {
    fn ip(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        let len = (20 + payload.len()) as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }
    fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&sport.to_be_bytes());
        t.extend_from_slice(&dport.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&ack.to_be_bytes());
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend_from_slice(data);
        ip(6, &t)
    }
    let udp = {
        let mut u = vec![0x9c, 0x40, 0, 7, 0, 12, 0, 0];
        u.extend_from_slice(b"ping");
        ip(17, &u)
    };
    let icmp = {
        let mut m = vec![3, 3, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&udp);
        ip(1, &m)
    };
    let (syn, ack, psh, fin, rst) = (0x02, 0x10, 0x08, 0x01, 0x04);
    let packets = [
        tcp(40000, 9, 100, 0, syn, b""),
        tcp(9, 40000, 0, 101, rst | ack, b""),
        tcp(40001, 8080, 500, 0, syn, b""),
        tcp(8080, 40001, 900, 501, syn | ack, b""),
        tcp(40001, 8080, 501, 901, ack, b""),
        tcp(40001, 8080, 501, 901, psh | ack, b"GET / HTTP/1.0\r\n\r\n"),
        tcp(8080, 40001, 901, 519, psh | ack, b"HTTP/1.0 200 OK\r\n\r\n"),
        tcp(40001, 8080, 519, 920, fin | ack, b""),
        tcp(8080, 40001, 920, 520, fin | ack, b""),
        tcp(40001, 8080, 520, 921, ack, b""),
        udp,
        icmp,
    ];
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&[2, 0, 4, 0]);
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        f.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        f.extend_from_slice(&(1000 * i as u32).to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(p);
    }
    std::fs::write(path, f).unwrap();
}

#[test]
fn every_subcommand_follows_the_one_schema() {
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let open_port = open.local_addr().unwrap().port();
    let closed = closed_port();
    let web = http_server(64);
    let url = |path: &str| format!("http://127.0.0.1:{web}{path}");
    let pcap = std::env::temp_dir().join(format!("netdiag-json-{}.pcap", std::process::id()));
    sample_pcap(&pcap);
    let pcap_s = pcap.display().to_string();
    let runs: Vec<Vec<String>> = [
        vec!["lookup".into(), "localhost".into(), "127.0.0.1".into()],
        vec!["lookup".into()],
        vec!["port".into(), "80/tcp".into(), "http".into()],
        vec!["port".into(), "7777/dccp".into()],
        vec!["port".into(), "--search".into(), "postgres".into()],
        vec![
            "probe".into(),
            format!("127.0.0.1:{open_port}"),
            format!("127.0.0.1:{closed}"),
        ],
        vec![
            "probe".into(),
            "127.0.0.1".into(),
            "-p".into(),
            format!("{open_port}-{}", open_port.saturating_add(3)),
            "--all".into(),
        ],
        vec![
            "probe".into(),
            format!("127.0.0.1:{open_port}"),
            "--count".into(),
            "2".into(),
            "--interval".into(),
            "0.05".into(),
        ],
        vec![
            "probe".into(),
            "--udp".into(),
            format!("127.0.0.1:{closed}"),
            "--timeout".into(),
            "0.3".into(),
        ],
        vec!["http-get".into(), url("/"), url("/missing")],
        vec!["http-get".into(), "-L".into(), url("/moved")],
        vec!["http-get".into(), format!("http://127.0.0.1:{closed}/")],
        // Issue 17: `saved` with -o, and the Happy Eyeballs `attempts` (where /etc/hosts gives localhost ::1
        // too, the server on 127.0.0.1 only makes that attempt fail or go untried).
        vec![
            "http-get".into(),
            "-o".into(),
            std::env::temp_dir()
                .join(format!("netdiag-json-o-{}", std::process::id()))
                .display()
                .to_string(),
            url("/"),
        ],
        vec!["http-get".into(), format!("http://localhost:{web}/")],
        // Issue 12: `address_source`, `resolve_rule` and `connect_to` (curl's --resolve, --connect-to).
        vec![
            "http-get".into(),
            "--resolve".into(),
            format!("example.test:{web}:127.0.0.1"),
            format!("http://example.test:{web}/"),
        ],
        vec![
            "http-get".into(),
            "--connect-to".into(),
            format!("example.test:80:127.0.0.1:{web}"),
            "http://example.test/".into(),
        ],
        vec!["sockets".into(), "-tl".into()],
        vec!["sockets".into(), "-t".into(), "-i".into(), "-o".into()],
        vec!["sockets".into(), "--summary".into()],
        vec!["sockets".into(), "--summary".into(), "-tu".into()],
        vec![
            "ping".into(),
            "-c".into(),
            "1".into(),
            "127.0.0.1".into(),
            "127.0.0.2".into(),
        ],
        vec!["diagnose".into(), format!("127.0.0.1:{closed}")],
        vec!["trace".into(), "-n".into(), "127.0.0.1".into()],
        vec![
            "trace".into(),
            "-n".into(),
            "--proto".into(),
            "udp".into(),
            "-c".into(),
            "2".into(),
            "-i".into(),
            "0.1".into(),
            "127.0.0.1".into(),
        ],
        vec!["trace".into(), "-n".into(), format!("127.0.0.1:{closed}")],
        vec!["diagnose".into(), url("/missing")],
        vec!["diagnose".into()],
        vec![
            "serve".into(),
            "--tcp".into(),
            "0".into(),
            "--udp".into(),
            "0".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--duration".into(),
            "0.2".into(),
        ],
        vec!["capture".into(), "-r".into(), pcap_s.clone()],
        vec![
            "capture".into(),
            "-r".into(),
            pcap_s.clone(),
            "--conversations".into(),
            "--print".into(),
        ],
    ]
    .into_iter()
    .collect();
    let mut seen = Seen::default();
    let mut failed = 0;
    for args in &runs {
        if run_both(args, &mut seen) != 0 {
            failed += 1;
        }
    }
    assert!(failed >= 5, "the runs include failures: {failed}");
    assert!(
        seen.explanations >= 5,
        "explanations seen: {}",
        seen.explanations
    );
    assert!(seen.ms_numbers >= 20, "durations seen: {}", seen.ms_numbers);
    assert!(seen.endpoints >= 3, "endpoints seen: {}", seen.endpoints);
    let _ = std::fs::remove_file(&pcap);
    for word in [
        "open",
        "closed",
        "listen",
        "ok",
        "not-found",
        "destination",
        "refused",
        "completed",
    ] {
        assert!(
            seen.states.contains(word),
            "{word} not seen: {:?}",
            seen.states
        );
    }
    drop(open);
    let _ = std::fs::remove_file(
        std::env::temp_dir().join(format!("netdiag-json-o-{}", std::process::id())),
    );
}

/// Failures that need a namespace: names that do not resolve (answered by the test's own DNS responder) and a
/// host whose echo requests are dropped.
#[test]
fn failures_in_a_namespace_follow_the_one_schema() {
    if !common::can_nft("failures_in_a_namespace_follow_the_one_schema") {
        return;
    }
    let dns = DnsNs::new("jsn", &[("web.test", "127.0.0.1")]);
    dns.ns.nft_input(
        "ip daddr 127.0.0.3 icmp type echo-request drop ; ip daddr 127.0.0.3 tcp dport 9 drop",
    );
    let mut seen = Seen::default();
    for args in [
        vec!["lookup", "nx.test", "web.test"],
        vec!["probe", "nx.test:80", "web.test:1"],
        // A SYN scan: a reset (closed) and a dropped SYN (filtered after the retry), with its `syn` object.
        vec![
            "probe",
            "--syn",
            "--timeout",
            "0.5",
            "127.0.0.3",
            "-p",
            "1,9",
        ],
        vec!["http-get", "--timeout", "2", "http://nx.test/"],
        vec![
            "ping",
            "-c",
            "1",
            "-W",
            "0.5",
            "127.0.0.1",
            "127.0.0.3",
            "nx.test",
        ],
        vec!["diagnose", "--timeout", "1", "nx.test:80"],
        // The path step's trace inside diagnose, and trace's own failures: silent, and a name that is not found.
        vec!["diagnose", "--timeout", "1", "127.0.0.3:9"],
        vec!["trace", "-n", "--timeout", "0.5", "127.0.0.3"],
        vec!["trace", "nx.test"],
        vec!["diagnose", "--capture", "--timeout", "1", "web.test:1"],
    ] {
        let mut full = vec!["--json"];
        full.extend(&args);
        let (code, out, err) = dns.ns.run(&full);
        assert_eq!(code, 1, "{args:?}: {err}\n{out}");
        check_document(&format!("{args:?}"), code, &out, &mut seen);
    }
    assert!(seen.states.contains("not-found"), "{:?}", seen.states);
    assert!(seen.states.contains("filtered"), "{:?}", seen.states);
    assert!(seen.states.contains("silent"), "{:?}", seen.states);
    assert!(seen.explanations >= 5);
}

/// Direct DNS (`lookup NAME TYPE @SERVER`, `--all-servers`, `--trace`) and diagnose's nameserver rows against
/// real servers (knot, unbound) in the test's namespace: answers and every kind of failure, as JSON and CSV.
#[test]
fn direct_dns_follows_the_one_schema() {
    use common::dns::{can_dns, DnsWorld, Parts, AUTH, DEAD, RESOLVER, ROOT};
    if !can_dns("direct_dns_follows_the_one_schema", Parts::RESOLVER) {
        return;
    }
    let w = DnsWorld::new("jsd", Parts::RESOLVER);
    w.resolv_conf(&[RESOLVER, DEAD], "options timeout:1 attempts:1");
    let at_auth = format!("@{AUTH}");
    let at_dead = format!("@{DEAD}");
    let tcp_auth = format!("@tcp://{AUTH}");
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (vec!["lookup", "www.zone.test", "A", "AAAA", &at_auth], 0),
        (vec!["lookup", "alias.zone.test", &tcp_auth], 0),
        (vec!["lookup", "nx.zone.test", "MX", &at_auth], 1),
        (
            vec!["lookup", "www.zone.test", &at_dead, "--timeout", "1"],
            1,
        ),
        (vec!["lookup", "www.zone.test", "--timeout", "1"], 0),
        (
            vec!["lookup", "www.zone.test", "--all-servers", "--timeout", "1"],
            1,
        ),
        (
            vec!["lookup", "www.zone.test", "--trace", "--root", ROOT],
            0,
        ),
        (
            vec!["lookup", "nope.zone.test", "--trace", "--root", ROOT],
            1,
        ),
        (vec!["diagnose", "--timeout", "2", "nx.zone.test:80"], 1),
    ];
    let mut seen = Seen::default();
    for (args, want) in &runs {
        let what = format!("netdiag {}", args.join(" "));
        let mut full = vec!["--json"];
        full.extend(args);
        let (code, out, err) = w.run(&full);
        assert_eq!(code, *want, "{what}: {err}\n{out}");
        check_document(&what, code, &out, &mut seen);
        let mut csv = vec!["--format", "csv"];
        csv.extend(args);
        let (code, out, err) = w.run(&csv);
        assert_eq!(code, *want, "{what} (csv): {err}\n{out}");
        check_csv(&what, &out);
    }
    for word in ["ok", "nxdomain", "closed", "referral", "not-found"] {
        assert!(
            seen.states.contains(word),
            "{word} not seen: {:?}",
            seen.states
        );
    }
    assert!(seen.explanations >= 4, "{}", seen.explanations);
    assert!(seen.endpoints >= 8, "{}", seen.endpoints);
    assert!(seen.ms_numbers >= 20, "{}", seen.ms_numbers);
}

#[test]
fn endpoint_and_status_word_rules_can_fail() {
    // The checker itself: each rule rejects what it is there to reject.
    let mut seen = Seen::default();
    for (doc, rule) in [
        (r#"{"a": {"elapsed": 3.0}}"#, "without the _ms suffix"),
        (r#"{"a": {"x_ms": "3"}}"#, "not a number"),
        (r#"{"proto": "tcp"}"#, "key \"proto\""),
        (r#"{"address": "127.0.0.1:80"}"#, "endpoint as a string"),
        (r#"{"peer": "[::1]:443"}"#, "endpoint as a string"),
        (r#"{"state": "LISTEN"}"#, "kebab-case"),
        (
            r#"{"error": {"verdict": "closed", "code": "x", "cause": "y", "fix": ""}}"#,
            "not named explanation",
        ),
        (
            r#"{"explanation": {"verdict": "closed", "code": "x"}}"#,
            "explanation keys",
        ),
        (
            r#"{"explanation": {"verdict": "nope", "code": "x", "cause": "y", "fix": ""}}"#,
            "not a verdict",
        ),
    ] {
        let v: Value = serde_json::from_str(doc).unwrap();
        let mut bad = Vec::new();
        violations(&v, "", &mut seen, &mut bad);
        assert!(bad.iter().any(|b| b.contains(rule)), "{doc}: {bad:?}");
    }
    assert!(is_status_word("open|filtered") && is_status_word("fin-wait-1"));
    assert!(!is_status_word("Open") && !is_status_word(""));
    assert_eq!(
        parse_csv("A,B\n\"x,\"\"y\"\"\",\"two\nlines\"\n"),
        vec![vec!["A", "B"], vec!["x,\"y\"", "two\nlines"]]
    );
}

/// An nginx of the test's own, in the test's namespace: listening on 127.0.0.1:80 and :8080, answering 200.
/// Its files live in the directory returned with it (removed after nginx is stopped).
fn nginx(ns: &NetNs) -> (Nginx, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let n = Nginx::start(
        ns,
        dir.path(),
        "server {\n    listen 127.0.0.1:80;\n    listen 127.0.0.1:8080;\n    return 200 \"ok\\n\";\n  }",
        "127.0.0.1:8080",
    );
    (n, dir)
}

/// The jq lines of a Markdown file: lines in a fenced block that start with `netdiag ` and pipe into jq.
fn jq_lines(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced && line.starts_with("netdiag ") && line.contains("| jq") {
            lines.push(line.to_string());
        }
    }
    lines
}

/// What each documented jq line prints in the test's namespace (nginx on 127.0.0.1:80 and :8080, ICMP to
/// 127.0.0.3 dropped), keyed by the command up to the pipe.
fn expected(line: &str, out: &str) -> Result<(), String> {
    let cmd = line.split(" | jq").next().unwrap_or(line);
    let lines: Vec<&str> = out.lines().collect();
    let ok = match cmd {
        "netdiag probe 127.0.0.1 -p 1-1024 --json" => lines == ["80"],
        "netdiag probe 127.0.0.1 -p 22,80,443 --json" => {
            lines.len() == 2
                && lines[0].starts_with("22 closed: connection refused")
                && lines[1].starts_with("443 closed: connection refused")
        }
        "netdiag ping 127.0.0.0/29 --json" => lines == ["127.0.0.3"],
        "netdiag http-get -L http://localhost:8080/ --json" => lines == ["200"],
        "netdiag http-get http://localhost:8080/ --json" => {
            let v: Value = serde_json::from_str(out).map_err(|e| e.to_string())?;
            v["connect_ms"].is_number() && v["tls_ms"].is_null() && v["first_byte_ms"].is_number()
        }
        "netdiag sockets -tlp --json" => {
            let set: BTreeSet<&str> = lines.iter().copied().collect();
            set == ["127.0.0.1:80", "127.0.0.1:8080"].into_iter().collect()
        }
        "netdiag sockets --json" => lines.len() == 1 && lines[0].parse::<u64>().is_ok(),
        "netdiag diagnose http://localhost:8080/ --json" => lines == ["works"],
        "netdiag lookup localhost --json" => lines == ["true"],
        "netdiag trace -n 127.0.0.1 --json" => lines == ["1 127.0.0.1 0%"],
        other => return Err(format!("no expectation for a new documented line: {other}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected output: {out:?}"))
    }
}

#[test]
fn documented_jq_one_liners_print_what_they_say() {
    let test = "documented_jq_one_liners_print_what_they_say";
    if !common::can_nft(test)
        || !common::need_tool(test, "jq", "jq")
        || !common::need_tool(test, "nginx", "nginx")
    {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lines = jq_lines(&root.join("docs/json.md"));
    let readme = jq_lines(&root.join("README.md"));
    assert!(readme.len() >= 3, "README.md shows jq lines: {readme:?}");
    for l in readme {
        assert!(
            lines.contains(&l),
            "README's line is not in docs/json.md: {l}"
        );
    }
    assert!(lines.len() >= 8, "{lines:?}");
    let ns = NetNs::new("jq");
    ns.nft_input("ip daddr 127.0.0.3 icmp type echo-request drop");
    let _nginx = nginx(&ns);
    let bin = Path::new(env!("CARGO_BIN_EXE_netdiag")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for line in &lines {
        let o = Command::new("ip")
            .args(["netns", "exec", &ns.name, "sh", "-c", line])
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let (code, out, err) = decode(o);
        assert_eq!(code, 0, "{line}\nstdout: {out}\nstderr: {err}");
        if let Err(e) = expected(line, &out) {
            panic!("{line}\n{e}\nstderr: {err}");
        }
    }
}
