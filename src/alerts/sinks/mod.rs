//! The sinks: one file per destination, each with its config struct (serde `deny_unknown_fields`),
//! its delivery code and its tests. A `Sink` is built once at daemon start (secrets resolved then)
//! and shared by all deliveries to it.
//!
//! Invariant: `send` either returns `Ok` because the destination accepted the message, or an
//! error the dispatcher retries; error texts never contain a secret (webhook URLs of Slack and
//! Discord are secrets, so HTTP errors name the host only).

pub mod chat;
pub mod command;
pub mod email;
pub mod log;
pub mod ntfy;
pub mod stdout;
pub mod webhook;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{Message, Secret, SinkConfig, SinkKind};

/// A failed delivery: why, and how long the destination asked us to wait (HTTP Retry-After).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl SinkError {
    pub fn new(message: impl Into<String>) -> SinkError {
        SinkError {
            message: message.into(),
            retry_after: None,
        }
    }
}

/// A built sink, ready to deliver.
pub enum Sink {
    Log(log::LogSink),
    Stdout(stdout::StdoutSink),
    Webhook(webhook::WebhookSink),
    Ntfy(ntfy::NtfySink),
    Chat(chat::ChatSink),
    Email(email::EmailSink),
    Command(command::CommandSink),
}

impl Sink {
    /// Builds a sink: resolves its secrets (relative `file:` paths against `base_dir`), builds
    /// its HTTP client or SMTP transport. Errors name the field.
    pub fn build(cfg: &SinkConfig, base_dir: &Path) -> Result<Sink, String> {
        cfg.validate()?;
        Ok(match &cfg.kind {
            SinkKind::Log(c) => Sink::Log(log::LogSink::new(&cfg.name, c)),
            SinkKind::Stdout(_) => Sink::Stdout(stdout::StdoutSink::stdout()),
            SinkKind::Webhook(c) => Sink::Webhook(webhook::WebhookSink::build(c, base_dir)?),
            SinkKind::Ntfy(c) => Sink::Ntfy(ntfy::NtfySink::build(c, base_dir)?),
            SinkKind::Slack(c) => {
                Sink::Chat(chat::ChatSink::build(chat::Flavor::Slack, c, base_dir)?)
            }
            SinkKind::Discord(c) => {
                Sink::Chat(chat::ChatSink::build(chat::Flavor::Discord, c, base_dir)?)
            }
            SinkKind::Email(c) => Sink::Email(email::EmailSink::build(c, base_dir)?),
            SinkKind::Command(c) => Sink::Command(command::CommandSink::build(c, base_dir)?),
        })
    }

    /// Delivers one message.
    pub async fn send(&self, msg: &Message) -> Result<(), SinkError> {
        match self {
            Sink::Log(s) => s.send(msg),
            Sink::Stdout(s) => s.send(msg),
            Sink::Webhook(s) => s.send(msg).await,
            Sink::Ntfy(s) => s.send(msg).await,
            Sink::Chat(s) => s.send(msg).await,
            Sink::Email(s) => s.send(msg).await,
            Sink::Command(s) => s.send(msg).await,
        }
    }

    /// The longest one delivery may take; the dispatcher gives up (and retries later) after it.
    pub fn timeout(&self) -> Duration {
        match self {
            Sink::Log(_) | Sink::Stdout(_) => Duration::from_secs(5),
            Sink::Webhook(s) => s.timeout,
            Sink::Ntfy(s) => s.timeout,
            Sink::Chat(s) => s.timeout,
            Sink::Email(s) => s.timeout,
            Sink::Command(s) => s.timeout,
        }
    }
}

/// Builds every `[[sink]]` of the config. The error names the sink and what is wrong.
pub fn build_all(
    sinks: &[SinkConfig],
    base_dir: &Path,
) -> anyhow::Result<HashMap<String, Arc<Sink>>> {
    let mut out = HashMap::new();
    for s in sinks {
        let sink = Sink::build(s, base_dir)
            .map_err(|e| anyhow::anyhow!("sink {:?} ({}): {e}", s.name, s.type_name()))?;
        out.insert(s.name.clone(), Arc::new(sink));
    }
    Ok(out)
}

pub(crate) fn default_http_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Checks a URL field (skipped for `env:`/`file:` references, which are checked when resolved).
pub(crate) fn check_url(field: &str, v: &Secret) -> Result<(), String> {
    v.check().map_err(|e| format!("{field}: {e}"))?;
    if v.0.starts_with("env:") || v.0.starts_with("file:") {
        return Ok(());
    }
    parse_http_url(field, &v.0).map(|_| ())
}

pub(crate) fn parse_http_url(field: &str, s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s.trim()).map_err(|e| format!("{field}: invalid URL: {e}"))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!(
            "{field}: must be an http or https URL, not {}:",
            u.scheme()
        ));
    }
    if u.host_str().is_none() {
        return Err(format!("{field}: URL has no host"));
    }
    Ok(u)
}

/// An HTTP client for one sink: its timeout, no redirects (a redirect is a failed delivery, and
/// a signed body is never re-sent elsewhere), our User-Agent.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    crate::util::install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "newswatch/",
            env!("CARGO_PKG_VERSION"),
            " (alerts)"
        ))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))
}

/// Sends a request and turns anything but a 2xx into a `SinkError` naming the host (never the
/// full URL) and the status, with Retry-After when the receiver sent one.
pub(crate) async fn send_http(req: reqwest::RequestBuilder, host: &str) -> Result<(), SinkError> {
    let resp = req.send().await.map_err(|e| {
        SinkError::new(format!(
            "request to {host} failed: {}",
            error_chain(&e.without_url())
        ))
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::fetch::parse_retry_after);
    let body = resp.text().await.unwrap_or_default();
    let body: String = super::one_line(&body).chars().take(200).collect();
    Err(SinkError {
        message: format!(
            "{host} answered HTTP {}{}",
            status.as_u16(),
            if body.is_empty() {
                String::new()
            } else {
                format!(": {body}")
            }
        ),
        retry_after,
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Fixtures of the sinks' unit tests: an alert, a writer to read back. (What an HTTP sink
    //! puts on the wire is tested against the integration harness's receiver: `tests/it/sinks.rs`.)
    use std::sync::{Arc, Mutex};

    /// An in-memory writer the tests can clone and read back.
    #[derive(Clone, Default)]
    pub struct Buf(pub Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    pub fn alert() -> crate::alerts::Alert {
        crate::alerts::Alert {
            uid: "nw-test-1".into(),
            topic: "missile-launches".into(),
            severity: crate::topics::Severity::High,
            title: "North Korea fires <b>two</b> missiles @everyone".into(),
            link: Some("https://news.example/a?id=1".into()),
            feed: Some("Example News".into()),
            feed_url: Some("https://news.example/feed.xml".into()),
            lang: Some("en".into()),
            published_at: Some("2026-11-27T08:00:00Z".into()),
            matched_at: "2026-11-27T08:05:00Z".into(),
            terms: vec!["missile*".into(), "fired".into()],
            snippet: "Pyongyang [[fired]] two short-range ballistic [[missiles]] this morning"
                .into(),
            sources: 3,
            article_id: 42,
        }
    }
}
