//! Capture files: writing pcap (what tcpdump -w writes: microsecond timestamps, one record per packet) and
//! reading pcap and pcapng.
//!
//! Reading goes through the pcap-file crate (2.x, the stable line), with two corrections: pcap records are read
//! raw and checked here, since pcap-file rejects a record whose original length exceeds the file's snapshot
//! length (every file taken with `-s`); and pcapng timestamps are scaled by the interface's `if_tsresol`, which
//! pcap-file ignores (it takes every timestamp as nanoseconds, while the default is microseconds). Writing is a
//! header and a record per packet, done here straight from the capture ring.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::TsResolution;

use super::decode::LinkType;

/// Bytes gathered before a chunk goes to the writer thread.
const CHUNK: usize = 256 * 1024;
/// Chunks that may wait for the disk (16 MiB): a stalled disk then holds up the capture ring only after this.
const CHUNKS_QUEUED: usize = 64;

/// Writes a pcap file. Records are gathered in memory and written by a thread of their own, so a slow or
/// stalled disk does not keep the capture from handing blocks back to the kernel (which would drop packets).
pub struct Writer<W: Write + Send + 'static> {
    buf: Vec<u8>,
    full: Option<mpsc::SyncSender<Vec<u8>>>,
    free: mpsc::Receiver<Vec<u8>>,
    thread: Option<std::thread::JoinHandle<io::Result<W>>>,
    pub packets: u64,
}

impl Writer<File> {
    /// Creates (or truncates) the file and writes the header.
    pub fn create(path: &Path, link: LinkType, snaplen: u32) -> Result<Writer<File>> {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Writer::new(f, link, snaplen).with_context(|| format!("writing {}", path.display()))
    }
}

impl<W: Write + Send + 'static> Writer<W> {
    pub fn new(mut w: W, link: LinkType, snaplen: u32) -> io::Result<Writer<W>> {
        let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_QUEUED);
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let thread = std::thread::Builder::new()
            .name("pcap-writer".into())
            .spawn(move || -> io::Result<W> {
                for mut chunk in full_rx {
                    w.write_all(&chunk)?;
                    chunk.clear();
                    let _ = free_tx.send(chunk);
                }
                w.flush()?;
                Ok(w)
            })?;
        let mut buf = Vec::with_capacity(CHUNK + 64 * 1024);
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&link.pcap().to_le_bytes());
        buf.extend_from_slice(&h);
        Ok(Writer {
            buf,
            full: Some(full_tx),
            free: free_rx,
            thread: Some(thread),
            packets: 0,
        })
    }

    /// Writes one record: `head` (a link header built for the packet, possibly empty) then `data`.
    pub fn write(
        &mut self,
        sec: u32,
        nsec: u32,
        wire_len: u32,
        head: &[u8],
        data: &[u8],
    ) -> io::Result<()> {
        let caplen = (head.len() + data.len()) as u32;
        let mut r = [0u8; 16];
        r[0..4].copy_from_slice(&sec.to_le_bytes());
        r[4..8].copy_from_slice(&(nsec / 1000).to_le_bytes());
        r[8..12].copy_from_slice(&caplen.to_le_bytes());
        r[12..16].copy_from_slice(&(wire_len + head.len() as u32).max(caplen).to_le_bytes());
        self.buf.extend_from_slice(&r);
        self.buf.extend_from_slice(head);
        self.buf.extend_from_slice(data);
        self.packets += 1;
        if self.buf.len() >= CHUNK {
            self.ship()?;
        }
        Ok(())
    }

    /// Hands the gathered bytes to the writer thread and takes an empty buffer back.
    fn ship(&mut self) -> io::Result<()> {
        let next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 64 * 1024));
        let chunk = std::mem::replace(&mut self.buf, next);
        let sent = self.full.as_ref().map(|tx| tx.send(chunk));
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer thread stopped: its error says why.
            _ => Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the capture file writer stopped"))),
        }
    }

    fn join(&mut self) -> io::Result<W> {
        self.full = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the capture file writer failed")),
            None => Err(io::Error::other("the capture file writer stopped")),
        }
    }

    /// Writes everything out and flushes the file; an error here means the file is not whole.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            self.ship()?;
        }
        self.join()
    }
}

/// One packet read from a file.
#[derive(Debug, Clone)]
pub struct Record {
    pub sec: u64,
    pub nsec: u32,
    pub link: LinkType,
    pub wire_len: u32,
    pub data: Vec<u8>,
}

enum Inner {
    Pcap(PcapReader<BufReader<Box<dyn Read>>>, LinkType, TsResolution),
    PcapNg(PcapNgReader<BufReader<Box<dyn Read>>>),
}

/// Reads pcap or pcapng, whichever the file is.
pub struct Reader {
    inner: Inner,
    /// The link type of the first interface (pcap: the file's).
    pub link: LinkType,
}

fn link_of(v: u32) -> Result<LinkType> {
    LinkType::from_pcap(v).ok_or_else(|| {
        anyhow::anyhow!("link type {v} is not supported (netdiag reads Ethernet, raw IP and Linux cooked captures)")
    })
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader> {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Reader::new(Box::new(f)).with_context(|| format!("reading {}", path.display()))
    }

    pub fn new(mut r: Box<dyn Read>) -> Result<Reader> {
        let mut magic = [0u8; 4];
        r.read_exact(&mut magic)
            .context("the file is shorter than a capture file header")?;
        let chained: Box<dyn Read> = Box::new(io::Cursor::new(magic).chain(r));
        let br = BufReader::with_capacity(1 << 20, chained);
        match u32::from_le_bytes(magic) {
            0x0a0d_0d0a => {
                let ng = PcapNgReader::new(br)
                    .map_err(|e| anyhow::anyhow!("not a valid pcapng file: {e}"))?;
                // The first interface is usually described right after the section header; packets of other
                // interfaces carry their own link type.
                let link = match ng.interfaces().first() {
                    Some(i) => link_of(u32::from(i.linktype))?,
                    None => LinkType::Ethernet,
                };
                Ok(Reader {
                    inner: Inner::PcapNg(ng),
                    link,
                })
            }
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => {
                let p = PcapReader::new(br)
                    .map_err(|e| anyhow::anyhow!("not a valid pcap file: {e}"))?;
                let h = p.header();
                let link = link_of(u32::from(h.datalink))?;
                Ok(Reader {
                    inner: Inner::Pcap(p, link, h.ts_resolution),
                    link,
                })
            }
            _ => bail!(
                "not a pcap or pcapng file (unknown magic number {:02x?})",
                magic
            ),
        }
    }

    /// The next packet, `None` at the end of the file.
    pub fn next_record(&mut self) -> Option<Result<Record>> {
        match &mut self.inner {
            Inner::Pcap(p, link, res) => {
                let raw = match p.next_raw_packet()? {
                    Ok(r) => r,
                    Err(e) => return Some(Err(anyhow::anyhow!("bad packet record: {e}"))),
                };
                let nsec = match res {
                    TsResolution::MicroSecond => raw.ts_frac.saturating_mul(1000),
                    TsResolution::NanoSecond => raw.ts_frac,
                };
                if nsec >= 1_000_000_000 || raw.data.len() != raw.incl_len as usize {
                    return Some(Err(anyhow::anyhow!(
                        "bad packet record: invalid timestamp or length"
                    )));
                }
                Some(Ok(Record {
                    sec: u64::from(raw.ts_sec),
                    nsec,
                    link: *link,
                    wire_len: raw.orig_len.max(raw.incl_len),
                    data: raw.data.into_owned(),
                }))
            }
            Inner::PcapNg(ng) => {
                loop {
                    let block = match ng.next_block()? {
                        Ok(b) => b,
                        Err(e) => return Some(Err(anyhow::anyhow!("bad pcapng block: {e}"))),
                    };
                    let (iface, ticks, wire_len, data) = match block {
                        Block::EnhancedPacket(p) => (
                            p.interface_id,
                            // pcap-file stores the raw 64-bit timestamp as nanoseconds.
                            p.timestamp.as_nanos(),
                            p.original_len,
                            p.data.into_owned(),
                        ),
                        Block::SimplePacket(p) => (0, 0, p.original_len, p.data.into_owned()),
                        _ => continue,
                    };
                    let Some(idb) = ng.interfaces().get(iface as usize) else {
                        return Some(Err(anyhow::anyhow!("a packet refers to interface {iface}, which the file does not describe")));
                    };
                    let link = match link_of(u32::from(idb.linktype)) {
                        Ok(l) => l,
                        Err(e) => return Some(Err(e)),
                    };
                    let resol = idb
                        .options
                        .iter()
                        .find_map(|o| match o {
                            InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                            _ => None,
                        })
                        .unwrap_or(6);
                    let (sec, nsec) = scale(ticks, resol);
                    return Some(Ok(Record {
                        sec,
                        nsec,
                        link,
                        wire_len: wire_len.max(data.len() as u32),
                        data,
                    }));
                }
            }
        }
    }
}

/// A pcapng timestamp in units of `if_tsresol` as seconds and nanoseconds: high bit clear means 10^-n s,
/// set means 2^-n s.
fn scale(ticks: u128, resol: u8) -> (u64, u32) {
    let n = u32::from(resol & 0x7f);
    let per_sec: u128 = if resol & 0x80 == 0 {
        10u128.checked_pow(n.min(30)).unwrap_or(1)
    } else {
        1u128.checked_shl(n.min(100)).unwrap_or(1)
    };
    let sec = ticks / per_sec;
    let frac = ticks % per_sec;
    let nsec = frac * 1_000_000_000 / per_sec;
    (sec.min(u128::from(u64::MAX)) as u64, nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_pcap_reads_back() {
        let mut w = Writer::new(Vec::new(), LinkType::Ethernet, 262144).unwrap();
        w.write(1_700_000_000, 123_456_789, 60, &[], &[1u8; 42])
            .unwrap();
        w.write(1_700_000_001, 0, 1500, &[], &[2u8; 100]).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 42 + 16 + 100);
        let mut r = Reader::new(Box::new(io::Cursor::new(bytes))).unwrap();
        assert_eq!(r.link, LinkType::Ethernet);
        let a = r.next_record().unwrap().unwrap();
        assert_eq!(
            (a.sec, a.nsec, a.wire_len, a.data.len()),
            (1_700_000_000, 123_456_000, 60, 42)
        );
        let b = r.next_record().unwrap().unwrap();
        assert_eq!((b.wire_len, b.data.len()), (1500, 100));
        assert!(r.next_record().is_none());
    }

    /// A file that fails on the second write, as a full disk does.
    struct Full(usize);

    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            if self.0 > 1 {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            } else {
                Ok(b.len())
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_reported_not_lost() {
        let mut w = Writer::new(Full(0), LinkType::Ethernet, 262144).unwrap();
        let mut failed = None;
        for i in 0..20_000u32 {
            if let Err(e) = w.write(i, 0, 100, &[], &[0u8; 100]) {
                failed = Some(e);
                break;
            }
        }
        let e = match failed {
            Some(e) => e,
            None => w.finish().err().expect("the full disk is reported"),
        };
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
    }

    #[test]
    fn not_a_capture_file_says_so() {
        let e = Reader::new(Box::new(io::Cursor::new(b"hello world".to_vec())))
            .err()
            .unwrap();
        assert!(e.to_string().contains("not a pcap or pcapng"), "{e}");
        assert!(Reader::new(Box::new(io::Cursor::new(vec![1u8, 2]))).is_err());
    }

    #[test]
    fn pcapng_timestamps_follow_if_tsresol() {
        assert_eq!(
            scale(1_700_000_000_123_456, 6),
            (1_700_000_000, 123_456_000)
        );
        assert_eq!(
            scale(1_700_000_000_123_456_789, 9),
            (1_700_000_000, 123_456_789)
        );
        assert_eq!(scale(3 << 20 | 1 << 19, 0x80 | 20), (3, 500_000_000));
    }
}
