//! WebSub (push): feeds that advertise a hub are subscribed, and the hub's pushes are stored
//! through the same pipeline and the same one-transaction commit as a poll. On only when
//! `[websub] enabled = true`, `[server] enabled = true` and `[server] public_url` is set (the hub
//! must reach the callback).
//!
//! - `discover`: the hub and topic of a polled feed (HTTP `Link` headers, else `<atom:link
//!   rel="hub">` and `rel="self"`). The poller hands each successful poll to [`WebSub::discovered`].
//! - `subscribe`: the manager task of the daemon: subscription requests (with a random
//!   `hub.secret` per subscription), retries, renewal before the lease ends, and unsubscription
//!   once the feed is removed (its row outlives the feed with `feed_id` NULL until the hub
//!   confirms).
//! - `callback`: `GET|POST {public_url}/websub/{id}` on the HTTP server, outside the dashboard's
//!   auth: intent verification (mode, topic and the row's state must agree, else 404) and pushes.
//!
//! Invariants:
//! - A push is stored only if its `X-Hub-Signature` (sha1/sha256/sha384/sha512 HMAC of the body
//!   under the subscription's secret) checks, in constant time; otherwise it is refused (403) and
//!   logged at WARN, and nothing of it is written.
//! - A push is answered after its commit: 2xx means stored.
//! - While a subscription is active, polling goes on as a fallback: every poll of the feed is
//!   scheduled at least `[websub] fallback_interval` ahead ([`WebSub::stretch`]).

mod callback;
pub mod discover;
mod subscribe;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;

use crate::config::{Config, d6h, d7d};
use crate::model::ParsedFeed;
use crate::poller::PollCtx;
use crate::store::{Feed, FeedState};
use crate::util::{now_ms, serde_duration};

pub use callback::check_signature;

/// `[websub]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSubConfig {
    #[serde(default)]
    pub enabled: bool,
    /// How often a feed with an active subscription is still polled.
    #[serde(default = "d6h", with = "serde_duration")]
    pub fallback_interval: Duration,
    /// The lease asked of hubs (`hub.lease_seconds`); renewed before it ends.
    #[serde(default = "d7d", with = "serde_duration")]
    pub lease: Duration,
}

impl Default for WebSubConfig {
    fn default() -> Self {
        WebSubConfig {
            enabled: false,
            fallback_interval: d6h(),
            lease: d7d(),
        }
    }
}

impl WebSubConfig {
    /// Checks `[websub]` against `[server]`; the error starts with the key it is about.
    pub fn validate(&self, server: &crate::config::ServerConfig) -> Result<(), String> {
        let public_url = server.public_url.as_deref();
        if let Some(u) = public_url {
            match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {}
                _ => {
                    return Err(format!(
                        "public_url: {u:?} is not an http(s) URL the hubs can reach"
                    ));
                }
            }
        }
        if !self.enabled {
            return Ok(());
        }
        if !server.enabled {
            return Err(
                "enabled: WebSub needs server.enabled = true (the callback is served there)".into(),
            );
        }
        if public_url.is_none() {
            return Err(
                "enabled: WebSub needs server.public_url (where hubs reach this server's callback)"
                    .into(),
            );
        }
        if self.lease < Duration::from_secs(60) {
            return Err("lease: must be at least 1m".into());
        }
        if self.fallback_interval.is_zero() {
            return Err("fallback_interval: must be greater than 0".into());
        }
        Ok(())
    }
}

/// A feed's advert, on its way from a poll to the manager.
struct Discovery {
    feed_id: i64,
    advert: discover::Advert,
}

/// The daemon's WebSub side: shared by the poller's hooks, the callback handlers and the manager.
pub struct WebSub {
    cfg: WebSubConfig,
    /// `{public_url}/websub/`: a subscription's callback is this plus its id.
    callback_base: String,
    ctx: PollCtx,
    client: reqwest::Client,
    /// Feeds with an active subscription → end of its lease.
    active: Mutex<HashMap<i64, i64>>,
    /// The advert last handed to the manager per feed: a poll that finds the same sends nothing.
    known: Mutex<HashMap<i64, discover::Advert>>,
    tx: mpsc::Sender<Discovery>,
    rx: Mutex<Option<mpsc::Receiver<Discovery>>>,
}

impl WebSub {
    /// The WebSub side of a daemon, or `None` when it is off (not enabled, no server, no public URL).
    /// `ctx` is what pushes are ingested with.
    pub fn new(config: &Config, ctx: PollCtx) -> anyhow::Result<Option<Arc<WebSub>>> {
        let Some(public) = config.server.public_url.as_deref() else {
            return Ok(None);
        };
        if !config.websub.enabled || !config.server.enabled {
            return Ok(None);
        }
        crate::util::install_tls_provider();
        let client = reqwest::Client::builder()
            .user_agent(config.http.user_agent.clone())
            .connect_timeout(config.http.connect_timeout)
            .timeout(config.http.timeout)
            .build()?;
        let (tx, rx) = mpsc::channel(1024);
        Ok(Some(Arc::new(WebSub {
            cfg: config.websub.clone(),
            callback_base: format!("{}/websub/", public.trim_end_matches('/')),
            ctx,
            client,
            active: Mutex::default(),
            known: Mutex::default(),
            tx,
            rx: Mutex::new(Some(rx)),
        })))
    }

    /// Hook of a successful poll: hands the feed's advert (if any, and if new) to the manager.
    /// Never waits: when the manager is behind, the advert is dropped and the next poll brings it.
    pub fn discovered(&self, feed: &Feed, links: &[(String, String)], parsed: &ParsedFeed) {
        let Some(advert) = discover::advert(links, parsed, &feed.url) else {
            return;
        };
        let mut known = self.known.lock().unwrap();
        if known.get(&feed.id) == Some(&advert) {
            return;
        }
        let d = Discovery {
            feed_id: feed.id,
            advert: advert.clone(),
        };
        if self.tx.try_send(d).is_ok() {
            known.insert(feed.id, advert);
        }
    }

    /// Hook of the poll's schedule: with an active subscription, the next poll is at least
    /// `fallback_interval` away.
    pub fn stretch(&self, feed_id: i64, state: &mut FeedState) {
        let now = now_ms();
        let lease = self.active.lock().unwrap().get(&feed_id).copied();
        if lease.is_some_and(|until| until > now) {
            let floor = now + self.cfg.fallback_interval.as_millis() as i64;
            state.next_poll_at = state.next_poll_at.max(floor);
            if let Some((_, next)) = &mut state.if_new {
                *next = (*next).max(floor);
            }
        }
    }

    /// The routes of the callback, to be served outside the dashboard's auth.
    pub fn routes(self: &Arc<Self>) -> axum::Router {
        callback::routes(self.clone())
    }

    fn callback_url(&self, id: i64) -> String {
        format!("{}{id}", self.callback_base)
    }
}

/// Lowercase hex of bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
