//! Lookup as text: one row per answer (A, AAAA, CNAME, PTR), and this machine's names and interface table.

use std::io::{self, Write};
use std::net::IpAddr;

use super::model::{LookupReport, SelfReport};
use crate::duration::fmt_ms;
use crate::render::{write_table, Output, Report, Tone};

impl Report for LookupReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        let mut t = out.table(&["QUERY", "TYPE", "ANSWER", "FAMILY", "TIME"]);
        for r in &self.results {
            let time = fmt_ms(r.elapsed);
            if let Some(e) = &r.error {
                t.add_row(vec![
                    out.cell(&r.query, Tone::Plain),
                    out.cell(r.kind, Tone::Plain),
                    out.cell(format!("{} ({})", e.cause, e.code), Tone::Bad),
                    out.cell("-", Tone::Dim),
                    out.num(time),
                ]);
                continue;
            }
            if r.kind == "reverse" {
                for n in &r.names {
                    t.add_row(vec![
                        out.cell(&r.query, Tone::Plain),
                        out.cell("PTR", Tone::Plain),
                        out.cell(n, Tone::Good),
                        out.cell(r.addresses.first().map_or("-", |a| a.family), Tone::Plain),
                        out.num(&time),
                    ]);
                }
                continue;
            }
            if let Some(c) = r.canonical_name.as_ref().filter(|c| **c != r.query) {
                t.add_row(vec![
                    out.cell(&r.query, Tone::Plain),
                    out.cell("CNAME", Tone::Plain),
                    out.cell(c, Tone::Plain),
                    out.cell("-", Tone::Dim),
                    out.num(&time),
                ]);
            }
            for a in &r.addresses {
                t.add_row(vec![
                    out.cell(&r.query, Tone::Plain),
                    out.cell(if a.address.is_ipv4() { "A" } else { "AAAA" }, Tone::Plain),
                    out.cell(a.address, Tone::Good),
                    out.cell(a.family, Tone::Plain),
                    out.num(&time),
                ]);
            }
        }
        write_table(w, &t)?;
        for r in &self.results {
            if let Some(e) = &r.error {
                writeln!(w, "{}: {}", r.query, out.paint(&e.sentence(), Tone::Bad))?;
            }
        }
        Ok(())
    }
}

impl Report for SelfReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "hostname  {}", self.hostname)?;
        match (&self.fqdn, &self.resolve_error) {
            (_, Some(e)) => writeln!(
                w,
                "fqdn      {}",
                out.paint(&format!("does not resolve: {}", e.sentence()), Tone::Bad)
            )?,
            (Some(f), None) => writeln!(w, "fqdn      {f}")?,
            (None, None) => writeln!(w, "fqdn      -")?,
        }
        if !self.resolved.is_empty() {
            let list: Vec<String> = self.resolved.iter().map(ToString::to_string).collect();
            writeln!(w, "resolves  {}", list.join(", "))?;
        }
        writeln!(w)?;
        let mut t = out.table(&["INTERFACE", "ADDRESS", "FAMILY", "SCOPE"]);
        for a in &self.addresses {
            let addr = match a.prefix {
                Some(p) => format!("{}/{p}", a.address),
                None => a.address.to_string(),
            };
            t.add_row(vec![
                out.cell(&a.interface, Tone::Plain),
                out.cell(addr, Tone::Good),
                out.cell(a.family, Tone::Plain),
                out.cell(scope(&a.address), Tone::Plain),
            ]);
        }
        write_table(w, &t)
    }
}

fn scope(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => "loopback",
        IpAddr::V4(v4) if v4.is_link_local() => "link",
        IpAddr::V4(v4) if v4.is_private() => "private",
        IpAddr::V4(_) => "global",
        IpAddr::V6(v6) if v6.is_loopback() => "loopback",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "link",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "private",
        IpAddr::V6(_) => "global",
    }
}
