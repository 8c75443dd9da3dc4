//! The daemon: schedules due feeds, polls them within the concurrency limits, and (through the
//! modules that plug in here) dispatches alerts and serves HTTP, until cancelled.
//!
//! Invariants: a poll cancelled by shutdown before its commit commits nothing (the writer thread
//! finishes any transaction already handed to it before the process exits); one failing feed
//! never stops the loop.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::pipeline::Pipeline;
use crate::poller::{PollCtx, poll_feed};
use crate::store::{NewFeed, Store, Writer};
use crate::util::now_ms;

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
    Ok(PollCtx {
        fetcher: Fetcher::new(&config.http)?,
        writer,
        pipeline: Arc::new(Pipeline::new(config)?),
    })
}

/// Runs until `shutdown` is cancelled. Returns after in-flight commits have finished.
pub async fn run(
    config: Arc<Config>,
    db: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let store = open_store(&config, db)?;
    let writer = Writer::spawn(store);
    let ctx = poll_ctx(config.clone(), writer.clone())?;
    // The HTTP face (issue 6): refuses to start on a non-loopback bind without a token.
    let server = if config.server.enabled {
        Some(
            crate::web::start(
                &config.server,
                &config.base_dir,
                config.topics.clone(),
                db,
                shutdown.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    let tracker = TaskTracker::new();
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    tracker.spawn(crate::alerts::Dispatcher::new(&config, writer.clone())?.run(shutdown.clone()));
    tracing::info!(db = %db.display(), feeds = config.feeds.len(), topics = config.topics.len(), "newswatch running");

    tracker.spawn(crate::fulltext::run(ctx.clone(), shutdown.clone()));
    let mut tick = tokio::time::interval(config.poll.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let due = match writer.call(|s| s.due_feeds(now_ms())).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot read due feeds");
                continue;
            }
        };
        for feed in due {
            if !in_flight.lock().unwrap().insert(feed.id) {
                continue;
            }
            let ctx = ctx.clone();
            let token = shutdown.clone();
            let in_flight = in_flight.clone();
            tracker.spawn(async move {
                let id = feed.id;
                tokio::select! {
                    // Shutdown drops a poll that has not reached its commit: nothing is half-written.
                    _ = token.cancelled() => {}
                    _ = poll_feed(&ctx, feed) => {}
                }
                in_flight.lock().unwrap().remove(&id);
            });
        }
    }
    tracker.close();
    tracker.wait().await;
    // Let the writer finish what it was given: a no-op job queued behind them.
    let _ = writer.call(|_| Ok(())).await;
    if let Some(server) = server
        && let Err(e) = server.wait().await
    {
        tracing::warn!(error = %format!("{e:#}"), "http server stopped with an error");
    }
    tracing::info!("newswatch stopped");
    Ok(())
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
