//! Committing a fetch on PostgreSQL: the same decisions as `store::articles` (an item seen before,
//! as an article or a sighting → unchanged/updated; same canonical link or content hash → exact
//! sighting; a MinHash candidate that passes `dedup::Verdict` → near sighting; else new), made safe
//! across daemons by advisory locks taken, in one sorted order, on every key an item could collide
//! on before anything is decided.
//!
//! Round trips are per transaction, not per item (`Commit`): every item is looked up in two
//! statements after the locks; the decisions run in item order, and an item sharing a key with a
//! row an earlier item of the transaction wrote is looked up again, alone, once the pending writes
//! are out (or, when that row is an inserted article sharing only MinHash keys, has it added to
//! its candidates in memory), so every decision is the one SQLite makes item by item. Sightings
//! and the `sources` they raise go in one statement per transaction.

use std::collections::HashMap;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Row, Statement, Transaction};

use super::super::articles::{Item, ItemWrites, Matched, Seen, Sighting, alert_uid, decide};
use super::super::{CommitOutcome, FetchCommit, MatchPolicy, Result};
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

/// The key of MinHash value `v` of function (key column) `i`.
fn band_key(i: usize, v: i64) -> i64 {
    lock_key("b", &format!("{i}:{v}"))
}

/// The keys a new item could collide on with a concurrent commit of another daemon. They are
/// also every value its lookup compares: `LOOKUP` (`lookup_keys`) and `CANDIDATES`
/// (`probe_keys`); a row that shares none of them is not found by it.
fn lock_keys(identity: &str, a: &Article) -> Vec<i64> {
    let mut keys = lookup_keys(identity, a);
    keys.extend(probe_keys(a));
    keys
}

/// The item's identity, content hash and canonical link (when it names one article).
fn lookup_keys(identity: &str, a: &Article) -> Vec<i64> {
    let mut keys = vec![lock_key("i", identity), lock_key("h", &a.content_hash)];
    if let Some(l) = &a.canonical_link
        && specific_link(l)
    {
        keys.push(lock_key("l", l));
    }
    keys
}

/// Every MinHash value the item probes with: a copy found through a key shares that value.
fn probe_keys(a: &Article) -> Vec<i64> {
    if a.fingerprint.words < dedup::SHORT_DUP_MIN_WORDS {
        return Vec::new();
    }
    let f = &a.fingerprint;
    (0..dedup::BANDS)
        .flat_map(|i| f.probes(i).map(move |v| band_key(i, v)))
        .collect()
}

/// The keys of what an article row holds that a lookup compares (identity, canonical link,
/// content hash, key columns): a lookup finds the row only when its item shares one of them.
fn row_keys(
    identity: &str,
    link: Option<&str>,
    hash: &str,
    bands: [Option<i64>; dedup::BANDS],
) -> Vec<i64> {
    let mut keys = vec![lock_key("i", identity), lock_key("h", hash)];
    keys.extend(link.map(|l| lock_key("l", l)));
    keys.extend((0..dedup::BANDS).filter_map(|i| bands[i].map(|v| band_key(i, v))));
    keys
}

/// `row_keys` of the article row an item writes.
fn written_keys(it: &Item) -> Vec<i64> {
    let b = it.a.fingerprint.bands().map(Some);
    row_keys(
        it.identity,
        it.a.canonical_link.as_deref(),
        &it.a.content_hash,
        b,
    )
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
}

/// Where a statement runs: a plain client or transaction (each call parses its text) or a
/// `Cached` transaction.
pub(super) trait Query {
    fn rows(&mut self, sql: &'static str, p: &Params) -> Result<Vec<Row>>;
    fn exec(&mut self, sql: &'static str, p: &Params) -> Result<u64>;
}

impl Query for postgres::Client {
    fn rows(&mut self, sql: &'static str, p: &Params) -> Result<Vec<Row>> {
        Ok(self.query(sql, p)?)
    }
    fn exec(&mut self, sql: &'static str, p: &Params) -> Result<u64> {
        Ok(self.execute(sql, p)?)
    }
}

impl Query for Cached<'_, '_> {
    fn rows(&mut self, sql: &'static str, p: &Params) -> Result<Vec<Row>> {
        let s = self.st(sql)?;
        Ok(self.tx.query(&s, p)?)
    }
    fn exec(&mut self, sql: &'static str, p: &Params) -> Result<u64> {
        let s = self.st(sql)?;
        Ok(self.tx.execute(&s, p)?)
    }
}

impl Pg {
    pub(super) fn commit_all(
        &mut self,
        batch: &[FetchCommit],
        policy: &MatchPolicy,
    ) -> Result<Vec<CommitOutcome>> {
        let identities: Vec<Vec<String>> = batch
            .iter()
            .map(|c| {
                let ids = c.articles.iter();
                ids.map(|a| dedup::identity_key(c.feed_id, a)).collect()
            })
            .collect();
        let mut keys = Vec::new();
        for (c, ids) in batch.iter().zip(&identities) {
            for (a, identity) in c.articles.iter().zip(ids) {
                keys.extend(lock_keys(identity, a));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        let mut tries = 0;
        loop {
            tries += 1;
            let Pg { c, stmts, .. } = &mut *self;
            let mut tx = c.get_mut().transaction()?;
            let cached = Cached { tx: &mut tx, stmts };
            let run = commit_in(cached, batch, &identities, &keys, policy);
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

/// The commit inside its transaction: the locks, the lookup of every item, the decisions in
/// item order, each fetch's feed state and log, the pending writes.
fn commit_in(
    mut tx: Cached,
    batch: &[FetchCommit],
    identities: &[Vec<String>],
    keys: &[i64],
    policy: &MatchPolicy,
) -> Result<Vec<CommitOutcome>> {
    // Every lookup of the commit is an index seek. The statements are prepared once per
    // connection, and a generic plan made while the table was small (a bulk ingest into a new
    // database, inside one transaction) scans it: one scan per lookup, the ingest quadratic in
    // its size.
    if keys.len() > MAX_KEY_LOCKS {
        tx.exec(
            "SELECT pg_advisory_xact_lock($1), set_config('enable_seqscan', 'off', true)",
            &[&COMMIT_LOCK],
        )?;
    } else {
        tx.exec(
            "SELECT pg_advisory_xact_lock_shared($1), set_config('enable_seqscan', 'off', true)",
            &[&COMMIT_LOCK],
        )?;
        tx.exec(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY 1) s",
            &[&keys],
        )?;
    }
    let now = now_ms();
    let items: Vec<Vec<Item>> = batch
        .iter()
        .zip(identities)
        .map(|(c, ids)| {
            let items = c.articles.iter().zip(ids);
            items
                .map(|(a, identity)| Item {
                    feed_id: c.feed_id,
                    identity,
                    a,
                    now,
                    policy,
                })
                .collect()
        })
        .collect();
    let mut w = Commit::new(tx, now - policy.window_ms);
    let mut found = w.look_up(items.iter().flatten())?.into_iter();
    let mut outs = Vec::with_capacity(batch.len());
    for (c, items) in batch.iter().zip(&items) {
        let mut out = CommitOutcome::default();
        for (it, f) in items.iter().zip(found.by_ref()) {
            let seen = w.seen(it, f)?;
            let item = decide(&mut w, seen, it, &mut out)?;
            out.record(item);
        }
        apply_state(&mut w.tx, c.feed_id, &c.state, out.new > 0)?;
        insert_log(&mut w.tx, c.feed_id, &c.log, &out)?;
        outs.push(out);
    }
    w.flush()?;
    let items = items.iter().map(Vec::len).sum::<usize>();
    tracing::debug!(items, looked_up_again = w.again, "commit");
    Ok(outs)
}

/// What the commit's lookup found of an item before anything was written.
enum Found {
    /// Seen before (an article or a sighting), or the same story under another identity.
    Seen(Seen),
    /// None of those: the MinHash candidates to verify with the keys they share, best first
    /// (`CANDIDATES`).
    Near(Vec<(i64, u32)>),
}

/// A sighting decided and not yet written (`Commit::flush`).
struct PendingSighting {
    orig: i64,
    feed_id: i64,
    item: String,
    link: Option<String>,
    title: String,
    kind: &'static str,
    distance: Option<i64>,
    seen_at: i64,
}

/// One commit transaction: every item of it is looked up at once, in two round trips, after the
/// locks and before the first decision (`look_up`); the decisions then run in item order as on
/// SQLite, each seeing what the items before it wrote: an item sharing a key (`lock_keys`) with
/// a row written since the lookup is looked up again, alone, after the pending writes are
/// flushed, unless only inserted articles share only MinHash keys with it (`seen`). Sightings
/// (and the `sources` they raise, once per article and transaction) are written together by
/// `flush`.
struct Commit<'a, 't> {
    tx: Cached<'a, 't>,
    /// Near-duplicates are looked for among articles fetched since.
    since: i64,
    /// Keys of the rows written since the lookup (`row_keys`, and identities of sightings).
    dirty: std::collections::HashSet<i64>,
    /// `row_keys` of the articles found as items seen before, as the lookup read them: what an
    /// update of one makes dirty besides its new values.
    stored: HashMap<i64, Vec<i64>>,
    /// The cores of candidate texts, by article id, read once per transaction.
    cores: HashMap<i64, dedup::Core>,
    sightings: Vec<PendingSighting>,
    /// The articles inserted since the lookup: id, key column values, text.
    inserted: Vec<(i64, [i64; dedup::BANDS], String)>,
    /// Whether an article was updated since the lookup.
    updated: bool,
    /// Items looked up again, alone (for the DEBUG line of the commit).
    again: usize,
}

/// Every item of a commit against the store, one row per item at most, the first of these in
/// this order: its identity key as an article (with what `row_keys` needs) or as a sighting; the
/// first article with its canonical link (when that names one article), else with its content.
/// `ORDER BY id + 0`: the few rows of the link or hash index sorted, where `ORDER BY id` let the
/// generic plan walk the primary key filtering every article (a full scan per item that has no
/// copy, seconds per commit on a store of a few thousand articles).
const LOOKUP: &str = "SELECT q.n, f.k, f.id, f.content_hash, f.canonical_link, f.band0, f.band1, f.band2, f.band3
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS q(identity, link, hash, n)
     CROSS JOIN LATERAL (
         SELECT 0 AS k, id, content_hash, canonical_link, band0, band1, band2, band3
             FROM articles WHERE identity = q.identity
         UNION ALL SELECT 1, article_id, NULL, NULL, NULL, NULL, NULL, NULL FROM sightings WHERE item = q.identity
         UNION ALL (SELECT 2, id, NULL, NULL, NULL, NULL, NULL, NULL FROM articles
             WHERE canonical_link = q.link ORDER BY id + 0 LIMIT 1)
         UNION ALL (SELECT 3, id, NULL, NULL, NULL, NULL, NULL, NULL FROM articles
             WHERE content_hash = q.hash ORDER BY id + 0 LIMIT 1)
         ORDER BY k LIMIT 1) f";

/// Stored articles fetched since $4 sharing at least one MinHash key with item n (each key
/// column probed with the function's smallest values of the item: rows (n, k, v)), with how many
/// they share, most first, then oldest first, at most $5 per item: counted and cut by the server,
/// so a text sharing keys with thousands of stored ones costs nothing more on the wire. With $6,
/// each article's text, on its first row only.
const CANDIDATES: &str = "WITH p AS (SELECT * FROM unnest($1::int8[], $2::int4[], $3::int8[]) AS p(n, k, v)),
     c AS (SELECT p.n, a.id FROM p JOIN articles a ON a.band0 = p.v AND a.fetched_at >= $4 WHERE p.k = 0
         UNION ALL SELECT p.n, a.id FROM p JOIN articles a ON a.band1 = p.v AND a.fetched_at >= $4 WHERE p.k = 1
         UNION ALL SELECT p.n, a.id FROM p JOIN articles a ON a.band2 = p.v AND a.fetched_at >= $4 WHERE p.k = 2
         UNION ALL SELECT p.n, a.id FROM p JOIN articles a ON a.band3 = p.v AND a.fetched_at >= $4 WHERE p.k = 3),
     t AS (SELECT n, id, count(*) AS shared,
               row_number() OVER (PARTITION BY n ORDER BY count(*) DESC, id) AS r
           FROM c GROUP BY n, id)
     SELECT t.n, t.id, t.shared,
         CASE WHEN $6 AND row_number() OVER (PARTITION BY t.id ORDER BY t.n) = 1 THEN a.text END
     FROM t JOIN articles a ON a.id = t.id
     WHERE $5::int8 IS NULL OR t.r <= $5
     ORDER BY t.n, t.shared DESC, t.id";

/// Candidates verified per item, most shared keys first (as on SQLite).
const MAX_VERIFIED: i64 = 6;

/// The values `CANDIDATES` probes each key column with, once each: (column, value).
fn probe_rows(f: &dedup::Fingerprint) -> impl Iterator<Item = (i32, i64)> + '_ {
    (0..dedup::BANDS).flat_map(move |i| {
        let mut probes: Vec<i64> = f.probes(i).collect();
        probes.sort_unstable();
        probes.dedup();
        probes.into_iter().map(move |v| (i as i32, v))
    })
}

/// Sightings in item order (with their row number), and the `sources` they raise: by one per
/// article and feed the story had not been seen in (the article's own feed and feeds with a
/// sighting of it before this statement do not count), as SQLite's one statement per sighting
/// does, in one UPDATE per article.
const SIGHTINGS: &str = "WITH s AS (SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[],
             $6::text[], $7::int8[], $8::int8[])
         WITH ORDINALITY AS s(article_id, feed_id, item, link, title, kind, distance, seen_at, n)),
     ins AS (INSERT INTO sightings (article_id, feed_id, item, link, title, kind, distance, seen_at)
         SELECT article_id, feed_id, item, link, title, kind, distance, seen_at FROM s ORDER BY n
         ON CONFLICT DO NOTHING)
     UPDATE articles a SET sources = a.sources + r.feeds
     FROM (SELECT s.article_id, count(DISTINCT s.feed_id) AS feeds FROM s JOIN articles o ON o.id = s.article_id
           WHERE o.feed_id IS DISTINCT FROM s.feed_id
             AND NOT EXISTS(SELECT 1 FROM sightings x WHERE x.article_id = s.article_id AND x.feed_id = s.feed_id)
             AND NOT EXISTS(SELECT 1 FROM sightings x WHERE x.item = s.item)
           GROUP BY s.article_id ORDER BY s.article_id) r
     WHERE a.id = r.article_id";

impl<'a, 't> Commit<'a, 't> {
    fn new(tx: Cached<'a, 't>, since: i64) -> Self {
        Commit {
            tx,
            since,
            dirty: Default::default(),
            stored: HashMap::new(),
            cores: HashMap::new(),
            sightings: Vec::new(),
            inserted: Vec::new(),
            updated: false,
            again: 0,
        }
    }

    /// `LOOKUP` and `CANDIDATES` for these items (the candidates of those `LOOKUP` found
    /// nothing for and whose text is long enough), their texts' cores kept.
    fn look_up<'i, 'j: 'i>(
        &mut self,
        items: impl Iterator<Item = &'i Item<'j>>,
    ) -> Result<Vec<Found>> {
        let items: Vec<&Item> = items.collect();
        let identities: Vec<&str> = items.iter().map(|it| it.identity).collect();
        let links: Vec<Option<&str>> = items
            .iter()
            .map(|it| it.a.canonical_link.as_deref().filter(|l| specific_link(l)))
            .collect();
        let hashes: Vec<&str> = items.iter().map(|it| &*it.a.content_hash).collect();
        let mut found: Vec<Option<Found>> = (0..items.len()).map(|_| None).collect();
        for r in self.tx.rows(LOOKUP, &[&identities, &links, &hashes])? {
            let n = r.get::<_, i64>(0) as usize - 1;
            let (k, id) = (r.get::<_, i32>(1), r.get(2));
            found[n] = Some(Found::Seen(match (k, r.get::<_, Option<String>>(3)) {
                (0, Some(hash)) => {
                    let bands = [r.get(5), r.get(6), r.get(7), r.get(8)];
                    let link = r.get::<_, Option<&str>>(4);
                    let keys = row_keys(identities[n], link, &hash, bands);
                    self.stored.insert(id, keys);
                    Seen::Article(id, hash)
                }
                (0 | 1, _) => Seen::Sighting(id),
                _ => Seen::Exact(id),
            }));
        }
        // The probes of every item left, as rows (item, key column, value).
        let (mut pn, mut pk, mut pv) = (Vec::new(), Vec::new(), Vec::new());
        for (n, it) in items.iter().enumerate() {
            let f = &it.a.fingerprint;
            if found[n].is_none() && f.words >= dedup::SHORT_DUP_MIN_WORDS {
                for (i, v) in probe_rows(f) {
                    pn.push(n as i64);
                    pk.push(i);
                    pv.push(v);
                }
            }
        }
        let mut near: Vec<Vec<(i64, u32)>> = vec![Vec::new(); items.len()];
        if !pn.is_empty() {
            let params: [&(dyn ToSql + Sync); 6] =
                [&pn, &pk, &pv, &self.since, &Some(MAX_VERIFIED), &true];
            for r in self.tx.rows(CANDIDATES, &params)? {
                let (n, id) = (r.get::<_, i64>(0) as usize, r.get(1));
                near[n].push((id, r.get::<_, i64>(2) as u32));
                if let Some(text) = r.get::<_, Option<&str>>(3) {
                    self.cores.insert(id, dedup::Core::of(text));
                }
            }
        }
        Ok(found
            .into_iter()
            .zip(near)
            .map(|(f, near)| f.unwrap_or(Found::Near(near)))
            .collect())
    }

    /// What the store holds of the item, as it stands after the items before it: what the
    /// commit's lookup found, unless a row written since shares a key with the item. When that
    /// row was inserted and shares only MinHash keys, `LOOKUP`'s answer stands and the
    /// candidates are completed here; else the item is looked up again.
    fn seen(&mut self, it: &Item, found: Found) -> Result<Seen> {
        let dirty = |keys: Vec<i64>| keys.iter().any(|k| self.dirty.contains(k));
        let (keys_dirty, probes_dirty) = (
            dirty(lookup_keys(it.identity, it.a)),
            dirty(probe_keys(it.a)),
        );
        let found = if keys_dirty || (probes_dirty && self.updated) {
            self.flush()?;
            self.again += 1;
            let again = self.look_up(std::iter::once(it))?.pop();
            again.expect("one lookup per item")
        } else {
            match found {
                Found::Near(c) if probes_dirty => Found::Near(self.with_inserted(it.a, c)),
                found => found,
            }
        };
        Ok(match found {
            Found::Seen(seen) => seen,
            Found::Near(c) => Seen::near_or_new(self.near_duplicate(it.a, &c)?),
        })
    }

    /// The candidates the lookup found and the articles inserted since that share a MinHash key
    /// with the article, ranked and cut as `CANDIDATES` does; the texts of the latter kept.
    fn with_inserted(&mut self, a: &Article, mut c: Vec<(i64, u32)>) -> Vec<(i64, u32)> {
        let probes: Vec<(i32, i64)> = probe_rows(&a.fingerprint).collect();
        for (id, bands, _) in &self.inserted {
            let shares = |i: usize| probes.contains(&(i as i32, bands[i]));
            let shared = (0..dedup::BANDS).filter(|&i| shares(i)).count() as u32;
            if shared > 0 {
                c.push((*id, shared));
            }
        }
        c.sort_by_key(|&(id, n)| (std::cmp::Reverse(n), id));
        c.truncate(MAX_VERIFIED as usize);
        for (id, _, text) in &self.inserted {
            if c.iter().any(|(i, _)| i == id) && !self.cores.contains_key(id) {
                self.cores.insert(*id, dedup::Core::of(text));
            }
        }
        c
    }

    /// The best candidate that passes `dedup::Verdict` with the article (its core built once).
    fn near_duplicate(
        &self,
        a: &Article,
        candidates: &[(i64, u32)],
    ) -> Result<Option<(i64, dedup::Verdict)>> {
        let words = a.fingerprint.words;
        if words < dedup::SHORT_DUP_MIN_WORDS || candidates.is_empty() {
            return Ok(None);
        }
        let core = dedup::Core::of(&a.text);
        let mut best: Option<(i64, dedup::Verdict)> = None;
        for (id, _) in candidates {
            let Some(text) = self.cores.get(id) else {
                anyhow::bail!("the text of candidate {id} was not read");
            };
            let v = dedup::Verdict::of(&core, text);
            if v.same_story(words) && best.is_none_or(|(_, b)| v.score() > b.score()) {
                best = Some((*id, v));
            }
        }
        Ok(best)
    }

    /// Writes the pending sightings and raises the `sources` they count for.
    fn flush(&mut self) -> Result<()> {
        if self.sightings.is_empty() {
            return Ok(());
        }
        let s = std::mem::take(&mut self.sightings);
        let col = |f: fn(&PendingSighting) -> i64| s.iter().map(f).collect::<Vec<_>>();
        let (orig, feed, seen_at) = (col(|s| s.orig), col(|s| s.feed_id), col(|s| s.seen_at));
        let item: Vec<&str> = s.iter().map(|s| &*s.item).collect();
        let link: Vec<Option<&str>> = s.iter().map(|s| s.link.as_deref()).collect();
        let title: Vec<&str> = s.iter().map(|s| &*s.title).collect();
        let kind: Vec<&str> = s.iter().map(|s| s.kind).collect();
        let distance: Vec<Option<i64>> = s.iter().map(|s| s.distance).collect();
        self.tx.exec(
            SIGHTINGS,
            &[
                &orig, &feed, &item, &link, &title, &kind, &distance, &seen_at,
            ],
        )?;
        Ok(())
    }

    /// Marks an item's new article row written.
    fn wrote(&mut self, keys: Vec<i64>) {
        self.dirty.extend(keys);
    }
}

/// The PostgreSQL writes of one item's decision.
impl ItemWrites for Commit<'_, '_> {
    fn update_article(&mut self, it: &Item, id: i64) -> Result<()> {
        let Item { a, now, .. } = *it;
        let b = a.fingerprint.bands();
        let published = a.published_at.map(|d| d.timestamp_millis());
        self.tx.exec(
            "UPDATE articles SET link = $2, canonical_link = $3, title = $4, text = $5, html = $6, lang = $7,
                published_at = coalesce($8, published_at), updated_at = $9, content_hash = $10, simhash = $11,
                band0 = $12, band1 = $13, band2 = $14, band3 = $15
             WHERE id = $1",
            &[
                &id, &a.link, &a.canonical_link, &a.title, &a.text, &a.html, &a.lang, &published,
                &now, &a.content_hash, &b[0], &b[0], &b[1], &b[2], &b[3],
            ],
        )?;
        // What the row held is dirty as well as what it holds now; its text is no candidate's.
        self.updated = true;
        let old = self.stored.remove(&id).unwrap_or_default();
        self.wrote(old);
        self.wrote(written_keys(it));
        self.cores.remove(&id);
        Ok(())
    }

    fn add_sighting(&mut self, it: &Item, s: Sighting) -> Result<()> {
        self.sightings.push(PendingSighting {
            orig: s.orig,
            feed_id: it.feed_id,
            item: it.identity.to_string(),
            link: it.a.link.clone(),
            title: it.a.title.clone(),
            kind: s.kind,
            distance: s.distance,
            seen_at: it.now,
        });
        self.dirty.insert(lock_key("i", it.identity));
        Ok(())
    }

    /// The identity lock makes a conflict impossible; ON CONFLICT keeps it a no-op anyway.
    fn insert_article(&mut self, it: &Item) -> Result<std::result::Result<i64, i64>> {
        let Item {
            feed_id,
            identity,
            a,
            now,
            policy,
        } = *it;
        let b = a.fingerprint.bands();
        let published = a.published_at.map(|d| d.timestamp_millis());
        let page_status = policy.full_text.then_some("pending");
        let page_next = page_status.map(|_| now);
        let row = self.tx.query_opt(
            "INSERT INTO articles (feed_id, identity, guid, link, canonical_link, title, text, html, lang, published_at,
                 fetched_at, content_hash, simhash, band0, band1, band2, band3, page_status, page_next_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             ON CONFLICT (identity) DO NOTHING RETURNING id",
            &[
                &feed_id, &identity, &a.guid, &a.link, &a.canonical_link, &a.title, &a.text, &a.html,
                &a.lang, &published, &now, &a.content_hash, &b[0], &b[0], &b[1], &b[2],
                &b[3], &page_status, &page_next,
            ],
        )?;
        if let Some(r) = row {
            let id = r.get(0);
            self.wrote(written_keys(it));
            self.inserted.push((id, b, a.text.clone()));
            return Ok(Ok(id));
        }
        let r = self
            .tx
            .query_one("SELECT id FROM articles WHERE identity = $1", &[&identity])?;
        Ok(Err(r.get(0)))
    }

    fn insert_matches(&mut self, it: &Item, id: i64) -> Result<Matched> {
        insert_matches(&mut self.tx, id, it.identity, it.a, it.policy, it.now)
    }
}

/// Stored articles fetched after `since` sharing at least one MinHash key with the fingerprint
/// (`CANDIDATES`), with how many they share: most first, then oldest first.
pub(super) fn near_candidates(
    c: &mut impl Query,
    f: &dedup::Fingerprint,
    since: i64,
) -> Result<Vec<(i64, u32)>> {
    let (pk, pv): (Vec<i32>, Vec<i64>) = probe_rows(f).unzip();
    let pn = vec![0i64; pv.len()];
    let params: [&(dyn ToSql + Sync); 6] = [&pn, &pk, &pv, &since, &None::<i64>, &false];
    Ok(c.rows(CANDIDATES, &params)?
        .iter()
        .map(|r| (r.get(1), r.get::<_, i64>(2) as u32))
        .collect())
}

/// Matches the article and stores the matches it did not have yet, with one outbox row per sink,
/// in one statement (matches and alerts in the matcher's order).
pub(super) fn insert_matches(
    tx: &mut Cached,
    article_id: i64,
    identity: &str,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
) -> Result<Matched> {
    let matches = (policy.matcher)(a);
    if matches.is_empty() {
        return Ok(Matched::default());
    }
    let (mut topics, mut terms, mut snippets) = (Vec::new(), Vec::new(), Vec::new());
    let (mut alert_topics, mut sinks, mut uids) = (Vec::new(), Vec::new(), Vec::new());
    for m in &matches {
        for sink in (policy.sinks_for)(&m.topic) {
            uids.push(alert_uid(identity, &m.topic, &sink));
            alert_topics.push(m.topic.as_str());
            sinks.push(sink);
        }
        topics.push(m.topic.as_str());
        terms.push(serde_json::to_string(&m.terms)?);
        snippets.push(m.snippet.as_str());
    }
    let rows = tx.rows(
        "WITH m AS (
             INSERT INTO matches (article_id, topic, terms, snippet, matched_at)
             SELECT $1::int8, topic, terms, snippet, $2::int8
                 FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(topic, terms, snippet, n)
                 ORDER BY n
             ON CONFLICT DO NOTHING RETURNING id, topic),
         a AS (
             INSERT INTO alerts (uid, match_id, topic, sink, status, next_attempt_at, created_at)
             SELECT s.uid, m.id, m.topic, s.sink, 'pending', $2::int8, $2::int8
                 FROM unnest($6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS s(topic, sink, uid, n)
                 JOIN m ON m.topic = s.topic ORDER BY s.n
             ON CONFLICT DO NOTHING RETURNING 1)
         SELECT topic, (SELECT count(*) FROM a) FROM m",
        &[
            &article_id, &now, &topics, &terms, &snippets, &alert_topics, &sinks, &uids,
        ],
    )?;
    // Matched before: no second alert, and not among the topics newly matched.
    let mut new: std::collections::HashSet<&str> = rows.iter().map(|r| r.get(0)).collect();
    Ok(Matched {
        alerts: rows.first().map_or(0, |r| r.get::<_, i64>(1)) as u32,
        topics: matches
            .iter()
            .filter(|m| new.remove(m.topic.as_str()))
            .map(|m| m.topic.clone())
            .collect(),
    })
}
