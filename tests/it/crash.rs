//! Issue 16: the crash test as a check. `newswatch run` polls a farm of feeds served on 127.0.0.1
//! that publish new items as time passes, is killed with SIGKILL at random moments and restarted;
//! then one clean `poll --once`. Wire feeds carry copies of some desks' stories (a dateline added,
//! every third one edited), so the dedup decisions are taken across kills too. Every item the farm
//! published before that last poll must be stored exactly once, as an article or as a sighting of
//! one (found by its link), no alert uid twice, and the database must pass SQLite's integrity
//! check.
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
/// Wire feeds: wire feed j copies desk j's stories.
const WIRES: usize = 3;
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

fn wire_link(j: u64, k: u64) -> String {
    format!("https://wire.example/{j}/{k}")
}

/// Desk j's story k as the wire carries it: a dateline before it, and every third one edited.
fn wire_text(j: u64, k: u64) -> String {
    let t = text(j, k);
    let t = if k.is_multiple_of(3) {
        t.replacen(" from desk ", " reported by desk ", 1)
            .replacen(" council", " councillors", 1)
    } else {
        t
    };
    format!("LONDON (Wire) - {t}")
}

async fn desk(
    State(farm): State<Arc<Farm>>,
    Path(i): Path<u64>,
    h: HeaderMap,
) -> Response<axum::body::Body> {
    let n = farm.published(i);
    document(&format!("d{i}-{n}"), &h, &format!("Desk {i}"), n, |k| {
        (format!("f{i}-{k}"), link(i, k), text(i, k))
    })
}

async fn wire(
    State(farm): State<Arc<Farm>>,
    Path(j): Path<u64>,
    h: HeaderMap,
) -> Response<axum::body::Body> {
    let n = farm.published(j);
    document(&format!("w{j}-{n}"), &h, &format!("Wire {j}"), n, |k| {
        (format!("w{j}-{k}"), wire_link(j, k), wire_text(j, k))
    })
}

/// An RSS document of items `n - WINDOW .. n`, newest first ((guid, link, text) of item k), or 304
/// when the client has this version.
fn document(
    version: &str,
    h: &HeaderMap,
    title: &str,
    n: u64,
    item: impl Fn(u64) -> (String, String, String),
) -> Response<axum::body::Body> {
    let etag = format!("\"{version}\"");
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
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>{title}</title><link>https://farm.example/</link>"
    );
    for k in (n.saturating_sub(WINDOW)..n).rev() {
        let (guid, link, text) = item(k);
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title} story {k}</title><link>{link}</link><description><![CDATA[<p>{text}</p>]]></description></item>"
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

fn config(urls: &[String]) -> String {
    let mut config = String::from(
        "[http]\ntimeout = \"3s\"\nconnect_timeout = \"2s\"\nper_host_concurrency = 8\n\n\
         [poll]\ndefault_interval = \"1s\"\nmin_interval = \"1s\"\nmax_interval = \"2s\"\ntick = \"100ms\"\n\n\
         [[sink]]\nname = \"log\"\ntype = \"log\"\n\n\
         [[topic]]\nid = \"storm\"\nquery = 'storm AND harbour'\nsinks = [\"log\"]\n",
    );
    for u in urls {
        config.push_str(&format!("\n[[feed]]\nurl = \"{u}\"\n"));
    }
    config
}

#[test]
fn kill9_at_random_moments_loses_nothing_and_stores_nothing_twice() {
    let kills = env_u64("NEWSWATCH_KILLS", 6);
    let mut rng = fastrand::Rng::with_seed(env_u64("NEWSWATCH_KILL_SEED", 16));
    let farm = Arc::new(Farm { t0: Instant::now() });
    let srv = Server::start(
        Router::new()
            .route("/f/{i}", get(desk))
            .route("/w/{j}", get(wire))
            .with_state(farm.clone()),
    );
    let urls: Vec<String> = (0..FEEDS)
        .map(|i| srv.url(&format!("/f/{i}")))
        .chain((0..WIRES).map(|j| srv.url(&format!("/w/{j}"))))
        .collect();
    let env = Env::new(&config(&urls));

    // Kill at random moments after the start (some before the store is open), at least `kills`
    // times and on until the daemon has done the work between kills (the last poll only completes
    // it): a feed whose state was committed without its articles would answer 304 to that poll and
    // its items would be missing. A slow or busy machine takes more kills, not a failure.
    let notify = env.path("notify.sock");
    let deadline = Instant::now() + Duration::from_secs(180);
    let (mut done, mut by_daemon) = (0, 0);
    while done < kills || by_daemon < (FEEDS as u64 * ITEMS0) as i64 {
        assert!(
            Instant::now() < deadline,
            "after {done} kills the daemon had stored {by_daemon} articles"
        );
        let _ = std::fs::remove_file(&notify);
        let sock = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
        sock.set_nonblocking(true).unwrap();
        let mut child = env
            .cmd()
            .arg("run")
            .env("NOTIFY_SOCKET", &notify)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.u64(300..1800)));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the daemon exited by itself"
        );
        signal(&child, 9);
        child.wait().unwrap();
        done += 1;
        // READY=1 is sent once the store is open (migrated): only then are there tables to count.
        let mut buf = [0u8; 4096];
        let mut ready = by_daemon > 0;
        while let Ok(n) = sock.recv(&mut buf) {
            ready |= String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1");
        }
        if ready {
            by_daemon = env.count("SELECT count(*) FROM articles");
        }
    }
    let kills = done;
    let truth: Vec<u64> = (0..FEEDS as u64).map(|i| farm.published(i)).collect();
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
    let published = truth.iter().enumerate().flat_map(|(i, &n)| {
        let i = i as u64;
        let wire = (i < WIRES as u64).then_some(i);
        (0..n).flat_map(move |k| [Some(link(i, k)), wire.map(|j| wire_link(j, k))])
    });
    let (mut expected, mut missing) = (0, Vec::new());
    for l in published.flatten() {
        expected += 1;
        if !links.contains_key(&l) {
            missing.push(l);
        }
    }
    let twice: Vec<_> = links.iter().filter(|(_, n)| **n > 1).collect();
    let mut count = |sql: &str| -> i64 { c.one(sql, &[]) };
    let sightings = count("SELECT count(*) FROM sightings");
    let alerts = count("SELECT count(*) FROM alerts");
    let uid_twice =
        count("SELECT count(*) FROM (SELECT uid FROM alerts GROUP BY uid HAVING count(*) > 1) t");
    eprintln!(
        "kills {kills}, items expected {expected}, articles before the last poll {by_daemon}, missing {}, stored twice {}, sightings {sightings}, alerts {alerts}, alert uids twice {uid_twice}",
        missing.len(),
        twice.len()
    );
    assert!(missing.is_empty(), "lost after kill -9: {missing:?}");
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    assert_eq!(uid_twice, 0, "alert uids twice");
    assert!(sightings > 0, "the wire copies were not recognised");
    assert!(alerts > 0, "no alerts");
    assert!(expected >= (FEEDS as u64 * (ITEMS0 + 1)) as usize);
}
