//! WebSub subscriptions on PostgreSQL: the SQL of `store::websub`, same rows and meaning.

use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::super::Result;
use super::super::websub::{
    ACTIVATE, ACTIVE, Activation, CLAIM, DELETE, DUE, INSERT, ORPHAN, POLL_FLOOR, SET, SUB_COLS,
    SUB_FROM, SubRequest, SubState, Subscription, WebSubStore,
};
use super::Pg;
use crate::util::now_ms;

fn sub_from_row(r: &Row) -> Subscription {
    Subscription {
        id: r.get(0),
        feed_id: r.get(1),
        feed_url: r.get(2),
        hub: r.get(3),
        topic: r.get(4),
        secret: r.get(5),
        state: SubState::parse(r.get(6)),
        lease_until: r.get(7),
        next_at: r.get(8),
    }
}

fn get(c: &mut impl GenericClient, clause: &str, key: i64) -> Result<Option<Subscription>> {
    Ok(c.query_opt(
        &format!("SELECT {SUB_COLS} FROM {SUB_FROM} WHERE {clause} = $1"),
        &[&key],
    )?
    .map(|r| sub_from_row(&r)))
}

impl WebSubStore for Pg {
    fn websub_get(&mut self, id: i64) -> Result<Option<Subscription>> {
        get(self.cm(), "s.id", id)
    }

    fn websub_request(&mut self, r: &SubRequest) -> Result<(Subscription, bool)> {
        let mut tx = self.cm().transaction()?;
        // The feed row locked: two daemons discovering the same hub at once make one request.
        tx.execute(
            "SELECT 1 FROM feeds WHERE id = $1 FOR UPDATE",
            &[&r.feed_id],
        )?;
        if let Some(s) = get(&mut tx, "s.feed_id", r.feed_id)? {
            if s.hub == r.hub && s.topic == r.topic {
                return Ok((s, false));
            }
            tx.execute(ORPHAN, &[&s.id])?;
        }
        let args: [&(dyn ToSql + Sync); 6] = [
            &r.feed_id,
            &r.hub,
            &r.topic,
            &r.secret,
            &r.retry_at,
            &now_ms(),
        ];
        let id: i64 = tx.query_one(INSERT, &args)?.get(0);
        let s = get(&mut tx, "s.id", id)?.expect("the row just inserted");
        tx.commit()?;
        Ok((s, true))
    }

    fn websub_activate(&mut self, id: i64, a: &Activation) -> Result<()> {
        let mut tx = self.cm().transaction()?;
        tx.execute(ACTIVATE, &[&a.lease_until, &a.renew_at, &id])?;
        tx.execute(POLL_FLOOR, &[&a.poll_floor, &id])?;
        tx.commit()?;
        Ok(())
    }

    fn websub_set(&mut self, id: i64, state: SubState, next_at: i64) -> Result<()> {
        self.cm().execute(SET, &[&state.as_str(), &next_at, &id])?;
        Ok(())
    }

    fn websub_delete(&mut self, id: i64) -> Result<bool> {
        Ok(self.cm().execute(DELETE, &[&id])? > 0)
    }

    fn websub_claim(&mut self, now: i64, until: i64) -> Result<Vec<Subscription>> {
        let mut tx = self.cm().transaction()?;
        // Rows another daemon is claiming right now are locked: skipped, they are its to act on;
        // once it commits they are no longer due.
        let rows = tx.query(
            &format!(
                "SELECT {SUB_COLS} FROM websub_subs s LEFT JOIN feeds f ON f.id = s.feed_id
                 WHERE {DUE} ORDER BY s.id FOR UPDATE OF s SKIP LOCKED"
            ),
            &[&now],
        )?;
        let due: Vec<Subscription> = rows.iter().map(sub_from_row).collect();
        for s in &due {
            tx.execute(CLAIM, &[&until, &s.id])?;
        }
        tx.commit()?;
        Ok(due)
    }

    fn websub_active(&mut self) -> Result<Vec<(i64, i64)>> {
        let rows = self.cm().query(ACTIVE, &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
