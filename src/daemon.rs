//! The daemon: schedules due feeds, polls them within the concurrency limits, and (through the
//! modules that plug in here) dispatches alerts and serves HTTP, until cancelled.
//!
//! Invariants: a poll cancelled by shutdown before its commit commits nothing (the writer thread
//! finishes any transaction already handed to it before the process exits); one failing feed
//! never stops the loop.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::pipeline::Pipeline;
use crate::poller::{PollCtx, poll_feed};
use crate::store::{NewFeed, Store, Writer};
use crate::util::{Burst, now_ms};

/// Opens the store and registers the feeds listed in config.toml.
pub fn open_store(config: &Config, db: &Path) -> anyhow::Result<Store> {
    let mut store = Store::open(db)?;
    sync_config_feeds(&mut store, config)?;
    Ok(store)
}

/// Feeds from config.toml are added (or their name/interval/full_text updated); feeds added with
/// `feeds add` are left alone.
pub fn sync_config_feeds(store: &mut Store, config: &Config) -> anyhow::Result<()> {
    for f in &config.feeds {
        if !f.enabled {
            continue;
        }
        store.upsert_feed(&NewFeed {
            url: f.url.clone(),
            name: f.name.clone(),
            fixed_interval_ms: f.interval.map(|d| d.as_millis() as i64),
            full_text: f.full_text,
        })?;
    }
    Ok(())
}

/// Builds the shared polling context.
pub fn poll_ctx(config: Arc<Config>, writer: Writer) -> anyhow::Result<PollCtx> {
    Ok(PollCtx::new(
        Fetcher::new(&config.http)?,
        writer,
        Arc::new(Pipeline::new(config)?),
    ))
}

/// Runs until `shutdown` is cancelled. Returns after in-flight commits have finished.
pub async fn run(
    config: Arc<Config>,
    db: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (writer, ctx) = start_store(&config, db).await?;
    let server = start_server(&config, db, &ctx, &shutdown).await?;
    let tracker = TaskTracker::new();
    spawn_services(&config, &ctx, &tracker, &shutdown)?;
    // The store's enabled feeds (config ones and those added by `feeds add` or OPML), and how
    // many of them are due now: `due_count` at the end of time counts every enabled feed.
    let (feeds, due) = writer
        .call(|s| Ok((s.due_count(i64::MAX)?, s.due_count(now_ms())?)))
        .await?;
    tracing::info!(db = %db.display(), feeds, due, topics = config.topics.len(), "newswatch running");

    tracker.spawn(crate::fulltext::run(ctx.clone(), shutdown.clone()));
    let mut sched = Scheduler {
        admission: Arc::new(Semaphore::new(ctx.max_in_flight())),
        in_flight: Arc::default(),
        watchdog: crate::notify::Watchdog::from_env(),
        summary: Burst::new(config.log.summary.max(Duration::from_secs(1))),
    };
    crate::notify::ready();
    crate::notify::status("running; first poll cycle starting");
    let mut tick = tokio::time::interval(config.poll.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        sched.progress(&ctx).await;
        sched.start_due(&ctx, &tracker, &shutdown).await;
    }
    crate::notify::stopping();
    tracker.close();
    tracker.wait().await;
    let period = sched.summary.end();
    sched.summarize(&ctx, period).await;
    stop(&writer, server).await;
    Ok(())
}

/// Opens the store (off the async threads: a PostgreSQL client blocks on its own runtime), its
/// single writer, and the polling context with WebSub push when configured.
async fn start_store(config: &Arc<Config>, db: &Path) -> anyhow::Result<(Writer, PollCtx)> {
    let store = {
        let (config, db) = (config.clone(), db.to_path_buf());
        tokio::task::spawn_blocking(move || open_store(&config, &db)).await??
    };
    let writer = Writer::spawn(store);
    let mut ctx = poll_ctx(config.clone(), writer.clone())?;
    // Push: the callback is served by the HTTP face, pushes are ingested with the poll's context.
    ctx.websub = crate::websub::WebSub::new(config, ctx.clone())?;
    Ok((writer, ctx))
}

/// The HTTP face (issue 6), when enabled: refuses to start on a non-loopback bind without a
/// token. It also serves the WebSub callback routes.
async fn start_server(
    config: &Config,
    db: &Path,
    ctx: &PollCtx,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<crate::web::Server>> {
    if !config.server.enabled {
        return Ok(None);
    }
    let open = ctx.websub.as_ref().map(|w| w.routes()).unwrap_or_default();
    let server = crate::web::start_with(
        &config.server,
        &config.base_dir,
        config.topics.clone(),
        db,
        open,
        shutdown.clone(),
    )
    .await?;
    Ok(Some(server))
}

/// The tasks that run beside polling until shutdown: WebSub renewals and the alert dispatcher.
fn spawn_services(
    config: &Config,
    ctx: &PollCtx,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    if let Some(ws) = ctx.websub.clone() {
        tracker.spawn(ws.run(config.poll.tick, shutdown.clone()));
    }
    tracker.spawn(
        crate::alerts::Dispatcher::new(
            &config.alerts,
            &config.sinks,
            &config.topics,
            &config.base_dir,
            ctx.writer.clone(),
        )?
        .with_summary(config.log.summary)
        .run(shutdown.clone()),
    );
    Ok(())
}

/// After the polls: lets the writer finish what it was given, then hands back what this process
/// still holds (PostgreSQL leases), so another daemon takes it over now rather than when it
/// expires; waits for the HTTP face to stop.
async fn stop(writer: &Writer, server: Option<crate::web::Server>) {
    if let Err(e) = writer.call(|s| s.release_leases()).await {
        tracing::warn!(error = %format!("{e:#}"), "could not release leases");
    }
    if let Some(server) = server
        && let Err(e) = server.wait().await
    {
        tracing::warn!(error = %format!("{e:#}"), "http server stopped with an error");
    }
    tracing::info!("newswatch stopped");
}

/// The scheduler's state: which feeds have a poll in flight, and how many polls may be.
struct Scheduler {
    /// One permit per poll started and not finished (`PollCtx::max_in_flight`): the scheduler
    /// waits for a permit before it starts a poll, so a slow writer slows fetching.
    admission: Arc<Semaphore>,
    in_flight: Arc<Mutex<HashSet<i64>>>,
    watchdog: crate::notify::Watchdog,
    summary: Burst,
}

impl Scheduler {
    /// Starts polls of the due feeds, longest due first, in batches no larger than the polls it
    /// may start, until none is due or shutdown. Returns early only on shutdown.
    async fn start_due(
        &mut self,
        ctx: &PollCtx,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) {
        let limit = ctx.max_in_flight();
        loop {
            // Feeds in flight are still due until their commit: ask for enough rows to find
            // `limit` others.
            let want = limit + self.in_flight.lock().unwrap().len();
            let due = match ctx.writer.call(move |s| s.due_feeds(now_ms(), want)).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot read due feeds");
                    return;
                }
            };
            let more = due.len() == want;
            let mut started = 0;
            for feed in due {
                if self.in_flight.lock().unwrap().contains(&feed.id) {
                    continue;
                }
                let permit = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    p = self.admission.clone().acquire_owned() => p.expect("admission is never closed"),
                };
                self.in_flight.lock().unwrap().insert(feed.id);
                let pctx = ctx.clone();
                let token = shutdown.clone();
                let in_flight = self.in_flight.clone();
                tracker.spawn(async move {
                    let id = feed.id;
                    tokio::select! {
                        // Shutdown drops a poll that has not reached its commit: nothing is half-written.
                        _ = token.cancelled() => {}
                        _ = poll_feed(&pctx, feed) => {}
                    }
                    in_flight.lock().unwrap().remove(&id);
                    drop(permit);
                });
                started += 1;
                self.progress(ctx).await;
            }
            if !more || started == 0 {
                return;
            }
        }
    }

    /// The scheduler is alive: pings the watchdog, and logs the summary when it is time.
    async fn progress(&mut self, ctx: &PollCtx) {
        self.watchdog.ping();
        if let Some(period) = self.summary.due() {
            self.summarize(ctx, period).await;
        }
    }

    /// One INFO line of what the polls of the period did (when there was or is work), and the
    /// same as systemd's STATUS.
    async fn summarize(&self, ctx: &PollCtx, period: Duration) {
        let s = ctx.stats.take();
        let due = ctx
            .writer
            .call(|s| s.due_count(now_ms()))
            .await
            .unwrap_or(-1);
        let in_flight = self.in_flight.lock().unwrap().len();
        if s.polled > 0 || s.pushes + s.pushes_refused > 0 || due > 0 {
            tracing::info!(
                polled = s.polled,
                pushes = s.pushes,
                pushes_refused = s.pushes_refused,
                not_modified = s.not_modified,
                new = s.new,
                updated = s.updated,
                duplicates = s.duplicates,
                errors = s.errors,
                lag_s = s.max_lag_ms / 1000,
                due,
                in_flight,
                period_s = period.as_secs(),
                "poll summary"
            );
        }
        crate::notify::status(&format!(
            "last {}s: {s}; {due} due, {in_flight} in flight",
            period.as_secs()
        ));
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
