//! The event decoder on arbitrary bytes: never a panic, never an
//! allocation past the limit. What decodes encodes again to bytes that
//! decode to the same event (the decoder also takes non-canonical varints,
//! which `verify` reports). The entity read alone is the decoded event's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactum::store::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = codec::decode_record(data) {
        let again = codec::encode_record(&record).expect("a decoded event encodes");
        assert_eq!(codec::decode_record(&again).as_ref(), Ok(&record));
        assert_eq!(codec::entity_of(data), Ok(record.entity));
    }
});
