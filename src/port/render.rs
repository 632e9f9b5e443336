//! Port as text: one row per registered (port, protocol), then the questions that found nothing.

use std::io::{self, Write};

use super::model::PortReport;
use crate::render::{write_table, Output, Report, Tone};

impl Report for PortReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        if !self.rows.is_empty() {
            let mut t = out.table(&["PORT", "PROTO", "SERVICE", "ALIASES", "DESCRIPTION"]);
            for r in &self.rows {
                // A name query shows a registered range whole (x11: 6000-6063); a port query shows the port.
                let by_name = !r.query.starts_with(|c: char| c.is_ascii_digit());
                let s = &r.service;
                let port = match s.range {
                    Some((a, b)) if a != b && by_name => format!("{a}-{b}"),
                    _ => s.port.to_string(),
                };
                t.add_row(vec![
                    out.cell(port, Tone::Plain),
                    out.cell(s.proto, Tone::Plain),
                    out.cell(s.name, Tone::Good),
                    out.cell(
                        if s.aliases.is_empty() {
                            "-".to_string()
                        } else {
                            s.aliases.join(",")
                        },
                        Tone::Plain,
                    ),
                    out.cell(s.description, Tone::Plain),
                ]);
            }
            write_table(w, &t)?;
        }
        for u in &self.unmatched {
            writeln!(w, "{}", out.paint(&u.reason, Tone::Bad))?;
        }
        Ok(())
    }
}
