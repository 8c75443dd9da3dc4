//! The per-article cost of dedup against 1k, 10k and 50k stored stories (all inside the window):
//! fingerprint + commit (identity lookup, exact lookups, near-duplicate lookup and verification,
//! insert or sighting) of new items, half of them edited copies of stored stories.
//! Run: `cargo bench --bench dedup`. Prints µs per article (median of 5 rounds); the cost must
//! not grow with the store. `NW_BENCH_SIZES=1000` (comma-separated) runs only those store sizes.

use std::time::Instant;

use newswatch::dedup;
use newswatch::model::Article;
use newswatch::store::feeds_log::FetchLog;
use newswatch::store::{FeedState, FetchCommit, ItemStatus, MatchPolicy, Store};

fn rnd(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// A story of six 20-word paragraphs over a 3,000-word vocabulary.
fn story(x: &mut u64) -> Vec<String> {
    (0..6)
        .map(|_| {
            (0..20)
                .map(|_| format!("w{}", rnd(x) % 3000))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn article(guid: String, paras: &[String]) -> Article {
    let mut a = Article {
        guid: Some(guid),
        title: "t".into(),
        text: paras.join("\n\n"),
        ..Default::default()
    };
    dedup::fingerprint(&mut a);
    a
}

fn commit(
    store: &mut Store,
    feed: i64,
    policy: &MatchPolicy,
    articles: Vec<Article>,
) -> Vec<ItemStatus> {
    let c = FetchCommit {
        feed_id: feed,
        articles,
        state: FeedState::default(),
        log: FetchLog {
            url: "file:///bench.xml".into(),
            ..Default::default()
        },
    };
    let out = store.commit_fetch(c, policy).unwrap();
    out.items.iter().map(|i| i.status).collect()
}

fn main() {
    let matcher = |_: &Article| Vec::new();
    let sinks = |_: &str| Vec::new();
    let policy = MatchPolicy {
        matcher: &matcher,
        sinks_for: &sinks,
        window_ms: 7 * 86_400_000,
        full_text: false,
    };
    let mut x = 0x9e3779b97f4a7c15u64;
    println!(
        "{:>8} {:>16} {:>18} {:>14}",
        "stored", "fill µs/article", "new+copy µs/art", "copies caught"
    );
    let sizes: Vec<usize> = std::env::var("NW_BENCH_SIZES").map_or_else(
        |_| vec![1_000, 10_000, 50_000],
        |v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
    );
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
        let feeds = store
            .ensure_ingest_feeds(&["file:///a.xml".to_string(), "file:///b.xml".to_string()])
            .unwrap();
        let (feed, other) = (feeds[0], feeds[1]);
        let mut stories = Vec::with_capacity(n);
        let t = Instant::now();
        for chunk in 0..n / 500 {
            let batch: Vec<Article> = (0..500)
                .map(|i| {
                    let s = story(&mut x);
                    let a = article(format!("{chunk}-{i}"), &s);
                    stories.push(s);
                    a
                })
                .collect();
            commit(&mut store, feed, &policy, batch);
        }
        let fill = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        // 5 rounds of 200 items: even ones edited copies of a stored story (a footer added, two
        // words changed), odd ones new stories.
        let mut rounds = Vec::new();
        let (mut caught, mut copies) = (0, 0);
        for r in 0..5 {
            let items: Vec<(bool, Vec<String>)> = (0..200)
                .map(|i| {
                    if i % 2 == 0 {
                        let mut s = stories[rnd(&mut x) as usize % n].clone();
                        s[2] = s[2].replacen('w', "v", 1);
                        s[4] = s[4].replacen('w', "v", 1);
                        s.push("This story first appeared on Bench Wire and is republished here under a sharing agreement.".into());
                        (true, s)
                    } else {
                        (false, story(&mut x))
                    }
                })
                .collect();
            let t = Instant::now();
            let batch: Vec<Article> = items
                .iter()
                .enumerate()
                .map(|(i, (_, s))| article(format!("r{r}-{i}"), s))
                .collect();
            let st = commit(&mut store, other, &policy, batch);
            rounds.push(t.elapsed().as_secs_f64() * 1e6 / 200.0);
            for ((copy, _), s) in items.iter().zip(st) {
                if *copy {
                    copies += 1;
                    caught += usize::from(s == ItemStatus::NearDuplicate);
                }
            }
        }
        rounds.sort_by(f64::total_cmp);
        println!(
            "{n:>8} {fill:>16.1} {:>18.1} {:>10}/{copies}",
            rounds[2], caught
        );
    }
    // the pure part: fingerprint of a 600-word text
    let paras: Vec<String> = (0..30)
        .map(|_| {
            (0..20)
                .map(|_| format!("w{} ", rnd(&mut x) % 5000))
                .collect()
        })
        .collect();
    let text = paras.join("\n\n");
    let mut a = Article {
        text,
        ..Default::default()
    };
    let t = Instant::now();
    for _ in 0..2000 {
        dedup::fingerprint(std::hint::black_box(&mut a));
    }
    println!(
        "fingerprint of a 600-word text: {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / 2000.0
    );
}
