//! `netdiag port`: the bundled IANA services table through the built binary.

mod common;
use common::run;

fn first_service(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    let row = out
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no rows: {out}"));
    row.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn well_known_ports() {
    assert_eq!(first_service(&["port", "80/tcp"]), "http");
    assert_eq!(first_service(&["port", "443/tcp"]), "https");
    assert_eq!(first_service(&["port", "22"]), "ssh");
    assert_eq!(first_service(&["port", "6000/tcp"]), "x11");
    assert_eq!(first_service(&["port", "6063/tcp"]), "x11");
}

#[test]
fn a_port_with_every_protocol() {
    let (code, out, _) = run(&["port", "22"]);
    assert_eq!(code, 0);
    for p in ["tcp", "udp", "sctp"] {
        assert!(
            out.lines().any(|l| l.contains("ssh") && l.contains(p)),
            "{p}: {out}"
        );
    }
}

#[test]
fn name_to_ports() {
    let (code, out, _) = run(&["port", "postgresql"]);
    assert_eq!(code, 0);
    assert!(out.lines().skip(1).all(|l| l.starts_with("5432")), "{out}");
    assert!(out.contains("tcp") && out.contains("udp"));
    let (_, x11, _) = run(&["port", "x11/tcp"]);
    assert!(x11.contains("6000-6063"), "{x11}");
}

#[test]
fn aliases_are_shown() {
    let (_, out, _) = run(&["port", "80/tcp"]);
    assert!(out.contains("www"), "{out}");
}

#[test]
fn range_lists_one_row_per_named_port() {
    let (code, out, _) = run(&["--json", "port", "8000-8010/tcp"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["results"].as_array().unwrap();
    assert!(rows.len() >= 3, "{out}");
    let mut ports: Vec<u64> = rows.iter().map(|r| r["port"].as_u64().unwrap()).collect();
    assert!(ports.iter().all(|p| (8000..=8010).contains(p)));
    assert!(rows.iter().all(|r| r["protocol"] == "tcp"));
    let n = ports.len();
    ports.dedup();
    assert_eq!(ports.len(), n, "one row per port");
    assert!(rows
        .iter()
        .any(|r| r["port"] == 8008 && r["name"] == "http-alt"));
}

#[test]
fn search_finds_names_and_descriptions() {
    let (code, out, _) = run(&["port", "--search", "postgres"]);
    assert_eq!(code, 0);
    assert!(out.contains("5432"), "{out}");
    let (code, _, _) = run(&["port", "--search", "zzzqqqxxx"]);
    assert_eq!(code, 1);
}

#[test]
fn unregistered_port_says_so_and_exits_1() {
    let (code, out, _) = run(&["port", "49999/tcp"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("49999/tcp has no registered service name"),
        "{out}"
    );
    let (code, out, _) = run(&["port", "6379/udp"]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn json_carries_the_same_rows_as_the_table() {
    let (_, table, _) = run(&["port", "53", "http"]);
    let (_, json, _) = run(&["--json", "port", "53", "http"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), table.lines().count() - 1, "{table}");
    for (r, line) in rows.iter().zip(table.lines().skip(1)) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], r["port"].to_string());
        assert_eq!(cols[1], r["protocol"].as_str().unwrap());
        assert_eq!(cols[2], r["name"].as_str().unwrap());
    }
}

#[test]
fn usage_shows_spec_as_required() {
    let (code, out, err) = common::run(&["port", "--help"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Usage: netdiag port [OPTIONS] <SPEC>..."),
        "{out}"
    );
    assert!(out.contains("netdiag port --search <WORD>"), "{out}");
    let (code, _, err) = common::run(&["port"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("<SPEC>") && err.contains("netdiag port --help"),
        "{err}"
    );
}
