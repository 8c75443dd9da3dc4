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
    // Ten thousand word salads share many MinHash keys: on PostgreSQL this also checks that the
    // candidate lookup stays an index seek while the table grows inside one bulk transaction (a
    // generic plan made on the small table scanned it: quadratic, over 15 minutes here).
    let n: u64 = 10_000;
    let mut feed = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title><link>https://big.example/</link>\n",
    );
    for i in 0..n {
        feed.push_str(&format!(
            "<item><guid>b{i}</guid><link>https://big.example/{i}</link><title>Item {i}</title><description>{}.</description></item>\n",
            salad(i, 80)
        ));
    }
    feed.push_str("</channel></rss>");
    let out = env.ingest(&[("big.xml", &feed)]);
    assert_eq!(
        out.iter().filter(|o| o["status"] == "new").count(),
        n as usize
    );
    let target = out[n as usize / 2]["id"].as_i64().unwrap();
    let copy = rss(
        "en",
        &[Item {
            guid: "copy",
            link: "https://elsewhere.example/x?utm_source=a",
            title: &format!("Item {} - Elsewhere", n / 2),
            html: &format!(
                "<p>{}.</p><p>Republished with permission from Big Example News.</p>",
                salad(n / 2, 80)
            ),
        }],
    );
    let out = env.ingest(&[("copy.xml", &copy)]);
    assert_eq!(out[0]["duplicate_of"].as_i64(), Some(target), "{}", out[0]);
    assert_eq!(env.count("SELECT count(*) FROM articles"), n as i64);
}

#[test]
fn key_lookup_ranks_candidates_by_shared_keys_within_the_window() {
    use newswatch::dedup::{BANDS, Fingerprint, PROBES};
    use newswatch::model::Article;
    use newswatch::store::Store;

    let scratch = crate::harness::db::Scratch::new();
    let mut store = Store::open(&scratch.db).unwrap();
    let feed = store
        .ensure_ingest_feeds(&["file:///t.xml".to_string()])
        .unwrap()[0];
    // Stored keys: 0 shares all four minimums with the query, 1 shares two (one of them as the
    // query's second smallest value), 2 none.
    let fp = |k: [u64; BANDS]| Fingerprint {
        mins: std::array::from_fn(|i| [k[i], u64::MAX - 1, u64::MAX - 1]),
        words: 50,
    };
    let stored = [fp([10, 20, 30, 40]), fp([11, 21, 31, 40]), fp([1, 2, 3, 4])];
    let articles = stored
        .iter()
        .enumerate()
        .map(|(i, f)| Article {
            guid: Some(format!("g{i}")),
            title: format!("t{i}"),
            text: format!("story number {i}"),
            content_hash: format!("h{i}"),
            fingerprint: f.clone(),
            ..Default::default()
        })
        .collect();
    let out = crate::harness::fill::commit_unmatched(&mut store, feed, articles);
    let ids: Vec<i64> = out.items.iter().map(|i| i.id).collect();
    let mut query = fp([10, 20, 30, 40]);
    query.mins[1] = [5, 21, 22];
    assert_eq!(PROBES, 3);
    assert_eq!(
        store.near_duplicates(&query, 0).unwrap(),
        vec![(ids[0], 3), (ids[1], 2)]
    );
    // outside the window: nothing
    assert!(store.near_duplicates(&query, i64::MAX).unwrap().is_empty());
}

// A story written for the edit-kind tests below.
const S: [&str; 5] = [
    "The harbour authority of Port Elling said on Tuesday that it would close the old grain terminal for two years while engineers rebuild the quay walls, which have sunk by almost forty centimetres since the storm surge of last winter.",
    "Shipping companies that use the terminal were told to move their vessels to the deep-water berths on the northern side of the bay, where a temporary warehouse is being put up to take the grain that normally passes through the old sheds.",
    "\"We cannot keep loading ships on a wall that moves under their weight,\" the authority's chief engineer, Marta Voss, told reporters at a briefing in the harbour office. \"Every month we wait makes the repair longer and dearer.\"",
    "Farmers' groups warned that the closure would add to the cost of exports at a time when prices are already low, and asked the regional government to pay for the extra trucking between the inland silos and the northern berths.",
    "The rebuilding is expected to cost about ninety million euros, two thirds of it from a national fund for coastal defences, and work on the first section of the quay is due to start in the spring.",
];

/// A long outlet footer, the same on every item of the outlet.
const FOOTER: [&str; 3] = [
    "This article first appeared on The Valley Gazette. It is republished here under a content-sharing agreement.",
    "The Valley Gazette is an independent, reader-funded newsroom. Sign up for our free morning newsletter to get the day's top stories delivered to your inbox.",
    "Copyright 2024 The Valley Gazette. All rights reserved. This material may not be published, broadcast, rewritten or redistributed without written permission.",
];

/// Straight quotes made typographic, as wire desks do.
fn typographic(s: &str) -> String {
    let mut open = true;
    s.chars()
        .map(|c| match c {
            '"' => {
                open = !open;
                if open { '”' } else { '“' }
            }
            '\'' => '’',
            c => c,
        })
        .collect()
}

fn one(guid: &str, link: &str, title: &str, html: &str) -> String {
    rss(
        "en",
        &[Item {
            guid,
            link,
            title,
            html,
        }],
    )
}

#[test]
fn every_edit_kind_of_a_copy_is_caught() {
    let env = Env::new("");
    let lead = S[0];
    let originals = rss(
        "en",
        &[
            Item {
                guid: "full",
                link: "https://harbour.example/news/terminal",
                title: "Port Elling to close grain terminal for quay repairs",
                html: &paras(&S),
            },
            Item {
                guid: "lead",
                link: "https://harbour.example/brief/terminal",
                title: "Grain terminal to close",
                html: &paras(&[lead]),
            },
        ],
    );
    // wire edits: UPDATE prefix, a wire note, a dateline, typographic quotes, a credit line
    let wire = format!(
        "<p>(Adds farmers' reaction in paragraph 4)</p><p>PORT ELLING (Harbour Wire) - {}</p>{}<p>Reporting by Harbour Wire staff; editing by the night desk in the capital</p>",
        S[0],
        paras(
            &S[1..]
                .iter()
                .map(|p| typographic(p))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        )
    );
    // a few words changed (about 4%)
    let mut words = paras(&S);
    for (from, to) in [
        ("said on", "stated on"),
        ("would close", "would shut"),
        ("warned", "cautioned"),
        ("expected", "likely"),
        ("due to start", "due to begin"),
        ("vessels", "ships"),
        ("dearer", "costlier"),
    ] {
        words = words.replacen(from, to, 1);
    }
    // header, "Related:" list, share line and footer around the story
    let wrapped = format!(
        "<p>Home | News | Business | Sport | Weather | Opinion | Subscribe</p><p><strong>Breaking news</strong></p>{}\
         <p>Related:</p><ul><li><a href=\"https://coast.example/a\">Storm surge floods the old town again</a></li>\
         <li><a href=\"https://coast.example/b\">Ferry timetable changes for the winter season</a></li>\
         <li><a href=\"https://coast.example/c\">Fishing quotas cut for the third year running</a></li></ul>\
         <p>Share this article: Facebook | X | WhatsApp | Email | Print</p><p>{}</p><p>{}</p>",
        paras(&S),
        FOOTER[0].replace("Valley Gazette", "Coast Herald"),
        FOOTER[1].replace("Valley Gazette", "Coast Herald"),
    );
    // the last paragraph dropped, paragraphs merged, inline markup and entities
    let cut = format!(
        "<p>{} <b>{}</b></p><p>{}<br/>{}</p>",
        S[0],
        S[1],
        S[2].replace('"', "&quot;"),
        S[3]
    );
    // a short item with a syndication footer
    let short = format!(
        "<p>{lead}</p><p>This brief first appeared on the Coastal Courier and is republished under a content-sharing agreement.</p>"
    );
    let kinds = [
        (
            "wire",
            "UPDATE 1-Port Elling to close grain terminal for quay repairs",
            wire,
            "full",
        ),
        ("words", "Port Elling shuts grain terminal", words, "full"),
        (
            "boilerplate",
            "Port Elling to close grain terminal | Coast Herald",
            wrapped,
            "full",
        ),
        ("cut", "Port Elling to close grain terminal", cut, "full"),
        (
            "short",
            "Grain terminal to close | Coastal Courier",
            short,
            "lead",
        ),
    ];
    let mut files = vec![("orig.xml".to_string(), originals)];
    for (kind, title, html, _) in &kinds {
        files.push((
            format!("{kind}.xml"),
            one(
                kind,
                &format!("https://{kind}.example/story?utm_source=rss"),
                title,
                html,
            ),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    let out = env.ingest(&refs);
    let id_of = |guid: &str| out.iter().find(|o| o["guid"] == guid).unwrap()["id"].as_i64();
    assert_eq!(out[0]["status"], "new");
    assert_eq!(out[1]["status"], "new");
    for (kind, _, _, orig) in &kinds {
        let o = out.iter().find(|o| o["guid"] == *kind).unwrap();
        assert_eq!(o["status"], "near_duplicate", "{kind}: {o}");
        assert_eq!(o["duplicate_of"].as_i64(), id_of(orig), "{kind}: {o}");
    }
    assert_eq!(env.count("SELECT count(*) FROM articles"), 2);
    assert_eq!(
        env.count("SELECT sources FROM articles WHERE guid = 'full'"),
        5
    );
}

#[test]
fn each_wire_edit_alone_and_a_republished_copy_are_caught() {
    let env = Env::new("");
    let title = "Port Elling to close grain terminal for quay repairs";
    let original = one(
        "full",
        "https://harbour.example/news/terminal",
        title,
        &paras(&S),
    );
    // a real republication: an editor's note, the lead reworded, a subheading, the quote left
    // out, the reporter's bio at the end
    let republished = paras(&[
        "Editor's note: this story was first published by Harbour Wire and is republished here with permission.",
        "Port Elling's harbour authority said on Tuesday it will shut the old grain terminal for two years while engineers rebuild quay walls that have sunk almost forty centimetres since last winter's storm surge.",
        S[1],
        "Cost of exports",
        S[3],
        S[4],
        "Anna Berg covers ports and shipping for Harbour Wire. Reach her at anna.berg@harbour.example or follow her reporting on the coast.",
    ]);
    let kinds = [
        ("update", format!("UPDATE 1-{title}"), paras(&S)),
        (
            "dateline",
            title.to_string(),
            paras(&[
                &format!("PORT ELLING (Harbour Wire) - {}", S[0]),
                S[1],
                S[2],
                S[3],
                S[4],
            ]),
        ),
        (
            "quotes",
            title.to_string(),
            paras(&S.map(typographic).each_ref().map(String::as_str)),
        ),
        (
            "republished",
            format!("{title} | Coast Herald"),
            republished,
        ),
    ];
    let mut files = vec![("orig.xml".to_string(), original)];
    for (kind, title, html) in &kinds {
        let link = format!("https://{kind}.example/story");
        files.push((format!("{kind}.xml"), one(kind, &link, title, html)));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    let out = env.ingest(&refs);
    let id = out[0]["id"].as_i64();
    assert_eq!(out[0]["status"], "new");
    for (o, (kind, _, _)) in out[1..].iter().zip(&kinds) {
        assert_eq!(o["guid"], *kind);
        assert_eq!(o["status"], "near_duplicate", "{kind}: {o}");
        assert_eq!(o["duplicate_of"].as_i64(), id, "{kind}: {o}");
    }
    assert_eq!(env.count("SELECT count(*) FROM articles"), 1);
    assert_eq!(env.count("SELECT sources FROM articles"), 5);
}

#[test]
fn different_stories_sharing_a_long_outlet_footer_stay_apart() {
    let env = Env::new("");
    let with_footer = |body: &[&str]| {
        let mut p: Vec<&str> =
            vec!["Home | News | Region | Business | Sport | Culture | Opinion | Subscribe"];
        p.extend(body);
        p.extend(FOOTER);
        p.push("Share this article: Facebook | X | WhatsApp | LinkedIn | Email | Print");
        paras(&p)
    };
    // two teasers (the footer is longer than either) and two long stories, each alone in its feed
    let t1 = "The town council of Brenmoor voted on Monday evening to keep the public library open on Sundays for another year, after more than two thousand residents signed a petition against the planned cuts.";
    let t2 = "A lorry carrying frozen fish overturned on the coast road near Saltby early on Thursday, blocking both lanes for six hours while crews cleared the spill; the driver was taken to hospital with minor injuries.";
    let out = env.ingest(&[
        (
            "t1.xml",
            &one(
                "t1",
                "https://gazette.example/t1",
                "Library stays open",
                &with_footer(&[t1]),
            ),
        ),
        (
            "t2.xml",
            &one(
                "t2",
                "https://partner.example/t2",
                "Lorry overturns",
                &with_footer(&[t2]),
            ),
        ),
        (
            "l1.xml",
            &one(
                "l1",
                "https://gazette.example/l1",
                "Terminal to close",
                &with_footer(&S),
            ),
        ),
        (
            "l2.xml",
            &one(
                "l2",
                "https://partner.example/l2",
                "Summit",
                &with_footer(&D),
            ),
        ),
    ]);
    for o in &out {
        assert_eq!(o["status"], "new", "{o}");
    }
    assert_eq!(env.count("SELECT count(*) FROM articles"), 4);
}

#[test]
fn every_item_seen_is_recognised_and_counted_once() {
    let env = Env::new("");
    let orig = one(
        "o",
        "https://harbour.example/news/terminal",
        "Terminal",
        &paras(&S),
    );
    // one feed carrying two items that are copies of the story, both linking to its front page
    let footer = |n: u32| {
        format!(
            "<p>Republished by Feed Two, edition number {n}, with permission of the harbour authority press office.</p>"
        )
    };
    let two = rss(
        "en",
        &[
            Item {
                guid: "x1",
                link: "https://two.example/",
                title: "Terminal",
                html: &format!("{}{}", paras(&S), footer(1)),
            },
            Item {
                guid: "x2",
                link: "https://two.example/",
                title: "Terminal (again)",
                html: &format!("{}{}", paras(&S[..4]), footer(2)),
            },
        ],
    );
    let out = env.ingest(&[("orig.xml", &orig), ("two.xml", &two)]);
    let id = out[0]["id"].as_i64();
    assert_eq!(out[1]["status"], "near_duplicate", "{}", out[1]);
    assert_eq!(out[2]["status"], "near_duplicate", "{}", out[2]);
    assert_eq!(env.count("SELECT count(*) FROM sightings"), 2);
    assert_eq!(env.count("SELECT count(DISTINCT item) FROM sightings"), 2);
    assert_eq!(
        env.count("SELECT sources FROM articles"),
        2,
        "each feed once"
    );
    // re-polled: recognised by identity, not compared again, nothing recorded
    let again = env.ingest_paths(&[env.path("orig.xml"), env.path("two.xml")]);
    for o in &again {
        assert_eq!(o["status"], "unchanged", "{o}");
        assert_eq!(o["id"].as_i64(), id, "{o}");
    }
    assert_eq!(again[1]["duplicate_of"].as_i64(), id);
    assert_eq!(env.count("SELECT count(*) FROM sightings"), 2);
    assert_eq!(env.count("SELECT sources FROM articles"), 2);
}
