//! Committing what one fetch produced: dedup decisions against the store, articles, sightings,
//! matches and the alert outbox, the feed's state and the fetch log, in one transaction.

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{
    Connection, OptionalExtension, ToSql, TransactionBehavior, params, params_from_iter,
};
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
        let out = commit_in(&tx, &c, policy, &mut fts)?;
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
        let outs = batch
            .iter()
            .map(|c| commit_in(&tx, c, policy, &mut fts))
            .collect::<anyhow::Result<Vec<_>>>()?;
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

fn commit_in(
    tx: &Connection,
    c: &FetchCommit,
    policy: &MatchPolicy,
    fts: &mut Vec<i64>,
) -> anyhow::Result<CommitOutcome> {
    let mut out = CommitOutcome::default();
    let now = now_ms();
    for a in &c.articles {
        let item = store_article(tx, c.feed_id, a, policy, now, &mut out, fts)?;
        out.record(item);
    }
    apply_state(tx, c.feed_id, &c.state, out.new > 0)?;
    insert_log(tx, c.feed_id, &c.log, &out)?;
    Ok(out)
}

fn store_article(
    tx: &Connection,
    feed_id: i64,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
    out: &mut CommitOutcome,
    fts: &mut Vec<i64>,
) -> anyhow::Result<ItemOutcome> {
    let identity = dedup::identity_key(feed_id, a);
    let mut item = ItemOutcome {
        id: 0,
        guid: a.guid.clone(),
        link: a.link.clone(),
        title: a.title.clone(),
        status: ItemStatus::New,
        duplicate_of: None,
        topics: Vec::new(),
    };
    // 1. An item seen before, in one lookup: as an article (unchanged, or updated in place,
    //    keeping its id), or as a sighting (never compared again).
    if let Some(seen) = seen_before(tx, &identity, feed_id, a)? {
        match seen {
            Seen::Sighting(orig) => {
                item.id = orig;
                item.status = ItemStatus::Unchanged;
                item.duplicate_of = Some(orig);
            }
            Seen::Article(id, hash) => {
                item.id = id;
                item.status = ItemStatus::Unchanged;
                if hash != a.content_hash {
                    // The update trigger rewrites the row's FTS entry: index pending rows first.
                    index_new(tx, fts)?;
                    update_article(tx, id, a, now)?;
                    item.status = ItemStatus::Updated;
                    item.topics = insert_matches(tx, id, &identity, a, policy, now, out)?;
                }
            }
        }
        return Ok(item);
    }
    // 2. The same story under another identity: recorded as a sighting of it.
    if let Some((orig, kind, distance)) = same_story(tx, a, now - policy.window_ms)? {
        add_sighting(tx, orig, feed_id, &identity, a, kind, distance, now)?;
        item.id = orig;
        item.status = if kind == "exact" {
            ItemStatus::Duplicate
        } else {
            ItemStatus::NearDuplicate
        };
        item.duplicate_of = Some(orig);
        return Ok(item);
    }
    // 3. New.
    item.id = insert_article(tx, feed_id, &identity, a, policy, now)?;
    fts.push(item.id);
    item.topics = insert_matches(tx, item.id, &identity, a, policy, now, out)?;
    Ok(item)
}

/// The stored story this item is under another identity, as (article, sighting kind, distance):
/// same canonical link or same content hash (`exact`), else a near-duplicate within the window,
/// found through the MinHash keys and verified on the two texts (`near`, `dedup::Verdict`).
fn same_story(
    tx: &Connection,
    a: &Article,
    since: i64,
) -> rusqlite::Result<Option<(i64, &'static str, Option<i64>)>> {
    if let Some(orig) = exact_duplicate(tx, a)? {
        return Ok(Some((orig, "exact", None)));
    }
    Ok(near_duplicate(tx, a, since)?.map(|(orig, v)| {
        (
            orig,
            "near",
            Some(((1.0 - v.score()) * 100.0).round() as i64),
        )
    }))
}

/// Inserts a new article and returns its id.
fn insert_article(
    tx: &Connection,
    feed_id: i64,
    identity: &str,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
) -> rusqlite::Result<i64> {
    let page_status = policy.full_text.then_some("pending");
    let page_next_at = page_status.map(|_| now);
    let head: [&dyn ToSql; 3] = [&feed_id, &identity, &a.guid];
    let tail: [&dyn ToSql; 2] = [&page_status, &page_next_at];
    let content = content_params(a, now)?;
    tx.prepare_cached(
        "INSERT INTO articles (feed_id, identity, guid, link, canonical_link, title, text, html, lang, published_at,
             fetched_at, content_hash, simhash, band0, band1, band2, band3, page_status, page_next_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params_from_iter(
        head.into_iter()
            .chain(content.iter().map(|v| v as &dyn ToSql))
            .chain(tail),
    ))?;
    Ok(tx.last_insert_rowid())
}

/// How an item was seen before.
enum Seen {
    /// It is this article (id, content hash).
    Article(i64, String),
    /// It was recorded as a sighting of this article.
    Sighting(i64),
}

/// The item under its identity key, in one statement: stored before as an article, or as a
/// sighting; else a sighting recorded before items had keys (migration 0006) by the same feed
/// under the same link, which is this item's: it takes the key, and the item is not compared
/// again.
fn seen_before(
    tx: &Connection,
    identity: &str,
    feed_id: i64,
    a: &Article,
) -> rusqlite::Result<Option<Seen>> {
    let row: Option<(i64, Option<String>, Option<i64>)> = tx
        .prepare_cached(
            "SELECT id, content_hash, NULL FROM articles WHERE identity = ?1
             UNION ALL SELECT article_id, NULL, NULL FROM sightings WHERE item = ?1
             UNION ALL SELECT article_id, NULL, id FROM sightings
                 WHERE item IS NULL AND feed_id = ?2 AND link = ?3
             LIMIT 1",
        )?
        .query_row(params![identity, feed_id, a.link], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(id, hash, legacy)| match (hash, legacy) {
        (Some(hash), _) => Ok(Seen::Article(id, hash)),
        (None, None) => Ok(Seen::Sighting(id)),
        (None, Some(sighting)) => tx
            .prepare_cached("UPDATE sightings SET item = ?2 WHERE id = ?1")?
            .execute(params![sighting, identity])
            .map(|_| Seen::Sighting(id)),
    })
    .transpose()
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

/// The first stored article with the same canonical link (when it names one article), else the
/// first with the same content hash, in one statement.
fn exact_duplicate(tx: &Connection, a: &Article) -> rusqlite::Result<Option<i64>> {
    let link = a
        .canonical_link
        .as_deref()
        .filter(|l| dedup::specific_link(l));
    tx.prepare_cached(
        "SELECT id FROM (SELECT id FROM articles WHERE canonical_link = ?1 ORDER BY id LIMIT 1)
         UNION ALL SELECT id FROM (SELECT id FROM articles WHERE content_hash = ?2 ORDER BY id LIMIT 1)
         LIMIT 1",
    )?
    .query_row(params![link, a.content_hash], |r| r.get(0))
    .optional()
}

/// Candidates verified per item, most shared keys first.
const MAX_VERIFIED: usize = 6;

/// The stored article, fetched after `since`, that the article is a near-duplicate of: the best
/// verified candidate among those sharing a MinHash key.
fn near_duplicate(
    tx: &Connection,
    a: &Article,
    since: i64,
) -> rusqlite::Result<Option<(i64, dedup::Verdict)>> {
    let words = a.fingerprint.words;
    if words < dedup::SHORT_DUP_MIN_WORDS {
        return Ok(None);
    }
    let candidates = near_duplicate_candidates(tx, &a.fingerprint, since)?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let core = dedup::Core::of(&a.text);
    let mut best: Option<(i64, dedup::Verdict)> = None;
    for &(id, _) in candidates.iter().take(MAX_VERIFIED) {
        let text: String = tx
            .prepare_cached("SELECT text FROM articles WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?;
        let v = dedup::Verdict::of(&core, &dedup::Core::of(&text));
        if v.same_story(words) && best.is_none_or(|(_, b)| v.score() > b.score()) {
            best = Some((id, v));
        }
    }
    Ok(best)
}

/// Stored articles fetched after `since` that share at least one MinHash key with the
/// fingerprint, with how many keys they share: most first, then oldest first. Each of the four
/// key columns is probed with the fingerprint's `PROBES` smallest values of that function, one
/// `bandN = ?` arm per value (an index seek on `(bandN, fetched_at)` each, with no temporary
/// table for an `IN (...)` list), so the cost does not grow with the size of the store.
pub(super) fn near_duplicate_candidates(
    conn: &Connection,
    f: &dedup::Fingerprint,
    since: i64,
) -> rusqlite::Result<Vec<(i64, u32)>> {
    const ARMS: usize = dedup::BANDS * dedup::PROBES;
    const _: () = assert!(ARMS == 12, "one arm per (column, probe) below");
    let mut st = conn.prepare_cached(
        "SELECT id FROM articles WHERE band0 = ?1 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band0 = ?2 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band0 = ?3 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band1 = ?4 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band1 = ?5 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band1 = ?6 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band2 = ?7 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band2 = ?8 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band2 = ?9 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band3 = ?10 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band3 = ?11 AND fetched_at >= ?13
         UNION ALL SELECT id FROM articles WHERE band3 = ?12 AND fetched_at >= ?13",
    )?;
    // An absent probe (a text of fewer shingles) is NULL, which no key equals.
    let mut args = [None; ARMS + 1];
    for i in 0..dedup::BANDS {
        for (k, v) in f.probes(i).enumerate() {
            args[i * dedup::PROBES + k] = Some(v);
        }
    }
    args[ARMS] = Some(since);
    let ids = st
        .query_map(rusqlite::params_from_iter(args), |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(tally(ids))
}

/// Candidate ids (one per shared key) counted: each id with how many keys it shares, most first,
/// then oldest first. Both backends' near-duplicate lookups end here.
pub(super) fn tally(ids: impl IntoIterator<Item = i64>) -> Vec<(i64, u32)> {
    let mut found: Vec<(i64, u32)> = Vec::new();
    for id in ids {
        match found.iter_mut().find(|(f, _)| *f == id) {
            Some((_, n)) => *n += 1,
            None => found.push((id, 1)),
        }
    }
    found.sort_by_key(|&(id, n)| (std::cmp::Reverse(n), id));
    found
}

#[allow(clippy::too_many_arguments)]
fn add_sighting(
    tx: &Connection,
    article_id: i64,
    feed_id: i64,
    item: &str,
    a: &Article,
    kind: &str,
    distance: Option<i64>,
    now: i64,
) -> rusqlite::Result<()> {
    // A new feed carrying the story raises its source count.
    let known_feed: bool = tx
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM articles WHERE id = ?1 AND feed_id = ?2)
             OR EXISTS(SELECT 1 FROM sightings WHERE article_id = ?1 AND feed_id = ?2)",
        )?
        .query_row(params![article_id, feed_id], |r| r.get(0))?;
    let inserted = tx.prepare_cached(
        "INSERT OR IGNORE INTO sightings (article_id, feed_id, item, link, title, kind, distance, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?.execute(
        params![article_id, feed_id, item, a.link, a.title, kind, distance, now],
    )?;
    if inserted > 0 && !known_feed {
        tx.execute(
            "UPDATE articles SET sources = sources + 1 WHERE id = ?1",
            [article_id],
        )?;
    }
    Ok(())
}

/// Matches the article and stores matches it did not have yet, with one outbox row per sink.
/// Returns the topics newly matched.
pub(crate) fn insert_matches(
    tx: &Connection,
    article_id: i64,
    identity: &str,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
    out: &mut CommitOutcome,
) -> anyhow::Result<Vec<String>> {
    let mut topics = Vec::new();
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
        topics.push(m.topic);
    }
    Ok(topics)
}

/// A stable alert id: the same (article identity, topic, sink) always gives the same id.
pub fn alert_uid(identity: &str, topic: &str, sink: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(format!("{identity}\u{0}{topic}\u{0}{sink}").as_bytes());
    format!("nw-{h:032x}")
}
