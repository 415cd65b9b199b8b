//! The projection decoder on arbitrary bytes: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactum::store::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok((handle, timeline)) = codec::decode_timeline(data) {
        let again = codec::encode_timeline(handle, &timeline).expect("a decoded timeline encodes");
        assert_eq!(again, data, "decode → encode is not the identity");
    }
});
