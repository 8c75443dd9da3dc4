//! `newswatch search QUERY [--since] [--topic] [--feed] [--lang] [--limit] [--format]`: full-text
//! search (FTS5) with filters. Each hit carries a highlight (the best passage, matched words marked
//! `[[like this]]`); the table shows it under the hit, bold on a terminal.

use std::io::{IsTerminal, Write};

use crate::cli::{Format, SearchArgs};
use crate::commands::{Ctx, print_json, print_jsonl, terminal_safe};
use crate::error::{CliError, CliResult};
use crate::store::query::{Hit, SearchFilter};
use crate::util::since_ms;

pub fn run(ctx: &Ctx, a: &SearchArgs) -> CliResult {
    let conn = ctx.reader()?;
    let feed_id = match &a.feed {
        Some(k) => Some(
            conn.find_feed(k)?
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
    let hits = conn.search(&a.query, &filter)?;
    match a.format {
        Format::Json => print_json(&hits),
        Format::Jsonl => print_jsonl(&hits),
        _ => {
            let tty = std::io::stdout().is_terminal();
            let mut out = std::io::stdout().lock();
            out.write_all(render_table(&hits, tty).as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// `[[marks]]` as bold on a terminal, kept as brackets otherwise. The text is made terminal-safe
/// first, so feed content cannot inject escape sequences.
pub fn highlight_for_terminal(s: &str, tty: bool) -> String {
    let safe = terminal_safe(s);
    if tty {
        safe.replace("[[", "\x1b[1;33m").replace("]]", "\x1b[0m")
    } else {
        safe
    }
}

/// The hit table: one line per hit, its highlighted passage indented below.
pub fn render_table(hits: &[Hit], tty: bool) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "{:<8}  {:<20}  {:<4}  {:>3}  TITLE\n",
        "ID", "PUBLISHED", "LANG", "SRC"
    ));
    for h in hits {
        let title: String = terminal_safe(&h.title).chars().take(100).collect();
        o.push_str(&format!(
            "{:<8}  {:<20}  {:<4}  {:>3}  {title}\n",
            h.id,
            h.published_at.as_deref().unwrap_or(""),
            terminal_safe(h.lang.as_deref().unwrap_or("")),
            h.sources
        ));
        if !h.highlight.is_empty() {
            o.push_str(&format!(
                "          {}\n",
                highlight_for_terminal(&h.highlight, tty)
            ));
        }
    }
    if hits.is_empty() {
        o.push_str("(no hits)\n");
    }
    o
}
