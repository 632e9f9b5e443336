//! Results as they happen, on a terminal: lines printed as results arrive (an open port, a host that answered)
//! and one progress line on stderr (done/total, rate, ETA, found so far) that is redrawn in place and erased
//! when the run ends or is interrupted. Piped output and `--json` never see any of it: they stay whole
//! documents.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// The live part of a run's output.
#[derive(Debug)]
pub struct Live {
    /// Lines as results arrive go to stdout (a terminal, text format).
    lines: bool,
    /// The progress line goes to stderr (a terminal).
    status: bool,
    shown: bool,
    width: usize,
    start: Instant,
}

impl Live {
    /// Live output for a run: result lines when stdout is a terminal and the format is text, a progress line
    /// when stderr is a terminal.
    pub fn new(out: &super::Output) -> Live {
        let lines = out.is_text() && out.tty;
        let status = io::stderr().is_terminal();
        let width = out.width.unwrap_or(80);
        Live {
            lines,
            status,
            shown: false,
            width,
            start: Instant::now(),
        }
    }

    /// True when result lines are printed as they arrive.
    pub fn streams(&self) -> bool {
        self.lines
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Prints a result line above the progress line.
    pub fn line(&mut self, text: &str) {
        if !self.lines {
            return;
        }
        self.clear();
        let mut o = io::stdout().lock();
        let _ = writeln!(o, "{text}");
        let _ = o.flush();
    }

    /// Draws the progress line (cut to the terminal's width, so it never wraps and can be erased).
    pub fn status(&mut self, text: &str) {
        if !self.status {
            return;
        }
        let text = super::fit::cut(text, self.width.saturating_sub(1));
        let mut e = io::stderr().lock();
        let _ = write!(e, "\r\x1b[K{text}");
        let _ = e.flush();
        self.shown = true;
    }

    /// Erases the progress line.
    pub fn clear(&mut self) {
        if self.shown {
            let mut e = io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
            self.shown = false;
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A progress line: `1,234/65,535 probes (2%)  5,123/s  ETA 12s  3 open`.
pub fn progress_text(done: usize, total: usize, elapsed: Duration, found: &str) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done as f64 / secs;
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    let eta = if done == 0 || done >= total {
        "-".to_string()
    } else {
        fmt_secs((total - done) as f64 / rate)
    };
    format!(
        "{}/{} ({pct}%)  {}/s  ETA {eta}  {found}",
        group(done),
        group(total),
        group(rate as usize)
    )
}

fn fmt_secs(s: f64) -> String {
    let s = s.ceil() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// 65535 as `65,535`.
fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_count_rate_eta_and_found() {
        let t = progress_text(1000, 65535, Duration::from_secs(2), "3 open");
        assert_eq!(t, "1,000/65,535 (1%)  500/s  ETA 2m10s  3 open");
        assert!(progress_text(5, 5, Duration::from_secs(1), "").contains("ETA -"));
    }
}
