//! Compiling a filter expression to a classic BPF program for one link type, with pcap's semantics (what
//! `tcpdump -d` shows): `host` covers IPv4, ARP and RARP (or IPv6 for an IPv6 address); `port` covers TCP, UDP
//! and SCTP over IPv4 (first fragments only) and IPv6; `tcp`/`udp`/`icmp6` over IPv6 also match behind one
//! fragment header.
//!
//! The expression becomes a tree of atomic tests (load, optional mask, compare), which is laid out backwards
//! so that every jump target is known when its jump is written; a conditional jump further than 255
//! instructions goes through a `ja`. Every primitive listed in [`super::filter`] compiles entirely to cBPF, so
//! nothing is left to filter in user space.

use std::net::IpAddr;

use super::filter::{Dir, Expr, FilterError, HostId, Prim, ProtoQ, Test};
use crate::net::bpf::{self, Insn, Program};

/// How packets look to the program: which link header comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Ethernet (LINKTYPE_ETHERNET 1): the ethertype at 12, the network header at 14.
    Ethernet,
    /// Linux cooked v1 (LINKTYPE_LINUX_SLL 113): protocol at 14, network header at 16.
    Sll,
    /// Linux cooked v2 (LINKTYPE_LINUX_SLL2 276): protocol at 0, network header at 20.
    Sll2,
    /// Raw IP (LINKTYPE_RAW 101, IPV4 228, IPV6 229): the IP header first; the version tells the protocol.
    Raw,
    /// A cooked (SOCK_DGRAM) packet socket in the kernel: the network header first, the protocol from
    /// `skb->protocol` (an ancillary load).
    Kernel,
}

impl Link {
    fn nl(self) -> u32 {
        match self {
            Link::Ethernet => 14,
            Link::Sll => 16,
            Link::Sll2 => 20,
            Link::Raw | Link::Kernel => 0,
        }
    }
}

/// A load into the accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// `ld{,h,b} [k]`.
    Abs(u32, u16),
    /// `ldxb 4*([base]&0xf)` then `ld{,h,b} [x + off]`: a field after an IPv4 header of variable length.
    Ind(u32, u32, u16),
}

/// One test: load, optional `and #mask`, then a conditional jump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Atom {
    load: Load,
    mask: Option<u32>,
    op: u16,
    k: u32,
}

/// The expression over atomic tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Const(bool),
    Test(AtomBox),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

/// An atom, opaque outside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtomBox(Atom);

fn and(a: Node, b: Node) -> Node {
    match (a, b) {
        (Node::Const(false), _) | (_, Node::Const(false)) => Node::Const(false),
        (Node::Const(true), x) | (x, Node::Const(true)) => x,
        (a, b) => Node::And(Box::new(a), Box::new(b)),
    }
}

fn or(a: Node, b: Node) -> Node {
    match (a, b) {
        (Node::Const(true), _) | (_, Node::Const(true)) => Node::Const(true),
        (Node::Const(false), x) | (x, Node::Const(false)) => x,
        (a, b) => Node::Or(Box::new(a), Box::new(b)),
    }
}

fn not(a: Node) -> Node {
    match a {
        Node::Const(v) => Node::Const(!v),
        Node::Not(x) => *x,
        x => Node::Not(Box::new(x)),
    }
}

fn any(nodes: impl IntoIterator<Item = Node>) -> Node {
    let v: Vec<Node> = nodes.into_iter().collect();
    // Right-nested, so tests on the same value share one load.
    v.into_iter()
        .rev()
        .fold(Node::Const(false), |acc, n| or(n, acc))
}

fn all(nodes: impl IntoIterator<Item = Node>) -> Node {
    let v: Vec<Node> = nodes.into_iter().collect();
    v.into_iter()
        .rev()
        .fold(Node::Const(true), |acc, n| and(n, acc))
}

fn test(load: Load, mask: Option<u32>, op: u16, k: u32) -> Node {
    Node::Test(AtomBox(Atom { load, mask, op, k }))
}

fn eq(load: Load, k: u32) -> Node {
    test(load, None, bpf::JEQ, k)
}

/// Packet types and the loopback interface, for the prelude that drops loopback's outgoing copies.
pub const PACKET_OUTGOING: u32 = 4;

/// A node that drops the outgoing copy of packets on the loopback interface `lo_ifindex` (each packet on `lo`
/// is seen leaving and arriving; tcpdump shows it once). `None` for the whole socket being bound to `lo`.
pub fn skip_loopback_outgoing(lo_ifindex: Option<u32>) -> Node {
    let outgoing = eq(Load::Abs(bpf::AD_PKTTYPE, bpf::W), PACKET_OUTGOING);
    match lo_ifindex {
        None => not(outgoing),
        Some(i) => not(and(eq(Load::Abs(bpf::AD_IFINDEX, bpf::W), i), outgoing)),
    }
}

/// Turns a filter expression into the test tree for a link type; `resolve` turns host names into addresses.
pub fn lower(
    e: &Expr,
    link: Link,
    text: &str,
    resolve: &dyn Fn(&str) -> Result<Vec<IpAddr>, String>,
) -> Result<Node, FilterError> {
    Ok(match e {
        Expr::Not(a) => not(lower(a, link, text, resolve)?),
        Expr::And(a, b) => and(
            lower(a, link, text, resolve)?,
            lower(b, link, text, resolve)?,
        ),
        Expr::Or(a, b) => or(
            lower(a, link, text, resolve)?,
            lower(b, link, text, resolve)?,
        ),
        Expr::Prim(p) => prim(p, link, text, resolve)?,
    })
}

fn linktype(link: Link, ethertype: u16) -> Node {
    let et = u32::from(ethertype);
    match link {
        Link::Ethernet => eq(Load::Abs(12, bpf::H), et),
        Link::Sll => eq(Load::Abs(14, bpf::H), et),
        Link::Sll2 => eq(Load::Abs(0, bpf::H), et),
        Link::Kernel => eq(Load::Abs(bpf::AD_PROTOCOL, bpf::H), et),
        Link::Raw => match ethertype {
            0x0800 => test(Load::Abs(0, bpf::B), Some(0xf0), bpf::JEQ, 0x40),
            0x86dd => test(Load::Abs(0, bpf::B), Some(0xf0), bpf::JEQ, 0x60),
            _ => Node::Const(false),
        },
    }
}

const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86dd;
const ARP: u16 = 0x0806;
const RARP: u16 = 0x8035;

/// IPv4 protocol `n`.
fn ip_proto(link: Link, n: u8) -> Node {
    and(
        linktype(link, IPV4),
        eq(Load::Abs(link.nl() + 9, bpf::B), u32::from(n)),
    )
}

/// IPv6 next header `n`, directly or behind one fragment header (as pcap's `ip6 proto`).
fn ip6_proto(link: Link, n: u8) -> Node {
    let nh = Load::Abs(link.nl() + 6, bpf::B);
    let frag = and(
        eq(nh, 44),
        eq(Load::Abs(link.nl() + 40, bpf::B), u32::from(n)),
    );
    and(linktype(link, IPV6), or(eq(nh, u32::from(n)), frag))
}

fn by_dir(dir: Dir, src: Node, dst: Node) -> Node {
    match dir {
        Dir::Src => src,
        Dir::Dst => dst,
        Dir::SrcOrDst => or(src, dst),
        Dir::SrcAndDst => and(src, dst),
    }
}

/// The address at `off` equals `addr` under a prefix of `len` bits: one 32-bit word compare per word.
fn addr_at(off: u32, addr: IpAddr, len: u8) -> Node {
    let octets: Vec<u8> = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let words = octets.chunks(4).enumerate().map(|(i, c)| {
        let bits = (i32::from(len) - 32 * i as i32).clamp(0, 32) as u32;
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        let v = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        match mask {
            0 => Node::Const(true),
            u32::MAX => eq(Load::Abs(off + 4 * i as u32, bpf::W), v),
            m => test(
                Load::Abs(off + 4 * i as u32, bpf::W),
                Some(m),
                bpf::JEQ,
                v & m,
            ),
        }
    });
    all(words)
}

/// `[proto] [dir] host|net` for one address and prefix length.
fn host_net(link: Link, proto: Option<ProtoQ>, dir: Dir, addr: IpAddr, len: u8) -> Node {
    let nl = link.nl();
    if addr.is_ipv6() {
        let t = by_dir(dir, addr_at(nl + 8, addr, len), addr_at(nl + 24, addr, len));
        return and(linktype(link, IPV6), t);
    }
    // IPv4 addresses at 12/16 of the IP header; ARP and RARP sender/target protocol addresses at 14/24.
    let at = |et, src: u32, dst: u32| {
        and(
            linktype(link, et),
            by_dir(
                dir,
                addr_at(nl + src, addr, len),
                addr_at(nl + dst, addr, len),
            ),
        )
    };
    match proto {
        Some(ProtoQ::Ip) => at(IPV4, 12, 16),
        Some(ProtoQ::Arp) => at(ARP, 14, 24),
        Some(ProtoQ::Rarp) => at(RARP, 14, 24),
        _ => or(at(IPV4, 12, 16), or(at(ARP, 14, 24), at(RARP, 14, 24))),
    }
}

fn port_cmp(load: Load, lo: u16, hi: u16) -> Node {
    if lo == hi {
        eq(load, u32::from(lo))
    } else {
        and(
            test(load, None, bpf::JGE, u32::from(lo)),
            not(test(load, None, bpf::JGT, u32::from(hi))),
        )
    }
}

fn port(link: Link, protos: &[u8], dir: Dir, lo: u16, hi: u16) -> Node {
    let nl = link.nl();
    // IPv6: next header is the transport protocol (no extension headers, as pcap), ports right after.
    let nh = Load::Abs(nl + 6, bpf::B);
    let v6 = all([
        linktype(link, IPV6),
        any(protos.iter().map(|p| eq(nh, u32::from(*p)))),
        by_dir(
            dir,
            port_cmp(Load::Abs(nl + 40, bpf::H), lo, hi),
            port_cmp(Load::Abs(nl + 42, bpf::H), lo, hi),
        ),
    ]);
    // IPv4: the protocol, a first (or only) fragment, ports after the header of variable length.
    let proto = Load::Abs(nl + 9, bpf::B);
    let v4 = all([
        linktype(link, IPV4),
        any(protos.iter().map(|p| eq(proto, u32::from(*p)))),
        not(test(Load::Abs(nl + 6, bpf::H), None, bpf::JSET, 0x1fff)),
        by_dir(
            dir,
            port_cmp(Load::Ind(nl, nl, bpf::H), lo, hi),
            port_cmp(Load::Ind(nl, nl + 2, bpf::H), lo, hi),
        ),
    ]);
    or(v6, v4)
}

fn prim(
    p: &Prim,
    link: Link,
    text: &str,
    resolve: &dyn Fn(&str) -> Result<Vec<IpAddr>, String>,
) -> Result<Node, FilterError> {
    Ok(match &p.test {
        Test::Proto(q) => match q {
            ProtoQ::Ip => linktype(link, IPV4),
            ProtoQ::Ip6 => linktype(link, IPV6),
            ProtoQ::Arp => linktype(link, ARP),
            ProtoQ::Rarp => linktype(link, RARP),
            ProtoQ::Tcp => or(ip_proto(link, 6), ip6_proto(link, 6)),
            ProtoQ::Udp => or(ip_proto(link, 17), ip6_proto(link, 17)),
            ProtoQ::Sctp => or(ip_proto(link, 132), ip6_proto(link, 132)),
            ProtoQ::Icmp => ip_proto(link, 1),
            ProtoQ::Icmp6 => ip6_proto(link, 58),
        },
        Test::Host(HostId::Addr(a)) => {
            host_net(link, p.proto, p.dir, *a, if a.is_ipv4() { 32 } else { 128 })
        }
        Test::Host(HostId::Name(n)) => {
            let err = |m: String| FilterError {
                text: text.to_string(),
                column: p.column,
                token: n.clone(),
                message: m,
            };
            let addrs = resolve(n).map_err(err)?;
            let wanted: Vec<IpAddr> = addrs
                .into_iter()
                .filter(|a| match p.proto {
                    Some(ProtoQ::Ip6) => a.is_ipv6(),
                    Some(_) => a.is_ipv4(),
                    None => true,
                })
                .collect();
            if wanted.is_empty() {
                return Err(err("the name has no address of the kind asked for".into()));
            }
            any(wanted
                .into_iter()
                .map(|a| host_net(link, p.proto, p.dir, a, if a.is_ipv4() { 32 } else { 128 })))
        }
        Test::Net(a, len) => host_net(link, p.proto, p.dir, *a, *len),
        Test::Port(protos, lo, hi) => port(link, protos, p.dir, *lo, *hi),
    })
}

/// Lays out a test tree as a classic BPF program: accepted packets return `snaplen` (the kernel keeps that
/// many bytes), the rest 0.
pub fn assemble(node: &Node, snaplen: u32) -> Result<Program, String> {
    let mut g = Gen { rev: Vec::new() };
    g.rev.push(Insn::stmt(bpf::RET | bpf::K, 0));
    g.rev.push(Insn::stmt(bpf::RET | bpf::K, snaplen));
    let entry = g.node(node, 1, 0, None);
    if entry + 1 != g.rev.len() {
        g.ja(entry);
    }
    g.rev.reverse();
    Program::new(g.rev)
}

/// Code laid out from the end: an instruction's label is its index in `rev`, counted from the last one.
struct Gen {
    rev: Vec<Insn>,
}

impl Gen {
    fn ja(&mut self, target: usize) -> usize {
        let r = self.rev.len();
        self.rev
            .push(Insn::stmt(bpf::JMP | bpf::JA, (r - target - 1) as u32));
        r
    }

    /// Writes code for `n` that goes to `t` when it holds and `f` when not; `a_has` is the load whose value
    /// the accumulator holds on entry, if every way in leaves it there. Returns the entry label.
    fn node(&mut self, n: &Node, t: usize, f: usize, a_has: Option<(Load, Option<u32>)>) -> usize {
        match n {
            Node::Const(true) => t,
            Node::Const(false) => f,
            Node::Not(x) => self.node(x, f, t, a_has),
            Node::And(a, b) => {
                let eb = self.node(b, t, f, last_load(a));
                self.node(a, eb, f, a_has)
            }
            Node::Or(a, b) => {
                let eb = self.node(b, t, f, last_load(a));
                self.node(a, t, eb, a_has)
            }
            Node::Test(AtomBox(at)) => self.atom(at, t, f, a_has),
        }
    }

    fn atom(
        &mut self,
        at: &Atom,
        mut t: usize,
        mut f: usize,
        a_has: Option<(Load, Option<u32>)>,
    ) -> usize {
        // Far targets go through a `ja` placed right after the jump.
        if self.rev.len() - t - 1 > 255 {
            t = self.ja(t);
        }
        if self.rev.len() - f - 1 > 255 {
            f = self.ja(f);
        }
        let r = self.rev.len();
        self.rev.push(Insn::jump(
            bpf::JMP | at.op | bpf::K,
            at.k,
            (r - t - 1) as u8,
            (r - f - 1) as u8,
        ));
        if a_has == Some((at.load, at.mask)) {
            return r;
        }
        if let Some(m) = at.mask {
            self.rev.push(Insn::stmt(bpf::ALU | bpf::AND | bpf::K, m));
        }
        match at.load {
            Load::Abs(k, size) => self.rev.push(Insn::stmt(bpf::LD | size | bpf::ABS, k)),
            Load::Ind(base, off, size) => {
                self.rev.push(Insn::stmt(bpf::LD | size | bpf::IND, off));
                self.rev
                    .push(Insn::stmt(bpf::LDX | bpf::B | bpf::MSH, base));
            }
        }
        self.rev.len() - 1
    }
}

/// The value the accumulator holds after `n` decided, when `n` is a single test (possibly negated): the next
/// test on the same value need not load it again.
fn last_load(n: &Node) -> Option<(Load, Option<u32>)> {
    match n {
        Node::Test(AtomBox(a)) => Some((a.load, a.mask)),
        Node::Not(x) => last_load(x),
        Node::Or(a, b) | Node::And(a, b) => {
            // Both ways out of a chain of tests on one value leave that value in A.
            let (la, lb) = (last_load(a), last_load(b));
            if la.is_some() && la == lb {
                la
            } else {
                None
            }
        }
        Node::Const(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::filter::parse;

    fn prog(f: &str, link: Link) -> Program {
        let e = parse(f).unwrap().unwrap();
        let n = lower(&e, link, f, &|_| Err("no names".into())).unwrap();
        assemble(&n, 262144).unwrap()
    }

    /// An Ethernet frame with IPv4 and TCP/UDP ports.
    fn eth_ip(proto: u8, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0u8; 14 + 20 + 8];
        p[12] = 8;
        p[14] = 0x45;
        p[14 + 9] = proto;
        p[26..30].copy_from_slice(&src);
        p[30..34].copy_from_slice(&dst);
        p[34..36].copy_from_slice(&sport.to_be_bytes());
        p[36..38].copy_from_slice(&dport.to_be_bytes());
        p
    }

    fn pass(p: &Program, pkt: &[u8]) -> bool {
        p.run(pkt, pkt.len() as u32, &bpf::Meta::default()) != 0
    }

    #[test]
    fn tcp_is_laid_out_as_tcpdump_does() {
        // The same tests as `tcpdump -d tcp`, with one more load of the ethertype (pcap's optimizer keeps it).
        let want = "\
(000) ldh      [12]
(001) jeq      #0x800           jt 2\tjf 4
(002) ldb      [23]
(003) jeq      #0x6             jt 11\tjf 4
(004) ldh      [12]
(005) jeq      #0x86dd          jt 6\tjf 12
(006) ldb      [20]
(007) jeq      #0x6             jt 11\tjf 8
(008) jeq      #0x2c            jt 9\tjf 12
(009) ldb      [54]
(010) jeq      #0x6             jt 11\tjf 12
(011) ret      #262144
(012) ret      #0
";
        assert_eq!(prog("tcp", Link::Ethernet).to_string(), want);
    }

    #[test]
    fn ports_hosts_and_nets_on_ethernet() {
        let p = prog("port 53", Link::Ethernet);
        assert!(pass(
            &p,
            &eth_ip(17, [10, 0, 0, 1], [10, 0, 0, 2], 40000, 53)
        ));
        assert!(pass(
            &p,
            &eth_ip(6, [10, 0, 0, 1], [10, 0, 0, 2], 53, 40000)
        ));
        assert!(!pass(&p, &eth_ip(1, [10, 0, 0, 1], [10, 0, 0, 2], 53, 53)));
        let mut frag = eth_ip(17, [10, 0, 0, 1], [10, 0, 0, 2], 40000, 53);
        frag[14 + 7] = 1; // fragment offset 1: not a first fragment
        assert!(!pass(&p, &frag));
        let p = prog(
            "src net 10.0.0.0/8 and not dst host 10.0.0.2",
            Link::Ethernet,
        );
        assert!(!pass(&p, &eth_ip(6, [10, 0, 0, 1], [10, 0, 0, 2], 1, 2)));
        assert!(pass(&p, &eth_ip(6, [10, 0, 0, 1], [10, 0, 0, 3], 1, 2)));
        assert!(!pass(&p, &eth_ip(6, [11, 0, 0, 1], [10, 0, 0, 3], 1, 2)));
        let p = prog("udp portrange 50-60", Link::Ethernet);
        assert!(pass(&p, &eth_ip(17, [1, 1, 1, 1], [2, 2, 2, 2], 1, 60)));
        assert!(!pass(&p, &eth_ip(17, [1, 1, 1, 1], [2, 2, 2, 2], 1, 61)));
        assert!(!pass(&p, &eth_ip(6, [1, 1, 1, 1], [2, 2, 2, 2], 1, 55)));
    }

    #[test]
    fn raw_and_kernel_links() {
        let p = prog("ip and udp", Link::Raw);
        let pkt = &eth_ip(17, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2)[14..];
        assert!(pass(&p, pkt));
        let p = prog("arp", Link::Raw);
        assert!(!pass(&p, pkt));
        let p = prog("ip", Link::Kernel);
        let m = bpf::Meta {
            protocol: 0x800,
            ..Default::default()
        };
        assert_ne!(p.run(pkt, pkt.len() as u32, &m), 0);
    }

    #[test]
    fn long_programs_jump_through_ja() {
        let f: Vec<String> = (1..60).map(|p| format!("port {p}")).collect();
        let f = f.join(" or ");
        let p = prog(&f, Link::Ethernet);
        assert!(p.len() > 300);
        assert!(pass(&p, &eth_ip(6, [1, 1, 1, 1], [2, 2, 2, 2], 1000, 59)));
        assert!(pass(&p, &eth_ip(6, [1, 1, 1, 1], [2, 2, 2, 2], 1, 1000)));
        assert!(!pass(&p, &eth_ip(6, [1, 1, 1, 1], [2, 2, 2, 2], 1000, 60)));
    }

    #[test]
    fn the_empty_filter_accepts_and_const_false_rejects() {
        let p = assemble(&Node::Const(true), 96).unwrap();
        assert_eq!(p.run(&[], 0, &bpf::Meta::default()), 96);
        let p = assemble(&Node::Const(false), 96).unwrap();
        assert_eq!(p.run(&[], 0, &bpf::Meta::default()), 0);
    }
}
