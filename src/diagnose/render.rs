//! Diagnose as text: one row per step, the verdict row, then each failure's cause and fix.

use std::io::{self, Write};

use super::model::{DiagnoseReport, Step, MACHINE};
use crate::duration::fmt_ms;
use crate::explain::Verdict;
use crate::render::{write_table, Output, Report, Tone};

impl Report for DiagnoseReport {
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
        let mut t = out.table(&["STEP", "TRIED", "RESULT", "TIME"]);
        for s in &self.steps {
            let result = match (s.label(), &s.explanation) {
                (Some(label), Some(e)) => format!("{label}: {} ({})", s.result, e.code),
                _ => s.result.clone(),
            };
            t.add_row(vec![
                out.cell(s.step, Tone::Plain),
                out.cell(&s.tried, Tone::Plain),
                out.cell(result, s.tone()),
                out.num(s.time.map_or("-".to_string(), fmt_ms)),
            ]);
        }
        let verdict = if self.verdict == Verdict::Interrupted {
            let at = self
                .failed_step
                .as_deref()
                .map(|s| format!(" during {s}"))
                .unwrap_or_default();
            out.cell(format!("interrupted (Ctrl-C){at}"), Tone::Warn)
        } else if self.ok && self.target == MACHINE {
            out.cell("ok: no problem found", Tone::Good)
        } else if self.ok {
            out.cell("ok: works end to end", Tone::Good)
        } else {
            out.cell(
                format!(
                    "FAIL at {}: {}",
                    self.failed_step.as_deref().unwrap_or("?"),
                    self.verdict
                ),
                Tone::Bad,
            )
        };
        t.add_row(vec![
            out.cell("verdict", Tone::Plain),
            out.cell(&self.target, Tone::Plain),
            verdict,
            out.num("-"),
        ]);
        write_table(w, &t)?;
        let explained: Vec<&Step> = self
            .steps
            .iter()
            .filter(|s| s.status.is_failure() && s.explanation.is_some())
            .collect();
        for s in explained {
            if let (Some(e), Some(label)) = (&s.explanation, s.label()) {
                let tone = s.tone();
                writeln!(w)?;
                writeln!(w, "{} {label}: {}", s.step, out.paint(&e.cause, tone))?;
                if !e.fix.is_empty() {
                    writeln!(w, "  fix: {}", e.fix)?;
                }
            }
        }
        if self.interrupted {
            writeln!(w, "\ninterrupted: the walk stopped early")?;
        }
        Ok(())
    }
}

impl Step {
    fn tone(&self) -> Tone {
        match self.status {
            Verdict::Ok => Tone::Good,
            Verdict::Skipped => Tone::Dim,
            Verdict::Interrupted => Tone::Warn,
            _ if self.warning => Tone::Warn,
            _ => Tone::Bad,
        }
    }
}
