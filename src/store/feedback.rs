//! Readers' marks on alerts (migration 0007): `alerts mark`, the dashboard's mark form,
//! `topics test --feedback` and `topics export-labels` read and write them only here (SQLite) and
//! in `pg::marks` (PostgreSQL). The statements are the same on both (the `SQL_*` constants, `?N`
//! placeholders that `pg::dollars` writes as `$N`); only reading the rows differs.
//!
//! Invariants:
//! - A mark belongs to the match (article, topic), not to one outbox row: every alert of a match
//!   (one per sink) names the same mark, and marking any of them replaces it. The alert that was
//!   marked and the time of the mark are kept with it.
//! - `mark` resolves the alert and writes the mark in one IMMEDIATE transaction; an unknown alert
//!   writes nothing.

use std::collections::HashMap;

use super::Result;
use super::sql::{Cols, Db, FromRow, args};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

/// A reader's judgement of "this story for this topic".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Relevant,
    Irrelevant,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Relevant => "relevant",
            Label::Irrelevant => "irrelevant",
        }
    }

    pub fn parse(s: &str) -> Option<Label> {
        match s {
            "relevant" => Some(Label::Relevant),
            "irrelevant" => Some(Label::Irrelevant),
            _ => None,
        }
    }
}

impl<'a> postgres::types::FromSql<'a> for Label {
    fn from_sql(
        ty: &postgres::types::Type,
        raw: &'a [u8],
    ) -> std::result::Result<Label, Box<dyn std::error::Error + Sync + Send>> {
        let s = <&str as postgres::types::FromSql>::from_sql(ty, raw)?;
        Label::parse(s).ok_or_else(|| format!("not a feedback label: {s:?}").into())
    }
    fn accepts(ty: &postgres::types::Type) -> bool {
        <&str as postgres::types::FromSql>::accepts(ty)
    }
}

impl rusqlite::types::FromSql for Label {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Label> {
        let s = v.as_str()?;
        Label::parse(s).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("not a feedback label: {s:?}").into())
        })
    }
}

/// A reader's mark of an alert's match, as `Write::mark_alert` records it.
#[derive(Debug, Clone, Copy)]
pub struct NewMark<'a> {
    pub label: Label,
    /// Where the mark came from (`cli`, `web`).
    pub via: &'a str,
    /// When, ms.
    pub at: i64,
}

/// What `mark` did.
#[derive(Debug, Clone, Serialize)]
pub struct Marked {
    pub alert_id: i64,
    pub alert_uid: String,
    pub match_id: i64,
    pub article_id: i64,
    pub topic: String,
    pub label: Label,
    /// The mark this one replaced, if the match was marked before.
    pub previous: Option<Label>,
    pub marked_at: i64,
}

/// The alert `key` names (row id ?1 or uid ?2), its match, article, topic and current mark.
pub(super) const SQL_FIND_ALERT: &str =
    "SELECT al.id, al.uid, al.match_id, m.article_id, m.topic, f.label
     FROM alerts al JOIN matches m ON m.id = al.match_id
     LEFT JOIN feedback f ON f.match_id = al.match_id
     WHERE al.id = ?1 OR al.uid = ?2 ORDER BY al.id LIMIT 1";
/// Writes (match ?1, label ?2, alert ?3, via ?4, time ?5), replacing the match's mark.
pub(super) const SQL_UPSERT_MARK: &str =
    "INSERT INTO feedback (match_id, label, alert_id, via, marked_at) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (match_id) DO UPDATE SET label = excluded.label, alert_id = excluded.alert_id,
         via = excluded.via, marked_at = excluded.marked_at";
/// The mark of the match of alert ?1.
pub(super) const SQL_ALERT_LABEL: &str =
    "SELECT f.label FROM alerts al JOIN feedback f ON f.match_id = al.match_id WHERE al.id = ?1";
/// Each alerted match of article ?1: (match id, first alert id, mark).
pub(super) const SQL_ARTICLE_MARKS: &str =
    "SELECT m.id, MIN(al.id), f.label FROM matches m JOIN alerts al ON al.match_id = m.id
     LEFT JOIN feedback f ON f.match_id = m.id WHERE m.article_id = ?1 GROUP BY m.id, f.label";
/// The marked matches of topic ?1 marked since ?2, oldest mark first.
pub(super) const SQL_MARKED_MATCHES: &str =
    "SELECT m.id, f.alert_id, m.article_id, f.label, f.marked_at, m.terms, m.snippet,
            a.title, a.text, a.page_text, a.lang, a.link
     FROM feedback f JOIN matches m ON m.id = f.match_id JOIN articles a ON a.id = m.article_id
     WHERE m.topic = ?1 AND f.marked_at >= ?2 ORDER BY f.marked_at, m.id";
/// Every topic of every article with a mark: (id, title, text, page text, lang, feed, link,
/// topic, mark), by article then topic.
pub(super) const SQL_LABELLED: &str =
    "SELECT a.id, a.title, a.text, a.page_text, a.lang, coalesce(fe.name, fe.title), a.link,
            m.topic, f.label
     FROM articles a
     JOIN matches m ON m.article_id = a.id
     LEFT JOIN feedback f ON f.match_id = m.id
     LEFT JOIN feeds fe ON fe.id = a.feed_id
     WHERE a.id IN (SELECT m2.article_id FROM feedback f2 JOIN matches m2 ON m2.id = f2.match_id)
     ORDER BY a.id, m.topic";
/// The topics with at least one mark.
pub(super) const SQL_MARKED_TOPICS: &str =
    "SELECT DISTINCT m.topic FROM feedback f JOIN matches m ON m.id = f.match_id ORDER BY m.topic";

/// Marks the match of the alert `key` (a row id or an alert uid). `via` says where the mark came
/// from (`cli`, `web`). `None` when there is no such alert.
pub fn mark(conn: &mut Connection, key: &str, mark: &NewMark) -> rusqlite::Result<Option<Marked>> {
    let NewMark {
        label,
        via,
        at: now,
    } = *mark;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id: Option<i64> = key.parse().ok();
    let found = tx
        .query_row(SQL_FIND_ALERT, params![id, key], |r| {
            Ok(Marked {
                alert_id: r.get(0)?,
                alert_uid: r.get(1)?,
                match_id: r.get(2)?,
                article_id: r.get(3)?,
                topic: r.get(4)?,
                label,
                previous: r.get(5)?,
                marked_at: now,
            })
        })
        .optional()?;
    let Some(m) = found else {
        return Ok(None);
    };
    tx.execute(
        SQL_UPSERT_MARK,
        params![m.match_id, label.as_str(), m.alert_id, via, now],
    )?;
    tx.commit()?;
    Ok(Some(m))
}

/// The marks of these alerts' matches, by alert id (alerts of unmarked matches are left out).
pub(super) fn labels_of_alerts(db: &impl Db, alert_ids: &[i64]) -> Result<HashMap<i64, Label>> {
    let mut out = HashMap::new();
    for &id in alert_ids {
        let found: Vec<Option<Label>> = db.cached(SQL_ALERT_LABEL, &args![id])?;
        if let Some(l) = found.into_iter().next().flatten() {
            out.insert(id, l);
        }
    }
    Ok(out)
}

/// For each match of an article that raised an alert: its first alert (the one a form marks) and
/// its mark, by match id.
pub(super) fn alerts_of_article(
    db: &impl Db,
    article_id: i64,
) -> Result<HashMap<i64, (i64, Option<Label>)>> {
    let rows: Vec<(i64, i64, Option<Label>)> = db.cached(SQL_ARTICLE_MARKS, &args![article_id])?;
    Ok(rows.into_iter().map(|(m, a, l)| (m, (a, l))).collect())
}

/// A marked match of one topic, with what the matcher needs to run again over its article.
#[derive(Debug, Clone)]
pub struct MarkedMatch {
    pub match_id: i64,
    /// The alert the reader marked (`None` if that outbox row is gone).
    pub alert_id: Option<i64>,
    pub article_id: i64,
    pub label: Label,
    pub marked_at: i64,
    /// The terms that fired the match, and its snippet (`[[marked]]`).
    pub terms: Vec<String>,
    pub snippet: String,
    pub title: String,
    /// The feed text, then the full-text page's text when it was fetched.
    pub text: String,
    pub lang: Option<String>,
    pub link: Option<String>,
}

impl FromRow for MarkedMatch {
    fn from_row(r: &impl Cols) -> Result<MarkedMatch> {
        let terms: String = r.get(5)?;
        let text: String = r.get(8)?;
        let page: Option<String> = r.get(9)?;
        Ok(MarkedMatch {
            match_id: r.get(0)?,
            alert_id: r.get(1)?,
            article_id: r.get(2)?,
            label: r.get(3)?,
            marked_at: r.get(4)?,
            terms: serde_json::from_str(&terms).unwrap_or_default(),
            snippet: r.get(6)?,
            title: r.get(7)?,
            text: super::matching_text(&text, page.as_deref().unwrap_or("")),
            lang: r.get(10)?,
            link: r.get(11)?,
        })
    }
}

/// The marked matches of `topic` whose mark is at least `since_ms` old (all with `None`), in the
/// order they were marked.
pub(super) fn marked_matches(
    db: &impl Db,
    topic: &str,
    since_ms: Option<i64>,
) -> Result<Vec<MarkedMatch>> {
    db.rows(
        SQL_MARKED_MATCHES,
        &args![topic, since_ms.unwrap_or(i64::MIN)],
    )
}

/// An article with at least one marked match, for `topics export-labels`.
#[derive(Debug, Clone)]
pub struct LabelledArticle {
    pub article_id: i64,
    pub title: String,
    /// The feed text, then the full-text page's text when it was fetched.
    pub text: String,
    pub lang: Option<String>,
    /// The feed's name or title; else the host of the link is the caller's to find.
    pub feed: Option<String>,
    pub link: Option<String>,
    /// Every topic that matched the article, with its mark (`None`: matched, not marked).
    pub topics: Vec<(String, Option<Label>)>,
}

impl FromRow for LabelledArticle {
    /// A row of `SQL_LABELLED`: the article with one topic and that topic's mark.
    fn from_row(r: &impl Cols) -> Result<LabelledArticle> {
        let text: String = r.get(2)?;
        let page: Option<String> = r.get(3)?;
        Ok(LabelledArticle {
            article_id: r.get(0)?,
            title: r.get(1)?,
            text: super::matching_text(&text, page.as_deref().unwrap_or("")),
            lang: r.get(4)?,
            feed: r.get(5)?,
            link: r.get(6)?,
            topics: vec![(r.get(7)?, r.get(8)?)],
        })
    }
}

/// Every article with at least one mark, oldest article first.
pub(super) fn labelled_articles(db: &impl Db) -> Result<Vec<LabelledArticle>> {
    let mut out: Vec<LabelledArticle> = Vec::new();
    for article in db.rows::<LabelledArticle>(SQL_LABELLED, &[])? {
        match out.last_mut() {
            Some(last) if last.article_id == article.article_id => {
                last.topics.extend(article.topics)
            }
            _ => out.push(article),
        }
    }
    Ok(out)
}

/// The topics that have at least one mark (a topic since removed from the config included).
pub(super) fn marked_topics(db: &impl Db) -> Result<Vec<String>> {
    db.rows(SQL_MARKED_TOPICS, &[])
}
