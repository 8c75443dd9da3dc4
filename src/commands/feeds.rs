//! `newswatch feeds add|list|remove|status|import|export`.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::commands::Format;
use crate::commands::{Ctx, print_json, print_table};
use crate::error::{CliError, CliResult};
use crate::opml;
use crate::store::NewFeed;
use crate::store::query::ms_to_rfc3339;

#[derive(Subcommand, Debug)]
pub enum FeedsCmd {
    /// Add a feed.
    Add {
        url: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List feeds.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove a feed (its articles stay in the archive).
    Remove { feed: String },
    /// Health of each feed: last fetch, errors, next poll.
    Status {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Import feeds from an OPML file.
    Import { file: PathBuf },
    /// Export feeds as OPML to stdout.
    Export,
}

pub fn run(ctx: &Ctx, cmd: FeedsCmd) -> CliResult {
    match cmd {
        FeedsCmd::Add { url, name } => add(ctx, url, name),
        FeedsCmd::Remove { feed } => remove(ctx, &feed),
        FeedsCmd::List { format } => list(ctx, format),
        FeedsCmd::Status { format } => status(ctx, format),
        FeedsCmd::Import { file } => import(ctx, &file),
        FeedsCmd::Export => {
            let feeds: Vec<opml::OpmlFeed> = ctx
                .reader()?
                .feeds()?
                .into_iter()
                .map(|f| opml::OpmlFeed {
                    url: f.url,
                    title: f.name.or(f.title),
                })
                .collect();
            print!("{}", opml::render(&feeds));
            Ok(())
        }
    }
}

fn add(ctx: &Ctx, url: String, name: Option<String>) -> CliResult {
    crate::config::validate_feed_url(&url).map_err(|e| CliError::usage(format!("{url:?}: {e}")))?;
    let mut store = ctx.store()?;
    let id = store.upsert_feed(&NewFeed {
        url: url.clone(),
        name,
        ..Default::default()
    })?;
    println!("feed {id}: {url}");
    Ok(())
}

fn remove(ctx: &Ctx, feed: &str) -> CliResult {
    let mut store = ctx.store()?;
    let f = store
        .find_feed(feed)?
        .ok_or_else(|| CliError::usage(format!("no feed {feed:?}")))?;
    if ctx.config.feed_config(&f.url).is_some() {
        eprintln!(
            "note: {} is listed in {}; it comes back on the next start unless removed there",
            f.url,
            ctx.config_path.display()
        );
    }
    store.remove_feed(f.id)?;
    println!("removed feed {}: {}", f.id, f.url);
    Ok(())
}

fn list(ctx: &Ctx, format: Format) -> CliResult {
    let feeds = ctx.reader()?.feeds()?;
    if matches!(format, Format::Json | Format::Jsonl) {
        return print_json(&feeds);
    }
    let rows: Vec<Vec<String>> = feeds
        .iter()
        .map(|f| {
            vec![
                f.id.to_string(),
                if f.enabled { "yes".into() } else { "no".into() },
                f.name.clone().or(f.title.clone()).unwrap_or_default(),
                f.url.clone(),
            ]
        })
        .collect();
    print_table(&["ID", "ENABLED", "NAME", "URL"], &rows);
    Ok(())
}

fn import(ctx: &Ctx, file: &Path) -> CliResult {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
    let feeds =
        opml::parse(&text).map_err(|e| CliError::usage(format!("{}: {e}", file.display())))?;
    let mut store = ctx.store()?;
    let mut valid = Vec::with_capacity(feeds.len());
    let mut skipped = 0;
    let mut progress = crate::progress::Progress::new("import", feeds.len() as u64);
    for f in &feeds {
        progress.inc();
        if crate::config::validate_feed_url(&f.url).is_err() {
            eprintln!("skipped {:?}: not an http(s) or file URL", f.url);
            skipped += 1;
            continue;
        }
        valid.push((f.url.clone(), f.title.clone()));
    }
    let added = store.import_feeds(&valid)?;
    println!(
        "imported {added} new feeds ({} in the file, {skipped} skipped)",
        feeds.len()
    );
    Ok(())
}

#[derive(serde::Serialize)]
struct Status {
    #[serde(flatten)]
    feed: crate::store::Feed,
    articles: i64,
    next_poll: String,
    last_success: Option<String>,
}

fn status(ctx: &Ctx, format: Format) -> CliResult {
    let store = ctx.reader()?;
    let counts = store.article_counts()?;
    let feeds: Vec<Status> = store
        .feeds()?
        .into_iter()
        .map(|f| Status {
            articles: counts.get(&f.id).copied().unwrap_or(0),
            next_poll: ms_to_rfc3339(f.next_poll_at),
            last_success: f.last_success_at.map(ms_to_rfc3339),
            feed: f,
        })
        .collect();
    if matches!(format, Format::Json | Format::Jsonl) {
        return print_json(&feeds);
    }
    let rows: Vec<Vec<String>> = feeds
        .iter()
        .map(|s| {
            let f = &s.feed;
            let health = f.health_text();
            vec![
                f.id.to_string(),
                s.articles.to_string(),
                s.last_success.clone().unwrap_or_else(|| "-".into()),
                if f.enabled {
                    s.next_poll.clone()
                } else {
                    "-".into()
                },
                health,
                f.url.clone(),
            ]
        })
        .collect();
    print_table(
        &["ID", "ARTICLES", "LAST OK", "NEXT POLL", "HEALTH", "URL"],
        &rows,
    );
    Ok(())
}
