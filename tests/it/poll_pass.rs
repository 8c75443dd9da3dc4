//! Issue 16: `poll --once` over more feeds than one page of the store's feed list (512): every
//! enabled feed polled exactly once, a disabled one skipped.

use std::collections::HashSet;

use crate::harness::*;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, Response, StatusCode, header};
use axum::routing::get;

const FEEDS: usize = 530;
/// This feed answers 410 Gone, so the first pass disables it.
const GONE: usize = 3;

fn reports(o: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn poll_once_polls_every_enabled_feed_once_across_pages() {
    let log = Log::default();
    let l = log.clone();
    let app = Router::new().route(
        "/f/{i}",
        get(move |Path(i): Path<usize>, h: HeaderMap| {
            let l = l.clone();
            async move {
                l.push(&format!("/f/{i}"), &h);
                if i == GONE {
                    return Response::builder()
                        .status(StatusCode::GONE)
                        .body(axum::body::Body::empty())
                        .unwrap();
                }
                let body = rss(
                    &format!("Desk {i}"),
                    &[(
                        &format!("p{i}"),
                        &format!("Story of desk {i}"),
                        "<p>Text.</p>",
                    )],
                );
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/rss+xml")
                    .body(body.into())
                    .unwrap()
            }
        }),
    );
    let srv = Server::start(app);
    let urls: Vec<String> = (0..FEEDS).map(|i| srv.url(&format!("/f/{i}"))).collect();
    let env = Env::new(&config_with(&urls, ""));

    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert!(!o.status.success(), "the gone feed fails the pass");
    assert!(
        stderr(&o).contains(&format!("1 of {FEEDS} feeds failed")),
        "{}",
        stderr(&o)
    );
    let first = reports(&o);
    let ids: HashSet<i64> = first
        .iter()
        .map(|r| r["feed_id"].as_i64().unwrap())
        .collect();
    assert_eq!((first.len(), ids.len()), (FEEDS, FEEDS));
    for i in 0..FEEDS {
        assert_eq!(log.count(&format!("/f/{i}")), 1, "feed {i}");
    }
    assert_eq!(env.count("SELECT count(*) FROM articles"), FEEDS as i64 - 1);

    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let second = reports(&o);
    let ids: HashSet<i64> = second
        .iter()
        .map(|r| r["feed_id"].as_i64().unwrap())
        .collect();
    assert_eq!((second.len(), ids.len()), (FEEDS - 1, FEEDS - 1));
    for i in 0..FEEDS {
        let want = if i == GONE { 1 } else { 2 };
        assert_eq!(log.count(&format!("/f/{i}")), want, "feed {i}");
    }
    assert_eq!(env.count("SELECT count(*) FROM articles"), FEEDS as i64 - 1);
}
