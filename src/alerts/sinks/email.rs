//! `type = "email"`: one mail per message over SMTP (lettre), with `security = "starttls"`
//! (default, port 587), `"tls"` (implicit TLS, port 465) or `"plain"` (no encryption, port 25;
//! for a local relay only). The Message-ID is derived from the alert uid
//! (`<uid@newswatch>`), so a redelivery can be recognised by mail systems, and the uid is also in
//! an `X-Newswatch-Alert-Id` header.

use std::path::Path;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;

use super::SinkError;
use crate::alerts::{Message, Secret, truncate};
use crate::util::serde_duration;

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Connect in plain text and require STARTTLS before anything is sent.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption at all: a trusted local relay only.
    Plain,
}

/// `[[sink]] type = "email"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server host name.
    pub host: String,
    /// Default: 587 (starttls), 465 (tls), 25 (plain).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    /// May be `env:NAME` / `file:PATH`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender, e.g. `"newswatch <alerts@example.org>"`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Prepended to every subject (default `[newswatch]`).
    #[serde(default = "default_prefix")]
    pub subject_prefix: String,
    /// Deadline of one delivery (default 30s).
    #[serde(default = "d30s", with = "serde_duration")]
    pub timeout: Duration,
}

fn default_prefix() -> String {
    "[newswatch]".into()
}

fn d30s() -> Duration {
    Duration::from_secs(30)
}

impl EmailConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("host: must not be empty".into());
        }
        self.from
            .parse::<Mailbox>()
            .map_err(|e| format!("from: {:?} is not a mail address: {e}", self.from))?;
        if self.to.is_empty() {
            return Err("to: needs at least one recipient".into());
        }
        for t in &self.to {
            t.parse::<Mailbox>()
                .map_err(|e| format!("to: {t:?} is not a mail address: {e}"))?;
        }
        if self.password.is_some() && self.username.is_none() {
            return Err("password is set but username is not".into());
        }
        if let Some(p) = &self.password {
            p.check().map_err(|e| format!("password: {e}"))?;
        }
        Ok(())
    }
}

pub struct EmailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    prefix: String,
    host: String,
    pub timeout: Duration,
}

impl EmailSink {
    pub fn build(c: &EmailConfig, base_dir: &Path) -> Result<EmailSink, String> {
        let host = c.host.trim().to_string();
        let (tls, port) = match c.security {
            Security::Plain => (Tls::None, 25),
            Security::Starttls => (Tls::Required(tls_params(&host)?), 587),
            Security::Tls => (Tls::Wrapper(tls_params(&host)?), 465),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(c.port.unwrap_or(port))
            .tls(tls)
            .timeout(Some(c.timeout));
        if let Some(user) = &c.username {
            let pass = c
                .password
                .as_ref()
                .map(|p| p.resolve(base_dir))
                .transpose()
                .map_err(|e| format!("password: {e}"))?
                .unwrap_or_default();
            b = b.credentials(Credentials::new(user.clone(), pass));
        }
        Ok(EmailSink {
            transport: b.build(),
            from: c.from.parse().map_err(|e| format!("from: {e}"))?,
            to: c
                .to
                .iter()
                .map(|t| t.parse().map_err(|e| format!("to: {e}")))
                .collect::<Result<_, _>>()?,
            prefix: c.subject_prefix.clone(),
            host,
            timeout: c.timeout,
        })
    }

    /// The mail for one message.
    pub fn mail(&self, msg: &Message) -> Result<lettre::Message, SinkError> {
        let subject = if self.prefix.is_empty() {
            msg.subject()
        } else {
            format!("{} {}", self.prefix, msg.subject())
        };
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(truncate(&subject, 200))
            .message_id(Some(format!("<{}@newswatch>", msg.uid())))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii("X-Newswatch-Alert-Id".into())
                    .expect("valid header name"),
                msg.uid().to_string(),
            ))
            .header(ContentType::TEXT_PLAIN);
        for t in &self.to {
            b = b.to(t.clone());
        }
        b.body(msg.text())
            .map_err(|e| SinkError::new(format!("cannot build mail: {e}")))
    }

    pub async fn send(&self, msg: &Message) -> Result<(), SinkError> {
        let mail = self.mail(msg)?;
        self.transport
            .send(mail)
            .await
            .map(|_| ())
            .map_err(|e| SinkError::new(format!("SMTP to {}: {e}", self.host)))
    }
}

fn tls_params(host: &str) -> Result<TlsParameters, String> {
    TlsParameters::new(host.to_string()).map_err(|e| format!("cannot set up TLS for {host}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::alert;
    use super::*;

    fn cfg() -> EmailConfig {
        EmailConfig {
            host: "127.0.0.1".into(),
            port: Some(2525),
            security: Security::Plain,
            username: None,
            password: None,
            from: "newswatch <alerts@example.org>".into(),
            to: vec!["analyst@example.org".into()],
            subject_prefix: default_prefix(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn mail_has_subject_id_and_body() {
        let s = EmailSink::build(&cfg(), Path::new(".")).unwrap();
        let m = s.mail(&Message::Alert(alert())).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(
            raw.contains("Subject: [newswatch] [high] missile-launches: North Korea fires"),
            "{raw}"
        );
        assert!(raw.contains("Message-ID: <nw-test-1@newswatch>"), "{raw}");
        assert!(raw.contains("X-Newswatch-Alert-Id: nw-test-1"), "{raw}");
        assert!(raw.contains("To: analyst@example.org"), "{raw}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = cfg();
        c.to.clear();
        assert!(c.validate().unwrap_err().starts_with("to"));
        let mut c = cfg();
        c.password = Some(Secret::new("x"));
        assert!(c.validate().unwrap_err().contains("username"));
    }
}
