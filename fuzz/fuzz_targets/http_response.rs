//! The HTTP response parser: never panics, memory stays within the limits, and the result does not depend on
//! how the bytes were split into reads (the first byte of input picks the split).
#![no_main]
use libfuzzer_sys::fuzz_target;
use netdiag::http::parse::{parse_response, Limits, ResponseDecoder};

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let limits = Limits { max_head: 4096, max_headers: 32, max_body: 8192, keep_body: true };
    let head = split & 0x80 != 0;
    let whole = parse_response(bytes, limits, head);
    if let Ok(r) = &whole {
        assert!(r.body.len() as u64 <= limits.max_body);
    }
    // The same bytes fed in pieces of `split` bytes.
    let step = usize::from(split & 0x7f).max(1);
    let mut d = ResponseDecoder::new(limits, head);
    let mut result = Ok(false);
    for chunk in bytes.chunks(step) {
        result = d.feed(chunk);
        if !matches!(result, Ok(false)) {
            break;
        }
    }
    let pieces = match result {
        Ok(false) => d.finish().map(|()| d.into_response()),
        Ok(true) => Ok(d.into_response()),
        Err(e) => Err(e),
    };
    assert_eq!(whole.is_ok(), pieces.is_ok(), "split {step}");
    if let (Ok(a), Ok(b)) = (&whole, &pieces) {
        assert_eq!(a.head, b.head);
        assert_eq!(a.body, b.body);
        assert_eq!(a.body_len, b.body_len);
        assert_eq!(a.truncated, b.truncated);
    }
});
