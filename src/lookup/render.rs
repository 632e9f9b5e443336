//! Lookup as text: one row per answer (A, AAAA, CNAME, PTR), and this machine's names and interface table.

use std::net::IpAddr;

use super::model::{LookupReport, LookupResult, SelfReport};
use crate::duration::fmt_ms;
use crate::exit::Outcome;
use crate::render::{Column, Line, Pairs, Report, Table, Tone, View};

impl Report for LookupReport {
    fn outcome(&self) -> Outcome {
        Outcome::all([self.ok()])
    }

    fn view(&self) -> View<'_> {
        let mut t = Table::new([
            Column::left("QUERY"),
            Column::left("TYPE"),
            Column::text("ANSWER"),
            Column::left("FAMILY"),
            Column::right("TIME"),
        ]);
        for r in &self.results {
            answer_rows(r, &mut t);
        }
        let mut v = View::new();
        v.table(t);
        for r in &self.results {
            if let Some(e) = &r.explanation {
                v.line(Line::from(format!("{}: ", r.query)).then(e.sentence(), Tone::Bad));
            }
        }
        v
    }
}

/// The rows of one query: its error, its PTR names, or its CNAME and addresses.
fn answer_rows(r: &LookupResult, t: &mut Table) {
    let time = fmt_ms(r.elapsed);
    let mut row = |kind: &str, answer: &str, tone: Tone, family: &str| {
        let family_tone = if family == "-" {
            Tone::Dim
        } else {
            Tone::Plain
        };
        t.cell(&r.query)
            .cell(kind)
            .cell_toned(answer, tone)
            .cell_toned(family, family_tone)
            .cell(&time);
    };
    if let Some(e) = &r.explanation {
        row(r.kind, &format!("{} ({})", e.cause, e.code), Tone::Bad, "-");
        return;
    }
    if r.kind == "reverse" {
        let family = r.addresses.first().map_or("-", |a| a.family);
        for n in &r.names {
            row("PTR", n, Tone::Good, family);
        }
        return;
    }
    // The search list's expansion, named as such; then the CNAME chain as DNS gives it, one row per record;
    // a canonical name no CNAME explains (an /etc/hosts alias) only as the canonical name.
    let asked = r.queried_name.as_deref().unwrap_or(&r.query);
    if let Some(q) = &r.queried_name {
        row(
            "SEARCH",
            &format!("{q} (search list expansion of {})", r.query),
            Tone::Dim,
            "-",
        );
    }
    for l in &r.cname_chain {
        row(
            "CNAME",
            &format!("{} -> {}", l.name, l.target),
            Tone::Plain,
            "-",
        );
    }
    if let Some(c) = r
        .canonical_name
        .as_ref()
        .filter(|c| r.cname_chain.is_empty() && !super::canonical::same_name(c, asked))
    {
        row("CANONICAL", c, Tone::Plain, "-");
    }
    for a in &r.addresses {
        let kind = if a.address.is_ipv4() { "A" } else { "AAAA" };
        row(kind, &a.address.to_string(), Tone::Good, a.family);
    }
}

impl Report for SelfReport {
    fn outcome(&self) -> Outcome {
        Outcome::all([self.ok()])
    }

    fn view(&self) -> View<'_> {
        let mut p = Pairs::new();
        p.add("hostname", &self.hostname);
        match (&self.fqdn, &self.explanation) {
            (_, Some(e)) => p.add_toned(
                "fqdn",
                format!("does not resolve: {}", e.sentence()),
                Tone::Bad,
            ),
            (Some(f), None) => p.add("fqdn", f),
            (None, None) => p.add("fqdn", "-"),
        };
        if !self.resolved.is_empty() {
            let list: Vec<String> = self.resolved.iter().map(ToString::to_string).collect();
            p.add("resolves", list.join(", "));
        }
        let mut t = Table::new([
            Column::left("INTERFACE"),
            Column::left("ADDRESS"),
            Column::left("FAMILY"),
            Column::left("SCOPE"),
        ]);
        for a in &self.addresses {
            let addr = match a.prefix {
                Some(p) => format!("{}/{p}", a.address),
                None => a.address.to_string(),
            };
            t.cell(&a.interface)
                .cell_toned(addr, Tone::Good)
                .cell(a.family)
                .cell(scope(&a.address));
        }
        let mut v = View::new();
        v.pairs(p).blank().table(t);
        v
    }
}

fn scope(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => "loopback",
        IpAddr::V4(v4) if v4.is_link_local() => "link",
        IpAddr::V4(v4) if v4.is_private() => "private",
        IpAddr::V4(_) => "global",
        IpAddr::V6(v6) if v6.is_loopback() => "loopback",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "link",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "private",
        IpAddr::V6(_) => "global",
    }
}
