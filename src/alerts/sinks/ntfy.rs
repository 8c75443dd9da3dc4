//! `type = "ntfy"`: publishes to an ntfy server with its JSON API (`POST {server}` with
//! `{"topic","title","message","priority","tags","click"}`), so titles in any script need no
//! header encoding. Priority follows severity: low 2, medium 3, high 4, critical 5.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::{SinkError, default_http_timeout, http_client, parse_http_url, send_http};
use crate::alerts::{Message, Secret, truncate};
use crate::topics::Severity;
use crate::util::serde_duration;

/// `[[sink]] type = "ntfy"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtfyConfig {
    /// The ntfy server (default `https://ntfy.sh`).
    #[serde(default = "default_server")]
    pub server: String,
    /// The ntfy topic to publish to.
    pub topic: String,
    /// Access token (sent as `Authorization: Bearer`). May be `env:NAME` / `file:PATH`.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Deadline of one delivery (default 10s).
    #[serde(default = "default_http_timeout", with = "serde_duration")]
    pub timeout: Duration,
}

fn default_server() -> String {
    "https://ntfy.sh".into()
}

impl NtfyConfig {
    pub fn validate(&self) -> Result<(), String> {
        parse_http_url("server", &self.server)?;
        if self.topic.trim().is_empty() || self.topic.contains(['/', ' ']) {
            return Err(format!("topic: {:?} is not a valid ntfy topic", self.topic));
        }
        if let Some(t) = &self.token {
            t.check().map_err(|e| format!("token: {e}"))?;
        }
        Ok(())
    }
}

pub struct NtfySink {
    client: reqwest::Client,
    server: url::Url,
    host: String,
    topic: String,
    token: Option<String>,
    pub timeout: Duration,
}

impl NtfySink {
    pub fn build(c: &NtfyConfig, base_dir: &Path) -> Result<NtfySink, String> {
        let server = parse_http_url("server", &c.server)?;
        let token = c
            .token
            .as_ref()
            .map(|t| t.resolve(base_dir))
            .transpose()
            .map_err(|e| format!("token: {e}"))?;
        Ok(NtfySink {
            client: http_client(c.timeout)?,
            host: server.host_str().unwrap_or_default().to_string(),
            server,
            topic: c.topic.clone(),
            token,
            timeout: c.timeout,
        })
    }

    /// The JSON ntfy receives.
    pub fn payload(&self, msg: &Message) -> serde_json::Value {
        let priority = match msg.severity() {
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        };
        let mut v = json!({
            "topic": self.topic,
            "title": truncate(&msg.subject(), 250),
            "message": truncate(&msg.text(), 3900),
            "priority": priority,
            "tags": [msg.severity().name(), msg.topic()],
        });
        if let Message::Alert(a) = msg
            && let Some(l) = &a.link
        {
            v["click"] = json!(l);
        }
        v
    }

    pub async fn send(&self, msg: &Message) -> Result<(), SinkError> {
        let mut req = self
            .client
            .post(self.server.clone())
            .header("X-Newswatch-Alert-Id", msg.uid())
            .json(&self.payload(msg));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        send_http(req, &self.host).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_topic_rejected() {
        let c = NtfyConfig {
            server: default_server(),
            topic: "a/b".into(),
            token: None,
            timeout: Duration::from_secs(5),
        };
        assert!(c.validate().unwrap_err().contains("topic"));
    }
}
