//! `netdiag ping`: ICMP/ICMPv6 echo to one or many hosts on one socket per family, with loss and RTT statistics
//! as iputils computes them, and a TCP connect fallback when this process may not send ICMP.
//!
//! The library entry points are [`ping`] and [`ping_with`] (which also streams [`PingEvent`]s, for the
//! ping-style one-line-per-reply output). Neither prints. `netdiag diagnose` calls [`ping`] for its reach step
//! and reads [`PingReport::method`] to know whether ICMP was used or it fell back to TCP.
//!
//! ```no_run
//! use std::time::Duration;
//! use netdiag::ping::{ping, Method, PingRequest};
//! use netdiag::target::Host;
//!
//! let mut req = PingRequest::new(vec![Host::Ip("127.0.0.1".parse().unwrap())]);
//! req.count = Some(3);
//! req.interval = Duration::from_millis(200);
//! req.timeout = Duration::from_secs(1);
//! let report = ping(&req).unwrap();
//! let h = &report.hosts[0];
//! let via = if report.method == Method::Icmp { "ICMP" } else { "TCP" };
//! println!("{} via {via}: {}/{} replies, avg {:?} ms", h.host, h.received, h.sent, h.rtt.map(|r| r.avg_ms));
//! ```

mod icmp;
mod model;
pub mod packet;
mod render;
mod schedule;
pub mod stats;
mod tcp;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::explain::{self, Verdict};
use crate::target::{self, Host, HostSpec, InputError};
use schedule::HostState;

pub use model::*;
pub use render::{error_line, fmt_percent, header_line, reply_line, reply_time};
pub use stats::{RttAccumulator, RttStats};

/// Expands host arguments: CIDR blocks into addresses (IPv4 blocks up to /30 skip the network and broadcast
/// addresses, as fping's -g does), names and addresses as they are, duplicates dropped. Refuses more than
/// [`MAX_HOSTS`] hosts unless `force` (and more than [`MAX_HOSTS_FORCED`] always). Ports are refused: ping
/// takes hosts (`--tcp-port` sets the TCP port).
pub fn expand(specs: &[HostSpec], force: bool) -> Result<Vec<Host>, InputError> {
    let limit = if force { MAX_HOSTS_FORCED } else { MAX_HOSTS };
    let total = target::host_count(specs);
    if total > limit as u128 {
        return Err(InputError(if force {
            format!("{total} hosts is more than netdiag ping handles ({MAX_HOSTS_FORCED}); use longer prefixes")
        } else {
            format!("{total} hosts is more than {MAX_HOSTS}; add --force to ping them all, or use longer prefixes")
        }));
    }
    let mut hosts = Vec::new();
    for t in target::expand_hosts(specs, limit as u128, true)? {
        if let Some(p) = t.port {
            return Err(InputError(format!(
                "ping takes hosts, not ports: '{t}' has port {p}; give the host alone (and --tcp-port {p} for a TCP ping)"
            )));
        }
        // expand_hosts dropped repeats already.
        hosts.push(t.host);
    }
    Ok(hosts)
}

/// Pings the hosts; see [`ping_with`].
pub fn ping(req: &PingRequest) -> anyhow::Result<PingReport> {
    ping_with(req, &mut |_| {})
}

/// Pings every host of the request and returns per-host statistics; `on_event` sees each reply, ICMP error and
/// send error as it happens. Stops early (with `interrupted` set) when Ctrl-C was pressed
/// ([`crate::interrupt`]). Errors only when it cannot run at all (bad request, ICMP forced but not permitted);
/// hosts that do not answer are results.
pub fn ping_with(
    req: &PingRequest,
    on_event: &mut dyn FnMut(&PingEvent),
) -> anyhow::Result<PingReport> {
    validate(req)?;
    let mut hosts = resolve_all(req);
    let start = Instant::now();
    let ran = match req.method {
        MethodChoice::Tcp => run_tcp(req, &mut hosts, start, None, on_event)?,
        MethodChoice::Icmp | MethodChoice::Auto => {
            match run_icmp(req, &mut hosts, start, on_event)? {
                Ok(ran) => ran,
                Err(note) => run_tcp(req, &mut hosts, start, Some(note), on_event)?,
            }
        }
    };
    Ok(build_report(req, hosts, ran, start.elapsed()))
}

/// How a run went, before it becomes a report.
struct Ran {
    method: Method,
    socket: Option<&'static str>,
    /// Why the method differs from what was asked.
    note: Option<String>,
    interrupted: bool,
}

/// Refuses a request that cannot run.
fn validate(req: &PingRequest) -> anyhow::Result<()> {
    if req.count.is_none() && req.deadline.is_none() {
        anyhow::bail!("ping needs a count or a deadline");
    }
    if req.count == Some(0) {
        anyhow::bail!("ping count must be at least 1");
    }
    if req.size > MAX_SIZE {
        anyhow::bail!("packet size {} is larger than {MAX_SIZE}", req.size);
    }
    if req.tcp_ports.is_empty() && req.method == MethodChoice::Tcp {
        anyhow::bail!("TCP ping needs at least one port");
    }
    Ok(())
}

/// Each host with its first address in the asked family, or why it has none.
fn resolve_all(req: &PingRequest) -> Vec<HostState> {
    req.hosts
        .iter()
        .map(|h| {
            let addr = crate::resolve::resolve(h, req.family).and_then(|a| {
                a.first()
                    .copied()
                    .ok_or_else(|| explain::resolver(libc::EAI_NODATA))
            });
            HostState::new(h.to_string(), addr)
        })
        .collect()
}

/// Pings over ICMP. `Ok(Err(note))` when ICMP is not permitted and the request allows the TCP fallback: the note
/// says why TCP is used instead.
fn run_icmp(
    req: &PingRequest,
    hosts: &mut [HostState],
    start: Instant,
    on_event: &mut dyn FnMut(&PingEvent),
) -> anyhow::Result<Result<Ran, String>> {
    let families: Vec<bool> = [false, true]
        .into_iter()
        .filter(|v6| {
            hosts
                .iter()
                .any(|h| h.addr.is_some_and(|a| a.is_ipv6() == *v6))
        })
        .collect();
    match icmp::Engine::open(&families, req) {
        Ok(engine) => {
            let socket = Some(engine.socket_kind());
            on_event(&PingEvent::Started {
                method: Method::Icmp,
                socket,
                note: None,
                hosts: hosts.len(),
                first: first_host(hosts),
            });
            let interrupted = engine.run(req, hosts, start, on_event)?;
            Ok(Ok(Ran {
                method: Method::Icmp,
                socket,
                note: None,
                interrupted,
            }))
        }
        Err(icmp::OpenError::NotPermitted(e)) if req.method == MethodChoice::Auto => Ok(Err(format!(
            "no permission for ICMP ({e}: needs root or CAP_NET_RAW, or net.ipv4.ping_group_range \
             covering your group); using TCP connect to port {} instead",
            render::ports_text(&req.tcp_ports)
        ))),
        Err(icmp::OpenError::NotPermitted(e)) => anyhow::bail!(
            "no permission for ICMP ({e}); run as root or with CAP_NET_RAW, widen net.ipv4.ping_group_range, or use --tcp"
        ),
        Err(icmp::OpenError::Other(e)) => {
            Err(anyhow::Error::from(e).context("opening the ICMP socket"))
        }
    }
}

/// Pings with TCP connects (`--tcp`, or the fallback with its `note`).
fn run_tcp(
    req: &PingRequest,
    hosts: &mut [HostState],
    start: Instant,
    note: Option<String>,
    on_event: &mut dyn FnMut(&PingEvent),
) -> anyhow::Result<Ran> {
    if req.tcp_ports.is_empty() {
        anyhow::bail!("TCP ping needs at least one port");
    }
    on_event(&PingEvent::Started {
        method: Method::Tcp,
        socket: None,
        note: note.as_deref(),
        hosts: hosts.len(),
        first: first_host(hosts),
    });
    let interrupted = tcp::run(req, hosts, start, on_event);
    Ok(Ran {
        method: Method::Tcp,
        socket: None,
        note,
        interrupted,
    })
}

fn first_host(hosts: &[HostState]) -> Option<(&str, IpAddr)> {
    hosts
        .iter()
        .find_map(|h| h.addr.map(|a| (h.label.as_str(), a)))
}

fn build_report(
    req: &PingRequest,
    hosts: Vec<HostState>,
    ran: Ran,
    elapsed: Duration,
) -> PingReport {
    let Ran {
        method,
        socket,
        note,
        interrupted,
    } = ran;
    let mut results: Vec<HostResult> = hosts
        .into_iter()
        .map(|h| host_result(h, req.timeout, interrupted))
        .collect();
    results.sort_by(|a, b| match (a.address, b.address) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let alive = results.iter().filter(|h| h.alive()).count();
    let unfinished = results
        .iter()
        .filter(|h| h.status == Verdict::Interrupted)
        .count();
    PingReport {
        method,
        socket,
        note,
        interrupted,
        size: req.size,
        elapsed,
        alive,
        unreachable: results.len() - alive - unfinished,
        unfinished,
        counts: results.iter().fold(Default::default(), |mut m, h| {
            *m.entry(h.status).or_insert(0) += 1;
            m
        }),
        hosts: results,
        failures_only: false,
    }
}

fn host_result(h: HostState, timeout: Duration, interrupted: bool) -> HostResult {
    // Probes still in their reply window at Ctrl-C are neither received nor lost.
    let sent = h.sent.saturating_sub(h.unfinished);
    let (status, explanation) = if h.received > 0 {
        (Verdict::Ok, None)
    } else if let Some(e) = h.resolve_error {
        (e.verdict, Some(e))
    } else if let Some(ie) = &h.icmp_error {
        let e = explain::icmp::error(ie.message, ie.from, h.addr);
        (e.verdict, Some(e))
    } else if let Some(e) = h.send_error {
        (e.verdict, Some(e))
    } else if interrupted && (h.unfinished > 0 || h.sent == 0) {
        // Not finished: what is known so far says nothing about the host.
        (
            Verdict::Interrupted,
            Some(explain::ping::interrupted(h.unfinished, sent)),
        )
    } else if h.sent == 0 {
        (Verdict::Error, Some(explain::ping::not_sent()))
    } else if let Some(a) = h.addr.filter(|a| crate::net::neigh::unresolved(*a)) {
        let e = explain::ping::no_neighbour(a);
        (e.verdict, Some(e))
    } else {
        (Verdict::Filtered, Some(explain::timeout(timeout)))
    };
    HostResult {
        loss_percent: stats::loss_percent(sent, h.received),
        rtt: h.rtt.stats(),
        host: h.label,
        address: h.addr,
        ok: status == Verdict::Ok,
        status,
        sent,
        unfinished: h.unfinished,
        received: h.received,
        duplicates: h.duplicates,
        errors: h.errors,
        icmp: h.icmp_error,
        explanation,
        replies: h.replies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Format, Output};
    use schedule::HostState;

    fn specs(v: &[&str]) -> Vec<HostSpec> {
        v.iter().map(|s| HostSpec::parse(s).unwrap()).collect()
    }

    #[test]
    fn expand_skips_network_and_broadcast_like_fping() {
        let h = expand(&specs(&["10.0.0.0/30"]), false).unwrap();
        assert_eq!(
            h,
            vec![
                Host::Ip("10.0.0.1".parse().unwrap()),
                Host::Ip("10.0.0.2".parse().unwrap())
            ]
        );
        assert_eq!(expand(&specs(&["10.0.0.0/31"]), false).unwrap().len(), 2);
        assert_eq!(expand(&specs(&["10.0.0.7/32"]), false).unwrap().len(), 1);
        assert_eq!(expand(&specs(&["fd00::/126"]), false).unwrap().len(), 4);
    }

    #[test]
    fn expand_drops_duplicates_and_refuses_ports() {
        let h = expand(&specs(&["127.0.0.1", "localhost", "127.0.0.1"]), false).unwrap();
        assert_eq!(h.len(), 2);
        let e = expand(&specs(&["127.0.0.1:80"]), false).unwrap_err();
        assert!(e.0.contains("--tcp-port 80"), "{e}");
    }

    #[test]
    fn more_than_65536_hosts_needs_force() {
        let e = expand(&specs(&["10.0.0.0/15"]), false).unwrap_err();
        assert!(e.0.contains("--force"), "{e}");
        assert_eq!(
            expand(&specs(&["10.0.0.0/16"]), false).unwrap().len(),
            65_534
        );
        assert!(expand(&specs(&["10.0.0.0/7"]), true).is_err());
        assert!(expand(&specs(&["::/0", "::/0", "0.0.0.0/0"]), true).is_err());
    }

    fn sample_report(n: usize) -> PingReport {
        let mut hosts = Vec::new();
        for i in 0..n {
            let mut h = HostState::new(
                format!("127.0.0.{}", 9 - i),
                Ok(IpAddr::from([127, 0, 0, 9 - i as u8])),
            );
            h.sent = 4;
            for (seq, us) in [(1u16, 40u64), (2, 20), (3, 30)] {
                h.record(ReplyRecord {
                    seq,
                    bytes: 64,
                    ttl: Some(64),
                    rtt: Duration::from_micros(us),
                    duplicate: false,
                    tcp_port: None,
                    refused: None,
                });
            }
            hosts.push(h);
        }
        hosts.push(HostState::new(
            "nx.invalid".into(),
            Err(explain::resolver(libc::EAI_NONAME)),
        ));
        let req = PingRequest::new(vec![]);
        let ran = Ran {
            method: Method::Icmp,
            socket: Some("raw"),
            note: None,
            interrupted: false,
        };
        build_report(&req, hosts, ran, Duration::from_millis(3003))
    }

    #[test]
    fn single_host_summary_reads_like_ping() {
        let mut r = sample_report(1);
        r.hosts.pop();
        let s = Output::plain(Format::Table).to_string(&r);
        assert!(
            s.contains("--- 127.0.0.9 ping statistics (ICMP) ---"),
            "{s}"
        );
        assert!(
            s.contains("4 packets transmitted, 3 received, 25% packet loss, time 3003ms"),
            "{s}"
        );
        assert!(
            s.contains("rtt min/avg/max/mdev = 0.020/0.030/0.040/0.008 ms"),
            "{s}"
        );
    }

    #[test]
    fn many_hosts_table_is_sorted_with_counts_and_json_matches() {
        let r = sample_report(2);
        let s = Output::plain(Format::Table).to_string(&r);
        let a = s.find("127.0.0.8").unwrap();
        let b = s.find("127.0.0.9").unwrap();
        let c = s.find("nx.invalid").unwrap();
        assert!(a < b && b < c, "{s}");
        assert!(s.contains("2 ok, 1 not-found (3 hosts, ICMP"), "{s}");
        assert!(s.contains("not-found"), "{s}");
        let j: serde_json::Value =
            serde_json::from_str(&Output::plain(Format::Json).to_string(&r)).unwrap();
        assert_eq!(j["method"], "icmp");
        assert_eq!(j["alive"], 2);
        assert_eq!(j["failed"], 1);
        assert_eq!(j["counts"]["not-found"], 1);
        assert_eq!(j["counts"]["ok"], 2);
        assert_eq!(j["results"][0]["address"], "127.0.0.8");
        assert_eq!(j["results"][0]["rtt"]["avg_ms"], 0.03);
        assert_eq!(j["results"][0]["loss_percent"], 25.0);
        assert_eq!(j["results"][2]["status"], "not-found");
        assert_eq!(j["elapsed_ms"], 3003.0);
    }

    #[test]
    fn a_single_unresolved_host_is_one_line() {
        let mut r = sample_report(1);
        r.hosts.remove(0);
        let s = Output::plain(Format::Table).to_string(&r);
        assert_eq!(
            s,
            "nx.invalid: not-found: name not found: the resolver knows no such name; check the spelling or \
             the DNS server (/etc/resolv.conf) (EAI_NONAME)\n"
        );
    }

    #[test]
    fn quiet_lists_nothing_per_host() {
        let mut r = sample_report(2);
        r.failures_only = true;
        let s = Output::plain(Format::Table).to_string(&r);
        assert!(!s.contains("127.0.0.8") && !s.contains("nx.invalid"), "{s}");
        assert!(s.starts_with("2 ok, 1 not-found (3 hosts"), "{s}");
    }

    #[test]
    fn pings_still_waiting_at_ctrl_c_are_neither_lost_nor_filtered() {
        let mut waiting = HostState::new("10.0.0.2".into(), Ok(IpAddr::from([10, 0, 0, 2])));
        waiting.sent = 3;
        waiting.unfinished = 1;
        let h = host_result(waiting, Duration::from_secs(3), true);
        assert_eq!(h.status, Verdict::Interrupted);
        assert_eq!((h.sent, h.unfinished, h.loss_percent), (2, 1, 100.0));
        assert!(h.explanation.unwrap().cause.contains("1 ping still waited"));
        let never = HostState::new("10.0.0.3".into(), Ok(IpAddr::from([10, 0, 0, 3])));
        let h = host_result(never, Duration::from_secs(3), true);
        assert_eq!(h.status, Verdict::Interrupted);
        // Every window ended before Ctrl-C: that is a real loss.
        let mut lost = HostState::new("10.0.0.4".into(), Ok(IpAddr::from([10, 0, 0, 4])));
        lost.sent = 2;
        let h = host_result(lost, Duration::from_secs(3), true);
        assert_eq!(h.status, Verdict::Filtered);
    }

    #[test]
    fn lines_read_like_ping() {
        let r = ReplyRecord {
            seq: 1,
            bytes: 64,
            ttl: Some(64),
            rtt: Duration::from_micros(33),
            duplicate: false,
            tcp_port: None,
            refused: None,
        };
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            reply_line(a, &r),
            "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.033 ms"
        );
        assert_eq!(
            header_line("127.0.0.1", a, 56, Method::Icmp, &[]),
            "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data."
        );
        assert_eq!(fmt_percent(66.667), "66.667");
        assert_eq!(fmt_percent(100.0), "100");
    }
}
