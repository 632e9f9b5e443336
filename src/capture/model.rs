//! Capture's types: the request, what the engine sees (the source, each matched packet), the packet and
//! conversation rows, and the report.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::decode::{Decoded, LinkType};
use crate::explain::Explanation;
use crate::net::bpf::Program;

/// Where packets come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A live interface (`None`: all of them, `any`).
    Live {
        interface: Option<String>,
        promiscuous: bool,
        /// The ring's size in bytes.
        buffer: usize,
    },
    /// A pcap or pcapng file.
    File(PathBuf),
}

/// What to capture and what to do with it.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: Source,
    /// The filter expression (pcap-filter syntax); empty for every packet.
    pub filter: String,
    pub snaplen: u32,
    /// Stop after this many packets have matched.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Write matched packets to this pcap file.
    pub write: Option<PathBuf>,
    /// Decode packets for the caller (lines, JSON, CSV).
    pub show: bool,
    /// Track conversations and explain each one.
    pub conversations: bool,
    /// How long the kernel may hold a block of packets before handing it over.
    pub block_timeout: Duration,
    /// Set by another thread to end the capture (as Ctrl-C does, but not counted as an interruption).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Request {
    pub(crate) fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// What the capture looks at, known once it has started.
#[derive(Debug, Clone)]
pub struct Started {
    /// The interface name, `any`, or the file.
    pub source: String,
    pub live: bool,
    pub link: LinkType,
    pub snaplen: u32,
    /// The program for the first link type (the kernel's, for a live capture).
    pub program: Program,
}

/// One matched packet, decoded.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub sec: u64,
    pub nsec: u32,
    pub link: LinkType,
    pub wire_len: u32,
    pub caplen: u32,
    pub decoded: &'a Decoded,
}

/// Packet counts, as tcpdump reports them at the end.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Packets that matched the filter and were shown or written.
    pub matched: u64,
    /// Packets that passed the kernel's filter, including those it dropped (live captures only).
    pub received: Option<u64>,
    /// Packets the kernel dropped because the ring was full (live captures only).
    pub dropped: Option<u64>,
}

/// What the engine returns: the counts and the conversations.
#[derive(Debug, Clone)]
pub struct Summary {
    pub counts: Counts,
    /// True when Ctrl-C ended the capture.
    pub interrupted: bool,
    /// The file written, if any.
    pub written: Option<PathBuf>,
    pub conversations: Option<Vec<Flow>>,
}

/// How time stamps are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// Local time of day, microseconds (tcpdump's default).
    Absolute,
    /// Seconds since the first packet.
    Relative,
    /// Seconds since the previous packet.
    Delta,
    /// Seconds since the epoch.
    Epoch,
    /// Local date and time.
    Date,
}

/// An endpoint: address and (for TCP/UDP) port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct Endpoint {
    pub address: IpAddr,
    /// Null for ICMP and other protocols without ports.
    pub port: Option<u16>,
}

/// The TCP handshake as seen: times from the first SYN.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Handshake {
    /// SYNs the client sent (more than 1: retransmitted, unanswered).
    pub syns: u64,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "syn_ack_ms")]
    pub syn_ack: Option<std::time::Duration>,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "ack_ms")]
    pub ack: Option<std::time::Duration>,
}

/// An ICMP error that quotes a packet of the flow.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IcmpError {
    pub from: IpAddr,
    #[serde(rename = "type")]
    pub ty: u8,
    pub code: u8,
    pub name: String,
}

/// One conversation and what it says.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    pub protocol: String,
    pub client: Endpoint,
    pub server: Endpoint,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Seconds since the epoch of the first packet.
    pub start: f64,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "duration_ms")]
    pub duration: std::time::Duration,
    /// Null for UDP and ICMP.
    pub handshake: Option<Handshake>,
    #[serde(serialize_with = "crate::duration::ser_opt_ms", rename = "rtt_ms")]
    pub rtt: Option<std::time::Duration>,
    pub retransmissions: u64,
    pub dup_acks: u64,
    pub zero_window_events: u64,
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "zero_window_ms")]
    pub zero_window: std::time::Duration,
    /// Who sent the first FIN: client, server, both (in that order).
    pub fin_from: Option<String>,
    pub rst_from: Option<String>,
    pub icmp_errors: Vec<IcmpError>,
    /// The headline: the explanation's code (completed, refused, no-answer, ...).
    pub state: String,
    pub explanation: Explanation,
}

/// One packet as a row: the fields of its line, its JSON object and its CSV record.
#[derive(Debug, Clone, Serialize)]
pub struct PacketRow {
    /// RFC 3339 time stamp, UTC.
    pub time: String,
    /// Since the first packet.
    #[serde(serialize_with = "crate::duration::ser_ms", rename = "elapsed_ms")]
    pub elapsed: Duration,
    /// The interface (captures on `any`), else null.
    pub interface: Option<String>,
    /// `in` or `out` (captures on `any`), else null.
    pub direction: Option<&'static str>,
    /// `tcp`, `udp`, `icmp`, `icmp6`, `arp`, `ip`, `ip6`, another IP protocol's name, or `ethertype-0xNNNN`.
    pub protocol: String,
    pub src: Option<Endpoint>,
    pub dst: Option<Endpoint>,
    /// Bytes on the wire.
    pub length: u32,
    pub tcp: Option<TcpFields>,
    pub udp: Option<UdpFields>,
    pub icmp: Option<IcmpFields>,
    /// The rest of the packet's line.
    pub summary: String,
    /// The line's time stamp, in the format asked for.
    #[serde(skip)]
    pub stamp: String,
    /// The protocol as the line shows it (`TCP`, `ICMP6`).
    #[serde(skip)]
    pub label: String,
    /// The endpoints as the line shows them (with service names unless -n).
    #[serde(skip)]
    pub src_text: String,
    #[serde(skip)]
    pub dst_text: String,
}

/// A TCP segment's header fields (sequence numbers relative to the first seen, unless -v).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TcpFields {
    /// `SYN,ACK`, `PSH,ACK`, ... (`none` when no flag is set).
    pub flags: String,
    pub seq: u32,
    pub ack: Option<u32>,
    pub window: u16,
    pub payload_length: u32,
}

/// A UDP datagram's payload length.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UdpFields {
    pub payload_length: u32,
}

/// An ICMP or ICMPv6 message.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IcmpFields {
    #[serde(rename = "type")]
    pub ty: u8,
    pub code: u8,
    pub name: String,
    /// The packet an error message quotes, else null.
    pub quoted: Option<Quoted>,
}

/// The header of the packet an ICMP error quotes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Quoted {
    pub protocol: String,
    pub src: Endpoint,
    pub dst: Endpoint,
}

/// A finished capture: where from, the packets (for JSON and CSV; text streams them as lines while it runs),
/// tcpdump's counts and, with `--conversations`, one row per flow with its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureReport {
    /// The interface (`any` for all of them) or the file read.
    pub source: String,
    /// True for a live capture, false for `-r`.
    pub live: bool,
    /// The link type, as tcpdump names it (`EN10MB (Ethernet)`).
    pub link_type: String,
    /// The filter, as given (empty: every packet).
    pub filter: String,
    /// The matched packets (JSON and CSV; empty when only written to a file or only analysed).
    pub packets: Vec<PacketRow>,
    pub counts: Counts,
    /// With `--conversations`: one entry per flow, else null.
    pub conversations: Option<Vec<Flow>>,
    /// The pcap file written (`-w`), else null.
    pub written: Option<PathBuf>,
    /// True when Ctrl-C ended the capture.
    pub interrupted: bool,
    /// Whether packets were asked for (lines, or rows in JSON and CSV).
    #[serde(skip)]
    pub packets_shown: bool,
}
