//! Port scans for the probe tests (connect and SYN scans): running `netdiag --json probe` and reading its report.

use std::net::TcpListener;

use serde_json::Value;

use super::{json, NetNs};

/// `netdiag --json probe ARGS` inside `ns`; asserts the exit code is `code` and returns the report.
pub fn probe_in(ns: &NetNs, args: &[&str], code: i32) -> Value {
    let mut a = vec!["--json", "probe"];
    a.extend_from_slice(args);
    let (got, out, err) = ns.run(&a);
    assert_eq!(got, code, "{a:?}: {out}{err}");
    json(&out)
}

/// Open ports listed in a JSON report, sorted.
pub fn open_ports(v: &Value) -> Vec<u16> {
    let mut p: Vec<u16> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "open")
        .map(|r| r["port"].as_u64().unwrap() as u16)
        .collect();
    p.sort_unstable();
    p
}

/// The ports of these listeners, sorted.
pub fn ports_of(ls: &[TcpListener]) -> Vec<u16> {
    let mut p: Vec<u16> = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
    p.sort_unstable();
    p
}
