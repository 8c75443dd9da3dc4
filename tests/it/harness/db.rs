//! The database under test: a SQLite file in the test's temp dir, or, with
//! `NEWSWATCH_TEST_BACKEND=postgres`, a PostgreSQL database of its own on the server named by
//! `NEWSWATCH_TEST_PG` (created for the test, dropped with it). Every test that goes through
//! `Env`, `fresh` or `Conn` runs on the backend chosen, so the whole suite runs on both.
//!
//! `Conn` is a test's own look at the database (counts, a row, a nudge): the SQL it takes is
//! what both dialects agree on, with `?N` placeholders (`$N` on PostgreSQL). A test that can only
//! mean SQLite (a file's integrity, its pragmas) starts with `sqlite_only!("why")`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use newswatch::store::postgres_placeholders;

/// The backend the suite runs on.
pub fn on_postgres() -> bool {
    std::env::var("NEWSWATCH_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The admin URL of the PostgreSQL server (`NEWSWATCH_TEST_PG`), if one is named.
pub fn pg_admin() -> Option<String> {
    std::env::var("NEWSWATCH_TEST_PG").ok()
}

/// Skips the rest of a test on PostgreSQL, printing why (past the harness's capture).
#[macro_export]
macro_rules! sqlite_only {
    ($why:expr) => {
        if $crate::harness::db::on_postgres() {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped on PostgreSQL ({}): {}",
                module_path!(),
                $why
            );
            return;
        }
    };
}

/// A PostgreSQL database made for one test; dropped (forcibly) with this value.
pub struct PgDb {
    admin: String,
    pub name: String,
    pub url: String,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl PgDb {
    /// A new empty database on the server of `NEWSWATCH_TEST_PG` (which must be set).
    pub fn create(admin: &str) -> PgDb {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("nw_test_{}_{n}", std::process::id());
        blocking(|| {
            let mut c = pg_client(admin);
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .unwrap();
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        });
        let mut u = url::Url::parse(admin).unwrap();
        u.set_path(&format!("/{name}"));
        PgDb {
            admin: admin.to_string(),
            name,
            url: u.to_string(),
        }
    }
}

impl PgDb {
    /// A client of its own on this database.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        blocking(|| self.client().query_one(sql, &[]).unwrap().get(0))
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        blocking(|| {
            if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        });
    }
}

/// A database for a test whose files live in `dir`: `dir/<file>` on SQLite, a new PostgreSQL
/// database otherwise. Keep the guard as long as the database is used.
pub fn fresh(dir: &Path, file: &str) -> (PathBuf, Option<PgDb>) {
    if on_postgres() {
        let admin = pg_admin().expect("NEWSWATCH_TEST_BACKEND=postgres needs NEWSWATCH_TEST_PG");
        let db = PgDb::create(&admin);
        (PathBuf::from(&db.url), Some(db))
    } else {
        (dir.join(file), None)
    }
}

/// A config text for `db`: on PostgreSQL a `[store]` line `path = "…"` becomes `url = "<db>"`.
pub fn config_for(text: &str, db: &Path) -> String {
    let Some(url) = db.to_str().filter(|s| s.starts_with("postgres")) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    let mut in_store = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_store = t == "[store]";
        }
        if in_store && t.starts_with("path") && t.contains('=') {
            out.push_str(&format!("url = \"{url}\""));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// A value a test binds: anything both drivers can bind.
pub trait Param: rusqlite::ToSql + postgres::types::ToSql + Sync {}
impl<T: rusqlite::ToSql + postgres::types::ToSql + Sync> Param for T {}

/// A column a test reads: anything both drivers can read.
pub trait Col: Sized {
    fn sqlite(r: &rusqlite::Row, i: usize) -> Self;
    fn pg(r: &postgres::Row, i: usize) -> Self;
}

impl<T> Col for T
where
    T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>,
{
    fn sqlite(r: &rusqlite::Row, i: usize) -> T {
        r.get(i).unwrap()
    }
    fn pg(r: &postgres::Row, i: usize) -> T {
        r.get(i)
    }
}

/// A row a test reads: a tuple of columns.
pub trait Cols: Sized {
    fn sqlite(r: &rusqlite::Row) -> Self;
    fn pg(r: &postgres::Row) -> Self;
}

macro_rules! cols {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Col),+> Cols for ($($t,)+) {
            fn sqlite(r: &rusqlite::Row) -> Self {
                ($($t::sqlite(r, $i),)+)
            }
            fn pg(r: &postgres::Row) -> Self {
                ($($t::pg(r, $i),)+)
            }
        }
    };
}
cols!(A 0);
cols!(A 0, B 1);
cols!(A 0, B 1, C 2);
cols!(A 0, B 1, C 2, D 3);
cols!(A 0, B 1, C 2, D 3, E 4);
cols!(A 0, B 1, C 2, D 3, E 4, F 5);

/// A test's own connection to the database under test (a SQLite file or a PostgreSQL URL).
/// On PostgreSQL each call connects anew on a thread of its own: the synchronous client runs a
/// runtime of its own, which cannot be started (or dropped) inside an async test.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Pg(String),
}

/// Runs `f` on a thread of its own and waits for it: what a synchronous PostgreSQL client (or a
/// store on one) needs when called from an async test.
pub fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e),
    })
}

fn pg_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

fn pg_params<'a>(params: &[&'a dyn Param]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| *p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn sqlite_params<'a>(
    params: &[&'a dyn Param],
) -> rusqlite::ParamsFromIter<impl Iterator<Item = &'a dyn rusqlite::ToSql>> {
    rusqlite::params_from_iter(params.iter().map(|p| *p as &dyn rusqlite::ToSql))
}

impl Conn {
    pub fn open(db: &Path) -> Conn {
        match db.to_str().filter(|s| s.starts_with("postgres")) {
            Some(url) => Conn::Pg(url.to_string()),
            None => Conn::Sqlite(rusqlite::Connection::open(db).unwrap()),
        }
    }

    pub fn is_pg(&self) -> bool {
        matches!(self, Conn::Pg(_))
    }

    /// Every row of a query.
    pub fn rows<T: Cols + Send>(&mut self, sql: &str, params: &[&dyn Param]) -> Vec<T> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                st.query_map(sqlite_params(params), |r| Ok(T::sqlite(r)))
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect()
            }
            Conn::Pg(url) => blocking(|| {
                pg_client(url)
                    .query(&postgres_placeholders(sql), &pg_params(params))
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .iter()
                    .map(T::pg)
                    .collect()
            }),
        }
    }

    /// The first column of every row.
    pub fn column<T: Col + Send>(&mut self, sql: &str, params: &[&dyn Param]) -> Vec<T> {
        self.rows::<(T,)>(sql, params)
            .into_iter()
            .map(|r| r.0)
            .collect()
    }

    /// The one row of a query (panics on none).
    pub fn row<T: Cols + Send>(&mut self, sql: &str, params: &[&dyn Param]) -> T {
        self.rows(sql, params)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no row: {sql}"))
    }

    /// The first column of the one row of a query.
    pub fn one<T: Col + Send>(&mut self, sql: &str, params: &[&dyn Param]) -> T {
        self.row::<(T,)>(sql, params).0
    }

    /// The first column of the first row, if there is a row.
    pub fn opt<T: Col + Send>(&mut self, sql: &str, params: &[&dyn Param]) -> Option<T> {
        self.rows::<(T,)>(sql, params)
            .into_iter()
            .next()
            .map(|r| r.0)
    }

    /// Runs a statement; returns the rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> usize {
        match self {
            Conn::Sqlite(c) => c
                .execute(sql, sqlite_params(params))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Conn::Pg(url) => blocking(|| {
                pg_client(url)
                    .execute(&postgres_placeholders(sql), &pg_params(params))
                    .unwrap_or_else(|e| panic!("{sql}: {e}")) as usize
            }),
        }
    }
}

/// `count(*)`-like: the one integer a query answers.
pub fn count(db: &Path, sql: &str) -> i64 {
    Conn::open(db).one(sql, &[])
}

/// A temp dir and the database of a test that builds its own config (`fresh` in a new dir).
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub pg: Option<PgDb>,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let (db, pg) = fresh(dir.path(), "test.db");
        Scratch { dir, db, pg }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Like `count`, but `None` while the database or the table is not there yet (a process under
/// test still creating it).
pub fn try_count(db: &Path, sql: &str) -> Option<i64> {
    match db.to_str().filter(|s| s.starts_with("postgres")) {
        Some(url) => blocking(|| {
            postgres::Client::connect(url, postgres::NoTls)
                .ok()?
                .query_one(sql, &[])
                .ok()
                .map(|r| r.get(0))
        }),
        None => rusqlite::Connection::open(db)
            .ok()?
            .query_row(sql, [], |r| r.get(0))
            .ok(),
    }
}
