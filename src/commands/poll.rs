//! `newswatch poll [--once] [--feed URL|ID]`: one pass, then exit. Exit 1 if any feed failed.

use futures_util::future::join_all;

use crate::cli::Format;
use crate::commands::{Ctx, print_jsonl, print_table};
use crate::error::{CliError, CliResult};
use crate::poller::poll_feed;
use crate::store::Writer;
use crate::util::now_ms;

pub fn poll(ctx: &Ctx, once: bool, feed: Option<String>, format: Format) -> CliResult {
    let mut store = ctx.store()?;
    let feeds = match &feed {
        Some(key) => {
            let f = match store.find_feed(key)? {
                Some(f) => f,
                None if crate::fetch::validate_feed_url(key).is_ok() => {
                    let id = store.ensure_feed(key)?;
                    store.feed(id)?.expect("just added")
                }
                None => {
                    return Err(CliError::usage(format!(
                        "no feed {key:?} (give an id or a URL)"
                    )));
                }
            };
            vec![f]
        }
        None if once => store.feeds()?.into_iter().filter(|f| f.enabled).collect(),
        None => store.due_feeds(now_ms())?,
    };
    let writer = Writer::spawn(store);
    let pctx = crate::daemon::poll_ctx(ctx.config.clone(), writer)?;
    let rt = ctx.runtime()?;
    let reports = rt.block_on(join_all(feeds.into_iter().map(|f| {
        let pctx = pctx.clone();
        async move { poll_feed(&pctx, f).await }
    })));
    drop(pctx);
    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    match format {
        Format::Json | Format::Jsonl => print_jsonl(&reports)?,
        _ => {
            let rows: Vec<Vec<String>> = reports
                .iter()
                .map(|r| {
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
                })
                .collect();
            print_table(
                &["FEED", "HTTP", "NEW", "UPD", "DUP", "ERROR", "URL"],
                &rows,
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
