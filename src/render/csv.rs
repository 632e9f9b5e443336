//! Views as CSV (`--format csv`): every table a view shows as data, a header row first, fields quoted as
//! RFC 4180 says (a field with a comma, a double quote or a line break is wrapped in double quotes, and its
//! double quotes are doubled). Records end with a line feed, as Unix tools expect and every CSV reader
//! accepts. Several tables (`sockets --summary`) are separated by an empty line. The cells are the same text
//! the table shows; JSON has the typed values.

use std::io::{self, Write};

use super::view::View;

pub(super) fn write_view(view: &View, w: &mut dyn Write) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(256 * 1024, w);
    for (i, t) in view.data_tables().enumerate() {
        if i > 0 {
            w.write_all(b"\n")?;
        }
        record(&mut w, t.columns().iter().map(|c| c.name.as_ref()))?;
        for row in t.rows() {
            record(&mut w, row.map(|c| c.text))?;
        }
    }
    w.flush()
}

fn record<'a>(w: &mut impl Write, fields: impl Iterator<Item = &'a str>) -> io::Result<()> {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        field(w, f)?;
    }
    w.write_all(b"\n")
}

fn field(w: &mut impl Write, f: &str) -> io::Result<()> {
    if !f.contains([',', '"', '\r', '\n']) {
        return w.write_all(f.as_bytes());
    }
    w.write_all(b"\"")?;
    for (i, part) in f.split('"').enumerate() {
        if i > 0 {
            w.write_all(b"\"\"")?;
        }
        w.write_all(part.as_bytes())?;
    }
    w.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::view::{Column, Table};

    fn csv(v: &View) -> String {
        let mut buf = Vec::new();
        write_view(v, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn quotes_as_rfc_4180_says() {
        let mut t = Table::new([Column::left("A"), Column::text("B, C")]);
        t.cell("plain").cell("a,b");
        t.cell("say \"hi\"").cell("two\nlines");
        t.cell("").cell("ünï");
        let mut v = View::new();
        v.table(t).line("not data");
        assert_eq!(
            csv(&v),
            "A,\"B, C\"\nplain,\"a,b\"\n\"say \"\"hi\"\"\",\"two\nlines\"\n,ünï\n"
        );
    }

    #[test]
    fn tables_are_separated_and_text_only_ones_left_out() {
        let mut v = View::new();
        let mut a = Table::new([Column::left("X")]).omit_when_empty();
        let b = Table::new([Column::left("Y")]).text_only();
        let mut c = Table::new([Column::right("Z")]).data_only();
        a.cell("1");
        c.num(2);
        v.table(a).table(b).table(c);
        assert_eq!(csv(&v), "X\n1\n\nZ\n2\n");
        // An empty table still has its header.
        let mut v = View::new();
        v.table(Table::new([Column::left("X")]).omit_when_empty());
        assert_eq!(csv(&v), "X\n");
    }
}
