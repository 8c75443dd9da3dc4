//! `type = "slack"` and `type = "discord"`: incoming-webhook payloads of the two chat services.
//! The webhook URL is a credential: it may come from `env:NAME` / `file:PATH`, and errors name
//! only its host.
//!
//! Feed text is untrusted. Slack: `&`, `<`, `>` are escaped (so no `<!channel>` or fake links can
//! be injected). Discord: markdown characters are escaped and `allowed_mentions` is empty (no
//! `@everyone`). Both are cut to the services' size limits.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{SinkError, check_url, default_http_timeout, http_client, parse_http_url, send_http};
use crate::alerts::{Alert, Message, Secret, mark_snippet, one_line, truncate};
use crate::topics::Severity;
use crate::util::serde_duration;

/// `[[sink]] type = "slack"` or `type = "discord"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// The incoming-webhook URL. May be `env:NAME` / `file:PATH` (it is a credential).
    pub url: Secret,
    /// Display name of the poster, where the service allows overriding it.
    #[serde(default)]
    pub username: Option<String>,
    /// Deadline of one delivery (default 10s).
    #[serde(default = "default_http_timeout", with = "serde_duration")]
    pub timeout: Duration,
}

impl ChatConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_url("url", &self.url)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Slack,
    Discord,
}

pub struct ChatSink {
    flavor: Flavor,
    client: reqwest::Client,
    url: url::Url,
    host: String,
    username: Option<String>,
    pub timeout: Duration,
}

/// Alerts listed in one digest message; the rest are counted.
const MAX_ITEMS: usize = 10;

impl ChatSink {
    pub fn build(flavor: Flavor, c: &ChatConfig, base_dir: &Path) -> Result<ChatSink, String> {
        let url = parse_http_url(
            "url",
            &c.url.resolve(base_dir).map_err(|e| format!("url: {e}"))?,
        )?;
        Ok(ChatSink {
            flavor,
            client: http_client(c.timeout)?,
            host: url.host_str().unwrap_or_default().to_string(),
            url,
            username: c.username.clone(),
            timeout: c.timeout,
        })
    }

    pub fn payload(&self, msg: &Message) -> Value {
        match self.flavor {
            Flavor::Slack => slack_payload(msg, self.username.as_deref()),
            Flavor::Discord => discord_payload(msg, self.username.as_deref()),
        }
    }

    pub async fn send(&self, msg: &Message) -> Result<(), SinkError> {
        let req = self
            .client
            .post(self.url.clone())
            .header("X-Newswatch-Alert-Id", msg.uid())
            .json(&self.payload(msg));
        send_http(req, &self.host).await
    }
}

/// Slack mrkdwn escaping: the three characters Slack's docs say to escape.
pub fn slack_escape(s: &str) -> String {
    one_line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack_item(a: &Alert) -> String {
    let title = slack_escape(&a.title);
    let head = match &a.link {
        // A link's URL must not contain `|` or `>`; escape both.
        Some(l) => format!("*<{}|{}>*", slack_escape(l).replace('|', "%7C"), title),
        None => format!("*{title}*"),
    };
    let snippet = mark_snippet(&slack_escape(&a.snippet), "*", "*");
    let feed = a.feed.as_deref().map(slack_escape).unwrap_or_default();
    truncate(
        &format!(
            "{head}\n{snippet}\n_{} · {} · {} · {}_",
            slack_escape(&a.topic),
            a.severity.name(),
            feed,
            crate::util::count_noun(a.sources, "source"),
        ),
        2900,
    )
}

fn slack_payload(msg: &Message, username: Option<&str>) -> Value {
    let items = msg.alerts();
    let mut blocks: Vec<Value> = items
        .iter()
        .take(MAX_ITEMS)
        .map(|a| json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_item(a)}}))
        .collect();
    if items.len() > MAX_ITEMS {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("and {} more", items.len() - MAX_ITEMS)}]}));
    }
    let mut v = json!({"text": slack_escape(&msg.subject()), "blocks": blocks});
    if let Some(u) = username {
        v["username"] = json!(u);
    }
    v
}

/// Escapes Discord markdown so feed text renders literally (no masked links, no formatting).
pub fn discord_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '[' | ']' | '(' | ')' | '#' | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn color(s: Severity) -> u32 {
    match s {
        Severity::Low => 0x95a5a6,
        Severity::Medium => 0x3498db,
        Severity::High => 0xe67e22,
        Severity::Critical => 0xe74c3c,
    }
}

fn discord_embed(a: &Alert) -> Value {
    // Mark first (with private-use placeholders), then escape, then turn the marks into bold.
    let snippet = discord_escape(&mark_snippet(&a.snippet, "\u{E000}", "\u{E001}"))
        .replace(['\u{E000}', '\u{E001}'], "**");
    let mut e = json!({
        "title": truncate(&one_line(&a.title), 256),
        "description": truncate(&snippet, 4000),
        "color": color(a.severity),
        "fields": [
            {"name": "Topic", "value": truncate(&discord_escape(&a.topic), 1000), "inline": true},
            {"name": "Severity", "value": a.severity.name(), "inline": true},
            {"name": "Sources", "value": a.sources.to_string(), "inline": true},
        ],
        "footer": {"text": truncate(&format!("{} · {}", a.feed.as_deref().map(one_line).unwrap_or_default(), a.uid), 2000)},
    });
    if let Some(l) = &a.link
        && url::Url::parse(l).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https")
    {
        e["url"] = json!(l);
    }
    if let Some(p) = &a.published_at {
        e["timestamp"] = json!(p);
    }
    e
}

fn discord_payload(msg: &Message, username: Option<&str>) -> Value {
    let items = msg.alerts();
    let mut content = discord_escape(&msg.subject());
    if items.len() > MAX_ITEMS {
        content.push_str(&format!(" (first {MAX_ITEMS} of {})", items.len()));
    }
    let mut v = json!({
        "content": truncate(&content, 2000),
        "embeds": items.iter().take(MAX_ITEMS).map(discord_embed).collect::<Vec<_>>(),
        "allowed_mentions": {"parse": []},
    });
    if let Some(u) = username {
        v["username"] = json!(u);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::testutil::alert;
    use super::*;
    use crate::alerts::Digest;

    #[test]
    fn digests_list_items_up_to_the_limit() {
        let mut alerts = Vec::new();
        for i in 0..12 {
            let mut a = alert();
            a.uid = format!("nw-{i}");
            alerts.push(a);
        }
        let m = Message::Digest(Digest {
            uid: "nw-d-1".into(),
            topic: "t".into(),
            severity: Severity::Low,
            count: 12,
            alerts,
        });
        let v = slack_payload(&m, None);
        assert_eq!(v["blocks"].as_array().unwrap().len(), MAX_ITEMS + 1);
        let v = discord_payload(&m, None);
        assert_eq!(v["embeds"].as_array().unwrap().len(), MAX_ITEMS);
    }

    #[test]
    fn secret_url_errors_name_the_variable() {
        let c = ChatConfig {
            url: Secret::new("env:NW_NO_SUCH_SLACK_URL"),
            username: None,
            timeout: Duration::from_secs(5),
        };
        c.validate().unwrap();
        let e = ChatSink::build(Flavor::Slack, &c, Path::new("."))
            .err()
            .unwrap();
        assert!(e.contains("NW_NO_SUCH_SLACK_URL"), "{e}");
    }
}
