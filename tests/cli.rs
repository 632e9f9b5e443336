//! The command line as a whole: bad input, exit codes, output formats, completions, broken pipes.

mod common;
use common::{netdiag, run};
use std::process::Stdio;

/// Malformed inputs across subcommands: each must give exit 2 and exactly one line on stderr, naming the input.
#[test]
fn malformed_inputs_exit_2_with_one_line() {
    let long_label = format!("{}.example", "a".repeat(300));
    let long_name = format!("{}.com", "abcdefghij.".repeat(30));
    let cases: Vec<Vec<&str>> = vec![
        vec!["lookup", ""],
        vec!["lookup", ":80"],
        vec!["lookup", "host:"],
        vec!["lookup", "host:99999"],
        vec!["lookup", "[::1"],
        vec!["lookup", "a..b"],
        vec!["lookup", "-bad-.com"],
        vec!["lookup", "exa mple.com"],
        vec!["lookup", "under/score"],
        vec!["lookup", "999.1.1.1"],
        vec!["lookup", "1.2.3.4.5"],
        vec!["lookup", &long_label],
        vec!["lookup", &long_name],
        vec!["lookup", "-4", "-6", "localhost"],
        vec!["lookup", "--nope"],
        vec!["port"],
        vec!["port", ""],
        vec!["port", "80/xyz"],
        vec!["port", "-1"],
        vec!["port", "0-"],
        vec!["port", "0"],
        vec!["port", "65536"],
        vec!["port", "99999/tcp"],
        vec!["port", "100-10"],
        vec!["port", "/tcp"],
        vec!["port", "80/"],
        vec!["port", "a b"],
        vec!["port", "8000-"],
        vec!["port", "--search", ""],
        vec!["port", "http", "--search", "x"],
        vec!["--format", "xml", "port", "80"],
        vec!["--color", "sometimes", "port", "80"],
        vec!["completions", "tcsh"],
        vec!["frobnicate"],
    ];
    assert!(cases.len() >= 30);
    for args in &cases {
        common::bad_input(args, "");
    }
}

#[test]
fn errors_name_the_input_and_the_accepted_forms() {
    let (_, _, err) = run(&["lookup", ":80"]);
    assert!(err.contains("':80'"), "{err}");
    let (_, _, err) = run(&["port", "80/xyz"]);
    assert!(err.contains("80/xyz") && err.contains("tcp, udp"), "{err}");
    let (_, _, err) = run(&["port", "100-10"]);
    assert!(err.contains("reversed"), "{err}");
}

#[test]
fn help_and_version_exit_0() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes"), "{out}");
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("netdiag "));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete"),
        ("zsh", "#compdef"),
        ("fish", "complete -c netdiag"),
    ] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}");
        assert!(out.contains("lookup"), "{shell}");
    }
}

#[test]
fn format_json_is_the_same_as_json_flag() {
    let (_, a, _) = run(&["--json", "port", "22/tcp"]);
    let (_, b, _) = run(&["--format", "json", "port", "22/tcp"]);
    assert_eq!(a, b);
    serde_json::from_str::<serde_json::Value>(&a).unwrap();
}

#[test]
fn color_never_and_no_color_give_plain_text() {
    let o = netdiag()
        .args(["--color", "always", "port", "22/tcp"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains('\x1b'),
        "always colors"
    );
    let (_, out, _) = run(&["--color", "never", "port", "22/tcp"]);
    assert!(!out.contains('\x1b'));
    let o = netdiag().args(["port", "22/tcp"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&o.stdout).contains('\x1b'));
}

#[test]
fn closed_pipe_exits_0_quietly() {
    // `netdiag port --search a | head -1`: the reader goes away after one line.
    let mut child = netdiag()
        .args(["port", "--search", "a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    use std::io::Read;
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn head_dash_1_through_a_shell_pipeline() {
    let o = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "{} port --search a | head -1; echo \"rc=${{PIPESTATUS[0]}}\"",
                env!("CARGO_BIN_EXE_netdiag")
            ),
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("PORT"), "{out}");
    assert!(out.ends_with("rc=0\n"), "{out}");
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_subcommand_has_help_at_80_columns_with_examples_both_ways() {
    let (_, top, _) = run(&["--help"]);
    let subs: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect();
    assert!(subs.len() >= 8, "{top}");
    for sub in &subs {
        let (code, a, err) = run(&[sub, "--help"]);
        assert_eq!(code, 0, "{sub}: {err}");
        let (code, b, err) = run(&["help", sub]);
        assert_eq!(code, 0, "{sub}: {err}");
        assert_eq!(a, b, "{sub}: 'help {sub}' and '{sub} --help' differ");
        assert!(
            a.contains("\nExamples"),
            "{sub} --help has no Examples:\n{a}"
        );
        assert!(
            a.contains("Global options:"),
            "{sub}: global options not apart:\n{a}"
        );
        for l in a.lines() {
            assert!(l.chars().count() <= 80, "{sub} --help: {l}");
        }
    }
    let (code, out, err) = run(&["help", "--help"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Usage: netdiag"), "{out}");
}

#[test]
fn usage_errors_point_at_the_subcommands_own_help() {
    let (code, _, err) = run(&["probe", "--no-such-flag"]);
    assert_eq!(code, 2);
    assert!(err.contains("(see 'netdiag probe --help')"), "{err}");
    let (code, _, err) = run(&["ping", "-c", "-3", "127.0.0.1"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("negative number '-3'") && err.contains("netdiag ping --help"),
        "{err}"
    );
}

#[test]
fn habits_from_nc_curl_ss_and_lists_everywhere() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().port().to_string();
    // nc -z HOST PORT...
    let (code, out, err) = run(&["probe", "127.0.0.1", &open]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("{open}/tcp  open")), "{out}");
    // A URL gives its host and port.
    let (code, out, err) = run(&["probe", &format!("http://127.0.0.1:{open}/some/path")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("{open}/tcp  open")), "{out}");
    // --rate 0 is unpaced, as in ping.
    let (code, out, err) = run(&["probe", &format!("127.0.0.1:{open}"), "--rate", "0"]);
    assert_eq!(code, 0, "{out}{err}");
    // port 22,80 is a list like everywhere else.
    let (code, out, err) = run(&["port", "22,80"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ssh") && out.contains("http"), "{out}");
    // ss -s.
    let (code, a, err) = run(&["sockets", "-s"]);
    assert_eq!(code, 0, "{err}");
    assert!(a.contains("Total:"), "{a}");
    drop(l);
}
