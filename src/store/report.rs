//! The queries behind `newswatch report`: SQLite's window scans, and what both backends share
//! (the rows, the grouping of counts, the story lookup). The report itself (grouping, days,
//! ranking, rendering) is pure and lives in `crate::report`.
//!
//! Invariants: read-only; an article's time is `coalesce(published_at, fetched_at)`, scanned
//! through the `articles_time` index (migration 0003), so no query walks the whole archive.

use rusqlite::Connection;

use super::Result;
use super::query::ARTICLE_TIME as T;
use super::sql::{Arg, Args, Col, Cols, Db, FromRow, args};

/// One match of an article in the window.
#[derive(Debug, Clone)]
pub struct ReportHit {
    pub article_id: i64,
    /// The article's time (published, else fetched), ms.
    pub time: i64,
    pub feed_id: Option<i64>,
    pub lang: Option<String>,
    pub sources: i64,
    pub topic: String,
}

/// How `report_counts` groups the window's articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountBy {
    /// Calendar days of a zone `offset_ms` ahead of UTC.
    Day {
        offset_ms: i64,
    },
    Feed,
    Lang,
}

/// A group of `report_counts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    /// Days since 1970-01-01 in the zone.
    Day(i64),
    Feed(Option<i64>),
    Lang(Option<String>),
}

/// What a report lists of one top story: title, link, feed name, the match's snippet.
pub type StoryRow = (String, Option<String>, Option<String>, String);

impl FromRow for ReportHit {
    fn from_row(r: &impl Cols) -> Result<ReportHit> {
        Ok(ReportHit {
            article_id: r.get(0)?,
            time: r.get(1)?,
            feed_id: r.get(2)?,
            lang: r.get(3)?,
            sources: r.get(4)?,
            topic: r.get(5)?,
        })
    }
}

/// SQLite: the matches of articles in the window. CROSS JOIN keeps the window scan as the outer
/// loop.
pub(super) fn hits(
    conn: &Connection,
    since: i64,
    until: i64,
    topic: Option<&str>,
) -> Result<Vec<ReportHit>> {
    let mut args = Args::default();
    let (from, to) = (args.p(since), args.p(until));
    let topic_clause = match topic {
        Some(t) => format!(" AND m.topic = {}", args.p(t)),
        None => String::new(),
    };
    conn.rows(
        &format!(
            "SELECT a.id, {T}, a.feed_id, a.lang, a.sources, m.topic
             FROM articles a INDEXED BY articles_time CROSS JOIN matches m ON m.article_id = a.id
             WHERE {T} >= {from} AND {T} < {to}{topic_clause}"
        ),
        &args.0,
    )
}

/// SQLite: the window's articles counted by group.
pub(super) fn counts(
    conn: &Connection,
    since: i64,
    until: i64,
    by: CountBy,
) -> Result<Vec<(GroupKey, i64)>> {
    let mut args = Args::default();
    let (from, to) = (args.p(since), args.p(until));
    let key = match by {
        CountBy::Day { offset_ms } => format!("({T} + {}) / 86400000", args.p(offset_ms)),
        CountBy::Feed => "a.feed_id".to_string(),
        CountBy::Lang => "a.lang".to_string(),
    };
    let sql = format!(
        "SELECT {key} AS k, count(*) FROM articles a INDEXED BY articles_time WHERE {T} >= {from} AND {T} < {to} GROUP BY k"
    );
    grouped(conn, &sql, &args.0, by)
}

/// The rows `(group, count)` of a counting query as `GroupKey`s (both backends).
pub(super) fn grouped(
    db: &impl Db,
    sql: &str,
    args: &[Arg],
    by: CountBy,
) -> Result<Vec<(GroupKey, i64)>> {
    fn keyed<K: Col>(
        db: &impl Db,
        sql: &str,
        args: &[Arg],
        key: fn(K) -> GroupKey,
    ) -> Result<Vec<(GroupKey, i64)>> {
        let rows: Vec<(K, i64)> = db.rows(sql, args)?;
        Ok(rows.into_iter().map(|(k, n)| (key(k), n)).collect())
    }
    match by {
        CountBy::Day { .. } => keyed(db, sql, args, GroupKey::Day),
        CountBy::Feed => keyed(db, sql, args, GroupKey::Feed),
        CountBy::Lang => keyed(db, sql, args, GroupKey::Lang),
    }
}

/// Title, link, feed name and snippet of an article's match of a topic (both backends).
pub(super) fn story(db: &impl Db, article_id: i64, topic: &str) -> Result<Option<StoryRow>> {
    let rows = db.cached(
        "SELECT a.title, coalesce(a.canonical_link, a.link), coalesce(fe.name, fe.title, fe.url), m.snippet
         FROM articles a JOIN matches m ON m.article_id = a.id AND m.topic = ?2 LEFT JOIN feeds fe ON fe.id = a.feed_id
         WHERE a.id = ?1",
        &args![article_id, topic],
    )?;
    Ok(rows.into_iter().next())
}
