//! `newswatch search QUERY`: full-text search (FTS5) with filters.

use crate::cli::{Format, SearchArgs};
use crate::commands::{Ctx, print_json, print_jsonl, print_table};
use crate::error::{CliError, CliResult};
use crate::store::feed_read;
use crate::store::query::{SearchFilter, search};
use crate::util::since_ms;

pub fn run(ctx: &Ctx, a: &SearchArgs) -> CliResult {
    let conn = ctx.reader()?;
    let feed_id = match &a.feed {
        Some(k) => Some(
            feed_read::find(&conn, k)?
                .ok_or_else(|| CliError::usage(format!("no feed {k:?}")))?
                .id,
        ),
        None => None,
    };
    let filter = SearchFilter {
        since_ms: a
            .since
            .as_deref()
            .map(since_ms)
            .transpose()
            .map_err(CliError::usage)?,
        until_ms: None,
        topic: a.topic.clone(),
        feed_id,
        lang: a.lang.clone(),
        limit: a.limit,
    };
    let hits = search(&conn, &a.query, &filter)?;
    match a.format {
        Format::Json => print_json(&hits),
        Format::Jsonl => print_jsonl(&hits),
        _ => {
            let rows: Vec<Vec<String>> = hits
                .iter()
                .map(|h| {
                    vec![
                        h.id.to_string(),
                        h.published_at.clone().unwrap_or_default(),
                        h.lang.clone().unwrap_or_default(),
                        h.sources.to_string(),
                        h.title.clone(),
                    ]
                })
                .collect();
            print_table(&["ID", "PUBLISHED", "LANG", "SRC", "TITLE"], &rows);
            Ok(())
        }
    }
}
