//! Feed bytes → entries (`parse::parse_feed`). Invariants checked: no panic, no hang, and every
//! entry link is absolute when the feed URL is known.
#![no_main]

use libfuzzer_sys::fuzz_target;

const FEED_URL: &str = "https://fuzz.example/feeds/main.xml";

fuzz_target!(|data: &[u8]| {
    // The first byte picks an HTTP charset (none most of the time), the rest is the body.
    let (charset, body) = match data.split_first() {
        Some((b'1', rest)) => (Some("windows-1251"), rest),
        Some((b'2', rest)) => (Some("iso-8859-1"), rest),
        Some((b'3', rest)) => (Some("utf-8"), rest),
        _ => (None, data),
    };
    if let Ok(feed) = newswatch::parse::parse_feed(body, Some(FEED_URL), charset) {
        for e in &feed.entries {
            if let Some(link) = &e.link {
                assert!(
                    url::Url::parse(link).is_ok(),
                    "entry link not absolute: {link:?}"
                );
            }
        }
    }
});
