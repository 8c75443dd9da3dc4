//! One poll of one feed: fetch → pipeline → one commit. Async only where it waits on the network
//! or the writer; the pure stages run on the blocking pool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fetch::{Fetcher, Validators};
use crate::pipeline::Pipeline;
use crate::schedule::{Observation, next_poll};
use crate::store::feeds_log::FetchLog;
use crate::store::{CommitOutcome, Feed, FeedState, FetchCommit, Writer};
use crate::util::now_ms;

/// Everything a poll needs, shared by all polls of a daemon or a `poll` command.
#[derive(Clone)]
pub struct PollCtx {
    pub fetcher: Fetcher,
    pub writer: Writer,
    pub pipeline: Arc<Pipeline>,
}

/// What one poll did, for logs and `poll --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    pub feed_id: i64,
    pub url: String,
    pub status: Option<u16>,
    pub new: u32,
    pub updated: u32,
    pub duplicates: u32,
    pub alerts: u32,
    pub not_modified: bool,
    pub moved_to: Option<String>,
    pub disabled: bool,
    pub error: Option<String>,
    pub next_poll_in_secs: u64,
}

pub async fn poll_feed(ctx: &PollCtx, feed: Feed) -> PollReport {
    let started = Instant::now();
    let at = now_ms();
    let cfg = &ctx.pipeline.config;
    let validators = Validators {
        etag: feed.etag.clone(),
        last_modified: feed.last_modified.clone(),
    };
    let mut report = PollReport {
        feed_id: feed.id,
        url: feed.url.clone(),
        status: None,
        new: 0,
        updated: 0,
        duplicates: 0,
        alerts: 0,
        not_modified: false,
        moved_to: None,
        disabled: false,
        error: None,
        next_poll_in_secs: 0,
    };
    let mut obs = Observation {
        interval: feed.interval_ms.map(|m| Duration::from_millis(m as u64)),
        fixed: feed
            .fixed_interval_ms
            .map(|m| Duration::from_millis(m as u64))
            .or_else(|| cfg.feed_config(&feed.url).and_then(|f| f.interval)),
        floor: feed
            .min_interval_ms
            .map(|m| Duration::from_millis(m as u64)),
        ..Default::default()
    };
    let mut state = FeedState::default();
    let mut log = FetchLog {
        url: feed.url.clone(),
        at,
        ..Default::default()
    };

    let mut commit: Option<FetchCommit> = None;
    let mut precomputed = crate::pipeline::Precomputed::default();
    match ctx.fetcher.get(&feed.url, &validators).await {
        Err(e) => report.error = Some(e.to_string()),
        Ok(resp) => {
            report.status = Some(resp.status);
            log.status = Some(resp.status);
            log.bytes = resp.body.len() as u64;
            report.moved_to = resp.moved_to.clone();
            state.new_url = resp.moved_to.clone();
            obs.retry_after = resp.retry_after;
            if let Some(ma) = resp.max_age {
                obs.floor = Some(obs.floor.unwrap_or_default().max(ma));
            }
            match resp.status {
                304 => {
                    report.not_modified = true;
                }
                410 => {
                    report.disabled = true;
                    state.disable =
                        Some("410 Gone: the server says the feed is gone for good".into());
                    report.error = Some("HTTP 410 Gone: feed disabled".into());
                }
                s if (200..300).contains(&s) => {
                    state.etag = resp.etag.clone();
                    state.last_modified = resp.last_modified.clone();
                    let pipeline = ctx.pipeline.clone();
                    let url = resp.final_url.clone();
                    let charset = resp.charset.clone();
                    let body = resp.body;
                    let prepared = tokio::task::spawn_blocking(move || {
                        pipeline.prepare(&body, &url, charset.as_deref())
                    })
                    .await;
                    match prepared {
                        Ok(Ok(p)) => {
                            if let Some(ttl) = p.feed.ttl_secs {
                                let ttl = Duration::from_secs(ttl);
                                obs.floor = Some(obs.floor.unwrap_or_default().max(ttl));
                            }
                            state.title = p.feed.title.clone();
                            state.site_url = p.feed.site_url.clone();
                            state.lang = p.feed.language.clone();
                            precomputed = p.matches;
                            commit = Some(FetchCommit {
                                feed_id: feed.id,
                                articles: p.articles,
                                state: FeedState::default(),
                                log: FetchLog::default(),
                            });
                        }
                        Ok(Err(e)) => report.error = Some(e.to_string()),
                        Err(e) => report.error = Some(format!("pipeline crashed: {e}")),
                    }
                }
                s => {
                    let reason = reqwest::StatusCode::from_u16(s)
                        .ok()
                        .and_then(|c| c.canonical_reason())
                        .unwrap_or("");
                    report.error = Some(format!("HTTP {s} {reason}").trim().to_string());
                }
            }
        }
    }

    if report.disabled {
        obs.errors = 0;
    } else if report.error.is_some() {
        obs.errors = feed.error_count as u32 + 1;
        state.error = report.error.clone();
    }
    // Whether anything was new is known only inside the commit: compute both schedules, the
    // commit picks one, and the feed state lands in the same transaction as the articles.
    let jitter = fastrand::f64();
    let (interval, delay) = next_poll(&cfg.poll, &obs, jitter);
    let busy = next_poll(
        &cfg.poll,
        &Observation {
            new_items: 1,
            ..obs
        },
        jitter,
    );
    state.if_new = Some((
        busy.0.as_millis() as i64,
        now_ms() + busy.1.as_millis() as i64,
    ));
    state.interval_ms = Some(interval.as_millis() as i64);
    state.min_interval_ms = obs.floor.map(|f| f.as_millis() as i64);
    state.next_poll_at = now_ms() + delay.as_millis() as i64;
    report.next_poll_in_secs = delay.as_secs();
    log.duration_ms = started.elapsed().as_millis() as i64;
    log.error = report.error.clone();

    let full_text = ctx.pipeline.full_text_for(&feed.url, feed.full_text);
    let result: anyhow::Result<Option<CommitOutcome>> = match commit {
        Some(mut c) => {
            c.state = state;
            c.log = log;
            let pipeline = ctx.pipeline.clone();
            ctx.writer
                .call(move |store| {
                    pipeline
                        .with_precomputed(full_text, &precomputed, |policy| {
                            store.commit_fetch(c, policy)
                        })
                        .map(Some)
                })
                .await
        }
        None => {
            let id = feed.id;
            ctx.writer
                .call(move |store| store.record_fetch(id, &state, &log).map(|_| None))
                .await
        }
    };
    match result {
        Ok(Some(out)) => {
            report.new = out.new;
            report.updated = out.updated;
            report.duplicates = out.duplicates;
            report.alerts = out.alerts;
        }
        Ok(None) => {}
        Err(e) => report.error = Some(format!("store: {e:#}")),
    }
    match &report.error {
        Some(err) => {
            tracing::warn!(feed = feed.id, url = %feed.url, status = ?report.status, error = %err, next_in_s = report.next_poll_in_secs, "poll failed")
        }
        None => {
            tracing::info!(feed = feed.id, url = %feed.url, status = ?report.status, new = report.new, updated = report.updated, duplicates = report.duplicates, next_in_s = report.next_poll_in_secs, "polled")
        }
    }
    report
}
