//! Direct-DNS reports as rows: an exchange as key/value pairs and a records table, `--short` as bare answer
//! data, `--all-servers` and `--trace` as one table each. Text and CSV draw from the same [`View`]; JSON comes
//! from `Serialize`.

use super::compare::CompareReport;
use super::trace::TraceReport;
use super::{DnsReport, Exchange, Status};
use crate::duration::fmt_ms;
use crate::exit::Outcome;
use crate::explain::Explanation;
use crate::render::{Column, Line, Pairs, Report, Table, Tone, View};

fn outcome(ok: bool) -> Outcome {
    Outcome::of(crate::interrupt::requested(), ok)
}

impl Report for DnsReport {
    fn outcome(&self) -> Outcome {
        outcome(self.ok)
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new();
        if self.short {
            // As dig +short: the data of every answer record, CNAMEs of the chain included.
            for rr in self
                .results
                .iter()
                .filter_map(|r| r.response.as_ref())
                .flat_map(|r| &r.answer)
            {
                v.line(rr.data.as_str());
            }
        } else {
            for (i, r) in self.results.iter().enumerate() {
                if i > 0 {
                    v.blank();
                }
                exchange_view(r, &mut v);
            }
        }
        v.table(records_table(&self.results));
        v
    }
}

/// Every record of every exchange, one row each (an exchange without records: one row with its status), for
/// CSV.
fn records_table(results: &[Exchange]) -> Table {
    let mut t = Table::new([
        Column::left("QUESTION"),
        Column::left("SERVER"),
        Column::left("PROTOCOL"),
        Column::left("STATUS"),
        Column::left("RCODE"),
        Column::left("SECTION"),
        Column::left("NAME"),
        Column::right("TTL"),
        Column::left("CLASS"),
        Column::left("TYPE"),
        Column::text("DATA"),
        Column::right("TIME"),
    ])
    .data_only();
    for r in results {
        let q = r.question.describe();
        let rcode = r.response.as_ref().map_or("-", |x| x.rcode.as_str());
        let time = fmt_ms(r.timings.request.unwrap_or(r.timings.total));
        let mut any = false;
        if let Some(resp) = &r.response {
            for (section, rrs) in [
                ("answer", &resp.answer),
                ("authority", &resp.authority),
                ("additional", &resp.additional),
            ] {
                for rr in rrs.iter() {
                    any = true;
                    t.cell(&q)
                        .cell(&r.server_label)
                        .cell(r.protocol.as_str())
                        .cell(r.status.as_str())
                        .cell(rcode)
                        .cell(section)
                        .cell(&rr.name)
                        .num(u64::from(rr.ttl))
                        .cell(&rr.class)
                        .cell(&rr.rtype)
                        .cell(&rr.data)
                        .cell(&time);
                }
            }
        }
        if !any {
            let data = r
                .explanation
                .as_ref()
                .map_or_else(|| "-".to_string(), |e| format!("{} ({})", e.cause, e.code));
            t.cell(&q)
                .cell(&r.server_label)
                .cell(r.protocol.as_str())
                .cell(r.status.as_str())
                .cell(rcode);
            for _ in 0..5 {
                t.cell("-");
            }
            t.cell(data).cell(&time);
        }
    }
    t
}

/// `status: cause (code)` and `fix: ...` lines.
fn explanation_lines(v: &mut View<'_>, word: &str, e: &Explanation, tone: Tone) {
    v.line(Line::from(format!("{word}: ")).then(format!("{} ({})", e.cause, e.code), tone));
    if !e.fix.is_empty() {
        v.line(format!("  fix: {}", e.fix));
    }
}

/// The tone of a status.
pub fn tone(s: Status) -> Tone {
    match s {
        Status::Ok | Status::Referral => Tone::Good,
        Status::Nodata | Status::Interrupted => Tone::Warn,
        _ => Tone::Bad,
    }
}

/// `NOERROR: 2 answers, 1 authority, 1 additional`, or the failure.
pub fn status_line(r: &Exchange) -> String {
    let Some(resp) = &r.response else {
        return r.status.to_string();
    };
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    let mut s = format!(
        "{}: {}, {}, {}",
        resp.rcode,
        n(resp.answer.len(), "answer", "answers"),
        n(resp.authority.len(), "authority", "authority"),
        n(resp.additional.len(), "additional", "additional")
    );
    if !matches!(r.status, Status::Ok) && resp.rcode == "NOERROR" {
        s = format!("{s} ({})", r.status);
    }
    s
}

fn time_line(r: &Exchange) -> String {
    let t = &r.timings;
    let mut s = t.request.map_or_else(|| fmt_ms(t.total), fmt_ms);
    let mut parts = Vec::new();
    for (name, d) in [
        ("resolve", t.resolve),
        ("connect", t.connect),
        ("tls", t.tls),
    ] {
        if let Some(d) = d {
            parts.push(format!("{name} {}", fmt_ms(d)));
        }
    }
    if r.udp_truncated || !parts.is_empty() {
        parts.push(format!("total {}", fmt_ms(t.total)));
    }
    if !parts.is_empty() {
        s = format!("{s} ({})", parts.join(", "));
    }
    s
}

fn edns_line(r: &Exchange) -> Option<String> {
    let e = r.response.as_ref()?.edns.as_ref()?;
    let mut s = format!("version {}, udp {}", e.version, e.udp_size);
    if e.dnssec_ok {
        s.push_str(", do");
    }
    if let Some(n) = &e.nsid {
        s.push_str(&format!(", nsid {n}"));
    }
    for x in &e.extended_errors {
        s.push_str(&format!(", {x}"));
    }
    for o in &e.options {
        s.push_str(&format!(", option {o}"));
    }
    Some(s)
}

/// `10.0.0.53 (UDP)`: the server's label without the transport it may carry, then the transport.
fn server_line(r: &Exchange) -> String {
    let label = r
        .server_label
        .split(" over ")
        .next()
        .unwrap_or(&r.server_label);
    format!("{label} ({})", r.protocol.as_str().to_uppercase())
}

fn exchange_view(r: &Exchange, v: &mut View<'_>) {
    let mut p = Pairs::new();
    p.add("question", r.question.describe());
    p.add("server", server_line(r));
    p.add_toned("status", status_line(r), tone(r.status));
    if let Some(resp) = &r.response {
        p.add("flags", resp.flags.join(" "));
        if let Some(e) = edns_line(r) {
            p.add("edns", e);
        }
    }
    p.add("time", time_line(r));
    if let Some(resp) = &r.response {
        p.add(
            "size",
            format!("{} bytes (query {} bytes)", resp.size, r.query_size),
        );
    }
    if r.udp_truncated {
        p.add(
            "note",
            "the UDP answer was truncated (TC): asked again over TCP",
        );
    }
    if let Some(t) = &r.tls {
        let mut s = format!("{} {}", t.version, t.cipher_suite);
        if let Some(c) = &t.certificate {
            s.push_str(&format!(", certificate {}", c.subject));
        }
        if !t.verified && r.explanation.is_none() {
            s.push_str(", not verified (--insecure)");
        }
        p.add("tls", s);
    }
    for a in &r.tried {
        p.add_toned(
            "tried",
            format!(
                "{}: {} ({})",
                a.server_label, a.explanation.cause, a.explanation.code
            ),
            Tone::Warn,
        );
    }
    v.pairs(p);
    if let Some(resp) = &r.response {
        let mut t = Table::new([
            Column::left("SECTION"),
            Column::left("NAME"),
            Column::right("TTL"),
            Column::left("CLASS"),
            Column::left("TYPE"),
            Column::text("DATA"),
        ])
        .text_only();
        for (section, rrs) in [
            ("answer", &resp.answer),
            ("authority", &resp.authority),
            ("additional", &resp.additional),
        ] {
            for rr in rrs.iter() {
                let data_tone = if section == "answer" {
                    Tone::Good
                } else {
                    Tone::Plain
                };
                t.cell(section)
                    .cell(&rr.name)
                    .num(u64::from(rr.ttl))
                    .cell(&rr.class)
                    .cell(&rr.rtype)
                    .cell_toned(&rr.data, data_tone);
            }
        }
        if !t.is_empty() {
            v.blank().table(t);
        }
    }
    if let Some(e) = &r.explanation {
        v.blank();
        explanation_lines(v, r.status.as_str(), e, tone(r.status));
    }
}

impl Report for CompareReport {
    fn outcome(&self) -> Outcome {
        outcome(self.ok)
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new();
        for (i, c) in self.results.iter().enumerate() {
            if i > 0 {
                v.blank();
            }
            let mut p = Pairs::new();
            p.add("question", c.question.describe());
            v.pairs(p);
            let mut t = Table::new([
                Column::left("SERVER"),
                Column::left("STATUS"),
                Column::right("TIME"),
                Column::text("ANSWER"),
            ])
            .text_only();
            for s in &c.servers {
                let answer = match (&s.explanation, s.answers.is_empty()) {
                    (Some(e), _) => format!("{} ({})", e.cause, e.code),
                    (None, true) => "-".to_string(),
                    (None, false) => s.answers.join(", "),
                };
                let answer_tone = if s.explanation.is_some() {
                    Tone::Bad
                } else {
                    Tone::Plain
                };
                t.cell(&s.source)
                    .cell_toned(s.status, tone_word(s.status))
                    .cell(s.time.map_or("-".into(), fmt_ms))
                    .cell_toned(answer, answer_tone);
            }
            v.table(t).blank();
            let tone = if c.ok { Tone::Good } else { Tone::Bad };
            let mut p = Pairs::new();
            p.add_toned("verdict", &c.summary, tone);
            v.pairs(p);
            for e in &c.findings {
                v.line(format!("  {}: {}", e.code, e.cause));
                if !e.fix.is_empty() {
                    v.line(format!("    fix: {}", e.fix));
                }
            }
        }
        // CSV: one row per question and source.
        let mut t = Table::new([
            Column::left("QUESTION"),
            Column::left("SERVER"),
            Column::left("KIND"),
            Column::left("STATUS"),
            Column::left("RCODE"),
            Column::right("TIME"),
            Column::text("ANSWER"),
            Column::left("AGREE"),
        ])
        .data_only();
        for c in &self.results {
            let q = c.question.describe();
            for s in &c.servers {
                let answer = match &s.explanation {
                    Some(e) => format!("{} ({})", e.cause, e.code),
                    None => s.answers.join(" "),
                };
                t.cell(&q)
                    .cell(&s.source)
                    .cell(s.kind)
                    .cell(s.status)
                    .cell(s.rcode.as_deref().unwrap_or("-"))
                    .cell(s.time.map_or("-".into(), fmt_ms))
                    .cell(answer)
                    .cell(if c.agree { "yes" } else { "no" });
            }
        }
        v.table(t);
        v
    }
}

fn tone_word(s: &str) -> Tone {
    match s {
        "ok" | "agrees" => Tone::Good,
        "-" | "not-listed" => Tone::Dim,
        "override" | "nodata" => Tone::Warn,
        _ => Tone::Bad,
    }
}

impl Report for TraceReport {
    fn outcome(&self) -> Outcome {
        outcome(self.ok)
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new();
        for (i, tr) in self.results.iter().enumerate() {
            if i > 0 {
                v.blank();
            }
            let mut p = Pairs::new();
            p.add("question", tr.question.describe());
            v.pairs(p);
            let mut t = Table::new([
                Column::right("STEP"),
                Column::left("ZONE"),
                Column::left("SERVER"),
                Column::text("RESULT"),
                Column::right("TIME"),
            ])
            .text_only();
            for s in &tr.steps {
                t.num(s.step as u64)
                    .cell(&s.zone)
                    .cell(&s.server_label)
                    .cell_toned(&s.result, tone(s.status))
                    .cell(s.time.map_or("-".into(), fmt_ms));
            }
            v.table(t);
            if let Some(last) = tr.steps.last().filter(|s| s.status == Status::Ok) {
                let mut t = Table::new([
                    Column::left("NAME"),
                    Column::right("TTL"),
                    Column::left("CLASS"),
                    Column::left("TYPE"),
                    Column::text("DATA"),
                ])
                .text_only();
                for rr in &last.records {
                    t.cell(&rr.name)
                        .num(u64::from(rr.ttl))
                        .cell(&rr.class)
                        .cell(&rr.rtype)
                        .cell_toned(&rr.data, Tone::Good);
                }
                v.blank().table(t);
            }
            if let Some(e) = &tr.explanation {
                v.blank();
                explanation_lines(&mut v, tr.status.as_str(), e, Tone::Bad);
            }
        }
        // CSV: one row per step.
        let mut t = Table::new([
            Column::left("QUESTION"),
            Column::right("STEP"),
            Column::left("ZONE"),
            Column::left("SERVER"),
            Column::left("STATUS"),
            Column::text("RESULT"),
            Column::right("TIME"),
        ])
        .data_only();
        for tr in &self.results {
            let q = tr.question.describe();
            for s in &tr.steps {
                t.cell(&q)
                    .num(s.step as u64)
                    .cell(&s.zone)
                    .cell(&s.server_label)
                    .cell(s.status.as_str())
                    .cell(&s.result)
                    .cell(s.time.map_or("-".into(), fmt_ms));
            }
        }
        v.table(t);
        v
    }
}
