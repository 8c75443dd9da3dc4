//! Read-side queries shared by the command line and the HTTP API: full-text search with filters
//! and highlights, paged listings of articles, matches, alerts and topics, one article with its
//! matches and sightings, and the counters `/metrics` exposes.
//!
//! Invariants: read-only (every function works on a read-only connection); an article's time is
//! `coalesce(published_at, fetched_at)` everywhere (the expression migration 0003 indexes); paged
//! listings are newest first with a stable tie-break on id; highlight marks are `[[`/`]]`, like
//! match snippets, and are turned into markup only after escaping.

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
    /// The best passage of title or text, matched words marked `[[like this]]` (FTS5 `snippet()`).
    pub highlight: String,
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
pub(super) fn fts_query(conn: &Connection, q: &str) -> String {
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

/// How many of the newest hits (after filters) are ranked. Ranking every hit of a common word in a
/// large archive costs time in proportion to the archive; ranking the newest few thousand keeps a
/// search fast at any size and, for a news archive, favours what is current. A query with fewer
/// hits than this is ranked exactly over all of them.
pub const RANK_WINDOW: i64 = 2000;

/// Full-text search: the best-ranked (bm25) of the newest `RANK_WINDOW` hits that pass the
/// filters, ties broken newest first. Each hit carries a highlighted passage.
pub(super) fn search(conn: &Connection, q: &str, f: &SearchFilter) -> rusqlite::Result<Vec<Hit>> {
    let fq = fts_query(conn, q);
    // Inner: walk the FTS hits newest first (FTS5 consumes ORDER BY rowid DESC, so the walk stops
    // after RANK_WINDOW rows passing the filters); outer: rank those and keep the best `limit`.
    let mut inner = String::from(
        "SELECT a.id AS id, bm25(articles_fts) AS score
         FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
         WHERE articles_fts MATCH ?",
    );
    let mut args: Vec<Value> = vec![Value::Text(fq.clone())];
    push_filters(&mut inner, &mut args, f);
    inner.push_str(" ORDER BY articles_fts.rowid DESC LIMIT ?");
    args.push(Value::Integer(RANK_WINDOW));
    let sql = format!(
        "SELECT a.id, coalesce(fe.name, fe.title, fe.url), a.feed_id, a.title, coalesce(a.canonical_link, a.link), a.text, a.lang,
                coalesce(a.published_at, a.fetched_at), a.sources
         FROM ({inner}) h JOIN articles a ON a.id = h.id LEFT JOIN feeds fe ON fe.id = a.feed_id
         ORDER BY h.score, a.id DESC LIMIT ?"
    );
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
                highlight: String::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    // Highlights only for the hits shown (snippet() is the expensive part).
    let mut snip = conn.prepare_cached(
        "SELECT snippet(articles_fts, -1, '[[', ']]', '…', 24) FROM articles_fts WHERE articles_fts MATCH ?1 AND rowid = ?2",
    )?;
    for h in &mut hits {
        h.topics = topics_of(conn, h.id)?;
        h.highlight = snip
            .query_row(rusqlite::params![fq, h.id], |r| {
                r.get::<_, Option<String>>(0)
            })
            .unwrap_or_default()
            .unwrap_or_default();
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

/// The time of an article (published, else fetched), as SQL: what migration 0003 indexes.
pub const ARTICLE_TIME: &str = "coalesce(published_at, fetched_at)";

/// One page of a listing: `next_offset` is set when more rows follow.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: i64,
    pub next_offset: Option<i64>,
}

/// Page bounds: limit defaults to 50 and is capped at 500; offsets below 0 become 0.
pub fn page_bounds(limit: Option<i64>, offset: Option<i64>) -> (i64, i64) {
    let l = limit.filter(|l| *l > 0).unwrap_or(50).min(500);
    (l, offset.unwrap_or(0).max(0))
}

fn page<T>(mut items: Vec<T>, limit: i64, offset: i64) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    Page {
        items,
        limit,
        offset,
        next_offset: more.then_some(offset + limit),
    }
}

/// An article in a listing (no body).
#[derive(Debug, Clone, Serialize)]
pub struct ArticleRow {
    pub id: i64,
    pub feed_id: Option<i64>,
    pub feed: Option<String>,
    pub title: String,
    pub link: Option<String>,
    pub lang: Option<String>,
    pub published_at: Option<String>,
    pub fetched_at: String,
    pub sources: i64,
    pub topics: Vec<String>,
}

/// Filters of the article listing (all optional).
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub topic: Option<String>,
    pub feed_id: Option<i64>,
    pub lang: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl ArticleFilter {
    /// The same filters as a search's (both backends build their WHERE from a `SearchFilter`).
    pub(super) fn as_search(&self) -> SearchFilter {
        SearchFilter {
            since_ms: self.since_ms,
            until_ms: self.until_ms,
            topic: self.topic.clone(),
            feed_id: self.feed_id,
            lang: self.lang.clone(),
            limit: 0,
        }
    }
}

pub(super) fn list_articles(
    conn: &Connection,
    f: &ArticleFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<Page<ArticleRow>> {
    let mut sql = String::from(
        "SELECT a.id, a.feed_id, coalesce(fe.name, fe.title, fe.url), a.title, coalesce(a.canonical_link, a.link), a.lang, a.published_at, a.fetched_at, a.sources
         FROM articles a LEFT JOIN feeds fe ON fe.id = a.feed_id WHERE 1=1",
    );
    let mut args = Vec::new();
    push_filters(&mut sql, &mut args, &f.as_search());
    sql.push_str(
        " ORDER BY coalesce(a.published_at, a.fetched_at) DESC, a.id DESC LIMIT ? OFFSET ?",
    );
    args.push(Value::Integer(limit + 1));
    args.push(Value::Integer(offset));
    let mut st = conn.prepare(&sql)?;
    let mut rows: Vec<ArticleRow> = st
        .query_map(params_from_iter(args), |r| {
            Ok(ArticleRow {
                id: r.get(0)?,
                feed_id: r.get(1)?,
                feed: r.get(2)?,
                title: r.get(3)?,
                link: r.get(4)?,
                lang: r.get(5)?,
                published_at: r.get::<_, Option<i64>>(6)?.map(ms_to_rfc3339),
                fetched_at: ms_to_rfc3339(r.get(7)?),
                sources: r.get(8)?,
                topics: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    for a in &mut rows {
        a.topics = topics_of(conn, a.id)?;
    }
    Ok(page(rows, limit, offset))
}

/// One stored match, with its article's title and link.
#[derive(Debug, Clone, Serialize)]
pub struct MatchRow {
    pub id: i64,
    pub article_id: i64,
    pub topic: String,
    pub terms: Vec<String>,
    /// Matched words marked `[[like this]]`; escape before turning the marks into markup.
    pub snippet: String,
    pub matched_at: String,
    pub title: String,
    pub link: Option<String>,
    pub feed: Option<String>,
    pub sources: i64,
    pub published_at: Option<String>,
    #[serde(skip)]
    pub matched_at_ms: i64,
}

pub(super) const MATCH_COLS: &str = "m.id, m.article_id, m.topic, m.terms, m.snippet, m.matched_at, a.title, coalesce(a.canonical_link, a.link), \
     coalesce(fe.name, fe.title, fe.url), a.sources, a.published_at";

fn match_from_row(r: &rusqlite::Row) -> rusqlite::Result<MatchRow> {
    let terms: String = r.get(3)?;
    let at: i64 = r.get(5)?;
    Ok(MatchRow {
        id: r.get(0)?,
        article_id: r.get(1)?,
        topic: r.get(2)?,
        terms: serde_json::from_str(&terms).unwrap_or_default(),
        snippet: r.get(4)?,
        matched_at: ms_to_rfc3339(at),
        title: r.get(6)?,
        link: r.get(7)?,
        feed: r.get(8)?,
        sources: r.get(9)?,
        published_at: r.get::<_, Option<i64>>(10)?.map(ms_to_rfc3339),
        matched_at_ms: at,
    })
}

/// Matches, newest first; optionally of one topic and since a time (matched_at).
pub(super) fn list_matches(
    conn: &Connection,
    topic: Option<&str>,
    since_ms: Option<i64>,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<Page<MatchRow>> {
    let mut sql = format!(
        "SELECT {MATCH_COLS} FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN feeds fe ON fe.id = a.feed_id WHERE 1=1"
    );
    let mut args = Vec::new();
    if let Some(t) = topic {
        sql.push_str(" AND m.topic = ?");
        args.push(Value::Text(t.to_string()));
    }
    if let Some(s) = since_ms {
        sql.push_str(" AND m.matched_at >= ?");
        args.push(Value::Integer(s));
    }
    sql.push_str(" ORDER BY m.matched_at DESC, m.id DESC LIMIT ? OFFSET ?");
    args.push(Value::Integer(limit + 1));
    args.push(Value::Integer(offset));
    let mut st = conn.prepare(&sql)?;
    let rows = st
        .query_map(params_from_iter(args), match_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(rows, limit, offset))
}

/// The matches of one article.
pub(super) fn matches_of(conn: &Connection, article_id: i64) -> rusqlite::Result<Vec<MatchRow>> {
    let mut st = conn.prepare(&format!(
        "SELECT {MATCH_COLS} FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN feeds fe ON fe.id = a.feed_id
         WHERE m.article_id = ?1 ORDER BY m.topic"
    ))?;
    st.query_map([article_id], match_from_row)?.collect()
}

/// One outbox row with what it is about.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    pub id: i64,
    pub uid: String,
    pub topic: String,
    pub sink: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub match_id: i64,
    pub article_id: i64,
    pub title: String,
    pub link: Option<String>,
    pub snippet: String,
    #[serde(skip)]
    pub created_at_ms: i64,
}

/// Alerts, newest first; optionally by status and topic.
pub(super) fn list_alerts(
    conn: &Connection,
    status: Option<&str>,
    topic: Option<&str>,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<Page<AlertRow>> {
    let mut sql = String::from(
        "SELECT al.id, al.uid, al.topic, al.sink, al.status, al.attempts, al.last_error, al.created_at, al.delivered_at,
                al.match_id, m.article_id, a.title, coalesce(a.canonical_link, a.link), m.snippet
         FROM alerts al JOIN matches m ON m.id = al.match_id JOIN articles a ON a.id = m.article_id WHERE 1=1",
    );
    let mut args = Vec::new();
    if let Some(s) = status {
        sql.push_str(" AND al.status = ?");
        args.push(Value::Text(s.to_string()));
    }
    if let Some(t) = topic {
        sql.push_str(" AND al.topic = ?");
        args.push(Value::Text(t.to_string()));
    }
    sql.push_str(" ORDER BY al.created_at DESC, al.id DESC LIMIT ? OFFSET ?");
    args.push(Value::Integer(limit + 1));
    args.push(Value::Integer(offset));
    let mut st = conn.prepare(&sql)?;
    let rows = st
        .query_map(params_from_iter(args), |r| {
            let created: i64 = r.get(7)?;
            Ok(AlertRow {
                id: r.get(0)?,
                uid: r.get(1)?,
                topic: r.get(2)?,
                sink: r.get(3)?,
                status: r.get(4)?,
                attempts: r.get(5)?,
                last_error: r.get(6)?,
                created_at: ms_to_rfc3339(created),
                delivered_at: r.get::<_, Option<i64>>(8)?.map(ms_to_rfc3339),
                match_id: r.get(9)?,
                article_id: r.get(10)?,
                title: r.get(11)?,
                link: r.get(12)?,
                snippet: r.get(13)?,
                created_at_ms: created,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(rows, limit, offset))
}

/// A topic as the store knows it: its matches and alerts.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TopicStats {
    #[serde(skip)]
    pub id: String,
    pub matches: i64,
    pub last_matched_at: Option<String>,
    pub alerts_pending: i64,
    pub alerts_failed: i64,
    pub alerts_delivered: i64,
}

/// Every topic that has matches or alerts, by id.
/// Matches per topic with the last match time: `(topic, count, max(matched_at))`.
pub(super) const SQL_TOPIC_MATCHES: &str =
    "SELECT topic, count(*), max(matched_at) FROM matches GROUP BY topic";
/// Alerts per topic and status: `(topic, status, count)`.
pub(super) const SQL_TOPIC_ALERTS: &str =
    "SELECT topic, status, count(*) FROM alerts GROUP BY topic, status";

/// The topic stats of both backends from the rows of `SQL_TOPIC_MATCHES` and `SQL_TOPIC_ALERTS`.
pub(super) fn topic_stats_of(
    matches: impl IntoIterator<Item = (String, i64, Option<i64>)>,
    alerts: impl IntoIterator<Item = (String, String, i64)>,
) -> Vec<TopicStats> {
    let mut out: std::collections::BTreeMap<String, TopicStats> = Default::default();
    fn entry(
        out: &mut std::collections::BTreeMap<String, TopicStats>,
        t: String,
    ) -> &mut TopicStats {
        out.entry(t.clone()).or_insert_with(|| TopicStats {
            id: t,
            ..Default::default()
        })
    }
    for (t, n, last) in matches {
        let e = entry(&mut out, t);
        e.matches = n;
        e.last_matched_at = last.map(ms_to_rfc3339);
    }
    for (t, s, n) in alerts {
        let e = entry(&mut out, t);
        match s.as_str() {
            "pending" => e.alerts_pending += n,
            "failed" => e.alerts_failed += n,
            "delivered" => e.alerts_delivered += n,
            _ => {}
        }
    }
    out.into_values().collect()
}

pub(super) fn topic_stats(conn: &Connection) -> rusqlite::Result<Vec<TopicStats>> {
    let matches = conn
        .prepare(SQL_TOPIC_MATCHES)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let alerts = conn
        .prepare(SQL_TOPIC_ALERTS)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(topic_stats_of(matches, alerts))
}

/// One article with its body, matches and sightings.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleDetail {
    #[serde(flatten)]
    pub row: ArticleRow,
    pub text: String,
    /// Sanitized at ingest; sanitize again before display anyway.
    pub html: String,
    pub page_text: Option<String>,
    pub matches: Vec<MatchRow>,
    pub sightings: Vec<Sighting>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sighting {
    pub feed_id: Option<i64>,
    pub feed: Option<String>,
    pub link: Option<String>,
    pub title: Option<String>,
    pub kind: String,
    pub seen_at: String,
}

pub(super) fn article(conn: &Connection, id: i64) -> rusqlite::Result<Option<ArticleDetail>> {
    use rusqlite::OptionalExtension;
    let got = conn
        .query_row(
            "SELECT a.id, a.feed_id, coalesce(fe.name, fe.title, fe.url), a.title, coalesce(a.canonical_link, a.link), a.lang, a.published_at, a.fetched_at,
                    a.sources, a.text, a.html, a.page_text
             FROM articles a LEFT JOIN feeds fe ON fe.id = a.feed_id WHERE a.id = ?1",
            [id],
            |r| {
                Ok((
                    ArticleRow {
                        id: r.get(0)?,
                        feed_id: r.get(1)?,
                        feed: r.get(2)?,
                        title: r.get(3)?,
                        link: r.get(4)?,
                        lang: r.get(5)?,
                        published_at: r.get::<_, Option<i64>>(6)?.map(ms_to_rfc3339),
                        fetched_at: ms_to_rfc3339(r.get(7)?),
                        sources: r.get(8)?,
                        topics: Vec::new(),
                    },
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, Option<String>>(11)?,
                ))
            },
        )
        .optional()?;
    let Some((mut row, text, html, page_text)) = got else {
        return Ok(None);
    };
    row.topics = topics_of(conn, id)?;
    let matches = matches_of(conn, id)?;
    let mut st = conn.prepare(
        "SELECT s.feed_id, coalesce(fe.name, fe.title, fe.url), s.link, s.title, s.kind, s.seen_at
         FROM sightings s LEFT JOIN feeds fe ON fe.id = s.feed_id WHERE s.article_id = ?1 ORDER BY s.seen_at, s.id",
    )?;
    let sightings = st
        .query_map([id], |r| {
            Ok(Sighting {
                feed_id: r.get(0)?,
                feed: r.get(1)?,
                link: r.get(2)?,
                title: r.get(3)?,
                kind: r.get(4)?,
                seen_at: ms_to_rfc3339(r.get(5)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(ArticleDetail {
        row,
        text,
        html,
        page_text,
        matches,
        sightings,
    }))
}

/// Counters for `/metrics`, computed from the store at scrape time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreMetrics {
    pub fetches: i64,
    pub fetch_errors: i64,
    pub new_articles: i64,
    pub articles: i64,
    pub matches: i64,
    pub alerts_pending: i64,
    pub alerts_failed: i64,
    pub alerts_delivered: i64,
    pub feeds_enabled: i64,
    pub feeds_disabled: i64,
    pub feeds_failing: i64,
    /// How far behind schedule the most overdue enabled feed is, in seconds (0 when none is).
    pub poll_lag_seconds: f64,
}

pub(super) fn store_metrics(conn: &Connection, now_ms: i64) -> rusqlite::Result<StoreMetrics> {
    let mut m = StoreMetrics::default();
    (m.fetches, m.fetch_errors, m.new_articles) = conn.query_row(
        "SELECT count(*), count(error), coalesce(sum(new_items), 0) FROM fetch_log",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    m.articles = conn.query_row("SELECT count(*) FROM articles", [], |r| r.get(0))?;
    m.matches = conn.query_row("SELECT count(*) FROM matches", [], |r| r.get(0))?;
    let mut st = conn.prepare("SELECT status, count(*) FROM alerts GROUP BY status")?;
    for r in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (s, n) = r?;
        match s.as_str() {
            "pending" => m.alerts_pending = n,
            "failed" => m.alerts_failed = n,
            "delivered" => m.alerts_delivered = n,
            _ => {}
        }
    }
    let lag_ms: Option<i64>;
    (m.feeds_enabled, m.feeds_disabled, m.feeds_failing, lag_ms) = conn.query_row(
        "SELECT coalesce(sum(enabled = 1), 0), coalesce(sum(enabled = 0), 0), coalesce(sum(enabled = 1 AND error_count > 0), 0),
                max(CASE WHEN enabled = 1 AND next_poll_at <= ?1 THEN ?1 - next_poll_at END)
         FROM feeds",
        [now_ms],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    m.poll_lag_seconds = lag_ms.unwrap_or(0).max(0) as f64 / 1000.0;
    Ok(m)
}

pub(super) fn topics_of(conn: &Connection, article_id: i64) -> rusqlite::Result<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT topic FROM matches WHERE article_id = ?1 ORDER BY topic")?;
    st.query_map([article_id], |r| r.get(0))?.collect()
}

/// (id, title, text, lang, link) of a stored article, for backtests.
pub type BacktestRow = (i64, String, String, Option<String>, Option<String>);

/// Stored articles fetched since `since_ms`, for backtests.
pub(super) fn articles_since(
    conn: &Connection,
    since_ms: i64,
) -> rusqlite::Result<Vec<BacktestRow>> {
    let mut st = conn.prepare(
        "SELECT id, title, text || coalesce(char(10) || page_text, ''), lang, link FROM articles
         WHERE coalesce(published_at, fetched_at) >= ?1 ORDER BY id",
    )?;
    st.query_map([since_ms], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?
    .collect()
}

/// A topic's match as its Atom feed lists it, with the match's alerts (uid, sink, status).
#[derive(Debug, Clone)]
pub struct TopicEntry {
    pub identity: String,
    pub article_id: i64,
    pub title: String,
    pub link: Option<String>,
    pub snippet: String,
    /// The matched terms as stored (a JSON array).
    pub terms: String,
    pub matched_at: i64,
    pub published_at: Option<i64>,
    pub feed: Option<String>,
    pub alerts: Vec<(String, String, String)>,
}

/// The latest `limit` matches of a topic, newest first, with their alerts.
pub(super) fn topic_entries(
    conn: &Connection,
    topic: &str,
    limit: i64,
) -> rusqlite::Result<Vec<TopicEntry>> {
    let mut st = conn.prepare(
        "SELECT m.id, a.identity, a.id, a.title, coalesce(a.canonical_link, a.link), m.snippet, m.terms, m.matched_at, a.published_at,
                coalesce(fe.name, fe.title, fe.url)
         FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN feeds fe ON fe.id = a.feed_id
         WHERE m.topic = ?1 ORDER BY m.matched_at DESC, m.id DESC LIMIT ?2",
    )?;
    let rows = st
        .query_map(rusqlite::params![topic, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                TopicEntry {
                    identity: r.get(1)?,
                    article_id: r.get(2)?,
                    title: r.get(3)?,
                    link: r.get(4)?,
                    snippet: r.get(5)?,
                    terms: r.get(6)?,
                    matched_at: r.get(7)?,
                    published_at: r.get(8)?,
                    feed: r.get(9)?,
                    alerts: Vec::new(),
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut al = conn
        .prepare_cached("SELECT uid, sink, status FROM alerts WHERE match_id = ?1 ORDER BY sink")?;
    let mut out = Vec::new();
    for (match_id, mut e) in rows {
        e.alerts = al
            .query_map([match_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        out.push(e);
    }
    Ok(out)
}
