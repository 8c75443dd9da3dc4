//! The HTTP sinks one by one, against the harness's webhook receiver: what each puts on the wire
//! for one alert (headers, JSON payload, escaping). Delivery, retries and signatures end to end
//! are in `alerts`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use newswatch::alerts::sinks::chat::{ChatConfig, ChatSink, Flavor};
use newswatch::alerts::sinks::ntfy::{NtfyConfig, NtfySink};
use newswatch::alerts::sinks::webhook::{WebhookConfig, WebhookSink, verify_signature};
use newswatch::alerts::{Alert, Message, Secret};
use serde_json::{Value, json};

use crate::harness::receiver::{Req, http_receiver};

/// An alert with markup, a mention and marked words, as the sinks must escape them.
fn alert() -> Alert {
    serde_json::from_value(json!({
        "uid": "nw-test-1",
        "topic": "missile-launches",
        "severity": "high",
        "title": "North Korea fires <b>two</b> missiles @everyone",
        "link": "https://news.example/a?id=1",
        "feed": "Example News",
        "feed_url": "https://news.example/feed.xml",
        "lang": "en",
        "published_at": "2026-11-27T08:00:00Z",
        "matched_at": "2026-11-27T08:05:00Z",
        "terms": ["missile*", "fired"],
        "snippet": "Pyongyang [[fired]] two short-range ballistic [[missiles]] this morning",
        "sources": 3,
        "article_id": 42,
    }))
    .unwrap()
}

/// The one request the receiver got.
fn only(log: &crate::harness::receiver::Log) -> Req {
    let reqs = log.lock().unwrap();
    assert_eq!(reqs.len(), 1);
    reqs[0].clone()
}

#[tokio::test]
async fn ntfy_publishes_json_to_the_server() {
    let (url, log) = http_receiver(|_| (200, Duration::ZERO)).await;
    let c = NtfyConfig {
        server: url,
        topic: "osint-alerts".into(),
        token: Some(Secret::new("tk_abc")),
        timeout: Duration::from_secs(5),
    };
    c.validate().unwrap();
    let sink = NtfySink::build(&c, Path::new(".")).unwrap();
    sink.send(&Message::Alert(alert())).await.unwrap();
    let r = only(&log);
    assert_eq!(r.headers["authorization"], "Bearer tk_abc");
    assert_eq!(r.headers["x-newswatch-alert-id"], "nw-test-1");
    let v = r.json();
    assert_eq!(v["topic"], "osint-alerts");
    assert_eq!(v["priority"], 4);
    assert_eq!(v["click"], "https://news.example/a?id=1");
    let title = v["title"].as_str().unwrap();
    assert!(title.starts_with("[high] missile-launches: North Korea"));
    assert!(v["message"].as_str().unwrap().contains("*fired*"));
}

async fn chat(flavor: Flavor, status: u16, path: &str) -> Value {
    let (url, log) = http_receiver(move |_| (status, Duration::ZERO)).await;
    let c = ChatConfig {
        url: Secret::new(format!("{url}{path}")),
        username: Some("newswatch".into()),
        timeout: Duration::from_secs(5),
    };
    c.validate().unwrap();
    let sink = ChatSink::build(flavor, &c, Path::new(".")).unwrap();
    sink.send(&Message::Alert(alert())).await.unwrap();
    only(&log).json()
}

#[tokio::test]
async fn slack_payload_is_escaped_mrkdwn() {
    let v = chat(Flavor::Slack, 200, "/services/T0/B0/XYZ").await;
    let text = v["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "*<https://news.example/a?id=1|North Korea fires &lt;b&gt;two&lt;/b&gt; missiles"
        ),
        "{text}"
    );
    assert!(text.contains("*fired*"), "{text}");
    assert!(!text.contains("<b>"));
    assert_eq!(v["username"], "newswatch");
    assert!(v["text"].as_str().unwrap().contains("missile-launches"));
}

#[tokio::test]
async fn discord_payload_has_embeds_and_no_mentions() {
    let v = chat(Flavor::Discord, 204, "/api/webhooks/1/abc").await;
    assert_eq!(v["allowed_mentions"]["parse"], json!([]));
    let e = &v["embeds"][0];
    assert_eq!(e["url"], "https://news.example/a?id=1");
    assert!(e["description"].as_str().unwrap().contains("**fired**"));
    assert_eq!(e["color"], 0xe67e22);
    assert!(v["content"].as_str().unwrap().contains("\\@everyone"));
}

fn webhook(url: &str, secret: Option<&str>) -> WebhookSink {
    let c = WebhookConfig {
        url: Secret::new(url),
        secret: secret.map(Secret::new),
        headers: BTreeMap::from([("Authorization".to_string(), Secret::new("Bearer t0k"))]),
        timeout: Duration::from_secs(5),
    };
    WebhookSink::build(&c, Path::new(".")).unwrap()
}

#[tokio::test]
async fn webhook_posts_signed_json_with_alert_id() {
    let (url, log) = http_receiver(|_| (200, Duration::ZERO)).await;
    let sink = webhook(&url, Some("s3cret"));
    sink.send(&Message::Alert(alert())).await.unwrap();
    let r = only(&log);
    assert_eq!(r.path, "/hook");
    assert_eq!(r.headers["x-newswatch-alert-id"], "nw-test-1");
    assert_eq!(r.headers["x-newswatch-event"], "alert");
    assert_eq!(r.headers["authorization"], "Bearer t0k");
    let signature = &r.headers["x-newswatch-signature"];
    assert!(verify_signature(b"s3cret", &r.body, signature));
    let v = r.json();
    assert_eq!(v["uid"], "nw-test-1");
    assert_eq!(v["terms"][1], "fired");
}

#[tokio::test]
async fn webhook_without_secret_sends_no_signature_and_errors_carry_status() {
    let (url, log) = http_receiver(|_| (503, Duration::ZERO)).await;
    let sink = webhook(&url, None);
    let e = sink.send(&Message::Alert(alert())).await.unwrap_err();
    assert!(e.message.contains("503"), "{e}");
    assert!(!only(&log).headers.contains_key("x-newswatch-signature"));
}
