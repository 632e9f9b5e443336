//! Text rendering of `http-get` reports: the request as sent, the status and headers, body, TLS, timings and
//! the verdict, hop by hop. `--raw` shows the exact bytes instead of the parsed request and head.

use std::time::Duration;

use super::eyeballs::AttemptState;
use super::model::{Hop, HttpGetReport, HttpReport, Phases, Show};
use crate::duration::fmt_ms;
use crate::exit::Outcome;
use crate::explain::Verdict;
use crate::render::{Column, Line, Pairs, Report, Table, Tone, View};

impl Report for HttpGetReport {
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, self.ok())
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new();
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                v.blank();
            }
            v.extend(report_view(r, self.show));
        }
        v.table(results_table(&self.results));
        v
    }
}

impl Report for HttpReport {
    fn outcome(&self) -> Outcome {
        Outcome::all([self.ok()])
    }

    fn view(&self) -> View<'_> {
        let mut v = report_view(self, Show::default());
        v.table(results_table(std::slice::from_ref(self)));
        v
    }
}

/// One row per URL for CSV: the final status and verdict, where it answered, how much and how long.
fn results_table(results: &[HttpReport]) -> Table {
    let mut t = Table::new([
        Column::left("URL"),
        Column::right("STATUS"),
        Column::left("VERDICT"),
        Column::left("ADDRESS"),
        Column::right("BYTES"),
        Column::right("TIME"),
        Column::text("SUMMARY"),
    ])
    .data_only();
    for r in results {
        let last = r.last();
        t.cell(last.map_or_else(|| r.url.to_string(), |h| h.url.to_string()));
        match last.and_then(|h| h.response.as_ref()) {
            Some(head) => t.num(u64::from(head.status)),
            None => t.cell("-"),
        };
        t.cell_toned(r.verdict.as_str(), Tone::of(r.verdict));
        t.cell(
            last.and_then(|h| h.address)
                .map_or_else(|| "-".to_string(), |a| a.to_string()),
        );
        t.num(last.map_or(0, |h| h.body.length));
        let total: Duration = r.hops.iter().map(|h| h.timings.total).sum();
        t.cell(fmt_ms(total)).cell(&r.summary);
    }
    t
}

fn report_view(r: &HttpReport, show: Show) -> View<'_> {
    let mut v = View::new();
    for (i, hop) in r.hops.iter().enumerate() {
        if r.hops.len() > 1 {
            v.line(Line::toned(
                format!("hop {}: {}", i + 1, hop.url),
                Tone::Dim,
            ));
        }
        hop_view(hop, show, &mut v);
        v.blank();
    }
    let word = match r.verdict {
        Verdict::Ok => "ok",
        v => v.as_str(),
    };
    let code = match &r.explanation {
        Some(e) => format!(" ({})", e.code),
        None => String::new(),
    };
    v.line(Line::toned(
        format!("{word}: {}{code}", r.summary),
        if r.verdict == Verdict::Ok {
            Tone::Good
        } else {
            Tone::Bad
        },
    ));
    if let Some(e) = &r.explanation {
        if !e.fix.is_empty() {
            v.line(format!("fix: {}", e.fix));
        }
    }
    if let Some(saved) = &r.saved {
        v.line(format!(
            "saved {} bytes to {}",
            saved.bytes,
            saved.path.display()
        ));
    }
    if show.body && !r.body.is_empty() {
        v.blank().bytes(&r.body[..]);
        if !r.body.ends_with(b"\n") {
            v.blank();
        }
    }
    v
}

fn hop_view<'a>(hop: &'a Hop, show: Show, v: &mut View<'a>) {
    v.pairs(where_pairs(hop)).blank();
    if show.raw {
        v.bytes(hop.request.as_bytes()).bytes(&hop.raw_head[..]);
    } else if hop.address.is_some() {
        exchange_view(hop, v);
        v.blank();
    }
    let details = details(hop);
    if !details.is_empty() {
        v.pairs(details).blank();
    }
    v.table(timings_table(hop));
}

/// The URL, the address used, the other addresses and the ones that failed.
fn where_pairs(hop: &Hop) -> Pairs {
    let mut p = Pairs::new();
    p.add("url", hop.url.to_string());
    p.add(
        "address",
        hop.address
            .map_or_else(|| "-".to_string(), |a| a.to_string()),
    );
    if let Some(c) = &hop.connect_to {
        let host = match c.host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
            _ => c.host.clone(),
        };
        p.add(
            "connect to",
            format!(
                "{host}:{} (--connect-to {}; the Host header and the TLS name stay {})",
                c.port, c.rule, hop.url.host
            ),
        );
    }
    if let Some(rule) = &hop.resolve_rule {
        p.add(
            "resolved by",
            format!("--resolve {rule} (not DNS or /etc/hosts)"),
        );
    }
    if hop.attempts.len() > 1 {
        // Happy Eyeballs: what each address did.
        let winner = hop
            .address
            .map_or_else(|| "-".to_string(), |a| a.to_string());
        for a in &hop.attempts {
            let took = a.time.map_or_else(String::new, fmt_ms);
            let at = a.started.map_or_else(String::new, fmt_ms);
            let what = match a.state {
                AttemptState::Won => format!("won: connected in {took} (started at +{at})"),
                AttemptState::Failed => match &a.explanation {
                    Some(e) => format!(
                        "failed after {took} (started at +{at}): {} ({})",
                        e.cause, e.code
                    ),
                    None => format!("failed after {took}"),
                },
                AttemptState::Abandoned => format!(
                    "abandoned: no answer after {took} (started at +{at}) when {winner} connected"
                ),
                AttemptState::NotTried => format!("not tried: {winner} connected first"),
            };
            p.add("attempt", format!("{} {what}", a.address));
        }
        return p;
    }
    let others: Vec<String> = hop
        .resolved
        .iter()
        .filter(|ip| hop.address.map(|a| a.ip()) != Some(**ip))
        .map(ToString::to_string)
        .collect();
    if !others.is_empty() {
        let label = if hop.address.is_some() {
            "also resolved"
        } else {
            "resolved"
        };
        p.add(label, others.join(", "));
    }
    for a in &hop.failed_addresses {
        p.add(
            "failed",
            format!("{}: {} ({})", a.address, a.error.cause, a.error.code),
        );
    }
    p
}

/// The request as sent (`> ` lines), the interim and final status lines and the response headers.
fn exchange_view(hop: &Hop, v: &mut View) {
    for line in hop.request.lines().filter(|l| !l.is_empty()) {
        v.line(Line::toned(format!("> {line}"), Tone::Dim));
    }
    if !hop.interim.is_empty() || hop.response.is_some() {
        v.blank();
    }
    for h in &hop.interim {
        v.line(format!("< {}", h.status_line()));
    }
    if let Some(h) = &hop.response {
        let tone = match h.status {
            200..=399 => Tone::Good,
            _ => Tone::Bad,
        };
        v.line(Line::from("< ").then(h.status_line(), tone));
        let mut t = Table::new([Column::left("HEADER"), Column::text("VALUE")])
            .text_only()
            .omit_when_empty();
        for hd in &h.headers {
            t.cell(&hd.name).cell(&hd.value);
        }
        v.table(t);
    }
}

fn details(hop: &Hop) -> Pairs {
    let mut rows = Pairs::new();
    if hop.response.is_some() {
        let b = &hop.body;
        let framing = b.framing.map_or_else(|| "-".into(), |f| f.describe());
        let mut text = format!("{} bytes ({framing})", b.length);
        if b.truncated {
            text.push_str(", truncated at --max-size: the rest was not read");
        } else if !b.complete {
            text.push_str(", incomplete");
        }
        rows.add("body", text);
        if !b.trailers.is_empty() {
            let t: Vec<String> = b
                .trailers
                .iter()
                .map(|h| format!("{}: {}", h.name, h.value))
                .collect();
            rows.add("trailers", t.join("; "));
        }
    }
    if let Some(t) = &hop.tls {
        let alpn = t.alpn.as_deref().unwrap_or("none");
        rows.add(
            "tls",
            format!("{} {} (ALPN {alpn})", t.version, t.cipher_suite),
        );
        if let Some(c) = &t.certificate {
            rows.add("subject", c.subject.clone());
            rows.add("issuer", c.issuer.clone());
            if !c.sans.is_empty() {
                rows.add("names", c.sans.join(", "));
            }
            let days = t.days_left.map_or(String::new(), |d| {
                format!(" ({})", crate::http::cert::days_phrase(d))
            });
            rows.add(
                "valid",
                format!("{} to {}{days}", c.not_before, c.not_after),
            );
        }
        if let Some(trust) = &t.trust {
            rows.add("trust", trust.describe());
        }
        if !t.verified {
            let why = if hop.error.is_some() {
                "no: rejected (see below)"
            } else {
                "no (--insecure)"
            };
            rows.add("verified", why);
        }
    }
    if let Some(loc) = &hop.location {
        rows.add("location", loc.clone());
    }
    // The hop's error is the report's verdict line (fetching stops at the first failed hop).
    rows
}

/// Picks one phase out of a [`Phases`].
type PhaseOf = fn(&Phases) -> Option<Duration>;

fn timings_table(hop: &Hop) -> Table {
    let t = &hop.timings;
    let mut table = Table::new([
        Column::left("PHASE"),
        Column::right("TIME"),
        Column::right("CUMULATIVE"),
    ])
    .text_only();
    let names: [(&str, PhaseOf); 6] = [
        ("dns", |p| p.dns),
        ("connect", |p| p.connect),
        ("tls", |p| p.tls),
        ("request", |p| p.request),
        ("first byte", |p| p.first_byte),
        ("body", |p| p.body),
    ];
    for (name, get) in names {
        if let (Some(p), Some(c)) = (get(&t.phases), get(&t.cumulative)) {
            table.cell(name).cell(fmt_ms(p)).cell(fmt_ms(c));
        }
    }
    table.cell("total").cell("").cell(fmt_ms(t.total));
    table
}
