//! Port as text: one row per registered (port, protocol), then the questions that found nothing.

use super::model::PortReport;
use crate::exit::Outcome;
use crate::render::{Column, Report, Table, Tone, View};

impl Report for PortReport {
    fn outcome(&self) -> Outcome {
        Outcome::all([self.ok()])
    }

    fn view(&self) -> View<'_> {
        let mut t = Table::new([
            Column::left("PORT"),
            Column::left("PROTO"),
            Column::left("SERVICE"),
            Column::text("ALIASES"),
            Column::text("DESCRIPTION"),
        ])
        .omit_when_empty();
        for r in &self.results {
            let s = &r.service;
            // A name query shows a registered range whole (x11: 6000-6063); a port query shows the port.
            let by_name = !r.query.starts_with(|c: char| c.is_ascii_digit());
            match s.range {
                Some((a, b)) if a != b && by_name => t.cell(format!("{a}-{b}")),
                _ => t.num(u64::from(s.port)),
            };
            t.cell(s.proto.as_str()).cell_toned(s.name, Tone::Good);
            if s.aliases.is_empty() {
                t.cell("-");
            } else {
                t.cell(s.aliases.join(","));
            }
            t.cell(s.description);
        }
        let mut v = View::new();
        v.table(t);
        for u in &self.unmatched {
            v.line(crate::render::Line::toned(
                u.explanation.sentence(),
                Tone::Bad,
            ));
        }
        v
    }
}
