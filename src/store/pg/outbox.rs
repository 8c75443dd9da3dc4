//! PostgreSQL outbox: listings, and due alerts leased across daemons: a row taken by a dispatcher
//! carries its owner and a lease time (`lease_owner`, `lease_until`) until its attempt is recorded
//! or it is postponed; other dispatchers skip it meanwhile, its owner gets it back on every pass
//! (as on SQLite, where the dispatcher skips what it has in flight), and a dispatcher that died
//! loses it when the lease expires. A digest is leased whole: its members go to one dispatcher.

use super::super::outbox::{
    COLS as OUTBOX_COLS, DigestWindow, FROM as OUTBOX_FROM, digest_step, with_severity,
};
use super::super::sql::FromRow;
use super::super::{Attempt, DigestStep, DueRow, OutboxRow, Result, RetryResult};
use super::{LEASE_MS, Pg};
use crate::topics::Severity;
use crate::util::now_ms;

impl Pg {
    /// Takes up to `limit` due rows for these sinks that no other live dispatcher holds, and leases
    /// them to this one.
    pub(super) fn due_alerts(
        &mut self,
        now: i64,
        sinks: &[String],
        limit: usize,
    ) -> Result<Vec<DueRow>> {
        if sinks.is_empty() {
            return Ok(Vec::new());
        }
        let owner = self.owner.clone();
        let rows = self.cm().query(
                "WITH due AS (
                     SELECT id FROM alerts
                     WHERE status = 'pending' AND next_attempt_at <= $1 AND sink = ANY($2)
                       AND (lease_until IS NULL OR lease_until <= $1 OR lease_owner = $5)
                     ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 UPDATE alerts al SET lease_until = $4, lease_owner = $5 FROM due WHERE al.id = due.id
                 RETURNING al.id, al.uid, al.topic, al.sink, al.attempts, al.digest_uid, al.next_attempt_at",
                &[&now, &sinks, &(limit as i64), &(now + LEASE_MS), &owner],
            )?;
        let mut rows = rows
            .iter()
            .map(|r| Ok((r.get::<_, i64>(6), DueRow::from_row(r)?)))
            .collect::<Result<Vec<_>>>()?;
        rows.sort_by_key(|(at, r)| (*at, r.id));
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    pub(super) fn next_alert_after(&mut self, now: i64, sinks: &[String]) -> Result<Option<i64>> {
        if sinks.is_empty() {
            return Ok(None);
        }
        Ok(self
            .cm()
            .query_one(
                "SELECT min(next_attempt_at) FROM alerts WHERE status = 'pending' AND next_attempt_at > $1 AND sink = ANY($2)",
                &[&now, &sinks],
            )?
            .get(0))
    }

    pub(super) fn orphaned_alerts(&mut self, sinks: &[String]) -> Result<Vec<(String, i64)>> {
        Ok(self
            .cm()
            .query(
                "SELECT sink, count(*) FROM alerts WHERE status = 'pending' AND NOT (sink = ANY($1)) GROUP BY sink",
                &[&sinks],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// The pending rows of a digest, leased to this dispatcher; none while another live one holds
    /// any of them (it delivers the digest).
    pub(super) fn digest_members(&mut self, digest_uid: &str) -> Result<Vec<DueRow>> {
        let (owner, now) = (self.owner.clone(), now_ms());
        let mut tx = self.cm().transaction()?;
        let rows = tx.query(
            "SELECT id, uid, topic, sink, attempts, digest_uid, lease_owner, lease_until FROM alerts
             WHERE digest_uid = $1 AND status = 'pending' ORDER BY id FOR UPDATE",
            &[&digest_uid],
        )?;
        let held = rows.iter().any(|r| {
            r.get::<_, Option<i64>>(7).is_some_and(|t| t > now)
                && r.get::<_, Option<String>>(6).as_deref() != Some(owner.as_str())
        });
        if held {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        tx.execute(
            "UPDATE alerts SET lease_owner = $2, lease_until = $3 WHERE id = ANY($1)",
            &[&ids, &owner, &(now + LEASE_MS)],
        )?;
        tx.commit()?;
        rows.iter().map(DueRow::from_row).collect()
    }

    /// As `store::outbox::form_digest`, with the pair's rows locked for the decision.
    pub(super) fn form_digest(&mut self, w: &DigestWindow, now: i64) -> Result<DigestStep> {
        let owner = self.owner.clone();
        let mut tx = self.cm().transaction()?;
        let rows: Vec<(i64, String, i64)> = tx
            .query(
                "SELECT id, uid, created_at FROM alerts
                 WHERE topic = $1 AND sink = $2 AND status = 'pending' AND digest_uid IS NULL ORDER BY id FOR UPDATE",
                &[&w.topic, &w.sink],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let step = digest_step(w, &rows, now);
        match &step {
            DigestStep::Nothing => {}
            DigestStep::Wait(closes) => {
                tx.execute(
                    "UPDATE alerts SET next_attempt_at = $3
                     WHERE topic = $1 AND sink = $2 AND status = 'pending' AND digest_uid IS NULL AND next_attempt_at < $3",
                    &[&w.topic, &w.sink, closes],
                )?;
            }
            DigestStep::Formed(uid) => {
                let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
                tx.execute(
                    "UPDATE alerts SET digest_uid = $2, next_attempt_at = $3, lease_owner = $4, lease_until = $5
                     WHERE id = ANY($1)",
                    &[&ids, uid, &now, &owner, &(now + LEASE_MS)],
                )?;
            }
        }
        tx.commit()?;
        Ok(step)
    }

    pub(super) fn postpone_alerts(&mut self, key: &str, until: i64) -> Result<usize> {
        Ok(self.cm().execute(
            "UPDATE alerts SET next_attempt_at = $2, lease_until = NULL, lease_owner = NULL
             WHERE (uid = $1 OR digest_uid = $1) AND status = 'pending'",
            &[&key, &until],
        )? as usize)
    }

    pub(super) fn record_attempt(&mut self, a: &Attempt) -> Result<usize> {
        let mut tx = self.cm().transaction()?;
        let mut failed = 0;
        for &id in a.ids {
            tx.execute(
                "INSERT INTO alert_attempts (alert_id, at, ok, error) VALUES ($1, $2, $3, $4)",
                &[&id, &a.at, &a.error.is_none(), &a.error],
            )?;
            match a.error {
                None => {
                    tx.execute(
                        "UPDATE alerts SET status = 'delivered', attempts = attempts + 1, delivered_at = $2, last_error = NULL,
                             lease_until = NULL, lease_owner = NULL
                         WHERE id = $1 AND status = 'pending'",
                        &[&id, &a.at],
                    )?;
                }
                Some(e) => {
                    let s = tx.query_opt(
                        "UPDATE alerts SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3,
                             lease_until = NULL, lease_owner = NULL,
                             status = CASE WHEN attempts + 1 >= $4 THEN 'failed' ELSE 'pending' END
                         WHERE id = $1 AND status = 'pending' RETURNING status",
                        &[&id, &e, &a.retry_at, &i64::from(a.max_attempts)],
                    )?;
                    if s.is_some_and(|r| r.get::<_, String>(0) == "failed") {
                        failed += 1;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(failed)
    }

    pub(super) fn load_alerts(
        &mut self,
        ids: &[i64],
        severity_of: &dyn Fn(&str) -> Severity,
    ) -> Result<Vec<OutboxRow>> {
        let rows = self.cm().query(
            &format!("SELECT {OUTBOX_COLS} {OUTBOX_FROM} WHERE a.id = ANY($1)"),
            &[&ids],
        )?;
        let mut by_id = std::collections::HashMap::new();
        for r in &rows {
            by_id.insert(r.get::<_, i64>(0), OutboxRow::from_row(r)?);
        }
        let found = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        Ok(with_severity(found, severity_of))
    }

    pub(super) fn retry_alerts(&mut self, key: &str, now: i64) -> Result<Vec<RetryResult>> {
        let mut tx = self.cm().transaction()?;
        let id: Option<i64> = key.parse().ok();
        let rows: Vec<RetryResult> = tx
            .query(
                "SELECT id, uid, status FROM alerts WHERE id = $1 OR uid = $2 OR digest_uid = $2 ORDER BY id FOR UPDATE",
                &[&id, &key],
            )?
            .iter()
            .map(|r| RetryResult { id: r.get(0), uid: r.get(1), was: r.get(2) })
            .collect();
        for r in &rows {
            match r.was.as_str() {
                "failed" => {
                    tx.execute(
                        "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = $2, digest_uid = NULL,
                             lease_until = NULL, lease_owner = NULL WHERE id = $1",
                        &[&r.id, &now],
                    )?;
                }
                "pending" => {
                    tx.execute(
                        "UPDATE alerts SET next_attempt_at = $2, lease_until = NULL, lease_owner = NULL WHERE id = $1",
                        &[&r.id, &now],
                    )?;
                }
                _ => {}
            }
        }
        tx.commit()?;
        Ok(rows)
    }
}
