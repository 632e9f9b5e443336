//! Text rendering of `http-get` reports: the request as sent, the status and headers, body, TLS, timings and
//! the verdict, hop by hop. `--raw` shows the exact bytes instead of the parsed request and head.

use std::io::{self, Write};
use std::time::Duration;

use super::model::{Hop, HttpGetReport, HttpReport, Phases, Show};
use crate::duration::fmt_ms;
use crate::explain::Verdict;
use crate::render::{write_table, Output, Report, Tone};

impl Report for HttpGetReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                writeln!(w)?;
            }
            render_report(r, self.show, out, w)?;
        }
        Ok(())
    }
}

impl Report for HttpReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        render_report(self, Show::default(), out, w)
    }
}

fn render_report(r: &HttpReport, show: Show, out: &Output, w: &mut dyn Write) -> io::Result<()> {
    for (i, hop) in r.hops.iter().enumerate() {
        if r.hops.len() > 1 {
            writeln!(
                w,
                "{}",
                out.paint(&format!("hop {}: {}", i + 1, hop.url), Tone::Dim)
            )?;
        }
        render_hop(hop, show, out, w)?;
        writeln!(w)?;
    }
    let (tone, word) = match r.verdict {
        Verdict::Ok => (Tone::Good, "ok"),
        v => (Tone::Bad, v.as_str()),
    };
    let code = match &r.error {
        Some(e) => format!(" ({})", e.code),
        None => String::new(),
    };
    writeln!(
        w,
        "{}",
        out.paint(&format!("{word}: {}{code}", r.summary), tone)
    )?;
    if let Some(e) = &r.error {
        if !e.fix.is_empty() {
            writeln!(w, "fix: {}", e.fix)?;
        }
    }
    if show.body && !r.body.is_empty() {
        writeln!(w)?;
        w.write_all(&r.body)?;
        if !r.body.ends_with(b"\n") {
            writeln!(w)?;
        }
    }
    Ok(())
}

fn render_hop(hop: &Hop, show: Show, out: &Output, w: &mut dyn Write) -> io::Result<()> {
    let mut rows: Vec<(&str, String)> = vec![("url", hop.url.to_string())];
    let address = match hop.address {
        Some(a) => a.to_string(),
        None => "-".into(),
    };
    rows.push(("address", address));
    let others: Vec<String> = hop
        .resolved
        .iter()
        .filter(|ip| hop.address.map(|a| a.ip()) != Some(**ip))
        .map(ToString::to_string)
        .collect();
    if !others.is_empty() {
        let label = if hop.address.is_some() {
            "also resolved"
        } else {
            "resolved"
        };
        rows.push((label, others.join(", ")));
    }
    for a in &hop.failed_addresses {
        rows.push((
            "failed",
            format!("{}: {} ({})", a.address, a.error.cause, a.error.code),
        ));
    }
    write_pairs(w, &rows)?;
    writeln!(w)?;
    if show.raw {
        w.write_all(hop.request.as_bytes())?;
        w.write_all(&hop.raw_head)?;
    } else if hop.address.is_some() {
        for line in hop.request.lines().filter(|l| !l.is_empty()) {
            writeln!(w, "{}", out.paint(&format!("> {line}"), Tone::Dim))?;
        }
        if !hop.interim.is_empty() || hop.response.is_some() {
            writeln!(w)?;
        }
        for h in &hop.interim {
            writeln!(w, "< {}", h.status_line())?;
        }
        if let Some(h) = &hop.response {
            let tone = match h.status {
                200..=399 => Tone::Good,
                _ => Tone::Bad,
            };
            writeln!(w, "< {}", out.paint(&h.status_line(), tone))?;
            let mut t = out.table(&["HEADER", "VALUE"]);
            for hd in &h.headers {
                t.add_row(vec![
                    out.cell(&hd.name, Tone::Plain),
                    out.cell(&hd.value, Tone::Plain),
                ]);
            }
            if !h.headers.is_empty() {
                write_table(w, &t)?;
            }
        }
        writeln!(w)?;
    }
    let details = details(hop);
    if !details.is_empty() {
        write_pairs(w, &details)?;
        writeln!(w)?;
    }
    write_table(w, &timings_table(hop, out))
}

/// `key  value` lines, keys aligned.
fn write_pairs(w: &mut dyn Write, rows: &[(&str, String)]) -> io::Result<()> {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        writeln!(w, "{k:<width$}  {v}")?;
    }
    Ok(())
}

fn details(hop: &Hop) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    if hop.response.is_some() {
        let b = &hop.body;
        let framing = b.framing.map_or_else(|| "-".into(), |f| f.describe());
        let mut text = format!("{} bytes ({framing})", b.length);
        if b.truncated {
            text.push_str(", truncated at --max-size: the rest was not read");
        } else if !b.complete {
            text.push_str(", incomplete");
        }
        rows.push(("body", text));
        if !b.trailers.is_empty() {
            let t: Vec<String> = b
                .trailers
                .iter()
                .map(|h| format!("{}: {}", h.name, h.value))
                .collect();
            rows.push(("trailers", t.join("; ")));
        }
    }
    if let Some(t) = &hop.tls {
        let alpn = t.alpn.as_deref().unwrap_or("none");
        rows.push((
            "tls",
            format!("{} {} (ALPN {alpn})", t.version, t.cipher_suite),
        ));
        if let Some(c) = &t.certificate {
            rows.push(("subject", c.subject.clone()));
            rows.push(("issuer", c.issuer.clone()));
            if !c.sans.is_empty() {
                rows.push(("names", c.sans.join(", ")));
            }
            let days = t
                .days_left
                .map_or(String::new(), |d| format!(" ({d} days left)"));
            rows.push((
                "valid",
                format!("{} to {}{days}", c.not_before, c.not_after),
            ));
        }
        if !t.verified {
            let why = if hop.error.is_some() {
                "no: rejected (see below)"
            } else {
                "no (--insecure)"
            };
            rows.push(("verified", why.into()));
        }
    }
    if let Some(loc) = &hop.location {
        rows.push(("location", loc.clone()));
    }
    // The hop's error is the report's verdict line (fetching stops at the first failed hop).
    rows
}

/// Picks one phase out of a [`Phases`].
type PhaseOf = fn(&Phases) -> Option<Duration>;

fn timings_table(hop: &Hop, out: &Output) -> comfy_table::Table {
    let t = &hop.timings;
    let mut table = out.table(&["PHASE", "TIME", "CUMULATIVE"]);
    let names: [(&str, PhaseOf); 6] = [
        ("dns", |p| p.dns),
        ("connect", |p| p.connect),
        ("tls", |p| p.tls),
        ("request", |p| p.request),
        ("first byte", |p| p.first_byte),
        ("body", |p| p.body),
    ];
    for (name, get) in names {
        if let (Some(p), Some(c)) = (get(&t.phases), get(&t.cumulative)) {
            table.add_row(vec![
                out.cell(name, Tone::Plain),
                out.num(fmt_ms(p)),
                out.num(fmt_ms(c)),
            ]);
        }
    }
    table.add_row(vec![
        out.cell("total", Tone::Plain),
        out.num(""),
        out.num(fmt_ms(t.total)),
    ]);
    table
}
