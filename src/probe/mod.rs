//! `netdiag probe`: does a TCP (or UDP) port accept connections, and if not, why? Scans ranges fast.
//!
//! [`probe`] takes parsed targets and returns a [`ProbeReport`]; [`connect_once`] is the single connect that
//! `netdiag diagnose` reuses. The connect engine lives in [`engine`], the banner/send/expect exchange in
//! [`talk`], UDP in [`udp`].

pub mod engine;
mod model;
mod render;
pub mod syn;
pub mod talk;
pub mod timing;
pub mod udp;

use std::mem;
use std::net::{IpAddr, SocketAddr};

use std::time::{Duration, Instant};

use crate::services::Proto;

pub use model::*;
pub use talk::{escape_bytes, parse_escapes};

/// One TCP connect to `addr` with a deadline: open (with the connect latency), closed, filtered, unreachable
/// or error, with the errno and its explanation. A loopback self-connect is reported closed, never open.
///
/// This is the connect step `netdiag diagnose` uses. It blocks for at most `timeout` (plus a few
/// milliseconds) and never panics. The socket is closed (reset) before it returns.
pub fn connect_once(addr: SocketAddr, timeout: Duration) -> PortResult {
    let host = addr.ip().to_string();
    let mut r = connect_many(&[addr.ip()], &[addr.port()], timeout, 1, 1, None)
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            PortResult::new(
                &host,
                addr,
                Proto::Tcp,
                PortState::Interrupted,
                Reason::None,
            )
        });
    r.host = host;
    r
}

/// Probes every address × every port through the engine and returns one result per probe, in order.
fn connect_many(
    addrs: &[IpAddr],
    ports: &[u16],
    timeout: Duration,
    concurrency: usize,
    threads: usize,
    rate: Option<u32>,
) -> Vec<PortResult> {
    let work = engine::Work { addrs, ports };
    let cfg = engine::Config {
        timeout,
        concurrency,
        threads,
        rate,
        // A single check (connect_once, used by diagnose): close it as a client would, not with a reset.
        graceful_close: true,
        adaptive: false,
    };
    let out = engine::run(&work, &cfg, None);
    out.done
        .iter()
        .enumerate()
        .map(|(i, d)| from_done(&work.item(i).ip().to_string(), work.item(i), d))
        .collect()
}

fn from_done(host: &str, addr: SocketAddr, d: &engine::Done) -> PortResult {
    let mut r = PortResult::new(host, addr, Proto::Tcp, d.state, d.reason);
    r.latency = d.latency();
    r
}

/// How many sockets may be in flight: the open-files soft limit (raised to the hard limit first), minus what is
/// already open and some headroom, capped at 16,384.
pub fn fd_budget() -> usize {
    let Ok(soft) = crate::net::process::raise_nofile_limit() else {
        return 256;
    };
    let soft = usize::try_from(soft).unwrap_or(usize::MAX).min(1 << 20);
    let open = std::fs::read_dir("/proc/self/fd").map_or(16, |d| d.count());
    let headroom = 32 + soft / 50;
    soft.saturating_sub(open + headroom).clamp(1, 16_384)
}

/// Runs the probes of a request: resolves names, connects (or exchanges datagrams), and returns the report.
/// `progress` counts finished probes for a progress bar. Prints nothing.
pub fn probe(req: &ProbeRequest, progress: Option<&Progress>) -> anyhow::Result<ProbeReport> {
    probe_observed(req, progress, &mut |_, _| {})
}

/// [`probe`], calling `on_attempt(result, sequence)` after each attempt of a repeated probe (`--count`), so a
/// caller can stream one line per attempt as tcping does.
pub fn probe_observed(
    req: &ProbeRequest,
    progress: Option<&Progress>,
    on_attempt: &mut dyn FnMut(&PortResult, u32),
) -> anyhow::Result<ProbeReport> {
    let started = Instant::now();
    syn::phase("probe start");
    let (plan, unresolved) = plan(req);
    let total: usize = plan.iter().map(|(_, _, p)| p.len()).sum();
    if total > MAX_PROBES {
        anyhow::bail!(
            "{total} probes asked (hosts × ports), more than the limit of {MAX_PROBES}; scan fewer hosts or ports at once"
        );
    }
    let concurrency = req.concurrency.unwrap_or_else(fd_budget).max(1);
    let mut report = ProbeReport {
        protocol: req.protocol,
        timeout: req.timeout,
        scan: req.scan,
        all_listed: !req.scan || req.list_all,
        concurrency,
        results: Vec::new(),
        summary: Vec::new(),
        unresolved,
        elapsed: Duration::ZERO,
        interrupted: false,
        talked: req.banner || req.send.is_some(),
        named: req.named.clone(),
        syn: None,
    };
    // Decided from the state and port alone, so a range scan builds results only for the ports it lists.
    let listed = |state: PortState, port: u16| {
        !req.scan || req.list_all || state == PortState::Open || req.named.contains(&port)
    };
    if req.count.is_some() {
        run_counted(req, &plan, &mut report, on_attempt);
    } else if req.protocol == Proto::Udp && !req.syn {
        run_udp(req, &plan, progress, &mut report, &listed);
    } else if (req.banner || req.send.is_some()) && !req.scan && !req.syn {
        run_talks(req, &plan, &mut report, &listed);
    } else {
        if req.syn {
            run_syn(req, &plan, progress, &mut report, &listed)?;
        } else {
            run_engine(req, &plan, concurrency, progress, &mut report, &listed);
        }
        if req.banner || req.send.is_some() {
            // Talk only to the ports the scan found open, up to TALKERS at once.
            let open: Vec<&mut PortResult> = report
                .results
                .iter_mut()
                .filter(|r| r.state == PortState::Open)
                .collect();
            talk_all(open, req);
        }
    }
    report.interrupted = crate::interrupt::requested()
        || report.summary.iter().any(|s| s.counts.interrupted > 0)
        || report.summary.len() < plan.len();
    report.elapsed = started.elapsed();
    syn::phase("report built");
    Ok(report)
}

/// One address to probe: the host label as given, the address, and its ports.
type Planned<'a> = (String, IpAddr, &'a [u16]);

/// Resolves every target: each address once per port list, in order; and the names that did not resolve.
fn plan(req: &ProbeRequest) -> (Vec<Planned<'_>>, Vec<HostError>) {
    let mut unresolved = Vec::new();
    let mut plan: Vec<Planned> = Vec::new();
    for t in &req.targets {
        match crate::resolve::resolve(&t.host, req.family) {
            Ok(addrs) => {
                for a in addrs {
                    if !plan
                        .iter()
                        .any(|(_, b, p)| *b == a && *p == t.ports.as_slice())
                    {
                        plan.push((t.host.to_string(), a, &t.ports));
                    }
                }
            }
            Err(e) => unresolved.push(HostError {
                host: t.host.to_string(),
                explanation: e,
            }),
        }
    }
    (plan, unresolved)
}

/// UDP probes, one address at a time, up to 1,024 datagrams in flight.
fn run_udp(
    req: &ProbeRequest,
    plan: &[Planned],
    progress: Option<&Progress>,
    report: &mut ProbeReport,
    listed: &dyn Fn(PortState, u16) -> bool,
) {
    for (host, addr, ports) in plan {
        let addrs: Vec<SocketAddr> = ports
            .iter()
            .map(|p| crate::target::socket_addr(*addr, *p))
            .collect();
        let rs = udp::probe(&addrs, req, report.concurrency.min(1024), progress);
        report.add(host, *addr, rs, listed);
        if crate::interrupt::requested() {
            break;
        }
    }
}

/// Explicit ports with `--banner`/`--send`: one connection each, that both answers the probe and carries the
/// conversation.
fn run_talks(
    req: &ProbeRequest,
    plan: &[Planned],
    report: &mut ProbeReport,
    listed: &dyn Fn(PortState, u16) -> bool,
) {
    for (host, addr, ports) in plan {
        let mut rs = Vec::new();
        for p in ports.iter() {
            if crate::interrupt::requested() {
                break;
            }
            let mut r = talk::exchange(crate::target::socket_addr(*addr, *p), req);
            r.host.clone_from(host);
            rs.push(r);
        }
        report.add(host, *addr, rs, listed);
    }
}

/// Conversations (`--banner`, `--send`) with open ports found by a scan, run at most this many at once.
const TALKERS: usize = 32;

/// Replaces each open result with the result of talking to it, `TALKERS` conversations at a time.
fn talk_all(mut open: Vec<&mut PortResult>, req: &ProbeRequest) {
    for chunk in open.chunks_mut(TALKERS) {
        if crate::interrupt::requested() {
            break;
        }
        std::thread::scope(|s| {
            for r in chunk.iter_mut() {
                s.spawn(move || {
                    let mut n = talk::exchange(r.socket_addr(), req);
                    n.host = mem::take(&mut r.host);
                    **r = n;
                });
            }
        });
    }
}

/// TCP connects through the engine, grouping addresses that share the same port list into one run so every
/// core works on all of them at once.
fn run_engine(
    req: &ProbeRequest,
    plan: &[Planned],
    concurrency: usize,
    progress: Option<&Progress>,
    report: &mut ProbeReport,
    listed: &dyn Fn(PortState, u16) -> bool,
) {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let cfg = engine::Config {
        timeout: req.timeout,
        concurrency,
        threads,
        // 0 is unpaced, as no cap.
        rate: req.rate.filter(|r| *r > 0),
        graceful_close: false,
        adaptive: true,
    };
    let _ = run_grouped(plan, report, listed, |work| {
        let out = engine::run(work, &cfg, progress);
        Ok((out.done, out.interrupted))
    });
}

/// `--syn`: half-open scans through the raw engine, one run per group of addresses sharing a port list.
fn run_syn(
    req: &ProbeRequest,
    plan: &[Planned],
    progress: Option<&Progress>,
    report: &mut ProbeReport,
    listed: &dyn Fn(PortState, u16) -> bool,
) -> anyhow::Result<()> {
    let cfg = syn::Config {
        timeout: req.timeout,
        retries: req.retries.unwrap_or(DEFAULT_SYN_RETRIES),
        rate: match req.rate {
            None => syn::DEFAULT_RATE,
            Some(0) => u32::MAX,
            Some(r) => r,
        },
    };
    let mut stats = SynStats::default();
    let (mut ring_packets, mut raw_packets) = (0, 0);
    run_grouped(plan, report, listed, |work| {
        let out = syn::run(work, &cfg, progress)?;
        stats.packets += out.sent.packets;
        ring_packets += out.sent.ring_packets;
        raw_packets += out.sent.raw_packets;
        stats.sending += out.sent.sending;
        Ok((out.done, out.interrupted))
    })?;
    stats.rate = req.rate.unwrap_or(syn::DEFAULT_RATE);
    stats.retries = cfg.retries;
    stats.ring_packets = ring_packets;
    stats.method = syn::Sent {
        packets: stats.packets,
        ring_packets,
        raw_packets,
        ..syn::Sent::default()
    }
    .method()
    .name();
    report.syn = Some(stats);
    Ok(())
}

/// Runs `scan` once per group of consecutive plan entries sharing a port list, and files each address's
/// listed results and its summary; stops after a group that Ctrl-C cut short.
fn run_grouped(
    plan: &[Planned],
    report: &mut ProbeReport,
    listed: &dyn Fn(PortState, u16) -> bool,
    mut scan: impl FnMut(&engine::Work) -> anyhow::Result<(Vec<engine::Done>, bool)>,
) -> anyhow::Result<()> {
    let mut i = 0;
    while i < plan.len() {
        let ports = plan[i].2;
        let mut j = i;
        while j < plan.len() && plan[j].2 == ports {
            j += 1;
        }
        let addrs: Vec<IpAddr> = plan[i..j].iter().map(|(_, a, _)| *a).collect();
        let (done, interrupted) = scan(&engine::Work {
            addrs: &addrs,
            ports,
        })?;
        for (k, (host, addr, _)) in plan[i..j].iter().enumerate() {
            let n = ports.len();
            let mut counts = Counts::default();
            for (pi, d) in done[k * n..(k + 1) * n].iter().enumerate() {
                counts.add(d.state);
                if listed(d.state, ports[pi]) && d.state != PortState::Interrupted {
                    let r = from_done(host, crate::target::socket_addr(*addr, ports[pi]), d);
                    report.results.push(r);
                }
            }
            report.summary.push(Summary {
                host: host.clone(),
                address: *addr,
                probed: n - counts.interrupted,
                counts,
            });
        }
        if interrupted {
            break;
        }
        i = j;
    }
    Ok(())
}

/// SYNs sent to a port still silent, after the first (nmap -sS retransmits to silent ports too).
pub const DEFAULT_SYN_RETRIES: u32 = timing::MAX_TRIES as u32 - 1;

/// `--count N`: each probe N times, `interval` apart; one result per address and port with statistics.
fn run_counted(
    req: &ProbeRequest,
    plan: &[Planned],
    report: &mut ProbeReport,
    on_attempt: &mut dyn FnMut(&PortResult, u32),
) {
    'outer: for (host, addr, ports) in plan {
        let mut counts = Counts::default();
        for p in ports.iter() {
            let Some(r) = repeat(crate::target::socket_addr(*addr, *p), host, req, on_attempt)
            else {
                break 'outer;
            };
            counts.add(r.state);
            report.results.push(r);
            if crate::interrupt::requested() {
                break;
            }
        }
        report.summary.push(Summary {
            host: host.clone(),
            address: *addr,
            probed: counts.probed(),
            counts,
        });
        if crate::interrupt::requested() {
            break;
        }
    }
}

/// Probes one address and port `--count` times: the last attempt's result with the statistics of all, or
/// `None` when Ctrl-C came before the first.
fn repeat(
    sa: SocketAddr,
    host: &str,
    req: &ProbeRequest,
    on_attempt: &mut dyn FnMut(&PortResult, u32),
) -> Option<PortResult> {
    let n = req.count.unwrap_or(1).max(1);
    let mut lat = Vec::new();
    let mut last: Option<PortResult> = None;
    let mut sent = 0;
    for k in 0..n {
        if crate::interrupt::requested() || (k > 0 && sleep_interruptible(req.interval)) {
            break;
        }
        let mut r = attempt(sa, req);
        r.host = host.to_string();
        sent += 1;
        on_attempt(&r, k + 1);
        if r.ok {
            lat.extend(r.latency);
        }
        last = Some(r);
    }
    let mut r = last?;
    let stats = Stats::from_latencies(sent, &lat);
    r.ok = stats.answered == stats.sent && stats.sent > 0;
    if !r.ok && r.reason == Reason::None && stats.answered < stats.sent {
        r.reason = Reason::Timeout(req.timeout);
    }
    r.stats = Some(stats);
    Some(r)
}

/// One attempt of a repeated probe, in the request's protocol and mode.
fn attempt(sa: SocketAddr, req: &ProbeRequest) -> PortResult {
    if req.protocol == Proto::Udp {
        udp::probe(&[sa], req, 1, None)
            .into_iter()
            .next()
            .unwrap_or_else(|| {
                PortResult::new("", sa, Proto::Udp, PortState::Interrupted, Reason::None)
            })
    } else if req.banner || req.send.is_some() {
        talk::exchange(sa, req)
    } else {
        connect_once(sa, req.timeout)
    }
}

/// Sleeps, waking early on Ctrl-C; true when interrupted.
fn sleep_interruptible(d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if crate::interrupt::requested() {
            return true;
        }
        let now = Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

impl ProbeReport {
    fn add(
        &mut self,
        host: &str,
        addr: IpAddr,
        rs: Vec<PortResult>,
        listed: &dyn Fn(PortState, u16) -> bool,
    ) {
        let mut counts = Counts::default();
        for r in rs {
            counts.add(r.state);
            if listed(r.state, r.port) && r.state != PortState::Interrupted {
                self.results.push(r);
            }
        }
        self.summary.push(Summary {
            host: host.to_string(),
            address: addr,
            probed: counts.probed(),
            counts,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Verdict;
    use std::net::TcpListener;

    #[test]
    fn connect_once_open_and_closed() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let r = connect_once(l.local_addr().unwrap(), Duration::from_secs(2));
        assert_eq!(r.state, PortState::Open);
        assert!(r.ok);
        assert!(r.latency.is_some());
        assert!(r.explanation().is_none());
        let port = l.local_addr().unwrap().port();
        drop(l);
        let r = connect_once(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(2),
        );
        assert_eq!(r.state, PortState::Closed);
        assert_eq!(r.errno(), Some(libc::ECONNREFUSED));
        assert_eq!(r.explanation().unwrap().code, "ECONNREFUSED");
        assert!(!r.ok);
    }

    #[test]
    fn errno_states() {
        assert_eq!(state_of_errno(libc::ECONNREFUSED), PortState::Closed);
        assert_eq!(state_of_errno(libc::ETIMEDOUT), PortState::Filtered);
        assert_eq!(state_of_errno(libc::EHOSTUNREACH), PortState::Unreachable);
        assert_eq!(state_of_errno(libc::ENETUNREACH), PortState::Unreachable);
        assert_eq!(state_of_errno(libc::EACCES), PortState::Error);
    }

    #[test]
    fn stats_min_avg_max_loss() {
        let s = Stats::from_latencies(
            4,
            &[
                Duration::from_millis(1),
                Duration::from_millis(3),
                Duration::from_millis(2),
            ],
        );
        assert_eq!(s.answered, 3);
        assert_eq!(s.loss_percent, 25.0);
        assert_eq!(s.min, Some(Duration::from_millis(1)));
        assert_eq!(s.avg, Some(Duration::from_millis(2)));
        assert_eq!(s.max, Some(Duration::from_millis(3)));
        let none = Stats::from_latencies(2, &[]);
        assert_eq!(none.loss_percent, 100.0);
        assert!(none.avg.is_none());
    }

    #[test]
    fn reason_serializes_as_explanation() {
        let v = serde_json::to_value(Reason::Errno(libc::ECONNREFUSED)).unwrap();
        assert_eq!(v["code"], "ECONNREFUSED");
        assert_eq!(v["verdict"], "closed");
        assert!(serde_json::to_value(Reason::None).unwrap().is_null());
        assert_eq!(
            Reason::SelfConnect.explain().unwrap().verdict,
            Verdict::Closed
        );
        assert!(Reason::Unexpected
            .explain()
            .unwrap()
            .cause
            .contains("unexpected reply"));
    }

    #[test]
    fn fd_budget_leaves_headroom() {
        let b = fd_budget();
        assert!((1..=16_384).contains(&b));
    }
}
