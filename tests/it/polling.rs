//! Issue 2 end to end: the binary polls feeds served by a real HTTP server on 127.0.0.1.

use std::time::{Duration, Instant};

use crate::harness::*;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode, header};
use axum::routing::get;

fn feed_body() -> String {
    rss(
        "Fixture",
        &[
            (
                "a1",
                "Zeppelin fleet returns",
                "<p>The zeppelin fleet returned to Friedrichshafen on Monday.</p>",
            ),
            (
                "a2",
                "Harbour reopens",
                "<p>The harbour reopened after the storm.</p>",
            ),
        ],
    )
}

#[test]
fn poll_search_then_conditional_get_without_duplicates() {
    let log = Log::default();
    let l = log.clone();
    let app = Router::new().route(
        "/feed.xml",
        get(move |h: HeaderMap| {
            let l = l.clone();
            async move {
                l.push("/feed.xml", &h);
                if h.get(header::IF_NONE_MATCH).is_some_and(|v| v == "\"v1\"") {
                    return Response::builder().status(304).body(Body::empty()).unwrap();
                }
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")
                    .header(header::ETAG, "\"v1\"")
                    .header(header::LAST_MODIFIED, "Mon, 02 Jan 2006 15:04:05 GMT")
                    .body(Body::from(feed_body()))
                    .unwrap()
            }
        }),
    );
    let srv = Server::start(app);
    let env = Env::new(&config_with(&[srv.url("/feed.xml")], ""));

    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["search", "zeppelin", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hits: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    for key in ["id", "feed", "title", "link", "text", "published_at"] {
        assert!(hits[0].get(key).is_some(), "hit lacks {key}: {}", hits[0]);
    }
    assert_eq!(hits[0]["title"], "Zeppelin fleet returns");
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap()
            .contains("Friedrichshafen")
    );

    // Second poll: conditional headers sent, 304, nothing new stored.
    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(report["status"], 304);
    assert_eq!(report["not_modified"], true);
    let h = log.last("/feed.xml").unwrap();
    assert_eq!(h.get(header::IF_NONE_MATCH).unwrap(), "\"v1\"");
    assert_eq!(
        h.get(header::IF_MODIFIED_SINCE).unwrap(),
        "Mon, 02 Jan 2006 15:04:05 GMT"
    );
    assert!(
        h.get(header::USER_AGENT)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("newswatch/")
    );
    assert_eq!(env.count("SELECT count(*) FROM articles"), 2);
    assert_eq!(env.count("SELECT count(*) FROM fetch_log"), 2);

    // A full re-fetch of the same items (no validators) stores nothing twice either.
    env.conn()
        .execute("UPDATE feeds SET etag = NULL, last_modified = NULL", &[]);
    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert!(o.status.success());
    let report: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(report["status"], 200);
    assert_eq!(report["new"], 0);
    assert_eq!(env.count("SELECT count(*) FROM articles"), 2);
}

#[test]
fn permanent_redirect_moves_the_feed_url_temporary_does_not() {
    let app = Router::new()
        .route(
            "/old.xml",
            get(|| async {
                Response::builder()
                    .status(301)
                    .header(header::LOCATION, "/new.xml")
                    .body(Body::empty())
                    .unwrap()
            }),
        )
        .route(
            "/tmp.xml",
            get(|| async {
                Response::builder()
                    .status(302)
                    .header(header::LOCATION, "/new.xml")
                    .body(Body::empty())
                    .unwrap()
            }),
        )
        .route("/new.xml", get(|| async { feed_body() }));
    let srv = Server::start(app);
    let env = Env::new(&config_with(&[], ""));
    assert!(
        env.run(&["feeds", "add", &srv.url("/old.xml")])
            .status
            .success()
    );
    assert!(
        env.run(&["feeds", "add", &srv.url("/tmp.xml")])
            .status
            .success()
    );
    let o = env.run(&["poll", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let urls: Vec<String> = env.conn().column("SELECT url FROM feeds ORDER BY id", &[]);
    assert_eq!(urls, vec![srv.url("/new.xml"), srv.url("/tmp.xml")]);
}

#[test]
fn retry_after_pushes_next_poll_out_and_410_disables() {
    let app = Router::new()
        .route(
            "/busy.xml",
            get(|| async {
                Response::builder()
                    .status(429)
                    .header(header::RETRY_AFTER, "7200")
                    .body(Body::empty())
                    .unwrap()
            }),
        )
        .route("/gone.xml", get(|| async { StatusCode::GONE }));
    let srv = Server::start(app);
    let env = Env::new(&config_with(
        &[srv.url("/busy.xml"), srv.url("/gone.xml")],
        "",
    ));
    let o = env.run(&["poll", "--once"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed feed is a runtime failure: {}",
        stderr(&o)
    );
    let now = chrono::Utc::now().timestamp_millis();
    let (next, errors, err): (i64, i64, String) = env.conn().row(
        "SELECT next_poll_at, error_count, last_error FROM feeds WHERE url LIKE '%busy%'",
        &[],
    );
    assert!(next - now >= 7_100_000, "next poll in {} ms", next - now);
    assert_eq!(errors, 1);
    assert!(err.contains("429"), "{err}");
    let (enabled, reason): (bool, String) = env.conn().row(
        "SELECT enabled, disabled_reason FROM feeds WHERE url LIKE '%gone%'",
        &[],
    );
    assert!(!enabled);
    assert!(reason.contains("410"));
    // A disabled feed is not polled again.
    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert!(!stdout(&o).contains("gone.xml"));
    let o = env.run(&["feeds", "status"]);
    assert!(stdout(&o).contains("disabled"), "{}", stdout(&o));
}

#[test]
fn hanging_server_times_out_and_the_daemon_carries_on() {
    let app = Router::new()
        .route(
            "/hang.xml",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
        .route(
            "/trickle.xml",
            get(|| async {
                let stream = futures_util::stream::unfold(0u32, |i| async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Some((
                        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b" ")),
                        i + 1,
                    ))
                });
                Response::new(Body::from_stream(stream))
            }),
        )
        .route("/ok.xml", get(|| async { feed_body() }));
    let srv = Server::start(app);
    let env = Env::new(&config_with(
        &[
            srv.url("/hang.xml"),
            srv.url("/trickle.xml"),
            srv.url("/ok.xml"),
        ],
        "",
    ));
    let mut child = env.cmd().arg("run").spawn().unwrap();
    let ok = wait_for(
        || {
            crate::harness::db::try_count(
                &env.db,
                "SELECT count(*) FROM feeds WHERE error_count > 0",
            ) == Some(2)
        },
        20,
    );
    let articles = env.count("SELECT count(*) FROM articles");
    signal(&child, SIGTERM);
    let status = child.wait().unwrap();
    assert!(ok, "both slow feeds should have failed with a timeout");
    assert_eq!(articles, 2, "the healthy feed was stored meanwhile");
    assert!(
        status.success(),
        "SIGTERM ends the daemon with exit 0: {status:?}"
    );
    let errs: Vec<String> = env
        .conn()
        .column("SELECT last_error FROM feeds WHERE error_count > 0", &[]);
    assert!(
        errs.iter()
            .all(|e| e.contains("timed out") || e.contains("timeout")),
        "{errs:?}"
    );
}

#[test]
fn oversized_bodies_and_gzip_bombs_are_cut_at_the_cap() {
    use std::io::Write;
    // 64 MiB of zeros compress to ~64 KiB.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let bomb_len = bomb.len();
    // How many of the 100 chunks of /big.xml the server was asked for.
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let s2 = sent.clone();
    let app = Router::new()
        .route(
            "/big.xml",
            get(move || async move {
                // 100 MB streamed without Content-Length.
                let chunk = axum::body::Bytes::from(vec![b'x'; 1 << 20]);
                let stream = futures_util::stream::iter((0..100).map(move |_| {
                    s2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, std::io::Error>(chunk.clone())
                }));
                Response::new(Body::from_stream(stream))
            }),
        )
        .route(
            "/bomb.xml",
            get(move || {
                let bomb = bomb.clone();
                async move {
                    Response::builder()
                        .header(header::CONTENT_ENCODING, "gzip")
                        .body(Body::from(bomb))
                        .unwrap()
                }
            }),
        );
    let srv = Server::start(app);
    let env = Env::new(&config_with(
        &[srv.url("/big.xml"), srv.url("/bomb.xml")],
        "",
    ));
    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    // The client stopped reading at the cap: far from all of the 100 MB was streamed (socket
    // buffers hold a few MiB), whatever the time it took.
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(sent < 50, "{sent} MiB of /big.xml were streamed");
    let out = stdout(&o);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        let e = l["error"].as_str().unwrap();
        assert!(e.contains("larger than the cap of 1048576 bytes"), "{e}");
    }
    assert!(bomb_len < 1_048_576);
    let bytes: i64 = env.count("SELECT coalesce(max(bytes), 0) FROM fetch_log");
    assert!(bytes <= 1_048_576);
}

#[test]
fn redirect_loop_ends_with_an_error() {
    let app = Router::new()
        .route(
            "/a.xml",
            get(|| async {
                Response::builder()
                    .status(302)
                    .header(header::LOCATION, "/b.xml")
                    .body(Body::empty())
                    .unwrap()
            }),
        )
        .route(
            "/b.xml",
            get(|| async {
                Response::builder()
                    .status(302)
                    .header(header::LOCATION, "/a.xml")
                    .body(Body::empty())
                    .unwrap()
            }),
        )
        .route(
            "/chain/{n}",
            get(
                |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                    Response::builder()
                        .status(302)
                        .header(header::LOCATION, format!("/chain/{}", n + 1))
                        .body(Body::empty())
                        .unwrap()
                },
            ),
        );
    let srv = Server::start(app);
    let env = Env::new(&config_with(&[srv.url("/a.xml"), srv.url("/chain/0")], ""));
    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("redirect loop"), "{out}");
    assert!(out.contains("too many redirects (more than 10)"), "{out}");
}

#[test]
fn bad_bodies_get_clear_errors_and_cp1251_is_decoded() {
    let cp1251 = {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Новости</title>\
                   <item><guid>r1</guid><title>Северная Корея запустила баллистическую ракету</title>\
                   <description>Пуск ракеты произошёл утром.</description></item></channel></rss>";
        encoding_rs::WINDOWS_1251.encode(xml).0.into_owned()
    };
    let app = Router::new()
        .route(
            "/malformed.xml",
            get(|| async { "<rss version=\"2.0\"><channel><item><title>broken</titl></item>" }),
        )
        .route(
            "/page.html",
            get(|| async {
                axum::response::Html("<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>")
            }),
        )
        .route("/empty.xml", get(|| async { "" }))
        .route(
            "/ru.xml",
            get(move || {
                let b = cp1251.clone();
                async move {
                    Response::builder()
                        .header(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")
                        .body(Body::from(b))
                        .unwrap()
                }
            }),
        );
    let srv = Server::start(app);
    let feeds = ["/malformed.xml", "/page.html", "/empty.xml", "/ru.xml"].map(|p| srv.url(p));
    let env = Env::new(&config_with(&feeds, ""));
    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let by_url = |p: &str| -> serde_json::Value {
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["url"].as_str().unwrap().ends_with(p))
            .unwrap()
    };
    assert!(
        by_url("/malformed.xml")["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed feed")
    );
    assert_eq!(
        by_url("/page.html")["error"],
        "not a feed: the body is an HTML page"
    );
    assert_eq!(by_url("/empty.xml")["error"], "empty body");
    assert!(by_url("/ru.xml")["error"].is_null());
    let title: String = env.conn().one("SELECT title FROM articles", &[]);
    assert_eq!(title, "Северная Корея запустила баллистическую ракету");
    let o = env.run(&["search", "ракету", "--format", "json"]);
    let hits: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
}

#[test]
fn file_urls_and_feed_commands() {
    let env = Env::new(&config_with(&[], ""));
    let f = env.path("local.xml");
    std::fs::write(&f, feed_body()).unwrap();
    let url = url::Url::from_file_path(&f).unwrap().to_string();
    assert!(
        env.run(&["feeds", "add", &url, "--name", "Local"])
            .status
            .success()
    );
    let o = env.run(&["poll", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.count("SELECT count(*) FROM articles"), 2);
    // OPML round trip.
    let o = env.run(&["feeds", "export"]);
    let opml = stdout(&o);
    assert!(opml.contains("xmlUrl=") && opml.contains("Local"));
    let env2 = Env::new(&config_with(&[], ""));
    std::fs::write(env2.path("f.opml"), &opml).unwrap();
    let o = env2.run(&["feeds", "import", env2.path("f.opml").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env2.run(&["feeds", "list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list[0]["url"], url);
    // Removing by id.
    assert!(env2.run(&["feeds", "remove", "1"]).status.success());
    assert_eq!(env2.count("SELECT count(*) FROM feeds"), 0);
    // Bad usage exits 2.
    assert_eq!(env2.run(&["feeds", "remove", "99"]).status.code(), Some(2));
    assert_eq!(
        env2.run(&["feeds", "add", "gopher://x"]).status.code(),
        Some(2)
    );
}

#[test]
fn config_errors_exit_2_with_key_and_line() {
    let env = Env::new("[http]\ntimeout = \"3s\"\nmax_bodee = 5\n");
    let o = env.run(&["check-config"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("line 3") && e.contains("max_bodee"), "{e}");
    let env = Env::new("[http]\ntimeout = \"3s\"\n");
    let o = env.run(&["check-config"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn per_host_and_global_concurrency_limits_hold() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    // Each fetch is held until `limit` fetches have been in flight at once (or 10 s passed), so
    // the limit is reached however slow the machine; any fetch over it would overlap and show.
    let limit = Arc::new(AtomicUsize::new(2));
    let (n, p, lim) = (now.clone(), peak.clone(), limit.clone());
    let app = Router::new().route(
        "/f/{i}",
        get(move |axum::extract::Path(i): axum::extract::Path<u32>| {
            let (n, p, lim) = (n.clone(), p.clone(), lim.clone());
            async move {
                let c = n.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(c, Ordering::SeqCst);
                let held = Instant::now();
                while p.load(Ordering::SeqCst) < lim.load(Ordering::SeqCst)
                    && held.elapsed() < Duration::from_secs(10)
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                rss(
                    "F",
                    &[(&format!("g{i}"), &format!("Title {i}"), "<p>text</p>")],
                )
            }
        }),
    );
    let srv = Server::start(app);
    let feeds: Vec<String> = (0..6).map(|i| srv.url(&format!("/f/{i}"))).collect();
    let env =
        Env::new(&config_with(&feeds, "").replace("[poll]", "per_host_concurrency = 2\n\n[poll]"));
    let t = Instant::now();
    let o = env.run(&["poll", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(peak.load(Ordering::SeqCst), 2, "per-host limit");
    assert!(
        t.elapsed() >= Duration::from_millis(850),
        "6 fetches of 300 ms, 2 at a time"
    );
    // The global limit caps hosts together: 127.0.0.1 and localhost count as two hosts.
    peak.store(0, Ordering::SeqCst);
    limit.store(3, Ordering::SeqCst);
    let mut feeds2: Vec<String> = (0..4).map(|i| srv.url(&format!("/f/{i}"))).collect();
    feeds2.extend((4..8).map(|i| format!("http://localhost:{}/f/{i}", srv.addr.port())));
    let env = Env::new(&config_with(&feeds2, "").replace(
        "[poll]",
        "per_host_concurrency = 4\nconcurrency = 3\n\n[poll]",
    ));
    let o = env.run(&["poll", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(peak.load(Ordering::SeqCst), 3, "global limit");
}
