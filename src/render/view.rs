//! The row model: what a report shows, given once, for every text format to draw.
//!
//! A [`View`] is a list of blocks: tables, key/value lists, lines and raw bytes. A [`Table`] is columns (with
//! what a layout needs: alignment, and whether the column may wrap) and cells. The terminal renderer, the
//! piped writer and the CSV writer all read the same view, so adding a format touches the renderers only.
//!
//! A table keeps every cell in one string (cell `i` is `text[ends[i-1]..ends[i]]`) with its display width and
//! tone: the sockets table has 200,000 cells, and one allocation per cell would be most of its cost.

use std::borrow::Cow;
use std::fmt;

use unicode_width::UnicodeWidthStr;

use crate::explain::Verdict;

/// The meaning of a cell or a piece of a line, which decides its color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Dim,
    Plain,
}

impl Tone {
    /// The tone of a status: ok is good, a failure bad, interrupted a warning, skipped dim.
    pub fn of(v: Verdict) -> Tone {
        match v {
            Verdict::Ok => Tone::Good,
            Verdict::Interrupted => Tone::Warn,
            Verdict::Skipped => Tone::Dim,
            _ => Tone::Bad,
        }
    }
}

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    /// Numbers: right-aligned.
    Right,
}

/// What a layout may do to a column that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Never break: addresses, ports, states, numbers.
    Keep,
    /// Free text (a cause, a description, a detail): may wrap or be cut to fit a narrow terminal.
    Wrap,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: Cow<'static, str>,
    pub align: Align,
    pub fit: Fit,
}

impl Column {
    /// A left-aligned column that never breaks (names, addresses, states).
    pub fn left(name: impl Into<Cow<'static, str>>) -> Column {
        Column {
            name: name.into(),
            align: Align::Left,
            fit: Fit::Keep,
        }
    }

    /// A right-aligned column that never breaks (numbers, durations, ports).
    pub fn right(name: impl Into<Cow<'static, str>>) -> Column {
        Column {
            align: Align::Right,
            ..Column::left(name)
        }
    }

    /// A left-aligned column of free text that may wrap.
    pub fn text(name: impl Into<Cow<'static, str>>) -> Column {
        Column {
            fit: Fit::Wrap,
            ..Column::left(name)
        }
    }
}

/// Which formats show a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Text and CSV: the report's rows.
    Everywhere,
    /// Text only: a presentation table (HTTP headers, a timing breakdown) that is not the report's data.
    TextOnly,
    /// CSV only: the rows of a report whose text says the same in prose (ping's one-host statistics).
    DataOnly,
}

/// A table: columns, then cells row by row.
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<Column>,
    text: String,
    ends: Vec<usize>,
    widths: Vec<u32>,
    tones: Vec<Tone>,
    shown: Shown,
    omit_empty: bool,
    multiline: bool,
}

/// One cell as the renderers read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell<'t> {
    pub text: &'t str,
    /// Display width in terminal columns.
    pub width: usize,
    pub tone: Tone,
}

impl Table {
    pub fn new(columns: impl IntoIterator<Item = Column>) -> Table {
        Table {
            columns: columns.into_iter().collect(),
            text: String::new(),
            ends: Vec::new(),
            widths: Vec::new(),
            tones: Vec::new(),
            shown: Shown::Everywhere,
            omit_empty: false,
            multiline: false,
        }
    }

    /// Room for `rows` rows of about `bytes_per_row` bytes, so a large table grows once.
    pub fn reserve(&mut self, rows: usize, bytes_per_row: usize) {
        let cells = rows * self.columns.len();
        self.text.reserve(rows * bytes_per_row);
        self.ends.reserve(cells);
        self.widths.reserve(cells);
        self.tones.reserve(cells);
    }

    /// Shows the table in text only (not in CSV).
    pub fn text_only(mut self) -> Table {
        self.shown = Shown::TextOnly;
        self
    }

    /// Shows the table in CSV only (text says the same in prose).
    pub fn data_only(mut self) -> Table {
        self.shown = Shown::DataOnly;
        self
    }

    /// Text leaves out the table (header included) when it has no rows; CSV still writes its header.
    pub fn omit_when_empty(mut self) -> Table {
        self.omit_empty = true;
        self
    }

    /// A plain cell.
    pub fn cell(&mut self, text: impl AsRef<str>) -> &mut Table {
        self.cell_toned(text, Tone::Plain)
    }

    /// A cell with a tone (its color, when color is on).
    pub fn cell_toned(&mut self, text: impl AsRef<str>, tone: Tone) -> &mut Table {
        self.text.push_str(text.as_ref());
        self.end_cell(tone);
        self
    }

    /// A number, written without going through `core::fmt` (large tables have hundreds of thousands).
    pub fn num(&mut self, n: u64) -> &mut Table {
        let before = self.text.len();
        push_u64(&mut self.text, n);
        // Digits: as wide as they are long, and no line break to look for.
        let w = self.text.len() - before;
        self.ends.push(self.text.len());
        self.widths.push(w as u32);
        self.tones.push(Tone::Plain);
        self
    }

    /// Ends the cell written so far through [`fmt::Write`] (`write!(table, ...)`) or [`Table::buf`].
    pub fn end_cell(&mut self, tone: Tone) {
        let start = self.ends.last().copied().unwrap_or(0);
        let cell = &self.text[start..];
        self.multiline |= cell.contains('\n');
        let w = if cell.is_ascii() {
            cell.len()
        } else {
            cell.width()
        };
        self.ends.push(self.text.len());
        self.widths.push(u32::try_from(w).unwrap_or(u32::MAX));
        self.tones.push(tone);
    }

    /// The text of the cell being written, to append to directly; end it with [`Table::end_cell`].
    pub fn buf(&mut self) -> &mut String {
        &mut self.text
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn shown(&self) -> Shown {
        self.shown
    }

    pub fn omits_when_empty(&self) -> bool {
        self.omit_empty
    }

    /// True when a cell holds a line break (the text renderer then lays the table out with comfy-table).
    pub fn has_multiline_cells(&self) -> bool {
        self.multiline
    }

    /// Complete rows so far.
    pub fn row_count(&self) -> usize {
        self.ends.len() / self.columns.len().max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.row_count() == 0
    }

    /// The display width of every cell, in row-major order.
    pub fn widths(&self) -> &[u32] {
        &self.widths
    }

    /// Cell `i` in row-major order.
    pub fn cell_at(&self, i: usize) -> Cell<'_> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Cell {
            text: &self.text[start..self.ends[i]],
            width: self.widths[i] as usize,
            tone: self.tones[i],
        }
    }

    /// The cells of row `r`.
    pub fn row(&self, r: usize) -> impl Iterator<Item = Cell<'_>> + '_ {
        let n = self.columns.len();
        (r * n..(r + 1) * n).map(move |i| self.cell_at(i))
    }

    /// Every complete row.
    pub fn rows(&self) -> impl Iterator<Item = impl Iterator<Item = Cell<'_>> + '_> + '_ {
        (0..self.row_count()).map(move |r| self.row(r))
    }
}

impl fmt::Write for Table {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

/// Appends a number in decimal without going through `core::fmt`.
pub fn push_u64(s: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("?"));
}

/// A line of text in parts, each with its tone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    pub spans: Vec<(String, Tone)>,
}

impl Line {
    /// A line in one tone.
    pub fn toned(text: impl Into<String>, tone: Tone) -> Line {
        Line {
            spans: vec![(text.into(), tone)],
        }
    }

    /// Appends a part.
    pub fn then(mut self, text: impl Into<String>, tone: Tone) -> Line {
        self.spans.push((text.into(), tone));
        self
    }
}

impl From<String> for Line {
    fn from(s: String) -> Line {
        Line::toned(s, Tone::Plain)
    }
}

impl From<&str> for Line {
    fn from(s: &str) -> Line {
        Line::toned(s, Tone::Plain)
    }
}

/// Key/value lines with the keys aligned: `url      http://…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs {
    pub rows: Vec<(Cow<'static, str>, String, Tone)>,
}

impl Pairs {
    pub fn new() -> Pairs {
        Pairs::default()
    }

    pub fn add(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> &mut Pairs {
        self.add_toned(key, value, Tone::Plain)
    }

    pub fn add_toned(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
        tone: Tone,
    ) -> &mut Pairs {
        self.rows.push((key.into(), value.into(), tone));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// One block of a view.
#[derive(Debug, Clone)]
pub enum Block<'a> {
    Table(Table),
    Pairs(Pairs),
    Line(Line),
    /// An empty line.
    Blank,
    /// Bytes written as they are (an HTTP body, a raw response head); text only.
    Bytes(Cow<'a, [u8]>),
}

/// What a report shows, for the text and CSV renderers. JSON comes from the report's `Serialize`.
#[derive(Debug, Clone, Default)]
pub struct View<'a> {
    pub blocks: Vec<Block<'a>>,
}

impl<'a> View<'a> {
    pub fn new() -> View<'a> {
        View { blocks: Vec::new() }
    }

    pub fn table(&mut self, t: Table) -> &mut View<'a> {
        self.blocks.push(Block::Table(t));
        self
    }

    pub fn pairs(&mut self, p: Pairs) -> &mut View<'a> {
        self.blocks.push(Block::Pairs(p));
        self
    }

    pub fn line(&mut self, l: impl Into<Line>) -> &mut View<'a> {
        self.blocks.push(Block::Line(l.into()));
        self
    }

    pub fn blank(&mut self) -> &mut View<'a> {
        self.blocks.push(Block::Blank);
        self
    }

    pub fn bytes(&mut self, b: impl Into<Cow<'a, [u8]>>) -> &mut View<'a> {
        self.blocks.push(Block::Bytes(b.into()));
        self
    }

    /// Appends another view's blocks.
    pub fn extend(&mut self, other: View<'a>) -> &mut View<'a> {
        self.blocks.extend(other.blocks);
        self
    }

    /// The tables CSV writes.
    pub fn data_tables(&self) -> impl Iterator<Item = &Table> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Table(t) if t.shown() != Shown::TextOnly => Some(t),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn cells_keep_text_width_and_tone() {
        let mut t = Table::new([Column::left("A"), Column::right("N")]);
        t.cell("ünï").num(42);
        write!(t, "{}/tcp", 22).unwrap();
        t.end_cell(Tone::Good);
        t.cell_toned("x", Tone::Bad);
        assert_eq!(t.row_count(), 2);
        let r0: Vec<Cell> = t.row(0).collect();
        assert_eq!((r0[0].text, r0[0].width), ("ünï", 3));
        assert_eq!((r0[1].text, r0[1].width), ("42", 2));
        let r1: Vec<Cell> = t.row(1).collect();
        assert_eq!((r1[0].text, r1[0].tone), ("22/tcp", Tone::Good));
        assert_eq!(r1[1].tone, Tone::Bad);
        assert!(!t.has_multiline_cells());
        t.cell("a\nb");
        assert!(t.has_multiline_cells());
    }

    #[test]
    fn numbers_without_fmt() {
        for n in [0u64, 7, 10, 4_000_000_000, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn csv_sees_data_tables_only() {
        let mut v = View::new();
        v.table(Table::new([Column::left("A")]).text_only())
            .table(Table::new([Column::left("B")]))
            .table(Table::new([Column::left("C")]).data_only())
            .line("x");
        let names: Vec<&str> = v
            .data_tables()
            .map(|t| t.columns()[0].name.as_ref())
            .collect();
        assert_eq!(names, ["B", "C"]);
    }
}
