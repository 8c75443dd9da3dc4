//! `newswatch ingest [--format jsonl] FILE...`: local feed files through the whole pipeline, in
//! the order given. Parsing, cleaning and fingerprinting run on all cores; commits happen in file
//! order. Files that are ready together are committed in one transaction (each file stays whole:
//! a crash keeps or loses whole files). A file that fails is an error line; the rest go on, and
//! the exit code is 1 at the end.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::commands::Format;
use crate::commands::{Ctx, print_table};
use crate::error::{CliError, CliResult};
use crate::fetch::read_file_capped;
use crate::pipeline::{Pipeline, Prepared};
use crate::store::feeds_log::FetchLog;
use crate::store::{CommitOutcome, FetchCommit, Store};
use crate::util::now_ms;

/// Most files committed in one transaction.
pub const BATCH: usize = 256;
/// Fewest items committed in one transaction (but for the last files, or `BATCH` files). Every
/// commit writes its own full-text segment (later merged) and rewrites the index pages it touched:
/// committing each run of files as soon as it was ready (often 2-10 files) cost the writer a fifth
/// more work.
pub const MIN_BATCH_ITEMS: usize = 512;

pub fn ingest(ctx: &Ctx, format: Format, files: &[PathBuf]) -> CliResult {
    let pipeline = Pipeline::new(ctx.config.clone())?;
    let cap = ctx.config.http.max_body_bytes;
    let urls: Vec<String> = files.iter().map(|f| file_url(f)).collect();
    let jsonl = matches!(format, Format::Jsonl | Format::Json);

    let workers = crate::workers::threads(files.len());
    let order = work_order(files, workers);
    let mut report = Report::default();
    // A progress line on a terminal; nothing when stderr is piped.
    let mut progress = crate::progress::Progress::new("ingest", files.len() as u64);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let prepare = |i: usize| {
        read_file_capped(&files[i], cap)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                pipeline
                    .prepare(&b, &urls[i], None)
                    .map_err(|e| e.to_string())
            })
    };
    crate::workers::ordered(&order, workers, 256, prepare, |results| -> CliResult {
        // The workers are parsing meanwhile. If opening fails, returning stops them.
        let mut store = ctx.store()?;
        let feed_ids = store.ensure_ingest_feeds(&urls)?;
        // Commit strictly in the order given, a run of consecutive files at a time once it holds
        // `MIN_BATCH_ITEMS` items (or `BATCH` files, or the last file).
        let (mut batch, mut items, mut first) = (Vec::new(), 0, 0);
        for (i, res) in results {
            items += res.as_ref().map_or(0, |p: &Prepared| p.articles.len());
            batch.push(res);
            if items < MIN_BATCH_ITEMS && batch.len() < BATCH && i + 1 < files.len() {
                continue;
            }
            let range = first..i + 1;
            let results = commit_run(
                &mut store,
                &pipeline,
                &feed_ids[range.clone()],
                &urls[range],
                std::mem::take(&mut batch),
            );
            for (k, res) in results.into_iter().enumerate() {
                report.write(&mut out, jsonl, &files[first + k], res)?;
            }
            (first, items) = (i + 1, 0);
            progress.set(first as u64);
        }
        Ok(())
    })?;
    progress.finish();
    out.flush()?;
    drop(out);
    if !jsonl {
        print_table(
            &["FILES", "FAILED", "ITEMS", "NEW", "UPDATED", "DUPLICATES"],
            &[vec![
                files.len().to_string(),
                report.failed.to_string(),
                report.items.to_string(),
                report.new.to_string(),
                report.updated.to_string(),
                report.duplicates.to_string(),
            ]],
        );
    }
    if report.failed > 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{} of {} files failed",
            report.failed,
            files.len()
        )));
    }
    Ok(())
}

/// The order the workers take the files in: the files given, except that very large ones (more
/// than an eighth of one worker's share of the bytes) go first. Commits stay in the given order, so
/// a small file must not wait long for its turn; but a big feed reached last kept one core busy
/// alone at the end (one 1.6 MB podcast feed was a fifth of an ingest's work) while the writer
/// waited for it.
fn work_order(files: &[PathBuf], workers: usize) -> Vec<usize> {
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .collect();
    let big = sizes.iter().sum::<u64>() / (8 * workers.max(1) as u64);
    let (mut first, rest): (Vec<usize>, Vec<usize>) =
        (0..files.len()).partition(|&i| sizes[i] > big && files.len() > 1);
    first.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    first.extend(rest);
    first
}

#[derive(Default)]
struct Report {
    failed: usize,
    items: u64,
    new: u64,
    updated: u64,
    duplicates: u64,
}

impl Report {
    fn write(
        &mut self,
        out: &mut impl Write,
        jsonl: bool,
        file: &Path,
        res: Result<CommitOutcome, String>,
    ) -> CliResult {
        match res {
            Ok(o) => {
                self.items += o.items.len() as u64;
                self.new += u64::from(o.new);
                self.updated += u64::from(o.updated);
                self.duplicates += u64::from(o.duplicates);
                if jsonl {
                    for it in &o.items {
                        serde_json::to_writer(&mut *out, it).map_err(anyhow::Error::from)?;
                        out.write_all(b"\n")?;
                    }
                }
            }
            Err(e) => {
                self.failed += 1;
                eprintln!("newswatch: {}: {e}", file.display());
                if jsonl {
                    serde_json::to_writer(
                        &mut *out,
                        &json!({"file": file.display().to_string(), "error": e}),
                    )
                    .map_err(anyhow::Error::from)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }
}

/// Commits a run of consecutive files in one transaction. If that transaction fails, the files
/// are committed one by one so that one bad file cannot take the others down with it.
fn commit_run(
    store: &mut Store,
    pipeline: &Pipeline,
    feed_ids: &[i64],
    urls: &[String],
    batch: Vec<Result<Prepared, String>>,
) -> Vec<Result<CommitOutcome, String>> {
    let full_text = pipeline.config.clean.full_text;
    let mut results: Vec<Option<Result<CommitOutcome, String>>> = Vec::with_capacity(batch.len());
    let mut commits = Vec::new();
    let mut slots = Vec::new();
    let mut pre = crate::pipeline::Precomputed::default();
    for (k, res) in batch.into_iter().enumerate() {
        match res {
            Ok(mut p) => {
                pre.extend(std::mem::take(&mut p.matches));
                commits.push(file_commit(p, feed_ids[k], &urls[k]));
                slots.push(k);
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    match pipeline.with_precomputed(full_text, &pre, |policy| {
        store.commit_batch(&commits, policy)
    }) {
        Ok(outs) => {
            for (slot, o) in slots.iter().zip(outs) {
                results[*slot] = Some(Ok(o));
            }
        }
        Err(_) => {
            for (slot, c) in slots.iter().zip(commits) {
                let r = pipeline
                    .with_precomputed(full_text, &pre, |policy| store.commit_fetch(c, policy))
                    .map_err(|e| format!("{e:#}"));
                results[*slot] = Some(r);
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every slot filled"))
        .collect()
}

/// The commit of a local file's feed: its articles, its title, link and language, and a fetch log
/// row without HTTP status. Such a feed is never polled (`next_poll_at` max).
pub fn file_commit(p: Prepared, feed_id: i64, url: &str) -> FetchCommit {
    let log = FetchLog {
        url: url.to_string(),
        at: now_ms(),
        ..Default::default()
    };
    p.into_commit(feed_id, i64::MAX, log)
}

fn file_url(p: &Path) -> String {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    url::Url::from_file_path(&abs)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("file://{}", abs.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn very_large_files_go_first_the_rest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = [10usize, 10, 5_000, 10, 3_000, 10, 10, 10]
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let p = dir.path().join(format!("f{i}.xml"));
                std::fs::write(&p, vec![b'x'; n]).unwrap();
                p
            })
            .collect();
        assert_eq!(work_order(&files, 2), [2, 4, 0, 1, 3, 5, 6, 7]);
        // A missing file counts as empty; one file is just itself.
        let mut with_missing = files.clone();
        with_missing.push(dir.path().join("missing.xml"));
        assert_eq!(work_order(&with_missing, 2)[..2], [2, 4]);
        assert_eq!(work_order(&files[2..3], 2), [0]);
    }
}
