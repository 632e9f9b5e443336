//! Views as text: tables, key/value lists and lines.
//!
//! On a terminal, or with color, tables go through comfy-table (colors, wrapping to the terminal's width, with
//! only the columns marked [`Fit::Wrap`] allowed to wrap). Piped with no color there is nothing to wrap or
//! color, and the same layout is written directly: comfy-table builds a styled cell per value and lays out
//! line by line, which took 369 ms for 20,000 socket rows against 27 ms for the direct writer (release build,
//! sockets' ignored `render_figures` test, on a busy 2-core machine). A test checks that both give the same
//! bytes.

use std::io::{self, Write};

use comfy_table::{presets, Attribute, CellAlignment, Color, ColumnConstraint, ContentArrangement};

use super::fit::{paint, width};
use super::view::{Align, Block, Fit, Line, Pairs, Shown, Table, Tone, View};

/// How text is written: with color, and for a terminal (wrapping to its width).
#[derive(Debug, Clone, Copy)]
struct Style {
    color: bool,
    /// The terminal's width when laying out for a terminal; `None` when piped.
    tty: Option<usize>,
}

/// Writes every block of a view that text shows.
pub(super) fn write_view(
    view: &View,
    color: bool,
    tty: Option<usize>,
    w: &mut dyn Write,
) -> io::Result<()> {
    write_blocks(view, Style { color, tty }, w, write_table)
}

/// [`write_view`] with every table through comfy-table, for tests of the direct writer.
#[cfg(test)]
pub(super) fn write_view_via_comfy(
    view: &View,
    color: bool,
    tty: Option<usize>,
    w: &mut dyn Write,
) -> io::Result<()> {
    write_blocks(view, Style { color, tty }, w, write_comfy)
}

type TableWriter = fn(&Table, Style, &mut dyn Write) -> io::Result<()>;

fn write_blocks(view: &View, out: Style, w: &mut dyn Write, table: TableWriter) -> io::Result<()> {
    for b in &view.blocks {
        match b {
            Block::Table(t) => {
                let hidden = t.shown() == Shown::DataOnly || (t.omits_when_empty() && t.is_empty());
                if !hidden {
                    table(t, out, w)?;
                }
            }
            Block::Pairs(p) => write_pairs(p, out, w)?,
            Block::Line(l) => write_line(l, out, w)?,
            Block::Blank => writeln!(w)?,
            Block::Bytes(b) => w.write_all(b)?,
        }
    }
    Ok(())
}

/// Writes a table: comfy-table on a terminal or with color (or for cells with line breaks), the direct
/// writer otherwise.
fn write_table(t: &Table, out: Style, w: &mut dyn Write) -> io::Result<()> {
    if let Some(width) = out.tty {
        return super::fit::write_table(t, width, out.color, w);
    }
    if out.color || t.has_multiline_cells() {
        write_comfy(t, out, w)
    } else {
        write_direct(t, w)
    }
}

/// netdiag's table layout without comfy-table: each column as wide as its widest cell, two spaces after each,
/// `Align::Right` columns right-aligned, trailing spaces trimmed, a header line first.
fn write_direct(t: &Table, w: &mut dyn Write) -> io::Result<()> {
    let cols = t.columns();
    let mut widths: Vec<usize> = cols.iter().map(|c| width(&c.name)).collect();
    for (i, w) in t.widths().iter().enumerate() {
        let c = i % cols.len();
        widths[c] = widths[c].max(*w as usize);
    }
    let mut w = io::BufWriter::with_capacity(256 * 1024, w);
    let mut line: Vec<u8> = Vec::with_capacity(256);
    let put = |line: &mut Vec<u8>, c: usize, text: &str, cw: usize, right: bool| {
        let pad = widths[c].saturating_sub(cw);
        if right {
            line.resize(line.len() + pad, b' ');
            line.extend_from_slice(text.as_bytes());
        } else {
            line.extend_from_slice(text.as_bytes());
            line.resize(line.len() + pad, b' ');
        }
        line.extend_from_slice(b"  ");
    };
    let mut flush = |line: &mut Vec<u8>| -> io::Result<()> {
        let end = line.iter().rposition(|b| *b != b' ').map_or(0, |i| i + 1);
        line.truncate(end);
        line.push(b'\n');
        w.write_all(line)?;
        line.clear();
        Ok(())
    };
    for (c, col) in cols.iter().enumerate() {
        put(&mut line, c, &col.name, width(&col.name), false);
    }
    flush(&mut line)?;
    for row in t.rows() {
        for (c, cell) in row.enumerate() {
            put(
                &mut line,
                c,
                cell.text,
                cell.width,
                cols[c].align == Align::Right,
            );
        }
        flush(&mut line)?;
    }
    w.flush()
}

fn color_of(tone: Tone) -> Option<Color> {
    match tone {
        Tone::Good => Some(Color::Green),
        Tone::Bad => Some(Color::Red),
        Tone::Warn => Some(Color::Yellow),
        Tone::Dim => Some(Color::DarkGrey),
        Tone::Plain => None,
    }
}

/// The same table through comfy-table: colors, and on a terminal wrapping of the free-text columns.
fn write_comfy(t: &Table, out: Style, w: &mut dyn Write) -> io::Result<()> {
    let mut ct = comfy_table::Table::new();
    ct.load_preset(presets::NOTHING);
    if let Some(width) = out.tty {
        ct.set_content_arrangement(ContentArrangement::Dynamic);
        ct.set_width(u16::try_from(width).unwrap_or(u16::MAX));
    } else {
        ct.set_content_arrangement(ContentArrangement::Disabled);
        ct.force_no_tty();
    }
    if out.color {
        ct.enforce_styling();
    }
    ct.set_header(
        t.columns()
            .iter()
            .map(|c| comfy_table::Cell::new(&c.name).add_attribute(Attribute::Bold)),
    );
    for (col, spec) in ct.column_iter_mut().zip(t.columns()) {
        col.set_padding((0, 2));
        if out.tty.is_some() && spec.fit == Fit::Keep {
            // Only free text wraps: an address or a port cut in two is wrong, not narrow.
            col.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    for row in t.rows() {
        ct.add_row(row.zip(t.columns()).map(|(cell, spec)| {
            let mut c = comfy_table::Cell::new(cell.text);
            if spec.align == Align::Right {
                c = c.set_alignment(CellAlignment::Right);
            }
            match color_of(cell.tone) {
                Some(color) if out.color => c.fg(color),
                _ => c,
            }
        }));
    }
    for line in ct.lines() {
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `key  value` lines, keys aligned (bold with color).
fn write_pairs(p: &Pairs, out: Style, w: &mut dyn Write) -> io::Result<()> {
    let kw = p.rows.iter().map(|(k, _, _)| width(k)).max().unwrap_or(0);
    for (k, v, tone) in &p.rows {
        let pad = " ".repeat(kw - width(k));
        let key = if out.color {
            format!("\x1b[1m{k}\x1b[0m")
        } else {
            k.to_string()
        };
        let room = out.tty.map(|t| t.saturating_sub(kw + 2));
        match room {
            Some(room) if room >= 20 && width(v) > room => {
                // On a terminal a long value wraps at words under itself, the key column kept clear.
                for (i, part) in super::fit::wrap(v, room).iter().enumerate() {
                    let lead = if i == 0 {
                        format!("{key}{pad}  ")
                    } else {
                        " ".repeat(kw + 2)
                    };
                    let line = format!("{lead}{}", paint(part, *tone, out.color));
                    writeln!(w, "{}", line.trim_end())?;
                }
            }
            _ => {
                let line = format!("{key}{pad}  {}", paint(v, *tone, out.color));
                writeln!(w, "{}", line.trim_end())?;
            }
        }
    }
    Ok(())
}

fn write_line(l: &Line, out: Style, w: &mut dyn Write) -> io::Result<()> {
    if let Some(tw) = out.tty {
        let total: usize = l.spans.iter().map(|(t, _)| width(t)).sum();
        if total > tw && !l.spans.iter().any(|(t, _)| t.contains('\n')) {
            return super::fit::write_wrapped_line(&l.spans, tw, out.color, w);
        }
    }
    for (text, tone) in &l.spans {
        w.write_all(paint(text, *tone, out.color).as_bytes())?;
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::view::Column;

    const PLAIN: Style = Style {
        color: false,
        tty: None,
    };

    fn sample(n: u64) -> Table {
        let mut t = Table::new([
            Column::left("NAME"),
            Column::right("PORT"),
            Column::text("NOTE"),
        ]);
        for i in 0..n {
            t.cell(format!("host-{i}"))
                .num(i * 997 % 65536)
                .cell_toned(if i % 3 == 0 { "ünïcode" } else { "" }, Tone::Dim);
        }
        t
    }

    fn comfy_plain(t: &Table) -> String {
        let mut buf = Vec::new();
        write_comfy(t, PLAIN, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn direct_writer_matches_comfy_table_byte_for_byte() {
        for n in [0, 1, 7, 60] {
            let t = sample(n);
            let mut buf = Vec::new();
            write_direct(&t, &mut buf).unwrap();
            assert_eq!(String::from_utf8(buf).unwrap(), comfy_plain(&t), "{n} rows");
        }
    }

    #[test]
    fn piped_table_is_stable_plain_text() {
        let t = sample(2);
        let mut v = View::new();
        v.table(t);
        let mut buf = Vec::new();
        write_view(&v, false, None, &mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "NAME    PORT  NOTE\nhost-0     0  ünïcode\nhost-1   997\n"
        );
    }

    #[test]
    fn pairs_lines_and_hidden_tables() {
        let mut p = Pairs::new();
        p.add("url", "http://x/").add("address", "");
        let mut v = View::new();
        v.pairs(p)
            .blank()
            .line(Line::toned("ok", Tone::Good).then(": fine", Tone::Plain))
            .table(Table::new([Column::left("A")]).omit_when_empty())
            .table(sample(1).data_only())
            .bytes(&b"raw\n"[..]);
        let mut buf = Vec::new();
        write_view(&v, false, None, &mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "url      http://x/\naddress\n\nok: fine\nraw\n"
        );
        let mut buf = Vec::new();
        write_view(&v, true, None, &mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains("\x1b[32mok\x1b[0m"), "{s:?}");
    }
}
