//! The HTTP face: a JSON API (articles, matches, alerts, feeds, topics, search; paged with
//! `?limit=&offset=`), an Atom feed per topic (`/topics/{id}.atom`), a small server-rendered
//! dashboard (no scripts), `/healthz` and `/metrics` (Prometheus text, computed from the store at
//! scrape time). Started by `daemon::run` when `[server] enabled = true`; `start` is also what the
//! tests call.
//!
//! Invariants:
//! - Reads only, through its own read-only stores (`store::Reader`, a small pool), on blocking threads.
//!   The one write is a reader's mark on an alert (`feedback`: a script-free form with a CSRF token).
//! - A non-loopback bind without a token is refused at start; with a token, every request but
//!   `/healthz` and the open routes of `start_with` (the WebSub callback, which checks its own
//!   signatures) must carry `Authorization: Bearer <token>` (compared in constant time), else 401.
//! - Every response carries a strict Content-Security-Policy (no scripts at all) and `nosniff`;
//!   feed content on pages is escaped or sanitized (`html`).
//! - Shutdown: the server stops accepting on the daemon's CancellationToken and drains requests.

mod api;
mod atom;
mod feedback;
pub mod html;
mod pages;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;
use crate::store::Reader;
use crate::topics::TopicConfig;

/// Shared by all handlers.
pub struct AppState {
    db: Db,
    token: Option<String>,
    /// Configured topics (the dashboard and `/api/topics` list them even before they match).
    topics: Vec<TopicConfig>,
    /// Signs the CSRF tokens of the mark forms.
    csrf: feedback::Csrf,
}

/// A small pool of read-only store handles, used from blocking threads.
struct Db {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
}

/// An error as the API reports it: a status and a one-line reason.
#[derive(Debug)]
pub struct WebError(StatusCode, String);

impl WebError {
    fn not_found(what: impl Into<String>) -> WebError {
        WebError(StatusCode::NOT_FOUND, what.into())
    }
    fn bad_request(what: impl Into<String>) -> WebError {
        WebError(StatusCode::BAD_REQUEST, what.into())
    }
}

impl From<anyhow::Error> for WebError {
    fn from(e: anyhow::Error) -> Self {
        tracing::warn!(error = %format!("{e:#}"), "http request failed");
        WebError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (see the daemon's log)".into(),
        )
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl AppState {
    /// Runs `f` on a pooled read-only store on a blocking thread.
    async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, WebError> + Send + 'static,
    {
        let st = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = st.db.idle.lock().unwrap().pop();
            let conn = match conn {
                Some(c) => c,
                None => Reader::open(&st.db.path)?,
            };
            let out = f(&conn);
            let mut idle = st.db.idle.lock().unwrap();
            if idle.len() < 8 {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| WebError::from(anyhow::anyhow!("request task failed: {e}")))?
    }
}

/// A running server.
pub struct Server {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    handle: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Waits until the server has shut down (after the token given to `start` is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.handle
            .await
            .context("http server task")?
            .context("http server")
    }
}

/// Resolves a secret written as `env:NAME`, `file:PATH` (relative to `base_dir`) or literally.
pub fn resolve_secret(spec: &str, base_dir: &Path) -> anyhow::Result<String> {
    let v = if let Some(name) = spec.strip_prefix("env:") {
        std::env::var(name).with_context(|| format!("environment variable {name} is not set"))?
    } else if let Some(p) = spec.strip_prefix("file:") {
        let p = base_dir.join(p);
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?
    } else {
        spec.to_string()
    };
    let v = v.trim().to_string();
    if v.is_empty() {
        anyhow::bail!("the token is empty");
    }
    Ok(v)
}

/// Binds and starts serving in the background. Refuses a non-loopback bind without a token.
pub async fn start(
    cfg: &ServerConfig,
    base_dir: &Path,
    topics: Vec<TopicConfig>,
    db: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<Server> {
    start_with(cfg, base_dir, topics, db, Router::new(), shutdown).await
}

/// Like `start`, also serving `open`: routes outside the bearer token and the security headers,
/// guarded by their own means (the WebSub callback: a hub is no browser and has no token).
pub async fn start_with(
    cfg: &ServerConfig,
    base_dir: &Path,
    topics: Vec<TopicConfig>,
    db: &Path,
    open: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<Server> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&cfg.bind)
        .await
        .with_context(|| format!("server.bind {:?}: not an address", cfg.bind))?
        .collect();
    if addrs.is_empty() {
        anyhow::bail!("server.bind {:?}: resolves to no address", cfg.bind);
    }
    let loopback = addrs.iter().all(|a| a.ip().is_loopback());
    let token = match &cfg.token {
        Some(t) => Some(resolve_secret(t, base_dir).context("server.token")?),
        None => None,
    };
    if !loopback && token.is_none() {
        anyhow::bail!(
            "server.bind {:?} is not a loopback address: set server.token (e.g. token = \"env:NEWSWATCH_TOKEN\") so requests need a bearer token",
            cfg.bind
        );
    }
    // Fail early on a missing or unreadable database rather than on the first request.
    let conn = {
        let db = db.to_path_buf();
        tokio::task::spawn_blocking(move || Reader::open(&db)).await??
    };
    let state = Arc::new(AppState {
        db: Db {
            path: db.to_path_buf(),
            idle: Mutex::new(vec![conn]),
        },
        token,
        topics,
        csrf: feedback::Csrf::new()?,
    });
    let listener = tokio::net::TcpListener::bind(&addrs[..])
        .await
        .with_context(|| format!("cannot listen on {}", cfg.bind))?;
    let addr = listener.local_addr()?;
    let app = open.merge(router(state));
    tracing::info!(%addr, "http server listening");
    let handle = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    });
    Ok(Server { addr, handle })
}

/// All routes, with the auth and header layers.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/articles/{id}", get(pages::article))
        .route("/feeds", get(pages::feeds))
        .route("/alerts/{id}/mark", post(feedback::mark))
        .route("/topics/{file}", get(atom::topic_feed))
        .route("/api/articles", get(api::articles))
        .route("/api/articles/{id}", get(api::article))
        .route("/api/matches", get(api::matches))
        .route("/api/alerts", get(api::alerts))
        .route("/api/feeds", get(api::feeds))
        .route("/api/topics", get(api::topics))
        .route("/api/search", get(api::search))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .fallback(|| async { WebError::not_found("no such page") })
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn auth(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(token) = &st.token
        && req.uri().path() != "/healthz"
    {
        {
            let ok = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| ct_eq(given.trim().as_bytes(), token.as_bytes()));
            if !ok {
                let mut r = WebError(
                    StatusCode::UNAUTHORIZED,
                    "a bearer token is required".into(),
                )
                .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"newswatch\""),
                );
                return r;
            }
        }
    }
    next.run(req).await
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `since=7d` or an RFC 3339 time, as milliseconds.
fn parse_since(s: &str) -> Result<i64, WebError> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(d.timestamp_millis());
    }
    crate::util::since_ms(s)
        .map_err(|e| WebError::bad_request(format!("since: {e} (use e.g. 7d or an RFC 3339 time)")))
}

/// A feed named by id or URL.
fn feed_id(store: &Reader, key: &str) -> Result<i64, WebError> {
    store
        .find_feed(key)?
        .map(|f| f.id)
        .ok_or_else(|| WebError::not_found(format!("no feed {key:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "s3cret\n").unwrap();
        assert_eq!(resolve_secret("file:tok", dir.path()).unwrap(), "s3cret");
        assert_eq!(resolve_secret("plain", dir.path()).unwrap(), "plain");
        assert!(resolve_secret("env:NEWSWATCH_SURELY_UNSET_VAR", dir.path()).is_err());
        assert!(resolve_secret("  ", dir.path()).is_err());
        assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"ab", b"abc"));
    }
}
