//! Store: the one door to the database. The rest of the crate speaks to it through named
//! operations, the [`Read`] and [`Write`] traits, and never sees SQL or a driver type.
//!
//! - [`Store`]: the write side (a `Box<dyn Write>`), migrated at open. The daemon reaches it through
//!   one writer thread ([`Writer`]); commands that change the store open their own.
//! - [`Reader`]: the read side (a `Box<dyn Read>`), for reports, search, listings and the HTTP API.
//!   It is opened read-only and never migrates: a database older than the binary is refused with a
//!   message saying how to upgrade it.
//!
//! The backend is SQLite (`sqlite`: rusqlite, WAL, one write connection on the writer thread). Every
//! operation is a trait method, so a backend that lacks one does not compile; `dyn` dispatch costs
//! one indirect call per operation, nothing next to the SQL it runs.
//!
//! Invariants (SQLite):
//! - Every connection is opened by `sqlite::open_write` / `sqlite::open_read`: WAL, foreign keys on,
//!   busy timeout set.
//! - Migrations (`migrations/NNNN_*.sql`) are applied in order, each in its own IMMEDIATE transaction
//!   together with the `user_version` bump; a database newer than the binary is refused.
//! - Everything one fetch produces is committed by `commit_fetch` in ONE transaction: articles,
//!   sightings, matches, outbox alerts, the fetch log row and the feed's new state.
//! - Article identity is unique in the schema (`articles.identity`), so a crash and a re-fetch can
//!   never store an item twice.

mod articles;
mod feedback;
mod feeds;
mod migrate;
pub mod outbox;
mod pages;
mod pg;
pub mod query;
pub mod report;
mod sql;
mod sqlite;
mod websub;
mod writer;

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::Path;

pub use articles::{CommitOutcome, FetchCommit, ItemOutcome, ItemStatus, MatchPolicy, alert_uid};
pub use feedback::{Label, LabelledArticle, Marked, MarkedMatch, NewMark};
pub use feeds::{Feed, FeedState, Health, NewFeed};
/// The fetch log row type.
pub mod feeds_log {
    pub use super::feeds::FetchLog;
}
use feeds::FetchLog;
pub use migrate::{MIGRATIONS, PG_MIGRATIONS, PG_SCHEMA_VERSION, SCHEMA_VERSION};
pub use outbox::{Attempt, DigestStep, DigestWindow, DueRow, OutboxQuery, OutboxRow, RetryResult};
pub use pages::{PageOutcome, PageText, PendingPage, matching_text};
pub use pg::LEASE_MS;
pub use query::{
    AlertFilter, AlertRow, ArticleDetail, ArticleFilter, ArticleRow, BacktestRow, Hit, MatchFilter,
    MatchRow, Page, Paging, SearchFilter, StoreMetrics, TopicEntry, TopicStats,
};
pub use report::{CountBy, GroupKey, ReportHit, StoryRow};
pub use websub::{Activation, SubRequest, SubState, Subscription, WebSubStore};
pub use writer::{QUEUE as WRITER_QUEUE, Writer};

use crate::topics::Severity;

pub type Result<T> = anyhow::Result<T>;

/// Read operations: what reports, search, listings, the HTTP API and the read-only commands need.
pub trait Read: Send {
    /// Every feed, by id.
    fn feeds(&self) -> Result<Vec<Feed>>;
    fn feed(&self, id: i64) -> Result<Option<Feed>>;
    /// Up to `limit` enabled feeds with an id above `after_id`, by id: a pass over every feed
    /// (`poll --once`) reads them a page at a time instead of holding them all.
    fn enabled_feeds_after(&self, after_id: i64, limit: usize) -> Result<Vec<Feed>>;
    /// A feed named by id or URL (as on the command line).
    fn find_feed(&self, key: &str) -> Result<Option<Feed>>;
    /// Articles per feed (for `feeds status` and the API).
    fn article_counts(&self) -> Result<HashMap<i64, i64>>;
    /// Feed names (name, else title, else URL) by id.
    fn feed_names(&self) -> Result<HashMap<i64, String>>;

    /// Full-text search with filters; each hit carries a highlighted passage.
    fn search(&self, q: &str, f: &SearchFilter) -> Result<Vec<Hit>>;
    fn list_articles(&self, f: &ArticleFilter, at: Paging) -> Result<Page<ArticleRow>>;
    fn article(&self, id: i64) -> Result<Option<ArticleDetail>>;
    fn list_matches(&self, f: &MatchFilter, at: Paging) -> Result<Page<MatchRow>>;
    fn list_alerts(&self, f: &AlertFilter, at: Paging) -> Result<Page<AlertRow>>;
    /// Every topic that has matches or alerts.
    fn topic_stats(&self) -> Result<Vec<TopicStats>>;
    /// The latest matches of a topic with their alerts (the Atom feed).
    fn topic_entries(&self, topic: &str, limit: i64) -> Result<Vec<TopicEntry>>;
    fn metrics(&self, now_ms: i64) -> Result<StoreMetrics>;
    /// Stored articles since a time, for backtests.
    fn articles_since(&self, since_ms: i64) -> Result<Vec<BacktestRow>>;
    /// Answers when the database does.
    fn ping(&self) -> Result<()>;

    /// Matches of articles whose time is in `[since, until)`, optionally of one topic.
    fn report_hits(&self, since: i64, until: i64, topic: Option<&str>) -> Result<Vec<ReportHit>>;
    /// Articles whose time is in `[since, until)`, counted by group.
    fn report_counts(&self, since: i64, until: i64, by: CountBy) -> Result<Vec<(GroupKey, i64)>>;
    /// Title, link, feed name and snippet of an article's match of a topic.
    fn report_story(&self, article_id: i64, topic: &str) -> Result<Option<StoryRow>>;

    /// Outbox rows: the newest, or those delivered after a time (`OutboxQuery`); each alert's
    /// severity is its topic's.
    fn outbox_rows(
        &self,
        q: &OutboxQuery,
        severity_of: &dyn Fn(&str) -> Severity,
    ) -> Result<Vec<OutboxRow>>;
    /// Stored articles fetched after `since` sharing a MinHash key with the fingerprint, with how
    /// many they share, most first (then oldest first).
    fn near_duplicates(
        &self,
        fingerprint: &crate::dedup::Fingerprint,
        since: i64,
    ) -> Result<Vec<(i64, u32)>>;

    /// Readers' marks: the mark of each of these alerts' matches, by alert id (unmarked left out).
    fn alert_labels(&self, alert_ids: &[i64]) -> Result<HashMap<i64, Label>>;
    /// Each alerted match of an article: its first alert (the one a form marks) and its mark, by
    /// match id.
    fn article_alert_marks(&self, article_id: i64) -> Result<HashMap<i64, (i64, Option<Label>)>>;
    /// The marked matches of a topic (marks made since `since_ms`; all with `None`), oldest mark
    /// first.
    fn marked_matches(&self, topic: &str, since_ms: Option<i64>) -> Result<Vec<MarkedMatch>>;
    /// Every article with at least one mark, with each topic that matched it and its mark.
    fn labelled_articles(&self) -> Result<Vec<LabelledArticle>>;
    /// The topics that have at least one mark.
    fn marked_topics(&self) -> Result<Vec<String>>;
}

/// Write operations: polling, ingest, full-text pages, the outbox, WebSub subscriptions
/// ([`WebSubStore`]). Each is one transaction.
pub trait Write: Read + WebSubStore {
    /// Adds a feed, or updates name/interval/full_text of an existing one. Returns its id.
    fn upsert_feed(&mut self, f: &NewFeed) -> Result<i64>;
    /// Adds a feed only if it is not there yet (never touches an existing row).
    fn ensure_feed(&mut self, url: &str) -> Result<i64>;
    /// Feed rows of files run through `ingest` (kept disabled); ids in the order given.
    fn ensure_ingest_feeds(&mut self, urls: &[String]) -> Result<Vec<i64>>;
    fn remove_feed(&mut self, id: i64) -> Result<bool>;
    /// Adds the (url, title) feeds that are not there yet; returns how many were added.
    fn import_feeds(&mut self, feeds: &[(String, Option<String>)]) -> Result<usize>;
    /// Enabled feeds whose poll time has come, at most `limit`, the longest due first: what this
    /// process can start polling now. On PostgreSQL they are leased to this process (no other
    /// daemon takes them until the lease expires or the commit moves their poll time).
    fn due_feeds(&mut self, now: i64, limit: usize) -> Result<Vec<Feed>>;
    /// How many enabled feeds are due at `now` (the scheduler's summary; leases nothing).
    fn due_count(&mut self, now: i64) -> Result<i64>;

    /// Records a fetch that produced no articles (an error, a 304, a disable) with its log row.
    fn record_fetch(&mut self, feed_id: i64, state: &FeedState, log: &FetchLog) -> Result<()>;
    /// Commits one fetch: dedup, store, match, outbox, feed state, fetch log, in ONE transaction.
    fn commit_fetch(&mut self, c: FetchCommit, policy: &MatchPolicy) -> Result<CommitOutcome>;
    /// Commits several fetches in one transaction (bulk `ingest`); each fetch stays whole.
    fn commit_batch(
        &mut self,
        batch: &[FetchCommit],
        policy: &MatchPolicy,
    ) -> Result<Vec<CommitOutcome>>;

    /// Up to `limit` pending pages due at `now`, leased until `now + lease_ms`.
    fn claim_due_pages(
        &mut self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<PendingPage>>;
    /// Stores an extracted page and the matches it newly makes, in one transaction.
    fn page_done(&mut self, page: &PageText, policy: &MatchPolicy) -> Result<PageOutcome>;
    /// Records a failed page attempt: pending until `retry_at`, else failed.
    fn page_failed(&mut self, id: i64, error: &str, retry_at: Option<i64>) -> Result<bool>;

    /// Pending outbox rows due at `now` for these sinks, oldest first.
    fn due_alerts(&mut self, now: i64, sinks: &[String], limit: usize) -> Result<Vec<DueRow>>;
    /// The earliest future attempt time of a pending row for these sinks.
    fn next_alert_after(&mut self, now: i64, sinks: &[String]) -> Result<Option<i64>>;
    /// Pending rows per sink that no configured sink will take.
    fn orphaned_alerts(&mut self, sinks: &[String]) -> Result<Vec<(String, i64)>>;
    fn digest_members(&mut self, digest_uid: &str) -> Result<Vec<DueRow>>;
    /// Groups the waiting rows of (topic, sink) into a digest once its window has closed.
    fn form_digest(&mut self, w: &DigestWindow, now: i64) -> Result<DigestStep>;
    /// Delivery times of (topic, sink) after `since` (a digest counts once), ascending.
    fn recent_deliveries(&mut self, topic: &str, sink: &str, since: i64) -> Result<Vec<i64>>;
    /// Moves the pending rows of a delivery (alert uid or digest uid) to `until`.
    fn postpone_alerts(&mut self, key: &str, until: i64) -> Result<usize>;
    /// Records one attempt for every row of a delivery; returns how many rows became failed.
    fn record_attempt(&mut self, a: &Attempt) -> Result<usize>;
    /// The alerts of these outbox rows (rows whose article is gone are left out).
    fn load_alerts(
        &mut self,
        ids: &[i64],
        severity_of: &dyn Fn(&str) -> Severity,
    ) -> Result<Vec<OutboxRow>>;
    /// `alerts retry KEY`: failed rows become pending, pending rows due now.
    fn retry_alerts(&mut self, key: &str, now: i64) -> Result<Vec<RetryResult>>;
    /// Hands back every lease this store holds (feeds, alerts) so that another daemon takes the
    /// work over at once: the daemon's last call at shutdown. SQLite has none.
    fn release_leases(&mut self) -> Result<()> {
        Ok(())
    }
    /// `alerts mark KEY`: marks the match of the alert KEY (row id or uid), replacing its mark;
    /// `via` is where the mark came from (`cli`, `web`). `None` when there is no such alert.
    fn mark_alert(&mut self, key: &str, mark: &NewMark) -> Result<Option<Marked>>;
}

/// The PostgreSQL URL a `--db` / `[store]` value names, if it names one (`postgres://` or
/// `postgresql://`); anything else is a SQLite file.
pub fn postgres_url(db: &Path) -> Option<&str> {
    db.to_str().filter(|s| pg::is_url(s))
}

/// SQL written with `?N` placeholders (what SQLite and PostgreSQL agree on, the store's shared
/// statements) as PostgreSQL writes them, `$N`. Public for the tests' own SQL on either backend.
pub fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// An open database: its backend behind one of the store's traits.
pub struct Handle<T: ?Sized> {
    inner: Box<T>,
}

/// The write side of the store, migrated. Used from one thread at a time.
pub type Store = Handle<dyn Write>;

/// The read side of the store: read-only, never migrates.
pub type Reader = Handle<dyn Read>;

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    /// `path` is a SQLite file, or a `postgres://` URL.
    pub fn open(path: &Path) -> Result<Store> {
        let inner: Box<dyn Write> = match postgres_url(path) {
            Some(url) => Box::new(pg::Pg::open_write(url)?),
            None => Box::new(sqlite::Sqlite::open_write(path)?),
        };
        Ok(Handle { inner })
    }
}

impl Reader {
    /// Opens an existing database read-only. Refuses a missing database, and one whose schema is
    /// older or newer than this binary's.
    pub fn open(path: &Path) -> Result<Reader> {
        let inner: Box<dyn Read> = match postgres_url(path) {
            Some(url) => Box::new(pg::Pg::open_read(url)?),
            None => Box::new(sqlite::Sqlite::open_read(path)?),
        };
        Ok(Handle { inner })
    }
}

impl<T: ?Sized> Deref for Handle<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for Handle<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}
