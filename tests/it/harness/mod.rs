//! The one harness of the integration tests: a real HTTP server on 127.0.0.1 (`Server`), a webhook
//! receiver (`receiver`), the real binary in a temp dir (`Env`), `wait_for` / `wait_for_async`
//! (poll a condition with a deadline) and `signal`. Submodules: `fill` (a store filled through the
//! real write path, for report/web/browser) and `feeds` (fixture feeds ingested by the binary, for
//! clean/dedup).
#![allow(dead_code)]

pub mod db;
pub mod feeds;
pub mod fill;
pub mod receiver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// An axum server on 127.0.0.1:<random port>, running on its own runtime thread until dropped.
pub struct Server {
    pub addr: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    pub fn start(router: axum::Router) -> Server {
        Server::start_with(|_| router)
    }

    /// Like `start`, for a router that needs its own base URL (`http://127.0.0.1:<port>`).
    pub fn start_with(router: impl FnOnce(&str) -> axum::Router) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let router = router(&format!("http://{addr}"));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
            // Dropping the runtime cancels handlers that never finish (hanging responses).
            rt.shutdown_background();
        });
        Server {
            addr,
            shutdown: Some(stop_tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

/// Request log shared between a test and its server handlers.
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<(String, axum::http::HeaderMap)>>>);

impl Log {
    pub fn push(&self, path: &str, h: &axum::http::HeaderMap) {
        self.0.lock().unwrap().push((path.to_string(), h.clone()));
    }
    pub fn count(&self, path: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }
    pub fn last(&self, path: &str) -> Option<axum::http::HeaderMap> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, h)| h.clone())
    }
}

/// A temp dir with a config file and a database (`db::fresh`: a SQLite file in the dir, or a
/// PostgreSQL database of its own).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
    pub pg: Option<db::PgDb>,
}

impl Env {
    pub fn new(config_toml: &str) -> Env {
        Env::with_dir(tempfile::tempdir().unwrap(), config_toml)
    }

    /// An `Env` in a temp dir the test made (and may have filled) itself.
    pub fn with_dir(dir: tempfile::TempDir, config_toml: &str) -> Env {
        let config = dir.path().join("config.toml");
        let (db, pg) = db::fresh(dir.path(), "test.db");
        std::fs::write(&config, db::config_for(config_toml, &db)).unwrap();
        Env {
            dir,
            config,
            db,
            pg,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_newswatch"));
        c.arg("--config")
            .arg(&self.config)
            .arg("--db")
            .arg(&self.db);
        c.env("RUST_LOG", "warn");
        c
    }

    /// Starts the binary with args, its stderr (logs at `rust_log`) going to a file of the temp
    /// dir that `logs` reads.
    pub fn spawn_logged(&self, args: &[&str], rust_log: &str) -> std::process::Child {
        let err = std::fs::File::create(self.path("stderr.log")).unwrap();
        self.cmd()
            .args(args)
            .env("RUST_LOG", rust_log)
            .stderr(err)
            .spawn()
            .unwrap()
    }

    /// What a `spawn_logged` child wrote to stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.path("stderr.log")).unwrap_or_default()
    }

    /// Runs the binary with args; returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn conn(&self) -> db::Conn {
        db::Conn::open(&self.db)
    }

    pub fn count(&self, sql: &str) -> i64 {
        db::count(&self.db, sql)
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// An RSS 2.0 document with the given (guid, title, body) items.
pub fn rss(title: &str, items: &[(&str, &str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>https://example.org/</link>\n"
    );
    for (guid, t, body) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{t}</title><link>https://example.org/{guid}</link><description><![CDATA[{body}]]></description><pubDate>Mon, 02 Jan 2006 15:04:05 +0000</pubDate></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// A config for tests: short timeouts, a small body cap, feeds listed.
pub fn config_with(feeds: &[String], extra: &str) -> String {
    let mut s = String::from(
        "[http]\ntimeout = \"3s\"\nconnect_timeout = \"2s\"\nread_timeout = \"2s\"\nmax_body_bytes = 1048576\n\n[poll]\nmin_interval = \"1s\"\ndefault_interval = \"60s\"\ntick = \"100ms\"\n\n",
    );
    s.push_str(extra);
    for f in feeds {
        s.push_str(&format!("\n[[feed]]\nurl = \"{f}\"\n"));
    }
    s
}

/// How often `wait_for` and `wait_for_async` look at their condition.
const POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// Polls `cond` until it holds (true) or `secs` seconds have passed (false). The one way tests
/// wait for something to happen; never sleep a fixed time and hope.
pub fn wait_for(mut cond: impl FnMut() -> bool, secs: u64) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= end {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// `wait_for` inside a tokio test (yields instead of blocking a worker); panics naming `what` on
/// timeout.
pub async fn wait_for_async(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond() {
        assert!(
            std::time::Instant::now() < end,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Sends `sig` (`SIGTERM`, `SIGKILL`, ...) to a child process: the one way tests signal the daemon.
pub fn signal(child: &std::process::Child, sig: i32) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: kill(2) with a pid we spawned and still own (not yet waited for).
    let rc = unsafe { kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({}, {sig}) failed", child.id());
}

/// A port on 127.0.0.1 with nobody listening (yet): for a receiver that is down, or a server
/// started later on a known address.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

pub fn file_exists(p: &Path) -> bool {
    p.exists()
}
