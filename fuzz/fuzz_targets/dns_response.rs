//! DNS responses as netdiag handles them, on top of hickory-proto's decoder: `parse_response` never panics,
//! whatever it accepts answers the question asked (same ID, same question unless an error rcode), and the
//! accepted response classifies, renders as text and JSON, and gives its zone lines and serial without
//! panicking. The question is taken from the message itself when it has one, so the accepting path is
//! reached as often as the rejecting one.
#![no_main]
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;
use netdiag::dns::message::{parse_response, QueryFlags, Question};
use netdiag::dns::{classify, exchange_failed, DnsReport};
use netdiag::explain;
use netdiag::render::{Format, Output};

fuzz_target!(|data: &[u8]| {
    let (id, q) = match Message::from_vec(data) {
        Ok(m) if !m.queries.is_empty() => {
            let q0 = &m.queries[0];
            let mut q = Question::new(q0.name().clone(), q0.query_type());
            q.class = q0.query_class();
            (m.metadata.id, q)
        }
        _ => (
            u16::from_be_bytes([*data.first().unwrap_or(&0), *data.get(1).unwrap_or(&0)]),
            Question::new(Name::from_ascii("www.zone.test.").unwrap(), RecordType::A),
        ),
    };
    let Ok(r) = parse_response(data, id, &q) else { return };
    assert_eq!(r.id, id);
    assert_eq!(r.size, data.len());
    for rr in r.answer.iter().chain(&r.authority).chain(&r.additional) {
        let _ = rr.zone_line();
    }
    let _ = r.serial();
    let (status, why) = classify(&r, &q, &QueryFlags::default(), "fuzz");
    // Asked with RD (the default), only a plain answer goes unexplained; a referral means no recursion.
    assert_eq!(why.is_none(), status == netdiag::dns::Status::Ok);
    let mut ex = exchange_failed(&q, "fuzz", explain::errno(libc_eio()));
    ex.status = status;
    ex.explanation = why;
    ex.response = Some(r);
    let report = DnsReport { ok: ex.ok(), results: vec![ex], short: false };
    let text = Output::plain(Format::Table).to_string(&report);
    assert!(!text.is_empty());
    let json = Output::plain(Format::Json).to_string(&report);
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
});

fn libc_eio() -> i32 {
    5
}
