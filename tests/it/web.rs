//! The HTTP face against a store filled through the real write path: API pages and filters, the
//! Atom feed of a topic parsed back with feed-rs, escaping of hostile titles on every page, the
//! bearer token on a non-loopback bind, and the server inside `daemon::run` with a clean shutdown.

use crate::harness::db::Scratch;
use crate::harness::fill;

use std::path::Path;
use std::sync::Arc;

use newswatch::config::{Config, ServerConfig};
use newswatch::web;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

async fn serve(
    db: &Path,
    bind: &str,
    token: Option<&str>,
) -> anyhow::Result<(web::Server, CancellationToken)> {
    let cfg = ServerConfig {
        enabled: true,
        bind: bind.to_string(),
        token: token.map(str::to_string),
        ..Default::default()
    };
    let topics = Config::parse("[[topic]]\nid = \"missiles\"\nquery = 'missile*'\n\n[[topic]]\nid = \"quiet\"\nquery = 'nothing'\n")
        .unwrap()
        .topics;
    let stop = CancellationToken::new();
    let s = web::start(&cfg, Path::new("."), topics, db, stop.clone()).await?;
    Ok((s, stop))
}

fn client() -> reqwest::Client {
    newswatch::util::install_tls_provider();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get_text(base: &str, path: &str) -> String {
    client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The status of a GET of `path`.
async fn get_status(base: &str, path: &str) -> u16 {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    r.status().as_u16()
}

/// The status of a GET of `path` with a bearer token.
async fn get_status_auth(base: &str, path: &str, token: &str) -> u16 {
    let r = client().get(format!("{base}{path}")).bearer_auth(token);
    r.send().await.unwrap().status().as_u16()
}

async fn get_bytes(base: &str, path: &str) -> Vec<u8> {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    r.bytes().await.unwrap().to_vec()
}

async fn get_json(base: &str, path: &str) -> Value {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

fn store() -> (Scratch, std::path::PathBuf, Vec<i64>) {
    let s = Scratch::new();
    let db = s.db.clone();
    let ids = fill::standard(&db);
    (s, db, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_pages_and_filters() {
    let (_d, db, ids) = store();
    let (srv, stop) = serve(&db, "127.0.0.1:0", None).await.unwrap();
    let base = format!("http://{}", srv.addr);

    // Paging: 7 stored stories, 3 at a time, newest first, no repeats.
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let p = get_json(&base, &format!("/api/articles?limit=3&offset={offset}")).await;
        assert_eq!(p["limit"], 3);
        seen.extend(
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_i64().unwrap()),
        );
        match p["next_offset"].as_i64() {
            Some(n) => offset = n,
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(
        *seen.last().unwrap(),
        ids[7],
        "the 40-day-old story comes last"
    );
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(
        count(&get_json(&base, "/api/articles?topic=missiles").await),
        4
    );
    assert_eq!(count(&get_json(&base, "/api/articles?lang=de").await), 1);
    assert_eq!(count(&get_json(&base, "/api/articles?since=10d").await), 6);
    // Feed b: its own two stories and the one it carried as a sighting.
    assert_eq!(
        count(&get_json(&base, "/api/articles?feed=https://b.example/feed.xml").await),
        3
    );
    assert_eq!(
        get_status(&base, "/api/articles?since=yesterday").await,
        400
    );

    let a = get_json(&base, &format!("/api/articles/{}", ids[0])).await;
    assert_eq!(a["sources"], 2);
    assert_eq!(a["sightings"].as_array().unwrap().len(), 1);
    assert_eq!(a["matches"][0]["topic"], "missiles");
    assert_eq!(get_status(&base, "/api/articles/999999").await, 404);

    let m = get_json(&base, "/api/matches?topic=arms-deals").await;
    assert_eq!(count(&m), 2);
    assert_eq!(m["items"][0]["terms"], serde_json::json!(["arms deal*"]));
    assert_eq!(count(&get_json(&base, "/api/matches?limit=2").await), 2);
    let al = get_json(&base, "/api/alerts?status=pending").await;
    assert_eq!(count(&al), 6);
    assert!(al["items"][0]["uid"].as_str().unwrap().starts_with("nw-"));
    assert_eq!(
        count(&get_json(&base, "/api/alerts?topic=arms-deals").await),
        2
    );
    assert_eq!(get_status(&base, "/api/alerts?status=bogus").await, 400);
    let feeds = get_json(&base, "/api/feeds").await;
    assert_eq!(count(&feeds), 3);
    // The dashboard shows each feed's health in the words of `feeds status`.
    let health = feeds["items"][0]["health"].as_str().unwrap().to_string();
    assert_eq!(health, "ok");
    let page = get_text(&base, "/feeds").await;
    assert!(
        page.contains(&format!("class=\"ok\">{health}</td>")),
        "{page}"
    );
    let t = get_json(&base, "/api/topics").await;
    let missiles = t["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "missiles")
        .unwrap()
        .clone();
    assert_eq!(
        (
            missiles["matches"].as_i64(),
            missiles["configured"].as_bool()
        ),
        (Some(4), Some(true))
    );
    assert!(
        t["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "arms-deals" && t["configured"] == false)
    );
    let s = get_json(&base, "/api/search?q=missile&lang=de").await;
    assert_eq!(count(&s), 1);

    assert_eq!(get_status(&base, "/healthz").await, 200);
    let metrics = get_text(&base, "/metrics").await;
    for line in [
        "newswatch_fetches_total 8",
        "newswatch_fetch_errors_total 0",
        "newswatch_new_articles_total 7",
        "newswatch_matches_total 6",
        "newswatch_alerts{status=\"pending\"} 6",
        "newswatch_alerts{status=\"failed\"} 0",
        "# TYPE newswatch_poll_lag_seconds gauge",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    stop.cancel();
    srv.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_atom_feed_is_valid_and_holds_the_alerts() {
    let (_d, db, ids) = store();
    let (srv, stop) = serve(&db, "127.0.0.1:0", None).await.unwrap();
    let base = format!("http://{}", srv.addr);
    let r = client()
        .get(format!("{base}/topics/missiles.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let body = r.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&body[..]).unwrap();
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(feed.id, "urn:newswatch:topic:missiles");
    assert_eq!(feed.title.as_ref().unwrap().content, "newswatch: missiles");
    assert!(feed.updated.is_some());
    assert_eq!(feed.entries.len(), 4, "one entry per match of the topic");
    let mut ids_seen = std::collections::HashSet::new();
    for e in &feed.entries {
        assert!(e.id.starts_with("urn:newswatch:match:"), "{}", e.id);
        assert!(ids_seen.insert(e.id.clone()), "entry ids are unique");
        assert!(e.title.is_some() && e.updated.is_some());
        assert!(!e.links.is_empty());
        let content = e.content.as_ref().and_then(|c| c.body.clone()).unwrap();
        assert!(content.contains("<mark>"), "{content}");
        assert!(
            content.contains("alert nw-") && content.contains("webhook: pending"),
            "{content}"
        );
    }
    // The hostile title comes back as the same text, not as markup.
    assert!(
        feed.entries
            .iter()
            .any(|e| e.title.as_ref().unwrap().content == fill::HOSTILE_TITLE)
    );
    let first = &feed
        .entries
        .iter()
        .find(|e| e.title.as_ref().unwrap().content == "North Korea fires missile")
        .unwrap();
    assert_eq!(first.links[0].href, "https://news.example/1");
    assert!(
        first
            .links
            .iter()
            .any(|l| l.href.ends_with(&format!("/articles/{}", ids[0])))
    );
    // Stable across requests.
    let again = get_bytes(&base, "/topics/missiles.atom").await;
    let again = feed_rs::parser::parse(&again[..]).unwrap();
    assert_eq!(
        again.entries.iter().map(|e| &e.id).collect::<Vec<_>>(),
        feed.entries.iter().map(|e| &e.id).collect::<Vec<_>>()
    );
    // A configured topic without matches is an empty, valid feed; an unknown one is 404.
    let quiet = get_bytes(&base, "/topics/quiet.atom").await;
    assert_eq!(feed_rs::parser::parse(&quiet[..]).unwrap().entries.len(), 0);
    assert_eq!(get_status(&base, "/topics/nope.atom").await, 404);
    assert_eq!(get_status(&base, "/topics/missiles").await, 404);
    stop.cancel();
    srv.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_title_is_text_on_every_page() {
    let (_d, db, ids) = store();
    let (srv, stop) = serve(&db, "127.0.0.1:0", None).await.unwrap();
    let base = format!("http://{}", srv.addr);
    let hostile_id = ids[5];
    for path in [
        "/".to_string(),
        format!("/articles/{hostile_id}"),
        "/feeds".to_string(),
    ] {
        let r = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("style-src 'unsafe-inline'"),
            "{csp}"
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = r.text().await.unwrap();
        assert!(
            !html.to_lowercase().contains("<script"),
            "{path}: raw script tag:\n{html}"
        );
        if path != "/feeds" {
            assert!(html.contains("Missile &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"), "{path}:\n{html}");
            assert!(html.contains("<mark>"), "{path}");
        }
    }
    // JSON keeps the title as data (and is served as JSON, not HTML).
    let r = client()
        .get(format!("{base}/api/articles/{hostile_id}"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["title"], fill::HOSTILE_TITLE);
    stop.cancel();
    srv.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_required_on_non_loopback_bind() {
    let (_d, db, _) = store();
    // Without a token a non-loopback bind is refused outright.
    let e = serve(&db, "0.0.0.0:0", None)
        .await
        .err()
        .expect("must refuse");
    assert!(e.to_string().contains("server.token"), "{e}");

    let (srv, stop) = serve(&db, "0.0.0.0:0", Some("s3cret-token")).await.unwrap();
    let base = format!("http://127.0.0.1:{}", srv.addr.port());
    for path in [
        "/api/articles",
        "/",
        "/metrics",
        "/topics/missiles.atom",
        "/nope",
    ] {
        let r = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert!(r.headers().contains_key("www-authenticate"));
        assert_eq!(get_status_auth(&base, path, "wrong").await, 401, "{path}");
    }
    for path in ["/api/articles", "/"] {
        assert_eq!(get_status_auth(&base, path, "s3cret-token").await, 200);
    }
    // Health probes need no token.
    assert_eq!(get_status(&base, "/healthz").await, 200);
    stop.cancel();
    srv.wait().await.unwrap();

    // A loopback bind may set a token too, read from a file.
    std::fs::write(_d.path().join("tok"), "from-file\n").unwrap();
    let cfg = ServerConfig {
        enabled: true,
        bind: "127.0.0.1:0".into(),
        token: Some("file:tok".into()),
        ..Default::default()
    };
    let stop = CancellationToken::new();
    let srv = web::start(&cfg, _d.path(), Vec::new(), &db, stop.clone())
        .await
        .unwrap();
    let base = format!("http://{}", srv.addr);
    assert_eq!(get_status(&base, "/api/feeds").await, 401);
    assert_eq!(get_status_auth(&base, "/api/feeds", "from-file").await, 200);
    stop.cancel();
    srv.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_serves_and_shuts_down() {
    let (d, db, _) = store();
    let port = crate::harness::free_port();
    let cfg = Config::parse(&format!(
        "[server]\nenabled = true\nbind = \"127.0.0.1:{port}\"\n[poll]\ntick = \"100ms\"\n"
    ))
    .unwrap();
    let stop = CancellationToken::new();
    let daemon = {
        let (cfg, db, stop) = (Arc::new(cfg), db.clone(), stop.clone());
        tokio::spawn(async move { newswatch::daemon::run(cfg, &db, stop).await })
    };
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = client().get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the daemon did not start its http server");
    assert_eq!(
        get_json(&base, "/api/feeds").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    stop.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(20), daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "still listening after shutdown"
    );

    // A non-loopback bind without a token: the daemon refuses to start.
    let cfg = Config::parse("[server]\nenabled = true\nbind = \"0.0.0.0:0\"\n").unwrap();
    let e = newswatch::daemon::run(Arc::new(cfg), &db, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("server.token"), "{e:#}");
    drop(d);
}

/// What a reader follows is the canonical link: the feed's tracking parameters reach neither the
/// dashboard, the article page nor the Atom feed; a story carried once reads "1 source".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_atom_show_the_canonical_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("test.db");
    let mut it = fill::item(
        "https://a.example/feed.xml",
        "t1",
        "Missile test over the sea",
        "A missile was fired into the sea on Tuesday.",
        "en",
        fill::days_ago(1),
    );
    it.link = "https://news.example/t1?utm_source=rss&utm_medium=feed".into();
    let ids = fill::fill(&db, &[it]);
    let (srv, stop) = serve(&db, "127.0.0.1:0", None).await.unwrap();
    let base = format!("http://{}", srv.addr);
    let article = format!("/articles/{}", ids[0]);
    for path in ["/", "/topics/missiles.atom", article.as_str()] {
        let body = get_text(&base, path).await;
        assert!(!body.contains("utm_"), "{path}: {body}");
    }
    let page = get_text(&base, &article).await;
    assert!(page.contains("href=\"https://news.example/t1\""), "{page}");
    assert!(
        page.contains("carried by 1 source") && !page.contains("1 sources"),
        "{page}"
    );
    let atom = get_bytes(&base, "/topics/missiles.atom").await;
    let feed = feed_rs::parser::parse(&atom[..]).unwrap();
    assert_eq!(feed.entries[0].links[0].href, "https://news.example/t1");
    stop.cancel();
    srv.wait().await.unwrap();
}
