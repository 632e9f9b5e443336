//! Diagnose as text: one row per step, the verdict row, then each failure's cause and fix.

use super::model::{DiagnoseReport, Evidence, Step, MACHINE};
use crate::duration::fmt_ms;
use crate::exit::Outcome;
use crate::explain::Verdict;
use crate::render::{Block, Column, Line, Report, Table, Tone, View};

impl Report for DiagnoseReport {
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, self.ok)
    }

    fn view(&self) -> View<'_> {
        let mut t = Table::new([
            Column::left("STEP"),
            Column::text("TRIED"),
            Column::text("RESULT"),
            Column::right("TIME"),
        ]);
        for s in &self.steps {
            let result = match (s.label(), &s.explanation) {
                (Some(label), Some(e)) => format!("{label}: {} ({})", s.result, e.code),
                _ => s.result.clone(),
            };
            t.cell(s.step)
                .cell(&s.tried)
                .cell_toned(result, s.tone())
                .cell(s.time.map_or("-".to_string(), fmt_ms));
        }
        let (verdict, tone) = self.verdict_cell();
        t.cell("verdict")
            .cell(&self.target)
            .cell_toned(verdict, tone)
            .cell("-");
        let mut v = View::new();
        v.table(t);
        if let Some(p) = &self.path {
            v.blank()
                .line(crate::trace::render::header_line(p))
                .table(crate::trace::render::hop_table(p));
        }
        // An explanation shared by several steps (every address's connect, several nameservers) is printed
        // once, naming the steps it covers.
        let mut shared: Vec<(Vec<&str>, String, &crate::explain::Explanation, Tone)> = Vec::new();
        for s in self.steps.iter().filter(|s| s.status.is_failure()) {
            if let (Some(e), Some(label)) = (&s.explanation, s.label()) {
                match shared
                    .iter_mut()
                    .find(|(_, l, x, _)| *l == label && (&x.cause, &x.fix) == (&e.cause, &e.fix))
                {
                    Some((steps, ..)) => {
                        if !steps.contains(&s.step) {
                            steps.push(s.step);
                        }
                    }
                    None => shared.push((vec![s.step], label.to_string(), e, s.tone())),
                }
            }
        }
        for (steps, label, e, tone) in shared {
            v.blank().line(
                Line::from(format!("{} {label}: ", steps.join(", "))).then(e.cause.clone(), tone),
            );
            if !e.fix.is_empty() {
                v.line(format!("  fix: {}", e.fix));
            }
        }
        if let Some(c) = &self.capture {
            v.extend(c.view());
        }
        if self.interrupted {
            v.blank().line("interrupted: the walk stopped early");
        }
        v
    }
}

impl Evidence {
    /// The packets of the walk, one line each, then one evidence line per conversation; the conversations
    /// themselves as data (CSV). Without a capture, why.
    fn view(&self) -> View<'static> {
        let mut v = View::new();
        v.blank();
        if let Some(e) = &self.explanation {
            v.line(Line::from("capture: not possible: ").then(e.sentence(), Tone::Warn));
            return v;
        }
        v.line(format!("capture ({}):", self.filter));
        for l in &self.packets {
            v.line(format!("  {l}"));
        }
        for e in &self.evidence {
            v.line(format!("evidence: {e}"));
        }
        for b in crate::capture::conversations_view(&self.flows).blocks {
            if let Block::Table(t) = b {
                v.table(t.data_only());
            }
        }
        v
    }
}

impl DiagnoseReport {
    /// The verdict row's words: works, fails at a step and why, or interrupted.
    fn verdict_cell(&self) -> (String, Tone) {
        if self.verdict == Verdict::Interrupted {
            let at = self
                .failed_step
                .as_deref()
                .map(|s| format!(" during {s}"))
                .unwrap_or_default();
            (format!("interrupted (Ctrl-C){at}"), Tone::Warn)
        } else if self.ok && self.target == MACHINE {
            ("ok: no problem found".into(), Tone::Good)
        } else if self.ok {
            ("ok: works end to end".into(), Tone::Good)
        } else {
            (
                format!(
                    "FAIL at {}: {}",
                    self.failed_step.as_deref().unwrap_or("?"),
                    self.verdict
                ),
                Tone::Bad,
            )
        }
    }
}

impl Step {
    fn tone(&self) -> Tone {
        match self.status {
            _ if self.warning && self.status.is_failure() => Tone::Warn,
            v => Tone::of(v),
        }
    }
}
