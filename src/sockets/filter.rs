//! ss's filter expressions for `netdiag sockets`: `sport = :22`, `dst 10.0.0.0/8`, `state established`, `not`,
//! `and`, `or` and parentheses, parsed as iproute2's ssfilter.y parses them and evaluated on the socket rows.
//!
//! The grammar (ss(8)):
//!
//! ```text
//! FILTER := [ state STATE | exclude STATE ]... [ EXPR ]
//! EXPR   := TERM { [ and | && | & | or | || | | ] TERM }      (no operator: and)
//! TERM   := ( EXPR ) | not TERM | ! TERM
//!         | src [=] HOST | dst [=] HOST
//!         | sport [OP] PORT | dport [OP] PORT
//!         | dev [= | !=] NAME | autobound
//! HOST   := ADDR[/PREFIX][:PORT] | [IPV6[/PREFIX]][:PORT] | *[:PORT] | :PORT
//! OP     := = == eq != ne neq < lt > gt <= le leq >= ge geq
//! ```
//!
//! As in ss, `and` and `or` have the same precedence and group left to right (`a or b and c` is
//! `(a or b) and c`); `not` applies to the term right after it. Words may hold several tokens (`'( sport = :22 )'`
//! is one shell word, as ss reads it), and parentheses may touch their neighbours (`(sport = :22)`), which ss does
//! not accept.
//!
//! Evaluation follows what `ss` prints, which is the conjunction of two checks ss makes: the kernel's inet_diag
//! bytecode (an address condition needs the family to match, an IPv4 prefix also matches IPv4-mapped IPv6
//! addresses) and ss's own userspace check (which compares the raw address bits whatever the family, and lets a
//! `/0` prefix match every socket). For every ordinary expression the two agree; they differ only for prefixes
//! shorter than the address family's zero bits, where ss's result is the stricter of the two (`not src
//! 0.0.0.0/0` lists nothing in ss, and so here). `dev` conditions are checked only in userspace, as ss does
//! (the kernel bytecode has no device test, so ss then sends no bytecode at all).
//!
//! `autobound` (the kernel picked the local port; bind was not given one) is checked as ss checks it: the kernel's
//! SOCK_BINDPORT_LOCK flag (not in the sock_diag reply, so taken as set exactly on listening and unconnected
//! sockets whose port is outside net.ipv4.ip_local_port_range; accepted and TIME-WAIT sockets never carry it)
//! and ss's userspace test (the local port is in that range). A socket bound by hand to a port inside the range
//! is the case this cannot tell apart.
//!
//! `fwmark`, `cgroup`, `unix:`/`inet:` address prefixes and host names are not supported (one-line error). UNIX
//! sockets (`-x`) have no address or port here: `src`/`dst` with an address never match them, ports read as 0.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use super::model::{End, Expr, HostCond, SsFilter, StateSet};
use super::model::{SocketRow, State};
use crate::services::Proto;
use crate::target::{shown, InputError};

/// What evaluation needs from the machine: the ephemeral port range (for `autobound`).
#[derive(Debug, Clone, Copy)]
pub struct EvalCtx {
    pub ephemeral: (u16, u16),
}

impl EvalCtx {
    /// Reads net.ipv4.ip_local_port_range (the Linux default when it cannot be read).
    pub fn read() -> EvalCtx {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|t| {
                let mut it = t.split_whitespace().map(|w| w.parse::<u16>().ok());
                Some((it.next()??, it.next()??))
            })
            .unwrap_or((32768, 60999));
        EvalCtx { ephemeral: range }
    }
}

const EXPECTED_TERM: &str = "expected sport, dport, src, dst, dev, autobound, not or (";

/// Which protocols the request lists: port names are looked up for those (as ss does).
#[derive(Debug, Clone, Copy)]
pub struct ParseCtx {
    pub tcp: bool,
    pub udp: bool,
    /// `-4`/`-6`: addresses of the other family are refused, as ss refuses them.
    pub family: crate::target::Family,
}

impl SsFilter {
    /// Parses the trailing words of `netdiag sockets` as ss does. Empty words: no filter.
    pub fn parse(words: &[String], ctx: ParseCtx) -> Result<SsFilter, InputError> {
        let text = words.join(" ");
        let tokens = tokenize(words);
        let mut p = Parser {
            tokens: &tokens,
            pos: 0,
            text: &text,
            ctx,
        };
        let mut states: Option<StateSet> = None;
        while let Some(w) = p.peek() {
            let exclude = match w {
                "state" => false,
                "exclude" | "excl" => true,
                _ => break,
            };
            p.pos += 1;
            let Some(name) = p.peek() else {
                return Err(p.err(format!(
                    "'{w}' at word {} needs a state name: established, syn-sent, syn-recv, fin-wait-1, \
                     fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, or a group: all, \
                     connected, synchronized, bucket, big",
                    p.pos
                )));
            };
            let Some(set) = StateSet::parse(name) else {
                return Err(p.err(format!(
                    "unknown state '{}' at word {}; expected established, syn-sent, syn-recv, fin-wait-1, \
                     fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, or a group: all, \
                     connected, synchronized, bucket, big",
                    shown(name),
                    p.pos + 1
                )));
            };
            p.pos += 1;
            let cur = states.unwrap_or(if exclude {
                StateSet::ALL
            } else {
                StateSet::default()
            });
            states = Some(if exclude {
                cur.minus(set)
            } else {
                cur.union(set)
            });
        }
        let expr = if p.peek().is_some() {
            let e = p.list()?;
            if let Some(w) = p.peek() {
                // list() stops only at ')' or the end.
                return Err(p.err(format!(
                    "unmatched '{}' at word {}; remove it or add '(' before it",
                    shown(w),
                    p.pos + 1
                )));
            }
            Some(e)
        } else {
            None
        };
        Ok(SsFilter { states, expr, text })
    }

    /// True when the row passes the expression (the states are applied by the request).
    pub fn matches(&self, row: &SocketRow, ctx: &EvalCtx) -> bool {
        let Some(e) = &self.expr else {
            return true;
        };
        let user = eval(e, row, ctx, Check::Userspace);
        user && (has_dev(e) || eval(e, row, ctx, Check::Kernel))
    }

    /// The expression as inet_diag bytecode (INET_DIAG_REQ_BYTECODE), as ss compiles it, so the kernel sends only
    /// the sockets that pass; `None` when there is no expression or it holds a `dev` condition (the bytecode has
    /// no device test; ss then sends none either). The rows are still checked in userspace afterwards.
    pub fn bytecode(&self) -> Option<Vec<u8>> {
        let e = self.expr.as_ref()?;
        if has_dev(e) {
            return None;
        }
        let bc = compile(e);
        // Jumps are 16-bit; a program this long is not worth sending (the userspace check still applies).
        (bc.len() <= 16 * 1024).then_some(bc)
    }

    /// The states to list for a protocol (ss's state set), when `state`/`exclude` were given.
    pub fn state_set(&self) -> Option<StateSet> {
        self.states
    }
}

/// Splits words at blanks (ss reads `'( sport = :22 )'` as five tokens) and peels parentheses off their
/// neighbours.
fn tokenize(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for w in words {
        for t in w.split([' ', '\t', '\n']).filter(|t| !t.is_empty()) {
            let mut t = t;
            while t.len() > 1 && t.starts_with('(') {
                out.push("(".to_string());
                t = &t[1..];
            }
            let mut close = 0;
            while t.len() > 1 && t.ends_with(')') {
                close += 1;
                t = &t[..t.len() - 1];
            }
            out.push(t.to_string());
            out.extend(std::iter::repeat_n(")".to_string(), close));
        }
    }
    out
}

struct Parser<'a> {
    tokens: &'a [String],
    pos: usize,
    text: &'a str,
    ctx: ParseCtx,
}

fn is_and(w: &str) -> bool {
    matches!(w, "and" | "&&" | "&")
}

fn is_or(w: &str) -> bool {
    matches!(w, "or" | "||" | "|")
}

fn is_keyword(w: &str) -> bool {
    is_and(w)
        || is_or(w)
        || matches!(
            w,
            "(" | ")"
                | "!"
                | "not"
                | "src"
                | "dst"
                | "sport"
                | "dport"
                | "dev"
                | "autobound"
                | "state"
                | "exclude"
                | "excl"
        )
        || port_op(w).is_some()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

fn port_op(w: &str) -> Option<Op> {
    Some(match w {
        "=" | "==" | "eq" => Op::Eq,
        "!=" | "ne" | "neq" => Op::Ne,
        "<" | "lt" => Op::Lt,
        ">" | "gt" => Op::Gt,
        "<=" | "le" | "leq" => Op::Le,
        ">=" | "ge" | "geq" => Op::Ge,
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn err(&self, why: String) -> InputError {
        InputError(format!(
            "invalid filter '{}': {why} (see 'netdiag sockets --help')",
            shown(self.text)
        ))
    }

    /// EXPR: terms joined by and/or (equal precedence, left to right) or by nothing (and).
    fn list(&mut self) -> Result<Expr, InputError> {
        let mut left = self.term()?;
        while let Some(w) = self.peek() {
            if w == ")" {
                break;
            }
            let or = is_or(w);
            if or || is_and(w) {
                self.pos += 1;
                if self.peek().is_none() {
                    return Err(self.err(format!(
                        "'{w}' at the end needs a condition after it; {EXPECTED_TERM}"
                    )));
                }
            }
            let right = self.term()?;
            left = if or {
                Expr::Or(Box::new(left), Box::new(right))
            } else {
                Expr::And(Box::new(left), Box::new(right))
            };
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, InputError> {
        let at = self.pos + 1;
        let Some(w) = self.peek() else {
            return Err(self.err(format!("the filter ends too early; {EXPECTED_TERM}")));
        };
        let w = w.to_string();
        self.pos += 1;
        match w.as_str() {
            "(" => {
                let inner = self.list()?;
                if self.peek() != Some(")") {
                    return Err(self.err(format!(
                        "'(' at word {at} is not closed; add ')' after the condition"
                    )));
                }
                self.pos += 1;
                Ok(inner)
            }
            "!" | "not" => {
                if self.peek().is_none() {
                    return Err(self.err(format!(
                        "'{w}' at the end needs a condition after it; {EXPECTED_TERM}"
                    )));
                }
                Ok(Expr::Not(Box::new(self.term()?)))
            }
            "src" | "dst" => {
                let end = if w == "src" { End::Local } else { End::Peer };
                if matches!(self.peek(), Some("=" | "==" | "eq")) {
                    self.pos += 1;
                }
                let v = self.value(&w, "an address such as 10.0.0.0/8, 127.0.0.1:22, [::1]:22, *:22 or :22")?;
                let cond = self.host(&v, &w)?;
                Ok(Expr::Host(end, cond))
            }
            "sport" | "dport" => {
                let end = if w == "sport" { End::Local } else { End::Peer };
                let op = match self.peek().and_then(port_op) {
                    Some(op) => {
                        self.pos += 1;
                        op
                    }
                    None => Op::Eq,
                };
                let v = self.value(&w, "a port such as :22, 443 or :https")?;
                let port = self.port(&v, &w)?;
                let host = |p: Option<u16>| {
                    Expr::Host(
                        end,
                        HostCond {
                            prefix: None,
                            port: p,
                        },
                    )
                };
                let need = |p: Option<u16>| -> Result<u16, InputError> {
                    p.ok_or_else(|| {
                        self.err(format!(
                            "'{w}' with '<', '>', '<=' or '>=' needs a port number, not '*'"
                        ))
                    })
                };
                Ok(match op {
                    Op::Eq => host(port),
                    Op::Ne => Expr::Not(Box::new(host(port))),
                    Op::Ge => Expr::PortGe(end, need(port)?),
                    Op::Le => Expr::PortLe(end, need(port)?),
                    Op::Gt => Expr::Not(Box::new(Expr::PortLe(end, need(port)?))),
                    Op::Lt => Expr::Not(Box::new(Expr::PortGe(end, need(port)?))),
                })
            }
            "dev" => {
                let neg = match self.peek() {
                    Some("=" | "==" | "eq") => {
                        self.pos += 1;
                        false
                    }
                    Some("!=" | "ne" | "neq") => {
                        self.pos += 1;
                        true
                    }
                    _ => false,
                };
                let v = self.value(&w, "an interface name such as lo or eth0")?;
                let idx = crate::net::packet::interface_index(&v)
                    .ok()
                    .or_else(|| v.parse::<u32>().ok().filter(|i| *i > 0))
                    .ok_or_else(|| {
                        self.err(format!(
                            "no interface '{}' here (dev takes an interface name or index; see 'ip link')",
                            shown(&v)
                        ))
                    })?;
                let e = Expr::Dev(idx);
                Ok(if neg { Expr::Not(Box::new(e)) } else { e })
            }
            "autobound" => Ok(Expr::Autobound),
            "state" | "exclude" | "excl" => Err(self.err(format!(
                "'{w}' at word {at} must come before the expression, as in ss: state STATE ... EXPRESSION"
            ))),
            "fwmark" | "mark" | "cgroup" => Err(self.err(format!(
                "'{w}' conditions are not supported; {EXPECTED_TERM}"
            ))),
            ")" => Err(self.err(format!(
                "unexpected ')' at word {at}; {EXPECTED_TERM}"
            ))),
            _ if is_and(&w) || is_or(&w) => Err(self.err(format!(
                "'{w}' at word {at} needs a condition before it; {EXPECTED_TERM}"
            ))),
            _ => Err(self.err(format!(
                "unexpected '{}' at word {at}; {EXPECTED_TERM}",
                shown(&w)
            ))),
        }
    }

    /// The value after a keyword (and its operator), which must not be a keyword itself.
    fn value(&mut self, key: &str, expected: &str) -> Result<String, InputError> {
        match self.peek() {
            Some(v) if !is_keyword(v) => {
                let v = v.to_string();
                self.pos += 1;
                Ok(v)
            }
            Some(v) => Err(self.err(format!(
                "'{key}' is followed by '{}' at word {}; expected {expected}",
                shown(v),
                self.pos + 1
            ))),
            None => Err(self.err(format!(
                "'{key}' at the end needs a value; expected {expected}"
            ))),
        }
    }

    /// A port as sport/dport take it: `:22`, `22`, `:https`, `https`, `*` (any).
    fn port(&self, v: &str, key: &str) -> Result<Option<u16>, InputError> {
        self.port_value(v.strip_prefix(':').unwrap_or(v), key)
    }

    fn port_value(&self, p: &str, key: &str) -> Result<Option<u16>, InputError> {
        if p.is_empty() || p == "*" {
            return Ok(None);
        }
        if p.bytes().all(|b| b.is_ascii_digit()) {
            return match p.parse::<u32>() {
                Ok(n) if n <= 65535 => Ok(Some(n as u16)),
                _ => Err(self.err(format!(
                    "port '{}' after '{key}' is out of range; ports are 0 to 65535",
                    shown(p)
                ))),
            };
        }
        let wanted: Vec<Proto> = [(self.ctx.tcp, Proto::Tcp), (self.ctx.udp, Proto::Udp)]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, p)| p)
            .collect();
        let mut ports: Vec<u16> = crate::services::ports_of(p)
            .into_iter()
            .filter(|(_, pr)| wanted.contains(pr))
            .map(|(port, _)| port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        match ports.as_slice() {
            [one] => Ok(Some(*one)),
            [] => Err(self.err(format!(
                "'{}' after '{key}' is not a port number or a service name known for {}; expected a port such \
                 as :22, 443 or :https",
                shown(p),
                wanted
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))),
            many => Err(self.err(format!(
                "service '{}' after '{key}' is ambiguous (ports {}); give the port number",
                shown(p),
                many.iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// A host as src/dst take it, split as ss splits it: `[ADDR]:PORT`, `*:PORT`, otherwise at the last `:`
    /// after any `/`. A bare IPv6 address (`::1`, which ss refuses) is taken whole.
    fn host(&self, v: &str, key: &str) -> Result<HostCond, InputError> {
        let bad_addr = |a: &str| {
            self.err(format!(
                "'{}' after '{key}' is not an address or prefix; expected an address such as 10.0.0.0/8, \
                 127.0.0.1:22, [::1]:22, *:22 or :22 (host names are not looked up)",
                shown(a)
            ))
        };
        if v.starts_with("unix:")
            || v.starts_with("inet:")
            || v.starts_with("inet6:")
            || v.starts_with("link:")
            || v.starts_with("netlink:")
            || v.starts_with("vsock:")
        {
            return Err(self.err(format!(
                "'{}' after '{key}': family prefixes such as unix: and inet: are not supported; use -4, -6 or -x",
                shown(v)
            )));
        }
        let (addr, port): (&str, &str) = if let Some(rest) = v.strip_prefix('[') {
            let Some(close) = rest.find(']') else {
                return Err(self.err(format!(
                    "'{}' after '{key}' has '[' without ']'; write [::1]:22",
                    shown(v)
                )));
            };
            let after = &rest[close + 1..];
            if !(after.is_empty() || after.starts_with(':')) {
                return Err(bad_addr(v));
            }
            (&rest[..close], after.strip_prefix(':').unwrap_or(after))
        } else if let Some(rest) = v.strip_prefix('*') {
            if !(rest.is_empty() || rest.starts_with(':')) {
                return Err(bad_addr(v));
            }
            ("", rest.strip_prefix(':').unwrap_or(rest))
        } else {
            let from = v.find('/').unwrap_or(0);
            match v[from..].rfind(':') {
                Some(i) => {
                    let (a, p) = (&v[..from + i], &v[from + i + 1..]);
                    if parse_prefix(a).is_none() && !a.is_empty() && parse_prefix(v).is_some() {
                        (v, "") // a bare IPv6 address or prefix
                    } else {
                        (a, p)
                    }
                }
                None => (v, ""),
            }
        };
        let port = self.port_value(port, key)?;
        let prefix = if addr.is_empty() || addr == "*" {
            None
        } else {
            Some(parse_prefix(addr).ok_or_else(|| bad_addr(addr))?)
        };
        if let Some((ip, _)) = prefix {
            if !self.ctx.family.matches(&ip) {
                let (flag, fam) = if ip.is_ipv4() {
                    ("-6", "IPv6")
                } else {
                    ("-4", "IPv4")
                };
                return Err(self.err(format!(
                    "'{}' after '{key}' is not {fam}, and {flag} lists {fam} sockets only (as in ss); write an \
                     {fam} address or drop {flag}",
                    shown(addr)
                )));
            }
        }
        Ok(HostCond { prefix, port })
    }
}

/// `ADDR` or `ADDR/LEN` (IPv4 also `ADDR/NETMASK`); the address is kept whole (only `LEN` bits are compared).
fn parse_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match len {
        None => max,
        Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
            let n: u8 = l.parse().ok()?;
            (n <= max).then_some(n)?
        }
        Some(l) if ip.is_ipv4() => {
            let m = u32::from(l.parse::<Ipv4Addr>().ok()?);
            let ones = m.leading_ones();
            (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)?
        }
        Some(_) => return None,
    };
    Some((ip, bits))
}

// inet_diag bytecode (include/uapi/linux/inet_diag.h). Each op is {code: u8, yes: u8, no: u16}: the kernel moves
// `yes` bytes on a match and `no` bytes otherwise; running off the end exactly accepts the socket, jumping 4 bytes
// past it rejects it.
const BC_JMP: u8 = 1;
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;
const BC_D_GE: u8 = 4;
const BC_D_LE: u8 = 5;
const BC_AUTO: u8 = 6;
const BC_S_COND: u8 = 7;
const BC_D_COND: u8 = 8;

fn op(code: u8, yes: u8, no: u16) -> [u8; 4] {
    let n = no.to_ne_bytes();
    [code, yes, n[0], n[1]]
}

/// Compiles as ss's ssfilter_bytecompile does.
fn compile(e: &Expr) -> Vec<u8> {
    match e {
        Expr::Autobound => op(BC_AUTO, 4, 8).to_vec(),
        Expr::PortGe(end, p) | Expr::PortLe(end, p) => {
            let ge = matches!(e, Expr::PortGe(..));
            let code = match (end, ge) {
                (End::Local, true) => BC_S_GE,
                (End::Local, false) => BC_S_LE,
                (End::Peer, true) => BC_D_GE,
                (End::Peer, false) => BC_D_LE,
            };
            let mut v = op(code, 8, 12).to_vec();
            v.extend_from_slice(&op(0, 0, *p));
            v
        }
        Expr::Host(end, cond) => {
            let code = if *end == End::Local {
                BC_S_COND
            } else {
                BC_D_COND
            };
            // struct inet_diag_hostcond { u8 family; u8 prefix_len; int port; __be32 addr[]; }
            let (family, bits, addr): (u8, u8, Vec<u8>) = match cond.prefix {
                None => (0, 0, vec![0; 4]),
                Some((IpAddr::V4(a), b)) => (libc::AF_INET as u8, b, a.octets().to_vec()),
                Some((IpAddr::V6(a), b)) => (libc::AF_INET6 as u8, b, a.octets().to_vec()),
            };
            let len = 4 + 8 + addr.len();
            let mut v = op(code, len as u8, len as u16 + 4).to_vec();
            v.extend_from_slice(&[family, bits, 0, 0]);
            let port: i32 = cond.port.map_or(-1, i32::from);
            v.extend_from_slice(&port.to_ne_bytes());
            v.extend_from_slice(&addr);
            v
        }
        Expr::And(a, b) => {
            let mut x = compile(a);
            let y = compile(b);
            // Rejections of the first part jump past the end of the whole.
            patch(&mut x, y.len());
            x.extend_from_slice(&y);
            x
        }
        Expr::Or(a, b) => {
            let mut x = compile(a);
            let y = compile(b);
            // The first part passing jumps over the second to the end; failing lands on the second.
            x.extend_from_slice(&op(BC_JMP, 4, y.len() as u16 + 4));
            x.extend_from_slice(&y);
            x
        }
        Expr::Not(a) => {
            let mut x = compile(a);
            x.extend_from_slice(&op(BC_JMP, 4, 8));
            x
        }
        // Never compiled (see `bytecode`); a program that accepts everything keeps the userspace check exact.
        Expr::Dev(_) => Vec::new(),
    }
}

/// ss's ssfilter_patch: the ops of `code` whose `no` jumps to 4 bytes past its end are moved `reloc` further.
fn patch(code: &mut [u8], reloc: usize) {
    let len = code.len();
    let mut at = 0usize;
    while at + 4 <= len {
        let yes = usize::from(code[at + 1]);
        let no = usize::from(u16::from_ne_bytes([code[at + 2], code[at + 3]]));
        if no == len - at + 4 {
            let n = (no + reloc) as u16;
            code[at + 2..at + 4].copy_from_slice(&n.to_ne_bytes());
        }
        if yes == 0 {
            break;
        }
        at += yes;
    }
}

/// The two checks ss makes (see the module comment).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Kernel,
    Userspace,
}

fn has_dev(e: &Expr) -> bool {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => has_dev(a) || has_dev(b),
        Expr::Not(a) => has_dev(a),
        Expr::Dev(_) => true,
        _ => false,
    }
}

fn end_of(row: &SocketRow, end: End) -> (Option<IpAddr>, u16) {
    let e = match end {
        End::Local => &row.local,
        End::Peer => &row.peer,
    };
    (e.ip(), e.port())
}

fn eval(e: &Expr, row: &SocketRow, ctx: &EvalCtx, check: Check) -> bool {
    match e {
        Expr::And(a, b) => eval(a, row, ctx, check) && eval(b, row, ctx, check),
        Expr::Or(a, b) => eval(a, row, ctx, check) || eval(b, row, ctx, check),
        Expr::Not(a) => !eval(a, row, ctx, check),
        Expr::Host(end, cond) => {
            let (ip, port) = end_of(row, *end);
            if cond.port.is_some_and(|p| p != port) {
                return false;
            }
            let Some((net, bits)) = cond.prefix else {
                return true;
            };
            let Some(ip) = ip else {
                return false; // UNIX sockets have no address
            };
            match check {
                Check::Kernel => kernel_addr_match(ip, net, bits),
                Check::Userspace => user_addr_match(ip, net, bits),
            }
        }
        Expr::PortGe(end, p) => end_of(row, *end).1 >= *p,
        Expr::PortLe(end, p) => end_of(row, *end).1 <= *p,
        Expr::Dev(i) => row.iface == *i,
        Expr::Autobound => {
            let p = row.local.port();
            let ephemeral = ctx.ephemeral.0 <= p && p <= ctx.ephemeral.1;
            if row.proto.is_unix() {
                return false;
            }
            match check {
                Check::Userspace => ephemeral,
                // SOCK_BINDPORT_LOCK: set by bind() with a port; accepted sockets do not inherit it.
                Check::Kernel => {
                    let bound = matches!(row.state, State::Listen | State::Unconn | State::Close);
                    !bound || ephemeral
                }
            }
        }
    }
}

/// The first `bits` bits of two byte strings are equal.
fn bits_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let whole = bits / 8;
    if a.len() < whole || b.len() < whole || a[..whole] != b[..whole] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let (Some(x), Some(y)) = (a.get(whole), b.get(whole)) else {
        return false;
    };
    let mask = 0xffu8 << (8 - rest);
    x & mask == y & mask
}

fn v4_mapped(a: &Ipv6Addr) -> Option<Ipv4Addr> {
    let o = a.octets();
    (o[..10] == [0; 10] && o[10..12] == [0xff, 0xff])
        .then(|| Ipv4Addr::new(o[12], o[13], o[14], o[15]))
}

/// The kernel's inet_diag host condition: same family (an IPv4 prefix also matches IPv4-mapped IPv6), then the
/// prefix bits.
fn kernel_addr_match(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => bits_eq(&a.octets(), &n.octets(), bits),
        (IpAddr::V6(a), IpAddr::V6(n)) => bits_eq(&a.octets(), &n.octets(), bits),
        (IpAddr::V6(a), IpAddr::V4(n)) => {
            v4_mapped(&a).is_some_and(|m| bits_eq(&m.octets(), &n.octets(), bits))
        }
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

/// The address as ss holds it: 16 bytes, an IPv4 address in the first four.
fn raw16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => {
            let mut r = [0u8; 16];
            r[..4].copy_from_slice(&a.octets());
            r
        }
    }
}

/// ss's userspace check (inet2_addr_match): a `/0` prefix matches anything, otherwise the raw bits whatever the
/// family, and an IPv4 prefix also matches IPv4-mapped IPv6.
fn user_addr_match(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    if bits == 0 || bits_eq(&raw16(ip), &raw16(net), bits) {
        return true;
    }
    match (ip, net) {
        (IpAddr::V6(a), IpAddr::V4(n)) => {
            v4_mapped(&a).is_some_and(|m| bits_eq(&m.octets(), &n.octets(), bits))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockets::model::Endpoint;

    fn parse(s: &str) -> Result<SsFilter, InputError> {
        let words: Vec<String> = s.split(' ').map(str::to_string).collect();
        SsFilter::parse(
            &words,
            ParseCtx {
                tcp: true,
                udp: false,
                family: crate::target::Family::Any,
            },
        )
    }

    fn expr(s: &str) -> Expr {
        parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .expr
            .unwrap()
    }

    fn sport(p: u16) -> Expr {
        Expr::Host(
            End::Local,
            HostCond {
                prefix: None,
                port: Some(p),
            },
        )
    }

    fn and(a: Expr, b: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(b))
    }

    fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Expr) -> Expr {
        Expr::Not(Box::new(a))
    }

    #[test]
    fn and_or_group_left_to_right_and_not_binds_tightest() {
        assert_eq!(
            expr("sport = :1 or sport = :2 and sport = :3"),
            and(or(sport(1), sport(2)), sport(3))
        );
        assert_eq!(
            expr("not sport = :1 or sport = :2"),
            or(not(sport(1)), sport(2))
        );
        assert_eq!(
            expr("sport = :1 ( sport = :2 || sport = :3 )"),
            and(sport(1), or(sport(2), sport(3)))
        );
        assert_eq!(
            expr("(sport = :1 or sport :2) && ! sport == 3"),
            and(or(sport(1), sport(2)), not(sport(3)))
        );
        assert_eq!(expr("sport != :ssh"), not(sport(22)));
        assert_eq!(expr("sport > :1000"), not(Expr::PortLe(End::Local, 1000)));
        assert_eq!(expr("dport lt 80"), not(Expr::PortGe(End::Peer, 80)));
        assert_eq!(expr("dport geq :80"), Expr::PortGe(End::Peer, 80));
    }

    #[test]
    fn hosts_split_as_ss_splits_them() {
        let h = |s: &str| match expr(s) {
            Expr::Host(_, c) => c,
            e => panic!("{e:?}"),
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            h("src 10.0.0.0/8:22"),
            HostCond {
                prefix: Some((ip("10.0.0.0"), 8)),
                port: Some(22)
            }
        );
        assert_eq!(
            h("dst [::1]:443"),
            HostCond {
                prefix: Some((ip("::1"), 128)),
                port: Some(443)
            }
        );
        assert_eq!(
            h("dst ::1:443"),
            HostCond {
                prefix: Some((ip("::1"), 128)),
                port: Some(443)
            }
        );
        assert_eq!(
            h("dst ::1"),
            HostCond {
                prefix: Some((ip("::1"), 128)),
                port: None
            }
        );
        assert_eq!(
            h("src fe80::/10"),
            HostCond {
                prefix: Some((ip("fe80::"), 10)),
                port: None
            }
        );
        assert_eq!(
            h("src *:22"),
            HostCond {
                prefix: None,
                port: Some(22)
            }
        );
        assert_eq!(
            h("src = :https"),
            HostCond {
                prefix: None,
                port: Some(443)
            }
        );
        assert_eq!(
            h("src 127.0.0.0/255.0.0.0"),
            HostCond {
                prefix: Some((ip("127.0.0.0"), 8)),
                port: None
            }
        );
    }

    #[test]
    fn states_and_excludes_build_ss_sets() {
        let f = parse("state connected exclude time-wait sport = :22").unwrap();
        let s = f.states.unwrap();
        assert!(s.contains(State::Established) && s.contains(State::CloseWait));
        assert!(!s.contains(State::TimeWait) && !s.contains(State::Listen));
        assert!(!s.contains(State::Unconn) && !s.contains(State::Close));
        let f = parse("exclude listening").unwrap();
        assert!(f.expr.is_none());
        assert!(!f.states.unwrap().contains(State::Listen));
        assert!(f.states.unwrap().contains(State::Unconn));
        let f = parse("state closed state bucket").unwrap().states.unwrap();
        for s in [State::Close, State::Unconn, State::SynRecv, State::TimeWait] {
            assert!(f.contains(s), "{s:?}");
        }
        assert!(!f.contains(State::Established));
    }

    #[test]
    fn bad_filters_are_one_line_naming_the_word() {
        for (s, needle) in [
            ("sport = :22 foo", "unexpected 'foo' at word 4"),
            ("bogus", "unexpected 'bogus' at word 1"),
            ("( sport = :22", "'(' at word 1 is not closed"),
            ("sport = :22 )", "unmatched ')' at word 4"),
            ("sport =", "needs a value"),
            (
                "sport = :nosuchservice",
                "not a port number or a service name",
            ),
            ("sport = :70000", "out of range"),
            ("src 10.0.0.0/33", "not an address or prefix"),
            ("src localhost", "host names are not looked up"),
            ("sport = :22 or", "needs a condition after it"),
            ("and sport = :22", "needs a condition before it"),
            ("state bogus", "unknown state 'bogus'"),
            (
                "sport = :22 state listening",
                "must come before the expression",
            ),
            ("sport > *", "needs a port number"),
            ("src unix:/run/x", "not supported"),
            ("fwmark = 1", "not supported"),
            ("dev = no-such-if0", "no interface 'no-such-if0'"),
            ("sport = :22 , sport = :80", "unexpected ','"),
        ] {
            let e = parse(s).unwrap_err().0;
            assert!(e.contains(needle), "{s}: {e}");
            assert!(!e.contains('\n'), "{s}: {e}");
        }
    }

    #[test]
    fn compiles_bytecode_as_ss_does() {
        let bc = |s: &str| parse(s).unwrap().bytecode().unwrap();
        let mut want = vec![BC_S_COND, 16];
        want.extend_from_slice(&20u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0, 0, 0]);
        want.extend_from_slice(&22i32.to_ne_bytes());
        want.extend_from_slice(&[0; 4]);
        assert_eq!(bc("sport = :22"), want);
        // and: the first condition's rejection jumps past the whole program.
        let and = bc("sport = :22 dport >= :80");
        assert_eq!(and.len(), 16 + 8);
        assert_eq!(u16::from_ne_bytes([and[2], and[3]]), 16 + 8 + 4);
        assert_eq!(&and[16..20], &op(BC_D_GE, 8, 12));
        // or: a jump over the second part; not: a jump 8 bytes on.
        let or = bc("src 10.0.0.0/8 or not autobound");
        assert_eq!(or.len(), 16 + 4 + 4 + 4);
        assert_eq!(&or[16..20], &op(BC_JMP, 4, 12));
        assert_eq!(
            &or[20..],
            &[op(BC_AUTO, 4, 8), op(BC_JMP, 4, 8)].concat()[..]
        );
        assert!(parse("dev lo or sport = :22").unwrap().bytecode().is_none());
    }

    fn row(local: &str, peer: &str) -> SocketRow {
        let a: std::net::SocketAddr = local.parse().unwrap();
        let b: std::net::SocketAddr = peer.parse().unwrap();
        let mut r = crate::sockets::render::sample_row(1);
        r.local = Endpoint::inet(a.ip(), a.port());
        r.peer = Endpoint::inet(b.ip(), b.port());
        r
    }

    #[test]
    fn evaluates_like_ss() {
        let ctx = EvalCtx {
            ephemeral: (32768, 60999),
        };
        let m = |f: &str, r: &SocketRow| parse(f).unwrap().matches(r, &ctx);
        let v4 = row("127.0.0.1:22", "127.0.0.2:40000");
        let mapped = row("[::ffff:127.0.0.1]:22", "[::ffff:10.1.2.3]:40000");
        let v6 = row("[::1]:443", "[::1]:50000");
        assert!(m("sport = :22", &v4));
        assert!(m("src 127.0.0.0/8 and dst 127.0.0.2", &v4));
        assert!(m("src 127.0.0.1", &mapped) && m("dst 10.0.0.0/8:40000", &mapped));
        assert!(!m("src 127.0.0.1", &v6) && m("src [::1]:443", &v6));
        assert!(m("not src 127.0.0.1", &v6));
        assert!(m("dport >= :40000 and dport <= :40000", &v4));
        assert!(!m("dport > :40000", &v4) && !m("dport < :40000", &v4));
        assert!(m("autobound", &row("[::1]:50000", "[::1]:443")) && !m("autobound", &v4));
        // ss's two checks: a /0 IPv4 prefix matches only IPv4 (kernel) and everything (userspace).
        assert!(m("src 0.0.0.0/0", &v4) && m("src 0.0.0.0/0", &mapped) && !m("src 0.0.0.0/0", &v6));
        assert!(!m("not src 0.0.0.0/0", &v6));
    }
}
