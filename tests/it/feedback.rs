//! Readers' marks on alerts, end to end: articles stored by the real binary (`ingest`), marked with
//! `alerts mark` and with the dashboard's form on the real HTTP server (with, without and with a
//! wrong CSRF token; with the bearer token), then read back by `topics test --feedback` and
//! `topics export-labels` (whose lines must be what the topic scorer reads).

use std::collections::HashMap;
use std::path::Path;

use crate::harness::{Env, stderr, stdout};
use newswatch::config::{Config, ServerConfig};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Two topics named like the shipped ones; `missile-launches` alerts two sinks, so one match has
/// two alerts.
fn config(missile_exclude: &str) -> String {
    format!(
        r#"
[store]
path = "test.db"

[[sink]]
name = "log-a"
type = "log"

[[sink]]
name = "log-b"
type = "log"

[[topic]]
id = "missile-launches"
query = 'missile*'
{missile_exclude}
sinks = ["log-a", "log-b"]

[[topic]]
id = "arms-deals"
query = '"arms deal*"'
sinks = ["log-a"]
"#
    )
}

const LAUNCH: &str = "Coastal test range fires a missile";
const FANS: &str = "Supporters hurled a missile at the linesman";
const DEAL: &str = "Parliament approves arms deal worth two billion";
const WEATHER: &str = "Rain expected over the weekend";

fn feed() -> String {
    crate::harness::rss(
        "Test Wire",
        &[
            (
                "launch",
                LAUNCH,
                "The navy fired a missile from the coastal range on Tuesday morning, officials said.",
            ),
            (
                "fans",
                FANS,
                "At the football match a missile thrown from the stands struck the linesman; the game stopped.",
            ),
            (
                "deal",
                DEAL,
                "The arms deal covers air-defence missile batteries to be delivered over four years.",
            ),
            (
                "weather",
                WEATHER,
                "Showers and cool winds are forecast for the whole region.",
            ),
        ],
    )
}

/// An env with the feed ingested: every topic match has raised its alerts.
fn ingested() -> Env {
    let e = Env::new(&config(""));
    let f = e.path("feed.xml");
    std::fs::write(&f, feed()).unwrap();
    let o = e.run(&["ingest", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    e
}

/// The alerts as `alerts list --format json` gives them: (title, topic, sink) → (id, uid).
fn alerts(e: &Env) -> HashMap<(String, String, String), (i64, String)> {
    let o = e.run(&["alerts", "list", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                (
                    a["title"].as_str().unwrap().to_string(),
                    a["topic"].as_str().unwrap().to_string(),
                    a["sink"].as_str().unwrap().to_string(),
                ),
                (
                    a["id"].as_i64().unwrap(),
                    a["uid"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

fn key(title: &str, topic: &str, sink: &str) -> (String, String, String) {
    (title.into(), topic.into(), sink.into())
}

/// The marks in the database: (article title, topic, label).
fn marks(e: &Env) -> Vec<(String, String, String)> {
    e.conn().rows(
        "SELECT a.title, m.topic, f.label FROM feedback f JOIN matches m ON m.id = f.match_id
         JOIN articles a ON a.id = m.article_id ORDER BY a.title, m.topic",
        &[],
    )
}

fn mark(e: &Env, id: &str, label: &str) -> std::process::Output {
    e.run(&["alerts", "mark", id, label])
}

fn feedback_json(e: &Env, topic: &str) -> Value {
    let o = e.run(&["topics", "test", topic, "--feedback", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn marks_from_the_command_line_key_on_the_match() {
    let e = ingested();
    let al = alerts(&e);
    assert_eq!(al.len(), 7, "{al:?}"); // three missile matches × two sinks, one deal
    let (launch_a, _) = &al[&key(LAUNCH, "missile-launches", "log-a")];
    let (fans_a, fans_uid) = &al[&key(FANS, "missile-launches", "log-a")];
    let (fans_b, _) = &al[&key(FANS, "missile-launches", "log-b")];

    let o = mark(&e, &launch_a.to_string(), "relevant");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("marked relevant"), "{}", stdout(&o));
    // By uid, then through the other sink's alert of the same match: one mark, replaced.
    assert!(mark(&e, fans_uid, "relevant").status.success());
    let o = mark(&e, &fans_b.to_string(), "irrelevant");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(was relevant)"), "{}", stdout(&o));
    assert_eq!(
        marks(&e),
        vec![
            (LAUNCH.into(), "missile-launches".into(), "relevant".into()),
            (FANS.into(), "missile-launches".into(), "irrelevant".into()),
        ]
    );
    let (alert, via, at): (i64, String, i64) = e.conn().row(
        "SELECT alert_id, via, marked_at FROM feedback WHERE alert_id IN (?1, ?2)",
        &[fans_a, fans_b],
    );
    assert_eq!(
        (alert, via.as_str()),
        (*fans_b, "cli"),
        "the last mark wins"
    );
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        now - at < 120_000 && at <= now,
        "the time of the mark is stored: {at}"
    );

    // Unknown alert: runtime failure, exit 1, one clear line, nothing written.
    let o = mark(&e, "999999", "relevant");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no alert with id or uid \"999999\""),
        "{}",
        stderr(&o)
    );
    let o = mark(&e, "nw-no-such-uid", "irrelevant");
    assert_eq!(o.status.code(), Some(1));
    // A label that is neither: bad usage, exit 2.
    let o = mark(&e, &launch_a.to_string(), "maybe");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(marks(&e).len(), 2);
}

#[test]
fn topics_test_feedback_reports_precision_and_the_irrelevant_alerts() {
    let e = ingested();
    let o = e.run(&["topics", "test", "missile-launches", "--feedback"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("no marked alerts"), "{}", stdout(&o));

    let al = alerts(&e);
    for (title, label) in [
        (LAUNCH, "relevant"),
        (FANS, "irrelevant"),
        (DEAL, "relevant"),
    ] {
        let (id, _) = &al[&key(title, "missile-launches", "log-b")];
        assert!(mark(&e, &id.to_string(), label).status.success());
    }
    let (deal, _) = &al[&key(DEAL, "arms-deals", "log-a")];
    assert!(mark(&e, &deal.to_string(), "relevant").status.success());

    let r = feedback_json(&e, "missile-launches");
    assert_eq!(
        (
            r["marked"].as_i64(),
            r["relevant"].as_i64(),
            r["irrelevant"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert!(
        (r["precision"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{r}"
    );
    assert_eq!(r["by_lang"]["en"]["marked"], 3, "{r}");
    let bad = r["irrelevant_alerts"].as_array().unwrap();
    assert_eq!(bad.len(), 1, "{r}");
    assert_eq!(bad[0]["title"], FANS);
    assert_eq!(bad[0]["terms"], serde_json::json!(["missile*"]));
    assert!(
        bad[0]["snippet"].as_str().unwrap().contains("[[missile]]"),
        "{r}"
    );
    assert_eq!(bad[0]["still_matches"], true);
    assert_eq!(r["current"]["precision"], r["precision"]);
    assert_eq!(feedback_json(&e, "arms-deals")["precision"], 1.0);

    // The table names the precision and the irrelevant alert with its terms.
    let o = e.run(&["topics", "test", "missile-launches", "--feedback"]);
    let out = stdout(&o);
    assert!(
        out.contains("3 marked, 2 relevant, 1 irrelevant, precision 0.667"),
        "{out}"
    );
    assert!(out.contains(FANS) && out.contains("missile*"), "{out}");

    // The topic edited against the error: the report shows what the edit does to the marks.
    std::fs::write(&e.config, config("exclude = 'football'")).unwrap();
    let r = feedback_json(&e, "missile-launches");
    assert_eq!(
        r["precision"].as_f64().unwrap(),
        2.0 / 3.0,
        "the marks do not change"
    );
    assert_eq!(r["current"]["matched"], 2);
    assert_eq!(r["current"]["precision"], 1.0);
    assert_eq!(r["irrelevant_alerts"][0]["still_matches"], false);

    // Marks made later than --since are all there is; an unknown topic is bad usage.
    assert_eq!(feedback_json_args(&e, &["--since", "1h"])["marked"], 3);
    let o = e.run(&["topics", "test", "no-such-topic", "--feedback"]);
    assert_eq!(o.status.code(), Some(2));
}

fn feedback_json_args(e: &Env, extra: &[&str]) -> Value {
    let mut args = vec![
        "topics",
        "test",
        "missile-launches",
        "--feedback",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = e.run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// Reads labelled lines the way `score-topics` does: every line has id, title, text, a string
/// lang, and a 0/1 label for every topic it scores.
fn read_like_the_scorer(text: &str, labels: &[&str]) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let it: Value = serde_json::from_str(line).unwrap();
        for f in ["id", "title", "text", "lang"] {
            assert!(it[f].is_string(), "{f} in {line}");
        }
        for l in labels {
            let v = it[l].as_i64();
            assert!(matches!(v, Some(0 | 1)), "{l} in {line}");
        }
        out.insert(it["title"].as_str().unwrap().to_string(), it);
    }
    out
}

#[test]
fn export_labels_writes_the_eval_format() {
    let e = ingested();
    let al = alerts(&e);
    let m = |title: &str, topic: &str, label: &str| {
        let (id, _) = &al[&key(title, topic, "log-a")];
        assert!(mark(&e, &id.to_string(), label).status.success());
    };
    m(LAUNCH, "missile-launches", "relevant");
    m(FANS, "missile-launches", "irrelevant");
    // The deal article matched both topics; only one is marked: it is left out for now.
    m(DEAL, "arms-deals", "relevant");
    let out = e.path("labels.jsonl");
    let o = e.run(&["topics", "export-labels", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 marked article(s) left out"),
        "{}",
        stderr(&o)
    );
    let got = read_like_the_scorer(
        &std::fs::read_to_string(&out).unwrap(),
        &["arms_deals", "missile_launches"],
    );
    assert_eq!(got.len(), 2, "{got:?}");
    let launch = &got[LAUNCH];
    assert_eq!(
        (
            launch["missile_launches"].as_i64(),
            launch["arms_deals"].as_i64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(launch["lang"], "en");
    assert_eq!(launch["source"], "Test Wire");
    assert!(
        launch["text"]
            .as_str()
            .unwrap()
            .starts_with("The navy fired")
    );
    assert!(launch["id"].as_str().unwrap().starts_with("article-"));
    assert_eq!(got[FANS]["missile_launches"], 0);

    // Once every topic that matched it is marked, the deal article is exported: a relevant mark is
    // 1, an irrelevant one 0. Written to stdout without --out.
    m(DEAL, "missile-launches", "irrelevant");
    let o = e.run(&["topics", "export-labels"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = read_like_the_scorer(&stdout(&o), &["arms_deals", "missile_launches"]);
    assert_eq!(got.len(), 3);
    assert_eq!(
        (
            got[DEAL]["arms_deals"].as_i64(),
            got[DEAL]["missile_launches"].as_i64()
        ),
        (Some(1), Some(0))
    );
    assert!(!got.contains_key(WEATHER));
}

// ---------------------------------------------------------------- the dashboard form

async fn serve(e: &Env, token: Option<&str>) -> (newswatch::web::Server, CancellationToken) {
    let cfg = ServerConfig {
        enabled: true,
        bind: "127.0.0.1:0".into(),
        token: token.map(str::to_string),
        ..Default::default()
    };
    let topics = Config::load(&e.config).unwrap().topics;
    let stop = CancellationToken::new();
    let s = newswatch::web::start(&cfg, Path::new("."), topics, &e.db, stop.clone())
        .await
        .unwrap();
    (s, stop)
}

fn client() -> reqwest::Client {
    newswatch::util::install_tls_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The mark forms of a page: alert id → its CSRF token.
fn forms(page: &str) -> HashMap<i64, String> {
    let mut out = HashMap::new();
    for part in page.split("action=\"/alerts/").skip(1) {
        let id: i64 = part[..part.find('/').unwrap()].parse().unwrap();
        let tok = part.split("name=\"csrf\" value=\"").nth(1).unwrap();
        out.insert(id, tok[..tok.find('"').unwrap()].to_string());
    }
    out
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

async fn post(url: &str, bearer: Option<&str>, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut r = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(fields));
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn get_text(url: &str, bearer: Option<&str>) -> String {
    let mut r = client().get(url);
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_form_marks_with_a_csrf_token_only() {
    let e = ingested();
    let al = alerts(&e);
    let (fans, _) = al[&key(FANS, "missile-launches", "log-a")];
    let (launch, _) = al[&key(LAUNCH, "missile-launches", "log-a")];
    let (srv, stop) = serve(&e, None).await;
    let base = format!("http://{}", srv.addr);

    let r = client().get(format!("{base}/")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(
        !page.to_lowercase().contains("<script"),
        "the dashboard stays script-free"
    );
    let tokens = forms(&page);
    assert_eq!(tokens.len(), 7, "a form per alert: {tokens:?}");
    let url = format!("{base}/alerts/{fans}/mark");

    // Without a token, with an empty one, with another alert's token: 403, nothing written.
    for fields in [
        vec![("label", "irrelevant")],
        vec![("label", "irrelevant"), ("csrf", "")],
        vec![("label", "irrelevant"), ("csrf", tokens[&launch].as_str())],
        vec![("label", "irrelevant"), ("csrf", &"0".repeat(64))],
    ] {
        let r = post(&url, None, &fields).await;
        assert_eq!(r.status(), 403, "{fields:?}");
    }
    assert!(marks(&e).is_empty());

    // With its token: marked, and the browser is sent back to the dashboard.
    let r = post(
        &url,
        None,
        &[
            ("label", "irrelevant"),
            ("csrf", &tokens[&fans]),
            ("back", "/"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    assert_eq!(
        marks(&e),
        vec![(FANS.into(), "missile-launches".into(), "irrelevant".into())]
    );
    let via: String = e.conn().one("SELECT via FROM feedback", &[]);
    assert_eq!(via, "web");
    let page = get_text(&format!("{base}/"), None).await;
    assert!(
        page.contains("marked irrelevant"),
        "the dashboard shows the mark"
    );

    // A bad label is refused; a foreign `back` is not followed.
    let r = post(&url, None, &[("label", "maybe"), ("csrf", &tokens[&fans])]).await;
    assert_eq!(r.status(), 400);
    let r = post(
        &url,
        None,
        &[
            ("label", "relevant"),
            ("csrf", &tokens[&fans]),
            ("back", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    assert_eq!(marks(&e)[0].2, "relevant", "re-marking replaces");

    // The article page has a form per alerted match, returning to the article.
    let article: i64 = e
        .conn()
        .one("SELECT id FROM articles WHERE title = ?1", &[&DEAL]);
    let page = get_text(&format!("{base}/articles/{article}"), None).await;
    let art_forms = forms(&page);
    assert_eq!(art_forms.len(), 2, "{page}");
    let (deal, _) = al[&key(DEAL, "arms-deals", "log-a")];
    let back = format!("/articles/{article}");
    let r = post(
        &format!("{base}/alerts/{deal}/mark"),
        None,
        &[
            ("label", "relevant"),
            ("csrf", &art_forms[&deal]),
            ("back", &back),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], back.as_str());
    assert_eq!(marks(&e).len(), 2);

    // A token from an earlier server run is refused by the next one.
    stop.cancel();
    srv.wait().await.unwrap();
    let (srv, stop) = serve(&e, None).await;
    let r = post(
        &format!("http://{}/alerts/{fans}/mark", srv.addr),
        None,
        &[("label", "irrelevant"), ("csrf", &tokens[&fans])],
    )
    .await;
    assert_eq!(r.status(), 403);
    stop.cancel();
    srv.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_form_still_needs_the_bearer_token() {
    let e = ingested();
    let (srv, stop) = serve(&e, Some("s3cret-token")).await;
    let base = format!("http://{}", srv.addr);
    let page = get_text(&format!("{base}/"), Some("s3cret-token")).await;
    let (id, tok) = forms(&page).into_iter().next().unwrap();
    let url = format!("{base}/alerts/{id}/mark");
    let fields = [("label", "relevant"), ("csrf", tok.as_str())];
    assert_eq!(post(&url, None, &fields).await.status(), 401);
    assert_eq!(post(&url, Some("wrong"), &fields).await.status(), 401);
    assert!(marks(&e).is_empty());
    assert_eq!(
        post(&url, Some("s3cret-token"), &fields).await.status(),
        303
    );
    assert_eq!(marks(&e).len(), 1);
    stop.cancel();
    srv.wait().await.unwrap();
}
