//! The capture filter: parser, compiler and cBPF interpreter. Never panics; an error points inside the text (or
//! one past its end); a parsed filter compiles for every link type to a program the kernel's checker accepts,
//! and running it on any bytes ends.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::capture::compile::{self, Link};
use netdiag::capture::filter;
use netdiag::net::bpf::Meta;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match filter::parse(&text) {
        Err(e) => {
            assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e}");
            assert!(!e.to_string().contains('\n'));
        }
        Ok(None) => {}
        Ok(Some(expr)) => {
            for link in [Link::Ethernet, Link::Sll, Link::Sll2, Link::Raw, Link::Kernel] {
                let node = match compile::lower(&expr, link, &text, &|_| Err("no names".into())) {
                    Ok(n) => n,
                    Err(_) => continue,
                };
                if let Ok(p) = compile::assemble(&node, 262_144) {
                    let r = p.run(data, data.len() as u32, &Meta { protocol: 0x800, pkttype: 0, ifindex: 1 });
                    assert!(r == 0 || r == 262_144);
                }
            }
        }
    }
});
