//! `netdiag lookup`: the built binary against the system resolver (/etc/hosts for localhost).

mod common;

/// Runs netdiag lookup where no query can leave the machine: as root, inside a namespace whose resolver is the
/// test's own DNS responder (a name missing from /etc/hosts gets NXDOMAIN there, not a query to the machine's
/// nameserver); without root, in place (these tests then ask only for names /etc/hosts answers).
fn run(args: &[&str]) -> (i32, String, String) {
    if !common::is_root() {
        return common::run(args);
    }
    let dns = common::DnsNs::new("lkup", &[]);
    common::decode(dns.ns.netdiag().args(args).output().expect("run netdiag"))
}

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

/// Names that do not exist are asked of a DNS responder of the test's own inside a network namespace, so no
/// query leaves the machine.
#[test]
fn invalid_name_exits_1_with_an_explanation() {
    if !common::can_netns("invalid_name_exits_1_with_an_explanation") {
        return;
    }
    let dns = common::DnsNs::new("look", &[]);
    let (code, out, err) = common::decode(
        dns.ns
            .netdiag()
            .args(["lookup", "no-such-host.invalid"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("name not found"), "{out}");
    assert!(out.contains("EAI_NONAME"), "{out}");
    assert!(out.contains("check the spelling"), "{out}");
}

#[test]
fn names_resolve_to_every_address_of_both_families() {
    if !common::can_netns("names_resolve_to_every_address_of_both_families") {
        return;
    }
    let dns = common::DnsNs::new(
        "look",
        &[
            ("multi.test", "127.0.0.7"),
            ("multi.test", "127.0.0.8"),
            ("multi.test", "::1"),
        ],
    );
    let (code, out, err) = common::decode(
        dns.ns
            .netdiag()
            .args(["--json", "lookup", "multi.test"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let addrs: Vec<&str> = v["results"][0]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    for want in ["127.0.0.7", "127.0.0.8", "::1"] {
        assert!(addrs.contains(&want), "{want}: {addrs:?}");
    }
    let (code, out, _) = common::decode(
        dns.ns
            .netdiag()
            .args(["lookup", "-6", "multi.test"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0);
    assert!(out.contains("::1") && !out.contains("127.0.0.7"), "{out}");
}

/// An unreachable DNS server is a temporary failure (EAI_AGAIN), explained, exit 1: a namespace with
/// loopback only and nothing on port 53.
#[test]
fn unreachable_dns_server_is_a_temporary_failure() {
    if !common::can_netns("unreachable_dns_server_is_a_temporary_failure") {
        return;
    }
    let ns = common::NetNs::new("ldns");
    let etc = std::path::PathBuf::from(format!("/etc/netns/{}", ns.name));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let (code, out, err) = common::decode(
        ns.netdiag()
            .args(["lookup", "nothing.invalid"])
            .output()
            .unwrap(),
    );
    let _ = std::fs::remove_dir_all(&etc);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("EAI_AGAIN") || out.contains("EAI_NONAME"),
        "{out}"
    );
}

#[test]
fn several_names_keep_their_order_and_one_failure_fails_the_run() {
    if !common::can_netns("several_names_keep_their_order") {
        return;
    }
    let dns = common::DnsNs::new("look", &[]);
    let (code, out, _) = common::decode(
        dns.ns
            .netdiag()
            .args(["lookup", "localhost", "nope.invalid", "127.0.0.1"])
            .output()
            .unwrap(),
    );
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
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let addrs = v["results"][0]["addresses"].as_array().unwrap();
    assert!(!addrs.is_empty());
    for a in addrs {
        assert_eq!(a["family"], "IPv4");
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
    assert!(results[0]["elapsed_ms"].as_f64().unwrap() >= 0.0);
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
