//! `netdiag diagnose`: walk resolve → reach → connect → talk for a target and name the first layer that fails,
//! in plain words with the likely fix; with no target, check this machine (see [`machine`]).
//!
//! Every step is a row: what was tried, the result, the time and, for a failure, an [`Explanation`]. Steps that
//! cannot run after a failure say why. The target works when it resolves, at least one address accepts a TCP
//! connection, and (for HTTP) the server answers with a status below 400.

pub mod capture;
pub mod machine;
mod model;
pub mod path;
mod render;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::explain::{self, Explanation, Verdict};
use crate::target::{shown, Family, Host, InputError, Target};

/// At most this many addresses are connected to (all at once); more are listed by the resolve step only.
const MAX_CONNECT: usize = 16;

pub use crate::http::Scheme;
pub use model::*;

const DIAG_FORMS: &str = "expected HOST, HOST:PORT, [IPv6]:PORT, or a URL such as http://HOST:PORT/PATH or https://HOST/";

/// Parses `host`, `host:port`, `[v6]:port` or an `http://` / `https://` URL. A bare host means HTTP on port 80
/// (as curl does); ports 80 and 443 imply HTTP and HTTPS. Never panics.
pub fn parse_target(s: &str) -> Result<DiagnoseTarget, InputError> {
    if s.contains("://") {
        // URLs have one parser, the http module's.
        let u = crate::http::Url::parse(s)?;
        if u.user.is_some() {
            return Err(InputError(format!(
                "invalid target '{}': user information (user@host) is not used by diagnose; drop it",
                crate::target::shown(s)
            )));
        }
        return Ok(DiagnoseTarget {
            input: s.to_string(),
            host: u.host,
            port: u.port,
            scheme: Some(u.scheme),
            path: u.path,
            port_assumed: false,
        });
    }
    if s.contains(['/', '?', '#']) {
        return Err(InputError(format!(
            "invalid target '{}': a path needs a URL (http://HOST/PATH); {DIAG_FORMS}",
            shown(s)
        )));
    }
    let t = Target::parse(s)?;
    let (port, scheme, assumed) = match t.port {
        Some(80) => (80, Some(Scheme::Http), false),
        Some(443) => (443, Some(Scheme::Https), false),
        Some(p) => (p, None, false),
        None => (80, Some(Scheme::Http), true),
    };
    Ok(DiagnoseTarget {
        input: s.to_string(),
        host: t.host,
        port,
        scheme,
        path: "/".into(),
        port_assumed: assumed,
    })
}

/// Resolved addresses grouped by family: `IPv4 192.0.2.1, 192.0.2.2; IPv6 2001:db8::1`, saying when a family
/// asked for has none.
fn by_family(addrs: &[IpAddr], family: Family) -> String {
    let v4: Vec<IpAddr> = addrs.iter().copied().filter(IpAddr::is_ipv4).collect();
    let v6: Vec<IpAddr> = addrs.iter().copied().filter(IpAddr::is_ipv6).collect();
    let mut parts = Vec::new();
    for (name, list, asked) in [
        ("IPv4", &v4, family != Family::V6),
        ("IPv6", &v6, family != Family::V4),
    ] {
        match (list.is_empty(), asked) {
            (false, _) => parts.push(format!("{name} {}", join_addrs(list))),
            (true, true) => parts.push(format!("no {name} address")),
            (true, false) => {}
        }
    }
    parts.join("; ")
}

/// What the reach step found for one address.
enum Reach {
    Replied(Duration),
    NoReply(Explanation),
    /// Ctrl-C came while the echo was still waiting for its reply.
    Interrupted,
}

/// Why the reach and connect steps did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotRun {
    /// The name gave no address.
    NoAddress,
    /// Ctrl-C came first.
    Interrupted,
}

impl NotRun {
    /// `interrupted`, or `no address to connect to`.
    fn why(self, what: &str) -> Explanation {
        match self {
            NotRun::Interrupted => explain::diagnose::skipped_interrupted(),
            NotRun::NoAddress => explain::diagnose::skipped_no_address(what),
        }
    }
}

/// Walks the layers for one target. Never fails: every problem is a step in the report.
pub fn diagnose(req: &DiagnoseRequest) -> DiagnoseReport {
    let t = &req.target;
    let mut steps = Vec::new();
    let addrs = resolve_step(req, &mut steps);
    let targets: Vec<SocketAddr> = addrs
        .iter()
        .take(MAX_CONNECT)
        .map(|ip| crate::target::socket_addr(*ip, t.port))
        .collect();

    // 2 and 3: reach and connect run at the same time, so a silent host costs one timeout, not two.
    let (reach, connects) = if targets.is_empty() || crate::interrupt::requested() {
        (None, Vec::new())
    } else {
        std::thread::scope(|s| {
            let ping = s.spawn(|| reach_all(&targets, req));
            let hs: Vec<_> = targets
                .iter()
                .map(|a| s.spawn(move || crate::probe::connect_once(*a, req.timeout)))
                .collect();
            let connects: Vec<Option<crate::probe::PortResult>> =
                hs.into_iter().map(|h| h.join().ok()).collect();
            (ping.join().ok(), connects)
        })
    };
    let why_not = if addrs.is_empty() {
        NotRun::NoAddress
    } else {
        NotRun::Interrupted
    };
    reach_rows(&reach, &addrs, &targets, why_not, &mut steps);
    let connected = connect_rows(req, &targets, &connects, &reach, why_not, &mut steps);
    // 3b. Where a filtered or unreachable connect stops on the way: a TCP trace to the same port.
    let mut path = None;
    if connected.is_none() && !crate::interrupt::requested() {
        let stuck = targets.iter().zip(&connects).find(|(_, r)| {
            r.as_ref().is_some_and(|r| {
                matches!(
                    r.state,
                    crate::probe::PortState::Filtered | crate::probe::PortState::Unreachable
                )
            })
        });
        if let Some((addr, _)) = stuck {
            let (step, result) = path::step(*addr, req.timeout);
            steps.push(step);
            path = result;
        }
    }
    if addrs.len() > MAX_CONNECT {
        steps.push(Step::skipped(
            "connect",
            format!("{} more addresses", addrs.len() - MAX_CONNECT),
            explain::diagnose::skipped_too_many_addresses(MAX_CONNECT),
        ));
    }

    // 4. talk
    steps.push(talk_step(req, connected));
    let mut report = DiagnoseReport::finish(t.input.clone(), steps, crate::interrupt::requested());
    report.path = path;
    report
}

/// The reach rows: one per address, or one saying why the step did not run.
fn reach_rows(
    reach: &Option<Result<Vec<Reach>, Explanation>>,
    addrs: &[IpAddr],
    targets: &[SocketAddr],
    why_not: NotRun,
    steps: &mut Vec<Step>,
) {
    match reach {
        None => steps.push(Step::skipped(
            "reach",
            "ICMP echo".into(),
            why_not.why("reach"),
        )),
        Some(Err(why)) => steps.push(Step::skipped(
            "reach",
            format!("ICMP echo to {}", join_addrs(&addrs[..addrs.len().min(4)])),
            why.clone(),
        )),
        Some(Ok(per_addr)) => {
            for (addr, r) in targets.iter().zip(per_addr) {
                let tried = format!("ICMP echo to {}", addr.ip());
                steps.push(match r {
                    Reach::Replied(rtt) => {
                        Step::ok("reach", tried, "echo reply".into(), Some(*rtt))
                    }
                    // Many hosts and firewalls drop ICMP: not a failure by itself; connect decides.
                    Reach::NoReply(e) => {
                        Step::fail("reach", tried, e.verdict.to_string(), None, e.clone())
                            .as_warning()
                    }
                    Reach::Interrupted => Step::interrupted("reach", tried, None),
                });
            }
        }
    }
}

/// The connect rows, one per address; returns the first address that accepted.
fn connect_rows(
    req: &DiagnoseRequest,
    targets: &[SocketAddr],
    connects: &[Option<crate::probe::PortResult>],
    reach: &Option<Result<Vec<Reach>, Explanation>>,
    why_not: NotRun,
    steps: &mut Vec<Step>,
) -> Option<SocketAddr> {
    let t = &req.target;
    let mut connected = None;
    if connects.is_empty() {
        steps.push(Step::skipped(
            "connect",
            format!("TCP port {}", t.port),
            why_not.why("connect to"),
        ));
    }
    let any_open = connects
        .iter()
        .flatten()
        .any(|r| r.state == crate::probe::PortState::Open);
    for (i, (addr, r)) in targets.iter().zip(connects).enumerate() {
        let tried = format!("TCP {addr}");
        let Some(r) = r else {
            if crate::interrupt::requested() {
                steps.push(Step::interrupted("connect", tried, None));
                continue;
            }
            steps.push(Step::fail(
                "connect",
                tried,
                "error".into(),
                None,
                explain::errno(libc::EIO),
            ));
            continue;
        };
        if r.state == crate::probe::PortState::Interrupted {
            // Ctrl-C came before the connect had an answer or its deadline: no result, no errno.
            steps.push(Step::interrupted("connect", tried, None));
            continue;
        }
        if r.state == crate::probe::PortState::Open {
            connected.get_or_insert(*addr);
            steps.push(Step::ok("connect", tried, "open".into(), r.latency));
            continue;
        }
        let pinged = matches!(reach, Some(Ok(v)) if matches!(v.get(i), Some(Reach::Replied(_))));
        let e = connect_explanation(r, req.timeout, pinged);
        let result = r.state.as_str().to_string();
        // A deadline that passed took the whole deadline.
        let time = r
            .latency
            .or((e.verdict == Verdict::Filtered).then_some(req.timeout));
        steps.push(if any_open {
            Step::fail("connect", tried, result, time, e).as_warning()
        } else {
            Step::fail("connect", tried, result, time, e)
        });
    }
    connected
}

/// Step 1: every address of each family asked for.
fn resolve_step(req: &DiagnoseRequest, steps: &mut Vec<Step>) -> Vec<IpAddr> {
    let name = req.target.host.to_string();
    let fam = match req.family {
        Family::Any => "IPv4 and IPv6",
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    };
    match &req.target.host {
        Host::Ip(ip) if req.family.matches(ip) => {
            steps.push(Step::ok(
                "resolve",
                format!("{ip}"),
                "an address: nothing to resolve".into(),
                None,
            ));
            vec![*ip]
        }
        Host::Ip(_) => {
            let e = explain::resolver(explain::EAI_ADDRFAMILY);
            steps.push(Step::fail(
                "resolve",
                format!("{name} ({fam})"),
                e.verdict.to_string(),
                None,
                e,
            ));
            Vec::new()
        }
        Host::Name(n) => {
            let r = crate::dns::check::resolve(n, req.family, req.timeout);
            let tried = format!("{name} ({fam})");
            let addrs = match r.result {
                Ok(a) => {
                    let mut result = by_family(&a, req.family);
                    if !r.hosts.is_empty() && a.iter().all(|ip| r.hosts.contains(ip)) {
                        result.push_str(" (from /etc/hosts)");
                    }
                    steps.push(match &r.slow {
                        Some(e) => Step::fail("resolve", tried, result, Some(r.elapsed), e.clone())
                            .as_warning(),
                        None => Step::ok("resolve", tried, result, Some(r.elapsed)),
                    });
                    a
                }
                Err(e) => {
                    steps.push(Step::fail(
                        "resolve",
                        tried,
                        e.verdict.to_string(),
                        Some(r.elapsed),
                        e,
                    ));
                    Vec::new()
                }
            };
            if let Some(e) = r.shadowed {
                steps.push(
                    Step::fail(
                        "resolve",
                        format!("/etc/hosts and DNS for {name}"),
                        "/etc/hosts overrides DNS".into(),
                        None,
                        e,
                    )
                    .as_warning(),
                );
            }
            steps.extend(r.nameservers.iter().map(nameserver_row));
            addrs
        }
    }
}

/// One nameserver asked directly: what it said, how fast; a failure is a warning (the resolve step carries
/// the verdict).
pub(crate) fn nameserver_row(e: &crate::dns::Exchange) -> Step {
    let tried = format!("ask {} for {}", e.server_label, e.question.describe());
    let time = e.timings.request.or(Some(e.timings.total));
    let result = match (&e.response, e.status) {
        (Some(_), crate::dns::Status::Ok) => format!("answers: {}", e.answers().join(", ")),
        (Some(r), s) if r.rcode == "NOERROR" => format!("answers: {s}"),
        (Some(r), _) => format!("answers: {}", r.rcode),
        (None, s) => s.to_string(),
    };
    match &e.explanation {
        Some(x) if e.status != crate::dns::Status::Referral || e.response.is_none() => {
            Step::fail("nameserver", tried, result, time, x.clone()).as_warning()
        }
        _ => Step::ok("nameserver", tried, result, time),
    }
}

/// The explanation of a connect that did not open, sharpened by what ping said: a host that answers ICMP but
/// not the port is behind a firewall that drops that port, not down.
fn connect_explanation(
    r: &crate::probe::PortResult,
    timeout: Duration,
    pinged: bool,
) -> Explanation {
    let port = r.port;
    let mut e = r.explanation().unwrap_or_else(|| match r.state {
        crate::probe::PortState::Filtered => explain::timeout(timeout),
        crate::probe::PortState::Closed => explain::errno(libc::ECONNREFUSED),
        _ => explain::errno(libc::EIO),
    });
    // An ICMP error named who rejected the connect: keep its words. Only a deadline is re-worded.
    if e.verdict == Verdict::Filtered && matches!(r.reason, crate::probe::Reason::Timeout(_)) {
        // One wording for every deadline, naming it: "no answer within 1.000 s: ...".
        e = if pinged {
            explain::diagnose::filtered_but_pings(timeout, port)
        } else {
            explain::timeout(timeout)
        };
    }
    explain::on_port(e, port)
}

/// ICMP echo to every address (one echo each, at most `timeout`), through the ping module. `Err` says why
/// ICMP could not be used (no privilege, no ping socket), which skips the step.
fn reach_all(targets: &[SocketAddr], req: &DiagnoseRequest) -> Result<Vec<Reach>, Explanation> {
    let hosts: Vec<Host> = targets.iter().map(|a| Host::Ip(a.ip())).collect();
    let mut p = crate::ping::PingRequest::new(hosts);
    p.count = Some(1);
    // One echo within the step's deadline: the connect step tests the port either way.
    p.retries = 0;
    p.timeout = req.timeout;
    p.family = req.family;
    p.method = crate::ping::MethodChoice::Icmp;
    let report =
        crate::ping::ping(&p).map_err(|e| explain::diagnose::skipped_no_icmp(&format!("{e:#}")))?;
    Ok(targets
        .iter()
        .map(
            |a| match report.hosts.iter().find(|h| h.address == Some(a.ip())) {
                Some(h) if h.alive() => {
                    Reach::Replied(h.replies.first().map_or(Duration::ZERO, |r| r.rtt))
                }
                Some(h) if h.status == Verdict::Interrupted => Reach::Interrupted,
                Some(h) => Reach::NoReply(
                    h.explanation
                        .clone()
                        .unwrap_or_else(|| explain::diagnose::no_echo_reply(req.timeout)),
                ),
                None => Reach::NoReply(explain::timeout(req.timeout)),
            },
        )
        .collect())
}

/// Step 4: an HTTP request through the http module (TLS for https), when the target is HTTP.
fn talk_step(req: &DiagnoseRequest, connected: Option<SocketAddr>) -> Step {
    let t = &req.target;
    let Some(scheme) = t.scheme else {
        let why = if crate::interrupt::requested() {
            explain::diagnose::skipped_interrupted()
        } else {
            explain::diagnose::skipped_no_protocol_check(t.port)
        };
        return Step::skipped("talk", format!("port {}", t.port), why);
    };
    let url = crate::http::Url {
        scheme,
        host: t.host.clone(),
        port: t.port,
        path: t.path.clone(),
        user: None,
    };
    let shown_url = format!("{}://{}{}", scheme.as_str(), url.authority(), url.path);
    let addr = match connected {
        _ if crate::interrupt::requested() => Err(explain::diagnose::skipped_interrupted()),
        None => Err(explain::diagnose::skipped_no_connection()),
        Some(a) => Ok(a),
    };
    let addr = match addr {
        Ok(a) => a,
        Err(why) => return Step::skipped("talk", format!("HTTP GET {shown_url}"), why),
    };
    let mut h = crate::http::HttpRequest::new(url);
    h.timeout = req.timeout;
    h.family = req.family;
    h.max_size = 1024 * 1024;
    h.tls = req.tls.clone();
    // Resolved once, in the resolve step: talk to the address that accepted the connection.
    h.addresses = vec![crate::http::Pin {
        host: t.host.clone(),
        port: None,
        addresses: vec![addr.ip()],
        source: crate::http::AddressSource::Given,
        rule: String::new(),
    }];
    let report = crate::http::fetch(&h);
    let hop = report.hops.last();
    let via = hop.and_then(|h| h.address).map_or(addr.ip(), |a| a.ip());
    let tried = format!("HTTP GET {shown_url} via {via}");
    let time = hop.map(|h| h.timings.total);
    let Some(hop) = hop else {
        let e = report
            .explanation
            .unwrap_or_else(|| explain::errno(libc::EIO));
        return Step::fail("talk", tried, e.verdict.to_string(), time, e);
    };
    let result = hop_result(hop);
    match report.explanation {
        Some(e) => Step::fail("talk", tried, result, time, e),
        None => Step::ok("talk", tried, result, time),
    }
}

/// What the talk step found, in one line: the status, body size, redirect, server, TLS and certificate.
fn hop_result(hop: &crate::http::Hop) -> String {
    let mut result = match &hop.response {
        Some(head) => format!("{}, {} body bytes", head.status_line(), hop.body.length),
        // An answer that came but was refused is not "no answer": say what was wrong with it.
        None => match &hop.error {
            Some(e)
                if e.verdict == Verdict::Protocol && hop.timings.phases.first_byte.is_some() =>
            {
                format!("HTTP answer refused: {}", e.cause)
            }
            _ => "no HTTP answer".to_string(),
        },
    };
    if let Some(loc) = &hop.location {
        result.push_str(&format!(", redirects to {}", shown(loc)));
    }
    if let Some(server) = hop.response.as_ref().and_then(|h| h.header("server")) {
        result.push_str(&format!(", server {}", shown(server)));
    }
    if let Some(tls) = &hop.tls {
        result.push_str(&format!("; {} {}", tls.version, tls.cipher_suite));
        if let Some(c) = &tls.certificate {
            result.push_str(&format!(", certificate {}", shown(&c.subject)));
        }
        if let Some(days) = tls.days_left {
            result.push_str(&format!(", {}", crate::http::cert::days_phrase(days)));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Output;
    use std::io;

    #[test]
    fn targets_and_urls() {
        let t = parse_target("example.test").unwrap();
        assert_eq!(
            (t.port, t.scheme, t.port_assumed),
            (80, Some(Scheme::Http), true)
        );
        let t = parse_target("example.test:22").unwrap();
        assert_eq!((t.port, t.scheme), (22, None));
        let t = parse_target("example.test:443").unwrap();
        assert_eq!(t.scheme, Some(Scheme::Https));
        let t = parse_target("https://[::1]:8443/a/b?c=d#frag").unwrap();
        assert_eq!(t.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!((t.port, t.path.as_str()), (8443, "/a/b?c=d"));
        let t = parse_target("HTTP://127.0.0.1?x").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/?x"));
    }

    #[test]
    fn bad_targets_name_the_input_and_forms() {
        for bad in [
            "",
            "ftp://x/",
            "http://",
            "http://u@h/",
            "host/path",
            "http://h:99999/",
            "http://h/a b",
            "a..b",
        ] {
            let e = parse_target(bad).unwrap_err();
            assert!(
                e.0.starts_with("invalid") || e.0.starts_with("empty"),
                "{bad}: {e}"
            );
            assert!(!e.0.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn refused_names_the_port() {
        let e = explain::connect_error(
            &io::Error::from_raw_os_error(libc::ECONNREFUSED),
            Duration::from_secs(1),
            8080,
        );
        assert!(
            e.cause.contains("nothing listens on port 8080"),
            "{}",
            e.cause
        );
        let e = explain::connect_error(
            &io::Error::from(io::ErrorKind::TimedOut),
            Duration::from_secs(1),
            1,
        );
        assert!(e.cause.starts_with("no answer within 1"), "{}", e.cause);
    }

    #[test]
    fn addresses_are_grouped_by_family() {
        let a: Vec<IpAddr> = vec!["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()];
        assert_eq!(by_family(&a, Family::Any), "IPv4 127.0.0.1; IPv6 ::1");
        assert_eq!(
            by_family(&a[1..], Family::Any),
            "IPv4 127.0.0.1; no IPv6 address"
        );
        assert_eq!(by_family(&a[1..], Family::V4), "IPv4 127.0.0.1");
    }

    #[test]
    fn verdict_is_the_first_failure() {
        let steps = vec![
            Step::ok("resolve", "x".into(), "1 address".into(), None),
            Step::fail(
                "connect",
                "TCP x".into(),
                "closed".into(),
                None,
                explain::errno(libc::ECONNREFUSED),
            ),
            Step::skipped(
                "talk",
                "HTTP".into(),
                explain::diagnose::skipped_no_connection(),
            ),
        ];
        let r = DiagnoseReport::finish("x:1".into(), steps, false);
        assert!(!r.ok);
        assert_eq!(r.verdict, Verdict::Closed);
        assert_eq!(r.failed_step.as_deref(), Some("connect"));
        let text = Output::plain(crate::render::Format::Table).to_string(&r);
        assert!(text.contains("FAIL at connect: closed"), "{text}");
        assert!(text.contains("fix: is the service running"), "{text}");
        assert!(
            text.contains("skipped: no connection to talk over"),
            "{text}"
        );
    }

    #[test]
    fn an_interrupted_walk_has_the_interrupted_verdict() {
        let steps = vec![
            Step::ok("resolve", "x".into(), "1 address".into(), None),
            Step::interrupted("connect", "TCP x".into(), None),
            Step::skipped(
                "talk",
                "HTTP".into(),
                explain::diagnose::skipped_interrupted(),
            ),
        ];
        let r = DiagnoseReport::finish("x:1".into(), steps, false);
        assert!(!r.ok && r.interrupted);
        assert_eq!(r.verdict, Verdict::Interrupted);
        assert_eq!(r.failed_step.as_deref(), Some("connect"));
        let text = Output::plain(crate::render::Format::Table).to_string(&r);
        assert!(
            text.contains("interrupted (Ctrl-C) during connect"),
            "{text}"
        );
        assert!(!text.contains("FAIL"), "{text}");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["verdict"], "interrupted");
        assert_eq!(j["steps"][1]["status"], "interrupted");
    }

    #[test]
    fn closed_loopback_port_fails_at_connect() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let req = DiagnoseRequest {
            target: parse_target(&format!("127.0.0.1:{port}")).unwrap(),
            family: Family::Any,
            timeout: Duration::from_secs(5),
            tls: Default::default(),
        };
        let r = diagnose(&req);
        assert!(!r.ok);
        assert_eq!(r.verdict, Verdict::Closed);
        assert!(
            r.summary
                .contains(&format!("nothing listens on port {port}")),
            "{}",
            r.summary
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_target_never_panics(s in "\\PC{0,300}") {
            if let Err(e) = parse_target(&s) {
                proptest::prop_assert!(!e.0.contains('\n'));
            }
        }

        #[test]
        fn parse_target_round_trips_host_port(h in "[a-z][a-z0-9-]{0,20}[a-z0-9]\\.test", p in 1u16..) {
            let t = parse_target(&format!("{h}:{p}")).unwrap();
            proptest::prop_assert_eq!(t.port, p);
            proptest::prop_assert_eq!(t.host.to_string(), h);
        }
    }
}
