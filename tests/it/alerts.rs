//! Alerts end to end: articles go through the real pipeline (`Pipeline::prepare`) and the real
//! store commit (`Store::commit_fetch`, which writes the matches and the outbox in one
//! transaction), with a keyword matcher written here as the `MatchPolicy` closure (the topic
//! engine is a separate issue). The daemon (`daemon::run`, or the `newswatch run` binary) then
//! delivers to real receivers on 127.0.0.1: an HTTP server, an SMTP server, a program.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use newswatch::alerts::sinks::webhook::verify_signature;
use newswatch::config::Config;
use newswatch::pipeline::Pipeline;
use newswatch::store::feeds_log::FetchLog;
use newswatch::store::{CommitOutcome, FeedState, FetchCommit, MatchPolicy, Store};
use newswatch::topics::TopicMatch;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::harness::db::{Conn, PgDb};
use crate::harness::receiver::{Log, Req, http_receiver, http_receiver_on};
use crate::harness::{SIGKILL, SIGTERM, free_port, signal, wait_for_async};

const SECRET: &str = "test-signing-key";

// ---------------------------------------------------------------- fixtures

struct Item<'a> {
    guid: &'a str,
    title: &'a str,
    text: &'a str,
}

fn rss(items: &[Item]) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test Wire</title><link>https://wire.example/</link><language>en</language>"#,
    );
    for it in items {
        s.push_str(&format!(
            "<item><guid>{g}</guid><link>https://wire.example/{g}?utm_source=rss&amp;utm_medium=feed</link><title>{t}</title><description>{d}</description><pubDate>Fri, 27 Nov 2026 08:00:00 GMT</pubDate></item>",
            g = it.guid,
            t = it.title,
            d = it.text
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// A story long enough for near-duplicate detection; `n` makes each one clearly different (its
/// own words), so stories are not near-duplicates of each other.
fn story(n: usize) -> String {
    let own: Vec<String> = (0..40).map(|i| format!("w{n}x{i}")).collect();
    format!(
        "Officials said the military fired a short-range ballistic missile into the sea early on Friday. {}.",
        own.join(" ")
    )
}

/// The test's matcher: topic `missiles` when "missile" occurs, with the matched word marked.
fn keyword_matches(a: &newswatch::model::Article) -> Vec<TopicMatch> {
    let text = &a.text;
    let Some(pos) = text.to_lowercase().find("missile") else {
        return vec![];
    };
    let end = pos + "missile".len();
    let start = text[..pos]
        .char_indices()
        .rev()
        .nth(40)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let stop = text[end..]
        .char_indices()
        .nth(40)
        .map(|(i, _)| end + i)
        .unwrap_or(text.len());
    vec![TopicMatch {
        topic: "missiles".into(),
        terms: vec!["missile*".into()],
        snippet: format!(
            "{}[[{}]]{}",
            &text[start..pos],
            &text[pos..end],
            &text[end..stop]
        ),
    }]
}

/// Parses and cleans the feed with the real pipeline, then commits it with the real store path.
fn commit_feed(cfg: &Arc<Config>, db: &Path, feed_url: &str, xml: &str) -> CommitOutcome {
    // A thread of its own: the tests are async, and a PostgreSQL client cannot run there.
    crate::harness::db::blocking(|| commit_feed_now(cfg, db, feed_url, xml))
}

fn commit_feed_now(cfg: &Arc<Config>, db: &Path, feed_url: &str, xml: &str) -> CommitOutcome {
    let mut store = Store::open(db).unwrap();
    let pipeline = Pipeline::new(cfg.clone()).unwrap();
    let prepared = pipeline.prepare(xml.as_bytes(), feed_url, None).unwrap();
    let feed_id = store.ensure_ingest_feeds(&[feed_url.to_string()]).unwrap()[0];
    let sinks = |t: &str| pipeline.sinks_for(t);
    let policy = MatchPolicy {
        matcher: &keyword_matches,
        sinks_for: &sinks,
        window_ms: 7 * 86_400_000,
        full_text: false,
    };
    store
        .commit_fetch(
            FetchCommit {
                feed_id,
                articles: prepared.articles,
                state: FeedState {
                    title: prepared.feed.title,
                    next_poll_at: i64::MAX,
                    ..Default::default()
                },
                log: FetchLog {
                    url: feed_url.into(),
                    at: 0,
                    ..Default::default()
                },
            },
            &policy,
        )
        .unwrap()
}

fn items(range: std::ops::Range<usize>) -> String {
    let texts: Vec<(String, String, String)> = range
        .map(|i| {
            (
                format!("s{i}"),
                format!("Missile launch number {i}"),
                story(i),
            )
        })
        .collect();
    rss(&texts
        .iter()
        .map(|(g, t, d)| Item {
            guid: g,
            title: t,
            text: d,
        })
        .collect::<Vec<_>>())
}

struct Env {
    _pg: Option<PgDb>,
    _dir: tempfile::TempDir,
    dir: PathBuf,
    db: PathBuf,
    cfg: Arc<Config>,
    config_path: PathBuf,
}

/// A config with the topic `missiles` routed to `sinks`, and fast retry timings.
fn env(topic_extra: &str, sinks_toml: &str, sinks: &[&str]) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let text = format!(
        r#"
[store]
path = "test.db"

[alerts]
max_attempts = 20
backoff = "50ms"
max_backoff = "200ms"
tick = "50ms"

[[topic]]
id = "missiles"
query = "missile*"
severity = "high"
sinks = [{}]
{topic_extra}

{sinks_toml}
"#,
        sinks
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let config_path = path.join("config.toml");
    let (db, pg) = crate::harness::db::fresh(&path, "test.db");
    std::fs::write(&config_path, crate::harness::db::config_for(&text, &db)).unwrap();
    let cfg = Arc::new(Config::load(&config_path).unwrap());
    Env {
        _pg: pg,
        db,
        dir: path,
        _dir: dir,
        cfg,
        config_path,
    }
}

fn webhook_sink(name: &str, url: &str) -> String {
    format!(
        "[[sink]]\nname = \"{name}\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\ntimeout = \"3s\"\n"
    )
}

fn db(path: &Path) -> Conn {
    Conn::open(path)
}

fn count(path: &Path, sql: &str) -> i64 {
    crate::harness::db::count(path, sql)
}

/// Alerts in the outbox with this status.
fn status_count(e: &Env, status: &str) -> i64 {
    count(
        &e.db,
        &format!("SELECT COUNT(*) FROM alerts WHERE status = '{status}'"),
    )
}

/// Waits up to `secs` seconds until `n` alerts are delivered.
async fn wait_delivered(e: &Env, n: i64, secs: u64) {
    wait_for_async(&format!("{n} deliveries"), secs, || {
        status_count(e, "delivered") == n
    })
    .await;
}

/// `newswatch run` on the test's config, its logs discarded.
fn spawn_run(e: &Env) -> std::process::Child {
    bin()
        .arg("--config")
        .arg(&e.config_path)
        .arg("run")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The daemon in-process: returns its token and join handle.
fn start_daemon(
    e: &Env,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let token = CancellationToken::new();
    let (cfg, db, t) = (e.cfg.clone(), e.db.clone(), token.clone());
    let h = tokio::spawn(async move { newswatch::daemon::run(cfg, &db, t).await });
    (token, h)
}

// ---------------------------------------------------------------- receivers

impl Req {
    fn signed(&self) -> bool {
        self.headers
            .get("x-newswatch-signature")
            .is_some_and(|s| verify_signature(SECRET.as_bytes(), &self.body, s))
    }
}

fn ok_uids(log: &Log) -> Vec<String> {
    let mut v: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.headers["x-newswatch-alert-id"].clone())
        .collect();
    v.sort();
    v
}

fn db_uids(path: &Path) -> Vec<String> {
    db(path).column("SELECT uid FROM alerts ORDER BY uid", &[])
}

/// The definite event behind "nothing more was sent": one more alert (the sentinel) is committed
/// and its delivery awaited, so the dispatcher has made full passes after the deliveries the test
/// counted and would have re-sent anything it was going to. Returns the sentinel's uid.
async fn deliver_sentinel(e: &Env) -> String {
    let before = db_uids(&e.db);
    commit_feed(
        &e.cfg,
        &e.db,
        "https://wire.example/feed.xml",
        &items(99..100),
    );
    let uid = db_uids(&e.db)
        .into_iter()
        .find(|u| !before.contains(u))
        .expect("the sentinel alert");
    let q = format!("SELECT COUNT(*) FROM alerts WHERE uid = '{uid}' AND status = 'delivered'");
    wait_for_async("the sentinel delivery", 20, || count(&e.db, &q) == 1).await;
    uid
}

/// The receiver's log without the sentinel's request (checked to be exactly one).
fn without_sentinel(log: &Log, sentinel: &str) -> Vec<Req> {
    let reqs = log.lock().unwrap().clone();
    let is_sentinel = |r: &Req| r.headers["x-newswatch-alert-id"] == sentinel;
    assert_eq!(reqs.iter().filter(|r| is_sentinel(r)).count(), 1);
    reqs.into_iter().filter(|r| !is_sentinel(r)).collect()
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_gets_each_alert_once_signed() {
    let (url, log) = http_receiver(|_| (200, Duration::ZERO)).await;
    let e = env("", &webhook_sink("hook", &url), &["hook"]);
    let out = commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..3));
    assert_eq!((out.new, out.alerts), (3, 3));
    let (token, h) = start_daemon(&e);
    wait_delivered(&e, 3, 20).await;
    let sentinel = deliver_sentinel(&e).await;
    token.cancel();
    h.await.unwrap().unwrap();

    let reqs = without_sentinel(&log, &sentinel);
    assert_eq!(reqs.len(), 3, "one request per alert");
    assert!(
        reqs.iter().all(Req::signed),
        "every body carries a valid signature"
    );
    assert_eq!(ok_uids(&log), db_uids(&e.db));
    let v = reqs[0].json();
    assert_eq!(v["type"], "alert");
    assert_eq!(v["topic"], "missiles");
    assert_eq!(v["severity"], "high");
    assert_eq!(v["uid"], reqs[0].headers["x-newswatch-alert-id"].as_str());
    assert!(
        v["title"]
            .as_str()
            .unwrap()
            .starts_with("Missile launch number")
    );
    // The canonical link: the feed's tracking parameters are not passed on.
    let link = v["link"].as_str().unwrap();
    assert!(
        link.starts_with("https://wire.example/s") && !link.contains('?'),
        "{link}"
    );
    assert_eq!(v["feed"], "Test Wire");
    assert_eq!(v["lang"], "en");
    assert_eq!(v["sources"], 1);
    assert_eq!(v["terms"], serde_json::json!(["missile*"]));
    assert!(v["snippet"].as_str().unwrap().contains("[[missile]]"));
    assert!(
        v["published_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-27T08:00:00")
    );
    assert_eq!(
        count(&e.db, "SELECT COUNT(*) FROM alert_attempts WHERE ok"),
        3 + 1 // the sentinel
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_failing_then_recovering_gets_each_alert_exactly_once_more() {
    // 500 for the first 5 requests, then 200.
    let (url, log) = http_receiver(|i| (if i < 5 { 500 } else { 200 }, Duration::ZERO)).await;
    let e = env("", &webhook_sink("hook", &url), &["hook"]);
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..4));
    let (token, h) = start_daemon(&e);
    wait_delivered(&e, 4, 30).await;
    let sentinel = deliver_sentinel(&e).await;
    token.cancel();
    h.await.unwrap().unwrap();

    let reqs = without_sentinel(&log, &sentinel);
    assert_eq!(reqs.iter().filter(|r| r.status == 500).count(), 5);
    // Every alert accepted exactly once, and nothing sent after its success.
    assert_eq!(ok_uids(&log), db_uids(&e.db));
    assert_eq!(reqs.len(), 5 + 4);
    assert!(reqs.iter().all(Req::signed));
    // Every attempt recorded: 5 failures and 4 successes.
    assert_eq!(
        count(&e.db, "SELECT COUNT(*) FROM alert_attempts WHERE NOT ok"),
        5
    );
    assert_eq!(
        count(&e.db, "SELECT COUNT(*) FROM alert_attempts WHERE ok"),
        4 + 1 // the sentinel
    );
    assert_eq!(
        count(&e.db, "SELECT CAST(SUM(attempts) AS BIGINT) FROM alerts"),
        9 + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syndicated_copy_does_not_alert_again() {
    let (url, log) = http_receiver(|_| (200, Duration::ZERO)).await;
    let e = env("", &webhook_sink("hook", &url), &["hook"]);
    let text = story(7);
    let a = rss(&[Item {
        guid: "orig-1",
        title: "Missile fired into the sea",
        text: &text,
    }]);
    let first = commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &a);
    assert_eq!(first.alerts, 1);
    // The same story from an aggregator: another feed, another guid and link, same text.
    let copy = a.replace("orig-1", "agg-99");
    let second = commit_feed(&e.cfg, &e.db, "https://aggregator.example/rss", &copy);
    assert_eq!(second.new, 0);
    assert_eq!(second.duplicates, 1);
    assert_eq!(second.alerts, 0);
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM alerts"), 1);

    let (token, h) = start_daemon(&e);
    wait_delivered(&e, 1, 20).await;
    let sentinel = deliver_sentinel(&e).await;
    token.cancel();
    h.await.unwrap().unwrap();
    let reqs = without_sentinel(&log, &sentinel);
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].json()["sources"],
        2,
        "the alert says how many sources carry the story"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_delays_but_never_drops() {
    let (url, log) = http_receiver(|_| (200, Duration::ZERO)).await;
    let e = env(
        "rate_limit = \"2/1s\"",
        &webhook_sink("hook", &url),
        &["hook"],
    );
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..5));
    let started = Instant::now();
    let (token, h) = start_daemon(&e);
    wait_delivered(&e, 5, 30).await;
    token.cancel();
    h.await.unwrap().unwrap();

    let mut times: Vec<Instant> = log.lock().unwrap().iter().map(|r| r.at).collect();
    times.sort();
    assert_eq!(times.len(), 5, "all five delivered, none dropped");
    // Never more than 2 deliveries in any 1 s window (arrival of the 3rd is at least 1 s after the 1st).
    for w in times.windows(3) {
        let gap = w[2] - w[0];
        assert!(
            gap >= Duration::from_millis(980),
            "3 deliveries within {gap:?}"
        );
    }
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_groups_matches_per_interval() {
    let (url, log) = http_receiver(|_| (200, Duration::ZERO)).await;
    let e = env("digest = \"1s\"", &webhook_sink("hook", &url), &["hook"]);
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..3));
    let (token, h) = start_daemon(&e);
    wait_for_async("the first digest", 20, || log.lock().unwrap().len() == 1).await;
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(3..5));
    wait_for_async("the second digest", 20, || log.lock().unwrap().len() == 2).await;
    wait_delivered(&e, 5, 20).await;
    let sentinel = deliver_sentinel(&e).await;
    token.cancel();
    h.await.unwrap().unwrap();

    let mut reqs = log.lock().unwrap().clone();
    // Two digests, then the sentinel's own digest: nothing else was sent in between.
    assert_eq!(reqs.len(), 3, "one message per interval, not one per match");
    let d3 = reqs.pop().unwrap().json();
    assert_eq!(d3["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(d3["alerts"][0]["uid"], sentinel.as_str());
    let (d1, d2) = (reqs[0].json(), reqs[1].json());
    assert_eq!(d1["type"], "digest");
    assert_eq!(reqs[0].headers["x-newswatch-event"], "digest");
    assert_eq!(d1["count"], 3);
    assert_eq!(d2["count"], 2);
    assert_eq!(d1["alerts"].as_array().unwrap().len(), 3);
    assert_eq!(d1["uid"], reqs[0].headers["x-newswatch-alert-id"].as_str());
    assert_ne!(d1["uid"], d2["uid"]);
    assert!(reqs.iter().all(Req::signed));
    assert!(
        reqs[1].at - reqs[0].at >= Duration::from_millis(900),
        "digests at most once per interval"
    );
    // Every alert is listed once, across the two digests.
    let mut listed: Vec<String> = [&d1, &d2]
        .iter()
        .flat_map(|d| {
            d["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["uid"].as_str().unwrap().to_string())
        })
        .collect();
    listed.sort();
    let mut uids = db_uids(&e.db);
    uids.retain(|u| *u != sentinel);
    assert_eq!(listed, uids);
    assert_eq!(
        count(&e.db, "SELECT COUNT(DISTINCT digest_uid) FROM alerts"),
        2 + 1 // the sentinel's digest
    );
}

/// (envelope sender, recipients, data) of each mail received.
type Mails = Arc<Mutex<Vec<(String, Vec<String>, String)>>>;

/// A minimal SMTP server: answers EHLO/MAIL/RCPT/DATA/QUIT and hands back each message's
/// envelope and data.
async fn smtp_server() -> (u16, Mails) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Mails = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let g = g.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 localhost ESMTP test\r\n").await.unwrap();
                let (mut from, mut rcpt) = (String::new(), Vec::new());
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    let up = cmd.to_ascii_uppercase();
                    if up.starts_with("EHLO") || up.starts_with("HELO") {
                        w.write_all(b"250-localhost\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n")
                            .await
                            .unwrap();
                    } else if up.starts_with("MAIL FROM:") {
                        from = cmd[10..].to_string();
                        w.write_all(b"250 OK\r\n").await.unwrap();
                    } else if up.starts_with("RCPT TO:") {
                        rcpt.push(cmd[8..].to_string());
                        w.write_all(b"250 OK\r\n").await.unwrap();
                    } else if up == "DATA" {
                        w.write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                            .await
                            .unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        g.lock().unwrap().push((from.clone(), rcpt.clone(), data));
                        w.write_all(b"250 OK queued\r\n").await.unwrap();
                    } else if up == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else if up == "RSET" || up == "NOOP" {
                        w.write_all(b"250 OK\r\n").await.unwrap();
                    } else {
                        w.write_all(b"502 not implemented\r\n").await.unwrap();
                    }
                }
            });
        }
    });
    (port, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_through_a_real_smtp_conversation() {
    let (port, got) = smtp_server().await;
    let sink = format!(
        "[[sink]]\nname = \"mail\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\n\
         from = \"newswatch <alerts@example.org>\"\nto = [\"analyst@example.org\", \"desk@example.org\"]\ntimeout = \"5s\"\n"
    );
    let e = env("", &sink, &["mail"]);
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..1));
    let (token, h) = start_daemon(&e);
    wait_delivered(&e, 1, 20).await;
    token.cancel();
    h.await.unwrap().unwrap();

    let mails = got.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let (from, rcpt, data) = &mails[0];
    assert!(from.starts_with("<alerts@example.org>"), "{from}");
    assert_eq!(rcpt.len(), 2);
    assert!(
        rcpt[0].starts_with("<analyst@example.org>") && rcpt[1].starts_with("<desk@example.org>"),
        "{rcpt:?}"
    );
    assert!(
        data.contains("Subject: [newswatch] [high] missiles: Missile launch number 0\r\n"),
        "{data}"
    );
    let uid = &db_uids(&e.db)[0];
    assert!(
        data.contains(&format!("Message-ID: <{uid}@newswatch>")),
        "{data}"
    );
    let body = &data[data.find("\r\n\r\n").unwrap()..];
    assert!(body.contains("https://wire.example/s0"), "{body}");
    assert!(body.contains("*missile*"), "{body}");
    assert!(body.contains("Feed: Test Wire"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_sink_gets_json_on_stdin_and_a_hanging_one_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.jsonl");
    let pidfile = dir.path().join("hang.pid");
    let sinks = format!(
        "[[sink]]\nname = \"run\"\ntype = \"command\"\nprogram = \"/bin/sh\"\nargs = [\"-c\", \"cat >> '{}'\"]\ntimeout = \"10s\"\n\n\
         [[sink]]\nname = \"hang\"\ntype = \"command\"\nprogram = \"/bin/sh\"\nargs = [\"-c\", \"echo $$ >> '{}'; exec sleep 60\"]\ntimeout = \"300ms\"\n",
        out.display(),
        pidfile.display()
    );
    let mut e = env("", &sinks, &["run", "hang"]);
    // Two attempts for the hanging one, then it is failed.
    let mut cfg = (*e.cfg).clone();
    cfg.alerts.max_attempts = 2;
    e.cfg = Arc::new(cfg);
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..1));
    let (token, h) = start_daemon(&e);
    wait_for_async("both outcomes", 20, || {
        count(
            &e.db,
            "SELECT COUNT(*) FROM alerts WHERE sink = 'run' AND status = 'delivered'",
        ) == 1
            && count(
                &e.db,
                "SELECT COUNT(*) FROM alerts WHERE sink = 'hang' AND status = 'failed'",
            ) == 1
    })
    .await;
    token.cancel();
    h.await.unwrap().unwrap();
    // No wall-clock bound: a command not stopped at its timeout would sleep 60 s, past the 20 s
    // wait above, and the pids checked below would still be alive.

    let line = std::fs::read_to_string(&out).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v["topic"], "missiles");
    let uid: String = db(&e.db).one("SELECT uid FROM alerts WHERE sink = 'run'", &[]);
    assert_eq!(v["uid"], uid.as_str());
    let err: String = db(&e.db).one("SELECT last_error FROM alerts WHERE sink = 'hang'", &[]);
    assert!(err.contains("timed out"), "{err}");
    assert_eq!(
        count(
            &e.db,
            "SELECT COUNT(*) FROM alert_attempts a JOIN alerts b ON b.id = a.alert_id WHERE b.sink = 'hang'"
        ),
        2
    );
    for pid in std::fs::read_to_string(&pidfile).unwrap().lines() {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "hanging command {pid} still alive"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_delivery_finish() {
    // The receiver takes 1 s to answer.
    let arrived = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let a2 = arrived.clone();
    let (url, log) = http_receiver(move |_| {
        a2.store(true, std::sync::atomic::Ordering::SeqCst);
        (200, Duration::from_secs(1))
    })
    .await;
    let e = env("", &webhook_sink("hook", &url), &["hook"]);
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..1));
    let (token, h) = start_daemon(&e);
    // Wait until the request is in flight (the receiver has it), then stop.
    wait_for_async("the request", 20, || {
        arrived.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    assert!(log.lock().unwrap().is_empty());
    token.cancel();
    h.await.unwrap().unwrap();
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(status_count(&e, "delivered"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secret_stops_the_daemon_at_start_with_a_clear_error() {
    let e = env(
        "",
        "[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nsecret = \"env:NW_TEST_UNSET_SECRET\"\n",
        &["hook"],
    );
    let err = newswatch::daemon::run(e.cfg.clone(), &e.db, CancellationToken::new())
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("hook") && msg.contains("NW_TEST_UNSET_SECRET"),
        "{msg}"
    );
}

// ---------------------------------------------------------------- the binary

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_commit_and_delivery_then_restart_delivers() {
    // A port with nobody listening yet.
    let port = free_port();
    let e = env(
        "",
        &webhook_sink("hook", &format!("http://127.0.0.1:{port}/hook")),
        &["hook"],
    );
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..2));
    let uids = db_uids(&e.db);

    // 1. The daemon runs with the receiver down, tries, fails; then it is killed with SIGKILL.
    let mut child = spawn_run(&e);
    wait_for_async("a failed attempt", 30, || {
        count(&e.db, "SELECT COUNT(*) FROM alert_attempts WHERE NOT ok") >= 1
    })
    .await;
    signal(&child, SIGKILL);
    child.wait().unwrap();
    assert_eq!(status_count(&e, "pending"), 2);

    // 2. The receiver comes up; the daemon restarts and delivers both, once each.
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let log = http_receiver_on(l, |_| (200, Duration::ZERO)).await;
    let mut child = spawn_run(&e);
    wait_delivered(&e, 2, 30).await;
    let sentinel = deliver_sentinel(&e).await;
    signal(&child, SIGTERM);
    let status = child.wait().unwrap();
    assert!(status.success(), "clean stop after SIGTERM: {status}");
    assert_eq!(without_sentinel(&log, &sentinel).len(), 2);
    let mut uids = uids;
    uids.push(sentinel);
    uids.sort();
    assert_eq!(ok_uids(&log), uids);
    assert!(log.lock().unwrap().iter().all(Req::signed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_list_retry_and_tail() {
    let port = free_port();
    let mut e = env(
        "",
        &webhook_sink("hook", &format!("http://127.0.0.1:{port}/hook")),
        &["hook"],
    );
    let mut cfg = (*e.cfg).clone();
    cfg.alerts.max_attempts = 1;
    e.cfg = Arc::new(cfg);
    commit_feed(&e.cfg, &e.db, "https://wire.example/feed.xml", &items(0..1));
    let uid = db_uids(&e.db).remove(0);

    // The receiver is down and one attempt is allowed: the alert fails.
    let (token, h) = start_daemon(&e);
    wait_for_async("the failure", 20, || status_count(&e, "failed") == 1).await;
    token.cancel();
    h.await.unwrap().unwrap();

    let cli = |args: &[&str]| {
        let o = bin()
            .arg("--config")
            .arg(&e.config_path)
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    };
    let (code, out, err) = cli(&["alerts", "list", "--status", "failed", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["uid"], uid.as_str());
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["attempts"], 1);
    assert!(
        rows[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1")
    );
    assert_eq!(cli(&["alerts", "list", "--status", "bogus"]).0, 2);
    assert_eq!(cli(&["alerts", "retry", "nw-no-such-alert"]).0, 1);

    let (code, out, err) = cli(&["alerts", "retry", &uid]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("failed -> pending"), "{out}");
    let (_, out, _) = cli(&["alerts", "list", "--status", "pending", "--format", "jsonl"]);
    assert_eq!(out.lines().count(), 1);

    // `alerts tail` prints the delivery as a JSON line when piped.
    let mut tail = tokio::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .arg("--config")
        .arg(&e.config_path)
        .args(["alerts", "tail", "--topic", "missiles"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // `tail` prints what is delivered after it started: wait until it has the database open (the
    // file among its descriptors; on PostgreSQL, a session of its own on the database).
    let fds = format!("/proc/{}/fd", tail.id().unwrap());
    wait_for_async("tail to open the database", 20, || {
        if crate::harness::db::on_postgres() {
            return count(
                &e.db,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            ) > 0;
        }
        let db = std::fs::canonicalize(&e.db).unwrap();
        std::fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| std::fs::read_link(f.path()).is_ok_and(|t| t == db))
    })
    .await;
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let log = http_receiver_on(l, |_| (200, Duration::ZERO)).await;
    let (token, h) = start_daemon(&e);
    let mut lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("tail printed nothing")
        .unwrap()
        .unwrap();
    token.cancel();
    h.await.unwrap().unwrap();
    tail.kill().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["uid"], uid.as_str());
    assert_eq!(v["status"], "delivered");
    assert_eq!(v["sink"], "hook");
    assert_eq!(log.lock().unwrap().len(), 1);
    let _ = &e.dir;
}

/// The full path through the binary: `ingest` commits (the topic engine matches), `run`
/// delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_then_run_delivers() {
    let (url, log) = http_receiver(|_| (200, Duration::ZERO)).await;
    let e = env("", &webhook_sink("hook", &url), &["hook"]);
    let feed = e.dir.join("feed.xml");
    std::fs::write(&feed, items(0..2)).unwrap();
    let o = bin()
        .arg("--config")
        .arg(&e.config_path)
        .arg("ingest")
        .arg(&feed)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM alerts"), 2);
    let mut child = spawn_run(&e);
    wait_delivered(&e, 2, 30).await;
    signal(&child, SIGTERM);
    assert!(child.wait().unwrap().success());
    assert_eq!(ok_uids(&log), db_uids(&e.db));
}
