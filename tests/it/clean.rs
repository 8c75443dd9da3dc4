//! Cleaning end to end: fixture feeds written here go through `newswatch ingest --format jsonl`
//! into a temporary SQLite file; the stored columns are checked.

use crate::harness::feeds::*;

/// Paragraphs written for this test (modelled on the seed article: a German report republished by
/// an aggregator).
const P: [&str; 4] = [
    "Der nordkoreanische Machthaber traf am Mittwoch im Osten Russlands den russischen Präsidenten, um über Munition und Satelliten zu sprechen.",
    "„Unsere Beziehungen haben oberste Priorität“, sagte der Gast vor Reportern am Kosmodrom, wo er nach einer langen Reise im gepanzerten Zug ankam.",
    "Wer mehr lesen will über den möglichen Waffenhandel, findet in westlichen Analysen die Einschätzung, dass er den Verlauf des Krieges kaum ändern werde.",
    "Wenige Stunden vor dem Gipfel hatte Pjöngjang zwei ballistische Kurzstreckenraketen abgefeuert, die außerhalb japanischer Gewässer einschlugen.",
];

#[test]
fn aggregator_boilerplate_goes_and_every_paragraph_stays() {
    let env = Env::new("");
    let body = format!(
        "<p>{}</p><p>{}&nbsp;</p>\n<div><p>{}</p></div><p>{}</p>\
         <div class=\"sharedaddy sd-sharing-enabled\"><h3>Share this:</h3><ul><li><a href=\"https://twitter.com/x\">Twitter</a></li></ul></div>\
         <p>The post Putin und Kim beginnen Gespräche appeared first on Aggregator Daily.</p>\
         <p><a href=\"https://politico.eu/x\">source site</a></p><h3 id=\"reply-title\">Leave a Reply</h3>\
         <p>Your email address will not be published. Required fields are marked *</p>",
        P[0], P[1], P[2], P[3]
    );
    let feed = rss(
        "de",
        &[Item {
            guid: "agg-1",
            link: "https://agg.example/putin-kim/",
            title: "Putin und Kim beginnen Gespräche &ndash; POLITICO",
            html: &body,
        }],
    );
    let out = env.ingest(&[("agg.xml", &feed)]);
    assert_eq!(out[0]["status"], "new");
    let (title, text, lang): (String, String, Option<String>) = env.row(
        "SELECT title, text, lang FROM articles WHERE id = ?1",
        out[0]["id"].as_i64().unwrap(),
    );
    assert_eq!(title, "Putin und Kim beginnen Gespräche – POLITICO");
    assert_eq!(
        text,
        P.join("\n\n"),
        "junk must go, every real paragraph must stay"
    );
    assert_eq!(lang.as_deref(), Some("de"));
}

#[test]
fn scripts_styles_and_event_attributes_never_stored() {
    let env = Env::new("");
    let body = r#"<p onclick="steal()" style="position:fixed">Visible paragraph with enough words to count as text here.</p>
        <script>document.write('x')</script><style>p{display:none}</style><noscript>enable js</noscript>
        <img src="https://ex.org/a.jpg" onerror="alert(1)" alt="a photo"><img src="https://tracker.example/open.gif" width="1" height="1">
        <a href="javascript:alert(2)">bad link</a> <a href="https://ex.org/ok" target="_blank" onmouseover="x()">good link</a>
        <iframe src="https://evil.example/"></iframe><form action="/post"><input name="c"><button>Send</button></form>
        <svg onload="alert(3)"><circle/></svg><object data="x.swf"></object>"#;
    let feed = rss(
        "en",
        &[Item {
            guid: "x1",
            link: "https://ex.org/a",
            title: "Markup &lt;b&gt;test&lt;/b&gt;",
            html: body,
        }],
    );
    let out = env.ingest(&[("x.xml", &feed)]);
    let (html, text, title): (String, String, String) = env.row(
        "SELECT html, text, title FROM articles WHERE id = ?1",
        out[0]["id"].as_i64().unwrap(),
    );
    let lower = html.to_lowercase();
    for bad in [
        "<script",
        "<style",
        "<iframe",
        "<form",
        "<svg",
        "<object",
        "<noscript",
        "javascript:",
        "onclick",
        "onerror",
        "onmouseover",
        "onload",
        "style=",
        "tracker.example",
        "<input",
        "<button",
    ] {
        assert!(!lower.contains(bad), "{bad} in stored html: {html}");
    }
    assert!(html.contains(r#"rel="noopener nofollow""#), "{html}");
    assert!(html.contains("https://ex.org/a.jpg"), "{html}");
    assert!(
        !text.contains("document.write")
            && !text.contains("display:none")
            && !text.contains("enable js")
            && !text.contains("Send"),
        "{text}"
    );
    assert!(
        text.contains("Visible paragraph") && text.contains("good link"),
        "{text}"
    );
    assert_eq!(title, "Markup test");
}

#[test]
fn canonical_link_language_and_config_boilerplate() {
    let dir = tempfile::tempdir().unwrap();
    let feed_path = dir.path().join("ru.xml");
    let feed_url = url::Url::from_file_path(&feed_path).unwrap().to_string();
    let env = Env::with_dir(
        dir,
        &format!(
            "[clean]\nboilerplate = [\"Подписывайтесь на наш канал*\"]\nstrip_params = [\"from\"]\n\n[[feed]]\nurl = \"{feed_url}\"\nboilerplate = [\"Новости партнёров\"]\n"
        ),
    );
    let body = "<p>Северная Корея в среду утром запустила две баллистические ракеты малой дальности, сообщили в Генштабе Южной Кореи.</p>\
                <p>Новости партнёров</p><p>Подписывайтесь на наш канал в Telegram!</p>";
    // The feed says English; the text is Russian.
    let feed = rss(
        "en",
        &[Item {
            guid: "r1",
            link: "HTTPS://News.Example.RU:443/a?utm_source=tg&from=rss&id=7#c",
            title: "Пуск ракет",
            html: body,
        }],
    );
    std::fs::write(&feed_path, feed).unwrap();
    let out = env.ingest_paths(&[feed_path]);
    let (text, lang, link, canonical): (String, Option<String>, String, String) = env.row(
        "SELECT text, lang, link, canonical_link FROM articles WHERE id = ?1",
        out[0]["id"].as_i64().unwrap(),
    );
    assert_eq!(
        text,
        "Северная Корея в среду утром запустила две баллистические ракеты малой дальности, сообщили в Генштабе Южной Кореи."
    );
    assert_eq!(lang.as_deref(), Some("ru"));
    assert!(
        link.contains("utm_source=tg") && link.contains("from=rss"),
        "the original link is kept for display: {link}"
    );
    assert_eq!(canonical, "https://news.example.ru/a?id=7");
}

#[test]
fn summary_only_plain_text_and_search_carries_clean_text() {
    let env = Env::new("");
    let feed = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Plain</title><link>https://plain.example/</link>
<item><guid>p1</guid><link>https://plain.example/1</link><title>Raketentest im Meer</title>
<description>Das Militär meldete einen Raketentest&amp;nbsp;über dem Meer.

Weitere Details wurden nicht genannt. Weiterlesen</description></item>
</channel></rss>"#;
    env.ingest(&[("plain.xml", feed)]);
    let hits = env.run_json(&["search", "Raketentest", "--format", "json"]);
    let hit = &hits.as_array().unwrap()[0];
    assert_eq!(
        hit["text"],
        "Das Militär meldete einen Raketentest über dem Meer.\n\nWeitere Details wurden nicht genannt. Weiterlesen"
    );
}
