//! What the two backends share around their SQL, so that a query both dialects accept is written
//! once: statement arguments built piece by piece ([`Args`], `?N` placeholders), rows read by
//! column index from either driver ([`Cols`], [`FromRow`]: one mapping per result type), and
//! [`Db`], the two calls a shared read query needs (every row; the first row).
//!
//! Invariants: shared SQL numbers its placeholders (`?1`, `?2`, …), which SQLite reads as they
//! are and the PostgreSQL backend rewrites to `$N` (`postgres_placeholders`) before running;
//! a value is bound as an `i64` or a string, nothing else; a column that does not convert to the
//! type asked for is an error on both drivers (never a panic).

use super::Result;

/// A value bound to a statement: an integer or a text, either of which may be NULL.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_string()))
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_string))
    }
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Arg::Int(Some(i)) => ValueRef::Integer(*i),
            Arg::Text(Some(s)) => ValueRef::Text(s.as_bytes()),
            Arg::Int(None) | Arg::Text(None) => ValueRef::Null,
        }))
    }
}

impl Arg {
    /// The value as the `postgres` client binds it.
    pub(super) fn pg(&self) -> &(dyn postgres::types::ToSql + Sync) {
        match self {
            Arg::Int(i) => i,
            Arg::Text(s) => s,
        }
    }
}

/// Arguments given all at once: `args![a, b]`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        [$($crate::store::sql::Arg::from($v)),*]
    };
}
pub(super) use args;

/// The arguments of a statement built piece by piece.
#[derive(Debug, Default)]
pub(super) struct Args(pub(super) Vec<Arg>);

impl Args {
    /// Adds a value; returns its placeholder (`?N`).
    pub(super) fn p(&mut self, v: impl Into<Arg>) -> String {
        self.0.push(v.into());
        format!("?{}", self.0.len())
    }
}

/// A column type both drivers read.
pub(super) trait Col:
    rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>
{
}
impl<T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>> Col for T {}

/// A result row of either driver, read by column index.
pub(super) trait Cols {
    fn get<T: Col>(&self, i: usize) -> Result<T>;
}

impl Cols for rusqlite::Row<'_> {
    fn get<T: Col>(&self, i: usize) -> Result<T> {
        Ok(rusqlite::Row::get(self, i)?)
    }
}

impl Cols for postgres::Row {
    fn get<T: Col>(&self, i: usize) -> Result<T> {
        Ok(self.try_get(i)?)
    }
}

/// A value made from one result row (the columns in the order its query selects them).
pub(super) trait FromRow: Sized {
    fn from_row(r: &impl Cols) -> Result<Self>;
}

impl FromRow for i64 {
    fn from_row(r: &impl Cols) -> Result<i64> {
        r.get(0)
    }
}

impl FromRow for String {
    fn from_row(r: &impl Cols) -> Result<String> {
        r.get(0)
    }
}

impl<T: Col> FromRow for Option<T> {
    fn from_row(r: &impl Cols) -> Result<Option<T>> {
        r.get(0)
    }
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Col),+> FromRow for ($($t,)+) {
            fn from_row(r: &impl Cols) -> Result<Self> {
                Ok(($(r.get($i)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);

/// A connection a shared query runs on. `rows` prepares the statement for this call; `cached`
/// keeps it prepared on the connection (SQLite's statement cache), for a statement run once per
/// row of another.
pub(super) trait Db {
    fn rows<T: FromRow>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>>;
    fn cached<T: FromRow>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>>;
    /// The first row, if any.
    fn row<T: FromRow>(&self, sql: &str, args: &[Arg]) -> Result<Option<T>> {
        Ok(self.rows(sql, args)?.into_iter().next())
    }
    /// The one row of a statement that always has one (an aggregate).
    fn one<T: FromRow>(&self, sql: &str, args: &[Arg]) -> Result<T> {
        self.row(sql, args)?
            .ok_or_else(|| anyhow::anyhow!("no row from: {sql}"))
    }
}

impl Db for rusqlite::Connection {
    fn rows<T: FromRow>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>> {
        collect(&mut self.prepare(sql)?, args)
    }
    fn cached<T: FromRow>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>> {
        let mut st = self.prepare_cached(sql)?;
        collect(&mut st, args)
    }
}

fn collect<T: FromRow>(st: &mut rusqlite::Statement<'_>, args: &[Arg]) -> Result<Vec<T>> {
    let mut rows = st.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(T::from_row(r)?);
    }
    Ok(out)
}
