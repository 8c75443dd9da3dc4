//! The PostgreSQL backend, chosen by a `postgres://` URL (`--db` or `[store] url`). Synchronous
//! `postgres` client (tokio-postgres underneath, no TLS), one connection per `Store` or `Reader`:
//! the daemon's writer thread owns one, the HTTP server pools its readers, so the store's design
//! (one writer thread per process) is the same on both backends.
//!
//! Invariants:
//! - Migrations (`migrations/postgres/NNNN_*.sql`) are applied in order at open, each in its own
//!   transaction with its row in `newswatch_migrations` (any number without a row is applied, not
//!   only those above the highest), under a session advisory lock: daemons
//!   starting together migrate once. A newer schema is refused; a `Reader` never migrates.
//! - Several daemons share one database. Due feeds, due alerts and due pages are leased
//!   (`FOR UPDATE SKIP LOCKED`, lease time in the row, feeds and alerts with the holder's name):
//!   one daemon at a time works on each, a daemon stopping hands its leases back
//!   (`release_leases`), and the leases of a daemon that died expire and are taken over (at
//!   once by a store opened on the same machine, which sees that the holder's process is gone).
//! - The client is dropped on a thread of its own when an async runtime is current (`Owned`).
//! - Dedup is a database guarantee across daemons: `commit_fetch` takes transaction advisory locks
//!   on every key an item could collide on (identity, content hash, canonical link, MinHash probes)
//!   in one sorted order before deciding, so two daemons committing copies of one story at once are
//!   serialised and the second sees the first; unique keys back it (identity, match per topic,
//!   alert per sink); a deadlock or serialisation failure retries the whole commit.

mod commit;
mod marks;
mod outbox;
mod pages;
mod query;
mod websub;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use anyhow::Context;
use postgres::{Client, GenericClient, NoTls};

use super::feeds::{FEED_COLS, FetchLog, read as feed_read};
use super::migrate::{PG_MIGRATIONS, PG_SCHEMA_VERSION};
use super::sql::FromRow;
use super::{
    AlertRow, ArticleRow, Feed, FeedState, Label, LabelledArticle, Marked, MarkedMatch,
    MatchPolicy, MatchRow, NewFeed, Page, PageOutcome, Paging, Result,
};
use crate::util::now_ms;

/// How long a daemon holds a feed it took for a poll, an alert it took for delivery.
pub const LEASE_MS: i64 = 120_000;
/// Feeds one call of `due_feeds` takes at most, so that several daemons share a long due list.
const FEED_BATCH: i64 = 1000;
/// The session advisory lock key held while migrating.
const MIGRATE_LOCK: i64 = 0x6e77_6d69_6772; // "nwmigr"

/// Whether a `--db` / `[store]` value names a PostgreSQL database.
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// One PostgreSQL connection (a `RefCell`: reads take `&self`, the client wants `&mut`) and the
/// name its leases carry.
pub(crate) struct Pg {
    c: RefCell<Owned>,
    owner: String,
    /// The commit's prepared statements (`commit::Cached`), valid for this connection.
    stmts: HashMap<&'static str, postgres::Statement>,
}

/// A client that is dropped on a thread of its own: the synchronous client owns a runtime, and
/// dropping one inside an async context (a reader of the HTTP server, a store dropped by a task)
/// panics.
struct Owned(Option<Client>);

impl Deref for Owned {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0.as_ref().expect("the client lives until drop")
    }
}

impl DerefMut for Owned {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("the client lives until drop")
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(c) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(c));
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A name for this connection's leases: `host:pid:time:count`.
fn owner_name() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{}:{}:{}:{}",
        hostname(),
        std::process::id(),
        now_ms(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Whether a lease owner is a process of this machine that is gone (killed, crashed): its
/// leases need not wait for their expiry.
fn dead_here(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    host == hostname()
        && pid.parse::<u32>().is_ok_and(|p| {
            p != std::process::id() && !std::path::Path::new(&format!("/proc/{p}")).exists()
        })
}

/// Releases the leases held by processes of this machine that are gone: a daemon restarted after
/// a crash takes its predecessor's feeds and alerts at once, not after `LEASE_MS`.
fn release_dead_local(c: &mut Client) -> Result<()> {
    let owners: Vec<String> = c
        .query(
            "SELECT lease_owner FROM feeds WHERE lease_owner IS NOT NULL
             UNION SELECT lease_owner FROM alerts WHERE lease_owner IS NOT NULL",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .filter(|o: &String| dead_here(o))
        .collect();
    if owners.is_empty() {
        return Ok(());
    }
    tracing::info!(
        owners = owners.len(),
        "released the leases of stopped daemons on this machine"
    );
    let mut tx = c.transaction()?;
    tx.execute(
        "UPDATE feeds SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = ANY($1)",
        &[&owners],
    )?;
    tx.execute(
        "UPDATE alerts SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = ANY($1)",
        &[&owners],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) use super::postgres_placeholders as dollars;

fn connect(url: &str) -> Result<Client> {
    Client::connect(url, NoTls).with_context(|| format!("cannot connect to {}", redact(url)))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl Pg {
    pub(in crate::store) fn open_write(url: &str) -> Result<Pg> {
        let mut c = connect(url)?;
        migrate(&mut c).with_context(|| format!("database {}", redact(url)))?;
        release_dead_local(&mut c)?;
        Ok(Pg::new(c))
    }

    pub(in crate::store) fn open_read(url: &str) -> Result<Pg> {
        let mut c = connect(url)?;
        c.batch_execute("SET default_transaction_read_only = on")?;
        let v = schema_version(&mut c)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no newswatch schema in {} (run `newswatch poll` or `newswatch run` first)",
                redact(url)
            )
        })?;
        super::sqlite::check_version(&redact(url), v, PG_SCHEMA_VERSION)?;
        Ok(Pg::new(c))
    }

    fn new(c: Client) -> Pg {
        Pg {
            c: RefCell::new(Owned(Some(c))),
            owner: owner_name(),
            stmts: HashMap::new(),
        }
    }

    fn c(&self) -> std::cell::RefMut<'_, Client> {
        std::cell::RefMut::map(self.c.borrow_mut(), |c| &mut **c)
    }

    fn cm(&mut self) -> &mut Client {
        self.c.get_mut()
    }
}

fn schema_version(c: &mut Client) -> Result<Option<i64>> {
    let exists: bool = c
        .query_one(
            "SELECT to_regclass('newswatch_migrations') IS NOT NULL",
            &[],
        )?
        .get(0);
    if !exists {
        return Ok(None);
    }
    Ok(Some(
        c.query_one(
            "SELECT coalesce(max(version), 0) FROM newswatch_migrations",
            &[],
        )?
        .get(0),
    ))
}

/// Applies pending migrations under a session advisory lock, each in its own transaction.
fn migrate(c: &mut Client) -> Result<()> {
    c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])?;
    let out = migrate_locked(c);
    let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK]);
    out
}

fn migrate_locked(c: &mut Client) -> Result<()> {
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS newswatch_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )?;
    let current = schema_version(c)?.unwrap_or(0);
    if current > PG_SCHEMA_VERSION {
        anyhow::bail!(
            "schema version {current} is newer than this newswatch supports ({PG_SCHEMA_VERSION}); refusing to open it (use a newer binary)"
        );
    }
    // Every migration not recorded yet, in order (not only those above the highest recorded: a
    // database that got a later number first, from a branch merged earlier, still gets the rest).
    let applied: std::collections::HashSet<i64> = c
        .query("SELECT version FROM newswatch_migrations", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for &(version, name, sql) in PG_MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        let mut tx = c.transaction()?;
        tx.batch_execute(sql)
            .map_err(|e| anyhow::anyhow!("migration {name} failed: {e}"))?;
        tx.execute(
            "INSERT INTO newswatch_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&version, &name, &now_ms()],
        )?;
        tx.commit()?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}

fn feed_id_of(c: &mut impl GenericClient, url: &str) -> Result<i64> {
    Ok(c.query_one("SELECT id FROM feeds WHERE url = $1", &[&url])?
        .get(0))
}

impl Pg {
    fn upsert_feed(&mut self, f: &NewFeed) -> Result<i64> {
        let c = self.cm();
        c.execute(
            "INSERT INTO feeds (url, name, fixed_interval_ms, full_text, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (url) DO UPDATE SET name = coalesce(excluded.name, feeds.name),
                 fixed_interval_ms = excluded.fixed_interval_ms, full_text = excluded.full_text",
            &[&f.url, &f.name, &f.fixed_interval_ms, &f.full_text, &now_ms()],
        )?;
        feed_id_of(c, &f.url)
    }

    fn ensure_feed(&mut self, url: &str) -> Result<i64> {
        let c = self.cm();
        c.execute(
            "INSERT INTO feeds (url, created_at) VALUES ($1, $2) ON CONFLICT (url) DO NOTHING",
            &[&url, &now_ms()],
        )?;
        feed_id_of(c, url)
    }

    /// All files in two statements (one round trip per file was most of an ingest's feed
    /// setup), added in their order.
    fn ensure_ingest_feeds(&mut self, urls: &[String]) -> Result<Vec<i64>> {
        let mut tx = self.cm().transaction()?;
        tx.execute(
            "INSERT INTO feeds (url, enabled, disabled_reason, created_at)
             SELECT url, FALSE, 'ingested from a local file', $2
                 FROM unnest($1::text[]) WITH ORDINALITY AS u(url, n) ORDER BY n
             ON CONFLICT (url) DO NOTHING",
            &[&urls, &now_ms()],
        )?;
        let rows = tx.query("SELECT url, id FROM feeds WHERE url = ANY($1)", &[&urls])?;
        tx.commit()?;
        let ids: HashMap<&str, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        urls.iter()
            .map(|u| {
                let id = ids.get(u.as_str());
                id.copied()
                    .ok_or_else(|| anyhow::anyhow!("feed {u} not stored"))
            })
            .collect()
    }

    fn import_feeds(&mut self, feeds: &[(String, Option<String>)]) -> Result<usize> {
        let mut tx = self.cm().transaction()?;
        let st = tx.prepare(
            "INSERT INTO feeds (url, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (url) DO NOTHING",
        )?;
        let now = now_ms();
        let mut added = 0;
        for (url, title) in feeds {
            added += tx.execute(&st, &[url, title, &now])? as usize;
        }
        tx.commit()?;
        Ok(added)
    }

    /// Leases up to `limit` (at most `FEED_BATCH`) due feeds that no live daemon holds.
    fn due_feeds(&mut self, now: i64, limit: usize) -> Result<Vec<Feed>> {
        let limit = (limit as i64).min(FEED_BATCH);
        let owner = self.owner.clone();
        let rows = self.cm().query(
            &format!(
                "UPDATE feeds SET lease_until = $2, lease_owner = $4 WHERE id IN (
                     SELECT id FROM feeds
                     WHERE enabled AND next_poll_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                     ORDER BY next_poll_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING {FEED_COLS}"
            ),
            &[&now, &(now + LEASE_MS), &limit, &owner],
        )?;
        let mut feeds = rows
            .iter()
            .map(Feed::from_row)
            .collect::<Result<Vec<_>>>()?;
        feeds.sort_by_key(|f| (f.next_poll_at, f.id));
        Ok(feeds)
    }

    fn record_fetch(&mut self, feed_id: i64, state: &FeedState, log: &FetchLog) -> Result<()> {
        let Pg { c, stmts, .. } = self;
        let mut tx = c.get_mut().transaction()?;
        let mut cached = commit::Cached { tx: &mut tx, stmts };
        apply_state(&mut cached, feed_id, state, false)?;
        insert_log(&mut cached, feed_id, log, &super::CommitOutcome::default())?;
        tx.commit()?;
        Ok(())
    }
}

/// The feed's state after a fetch; releases the feed's lease.
fn apply_state(
    c: &mut impl commit::Query,
    feed_id: i64,
    s: &FeedState,
    got_new: bool,
) -> Result<()> {
    let now = now_ms();
    let (interval_ms, next_poll_at) = match s.if_new {
        Some((i, n)) if got_new => (Some(i), n),
        _ => (s.interval_ms, s.next_poll_at),
    };
    if let Some(url) = &s.new_url {
        c.exec(
            "UPDATE feeds SET url = $1 WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM feeds WHERE url = $1 AND id <> $2)",
            &[url, &feed_id],
        )?;
    }
    let ok = s.error.is_none();
    c.exec(
        "UPDATE feeds SET
            title = coalesce($2, title), site_url = coalesce($3, site_url), lang = coalesce($4, lang),
            etag = CASE WHEN $10 THEN coalesce($5, etag) ELSE etag END,
            last_modified = CASE WHEN $10 THEN coalesce($6, last_modified) ELSE last_modified END,
            interval_ms = coalesce($7, interval_ms), min_interval_ms = coalesce($8, min_interval_ms),
            next_poll_at = $9, last_polled_at = $12,
            last_success_at = CASE WHEN $10 THEN $12 ELSE last_success_at END,
            error_count = CASE WHEN $10 THEN 0 ELSE error_count + 1 END,
            last_error = $11,
            last_new_at = CASE WHEN $13 THEN $12 ELSE last_new_at END,
            enabled = CASE WHEN $14::text IS NULL THEN enabled ELSE FALSE END,
            disabled_reason = coalesce($14, disabled_reason),
            lease_until = NULL, lease_owner = NULL
         WHERE id = $1",
        &[
            &feed_id,
            &s.title,
            &s.site_url,
            &s.lang,
            &s.etag,
            &s.last_modified,
            &interval_ms,
            &s.min_interval_ms,
            &next_poll_at,
            &ok,
            &s.error,
            &now,
            &got_new,
            &s.disable,
        ],
    )?;
    Ok(())
}

fn insert_log(
    c: &mut impl commit::Query,
    feed_id: i64,
    l: &FetchLog,
    out: &super::CommitOutcome,
) -> Result<()> {
    c.exec(
        "INSERT INTO fetch_log (feed_id, url, at, status, bytes, new_items, updated_items, duplicates, duration_ms, error, push)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &feed_id,
            &l.url,
            &l.at,
            &l.status.map(i64::from),
            &(l.bytes as i64),
            &i64::from(out.new),
            &i64::from(out.updated),
            &i64::from(out.duplicates),
            &l.duration_ms,
            &l.error,
            &i64::from(l.push),
        ],
    )?;
    Ok(())
}

impl super::Read for Pg {
    fn alert_labels(&self, alert_ids: &[i64]) -> Result<HashMap<i64, Label>> {
        super::feedback::labels_of_alerts(self, alert_ids)
    }
    fn article_alert_marks(&self, article_id: i64) -> Result<HashMap<i64, (i64, Option<Label>)>> {
        super::feedback::alerts_of_article(self, article_id)
    }
    fn marked_matches(&self, topic: &str, since_ms: Option<i64>) -> Result<Vec<MarkedMatch>> {
        super::feedback::marked_matches(self, topic, since_ms)
    }
    fn labelled_articles(&self) -> Result<Vec<LabelledArticle>> {
        super::feedback::labelled_articles(self)
    }
    fn marked_topics(&self) -> Result<Vec<String>> {
        super::feedback::marked_topics(self)
    }
    fn feeds(&self) -> Result<Vec<Feed>> {
        feed_read::all(self)
    }
    fn feed(&self, id: i64) -> Result<Option<Feed>> {
        feed_read::by_id(self, id)
    }
    fn enabled_feeds_after(&self, after_id: i64, limit: usize) -> Result<Vec<Feed>> {
        feed_read::enabled_after(self, after_id, limit)
    }
    fn find_feed(&self, key: &str) -> Result<Option<Feed>> {
        feed_read::find(self, key)
    }
    fn article_counts(&self) -> Result<HashMap<i64, i64>> {
        feed_read::article_counts(self)
    }
    fn feed_names(&self) -> Result<HashMap<i64, String>> {
        feed_read::names(self)
    }
    fn search(&self, q: &str, f: &super::SearchFilter) -> Result<Vec<super::Hit>> {
        Pg::search(self, q, f)
    }
    fn list_articles(&self, f: &super::ArticleFilter, at: Paging) -> Result<Page<ArticleRow>> {
        super::query::list_articles(self, f, at)
    }
    fn article(&self, id: i64) -> Result<Option<super::ArticleDetail>> {
        super::query::article(self, id)
    }
    fn list_matches(&self, f: &super::MatchFilter, at: Paging) -> Result<Page<MatchRow>> {
        super::query::list_matches(self, f, at)
    }
    fn list_alerts(&self, f: &super::AlertFilter, at: Paging) -> Result<Page<AlertRow>> {
        super::query::list_alerts(self, f, at)
    }
    fn topic_stats(&self) -> Result<Vec<super::TopicStats>> {
        super::query::topic_stats(self)
    }
    fn topic_entries(&self, topic: &str, limit: i64) -> Result<Vec<super::TopicEntry>> {
        super::query::topic_entries(self, topic, limit)
    }
    fn metrics(&self, now_ms: i64) -> Result<super::StoreMetrics> {
        super::query::store_metrics(self, now_ms)
    }
    fn articles_since(&self, since_ms: i64) -> Result<Vec<super::BacktestRow>> {
        super::query::articles_since(self, since_ms)
    }
    fn ping(&self) -> Result<()> {
        self.c().query_one("SELECT 1", &[])?;
        Ok(())
    }
    fn report_hits(
        &self,
        since: i64,
        until: i64,
        topic: Option<&str>,
    ) -> Result<Vec<super::ReportHit>> {
        Pg::report_hits(self, since, until, topic)
    }
    fn report_counts(
        &self,
        since: i64,
        until: i64,
        by: super::CountBy,
    ) -> Result<Vec<(super::GroupKey, i64)>> {
        Pg::report_counts(self, since, until, by)
    }
    fn report_story(&self, article_id: i64, topic: &str) -> Result<Option<super::StoryRow>> {
        super::report::story(self, article_id, topic)
    }
    fn outbox_rows(
        &self,
        q: &super::OutboxQuery,
        severity_of: &dyn Fn(&str) -> crate::topics::Severity,
    ) -> Result<Vec<super::OutboxRow>> {
        super::outbox::rows(self, q, severity_of)
    }
    fn near_duplicates(
        &self,
        fingerprint: &crate::dedup::Fingerprint,
        since: i64,
    ) -> Result<Vec<(i64, u32)>> {
        commit::near_candidates(&mut *self.c(), fingerprint, since)
    }
}

impl super::Write for Pg {
    fn upsert_feed(&mut self, f: &NewFeed) -> Result<i64> {
        Pg::upsert_feed(self, f)
    }
    fn ensure_feed(&mut self, url: &str) -> Result<i64> {
        Pg::ensure_feed(self, url)
    }
    fn ensure_ingest_feeds(&mut self, urls: &[String]) -> Result<Vec<i64>> {
        Pg::ensure_ingest_feeds(self, urls)
    }
    fn remove_feed(&mut self, id: i64) -> Result<bool> {
        Ok(self
            .cm()
            .execute("DELETE FROM feeds WHERE id = $1", &[&id])?
            > 0)
    }
    fn import_feeds(&mut self, feeds: &[(String, Option<String>)]) -> Result<usize> {
        Pg::import_feeds(self, feeds)
    }
    fn due_feeds(&mut self, now: i64, limit: usize) -> Result<Vec<Feed>> {
        Pg::due_feeds(self, now, limit)
    }
    fn due_count(&mut self, now: i64) -> Result<i64> {
        Ok(self
            .cm()
            .query_one(
                "SELECT count(*) FROM feeds WHERE enabled AND next_poll_at <= $1",
                &[&now],
            )?
            .get(0))
    }
    fn mark_alert(&mut self, key: &str, mark: &super::NewMark) -> Result<Option<Marked>> {
        self.mark(key, mark)
    }
    fn release_leases(&mut self) -> Result<()> {
        let owner = self.owner.clone();
        let mut tx = self.cm().transaction()?;
        tx.execute(
            "UPDATE feeds SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = $1",
            &[&owner],
        )?;
        tx.execute(
            "UPDATE alerts SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = $1",
            &[&owner],
        )?;
        tx.commit()?;
        Ok(())
    }
    fn record_fetch(&mut self, feed_id: i64, state: &FeedState, log: &FetchLog) -> Result<()> {
        Pg::record_fetch(self, feed_id, state, log)
    }
    fn commit_fetch(
        &mut self,
        c: super::FetchCommit,
        policy: &super::MatchPolicy,
    ) -> Result<super::CommitOutcome> {
        Ok(self
            .commit_all(std::slice::from_ref(&c), policy)?
            .pop()
            .unwrap_or_default())
    }
    fn commit_batch(
        &mut self,
        batch: &[super::FetchCommit],
        policy: &super::MatchPolicy,
    ) -> Result<Vec<super::CommitOutcome>> {
        self.commit_all(batch, policy)
    }
    fn claim_due_pages(
        &mut self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<super::PendingPage>> {
        self.claim_pages(now, limit, lease_ms)
    }
    fn page_done(&mut self, p: &super::PageText, policy: &MatchPolicy) -> Result<PageOutcome> {
        self.store_page(p.id, p.title, p.text, policy)
    }
    fn page_failed(&mut self, id: i64, error: &str, retry_at: Option<i64>) -> Result<bool> {
        self.fail_page(id, error, retry_at)
    }
    fn due_alerts(
        &mut self,
        now: i64,
        sinks: &[String],
        limit: usize,
    ) -> Result<Vec<super::DueRow>> {
        Pg::due_alerts(self, now, sinks, limit)
    }
    fn next_alert_after(&mut self, now: i64, sinks: &[String]) -> Result<Option<i64>> {
        Pg::next_alert_after(self, now, sinks)
    }
    fn orphaned_alerts(&mut self, sinks: &[String]) -> Result<Vec<(String, i64)>> {
        Pg::orphaned_alerts(self, sinks)
    }
    fn digest_members(&mut self, digest_uid: &str) -> Result<Vec<super::DueRow>> {
        Pg::digest_members(self, digest_uid)
    }
    fn form_digest(&mut self, w: &super::DigestWindow, now: i64) -> Result<super::DigestStep> {
        Pg::form_digest(self, w, now)
    }
    fn recent_deliveries(&mut self, topic: &str, sink: &str, since: i64) -> Result<Vec<i64>> {
        super::outbox::recent_deliveries(self, topic, sink, since)
    }
    fn postpone_alerts(&mut self, key: &str, until: i64) -> Result<usize> {
        Pg::postpone_alerts(self, key, until)
    }
    fn record_attempt(&mut self, a: &super::Attempt) -> Result<usize> {
        Pg::record_attempt(self, a)
    }
    fn load_alerts(
        &mut self,
        ids: &[i64],
        severity_of: &dyn Fn(&str) -> crate::topics::Severity,
    ) -> Result<Vec<super::OutboxRow>> {
        Pg::load_alerts(self, ids, severity_of)
    }
    fn retry_alerts(&mut self, key: &str, now: i64) -> Result<Vec<super::RetryResult>> {
        Pg::retry_alerts(self, key, now)
    }
}
