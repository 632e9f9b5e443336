//! The pcap/pcapng reader: never panics on any file contents.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::capture::pcap::Reader;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = Reader::new(Box::new(std::io::Cursor::new(data.to_vec()))) {
        for _ in 0..1000 {
            match r.next_record() {
                Some(Ok(_)) => {}
                _ => break,
            }
        }
    }
});
