//! `newswatch poll [--once] [--feed URL|ID]`: one pass, then exit. Exit 1 if any feed failed.
//!
//! `--once` over every enabled feed reads them from the store a page at a time (`PAGE`) as polls
//! finish, so a pass over 100,000 feeds never holds all their rows (the reports, a few short
//! strings each, are kept to print them in feed order).

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use crate::commands::Format;
use crate::commands::{Ctx, print_jsonl, print_table_by};
use crate::error::{CliError, CliResult};
use crate::poller::{PollReport, poll_feed};
use crate::store::{Feed, Writer};
use crate::util::now_ms;

/// Feed rows read from the store at once by `poll --once`.
const PAGE: usize = 512;

pub fn poll(ctx: &Ctx, once: bool, feed: Option<String>, format: Format) -> CliResult {
    let mut store = ctx.store()?;
    // `None`: every enabled feed, read page by page once the writer owns the store.
    let listed: Option<Vec<Feed>> = match &feed {
        Some(key) => {
            let f = match store.find_feed(key)? {
                Some(f) => f,
                None if crate::config::validate_feed_url(key).is_ok() => {
                    let id = store.ensure_feed(key)?;
                    store.feed(id)?.expect("just added")
                }
                None => {
                    return Err(CliError::usage(format!(
                        "no feed {key:?} (give an id or a URL)"
                    )));
                }
            };
            Some(vec![f])
        }
        None if once => None,
        None => Some(store.due_feeds(now_ms(), usize::MAX)?),
    };
    let writer = Writer::spawn(store);
    let pctx = crate::daemon::poll_ctx(ctx.config.clone(), writer)?;
    let feeds = match listed {
        Some(list) => stream::iter(list.into_iter().map(Ok)).boxed(),
        None => enabled_feeds(ctx)?,
    };
    let rt = ctx.runtime()?;
    // At most `max_in_flight` polls at once (each holds its body or prepared result until its
    // commit), in list order; the reports are put back in that order.
    let limit = pctx.max_in_flight();
    let mut reports: Vec<(usize, PollReport)> = rt.block_on(
        feeds
            .enumerate()
            .map(|(i, f)| {
                let pctx = pctx.clone();
                async move { anyhow::Ok((i, poll_feed(&pctx, f?).await)) }
            })
            .buffer_unordered(limit)
            .try_collect(),
    )?;
    reports.sort_unstable_by_key(|(i, _)| *i);
    let reports: Vec<PollReport> = reports.into_iter().map(|(_, r)| r).collect();
    tracing::info!(summary = %pctx.stats.take(), "poll finished");
    drop(pctx);
    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    match format {
        Format::Json | Format::Jsonl => print_jsonl(&reports)?,
        _ => {
            // Made a row at a time: 100,000 feeds' cells at once were the pass's peak of memory.
            print_table_by(
                &["FEED", "HTTP", "NEW", "UPD", "DUP", "ERROR", "URL"],
                reports.len(),
                |i| {
                    let r = &reports[i];
                    vec![
                        r.feed_id.to_string(),
                        r.status
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "-".into()),
                        r.new.to_string(),
                        r.updated.to_string(),
                        r.duplicates.to_string(),
                        r.error.clone().unwrap_or_default(),
                        r.url.clone(),
                    ]
                },
            );
        }
    }
    if failed > 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{failed} of {} feeds failed",
            reports.len()
        )));
    }
    Ok(())
}

/// Every enabled feed, by id: a thread reads them through its own read-only handle `PAGE` rows
/// at a time, at most a page ahead of the polls (a read queued behind the writer's commits
/// would stall the pass at every page).
fn enabled_feeds(ctx: &Ctx) -> CliResult<BoxStream<'static, anyhow::Result<Feed>>> {
    let reader = ctx.reader()?;
    let (tx, rx) = tokio::sync::mpsc::channel(PAGE);
    std::thread::Builder::new()
        .name("newswatch-feed-pages".into())
        .spawn(move || {
            let mut after = 0;
            loop {
                let page = match reader.enabled_feeds_after(after, PAGE) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                let full = page.len() == PAGE;
                for f in page {
                    after = f.id;
                    if tx.blocking_send(Ok(f)).is_err() {
                        return;
                    }
                }
                if !full {
                    return;
                }
            }
        })?;
    Ok(stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) }).boxed())
}
