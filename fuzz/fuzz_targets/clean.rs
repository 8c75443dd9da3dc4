//! HTML cleaning (`clean::clean_feed`, `clean::html`): an entry built from the input (line 1 the
//! link, line 2 the title, the rest the body) → an article. Invariants checked: no panic, no hang;
//! the title is one line; text and title are NFC; the text has no blank-line runs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newswatch::clean::{CleanRules, clean_feed, html};
use newswatch::config::CleanConfig;
use newswatch::model::Entry;
use unicode_normalization::is_nfc;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let mut parts = s.splitn(3, '\n');
    let link = parts.next().unwrap_or_default();
    let title = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let rules = CleanRules::new(
        &CleanConfig {
            boilerplate: vec!["Read * at Example".into(), "share this".into()],
            strip_params: vec!["ref".into(), "mc_*".into()],
            full_text: false,
        },
        None,
    );
    let entry = Entry {
        link: (!link.is_empty()).then(|| link.to_string()),
        title: title.to_string(),
        content: Some(body.to_string()),
        ..Entry::default()
    };
    let articles = clean_feed(std::slice::from_ref(&entry), None, &rules);
    let a = &articles[0];
    assert!(!a.title.contains('\n'), "title not one line: {:?}", a.title);
    assert!(is_nfc(&a.title), "title not NFC");
    assert!(is_nfc(&a.text), "text not NFC");
    assert!(!a.text.contains("\n\n\n"), "blank-line run in text");
    // The plain-text path and the inline path on the whole input too.
    let _ = html::clean_plain(&s);
    let _ = html::inline_text(&s);
});
