//! Config loading (`Config::parse`: TOML, then validation with key and line in errors). Invariants
//! checked: no panic, no hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Err(e) = newswatch::config::Config::parse(&s) {
        assert!(!e.is_empty(), "an empty error message");
    }
});
