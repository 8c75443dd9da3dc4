//! `type = "webhook"`: the message JSON POSTed to a URL. Headers: `X-Newswatch-Alert-Id` (the
//! message uid, for dropping redeliveries), `X-Newswatch-Event` (`alert` or `digest`), and, when
//! a secret is set, `X-Newswatch-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes
//! with the secret as key. Receivers verify with [`verify_signature`] (constant time).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;

use super::{SinkError, check_url, default_http_timeout, http_client, parse_http_url, send_http};
use crate::alerts::{Message, Secret};
use crate::util::serde_duration;

/// `[[sink]] type = "webhook"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST (http or https). May be `env:NAME` / `file:PATH`.
    pub url: Secret,
    /// HMAC-SHA256 key for `X-Newswatch-Signature`. May be `env:NAME` / `file:PATH`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Extra request headers (e.g. `Authorization`); values may be `env:NAME` / `file:PATH`.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Deadline of one delivery (default 10s).
    #[serde(default = "default_http_timeout", with = "serde_duration")]
    pub timeout: Duration,
}

impl WebhookConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_url("url", &self.url)?;
        if let Some(s) = &self.secret {
            s.check().map_err(|e| format!("secret: {e}"))?;
        }
        for (k, v) in &self.headers {
            reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("headers: invalid header name {k:?}"))?;
            v.check().map_err(|e| format!("headers.{k}: {e}"))?;
        }
        if self.timeout.is_zero() {
            return Err("timeout: must be longer than zero".into());
        }
        Ok(())
    }
}

pub struct WebhookSink {
    client: reqwest::Client,
    url: url::Url,
    host: String,
    secret: Option<Vec<u8>>,
    headers: reqwest::header::HeaderMap,
    pub timeout: Duration,
}

impl WebhookSink {
    pub fn build(c: &WebhookConfig, base_dir: &Path) -> Result<WebhookSink, String> {
        let url = parse_http_url(
            "url",
            &c.url.resolve(base_dir).map_err(|e| format!("url: {e}"))?,
        )?;
        let secret = c
            .secret
            .as_ref()
            .map(|s| s.resolve(base_dir).map(String::into_bytes))
            .transpose()
            .map_err(|e| format!("secret: {e}"))?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &c.headers {
            let v = v
                .resolve(base_dir)
                .map_err(|e| format!("headers.{k}: {e}"))?;
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("headers: invalid header name {k:?}"))?;
            let value = reqwest::header::HeaderValue::from_str(&v)
                .map_err(|_| format!("headers.{k}: invalid header value"))?;
            headers.insert(name, value);
        }
        Ok(WebhookSink {
            client: http_client(c.timeout)?,
            host: url.host_str().unwrap_or_default().to_string(),
            url,
            secret,
            headers,
            timeout: c.timeout,
        })
    }

    pub async fn send(&self, msg: &Message) -> Result<(), SinkError> {
        let body = msg.to_json();
        let mut req = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Newswatch-Alert-Id", msg.uid())
            .header(
                "X-Newswatch-Event",
                if matches!(msg, Message::Digest(_)) {
                    "digest"
                } else {
                    "alert"
                },
            );
        if let Some(key) = &self.secret {
            req = req.header("X-Newswatch-Signature", sign(key, body.as_bytes()));
        }
        send_http(req.body(body), &self.host).await
    }
}

/// `sha256=<hex of HMAC-SHA256(key, body)>`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut s = String::from("sha256=");
    for b in tag.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Checks an `X-Newswatch-Signature` header value against the body, in constant time.
pub fn verify_signature(key: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return false;
    }
    let mut tag = [0u8; 32];
    for (i, t) in tag.iter_mut().enumerate() {
        match u8::from_str_radix(&hex[2 * i..2 * i + 2], 16) {
            Ok(b) => *t = b,
            Err(_) => return false,
        }
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::alert;
    use super::*;

    fn cfg(url: &str, secret: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            url: Secret::new(url),
            secret: secret.map(Secret::new),
            headers: BTreeMap::from([("Authorization".to_string(), Secret::new("Bearer t0k"))]),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn signature_known_answer() {
        // RFC 4231 test case 2.
        let s = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_signature(
            b"Jefe",
            b"what do ya want for nothing?",
            &s
        ));
        assert!(!verify_signature(
            b"Jefe",
            b"what do ya want for nothing!",
            &s
        ));
        assert!(!verify_signature(
            b"Jeff",
            b"what do ya want for nothing?",
            &s
        ));
        assert!(!verify_signature(b"Jefe", b"x", "sha256=zz"));
    }

    #[tokio::test]
    async fn refused_connection_is_an_error_without_the_url() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let sink = WebhookSink::build(
            &cfg(&format!("http://127.0.0.1:{port}/secret-path"), None),
            Path::new("."),
        )
        .unwrap();
        let e = sink.send(&Message::Alert(alert())).await.unwrap_err();
        assert!(!e.message.contains("secret-path"), "{e}");
    }

    #[test]
    fn missing_secret_env_is_a_clear_build_error() {
        let e = WebhookSink::build(
            &cfg("http://127.0.0.1:1/", Some("env:NW_NO_SUCH_SECRET_VAR")),
            Path::new("."),
        )
        .err()
        .unwrap();
        assert!(
            e.contains("secret") && e.contains("NW_NO_SUCH_SECRET_VAR"),
            "{e}"
        );
    }
}
