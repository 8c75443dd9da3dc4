//! One poll of one feed: fetch → pipeline → one commit. Async only where it waits on the network
//! or the writer; the pure stages run on the blocking pool.
//!
//! Bounded memory: every stage is a bounded queue. Fetches hold the `fetch` permits; at most one
//! `prepare` per core runs on the blocking pool (`PollCtx::prepare_slots`); commits wait for room
//! in the writer's bounded queue; and the callers (`daemon`, `poll`) start at most
//! `PollCtx::max_in_flight` polls at once, each holding its body or prepared result until its
//! commit returns. A slow writer therefore slows fetching instead of filling memory.
//!
//! The flow (`poll_feed`): fetch (`FetchOutcome`) → `prepare_body` → the feed state →
//! `commit_prepared`, with a `FetchCommit` built once from plain values. `prepare_body` and
//! `commit_prepared` are the crate's one way from a fetched body to a commit.
//!
//! Logs: every line of a poll is inside a `poll{feed_id,url}` span; a poll writes one DEBUG line,
//! or a WARN line with the reason when it fails; its counts go to `PollStats`, from which the
//! daemon logs one INFO summary per interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use serde::Serialize;

use tracing::Instrument;

use crate::fetch::{FetchOutcome, Fetcher, Validators};
use crate::pipeline::{Pipeline, Precomputed, Prepared};
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
    /// WebSub pushes stored (their items count in `new`, `updated`, `duplicates`), and those
    /// refused (bad signature) or not stored.
    pushes: AtomicU64,
    pushes_refused: AtomicU64,
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
    pub pushes: u64,
    pub pushes_refused: u64,
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

    /// A WebSub push: `Some` with what its commit stored, `None` when it was refused (bad
    /// signature) or could not be stored.
    pub fn record_push(&self, out: Option<&CommitOutcome>) {
        let Some(out) = out else {
            self.pushes_refused.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.pushes.fetch_add(1, Ordering::Relaxed);
        self.new.fetch_add(out.new as u64, Ordering::Relaxed);
        self.updated
            .fetch_add(out.updated as u64, Ordering::Relaxed);
        self.duplicates
            .fetch_add(out.duplicates as u64, Ordering::Relaxed);
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
            pushes: t(&self.pushes),
            pushes_refused: t(&self.pushes_refused),
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
        )?;
        if self.pushes + self.pushes_refused > 0 {
            write!(
                f,
                ", {} pushes ({} refused)",
                self.pushes, self.pushes_refused
            )?;
        }
        Ok(())
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

impl PollReport {
    /// The report of a poll from what each step left: the fetch, the state written, the error
    /// (fetch, pipeline or store), and the commit's counts.
    fn new(
        feed: &Feed,
        fetched: &FetchOutcome,
        state: &FeedState,
        error: Option<String>,
        out: Option<&CommitOutcome>,
    ) -> PollReport {
        let out = out.cloned().unwrap_or_default();
        let next_at = match state.if_new {
            Some((_, at)) if out.new > 0 => at,
            _ => state.next_poll_at,
        };
        PollReport {
            feed_id: feed.id,
            url: feed.url.clone(),
            status: fetched.response().map(|r| r.status),
            new: out.new,
            updated: out.updated,
            duplicates: out.duplicates,
            alerts: out.alerts,
            not_modified: matches!(fetched, FetchOutcome::NotModified(_)),
            moved_to: state.new_url.clone(),
            disabled: state.disable.is_some(),
            error,
            next_poll_in_secs: ((next_at - now_ms()).max(0) as u64).div_ceil(1000),
        }
    }
}

/// Polls one feed: fetch, prepare, feed state, one commit, inside a `poll` span that names the
/// feed. Never fails: what went wrong is in the report (and logged at WARN).
pub async fn poll_feed(ctx: &PollCtx, feed: Feed) -> PollReport {
    // A WARN-level span: every filter that shows a poll's failure also shows which feed it was.
    let span = tracing::warn_span!("poll", feed_id = feed.id, url = %feed.url);
    poll(ctx, &feed).instrument(span).await
}

async fn poll(ctx: &PollCtx, feed: &Feed) -> PollReport {
    let started = Instant::now();
    let at = now_ms();
    let mut fetched = ctx.fetcher.fetch_feed(&feed.url, &validators(feed)).await;
    let bytes = fetched.response().map_or(0, |r| r.body.len() as u64);
    let mut error = fetched.error();
    let mut prepared = None;
    if let (Some(body), Some(r)) = (fetched.take_body(), fetched.response()) {
        match prepare_body(ctx, body, &r.final_url, r.charset.as_deref()).await {
            Ok(p) => {
                if let Some(ws) = &ctx.websub {
                    ws.discovered(feed, &r.links, &p.feed);
                }
                prepared = Some(p)
            }
            Err(e) => error = Some(e),
        }
    }
    let mut state = feed_state(ctx, feed, &fetched, prepared.as_ref(), error.as_deref());
    if let Some(ws) = &ctx.websub {
        ws.stretch(feed.id, &mut state);
    }
    let log = FetchLog {
        url: feed.url.clone(),
        at,
        status: fetched.response().map(|r| r.status),
        bytes,
        duration_ms: started.elapsed().as_millis() as i64,
        error: error.clone(),
        push: false,
    };
    let (articles, matches) = match prepared {
        Some(p) => (p.articles, Some(p.matches)),
        None => (Vec::new(), None),
    };
    let commit = FetchCommit {
        feed_id: feed.id,
        articles,
        state: state.clone(),
        log,
    };
    let full_text = ctx.pipeline.full_text_for(&feed.url, feed.full_text);
    let out = match commit_prepared(ctx, commit, matches, full_text).await {
        Ok(out) => Some(out),
        Err(e) => {
            error = Some(format!("store: {e:#}"));
            None
        }
    };
    let report = PollReport::new(feed, &fetched, &state, error, out.as_ref());
    log_report(&report);
    // Lag counts only for feeds polled before (a new feed is due since "always").
    let lag_ms = match feed.last_polled_at {
        Some(_) => (at - feed.next_poll_at).max(0) as u64,
        None => 0,
    };
    ctx.stats.record(&report, lag_ms);
    report
}

fn validators(feed: &Feed) -> Validators {
    Validators {
        etag: feed.etag.clone(),
        last_modified: feed.last_modified.clone(),
    }
}

/// Runs the pure stages on a fetched body of a feed (`url`: where the body came from), on the
/// blocking pool, at most one per core at a time. The one way a body becomes articles, for polls
/// and pushes alike.
pub(crate) async fn prepare_body(
    ctx: &PollCtx,
    body: Vec<u8>,
    url: &str,
    charset: Option<&str>,
) -> Result<Prepared, String> {
    let pipeline = ctx.pipeline.clone();
    let (url, charset) = (url.to_string(), charset.map(str::to_string));
    let slot = ctx.prepare_slots.clone().acquire_owned().await;
    let prepared = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        pipeline.prepare(&body, &url, charset.as_deref())
    })
    .await;
    match prepared {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("pipeline crashed: {e}")),
    }
}

/// Commits one fetch through the writer: with `matches` (a prepared body), its articles, their
/// matches and alerts, the feed state and the log row in one transaction; without, only the state
/// and the log row.
pub(crate) async fn commit_prepared(
    ctx: &PollCtx,
    commit: FetchCommit,
    matches: Option<Precomputed>,
    full_text: bool,
) -> anyhow::Result<CommitOutcome> {
    let pipeline = ctx.pipeline.clone();
    ctx.writer
        .call(move |store| match matches {
            Some(pre) => pipeline
                .with_precomputed(full_text, &pre, |policy| store.commit_fetch(commit, policy)),
            None => store
                .record_fetch(commit.feed_id, &commit.state, &commit.log)
                .map(|()| CommitOutcome::default()),
        })
        .await
}

/// The feed's state after this fetch. Whether anything was new is known only inside the commit,
/// so both schedules are in it (`if_new`) and the commit picks one.
fn feed_state(
    ctx: &PollCtx,
    feed: &Feed,
    fetched: &FetchOutcome,
    prepared: Option<&Prepared>,
    error: Option<&str>,
) -> FeedState {
    let cfg = &ctx.pipeline.config;
    let head = fetched.response();
    let gone = matches!(fetched, FetchOutcome::Gone(_));
    let mut obs = observation(cfg, feed);
    obs.retry_after = head.and_then(|r| r.retry_after);
    let ttl = prepared
        .and_then(|p| p.feed.ttl_secs)
        .map(Duration::from_secs);
    for floor in [head.and_then(|r| r.max_age), ttl].into_iter().flatten() {
        obs.floor = Some(obs.floor.unwrap_or_default().max(floor));
    }
    if error.is_some() && !gone {
        obs.errors = feed.error_count as u32 + 1;
    }
    let jitter = fastrand::f64();
    let (interval, delay) = next_poll(&cfg.poll, &obs, jitter);
    let busy = Observation {
        new_items: 1,
        ..obs
    };
    let (busy_interval, busy_delay) = next_poll(&cfg.poll, &busy, jitter);
    let fresh = match fetched {
        FetchOutcome::Fresh(r) => Some(r),
        _ => None,
    };
    let now = now_ms();
    FeedState {
        new_url: head.and_then(|r| r.moved_to.clone()),
        title: prepared.and_then(|p| p.feed.title.clone()),
        site_url: prepared.and_then(|p| p.feed.site_url.clone()),
        lang: prepared.and_then(|p| p.feed.language.clone()),
        etag: fresh.and_then(|r| r.etag.clone()),
        last_modified: fresh.and_then(|r| r.last_modified.clone()),
        interval_ms: Some(interval.as_millis() as i64),
        min_interval_ms: obs.floor.map(|f| f.as_millis() as i64),
        next_poll_at: now + delay.as_millis() as i64,
        disable: gone.then(|| "410 Gone: the server says the feed is gone for good".into()),
        error: error.filter(|_| !gone).map(str::to_string),
        if_new: Some((
            busy_interval.as_millis() as i64,
            now + busy_delay.as_millis() as i64,
        )),
    }
}

/// The schedule's inputs before this fetch: the feed's interval, fixed interval and floor.
fn observation(cfg: &crate::config::Config, feed: &Feed) -> Observation {
    let ms = |m: i64| Duration::from_millis(m as u64);
    Observation {
        interval: feed.interval_ms.map(ms),
        fixed: feed
            .fixed_interval_ms
            .map(ms)
            .or_else(|| cfg.feed_config(&feed.url).and_then(|f| f.interval)),
        floor: feed.min_interval_ms.map(ms),
        ..Default::default()
    }
}

/// One DEBUG line per poll, or WARN with the reason; the span names the feed.
fn log_report(r: &PollReport) {
    match &r.error {
        Some(error) => tracing::warn!(
            status = ?r.status,
            error = %error,
            next_in_s = r.next_poll_in_secs,
            "poll failed"
        ),
        None => tracing::debug!(
            status = ?r.status,
            new = r.new,
            updated = r.updated,
            duplicates = r.duplicates,
            next_in_s = r.next_poll_in_secs,
            "polled"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_count_in_the_summary_and_its_items_with_the_polls() {
        let stats = PollStats::default();
        let out = CommitOutcome {
            new: 3,
            duplicates: 1,
            ..Default::default()
        };
        stats.record_push(Some(&out));
        stats.record_push(Some(&out));
        stats.record_push(None);
        let s = stats.take();
        assert_eq!(
            (s.pushes, s.pushes_refused, s.new, s.duplicates),
            (2, 1, 6, 2)
        );
        assert!(s.to_string().ends_with(", 2 pushes (1 refused)"), "{s}");
        // Taken: the next period starts from zero, and a period without pushes does not name them.
        let s = stats.take();
        assert_eq!(s, PollSummary::default());
        assert!(!s.to_string().contains("push"));
    }
}
