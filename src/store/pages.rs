//! Full-text page fetches: picking due pending pages, storing an extracted page with the matches
//! it newly makes (and their outbox alerts) in one transaction, and recording failures with a
//! retry time or a final `failed` status.
//!
//! Invariants:
//! - Only rows with `page_status = 'pending'` are picked; picking leases them (pushes
//!   `page_next_at` forward by the lease), so a second picker or a restarted daemon does not fetch a
//!   page twice at once, and a crash mid-fetch only delays the page by the lease.
//! - A page result lands once: `page_done` / `page_failed` only touch rows still pending.
//! - The feed text (`articles.text`) is never changed here; the page text goes in `page_text`.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::articles::{MatchPolicy, insert_matches};
use super::sqlite::Sqlite;
use crate::model::Article;

/// An article whose page is due for fetching.
#[derive(Debug, Clone)]
pub struct PendingPage {
    pub id: i64,
    pub feed_id: Option<i64>,
    /// The link to fetch (the feed's link, else the canonical one).
    pub link: String,
    /// Fetch attempts made before this one.
    pub attempts: u32,
}

/// An extracted page to store (`Write::page_done`).
#[derive(Debug, Clone, Copy)]
pub struct PageText<'a> {
    /// The article's id.
    pub id: i64,
    pub title: Option<&'a str>,
    pub text: &'a str,
}

/// What storing a page did.
#[derive(Debug, Clone, Default)]
pub struct PageOutcome {
    /// False when the row was no longer pending (already done, failed or deleted).
    pub stored: bool,
    /// Topics the page text newly matched.
    pub topics: Vec<String>,
    pub alerts: u32,
}

impl Sqlite {
    /// Up to `limit` pending pages due at `now`, oldest first, leased until `now + lease_ms`.
    /// Pending articles without any link are marked failed on the way.
    pub fn claim_due_pages(
        &mut self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> anyhow::Result<Vec<PendingPage>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE articles SET page_status = 'failed', page_error = 'the article has no link'
             WHERE page_status = 'pending' AND page_next_at <= ?1 AND coalesce(link, canonical_link) IS NULL",
            [now],
        )?;
        let pages = {
            let mut st = tx.prepare_cached(
                "SELECT id, feed_id, coalesce(link, canonical_link), page_attempts FROM articles
                 WHERE page_status = 'pending' AND page_next_at <= ?1 ORDER BY page_next_at, id LIMIT ?2",
            )?;
            let rows = st.query_map(params![now, limit as i64], |r| {
                Ok(PendingPage {
                    id: r.get(0)?,
                    feed_id: r.get(1)?,
                    link: r.get(2)?,
                    attempts: r.get::<_, i64>(3)? as u32,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for p in &pages {
            tx.execute(
                "UPDATE articles SET page_next_at = ?2 WHERE id = ?1",
                params![p.id, now + lease_ms],
            )?;
        }
        tx.commit()?;
        Ok(pages)
    }

    /// Stores an extracted page and matches the article again on title + feed text + page text;
    /// new matches and their outbox alerts go in the same transaction.
    pub fn page_done(
        &mut self,
        page: &PageText,
        policy: &MatchPolicy,
    ) -> anyhow::Result<PageOutcome> {
        let PageText {
            id,
            title: page_title,
            text: page_text,
        } = *page;
        let now = crate::util::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let updated = tx.execute(
            "UPDATE articles SET page_title = ?2, page_text = ?3, page_status = 'done', page_error = NULL,
                 page_attempts = page_attempts + 1, page_next_at = NULL
             WHERE id = ?1 AND page_status = 'pending'",
            params![id, page_title, page_text],
        )?;
        if updated == 0 {
            return Ok(PageOutcome::default());
        }
        let row = tx
            .query_row(
                "SELECT identity, guid, link, canonical_link, title, text, lang, content_hash
                 FROM articles WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Article {
                            guid: r.get(1)?,
                            link: r.get(2)?,
                            canonical_link: r.get(3)?,
                            title: r.get(4)?,
                            text: r.get(5)?,
                            lang: r.get(6)?,
                            content_hash: r.get(7)?,
                            ..Default::default()
                        },
                    ))
                },
            )
            .optional()?;
        let mut out = PageOutcome {
            stored: true,
            ..Default::default()
        };
        if let Some((identity, mut article)) = row {
            article.text = matching_text(&article.text, page_text);
            let m = insert_matches(&tx, id, &identity, &article, policy, now)?;
            (out.topics, out.alerts) = (m.topics, m.alerts);
        }
        tx.commit()?;
        Ok(out)
    }

    /// Records a failed attempt: with `retry_at`, the page stays pending until then; without it
    /// (attempts exhausted, or a permanent failure) it is marked `failed`.
    pub fn page_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> anyhow::Result<bool> {
        let n = match retry_at {
            Some(at) => self.conn.execute(
                "UPDATE articles SET page_attempts = page_attempts + 1, page_next_at = ?3, page_error = ?2
                 WHERE id = ?1 AND page_status = 'pending'",
                params![id, error, at],
            )?,
            None => self.conn.execute(
                "UPDATE articles SET page_attempts = page_attempts + 1, page_next_at = NULL, page_error = ?2,
                     page_status = 'failed'
                 WHERE id = ?1 AND page_status = 'pending'",
                params![id, error],
            )?,
        };
        Ok(n > 0)
    }
}

/// The text the matcher sees once the page is in: the feed text, then the page text (the feed's
/// teaser is usually the page's first paragraph; matching is unaffected by the repeat).
pub fn matching_text(feed_text: &str, page_text: &str) -> String {
    match (feed_text.trim().is_empty(), page_text.trim().is_empty()) {
        (true, _) => page_text.to_string(),
        (_, true) => feed_text.to_string(),
        _ => format!("{feed_text}\n\n{page_text}"),
    }
}
