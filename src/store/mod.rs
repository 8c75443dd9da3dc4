//! Store: SQLite through rusqlite. Synchronous by design; the daemon reaches the one write
//! connection through `Writer` (a dedicated thread), readers open their own read-only connections.
//!
//! Invariants:
//! - Every connection is opened by `open` / `open_read`: WAL, foreign keys on, busy timeout set.
//! - Migrations (`migrations/NNNN_*.sql`) are applied in order, each in its own IMMEDIATE transaction
//!   together with the `user_version` bump; a database newer than the binary is refused.
//! - Everything one fetch produces is committed by `commit_fetch` in ONE transaction: articles,
//!   sightings, matches, outbox alerts, the fetch log row and the feed's new state.
//! - Article identity is unique in the schema (`articles.identity`), so a crash and a re-fetch can
//!   never store an item twice.

mod articles;
mod feeds;
mod migrate;
mod pages;
pub mod query;
mod writer;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

pub use articles::{
    CommitOutcome, FetchCommit, ItemOutcome, ItemStatus, MatchPolicy, near_duplicate_candidates,
};
pub use feeds::{Feed, FeedState, NewFeed, read as feed_read};
/// The fetch log row type.
pub mod feeds_log {
    pub use super::feeds::FetchLog;
}
pub use migrate::{MIGRATIONS, SCHEMA_VERSION, migrate};
pub use pages::{PageOutcome, PendingPage, matching_text};
pub use writer::Writer;

/// The write side of the store: one connection, used from one thread at a time.
pub struct Store {
    pub(crate) conn: Connection,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        configure(&conn)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            anyhow::bail!("cannot switch {} to WAL mode (got {mode})", path.display());
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A page cache of up to 32 MiB (SQLite's default is 2 MiB): the writer touches the same
        // index pages at every commit, and re-reading evicted ones was a visible share of ingest.
        conn.pragma_update(None, "cache_size", -32768)?;
        // Query planner stability: the writer's cached statements keep their plan. Without it,
        // SQLite re-prepares a statement whenever a new value is bound to a parameter the planner
        // looked at (every content-hash lookup of an ingest was being re-parsed and re-planned).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        migrate(&mut conn).with_context(|| format!("database {}", path.display()))?;
        Ok(Store { conn })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// A read-only connection for reports, search and the HTTP API. Refuses a database whose schema is
/// newer than this binary, like `Store::open`.
pub fn open_read(path: &Path) -> anyhow::Result<Connection> {
    if !path.exists() {
        anyhow::bail!(
            "no database at {} (run `newswatch poll` or `newswatch run` first)",
            path.display()
        );
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open database {}", path.display()))?;
    configure(&conn)?;
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if v > SCHEMA_VERSION {
        anyhow::bail!(
            "database {} has schema version {v}, newer than this newswatch ({SCHEMA_VERSION}); use a newer binary",
            path.display()
        );
    }
    if v < SCHEMA_VERSION {
        // Bring it up to date through a write connection first.
        drop(conn);
        Store::open(path)?;
        return open_read(path);
    }
    Ok(conn)
}
