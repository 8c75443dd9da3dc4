//! Committing what one fetch produced: dedup decisions against the store, articles, sightings,
//! matches and the alert outbox, the feed's state and the fetch log, in one transaction.

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{CachedStatement, Connection, ToSql, TransactionBehavior, params, params_from_iter};
use serde::Serialize;

use super::feeds::{FeedState, FetchLog, apply_state, insert_log};
use super::sqlite::Sqlite;
use crate::dedup;
use crate::model::Article;
use crate::topics::TopicMatch;
use crate::util::now_ms;

/// Everything one fetch of one feed produced.
#[derive(Clone)]
pub struct FetchCommit {
    pub feed_id: i64,
    /// Cleaned and fingerprinted articles, in feed order.
    pub articles: Vec<Article>,
    pub state: FeedState,
    pub log: FetchLog,
}

/// How new and updated articles are matched and routed. The matcher is a pure function; it runs
/// only for articles that are new or whose content changed.
pub struct MatchPolicy<'a> {
    pub matcher: &'a (dyn Fn(&Article) -> Vec<TopicMatch> + Sync),
    /// The sinks a topic's alerts go to.
    pub sinks_for: &'a (dyn Fn(&str) -> Vec<String> + Sync),
    /// Near-duplicates are looked for among articles fetched this recently.
    pub window_ms: i64,
    /// New articles get a pending full-text page fetch.
    pub full_text: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    New,
    Duplicate,
    NearDuplicate,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemOutcome {
    /// The stored article this item is (or, for a duplicate, was recorded as a sighting of).
    pub id: i64,
    pub guid: Option<String>,
    pub link: Option<String>,
    pub title: String,
    pub status: ItemStatus,
    pub duplicate_of: Option<i64>,
    /// Topics this item newly matched in this commit.
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CommitOutcome {
    pub items: Vec<ItemOutcome>,
    pub new: u32,
    pub updated: u32,
    pub duplicates: u32,
    pub alerts: u32,
}

impl CommitOutcome {
    /// Counts one item's decision and keeps its line.
    pub(super) fn record(&mut self, item: ItemOutcome) {
        match item.status {
            ItemStatus::New => self.new += 1,
            ItemStatus::Updated => self.updated += 1,
            ItemStatus::Duplicate | ItemStatus::NearDuplicate => self.duplicates += 1,
            ItemStatus::Unchanged => {}
        }
        self.items.push(item);
    }
}

/// What the store holds of one item, as a backend's lookup found it (in the order the lookup
/// decides: seen before, then the same story under another identity, then a near-duplicate).
pub(super) enum Seen {
    /// This item is this stored article (id, content hash).
    Article(i64, String),
    /// This item was recorded as a sighting of this article: never compared again.
    Sighting(i64),
    /// Another item of the same story under the same canonical link or content hash.
    Exact(i64),
    /// A stored article fetched in the window that passes `dedup::Verdict` with it.
    Near(i64, dedup::Verdict),
    /// Nothing: the item is new.
    New,
}

impl Seen {
    /// The near-duplicate a backend verified, if any; else the item is new.
    pub(super) fn near_or_new(best: Option<(i64, dedup::Verdict)>) -> Seen {
        best.map_or(Seen::New, |(orig, v)| Seen::Near(orig, v))
    }
}

/// One item being committed: its article, feed and identity key, the commit's clock and match
/// policy.
pub(super) struct Item<'a> {
    pub feed_id: i64,
    pub identity: &'a str,
    pub a: &'a Article,
    pub now: i64,
    pub policy: &'a MatchPolicy<'a>,
}

/// A sighting to record: the article the item is a copy of, how it was found ("exact" or
/// "near") and the distance of a near copy.
#[derive(Clone, Copy)]
pub(super) struct Sighting {
    pub orig: i64,
    pub kind: &'static str,
    pub distance: Option<i64>,
}

/// What matching a stored article added: the topics it newly matched, the alerts queued.
#[derive(Default)]
pub(crate) struct Matched {
    pub topics: Vec<String>,
    pub alerts: u32,
}

/// The writes a commit makes for one item: each backend keeps only its SQL, `decide` the logic.
pub(super) trait ItemWrites {
    /// Rewrites a stored article whose content changed, keeping its id.
    fn update_article(&mut self, it: &Item, id: i64) -> anyhow::Result<()>;
    /// Records the item as a sighting of another article.
    fn add_sighting(&mut self, it: &Item, s: Sighting) -> anyhow::Result<()>;
    /// Inserts a new article: its id, or `Err(id)` of the article a concurrent commit stored
    /// under the same identity first.
    fn insert_article(&mut self, it: &Item) -> anyhow::Result<Result<i64, i64>>;
    /// Matches the article and stores the matches it did not have yet (`insert_matches`).
    fn insert_matches(&mut self, it: &Item, id: i64) -> anyhow::Result<Matched>;
}

/// The decision for one item, the same on every backend: seen before → unchanged (or updated in
/// place when its content changed, and matched again); the same story → exact sighting; a
/// near-duplicate → near sighting; else new, and matched.
pub(super) fn decide<W: ItemWrites>(
    w: &mut W,
    seen: Seen,
    it: &Item,
    out: &mut CommitOutcome,
) -> anyhow::Result<ItemOutcome> {
    let a = it.a;
    let item = |id, status, duplicate_of, topics| ItemOutcome {
        id,
        guid: a.guid.clone(),
        link: a.link.clone(),
        title: a.title.clone(),
        status,
        duplicate_of,
        topics,
    };
    let mut matched = |w: &mut W, id| -> anyhow::Result<Vec<String>> {
        let m = w.insert_matches(it, id)?;
        out.alerts += m.alerts;
        Ok(m.topics)
    };
    let sighting = |orig, kind, distance| Sighting {
        orig,
        kind,
        distance,
    };
    Ok(match seen {
        Seen::Sighting(orig) => item(orig, ItemStatus::Unchanged, Some(orig), Vec::new()),
        Seen::Article(id, hash) if hash == a.content_hash => {
            item(id, ItemStatus::Unchanged, None, Vec::new())
        }
        Seen::Article(id, _) => {
            w.update_article(it, id)?;
            let topics = matched(w, id)?;
            item(id, ItemStatus::Updated, None, topics)
        }
        Seen::Exact(orig) => {
            w.add_sighting(it, sighting(orig, "exact", None))?;
            item(orig, ItemStatus::Duplicate, Some(orig), Vec::new())
        }
        Seen::Near(orig, v) => {
            let distance = ((1.0 - v.score()) * 100.0).round() as i64;
            w.add_sighting(it, sighting(orig, "near", Some(distance)))?;
            item(orig, ItemStatus::NearDuplicate, Some(orig), Vec::new())
        }
        Seen::New => match w.insert_article(it)? {
            Ok(id) => {
                let topics = matched(w, id)?;
                item(id, ItemStatus::New, None, topics)
            }
            Err(id) => item(id, ItemStatus::Unchanged, None, Vec::new()),
        },
    })
}

impl Sqlite {
    /// Commits one fetch: dedup, store, match, outbox, feed state, fetch log, in ONE transaction.
    pub fn commit_fetch(
        &mut self,
        c: FetchCommit,
        policy: &MatchPolicy,
    ) -> anyhow::Result<CommitOutcome> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut fts = Vec::new();
        let out = commit_in(&tx, &mut Stmts::new(&tx)?, &c, policy, &mut fts)?;
        index_new(&tx, &mut fts)?;
        tx.commit()?;
        Ok(out)
    }

    /// Commits several fetches in one transaction (bulk `ingest`): each fetch stays whole, and
    /// SQLite writes each index page (and the FTS segment) once per batch instead of once per feed.
    pub fn commit_batch(
        &mut self,
        batch: &[FetchCommit],
        policy: &MatchPolicy,
    ) -> anyhow::Result<Vec<CommitOutcome>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut fts = Vec::new();
        let mut st = Stmts::new(&tx)?;
        let outs = batch
            .iter()
            .map(|c| commit_in(&tx, &mut st, c, policy, &mut fts))
            .collect::<anyhow::Result<Vec<_>>>()?;
        drop(st);
        index_new(&tx, &mut fts)?;
        tx.commit()?;
        Ok(outs)
    }
}

/// Adds the articles inserted in this transaction to the full-text index, in one statement.
/// Must run before any UPDATE of those rows (the update trigger deletes their old FTS entry).
fn index_new(tx: &Connection, ids: &mut Vec<i64>) -> rusqlite::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let (lo, hi) = (ids[0], ids[ids.len() - 1]);
    // New rows of one transaction have increasing ids; index the range, skipping any row that an
    // earlier call already indexed.
    let mut st = tx.prepare_cached(
        "INSERT INTO articles_fts(rowid, title, text)
         SELECT id, title, text || coalesce(char(10) || page_text, '') FROM articles
         WHERE id BETWEEN ?1 AND ?2 AND id IN (SELECT value FROM json_each(?3))",
    )?;
    st.execute(rusqlite::params![
        lo,
        hi,
        serde_json::to_string(ids).unwrap_or_default()
    ])?;
    ids.clear();
    Ok(())
}

/// The statements every item runs, prepared once per transaction (a statement taken from the
/// cache per call is looked up by its SQL text, and the lookup's text is long).
struct Stmts<'c> {
    lookup: CachedStatement<'c>,
    text: CachedStatement<'c>,
    insert: CachedStatement<'c>,
}

impl<'c> Stmts<'c> {
    fn new(tx: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Stmts {
            lookup: tx.prepare_cached(LOOKUP)?,
            text: tx.prepare_cached("SELECT text FROM articles WHERE id = ?1")?,
            insert: tx.prepare_cached(INSERT)?,
        })
    }
}

fn commit_in(
    tx: &Connection,
    st: &mut Stmts,
    c: &FetchCommit,
    policy: &MatchPolicy,
    fts: &mut Vec<i64>,
) -> anyhow::Result<CommitOutcome> {
    let mut out = CommitOutcome::default();
    let now = now_ms();
    for a in &c.articles {
        let item = store_article(tx, st, c.feed_id, a, policy, now, &mut out, fts)?;
        out.record(item);
    }
    apply_state(tx, c.feed_id, &c.state, out.new > 0)?;
    insert_log(tx, c.feed_id, &c.log, &out)?;
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn store_article(
    tx: &Connection,
    st: &mut Stmts,
    feed_id: i64,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
    out: &mut CommitOutcome,
    fts: &mut Vec<i64>,
) -> anyhow::Result<ItemOutcome> {
    let identity = dedup::identity_key(feed_id, a);
    let seen = match lookup(
        &mut st.lookup,
        &identity,
        feed_id,
        a,
        now - policy.window_ms,
    )? {
        Found::Article(id, hash) => Seen::Article(id, hash),
        Found::Sighting(orig) => Seen::Sighting(orig),
        Found::Legacy(orig, sighting) => {
            tx.prepare_cached("UPDATE sightings SET item = ?2 WHERE id = ?1")?
                .execute(params![sighting, identity])?;
            Seen::Sighting(orig)
        }
        Found::Exact(orig) => Seen::Exact(orig),
        Found::Candidates(candidates) => Seen::near_or_new(verify(&mut st.text, a, &candidates)?),
    };
    let it = Item {
        feed_id,
        identity: &identity,
        a,
        now,
        policy,
    };
    decide(&mut Writes { tx, st, fts }, seen, &it, out)
}

/// The SQLite writes of one item's decision (`ItemWrites`).
struct Writes<'a, 'c> {
    tx: &'a Connection,
    st: &'a mut Stmts<'c>,
    /// Articles inserted in this transaction and not yet in the full-text index.
    fts: &'a mut Vec<i64>,
}

impl ItemWrites for Writes<'_, '_> {
    fn update_article(&mut self, it: &Item, id: i64) -> anyhow::Result<()> {
        // The update trigger rewrites the row's FTS entry: index pending rows first.
        index_new(self.tx, self.fts)?;
        Ok(update_article(self.tx, id, it.a, it.now)?)
    }

    fn add_sighting(&mut self, it: &Item, s: Sighting) -> anyhow::Result<()> {
        let Item {
            feed_id,
            identity,
            a,
            now,
            ..
        } = *it;
        // A new feed carrying the story raises its source count, when the sighting is recorded
        // (its item is not): decided before the insert, in the same statement that raises it.
        self.tx
            .prepare_cached(
                "UPDATE articles SET sources = sources + 1 WHERE id = ?1 AND feed_id IS NOT ?2
                     AND NOT EXISTS(SELECT 1 FROM sightings WHERE article_id = ?1 AND feed_id = ?2)
                     AND NOT EXISTS(SELECT 1 FROM sightings WHERE item = ?3)",
            )?
            .execute(params![s.orig, feed_id, identity])?;
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO sightings (article_id, feed_id, item, link, title, kind, distance, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![s.orig, feed_id, identity, a.link, a.title, s.kind, s.distance, now])?;
        Ok(())
    }

    fn insert_article(&mut self, it: &Item) -> anyhow::Result<Result<i64, i64>> {
        let id = insert_article(&mut self.st.insert, it)?;
        self.fts.push(id);
        Ok(Ok(id))
    }

    fn insert_matches(&mut self, it: &Item, id: i64) -> anyhow::Result<Matched> {
        insert_matches(self.tx, id, it.identity, it.a, it.policy, it.now)
    }
}

const INSERT: &str = "INSERT INTO articles (feed_id, identity, guid, link, canonical_link, title, text, html, lang, published_at,
         fetched_at, content_hash, simhash, band0, band1, band2, band3, page_status, page_next_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17, ?18)";

/// Inserts a new article (`st`: `INSERT`) and returns its id.
fn insert_article(st: &mut CachedStatement, it: &Item) -> rusqlite::Result<i64> {
    let page_status = it.policy.full_text.then_some("pending");
    let page_next_at = page_status.map(|_| it.now);
    let head: [&dyn ToSql; 3] = [&it.feed_id, &it.identity, &it.a.guid];
    let tail: [&dyn ToSql; 2] = [&page_status, &page_next_at];
    let content = content_params(it.a, it.now)?;
    st.insert(params_from_iter(
        head.into_iter()
            .chain(content.iter().map(|v| v as &dyn ToSql))
            .chain(tail),
    ))
}

/// What the lookup found of an item.
enum Found {
    /// It is this article (id, content hash).
    Article(i64, String),
    /// It was recorded as a sighting of this article.
    Sighting(i64),
    /// A sighting (article, sighting id) recorded before items had keys (migration 0006) by the
    /// same feed under the same link: it is this item's, and takes the key.
    Legacy(i64, i64),
    /// Another item of the same story under the same canonical link or content hash.
    Exact(i64),
    /// Articles in the window sharing a MinHash key with it (`tally`), maybe none.
    Candidates(Vec<(i64, u32)>),
}

/// Every lookup of an item in one statement whose arms run in order, so stepping stops where
/// the decision is made: its identity key (as an article, a sighting, or a legacy sighting); the
/// first article with the same canonical link (when it names one article), else with the same
/// content hash; the articles fetched since ?18 sharing a MinHash key, one `bandN = ?` arm per
/// probe value (an index seek on `(bandN, fetched_at)` each, no temporary table for an
/// `IN (...)` list), so the cost does not grow with the size of the store. An absent probe (a
/// text of fewer shingles, or too short a text for any near-duplicate decision) is NULL, which no
/// key equals.
const LOOKUP: &str = "SELECT 0, id, content_hash, NULL FROM articles WHERE identity = ?1
     UNION ALL SELECT 0, article_id, NULL, NULL FROM sightings WHERE item = ?1
     UNION ALL SELECT 0, article_id, NULL, id FROM sightings WHERE item IS NULL AND feed_id = ?2 AND link = ?3
     UNION ALL SELECT 1, id, NULL, NULL FROM (SELECT id FROM articles WHERE canonical_link = ?4 ORDER BY id LIMIT 1)
     UNION ALL SELECT 1, id, NULL, NULL FROM (SELECT id FROM articles WHERE content_hash = ?5 ORDER BY id LIMIT 1)
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band0 = ?6 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band0 = ?7 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band0 = ?8 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band1 = ?9 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band1 = ?10 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band1 = ?11 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band2 = ?12 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band2 = ?13 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band2 = ?14 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band3 = ?15 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band3 = ?16 AND fetched_at >= ?18
     UNION ALL SELECT 2, id, NULL, NULL FROM articles WHERE band3 = ?17 AND fetched_at >= ?18";

/// The item against the store, in one statement (`st`: `LOOKUP`).
fn lookup(
    st: &mut CachedStatement,
    identity: &str,
    feed_id: i64,
    a: &Article,
    since: i64,
) -> rusqlite::Result<Found> {
    let link = a
        .canonical_link
        .as_deref()
        .filter(|l| dedup::specific_link(l));
    let probes = if a.fingerprint.words >= dedup::SHORT_DUP_MIN_WORDS {
        probes(&a.fingerprint)
    } else {
        Default::default()
    };
    run_lookup(
        st,
        [&identity, &feed_id, &a.link, &link, &a.content_hash],
        &probes,
        since,
    )
}

const ARMS: usize = dedup::BANDS * dedup::PROBES;
const _: () = assert!(ARMS == 12, "one arm per (column, probe) in LOOKUP");

/// The values `LOOKUP` probes the key columns with, in its order; NULL where the fingerprint has
/// none.
fn probes(f: &dedup::Fingerprint) -> [Option<i64>; ARMS] {
    let mut probes = [None; ARMS];
    for i in 0..dedup::BANDS {
        for (k, v) in f.probes(i).enumerate() {
            probes[i * dedup::PROBES + k] = Some(v);
        }
    }
    probes
}

/// `LOOKUP` run with its first five parameters, the probes and the window start.
fn run_lookup(
    st: &mut CachedStatement,
    head: [&dyn ToSql; 5],
    probes: &[Option<i64>; ARMS],
    since: i64,
) -> rusqlite::Result<Found> {
    let mut rows = st.query(params_from_iter(
        head.into_iter()
            .chain(probes.iter().map(|v| v as &dyn ToSql))
            .chain([&since as &dyn ToSql]),
    ))?;
    let mut near = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(1)?;
        match r.get::<_, i64>(0)? {
            0 => {
                return Ok(match (r.get::<_, Option<String>>(2)?, r.get(3)?) {
                    (Some(hash), _) => Found::Article(id, hash),
                    (None, None) => Found::Sighting(id),
                    (None, Some(sighting)) => Found::Legacy(id, sighting),
                });
            }
            1 => return Ok(Found::Exact(id)),
            _ => near.push(id),
        }
    }
    Ok(Found::Candidates(tally(near)))
}

fn update_article(tx: &Connection, id: i64, a: &Article, now: i64) -> rusqlite::Result<()> {
    let content = content_params(a, now)?;
    tx.prepare_cached(
        "UPDATE articles SET link = ?2, canonical_link = ?3, title = ?4, text = ?5, html = ?6, lang = ?7,
            published_at = coalesce(?8, published_at), updated_at = ?9, content_hash = ?10, simhash = ?11,
            band0 = ?11, band1 = ?12, band2 = ?13, band3 = ?14
         WHERE id = ?1",
    )?
    .execute(params_from_iter(
        std::iter::once(&id as &dyn ToSql).chain(content.iter().map(|v| v as &dyn ToSql)),
    ))?;
    Ok(())
}

/// What an insert and an update of an article both write, in this order: link, canonical link,
/// title, text, html, lang, published_at, the time (fetched or updated), content hash, band0..3.
fn content_params(a: &Article, now: i64) -> rusqlite::Result<[ToSqlOutput<'_>; 13]> {
    let b = a.fingerprint.bands();
    let int = |v: Option<i64>| ToSqlOutput::Owned(v.map_or(Value::Null, Value::Integer));
    Ok([
        a.link.to_sql()?,
        a.canonical_link.to_sql()?,
        a.title.to_sql()?,
        a.text.to_sql()?,
        a.html.to_sql()?,
        a.lang.to_sql()?,
        int(a.published_at.map(|d| d.timestamp_millis())),
        int(Some(now)),
        a.content_hash.to_sql()?,
        int(Some(b[0])),
        int(Some(b[1])),
        int(Some(b[2])),
        int(Some(b[3])),
    ])
}

/// Candidates verified per item, most shared keys first.
const MAX_VERIFIED: usize = 6;

/// The best candidate (`Found::Candidates`) that passes the `dedup::Verdict` with the article:
/// each candidate's text is read in place (`st`: its text by id), the article's core is built
/// once.
fn verify(
    st: &mut CachedStatement,
    a: &Article,
    candidates: &[(i64, u32)],
) -> rusqlite::Result<Option<(i64, dedup::Verdict)>> {
    let words = a.fingerprint.words;
    if words < dedup::SHORT_DUP_MIN_WORDS || candidates.is_empty() {
        return Ok(None);
    }
    let core = dedup::Core::of(&a.text);
    let mut best: Option<(i64, dedup::Verdict)> = None;
    for &(id, _) in candidates.iter().take(MAX_VERIFIED) {
        let v = st.query_row([id], |r| {
            Ok(dedup::Verdict::of(
                &core,
                &dedup::Core::of(r.get_ref(0)?.as_str()?),
            ))
        })?;
        if v.same_story(words) && best.is_none_or(|(_, b)| v.score() > b.score()) {
            best = Some((id, v));
        }
    }
    Ok(best)
}

/// Stored articles fetched after `since` that share at least one MinHash key with the
/// fingerprint, with how many keys they share: most first, then oldest first. `LOOKUP` with no
/// item keys (NULL matches nothing), so the candidates are found as the commit finds them.
pub(super) fn near_duplicate_candidates(
    conn: &Connection,
    f: &dedup::Fingerprint,
    since: i64,
) -> rusqlite::Result<Vec<(i64, u32)>> {
    let none: Option<&str> = None;
    let found = run_lookup(
        &mut conn.prepare_cached(LOOKUP)?,
        [&none, &none, &none, &none, &none],
        &probes(f),
        since,
    )?;
    Ok(match found {
        Found::Candidates(c) => c,
        _ => Vec::new(),
    })
}

/// Candidate ids (one per shared key) counted: each id with how many keys it shares, most first,
/// then oldest first (PostgreSQL counts them in its query, in the same order).
fn tally(ids: impl IntoIterator<Item = i64>) -> Vec<(i64, u32)> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    let mut found: Vec<(i64, u32)> = Vec::new();
    for id in ids {
        match found.last_mut() {
            Some((f, n)) if *f == id => *n += 1,
            _ => found.push((id, 1)),
        }
    }
    found.sort_by_key(|&(id, n)| (std::cmp::Reverse(n), id));
    found
}

/// Matches the article and stores matches it did not have yet, with one outbox row per sink.
pub(crate) fn insert_matches(
    tx: &Connection,
    article_id: i64,
    identity: &str,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
) -> anyhow::Result<Matched> {
    let mut out = Matched::default();
    for m in (policy.matcher)(a) {
        let inserted = tx.prepare_cached(
            "INSERT OR IGNORE INTO matches (article_id, topic, terms, snippet, matched_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?.execute(
            params![article_id, m.topic, serde_json::to_string(&m.terms)?, m.snippet, now],
        )?;
        if inserted == 0 {
            continue; // matched this topic before: no second alert
        }
        let match_id = tx.last_insert_rowid();
        for sink in (policy.sinks_for)(&m.topic) {
            let uid = alert_uid(identity, &m.topic, &sink);
            out.alerts += tx.prepare_cached(
                "INSERT OR IGNORE INTO alerts (uid, match_id, topic, sink, status, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
            )?.execute(
                params![uid, match_id, m.topic, sink, now],
            )? as u32;
        }
        out.topics.push(m.topic);
    }
    Ok(out)
}

/// A stable alert id: the same (article identity, topic, sink) always gives the same id.
pub fn alert_uid(identity: &str, topic: &str, sink: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(format!("{identity}\u{0}{topic}\u{0}{sink}").as_bytes());
    format!("nw-{h:032x}")
}
