//! Readers' marks on PostgreSQL (migration postgres/0003): the statements of `store::feedback`,
//! read with this driver. A mark resolves its alert and is written in one transaction; the
//! alert's row is locked (`FOR UPDATE` of the match) so two marks of one match at once leave
//! the later one.

use std::collections::HashMap;

use postgres::Row;

use super::super::feedback::{
    SQL_ALERT_LABEL, SQL_ARTICLE_MARKS, SQL_FIND_ALERT, SQL_LABELLED, SQL_MARKED_MATCHES,
    SQL_MARKED_TOPICS, SQL_UPSERT_MARK,
};
use super::super::{Label, LabelledArticle, Marked, MarkedMatch, Result, matching_text};
use super::{Pg, dollars};

fn label(r: &Row, i: usize) -> Option<Label> {
    r.get::<_, Option<String>>(i)
        .as_deref()
        .and_then(Label::parse)
}

impl Pg {
    pub(super) fn mark(
        &mut self,
        key: &str,
        label_: Label,
        via: &str,
        now: i64,
    ) -> Result<Option<Marked>> {
        let mut tx = self.cm().transaction()?;
        let id: Option<i64> = key.parse().ok();
        let Some(r) = tx.query_opt(&dollars(SQL_FIND_ALERT), &[&id, &key])? else {
            return Ok(None);
        };
        let m = Marked {
            alert_id: r.get(0),
            alert_uid: r.get(1),
            match_id: r.get(2),
            article_id: r.get(3),
            topic: r.get(4),
            label: label_,
            previous: label(&r, 5),
            marked_at: now,
        };
        tx.execute(
            &dollars(SQL_UPSERT_MARK),
            &[&m.match_id, &label_.as_str(), &m.alert_id, &via, &now],
        )?;
        tx.commit()?;
        Ok(Some(m))
    }

    pub(super) fn alert_labels(&self, alert_ids: &[i64]) -> Result<HashMap<i64, Label>> {
        let mut c = self.c();
        let st = c.prepare(&dollars(SQL_ALERT_LABEL))?;
        let mut out = HashMap::new();
        for &id in alert_ids {
            if let Some(l) = c.query_opt(&st, &[&id])?.and_then(|r| label(&r, 0)) {
                out.insert(id, l);
            }
        }
        Ok(out)
    }

    pub(super) fn article_alert_marks(
        &self,
        article_id: i64,
    ) -> Result<HashMap<i64, (i64, Option<Label>)>> {
        Ok(self
            .c()
            .query(&dollars(SQL_ARTICLE_MARKS), &[&article_id])?
            .iter()
            .map(|r| (r.get(0), (r.get(1), label(r, 2))))
            .collect())
    }

    pub(super) fn marked_matches(
        &self,
        topic: &str,
        since_ms: Option<i64>,
    ) -> Result<Vec<MarkedMatch>> {
        Ok(self
            .c()
            .query(
                &dollars(SQL_MARKED_MATCHES),
                &[&topic, &since_ms.unwrap_or(i64::MIN)],
            )?
            .iter()
            .filter_map(|r| {
                let terms: String = r.get(5);
                let text: String = r.get(8);
                let page: Option<String> = r.get(9);
                Some(MarkedMatch {
                    match_id: r.get(0),
                    alert_id: r.get(1),
                    article_id: r.get(2),
                    label: label(r, 3)?,
                    marked_at: r.get(4),
                    terms: serde_json::from_str(&terms).unwrap_or_default(),
                    snippet: r.get(6),
                    title: r.get(7),
                    text: matching_text(&text, page.as_deref().unwrap_or("")),
                    lang: r.get(10),
                    link: r.get(11),
                })
            })
            .collect())
    }

    pub(super) fn labelled_articles(&self) -> Result<Vec<LabelledArticle>> {
        let mut out: Vec<LabelledArticle> = Vec::new();
        for r in self.c().query(SQL_LABELLED, &[])? {
            let id: i64 = r.get(0);
            let topic: String = r.get(7);
            let mark = label(&r, 8);
            if let Some(last) = out.last_mut()
                && last.article_id == id
            {
                last.topics.push((topic, mark));
                continue;
            }
            let text: String = r.get(2);
            let page: Option<String> = r.get(3);
            out.push(LabelledArticle {
                article_id: id,
                title: r.get(1),
                text: matching_text(&text, page.as_deref().unwrap_or("")),
                lang: r.get(4),
                feed: r.get(5),
                link: r.get(6),
                topics: vec![(topic, mark)],
            });
        }
        Ok(out)
    }

    pub(super) fn marked_topics(&self) -> Result<Vec<String>> {
        Ok(self
            .c()
            .query(SQL_MARKED_TOPICS, &[])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
}
