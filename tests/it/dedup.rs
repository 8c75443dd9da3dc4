//! Dedup end to end: the same story through several fixture feeds is stored once, with sightings;
//! different stories are all stored; an updated item keeps its id. Runs the real binary
//! (`newswatch ingest --format jsonl`) against a temporary SQLite file.

use crate::harness::feeds::*;

// A story written for this test, and a different story about the same event.
const A: [&str; 4] = [
    "North Korean leader Kim Jong Un was welcomed by Russian President Vladimir Putin at a space launch site in the Russian Far East on Wednesday, where the two men were expected to discuss ammunition supplies for the war in Ukraine.",
    "Western officials have warned that Moscow is trying to buy artillery shells from Pyongyang after firing millions of rounds during more than eighteen months of fighting.",
    "In return, Kim is believed to want help with satellite technology, after two failed attempts this year to put a spy satellite into orbit.",
    "Hours before the meeting began, North Korea fired two short-range ballistic missiles into the sea off its east coast, according to the South Korean military.",
];
const D: [&str; 3] = [
    "Vladimir Putin hosted Kim Jong Un at the Vostochny cosmodrome on Wednesday for talks that Washington fears will end with North Korean shells flowing to Russian troops in Ukraine.",
    "The Kremlin said military cooperation was on the agenda but gave no details, while Kim told reporters that relations with Moscow were his country's top priority.",
    "Analysts said any arms deal would help Russia refill depleted stockpiles but was unlikely to change the course of the war, and Japan protested the missile launches earlier in the day.",
];

fn paras(ps: &[&str]) -> String {
    ps.iter().map(|p| format!("<p>{p}</p>")).collect()
}

#[test]
fn syndicated_copies_are_stored_once() {
    let env = Env::new("");
    let original = rss(
        "en",
        &[Item {
            guid: "orig-1",
            link: "https://news.example/world/putin-kim",
            title: "Putin and Kim begin talks as Russia seeks weapons",
            html: &paras(&A),
        }],
    );
    // Another aggregator: tracking link, changed title, other markup, a byline, an added footer.
    let copy_html = format!(
        "<div class=\"entry\"><span>By Staff Writer</span><br><br>{}<br><br>{}<div>{}</div><blockquote>{}</blockquote></div>\
         <p><em>This article was republished from Example Wire under a content-sharing agreement with our partners.</em></p>",
        A[0], A[1], A[2], A[3]
    );
    let copy = rss(
        "en",
        &[Item {
            guid: "agg-77",
            link: "https://aggregator.example/2023/09/putin-kim-talks?utm_source=rss&utm_medium=feed&fbclid=abc",
            title: "Putin and Kim begin talks as Russia seeks weapons | Aggregator Daily",
            html: &copy_html,
        }],
    );
    // A third feed links to the original article through a tracking link.
    let third = rss(
        "en",
        &[Item {
            guid: "t-1",
            link: "https://NEWS.example/world/putin-kim?utm_campaign=x#top",
            title: "Putin, Kim meet",
            html: &format!("<p>{}</p>", A[0]),
        }],
    );
    let out = env.ingest(&[
        ("orig.xml", &original),
        ("copy.xml", &copy),
        ("third.xml", &third),
    ]);
    assert_eq!(out.len(), 3);
    let id = out[0]["id"].as_i64().unwrap();
    assert_eq!(out[0]["status"], "new");
    assert!(
        matches!(
            out[1]["status"].as_str(),
            Some("near_duplicate" | "duplicate")
        ),
        "{}",
        out[1]
    );
    assert_eq!(out[1]["duplicate_of"].as_i64(), Some(id));
    assert_eq!(out[1]["id"].as_i64(), Some(id));
    assert_eq!(out[2]["status"], "duplicate", "same canonical link");
    assert_eq!(out[2]["duplicate_of"].as_i64(), Some(id));
    assert_eq!(env.count("SELECT count(*) FROM articles"), 1);
    assert_eq!(env.count("SELECT sources FROM articles"), 3);
    assert_eq!(
        env.count("SELECT count(*) FROM sightings WHERE kind = 'near'"),
        1
    );
    assert_eq!(
        env.count("SELECT count(*) FROM sightings WHERE kind = 'exact'"),
        1
    );
    // Ingesting the copy again records nothing new.
    let again = env.ingest_paths(&[env.path("copy.xml")]);
    assert_eq!(again[0]["duplicate_of"].as_i64(), Some(id));
    assert_eq!(env.count("SELECT sources FROM articles"), 3);
    assert_eq!(env.count("SELECT count(*) FROM sightings"), 2);
}

#[test]
fn different_stories_on_the_same_event_are_both_stored() {
    let env = Env::new("");
    let a = rss(
        "en",
        &[Item {
            guid: "a",
            link: "https://one.example/a",
            title: "Putin and Kim begin talks",
            html: &paras(&A),
        }],
    );
    let d = rss(
        "en",
        &[Item {
            guid: "d",
            link: "https://two.example/d",
            title: "Putin and Kim begin talks",
            html: &paras(&D),
        }],
    );
    let out = env.ingest(&[("a.xml", &a), ("d.xml", &d)]);
    assert_eq!(out[0]["status"], "new");
    assert_eq!(out[1]["status"], "new", "{}", out[1]);
    assert_eq!(env.count("SELECT count(*) FROM articles"), 2);
}

#[test]
fn short_and_long_items_sharing_a_paragraph_are_both_stored() {
    let env = Env::new("");
    let long = rss(
        "en",
        &[Item {
            guid: "long",
            link: "https://one.example/long",
            title: "Summit",
            html: &paras(&A),
        }],
    );
    // the lead alone, and a middle paragraph alone, each in its own feed
    let lead = rss(
        "en",
        &[Item {
            guid: "lead",
            link: "https://two.example/lead",
            title: "Summit",
            html: &paras(&A[..1]),
        }],
    );
    let middle = rss(
        "en",
        &[Item {
            guid: "mid",
            link: "https://three.example/mid",
            title: "Summit",
            html: &paras(&A[3..]),
        }],
    );
    let out = env.ingest(&[
        ("long.xml", &long),
        ("lead.xml", &lead),
        ("mid.xml", &middle),
    ]);
    for o in &out {
        assert_eq!(o["status"], "new", "{o}");
    }
    assert_eq!(env.count("SELECT count(*) FROM articles"), 3);
}

#[test]
fn an_updated_item_keeps_its_id() {
    let env = Env::new("");
    let v1 = rss(
        "en",
        &[Item {
            guid: "u1",
            link: "https://one.example/u",
            title: "Missile launch",
            html: &paras(&A[..2]),
        }],
    );
    let first = env.ingest(&[("feed.xml", &v1)]);
    let unchanged = env.ingest_paths(&[env.path("feed.xml")]);
    assert_eq!(unchanged[0]["status"], "unchanged");
    let v2 = rss(
        "en",
        &[Item {
            guid: "u1",
            link: "https://one.example/u",
            title: "Missile launch (updated)",
            html: &paras(&A),
        }],
    );
    let second = env.ingest(&[("feed.xml", &v2)]);
    assert_eq!(second[0]["status"], "updated");
    assert_eq!(second[0]["id"], first[0]["id"]);
    let (title, text): (String, String) = env.row(
        "SELECT title, text FROM articles WHERE id = ?1",
        first[0]["id"].as_i64().unwrap(),
    );
    assert_eq!(title, "Missile launch (updated)");
    assert_eq!(text, A.join("\n\n"));
    assert_eq!(env.count("SELECT count(*) FROM articles"), 1);
}

/// Word salad from a fixed vocabulary: texts that share words but not word sequences.
fn salad(seed: u64, words: usize) -> String {
    const V: &[&str] = &[
        "missile",
        "launch",
        "ministry",
        "defence",
        "contract",
        "tank",
        "shell",
        "army",
        "border",
        "talks",
        "summit",
        "minister",
        "said",
        "would",
        "the",
        "a",
        "of",
        "in",
        "on",
        "after",
        "before",
        "report",
        "officials",
        "satellite",
        "drone",
        "deal",
        "export",
        "navy",
        "coast",
        "fired",
        "test",
        "range",
        "rocket",
        "system",
        "air",
        "sea",
        "north",
        "south",
        "east",
        "west",
    ];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut s = String::new();
    for i in 0..words {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if i > 0 {
            s.push(' ');
        }
        s.push_str(V[(x >> 33) as usize % V.len()]);
    }
    s
}

#[test]
fn near_duplicate_found_among_ten_thousand_articles() {
    let env = Env::new("");
    let mut feed = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title><link>https://big.example/</link>\n",
    );
    for i in 0..10_000u64 {
        feed.push_str(&format!(
            "<item><guid>b{i}</guid><link>https://big.example/{i}</link><title>Item {i}</title><description>{}.</description></item>\n",
            salad(i, 80)
        ));
    }
    feed.push_str("</channel></rss>");
    let out = env.ingest(&[("big.xml", &feed)]);
    assert_eq!(out.iter().filter(|o| o["status"] == "new").count(), 10_000);
    let target = out[5_000]["id"].as_i64().unwrap();
    let copy = rss(
        "en",
        &[Item {
            guid: "copy",
            link: "https://elsewhere.example/x?utm_source=a",
            title: "Item 5000 - Elsewhere",
            html: &format!(
                "<p>{}.</p><p>Republished with permission from Big Example News.</p>",
                salad(5_000, 80)
            ),
        }],
    );
    let out = env.ingest(&[("copy.xml", &copy)]);
    assert_eq!(out[0]["duplicate_of"].as_i64(), Some(target), "{}", out[0]);
    assert_eq!(env.count("SELECT count(*) FROM articles"), 10_000);
}

#[test]
fn band_lookup_finds_copies_within_the_distance_in_both_modes() {
    use newswatch::model::Article;
    use newswatch::store::feeds_log::FetchLog;
    use newswatch::store::{FeedState, FetchCommit, MatchPolicy, Store};

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db")).unwrap();
    let feed = store
        .ensure_ingest_feeds(&["file:///t.xml".to_string()])
        .unwrap()[0];
    let matcher = |_: &Article| Vec::new();
    let sinks = |_: &str| Vec::new();
    let policy = MatchPolicy {
        matcher: &matcher,
        sinks_for: &sinks,
        window_ms: 86_400_000,
        max_distance: 3,
        full_text: false,
    };
    let base: u64 = 0x0123_4567_89ab_cdef;
    // 0: the fingerprint itself; 1: 3 bits off (one per band but the last); 2: 5 bits off, with
    // every band changed; 3: far away.
    let hashes = [
        base,
        base ^ 0b1 ^ 1 << 16 ^ 1 << 32,
        base ^ 0b11 ^ 1 << 20 ^ 1 << 40 ^ 1 << 60,
        !base,
    ];
    let articles = hashes
        .iter()
        .enumerate()
        .map(|(i, &h)| Article {
            guid: Some(format!("g{i}")),
            title: format!("t{i}"),
            text: "x".into(),
            content_hash: format!("h{i}"),
            simhash: h,
            ..Default::default()
        })
        .collect();
    let c = FetchCommit {
        feed_id: feed,
        articles,
        state: FeedState::default(),
        log: FetchLog {
            url: "file:///t.xml".into(),
            ..Default::default()
        },
    };
    let out = store.commit_fetch(c, &policy).unwrap();
    let ids: Vec<i64> = out.items.iter().map(|i| i.id).collect();
    let near = |d| store.near_duplicates(base, 0, d).unwrap();
    // Exact bands (one statement): the fingerprint and the 3-bit copy, closest first.
    assert_eq!(near(3), vec![(ids[0], 0), (ids[1], 3)]);
    // One-bit probes: the 5-bit copy too, but never the far one.
    assert_eq!(near(5), vec![(ids[0], 0), (ids[1], 3), (ids[2], 5)]);
    assert_eq!(near(2), vec![(ids[0], 0)]);
}
