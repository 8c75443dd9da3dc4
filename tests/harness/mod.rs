//! Test harness for end-to-end tests: a real HTTP server on 127.0.0.1 and the real binary.
#![allow(dead_code)]

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
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
            // Dropping the runtime cancels handlers that never finish (hanging responses).
            rt.shutdown_background();
        });
        let addr = rx.recv().unwrap();
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

/// A temp dir with a config file and a database path.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
}

impl Env {
    pub fn new(config_toml: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, config_toml).unwrap();
        let db = dir.path().join("test.db");
        Env { dir, config, db }
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

    /// Runs the binary with args; returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
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

pub fn wait_for(mut cond: impl FnMut() -> bool, secs: u64) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

pub fn file_exists(p: &Path) -> bool {
    p.exists()
}
