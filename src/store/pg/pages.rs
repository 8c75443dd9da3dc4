//! Full-text pages on PostgreSQL: claimed with `FOR UPDATE SKIP LOCKED` and a lease, so of several
//! daemons one fetches each page; a stored page's text is matched again in the same transaction
//! (`commit::insert_matches`, with its outbox rows).

use super::super::{MatchPolicy, PageOutcome, PendingPage, Result, matching_text};
use super::Pg;
use super::commit::{Cached, insert_matches};
use crate::model::Article;
use crate::util::now_ms;

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
        let mut cached = Cached { tx: &mut tx, stmts };
        let m = insert_matches(&mut cached, id, &identity, &article, policy, now)?;
        tx.commit()?;
        Ok(PageOutcome {
            stored: true,
            topics: m.topics,
            alerts: m.alerts,
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
