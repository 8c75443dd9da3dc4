//! Schema migrations embedded by build.rs. `PRAGMA user_version` holds the number applied.

use rusqlite::{Connection, TransactionBehavior};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The schema version this binary writes: the number of the last migration file.
pub const SCHEMA_VERSION: i64 = match MIGRATIONS.last() {
    Some(m) => m.0,
    None => 0,
};

/// Applies pending migrations, each in its own IMMEDIATE transaction with the version bump.
/// Running it again is a no-op. A database newer than the binary is refused, untouched.
pub(super) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        anyhow::bail!(
            "schema version {current} is newer than this newswatch supports ({SCHEMA_VERSION}); refusing to open it (use a newer binary)"
        );
    }
    for &(version, name, sql) in MIGRATIONS {
        if version <= current {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-check under the write lock: another process may have migrated meanwhile.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now >= version {
            continue;
        }
        tx.execute_batch(sql)
            .map_err(|e| anyhow::anyhow!("migration {name} failed: {e}"))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}
