//! The SQLite backend: one rusqlite connection. The write side (`open_write`) runs WAL with
//! `synchronous = NORMAL`, a 32 MiB page cache and the query planner stability guarantee, and is
//! migrated at open; the read side (`open_read`) is opened read-only and never migrates. The SQL
//! lives in the sibling files (`feeds`, `articles`, `pages`, `outbox`, `query`, `report`,
//! `feedback`, `websub`); this file
//! opens connections and maps the store's operations onto them.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use super::feeds::{self, FetchLog, read as feed_read};
use super::migrate::migrate;
use super::{
    AlertFilter, AlertRow, ArticleDetail, ArticleFilter, ArticleRow, BacktestRow, CommitOutcome,
    Feed, Hit, MatchFilter, MatchRow, Page, Paging, SearchFilter, StoreMetrics, TopicEntry,
    TopicStats,
};
use super::{
    Attempt, CountBy, DigestStep, DigestWindow, DueRow, FeedState, FetchCommit, GroupKey,
    MatchPolicy, NewFeed, OutboxQuery, OutboxRow, PageOutcome, PageText, PendingPage, Read,
    ReportHit, Result, RetryResult, SCHEMA_VERSION, StoryRow, Write, outbox, query, report,
};
use super::{Label, LabelledArticle, Marked, MarkedMatch, NewMark, feedback};
use crate::topics::Severity;

/// One SQLite connection: the write connection, or a read-only one.
pub(crate) struct Sqlite {
    pub(super) conn: Connection,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Sqlite {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub(super) fn open_write(path: &Path) -> Result<Sqlite> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        configure(&conn)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            anyhow::bail!("cannot switch {} to WAL mode (got {mode})", path.display());
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A page cache of up to 32 MiB (SQLite's default is 2 MiB): the writer touches the same
        // index pages at every commit, and re-reading evicted ones was a visible share of ingest.
        conn.pragma_update(None, "cache_size", -32768)?;
        // Query planner stability: the writer's cached statements keep their plan. Without it,
        // SQLite re-prepares a statement whenever a new value is bound to a parameter the planner
        // looked at (every content-hash lookup of an ingest was being re-parsed and re-planned).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        migrate(&mut conn).with_context(|| format!("database {}", path.display()))?;
        Ok(Sqlite { conn })
    }

    /// A read-only connection. Refuses a missing database and one whose schema differs from this
    /// binary's (older: a write command upgrades it; newer: a newer binary is needed).
    pub(super) fn open_read(path: &Path) -> Result<Sqlite> {
        if !path.exists() {
            anyhow::bail!(
                "no database at {} (run `newswatch poll` or `newswatch run` first)",
                path.display()
            );
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot open database {}", path.display()))?;
        configure(&conn)?;
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        check_version(&path.display().to_string(), v, SCHEMA_VERSION)?;
        Ok(Sqlite { conn })
    }
}

/// A read-only open accepts only the schema this binary writes (`expected`).
pub(super) fn check_version(db: &str, v: i64, expected: i64) -> Result<()> {
    if v > expected {
        anyhow::bail!(
            "database {db} has schema version {v}, newer than this newswatch ({expected}); use a newer binary"
        );
    }
    if v < expected {
        anyhow::bail!(
            "database {db} has schema version {v}, older than this newswatch ({expected}); run `newswatch poll` or `newswatch run` once to upgrade it"
        );
    }
    Ok(())
}

impl Read for Sqlite {
    fn feeds(&self) -> Result<Vec<Feed>> {
        feed_read::all(&self.conn)
    }
    fn feed(&self, id: i64) -> Result<Option<Feed>> {
        feed_read::by_id(&self.conn, id)
    }
    fn enabled_feeds_after(&self, after_id: i64, limit: usize) -> Result<Vec<Feed>> {
        feed_read::enabled_after(&self.conn, after_id, limit)
    }
    fn find_feed(&self, key: &str) -> Result<Option<Feed>> {
        feed_read::find(&self.conn, key)
    }
    fn article_counts(&self) -> Result<HashMap<i64, i64>> {
        feed_read::article_counts(&self.conn)
    }
    fn feed_names(&self) -> Result<HashMap<i64, String>> {
        feed_read::names(&self.conn)
    }
    fn search(&self, q: &str, f: &SearchFilter) -> Result<Vec<Hit>> {
        query::search(&self.conn, q, f)
    }
    fn list_articles(&self, f: &ArticleFilter, at: Paging) -> Result<Page<ArticleRow>> {
        query::list_articles(&self.conn, f, at)
    }
    fn article(&self, id: i64) -> Result<Option<ArticleDetail>> {
        query::article(&self.conn, id)
    }
    fn list_matches(&self, f: &MatchFilter, at: Paging) -> Result<Page<MatchRow>> {
        query::list_matches(&self.conn, f, at)
    }
    fn list_alerts(&self, f: &AlertFilter, at: Paging) -> Result<Page<AlertRow>> {
        query::list_alerts(&self.conn, f, at)
    }
    fn topic_stats(&self) -> Result<Vec<TopicStats>> {
        query::topic_stats(&self.conn)
    }
    fn topic_entries(&self, topic: &str, limit: i64) -> Result<Vec<TopicEntry>> {
        query::topic_entries(&self.conn, topic, limit)
    }
    fn metrics(&self, now_ms: i64) -> Result<StoreMetrics> {
        query::store_metrics(&self.conn, now_ms)
    }
    fn articles_since(&self, since_ms: i64) -> Result<Vec<BacktestRow>> {
        query::articles_since(&self.conn, since_ms)
    }
    fn ping(&self) -> Result<()> {
        self.conn
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
        Ok(())
    }
    fn report_hits(&self, since: i64, until: i64, topic: Option<&str>) -> Result<Vec<ReportHit>> {
        report::hits(&self.conn, since, until, topic)
    }
    fn report_counts(&self, since: i64, until: i64, by: CountBy) -> Result<Vec<(GroupKey, i64)>> {
        report::counts(&self.conn, since, until, by)
    }
    fn report_story(&self, article_id: i64, topic: &str) -> Result<Option<StoryRow>> {
        report::story(&self.conn, article_id, topic)
    }
    fn outbox_rows(
        &self,
        q: &OutboxQuery,
        severity_of: &dyn Fn(&str) -> Severity,
    ) -> Result<Vec<OutboxRow>> {
        outbox::rows(&self.conn, q, severity_of)
    }
    fn near_duplicates(
        &self,
        fingerprint: &crate::dedup::Fingerprint,
        since: i64,
    ) -> Result<Vec<(i64, u32)>> {
        Ok(super::articles::near_duplicate_candidates(
            &self.conn,
            fingerprint,
            since,
        )?)
    }
    fn alert_labels(&self, alert_ids: &[i64]) -> Result<HashMap<i64, Label>> {
        feedback::labels_of_alerts(&self.conn, alert_ids)
    }
    fn article_alert_marks(&self, article_id: i64) -> Result<HashMap<i64, (i64, Option<Label>)>> {
        feedback::alerts_of_article(&self.conn, article_id)
    }
    fn marked_matches(&self, topic: &str, since_ms: Option<i64>) -> Result<Vec<MarkedMatch>> {
        feedback::marked_matches(&self.conn, topic, since_ms)
    }
    fn labelled_articles(&self) -> Result<Vec<LabelledArticle>> {
        feedback::labelled_articles(&self.conn)
    }
    fn marked_topics(&self) -> Result<Vec<String>> {
        feedback::marked_topics(&self.conn)
    }
}

impl Write for Sqlite {
    fn upsert_feed(&mut self, f: &NewFeed) -> Result<i64> {
        Ok(Sqlite::upsert_feed(self, f)?)
    }
    fn ensure_feed(&mut self, url: &str) -> Result<i64> {
        Ok(Sqlite::ensure_feed(self, url)?)
    }
    fn ensure_ingest_feeds(&mut self, urls: &[String]) -> Result<Vec<i64>> {
        Ok(Sqlite::ensure_ingest_feeds(self, urls)?)
    }
    fn remove_feed(&mut self, id: i64) -> Result<bool> {
        Ok(Sqlite::remove_feed(self, id)?)
    }
    fn import_feeds(&mut self, feeds: &[(String, Option<String>)]) -> Result<usize> {
        Ok(Sqlite::import_feeds(self, feeds)?)
    }
    /// One process writes a SQLite file, so the due feeds are simply read; the daemon keeps at
    /// most one poll per feed in flight.
    fn due_feeds(&mut self, now: i64, limit: usize) -> Result<Vec<Feed>> {
        feeds::due::batch(&self.conn, now, limit)
    }
    fn due_count(&mut self, now: i64) -> Result<i64> {
        feeds::due::count(&self.conn, now)
    }
    fn record_fetch(&mut self, feed_id: i64, state: &FeedState, log: &FetchLog) -> Result<()> {
        Ok(Sqlite::record_fetch(self, feed_id, state, log)?)
    }
    fn commit_fetch(&mut self, c: FetchCommit, policy: &MatchPolicy) -> Result<CommitOutcome> {
        Sqlite::commit_fetch(self, c, policy)
    }
    fn commit_batch(
        &mut self,
        batch: &[FetchCommit],
        policy: &MatchPolicy,
    ) -> Result<Vec<CommitOutcome>> {
        Sqlite::commit_batch(self, batch, policy)
    }
    fn claim_due_pages(
        &mut self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<PendingPage>> {
        Sqlite::claim_due_pages(self, now, limit, lease_ms)
    }
    fn page_done(&mut self, page: &PageText, policy: &MatchPolicy) -> Result<PageOutcome> {
        Sqlite::page_done(self, page, policy)
    }
    fn page_failed(&mut self, id: i64, error: &str, retry_at: Option<i64>) -> Result<bool> {
        Sqlite::page_failed(self, id, error, retry_at)
    }
    fn due_alerts(&mut self, now: i64, sinks: &[String], limit: usize) -> Result<Vec<DueRow>> {
        outbox::due(&self.conn, now, sinks, limit)
    }
    fn next_alert_after(&mut self, now: i64, sinks: &[String]) -> Result<Option<i64>> {
        Ok(outbox::next_due_after(&self.conn, now, sinks)?)
    }
    fn orphaned_alerts(&mut self, sinks: &[String]) -> Result<Vec<(String, i64)>> {
        Ok(outbox::orphaned(&self.conn, sinks)?)
    }
    fn digest_members(&mut self, digest_uid: &str) -> Result<Vec<DueRow>> {
        outbox::digest_members(&self.conn, digest_uid)
    }
    fn form_digest(&mut self, w: &DigestWindow, now: i64) -> Result<DigestStep> {
        Ok(outbox::form_digest(&mut self.conn, w, now)?)
    }
    fn recent_deliveries(&mut self, topic: &str, sink: &str, since: i64) -> Result<Vec<i64>> {
        outbox::recent_deliveries(&self.conn, topic, sink, since)
    }
    fn postpone_alerts(&mut self, key: &str, until: i64) -> Result<usize> {
        Ok(outbox::postpone(&self.conn, key, until)?)
    }
    fn record_attempt(&mut self, a: &Attempt) -> Result<usize> {
        Ok(outbox::record(&mut self.conn, a)?)
    }
    fn load_alerts(
        &mut self,
        ids: &[i64],
        severity_of: &dyn Fn(&str) -> Severity,
    ) -> Result<Vec<OutboxRow>> {
        outbox::load(&self.conn, ids, severity_of)
    }
    fn retry_alerts(&mut self, key: &str, now: i64) -> Result<Vec<RetryResult>> {
        Ok(outbox::retry(&mut self.conn, key, now)?)
    }
    fn mark_alert(&mut self, key: &str, mark: &NewMark) -> Result<Option<Marked>> {
        Ok(feedback::mark(&mut self.conn, key, mark)?)
    }
}
