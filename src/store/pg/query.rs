//! PostgreSQL read queries (search with tsvector + GIN and `ts_headline`, listings, metrics,
//! reports, Atom entries).

use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::super::query::{
    MATCH_COLS, RANK_WINDOW, SQL_TOPIC_ALERTS, SQL_TOPIC_MATCHES, ms_to_rfc3339, topic_stats_of,
};
use super::super::{
    AlertRow, ArticleDetail, ArticleFilter, ArticleRow, BacktestRow, CountBy, GroupKey, Hit,
    MatchRow, Page, ReportHit, Result, SearchFilter, StoreMetrics, StoryRow, TopicEntry,
    TopicStats,
};
use super::Pg;

/// Positional arguments of a statement built piece by piece.
#[derive(Default)]
struct Args(Vec<Box<dyn ToSql + Sync>>);

impl Args {
    /// Adds a value; returns its placeholder.
    fn p(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }
    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|b| b.as_ref()).collect()
    }
}

fn push_filters(sql: &mut String, args: &mut Args, f: &SearchFilter) {
    if let Some(s) = f.since_ms {
        sql.push_str(&format!(
            " AND coalesce(a.published_at, a.fetched_at) >= {}",
            args.p(s)
        ));
    }
    if let Some(u) = f.until_ms {
        sql.push_str(&format!(
            " AND coalesce(a.published_at, a.fetched_at) < {}",
            args.p(u)
        ));
    }
    if let Some(t) = &f.topic {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = {})",
            args.p(t.clone())
        ));
    }
    if let Some(id) = f.feed_id {
        let p = args.p(id);
        sql.push_str(&format!(" AND (a.feed_id = {p} OR EXISTS (SELECT 1 FROM sightings s WHERE s.article_id = a.id AND s.feed_id = {p}))"));
    }
    if let Some(l) = &f.lang {
        sql.push_str(&format!(" AND a.lang = {}", args.p(l.clone())));
    }
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

fn topics_of(c: &mut impl GenericClient, article_id: i64) -> Result<Vec<String>> {
    Ok(c.query(
        "SELECT topic FROM matches WHERE article_id = $1 ORDER BY topic",
        &[&article_id],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

fn match_from_row(r: &Row) -> MatchRow {
    let terms: String = r.get(3);
    let at: i64 = r.get(5);
    MatchRow {
        id: r.get(0),
        article_id: r.get(1),
        topic: r.get(2),
        terms: serde_json::from_str(&terms).unwrap_or_default(),
        snippet: r.get(4),
        matched_at: ms_to_rfc3339(at),
        title: r.get(6),
        link: r.get(7),
        feed: r.get(8),
        sources: r.get(9),
        published_at: r.get::<_, Option<i64>>(10).map(ms_to_rfc3339),
        matched_at_ms: at,
    }
}

fn article_row(r: &Row) -> ArticleRow {
    ArticleRow {
        id: r.get(0),
        feed_id: r.get(1),
        feed: r.get(2),
        title: r.get(3),
        link: r.get(4),
        lang: r.get(5),
        published_at: r.get::<_, Option<i64>>(6).map(ms_to_rfc3339),
        fetched_at: ms_to_rfc3339(r.get(7)),
        sources: r.get(8),
        topics: Vec::new(),
    }
}

impl Pg {
    pub(super) fn search(&self, q: &str, f: &SearchFilter) -> Result<Vec<Hit>> {
        let mut args = Args::default();
        let mut inner = format!(
            "SELECT a.id, ts_rank(a.fts, q) AS score, q FROM articles a, websearch_to_tsquery('simple', {}) q
             WHERE a.fts @@ q",
            args.p(q.to_string())
        );
        push_filters(&mut inner, &mut args, f);
        inner.push_str(&format!(
            " ORDER BY a.id DESC LIMIT {}",
            args.p(RANK_WINDOW)
        ));
        let limit = args.p(if f.limit > 0 { f.limit } else { 20 });
        let sql = format!(
            "SELECT a.id, coalesce(fe.name, fe.title, fe.url), a.feed_id, a.title, coalesce(a.canonical_link, a.link), a.text, a.lang,
                    coalesce(a.published_at, a.fetched_at), a.sources,
                    ts_headline('simple', a.title || E'\\n' || a.text || coalesce(E'\\n' || a.page_text, ''), h.q,
                        'StartSel=[[, StopSel=]], MaxWords=24, MinWords=8, MaxFragments=1, FragmentDelimiter=…')
             FROM ({inner}) h JOIN articles a ON a.id = h.id LEFT JOIN feeds fe ON fe.id = a.feed_id
             ORDER BY h.score DESC, a.id DESC LIMIT {limit}"
        );
        let mut c = self.c();
        let rows = c.query(&sql, &args.refs())?;
        let mut hits = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            hits.push(Hit {
                id,
                feed: r.get(1),
                feed_id: r.get(2),
                title: r.get(3),
                link: r.get(4),
                text: r.get(5),
                lang: r.get(6),
                published_at: r.get::<_, Option<i64>>(7).map(ms_to_rfc3339),
                topics: topics_of(&mut *c, id)?,
                sources: r.get(8),
                highlight: r.get(9),
            });
        }
        Ok(hits)
    }

    pub(super) fn list_articles(
        &self,
        f: &ArticleFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ArticleRow>> {
        let mut args = Args::default();
        let mut sql = String::from(
            "SELECT a.id, a.feed_id, coalesce(fe.name, fe.title, fe.url), a.title, coalesce(a.canonical_link, a.link), a.lang, a.published_at, a.fetched_at, a.sources
             FROM articles a LEFT JOIN feeds fe ON fe.id = a.feed_id WHERE TRUE",
        );
        push_filters(&mut sql, &mut args, &f.as_search());
        sql.push_str(&format!(
            " ORDER BY coalesce(a.published_at, a.fetched_at) DESC, a.id DESC LIMIT {} OFFSET {}",
            args.p(limit + 1),
            args.p(offset)
        ));
        let mut c = self.c();
        let mut rows: Vec<ArticleRow> = c
            .query(&sql, &args.refs())?
            .iter()
            .map(article_row)
            .collect();
        for a in &mut rows {
            a.topics = topics_of(&mut *c, a.id)?;
        }
        Ok(page(rows, limit, offset))
    }

    pub(super) fn article(&self, id: i64) -> Result<Option<ArticleDetail>> {
        let mut c = self.c();
        let Some(r) = c.query_opt(
            "SELECT a.id, a.feed_id, coalesce(fe.name, fe.title, fe.url), a.title, coalesce(a.canonical_link, a.link), a.lang, a.published_at, a.fetched_at,
                    a.sources, a.text, a.html, a.page_text
             FROM articles a LEFT JOIN feeds fe ON fe.id = a.feed_id WHERE a.id = $1",
            &[&id],
        )?
        else {
            return Ok(None);
        };
        let mut row = article_row(&r);
        row.topics = topics_of(&mut *c, id)?;
        let matches = matches_of(&mut *c, id)?;
        let sightings = c
            .query(
                "SELECT s.feed_id, coalesce(fe.name, fe.title, fe.url), s.link, s.title, s.kind, s.seen_at
                 FROM sightings s LEFT JOIN feeds fe ON fe.id = s.feed_id WHERE s.article_id = $1 ORDER BY s.seen_at, s.id",
                &[&id],
            )?
            .iter()
            .map(|r| super::super::query::Sighting {
                feed_id: r.get(0),
                feed: r.get(1),
                link: r.get(2),
                title: r.get(3),
                kind: r.get(4),
                seen_at: ms_to_rfc3339(r.get(5)),
            })
            .collect();
        Ok(Some(ArticleDetail {
            row,
            text: r.get(9),
            html: r.get(10),
            page_text: r.get(11),
            matches,
            sightings,
        }))
    }

    pub(super) fn list_matches(
        &self,
        topic: Option<&str>,
        since_ms: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<MatchRow>> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {MATCH_COLS} FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN feeds fe ON fe.id = a.feed_id WHERE TRUE"
        );
        if let Some(t) = topic {
            sql.push_str(&format!(" AND m.topic = {}", args.p(t.to_string())));
        }
        if let Some(s) = since_ms {
            sql.push_str(&format!(" AND m.matched_at >= {}", args.p(s)));
        }
        sql.push_str(&format!(
            " ORDER BY m.matched_at DESC, m.id DESC LIMIT {} OFFSET {}",
            args.p(limit + 1),
            args.p(offset)
        ));
        let rows = self
            .c()
            .query(&sql, &args.refs())?
            .iter()
            .map(match_from_row)
            .collect();
        Ok(page(rows, limit, offset))
    }

    pub(super) fn list_alerts(
        &self,
        status: Option<&str>,
        topic: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<AlertRow>> {
        let mut args = Args::default();
        let mut sql = String::from(
            "SELECT al.id, al.uid, al.topic, al.sink, al.status, al.attempts, al.last_error, al.created_at, al.delivered_at,
                    al.match_id, m.article_id, a.title, coalesce(a.canonical_link, a.link), m.snippet
             FROM alerts al JOIN matches m ON m.id = al.match_id JOIN articles a ON a.id = m.article_id WHERE TRUE",
        );
        if let Some(s) = status {
            sql.push_str(&format!(" AND al.status = {}", args.p(s.to_string())));
        }
        if let Some(t) = topic {
            sql.push_str(&format!(" AND al.topic = {}", args.p(t.to_string())));
        }
        sql.push_str(&format!(
            " ORDER BY al.created_at DESC, al.id DESC LIMIT {} OFFSET {}",
            args.p(limit + 1),
            args.p(offset)
        ));
        let rows = self
            .c()
            .query(&sql, &args.refs())?
            .iter()
            .map(|r| {
                let created: i64 = r.get(7);
                AlertRow {
                    id: r.get(0),
                    uid: r.get(1),
                    topic: r.get(2),
                    sink: r.get(3),
                    status: r.get(4),
                    attempts: r.get(5),
                    last_error: r.get(6),
                    created_at: ms_to_rfc3339(created),
                    delivered_at: r.get::<_, Option<i64>>(8).map(ms_to_rfc3339),
                    match_id: r.get(9),
                    article_id: r.get(10),
                    title: r.get(11),
                    link: r.get(12),
                    snippet: r.get(13),
                    created_at_ms: created,
                }
            })
            .collect();
        Ok(page(rows, limit, offset))
    }

    pub(super) fn topic_stats(&self) -> Result<Vec<TopicStats>> {
        let mut c = self.c();
        let matches: Vec<_> = c
            .query(SQL_TOPIC_MATCHES, &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let alerts: Vec<_> = c
            .query(SQL_TOPIC_ALERTS, &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        Ok(topic_stats_of(matches, alerts))
    }

    pub(super) fn topic_entries(&self, topic: &str, limit: i64) -> Result<Vec<TopicEntry>> {
        let mut c = self.c();
        let rows = c.query(
            "SELECT m.id, a.identity, a.id, a.title, coalesce(a.canonical_link, a.link), m.snippet, m.terms, m.matched_at, a.published_at,
                    coalesce(fe.name, fe.title, fe.url)
             FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN feeds fe ON fe.id = a.feed_id
             WHERE m.topic = $1 ORDER BY m.matched_at DESC, m.id DESC LIMIT $2",
            &[&topic, &limit],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let match_id: i64 = r.get(0);
            let alerts = c
                .query(
                    "SELECT uid, sink, status FROM alerts WHERE match_id = $1 ORDER BY sink",
                    &[&match_id],
                )?
                .iter()
                .map(|a| (a.get(0), a.get(1), a.get(2)))
                .collect();
            out.push(TopicEntry {
                identity: r.get(1),
                article_id: r.get(2),
                title: r.get(3),
                link: r.get(4),
                snippet: r.get(5),
                terms: r.get(6),
                matched_at: r.get(7),
                published_at: r.get(8),
                feed: r.get(9),
                alerts,
            });
        }
        Ok(out)
    }

    pub(super) fn metrics(&self, now_ms: i64) -> Result<StoreMetrics> {
        let mut c = self.c();
        let mut m = StoreMetrics::default();
        let r = c.query_one(
            "SELECT count(*), count(error), coalesce(sum(new_items), 0)::bigint FROM fetch_log",
            &[],
        )?;
        (m.fetches, m.fetch_errors, m.new_articles) = (r.get(0), r.get(1), r.get(2));
        m.articles = c.query_one("SELECT count(*) FROM articles", &[])?.get(0);
        m.matches = c.query_one("SELECT count(*) FROM matches", &[])?.get(0);
        for r in c.query("SELECT status, count(*) FROM alerts GROUP BY status", &[])? {
            let s: String = r.get(0);
            let n: i64 = r.get(1);
            match s.as_str() {
                "pending" => m.alerts_pending = n,
                "failed" => m.alerts_failed = n,
                "delivered" => m.alerts_delivered = n,
                _ => {}
            }
        }
        let r = c.query_one(
            "SELECT count(*) FILTER (WHERE enabled), count(*) FILTER (WHERE NOT enabled),
                    count(*) FILTER (WHERE enabled AND error_count > 0),
                    max(CASE WHEN enabled AND next_poll_at <= $1 THEN $1 - next_poll_at END)
             FROM feeds",
            &[&now_ms],
        )?;
        (m.feeds_enabled, m.feeds_disabled, m.feeds_failing) = (r.get(0), r.get(1), r.get(2));
        m.poll_lag_seconds = r.get::<_, Option<i64>>(3).unwrap_or(0).max(0) as f64 / 1000.0;
        Ok(m)
    }

    pub(super) fn articles_since(&self, since_ms: i64) -> Result<Vec<BacktestRow>> {
        Ok(self
            .c()
            .query(
                "SELECT id, title, text || coalesce(E'\\n' || page_text, ''), lang, link FROM articles
                 WHERE coalesce(published_at, fetched_at) >= $1 ORDER BY id",
                &[&since_ms],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect())
    }

    pub(super) fn report_hits(
        &self,
        since: i64,
        until: i64,
        topic: Option<&str>,
    ) -> Result<Vec<ReportHit>> {
        Ok(self
            .c()
            .query(
                "SELECT a.id, coalesce(a.published_at, a.fetched_at), a.feed_id, a.lang, a.sources, m.topic
                 FROM articles a JOIN matches m ON m.article_id = a.id
                 WHERE coalesce(a.published_at, a.fetched_at) >= $1 AND coalesce(a.published_at, a.fetched_at) < $2
                   AND ($3::text IS NULL OR m.topic = $3)",
                &[&since, &until, &topic],
            )?
            .iter()
            .map(|r| ReportHit {
                article_id: r.get(0),
                time: r.get(1),
                feed_id: r.get(2),
                lang: r.get(3),
                sources: r.get(4),
                topic: r.get(5),
            })
            .collect())
    }

    pub(super) fn report_counts(
        &self,
        since: i64,
        until: i64,
        by: CountBy,
    ) -> Result<Vec<(GroupKey, i64)>> {
        const T: &str = "coalesce(a.published_at, a.fetched_at)";
        let (key, off) = match by {
            CountBy::Day { offset_ms } => (
                format!("floor(({T} + $3)::numeric / 86400000)::bigint"),
                offset_ms,
            ),
            CountBy::Feed => ("a.feed_id".to_string(), 0),
            CountBy::Lang => ("a.lang".to_string(), 0),
        };
        let sql = format!(
            "SELECT {key} AS k, count(*) FROM articles a WHERE {T} >= $1 AND {T} < $2 AND $3::bigint IS NOT NULL GROUP BY k"
        );
        Ok(self
            .c()
            .query(&sql, &[&since, &until, &off])?
            .iter()
            .map(|r| {
                let k = match by {
                    CountBy::Day { .. } => GroupKey::Day(r.get(0)),
                    CountBy::Feed => GroupKey::Feed(r.get(0)),
                    CountBy::Lang => GroupKey::Lang(r.get(0)),
                };
                (k, r.get(1))
            })
            .collect())
    }

    pub(super) fn report_story(&self, article_id: i64, topic: &str) -> Result<Option<StoryRow>> {
        Ok(self
            .c()
            .query_opt(
                "SELECT a.title, coalesce(a.canonical_link, a.link), coalesce(fe.name, fe.title, fe.url), m.snippet
                 FROM articles a JOIN matches m ON m.article_id = a.id AND m.topic = $2 LEFT JOIN feeds fe ON fe.id = a.feed_id
                 WHERE a.id = $1",
                &[&article_id, &topic],
            )?
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
    }
}

pub(super) fn matches_of(c: &mut impl GenericClient, article_id: i64) -> Result<Vec<MatchRow>> {
    Ok(c.query(
        &format!(
            "SELECT {MATCH_COLS} FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN feeds fe ON fe.id = a.feed_id
             WHERE m.article_id = $1 ORDER BY m.topic"
        ),
        &[&article_id],
    )?
    .iter()
    .map(match_from_row)
    .collect())
}
