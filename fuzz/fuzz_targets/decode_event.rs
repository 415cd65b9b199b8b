//! The event decoder on arbitrary bytes: never a panic, never an
//! allocation past the limit; what decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactum::store::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = codec::decode_record(data) {
        let again = codec::encode_record(&record).expect("a decoded event encodes");
        assert_eq!(again, data, "decode → encode is not the identity");
    }
});
