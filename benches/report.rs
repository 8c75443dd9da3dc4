//! `cargo bench --bench report`: builds a temp store of ONE MILLION articles (a year of news from
//! 500 feeds in four languages, ~12% of them matching one of three topics), then times a 30-day
//! topic report, reports by feed/lang over 30 days, and full-text searches. Goals: report under
//! 200 ms, search under 50 ms. Prints the numbers (median of 5 runs after one warm-up).
//!
//! Set NEWSWATCH_BENCH_ARTICLES to use another size (e.g. 100000 for a quick run), and
//! NEWSWATCH_BENCH_DB=path to keep the generated store there and reuse it on the next run.

use std::time::{Duration, Instant};

use newswatch::cli::ReportBy;
use newswatch::report::{self, ReportParams, parse_tz};
use newswatch::store::Store;
use newswatch::store::query::SearchFilter;
use rusqlite::params;

const DAY: i64 = 86_400_000;

fn main() {
    let n: i64 = std::env::var("NEWSWATCH_BENCH_ARTICLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let t0 = Instant::now();
    let now = generate(&db, n);
    println!(
        "generated {n} articles in {:.1} s ({})",
        t0.elapsed().as_secs_f64(),
        db.display()
    );

    let conn = newswatch::store::Reader::open(&db).unwrap();
    let tz = parse_tz("UTC").unwrap();
    let p = |topic: Option<&str>, by: ReportBy| ReportParams {
        since_ms: now - 30 * DAY,
        until_ms: now,
        topic: topic.map(str::to_string),
        by,
        tz,
        top_n: 10,
    };
    let r = report::build(&*conn, &p(Some("missiles"), ReportBy::Day)).unwrap();
    println!(
        "30-day report for topic missiles: {} articles, {} matches, {} day rows",
        r.totals.articles,
        r.totals.matches,
        r.groups.len()
    );
    time("report --topic missiles --since 30d --by day", 200, || {
        report::build(&*conn, &p(Some("missiles"), ReportBy::Day)).unwrap();
    });
    time(
        "report --topic missiles --since 30d --format html (build + render)",
        200,
        || {
            let r = report::build(&*conn, &p(Some("missiles"), ReportBy::Day)).unwrap();
            report::render(&r, newswatch::cli::Format::Html).unwrap();
        },
    );
    time("report --since 30d --by day (all topics)", 200, || {
        report::build(&*conn, &p(None, ReportBy::Day)).unwrap();
    });
    time("report --since 30d --by feed (all topics)", 200, || {
        report::build(&*conn, &p(None, ReportBy::Feed)).unwrap();
    });
    for q in ["ballistic", "missile launch", "\"arms deal\"", "w17 w42"] {
        let f = SearchFilter {
            limit: 20,
            ..Default::default()
        };
        let hits = conn.search(q, &f).unwrap().len();
        time(
            &format!("search {q:?} (limit 20, {hits} hits shown)"),
            50,
            || {
                conn.search(q, &f).unwrap();
            },
        );
    }
    let f = SearchFilter {
        limit: 20,
        since_ms: Some(now - 7 * DAY),
        lang: Some("de".into()),
        ..Default::default()
    };
    time("search \"missile\" --lang de --since 7d", 50, || {
        conn.search("missile", &f).unwrap();
    });
}

fn time(label: &str, goal_ms: u128, mut f: impl FnMut()) {
    f();
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    runs.sort();
    let med = runs[2];
    let verdict = if med.as_millis() < goal_ms {
        "ok"
    } else {
        "OVER GOAL"
    };
    println!(
        "{label:<70} median {:>8.2} ms  (goal < {goal_ms} ms: {verdict})",
        med.as_secs_f64() * 1000.0
    );
}

/// Writes `n` articles spread over the last 365 days, with matches and alerts. Returns "now".
fn generate(db: &std::path::Path, n: i64) -> i64 {
    drop(Store::open(db).unwrap());
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let now = newswatch::util::now_ms();
    let mut rng = fastrand::Rng::with_seed(6);
    let vocab: Vec<String> = (0..5000).map(|i| format!("w{i}")).collect();
    let langs = ["en", "de", "ru", "fr"];
    let tx = conn.transaction().unwrap();
    for f in 0..500 {
        tx.execute(
            "INSERT INTO feeds (url, name, created_at, next_poll_at) VALUES (?1, ?2, ?3, ?3)",
            params![
                format!("https://feed{f}.example/rss"),
                format!("Feed {f}"),
                now
            ],
        )
        .unwrap();
    }
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO articles (id, feed_id, identity, guid, link, canonical_link, title, text, lang, published_at,
                    fetched_at, content_hash, simhash, band0, band1, band2, band3, sources)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?8, ?3, ?9, 0, 0, 0, 0, ?10)",
            )
            .unwrap();
        let mut m = tx
            .prepare("INSERT INTO matches (article_id, topic, terms, snippet, matched_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .unwrap();
        let mut al = tx
            .prepare(
                "INSERT INTO alerts (uid, match_id, topic, sink, status, next_attempt_at, created_at, delivered_at)
                 VALUES (?1, ?2, ?3, 'webhook', 'delivered', ?4, ?4, ?4)",
            )
            .unwrap();
        let span = 365 * DAY;
        let mut text = String::new();
        for id in 1..=n {
            // Zipf-like word choice: small indexes are much more frequent.
            let word = |rng: &mut fastrand::Rng| {
                let r = rng.f64();
                &vocab[((r * r * r) * 5000.0) as usize]
            };
            text.clear();
            for _ in 0..rng.usize(20..40) {
                text.push_str(word(&mut rng));
                text.push(' ');
            }
            let roll = rng.u32(0..100);
            let topic = match roll {
                0..=7 => {
                    text.push_str("a ballistic missile launch was reported");
                    Some(("missiles", "[[ballistic missile]] [[launch]] was reported"))
                }
                8..=11 => {
                    text.push_str("the arms deal was signed");
                    Some(("arms-deals", "the [[arms deal]] was signed"))
                }
                12 => {
                    text.push_str("a nuclear test");
                    Some(("nuclear", "a [[nuclear test]]"))
                }
                _ => None,
            };
            let title = format!("{} {} {}", word(&mut rng), word(&mut rng), word(&mut rng));
            let t = now - (span * (n - id) / n) - rng.i64(0..3_600_000);
            let sources = if rng.u32(0..10) == 0 {
                rng.i64(2..12)
            } else {
                1
            };
            ins.execute(params![
                id,
                rng.i64(1..=500),
                format!("g:{id}"),
                format!("https://news.example/{id}"),
                title,
                text,
                langs[rng.usize(0..4)],
                t,
                rng.i64(..),
                sources
            ])
            .unwrap();
            if let Some((topic, snippet)) = topic {
                m.execute(params![id, topic, "[\"x\"]", snippet, t])
                    .unwrap();
                let mid = tx.last_insert_rowid();
                al.execute(params![format!("nw-{mid}"), mid, topic, t])
                    .unwrap();
            }
        }
    }
    // New rows are indexed by the store's commit, not by a trigger (migration 0004): index the
    // generated rows in one pass, as the store would.
    tx.execute(
        "INSERT INTO articles_fts(rowid, title, text) SELECT id, title, text FROM articles",
        [],
    )
    .unwrap();
    tx.commit().unwrap();
    now
}
