//! Cost of cleaning one entry (HTML body → sanitized HTML + text, boilerplate, canonical link,
//! language) plus its fingerprint, on a typical full-content WordPress item (~3 KB of HTML) and a
//! plain-text summary. Prints µs per article, and html2text's time on the same HTML for reference.
//! Run: `cargo bench --bench clean`.

use std::time::Instant;

use newswatch::clean::{CleanRules, clean_entry};
use newswatch::dedup;
use newswatch::model::Entry;

const PARA: [&str; 4] = [
    "The defence ministry said on Tuesday that it had signed a contract worth &euro;1.2&nbsp;billion for new air defence systems, to be delivered over the next four years.",
    "Officials declined to say how many launchers the deal covers, but a person familiar with the talks said the first batteries would arrive &ldquo;well before winter&rdquo;.",
    "Critics in parliament argued that the purchase had been rushed through without a proper tender, and <a href=\"https://ex.org/x?utm_source=rss\">called for an inquiry</a>.",
    "Der Vertrag umfasst nach Angaben des Ministeriums auch Ersatzteile und die Ausbildung von Soldaten an den neuen Systemen.",
];

fn html_item(i: usize) -> String {
    let mut s = String::from("<div class=\"entry-content\">");
    for k in 0..8 {
        s.push_str(&format!("<p>{} ({i}/{k})</p>\n", PARA[(i + k) % 4]));
    }
    s.push_str("<div class=\"sharedaddy sd-sharing-enabled\"><h3>Share this:</h3><ul><li><a href=\"https://twitter.com/share\">Twitter</a></li><li><a href=\"#\">Facebook</a></li></ul></div>");
    s.push_str("<img src=\"https://pixel.wp.com/b.gif?x=1\" width=\"1\" height=\"1\"><p>The post Ministry signs air defence deal appeared first on Example News.</p></div>");
    s
}

fn bench(name: &str, entries: &[Entry], rules: &CleanRules) {
    let t = Instant::now();
    let mut words = 0;
    for e in entries {
        let mut a = clean_entry(e, Some("en"), rules);
        dedup::fingerprint(&mut a);
        words += a.text.len();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / entries.len() as f64;
    println!(
        "{name:<28} {us:>8.1} µs/article  ({} bytes of text in all)",
        words
    );
}

fn main() {
    let rules = CleanRules::default();
    let n = 2000;
    let html: Vec<Entry> = (0..n)
        .map(|i| Entry {
            guid: Some(i.to_string()),
            link: Some(format!("https://ex.org/a/{i}?utm_source=rss&fbclid=x")),
            title: format!("Ministry signs &amp; deal {i}"),
            content: Some(html_item(i)),
            ..Default::default()
        })
        .collect();
    let plain: Vec<Entry> = (0..n)
        .map(|i| Entry {
            guid: Some(i.to_string()),
            link: Some(format!("https://ex.org/b/{i}")),
            title: format!("Plain {i}"),
            summary: Some(format!("{} {}", PARA[i % 4], PARA[(i + 1) % 4]).replace("&nbsp;", " ")),
            ..Default::default()
        })
        .collect();
    println!("html item: {} bytes", html_item(0).len());
    bench("clean+fingerprint, HTML", &html, &rules);
    bench("clean+fingerprint, plain", &plain, &rules);
    // the parts
    let body = html_item(0);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(newswatch::clean::html::clean_html(&body));
    }
    println!(
        "{:<28} {:>8.1} µs/article",
        "  html::clean_html only",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let text = clean_entry(&html[0], None, &rules).text;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(newswatch::clean::lang::language(
            "Ministry signs deal",
            &text,
            Some("en"),
            None,
        ));
    }
    println!(
        "{:<28} {:>8.1} µs/article",
        "  lang::language only",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            html2text::config::plain_no_decorate()
                .string_from_read(body.as_bytes(), 100_000)
                .ok(),
        );
    }
    println!(
        "{:<28} {:>8.1} µs/article",
        "  (html2text, for reference)",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
