//! Committing what one fetch produced: dedup decisions against the store, articles, sightings,
//! matches and the alert outbox, the feed's state and the fetch log, in one transaction.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
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
    pub max_distance: u32,
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

/// Minimum fingerprint words (`Article::fingerprint_words`) for a near-duplicate decision:
/// shorter texts carry too few shingles for their SimHash to say anything.
pub(super) const NEAR_DUP_MIN_WORDS: usize = 25;
/// Texts with fewer fingerprint words than `NEAR_DUP_MIN_WORDS` but at least this many are matched
/// only against the same words (SimHash distance 0, shingle similarity ≥ `SHORT_DUP_MIN_SIMILARITY`).
pub(super) const SHORT_DUP_MIN_WORDS: usize = 10;
/// Shingle-set Jaccard similarity a SimHash candidate needs to count as the same story.
pub(super) const NEAR_DUP_MIN_SIMILARITY: f64 = 0.5;
pub(super) const SHORT_DUP_MIN_SIMILARITY: f64 = 0.9;

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
        match item.status {
            ItemStatus::New => out.new += 1,
            ItemStatus::Updated => out.updated += 1,
            ItemStatus::Duplicate | ItemStatus::NearDuplicate => out.duplicates += 1,
            ItemStatus::Unchanged => {}
        }
        out.items.push(item);
    }
    let mut state = c.state.clone();
    state.got_new = out.new > 0;
    apply_state(tx, c.feed_id, &state)?;
    let mut log = c.log.clone();
    log.new_items = out.new;
    log.updated_items = out.updated;
    log.duplicates = out.duplicates;
    insert_log(tx, c.feed_id, &log)?;
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

    // 1. Same identity: unchanged, or updated in place (keeps its id).
    let existing: Option<(i64, String)> = tx
        .prepare_cached("SELECT id, content_hash FROM articles WHERE identity = ?1")?
        .query_row([&identity], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, hash)) = existing {
        item.id = id;
        if hash == a.content_hash {
            item.status = ItemStatus::Unchanged;
            return Ok(item);
        }
        let b = dedup::bands(a.simhash);
        // The update trigger rewrites the row's FTS entry: index pending new rows first.
        index_new(tx, fts)?;
        tx.prepare_cached(
            "UPDATE articles SET link = ?2, canonical_link = ?3, title = ?4, text = ?5, html = ?6, lang = ?7,
                published_at = coalesce(?8, published_at), updated_at = ?9, content_hash = ?10, simhash = ?11,
                band0 = ?12, band1 = ?13, band2 = ?14, band3 = ?15
             WHERE id = ?1",
        )?
        .execute(params![
                id,
                a.link,
                a.canonical_link,
                a.title,
                a.text,
                a.html,
                a.lang,
                a.published_at.map(|d| d.timestamp_millis()),
                now,
                a.content_hash,
                a.simhash as i64,
                b[0],
                b[1],
                b[2],
                b[3]
            ])?;
        item.status = ItemStatus::Updated;
        item.topics = insert_matches(tx, id, &identity, a, policy, now, out)?;
        return Ok(item);
    }

    // 2. The same story under another identity: same canonical link, or same content.
    let exact: Option<i64> = match &a.canonical_link {
        Some(l) if specific_link(l) => tx
            .prepare_cached(
                "SELECT id FROM articles WHERE canonical_link = ?1 ORDER BY id LIMIT 1",
            )?
            .query_row([l], |r| r.get(0))
            .optional()?,
        _ => None,
    };
    let exact = match exact {
        Some(id) => Some(id),
        None => tx
            .prepare_cached("SELECT id FROM articles WHERE content_hash = ?1 ORDER BY id LIMIT 1")?
            .query_row([&a.content_hash], |r| r.get(0))
            .optional()?,
    };
    if let Some(orig) = exact {
        add_sighting(tx, orig, feed_id, a, "exact", None, now)?;
        item.id = orig;
        item.status = ItemStatus::Duplicate;
        item.duplicate_of = Some(orig);
        return Ok(item);
    }

    // 3. A near-duplicate within the window, found through the SimHash band index and verified by
    //    shingle overlap. Short texts only match a copy of the same words (distance 0).
    let words = a.fingerprint_words;
    if words >= SHORT_DUP_MIN_WORDS {
        let (max_d, min_sim) = if words >= NEAR_DUP_MIN_WORDS {
            (policy.max_distance, NEAR_DUP_MIN_SIMILARITY)
        } else {
            (0, SHORT_DUP_MIN_SIMILARITY)
        };
        for (orig, dist) in near_duplicate_candidates(tx, a.simhash, now - policy.window_ms, max_d)?
        {
            let text: String = tx
                .prepare_cached("SELECT text FROM articles WHERE id = ?1")?
                .query_row([orig], |r| r.get(0))?;
            if dedup::similarity(&a.text, &text) < min_sim {
                continue;
            }
            add_sighting(tx, orig, feed_id, a, "near", Some(dist), now)?;
            item.id = orig;
            item.status = ItemStatus::NearDuplicate;
            item.duplicate_of = Some(orig);
            return Ok(item);
        }
    }

    // 4. New.
    let b = dedup::bands(a.simhash);
    let page_status = policy.full_text.then_some("pending");
    tx.prepare_cached(
        "INSERT INTO articles (feed_id, identity, guid, link, canonical_link, title, text, html, lang, published_at,
             fetched_at, content_hash, simhash, band0, band1, band2, band3, page_status, page_next_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
            feed_id,
            identity,
            a.guid,
            a.link,
            a.canonical_link,
            a.title,
            a.text,
            a.html,
            a.lang,
            a.published_at.map(|d| d.timestamp_millis()),
            now,
            a.content_hash,
            a.simhash as i64,
            b[0],
            b[1],
            b[2],
            b[3],
            page_status,
            page_status.map(|_| now)
        ])?;
    let id = tx.last_insert_rowid();
    fts.push(id);
    item.id = id;
    item.topics = insert_matches(tx, id, &identity, a, policy, now, out)?;
    Ok(item)
}

/// Stored articles within `max_distance` of `simhash`, fetched after `since`, closest (then oldest)
/// first. Only rows sharing a band are examined, so the cost does not grow with the size of the
/// store: for `max_distance` ≤ 3 one of the four 16-bit bands is equal (pigeonhole); for 4..=7 one
/// band differs in at most one bit, so each band is probed with its 16 one-bit neighbours (68 index
/// seeks). Larger distances are clamped to 7.
pub(super) fn near_duplicate_candidates(
    conn: &Connection,
    simhash: u64,
    since: i64,
    max_distance: u32,
) -> rusqlite::Result<Vec<(i64, u32)>> {
    let max_distance = max_distance.min(7);
    let b = dedup::bands(simhash);
    let mut found: Vec<(i64, u32)> = Vec::new();
    // Keeps the rows within `max_distance`, each id once.
    let mut add =
        |rows: &mut dyn Iterator<Item = rusqlite::Result<(i64, i64)>>| -> rusqlite::Result<()> {
            for row in rows {
                let (id, h) = row?;
                let d = dedup::hamming(simhash, h as u64);
                if d <= max_distance && !found.iter().any(|(f, _)| *f == id) {
                    found.push((id, d));
                }
            }
            Ok(())
        };
    let row = |r: &rusqlite::Row| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?));
    if max_distance <= 3 {
        // The common case in one statement: four index seeks, one step loop.
        let mut st = conn.prepare_cached(
            "SELECT id, simhash FROM articles WHERE band0 = ?1 AND fetched_at >= ?5
             UNION ALL SELECT id, simhash FROM articles WHERE band1 = ?2 AND fetched_at >= ?5
             UNION ALL SELECT id, simhash FROM articles WHERE band2 = ?3 AND fetched_at >= ?5
             UNION ALL SELECT id, simhash FROM articles WHERE band3 = ?4 AND fetched_at >= ?5",
        )?;
        add(&mut st.query_map(params![b[0], b[1], b[2], b[3], since], row)?)?;
    } else {
        for (i, band) in b.iter().enumerate() {
            let probes = dedup::band_probes(*band);
            let marks = vec!["?"; probes.len()].join(",");
            let sql = format!(
                "SELECT id, simhash FROM articles WHERE band{i} IN ({marks}) AND fetched_at >= ?"
            );
            let mut st = conn.prepare_cached(&sql)?;
            let args = probes
                .iter()
                .map(|p| p as &dyn rusqlite::ToSql)
                .chain(std::iter::once(&since as &dyn rusqlite::ToSql));
            add(&mut st.query_map(rusqlite::params_from_iter(args), row)?)?;
        }
    }
    found.sort_by_key(|&(id, d)| (d, id));
    Ok(found)
}

/// Whether a canonical link is specific enough to identify one article: a site's front page (no
/// path, no query) is the link of every item in some feeds.
pub(super) fn specific_link(l: &str) -> bool {
    if let Some((_, rest)) = crate::clean::url::split_canonical(l) {
        let (path, query) = rest
            .split_once('?')
            .map_or((rest, None), |(p, q)| (p, Some(q)));
        return !path.trim_matches('/').is_empty() || query.is_some();
    }
    match url::Url::parse(l) {
        Ok(u) => !u.path().trim_matches('/').is_empty() || u.query().is_some(),
        Err(_) => !l.is_empty(),
    }
}

fn add_sighting(
    tx: &Connection,
    article_id: i64,
    feed_id: i64,
    a: &Article,
    kind: &str,
    distance: Option<u32>,
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
        "INSERT OR IGNORE INTO sightings (article_id, feed_id, link, title, kind, distance, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?.execute(
        params![article_id, feed_id, a.link, a.title, kind, distance, now],
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
