//! Issue 16: the crash test as a check. `newswatch run` polls a farm of feeds served on 127.0.0.1
//! that publish new items as time passes, is killed with SIGKILL at random moments and restarted;
//! then one clean `poll --once`. Every item the farm published before that last poll must be stored,
//! as an article or as a sighting of one (found by its link), no article twice, and the database
//! must pass SQLite's integrity check.
//!
//! A few kills run with the suite (`cargo test --test it crash::`); for a long run set
//! `NEWSWATCH_KILLS=100` (and `NEWSWATCH_KILL_SEED` to vary the moments).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response, StatusCode, header};
use axum::routing::get;

const FEEDS: usize = 12;
/// Items already published when the farm starts.
const ITEMS0: u64 = 4;
/// A new item per feed this often.
const EVERY_MS: u64 = 400;
/// Items a feed document holds (the newest ones).
const WINDOW: u64 = 120;

const WORDS: &[&str] = &[
    "council", "budget", "harbour", "weather", "league", "museum", "railway", "festival", "school",
    "court", "market", "river", "union", "hospital", "airport", "election", "bridge", "forest",
    "library", "tariff", "ferry", "orchard", "factory", "mayor", "teacher", "village", "storm",
    "concert", "bakery", "tunnel", "glacier", "harvest",
];

struct Farm {
    t0: Instant,
}

impl Farm {
    fn published(&self, feed: u64) -> u64 {
        // Staggered per feed, so feeds change at different moments.
        let ms = self.t0.elapsed().as_millis() as u64 + feed * 37;
        ITEMS0 + ms / EVERY_MS
    }
}

fn link(feed: u64, k: u64) -> String {
    format!("https://farm.example/story/{feed}/{k}")
}

/// A text of its own for every item (no two items near-duplicates of each other).
fn text(feed: u64, k: u64) -> String {
    let mut x = feed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let mut words = Vec::new();
    for _ in 0..40 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words.push(WORDS[(x % WORDS.len() as u64) as usize]);
    }
    format!("Report {k} from desk {feed}: {}.", words.join(" "))
}

async fn feed(
    State(farm): State<Arc<Farm>>,
    Path(i): Path<u64>,
    h: HeaderMap,
) -> Response<axum::body::Body> {
    let n = farm.published(i);
    let etag = format!("\"{i}-{n}\"");
    if h.get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == etag.as_str())
    {
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, etag)
            .body(axum::body::Body::empty())
            .unwrap();
    }
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Desk {i}</title><link>https://farm.example/{i}</link>"
    );
    for k in (n.saturating_sub(WINDOW)..n).rev() {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">f{i}-{k}</guid><title>Desk {i} story {k}</title><link>{}</link><description><![CDATA[<p>{}</p>]]></description></item>",
            link(i, k),
            text(i, k)
        ));
    }
    s.push_str("</channel></rss>");
    Response::builder()
        .header(header::CONTENT_TYPE, "application/rss+xml")
        .header(header::ETAG, etag)
        .body(s.into())
        .unwrap()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn kill9_at_random_moments_loses_nothing_and_stores_nothing_twice() {
    let kills = env_u64("NEWSWATCH_KILLS", 6);
    let mut rng = fastrand::Rng::with_seed(env_u64("NEWSWATCH_KILL_SEED", 16));
    let farm = Arc::new(Farm { t0: Instant::now() });
    let srv = Server::start(
        Router::new()
            .route("/f/{i}", get(feed))
            .with_state(farm.clone()),
    );
    let urls: Vec<String> = (0..FEEDS).map(|i| srv.url(&format!("/f/{i}"))).collect();
    let mut config = String::from(
        "[http]\ntimeout = \"3s\"\nconnect_timeout = \"2s\"\nper_host_concurrency = 8\n\n\
         [poll]\ndefault_interval = \"1s\"\nmin_interval = \"1s\"\nmax_interval = \"2s\"\ntick = \"100ms\"\n",
    );
    for u in &urls {
        config.push_str(&format!("\n[[feed]]\nurl = \"{u}\"\n"));
    }
    let env = Env::new(&config);

    for _ in 0..kills {
        let mut child = env.cmd().arg("run").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.u64(300..1800)));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the daemon exited by itself"
        );
        signal(&child, 9);
        child.wait().unwrap();
    }
    let truth: Vec<u64> = (0..FEEDS as u64).map(|i| farm.published(i)).collect();
    // The daemon did the work between kills (the last poll only completes it): a feed whose state
    // was committed without its articles would answer 304 to that poll and its items would be missing.
    let by_daemon = env.count("SELECT count(*) FROM articles");
    assert!(by_daemon >= (FEEDS as u64 * ITEMS0) as i64, "{by_daemon}");
    let o = env.run(&["poll", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let mut c = env.conn();
    if !c.is_pg() {
        let ok: String = c.one("PRAGMA integrity_check", &[]);
        assert_eq!(ok, "ok");
    }
    let mut links: HashMap<String, u32> = HashMap::new();
    for (l,) in c.rows::<(String,)>(
        "SELECT link FROM articles UNION ALL SELECT link FROM sightings",
        &[],
    ) {
        *links.entry(l).or_default() += 1;
    }
    let mut missing = Vec::new();
    let mut expected = 0;
    for (i, &n) in truth.iter().enumerate() {
        for k in 0..n {
            expected += 1;
            let l = link(i as u64, k);
            if !links.contains_key(&l) {
                missing.push(l);
            }
        }
    }
    let twice: i64 = c.one(
        "SELECT count(*) FROM (SELECT link FROM articles GROUP BY link HAVING count(*) > 1) t",
        &[],
    );
    eprintln!(
        "kills {kills}, items expected {expected}, stored before the last poll {by_daemon}, missing {}, articles stored twice {twice}",
        missing.len()
    );
    assert!(missing.is_empty(), "lost after kill -9: {missing:?}");
    assert_eq!(twice, 0, "articles stored twice");
    assert!(expected >= (FEEDS as u64 * (ITEMS0 + 1)) as usize);
}
