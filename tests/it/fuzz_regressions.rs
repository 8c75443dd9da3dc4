//! Inputs the fuzzers in `fuzz/` found (or that their findings led to), minimized: each must get a
//! clear result or error, without a crash, a stack overflow or a hang.

use newswatch::topics::query;

/// A few kilobytes of `(` recursed once per level through the query parser and overflowed the
/// stack (the whole process died); now nesting beyond `MAX_DEPTH` is a positioned error.
#[test]
fn deeply_nested_query_is_an_error_not_a_stack_overflow() {
    for (open, close) in [("(", ")"), ("NOT ", ""), ("title: ", ""), ("title:(", ")")] {
        let q = format!("{}word{}", open.repeat(20_000), close.repeat(20_000));
        let e = query::parse(&q).expect_err("too deep");
        assert!(
            e.message.contains("nests too deeply"),
            "{open:?}: {}",
            e.message
        );
        assert!(e.position <= q.chars().count() + 1);
    }
    let chain = format!("a{}", " NEAR/1 a".repeat(20_000));
    let e = query::parse(&chain).expect_err("too deep");
    assert!(e.message.contains("nests too deeply"), "{}", e.message);
}

/// The limit leaves every reasonable query alone: 64 levels still parse.
#[test]
fn nesting_up_to_the_limit_parses() {
    let d = query::MAX_DEPTH;
    let q = format!("{}a AND b{}", "(".repeat(d), ")".repeat(d));
    assert!(query::parse(&q).is_ok());
    let chain = format!("a{}", " NEAR/1 a".repeat(d));
    assert!(query::parse(&chain).is_ok());
}

/// Deeply nested elements: readability and the furniture checks cost nodes × depth, so 5,000
/// nested `<div>`s (80 KB) took 18 s in a release build. Elements below depth 128 now keep
/// only their text, and the words are still extracted.
#[test]
fn deeply_nested_page_extracts_its_text() {
    let n = 3_000;
    for (open, close) in [
        ("<div>word ", "</div>"),
        ("<div class=\"share\">word ", "</div>"),
        ("<ul><li><a href=\"/x\">word</a> ", "</li></ul>"),
    ] {
        let page = format!(
            "<html><head><title>Deep</title></head><body><p>Intro paragraph.</p>{}{}</body></html>",
            open.repeat(n),
            close.repeat(n)
        );
        let x = newswatch::extract::extract(page.as_bytes(), Some("https://deep.example/a"), None)
            .expect("text found");
        assert!(
            x.text.matches("word").count() > 100,
            "{open}: {:.200}",
            x.text
        );
    }
}

/// The parse fuzzer (crash-b64cb595…, minimized): an entry link whose host holds characters no
/// URL may hold was kept as written when it did not resolve against the feed URL, breaking the
/// invariant that every link is absolute. Such a link is now dropped.
#[test]
fn unresolvable_entry_link_is_dropped() {
    let feed = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>e1</id><title>T</title>\
        <link rel=\"alternate\" href=\"http://www.ex\u{161}\u{2019}\u{8f}\u{201c}e.com/alternate\"/></entry></feed>";
    let f = newswatch::parse::parse_feed(feed.as_bytes(), Some("https://fuzz.example/feed"), None)
        .expect("parses");
    assert_eq!(f.entries.len(), 1);
    assert_eq!(f.entries[0].link, None);
}
