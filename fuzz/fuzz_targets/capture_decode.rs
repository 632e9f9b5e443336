//! The packet decoders (Ethernet, Linux cooked v1/v2, raw IP; IPv4/IPv6, TCP, UDP, ICMP with quoted packets,
//! ARP), the conversation tracker and the packet line renderer: never panic on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::capture::conv::Tracker;
use netdiag::capture::decode::{decode, decode_cooked, LinkType};
use netdiag::capture::rows::Packets;
use netdiag::capture::TimeFormat;
use netdiag::capture::Seen;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let link = [LinkType::Ethernet, LinkType::Sll, LinkType::Sll2, LinkType::Raw][usize::from(sel % 4)];
    let mut tracker = Tracker::new();
    let mut view = Packets::new(TimeFormat::Relative, sel & 4 != 0, sel & 8 != 0, false);
    // Feed the same bytes a few times as successive packets: the tracker sees a conversation of them.
    for (i, d) in [decode(link, rest), decode_cooked(u16::from(sel) << 8, 1, sel & 7, rest), decode(link, rest)]
        .iter()
        .enumerate()
    {
        tracker.add(1_700_000_000 + i as u64, 0, d, rest.len() as u32);
        let seen = Seen { sec: 1_700_000_000, nsec: 0, link, wire_len: rest.len() as u32, caplen: rest.len() as u32, decoded: d };
        let _ = view.line(&seen);
        let _ = view.row(&seen);
    }
    for f in tracker.finish() {
        assert!(!f.state.is_empty());
    }
});
