//! `type = "log"`: each alert as one tracing event (target `newswatch::alert`), with the alert's
//! fields as structured keys. Useful with `[log] format = "json"` and a log shipper.

use serde::Deserialize;

use super::SinkError;
use crate::alerts::{Message, one_line};

/// `[[sink]] type = "log"`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Level of the events: `info` (default), `warn` or `error`.
    #[serde(default)]
    pub level: LogLevel,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    #[default]
    Info,
    Warn,
    Error,
}

pub struct LogSink {
    name: String,
    level: LogLevel,
}

impl LogSink {
    pub fn new(name: &str, c: &LogConfig) -> LogSink {
        LogSink {
            name: name.to_string(),
            level: c.level,
        }
    }

    pub fn send(&self, msg: &Message) -> Result<(), SinkError> {
        let digest = match msg {
            Message::Digest(d) => Some(d.uid.as_str()),
            Message::Alert(_) => None,
        };
        for a in msg.alerts() {
            let title = one_line(&a.title);
            let link = a.link.as_deref().map(one_line).unwrap_or_default();
            let terms = one_line(&a.terms.join(", "));
            macro_rules! ev {
                ($lvl:ident) => {
                    tracing::$lvl!(
                        target: "newswatch::alert",
                        sink = %self.name,
                        alert_uid = %a.uid,
                        digest_uid = digest.unwrap_or(""),
                        topic = %a.topic,
                        severity = a.severity.name(),
                        title = %title,
                        link = %link,
                        terms = %terms,
                        sources = a.sources,
                        "topic alert"
                    )
                };
            }
            match self.level {
                LogLevel::Info => ev!(info),
                LogLevel::Warn => ev!(warn),
                LogLevel::Error => ev!(error),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::testutil::Buf;

    #[test]
    fn logs_one_structured_event_per_alert() {
        let buf = Buf::default();
        let b2 = buf.clone();
        let sub = tracing_subscriber::fmt()
            .json()
            .with_writer(move || b2.clone())
            .finish();
        let sink = LogSink::new(
            "audit",
            &LogConfig {
                level: LogLevel::Warn,
            },
        );
        tracing::subscriber::with_default(sub, || {
            sink.send(&Message::Alert(super::super::testutil::alert()))
                .unwrap();
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["fields"]["alert_uid"], "nw-test-1");
        assert_eq!(v["fields"]["topic"], "missile-launches");
        assert_eq!(v["fields"]["sink"], "audit");
        assert_eq!(v["target"], "newswatch::alert");
    }
}
