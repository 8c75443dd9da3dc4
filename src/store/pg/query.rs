//! PostgreSQL read queries: what its dialect writes differently from the shared ones
//! (`store::query`): search with a tsvector + GIN index and `ts_headline`, and the report's window
//! scans. Also how a shared query runs on this backend (`Db`).

use super::super::query::{ARTICLE_TIME, HIT_COLS, RANK_WINDOW, push_filters, with_topics};
use super::super::report::grouped;
use super::super::sql::{Arg, Args, Db, FromRow};
use super::super::{CountBy, GroupKey, Hit, ReportHit, Result, SearchFilter};
use super::{Pg, dollars};

impl Db for Pg {
    fn rows<T: FromRow>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>> {
        let params: Vec<_> = args.iter().map(Arg::pg).collect();
        self.c()
            .query(&dollars(sql), &params)?
            .iter()
            .map(T::from_row)
            .collect()
    }
    fn cached<T: FromRow>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>> {
        self.rows(sql, args)
    }
}

impl Pg {
    pub(super) fn search(&self, q: &str, f: &SearchFilter) -> Result<Vec<Hit>> {
        let mut args = Args::default();
        let mut inner = format!(
            "SELECT a.id, ts_rank(a.fts, q) AS score, q FROM articles a, websearch_to_tsquery('simple', {}) q
             WHERE a.fts @@ q",
            args.p(q)
        );
        push_filters(&mut inner, &mut args, f);
        inner.push_str(&format!(
            " ORDER BY a.id DESC LIMIT {}",
            args.p(RANK_WINDOW)
        ));
        let sql = format!(
            "SELECT {HIT_COLS},
                    ts_headline('simple', a.title || E'\\n' || a.text || coalesce(E'\\n' || a.page_text, ''), h.q,
                        'StartSel=[[, StopSel=]], MaxWords=24, MinWords=8, MaxFragments=1, FragmentDelimiter=…')
             FROM ({inner}) h JOIN articles a ON a.id = h.id LEFT JOIN feeds fe ON fe.id = a.feed_id
             ORDER BY h.score DESC, a.id DESC LIMIT {}",
            args.p(f.limit_or_default())
        );
        let hits = self.rows(&sql, &args.0)?;
        with_topics(self, hits)
    }

    pub(super) fn report_hits(
        &self,
        since: i64,
        until: i64,
        topic: Option<&str>,
    ) -> Result<Vec<ReportHit>> {
        self.rows(
            &format!(
                "SELECT a.id, {ARTICLE_TIME}, a.feed_id, a.lang, a.sources, m.topic
                 FROM articles a JOIN matches m ON m.article_id = a.id
                 WHERE {ARTICLE_TIME} >= ?1 AND {ARTICLE_TIME} < ?2 AND (CAST(?3 AS TEXT) IS NULL OR m.topic = ?3)"
            ),
            &super::super::sql::args![since, until, topic],
        )
    }

    pub(super) fn report_counts(
        &self,
        since: i64,
        until: i64,
        by: CountBy,
    ) -> Result<Vec<(GroupKey, i64)>> {
        const T: &str = ARTICLE_TIME;
        let mut args = Args::default();
        let (from, to) = (args.p(since), args.p(until));
        let key = match by {
            CountBy::Day { offset_ms } => format!(
                "floor(({T} + {})::numeric / 86400000)::bigint",
                args.p(offset_ms)
            ),
            CountBy::Feed => "a.feed_id".to_string(),
            CountBy::Lang => "a.lang".to_string(),
        };
        let sql = format!(
            "SELECT {key} AS k, count(*) FROM articles a WHERE {T} >= {from} AND {T} < {to} GROUP BY k"
        );
        grouped(self, &sql, &args.0, by)
    }
}
