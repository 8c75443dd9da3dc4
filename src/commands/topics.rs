//! `newswatch topics list | check | test ID [--since 30d]`.
//!
//! `check` compiles every topic on its own so that all broken queries are reported (topic, field,
//! position, message and a caret line), exits 2 if any is broken, and prints lint warnings (very
//! short wildcards, unused groups). Config loading already refuses broken queries with the same
//! message, so `check` mostly confirms and lints. `test` backtests one topic over the stored
//! archive (read-only) and lists what it would have flagged, with snippets. `test --feedback` and
//! `export-labels` (readers' marks) live in `commands::feedback`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;

use crate::commands::Format;
use crate::commands::{Ctx, print_json, print_jsonl, print_table, terminal_safe};
use crate::error::{CliError, CliResult};
use crate::topics::{Doc, Matcher, TopicConfig, TopicError};

#[derive(Subcommand, Debug)]
pub enum TopicsCmd {
    /// List configured topics.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Check that every topic query parses; print errors with positions.
    Check,
    /// Run a topic over the stored archive: what it would have flagged.
    Test {
        id: String,
        /// Articles (with --feedback: marks) this recent; default 30d (with --feedback: all).
        #[arg(long)]
        since: Option<String>,
        /// Report precision over the alerts readers marked, and list the irrelevant ones.
        #[arg(long)]
        feedback: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Write readers' marks as labelled JSON lines (the format of the topic eval sets).
    ExportLabels {
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(ctx: &Ctx, args: TopicsCmd) -> CliResult {
    match args {
        TopicsCmd::List { format } => list(ctx, format),
        TopicsCmd::Check => check(ctx),
        TopicsCmd::Test {
            id,
            since,
            feedback: true,
            format,
        } => crate::commands::feedback::topic_report(ctx, &id, since.as_deref(), format),
        TopicsCmd::Test {
            id, since, format, ..
        } => test(ctx, &id, since.as_deref().unwrap_or("30d"), format),
        TopicsCmd::ExportLabels { out } => {
            crate::commands::feedback::export_labels(ctx, out.as_deref())
        }
    }
}

#[derive(Serialize)]
struct TopicRow<'a> {
    id: &'a str,
    description: Option<&'a str>,
    severity: crate::topics::Severity,
    enabled: bool,
    sinks: &'a [String],
    query: &'a str,
    exclude: Option<&'a str>,
    groups: &'a std::collections::BTreeMap<String, Vec<String>>,
}

fn list(ctx: &Ctx, format: Format) -> CliResult {
    let rows: Vec<TopicRow> = ctx
        .config
        .topics
        .iter()
        .map(|t| TopicRow {
            id: &t.id,
            description: t.description.as_deref(),
            severity: t.severity,
            enabled: t.enabled,
            sinks: &t.sinks,
            query: &t.query,
            exclude: t.exclude.as_deref(),
            groups: &t.groups,
        })
        .collect();
    match format {
        Format::Json => print_json(&rows),
        Format::Jsonl => print_jsonl(&rows),
        _ => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        format!("{:?}", r.severity).to_lowercase(),
                        if r.enabled { "yes".into() } else { "no".into() },
                        r.sinks.join(","),
                        r.groups.len().to_string(),
                        r.query.split_whitespace().collect::<Vec<_>>().join(" "),
                    ]
                })
                .collect();
            print_table(
                &["ID", "SEVERITY", "ENABLED", "SINKS", "GROUPS", "QUERY"],
                &table,
            );
            Ok(())
        }
    }
}

/// Lint warnings for a topic that compiles.
pub fn lint(t: &TopicConfig) -> Vec<String> {
    let mut w = Vec::new();
    let used: BTreeSet<&str> = [t.query.as_str(), t.exclude.as_deref().unwrap_or("")]
        .iter()
        .flat_map(|q| q.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ':')))
        .filter_map(|x| x.strip_prefix('@'))
        .collect();
    for name in t.groups.keys() {
        if !used.contains(name.as_str()) {
            w.push(format!("topic {:?}: group @{name} is never used", t.id));
        }
    }
    for (name, entries) in &t.groups {
        for e in entries {
            for word in e.trim_matches('"').split_whitespace() {
                let core = word.trim_matches('*');
                if word.contains('*') && core.chars().count() < 3 {
                    w.push(format!("topic {:?}: groups.{name}: {e:?}: a wildcard on fewer than 3 letters matches almost anything", t.id));
                }
            }
        }
    }
    w
}

fn check(ctx: &Ctx) -> CliResult {
    let mut errors: Vec<TopicError> = Vec::new();
    let mut patterns = 0;
    for t in &ctx.config.topics {
        match Matcher::compile(std::slice::from_ref(t)) {
            Ok(m) => patterns += m.pattern_count(),
            Err(e) => errors.push(e),
        }
        for w in lint(t) {
            eprintln!("warning: {w}");
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        return Err(CliError::usage(format!("{} broken topic(s)", errors.len())));
    }
    let all = Matcher::compile(&ctx.config.topics).map_err(|e| CliError::usage(e.to_string()))?;
    println!(
        "{} topic(s) ok, {} enabled, {} term patterns",
        ctx.config.topics.len(),
        all.len(),
        patterns
    );
    Ok(())
}

#[derive(Serialize)]
struct Flagged {
    id: i64,
    title: String,
    link: Option<String>,
    lang: Option<String>,
    terms: Vec<String>,
    snippet: String,
}

/// A matcher of the configured topic `id` alone, enabled even if the config disables it.
pub(crate) fn topic_matcher(ctx: &Ctx, id: &str) -> CliResult<Matcher> {
    let Some(t) = ctx.config.topics.iter().find(|t| t.id == id) else {
        let ids: Vec<&str> = ctx.config.topics.iter().map(|t| t.id.as_str()).collect();
        return Err(CliError::usage(format!(
            "no topic {id:?} (topics: {})",
            ids.join(", ")
        )));
    };
    let mut t = t.clone();
    t.enabled = true;
    Matcher::compile(&[t]).map_err(|e| CliError::usage(e.to_string()))
}

/// The host of an article's link, for `site:` terms.
pub(crate) fn link_host(link: Option<&str>) -> Option<String> {
    link.and_then(|l| url::Url::parse(l).ok())
        .and_then(|u| u.host_str().map(str::to_string))
}

fn test(ctx: &Ctx, id: &str, since: &str, format: Format) -> CliResult {
    let matcher = topic_matcher(ctx, id)?;
    let since_ms = crate::util::since_ms(since)
        .map_err(|e| CliError::usage(format!("--since {since:?}: {e}")))?;
    if crate::store::postgres_url(&ctx.db).is_none() && !ctx.db.exists() {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "no database at {}",
            ctx.db.display()
        )));
    }
    let conn = ctx.reader()?;
    let articles = conn.articles_since(since_ms)?;
    let total = articles.len();
    let mut flagged = Vec::new();
    for (aid, title, text, lang, link) in articles {
        let site = link_host(link.as_deref());
        let doc = Doc {
            title: &title,
            text: &text,
            lang: lang.as_deref(),
            site: site.as_deref(),
        };
        if let Some(m) = matcher.match_doc(&doc).into_iter().next() {
            flagged.push(Flagged {
                id: aid,
                title,
                link,
                lang,
                terms: m.terms,
                snippet: m.snippet,
            });
        }
    }
    match format {
        Format::Json => print_json(&flagged),
        Format::Jsonl => print_jsonl(&flagged),
        _ => {
            let rows: Vec<Vec<String>> = flagged
                .iter()
                .map(|f| {
                    vec![
                        f.id.to_string(),
                        f.lang.clone().unwrap_or_default(),
                        f.title.clone(),
                        f.terms.join(", "),
                        terminal_safe(&f.snippet),
                    ]
                })
                .collect();
            print_table(&["ID", "LANG", "TITLE", "TERMS", "SNIPPET"], &rows);
            eprintln!(
                "{} of {} articles since {since} flagged by {id}",
                flagged.len(),
                total
            );
            Ok(())
        }
    }
}
