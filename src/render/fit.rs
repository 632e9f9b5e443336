//! Tables, lines and key/value lists laid out for a terminal of a given width, as ss and fd do: columns that
//! must not break (addresses, ports, states, numbers: [`Fit::Keep`]) keep their full width; free text
//! ([`Fit::Wrap`]) wraps at word boundaries inside its column, or when the column would be too narrow to read
//! moves to a line of its own under the row; [`Fit::Cut`] text is cut with `…`. When the unbreakable columns
//! alone are too wide, columns marked optional are hidden (right to left, and the table says which), and as a
//! last resort the columns are set on two or more aligned lines per row — each cell always whole.
//!
//! Piped output never comes here: it stays stable and unwrapped (see `text.rs`).

use std::io::{self, Write};

use unicode_width::UnicodeWidthChar;

use super::view::{Align, Fit, Table, Tone};

/// A free-text column narrower than this moves to a line of its own instead.
const MIN_FREE: usize = 20;
/// Indentation of a free-text line under its row, and of a row's second band.
const INDENT: usize = 4;
const GAP: usize = 2;

/// How a table is set at one width.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    /// The columns set in the row, each with its width, in bands (a band is one line of the row).
    bands: Vec<Vec<(usize, usize)>>,
    /// Free-text columns set on lines of their own under the row.
    own_line: Vec<usize>,
    /// Optional columns left out at this width.
    hidden: Vec<usize>,
}

fn natural_widths(t: &Table) -> Vec<usize> {
    let cols = t.columns();
    let mut nat: Vec<usize> = cols.iter().map(|c| width(&c.name)).collect();
    if t.has_multiline_cells() {
        for row in t.rows() {
            for (c, cell) in row.enumerate() {
                let w = cell.text.lines().map(width).max().unwrap_or(0);
                nat[c] = nat[c].max(w);
            }
        }
    } else {
        for (i, w) in t.widths().iter().enumerate() {
            let c = i % cols.len();
            nat[c] = nat[c].max(*w as usize);
        }
    }
    nat
}

/// The widest cell of column `c` (header not counted).
fn cell_max(t: &Table, c: usize) -> usize {
    let n = t.columns().len();
    t.widths()
        .iter()
        .skip(c)
        .step_by(n.max(1))
        .map(|w| *w as usize)
        .max()
        .unwrap_or(0)
}

fn span(ws: &[usize]) -> usize {
    ws.iter().sum::<usize>() + GAP * ws.len().saturating_sub(1)
}

/// Chooses widths, hidden columns, own-line columns and bands for `width` terminal columns.
fn plan(t: &Table, width: usize) -> Plan {
    let cols = t.columns();
    let nat = natural_widths(t);
    let width = width.max(20);
    // A free-text column with nothing in it (no row has a detail) is left out when space is short.
    let empty_free = |c: usize| cols[c].fit != Fit::Keep && cell_max(t, c) == 0;
    let mut shown: Vec<usize> = (0..cols.len()).collect();
    if span(&nat) > width.max(20) {
        shown.retain(|&c| !empty_free(c));
    }
    let mut own_line = Vec::new();
    let mut hidden = Vec::new();
    let is_free = |c: usize| cols[c].fit != Fit::Keep;
    loop {
        let ws: Vec<usize> = shown.iter().map(|&c| nat[c]).collect();
        if span(&ws) <= width {
            let bands = vec![shown.iter().map(|&c| (c, nat[c])).collect()];
            return Plan {
                bands,
                own_line,
                hidden,
            };
        }
        let fixed: Vec<usize> = shown
            .iter()
            .filter(|&&c| !is_free(c))
            .map(|&c| nat[c])
            .collect();
        let free: Vec<usize> = shown.iter().copied().filter(|&c| is_free(c)).collect();
        let gaps = GAP * shown.len().saturating_sub(1);
        let room = width.saturating_sub(fixed.iter().sum::<usize>() + gaps);
        if !free.is_empty() {
            // Water-filling: narrow free columns keep their width, the rest share what is left.
            let mut order = free.clone();
            order.sort_by_key(|&c| nat[c]);
            let mut left = room;
            let mut given = Vec::new();
            for (i, &c) in order.iter().enumerate() {
                let share = left / (order.len() - i);
                let w = nat[c].min(share);
                given.push((c, w));
                left -= w;
            }
            let too_narrow: Vec<usize> = given
                .iter()
                .filter(|&&(c, w)| w < nat[c].min(MIN_FREE).max(width_of_name(t, c)))
                .map(|&(c, _)| c)
                .collect();
            if too_narrow.is_empty() {
                let bands = vec![shown
                    .iter()
                    .map(|&c| {
                        let w = given.iter().find(|g| g.0 == c).map_or(nat[c], |g| g.1);
                        (c, w)
                    })
                    .collect()];
                return Plan {
                    bands,
                    own_line,
                    hidden,
                };
            }
            // Optional columns give way first when that is enough (an inode number matters less than the
            // program or the cause); otherwise they stay and the free text takes a line of its own.
            let optional: usize = shown
                .iter()
                .filter(|&&c| cols[c].optional)
                .map(|&c| nat[c] + GAP)
                .sum();
            let need: usize = too_narrow
                .iter()
                .map(|&c| nat[c].min(MIN_FREE).max(width_of_name(t, c)))
                .sum::<usize>()
                + free
                    .iter()
                    .filter(|c| !too_narrow.contains(c))
                    .map(|&c| given.iter().find(|g| g.0 == c).map_or(0, |g| g.1))
                    .sum::<usize>();
            if optional > 0 && room + optional >= need {
                if let Some(pos) = shown.iter().rposition(|&c| cols[c].optional) {
                    hidden.push(shown.remove(pos));
                    continue;
                }
            }
            // Then the widest of them goes to its own line; try again.
            let c = *too_narrow
                .iter()
                .max_by_key(|&&c| nat[c])
                .unwrap_or(&free[0]);
            shown.retain(|&x| x != c);
            own_line.push(c);
            continue;
        }
        // Only unbreakable columns left and still too wide: hide optional ones, right to left.
        if let Some(pos) = shown.iter().rposition(|&c| cols[c].optional) {
            hidden.push(shown.remove(pos));
            continue;
        }
        // Last resort: bands of whole cells, each band one line of the row, aligned across rows.
        let mut bands: Vec<Vec<(usize, usize)>> = vec![Vec::new()];
        let mut used = 0;
        for &c in &shown {
            let w = nat[c];
            let band = bands.last().map_or(0, Vec::len);
            let indent = if bands.len() > 1 { INDENT } else { 0 };
            let need = if band == 0 { indent + w } else { GAP + w };
            if band > 0 && used + need > width {
                bands.push(vec![(c, w)]);
                used = INDENT + w;
            } else {
                if let Some(b) = bands.last_mut() {
                    b.push((c, w));
                }
                used += need;
            }
        }
        hidden.reverse();
        return Plan {
            bands,
            own_line,
            hidden,
        };
    }
}

fn width_of_name(t: &Table, c: usize) -> usize {
    width(&t.columns()[c].name)
}

/// Cuts `text` to `w` columns, ending with `…` when something was cut.
pub(super) fn cut(text: &str, w: usize) -> String {
    if width(text) <= w {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let cw = ch.width().unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(ch);
        used += cw;
    }
    out.push('…');
    out
}

/// Wraps `text` at spaces into lines of at most `w` columns; a word longer than `w` is broken (free text only).
pub(super) fn wrap(text: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut used = 0;
        for word in para.split(' ').filter(|s| !s.is_empty()) {
            let ww = width(word);
            if used > 0 && used + 1 + ww > w {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            if ww > w {
                // A word wider than the whole line: break it where it must.
                for ch in word.chars() {
                    let cw = ch.width().unwrap_or(0);
                    if used + cw > w {
                        lines.push(std::mem::take(&mut line));
                        used = 0;
                    }
                    line.push(ch);
                    used += cw;
                }
                continue;
            }
            if used > 0 {
                line.push(' ');
                used += 1;
            }
            line.push_str(word);
            used += ww;
        }
        lines.push(line);
    }
    lines
}

/// Writes a line of toned parts wrapped at spaces to `width` columns, continuation lines indented by two, so a
/// summary never breaks inside a word (`unrea` / `chable`).
pub(super) fn write_wrapped_line(
    spans: &[(String, Tone)],
    width: usize,
    color: bool,
    w: &mut dyn Write,
) -> io::Result<()> {
    // Words with their tone; a word may be made of parts of several spans (`open:` + `3`).
    let mut words: Vec<Vec<(String, Tone)>> = vec![Vec::new()];
    for (text, tone) in spans {
        for (i, piece) in text.split(' ').enumerate() {
            if i > 0 {
                words.push(Vec::new());
            }
            if !piece.is_empty() {
                if let Some(last) = words.last_mut() {
                    last.push((piece.to_string(), *tone));
                }
            }
        }
    }
    let width = width.max(20);
    let mut line = String::new();
    let mut used = 0;
    for word in words.iter().filter(|w| !w.is_empty()) {
        let ww: usize = word.iter().map(|(t, _)| self::width(t)).sum();
        if used > 0 && used + 1 + ww > width {
            writeln!(w, "{line}")?;
            line = "  ".to_string();
            used = 2;
        } else if used > 0 {
            line.push(' ');
            used += 1;
        }
        for (t, tone) in word {
            line.push_str(&paint(t, *tone, color));
        }
        used += ww;
    }
    writeln!(w, "{line}")
}

/// The lines of one cell set in a column `w` wide.
fn cell_lines(text: &str, fit: Fit, w: usize) -> Vec<String> {
    match fit {
        Fit::Keep => text.split('\n').map(str::to_string).collect(),
        Fit::Wrap => wrap(text, w),
        Fit::Cut => text.split('\n').map(|l| cut(l, w)).collect(),
    }
}

/// Writes a table laid out for a terminal `width` columns wide.
pub(super) fn write_table(
    t: &Table,
    width: usize,
    color: bool,
    w: &mut dyn Write,
) -> io::Result<()> {
    let p = plan(t, width);
    let cols = t.columns();
    let mut out = Vec::with_capacity(4096);
    // Header: the names, bold with color.
    for (b, band) in p.bands.iter().enumerate() {
        let mut line = String::new();
        if b > 0 {
            line.push_str(&" ".repeat(INDENT));
        }
        for (i, &(c, cw)) in band.iter().enumerate() {
            let name = cut(&cols[c].name, cw);
            let pad = cw.saturating_sub(self::width(&name));
            if i > 0 {
                line.push_str("  ");
            }
            let (l, r) = if cols[c].align == Align::Right {
                (pad, 0)
            } else {
                (0, pad)
            };
            line.push_str(&" ".repeat(l));
            if color {
                line.push_str(&format!("\x1b[1m{name}\x1b[0m"));
            } else {
                line.push_str(&name);
            }
            line.push_str(&" ".repeat(r));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    for r in 0..t.row_count() {
        let row: Vec<_> = t.row(r).collect();
        for (b, band) in p.bands.iter().enumerate() {
            let set: Vec<(Vec<String>, usize, bool, Tone)> = band
                .iter()
                .map(|&(c, cw)| {
                    (
                        cell_lines(row[c].text, cols[c].fit, cw),
                        cw,
                        cols[c].align == Align::Right,
                        row[c].tone,
                    )
                })
                .collect();
            let height = set.iter().map(|s| s.0.len()).max().unwrap_or(1).max(1);
            for k in 0..height {
                let mut line = String::new();
                if b > 0 {
                    line.push_str(&" ".repeat(INDENT));
                }
                for (i, (lines, cw, right, tone)) in set.iter().enumerate() {
                    let text = lines.get(k).map_or("", String::as_str);
                    let pad = cw.saturating_sub(self::width(text));
                    if i > 0 {
                        line.push_str("  ");
                    }
                    if *right {
                        line.push_str(&" ".repeat(pad));
                    }
                    line.push_str(&paint(text, *tone, color));
                    if !*right {
                        line.push_str(&" ".repeat(pad));
                    }
                }
                writeln!(out, "{}", line.trim_end())?;
            }
        }
        for &c in &p.own_line {
            let text = row[c].text;
            if text.trim().is_empty() || text == "-" {
                continue;
            }
            let lines = match cols[c].fit {
                Fit::Cut => vec![cut(text, width.saturating_sub(INDENT))],
                _ => wrap(text, width.saturating_sub(INDENT)),
            };
            for l in lines {
                writeln!(
                    out,
                    "{}{}",
                    " ".repeat(INDENT),
                    paint(&l, row[c].tone, color)
                )?;
            }
        }
    }
    if !p.hidden.is_empty() {
        let names: Vec<&str> = p.hidden.iter().map(|&c| cols[c].name.as_ref()).collect();
        let note = format!(
            "(hidden at {width} columns: {}; wider terminal, pipe or --json for all)",
            names.join(", ")
        );
        for l in wrap(&note, width) {
            writeln!(out, "{}", paint(&l, Tone::Dim, color))?;
        }
    }
    w.write_all(&out)
}

/// Text colored by tone, when `color` is on.
pub(super) fn paint(text: &str, tone: Tone, color: bool) -> String {
    let code = match tone {
        _ if !color || text.is_empty() => return text.to_string(),
        Tone::Good => "32",
        Tone::Bad => "31",
        Tone::Warn => "33",
        Tone::Dim => "90",
        Tone::Plain => return text.to_string(),
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub(super) fn width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        unicode_width::UnicodeWidthStr::width(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::view::Column;

    fn render(t: &Table, w: usize) -> String {
        let mut buf = Vec::new();
        write_table(t, w, false, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn wide() -> Table {
        let mut t = Table::new([
            Column::left("ADDRESS"),
            Column::right("PORT"),
            Column::left("STATE"),
            Column::text("DETAIL"),
        ]);
        t.cell("[2001:db8:ffff:ffff:ffff:ffff:ffff:1]")
            .num(443)
            .cell("filtered")
            .cell("no answer within 1 s: a firewall is probably dropping the packets on the way or at the host");
        t.cell("127.0.0.1").num(22).cell("open").cell("");
        t
    }

    #[test]
    fn fits_untouched_when_wide_enough() {
        let s = render(&wide(), 200);
        assert_eq!(s.lines().count(), 3, "{s}");
        assert!(s.contains("firewall is probably dropping the packets on the way"));
    }

    #[test]
    fn free_text_wraps_in_its_column_and_the_rest_stays_whole() {
        let s = render(&wide(), 100);
        for l in s.lines() {
            assert!(width(l) <= 100, "{l:?}");
        }
        assert!(s.contains("[2001:db8:ffff:ffff:ffff:ffff:ffff:1]"));
        assert!(s.contains(" filtered "));
        assert!(s.contains("firewall"));
    }

    #[test]
    fn narrow_free_text_moves_to_its_own_line() {
        let s = render(&wide(), 60);
        for l in s.lines() {
            assert!(width(l) <= 60, "{l:?}");
        }
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].starts_with("ADDRESS") && !lines[0].contains("DETAIL"));
        assert!(
            lines[1].contains("[2001:db8:ffff:ffff:ffff:ffff:ffff:1]")
                && lines[1].contains("filtered")
        );
        assert!(lines[2].starts_with("    no answer within 1 s"), "{s}");
    }

    #[test]
    fn optional_columns_hide_then_rows_set_in_bands() {
        let mut t = Table::new([
            Column::left("LOCAL"),
            Column::left("PEER"),
            Column::right("INODE").optional(),
        ]);
        t.cell("[::ffff:10.77.0.2]:80")
            .cell("[::ffff:10.77.0.3]:41234")
            .num(1_234_567);
        let s = render(&t, 50);
        assert!(s.contains("hidden at 50 columns: INODE"), "{s}");
        assert!(!s.contains("1234567"));
        let s = render(&t, 30);
        for l in s.lines() {
            assert!(width(l) <= 30, "{l:?}");
        }
        assert!(s.contains("[::ffff:10.77.0.2]:80") && s.contains("[::ffff:10.77.0.3]:41234"));
    }

    #[test]
    fn cut_and_wrap() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
    }
}
