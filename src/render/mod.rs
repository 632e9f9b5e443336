//! One place that turns reports into text, JSON or CSV, and reports into exit codes.
//!
//! A report implements [`Report`]: its `Serialize` form is the JSON, [`Report::view`] gives the rows and lines
//! every text format draws from (see [`view`]), and [`Report::outcome`] says how the run went, which decides
//! both the exit code and the JSON's top-level `"ok"`. [`Output::print`] writes a report and returns that
//! outcome, so no subcommand maps reports to exit codes itself.
//!
//! On a terminal tables wrap to its width; piped, they are stable unwrapped text so scripts and tests can read
//! them. Color follows `--color`: `always`/`never` win, `auto` means stdout is a terminal and `NO_COLOR` is unset.
//! JSON and CSV are never colored. Writes never panic on a closed pipe: the broken-pipe error travels up to
//! `main`, which exits 0 quietly.

mod csv;
mod fit;
pub mod live;
mod text;
pub mod view;

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use crate::exit::Outcome;
pub use view::{Align, Block, Column, Fit, Line, Pairs, Shown, Table, Tone, View};

/// How reports are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// When to color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// A finished run's report: JSON from `Serialize`, text and CSV from [`Report::view`], so every format carries
/// the same content.
pub trait Report: Serialize {
    /// How the run went: [`Outcome::Success`] when every target answered as asked. Decides the exit code and
    /// the JSON's top-level `"ok"`.
    fn outcome(&self) -> Outcome;

    /// What text and CSV show: tables (with headers given once), key/value lists and lines.
    fn view(&self) -> View<'_>;
}

/// A report as one JSON document: `"ok"` first (true exactly when the exit code is 0), then the report's fields.
#[derive(Serialize)]
struct Document<'a, R: Serialize> {
    ok: bool,
    #[serde(flatten)]
    report: &'a R,
}

/// The output settings of one run.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    pub color: bool,
    pub tty: bool,
    /// The width tables are laid out for: the terminal's, or `NETDIAG_WIDTH` (which lays out for a terminal
    /// of that width even when piped, for tests and screenshots); `None` when piped.
    pub width: Option<usize>,
}

/// The terminal width to lay out for: `NETDIAG_WIDTH` when set to a number, else stdout's terminal (or
/// `COLUMNS`, or 80) when stdout is one, else none (piped: stable unwrapped text).
pub fn layout_width(tty: bool) -> Option<usize> {
    if let Some(w) = std::env::var("NETDIAG_WIDTH")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|w| *w > 0)
    {
        return Some(w);
    }
    if !tty {
        return None;
    }
    let w = terminal_size::terminal_size_of(io::stdout())
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
        })
        .filter(|w| *w > 0)
        .unwrap_or(80);
    Some(w)
}

impl Output {
    /// Settings from the flags and the environment (`NO_COLOR`, whether stdout is a terminal).
    pub fn new(format: Format, color: ColorChoice) -> Output {
        let tty = io::stdout().is_terminal();
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = format == Format::Table
            && match color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => tty && !no_color_env,
            };
        Output {
            format,
            color,
            tty,
            width: layout_width(tty),
        }
    }

    /// Plain settings for tests: piped, no color.
    pub fn plain(format: Format) -> Output {
        Output {
            format,
            color: false,
            tty: false,
            width: None,
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// True for the human format: streamed lines (ping replies, server logs) belong on stdout only then.
    pub fn is_text(&self) -> bool {
        self.format == Format::Table
    }

    /// Writes a report to stdout in the chosen format and returns its outcome (the exit code to give).
    pub fn print<R: Report>(&self, report: &R) -> io::Result<Outcome> {
        let stdout = io::stdout();
        let mut w = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
        self.write(report, &mut w)?;
        w.flush()?;
        Ok(report.outcome())
    }

    /// Writes a report to any writer in the chosen format.
    pub fn write<R: Report>(&self, report: &R, w: &mut dyn Write) -> io::Result<()> {
        match self.format {
            Format::Json => {
                let doc = Document {
                    ok: report.outcome() == Outcome::Success,
                    report,
                };
                serde_json::to_writer_pretty(&mut *w, &doc).map_err(io::Error::from)?;
                writeln!(w)
            }
            Format::Table => text::write_view(&report.view(), self.color, self.width, w),
            Format::Csv => csv::write_view(&report.view(), w),
        }
    }

    /// Writes a view as text with these settings, whatever the format: for a screen redrawn while a run goes
    /// on (trace's live table), drawn from the same rows as the final report.
    pub fn write_text(&self, view: &View, w: &mut dyn Write) -> io::Result<()> {
        text::write_view(view, self.color, self.width, w)
    }

    /// Renders a report to a string (for tests).
    pub fn to_string<R: Report>(&self, report: &R) -> String {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write(report, &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Writes one line to stdout at once (for streaming output such as ping replies); text format only, so JSON
    /// and CSV stay one document.
    pub fn line(&self, text: &str) -> io::Result<()> {
        if !self.is_text() {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()
    }

    /// Text colored by tone (when color is on).
    pub fn paint(&self, text: &str, tone: Tone) -> String {
        fit::paint(text, tone, self.color)
    }
}

/// A report's text with every table laid out by comfy-table (piped, no color), to check the direct writer
/// against.
#[cfg(test)]
pub(crate) fn comfy_text<R: Report>(r: &R) -> String {
    let mut buf = Vec::new();
    let _ = text::write_view_via_comfy(&r.view(), false, None, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// True when an error (or any of its causes) is a broken pipe: the reader went away, which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Demo {
        rows: Vec<(String, u16)>,
        failed: bool,
    }

    impl Report for Demo {
        fn outcome(&self) -> Outcome {
            Outcome::all([!self.failed])
        }

        fn view(&self) -> View<'_> {
            let mut t = Table::new([Column::left("NAME"), Column::right("PORT")]);
            for (n, p) in &self.rows {
                t.cell_toned(n, Tone::Good).num(u64::from(*p));
            }
            let mut v = View::new();
            v.table(t);
            v
        }
    }

    fn demo(failed: bool) -> Demo {
        Demo {
            rows: vec![("http".into(), 80), ("https, tls".into(), 443)],
            failed,
        }
    }

    #[test]
    fn piped_table_is_stable_plain_text() {
        let s = Output::plain(Format::Table).to_string(&demo(false));
        assert_eq!(s, "NAME        PORT\nhttp          80\nhttps, tls   443\n");
        assert!(!s.contains('\x1b'));
    }

    #[test]
    fn json_has_the_same_content_and_ok_first() {
        let s = Output::plain(Format::Json).to_string(&demo(false));
        assert!(s.starts_with("{\n  \"ok\": true,"), "{s}");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["rows"][1][0], "https, tls");
        assert_eq!(v["rows"][1][1], 443);
        let v: serde_json::Value =
            serde_json::from_str(&Output::plain(Format::Json).to_string(&demo(true))).unwrap();
        assert_eq!(v["ok"], false);
    }

    #[test]
    fn csv_is_drawn_from_the_same_rows() {
        let s = Output::plain(Format::Csv).to_string(&demo(false));
        assert_eq!(s, "NAME,PORT\nhttp,80\n\"https, tls\",443\n");
    }

    #[test]
    fn color_only_when_asked() {
        let mut out = Output::plain(Format::Table);
        out.color = true;
        assert!(out.paint("x", Tone::Bad).contains("\x1b[31m"));
        assert_eq!(Output::plain(Format::Table).paint("x", Tone::Bad), "x");
    }

    #[test]
    fn broken_pipe_is_found_in_the_chain() {
        let e = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
