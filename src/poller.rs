//! One poll of one feed: fetch → pipeline → one commit. Async only where it waits on the network
//! or the writer; the pure stages run on the blocking pool.
//!
//! Bounded memory: every stage is a bounded queue. Fetches hold the `fetch` permits; at most one
//! `prepare` per core runs on the blocking pool (`PollCtx::prepare_slots`); commits wait for room
//! in the writer's bounded queue; and the callers (`daemon`, `poll`) start at most
//! `PollCtx::max_in_flight` polls at once, each holding its body or prepared result until its
//! commit returns. A slow writer therefore slows fetching instead of filling memory.
//!
//! Logs: a poll writes one DEBUG line, or a WARN line with the feed and the reason when it fails;
//! its counts go to `PollStats`, from which the daemon logs one INFO summary per interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

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
    /// One permit per core: the pure stages of at most this many polls run at once.
    pub prepare_slots: Arc<Semaphore>,
    cores: usize,
    pub stats: Arc<PollStats>,
    /// The daemon's WebSub side, when on: told of each poll's hub, and stretches the schedule of
    /// feeds with an active subscription.
    pub websub: Option<Arc<crate::websub::WebSub>>,
}

impl PollCtx {
    pub fn new(fetcher: Fetcher, writer: Writer, pipeline: Arc<Pipeline>) -> PollCtx {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PollCtx {
            fetcher,
            writer,
            pipeline,
            prepare_slots: Arc::new(Semaphore::new(cores)),
            cores,
            stats: Arc::default(),
            websub: None,
        }
    }

    /// Polls a caller may have started and not finished at once: enough to keep every fetch
    /// permit, every core and the writer's queue busy, and no more.
    pub fn max_in_flight(&self) -> usize {
        self.pipeline.config.http.concurrency + self.cores + crate::store::WRITER_QUEUE / 2
    }
}

/// Counts of the polls finished since the last `take`, shared by all polls of a `PollCtx`.
#[derive(Debug, Default)]
pub struct PollStats {
    polled: AtomicU64,
    not_modified: AtomicU64,
    new: AtomicU64,
    updated: AtomicU64,
    duplicates: AtomicU64,
    errors: AtomicU64,
    /// The longest a feed waited past its due time before its poll started, in ms.
    max_lag_ms: AtomicU64,
}

/// A `PollStats` reading.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    pub polled: u64,
    pub not_modified: u64,
    pub new: u64,
    pub updated: u64,
    pub duplicates: u64,
    pub errors: u64,
    pub max_lag_ms: u64,
}

impl PollStats {
    pub fn record(&self, r: &PollReport, lag_ms: u64) {
        self.polled.fetch_add(1, Ordering::Relaxed);
        self.not_modified
            .fetch_add(r.not_modified as u64, Ordering::Relaxed);
        self.new.fetch_add(r.new as u64, Ordering::Relaxed);
        self.updated.fetch_add(r.updated as u64, Ordering::Relaxed);
        self.duplicates
            .fetch_add(r.duplicates as u64, Ordering::Relaxed);
        self.errors
            .fetch_add(r.error.is_some() as u64, Ordering::Relaxed);
        self.max_lag_ms.fetch_max(lag_ms, Ordering::Relaxed);
    }

    /// The counts so far, which start again from zero.
    pub fn take(&self) -> PollSummary {
        let t = |a: &AtomicU64| a.swap(0, Ordering::Relaxed);
        PollSummary {
            polled: t(&self.polled),
            not_modified: t(&self.not_modified),
            new: t(&self.new),
            updated: t(&self.updated),
            duplicates: t(&self.duplicates),
            errors: t(&self.errors),
            max_lag_ms: t(&self.max_lag_ms),
        }
    }
}

impl std::fmt::Display for PollSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} feeds polled ({} not modified), {} new, {} updated, {} duplicates, {} errors, lag {}s",
            self.polled,
            self.not_modified,
            self.new,
            self.updated,
            self.duplicates,
            self.errors,
            self.max_lag_ms / 1000
        )
    }
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
    // Lag counts only for feeds polled before (a new feed is due since "always").
    let lag_ms = match feed.last_polled_at {
        Some(_) => (at - feed.next_poll_at).max(0) as u64,
        None => 0,
    };
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
                    let links = resp.links;
                    let slot = ctx.prepare_slots.clone().acquire_owned().await;
                    let prepared = tokio::task::spawn_blocking(move || {
                        let _slot = slot;
                        pipeline.prepare(&body, &url, charset.as_deref())
                    })
                    .await;
                    match prepared {
                        Ok(Ok(p)) => {
                            if let Some(ws) = &ctx.websub {
                                ws.discovered(&feed, &links, &p.feed);
                            }
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
    if let Some(ws) = &ctx.websub {
        ws.stretch(feed.id, &mut state);
    }
    report.next_poll_in_secs = ((state.next_poll_at - now_ms()).max(0) / 1000) as u64;
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
            tracing::debug!(feed = feed.id, url = %feed.url, status = ?report.status, new = report.new, updated = report.updated, duplicates = report.duplicates, next_in_s = report.next_poll_in_secs, "polled")
        }
    }
    ctx.stats.record(&report, lag_ms);
    report
}
