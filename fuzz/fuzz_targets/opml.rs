//! OPML import (`opml::parse`). Invariants checked: no panic, no hang; what is exported from the
//! feeds found imports again to as many feeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(feeds) = newswatch::opml::parse(&s) {
        let again = newswatch::opml::parse(&newswatch::opml::render(&feeds))
            .expect("our own export imports");
        assert_eq!(again.len(), feeds.len(), "export/import lost feeds");
    }
});
