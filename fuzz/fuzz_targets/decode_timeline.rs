//! The document decoder on arbitrary bytes: never a panic. What decodes
//! encodes to bytes that decode to the same document (non-canonical
//! spellings decode too; `verify` compares stored caches byte for byte
//! with a rebuild, so it reports them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactum::store::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok((handle, seqs, timeline)) = codec::decode_doc(data) {
        let again =
            codec::encode_doc(handle, &seqs, &timeline).expect("a decoded document encodes");
        assert_eq!(
            codec::decode_doc(&again).map(|(h, s, _)| (h, s)),
            Ok((handle, seqs))
        );
    }
});
