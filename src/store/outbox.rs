//! The alert outbox in SQL (SQLite): due rows, digest grouping, rate-limit counts, recording
//! attempts, listing and retrying. Reached through `Write` / `Read`: the daemon through the store
//! `Writer`, the `alerts` commands on their own store.
//!
//! Invariants: a row leaves `pending` only here: `delivered` after its sink accepted it,
//! `failed` after `max_attempts` failed attempts; every attempt is one `alert_attempts` row.
//! A digest's members are updated together, in one transaction.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use serde::Serialize;

use super::Result;
use super::sql::{Args, Cols, Db, FromRow, args};
use crate::alerts::Alert;
use crate::store::query::ms_to_rfc3339;
use crate::topics::Severity;

/// A pending row whose time has come, as the dispatcher schedules it.
#[derive(Debug, Clone)]
pub struct DueRow {
    pub id: i64,
    pub uid: String,
    pub topic: String,
    pub sink: String,
    pub attempts: u32,
    pub digest_uid: Option<String>,
}

fn placeholders(n: usize, start: usize) -> String {
    (0..n)
        .map(|i| format!("?{}", i + start))
        .collect::<Vec<_>>()
        .join(",")
}

/// Pending rows due at `now` for the given sinks, oldest first (none for no sinks: SQLite's
/// `IN ()` is empty).
pub(super) fn due(conn: &Connection, now: i64, sinks: &[String], n: usize) -> Result<Vec<DueRow>> {
    let mut args = Args::default();
    let now = args.p(now);
    let sinks: Vec<String> = sinks.iter().map(|s| args.p(s.as_str())).collect();
    let sql = format!(
        "SELECT id, uid, topic, sink, attempts, digest_uid FROM alerts
         WHERE status = 'pending' AND next_attempt_at <= {now} AND sink IN ({})
         ORDER BY next_attempt_at, id LIMIT {n}",
        sinks.join(",")
    );
    conn.cached(&sql, &args.0)
}

impl FromRow for DueRow {
    /// `id, uid, topic, sink, attempts, digest_uid`.
    fn from_row(r: &impl Cols) -> Result<DueRow> {
        Ok(DueRow {
            id: r.get(0)?,
            uid: r.get(1)?,
            topic: r.get(2)?,
            sink: r.get(3)?,
            attempts: r.get::<i64>(4)? as u32,
            digest_uid: r.get(5)?,
        })
    }
}

/// The earliest future `next_attempt_at` of a pending row for these sinks.
pub(super) fn next_due_after(
    conn: &Connection,
    now: i64,
    sinks: &[String],
) -> rusqlite::Result<Option<i64>> {
    if sinks.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT MIN(next_attempt_at) FROM alerts WHERE status = 'pending' AND next_attempt_at > ?1 AND sink IN ({})",
        placeholders(sinks.len(), 2)
    );
    let mut p: Vec<rusqlite::types::Value> = vec![now.into()];
    p.extend(sinks.iter().map(|s| s.clone().into()));
    conn.query_row(&sql, params_from_iter(p), |r| r.get(0))
}

/// Pending rows per sink that no configured sink will ever take (the sink was removed).
pub(super) fn orphaned(
    conn: &Connection,
    sinks: &[String],
) -> rusqlite::Result<Vec<(String, i64)>> {
    let sql = format!(
        "SELECT sink, COUNT(*) FROM alerts WHERE status = 'pending' AND sink NOT IN ({}) GROUP BY sink",
        placeholders(sinks.len(), 1)
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(params_from_iter(sinks.iter()), |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    rows.collect()
}

/// The pending members of a digest.
pub(super) fn digest_members(conn: &Connection, digest_uid: &str) -> Result<Vec<DueRow>> {
    conn.cached(
        "SELECT id, uid, topic, sink, attempts, digest_uid FROM alerts
         WHERE digest_uid = ?1 AND status = 'pending' ORDER BY id",
        &args![digest_uid],
    )
}

/// What `form_digest` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestStep {
    /// A digest was formed from the waiting rows; deliver it now.
    Formed(String),
    /// The window is still open; the rows now wait until this time.
    Wait(i64),
    Nothing,
}

/// The digest window of one (topic, sink): its pending alerts wait up to `interval_ms` after the
/// oldest of them and go out together.
#[derive(Debug, Clone, Copy)]
pub struct DigestWindow<'a> {
    pub topic: &'a str,
    pub sink: &'a str,
    pub interval_ms: i64,
}

/// What the window's waiting rows `(id, uid, created_at)` call for at `now` (both backends):
/// nothing, waiting until the window closes, or a digest of all of them.
pub(super) fn digest_step(w: &DigestWindow, rows: &[(i64, String, i64)], now: i64) -> DigestStep {
    let Some(oldest) = rows.iter().map(|r| r.2).min() else {
        return DigestStep::Nothing;
    };
    let closes = oldest + w.interval_ms;
    if closes > now {
        return DigestStep::Wait(closes);
    }
    let uids = rows.iter().map(|r| r.1.as_str());
    DigestStep::Formed(digest_uid(w.topic, w.sink, now, uids))
}

/// For a digest topic: once the oldest ungrouped pending row of (topic, sink) is `interval_ms`
/// old, every ungrouped pending row of that pair becomes one digest (stable uid stored in the
/// rows); before that, the rows are postponed to the window's end. Since a window opens only
/// with a row created after the previous digest was formed, a pair gets at most one digest per
/// interval.
pub(super) fn form_digest(
    conn: &mut Connection,
    w: &DigestWindow,
    now: i64,
) -> rusqlite::Result<DigestStep> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows: Vec<(i64, String, i64)> = {
        let mut st = tx.prepare_cached(
            "SELECT id, uid, created_at FROM alerts
             WHERE topic = ?1 AND sink = ?2 AND status = 'pending' AND digest_uid IS NULL ORDER BY id",
        )?;
        st.query_map(params![w.topic, w.sink], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    let step = digest_step(w, &rows, now);
    match &step {
        DigestStep::Nothing => {}
        DigestStep::Wait(closes) => {
            tx.execute(
                "UPDATE alerts SET next_attempt_at = ?3
                 WHERE topic = ?1 AND sink = ?2 AND status = 'pending' AND digest_uid IS NULL AND next_attempt_at < ?3",
                params![w.topic, w.sink, closes],
            )?;
        }
        DigestStep::Formed(uid) => {
            let mut st = tx.prepare_cached(
                "UPDATE alerts SET digest_uid = ?2, next_attempt_at = ?3 WHERE id = ?1",
            )?;
            for r in &rows {
                st.execute(params![r.0, uid, now])?;
            }
        }
    }
    tx.commit()?;
    Ok(step)
}

/// The stable id of a digest formed at `now` from these alert uids.
fn digest_uid<'a>(
    topic: &str,
    sink: &str,
    now: i64,
    uids: impl Iterator<Item = &'a str>,
) -> String {
    let mut key = format!("{topic}\u{0}{sink}\u{0}{now}");
    for u in uids {
        key.push('\u{0}');
        key.push_str(u);
    }
    format!(
        "nw-digest-{:032x}",
        xxhash_rust::xxh3::xxh3_128(key.as_bytes())
    )
}

/// Delivery times (ms, ascending) of the distinct deliveries (a digest counts once) of
/// (topic, sink) after `since`.
pub(super) fn recent_deliveries(
    db: &impl Db,
    topic: &str,
    sink: &str,
    since: i64,
) -> Result<Vec<i64>> {
    db.cached(
        "SELECT max(delivered_at) AS t FROM alerts
         WHERE topic = ?1 AND sink = ?2 AND status = 'delivered' AND delivered_at > ?3
         GROUP BY coalesce(digest_uid, uid) ORDER BY t",
        &args![topic, sink, since],
    )
}

/// Moves the pending rows of a delivery (an alert uid or a digest uid) to `until`.
pub(super) fn postpone(conn: &Connection, key: &str, until: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE alerts SET next_attempt_at = ?2 WHERE (uid = ?1 OR digest_uid = ?1) AND status = 'pending'",
        params![key, until],
    )
}

/// The result of one attempt at one delivery.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub ids: &'a [i64],
    pub at: i64,
    /// `None`: delivered.
    pub error: Option<&'a str>,
    /// When to try again after a failure.
    pub retry_at: i64,
    pub max_attempts: u32,
}

/// Records an attempt for every row of a delivery, in one transaction. Returns how many rows
/// became `failed` (no attempts left).
pub(super) fn record(conn: &mut Connection, a: &Attempt) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut failed = 0;
    {
        let mut log = tx.prepare_cached(
            "INSERT INTO alert_attempts (alert_id, at, ok, error) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut ok = tx.prepare_cached(
            "UPDATE alerts SET status = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_error = NULL
             WHERE id = ?1 AND status = 'pending'",
        )?;
        let mut bad = tx.prepare_cached(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3,
                 status = CASE WHEN attempts + 1 >= ?4 THEN 'failed' ELSE 'pending' END
             WHERE id = ?1 AND status = 'pending' RETURNING status",
        )?;
        for &id in a.ids {
            log.execute(params![id, a.at, a.error.is_none(), a.error])?;
            match a.error {
                None => {
                    ok.execute(params![id, a.at])?;
                }
                Some(e) => {
                    let s: Option<String> = bad
                        .query_row(params![id, e, a.retry_at, a.max_attempts], |r| r.get(0))
                        .optional()?;
                    if s.as_deref() == Some("failed") {
                        failed += 1;
                    }
                }
            }
        }
    }
    tx.commit()?;
    Ok(failed)
}

/// One outbox row with its alert, as `alerts list` / `alerts tail` print it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub sink: String,
    pub status: String,
    pub attempts: u32,
    pub created_at: String,
    pub next_attempt_at: String,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub digest_uid: Option<String>,
    #[serde(flatten)]
    pub alert: Alert,
    #[serde(skip)]
    pub delivered_ms: Option<i64>,
}

pub(super) const COLS: &str = "a.id, a.uid, a.topic, a.sink, a.status, a.attempts, a.created_at, a.next_attempt_at, a.delivered_at,
    a.last_error, a.digest_uid, m.terms, m.snippet, m.matched_at, ar.id, ar.title, coalesce(ar.canonical_link, ar.link), ar.lang, ar.published_at,
    ar.sources, coalesce(f.name, f.title, f.url), f.url";
pub(super) const FROM: &str =
    "FROM alerts a JOIN matches m ON m.id = a.match_id JOIN articles ar ON ar.id = m.article_id
    LEFT JOIN feeds f ON f.id = ar.feed_id";

impl FromRow for OutboxRow {
    /// The row as `COLS` selects it; its alert's severity is the topic's (`with_severity`).
    fn from_row(r: &impl Cols) -> Result<OutboxRow> {
        let terms: String = r.get(11)?;
        let delivered_ms: Option<i64> = r.get(8)?;
        Ok(OutboxRow {
            id: r.get(0)?,
            sink: r.get(3)?,
            status: r.get(4)?,
            attempts: r.get::<i64>(5)? as u32,
            created_at: ms_to_rfc3339(r.get(6)?),
            next_attempt_at: ms_to_rfc3339(r.get(7)?),
            delivered_at: delivered_ms.map(ms_to_rfc3339),
            last_error: r.get(9)?,
            digest_uid: r.get(10)?,
            delivered_ms,
            alert: Alert {
                uid: r.get(1)?,
                severity: Severity::default(),
                topic: r.get(2)?,
                terms: serde_json::from_str(&terms).unwrap_or_default(),
                snippet: r.get(12)?,
                matched_at: ms_to_rfc3339(r.get(13)?),
                article_id: r.get(14)?,
                title: r.get(15)?,
                link: r.get(16)?,
                lang: r.get(17)?,
                published_at: r.get::<Option<i64>>(18)?.map(ms_to_rfc3339),
                sources: r.get(19)?,
                feed: r.get(20)?,
                feed_url: r.get(21)?,
            },
        })
    }
}

/// The rows with each alert's severity set from its topic.
pub(super) fn with_severity(
    mut rows: Vec<OutboxRow>,
    severity_of: &dyn Fn(&str) -> Severity,
) -> Vec<OutboxRow> {
    for r in &mut rows {
        r.alert.severity = severity_of(&r.alert.topic);
    }
    rows
}

/// The alerts of these outbox rows (rows whose article is gone are left out).
pub(super) fn load(
    conn: &Connection,
    ids: &[i64],
    severity_of: &dyn Fn(&str) -> Severity,
) -> Result<Vec<OutboxRow>> {
    let mut out = Vec::with_capacity(ids.len());
    let sql = format!("SELECT {COLS} {FROM} WHERE a.id = ?1");
    for &id in ids {
        out.extend(conn.cached::<OutboxRow>(&sql, &args![id])?);
    }
    Ok(with_severity(out, severity_of))
}

/// Which outbox rows `Read::outbox_rows` lists.
#[derive(Debug, Clone, Copy)]
pub enum OutboxQuery<'a> {
    /// The newest `limit` rows, optionally of one status.
    Latest { status: Option<&'a str>, limit: i64 },
    /// Rows delivered after `since` (ms), oldest delivery first, optionally of one topic.
    DeliveredAfter { since: i64, topic: Option<&'a str> },
}

/// The rows a query names (both backends).
pub(super) fn rows(
    db: &impl Db,
    q: &OutboxQuery,
    severity_of: &dyn Fn(&str) -> Severity,
) -> Result<Vec<OutboxRow>> {
    let rows = match *q {
        OutboxQuery::Latest { status, limit } => db.cached(
            &format!(
                "SELECT {COLS} {FROM} WHERE (CAST(?1 AS TEXT) IS NULL OR a.status = ?1) ORDER BY a.id DESC LIMIT ?2"
            ),
            &args![status, limit],
        )?,
        OutboxQuery::DeliveredAfter { since, topic } => db.cached(
            &format!(
                "SELECT {COLS} {FROM} WHERE a.status = 'delivered' AND a.delivered_at > ?1 AND (CAST(?2 AS TEXT) IS NULL OR a.topic = ?2)
                 ORDER BY a.delivered_at, a.id"
            ),
            &args![since, topic],
        )?,
    };
    Ok(with_severity(rows, severity_of))
}

/// What `retry` found for one row.
#[derive(Debug, Clone, Serialize)]
pub struct RetryResult {
    pub id: i64,
    pub uid: String,
    /// The status before: `failed` rows become pending; `pending` rows become due now;
    /// `delivered` rows are left alone.
    pub was: String,
}

/// `alerts retry KEY`: KEY is a row id, an alert uid or a digest uid. Failed rows become pending
/// and due now with a fresh attempt budget (and leave their old digest, to be grouped again);
/// pending rows become due now.
pub(super) fn retry(
    conn: &mut Connection,
    key: &str,
    now: i64,
) -> rusqlite::Result<Vec<RetryResult>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id: Option<i64> = key.parse().ok();
    let rows: Vec<RetryResult> = {
        let mut st = tx.prepare("SELECT id, uid, status FROM alerts WHERE id = ?1 OR uid = ?2 OR digest_uid = ?2 ORDER BY id")?;
        st.query_map(params![id, key], |r| {
            Ok(RetryResult {
                id: r.get(0)?,
                uid: r.get(1)?,
                was: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    for r in &rows {
        match r.was.as_str() {
            "failed" => {
                tx.execute(
                    "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?2, digest_uid = NULL WHERE id = ?1",
                    params![r.id, now],
                )?;
            }
            "pending" => {
                tx.execute(
                    "UPDATE alerts SET next_attempt_at = ?2 WHERE id = ?1",
                    params![r.id, now],
                )?;
            }
            _ => {}
        }
    }
    tx.commit()?;
    Ok(rows)
}
