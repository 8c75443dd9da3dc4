//! Near-duplicate lookup cost against 1k, 10k and 100k stored articles (all inside the window),
//! for exact bands (max_distance 3) and one-bit band probes (max_distance 4..=7).
//! Run: `cargo bench --bench dedup`. Prints µs per lookup; the lookup must not grow with the store.

use std::time::Instant;

use newswatch::dedup;
use newswatch::model::Article;
use newswatch::store::feeds_log::FetchLog;
use newswatch::store::{FeedState, FetchCommit, MatchPolicy, Store};

fn rnd(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn main() {
    let matcher = |_: &Article| Vec::new();
    let sinks = |_: &str| Vec::new();
    let policy = MatchPolicy {
        matcher: &matcher,
        sinks_for: &sinks,
        window_ms: 7 * 86_400_000,
        max_distance: 3,
        full_text: false,
    };
    let mut x = 0x9e3779b97f4a7c15u64;
    println!(
        "{:>8} {:>14} {:>14} {:>14}",
        "stored", "d<=3 µs/lookup", "d<=6 µs/lookup", "insert µs/art"
    );
    for &n in &[1_000usize, 10_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
        let feed = store
            .ensure_ingest_feeds(&["file:///bench.xml".to_string()])
            .unwrap()[0];
        let t = Instant::now();
        let mut stored = Vec::with_capacity(n);
        for chunk in 0..n / 1000 {
            let articles: Vec<Article> = (0..1000)
                .map(|i| {
                    let h = rnd(&mut x);
                    stored.push(h);
                    Article {
                        guid: Some(format!("{chunk}-{i}")),
                        title: format!("t{chunk}-{i}"),
                        text: String::from("x"),
                        content_hash: format!("{:032x}", rnd(&mut x)),
                        simhash: h,
                        ..Default::default()
                    }
                })
                .collect();
            let c = FetchCommit {
                feed_id: feed,
                articles,
                state: FeedState::default(),
                log: FetchLog {
                    url: "file:///bench.xml".into(),
                    ..Default::default()
                },
            };
            store.commit_fetch(c, &policy).unwrap();
        }
        let insert_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let lookups = 2000;
        let mut res = [0f64; 2];
        for (k, &maxd) in [3u32, 6].iter().enumerate() {
            let t = Instant::now();
            let mut found = 0;
            for i in 0..lookups {
                // half misses (random), half near copies of stored articles (3 bits flipped)
                let q = if i % 2 == 0 {
                    rnd(&mut x)
                } else {
                    stored[(rnd(&mut x) as usize) % n] ^ 0b1000_0000_0100_0001
                };
                if !store.near_duplicates(q, 0, maxd).unwrap().is_empty() {
                    found += 1;
                }
            }
            res[k] = t.elapsed().as_secs_f64() * 1e6 / lookups as f64;
            assert!(found >= lookups / 2, "near copies must be found ({found})");
        }
        println!(
            "{n:>8} {:>14.1} {:>14.1} {:>14.1}",
            res[0], res[1], insert_us
        );
    }
    // the pure part: fingerprint of a 600-word text
    let text: String = (0..600)
        .map(|i| format!("w{} ", rnd(&mut x) % 5000 + i % 3))
        .collect();
    let t = Instant::now();
    let mut acc = 0u64;
    for _ in 0..2000 {
        acc ^= dedup::simhash(std::hint::black_box(&text));
    }
    println!(
        "simhash of a 600-word text: {:.2} µs ({acc:x})",
        t.elapsed().as_secs_f64() * 1e6 / 2000.0
    );
}
