//! Where an `ingest` spends its time, stage by stage, on one core: parse (charset + feed-rs),
//! clean (sanitize, text, boilerplate, canonical link, language), fingerprint, match, and the store
//! (open and migrate a new database, commit in ingest's batches, close with its final checkpoint).
//!
//! Run: `cargo bench --bench ingest`. Reads the feed files under `NEWSWATCH_BENCH_FEEDS` (default
//! `/work/shared/eval/feeds`, the 702 files `bench-ingest` uses; same extensions) into memory first,
//! so disk reads are not counted. Prints the median of 5 rounds per stage. The pure stages run on
//! the workers in parallel; the store runs on the one writer, so its time is a floor for the whole
//! command's wall time however many cores there are.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use newswatch::clean::{self, CleanRules};
use newswatch::commands::ingest::{BATCH, MIN_BATCH_ITEMS, file_commit};
use newswatch::config::Config;
use newswatch::dedup;
use newswatch::model::{Article, ParsedFeed};
use newswatch::parse;
use newswatch::pipeline::{Pipeline, Precomputed};
use newswatch::store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUNDS: usize = 5;

fn feed_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            feed_files(&p, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| ["xml", "rss", "atom", "ashx"].contains(&x))
        {
            out.push(p);
        }
    }
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let dir = std::env::var("NEWSWATCH_BENCH_FEEDS").unwrap_or("/work/shared/eval/feeds".into());
    let mut paths = Vec::new();
    feed_files(Path::new(&dir), &mut paths);
    paths.sort();
    if paths.is_empty() {
        println!("no feed files under {dir}; set NEWSWATCH_BENCH_FEEDS");
        return;
    }
    let files: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| {
            let url = url::Url::from_file_path(std::path::absolute(p).unwrap())
                .unwrap()
                .to_string();
            (url, std::fs::read(p).unwrap())
        })
        .collect();
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    let cfg = Config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config.toml"
    )))
    .expect("shipped config.toml loads");
    let pipeline = Pipeline::new(std::sync::Arc::new(cfg.clone())).unwrap();
    let rules = CleanRules::new(&cfg.clean, None);

    let mut t: [Vec<Duration>; 8] = Default::default();
    let mut items = 0;
    for _ in 0..ROUNDS {
        let s = Instant::now();
        let feeds: Vec<ParsedFeed> = files
            .iter()
            .filter_map(|(url, b)| parse::parse_feed(b, Some(url), None).ok())
            .collect();
        t[0].push(s.elapsed());

        let s = Instant::now();
        let mut cleaned: Vec<Vec<Article>> = feeds
            .iter()
            .map(|f| clean::clean_feed(&f.entries, f.language.as_deref(), &rules))
            .collect();
        t[1].push(s.elapsed());

        let s = Instant::now();
        for a in cleaned.iter_mut().flatten() {
            dedup::fingerprint(a);
        }
        t[2].push(s.elapsed());

        let s = Instant::now();
        let matched: usize = cleaned
            .iter()
            .flatten()
            .map(|a| pipeline.match_article(a).len())
            .sum();
        t[3].push(s.elapsed());
        std::hint::black_box(matched);
        items = cleaned.iter().map(Vec::len).sum();

        // The store stage commits what `ingest` would, in its batches, prepared outside the timing.
        let prepared: Vec<(usize, _)> = files
            .iter()
            .enumerate()
            .filter_map(|(i, (url, b))| pipeline.prepare(b, url, None).ok().map(|p| (i, p)))
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        let s = Instant::now();
        let mut store = Store::open(&tmp.path().join("bench.db")).unwrap();
        t[4].push(s.elapsed());
        let s = Instant::now();
        let urls: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
        let ids = store.ensure_ingest_feeds(&urls).unwrap();
        let full_text = pipeline.config.clean.full_text;
        let (mut commits, mut pre, mut n) = (Vec::new(), Precomputed::default(), 0);
        let last = prepared.len() - 1;
        for (k, (i, mut p)) in prepared.into_iter().enumerate() {
            n += p.articles.len();
            pre.extend(std::mem::take(&mut p.matches));
            commits.push(file_commit(p, ids[i], &urls[i]));
            if n >= MIN_BATCH_ITEMS || commits.len() >= BATCH || k == last {
                pipeline
                    .with_precomputed(full_text, &pre, |policy| {
                        store.commit_batch(&commits, policy)
                    })
                    .unwrap();
                (commits, pre, n) = (Vec::new(), Precomputed::default(), 0);
            }
        }
        t[5].push(s.elapsed());
        let s = Instant::now();
        drop(store);
        t[6].push(s.elapsed());
    }
    let m: Vec<f64> = t.into_iter().take(7).map(median).collect();
    println!(
        "{} files, {:.1} MB, {items} items; one core, median of {ROUNDS} rounds (ms)",
        files.len(),
        bytes as f64 / 1e6
    );
    let pure = m[0] + m[1] + m[2] + m[3];
    let store = m[4] + m[5] + m[6];
    for (name, v) in [
        ("parse (charset + feed-rs)", m[0]),
        ("clean", m[1]),
        ("fingerprint", m[2]),
        ("match", m[3]),
        ("pure stages (on the workers)", pure),
        ("store: open + migrate", m[4]),
        ("store: commits", m[5]),
        ("store: close (checkpoint)", m[6]),
        ("store (on the one writer)", store),
    ] {
        println!("{name:<30} {v:>8.1}");
    }
}
