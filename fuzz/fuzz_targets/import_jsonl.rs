//! The JSON Lines event reader on arbitrary lines: never a panic; what
//! reads writes back to an equal event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactum::transfer::jsonl;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines() {
            if let Ok(record) = jsonl::from_line(line) {
                let again = jsonl::to_line(&record);
                assert_eq!(jsonl::from_line(&again).as_ref(), Ok(&record));
            }
        }
    }
});
