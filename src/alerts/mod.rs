//! Alerts: the `[[sink]]` configuration, the alert payload, the sinks that deliver it, and the
//! dispatcher that drains the outbox.
//!
//! Flow: the store writes one outbox row per (match, sink) in the transaction that stores the
//! match (`Store::commit_fetch`). The [`dispatcher`] reads due rows, groups digests,
//! applies per-topic rate limits, delivers through [`sinks`], and records every attempt.
//!
//! Invariants:
//! - An alert is written before it is sent, and marked delivered only after its sink said so:
//!   delivery is at-least-once, and every delivery carries the alert's stable `uid` (a digest
//!   carries its own stable uid, and the uids of the alerts it lists).
//! - Nothing is dropped: a down sink, a rate limit or a digest window only postpones a row;
//!   only `max_attempts` failed attempts mark it `failed` (and `alerts retry` revives it).
//! - Secrets (`env:NAME`, `file:PATH`) are resolved when the sinks are built, at daemon start;
//!   a missing one is a startup error naming the sink and the variable or file.
//! - Feed text in a payload is untrusted: each sink escapes it for its medium (Slack/Discord
//!   markup, mention suppression, control characters out of text bodies).

pub mod dispatcher;
pub mod sinks;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::topics::{Severity, TopicConfig};
use crate::util::parse_duration;

pub use dispatcher::Dispatcher;
pub use sinks::{Sink, SinkError};

/// A `[[sink]]` section of config.toml: a `name`, a `type`, and the typed fields of that type.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
}

/// The typed configuration of each sink type. Every struct is `deny_unknown_fields`.
#[derive(Debug, Clone)]
pub enum SinkKind {
    Log(sinks::log::LogConfig),
    Stdout(sinks::stdout::StdoutConfig),
    Webhook(sinks::webhook::WebhookConfig),
    Ntfy(sinks::ntfy::NtfyConfig),
    Slack(sinks::chat::ChatConfig),
    Discord(sinks::chat::ChatConfig),
    Email(sinks::email::EmailConfig),
    Command(sinks::command::CommandConfig),
}

const SINK_TYPES: &str = "log, stdout, webhook, ntfy, slack, discord, email, command";

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let name = match table.remove("name") {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
            Some(_) => return Err(D::Error::custom("sink: `name` must be a non-empty string")),
            None => return Err(D::Error::custom("sink: missing field `name`")),
        };
        let ty = match table.remove("type") {
            Some(toml::Value::String(s)) => s,
            Some(_) => {
                return Err(D::Error::custom(format!(
                    "sink {name:?}: `type` must be a string"
                )));
            }
            None => {
                return Err(D::Error::custom(format!(
                    "sink {name:?}: missing field `type` (one of {SINK_TYPES})"
                )));
            }
        };
        let rest = toml::Value::Table(table);
        fn typed<T: serde::de::DeserializeOwned>(
            v: toml::Value,
            name: &str,
            ty: &str,
        ) -> Result<T, String> {
            v.try_into::<T>()
                .map_err(|e| format!("sink {name:?} (type {ty:?}): {}", e.message().trim()))
        }
        let kind = match ty.as_str() {
            "log" => typed(rest, &name, &ty).map(SinkKind::Log),
            "stdout" => typed(rest, &name, &ty).map(SinkKind::Stdout),
            "webhook" => typed(rest, &name, &ty).map(SinkKind::Webhook),
            "ntfy" => typed(rest, &name, &ty).map(SinkKind::Ntfy),
            "slack" => typed(rest, &name, &ty).map(SinkKind::Slack),
            "discord" => typed(rest, &name, &ty).map(SinkKind::Discord),
            "email" => typed(rest, &name, &ty).map(SinkKind::Email),
            "command" => typed(rest, &name, &ty).map(SinkKind::Command),
            other => Err(format!(
                "sink {name:?}: unknown type {other:?} (one of {SINK_TYPES})"
            )),
        }
        .map_err(D::Error::custom)?;
        Ok(SinkConfig { name, kind })
    }
}

impl SinkConfig {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sink's type as written in config.toml.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            SinkKind::Log(_) => "log",
            SinkKind::Stdout(_) => "stdout",
            SinkKind::Webhook(_) => "webhook",
            SinkKind::Ntfy(_) => "ntfy",
            SinkKind::Slack(_) => "slack",
            SinkKind::Discord(_) => "discord",
            SinkKind::Email(_) => "email",
            SinkKind::Command(_) => "command",
        }
    }

    /// Checks what can be checked without the environment: URLs, addresses, programs, timeouts,
    /// the syntax of secret references. (Secrets themselves are resolved when the sink is built.)
    pub fn validate(&self) -> Result<(), String> {
        match &self.kind {
            SinkKind::Log(_) | SinkKind::Stdout(_) => Ok(()),
            SinkKind::Webhook(c) => c.validate(),
            SinkKind::Ntfy(c) => c.validate(),
            SinkKind::Slack(c) | SinkKind::Discord(c) => c.validate(),
            SinkKind::Email(c) => c.validate(),
            SinkKind::Command(c) => c.validate(),
        }
    }
}

/// A value that may name where it lives instead of being written in config.toml:
/// `env:NAME` (an environment variable), `file:PATH` (a file, trailing newline dropped; relative
/// to the config file's directory), or the value itself. `Debug` never prints a literal value.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// Checks the reference's syntax.
    pub fn check(&self) -> Result<(), String> {
        if let Some(name) = self.0.strip_prefix("env:") {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(format!("invalid environment variable name in {:?}", self.0));
            }
        } else if self.0.strip_prefix("file:").is_some_and(str::is_empty) {
            return Err("empty path in \"file:\"".into());
        }
        Ok(())
    }

    /// The value, read from the environment or a file if the secret names one.
    pub fn resolve(&self, base_dir: &Path) -> Result<String, String> {
        self.check()?;
        if let Some(name) = self.0.strip_prefix("env:") {
            match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(v),
                Ok(_) => Err(format!("environment variable {name} is empty")),
                Err(_) => Err(format!("environment variable {name} is not set")),
            }
        } else if let Some(path) = self.0.strip_prefix("file:") {
            let p = base_dir.join(path);
            let v = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read secret file {}: {e}", p.display()))?;
            let v = v.trim_end_matches(['\r', '\n']).to_string();
            if v.is_empty() {
                return Err(format!("secret file {} is empty", p.display()));
            }
            Ok(v)
        } else {
            Ok(self.0.clone())
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.starts_with("env:") || self.0.starts_with("file:") {
            write!(f, "Secret({:?})", self.0)
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

/// One matched article as a sink receives it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// Stable id of this (article, topic, sink): receivers drop a redelivery by it.
    pub uid: String,
    pub topic: String,
    pub severity: Severity,
    pub title: String,
    pub link: Option<String>,
    /// The feed's name (or title, or URL).
    pub feed: Option<String>,
    pub feed_url: Option<String>,
    pub lang: Option<String>,
    /// RFC 3339, UTC.
    pub published_at: Option<String>,
    pub matched_at: String,
    /// The query terms that fired.
    pub terms: Vec<String>,
    /// A passage of the article with the matched words marked `[[like this]]`.
    pub snippet: String,
    /// How many distinct feeds carry the story (at delivery time).
    pub sources: i64,
    pub article_id: i64,
}

/// Several alerts of one topic for one sink, sent as one message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Digest {
    /// Stable id of this digest (the same on every redelivery).
    pub uid: String,
    pub topic: String,
    pub severity: Severity,
    pub count: usize,
    pub alerts: Vec<Alert>,
}

/// What a sink delivers: one alert, or a digest. JSON: `{"type":"alert",...}` / `{"type":"digest",...}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Message {
    Alert(Alert),
    Digest(Digest),
}

impl Message {
    pub fn uid(&self) -> &str {
        match self {
            Message::Alert(a) => &a.uid,
            Message::Digest(d) => &d.uid,
        }
    }

    pub fn topic(&self) -> &str {
        match self {
            Message::Alert(a) => &a.topic,
            Message::Digest(d) => &d.topic,
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Message::Alert(a) => a.severity,
            Message::Digest(d) => d.severity,
        }
    }

    pub fn alerts(&self) -> &[Alert] {
        match self {
            Message::Alert(a) => std::slice::from_ref(a),
            Message::Digest(d) => &d.alerts,
        }
    }

    /// The JSON body every JSON sink (stdout, webhook, command) sends.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("alert payload serializes")
    }

    /// A one-line title: `[high] missile-launches: North Korea fires ...` or `... 3 new matches`.
    /// Control characters removed.
    pub fn subject(&self) -> String {
        let s = match self {
            Message::Alert(a) => {
                format!("[{}] {}: {}", a.severity.name(), a.topic, a.title)
            }
            Message::Digest(d) => format!(
                "[{}] {}: {} new matches",
                d.severity.name(),
                d.topic,
                d.count
            ),
        };
        one_line(&s)
    }

    /// A plain-text body (email, ntfy): each alert's title, link, feed, time, terms and snippet
    /// with the matched words shown as `*word*`. Control characters (other than newlines) removed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, a) in self.alerts().iter().enumerate() {
            if i > 0 {
                out.push_str("\n----\n\n");
            }
            out.push_str(&format!("{}\n", one_line(&a.title)));
            if let Some(l) = &a.link {
                out.push_str(&format!("{}\n", one_line(l)));
            }
            out.push('\n');
            out.push_str(&format!(
                "{}\n\n",
                clean_text(&mark_snippet(&a.snippet, "*", "*"))
            ));
            out.push_str(&format!("Topic: {} ({})\n", a.topic, a.severity.name()));
            out.push_str(&format!("Terms: {}\n", one_line(&a.terms.join(", "))));
            if let Some(f) = &a.feed {
                out.push_str(&format!("Feed: {}\n", one_line(f)));
            }
            if let Some(p) = &a.published_at {
                out.push_str(&format!("Published: {p}\n"));
            }
            if let Some(l) = &a.lang {
                out.push_str(&format!("Language: {}\n", one_line(l)));
            }
            out.push_str(&format!("Sources: {}\n", a.sources));
            out.push_str(&format!("Alert-Id: {}\n", a.uid));
        }
        if let Message::Digest(d) = self {
            out.push_str(&format!("\nDigest-Id: {}\n", d.uid));
        }
        out
    }
}

/// Replaces the matcher's `[[`/`]]` marks with `open`/`close`.
pub fn mark_snippet(snippet: &str, open: &str, close: &str) -> String {
    snippet.replace("[[", open).replace("]]", close)
}

/// Text with control characters other than newline and tab removed (no terminal escapes).
pub fn clean_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Text on one line: every control character (newlines included) becomes a space.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Truncates to at most `max` characters, ending with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `N/DURATION`, e.g. `10/1h`: at most N deliveries per sink in any window of that length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub window: Duration,
}

impl RateLimit {
    pub fn parse(s: &str) -> Result<RateLimit, String> {
        let (n, w) = s.split_once('/').ok_or_else(|| {
            format!("invalid rate_limit {s:?}: expected N/DURATION such as \"10/1h\"")
        })?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("invalid rate_limit {s:?}: {n:?} is not a whole number"))?;
        if count == 0 {
            return Err(format!(
                "invalid rate_limit {s:?}: the count must be at least 1"
            ));
        }
        let w = w.trim();
        // `10/h` means `10/1h`.
        let window = if w.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
            parse_duration(&format!("1{w}"))
        } else {
            parse_duration(w)
        }
        .map_err(|e| format!("invalid rate_limit {s:?}: {e}"))?;
        if window.is_zero() {
            return Err(format!(
                "invalid rate_limit {s:?}: the window must be longer than zero"
            ));
        }
        Ok(RateLimit { count, window })
    }
}

/// How the dispatcher treats one topic's alerts.
#[derive(Debug, Clone, Default)]
pub struct TopicPolicy {
    pub severity: Severity,
    pub rate_limit: Option<RateLimit>,
    pub digest: Option<Duration>,
}

impl TopicPolicy {
    pub fn from_config(t: &TopicConfig) -> Result<TopicPolicy, String> {
        let rate_limit = t
            .rate_limit
            .as_deref()
            .map(RateLimit::parse)
            .transpose()
            .map_err(|e| format!("topic {:?}: {e}", t.id))?;
        let digest = t
            .digest
            .as_deref()
            .map(|d| {
                let v = parse_duration(d).map_err(|e| format!("topic {:?}: digest: {e}", t.id))?;
                if v.is_zero() {
                    return Err(format!(
                        "topic {:?}: digest: the interval must be longer than zero",
                        t.id
                    ));
                }
                Ok(v)
            })
            .transpose()?;
        Ok(TopicPolicy {
            severity: t.severity,
            rate_limit,
            digest,
        })
    }
}

/// The alerting policy of every configured topic. Errors name the topic and the field.
pub fn topic_policies(topics: &[TopicConfig]) -> Result<HashMap<String, TopicPolicy>, String> {
    topics
        .iter()
        .map(|t| Ok((t.id.clone(), TopicPolicy::from_config(t)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn sink_sections_parse_typed() {
        let c = Config::parse(
            r#"
[[sink]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "env:NW_TEST_SECRET"

[[sink]]
name = "cmd"
type = "command"
program = "/bin/cat"
timeout = "2s"
"#,
        )
        .unwrap();
        assert_eq!(c.sinks.len(), 2);
        assert_eq!(c.sinks[0].type_name(), "webhook");
        assert!(
            matches!(&c.sinks[1].kind, SinkKind::Command(cc) if cc.timeout == Duration::from_secs(2))
        );
    }

    #[test]
    fn sink_errors_name_sink_field_and_line() {
        let e = Config::parse(
            "[[sink]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"http://x/\"\nbogus = 1\n",
        )
        .unwrap_err();
        assert!(e.contains("bogus") && e.contains("\"a\""), "{e}");
        assert!(e.contains("line"), "{e}");
        let e = Config::parse("[[sink]]\nname = \"a\"\ntype = \"pager\"\n").unwrap_err();
        assert!(e.contains("unknown type") && e.contains("pager"), "{e}");
        let e = Config::parse("[[sink]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"ftp://x/\"\n")
            .unwrap_err();
        assert!(e.contains("sink \"a\"") && e.contains("http"), "{e}");
        let e = Config::parse("[[sink]]\nname = \"m\"\ntype = \"email\"\nhost = \"h\"\nfrom = \"not an address\"\nto = [\"a@b.c\"]\n")
            .unwrap_err();
        assert!(e.contains("from"), "{e}");
    }

    #[test]
    fn secrets_resolve_from_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "hunter2\n").unwrap();
        assert_eq!(
            Secret::new("file:s.txt").resolve(dir.path()).unwrap(),
            "hunter2"
        );
        assert_eq!(Secret::new("plain").resolve(dir.path()).unwrap(), "plain");
        let e = Secret::new("env:NW_SURELY_UNSET_VAR_42")
            .resolve(dir.path())
            .unwrap_err();
        assert!(
            e.contains("NW_SURELY_UNSET_VAR_42") && e.contains("not set"),
            "{e}"
        );
        let e = Secret::new("file:missing.txt")
            .resolve(dir.path())
            .unwrap_err();
        assert!(e.contains("missing.txt"), "{e}");
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
        // PATH is set in every test environment.
        assert!(
            !Secret::new("env:PATH")
                .resolve(dir.path())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn rate_limits_parse() {
        assert_eq!(
            RateLimit::parse("10/1h").unwrap(),
            RateLimit {
                count: 10,
                window: Duration::from_secs(3600)
            }
        );
        assert_eq!(
            RateLimit::parse("3/h").unwrap().window,
            Duration::from_secs(3600)
        );
        assert_eq!(
            RateLimit::parse("2 / 500ms").unwrap().window,
            Duration::from_millis(500)
        );
        assert!(RateLimit::parse("0/1h").is_err());
        assert!(RateLimit::parse("10").is_err());
        assert!(RateLimit::parse("x/1h").is_err());
        assert!(RateLimit::parse("5/1 parsec").is_err());
    }

    #[test]
    fn message_json_and_text() {
        let a = Alert {
            uid: "nw-1".into(),
            topic: "t".into(),
            severity: Severity::High,
            title: "Title\x1b[31m".into(),
            link: Some("https://e.org/a".into()),
            feed: Some("Feed".into()),
            feed_url: None,
            lang: Some("en".into()),
            published_at: None,
            matched_at: "2026-01-01T00:00:00Z".into(),
            terms: vec!["icbm".into()],
            snippet: "an [[ICBM]] test".into(),
            sources: 2,
            article_id: 7,
        };
        let m = Message::Alert(a);
        let v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(v["type"], "alert");
        assert_eq!(v["uid"], "nw-1");
        assert_eq!(v["severity"], "high");
        assert_eq!(v["sources"], 2);
        assert!(!m.subject().contains('\x1b'));
        assert!(m.text().contains("an *ICBM* test"));
    }
}
