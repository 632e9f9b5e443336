//! The text and CSV forms of a trace: mtr's report table (one row per hop, more rows for more routers at a
//! hop), the ICMP errors and MPLS labels by hop, the notes that say what silence or loss means, and the verdict
//! with its cause and fix. On a terminal the CLI redraws [`live`] after each round.

use std::io::{self, Write};

use super::{Hop, HopState, TraceReport, TraceResult, TraceState};
use crate::explain::path;
use crate::render::{write_table, Output, Report, Tone};

/// A round trip for a table cell: three decimals below 10 ms, one below a second, none above.
fn ms(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(x) if x < 10.0 => format!("{x:.3}"),
        Some(x) if x < 1000.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.0}"),
    }
}

fn host_cell(address: std::net::IpAddr, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{n} ({address})"),
        None => address.to_string(),
    }
}

/// The short marks of a hop: traceroute's `!X`-style ICMP annotations with names, MPLS labels.
fn marks(h: &Hop, responder: usize) -> String {
    let mut parts = Vec::new();
    if responder == 0 {
        for n in &h.icmp {
            let c = path::icmp_code(n.from.is_ipv6(), n.icmp_type, n.code);
            let mut s = format!("{} {}", c.short, c.name);
            if let Some(m) = n.mtu {
                s.push_str(&format!(" mtu {m}"));
            }
            if h.responders.len() > 1 || h.responders.first().map(|r| r.address) != Some(n.from) {
                s.push_str(&format!(" from {}", n.from));
            }
            parts.push(s);
        }
    }
    if let Some(r) = h.responders.get(responder) {
        if !r.mpls.is_empty() {
            let labels: Vec<String> = r
                .mpls
                .iter()
                .map(|l| {
                    format!(
                        "L={} TC={} S={} TTL={}",
                        l.label,
                        l.tc,
                        u8::from(l.bottom),
                        l.ttl
                    )
                })
                .collect();
            parts.push(format!("MPLS [{}]", labels.join("; ")));
        }
    }
    parts.join(", ")
}

/// The line above the table: what is traced, how.
pub fn header_line(r: &TraceResult) -> String {
    let to = match &r.destination {
        Some(d)
            if d.address.to_string() != r.target && !r.target.contains(&d.address.to_string()) =>
        {
            format!("{} ({})", r.target, d.address)
        }
        Some(d) => d.address.to_string(),
        None => r.target.clone(),
    };
    let port = match r.destination.and_then(|d| d.port) {
        Some(p) => format!(" port {p}"),
        None => String::new(),
    };
    let method = r
        .method
        .map_or(String::new(), |m| format!(", {}", m.as_str()));
    let flows = if r.flows > 1 {
        format!(" ({} flows)", r.flows)
    } else {
        String::new()
    };
    format!(
        "trace to {to}, {}{port}, {} hops max, {} flow{flows}{method}",
        r.protocol,
        r.max_ttl,
        r.ecmp.as_str()
    )
}

fn hop_tone(h: &Hop) -> Tone {
    match h.state {
        HopState::Destination => Tone::Good,
        HopState::Rejected => Tone::Bad,
        HopState::Silent => Tone::Dim,
        HopState::Answered if h.loss_percent > 0.0 => Tone::Warn,
        HopState::Answered => Tone::Plain,
    }
}

/// The hop table.
pub fn table(r: &TraceResult, out: &Output) -> comfy_table::Table {
    let mut t = out.table(&[
        "HOP", "HOST", "LOSS%", "SNT", "RCV", "LAST", "AVG", "BEST", "WRST", "STDEV", "JTTR",
        "NOTE",
    ]);
    for h in &r.hops {
        let first = h.responders.first();
        let host = first.map_or("???".to_string(), |x| {
            host_cell(x.address, x.name.as_deref())
        });
        let loss = format!("{:.1}%", h.loss_percent);
        let loss_tone = if h.loss_percent >= 100.0 {
            Tone::Bad
        } else if h.loss_percent > 0.0 {
            Tone::Warn
        } else {
            Tone::Plain
        };
        t.add_row(vec![
            out.num(h.hop),
            out.cell(host, hop_tone(h)),
            out.num(loss).fg_if(out, loss_tone),
            out.num(h.sent),
            out.num(h.received),
            out.num(ms(h.stats.last_ms)),
            out.num(ms(h.stats.avg_ms)),
            out.num(ms(h.stats.best_ms)),
            out.num(ms(h.stats.worst_ms)),
            out.num(ms(h.stats.stddev_ms)),
            out.num(ms(h.stats.jitter_ms)),
            out.cell(marks(h, 0), Tone::Plain),
        ]);
        for (i, x) in h.responders.iter().enumerate().skip(1) {
            let mut row = vec![
                out.num(""),
                out.cell(host_cell(x.address, x.name.as_deref()), hop_tone(h)),
                out.num(""),
                out.num(""),
                out.num(x.received),
            ];
            row.extend((0..6).map(|_| out.num("")));
            row.push(out.cell(marks(h, i), Tone::Plain));
            t.add_row(row);
        }
    }
    t
}

/// A cell colored by tone when color is on (comfy-table's cells take one color).
trait FgIf {
    fn fg_if(self, out: &Output, tone: Tone) -> comfy_table::Cell;
}

impl FgIf for comfy_table::Cell {
    fn fg_if(self, out: &Output, tone: Tone) -> comfy_table::Cell {
        if !out.color {
            return self;
        }
        match tone {
            Tone::Bad => self.fg(comfy_table::Color::Red),
            Tone::Warn => self.fg(comfy_table::Color::Yellow),
            _ => self,
        }
    }
}

/// The verdict under the table: reached in N hops, or the cause and the fix.
pub fn verdict(r: &TraceResult, out: &Output, w: &mut dyn Write) -> io::Result<()> {
    for h in &r.hops {
        if let Some(n) = &h.note {
            writeln!(w, "note: {n}")?;
        }
    }
    let secs = r.elapsed.as_secs_f64();
    match r.state {
        TraceState::Reached => {
            let hop = r.destination_hop.unwrap_or(0);
            let addr = r
                .destination
                .map(|d| d.address.to_string())
                .unwrap_or_default();
            let rounds = if r.rounds == 1 {
                String::new()
            } else {
                format!(", {} rounds", r.rounds)
            };
            writeln!(
                w,
                "{}",
                out.paint(
                    &format!(
                        "reached {addr} in {hop} hop{}{rounds} ({secs:.2} s)",
                        if hop == 1 { "" } else { "s" }
                    ),
                    Tone::Good
                )
            )?;
        }
        state => {
            if let Some(e) = &r.explanation {
                writeln!(
                    w,
                    "{}: {} ({})",
                    out.paint(state.as_str(), Tone::Bad),
                    e.cause,
                    e.code
                )?;
                if !e.fix.is_empty() {
                    writeln!(w, "  fix: {}", e.fix)?;
                }
            } else {
                writeln!(w, "{}", out.paint(state.as_str(), Tone::Bad))?;
            }
        }
    }
    Ok(())
}

/// The live view after a round: header, table and a progress line, as mtr redraws its screen.
pub fn live(r: &TraceResult, rounds: u32, out: &Output) -> String {
    let mut buf = Vec::new();
    let _ = writeln!(buf, "{}", header_line(r));
    let _ = write_table(&mut buf, &table(r, out));
    let _ = writeln!(buf, "round {}/{rounds}", r.rounds);
    String::from_utf8_lossy(&buf).into_owned()
}

impl Report for TraceReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        for r in &self.results {
            writeln!(w, "{}", header_line(r))?;
            if !r.hops.is_empty() {
                write_table(w, &table(r, out))?;
            }
            verdict(r, out, w)?;
        }
        if self.interrupted {
            writeln!(w, "interrupted: the trace stopped early")?;
        }
        Ok(())
    }

    fn render_csv(&self, w: &mut dyn Write) -> io::Result<()> {
        csv(self, w)
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The CSV form: a header, then one row per hop and router (a silent hop has one row, no address).
pub fn csv(report: &TraceReport, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "target,hop,state,address,name,address_received,sent,received,loss_percent,last_ms,avg_ms,best_ms,worst_ms,stddev_ms,jitter_ms,jitter_avg_ms,jitter_max_ms,icmp,mpls"
    )?;
    for r in &report.results {
        for h in &r.hops {
            let rows: Vec<(String, String, String, String)> = if h.responders.is_empty() {
                vec![Default::default()]
            } else {
                h.responders
                    .iter()
                    .map(|x| {
                        let mpls: Vec<String> = x
                            .mpls
                            .iter()
                            .map(|l| {
                                format!("{}/{}/{}/{}", l.label, l.tc, u8::from(l.bottom), l.ttl)
                            })
                            .collect();
                        (
                            x.address.to_string(),
                            x.name.clone().unwrap_or_default(),
                            x.received.to_string(),
                            mpls.join(" "),
                        )
                    })
                    .collect()
            };
            let icmp: Vec<String> = h
                .icmp
                .iter()
                .map(|n| match n.mtu {
                    Some(m) => format!("{} mtu {m}", n.name),
                    None => n.name.to_string(),
                })
                .collect();
            for (addr, name, got, mpls) in rows {
                let fields = [
                    r.target.clone(),
                    h.hop.to_string(),
                    h.state.as_str().to_string(),
                    addr,
                    name,
                    got,
                    h.sent.to_string(),
                    h.received.to_string(),
                    h.loss_percent.to_string(),
                    opt(h.stats.last_ms),
                    opt(h.stats.avg_ms),
                    opt(h.stats.best_ms),
                    opt(h.stats.worst_ms),
                    opt(h.stats.stddev_ms),
                    opt(h.stats.jitter_ms),
                    opt(h.stats.jitter_avg_ms),
                    opt(h.stats.jitter_max_ms),
                    icmp.join(" "),
                    mpls,
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                writeln!(w, "{}", line.join(","))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Format;
    use crate::trace::hops::HopStats;
    use crate::trace::wire::MplsLabel;
    use crate::trace::{Ecmp, Endpoint, HopRef, IcmpNote, Method, Protocol, Responder};
    use std::time::Duration;

    fn hop(n: u8, state: HopState, addrs: &[&str]) -> Hop {
        let received = if addrs.is_empty() { 0 } else { 3 };
        Hop {
            hop: n,
            state,
            sent: 3,
            received,
            loss_percent: if received == 0 { 100.0 } else { 0.0 },
            stats: HopStats {
                last_ms: (received > 0).then_some(0.25),
                best_ms: (received > 0).then_some(0.2),
                avg_ms: (received > 0).then_some(0.25),
                worst_ms: (received > 0).then_some(0.3),
                stddev_ms: (received > 0).then_some(0.05),
                jitter_ms: (received > 0).then_some(0.1),
                jitter_avg_ms: (received > 0).then_some(0.05),
                jitter_max_ms: (received > 0).then_some(0.1),
            },
            responders: addrs
                .iter()
                .map(|a| Responder {
                    address: a.parse().unwrap(),
                    name: None,
                    received: 3,
                    mpls: Vec::new(),
                })
                .collect(),
            icmp: Vec::new(),
            note: None,
        }
    }

    fn sample() -> TraceReport {
        let mut h3 = hop(3, HopState::Rejected, &["10.0.2.2"]);
        h3.icmp.push(IcmpNote {
            from: "10.0.2.2".parse().unwrap(),
            name: "admin-prohibited",
            icmp_type: 3,
            code: 13,
            mtu: None,
            count: 3,
        });
        let mut h1 = hop(1, HopState::Answered, &["10.0.1.2", "10.0.1.6"]);
        h1.responders[1].mpls = vec![MplsLabel {
            label: 24001,
            tc: 0,
            bottom: true,
            ttl: 1,
        }];
        let r = TraceResult {
            target: "server.test:443".into(),
            destination: Some(Endpoint {
                address: "10.0.4.2".parse().unwrap(),
                port: Some(443),
            }),
            protocol: Protocol::Tcp,
            method: Some(Method::Raw),
            ecmp: Ecmp::Paris,
            flows: 1,
            first_ttl: 1,
            max_ttl: 30,
            rounds: 3,
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            elapsed: Duration::from_millis(2100),
            packet_size: 60,
            state: TraceState::Rejected,
            destination_hop: None,
            last_answer: Some(HopRef {
                hop: 1,
                address: "10.0.1.2".parse().unwrap(),
            }),
            first_silent: None,
            rejected_by: Some(HopRef {
                hop: 3,
                address: "10.0.2.2".parse().unwrap(),
            }),
            hops: vec![h1, hop(2, HopState::Silent, &[]), h3],
            late: 0,
            explanation: Some(path::rejected(
                "SYN to 10.0.4.2:443",
                "10.0.2.2".parse().unwrap(),
                3,
                false,
                (false, 3, 13),
                None,
                "tcp port 443",
            )),
        };
        TraceReport {
            ok: false,
            results: vec![r],
            interrupted: false,
        }
    }

    #[test]
    fn table_has_a_row_per_router_and_names_the_rejection() {
        let s = Output::plain(Format::Table).to_string(&sample());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            "trace to server.test:443 (10.0.4.2), tcp port 443, 30 hops max, paris flow, raw"
        );
        assert!(lines[1].starts_with("HOP  HOST"), "{s}");
        assert!(
            lines[2].contains("10.0.1.2") && lines[2].contains("0.0%"),
            "{s}"
        );
        assert!(
            lines[3].contains("10.0.1.6") && lines[3].contains("MPLS [L=24001 TC=0 S=1 TTL=1]"),
            "{s}"
        );
        assert!(
            lines[4].contains("???") && lines[4].contains("100.0%"),
            "{s}"
        );
        assert!(lines[5].contains("!X admin-prohibited"), "{s}");
        assert!(
            s.contains("rejected: 10.0.2.2 (hop 3) rejects the SYN"),
            "{s}"
        );
        assert!(
            s.contains("  fix: ask whoever runs 10.0.2.2 to allow tcp port 443"),
            "{s}"
        );
    }

    #[test]
    fn json_follows_the_conventions() {
        let s = Output::plain(Format::Json).to_string(&sample());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["ok"], false);
        let r = &v["results"][0];
        assert_eq!(r["state"], "rejected");
        assert_eq!(r["protocol"], "tcp");
        assert_eq!(r["method"], "raw");
        assert_eq!(r["destination"]["address"], "10.0.4.2");
        assert_eq!(r["destination"]["port"], 443);
        assert_eq!(r["timeout_ms"], 1000.0);
        assert_eq!(r["rejected_by"]["address"], "10.0.2.2");
        assert_eq!(r["explanation"]["verdict"], "unreachable");
        assert_eq!(r["explanation"]["code"], "admin-prohibited");
        assert_eq!(r["hops"][2]["icmp"][0]["name"], "admin-prohibited");
        assert_eq!(r["hops"][2]["icmp"][0]["type"], 3);
        assert_eq!(r["hops"][1]["state"], "silent");
        assert_eq!(r["hops"][0]["responders"][1]["mpls"][0]["label"], 24001);
    }

    #[test]
    fn csv_has_a_row_per_router() {
        let mut buf = Vec::new();
        csv(&sample(), &mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 1 + 2 + 1 + 1);
        assert!(lines[0].starts_with("target,hop,state,address"));
        assert!(
            lines[1].starts_with("server.test:443,1,answered,10.0.1.2,,3,3,3,0,"),
            "{}",
            lines[1]
        );
        assert!(lines[2].ends_with(",24001/0/1/1"), "{}", lines[2]);
        assert!(
            lines[3].starts_with("server.test:443,2,silent,,,,3,0,100,"),
            "{}",
            lines[3]
        );
        assert!(lines[4].contains(",admin-prohibited,"), "{}", lines[4]);
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
