//! Feeds and their polling state.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Result;
use super::articles::CommitOutcome;
use super::sql::{Cols, FromRow};
use super::sqlite::Sqlite;
use crate::util::now_ms;

#[derive(Debug, Clone, Serialize)]
pub struct Feed {
    pub id: i64,
    pub url: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub site_url: Option<String>,
    pub lang: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub interval_ms: Option<i64>,
    pub fixed_interval_ms: Option<i64>,
    pub min_interval_ms: Option<i64>,
    pub next_poll_at: i64,
    pub last_polled_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_new_at: Option<i64>,
    pub error_count: i64,
    pub last_error: Option<String>,
    pub full_text: Option<bool>,
}

/// A feed's health, in the words `feeds status` and the dashboard both show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    NeverPolled,
    Failing,
    Disabled,
}

impl Feed {
    pub fn health(&self) -> Health {
        if !self.enabled {
            Health::Disabled
        } else if self.error_count > 0 {
            Health::Failing
        } else if self.last_success_at.is_some() {
            Health::Ok
        } else {
            Health::NeverPolled
        }
    }

    /// "ok", "never polled", "3 errors: HTTP 503", "disabled: HTTP 410 Gone".
    pub fn health_text(&self) -> String {
        let or_blank = |s: &Option<String>| s.clone().unwrap_or_default();
        match self.health() {
            Health::Ok => "ok".into(),
            Health::NeverPolled => "never polled".into(),
            Health::Failing => format!(
                "{}: {}",
                crate::util::count_noun(self.error_count, "error"),
                or_blank(&self.last_error)
            ),
            Health::Disabled => format!("disabled: {}", or_blank(&self.disabled_reason)),
        }
    }
}

pub(crate) const FEED_COLS: &str = "id, url, name, title, site_url, lang, enabled, disabled_reason, etag, last_modified, \
     interval_ms, fixed_interval_ms, min_interval_ms, next_poll_at, last_polled_at, last_success_at, last_new_at, \
     error_count, last_error, full_text";

impl FromRow for Feed {
    fn from_row(r: &impl Cols) -> Result<Feed> {
        Ok(Feed {
            id: r.get(0)?,
            url: r.get(1)?,
            name: r.get(2)?,
            title: r.get(3)?,
            site_url: r.get(4)?,
            lang: r.get(5)?,
            enabled: r.get(6)?,
            disabled_reason: r.get(7)?,
            etag: r.get(8)?,
            last_modified: r.get(9)?,
            interval_ms: r.get(10)?,
            fixed_interval_ms: r.get(11)?,
            min_interval_ms: r.get(12)?,
            next_poll_at: r.get(13)?,
            last_polled_at: r.get(14)?,
            last_success_at: r.get(15)?,
            last_new_at: r.get(16)?,
            error_count: r.get(17)?,
            last_error: r.get(18)?,
            full_text: r.get(19)?,
        })
    }
}

/// A feed to add (from config, `feeds add`, OPML or `ingest`).
#[derive(Debug, Clone, Default)]
pub struct NewFeed {
    pub url: String,
    pub name: Option<String>,
    pub fixed_interval_ms: Option<i64>,
    pub full_text: Option<bool>,
}

/// What a fetch leaves behind on the feed row.
#[derive(Debug, Clone, Default)]
pub struct FeedState {
    /// The feed moved permanently (301/308): its new URL.
    pub new_url: Option<String>,
    pub title: Option<String>,
    pub site_url: Option<String>,
    pub lang: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub interval_ms: Option<i64>,
    pub min_interval_ms: Option<i64>,
    pub next_poll_at: i64,
    /// `Some(reason)` disables the feed (410 Gone).
    pub disable: Option<String>,
    /// `None`: success (error count reset). `Some`: the error of this fetch.
    pub error: Option<String>,
    /// (interval_ms, next_poll_at) to use instead when the commit finds new articles: the
    /// schedule adapts to what was new, which is known only inside the transaction.
    pub if_new: Option<(i64, i64)>,
}

impl Sqlite {
    /// Adds a feed, or updates name/interval/full_text of an existing one. Returns its id.
    pub fn upsert_feed(&self, f: &NewFeed) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO feeds (url, name, fixed_interval_ms, full_text, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(url) DO UPDATE SET name = coalesce(excluded.name, name),
                 fixed_interval_ms = excluded.fixed_interval_ms, full_text = excluded.full_text",
            params![f.url, f.name, f.fixed_interval_ms, f.full_text, now_ms()],
        )?;
        self.conn
            .query_row("SELECT id FROM feeds WHERE url = ?1", [&f.url], |r| {
                r.get(0)
            })
    }

    /// Adds a feed only if it is not there yet (never touches an existing row).
    pub fn ensure_feed(&self, url: &str) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO feeds (url, created_at) VALUES (?1, ?2) ON CONFLICT(url) DO NOTHING",
            params![url, now_ms()],
        )?;
        self.conn
            .query_row("SELECT id FROM feeds WHERE url = ?1", [url], |r| r.get(0))
    }

    /// Feed rows of files run through `ingest`, kept disabled so the daemon does not poll them,
    /// in one transaction; ids in the order given.
    pub fn ensure_ingest_feeds(&mut self, urls: &[String]) -> rusqlite::Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let ids = {
            // Prepared once for all files: preparing two statements per file was most of this.
            let mut insert = tx.prepare(
                "INSERT INTO feeds (url, enabled, disabled_reason, created_at) VALUES (?1, 0, 'ingested from a local file', ?2)
                 ON CONFLICT(url) DO NOTHING",
            )?;
            let mut select = tx.prepare("SELECT id FROM feeds WHERE url = ?1")?;
            let now = now_ms();
            urls.iter()
                .map(|u| {
                    insert.execute(params![u, now])?;
                    select.query_row([u], |r| r.get(0))
                })
                .collect::<rusqlite::Result<Vec<i64>>>()?
        };
        tx.commit()?;
        Ok(ids)
    }

    /// Adds the (url, title) feeds not there yet, in one transaction; returns how many were added.
    pub fn import_feeds(&mut self, feeds: &[(String, Option<String>)]) -> rusqlite::Result<usize> {
        let tx = self.conn.transaction()?;
        let mut added = 0;
        {
            let mut st = tx.prepare(
                "INSERT INTO feeds (url, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(url) DO NOTHING",
            )?;
            let now = now_ms();
            for (url, title) in feeds {
                added += st.execute(params![url, title, now])?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    pub fn remove_feed(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self.conn.execute("DELETE FROM feeds WHERE id = ?1", [id])? > 0)
    }

    /// Records a fetch that produced no articles (an error, a 304, a disable), with its log row, in
    /// one transaction.
    pub fn record_fetch(
        &mut self,
        feed_id: i64,
        state: &FeedState,
        log: &FetchLog,
    ) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        apply_state(&tx, feed_id, state, false)?;
        insert_log(&tx, feed_id, log, &CommitOutcome::default())?;
        tx.commit()
    }
}

/// One row of the fetch log, as the fetch saw it (the item counts come from the commit).
#[derive(Debug, Clone, Default)]
pub struct FetchLog {
    pub url: String,
    pub at: i64,
    pub status: Option<u16>,
    pub bytes: u64,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// Written by a WebSub push, not a poll.
    pub push: bool,
}

pub(crate) fn insert_log(
    conn: &rusqlite::Connection,
    feed_id: i64,
    l: &FetchLog,
    out: &CommitOutcome,
) -> rusqlite::Result<()> {
    exec(
        conn,
        "INSERT INTO fetch_log (feed_id, url, at, status, bytes, new_items, updated_items, duplicates, duration_ms, error, push)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            feed_id,
            l.url,
            l.at,
            l.status,
            l.bytes as i64,
            out.new,
            out.updated,
            out.duplicates,
            l.duration_ms,
            l.error,
            i64::from(l.push)
        ],
    )?;
    Ok(())
}

/// Executes through the statement cache (these run once per fetch).
fn exec(
    conn: &rusqlite::Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(p)
}

pub(crate) fn apply_state(
    conn: &rusqlite::Connection,
    feed_id: i64,
    s: &FeedState,
    got_new: bool,
) -> rusqlite::Result<()> {
    let now = now_ms();
    let (interval_ms, next_poll_at) = match s.if_new {
        Some((i, n)) if got_new => (Some(i), n),
        _ => (s.interval_ms, s.next_poll_at),
    };
    if let Some(url) = &s.new_url {
        // A permanent move. If another feed row already has that URL, keep ours as is.
        let taken: Option<i64> = conn
            .query_row(
                "SELECT id FROM feeds WHERE url = ?1 AND id != ?2",
                params![url, feed_id],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_none() {
            exec(
                conn,
                "UPDATE feeds SET url = ?1 WHERE id = ?2",
                params![url, feed_id],
            )?;
        }
    }
    exec(
        conn,
        "UPDATE feeds SET
            title = coalesce(?2, title), site_url = coalesce(?3, site_url), lang = coalesce(?4, lang),
            etag = CASE WHEN ?10 IS NULL THEN coalesce(?5, etag) ELSE etag END,
            last_modified = CASE WHEN ?10 IS NULL THEN coalesce(?6, last_modified) ELSE last_modified END,
            interval_ms = coalesce(?7, interval_ms), min_interval_ms = coalesce(?8, min_interval_ms),
            next_poll_at = ?9, last_polled_at = ?11,
            last_success_at = CASE WHEN ?10 IS NULL THEN ?11 ELSE last_success_at END,
            error_count = CASE WHEN ?10 IS NULL THEN 0 ELSE error_count + 1 END,
            last_error = ?10,
            last_new_at = CASE WHEN ?12 THEN ?11 ELSE last_new_at END,
            enabled = CASE WHEN ?13 IS NULL THEN enabled ELSE 0 END,
            disabled_reason = coalesce(?13, disabled_reason)
         WHERE id = ?1",
        params![
            feed_id,
            s.title,
            s.site_url,
            s.lang,
            s.etag,
            s.last_modified,
            interval_ms,
            s.min_interval_ms,
            next_poll_at,
            s.error,
            now,
            got_new,
            s.disable
        ],
    )?;
    Ok(())
}

/// Read-side feed queries, on either backend.
pub(super) mod read {
    use std::collections::HashMap;

    use super::super::Result;
    use super::super::sql::{Db, args};
    use super::{FEED_COLS, Feed};

    pub fn all(db: &impl Db) -> Result<Vec<Feed>> {
        db.rows(&format!("SELECT {FEED_COLS} FROM feeds ORDER BY id"), &[])
    }

    pub fn by_id(db: &impl Db, id: i64) -> Result<Option<Feed>> {
        db.row(
            &format!("SELECT {FEED_COLS} FROM feeds WHERE id = ?1"),
            &args![id],
        )
    }

    /// Up to `limit` enabled feeds with an id above `after_id`, by id (one page of a pass).
    pub fn enabled_after(db: &impl Db, after_id: i64, limit: usize) -> Result<Vec<Feed>> {
        db.cached(
            &format!(
                "SELECT {FEED_COLS} FROM feeds WHERE enabled = TRUE AND id > ?1 ORDER BY id LIMIT ?2"
            ),
            &args![after_id, i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// A feed named by id or URL (as on the command line).
    pub fn find(db: &impl Db, key: &str) -> Result<Option<Feed>> {
        if let Ok(id) = key.parse::<i64>()
            && let Some(f) = by_id(db, id)?
        {
            return Ok(Some(f));
        }
        db.row(
            &format!("SELECT {FEED_COLS} FROM feeds WHERE url = ?1"),
            &args![key],
        )
    }

    /// Feed names (name, else title, else URL) by id.
    pub fn names(db: &impl Db) -> Result<HashMap<i64, String>> {
        let rows: Vec<(i64, String)> =
            db.rows("SELECT id, coalesce(name, title, url) FROM feeds", &[])?;
        Ok(rows.into_iter().collect())
    }

    /// Per-feed counts for `feeds status`.
    pub fn article_counts(db: &impl Db) -> Result<HashMap<i64, i64>> {
        let rows: Vec<(i64, i64)> = db.rows(
            "SELECT feed_id, count(*) FROM articles WHERE feed_id IS NOT NULL GROUP BY feed_id",
            &[],
        )?;
        Ok(rows.into_iter().collect())
    }
}

/// SQLite's due feeds (its partial index `feeds_due` is on `enabled = 1`).
pub(super) mod due {
    use rusqlite::Connection;

    use super::super::Result;
    use super::super::sql::{Db, args};
    use super::{FEED_COLS, Feed};

    /// The `limit` feeds due longest, for a scheduler that starts only what it can hold.
    pub fn batch(conn: &Connection, now: i64, limit: usize) -> Result<Vec<Feed>> {
        conn.cached(
            &format!(
                "SELECT {FEED_COLS} FROM feeds WHERE enabled = 1 AND next_poll_at <= ?1 ORDER BY next_poll_at LIMIT ?2"
            ),
            &args![now, i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// How many enabled feeds are due now.
    pub fn count(conn: &Connection, now: i64) -> Result<i64> {
        conn.one(
            "SELECT count(*) FROM feeds WHERE enabled = 1 AND next_poll_at <= ?1",
            &args![now],
        )
    }
}
