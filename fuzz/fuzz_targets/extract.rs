//! Page extraction (`extract::extract`): HTML bytes → title and main text. Invariants checked
//! (the module's own): no panic, no hang; the text has no control characters but newlines and
//! blocks are separated by exactly one blank line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (charset, page) = match data.split_first() {
        Some((b'1', rest)) => (Some("windows-1252"), rest),
        Some((b'2', rest)) => (Some("shift_jis"), rest),
        _ => (None, data),
    };
    if let Ok(x) =
        newswatch::extract::extract(page, Some("https://fuzz.example/news/story.html"), charset)
    {
        assert!(
            !x.text.chars().any(|c| c.is_control() && c != '\n'),
            "control character in text: {:?}",
            x.text
        );
        assert!(!x.text.contains("\n\n\n"), "blank-line run in text");
    }
});
