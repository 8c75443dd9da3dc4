//! WebSub subscriptions (`crate::websub`): the `WebSubStore` operations and their SQLite SQL
//! (`pg/websub.rs` holds PostgreSQL's). One row per feed that advertises a hub; when the feed is
//! removed the row keeps living with `feed_id` NULL (`ON DELETE SET NULL`) until the hub has
//! confirmed the unsubscription, so that the daemon still knows whom to tell.

use rusqlite::{OptionalExtension, Row, params};

use super::Result;
use super::sqlite::Sqlite;
use crate::util::now_ms;

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState {
    /// Requested; the hub has not verified it yet.
    Pending,
    /// Verified by the hub; pushes are accepted until the lease ends.
    Active,
    /// The feed is gone: an unsubscription was sent and awaits the hub's verification.
    Unsubscribing,
}

impl SubState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubState::Pending => "pending",
            SubState::Active => "active",
            SubState::Unsubscribing => "unsubscribing",
        }
    }

    pub fn parse(s: &str) -> SubState {
        match s {
            "active" => SubState::Active,
            "unsubscribing" => SubState::Unsubscribing,
            _ => SubState::Pending,
        }
    }
}

/// One subscription, with its feed's URL (`None` once the feed was removed).
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: i64,
    pub feed_id: Option<i64>,
    pub feed_url: Option<String>,
    pub hub: String,
    pub topic: String,
    pub secret: String,
    pub state: SubState,
    pub lease_until: Option<i64>,
    pub next_at: i64,
}

/// A subscription to record (`WebSubStore::websub_request`).
#[derive(Debug, Clone)]
pub struct SubRequest {
    pub feed_id: i64,
    pub hub: String,
    pub topic: String,
    pub secret: String,
    pub retry_at: i64,
}

/// A verified subscription's times (`WebSubStore::websub_activate`).
#[derive(Debug, Clone, Copy)]
pub struct Activation {
    pub lease_until: i64,
    pub renew_at: i64,
    pub poll_floor: i64,
}

/// The subscription operations; `store::Write` requires them. Each is one statement or one
/// transaction.
pub trait WebSubStore {
    /// A subscription by id, with its feed's URL.
    fn websub_get(&mut self, id: i64) -> Result<Option<Subscription>>;
    /// Records that a feed is to be subscribed (a pending row, retried at `retry_at`). A
    /// subscription of the feed to the same hub and topic is kept as it is and returned with
    /// `false`; one to another hub or topic is let go (its feed is cleared, so it gets
    /// unsubscribed). `true`: a new row, to be requested from the hub now.
    fn websub_request(&mut self, r: &SubRequest) -> Result<(Subscription, bool)>;
    /// The hub verified the subscription `id`: active until the lease ends, renewed at its time;
    /// the feed's next poll moves to `poll_floor` if it was earlier (polling becomes the fallback).
    fn websub_activate(&mut self, id: i64, a: &Activation) -> Result<()>;
    /// Sets the state and the next action time of a subscription.
    fn websub_set(&mut self, id: i64, state: SubState, next_at: i64) -> Result<()>;
    fn websub_delete(&mut self, id: i64) -> Result<bool>;
    /// Claims what needs an action at `now`: rows whose `next_at` has come, and every row whose
    /// feed is gone and that is not being unsubscribed yet. Each is returned as it was (its
    /// state before the claim) and left with `next_at = until` and, if its feed is gone, state
    /// `unsubscribing`; a row is claimed by one caller only (on PostgreSQL, rows another daemon
    /// is claiming are skipped), so several daemons on one database do not all renew it.
    fn websub_claim(&mut self, now: i64, until: i64) -> Result<Vec<Subscription>>;
    /// (feed id, lease end) of every active subscription.
    fn websub_active(&mut self) -> Result<Vec<(i64, i64)>>;
}

/// The columns `sub_from_row` reads, over `websub_subs s LEFT JOIN feeds f`.
pub(crate) const SUB_COLS: &str =
    "s.id, s.feed_id, f.url, s.hub, s.topic, s.secret, s.state, s.lease_until, s.next_at";
pub(crate) const SUB_FROM: &str = "websub_subs s LEFT JOIN feeds f ON f.id = s.feed_id";

// The statements both backends run as written: `$N` placeholders, each first used in order
// (SQLite numbers named parameters by first use).
pub(crate) const ORPHAN: &str = "UPDATE websub_subs SET feed_id = NULL WHERE id = $1";
pub(crate) const INSERT: &str =
    "INSERT INTO websub_subs (feed_id, hub, topic, secret, state, next_at, created_at)
     VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id";
pub(crate) const ACTIVATE: &str =
    "UPDATE websub_subs SET state = 'active', lease_until = $1, next_at = $2 WHERE id = $3";
pub(crate) const POLL_FLOOR: &str =
    "UPDATE feeds SET next_poll_at = CASE WHEN next_poll_at < $1 THEN $1 ELSE next_poll_at END
     WHERE id = (SELECT feed_id FROM websub_subs WHERE id = $2)";
pub(crate) const SET: &str = "UPDATE websub_subs SET state = $1, next_at = $2 WHERE id = $3";
pub(crate) const DELETE: &str = "DELETE FROM websub_subs WHERE id = $1";
pub(crate) const ACTIVE: &str = "SELECT feed_id, lease_until FROM websub_subs
     WHERE state = 'active' AND feed_id IS NOT NULL AND lease_until IS NOT NULL";

/// Which rows are due at `$1`: those whose time has come, and those of removed feeds not being
/// unsubscribed yet.
pub(crate) const DUE: &str =
    "s.next_at <= $1 OR (s.feed_id IS NULL AND s.state <> 'unsubscribing')";
/// A claimed row moved on: next action at `$1`, being unsubscribed if its feed is gone (`$2`: id).
pub(crate) const CLAIM: &str = "UPDATE websub_subs SET next_at = $1,
        state = CASE WHEN feed_id IS NULL THEN 'unsubscribing' ELSE state END
     WHERE id = $2";

fn sub_from_row(r: &Row) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        id: r.get(0)?,
        feed_id: r.get(1)?,
        feed_url: r.get(2)?,
        hub: r.get(3)?,
        topic: r.get(4)?,
        secret: r.get(5)?,
        state: SubState::parse(&r.get::<_, String>(6)?),
        lease_until: r.get(7)?,
        next_at: r.get(8)?,
    })
}

fn get(
    conn: &rusqlite::Connection,
    clause: &str,
    key: i64,
) -> rusqlite::Result<Option<Subscription>> {
    conn.prepare_cached(&format!(
        "SELECT {SUB_COLS} FROM {SUB_FROM} WHERE {clause} = ?1"
    ))?
    .query_row([key], sub_from_row)
    .optional()
}

impl WebSubStore for Sqlite {
    fn websub_get(&mut self, id: i64) -> Result<Option<Subscription>> {
        Ok(get(&self.conn, "s.id", id)?)
    }

    fn websub_request(&mut self, r: &SubRequest) -> Result<(Subscription, bool)> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(s) = get(&tx, "s.feed_id", r.feed_id)? {
            if s.hub == r.hub && s.topic == r.topic {
                return Ok((s, false));
            }
            tx.execute(ORPHAN, [s.id])?;
        }
        let id: i64 = tx.query_row(
            INSERT,
            params![r.feed_id, r.hub, r.topic, r.secret, r.retry_at, now_ms()],
            |r| r.get(0),
        )?;
        let s = get(&tx, "s.id", id)?.expect("the row just inserted");
        tx.commit()?;
        Ok((s, true))
    }

    fn websub_activate(&mut self, id: i64, a: &Activation) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(ACTIVATE, params![a.lease_until, a.renew_at, id])?;
        tx.execute(POLL_FLOOR, params![a.poll_floor, id])?;
        tx.commit()?;
        Ok(())
    }

    fn websub_set(&mut self, id: i64, state: SubState, next_at: i64) -> Result<()> {
        self.conn
            .execute(SET, params![state.as_str(), next_at, id])?;
        Ok(())
    }

    fn websub_delete(&mut self, id: i64) -> Result<bool> {
        Ok(self.conn.execute(DELETE, [id])? > 0)
    }

    fn websub_claim(&mut self, now: i64, until: i64) -> Result<Vec<Subscription>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let due = {
            let mut st = tx.prepare_cached(&format!(
                "SELECT {SUB_COLS} FROM {SUB_FROM} WHERE {DUE} ORDER BY s.id"
            ))?;
            st.query_map([now], sub_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        for s in &due {
            tx.execute(CLAIM, params![until, s.id])?;
        }
        tx.commit()?;
        Ok(due)
    }

    fn websub_active(&mut self) -> Result<Vec<(i64, i64)>> {
        let mut st = self.conn.prepare_cached(ACTIVE)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
