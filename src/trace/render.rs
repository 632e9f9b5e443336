//! The text and CSV forms of a trace: mtr's report table (one row per hop, more rows for more routers at a
//! hop), the ICMP errors and MPLS labels by hop, the notes that say what silence or loss means, and the verdict
//! with its cause and fix, as one [`View`] for text and CSV. On a terminal the CLI redraws [`live`] after each
//! round, from the same table.

use super::model::{Hop, HopState, TraceReport, TraceResult};
use crate::exit::Outcome;
use crate::explain::icmp::Message;
use crate::render::{Column, Line, Output, Report, Table, Tone, View};

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
            let m = if n.from.is_ipv6() {
                Message::v6(n.icmp_type, n.code)
            } else {
                Message::v4(n.icmp_type, n.code)
            };
            let mut s = format!("{} {}", m.mark(), n.name);
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

fn loss_tone(h: &Hop) -> Tone {
    if h.loss_percent >= 100.0 {
        Tone::Bad
    } else if h.loss_percent > 0.0 {
        Tone::Warn
    } else {
        Tone::Plain
    }
}

/// The hop table, mtr's report columns: one row per hop, and a row more for every further router that answered
/// at that hop (its address and how many answers it sent).
pub fn hop_table(r: &TraceResult) -> Table {
    let mut t = Table::new([
        Column::right("HOP"),
        Column::left("HOST"),
        Column::right("LOSS%"),
        Column::right("SNT"),
        Column::right("RCV"),
        Column::right("LAST"),
        Column::right("AVG"),
        Column::right("BEST"),
        Column::right("WRST"),
        Column::right("STDEV"),
        Column::right("JTTR"),
        Column::text("NOTE"),
    ]);
    for h in &r.hops {
        let first = h.responders.first();
        let host = first.map_or("???".to_string(), |x| {
            host_cell(x.address, x.name.as_deref())
        });
        let s = &h.stats;
        t.num(u64::from(h.hop))
            .cell_toned(host, hop_tone(h))
            .cell_toned(format!("{:.1}%", h.loss_percent), loss_tone(h))
            .num(h.sent)
            .num(h.received);
        for v in [
            s.last_ms,
            s.avg_ms,
            s.best_ms,
            s.worst_ms,
            s.stddev_ms,
            s.jitter_ms,
        ] {
            t.cell(ms(v));
        }
        t.cell(marks(h, 0));
        for (i, x) in h.responders.iter().enumerate().skip(1) {
            t.cell("")
                .cell_toned(host_cell(x.address, x.name.as_deref()), hop_tone(h))
                .cell("")
                .cell("")
                .num(x.received);
            for _ in 0..6 {
                t.cell("");
            }
            t.cell(marks(h, i));
        }
    }
    t
}

/// What a hop's note and the verdict say under the table: reached in N hops, or the cause and the fix.
fn verdict_lines(r: &TraceResult, v: &mut View) {
    for h in &r.hops {
        if let Some(n) = &h.note {
            v.line(format!("note: {n}"));
        }
    }
    let secs = r.elapsed.as_secs_f64();
    if r.ok {
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
        v.line(Line::toned(
            format!(
                "reached {addr} in {hop} hop{}{rounds} ({secs:.2} s)",
                if hop == 1 { "" } else { "s" }
            ),
            Tone::Good,
        ));
        return;
    }
    let word = match r.rejected_by {
        Some(_) => format!("{} (rejected)", r.status),
        None => r.status.to_string(),
    };
    match &r.explanation {
        Some(e) => {
            v.line(
                Line::toned(word, Tone::of(r.status))
                    .then(format!(": {} ({})", e.cause, e.code), Tone::Plain),
            );
            if !e.fix.is_empty() {
                v.line(format!("  fix: {}", e.fix));
            }
        }
        None => {
            v.line(Line::toned(word, Tone::of(r.status)));
        }
    }
}

/// One trace as text: the header line, the hop table, the notes and the verdict.
pub fn result_view(r: &TraceResult) -> View<'static> {
    let mut v = View::new();
    v.line(header_line(r));
    v.table(hop_table(r).omit_when_empty());
    verdict_lines(r, &mut v);
    v
}

/// The live screen after a round, as mtr redraws it: the header, the hop table (the same rows as the final
/// report) and a progress line, laid out for the terminal.
pub fn live(r: &TraceResult, rounds: u32, out: &Output) -> String {
    let mut v = View::new();
    v.line(header_line(r))
        .table(hop_table(r))
        .line(format!("round {}/{rounds}", r.rounds));
    let mut buf = Vec::new();
    let _ = out.write_text(&v, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

impl Report for TraceReport {
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, self.ok())
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new();
        for r in &self.results {
            v.extend(result_view(r));
        }
        if self.interrupted {
            v.line(Line::toned(
                "interrupted: the trace stopped early",
                Tone::Warn,
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{path, Verdict};
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
            name: Message::v4(3, 13).name(),
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
            ok: false,
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
            status: Verdict::Filtered,
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
                Message::v4(3, 13),
                None,
                "tcp port 443",
            )),
        };
        TraceReport {
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
            s.contains("filtered (rejected): 10.0.2.2 (hop 3) rejects the SYN"),
            "{s}"
        );
        assert!(s.contains("(icmp-admin-prohibited)"), "{s}");
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
        assert_eq!(r["status"], "filtered");
        assert_eq!(r["ok"], false);
        assert_eq!(r["protocol"], "tcp");
        assert_eq!(r["method"], "raw");
        assert_eq!(r["destination"]["address"], "10.0.4.2");
        assert_eq!(r["destination"]["port"], 443);
        assert_eq!(r["timeout_ms"], 1000.0);
        assert_eq!(r["rejected_by"]["address"], "10.0.2.2");
        assert_eq!(r["explanation"]["verdict"], "filtered");
        assert_eq!(r["explanation"]["code"], "icmp-admin-prohibited");
        assert_eq!(r["hops"][2]["icmp"][0]["name"], "admin-prohibited");
        assert_eq!(r["hops"][2]["icmp"][0]["type"], 3);
        assert_eq!(r["hops"][1]["state"], "silent");
        assert_eq!(r["hops"][0]["responders"][1]["mpls"][0]["label"], 24001);
    }

    #[test]
    fn csv_has_the_table_rows() {
        let s = Output::plain(Format::Csv).to_string(&sample());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 1 + 2 + 1 + 1, "{s}");
        assert_eq!(
            lines[0],
            "HOP,HOST,LOSS%,SNT,RCV,LAST,AVG,BEST,WRST,STDEV,JTTR,NOTE"
        );
        assert!(
            lines[1].starts_with("1,10.0.1.2,0.0%,3,3,0.250,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with(",10.0.1.6,,,3,")
                && lines[2].ends_with("MPLS [L=24001 TC=0 S=1 TTL=1]"),
            "{}",
            lines[2]
        );
        assert!(lines[3].starts_with("2,???,100.0%,3,0,"), "{}", lines[3]);
        assert!(lines[4].ends_with(",!X admin-prohibited"), "{}", lines[4]);
    }

    #[test]
    fn the_live_screen_draws_the_same_rows() {
        let r = &sample().results[0];
        let live = live(r, 10, &Output::plain(Format::Table));
        let table = Output::plain(Format::Table).to_string(&sample());
        for line in table.lines().skip(1).take(5) {
            assert!(live.contains(line), "{line:?} not in\n{live}");
        }
        assert!(live.ends_with("round 3/10\n"), "{live}");
    }
}
