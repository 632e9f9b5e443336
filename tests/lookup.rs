//! `netdiag lookup`: the built binary against the system resolver (/etc/hosts for localhost).

mod common;
use common::run;

#[test]
fn localhost_gives_a_loopback_address() {
    let (code, out, err) = run(&["lookup", "localhost"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("127.0.0.1") || out.contains("::1"), "{out}");
    assert!(out.starts_with("QUERY"), "{out}");
}

#[test]
fn reverse_of_127_0_0_1_names_it() {
    let (code, out, err) = run(&["lookup", "127.0.0.1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("PTR"), "{out}");
    let line = out.lines().find(|l| l.contains("PTR")).unwrap();
    assert!(
        line.split_whitespace()
            .nth(2)
            .is_some_and(|n| !n.is_empty()),
        "{out}"
    );
}

#[test]
fn invalid_name_exits_1_with_an_explanation() {
    let (code, out, err) = run(&["lookup", "no-such-host.invalid"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("name not found"), "{out}");
    assert!(out.contains("EAI_NONAME"), "{out}");
    assert!(out.contains("check the spelling"), "{out}");
}

#[test]
fn several_names_keep_their_order_and_one_failure_fails_the_run() {
    let (code, out, _) = run(&["lookup", "localhost", "nope.invalid", "127.0.0.1"]);
    assert_eq!(code, 1);
    let first: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let pos = |q: &str| {
        first
            .iter()
            .position(|f| *f == q)
            .unwrap_or_else(|| panic!("{q}: {out}"))
    };
    assert!(pos("localhost") < pos("nope.invalid"));
    assert!(pos("nope.invalid") < pos("127.0.0.1"));
}

#[test]
fn family_flags_filter_addresses() {
    let (code, out, _) = run(&["--json", "lookup", "-4", "localhost"]);
    if code == 0 {
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        for a in v["results"][0]["addresses"].as_array().unwrap() {
            assert_eq!(a["family"], "IPv4");
        }
    }
    let (code, _, err) = run(&["lookup", "-4", "-6", "localhost"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("netdiag: error:"), "{err}");
}

#[test]
fn json_carries_the_same_rows_as_the_table() {
    let (_, table, _) = run(&["lookup", "localhost", "127.0.0.1"]);
    let (code, json, _) = run(&["--json", "lookup", "localhost", "127.0.0.1"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for a in results[0]["addresses"].as_array().unwrap() {
        assert!(table.contains(a["address"].as_str().unwrap()), "{table}");
    }
    assert_eq!(results[1]["kind"], "reverse");
    let name = results[1]["names"][0].as_str().unwrap();
    assert!(table.contains(name), "{table}");
    assert!(results[0]["elapsed"].as_f64().unwrap() >= 0.0);
}

#[test]
fn no_argument_shows_this_machine() {
    let (code, out, err) = run(&["lookup"]);
    assert!(code == 0 || code == 1, "{err}");
    assert!(out.starts_with("hostname  "), "{out}");
    assert!(
        out.contains("127.0.0.1/8") || out.contains("::1/128"),
        "{out}"
    );
    let (_, json, _) = run(&["--format", "json", "lookup"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(!v["hostname"].as_str().unwrap().is_empty());
    assert!(v["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["loopback"] == true));
}
