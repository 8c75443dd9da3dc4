//! WebSub end to end, against a small hub the test runs on 127.0.0.1 (`Hub`: it serves the feed,
//! takes subscription requests and verifies each intent at the callback, like a real hub) and the
//! daemon in-process (`daemon::run`) with its HTTP server: discovery → subscription with a secret →
//! verification → a signed push stored (article and outbox row) → pushes with a bad or missing
//! signature refused and not stored → renewal before the lease ends → unsubscription when the feed
//! is removed. On SQLite (hub advertised in the feed's `<atom:link>`), and on PostgreSQL when
//! `NEWSWATCH_TEST_PG` is set (hub advertised in HTTP `Link` headers).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hmac::{Hmac, KeyInit, Mac};
use newswatch::alerts::sinks::webhook::sign;
use newswatch::config::Config;
use tokio_util::sync::CancellationToken;

use crate::harness::db::PgDb;
use crate::harness::{Env, Server, free_port, stderr, wait_for_async};

/// The lease the test hub grants: short, so that the renewal comes within the test.
const GRANTED_LEASE_S: u64 = 2;

#[derive(Default)]
struct HubLog {
    /// Every form the hub received.
    requests: Vec<HashMap<String, String>>,
    /// (mode, status of the callback, whether it echoed the challenge) per verification.
    verified: Vec<(String, u16, bool)>,
}

#[derive(Clone)]
struct Hub {
    base: String,
    headers: bool,
    log: Arc<Mutex<HubLog>>,
}

impl Hub {
    fn feed_url(&self) -> String {
        format!("{}/feed.xml", self.base)
    }

    fn requests(&self, mode: &str) -> Vec<HashMap<String, String>> {
        let log = self.log.lock().unwrap();
        let of_mode = |r: &&HashMap<String, String>| r["hub.mode"] == mode;
        log.requests.iter().filter(of_mode).cloned().collect()
    }

    /// Verifications of `mode` the callback confirmed (200 and the challenge echoed).
    fn confirmed(&self, mode: &str) -> usize {
        let log = self.log.lock().unwrap();
        let ok = |v: &&(String, u16, bool)| v.0 == mode && v.1 == 200 && v.2;
        log.verified.iter().filter(ok).count()
    }

    /// An Atom document of entries (guid, title, text), advertising the hub in the body unless
    /// the hub advertises in headers.
    fn atom(&self, entries: &[(&str, &str, String)]) -> String {
        let links = if self.headers {
            String::new()
        } else {
            format!(
                "<link rel=\"hub\" href=\"{}/hub\"/><link rel=\"self\" href=\"{}\"/>",
                self.base,
                self.feed_url()
            )
        };
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Wire</title><id>urn:wire</id><updated>2026-11-27T08:00:00Z</updated>{links}"
        );
        for (guid, title, text) in entries {
            s.push_str(&format!(
                "<entry><id>urn:{guid}</id><title>{title}</title><link href=\"https://wire.example/{guid}\"/><updated>2026-11-27T08:00:00Z</updated><content type=\"html\">{text}</content></entry>"
            ));
        }
        s.push_str("</feed>");
        s
    }
}

/// A story of its own words (`n`), so that no two are near-duplicates.
fn story(n: usize, missile: bool) -> String {
    let own: Vec<String> = (0..40).map(|i| format!("w{n}x{i}")).collect();
    let what = if missile {
        "The military fired a ballistic missile into the sea early on Friday"
    } else {
        "The harbour authority said the pier will be restored over the summer"
    };
    format!("{what}, officials said. {}.", own.join(" "))
}

async fn serve_feed(State(hub): State<Hub>) -> impl IntoResponse {
    let body = hub.atom(&[("first", "Pier works", story(0, false))]);
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        "application/atom+xml".parse().unwrap(),
    );
    if hub.headers {
        let link = format!(
            "<{}/hub>; rel=\"hub\", <{}>; rel=\"self\"",
            hub.base,
            hub.feed_url()
        );
        h.insert(header::LINK, link.parse().unwrap());
    }
    (h, body)
}

/// Takes a request (202) and verifies the intent at its callback afterwards, as hubs do.
async fn hub_request(State(hub): State<Hub>, body: String) -> axum::http::StatusCode {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    hub.log.lock().unwrap().requests.push(form.clone());
    tokio::spawn(async move {
        let challenge = format!("ch-{}", fastrand::u64(..));
        let mut url = url::Url::parse(&form["hub.callback"]).unwrap();
        url.query_pairs_mut()
            .append_pair("hub.mode", &form["hub.mode"])
            .append_pair("hub.topic", &form["hub.topic"])
            .append_pair("hub.challenge", &challenge)
            .append_pair("hub.lease_seconds", &GRANTED_LEASE_S.to_string());
        let (status, echoed) = match reqwest::get(url).await {
            Ok(r) => (
                r.status().as_u16(),
                r.text().await.unwrap_or_default() == challenge,
            ),
            Err(_) => (0, false),
        };
        hub.log
            .lock()
            .unwrap()
            .verified
            .push((form["hub.mode"].clone(), status, echoed));
    });
    axum::http::StatusCode::ACCEPTED
}

fn start_hub(headers: bool) -> (Server, Hub) {
    let log = Arc::new(Mutex::new(HubLog::default()));
    let mut hub = None;
    let server = Server::start_with(|base| {
        let h = Hub {
            base: base.to_string(),
            headers,
            log: log.clone(),
        };
        hub = Some(h.clone());
        axum::Router::new()
            .route("/feed.xml", get(serve_feed))
            .route("/hub", post(hub_request))
            .with_state(h)
    });
    (server, hub.unwrap())
}

/// The daemon's config: its server on `port` with a public URL, WebSub on, one topic and sink.
fn config(port: u16, feed: &str) -> String {
    crate::harness::config_with(
        &[feed.to_string()],
        &format!(
            "[server]\nenabled = true\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\"\n\n[websub]\nenabled = true\nlease = \"1h\"\n\n[[sink]]\nname = \"log\"\ntype = \"log\"\n\n[[topic]]\nid = \"missiles\"\nquery = \"missile*\"\nsinks = [\"log\"]\n"
        ),
    )
}

/// A count on whichever database the test runs on.
struct Db<'a> {
    env: &'a Env,
    pg: Option<&'a PgDb>,
}

impl Db<'_> {
    fn count(&self, sql: &str) -> i64 {
        match self.pg {
            // The synchronous client runs its own runtime: off this test's runtime threads.
            Some(pg) => std::thread::scope(|s| s.spawn(|| pg.count(sql)).join().unwrap()),
            None => self.env.count(sql),
        }
    }
}

/// A running daemon and the pieces a scenario needs.
struct Running {
    _hub_server: Server,
    hub: Hub,
    env: Env,
    port: u16,
    stop: CancellationToken,
    daemon: tokio::task::JoinHandle<anyhow::Result<()>>,
    client: reqwest::Client,
}

impl Running {
    async fn start(pg: Option<&PgDb>, headers: bool) -> Running {
        let (hub_server, hub) = start_hub(headers);
        let port = free_port();
        let mut env = Env::new(&config(port, &hub.feed_url()));
        if let Some(pg) = pg {
            env.db = PathBuf::from(&pg.url);
        }
        let cfg = Arc::new(Config::load(&env.config).unwrap());
        let stop = CancellationToken::new();
        let daemon = tokio::spawn({
            let (db, stop) = (env.db.clone(), stop.clone());
            async move { newswatch::daemon::run(cfg, &db, stop).await }
        });
        wait_for_async("the subscription verified", 30, || {
            hub.confirmed("subscribe") >= 1
        })
        .await;
        Running {
            _hub_server: hub_server,
            hub,
            env,
            port,
            stop,
            daemon,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs a body to the subscription's callback with a signature header (if any); the status.
    async fn push(&self, body: &str, signature: Option<String>) -> u16 {
        let callback = self.hub.requests("subscribe")[0]["hub.callback"].clone();
        let mut req = self
            .client
            .post(callback)
            .header(header::CONTENT_TYPE, "application/atom+xml")
            .body(body.to_string());
        if let Some(s) = signature {
            req = req.header("X-Hub-Signature", s);
        }
        req.send().await.unwrap().status().as_u16()
    }

    fn secret(&self) -> String {
        self.hub.requests("subscribe")[0]["hub.secret"].clone()
    }

    async fn stop(self) {
        self.stop.cancel();
        self.daemon.await.unwrap().unwrap();
    }
}

fn sha1_signature(key: &[u8], body: &[u8]) -> String {
    let mut m = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).unwrap();
    m.update(body);
    let tag: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha1={tag}")
}

async fn scenario(pg: Option<&PgDb>, headers: bool) {
    let r = Running::start(pg, headers).await;
    let db = Db { env: &r.env, pg };
    // The request: the feed's self URL as topic, a secret of its own, the lease asked.
    let req = &r.hub.requests("subscribe")[0];
    assert_eq!(req["hub.topic"], r.hub.feed_url());
    assert_eq!(req["hub.lease_seconds"], "3600");
    assert!(r.secret().len() >= 32, "{req:?}");
    let callback = format!("http://127.0.0.1:{}/websub/", r.port);
    assert!(req["hub.callback"].starts_with(&callback), "{req:?}");

    // A good push: stored through the pipeline, matched, one outbox row.
    let key = r.secret();
    let signed = |body: &str| Some(sign(key.as_bytes(), body.as_bytes()));
    let stored = |guid: &str| {
        db.count(&format!(
            "SELECT count(*) FROM articles WHERE guid = 'urn:{guid}'"
        ))
    };
    let body = r.hub.atom(&[("push-1", "Missile test", story(1, true))]);
    assert_eq!(r.push(&body, signed(&body)).await, 204);
    assert_eq!(
        (stored("push-1"), db.count("SELECT count(*) FROM alerts")),
        (1, 1)
    );

    // Bad, missing and foreign signatures: refused, nothing stored (the answer comes after the
    // commit would have, so counting now is definite).
    let bad = r.hub.atom(&[("push-2", "Missile again", story(2, true))]);
    let foreign = Some(sign(b"not the secret", bad.as_bytes()));
    for sig in [foreign, None, signed(&body)] {
        assert_eq!(r.push(&bad, sig).await, 403);
    }
    assert_eq!(
        (stored("push-2"), db.count("SELECT count(*) FROM alerts")),
        (0, 1)
    );
    // sha1 signatures are accepted too.
    let sha1 = sha1_signature(key.as_bytes(), bad.as_bytes());
    assert_eq!(r.push(&bad, Some(sha1)).await, 204);
    assert_eq!(stored("push-2"), 1);

    // `/metrics` counts the two stored pushes apart from the polls; the refused ones left no row.
    assert_eq!(db.count("SELECT count(*) FROM fetch_log WHERE push = 1"), 2);
    let polls = db.count("SELECT count(*) FROM fetch_log WHERE push = 0");
    let metrics = r
        .client
        .get(format!("http://127.0.0.1:{}/metrics", r.port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "newswatch_websub_pushes_total 2".to_string(),
        format!("newswatch_fetches_total {polls}"),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }

    // Polling is the fallback now: the feed's next poll is at least hours away.
    let soon = newswatch::util::now_ms() + 3600 * 1000;
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM feeds WHERE next_poll_at > {soon}"
        )),
        1
    );

    // The hub granted a 2 s lease: renewed (same secret) before it ends, and verified again.
    wait_for_async("the lease renewed", 30, || {
        r.hub.confirmed("subscribe") >= 2
    })
    .await;
    let renewals = r.hub.requests("subscribe");
    assert!(renewals.len() >= 2 && renewals.iter().all(|q| q["hub.secret"] == key));

    // The feed removed: unsubscribed at the hub, and the row gone once the hub confirmed.
    let o = r.env.run(&["feeds", "remove", &r.hub.feed_url()]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_for_async("the unsubscription confirmed", 30, || {
        r.hub.confirmed("unsubscribe") == 1
    })
    .await;
    wait_for_async("the subscription row gone", 30, || {
        db.count("SELECT count(*) FROM websub_subs") == 0
    })
    .await;
    // A push to the dead callback is told to stop.
    assert_eq!(r.push(&body, signed(&body)).await, 410);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_subscribe_push_renew_unsubscribe_sqlite() {
    scenario(None, false).await;
}

/// Not a tokio test: the database is made and dropped (synchronous client) outside the runtime.
#[test]
fn websub_subscribe_push_renew_unsubscribe_postgres() {
    let Some(pg) = crate::postgres::pg_db("websub") else {
        return;
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(Some(&pg), true));
}

/// Push latency: the time from sending a signed push to its 2xx, which the daemon sends after the
/// commit; median over `NEWSWATCH_PUSHES` (default 30) pushes of 1 and of 20 new items. Baseline,
/// alternated with the pushes on the same database: the same kind of body through
/// `Pipeline::prepare` and `commit_fetch` called directly (what a poll costs past its fetch).
/// `cargo test --locked --test it websub_push_latency -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand"]
async fn websub_push_latency() {
    let n: usize = std::env::var("NEWSWATCH_PUSHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let r = Running::start(None, false).await;
    let key = r.secret();
    let cfg = Arc::new(Config::load(&r.env.config).unwrap());
    let pipeline = Arc::new(newswatch::pipeline::Pipeline::new(cfg).unwrap());
    let store = Arc::new(Mutex::new(
        newswatch::store::Store::open(&r.env.db).unwrap(),
    ));
    let mut next = 100;
    let mut body_of = |items: usize| {
        let entries: Vec<(String, String)> = (0..items)
            .map(|_| {
                next += 1;
                (format!("lat-{next}"), story(next, next % 2 == 0))
            })
            .collect();
        let refs: Vec<(&str, &str, String)> = entries
            .iter()
            .map(|(g, s)| (g.as_str(), "Latency", s.clone()))
            .collect();
        r.hub.atom(&refs)
    };
    for items in [1usize, 20] {
        let (mut push, mut direct) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let body = body_of(items);
            let sig = sign(key.as_bytes(), body.as_bytes());
            let t = Instant::now();
            assert_eq!(r.push(&body, Some(sig)).await, 204);
            push.push(t.elapsed().as_secs_f64() * 1000.0);
            let (body, url) = (body_of(items), r.hub.feed_url());
            let (pipeline, store) = (pipeline.clone(), store.clone());
            let t = Instant::now();
            tokio::task::spawn_blocking(move || {
                let p = pipeline.prepare(body.as_bytes(), &url, None).unwrap();
                let c = newswatch::store::FetchCommit {
                    feed_id: 1,
                    articles: p.articles,
                    // Not due again: the daemon's polls stay out of the measurement.
                    state: newswatch::store::FeedState {
                        next_poll_at: i64::MAX / 2,
                        ..Default::default()
                    },
                    log: Default::default(),
                };
                pipeline.with_precomputed(false, &p.matches, |policy| {
                    store.lock().unwrap().commit_fetch(c, policy).unwrap()
                });
            })
            .await
            .unwrap();
            direct.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let (p, d) = (median(&mut push), median(&mut direct));
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{items} item(s), {n} each: push median {p:.2} ms (min {:.2}); prepare+commit direct median {d:.2} ms (min {:.2}); ratio {:.2}",
            push[0],
            direct[0],
            p / d
        );
    }
    r.stop().await;
}

/// Due subscriptions are claimed: a second store asking at the same moment (a second daemon on
/// one database) gets none of them, so a renewal is sent once; the claim moves them to `until`,
/// when they are due again. A removed feed's row is claimed for unsubscription the same way.
fn claims(db: PathBuf) {
    use newswatch::store::{Store, SubRequest, SubState};
    let mut a = Store::open(&db).unwrap();
    let mut b = Store::open(&db).unwrap();
    let now = newswatch::util::now_ms();
    let mut ids = Vec::new();
    for i in 0..3 {
        let feed_id = a
            .ensure_feed(&format!("http://127.0.0.1:9/{i}.xml"))
            .unwrap();
        let req = SubRequest {
            feed_id,
            hub: "http://127.0.0.1:9/hub".into(),
            topic: format!("http://127.0.0.1:9/{i}.xml"),
            secret: "s".into(),
            retry_at: now - 1,
        };
        ids.push((feed_id, a.websub_request(&req).unwrap().0.id));
    }
    let until = now + 60_000;
    let got_a = a.websub_claim(now, until).unwrap();
    let got_b = b.websub_claim(now, until).unwrap();
    assert_eq!(got_a.len(), 3);
    assert!(
        got_b.is_empty(),
        "a claimed subscription is not handed out twice"
    );
    assert!(a.websub_claim(until - 1, until).unwrap().is_empty());
    assert_eq!(b.websub_claim(until, until + 1).unwrap().len(), 3);
    // The feed removed: its row is due at once, claimed as it was, then being unsubscribed.
    let (feed, sub) = ids[0];
    assert!(a.remove_feed(feed).unwrap());
    let got = b.websub_claim(now, until + 2).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].id, got[0].feed_id), (sub, None));
    assert!(a.websub_claim(now, until + 2).unwrap().is_empty());
    let row = a.websub_get(sub).unwrap().unwrap();
    assert_eq!(
        (row.state, row.next_at),
        (SubState::Unsubscribing, until + 2)
    );
}

#[test]
fn websub_claims_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    claims(dir.path().join("t.db"));
}

#[test]
fn websub_claims_postgres() {
    let Some(pg) = crate::postgres::pg_db("websub_claims") else {
        return;
    };
    claims(PathBuf::from(&pg.url));
}
