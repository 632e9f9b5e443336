//! The socket table's types: rows, states, the request and its filters, the summary.

use std::net::IpAddr;

use serde::Serialize;

use crate::services::Proto;
use crate::target::{shown, Family, InputError, PortList};

/// The kind of socket, in the order tables list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SockProto {
    Tcp,
    Udp,
    UnixStream,
    UnixSeqpacket,
    UnixDgram,
}

impl SockProto {
    /// Every protocol, in table order.
    pub const ALL: [SockProto; 5] = [
        SockProto::Tcp,
        SockProto::Udp,
        SockProto::UnixStream,
        SockProto::UnixSeqpacket,
        SockProto::UnixDgram,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SockProto::Tcp => "tcp",
            SockProto::Udp => "udp",
            SockProto::UnixStream => "unix-stream",
            SockProto::UnixSeqpacket => "unix-seqpacket",
            SockProto::UnixDgram => "unix-dgram",
        }
    }

    pub fn is_unix(self) -> bool {
        !matches!(self, SockProto::Tcp | SockProto::Udp)
    }

    /// The protocol the services registry knows this socket by.
    pub fn registry_proto(self) -> Option<Proto> {
        match self {
            SockProto::Tcp => Some(Proto::Tcp),
            SockProto::Udp => Some(Proto::Udp),
            _ => None,
        }
    }

    /// From a UNIX socket type (SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5).
    pub fn from_unix_type(t: u32) -> Option<SockProto> {
        match t {
            1 => Some(SockProto::UnixStream),
            2 => Some(SockProto::UnixDgram),
            5 => Some(SockProto::UnixSeqpacket),
            _ => None,
        }
    }
}

/// A socket state, named as the kernel's TCP states (UDP and UNIX sockets reuse them; an unconnected one is
/// `unconn`). Written the same way in tables, in JSON and in what `--state` accepts: lowercase kebab-case, as ss
/// spells them (`time-wait`, `fin-wait-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    /// A datagram or UNIX socket with no peer (the kernel's TCP_CLOSE on a socket that never connects).
    Unconn,
    Unknown,
}

impl State {
    pub const ALL: [State; 13] = [
        State::Established,
        State::SynSent,
        State::SynRecv,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::Close,
        State::CloseWait,
        State::LastAck,
        State::Listen,
        State::Closing,
        State::Unconn,
        State::Unknown,
    ];

    /// From the kernel's state number (include/net/tcp_states.h). TCP_CLOSE on UDP or UNIX is UNCONN.
    pub fn from_kernel(proto: SockProto, st: u8) -> State {
        match st {
            1 => State::Established,
            2 => State::SynSent,
            3 | 12 => State::SynRecv,
            4 => State::FinWait1,
            5 => State::FinWait2,
            6 => State::TimeWait,
            7 if proto == SockProto::Tcp => State::Close,
            7 => State::Unconn,
            8 => State::CloseWait,
            9 => State::LastAck,
            10 => State::Listen,
            11 => State::Closing,
            _ => State::Unknown,
        }
    }

    /// The kernel state numbers that show as this state for a protocol (for the netlink state mask).
    pub fn kernel_numbers(self, proto: SockProto) -> &'static [u8] {
        match self {
            State::Established => &[1],
            State::SynSent => &[2],
            State::SynRecv => &[3, 12],
            State::FinWait1 => &[4],
            State::FinWait2 => &[5],
            State::TimeWait => &[6],
            State::Close if proto == SockProto::Tcp => &[7],
            State::Unconn if proto != SockProto::Tcp => &[7],
            State::Close | State::Unconn => &[],
            State::CloseWait => &[8],
            State::LastAck => &[9],
            State::Listen => &[10],
            State::Closing => &[11],
            State::Unknown => &[],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Established => "established",
            State::SynSent => "syn-sent",
            State::SynRecv => "syn-recv",
            State::FinWait1 => "fin-wait-1",
            State::FinWait2 => "fin-wait-2",
            State::TimeWait => "time-wait",
            State::Close => "close",
            State::CloseWait => "close-wait",
            State::LastAck => "last-ack",
            State::Listen => "listen",
            State::Closing => "closing",
            State::Unconn => "unconn",
            State::Unknown => "unknown",
        }
    }

    /// Parses a state as [`State::as_str`] writes it (what tables and JSON show), or as ss and netstat spell it:
    /// `established`/`estab`, `syn-sent`, `syn-recv`, `fin-wait-1`, `fin-wait-2`, `time-wait`, `close`/`closed`,
    /// `close-wait`, `last-ack`, `listen`/`listening`, `closing`, `unconn`/`unconnected`; case-insensitive, `-`
    /// and `_` alike (`TIME_WAIT`, as older netdiag JSON and netstat print it, works too).
    pub fn parse(s: &str) -> Result<State, InputError> {
        let k: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let st = match k.as_str() {
            "established" | "estab" => State::Established,
            "synsent" => State::SynSent,
            "synrecv" | "synreceived" => State::SynRecv,
            "finwait1" => State::FinWait1,
            "finwait2" => State::FinWait2,
            "timewait" => State::TimeWait,
            "close" | "closed" => State::Close,
            "closewait" => State::CloseWait,
            "lastack" => State::LastAck,
            "listen" | "listening" => State::Listen,
            "closing" => State::Closing,
            "unconn" | "unconnected" => State::Unconn,
            _ => {
                return Err(InputError(format!(
                    "invalid state '{}': expected one of established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, \
                     time-wait, close, close-wait, last-ack, listen, closing, unconn",
                    shown(s)
                )))
            }
        };
        Ok(st)
    }
}

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One end of a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Endpoint {
    Inet {
        address: IpAddr,
        port: u16,
        /// The name `--resolve` found for the address.
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// The registered service name for the port, with `--services`.
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'static str>,
    },
    Unix {
        /// The bound path; abstract names start with `@`.
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The inode of the connected peer socket.
        #[serde(skip_serializing_if = "Option::is_none")]
        peer_inode: Option<u64>,
    },
}

impl Endpoint {
    pub fn inet(address: IpAddr, port: u16) -> Endpoint {
        Endpoint::Inet {
            address,
            port,
            host: None,
            service: None,
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Endpoint::Inet { port, .. } => *port,
            Endpoint::Unix { .. } => 0,
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Endpoint::Inet { address, .. } => Some(*address),
            Endpoint::Unix { .. } => None,
        }
    }

    /// An order for addresses and paths (IPv4 before IPv6, numeric within a family).
    pub(crate) fn sort_key(&self) -> EndpointKey<'_> {
        match self {
            Endpoint::Inet { address, .. } => EndpointKey::Ip(*address),
            Endpoint::Unix { path, peer_inode } => {
                EndpointKey::Unix(path.as_deref().unwrap_or(""), peer_inode.unwrap_or(0))
            }
        }
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EndpointKey<'a> {
    Ip(IpAddr),
    Unix(&'a str, u64),
}

/// A process that holds a socket open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub pid: u32,
    /// The process name from /proc/PID/comm.
    pub program: String,
}

/// One socket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SocketRow {
    #[serde(rename = "protocol")]
    pub proto: SockProto,
    pub state: State,
    /// Bytes waiting to be read (for a listener: connections waiting to be accepted).
    pub recv_q: u32,
    /// Bytes not yet acknowledged by the peer (for a listener: the accept backlog).
    pub send_q: u32,
    pub local: Endpoint,
    pub peer: Endpoint,
    /// The owner's user id; `None` when the source does not say (UNIX sockets on old kernels).
    pub uid: Option<u32>,
    /// The socket's inode (0 for TIME_WAIT and other sockets no file refers to).
    pub inode: u64,
    /// The processes holding the socket, with `-p`; `None` when not asked, empty when none could be seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owners: Option<Vec<Owner>>,
    /// For IPv6 sockets read over netlink: the kernel's IPV6_V6ONLY flag. `false` on a wildcard (`::`) socket
    /// means it also takes IPv4 (dual-stack, shown `*:PORT` as ss does); `true` means IPv6 only (`[::]:PORT`).
    /// `None` for IPv4 and UNIX sockets, and when the source does not say (/proc/net).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v6only: Option<bool>,
    /// With `-i`, for TCP sockets read over netlink: the kernel's `struct tcp_info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_info: Option<TcpInfo>,
    /// With `-o`, for TCP sockets read over netlink: the running timer; `None` when none runs or not asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer: Option<Timer>,
    /// The interface the socket is bound to (`idiag_if`, for `dev NAME` filters); 0 for none or unknown.
    #[serde(skip)]
    pub iface: u32,
}

/// The parts of the kernel's `struct tcp_info` that `ss -i` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpInfo {
    pub rtt_ms: f64,
    pub rttvar_ms: f64,
    pub rto_ms: f64,
    /// Congestion window, in segments.
    pub cwnd: u32,
    /// Slow-start threshold in segments; `None` while it is still "infinite" (ss then omits it).
    pub ssthresh: Option<u32>,
    /// Retransmissions of the current segment (the RTO backoff count).
    pub retransmits: u8,
    pub total_retrans: u32,
    /// The kernel's delivery-rate estimate, in bits per second.
    pub delivery_rate_bps: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
}

/// Which socket timer runs (the inet_diag `idiag_timer` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerKind {
    /// The retransmission timer (ss: `on`).
    On,
    Keepalive,
    Timewait,
    /// The zero-window probe timer.
    Persist,
}

impl TimerKind {
    /// From `idiag_timer`; `None` for 0 (no timer) and unknown codes.
    pub fn from_kernel(code: u8) -> Option<TimerKind> {
        match code {
            1 => Some(TimerKind::On),
            2 => Some(TimerKind::Keepalive),
            3 => Some(TimerKind::Timewait),
            4 => Some(TimerKind::Persist),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::On => "on",
            TimerKind::Keepalive => "keepalive",
            TimerKind::Timewait => "timewait",
            TimerKind::Persist => "persist",
        }
    }
}

/// A running socket timer: its kind, the time left and the retransmissions (or keepalive probes) so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timer {
    pub kind: TimerKind,
    pub expires_ms: u64,
    pub retrans: u8,
}

impl SocketRow {
    pub fn is_v6(&self) -> bool {
        self.local.ip().is_some_and(|ip| ip.is_ipv6())
    }

    /// A wildcard IPv6 socket that also takes IPv4 (IPV6_V6ONLY off): ss writes its addresses as `*`.
    pub fn dual_stack(&self) -> bool {
        self.v6only == Some(false)
            && matches!(self.local.ip(), Some(IpAddr::V6(a)) if a.is_unspecified())
    }
}

/// Where the table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Netlink, falling back to /proc/net when the kernel refuses.
    #[default]
    Auto,
    Netlink,
    Proc,
    /// The kernel's socket counters (/proc/net/sockstat, sockstat6, snmp), as `ss -s` reads them.
    Counters,
}

impl Source {
    pub fn parse(s: &str) -> Option<Source> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Source::Auto),
            "netlink" => Some(Source::Netlink),
            "proc" => Some(Source::Proc),
            _ => None,
        }
    }
}

/// Which sockets to list and what to show about them. Filters combine (all must match).
#[derive(Debug, Clone, Default)]
pub struct SocketsRequest {
    pub tcp: bool,
    pub udp: bool,
    pub unix: bool,
    pub family: Family,
    /// Only listening sockets (TCP LISTEN, UNIX LISTEN, unconnected UDP).
    pub listening: bool,
    /// Only these states (empty: every state).
    pub states: Vec<State>,
    /// Only sockets whose local or remote port is in the list.
    pub ports: Option<PortList>,
    /// Only sockets held by these processes (implies the owner walk).
    pub pids: Vec<u32>,
    /// Fill in the owning processes.
    pub processes: bool,
    /// Name ports from the bundled services table.
    pub services: bool,
    /// Reverse-resolve addresses.
    pub resolve: bool,
    /// Ask the kernel for TCP info (`-i`).
    pub info: bool,
    /// Show socket timers (`-o`).
    pub timers: bool,
    pub source: Source,
    /// ss's filter words: `state`/`exclude` and the expression (`sport = :22`, `dst 10.0.0.0/8`).
    pub filter: SsFilter,
}

impl SocketsRequest {
    /// The (protocol, IPv6?) dumps to make; UNIX sockets are one dump (`v6` false).
    pub fn dumps(&self) -> Vec<(SockProto, bool)> {
        let mut d = Vec::new();
        for (on, p) in [(self.tcp, SockProto::Tcp), (self.udp, SockProto::Udp)] {
            if !on {
                continue;
            }
            if self.family != Family::V6 {
                d.push((p, false));
            }
            if self.family != Family::V4 {
                d.push((p, true));
            }
        }
        if self.unix {
            d.push((SockProto::UnixStream, false));
        }
        d
    }

    fn state_wanted(&self, proto: SockProto, st: State) -> bool {
        let explicit = self.states.is_empty() || self.states.contains(&st);
        // ss's `state`/`exclude` words replace what -l would pick, as in ss.
        if let Some(set) = self.filter.state_set() {
            return set.contains(st) && explicit;
        }
        if self.listening {
            let listening = match proto {
                SockProto::Tcp | SockProto::UnixStream | SockProto::UnixSeqpacket => {
                    st == State::Listen
                }
                SockProto::Udp | SockProto::UnixDgram => st == State::Unconn,
            };
            if !listening {
                return false;
            }
        }
        explicit
    }

    /// The netlink state bitmask for a dump: every kernel state that can show as a wanted state.
    pub fn kernel_state_mask(&self, proto: SockProto) -> u32 {
        let mut mask = 0u32;
        for st in 1u8..=12 {
            let wanted = if proto.is_unix() {
                // One UNIX dump covers every type; filter exactly afterwards.
                [SockProto::UnixStream, SockProto::UnixDgram]
                    .iter()
                    .any(|p| self.state_wanted(*p, State::from_kernel(*p, st)))
            } else {
                self.state_wanted(proto, State::from_kernel(proto, st))
            };
            if wanted {
                mask |= 1 << st;
            }
        }
        mask
    }

    /// True when a row passes every filter except `--pid` (which needs the owners).
    pub fn matches(&self, s: &SocketRow) -> bool {
        let proto_on = match s.proto {
            SockProto::Tcp => self.tcp,
            SockProto::Udp => self.udp,
            _ => self.unix,
        };
        if !proto_on || !self.state_wanted(s.proto, s.state) {
            return false;
        }
        if let Some(ip) = s.local.ip() {
            if !self.family.matches(&ip) {
                return false;
            }
        }
        if let Some(ports) = &self.ports {
            if s.proto.is_unix()
                || !(port_in(ports, s.local.port()) || port_in(ports, s.peer.port()))
            {
                return false;
            }
        }
        true
    }
}

fn port_in(list: &PortList, port: u16) -> bool {
    port != 0
        && list
            .ranges()
            .iter()
            .any(|&(lo, hi)| lo <= port && port <= hi)
}

/// The socket table.
#[derive(Debug, Clone, Serialize)]
pub struct SocketsReport {
    /// `netlink` or `proc` (when any part came from /proc/net).
    pub source: Source,
    /// True when the owner columns were filled in.
    pub processes: bool,
    /// True with `-i`: the table has a TCP-INFO column.
    #[serde(skip)]
    pub info: bool,
    /// True with `-o`: the table has a TIMER column.
    #[serde(skip)]
    pub timers: bool,
    pub sockets: Vec<SocketRow>,
    /// Things the reader should know (fallbacks, permission limits).
    pub notes: Vec<String>,
    /// True when Ctrl-C stopped the owner walk: the owner columns may be incomplete.
    pub interrupted: bool,
}

/// Socket counts per protocol and state, like `ss -s`.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryReport {
    /// `counters` (the kernel's counters, no filter given) or where the counted rows came from.
    pub source: Source,
    pub total: usize,
    /// ss's TCP line, from the kernel counters; null when rows were counted.
    pub tcp: Option<TcpCounters>,
    pub protocols: Vec<ProtoCount>,
    pub notes: Vec<String>,
    pub interrupted: bool,
}

/// ss's `TCP:` line: sockets allocated (plus time-wait), established, closed, orphaned and time-wait.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct TcpCounters {
    pub total: usize,
    pub established: usize,
    pub closed: usize,
    pub orphaned: usize,
    pub time_wait: usize,
}

/// The counts for one protocol (`tcp`, `udp`, `raw`, `inet`, `frag`, `unix-stream`...).
#[derive(Debug, Clone, Serialize)]
pub struct ProtoCount {
    #[serde(rename = "protocol")]
    pub proto: &'static str,
    pub total: usize,
    pub ipv4: usize,
    pub ipv6: usize,
    pub states: Vec<StateCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StateCount {
    pub state: State,
    pub count: usize,
}

impl SummaryReport {
    /// Counts the rows of a report.
    pub fn from_report(r: &SocketsReport) -> SummaryReport {
        let mut protocols: Vec<ProtoCount> = Vec::new();
        for s in &r.sockets {
            let i = match protocols.iter().position(|p| p.proto == s.proto.as_str()) {
                Some(i) => i,
                None => {
                    protocols.push(ProtoCount {
                        proto: s.proto.as_str(),
                        total: 0,
                        ipv4: 0,
                        ipv6: 0,
                        states: Vec::new(),
                    });
                    protocols.len() - 1
                }
            };
            let p = &mut protocols[i];
            p.total += 1;
            match s.local.ip() {
                Some(IpAddr::V4(_)) => p.ipv4 += 1,
                Some(IpAddr::V6(_)) => p.ipv6 += 1,
                None => {}
            }
            match p.states.iter_mut().find(|c| c.state == s.state) {
                Some(c) => c.count += 1,
                None => p.states.push(StateCount {
                    state: s.state,
                    count: 1,
                }),
            }
        }
        let rank = |name: &str| SockProto::ALL.iter().position(|p| p.as_str() == name);
        protocols.sort_by_key(|p| rank(p.proto));
        for p in &mut protocols {
            p.states
                .sort_by(|a, b| b.count.cmp(&a.count).then(a.state.cmp(&b.state)));
        }
        SummaryReport {
            source: r.source,
            total: r.sockets.len(),
            tcp: None,
            protocols,
            notes: r.notes.clone(),
            interrupted: r.interrupted,
        }
    }
}

// ss's filter words, parsed and evaluated in filter.rs.

/// Which end of a socket a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// `src`, `sport`: the local end.
    Local,
    /// `dst`, `dport`: the peer.
    Peer,
}

/// An address prefix and/or a port (`src 10.0.0.0/8:22`, `sport = :22`); `None` parts match anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCond {
    pub prefix: Option<(IpAddr, u8)>,
    pub port: Option<u16>,
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Host(End, HostCond),
    /// The end's port is at least this.
    PortGe(End, u16),
    /// The end's port is at most this.
    PortLe(End, u16),
    /// Bound to this interface index.
    Dev(u32),
    Autobound,
}

/// A bit set of [`State`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateSet(u16);

impl StateSet {
    pub const ALL: StateSet = StateSet((1 << State::ALL.len()) - 1);

    fn of(states: &[State]) -> StateSet {
        StateSet(states.iter().fold(0, |m, s| m | (1 << *s as u16)))
    }

    pub fn contains(self, s: State) -> bool {
        self.0 & (1 << s as u16) != 0
    }

    pub(super) fn minus(self, o: StateSet) -> StateSet {
        StateSet(self.0 & !o.0)
    }

    pub(super) fn union(self, o: StateSet) -> StateSet {
        StateSet(self.0 | o.0)
    }

    /// A state word as ss's `state`/`exclude` take it: a state (ss's names or netdiag's), or one of ss's groups
    /// `all`, `connected`, `synchronized`, `bucket`, `big`. ss's CLOSE covers both netdiag's `close` (TCP) and
    /// `unconn` (UDP, UNIX).
    pub fn parse(word: &str) -> Option<StateSet> {
        use State::*;
        let closed = StateSet::of(&[Close, Unconn]);
        let set = match word.to_ascii_lowercase().as_str() {
            "all" => StateSet::ALL,
            "connected" => StateSet::ALL.minus(closed).minus(StateSet::of(&[Listen])),
            "synchronized" => StateSet::ALL
                .minus(closed)
                .minus(StateSet::of(&[Listen, SynSent])),
            "bucket" => StateSet::of(&[SynRecv, TimeWait]),
            "big" => StateSet::ALL.minus(StateSet::of(&[SynRecv, TimeWait])),
            "syn-rcv" => StateSet::of(&[SynRecv]),
            "close" | "closed" | "unconn" | "unconnected" => closed,
            _ => match State::parse(word) {
                Ok(s) if s != Unknown => StateSet::of(&[s]),
                _ => return None,
            },
        };
        Some(set)
    }
}

/// A whole filter: the `state`/`exclude` words and the expression.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsFilter {
    /// The states `state`/`exclude` select; `None` when neither was given.
    pub states: Option<StateSet>,
    pub expr: Option<Expr>,
    /// The filter as given (for messages).
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_filter_accepts_what_tables_and_json_print() {
        for st in State::ALL.into_iter().filter(|s| *s != State::Unknown) {
            let word = st.as_str();
            assert!(
                word.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{word}"
            );
            assert_eq!(serde_json::to_value(st).unwrap(), word);
            assert_eq!(State::parse(word), Ok(st), "{word}");
        }
        // The spellings of older netdiag JSON, netstat and ss still work.
        for (old, st) in [
            ("TIME_WAIT", State::TimeWait),
            ("FIN_WAIT1", State::FinWait1),
            ("estab", State::Established),
            ("LISTEN", State::Listen),
            ("unconnected", State::Unconn),
        ] {
            assert_eq!(State::parse(old), Ok(st), "{old}");
        }
        assert!(State::parse("unknown").is_err());
    }
}
