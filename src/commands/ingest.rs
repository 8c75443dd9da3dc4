//! `newswatch ingest [--format jsonl] FILE...`: local feed files through the whole pipeline, in
//! the order given. Parsing and cleaning run on all cores; commits happen in file order, one
//! transaction per file. A file that fails is an error line; the rest go on (exit 1 at the end).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde_json::json;

use crate::cli::Format;
use crate::commands::{Ctx, print_table};
use crate::error::{CliError, CliResult};
use crate::fetch::read_file_capped;
use crate::pipeline::{Pipeline, Prepared};
use crate::store::feeds_log::FetchLog;
use crate::store::{FeedState, FetchCommit};
use crate::util::now_ms;

pub fn ingest(ctx: &Ctx, format: Format, files: &[PathBuf]) -> CliResult {
    let mut store = ctx.store()?;
    let pipeline = Pipeline::new(ctx.config.clone())?;
    let cap = ctx.config.http.max_body_bytes;
    let urls: Vec<String> = files.iter().map(|f| file_url(f)).collect();

    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<Prepared, String>)>(64);
    let mut failed = 0usize;
    let mut totals = [0u32; 4];
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    std::thread::scope(|s| -> CliResult {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, pipeline, files, urls) = (&next, &pipeline, files, &urls);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() {
                        break;
                    }
                    let res = read_file_capped(&files[i], cap)
                        .map_err(|e| e.to_string())
                        .and_then(|b| {
                            pipeline
                                .prepare(&b, &urls[i], None)
                                .map_err(|e| e.to_string())
                        });
                    if tx.send((i, res)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Commit strictly in the order given, buffering results that arrive early.
        let mut pending = BTreeMap::new();
        let mut want = 0usize;
        for (i, res) in rx {
            pending.insert(i, res);
            while let Some(res) = pending.remove(&want) {
                let file = &files[want];
                match res.and_then(|p| {
                    commit(&mut store, &pipeline, &urls[want], p).map_err(|e| format!("{e:#}"))
                }) {
                    Ok(outcome) => {
                        totals[0] += outcome.new;
                        totals[1] += outcome.updated;
                        totals[2] += outcome.duplicates;
                        totals[3] += outcome.items.len() as u32;
                        if matches!(format, Format::Jsonl | Format::Json) {
                            for it in &outcome.items {
                                serde_json::to_writer(&mut out, it).map_err(anyhow::Error::from)?;
                                std::io::Write::write_all(&mut out, b"\n")?;
                            }
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("newswatch: {}: {e}", file.display());
                        if matches!(format, Format::Jsonl | Format::Json) {
                            serde_json::to_writer(
                                &mut out,
                                &json!({"file": file.display().to_string(), "error": e}),
                            )
                            .map_err(anyhow::Error::from)?;
                            std::io::Write::write_all(&mut out, b"\n")?;
                        }
                    }
                }
                want += 1;
            }
        }
        Ok(())
    })?;
    std::io::Write::flush(&mut out)?;
    drop(out);
    if !matches!(format, Format::Jsonl | Format::Json) {
        print_table(
            &["FILES", "FAILED", "ITEMS", "NEW", "UPDATED", "DUPLICATES"],
            &[vec![
                files.len().to_string(),
                failed.to_string(),
                totals[3].to_string(),
                totals[0].to_string(),
                totals[1].to_string(),
                totals[2].to_string(),
            ]],
        );
    }
    if failed > 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{failed} of {} files failed",
            files.len()
        )));
    }
    Ok(())
}

fn commit(
    store: &mut crate::store::Store,
    pipeline: &Pipeline,
    url: &str,
    p: Prepared,
) -> anyhow::Result<crate::store::CommitOutcome> {
    let feed_id = store.ensure_ingest_feed(url)?;
    let now = now_ms();
    let c = FetchCommit {
        feed_id,
        articles: p.articles,
        state: FeedState {
            title: p.feed.title,
            site_url: p.feed.site_url,
            lang: p.feed.language,
            next_poll_at: i64::MAX,
            ..Default::default()
        },
        log: FetchLog {
            url: url.to_string(),
            at: now,
            status: None,
            ..Default::default()
        },
    };
    let full_text = pipeline.full_text_for(url, None);
    pipeline.with_policy(full_text, |policy| store.commit_fetch(c, policy))
}

fn file_url(p: &Path) -> String {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    url::Url::from_file_path(&abs)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("file://{}", abs.display()))
}
