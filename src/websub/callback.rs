//! The callback of every subscription, `/websub/{id}` on the HTTP server (no bearer token, no
//! CSRF: hubs are not browsers; what guards it is the subscription's state for verifications and
//! the secret for pushes).
//!
//! - `GET`: intent verification. `hub.mode=subscribe` for a pending or active row of a feed,
//!   `unsubscribe` for a row being unsubscribed, with the row's `hub.topic`: answered with
//!   `hub.challenge` (and the row activated or deleted); anything else is 404. `denied`: logged,
//!   asked again a day later.
//! - `POST`: a push. Its signature is checked first; then the body goes through
//!   `Pipeline::prepare` (on the blocking pool, under the poller's prepare slots) and one
//!   `commit_fetch` on the writer, with the feed's schedule and validators left as they were.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, KeyInit, Mac};

use super::WebSub;
use crate::store::feeds_log::FetchLog;
use crate::store::{Activation, CommitOutcome, SubState, Subscription};
use crate::util::now_ms;

/// How long a denied subscription waits before it is requested again.
const DENIED_RETRY_MS: i64 = 24 * 3600 * 1000;
/// The longest lease taken from a hub's verification, in seconds.
const MAX_LEASE_S: u64 = 366 * 86400;

pub(super) fn routes(ws: Arc<WebSub>) -> Router {
    let limit = ws.ctx.pipeline.config.http.max_body_bytes;
    Router::new()
        .route("/websub/{id}", get(verify).post(push))
        .layer(DefaultBodyLimit::max(
            usize::try_from(limit).unwrap_or(usize::MAX),
        ))
        .with_state(ws)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

async fn subscription(ws: &WebSub, id: i64) -> Result<Option<Subscription>, Response> {
    ws.ctx
        .writer
        .call(move |s| s.websub_get(id))
        .await
        .map_err(|e| {
            tracing::warn!(subscription = id, error = %format!("{e:#}"), "websub: store failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "store error")
        })
}

async fn verify(
    State(ws): State<Arc<WebSub>>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let sub = match subscription(&ws, id).await {
        Ok(Some(s)) => s,
        Ok(None) => return text(StatusCode::NOT_FOUND, "no such subscription"),
        Err(r) => return r,
    };
    let arg = |k: &str| q.get(k).map(String::as_str);
    let (mode, topic, challenge) = (arg("hub.mode"), arg("hub.topic"), arg("hub.challenge"));
    if mode == Some("denied") {
        tracing::warn!(subscription = id, hub = %sub.hub, topic = %sub.topic, reason = arg("hub.reason").unwrap_or(""), "websub: the hub denied the subscription");
        let next = now_ms() + DENIED_RETRY_MS;
        let _ = ws
            .ctx
            .writer
            .call(move |s| s.websub_set(id, SubState::Pending, next))
            .await;
        return text(StatusCode::OK, "");
    }
    let Some(challenge) = challenge.filter(|_| topic == Some(sub.topic.as_str())) else {
        return text(StatusCode::NOT_FOUND, "unknown topic");
    };
    let wanted = match (mode, sub.feed_id, sub.state) {
        (Some("subscribe"), Some(_), SubState::Pending | SubState::Active) => Some("subscribe"),
        (Some("unsubscribe"), None, SubState::Unsubscribing) => Some("unsubscribe"),
        _ => None,
    };
    let done = match wanted {
        Some("subscribe") => activate(&ws, &sub, arg("hub.lease_seconds")).await,
        Some(_) => {
            ws.ctx
                .writer
                .call(move |s| s.websub_delete(id).map(|_| ()))
                .await
        }
        None => return text(StatusCode::NOT_FOUND, "no such intent"),
    };
    match done {
        Ok(()) => {
            tracing::info!(subscription = id, hub = %sub.hub, topic = %sub.topic, mode = wanted, "websub: verified");
            text(StatusCode::OK, challenge)
        }
        Err(e) => {
            tracing::warn!(subscription = id, error = %format!("{e:#}"), "websub: store failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "store error")
        }
    }
}

/// Records the lease the hub granted (else the one asked), renewal at four fifths of it, and the
/// feed's polling moved out to the fallback interval.
async fn activate(ws: &WebSub, sub: &Subscription, lease: Option<&str>) -> anyhow::Result<()> {
    // A lease of more than a year is taken as a year (and renewed in time all the same).
    let lease_ms = lease
        .and_then(|l| l.trim().parse::<u64>().ok())
        .map_or(ws.cfg.lease.as_millis() as i64, |s| {
            s.min(MAX_LEASE_S) as i64 * 1000
        });
    let now = now_ms();
    let a = Activation {
        lease_until: now + lease_ms,
        renew_at: now + lease_ms * 4 / 5,
        poll_floor: now + ws.cfg.fallback_interval.as_millis() as i64,
    };
    let id = sub.id;
    ws.ctx
        .writer
        .call(move |s| s.websub_activate(id, &a))
        .await?;
    if let Some(feed) = sub.feed_id {
        ws.active.lock().unwrap().insert(feed, a.lease_until);
    }
    Ok(())
}

async fn push(
    State(ws): State<Arc<WebSub>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let sub = match subscription(&ws, id).await {
        Ok(Some(s)) => s,
        // 410 tells the hub to stop pushing to a callback that no longer exists.
        Ok(None) => return text(StatusCode::GONE, "no such subscription"),
        Err(r) => return r,
    };
    let (Some(feed_id), Some(feed_url)) = (sub.feed_id, sub.feed_url.clone()) else {
        return text(StatusCode::GONE, "the feed was removed");
    };
    let sig = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    if let Err(why) = check_signature(sub.secret.as_bytes(), &body, sig) {
        tracing::warn!(subscription = id, feed = feed_id, hub = %sub.hub, reason = why, bytes = body.len(), "websub: push refused");
        ws.ctx.stats.record_push(None);
        return text(StatusCode::FORBIDDEN, why);
    }
    let charset = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| {
            ct.split(';')
                .find_map(|p| p.trim().strip_prefix("charset="))
                .map(|c| c.trim_matches('"').to_string())
        });
    let stored = ingest(&ws, feed_id, feed_url, body, charset).await;
    ws.ctx.stats.record_push(stored.as_ref().ok());
    match stored {
        Ok(out) => {
            tracing::debug!(
                subscription = id,
                feed = feed_id,
                new = out.new,
                updated = out.updated,
                duplicates = out.duplicates,
                ms = started.elapsed().as_millis() as u64,
                "websub: push stored"
            );
            text(StatusCode::NO_CONTENT, "")
        }
        Err(e) => {
            tracing::warn!(subscription = id, feed = feed_id, error = %format!("{e:#}"), "websub: push not stored");
            text(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not stored (see the daemon's log)",
            )
        }
    }
}

/// A pushed body through the poll's pipeline and into one commit, like a poll's: articles,
/// matches, outbox, the feed's state (its schedule and validators kept) and a fetch log row.
async fn ingest(
    ws: &WebSub,
    feed_id: i64,
    feed_url: String,
    body: Bytes,
    charset: Option<String>,
) -> anyhow::Result<CommitOutcome> {
    let at = now_ms();
    let started = Instant::now();
    let bytes = body.len() as u64;
    let mut p = crate::poller::prepare_body(&ws.ctx, body.to_vec(), &feed_url, charset.as_deref())
        .await
        .map_err(anyhow::Error::msg)?;
    let pipeline = ws.ctx.pipeline.clone();
    ws.ctx
        .writer
        .call(move |store| {
            let feed = store
                .feed(feed_id)?
                .ok_or_else(|| anyhow::anyhow!("feed {feed_id} was removed"))?;
            let log = FetchLog {
                url: feed_url,
                at,
                bytes,
                duration_ms: started.elapsed().as_millis() as i64,
                push: true,
                ..Default::default()
            };
            let pre = std::mem::take(&mut p.matches);
            let c = p.into_commit(feed_id, feed.next_poll_at, log);
            let full_text = pipeline.full_text_for(&feed.url, feed.full_text);
            pipeline.with_precomputed(full_text, &pre, |policy| store.commit_fetch(c, policy))
        })
        .await
}

/// Checks `X-Hub-Signature: <method>=<hex>` (sha1, sha256, sha384 or sha512 HMAC of the body
/// under `secret`), in constant time. The error is the reason, for the log.
pub fn check_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), &'static str> {
    let header = header.ok_or("no X-Hub-Signature")?;
    let (method, hex) = header
        .trim()
        .split_once('=')
        .ok_or("malformed X-Hub-Signature")?;
    let tag = unhex(hex).ok_or("malformed X-Hub-Signature")?;
    fn mac<M: Mac + KeyInit>(secret: &[u8], body: &[u8], tag: &[u8]) -> bool {
        let mut m = <M as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
        m.update(body);
        m.verify_slice(tag).is_ok()
    }
    let ok = match method.to_ascii_lowercase().as_str() {
        "sha1" => mac::<Hmac<sha1::Sha1>>(secret, body, &tag),
        "sha256" => mac::<Hmac<sha2::Sha256>>(secret, body, &tag),
        "sha384" => mac::<Hmac<sha2::Sha384>>(secret, body, &tag),
        "sha512" => mac::<Hmac<sha2::Sha512>>(secret, body, &tag),
        _ => return Err("unsupported X-Hub-Signature method"),
    };
    if ok { Ok(()) } else { Err("bad signature") }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign<M: Mac + KeyInit>(key: &[u8], body: &[u8]) -> String {
        let mut m = <M as KeyInit>::new_from_slice(key).unwrap();
        m.update(body);
        super::super::hex(&m.finalize().into_bytes())
    }

    #[test]
    fn signatures() {
        let (key, body) = (b"k3y".as_slice(), b"<feed/>".as_slice());
        let s256 = format!("sha256={}", sign::<Hmac<sha2::Sha256>>(key, body));
        let s1 = format!("sha1={}", sign::<Hmac<sha1::Sha1>>(key, body));
        assert_eq!(check_signature(key, body, Some(&s256)), Ok(()));
        assert_eq!(check_signature(key, body, Some(&s1)), Ok(()));
        assert_eq!(
            check_signature(b"other", body, Some(&s256)),
            Err("bad signature")
        );
        assert_eq!(
            check_signature(key, b"<feed/> ", Some(&s1)),
            Err("bad signature")
        );
        assert_eq!(check_signature(key, body, None), Err("no X-Hub-Signature"));
        assert!(check_signature(key, body, Some("sha256=zz")).is_err());
        assert!(check_signature(key, body, Some("md5=00")).is_err());
        // A sha1-length tag under sha256 is a mismatch, not a panic.
        let wrong = s1.replacen("sha1", "sha256", 1);
        assert_eq!(
            check_signature(key, body, Some(&wrong)),
            Err("bad signature")
        );
    }
}
