//! `newswatch alerts list | retry ID | tail`: the alert outbox from the command line (`mark` lives
//! in `commands::feedback`).
//! `list` and `tail` read through a read-only connection (safe while the daemon runs); `retry`
//! writes one short transaction (SQLite serialises it with the daemon's writer).

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Subcommand;

use crate::alerts::one_line;
use crate::commands::Format;
use crate::commands::feedback::MarkLabel;
use crate::commands::{Ctx, print_json, print_jsonl, print_table, terminal_safe};
use crate::error::{CliError, CliResult};
use crate::store::{OutboxQuery, OutboxRow};
use crate::topics::Severity;
use crate::util::now_ms;

#[derive(Subcommand, Debug)]
pub enum AlertsCmd {
    /// List alerts in the outbox.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Put a failed alert back to pending.
    Retry { id: String },
    /// Mark an alert (id or uid) relevant or irrelevant: the mark judges its story for its topic.
    Mark { id: String, label: MarkLabel },
    /// Print alerts as they are delivered.
    Tail {
        #[arg(long)]
        topic: Option<String>,
    },
}

pub fn run(ctx: &Ctx, args: AlertsCmd) -> CliResult {
    match args {
        AlertsCmd::List {
            status,
            limit,
            format,
        } => list(ctx, status.as_deref(), limit, format),
        AlertsCmd::Retry { id } => retry(ctx, &id),
        AlertsCmd::Tail { topic } => tail(ctx, topic.as_deref()),
        AlertsCmd::Mark { id, label } => crate::commands::feedback::mark(ctx, &id, label),
    }
}

fn severities(ctx: &Ctx) -> HashMap<String, Severity> {
    ctx.config
        .topics
        .iter()
        .map(|t| (t.id.clone(), t.severity))
        .collect()
}

fn list(ctx: &Ctx, status: Option<&str>, limit: i64, format: Format) -> CliResult {
    if let Some(s) = status
        && !matches!(s, "pending" | "delivered" | "failed")
    {
        return Err(CliError::usage(format!(
            "--status: {s:?} is not one of pending, failed, delivered"
        )));
    }
    if limit < 1 {
        return Err(CliError::usage("--limit: must be at least 1"));
    }
    let conn = ctx.reader()?;
    let sev = severities(ctx);
    let rows = conn.outbox_rows(&OutboxQuery::Latest { status, limit }, &|t: &str| {
        sev.get(t).copied().unwrap_or_default()
    })?;
    match format {
        Format::Json => print_json(&rows),
        Format::Jsonl => print_jsonl(&rows),
        Format::Table => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let when = match (&r.delivered_at, r.status.as_str()) {
                        (Some(d), _) => d.clone(),
                        (None, "pending") => format!("next {}", r.next_attempt_at),
                        _ => r.next_attempt_at.clone(),
                    };
                    vec![
                        r.id.to_string(),
                        r.alert.uid.clone(),
                        r.alert.topic.clone(),
                        r.sink.clone(),
                        r.status.clone(),
                        r.attempts.to_string(),
                        when,
                        r.alert.title.clone(),
                        r.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "ID",
                    "UID",
                    "TOPIC",
                    "SINK",
                    "STATUS",
                    "ATTEMPTS",
                    "WHEN",
                    "TITLE",
                    "LAST ERROR",
                ],
                &table,
            );
            Ok(())
        }
        other => Err(CliError::usage(format!(
            "alerts list: --format {other:?} is not supported (table, json, jsonl)"
        ))),
    }
}

fn retry(ctx: &Ctx, key: &str) -> CliResult {
    let key = key.trim();
    if key.is_empty() {
        return Err(CliError::usage("alerts retry: give an alert id or uid"));
    }
    let mut store = ctx.store()?;
    let rows = store.retry_alerts(key, now_ms())?;
    if rows.is_empty() {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "no alert with id or uid {key:?}"
        )));
    }
    let mut revived = 0;
    for r in &rows {
        match r.was.as_str() {
            "failed" => {
                revived += 1;
                println!("alert {} ({}): failed -> pending, due now", r.id, r.uid);
            }
            "pending" => {
                revived += 1;
                println!("alert {} ({}): already pending, now due", r.id, r.uid);
            }
            other => println!("alert {} ({}): {other}, left alone", r.id, r.uid),
        }
    }
    if revived == 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "alert {key:?} was already delivered; nothing to retry"
        )));
    }
    Ok(())
}

/// Follows deliveries by polling the database read-only. Rows can commit slightly out of
/// `delivered_at` order (concurrent deliveries), so each poll looks back a minute and skips the
/// rows already printed.
fn tail(ctx: &Ctx, topic: Option<&str>) -> CliResult {
    const LOOKBACK_MS: i64 = 60_000;
    let conn = ctx.reader()?;
    let sev = severities(ctx);
    let sev = |t: &str| sev.get(t).copied().unwrap_or_default();
    let json = !std::io::stdout().is_terminal();
    let start = now_ms();
    let mut newest = start;
    let mut seen: HashSet<i64> = HashSet::new();
    let mut seen_at: Vec<(i64, i64)> = Vec::new();
    loop {
        let since = (newest - LOOKBACK_MS).max(start);
        let rows = conn.outbox_rows(&OutboxQuery::DeliveredAfter { since, topic }, &sev)?;
        let out = std::io::stdout();
        let mut out = out.lock();
        for r in rows {
            if !seen.insert(r.id) {
                continue;
            }
            let at = r.delivered_ms.unwrap_or(start);
            newest = newest.max(at);
            seen_at.push((at, r.id));
            let line = if json {
                serde_json::to_string(&r).map_err(anyhow::Error::from)?
            } else {
                human(&r)
            };
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                return Ok(()); // the reader went away (closed pipe)
            }
        }
        drop(out);
        // Forget rows that fell out of the look-back window.
        seen_at.retain(|(at, id)| {
            let keep = *at > newest - 2 * LOOKBACK_MS;
            if !keep {
                seen.remove(id);
            }
            keep
        });
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn human(r: &OutboxRow) -> String {
    terminal_safe(&format!(
        "{}  {:<8} {}  -> {}  {}  {}",
        r.delivered_at.as_deref().unwrap_or(""),
        r.alert.severity.name(),
        r.alert.topic,
        r.sink,
        one_line(&r.alert.title),
        r.alert.link.as_deref().unwrap_or("")
    ))
}
