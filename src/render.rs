//! One place that turns reports into comfy-table tables or JSON.
//!
//! On a terminal tables wrap to its width; piped, they are stable unwrapped text so scripts and tests can read
//! them. Color follows `--color`: `always`/`never` win, `auto` means stdout is a terminal and `NO_COLOR` is unset.
//! JSON is never colored. Writes go through [`Output`], which never panics on a closed pipe: the broken-pipe
//! error travels up to `main`, which exits 0 quietly.

use std::io::{self, IsTerminal, Write};

use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
use serde::Serialize;

/// How reports are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// When to color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The meaning of a cell, which decides its color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Dim,
    Plain,
}

/// A report that can render itself as text. JSON comes from `Serialize`, so both carry the same content.
pub trait Report: Serialize {
    /// Writes the human-readable form: tables and short lines.
    fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()>;
}

/// The output settings of one run.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    pub color: bool,
    pub tty: bool,
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
        Output { format, color, tty }
    }

    /// Plain settings for tests: piped, no color.
    pub fn plain(format: Format) -> Output {
        Output {
            format,
            color: false,
            tty: false,
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Writes a report to stdout in the chosen format.
    pub fn print<R: Report + ?Sized>(&self, report: &R) -> io::Result<()> {
        let stdout = io::stdout();
        let mut w = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
        self.write(report, &mut w)?;
        w.flush()
    }

    /// Writes a report to any writer in the chosen format.
    pub fn write<R: Report + ?Sized>(&self, report: &R, w: &mut dyn Write) -> io::Result<()> {
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut *w, report).map_err(io::Error::from)?;
                writeln!(w)
            }
            Format::Table => report.render_text(self, w),
        }
    }

    /// Renders a report to a string (for tests and for reports embedded in others).
    pub fn to_string<R: Report + ?Sized>(&self, report: &R) -> String {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write(report, &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Writes one line to stdout at once (for streaming output such as ping replies); a no-op in JSON mode.
    pub fn line(&self, text: &str) -> io::Result<()> {
        if self.is_json() {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()
    }

    /// A new table with netdiag's look: no borders, a header, two spaces between columns.
    pub fn table<S: AsRef<str>>(&self, headers: &[S]) -> Table {
        let mut t = Table::new();
        t.load_preset(presets::NOTHING);
        if self.tty {
            t.set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            t.set_content_arrangement(ContentArrangement::Disabled);
            t.force_no_tty();
        }
        if self.color {
            t.enforce_styling();
        }
        t.set_header(headers.iter().map(|h| {
            self.cell(h.as_ref(), Tone::Plain)
                .add_attribute(Attribute::Bold)
        }));
        for col in t.column_iter_mut() {
            col.set_padding((0, 2));
        }
        t
    }

    /// A cell colored by its tone (when color is on).
    pub fn cell(&self, text: impl std::fmt::Display, tone: Tone) -> Cell {
        let c = Cell::new(text);
        if !self.color {
            return c;
        }
        match tone {
            Tone::Good => c.fg(Color::Green),
            Tone::Bad => c.fg(Color::Red),
            Tone::Warn => c.fg(Color::Yellow),
            Tone::Dim => c.fg(Color::DarkGrey),
            Tone::Plain => c,
        }
    }

    /// A right-aligned cell, for numbers.
    pub fn num(&self, text: impl std::fmt::Display) -> Cell {
        Cell::new(text).set_alignment(CellAlignment::Right)
    }

    /// Text colored by tone, for lines outside tables.
    pub fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Dim => "90",
            Tone::Plain => return text.to_string(),
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// Writes a table with trailing spaces trimmed from every line.
pub fn write_table(w: &mut dyn Write, table: &Table) -> io::Result<()> {
    if table.row_count() == 0 && table.header().is_none() {
        return Ok(());
    }
    for line in table.lines() {
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

/// A key/value table (two columns, no header), for summaries.
pub fn kv_table<'a>(out: &Output, rows: impl IntoIterator<Item = (&'a str, String)>) -> Table {
    let mut t = out.table::<&str>(&[]);
    t.set_header(Vec::<Cell>::new());
    for (k, v) in rows {
        t.add_row(vec![
            Cell::new(k).add_attribute(Attribute::Bold),
            Cell::new(v),
        ]);
    }
    // The columns exist only now that there are rows: give them netdiag's padding.
    for col in t.column_iter_mut() {
        col.set_padding((0, 2));
    }
    t
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
    }

    impl Report for Demo {
        fn render_text(&self, out: &Output, w: &mut dyn Write) -> io::Result<()> {
            let mut t = out.table(&["NAME", "PORT"]);
            for (n, p) in &self.rows {
                t.add_row(vec![out.cell(n, Tone::Good), out.num(p)]);
            }
            write_table(w, &t)
        }
    }

    fn demo() -> Demo {
        Demo {
            rows: vec![("http".into(), 80), ("https".into(), 443)],
        }
    }

    #[test]
    fn piped_table_is_stable_plain_text() {
        let s = Output::plain(Format::Table).to_string(&demo());
        assert_eq!(s, "NAME   PORT\nhttp     80\nhttps   443\n");
        assert!(!s.contains('\x1b'));
    }

    #[test]
    fn json_has_the_same_content() {
        let s = Output::plain(Format::Json).to_string(&demo());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["rows"][1][0], "https");
        assert_eq!(v["rows"][1][1], 443);
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
