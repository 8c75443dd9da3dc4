//! `newswatch report` and `newswatch search` against a store filled through the real write path.

use crate::harness::db::Scratch;
use crate::harness::fill;

use std::process::Command;

use serde_json::Value;

fn run(cfg: &std::path::Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(fill::bin())
        .arg("--config")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

fn setup(extra: &str) -> (Scratch, std::path::PathBuf, Vec<i64>) {
    let s = Scratch::new();
    let cfg = fill::config(&s, extra);
    let ids = fill::standard(&s.db);
    (s, cfg, ids)
}

#[test]
fn json_report_counts_match_the_store() {
    let (_d, cfg, ids) = setup("");
    let (out, err, code) = run(&cfg, &["report", "--since", "10d", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["timezone"], "UTC");
    // 6 stories in the window (the copy in feed b is a sighting; the 40-day-old one is out).
    assert_eq!(r["totals"]["articles"], 6, "{r:#}");
    // missiles: stories 1, 3, 5; arms-deals: 2, 5.
    assert_eq!(r["totals"]["matches"], 5, "{r:#}");
    // By day: every day of the window, and the counts add up.
    let groups = r["groups"].as_array().unwrap();
    assert!(groups.len() >= 10, "{}", groups.len());
    let sum = |k: &str| groups.iter().map(|g| g[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum("articles"), 6);
    assert_eq!(sum("matches"), 5);
    let yesterday = (fill::days_ago(1)).format("%Y-%m-%d").to_string();
    let y = groups
        .iter()
        .find(|g| g["key"] == yesterday.as_str())
        .unwrap();
    assert_eq!(
        (y["articles"].as_i64(), y["matches"].as_i64()),
        (Some(2), Some(2))
    );
    // Series per topic per day, and top stories: the story two feeds carried comes first.
    let daily = r["daily"].as_array().unwrap();
    assert_eq!(
        daily
            .iter()
            .filter(|d| d["topic"] == "missiles")
            .map(|d| d["matches"].as_i64().unwrap())
            .sum::<i64>(),
        3
    );
    let top = r["top"].as_array().unwrap();
    let missiles = top.iter().find(|t| t["topic"] == "missiles").unwrap();
    assert_eq!(missiles["matches"], 3);
    assert_eq!(missiles["stories"][0]["id"], ids[0]);
    assert_eq!(missiles["stories"][0]["sources"], 2);
    assert!(
        missiles["stories"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("[[missile]]")
    );
}

#[test]
fn grouped_by_feed_topic_lang_and_filtered_by_topic() {
    let (_d, cfg, _) = setup("");
    let (out, err, code) = run(
        &cfg,
        &[
            "report", "--since", "10d", "--by", "lang", "--format", "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    let get = |r: &Value, k: &str| {
        let g = r["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("no group {k}: {r:#}"));
        (
            g["articles"].as_i64().unwrap(),
            g["matches"].as_i64().unwrap(),
        )
    };
    assert_eq!(get(&r, "en"), (4, 4));
    assert_eq!(get(&r, "de"), (1, 1));
    assert_eq!(get(&r, "fr"), (1, 0));

    let (out, _, _) = run(
        &cfg,
        &[
            "report", "--since", "10d", "--by", "feed", "--format", "json",
        ],
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(get(&r, "https://a.example/feed.xml"), (2, 1));
    assert_eq!(get(&r, "https://b.example/feed.xml"), (2, 2));
    assert_eq!(get(&r, "https://c.example/feed.xml"), (2, 2));

    let (out, _, _) = run(
        &cfg,
        &[
            "report", "--since", "10d", "--by", "topic", "--format", "json",
        ],
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(get(&r, "missiles"), (3, 3));
    assert_eq!(get(&r, "arms-deals"), (2, 2));

    // A topic filter: only that topic's articles and matches; a longer window takes the old one.
    let (out, _, _) = run(
        &cfg,
        &[
            "report", "--topic", "missiles", "--since", "60d", "--format", "json",
        ],
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["totals"]["articles"], 4);
    assert_eq!(r["totals"]["matches"], 4);
    assert_eq!(r["top"].as_array().unwrap().len(), 1);
}

#[test]
fn csv_parses_back_and_states_the_zone() {
    let (dir, cfg, _) = setup("[report]\ntimezone = \"+02:00\"\n");
    let out_path = dir.path().join("r.csv");
    let (_, err, code) = run(
        &cfg,
        &[
            "report",
            "--since",
            "10d",
            "--format",
            "csv",
            "--out",
            out_path.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let mut rd = csv::Reader::from_path(&out_path).unwrap();
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        vec!["day (+02:00)", "articles", "matches"]
    );
    let rows: Vec<(String, i64, i64)> = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].to_string(),
                r[1].parse().unwrap(),
                r[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.iter().map(|r| r.1).sum::<i64>(), 6);
    assert_eq!(rows.iter().map(|r| r.2).sum::<i64>(), 5);
    assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "days in order");

    let (out, _, _) = run(&cfg, &["report", "--since", "10d", "--format", "json"]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["timezone"], "+02:00");
    assert!(
        r["since"].as_str().unwrap().ends_with("+02:00"),
        "{}",
        r["since"]
    );
    let (out, _, _) = run(&cfg, &["report", "--since", "10d"]);
    assert!(out.contains("times in +02:00"), "{out}");
}

#[test]
fn html_and_markdown_escape_feed_content() {
    let (_d, cfg, _) = setup("");
    let (html, err, code) = run(&cfg, &["report", "--since", "10d", "--format", "html"]);
    assert_eq!(code, 0, "{err}");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<svg") && html.contains("class=\"series\" data-topic=\"missiles\""),
        "chart missing"
    );
    assert!(!html.contains("<script"), "unescaped script in the report");
    assert!(html.contains("Missile &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("<mark>missile</mark>"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"//"),
        "no external assets"
    );
    assert!(html.contains("times in <b>UTC</b>"));

    let (md, _, _) = run(&cfg, &["report", "--since", "10d", "--format", "md"]);
    assert!(md.contains("| day | articles | matches |"));
    assert!(md.contains("\\<script\\>"), "{md}");

    let (_, err, code) = run(&cfg, &["report", "--since", "soon"]);
    assert_eq!(code, 2, "{err}");
    let (_, err, code) = run(
        &fill::config(&_d, "[report]\ntimezone = \"Mars/Olympus\"\n"),
        &["report"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("timezone"), "{err}");
}

#[test]
fn search_filters_and_highlights() {
    let (_d, cfg, ids) = setup("");
    let (out, err, code) = run(&cfg, &["search", "missile", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let hits: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(hits.len(), 4, "{out}");
    for h in &hits {
        for k in [
            "id",
            "feed",
            "title",
            "link",
            "text",
            "lang",
            "published_at",
            "topics",
            "sources",
            "highlight",
        ] {
            assert!(h.get(k).is_some(), "hit lacks {k}: {h}");
        }
        assert!(
            h["highlight"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("[[missile]]"),
            "{h}"
        );
    }
    let n = |args: &[&str]| -> Vec<Value> {
        let (out, err, code) = run(&cfg, args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(
        n(&["search", "missile", "--lang", "de", "--format", "json"]).len(),
        1
    );
    assert_eq!(
        n(&["search", "missile", "--since", "10d", "--format", "json"]).len(),
        3
    );
    let by_feed = n(&[
        "search",
        "missile",
        "--feed",
        "https://b.example/feed.xml",
        "--format",
        "json",
    ]);
    // Feed b carries its own story 3 and a sighting of story 1.
    let mut got: Vec<i64> = by_feed.iter().map(|h| h["id"].as_i64().unwrap()).collect();
    got.sort();
    assert_eq!(got, vec![ids[0], ids[3]]);
    let arms = n(&[
        "search",
        "missile",
        "--topic",
        "arms-deals",
        "--format",
        "json",
    ]);
    assert_eq!(arms.len(), 1);
    assert_eq!(
        arms[0]["topics"],
        serde_json::json!(["arms-deals", "missiles"])
    );

    // The table shows the highlight; piped, marks stay as brackets and no escape codes appear.
    let (table, _, _) = run(&cfg, &["search", "missile"]);
    assert!(
        table.contains("[[missile]]") || table.contains("[[Missile]]"),
        "{table}"
    );
    assert!(!table.contains('\x1b'));
}
