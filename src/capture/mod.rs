//! `netdiag capture`: see the packets of a conversation as tcpdump shows them, and explain what went wrong in
//! them.
//!
//! Live capture reads an AF_PACKET ring ([`crate::net::packet`]) with the filter compiled to classic BPF and
//! attached in the kernel, so packets the filter rejects are never copied; `-r` reads pcap or pcapng and runs
//! the same program in user space. Every accepted packet can be written to a pcap file, shown as one line
//! (streamed to the caller), and fed to the conversation analysis ([`conv`]).
//!
//! The shape of every subsystem: the types in `model.rs` (the request, [`CaptureReport`], the packet and flow
//! rows), the engine here and in its files ([`pcap`], [`decode`], [`filter`], [`compile`], [`conv`], [`rows`]
//! for packet lines), and `render.rs`, whose `render::Report` draws the packets and conversations as rows for
//! the text table and CSV (JSON is the report's `Serialize`).

pub mod compile;
pub mod conv;
pub mod decode;
pub mod filter;
mod model;
pub mod pcap;
mod render;
pub mod rows;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::net::bpf::{Meta, Program};
use crate::net::packet::{self, Capture, Frame, Framing};
use compile::{Link, Node};
use decode::{Decoded, LinkType};
pub use model::*;
pub use render::{conversations_view, counts_text, packet_table, started_text};

/// Resolves a host name in a filter with the system resolver, as tcpdump does when it compiles a filter.
fn resolve(name: &str) -> Result<Vec<IpAddr>, String> {
    dns_lookup::lookup_host(name)
        .map(|v| v.into_iter().collect())
        .map_err(|e| format!("cannot resolve the host name: {e}"))
}

/// Parses and compiles a filter for a link, with `prelude` (loopback de-duplication) in front.
pub fn compile_filter(
    text: &str,
    link: Link,
    snaplen: u32,
    prelude: Option<Node>,
) -> Result<Program> {
    let expr = filter::parse(text)?;
    let node = match expr {
        Some(e) => compile::lower(&e, link, text, &resolve)?,
        None => Node::Const(true),
    };
    let node = match prelude {
        Some(p) => Node::And(Box::new(p), Box::new(node)),
        None => node,
    };
    compile::assemble(&node, snaplen)
        .map_err(|e| anyhow::anyhow!("the filter does not fit in a classic BPF program: {e}"))
}

/// Where matched packets go besides the caller.
struct Outputs {
    writer: Option<pcap::Writer<std::fs::File>>,
    tracker: Option<conv::Tracker>,
    matched: u64,
    count: Option<u64>,
    show: bool,
}

impl Outputs {
    fn new(req: &Request, link: LinkType) -> Result<Outputs> {
        let writer = match &req.write {
            Some(p) => Some(pcap::Writer::create(p, link, req.snaplen)?),
            None => None,
        };
        Ok(Outputs {
            writer,
            tracker: req.conversations.then(conv::Tracker::new),
            matched: 0,
            count: req.count,
            show: req.show,
        })
    }

    fn full(&self) -> bool {
        self.count.is_some_and(|c| self.matched >= c)
    }

    /// Takes one matched packet. `head` is a link header built for it (cooked captures), `decode` decodes it
    /// when someone needs the fields.
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        sec: u64,
        nsec: u32,
        link: LinkType,
        wire_len: u32,
        head: &[u8],
        data: &[u8],
        decode: &dyn Fn() -> Decoded,
        on_packet: &mut dyn FnMut(&Seen<'_>) -> std::io::Result<()>,
    ) -> Result<()> {
        self.matched += 1;
        if let Some(w) = &mut self.writer {
            w.write(sec as u32, nsec, wire_len, head, data)
                .context("writing the capture file")?;
        }
        if self.show || self.tracker.is_some() {
            let d = decode();
            let caplen = (head.len() + data.len()) as u32;
            let wire = wire_len + head.len() as u32;
            if let Some(t) = &mut self.tracker {
                t.add(sec, nsec, &d, wire);
            }
            if self.show {
                on_packet(&Seen {
                    sec,
                    nsec,
                    link,
                    wire_len: wire,
                    caplen,
                    decoded: &d,
                })?;
            }
        }
        Ok(())
    }

    fn finish(self, written: Option<PathBuf>) -> Result<(Option<PathBuf>, Option<Vec<Flow>>)> {
        if let Some(w) = self.writer {
            w.finish().context("writing the capture file")?;
        }
        Ok((written, self.tracker.map(|t| t.finish())))
    }
}

/// Runs a capture: calls `on_start` once the filter is in place (live) or the file is open, `on_packet` for
/// each matched packet when `req.show`, and returns the counts and conversations.
pub fn run(
    req: &Request,
    on_start: &mut dyn FnMut(&Started) -> Result<()>,
    on_packet: &mut dyn FnMut(&Seen<'_>) -> std::io::Result<()>,
) -> Result<Summary> {
    match &req.source {
        Source::Live { .. } => live(req, on_start, on_packet),
        Source::File(p) => file(req, p, on_start, on_packet),
    }
}

fn live(
    req: &Request,
    on_start: &mut dyn FnMut(&Started) -> Result<()>,
    on_packet: &mut dyn FnMut(&Seen<'_>) -> std::io::Result<()>,
) -> Result<Summary> {
    let Source::Live {
        interface,
        promiscuous,
        buffer,
    } = &req.source
    else {
        unreachable!("live() is called for live sources")
    };
    let opts = packet::Options {
        interface: interface.clone(),
        snaplen: req.snaplen,
        buffer: *buffer,
        block_timeout: req.block_timeout,
        promiscuous: *promiscuous,
    };
    let name = interface.clone().unwrap_or_else(|| "any".into());
    let (mut cap, framing) = Capture::open(&opts).map_err(|e| open_error(e, &name))?;
    let (link, plink) = match framing {
        Framing::Ethernet => (Link::Ethernet, LinkType::Ethernet),
        Framing::RawIp => (Link::Raw, LinkType::Raw),
        Framing::Cooked => (Link::Kernel, LinkType::Sll2),
    };
    // Loopback traffic is seen leaving and arriving; keep one copy, as tcpdump does.
    let lo = packet::loopback_index();
    let prelude = match interface.as_deref() {
        None => lo.map(|i| compile::skip_loopback_outgoing(Some(i))),
        Some(n) if lo.is_some() && packet::interface_index(n).ok() == lo => {
            Some(compile::skip_loopback_outgoing(None))
        }
        Some(_) => None,
    };
    let program = compile_filter(&req.filter, link, req.snaplen, prelude)?;
    let mut out = Outputs::new(req, plink)?;
    cap.start(&program, &opts)
        .map_err(|e| open_error(e, &name))?;
    on_start(&Started {
        source: name,
        live: true,
        link: plink,
        snaplen: req.snaplen,
        program,
    })?;
    let deadline = req.duration.map(|d| Instant::now() + d);
    let mut failure: Option<anyhow::Error> = None;
    // Set once the count is reached or an output failed: the loop below stops then.
    let done = std::cell::Cell::new(false);
    let mut handle = |f: &Frame<'_>| -> bool {
        if out.full() || failure.is_some() {
            done.set(true);
            return false;
        }
        let head = if framing == Framing::Cooked {
            Some(decode::sll2_header(
                f.protocol, f.ifindex, f.hatype, f.pkttype, &f.addr, f.addr_len,
            ))
        } else {
            None
        };
        let dec = || match head {
            Some(_) => decode::decode_cooked(f.protocol, f.ifindex, f.pkttype, f.data),
            None => decode::decode(plink, f.data),
        };
        let head = head.as_ref().map_or(&[][..], |h| &h[..]);
        if let Err(e) = out.take(
            u64::from(f.sec),
            f.nsec,
            plink,
            f.wire_len,
            head,
            f.data,
            &dec,
            on_packet,
        ) {
            failure = Some(e);
            done.set(true);
            return false;
        }
        done.set(out.full());
        !done.get()
    };
    let mut interrupted = false;
    loop {
        if crate::interrupt::requested() {
            interrupted = true;
            break;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || done.get() || req.stopped() {
            break;
        }
        let wait = deadline.map_or(Duration::from_millis(100), |d| {
            (d - now).min(Duration::from_millis(100))
        });
        cap.dispatch(wait, &mut handle)
            .context("reading the capture ring")?;
    }
    // After Ctrl-C, --duration or a stop request, what the kernel still holds is read; after -c, nothing.
    let drain = !done.get();
    cap.stop(drain, &mut handle)
        .context("reading the capture ring")?;
    if let Some(e) = failure {
        return Err(e);
    }
    let st = cap
        .stats()
        .context("reading the kernel's packet counters")?;
    let matched = out.matched;
    let (written, conversations) = out.finish(req.write.clone())?;
    Ok(Summary {
        counts: Counts {
            matched,
            received: Some(st.received),
            dropped: Some(st.dropped),
        },
        interrupted,
        written,
        conversations,
    })
}

fn open_error(e: std::io::Error, name: &str) -> anyhow::Error {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (capturing needs root or CAP_NET_RAW: run with sudo, or setcap cap_net_raw+ep on the binary)"
        }
        Some(libc::ENODEV) | Some(libc::ENXIO) => " (no such interface; 'ip link' lists them, 'any' captures on all)",
        _ => "",
    };
    anyhow::anyhow!("cannot capture on {name}: {e}{hint}")
}

fn file(
    req: &Request,
    path: &std::path::Path,
    on_start: &mut dyn FnMut(&Started) -> Result<()>,
    on_packet: &mut dyn FnMut(&Seen<'_>) -> std::io::Result<()>,
) -> Result<Summary> {
    let mut r = pcap::Reader::open(path)?;
    let mut programs: HashMap<u32, Program> = HashMap::new();
    let first = compile_filter(&req.filter, r.link.filter_link(), req.snaplen, None)?;
    programs.insert(r.link.pcap(), first.clone());
    let mut out = Outputs::new(req, r.link)?;
    on_start(&Started {
        source: path.display().to_string(),
        live: false,
        link: r.link,
        snaplen: req.snaplen,
        program: first,
    })?;
    let start = Instant::now();
    let mut interrupted = false;
    let mut n = 0u64;
    while let Some(rec) = r.next_record() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        n += 1;
        if n.is_multiple_of(4096) {
            if crate::interrupt::requested() {
                interrupted = true;
                break;
            }
            if req.duration.is_some_and(|d| start.elapsed() >= d) || req.stopped() {
                break;
            }
        }
        if rec.link != r.link && !programs.contains_key(&rec.link.pcap()) {
            let p = compile_filter(&req.filter, rec.link.filter_link(), req.snaplen, None)?;
            programs.insert(rec.link.pcap(), p);
        }
        let prog = &programs[&rec.link.pcap()];
        if prog.run(&rec.data, rec.wire_len, &Meta::default()) == 0 {
            continue;
        }
        let link = rec.link;
        let data = &rec.data;
        out.take(
            rec.sec,
            rec.nsec,
            link,
            rec.wire_len,
            &[],
            data,
            &|| decode::decode(link, data),
            on_packet,
        )?;
        if out.full() {
            break;
        }
    }
    let matched = out.matched;
    let (written, conversations) = out.finish(req.write.clone())?;
    Ok(Summary {
        counts: Counts {
            matched,
            received: None,
            dropped: None,
        },
        interrupted,
        written,
        conversations,
    })
}
