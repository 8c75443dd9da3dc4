//! Full-text fetching end to end: a `full_text` feed on a local HTTP server with its article pages
//! (good, hanging, 500, endless, robots-disallowed), the daemon run in-process, the SQLite file read
//! back. Plus the store side of re-matching with a real matcher closure.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::harness::db::{Conn, Scratch};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use newswatch::config::Config;
use newswatch::model::Article;
use newswatch::store::PageText;
use newswatch::topics::TopicMatch;

use crate::harness::{Server, wait_for_async};

const PAGE_PARA: &str = "The zeppelin rose above the harbour at dawn, its silver envelope catching the first light while the crew \
checked the ballast and the engines, and the harbour master signalled that the way to the open sea was clear.";

#[derive(Clone, Default)]
struct Hits {
    good: Arc<AtomicUsize>,
    private: Arc<AtomicUsize>,
    robots: Arc<AtomicUsize>,
}

fn feed_xml(base: &str) -> String {
    let item = |path: &str, title: &str| {
        format!(
            "<item><title>{title}</title><link>{base}{path}</link><guid>{base}{path}</guid><description>Teaser for {title}.</description></item>"
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test news</title><link>{base}/</link>
{}{}{}{}{}</channel></rss>"#,
        item("/a/good", "Airship story"),
        item("/a/slow", "Slow story"),
        item("/a/error", "Broken story"),
        item("/a/endless", "Endless story"),
        item("/private/secret", "Private story"),
    )
}

fn article_page(extra: &str) -> String {
    format!(
        r#"<html><head><title>Airship story - Test news</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World news menu</a></nav>
<article><h1>Airship story</h1><p>{PAGE_PARA}</p><p>{PAGE_PARA}</p><p>Engineers said the flight went as planned and more flights would follow during the summer season.</p>{extra}</article>
<div class="comments"><p>Reader comment: first!</p></div><footer>Copyright Test news</footer></body></html>"#
    )
}

fn serve(hits: Hits) -> Server {
    Server::start_with(|base| {
        let b = base.to_string();
        Router::new()
        .route(
            "/feed.xml",
            get(move || async move { ([("content-type", "application/rss+xml")], feed_xml(&b)) }),
        )
        .route(
            "/robots.txt",
            get(|State(h): State<Hits>| async move {
                h.robots.fetch_add(1, Ordering::SeqCst);
                "User-agent: *\nDisallow: /private/\n"
            }),
        )
        .route(
            "/a/good",
            get(|State(h): State<Hits>| async move {
                h.good.fetch_add(1, Ordering::SeqCst);
                (
                    [("content-type", "text/html; charset=utf-8")],
                    article_page(""),
                )
            }),
        )
        .route(
            "/a/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(120)).await;
                "too late"
            }),
        )
        .route(
            "/a/error",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/a/endless",
            get(|| async {
                // The article, then filler forever: only a fetch that cuts the body can finish.
                let head = article_page("<p>ENDLESS-MARKER the page goes on.</p>")
                    .replace("</article>", "");
                let head = head[..head.find("<div class=\"comments\">").unwrap()].to_string();
                let first = futures_util::stream::once(async move {
                    Ok::<_, std::io::Error>(head.into_bytes())
                });
                let rest = futures_util::stream::repeat_with(|| {
                    Ok::<_, std::io::Error>(
                        b"<p>filler filler filler filler filler filler.</p>\n".repeat(100),
                    )
                });
                (
                    [("content-type", "text/html")],
                    Body::from_stream(futures_util::StreamExt::chain(first, rest)),
                )
                    .into_response()
            }),
        )
        .route(
            "/private/secret",
            get(|State(h): State<Hits>| async move {
                h.private.fetch_add(1, Ordering::SeqCst);
                article_page("")
            }),
        )
        .with_state(hits)
    })
}

struct PageRow {
    text: String,
    page_text: Option<String>,
    page_status: Option<String>,
    page_attempts: i64,
    page_next_at: Option<i64>,
    page_error: Option<String>,
}

fn page_row(conn: &mut Conn, link_suffix: &str) -> PageRow {
    let (text, page_text, page_status, page_attempts, page_next_at, page_error) = conn.row(
        "SELECT text, page_text, page_status, page_attempts, page_next_at, page_error FROM articles WHERE link LIKE ?1",
        &[&format!("%{link_suffix}")],
    );
    PageRow {
        text,
        page_text,
        page_status,
        page_attempts,
        page_next_at,
        page_error,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_fetches_pages_of_full_text_feeds() {
    let hits = Hits::default();
    let srv = serve(hits.clone());
    let base = srv.url("");
    let scratch = Scratch::new();
    let db = scratch.db.clone();
    let config = Config::parse(&format!(
        r#"
[http]
timeout = "2s"
read_timeout = "2s"
[poll]
tick = "1"
[fulltext]
backoff = "1h"
per_host_delay = "0"
max_page_bytes = 65536
tick = "1"
[[feed]]
url = "{base}/feed.xml"
full_text = true
[[topic]]
id = "airships"
query = "zeppelin"
"#
    ))
    .unwrap();
    let token = CancellationToken::new();
    let daemon = tokio::spawn({
        let (config, db, token) = (Arc::new(config), db.clone(), token.clone());
        async move { newswatch::daemon::run(config, &db, token).await }
    });

    // Wait until every page has an outcome: done, failed, or a retry scheduled.
    wait_for_async("every page to have an outcome", 30, || {
        // The total first: counted the other way round, the open count could be taken before
        // the feed's commit and the total after it.
        let total =
            crate::harness::db::try_count(&db, "SELECT count(*) FROM articles").unwrap_or(0);
        let open = crate::harness::db::try_count(
            &db,
            "SELECT count(*) FROM articles WHERE page_status = 'pending' AND page_attempts = 0",
        )
        .unwrap_or(-1);
        total == 5 && open == 0
    })
    .await;
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("daemon stops")
        .unwrap()
        .unwrap();

    let conn = &mut Conn::open(&db);
    // The good page: its text is stored next to the feed's teaser.
    let good = page_row(conn, "/a/good");
    assert_eq!(
        good.page_status.as_deref(),
        Some("done"),
        "{:?} {:?} {:?}",
        good.page_attempts,
        good.page_error,
        good.page_next_at
    );
    assert_eq!(good.text, "Teaser for Airship story.");
    let pt = good.page_text.unwrap();
    assert!(pt.contains(PAGE_PARA), "{pt:?}");
    assert!(
        !pt.contains("World news menu") && !pt.contains("Reader comment"),
        "{pt:?}"
    );
    assert_eq!(hits.good.load(Ordering::SeqCst), 1, "fetched once");
    // The FTS index sees the page text.
    let fts: i64 = conn.one(
        if conn.is_pg() {
            "SELECT count(*) FROM articles WHERE fts @@ to_tsquery('simple', 'zeppelin')"
        } else {
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'zeppelin'"
        },
        &[],
    );
    assert!(fts >= 1);

    // A hanging page and a 500: stored with the feed text, a retry scheduled (backoff 1h).
    for slug in ["/a/slow", "/a/error"] {
        let r = page_row(conn, slug);
        assert_eq!(r.page_status.as_deref(), Some("pending"), "{slug}");
        assert_eq!(r.page_attempts, 1, "{slug}");
        assert!(r.page_text.is_none());
        assert!(r.text.starts_with("Teaser for"), "{slug}");
        assert!(
            r.page_next_at.unwrap() > newswatch::util::now_ms() + 30 * 60 * 1000,
            "{slug}: retry in about an hour"
        );
        assert!(r.page_error.is_some(), "{slug}");
    }
    assert!(
        page_row(conn, "/a/error")
            .page_error
            .unwrap()
            .contains("500")
    );
    assert!(
        page_row(conn, "/a/slow")
            .page_error
            .unwrap()
            .contains("timed out")
    );

    // The endless page was cut at max_page_bytes and extracted.
    let endless = page_row(conn, "/a/endless");
    assert_eq!(
        endless.page_status.as_deref(),
        Some("done"),
        "{:?}",
        endless.page_error
    );
    let et = endless.page_text.unwrap();
    assert!(et.contains("ENDLESS-MARKER"), "{et:?}");
    assert!(et.len() < 65536);

    // robots.txt disallows /private/: never fetched, failed for good; robots.txt fetched once.
    let private = page_row(conn, "/private/secret");
    assert_eq!(private.page_status.as_deref(), Some("failed"));
    assert!(private.page_error.unwrap().contains("robots.txt"));
    assert_eq!(hits.private.load(Ordering::SeqCst), 0);
    assert_eq!(hits.robots.load(Ordering::SeqCst), 1);

    // The topic only the page text satisfies: the feed's title and teaser never say "zeppelin",
    // so the match comes from re-matching with the page text.
    assert!(!feed_xml(&base).contains("zeppelin"));
    let matched: Vec<String> = conn
        .column("SELECT m.topic FROM matches m JOIN articles a ON a.id = m.article_id WHERE a.link LIKE '%/a/good'", &[]);
    assert_eq!(matched, vec!["airships".to_string()]);
    // The failed and pending pages made no match.
    let others: i64 = conn.one(
        "SELECT count(*) FROM matches m JOIN articles a ON a.id = m.article_id WHERE a.page_status != 'done'",
        &[],
    );
    assert_eq!(others, 0);
}

/// The store side: `page_done` stores the page, re-matches on title + feed text + page text with
/// the policy's matcher, and writes matches and outbox alerts in one go; a second result is ignored.
#[test]
fn page_done_rematches_and_queues_alerts() {
    let scratch = Scratch::new();
    let db = scratch.db.clone();
    let config = Config::parse(
        "[clean]\nfull_text = true\n[[feed]]\nurl = \"http://127.0.0.1:9/feed.xml\"\n",
    )
    .unwrap();
    let mut store = newswatch::daemon::open_store(&config, &db).unwrap();
    let feed_id: i64 = Conn::open(&db).one("SELECT id FROM feeds", &[]);
    let seen = std::sync::Mutex::new(Vec::<String>::new());
    let matcher = |a: &Article| {
        seen.lock().unwrap().push(a.text.clone());
        if a.text.contains("zeppelin") {
            vec![TopicMatch {
                topic: "airships".into(),
                terms: vec!["zeppelin".into()],
                snippet: "zeppelin".into(),
            }]
        } else {
            vec![]
        }
    };
    let sinks = |_: &str| vec!["log".to_string(), "hook".to_string()];
    let policy = crate::harness::fill::policy(&matcher, &sinks, true);
    let a = Article {
        guid: Some("g1".into()),
        link: Some("http://127.0.0.1:9/a/1".into()),
        title: "Airship story".into(),
        text: "A short teaser.".into(),
        content_hash: "h1".into(),
        ..Default::default()
    };
    let out = store
        .commit_fetch(
            newswatch::store::FetchCommit {
                feed_id,
                articles: vec![a],
                state: Default::default(),
                log: Default::default(),
            },
            &policy,
        )
        .unwrap();
    assert_eq!(out.new, 1);
    assert_eq!(out.alerts, 0);
    let id = out.items[0].id;
    let due = store
        .claim_due_pages(newswatch::util::now_ms() + 1, 10, 60_000)
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].link, "http://127.0.0.1:9/a/1");
    // Leased: not picked twice.
    assert!(
        store
            .claim_due_pages(newswatch::util::now_ms() + 1, 10, 60_000)
            .unwrap()
            .is_empty()
    );

    let res = store
        .page_done(
            &PageText {
                id,
                title: Some("Airship story"),
                text: "The zeppelin rose.\n\nMore text.",
            },
            &policy,
        )
        .unwrap();
    assert!(res.stored);
    assert_eq!(res.topics, vec!["airships".to_string()]);
    assert_eq!(res.alerts, 2);
    assert_eq!(
        seen.lock().unwrap().last().unwrap(),
        "A short teaser.\n\nThe zeppelin rose.\n\nMore text."
    );
    let alerts =
        crate::harness::db::count(&db, "SELECT count(*) FROM alerts WHERE status = 'pending'");
    assert_eq!(alerts, 2);
    // A late second result (or a failure report) for the same page changes nothing.
    assert!(
        !store
            .page_done(
                &PageText {
                    id,
                    title: None,
                    text: "zeppelin again"
                },
                &policy
            )
            .unwrap()
            .stored
    );
    assert!(!store.page_failed(id, "late", None).unwrap());
    let (status, text): (String, String) = Conn::open(&db).row(
        "SELECT page_status, page_text FROM articles WHERE id = ?1",
        &[&id],
    );
    assert_eq!(
        (status.as_str(), text.as_str()),
        ("done", "The zeppelin rose.\n\nMore text.")
    );
}
