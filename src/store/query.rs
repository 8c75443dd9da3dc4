//! Read-side queries shared by the command line and the HTTP API: full-text search with filters
//! and highlights, paged listings of articles, matches, alerts and topics, one article with its
//! matches and sightings, and the counters `/metrics` exposes.
//!
//! Invariants: read-only (every function works on a read-only connection); an article's time is
//! `coalesce(published_at, fetched_at)` everywhere (the expression migration 0003 indexes); paged
//! listings are newest first with a stable tie-break on id; highlight marks are `[[`/`]]`, like
//! match snippets, and are turned into markup only after escaping.

use chrono::{TimeZone, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::Result;
use super::sql::{Args, Cols, Db, FromRow, args};

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
fn fts_query(conn: &Connection, q: &str) -> String {
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

/// The columns of a search hit, from `articles a` and `feeds fe`; the highlight follows them.
pub(super) const HIT_COLS: &str = "a.id, coalesce(fe.name, fe.title, fe.url), a.feed_id, a.title, coalesce(a.canonical_link, a.link), a.text, a.lang, \
     coalesce(a.published_at, a.fetched_at), a.sources";

impl FromRow for Hit {
    fn from_row(r: &impl Cols) -> Result<Hit> {
        Ok(Hit {
            id: r.get(0)?,
            feed: r.get(1)?,
            feed_id: r.get(2)?,
            title: r.get(3)?,
            link: r.get(4)?,
            text: r.get(5)?,
            lang: r.get(6)?,
            published_at: r.get::<Option<i64>>(7)?.map(ms_to_rfc3339),
            topics: Vec::new(),
            sources: r.get(8)?,
            highlight: r.get::<Option<String>>(9)?.unwrap_or_default(),
        })
    }
}

/// The hits' topics, and `Hit::topics` filled in.
pub(super) fn with_topics(db: &impl Db, mut hits: Vec<Hit>) -> Result<Vec<Hit>> {
    for h in &mut hits {
        h.topics = topics_of(db, h.id)?;
    }
    Ok(hits)
}

/// SQLite's full-text search (FTS5): the best-ranked (bm25) of the newest `RANK_WINDOW` hits
/// that pass the filters, ties broken newest first. Each hit carries a highlighted passage.
pub(super) fn search(conn: &Connection, q: &str, f: &SearchFilter) -> Result<Vec<Hit>> {
    let fq = fts_query(conn, q);
    // Inner: walk the FTS hits newest first (FTS5 consumes ORDER BY rowid DESC, so the walk stops
    // after RANK_WINDOW rows passing the filters); outer: rank those and keep the best `limit`.
    let mut args = Args::default();
    let mut inner = format!(
        "SELECT a.id AS id, bm25(articles_fts) AS score
         FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
         WHERE articles_fts MATCH {}",
        args.p(fq.clone())
    );
    push_filters(&mut inner, &mut args, f);
    inner.push_str(&format!(
        " ORDER BY articles_fts.rowid DESC LIMIT {}",
        args.p(RANK_WINDOW)
    ));
    let sql = format!(
        "SELECT {HIT_COLS}, NULL FROM ({inner}) h JOIN articles a ON a.id = h.id LEFT JOIN feeds fe ON fe.id = a.feed_id
         ORDER BY h.score, a.id DESC LIMIT {}",
        args.p(f.limit_or_default())
    );
    let mut hits: Vec<Hit> = conn.rows(&sql, &args.0)?;
    // Highlights only for the hits shown (snippet() is the expensive part).
    for h in &mut hits {
        h.highlight = conn
            .cached::<Option<String>>(
                "SELECT snippet(articles_fts, -1, '[[', ']]', '…', 24) FROM articles_fts WHERE articles_fts MATCH ?1 AND rowid = ?2",
                &args![fq.as_str(), h.id],
            )
            .ok()
            .and_then(|v| v.into_iter().next().flatten())
            .unwrap_or_default();
    }
    with_topics(conn, hits)
}

impl SearchFilter {
    /// The number of hits asked for: 20 unless set.
    pub(super) fn limit_or_default(&self) -> i64 {
        if self.limit > 0 { self.limit } else { 20 }
    }
}

/// The filters of a search or an article listing, as `AND …` clauses on `articles a`.
pub(super) fn push_filters(sql: &mut String, args: &mut Args, f: &SearchFilter) {
    if let Some(s) = f.since_ms {
        sql.push_str(&format!(" AND {ARTICLE_TIME} >= {}", args.p(s)));
    }
    if let Some(u) = f.until_ms {
        sql.push_str(&format!(" AND {ARTICLE_TIME} < {}", args.p(u)));
    }
    if let Some(t) = &f.topic {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = {})",
            args.p(t.as_str())
        ));
    }
    if let Some(id) = f.feed_id {
        let p = args.p(id);
        sql.push_str(&format!(" AND (a.feed_id = {p} OR EXISTS (SELECT 1 FROM sightings s WHERE s.article_id = a.id AND s.feed_id = {p}))"));
    }
    if let Some(l) = &f.lang {
        sql.push_str(&format!(" AND a.lang = {}", args.p(l.as_str())));
    }
}

/// The time of an article `a` (published, else fetched), as SQL: what migration 0003 indexes.
pub(super) const ARTICLE_TIME: &str = "coalesce(a.published_at, a.fetched_at)";

/// One page of a listing: `next_offset` is set when more rows follow.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: i64,
    pub next_offset: Option<i64>,
}

/// Which rows of a listing: `limit` rows from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    /// The first `limit` rows.
    pub fn first(limit: i64) -> Paging {
        Paging { limit, offset: 0 }
    }
}

/// Page bounds: limit defaults to 50 and is capped at 500; offsets below 0 become 0.
pub fn page_bounds(limit: Option<i64>, offset: Option<i64>) -> Paging {
    Paging {
        limit: limit.filter(|l| *l > 0).unwrap_or(50).min(500),
        offset: offset.unwrap_or(0).max(0),
    }
}

/// One page of `sql` (filters included), in the order `order` says: a row more than the page is
/// read to know whether another page follows.
fn paged<T: FromRow>(
    db: &impl Db,
    (mut sql, mut args): (String, Args),
    order: &str,
    at: Paging,
) -> Result<Page<T>> {
    let Paging { limit, offset } = at;
    sql.push_str(&format!(
        " ORDER BY {order} LIMIT {} OFFSET {}",
        args.p(limit + 1),
        args.p(offset)
    ));
    let mut items: Vec<T> = db.rows(&sql, &args.0)?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    Ok(Page {
        items,
        limit,
        offset,
        next_offset: more.then_some(offset + limit),
    })
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

/// The columns of `ArticleRow`, from `articles a` and `feeds fe`.
const ARTICLE_COLS: &str = "a.id, a.feed_id, coalesce(fe.name, fe.title, fe.url), a.title, coalesce(a.canonical_link, a.link), a.lang, \
     a.published_at, a.fetched_at, a.sources";

impl FromRow for ArticleRow {
    fn from_row(r: &impl Cols) -> Result<ArticleRow> {
        Ok(ArticleRow {
            id: r.get(0)?,
            feed_id: r.get(1)?,
            feed: r.get(2)?,
            title: r.get(3)?,
            link: r.get(4)?,
            lang: r.get(5)?,
            published_at: r.get::<Option<i64>>(6)?.map(ms_to_rfc3339),
            fetched_at: ms_to_rfc3339(r.get(7)?),
            sources: r.get(8)?,
            topics: Vec::new(),
        })
    }
}

pub(super) fn list_articles(
    db: &impl Db,
    f: &ArticleFilter,
    at: Paging,
) -> Result<Page<ArticleRow>> {
    let mut sql = format!(
        "SELECT {ARTICLE_COLS} FROM articles a LEFT JOIN feeds fe ON fe.id = a.feed_id WHERE 1=1"
    );
    let mut args = Args::default();
    push_filters(&mut sql, &mut args, &f.as_search());
    let order = format!("{ARTICLE_TIME} DESC, a.id DESC");
    let mut rows: Page<ArticleRow> = paged(db, (sql, args), &order, at)?;
    for a in &mut rows.items {
        a.topics = topics_of(db, a.id)?;
    }
    Ok(rows)
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

const MATCH_COLS: &str = "m.id, m.article_id, m.topic, m.terms, m.snippet, m.matched_at, a.title, coalesce(a.canonical_link, a.link), \
     coalesce(fe.name, fe.title, fe.url), a.sources, a.published_at";
const MATCH_FROM: &str =
    "FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN feeds fe ON fe.id = a.feed_id";

impl FromRow for MatchRow {
    fn from_row(r: &impl Cols) -> Result<MatchRow> {
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
            published_at: r.get::<Option<i64>>(10)?.map(ms_to_rfc3339),
            matched_at_ms: at,
        })
    }
}

/// Filters of the match listing (all optional).
#[derive(Debug, Clone, Default)]
pub struct MatchFilter {
    pub topic: Option<String>,
    /// Matched at or after this time (ms).
    pub since_ms: Option<i64>,
}

/// Matches, newest first; optionally of one topic and since a time (matched_at).
pub(super) fn list_matches(db: &impl Db, f: &MatchFilter, at: Paging) -> Result<Page<MatchRow>> {
    let mut sql = format!("SELECT {MATCH_COLS} {MATCH_FROM} WHERE 1=1");
    let mut args = Args::default();
    if let Some(t) = &f.topic {
        sql.push_str(&format!(" AND m.topic = {}", args.p(t.as_str())));
    }
    if let Some(s) = f.since_ms {
        sql.push_str(&format!(" AND m.matched_at >= {}", args.p(s)));
    }
    paged(db, (sql, args), "m.matched_at DESC, m.id DESC", at)
}

/// The matches of one article.
fn matches_of(db: &impl Db, article_id: i64) -> Result<Vec<MatchRow>> {
    db.rows(
        &format!("SELECT {MATCH_COLS} {MATCH_FROM} WHERE m.article_id = ?1 ORDER BY m.topic"),
        &args![article_id],
    )
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

impl FromRow for AlertRow {
    fn from_row(r: &impl Cols) -> Result<AlertRow> {
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
            delivered_at: r.get::<Option<i64>>(8)?.map(ms_to_rfc3339),
            match_id: r.get(9)?,
            article_id: r.get(10)?,
            title: r.get(11)?,
            link: r.get(12)?,
            snippet: r.get(13)?,
            created_at_ms: created,
        })
    }
}

/// Filters of the alert listing (all optional).
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    pub topic: Option<String>,
}

/// Alerts, newest first; optionally by status and topic.
pub(super) fn list_alerts(db: &impl Db, f: &AlertFilter, at: Paging) -> Result<Page<AlertRow>> {
    let mut sql = String::from(
        "SELECT al.id, al.uid, al.topic, al.sink, al.status, al.attempts, al.last_error, al.created_at, al.delivered_at,
                al.match_id, m.article_id, a.title, coalesce(a.canonical_link, a.link), m.snippet
         FROM alerts al JOIN matches m ON m.id = al.match_id JOIN articles a ON a.id = m.article_id WHERE 1=1",
    );
    let mut args = Args::default();
    if let Some(s) = &f.status {
        sql.push_str(&format!(" AND al.status = {}", args.p(s.as_str())));
    }
    if let Some(t) = &f.topic {
        sql.push_str(&format!(" AND al.topic = {}", args.p(t.as_str())));
    }
    paged(db, (sql, args), "al.created_at DESC, al.id DESC", at)
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
pub(super) fn topic_stats(db: &impl Db) -> Result<Vec<TopicStats>> {
    let matches: Vec<(String, i64, Option<i64>)> = db.rows(
        "SELECT topic, count(*), max(matched_at) FROM matches GROUP BY topic",
        &[],
    )?;
    let alerts: Vec<(String, String, i64)> = db.rows(
        "SELECT topic, status, count(*) FROM alerts GROUP BY topic, status",
        &[],
    )?;
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
    Ok(out.into_values().collect())
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

impl FromRow for Sighting {
    fn from_row(r: &impl Cols) -> Result<Sighting> {
        Ok(Sighting {
            feed_id: r.get(0)?,
            feed: r.get(1)?,
            link: r.get(2)?,
            title: r.get(3)?,
            kind: r.get(4)?,
            seen_at: ms_to_rfc3339(r.get(5)?),
        })
    }
}

/// `ArticleDetail` as its row gives it: matches and sightings are read after.
impl FromRow for ArticleDetail {
    fn from_row(r: &impl Cols) -> Result<ArticleDetail> {
        Ok(ArticleDetail {
            row: ArticleRow::from_row(r)?,
            text: r.get(9)?,
            html: r.get(10)?,
            page_text: r.get(11)?,
            matches: Vec::new(),
            sightings: Vec::new(),
        })
    }
}

pub(super) fn article(db: &impl Db, id: i64) -> Result<Option<ArticleDetail>> {
    let Some(mut a) = db.row::<ArticleDetail>(
        &format!(
            "SELECT {ARTICLE_COLS}, a.text, a.html, a.page_text
             FROM articles a LEFT JOIN feeds fe ON fe.id = a.feed_id WHERE a.id = ?1"
        ),
        &args![id],
    )?
    else {
        return Ok(None);
    };
    a.row.topics = topics_of(db, id)?;
    a.matches = matches_of(db, id)?;
    a.sightings = db.rows(
        "SELECT s.feed_id, coalesce(fe.name, fe.title, fe.url), s.link, s.title, s.kind, s.seen_at
         FROM sightings s LEFT JOIN feeds fe ON fe.id = s.feed_id WHERE s.article_id = ?1 ORDER BY s.seen_at, s.id",
        &args![id],
    )?;
    Ok(Some(a))
}

/// Counters for `/metrics`, computed from the store at scrape time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreMetrics {
    /// Polls recorded in the fetch log.
    pub fetches: i64,
    pub fetch_errors: i64,
    /// WebSub pushes stored (a refused push stores nothing: the log says why).
    pub pushes: i64,
    /// New articles from polls and pushes.
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

pub(super) fn store_metrics(db: &impl Db, now_ms: i64) -> Result<StoreMetrics> {
    let mut m = StoreMetrics::default();
    (m.fetches, m.fetch_errors, m.pushes, m.new_articles) = db.one(
        "SELECT count(CASE WHEN push = 0 THEN 1 END), count(CASE WHEN push = 0 THEN error END),
                count(CASE WHEN push = 1 THEN 1 END), CAST(coalesce(sum(new_items), 0) AS BIGINT)
         FROM fetch_log",
        &[],
    )?;
    m.articles = db.one("SELECT count(*) FROM articles", &[])?;
    m.matches = db.one("SELECT count(*) FROM matches", &[])?;
    for (s, n) in
        db.rows::<(String, i64)>("SELECT status, count(*) FROM alerts GROUP BY status", &[])?
    {
        match s.as_str() {
            "pending" => m.alerts_pending = n,
            "failed" => m.alerts_failed = n,
            "delivered" => m.alerts_delivered = n,
            _ => {}
        }
    }
    let lag_ms: Option<i64>;
    (m.feeds_enabled, m.feeds_disabled, m.feeds_failing, lag_ms) = db.one(
        "SELECT count(CASE WHEN enabled THEN 1 END), count(CASE WHEN NOT enabled THEN 1 END),
                count(CASE WHEN enabled AND error_count > 0 THEN 1 END),
                max(CASE WHEN enabled AND next_poll_at <= ?1 THEN ?1 - next_poll_at END)
         FROM feeds",
        &args![now_ms],
    )?;
    m.poll_lag_seconds = lag_ms.unwrap_or(0).max(0) as f64 / 1000.0;
    Ok(m)
}

/// The topics an article matched, by name.
pub(super) fn topics_of(db: &impl Db, article_id: i64) -> Result<Vec<String>> {
    db.cached(
        "SELECT topic FROM matches WHERE article_id = ?1 ORDER BY topic",
        &args![article_id],
    )
}

/// (id, title, text, lang, link) of a stored article, for backtests.
pub type BacktestRow = (i64, String, String, Option<String>, Option<String>);

/// Stored articles fetched since `since_ms`, for backtests (text and page text joined by a
/// newline).
pub(super) fn articles_since(db: &impl Db, since_ms: i64) -> Result<Vec<BacktestRow>> {
    db.rows(
        "SELECT id, title, text || coalesce(?2 || page_text, ''), lang, link FROM articles
         WHERE coalesce(published_at, fetched_at) >= ?1 ORDER BY id",
        &args![since_ms, "\n"],
    )
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

impl FromRow for TopicEntry {
    /// The entry without its alerts (read after).
    fn from_row(r: &impl Cols) -> Result<TopicEntry> {
        Ok(TopicEntry {
            identity: r.get(0)?,
            article_id: r.get(1)?,
            title: r.get(2)?,
            link: r.get(3)?,
            snippet: r.get(4)?,
            terms: r.get(5)?,
            matched_at: r.get(6)?,
            published_at: r.get(7)?,
            feed: r.get(8)?,
            alerts: Vec::new(),
        })
    }
}

/// A `TopicEntry` and its match's id (the column after it).
struct Entry {
    entry: TopicEntry,
    match_id: i64,
}

impl FromRow for Entry {
    fn from_row(r: &impl Cols) -> Result<Entry> {
        let entry = TopicEntry::from_row(r)?;
        Ok(Entry {
            entry,
            match_id: r.get(9)?,
        })
    }
}

/// The latest `limit` matches of a topic, newest first, with their alerts.
pub(super) fn topic_entries(db: &impl Db, topic: &str, limit: i64) -> Result<Vec<TopicEntry>> {
    let rows: Vec<Entry> = db.rows(
        "SELECT a.identity, a.id, a.title, coalesce(a.canonical_link, a.link), m.snippet, m.terms, m.matched_at, a.published_at,
                coalesce(fe.name, fe.title, fe.url), m.id
         FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN feeds fe ON fe.id = a.feed_id
         WHERE m.topic = ?1 ORDER BY m.matched_at DESC, m.id DESC LIMIT ?2",
        &args![topic, limit],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for Entry {
        entry: mut e,
        match_id,
    } in rows
    {
        e.alerts = db.cached(
            "SELECT uid, sink, status FROM alerts WHERE match_id = ?1 ORDER BY sink",
            &args![match_id],
        )?;
        out.push(e);
    }
    Ok(out)
}
