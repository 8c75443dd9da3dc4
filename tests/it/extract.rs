//! Extraction on pages written here: only the article survives navigation, comments, related links
//! and a cookie banner; legacy charsets decode right; `newswatch extract` on files and .gz files.

use std::io::Write;

use newswatch::extract::{decode_html, extract};

const PARAS: [&str; 4] = [
    "The airship Hindenburg-class zeppelin made its first flight over the lake on Tuesday morning, carrying twelve engineers and a crew of nine.",
    "Engineers said the envelope held its shape in crosswinds of forty knots, better than the models had predicted during two years of tests.",
    "The company plans regular cargo flights between the coast and the northern mining towns from next spring, pending certification.",
    "Local residents gathered along the shore to watch the ship climb slowly through the clouds before turning north toward the hills.",
];

fn news_page() -> String {
    format!(
        r##"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Zeppelin returns to the skies | Daily Example</title>
<meta property="og:title" content="Zeppelin returns to the skies">
</head><body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. <button>Accept all</button></div>
<header class="site-header"><nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/business">Business</a></li></ul></nav></header>
<main><article class="story">
<h1>Zeppelin returns to the skies</h1>
<p class="byline">By A. Reporter</p>
<p>{}</p><p>{}</p><p>{}</p><p>{}</p>
<div class="share"><a href="#">Share this</a> <a href="#">Tweet</a></div>
</article>
<aside class="related"><h3>Related stories</h3><ul>
<li><a href="/1">Balloon festival draws record crowds in the valley</a></li>
<li><a href="/2">Airport expansion approved after long public debate</a></li>
<li><a href="/3">Weather service warns of storms over the weekend</a></li></ul></aside>
<section id="comments" class="comments"><h3>Comments</h3>
<div class="comment"><p>Commenter99: Totally fake, airships never came back, wake up people.</p></div>
<div class="comment"><p>JaneDoe: My grandfather flew on one of these, lovely to see.</p></div></section>
</main>
<footer class="site-footer"><p>Copyright 2026 Daily Example. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms of use</a></footer>
</body></html>"##,
        PARAS[0], PARAS[1], PARAS[2], PARAS[3]
    )
}

#[test]
fn only_the_article_remains() {
    let page = news_page();
    let x = extract(
        page.as_bytes(),
        Some("https://example.org/news/zeppelin"),
        None,
    )
    .unwrap();
    assert_eq!(x.title.as_deref(), Some("Zeppelin returns to the skies"));
    for p in PARAS {
        assert!(
            x.text.contains(p),
            "missing paragraph {p:?} in {:?}",
            x.text
        );
    }
    // Paragraph breaks are kept.
    assert!(
        x.text.contains(&format!("{}\n\n{}", PARAS[0], PARAS[1])),
        "{:?}",
        x.text
    );
    for junk in [
        "cookies",
        "Accept all",
        "Business",
        "Balloon festival",
        "Airport expansion",
        "Commenter99",
        "grandfather",
        "All rights reserved",
        "Privacy policy",
        "Share this",
    ] {
        assert!(
            !x.text.contains(junk),
            "boilerplate {junk:?} left in {:?}",
            x.text
        );
    }
}

#[test]
fn windows_1252_page_decodes() {
    let body = "<p>Caf\u{e9} cr\u{e8}me \u{201c}na\u{ef}ve\u{201d} \u{2013} the r\u{e9}sum\u{e9} of a d\u{e9}j\u{e0} vu with \u{20ac}5 fees, said the ma\u{ee}tre d\u{2019}h\u{f4}tel in a long sentence.</p>";
    let html = format!(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"><title>Caf\u{e9}</title></head><body><article>{body}{body}{body}</article></body></html>"
    );
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&html);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the test page must not be valid UTF-8"
    );
    let x = extract(&bytes, None, None).unwrap();
    assert!(
        x.text
            .contains("Caf\u{e9} cr\u{e8}me \u{201c}na\u{ef}ve\u{201d} \u{2013}"),
        "{:?}",
        x.text
    );
    assert!(x.text.contains("\u{20ac}5 fees"), "{:?}", x.text);
    assert_eq!(x.title.as_deref(), Some("Caf\u{e9}"));
}

#[test]
fn koi8_r_page_decodes() {
    let para = "<p>\u{41c}\u{43e}\u{441}\u{43a}\u{432}\u{430}: \u{434}\u{438}\u{440}\u{438}\u{436}\u{430}\u{431}\u{43b}\u{44c} \u{43f}\u{43e}\u{434}\u{43d}\u{44f}\u{43b}\u{441}\u{44f} \u{43d}\u{430}\u{434} \u{433}\u{43e}\u{440}\u{43e}\u{434}\u{43e}\u{43c} \u{432} \u{432}\u{442}\u{43e}\u{440}\u{43d}\u{438}\u{43a} \u{443}\u{442}\u{440}\u{43e}\u{43c}, \u{441}\u{43e}\u{43e}\u{431}\u{449}\u{438}\u{43b}\u{438} \u{438}\u{43d}\u{436}\u{435}\u{43d}\u{435}\u{440}\u{44b} \u{43a}\u{43e}\u{43c}\u{43f}\u{430}\u{43d}\u{438}\u{438}.</p>";
    let html = format!(
        "<html><head><meta charset=\"koi8-r\"><title>\u{41d}\u{43e}\u{432}\u{43e}\u{441}\u{442}\u{438}</title></head><body><article>{para}{para}{para}</article></body></html>"
    );
    let (bytes, _, unmappable) = encoding_rs::KOI8_R.encode(&html);
    assert!(!unmappable);
    let x = extract(&bytes, None, None).unwrap();
    assert!(x.text.contains("\u{41c}\u{43e}\u{441}\u{43a}\u{432}\u{430}: \u{434}\u{438}\u{440}\u{438}\u{436}\u{430}\u{431}\u{43b}\u{44c}"), "{:?}", x.text);
    assert_eq!(
        x.title.as_deref(),
        Some("\u{41d}\u{43e}\u{432}\u{43e}\u{441}\u{442}\u{438}")
    );
    // The HTTP charset wins over a missing meta, and chardetng catches an undeclared page.
    let bare = encoding_rs::KOI8_R.encode(&para.repeat(3)).0.into_owned();
    assert!(
        decode_html(&bare, Some("koi8-r")).contains("\u{41c}\u{43e}\u{441}\u{43a}\u{432}\u{430}")
    );
    assert!(decode_html(&bare, None).contains("\u{41c}\u{43e}\u{441}\u{43a}\u{432}\u{430}"));
}

#[test]
fn short_and_empty_pages() {
    // Too short for readability: the fallback still gives the text.
    let x = extract(
        b"<html><body><nav>Menu</nav><p>Short notice: the bridge is closed.</p></body></html>",
        None,
        None,
    )
    .unwrap();
    assert!(
        x.text.contains("Short notice: the bridge is closed."),
        "{:?}",
        x.text
    );
    assert!(!x.text.contains("Menu"));
    assert!(extract(b"", None, None).is_err());
    assert!(
        extract(
            b"<html><body><script>var a=1;</script></body></html>",
            None,
            None
        )
        .is_err()
    );
    // Binary junk never panics.
    let junk: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let _ = extract(&junk, None, None);
}

#[test]
fn extract_command_jsonl_files_gz_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "").unwrap();
    let plain = dir.path().join("a.html");
    std::fs::write(&plain, news_page()).unwrap();
    let gz = dir.path().join("b.html.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(news_page().as_bytes()).unwrap();
    enc.finish().unwrap();
    let missing = dir.path().join("missing.html");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "extract",
            "--format",
            "jsonl",
        ])
        .args([&plain, &missing, &gz])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0]["file"], plain.to_str().unwrap());
    assert!(lines[0]["text"].as_str().unwrap().contains(PARAS[2]));
    assert_eq!(lines[0]["title"], "Zeppelin returns to the skies");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("cannot read"),
        "{}",
        lines[1]
    );
    assert!(lines[2]["text"].as_str().unwrap().contains(PARAS[3]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed input makes the exit code 1"
    );
}
