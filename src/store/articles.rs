//! Committing what one fetch produced: dedup decisions against the store, articles, sightings,
//! matches and the alert outbox, the feed's state and the fetch log, in one transaction.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::Store;
use super::feeds::{FeedState, FetchLog, apply_state, insert_log};
use crate::dedup;
use crate::model::Article;
use crate::topics::TopicMatch;
use crate::util::now_ms;

/// Everything one fetch of one feed produced.
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

/// Minimum words of text for a near-duplicate decision: shorter texts carry too few shingles for
/// their SimHash to say anything.
const NEAR_DUP_MIN_WORDS: usize = 25;

impl Store {
    /// Commits one fetch: dedup, store, match, outbox, feed state, fetch log, in ONE transaction.
    pub fn commit_fetch(&mut self, c: FetchCommit, policy: &MatchPolicy) -> anyhow::Result<CommitOutcome> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = CommitOutcome::default();
        let now = now_ms();
        for a in &c.articles {
            let item = store_article(&tx, c.feed_id, a, policy, now, &mut out)?;
            match item.status {
                ItemStatus::New => out.new += 1,
                ItemStatus::Updated => out.updated += 1,
                ItemStatus::Duplicate | ItemStatus::NearDuplicate => out.duplicates += 1,
                ItemStatus::Unchanged => {}
            }
            out.items.push(item);
        }
        let mut state = c.state;
        state.got_new = out.new > 0;
        apply_state(&tx, c.feed_id, &state)?;
        let mut log = c.log;
        log.new_items = out.new;
        log.updated_items = out.updated;
        log.duplicates = out.duplicates;
        insert_log(&tx, c.feed_id, &log)?;
        tx.commit()?;
        Ok(out)
    }
}

fn store_article(
    tx: &Connection,
    feed_id: i64,
    a: &Article,
    policy: &MatchPolicy,
    now: i64,
    out: &mut CommitOutcome,
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
        .query_row("SELECT id, content_hash FROM articles WHERE identity = ?1", [&identity], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((id, hash)) = existing {
        item.id = id;
        if hash == a.content_hash {
            item.status = ItemStatus::Unchanged;
            return Ok(item);
        }
        let b = dedup::bands(a.simhash);
        tx.execute(
            "UPDATE articles SET link = ?2, canonical_link = ?3, title = ?4, text = ?5, html = ?6, lang = ?7,
                published_at = coalesce(?8, published_at), updated_at = ?9, content_hash = ?10, simhash = ?11,
                band0 = ?12, band1 = ?13, band2 = ?14, band3 = ?15
             WHERE id = ?1",
            params![
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
            ],
        )?;
        item.status = ItemStatus::Updated;
        item.topics = insert_matches(tx, id, &identity, a, policy, now, out)?;
        return Ok(item);
    }

    // 2. The same story under another identity: same canonical link, or same content.
    let exact: Option<i64> = match &a.canonical_link {
        Some(l) => tx
            .query_row("SELECT id FROM articles WHERE canonical_link = ?1 ORDER BY id LIMIT 1", [l], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let exact = match exact {
        Some(id) => Some(id),
        None => tx
            .query_row("SELECT id FROM articles WHERE content_hash = ?1 ORDER BY id LIMIT 1", [&a.content_hash], |r| {
                r.get(0)
            })
            .optional()?,
    };
    if let Some(orig) = exact {
        add_sighting(tx, orig, feed_id, a, "exact", None, now)?;
        item.id = orig;
        item.status = ItemStatus::Duplicate;
        item.duplicate_of = Some(orig);
        return Ok(item);
    }

    // 3. A near-duplicate within the window, found through the SimHash band index.
    if a.text.split_whitespace().count() >= NEAR_DUP_MIN_WORDS {
        if let Some((orig, dist)) = find_near_duplicate(tx, a.simhash, now - policy.window_ms, policy.max_distance)? {
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
    tx.execute(
        "INSERT INTO articles (feed_id, identity, guid, link, canonical_link, title, text, html, lang, published_at,
             fetched_at, content_hash, simhash, band0, band1, band2, band3, page_status, page_next_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        params![
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
        ],
    )?;
    let id = tx.last_insert_rowid();
    item.id = id;
    item.topics = insert_matches(tx, id, &identity, a, policy, now, out)?;
    Ok(item)
}

/// The closest stored article within `max_distance`, fetched after `since`. Only rows sharing a
/// 16-bit band are examined (pigeonhole: distance ≤ 3 means one of four bands is equal), so the
/// cost does not grow with the size of the store.
pub fn find_near_duplicate(conn: &Connection, simhash: u64, since: i64, max_distance: u32) -> rusqlite::Result<Option<(i64, u32)>> {
    let b = dedup::bands(simhash);
    let mut best: Option<(i64, u32)> = None;
    for (i, band) in b.iter().enumerate() {
        let sql = format!("SELECT id, simhash FROM articles WHERE band{i} = ?1 AND fetched_at >= ?2");
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![band, since], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (id, h) = row?;
            let d = dedup::hamming(simhash, h as u64);
            if d <= max_distance && best.is_none_or(|(bid, bd)| d < bd || (d == bd && id < bid)) {
                best = Some((id, d));
            }
        }
    }
    Ok(best)
}

fn add_sighting(tx: &Connection, article_id: i64, feed_id: i64, a: &Article, kind: &str, distance: Option<u32>, now: i64) -> rusqlite::Result<()> {
    // A new feed carrying the story raises its source count.
    let known_feed: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM articles WHERE id = ?1 AND feed_id = ?2)
             OR EXISTS(SELECT 1 FROM sightings WHERE article_id = ?1 AND feed_id = ?2)",
        params![article_id, feed_id],
        |r| r.get(0),
    )?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO sightings (article_id, feed_id, link, title, kind, distance, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![article_id, feed_id, a.link, a.title, kind, distance, now],
    )?;
    if inserted > 0 && !known_feed {
        tx.execute("UPDATE articles SET sources = sources + 1 WHERE id = ?1", [article_id])?;
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
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO matches (article_id, topic, terms, snippet, matched_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![article_id, m.topic, serde_json::to_string(&m.terms)?, m.snippet, now],
        )?;
        if inserted == 0 {
            continue; // matched this topic before: no second alert
        }
        let match_id = tx.last_insert_rowid();
        for sink in (policy.sinks_for)(&m.topic) {
            let uid = alert_uid(identity, &m.topic, &sink);
            out.alerts += tx.execute(
                "INSERT OR IGNORE INTO alerts (uid, match_id, topic, sink, status, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
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
