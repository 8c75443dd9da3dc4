//! Committing a fetch on PostgreSQL: the same decisions as `store::articles` (an item seen before,
//! as an article or a sighting → unchanged/updated; same canonical link or content hash → exact
//! sighting; a MinHash candidate that passes `dedup::Verdict` → near sighting; else new), made safe
//! across daemons by advisory
//! locks taken, in one sorted order, on every key an item could collide on before anything is
//! decided. Full-text pages: claimed with `FOR UPDATE SKIP LOCKED` and a lease.

use std::collections::HashMap;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Row, Statement, Transaction};

use super::super::articles::{Item, ItemWrites, Seen, alert_uid, decide};
use super::super::{
    CommitOutcome, FetchCommit, ItemOutcome, MatchPolicy, PageOutcome, PendingPage, Result,
    matching_text,
};
use super::{Pg, apply_state, insert_log};
use crate::dedup;
use crate::dedup::specific_link;
use crate::model::Article;
use crate::util::now_ms;

/// Attempts of a commit that lost a deadlock or a serialisation race.
const ATTEMPTS: usize = 5;
/// Every commit holds this advisory key, shared; one with more item keys than `MAX_KEY_LOCKS` (a
/// bulk ingest batch) holds it exclusively instead of locking each key, since PostgreSQL's lock
/// table (`max_locks_per_transaction` × connections, 6,400 by default) runs out.
const COMMIT_LOCK: i64 = 0x6e77_636f_6d6d; // "nwcomm"
const MAX_KEY_LOCKS: usize = 1000;

fn lock_key(kind: &str, v: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(format!("{kind}\u{0}{v}").as_bytes()) as i64
}

/// The keys a new item could collide on with a concurrent commit of another daemon.
fn lock_keys(feed_id: i64, a: &Article, keys: &mut Vec<i64>) {
    keys.push(lock_key("i", &dedup::identity_key(feed_id, a)));
    keys.push(lock_key("h", &a.content_hash));
    if let Some(l) = &a.canonical_link
        && specific_link(l)
    {
        keys.push(lock_key("l", l));
    }
    // Every MinHash value the item probes with: a copy found through a key shares that value.
    if a.fingerprint.words >= dedup::SHORT_DUP_MIN_WORDS {
        for i in 0..dedup::BANDS {
            for v in a.fingerprint.probes(i) {
                keys.push(lock_key("b", &format!("{i}:{v}")));
            }
        }
    }
}

fn retryable(e: &anyhow::Error) -> bool {
    e.downcast_ref::<postgres::Error>()
        .and_then(|e| e.code())
        .is_some_and(|c| {
            *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
        })
}

/// A transaction that prepares each statement once per connection (`Pg::stmts`) instead of once
/// per call: a statement given as text costs a parse round trip before every execution, and the
/// commit runs several per item.
pub(super) struct Cached<'a, 't> {
    pub(super) tx: &'a mut Transaction<'t>,
    pub(super) stmts: &'a mut HashMap<&'static str, Statement>,
}

type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Cached<'_, '_> {
    fn st(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.stmts.insert(sql, s.clone());
        Ok(s)
    }
    fn query_opt(&mut self, sql: &'static str, p: &Params) -> Result<Option<Row>> {
        let s = self.st(sql)?;
        Ok(self.tx.query_opt(&s, p)?)
    }
    fn query_one(&mut self, sql: &'static str, p: &Params) -> Result<Row> {
        let s = self.st(sql)?;
        Ok(self.tx.query_one(&s, p)?)
    }
    fn execute(&mut self, sql: &'static str, p: &Params) -> Result<u64> {
        let s = self.st(sql)?;
        Ok(self.tx.execute(&s, p)?)
    }
}

/// Where a query runs: a plain client (each call parses its text) or a `Cached` transaction.
pub(super) trait Query {
    fn rows(&mut self, sql: &'static str, p: &Params) -> Result<Vec<Row>>;
}

impl Query for postgres::Client {
    fn rows(&mut self, sql: &'static str, p: &Params) -> Result<Vec<Row>> {
        Ok(self.query(sql, p)?)
    }
}

impl Query for Cached<'_, '_> {
    fn rows(&mut self, sql: &'static str, p: &Params) -> Result<Vec<Row>> {
        let s = self.st(sql)?;
        Ok(self.tx.query(&s, p)?)
    }
}

impl Pg {
    pub(super) fn commit_all(
        &mut self,
        batch: &[FetchCommit],
        policy: &MatchPolicy,
    ) -> Result<Vec<CommitOutcome>> {
        let mut tries = 0;
        loop {
            tries += 1;
            let Pg { c, stmts, .. } = &mut *self;
            let mut tx = c.get_mut().transaction()?;
            let mut keys = Vec::new();
            for c in batch {
                for a in &c.articles {
                    lock_keys(c.feed_id, a, &mut keys);
                }
            }
            keys.sort_unstable();
            keys.dedup();
            let run = (|| {
                if keys.len() > MAX_KEY_LOCKS {
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&COMMIT_LOCK])?;
                } else {
                    tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&COMMIT_LOCK])?;
                    tx.execute(
                        "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY 1) s",
                        &[&keys],
                    )?;
                }
                // Every lookup of the commit is an index seek. The statements are prepared once
                // per connection, and a generic plan made while the table was small (a bulk
                // ingest into a new database, inside one transaction) scans it: one scan per
                // lookup, the ingest quadratic in its size.
                tx.batch_execute("SET LOCAL enable_seqscan = off")?;
                let mut tx = Cached { tx: &mut tx, stmts };
                let outs = batch
                    .iter()
                    .map(|c| commit_in(&mut tx, c, policy))
                    .collect::<Result<Vec<_>>>()?;
                Ok::<_, anyhow::Error>(outs)
            })();
            match run.and_then(|o| tx.commit().map(|_| o).map_err(Into::into)) {
                Ok(o) => return Ok(o),
                Err(e) if tries < ATTEMPTS && retryable(&e) => {
                    tracing::debug!(error = %e, "commit retried");
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn commit_in(tx: &mut Cached, c: &FetchCommit, policy: &MatchPolicy) -> Result<CommitOutcome> {
    let mut out = CommitOutcome::default();
    let now = now_ms();
    for a in &c.articles {
        let item = store_article(tx, c.feed_id, a, policy, now, &mut out)?;
        out.record(item);
    }
    apply_state(tx.tx, c.feed_id, &c.state, out.new > 0)?;
    insert_log(tx.tx, c.feed_id, &c.log, &out)?;
    Ok(out)
}

fn store_article(
    tx: &mut Cached,
    feed_id: i64,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
    out: &mut CommitOutcome,
) -> Result<ItemOutcome> {
    let identity = dedup::identity_key(feed_id, a);
    // An item seen before, as an article or as a sighting; else the same story under another
    // identity: the first article with the same canonical link, else with the same content. One
    // round trip, the first of these in this order.
    let link = a.canonical_link.as_deref().filter(|l| specific_link(l));
    let found = tx.query_opt(
        "SELECT 0 AS k, id, content_hash FROM articles WHERE identity = $1
         UNION ALL SELECT 1, article_id, NULL FROM sightings WHERE item = $1
         UNION ALL (SELECT 2, id, NULL FROM articles WHERE canonical_link = $2 ORDER BY id LIMIT 1)
         UNION ALL (SELECT 3, id, NULL FROM articles WHERE content_hash = $3 ORDER BY id LIMIT 1)
         ORDER BY k LIMIT 1",
        &[&identity, &link, &a.content_hash],
    )?;
    let seen = match found.map(|r| (r.get::<_, i32>(0), r.get(1), r.get(2))) {
        Some((k, id, _)) if k >= 2 => Seen::Exact(id),
        Some((_, id, Some(hash))) => Seen::Article(id, hash),
        Some((_, id, None)) => Seen::Sighting(id),
        // A near-duplicate within the window: MinHash candidates, verified on the two texts.
        None => Seen::near_or_new(near_duplicate(tx, a, now - policy.window_ms)?),
    };
    let it = Item {
        feed_id,
        identity: &identity,
        a,
        now,
    };
    decide(tx, seen, &it, policy, out)
}

/// The PostgreSQL writes of one item's decision.
impl ItemWrites for Cached<'_, '_> {
    fn update_article(&mut self, it: &Item, id: i64) -> Result<()> {
        let Item { a, now, .. } = *it;
        let b = a.fingerprint.bands();
        let published = a.published_at.map(|d| d.timestamp_millis());
        self.execute(
            "UPDATE articles SET link = $2, canonical_link = $3, title = $4, text = $5, html = $6, lang = $7,
                published_at = coalesce($8, published_at), updated_at = $9, content_hash = $10, simhash = $11,
                band0 = $12, band1 = $13, band2 = $14, band3 = $15
             WHERE id = $1",
            &[
                &id, &a.link, &a.canonical_link, &a.title, &a.text, &a.html, &a.lang, &published,
                &now, &a.content_hash, &b[0], &b[0], &b[1], &b[2], &b[3],
            ],
        )?;
        Ok(())
    }

    fn add_sighting(&mut self, it: &Item, orig: i64, kind: &str, d: Option<i64>) -> Result<()> {
        let Item {
            feed_id,
            identity,
            a,
            now,
        } = *it;
        // A new feed carrying the story raises its source count, when the sighting is recorded
        // (its item is not): decided before the insert, in the same statement that raises it.
        self.execute(
            "UPDATE articles SET sources = sources + 1 WHERE id = $1 AND feed_id IS DISTINCT FROM $2
                 AND NOT EXISTS(SELECT 1 FROM sightings WHERE article_id = $1 AND feed_id = $2)
                 AND NOT EXISTS(SELECT 1 FROM sightings WHERE item = $3)",
            &[&orig, &feed_id, &identity],
        )?;
        self.execute(
            "INSERT INTO sightings (article_id, feed_id, item, link, title, kind, distance, seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[&orig, &feed_id, &identity, &a.link, &a.title, &kind, &d, &now],
        )?;
        Ok(())
    }

    /// The identity lock makes a conflict impossible; ON CONFLICT keeps it a no-op anyway.
    fn insert_article(
        &mut self,
        it: &Item,
        p: &MatchPolicy,
    ) -> Result<std::result::Result<i64, i64>> {
        let Item {
            feed_id,
            identity,
            a,
            now,
        } = *it;
        let b = a.fingerprint.bands();
        let published = a.published_at.map(|d| d.timestamp_millis());
        let page_status = p.full_text.then_some("pending");
        let page_next = page_status.map(|_| now);
        if let Some(r) = self.query_opt(
            "INSERT INTO articles (feed_id, identity, guid, link, canonical_link, title, text, html, lang, published_at,
                 fetched_at, content_hash, simhash, band0, band1, band2, band3, page_status, page_next_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             ON CONFLICT (identity) DO NOTHING RETURNING id",
            &[
                &feed_id, &identity, &a.guid, &a.link, &a.canonical_link, &a.title, &a.text, &a.html,
                &a.lang, &published, &now, &a.content_hash, &b[0], &b[0], &b[1], &b[2],
                &b[3], &page_status, &page_next,
            ],
        )? {
            return Ok(Ok(r.get(0)));
        }
        let r = self.query_one("SELECT id FROM articles WHERE identity = $1", &[&identity])?;
        Ok(Err(r.get(0)))
    }

    fn insert_matches(
        &mut self,
        it: &Item,
        id: i64,
        p: &MatchPolicy,
        out: &mut CommitOutcome,
    ) -> Result<Vec<String>> {
        insert_matches(self, id, it.identity, it.a, p, it.now, out)
    }
}

/// Candidates verified per item, most shared keys first (as on SQLite).
const MAX_VERIFIED: i64 = 6;

/// The stored article, fetched after `since`, that the article is a near-duplicate of: the best
/// candidate sharing a MinHash key that passes `dedup::Verdict`. The candidates and their texts
/// come in one round trip; the article's core is built once.
fn near_duplicate(
    tx: &mut Cached,
    a: &Article,
    since: i64,
) -> Result<Option<(i64, dedup::Verdict)>> {
    let words = a.fingerprint.words;
    if words < dedup::SHORT_DUP_MIN_WORDS {
        return Ok(None);
    }
    let rows = candidates(tx, &a.fingerprint, since, Some(MAX_VERIFIED), true)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let core = dedup::Core::of(&a.text);
    let mut best: Option<(i64, dedup::Verdict)> = None;
    for r in &rows {
        let id: i64 = r.get(0);
        let v = dedup::Verdict::of(&core, &dedup::Core::of(r.get::<_, &str>(2)));
        if v.same_story(words) && best.is_none_or(|(_, b)| v.score() > b.score()) {
            best = Some((id, v));
        }
    }
    Ok(best)
}

/// Stored articles fetched after `since` sharing at least one MinHash key with the fingerprint
/// (each key column probed with that function's smallest values), with how many they share: most
/// first, then oldest first.
pub(super) fn near_candidates(
    c: &mut impl Query,
    f: &dedup::Fingerprint,
    since: i64,
) -> Result<Vec<(i64, u32)>> {
    let rows = candidates(c, f, since, None, false)?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u32))
        .collect())
}

/// The candidates as rows (id, shared keys, text when `texts`), in `near_candidates`' order, at
/// most `limit`: counted and cut by the server, so a text sharing keys with thousands of stored
/// ones costs one round trip.
fn candidates(
    c: &mut impl Query,
    f: &dedup::Fingerprint,
    since: i64,
    limit: Option<i64>,
    texts: bool,
) -> Result<Vec<Row>> {
    let probes: Vec<Vec<i64>> = (0..dedup::BANDS).map(|i| f.probes(i).collect()).collect();
    c.rows(
        "WITH c AS (
             SELECT id FROM articles WHERE band0 = ANY($1) AND fetched_at >= $5
             UNION ALL SELECT id FROM articles WHERE band1 = ANY($2) AND fetched_at >= $5
             UNION ALL SELECT id FROM articles WHERE band2 = ANY($3) AND fetched_at >= $5
             UNION ALL SELECT id FROM articles WHERE band3 = ANY($4) AND fetched_at >= $5),
         t AS (SELECT id, count(*) AS n FROM c GROUP BY id ORDER BY n DESC, id LIMIT $6)
         SELECT t.id, t.n, CASE WHEN $7 THEN a.text END FROM t JOIN articles a ON a.id = t.id
         ORDER BY t.n DESC, t.id",
        &[
            &probes[0], &probes[1], &probes[2], &probes[3], &since, &limit, &texts,
        ],
    )
}

/// Matches the article and stores the matches it did not have yet, with one outbox row per sink.
fn insert_matches(
    tx: &mut Cached,
    article_id: i64,
    identity: &str,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
    out: &mut CommitOutcome,
) -> Result<Vec<String>> {
    let mut topics = Vec::new();
    for m in (policy.matcher)(a) {
        let terms = serde_json::to_string(&m.terms)?;
        let Some(r) = tx.query_opt(
            "INSERT INTO matches (article_id, topic, terms, snippet, matched_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING RETURNING id",
            &[&article_id, &m.topic, &terms, &m.snippet, &now],
        )?
        else {
            continue; // matched this topic before: no second alert
        };
        let match_id: i64 = r.get(0);
        for sink in (policy.sinks_for)(&m.topic) {
            let uid = alert_uid(identity, &m.topic, &sink);
            out.alerts += tx.execute(
                "INSERT INTO alerts (uid, match_id, topic, sink, status, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $5) ON CONFLICT DO NOTHING",
                &[&uid, &match_id, &m.topic, &sink, &now],
            )? as u32;
        }
        topics.push(m.topic);
    }
    Ok(topics)
}

impl Pg {
    pub(super) fn claim_pages(
        &mut self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<PendingPage>> {
        let mut tx = self.cm().transaction()?;
        tx.execute(
            "UPDATE articles SET page_status = 'failed', page_error = 'the article has no link'
             WHERE page_status = 'pending' AND page_next_at <= $1 AND coalesce(link, canonical_link) IS NULL",
            &[&now],
        )?;
        let rows = tx.query(
            "UPDATE articles SET page_next_at = $2 WHERE id IN (
                 SELECT id FROM articles WHERE page_status = 'pending' AND page_next_at <= $1
                 ORDER BY page_next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, feed_id, coalesce(link, canonical_link), page_attempts",
            &[&now, &(now + lease_ms), &(limit as i64)],
        )?;
        tx.commit()?;
        let mut pages: Vec<PendingPage> = rows
            .iter()
            .map(|r| PendingPage {
                id: r.get(0),
                feed_id: r.get(1),
                link: r.get(2),
                attempts: r.get::<_, i64>(3) as u32,
            })
            .collect();
        pages.sort_by_key(|p| p.id);
        Ok(pages)
    }

    pub(super) fn store_page(
        &mut self,
        id: i64,
        page_title: Option<&str>,
        page_text: &str,
        policy: &MatchPolicy,
    ) -> Result<PageOutcome> {
        let now = now_ms();
        let Pg { c, stmts, .. } = &mut *self;
        let mut tx = c.get_mut().transaction()?;
        let Some(r) = tx.query_opt(
            "UPDATE articles SET page_title = $2, page_text = $3, page_status = 'done', page_error = NULL,
                 page_attempts = page_attempts + 1, page_next_at = NULL
             WHERE id = $1 AND page_status = 'pending'
             RETURNING identity, guid, link, canonical_link, title, text, lang, content_hash",
            &[&id, &page_title, &page_text],
        )?
        else {
            return Ok(PageOutcome::default());
        };
        let identity: String = r.get(0);
        let feed_text: String = r.get(5);
        let article = Article {
            guid: r.get(1),
            link: r.get(2),
            canonical_link: r.get(3),
            title: r.get(4),
            text: matching_text(&feed_text, page_text),
            lang: r.get(6),
            content_hash: r.get(7),
            ..Default::default()
        };
        let mut commit = CommitOutcome::default();
        let mut cached = Cached { tx: &mut tx, stmts };
        let topics = insert_matches(
            &mut cached,
            id,
            &identity,
            &article,
            policy,
            now,
            &mut commit,
        )?;
        tx.commit()?;
        Ok(PageOutcome {
            stored: true,
            topics,
            alerts: commit.alerts,
        })
    }

    pub(super) fn fail_page(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<bool> {
        let c = self.cm();
        let n = match retry_at {
            Some(at) => c.execute(
                "UPDATE articles SET page_attempts = page_attempts + 1, page_next_at = $3, page_error = $2
                 WHERE id = $1 AND page_status = 'pending'",
                &[&id, &error, &at],
            )?,
            None => c.execute(
                "UPDATE articles SET page_attempts = page_attempts + 1, page_next_at = NULL, page_error = $2,
                     page_status = 'failed'
                 WHERE id = $1 AND page_status = 'pending'",
                &[&id, &error],
            )?,
        };
        Ok(n > 0)
    }
}
