//! The capture filter language: the tcpdump/pcap-filter(7) primitives people type daily, parsed into an
//! expression tree that [`super::compile`] turns into a classic BPF program.
//!
//! Grammar, as pcap's: `not`/`!` binds tightest; `and`/`&&` and `or`/`||` have equal precedence and associate
//! left to right (`a or b and c` is `(a or b) and c`); parentheses group. A primitive is
//! `[proto] [src|dst|src or dst|src and dst] [host|net|port|portrange] ID`, or a protocol alone (`tcp`, `udp`,
//! `icmp`, `icmp6`, `arp`, `ip`, `ip6`, `rarp`, `sctp`). A bare ID after `and`/`or`/`not` takes the qualifiers
//! of the last primitive that had them: `port 80 or 443`, `not host a and b` (= `not host a and host b`).

use std::fmt;
use std::net::IpAddr;

use crate::services::Proto;

/// A protocol qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoQ {
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
}

impl ProtoQ {
    fn parse(w: &str) -> Option<ProtoQ> {
        Some(match w {
            "ip" => ProtoQ::Ip,
            "ip6" => ProtoQ::Ip6,
            "arp" => ProtoQ::Arp,
            "rarp" => ProtoQ::Rarp,
            "tcp" => ProtoQ::Tcp,
            "udp" => ProtoQ::Udp,
            "sctp" => ProtoQ::Sctp,
            "icmp" => ProtoQ::Icmp,
            "icmp6" => ProtoQ::Icmp6,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProtoQ::Ip => "ip",
            ProtoQ::Ip6 => "ip6",
            ProtoQ::Arp => "arp",
            ProtoQ::Rarp => "rarp",
            ProtoQ::Tcp => "tcp",
            ProtoQ::Udp => "udp",
            ProtoQ::Sctp => "sctp",
            ProtoQ::Icmp => "icmp",
            ProtoQ::Icmp6 => "icmp6",
        }
    }
}

/// Which address or port of a packet a primitive looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dir {
    #[default]
    SrcOrDst,
    Src,
    Dst,
    SrcAndDst,
}

/// The kind of ID a primitive takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    Net,
    Port,
    PortRange,
}

/// A host given by name, to be resolved when the filter is compiled (as tcpdump does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostId {
    Addr(IpAddr),
    Name(String),
}

/// What a primitive tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `tcp`, `ip6`, `arp`, ...: the protocol alone.
    Proto(ProtoQ),
    /// `[ip|ip6|arp|rarp] [dir] host ADDR|NAME`.
    Host(HostId),
    /// `[dir] net ADDR/LEN`: the network address and its mask length.
    Net(IpAddr, u8),
    /// `[tcp|udp|sctp] [dir] port N` and `portrange LO-HI`: the transport protocols it applies to (IP protocol
    /// numbers) and the port range, inclusive.
    Port(Vec<u8>, u16, u16),
}

/// One primitive with its qualifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prim {
    pub proto: Option<ProtoQ>,
    pub dir: Dir,
    pub test: Test,
    /// Where its ID starts in the filter text (1-based), for errors found later (a name that does not resolve).
    pub column: usize,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Prim(Prim),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A malformed filter: where and why, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub text: String,
    /// 1-based column of the bad token (one past the end when the filter ended too early).
    pub column: usize,
    pub token: String,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.token.is_empty() {
            "at the end".to_string()
        } else {
            format!("'{}'", self.token)
        };
        let line = format!(
            "bad filter '{}' at column {} ({at}): {} (see pcap-filter(7))",
            self.text, self.column, self.message
        );
        // One line whatever the filter holds: control characters (a pasted newline, a tab) show as '?'.
        let line: String = line
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        f.write_str(&line)
    }
}

impl std::error::Error for FilterError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    Not,
    And,
    Or,
    Word(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    col: usize,
    text: String,
}

const PRIMITIVES: &str =
    "host, net, port, portrange, src, dst, tcp, udp, icmp, icmp6, arp, ip, ip6, 'not' or '('";

fn lex(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |col: usize, token: String, message: String| FilterError {
        text: text.to_string(),
        column: col,
        token,
        message,
    };
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '!' if two == "!=" => {
                return Err(err(
                    col,
                    two,
                    "comparisons (tcp[13] != 0, len != 60) are not supported".into(),
                ))
            }
            '!' => (Tok::Not, 1),
            '&' if two == "&&" => (Tok::And, 2),
            '|' if two == "||" => (Tok::Or, 2),
            '&' | '|' => {
                return Err(err(
                    col,
                    c.to_string(),
                    format!("use '{c}{c}' or '{}'", if c == '&' { "and" } else { "or" }),
                ))
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"()!&|".contains(chars[i]) {
                    i += 1;
                }
                let w: String = chars[start..i].iter().collect();
                if let Some(p) = w.find(|c: char| "[]=<>+*".contains(c)) {
                    let what = if w[p..].starts_with('[') {
                        "byte-offset expressions such as tcp[13] are not supported"
                    } else {
                        "arithmetic and comparisons are not supported"
                    };
                    return Err(err(col, w.clone(), what.into()));
                }
                let tok = match w.as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => Tok::Word(w.clone()),
                };
                out.push(Token { tok, col, text: w });
                continue;
            }
        };
        out.push(Token {
            tok,
            col,
            text: chars[i..i + len].iter().collect(),
        });
        i += len;
    }
    Ok(out)
}

/// The qualifiers a bare ID inherits.
#[derive(Debug, Clone, Copy)]
struct Quals {
    proto: Option<ProtoQ>,
    dir: Dir,
    kind: Kind,
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    last: Option<Quals>,
}

/// Parses a filter; `None` for an empty one (everything passes).
pub fn parse(text: &str) -> Result<Option<Expr>, FilterError> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        last: None,
    };
    let e = p.expr()?;
    if let Some(t) = p.peek() {
        let t = t.clone();
        return Err(p.err_at(&t, "unexpected ')': no '(' to close".into()));
    }
    Ok(Some(e))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn err_at(&self, t: &Token, message: String) -> FilterError {
        FilterError {
            text: self.text.to_string(),
            column: t.col,
            token: t.text.clone(),
            message,
        }
    }

    fn err_end(&self, message: String) -> FilterError {
        FilterError {
            text: self.text.to_string(),
            column: self.text.chars().count() + 1,
            token: String::new(),
            message,
        }
    }

    fn expr(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.term()?;
        loop {
            let Some(t) = self.peek().cloned() else {
                return Ok(left);
            };
            match t.tok {
                Tok::And => {
                    self.pos += 1;
                    let right = self.term()?;
                    left = Expr::And(Box::new(left), Box::new(right));
                }
                Tok::Or => {
                    self.pos += 1;
                    let right = self.term()?;
                    left = Expr::Or(Box::new(left), Box::new(right));
                }
                Tok::RParen => return Ok(left),
                _ => {
                    return Err(self.err_at(
                        &t,
                        "expected 'and', 'or' or the end of the filter (pcap needs an explicit operator between primitives)".into(),
                    ))
                }
            }
        }
    }

    fn term(&mut self) -> Result<Expr, FilterError> {
        let Some(t) = self.next() else {
            return Err(self.err_end(format!(
                "the filter ends where a primitive was expected: {PRIMITIVES}"
            )));
        };
        match &t.tok {
            Tok::Not => Ok(Expr::Not(Box::new(self.term()?))),
            Tok::LParen => {
                let e = self.expr()?;
                match self.next() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => Ok(e),
                    Some(other) => Err(self.err_at(&other, "expected ')'".into())),
                    None => {
                        Err(self.err_end(format!("missing ')' for the '(' at column {}", t.col)))
                    }
                }
            }
            Tok::RParen => Err(self.err_at(
                &t,
                format!("expected a primitive ({PRIMITIVES}) before ')'"),
            )),
            Tok::And | Tok::Or => Err(self.err_at(
                &t,
                format!("expected a primitive ({PRIMITIVES}) before '{}'", t.text),
            )),
            Tok::Word(w) => {
                let w = w.clone();
                self.primitive(&w, &t)
            }
        }
    }

    /// A primitive starting at the word `first` (already consumed).
    fn primitive(&mut self, first: &str, t: &Token) -> Result<Expr, FilterError> {
        let mut proto = None;
        let mut dir = None;
        let mut word = first.to_string();
        let mut tok = t.clone();
        if let Some(p) = ProtoQ::parse(&word) {
            proto = Some(p);
            match self.peek() {
                Some(Token {
                    tok: Tok::Word(w), ..
                }) if is_qualifier(w) => {
                    tok = self.next().expect("peeked");
                    word = w_of(&tok);
                }
                _ => {
                    self.last = None;
                    return Ok(Expr::Prim(Prim {
                        proto,
                        dir: Dir::SrcOrDst,
                        test: Test::Proto(p),
                        column: t.col,
                    }));
                }
            }
        }
        if word == "src" || word == "dst" {
            let mut d = if word == "src" { Dir::Src } else { Dir::Dst };
            // `src or dst` and `src and dst` are one qualifier when the next word is the other direction.
            if let (
                Some(op),
                Some(Token {
                    tok: Tok::Word(other),
                    ..
                }),
            ) = (self.toks.get(self.pos), self.toks.get(self.pos + 1))
            {
                let pair = (word == "src" && other == "dst") || (word == "dst" && other == "src");
                if pair && matches!(op.tok, Tok::And | Tok::Or) {
                    d = if op.tok == Tok::And {
                        Dir::SrcAndDst
                    } else {
                        Dir::SrcOrDst
                    };
                    self.pos += 2;
                }
            }
            dir = Some(d);
            match self.next() {
                Some(n) => {
                    tok = n;
                    word = w_of(&tok);
                }
                None => {
                    return Err(self.err_end(
                        "expected host, net, port, portrange or an address after the direction"
                            .into(),
                    ))
                }
            }
        }
        let kind = match word.as_str() {
            "host" => Some(Kind::Host),
            "net" => Some(Kind::Net),
            "port" => Some(Kind::Port),
            "portrange" => Some(Kind::PortRange),
            _ => None,
        };
        let id = if let Some(k) = kind {
            match self.next() {
                Some(
                    n @ Token {
                        tok: Tok::Word(_), ..
                    },
                ) if !is_qualifier(&n.text) => n,
                Some(n) => {
                    return Err(self.err_at(&n, format!("expected {} after '{word}'", id_name(k))))
                }
                None => return Err(self.err_end(format!("expected {} after '{word}'", id_name(k)))),
            }
        } else if proto.is_some() || dir.is_some() {
            // `src 10.0.0.1`: the type defaults to host.
            if !matches!(tok.tok, Tok::Word(_)) || is_qualifier(&word) {
                return Err(self.err_at(
                    &tok,
                    "expected host, net, port, portrange or an address".into(),
                ));
            }
            tok.clone()
        } else {
            // A bare ID: it takes the last primitive's qualifiers.
            let Some(q) = self.last else {
                return Err(self.err_at(
                    &tok,
                    format!("unknown word: expected a primitive ({PRIMITIVES}); a bare address or port needs a qualifier such as 'host' or 'port'"),
                ));
            };
            return self.with_id(q, &tok);
        };
        let q = Quals {
            proto,
            dir: dir.unwrap_or_default(),
            kind: kind.unwrap_or(Kind::Host),
        };
        self.last = Some(q);
        self.with_id(q, &id)
    }

    fn with_id(&self, q: Quals, id: &Token) -> Result<Expr, FilterError> {
        let bad = |m: String| self.err_at(id, m);
        let w = id.text.as_str();
        let test = match q.kind {
            Kind::Host => {
                if let Some(p) = q
                    .proto
                    .filter(|p| !matches!(p, ProtoQ::Ip | ProtoQ::Ip6 | ProtoQ::Arp | ProtoQ::Rarp))
                {
                    return Err(bad(format!(
                        "'{}' cannot qualify host (use ip, ip6, arp or rarp)",
                        p.as_str()
                    )));
                }
                if w.contains('/') {
                    return Err(bad(
                        "a host is one address; use 'net' for a CIDR block".into()
                    ));
                }
                let h = match w.parse::<IpAddr>() {
                    Ok(a) => HostId::Addr(a),
                    Err(_) if is_hostname(w) => HostId::Name(w.to_string()),
                    Err(_) => {
                        return Err(bad("expected an IPv4 or IPv6 address or a host name".into()))
                    }
                };
                if let (HostId::Addr(a), Some(p)) = (&h, q.proto) {
                    if a.is_ipv6() != (p == ProtoQ::Ip6) {
                        return Err(bad(format!(
                            "'{}' does not go with an IPv{} address",
                            p.as_str(),
                            if a.is_ipv6() { 6 } else { 4 }
                        )));
                    }
                }
                Test::Host(h)
            }
            Kind::Net => {
                if let Some(p) = q
                    .proto
                    .filter(|p| !matches!(p, ProtoQ::Ip | ProtoQ::Ip6 | ProtoQ::Arp | ProtoQ::Rarp))
                {
                    return Err(bad(format!(
                        "'{}' cannot qualify net (use ip, ip6, arp or rarp)",
                        p.as_str()
                    )));
                }
                let (a, len) = parse_net(w).map_err(bad)?;
                if let Some(p) = q.proto {
                    if a.is_ipv6() != (p == ProtoQ::Ip6) {
                        return Err(bad(format!(
                            "'{}' does not go with an IPv{} network",
                            p.as_str(),
                            if a.is_ipv6() { 6 } else { 4 }
                        )));
                    }
                }
                Test::Net(a, len)
            }
            Kind::Port | Kind::PortRange => {
                let protos: Vec<u8> = match q.proto {
                    None => vec![6, 17, 132],
                    Some(ProtoQ::Tcp) => vec![6],
                    Some(ProtoQ::Udp) => vec![17],
                    Some(ProtoQ::Sctp) => vec![132],
                    Some(p) => {
                        return Err(bad(format!(
                            "'{}' cannot qualify a port (use tcp, udp or sctp)",
                            p.as_str()
                        )))
                    }
                };
                let (lo, hi) = if q.kind == Kind::Port {
                    let p = parse_port(w, &protos).map_err(bad)?;
                    (p, p)
                } else {
                    let (a, b) = w.split_once('-').ok_or_else(|| {
                        bad("expected a port range LO-HI such as 1000-2000".into())
                    })?;
                    let (a, b) = (
                        parse_port(a, &protos).map_err(bad)?,
                        parse_port(b, &protos).map_err(bad)?,
                    );
                    (a.min(b), a.max(b))
                };
                Test::Port(protos, lo, hi)
            }
        };
        Ok(Expr::Prim(Prim {
            proto: q.proto,
            dir: q.dir,
            test,
            column: id.col,
        }))
    }
}

fn w_of(t: &Token) -> String {
    t.text.clone()
}

fn id_name(k: Kind) -> &'static str {
    match k {
        Kind::Host => "an address or host name",
        Kind::Net => "a network such as 10.0.0.0/8 or fd00::/64",
        Kind::Port => "a port number or service name",
        Kind::PortRange => "a port range such as 1000-2000",
    }
}

fn is_qualifier(w: &str) -> bool {
    ProtoQ::parse(w).is_some() || matches!(w, "src" | "dst" | "host" | "net" | "port" | "portrange")
}

fn is_hostname(w: &str) -> bool {
    !w.is_empty()
        && w.len() <= 253
        && w.chars().any(|c| c.is_ascii_alphabetic())
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
}

/// A port number, or a service name from the bundled services table registered for one of `protos`.
fn parse_port(w: &str, protos: &[u8]) -> Result<u16, String> {
    if w.bytes().all(|b| b.is_ascii_digit()) && !w.is_empty() {
        return w
            .parse::<u16>()
            .map_err(|_| format!("port {w} is out of range 0-65535"));
    }
    let wanted = |p: Proto| match p {
        Proto::Tcp => protos.contains(&6),
        Proto::Udp => protos.contains(&17),
        Proto::Sctp => protos.contains(&132),
        Proto::Dccp => false,
    };
    crate::services::ports_of(w)
        .into_iter()
        .find(|(_, p)| wanted(*p))
        .map(|(n, _)| n)
        .ok_or_else(|| {
            "expected a port number 0-65535 or a known service name (netdiag port NAME lists them)"
                .to_string()
        })
}

/// `10.0.0.0/8`, `fd00::/64`, or a dotted IPv4 prefix (`10`, `192.168`, `10.1.2`) whose mask is its length,
/// as pcap reads them. Host bits set are an error, as in pcap.
fn parse_net(w: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = match w.split_once('/') {
        Some((a, l)) => {
            let a: IpAddr = a
                .parse()
                .map_err(|_| format!("'{a}' is not an IP address"))?;
            let max = if a.is_ipv4() { 32 } else { 128 };
            let l: u8 = l
                .parse()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("the prefix length must be a number 0-{max}"))?;
            (a, l)
        }
        None => {
            if let Ok(a) = w.parse::<IpAddr>() {
                (a, if a.is_ipv4() { 32 } else { 128 })
            } else {
                let parts: Vec<&str> = w.split('.').collect();
                let octets: Option<Vec<u8>> = parts.iter().map(|p| p.parse::<u8>().ok()).collect();
                match octets {
                    Some(o) if (1..=3).contains(&o.len()) => {
                        let mut b = [0u8; 4];
                        b[..o.len()].copy_from_slice(&o);
                        (IpAddr::from(b), 8 * o.len() as u8)
                    }
                    _ => {
                        return Err(
                            "expected a network such as 10.0.0.0/8, 192.168 or fd00::/64".into(),
                        )
                    }
                }
            }
        }
    };
    let masked = crate::target::Cidr::parse(&format!("{addr}/{len}"))
        .map_err(|e| e.to_string())?
        .network;
    if masked != addr {
        return Err(format!(
            "non-network bits set in {addr}/{len} (the network is {masked}/{len})"
        ));
    }
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s).unwrap().unwrap()
    }

    fn e(s: &str) -> FilterError {
        parse(s).unwrap_err()
    }

    fn prim(e: &Expr) -> &Prim {
        match e {
            Expr::Prim(p) => p,
            _ => panic!("not a primitive: {e:?}"),
        }
    }

    #[test]
    fn empty_filter_passes_everything() {
        assert_eq!(parse("  ").unwrap(), None);
    }

    #[test]
    fn and_or_have_equal_precedence_left_to_right_and_not_binds_tightest() {
        // a or b and c  ==  (a or b) and c
        match p("tcp or udp and icmp") {
            Expr::And(l, r) => {
                assert!(matches!(*l, Expr::Or(..)));
                assert_eq!(prim(&r).test, Test::Proto(ProtoQ::Icmp));
            }
            other => panic!("{other:?}"),
        }
        match p("not tcp and udp") {
            Expr::And(l, _) => assert!(matches!(*l, Expr::Not(_))),
            other => panic!("{other:?}"),
        }
        match p("!(tcp || udp) && arp") {
            Expr::And(l, _) => assert!(matches!(*l, Expr::Not(_))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bare_ids_inherit_the_last_qualifiers() {
        match p("tcp dst port 80 or 443") {
            Expr::Or(_, r) => {
                let r = prim(&r);
                assert_eq!(r.proto, Some(ProtoQ::Tcp));
                assert_eq!(r.dir, Dir::Dst);
                assert_eq!(r.test, Test::Port(vec![6], 443, 443));
            }
            other => panic!("{other:?}"),
        }
        match p("not host 10.0.0.1 and 10.0.0.2") {
            Expr::And(l, r) => {
                assert!(matches!(*l, Expr::Not(_)));
                assert_eq!(
                    prim(&r).test,
                    Test::Host(HostId::Addr("10.0.0.2".parse().unwrap()))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn directions_nets_and_ranges() {
        assert_eq!(prim(&p("src or dst host ::1")).dir, Dir::SrcOrDst);
        assert_eq!(prim(&p("src and dst host ::1")).dir, Dir::SrcAndDst);
        assert_eq!(
            prim(&p("src 10.1.2.3")).test,
            Test::Host(HostId::Addr("10.1.2.3".parse().unwrap()))
        );
        assert_eq!(
            prim(&p("net 10.0.0.0/8")).test,
            Test::Net("10.0.0.0".parse().unwrap(), 8)
        );
        assert_eq!(
            prim(&p("net 192.168")).test,
            Test::Net("192.168.0.0".parse().unwrap(), 16)
        );
        assert_eq!(
            prim(&p("dst net fd00::/64")).test,
            Test::Net("fd00::".parse().unwrap(), 64)
        );
        assert_eq!(
            prim(&p("udp portrange 2000-1000")).test,
            Test::Port(vec![17], 1000, 2000)
        );
        assert_eq!(
            prim(&p("port domain")).test,
            Test::Port(vec![6, 17, 132], 53, 53)
        );
        assert_eq!(
            prim(&p("host web.test")).test,
            Test::Host(HostId::Name("web.test".into()))
        );
    }

    #[test]
    fn errors_point_at_the_bad_token() {
        let x = e("tcp port 80 an udp");
        assert_eq!((x.column, x.token.as_str()), (13, "an"));
        let x = e("port 99999");
        assert_eq!((x.column, x.token.as_str()), (6, "99999"));
        assert!(x.message.contains("out of range"));
        let x = e("host");
        assert_eq!(x.column, 5);
        assert!(x.to_string().contains("at the end"));
        let x = e("(tcp or udp");
        assert!(x.message.contains("missing ')'"), "{x}");
        let x = e("tcp)");
        assert_eq!(x.column, 4);
        let x = e("80");
        assert!(x.message.contains("qualifier"), "{x}");
        let x = e("net 10.0.0.1/8");
        assert!(x.message.contains("non-network bits"), "{x}");
        let x = e("tcp[13] & 2 != 0");
        assert_eq!(x.column, 1);
        assert!(x.message.contains("not supported"));
        let x = e("ip6 host 10.0.0.1");
        assert_eq!(x.column, 10);
        let x = e("tcp host 10.0.0.1");
        assert!(x.message.contains("cannot qualify host"));
        let x = e("host 1.2.3.4 and");
        assert!(x.message.contains("ends where a primitive"));
        let x = e("and tcp");
        assert_eq!(x.column, 1);
        assert!(!x.to_string().contains('\n'));
        // Found by fuzzing: a newline in the filter must not break the one-line error.
        let x = e("\n)");
        assert_eq!(x.column, 2);
        assert!(!x.to_string().contains('\n'), "{x}");
    }
}
