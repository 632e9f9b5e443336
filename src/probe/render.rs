//! The text form of a probe report: one row per listed port, a plain-language cause for each failure, and a
//! summary line per address that counts each state.

use super::model::{PortResult, PortState, ProbeReport};
use crate::duration::fmt_ms;
use crate::exit::Outcome;
use crate::render::{Column, Line, Report, Table, Tone, View};

/// Replies longer than this are cut in tables (the JSON has them whole, up to the reply limit).
const REPLY_COLUMN: usize = 60;

fn tone(r: &PortResult) -> Tone {
    match r.state {
        PortState::Open if r.ok => Tone::Good,
        PortState::Open | PortState::OpenFiltered => Tone::Warn,
        PortState::Interrupted => Tone::Dim,
        _ => Tone::Bad,
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max - 3).collect();
        format!("{head}...")
    }
}

/// The probes an explanation covers: `127.0.0.1:22/tcp`, `127.0.0.1:80-87,443/tcp`, `[::1]:22/tcp 10.0.0.2:22/tcp`.
fn where_(rs: &[&PortResult]) -> String {
    let mut by_addr: Vec<(std::net::IpAddr, Vec<u16>)> = Vec::new();
    for r in rs {
        match by_addr.iter_mut().find(|(a, _)| *a == r.address) {
            Some((_, ports)) => ports.push(r.port),
            None => by_addr.push((r.address, vec![r.port])),
        }
    }
    let proto = rs.first().map_or(String::new(), |r| r.protocol.to_string());
    by_addr
        .into_iter()
        .map(|(a, mut ports)| {
            ports.sort_unstable();
            ports.dedup();
            let mut spans: Vec<String> = Vec::new();
            let mut i = 0;
            while i < ports.len() {
                let mut j = i;
                while j + 1 < ports.len() && ports[j + 1] == ports[j] + 1 {
                    j += 1;
                }
                spans.push(if j > i {
                    format!("{}-{}", ports[i], ports[j])
                } else {
                    ports[i].to_string()
                });
                i = j + 1;
            }
            let host = match a {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            };
            format!("{host}:{}/{proto}", spans.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn latency(r: &PortResult) -> String {
    r.latency.map(fmt_ms).unwrap_or_else(|| "-".into())
}

impl Report for ProbeReport {
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, self.ok())
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new();
        for u in &self.unresolved {
            v.line(
                Line::from(format!("{}: ", u.host))
                    .then(u.explanation.verdict.as_str(), Tone::Bad)
                    .then(format!(" {}", u.explanation), Tone::Plain),
            );
        }
        let counted = self.results.iter().any(|r| r.stats.is_some());
        if counted {
            v.table(self.counted_table());
        } else {
            v.table(self.result_table());
        }
        self.causes(&mut v);
        if self.scan || self.interrupted {
            self.summary_lines(&mut v);
        }
        v
    }
}

impl ProbeReport {
    fn named_hosts(&self) -> bool {
        self.results.iter().any(|r| r.host != r.address.to_string())
    }

    fn result_table(&self) -> Table {
        let named = self.named_hosts();
        let replies = self.talked || self.results.iter().any(|r| r.reply.is_some());
        let codes = self.scan && self.all_listed;
        let mut columns = Vec::new();
        if named {
            columns.push(Column::left("HOST"));
        }
        columns.extend([
            Column::left("ADDRESS"),
            Column::right("PORT"),
            Column::left("STATE"),
            Column::left("SERVICE"),
            Column::right("TIME"),
        ]);
        if codes {
            columns.push(Column::left("CODE"));
        }
        if replies {
            columns.push(Column::text("REPLY"));
        }
        let mut t = Table::new(columns).omit_when_empty();
        for r in &self.results {
            if named {
                t.cell(&r.host);
            }
            t.cell(r.address.to_string())
                .cell(format!("{}/{}", r.port, r.protocol))
                .cell_toned(r.state.as_str(), tone(r))
                .cell_toned(r.service.unwrap_or("-"), Tone::Dim)
                .cell(latency(r));
            if codes {
                let code = r.explanation().map(|e| e.code).unwrap_or_default();
                t.cell_toned(code, Tone::Dim);
            }
            if replies {
                let text = match (&r.reply, r.state) {
                    (Some(rep), _) => cut(&rep.text, REPLY_COLUMN),
                    (None, PortState::Open) => format!("(nothing within {})", fmt_ms(self.timeout)),
                    (None, _) => String::new(),
                };
                t.cell(text);
            }
        }
        t
    }

    fn counted_table(&self) -> Table {
        let mut t = Table::new([
            Column::left("ADDRESS"),
            Column::right("PORT"),
            Column::left("STATE"),
            Column::right("SENT"),
            Column::right("ANSWERED"),
            Column::right("LOSS"),
            Column::right("MIN"),
            Column::right("AVG"),
            Column::right("MAX"),
        ]);
        let opt = |d: Option<std::time::Duration>| d.map(fmt_ms).unwrap_or_else(|| "-".into());
        for r in &self.results {
            let Some(s) = &r.stats else { continue };
            t.cell(r.address.to_string())
                .cell(format!("{}/{}", r.port, r.protocol))
                .cell_toned(r.state.as_str(), tone(r))
                .num(u64::from(s.sent))
                .num(u64::from(s.answered))
                .cell(format!("{:.0}%", s.loss_percent))
                .cell(opt(s.min))
                .cell(opt(s.avg))
                .cell(opt(s.max));
        }
        t
    }

    /// What happened to the failed probes the user named, and why, in plain words: one line per explanation,
    /// naming every port it covers (`127.0.0.1:80-87/tcp closed: …`), so seven closed ports are one line.
    fn causes(&self, v: &mut View) {
        let counted = self.results.iter().any(|r| r.stats.is_some());
        // (state, explanation text, code) -> the results it covers, in order of first appearance.
        let mut groups: Vec<(String, &PortResult, Vec<&PortResult>)> = Vec::new();
        for r in self
            .results
            .iter()
            .filter(|r| !r.ok && (counted || self.is_named(r)))
        {
            let Some(e) = r.explanation() else { continue };
            if e.code == "unexpected-reply" {
                let got = r
                    .reply
                    .as_ref()
                    .map_or("nothing".to_string(), |rep| format!("'{}'", rep.text));
                v.line(
                    Line::from(format!("{}/{} ", r.socket_addr(), r.protocol))
                        .then(r.state.as_str(), tone(r))
                        .then(format!(": {e}"), Tone::Plain),
                );
                v.line(format!("  got: {got}"));
                continue;
            }
            let key = format!("{}|{e}", r.state.as_str());
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.2.push(r),
                None => groups.push((key, r, vec![r])),
            }
        }
        for (_, first, rs) in groups {
            let Some(e) = first.explanation() else {
                continue;
            };
            v.line(
                Line::from(format!("{} ", where_(&rs)))
                    .then(first.state.as_str(), tone(first))
                    .then(format!(": {e}"), Tone::Plain),
            );
        }
    }

    fn summary_lines(&self, v: &mut View) {
        for s in &self.summary {
            let states: Vec<String> = s
                .counts
                .nonzero()
                .into_iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            let label = if s.host == s.address.to_string() {
                s.host.clone()
            } else {
                format!("{} ({})", s.host, s.address)
            };
            v.line(format!(
                "{label}: {} {} port{} probed: {}",
                s.probed,
                self.protocol,
                if s.probed == 1 { "" } else { "s" },
                if states.is_empty() {
                    "none".to_string()
                } else {
                    states.join(", ")
                }
            ));
        }
        let probed: usize = self.summary.iter().map(|s| s.probed).sum();
        let mut last = format!("{probed} probes in {}", fmt_ms(self.elapsed));
        if self.interrupted {
            last.push_str(" (interrupted: what was found until Ctrl-C)");
        }
        v.line(last);
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use crate::render::{Format, Output};

    fn report(scan: bool) -> ProbeReport {
        let mut open = PortResult::new(
            "127.0.0.1",
            "127.0.0.1:22".parse().unwrap(),
            Proto::Tcp,
            PortState::Open,
            Reason::None,
        );
        open.latency = Some(Duration::from_micros(120));
        let closed = PortResult::new(
            "127.0.0.1",
            "127.0.0.1:9".parse().unwrap(),
            Proto::Tcp,
            PortState::Closed,
            Reason::Errno(libc::ECONNREFUSED),
        );
        let counts = Counts {
            open: 1,
            closed: 1,
            ..Counts::default()
        };
        ProbeReport {
            protocol: Proto::Tcp,
            timeout: Duration::from_secs(1),
            scan,
            all_listed: !scan,
            concurrency: 10,
            results: if scan { vec![open] } else { vec![open, closed] },
            summary: vec![Summary {
                host: "127.0.0.1".into(),
                address: "127.0.0.1".parse().unwrap(),
                probed: 2,
                counts,
            }],
            unresolved: vec![],
            elapsed: Duration::from_millis(3),
            interrupted: false,
            talked: false,
            named: vec![],
            syn: None,
        }
    }

    #[test]
    fn probe_table_and_causes() {
        let s = Output::plain(Format::Table).to_string(&report(false));
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "ADDRESS    PORT    STATE   SERVICE  TIME");
        assert_eq!(lines[1], "127.0.0.1  22/tcp  open    ssh      0.120 ms");
        assert!(
            lines[2].starts_with("127.0.0.1   9/tcp  closed  discard"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("127.0.0.1:9/tcp closed: connection refused"),
            "{}",
            lines[3]
        );
        assert!(lines[3].ends_with("(ECONNREFUSED)"));
    }

    #[test]
    fn scan_lists_open_and_counts_states() {
        let s = Output::plain(Format::Table).to_string(&report(true));
        assert!(s.contains("22/tcp  open"));
        assert!(!s.contains("9/tcp"));
        assert!(
            s.contains("127.0.0.1: 2 tcp ports probed: 1 open, 1 closed"),
            "{s}"
        );
    }

    #[test]
    fn json_carries_explanations() {
        let s = Output::plain(Format::Json).to_string(&report(false));
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["results"][0]["state"], "open");
        assert_eq!(v["results"][0]["latency_ms"], 0.12);
        assert!(v["results"][0]["explanation"].is_null());
        assert_eq!(v["results"][1]["explanation"]["code"], "ECONNREFUSED");
        assert_eq!(v["summary"][0]["counts"]["closed"], 1);
    }
}
