//! The manager task: turns adverts into subscription requests, sends renewals before leases end,
//! and unsubscribes the subscriptions of removed feeds. Requests go to the hub as a form POST
//! (`hub.mode`, `hub.topic`, `hub.callback`, `hub.lease_seconds`, `hub.secret`); the hub's
//! verification arrives at the callback (`callback`), which activates or deletes the row.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Discovery, WebSub, hex};
use crate::store::{SubRequest, SubState, Subscription};
use crate::util::now_ms;

/// How long a request waits for the hub's verification before it is sent again (or, for an
/// unsubscription, before the row is dropped).
const RETRY_MS: i64 = 15 * 60 * 1000;
/// How often the active subscriptions are read again from the store.
const ACTIVE_REFRESH: Duration = Duration::from_secs(60);

/// Subscribe or unsubscribe.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A fresh `hub.secret`: 32 random bytes from the OS, in hex.
fn new_secret() -> anyhow::Result<String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no OS randomness for a secret: {e}"))?;
    Ok(hex(&key))
}

impl WebSub {
    /// Runs until `shutdown`: adverts from polls, and every `tick` the subscriptions due.
    pub async fn run(self: Arc<Self>, tick: Duration, shutdown: CancellationToken) {
        let Some(mut rx) = self.rx.lock().unwrap().take() else {
            return;
        };
        let mut tick = tokio::time::interval(tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Its first tick, at once, loads the active subscriptions.
        let mut refresh = tokio::time::interval(ACTIVE_REFRESH);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                d = rx.recv() => match d {
                    Some(d) => self.on_advert(d).await,
                    None => return,
                },
                _ = refresh.tick() => self.refresh_active().await,
                _ = tick.tick() => self.on_tick().await,
            }
        }
    }

    /// Reloads the active subscriptions: those another daemon verified (on a shared database)
    /// stretch this daemon's polls too, and ended ones stop.
    async fn refresh_active(&self) {
        match self.ctx.writer.call(|s| s.websub_active()).await {
            Ok(active) => *self.active.lock().unwrap() = active.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "websub: cannot read subscriptions")
            }
        }
    }

    /// A feed advertises a hub: a new subscription is recorded and requested (an unchanged one
    /// is left to its renewal).
    async fn on_advert(&self, d: Discovery) {
        let secret = match new_secret() {
            Ok(s) => s,
            Err(e) => return tracing::warn!(error = %format!("{e:#}"), "websub: no secret"),
        };
        let feed = d.feed_id;
        let req = SubRequest {
            feed_id: feed,
            hub: d.advert.hub,
            topic: d.advert.topic,
            secret,
            retry_at: now_ms() + RETRY_MS,
        };
        let r = self.ctx.writer.call(move |s| s.websub_request(&req)).await;
        match r {
            Ok((sub, true)) => self.send(&sub, Mode::Subscribe).await,
            Ok((_, false)) => {}
            Err(e) => {
                tracing::warn!(feed, error = %format!("{e:#}"), "websub: cannot record subscription");
                self.known.lock().unwrap().remove(&feed);
            }
        }
    }

    /// Subscriptions due, claimed (so that of several daemons on one database one acts on
    /// each): retries and renewals are (re)sent; those of removed feeds are unsubscribed, and
    /// dropped when the hub has not confirmed within `RETRY_MS`. A claimed row is moved on
    /// first: a verification that comes back quickly sets its own time.
    async fn on_tick(&self) {
        let (now, next) = (now_ms(), now_ms() + RETRY_MS);
        let due = match self
            .ctx
            .writer
            .call(move |s| s.websub_claim(now, next))
            .await
        {
            Ok(d) => d,
            Err(e) => {
                return tracing::warn!(error = %format!("{e:#}"), "websub: cannot read due subscriptions");
            }
        };
        for sub in due {
            let id = sub.id;
            let mode = match (sub.feed_id, sub.state) {
                (None, SubState::Unsubscribing) => {
                    let _ = self.ctx.writer.call(move |s| s.websub_delete(id)).await;
                    continue;
                }
                (None, _) => Mode::Unsubscribe,
                (Some(_), _) => Mode::Subscribe,
            };
            self.send(&sub, mode).await;
        }
    }

    /// The request's form body.
    fn form(&self, sub: &Subscription, mode: Mode) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("hub.mode", mode.as_str())
            .append_pair("hub.topic", &sub.topic)
            .append_pair("hub.callback", &self.callback_url(sub.id));
        if let Mode::Subscribe = mode {
            form.append_pair("hub.lease_seconds", &self.cfg.lease.as_secs().to_string())
                .append_pair("hub.secret", &sub.secret);
        }
        form.finish()
    }

    /// Sends one request to the hub; a failure is logged (the row's retry time brings it back).
    async fn send(&self, sub: &Subscription, mode: Mode) {
        let body = self.form(sub, mode);
        let r = self
            .client
            .post(&sub.hub)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await;
        let outcome = match r {
            Ok(resp) if resp.status().is_success() => Ok(resp.status().as_u16()),
            Ok(resp) => Err(format!("hub answered HTTP {}", resp.status().as_u16())),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(status) => {
                tracing::debug!(subscription = sub.id, hub = %sub.hub, topic = %sub.topic, mode = mode.as_str(), status, "websub request sent")
            }
            Err(error) => {
                tracing::warn!(subscription = sub.id, hub = %sub.hub, topic = %sub.topic, mode = mode.as_str(), %error, "websub request failed")
            }
        }
    }
}
