//! Text rendering of direct-DNS reports: an exchange as a summary block and a records table, `--short` as
//! bare answer data, `--all-servers` and `--trace` as one table each. JSON comes from `Serialize`.

use std::io::{self, Write};

use super::compare::CompareReport;
use super::trace::TraceReport;
use super::{DnsReport, Exchange, Status};
use crate::duration::fmt_ms;
use crate::render::{kv_table, write_table, Output, Report, Tone};

impl Report for DnsReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        if self.short {
            // As dig +short: the data of every answer record, CNAMEs of the chain included.
            for rr in self
                .results
                .iter()
                .filter_map(|r| r.response.as_ref())
                .flat_map(|r| &r.answer)
            {
                writeln!(w, "{}", rr.data)?;
            }
            return Ok(());
        }
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                writeln!(w)?;
            }
            exchange_text(r, out, w)?;
        }
        Ok(())
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

fn exchange_text(r: &Exchange, out: &Output, w: &mut dyn Write) -> io::Result<()> {
    let mut kv: Vec<(&str, String)> = vec![
        ("question", r.question.describe()),
        ("server", server_line(r)),
        ("status", status_line(r)),
    ];
    if let Some(resp) = &r.response {
        kv.push(("flags", resp.flags.join(" ")));
        if let Some(e) = edns_line(r) {
            kv.push(("edns", e));
        }
    }
    kv.push(("time", time_line(r)));
    if let Some(resp) = &r.response {
        kv.push((
            "size",
            format!("{} bytes (query {} bytes)", resp.size, r.query_size),
        ));
    }
    if r.udp_truncated {
        kv.push((
            "note",
            "the UDP answer was truncated (TC): asked again over TCP".into(),
        ));
    }
    if let Some(t) = &r.tls {
        let mut s = format!("{} {}", t.version, t.cipher_suite);
        if let Some(c) = &t.certificate {
            s.push_str(&format!(", certificate {}", c.subject));
        }
        if !t.verified && r.explanation.is_none() {
            s.push_str(", not verified (--insecure)");
        }
        kv.push(("tls", s));
    }
    for a in &r.tried {
        kv.push((
            "tried",
            format!(
                "{}: {} ({})",
                a.server, a.explanation.cause, a.explanation.code
            ),
        ));
    }
    write_table(w, &kv_table(out, kv))?;
    if let Some(resp) = &r.response {
        let mut t = out.table(&["SECTION", "NAME", "TTL", "CLASS", "TYPE", "DATA"]);
        for (section, rrs) in [
            ("answer", &resp.answer),
            ("authority", &resp.authority),
            ("additional", &resp.additional),
        ] {
            for rr in rrs.iter() {
                t.add_row(vec![
                    out.cell(section, Tone::Plain),
                    out.cell(&rr.name, Tone::Plain),
                    out.num(rr.ttl),
                    out.cell(&rr.class, Tone::Plain),
                    out.cell(&rr.rtype, Tone::Plain),
                    out.cell(
                        &rr.data,
                        if section == "answer" {
                            Tone::Good
                        } else {
                            Tone::Plain
                        },
                    ),
                ]);
            }
        }
        if t.row_count() > 0 {
            writeln!(w)?;
            write_table(w, &t)?;
        }
    }
    if let Some(e) = &r.explanation {
        writeln!(w)?;
        writeln!(
            w,
            "{}: {}",
            r.status,
            out.paint(&format!("{} ({})", e.cause, e.code), tone(r.status))
        )?;
        if !e.fix.is_empty() {
            writeln!(w, "  fix: {}", e.fix)?;
        }
    }
    Ok(())
}

impl Report for CompareReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        for (i, c) in self.results.iter().enumerate() {
            if i > 0 {
                writeln!(w)?;
            }
            writeln!(w, "question  {}", c.question.describe())?;
            let mut t = out.table(&["SERVER", "STATUS", "TIME", "ANSWER"]);
            for s in &c.servers {
                let answer = match (&s.explanation, s.answers.is_empty()) {
                    (Some(e), _) => format!("{} ({})", e.cause, e.code),
                    (None, true) => "-".to_string(),
                    (None, false) => s.answers.join(", "),
                };
                t.add_row(vec![
                    out.cell(&s.source, Tone::Plain),
                    out.cell(s.status, tone_word(s.status)),
                    out.num(s.time.map_or("-".into(), fmt_ms)),
                    out.cell(
                        answer,
                        if s.explanation.is_some() {
                            Tone::Bad
                        } else {
                            Tone::Plain
                        },
                    ),
                ]);
            }
            write_table(w, &t)?;
            writeln!(w)?;
            let tone = if c.ok { Tone::Good } else { Tone::Bad };
            writeln!(w, "verdict   {}", out.paint(&c.summary, tone))?;
            for e in &c.findings {
                writeln!(w, "  {}: {}", e.code, e.cause)?;
                if !e.fix.is_empty() {
                    writeln!(w, "    fix: {}", e.fix)?;
                }
            }
        }
        Ok(())
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
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        for (i, tr) in self.results.iter().enumerate() {
            if i > 0 {
                writeln!(w)?;
            }
            writeln!(w, "question  {}", tr.question.describe())?;
            let mut t = out.table(&["STEP", "ZONE", "SERVER", "RESULT", "TIME"]);
            for s in &tr.steps {
                t.add_row(vec![
                    out.num(s.step),
                    out.cell(&s.zone, Tone::Plain),
                    out.cell(&s.server, Tone::Plain),
                    out.cell(&s.result, tone(s.status)),
                    out.num(s.time.map_or("-".into(), fmt_ms)),
                ]);
            }
            write_table(w, &t)?;
            if let Some(last) = tr.steps.last().filter(|s| s.status == Status::Ok) {
                let mut t = out.table(&["NAME", "TTL", "CLASS", "TYPE", "DATA"]);
                for rr in &last.records {
                    t.add_row(vec![
                        out.cell(&rr.name, Tone::Plain),
                        out.num(rr.ttl),
                        out.cell(&rr.class, Tone::Plain),
                        out.cell(&rr.rtype, Tone::Plain),
                        out.cell(&rr.data, Tone::Good),
                    ]);
                }
                writeln!(w)?;
                write_table(w, &t)?;
            }
            if let Some(e) = &tr.explanation {
                writeln!(w)?;
                writeln!(
                    w,
                    "{}: {}",
                    tr.status,
                    out.paint(&format!("{} ({})", e.cause, e.code), Tone::Bad)
                )?;
                if !e.fix.is_empty() {
                    writeln!(w, "  fix: {}", e.fix)?;
                }
            }
        }
        Ok(())
    }
}
