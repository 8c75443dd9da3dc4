//! Issue 16: the daemon as an operator runs it — systemd notify, a summary line instead of a line
//! per feed, failures named at WARN.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::harness::*;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

fn feed_body(n: usize) -> String {
    let items: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            (
                format!("g{i}"),
                format!("Story {i} about the harbour"),
                format!("<p>Story number {i} tells of ships, cranes and a storm {i}.</p>"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    rss("Fixture", &refs)
}

fn farm(feeds: usize) -> (Server, Vec<String>) {
    let app = Router::new()
        .route("/f/{i}", get(|| async { feed_body(3) }))
        .route("/missing.xml", get(|| async { StatusCode::NOT_FOUND }));
    let srv = Server::start(app);
    let urls = (0..feeds).map(|i| srv.url(&format!("/f/{i}"))).collect();
    (srv, urls)
}

/// Reads datagrams until `want` has been seen or the deadline passes; returns all messages.
fn read_until(sock: &UnixDatagram, all: &mut Vec<String>, want: &str, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            let hit = msg.lines().any(|l| l.starts_with(want));
            all.push(msg);
            if hit {
                return true;
            }
        }
    }
    false
}

/// `newswatch run` with a datagram socket of the test's as `NOTIFY_SOCKET`.
fn run_notified(env: &Env, watchdog_usec: Option<&str>) -> (UnixDatagram, std::process::Child) {
    let path = env.path("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut cmd = env.cmd();
    cmd.arg("run").env("NOTIFY_SOCKET", &path);
    match watchdog_usec {
        Some(usec) => cmd.env("WATCHDOG_USEC", usec),
        None => cmd.env_remove("WATCHDOG_USEC"),
    };
    (sock, cmd.spawn().unwrap())
}

#[test]
fn systemd_notify_ready_status_watchdog_stopping() {
    let (_srv, urls) = farm(3);
    let env = Env::new(&config_with(&urls, "[log]\nsummary = \"1s\"\n"));
    let (sock, mut child) = run_notified(&env, Some("300000"));
    let mut msgs = Vec::new();
    let ready = read_until(&sock, &mut msgs, "READY=1", 20);
    // The summary of a period in which the three feeds were polled.
    let status = read_until(&sock, &mut msgs, "STATUS=last", 20);
    let polled = msgs
        .iter()
        .any(|m| m.starts_with("STATUS=") && m.contains("3 feeds polled"));
    let before = msgs.iter().filter(|m| m.starts_with("WATCHDOG=1")).count();
    std::thread::sleep(Duration::from_millis(800));
    let mut later = Vec::new();
    read_until(&sock, &mut later, "no such message", 1);
    let pings = later.iter().filter(|m| m.starts_with("WATCHDOG=1")).count();
    signal(&child, 15);
    let stopping = read_until(&sock, &mut msgs, "STOPPING=1", 20);
    let exit = child.wait().unwrap();
    assert!(ready, "READY=1 once the store is open: {msgs:?}");
    assert!(status, "STATUS= with the summary: {msgs:?}");
    assert!(polled, "the summary counts the polled feeds: {msgs:?}");
    assert!(before >= 1, "WATCHDOG=1 sent when WATCHDOG_USEC is set");
    assert!(
        pings >= 2,
        "the scheduler keeps pinging about twice per period: {later:?}"
    );
    assert!(stopping, "STOPPING=1 on SIGTERM: {msgs:?}");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn without_watchdog_usec_no_watchdog_pings() {
    let (_srv, urls) = farm(1);
    let env = Env::new(&config_with(&urls, ""));
    let (sock, mut child) = run_notified(&env, None);
    let mut msgs = Vec::new();
    let ready = read_until(&sock, &mut msgs, "READY=1", 20);
    read_until(&sock, &mut msgs, "no such message", 1);
    signal(&child, 15);
    child.wait().unwrap();
    assert!(ready, "{msgs:?}");
    assert!(!msgs.iter().any(|m| m.contains("WATCHDOG=1")), "{msgs:?}");
}

#[test]
fn poll_logs_one_summary_and_warns_for_failures_only() {
    let (srv, mut urls) = farm(20);
    urls.push(srv.url("/missing.xml"));
    let env = Env::new(&config_with(&urls, ""));
    let o = env
        .cmd()
        .args(["poll", "--once"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(!o.status.success(), "one feed failed: exit 1");
    let err = stderr(&o);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(" INFO ") || l.contains(" WARN "))
        .collect();
    let warns: Vec<&&str> = lines.iter().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warns.len(), 1, "{err}");
    assert!(
        warns[0].contains("/missing.xml") && warns[0].contains("404"),
        "the failure names the feed and the reason: {err}"
    );
    let summaries: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("poll finished"))
        .collect();
    assert_eq!(summaries.len(), 1, "{err}");
    assert!(
        summaries[0].contains("21 feeds polled") && summaries[0].contains("1 errors"),
        "{err}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("newswatch::poller") && l.contains(" INFO ")),
        "no INFO line per feed: {err}"
    );
    // The per-feed lines are still there at DEBUG.
    let o = env
        .cmd()
        .args(["poll", "--once"])
        .env("RUST_LOG", "newswatch::poller=debug")
        .output()
        .unwrap();
    let polled = stderr(&o).lines().filter(|l| l.contains("polled")).count();
    assert!(polled >= 20, "{}", stderr(&o));
}

#[test]
fn poll_once_over_many_feeds_stores_each_feed() {
    // More feeds than polls may be in flight at once: all of them are still polled and stored.
    let (_srv, urls) = farm(150);
    let env = Env::new(&config_with(&urls, ""));
    let o = env.run(&["poll", "--once", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reports: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 150);
    // Reports come back in the order of the feed list.
    let ids: Vec<i64> = reports
        .iter()
        .map(|r| r["feed_id"].as_i64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(
        env.count("SELECT count(DISTINCT feed_id) FROM fetch_log WHERE status = 200"),
        150
    );
}

/// The daemon's logs as an operator reads them: deliveries summed up in one INFO line, a failing
/// feed and a failing sink named at WARN with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_logs_a_delivery_summary_and_names_failing_feeds_and_sinks() {
    let (good_url, good) = receiver::http_receiver(|_| (200, Duration::ZERO)).await;
    let down = format!("http://127.0.0.1:{}/hook", free_port());
    let (srv, mut urls) = farm(2);
    urls.push(srv.url("/missing.xml"));
    let extra = format!(
        "[log]\nsummary = \"1h\"\n\n[alerts]\ntick = \"50ms\"\nbackoff = \"50ms\"\nmax_backoff = \"200ms\"\nmax_attempts = 50\n\n\
         [[topic]]\nid = \"harbour\"\nquery = \"harbour\"\nsinks = [\"good\", \"down\"]\n\n\
         [[sink]]\nname = \"good\"\ntype = \"webhook\"\nurl = \"{good_url}\"\n\n\
         [[sink]]\nname = \"down\"\ntype = \"webhook\"\nurl = \"{down}\"\ntimeout = \"1s\"\n"
    );
    let env = Env::new(&config_with(&urls, &extra));
    let mut child = env.spawn_logged(&["run"], "info");
    let failed_attempt = "SELECT count(*) FROM alert_attempts WHERE NOT ok";
    wait_for_async(
        "deliveries to the good sink and a failure of the other",
        60,
        || {
            env.logs().contains("newswatch running")
                && good.lock().unwrap().len() >= 3
                && env.count(failed_attempt) >= 1
                && env.logs().contains("poll failed")
        },
    )
    .await;
    signal(&child, SIGTERM);
    assert!(child.wait().unwrap().success());
    let logs = env.logs();
    let info: Vec<&str> = logs.lines().filter(|l| l.contains(" INFO ")).collect();
    let summaries: Vec<&&str> = info
        .iter()
        .filter(|l| l.contains("alerts delivered"))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary for the run: {logs}");
    let delivered = good.lock().unwrap().len();
    assert!(
        summaries[0].contains(&format!("alerts={delivered}")),
        "{delivered} delivered: {logs}"
    );
    assert!(
        !info.iter().any(|l| l.contains("alert delivered")),
        "no INFO line per alert: {logs}"
    );
    let warn = |what: &str| -> Vec<&str> {
        logs.lines()
            .filter(|l| l.contains(" WARN ") && l.contains(what))
            .collect()
    };
    let feed = warn("poll failed");
    assert!(
        feed.iter()
            .all(|l| l.contains("feed_id=") && l.contains("/missing.xml") && l.contains("404")),
        "the failing feed and the reason: {logs}"
    );
    let sink = warn("alert delivery failed");
    assert!(
        !sink.is_empty()
            && sink
                .iter()
                .all(|l| l.contains("sink=down") && l.contains("alert_uid=")),
        "the failing sink and the alert: {logs}"
    );
}
