//! The segment decoder on arbitrary bytes, plain or compressed: never a
//! panic, never a compressed body past its bound. What decodes encodes again to a
//! segment that gives back the same events, and each event found alone is
//! the one the whole walk gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactum::store::codec;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = codec::segment_body(data) else {
        return;
    };
    if data.first() == Some(&codec::SEGMENT_LZ4) {
        assert!(body.len() <= codec::MAX_SEGMENT_BODY);
    }
    let Ok(events) = codec::body_events(&body) else {
        return;
    };
    for (i, event) in events.iter().enumerate() {
        assert_eq!(codec::body_event(&body, i), Ok(Some(*event)));
    }
    assert_eq!(codec::body_event(&body, events.len()), Ok(None));
    let again = codec::encode_segment(events.iter().copied()).expect("a decoded segment encodes");
    let body_again = codec::segment_body(&again).expect("an encoded segment decodes");
    assert_eq!(codec::body_events(&body_again).as_ref(), Ok(&events));
});
