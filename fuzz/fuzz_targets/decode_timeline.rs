//! The projection decoder on arbitrary bytes: never a panic. What decodes
//! encodes to bytes that decode to the same timeline (non-canonical
//! spellings decode too; `verify` compares stored projections byte for
//! byte with a rebuild, so it reports them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactum::store::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok((handle, timeline)) = codec::decode_timeline(data) {
        let again = codec::encode_timeline(handle, &timeline).expect("a decoded timeline encodes");
        assert_eq!(codec::decode_timeline(&again), Ok((handle, timeline)));
    }
});
