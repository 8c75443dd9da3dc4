//! The queries behind `newswatch report` (SQLite). The report itself (grouping, days, ranking,
//! rendering) is pure and lives in `crate::report`.
//!
//! Invariants: read-only; an article's time is `coalesce(published_at, fetched_at)`, scanned
//! through the `articles_time` index (migration 0003), so no query walks the whole archive.

use rusqlite::{Connection, OptionalExtension, params};

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

const T: &str = "coalesce(a.published_at, a.fetched_at)";

pub(super) fn hits(
    conn: &Connection,
    since: i64,
    until: i64,
    topic: Option<&str>,
) -> rusqlite::Result<Vec<ReportHit>> {
    // Matches of articles in the window. CROSS JOIN keeps the window scan as the outer loop.
    let topic_clause = if topic.is_some() {
        " AND m.topic = ?3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT a.id, {T}, a.feed_id, a.lang, a.sources, m.topic
         FROM articles a INDEXED BY articles_time CROSS JOIN matches m ON m.article_id = a.id
         WHERE {T} >= ?1 AND {T} < ?2{topic_clause}"
    );
    let mut st = conn.prepare(&sql)?;
    let map = |r: &rusqlite::Row| {
        Ok(ReportHit {
            article_id: r.get(0)?,
            time: r.get(1)?,
            feed_id: r.get(2)?,
            lang: r.get(3)?,
            sources: r.get(4)?,
            topic: r.get(5)?,
        })
    };
    match topic {
        Some(t) => st.query_map(params![since, until, t], map)?.collect(),
        None => st.query_map(params![since, until], map)?.collect(),
    }
}

pub(super) fn counts(
    conn: &Connection,
    since: i64,
    until: i64,
    by: CountBy,
) -> rusqlite::Result<Vec<(GroupKey, i64)>> {
    let key_sql = match by {
        CountBy::Day { .. } => format!("({T} + ?3) / 86400000"),
        CountBy::Feed => "a.feed_id".to_string(),
        CountBy::Lang => "a.lang".to_string(),
    };
    let sql = format!(
        "SELECT {key_sql} AS k, count(*) FROM articles a INDEXED BY articles_time WHERE {T} >= ?1 AND {T} < ?2 GROUP BY k"
    );
    let mut st = conn.prepare(&sql)?;
    let mut q = match by {
        CountBy::Day { offset_ms } => st.query(params![since, until, offset_ms])?,
        _ => st.query(params![since, until])?,
    };
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        let key = match by {
            CountBy::Day { .. } => GroupKey::Day(r.get(0)?),
            CountBy::Feed => GroupKey::Feed(r.get(0)?),
            CountBy::Lang => GroupKey::Lang(r.get(0)?),
        };
        out.push((key, r.get(1)?));
    }
    Ok(out)
}

pub(super) fn story(
    conn: &Connection,
    article_id: i64,
    topic: &str,
) -> rusqlite::Result<Option<StoryRow>> {
    conn.prepare_cached(
        "SELECT a.title, coalesce(a.canonical_link, a.link), coalesce(fe.name, fe.title, fe.url), m.snippet
         FROM articles a JOIN matches m ON m.article_id = a.id AND m.topic = ?2 LEFT JOIN feeds fe ON fe.id = a.feed_id
         WHERE a.id = ?1",
    )?
    .query_row(params![article_id, topic], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .optional()
}
