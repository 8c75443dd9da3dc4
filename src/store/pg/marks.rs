//! Readers' marks on PostgreSQL (migration postgres/0003): writing one, with the statements of
//! `store::feedback` (its reads run on both backends). A mark resolves its alert and is written
//! in one transaction; the
//! alert's row is locked (`FOR UPDATE` of the match) so two marks of one match at once leave
//! the later one.

use postgres::Row;

use super::super::feedback::{SQL_FIND_ALERT, SQL_UPSERT_MARK};
use super::super::{Label, Marked, NewMark, Result};
use super::{Pg, dollars};

fn label(r: &Row, i: usize) -> Option<Label> {
    r.get::<_, Option<String>>(i)
        .as_deref()
        .and_then(Label::parse)
}

impl Pg {
    pub(super) fn mark(&mut self, key: &str, mark: &NewMark) -> Result<Option<Marked>> {
        let NewMark {
            label: label_,
            via,
            at: now,
        } = *mark;
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
}
