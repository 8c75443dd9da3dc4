//! Read-side queries shared by the command line and the HTTP API.

use chrono::{TimeZone, Utc};
use rusqlite::{Connection, params_from_iter, types::Value};
use serde::Serialize;

/// A search hit, as `search --format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: i64,
    pub feed: Option<String>,
    pub feed_id: Option<i64>,
    pub title: String,
    pub link: Option<String>,
    pub text: String,
    pub lang: Option<String>,
    pub published_at: Option<String>,
    pub topics: Vec<String>,
    pub sources: i64,
}

#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub topic: Option<String>,
    pub feed_id: Option<i64>,
    pub lang: Option<String>,
    pub limit: i64,
}

pub fn ms_to_rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Turns user input into an FTS5 query: FTS5 syntax is used as given when it parses; otherwise
/// every word is quoted, so `search "f-35 deal"` or `search c++` still work.
pub fn fts_query(conn: &Connection, q: &str) -> String {
    let ok = conn
        .prepare("SELECT 1 FROM articles_fts WHERE articles_fts MATCH ?1 LIMIT 0")
        .and_then(|mut st| st.query([q]).map(|_| ()))
        .is_ok();
    if ok {
        return q.to_string();
    }
    q.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Full-text search, newest first by rank then time.
pub fn search(conn: &Connection, q: &str, f: &SearchFilter) -> rusqlite::Result<Vec<Hit>> {
    let fq = fts_query(conn, q);
    let mut sql = String::from(
        "SELECT a.id, coalesce(fe.name, fe.title, fe.url), a.feed_id, a.title, a.link, a.text, a.lang, coalesce(a.published_at, a.fetched_at), a.sources
         FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid LEFT JOIN feeds fe ON fe.id = a.feed_id
         WHERE articles_fts MATCH ?",
    );
    let mut args: Vec<Value> = vec![Value::Text(fq)];
    push_filters(&mut sql, &mut args, f);
    sql.push_str(" ORDER BY bm25(articles_fts), a.id DESC LIMIT ?");
    args.push(Value::Integer(if f.limit > 0 { f.limit } else { 20 }));
    let mut st = conn.prepare(&sql)?;
    let mut hits: Vec<Hit> = st
        .query_map(params_from_iter(args), |r| {
            Ok(Hit {
                id: r.get(0)?,
                feed: r.get(1)?,
                feed_id: r.get(2)?,
                title: r.get(3)?,
                link: r.get(4)?,
                text: r.get(5)?,
                lang: r.get(6)?,
                published_at: r.get::<_, Option<i64>>(7)?.map(ms_to_rfc3339),
                topics: Vec::new(),
                sources: r.get(8)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    for h in &mut hits {
        h.topics = topics_of(conn, h.id)?;
    }
    Ok(hits)
}

fn push_filters(sql: &mut String, args: &mut Vec<Value>, f: &SearchFilter) {
    if let Some(s) = f.since_ms {
        sql.push_str(" AND coalesce(a.published_at, a.fetched_at) >= ?");
        args.push(Value::Integer(s));
    }
    if let Some(u) = f.until_ms {
        sql.push_str(" AND coalesce(a.published_at, a.fetched_at) < ?");
        args.push(Value::Integer(u));
    }
    if let Some(t) = &f.topic {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = ?)",
        );
        args.push(Value::Text(t.clone()));
    }
    if let Some(id) = f.feed_id {
        sql.push_str(" AND (a.feed_id = ? OR EXISTS (SELECT 1 FROM sightings s WHERE s.article_id = a.id AND s.feed_id = ?))");
        args.push(Value::Integer(id));
        args.push(Value::Integer(id));
    }
    if let Some(l) = &f.lang {
        sql.push_str(" AND a.lang = ?");
        args.push(Value::Text(l.clone()));
    }
}

pub fn topics_of(conn: &Connection, article_id: i64) -> rusqlite::Result<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT topic FROM matches WHERE article_id = ?1 ORDER BY topic")?;
    st.query_map([article_id], |r| r.get(0))?.collect()
}

/// Stored articles (id, title, text, lang, link) fetched since `since_ms`, for backtests.
pub fn articles_since(
    conn: &Connection,
    since_ms: i64,
) -> rusqlite::Result<Vec<(i64, String, String, Option<String>, Option<String>)>> {
    let mut st = conn.prepare(
        "SELECT id, title, text || coalesce(char(10) || page_text, ''), lang, link FROM articles
         WHERE coalesce(published_at, fetched_at) >= ?1 ORDER BY id",
    )?;
    st.query_map([since_ms], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?
    .collect()
}
