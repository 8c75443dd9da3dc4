//! Fetch: HTTP(S) and `file://` with the rules DESIGN section 3 sets. The only networked stage.
//!
//! Invariants:
//! - The decompressed body is counted while streaming and cut at `max_body_bytes`: a gzip bomb
//!   costs at most the cap in memory, never its expanded size.
//! - Redirects are followed by hand (at most `max_redirects`), so a loop is detected, and a chain of
//!   only permanent moves (301/308) is reported as the feed's new URL.
//! - Every request holds a global and a per-host permit for its whole duration.
//! - A fetch ends within `timeout` (total deadline), whatever the server does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::HttpConfig;

/// Validators from the previous fetch, sent as If-None-Match / If-Modified-Since.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A response that arrived (any status). Bodies are only read for 2xx.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    /// The URL the body came from, after redirects.
    pub final_url: String,
    /// Set when every redirect on the way was permanent (301/308): where the resource now lives.
    pub moved_to: Option<String>,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `charset=` of the Content-Type header.
    pub charset: Option<String>,
    pub content_type: Option<String>,
    pub retry_after: Option<Duration>,
    /// Cache-Control max-age.
    pub max_age: Option<Duration>,
    /// The body was cut at the cap (only from a `truncating` fetcher).
    pub truncated: bool,
    /// `Link` headers as (rel, absolute URL), e.g. WebSub's `hub` and `self`.
    pub links: Vec<(String, String)>,
}

/// A feed fetch classified by what its status means for the feed.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 2xx: the body is the feed.
    Fresh(Response),
    /// 304: nothing changed since the validators sent.
    NotModified(Response),
    /// 410: the feed is gone for good and gets disabled.
    Gone(Response),
    /// Any other status (the response is kept for its Retry-After), or no response at all.
    Failed {
        response: Option<Response>,
        error: String,
    },
}

impl FetchOutcome {
    pub fn classify(r: Result<Response, FetchError>) -> FetchOutcome {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                return FetchOutcome::Failed {
                    response: None,
                    error: e.to_string(),
                };
            }
        };
        match r.status {
            304 => FetchOutcome::NotModified(r),
            410 => FetchOutcome::Gone(r),
            200..=299 => FetchOutcome::Fresh(r),
            s => {
                let reason = StatusCode::from_u16(s)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or("");
                FetchOutcome::Failed {
                    error: format!("HTTP {s} {reason}").trim().to_string(),
                    response: Some(r),
                }
            }
        }
    }

    /// The response that arrived, whatever its status.
    pub fn response(&self) -> Option<&Response> {
        match self {
            FetchOutcome::Fresh(r) | FetchOutcome::NotModified(r) | FetchOutcome::Gone(r) => {
                Some(r)
            }
            FetchOutcome::Failed { response, .. } => response.as_ref(),
        }
    }

    /// Why this fetch counts as failed, if it does.
    pub fn error(&self) -> Option<String> {
        match self {
            FetchOutcome::Gone(_) => Some("HTTP 410 Gone: feed disabled".into()),
            FetchOutcome::Failed { error, .. } => Some(error.clone()),
            FetchOutcome::Fresh(_) | FetchOutcome::NotModified(_) => None,
        }
    }

    /// Moves the body of a fresh response out (the response keeps its head).
    pub fn take_body(&mut self) -> Option<Vec<u8>> {
        match self {
            FetchOutcome::Fresh(r) => Some(std::mem::take(&mut r.body)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("body larger than the cap of {cap} bytes (stopped reading at {read} bytes)")]
    TooLarge { cap: u64, read: u64 },
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(usize),
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    #[error("redirect without a usable Location header")]
    BadRedirect,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
    #[error("unsupported URL {0:?}: {1}")]
    BadUrl(String, String),
    #[error("cannot read {0}: {1}")]
    File(String, String),
}

/// The HTTP client and its limits. Cheap to clone; clones share the pool and the limits.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    cfg: Arc<HttpConfig>,
    global: Arc<Semaphore>,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    /// Cut bodies at the cap instead of failing (article pages: the start is the article).
    truncate: bool,
}

impl Fetcher {
    pub fn new(cfg: &HttpConfig) -> anyhow::Result<Fetcher> {
        crate::util::install_tls_provider();
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.read_timeout)
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()?;
        Ok(Fetcher {
            client,
            cfg: Arc::new(cfg.clone()),
            global: Arc::new(Semaphore::new(cfg.concurrency)),
            hosts: Arc::new(Mutex::new(HashMap::new())),
            truncate: false,
        })
    }

    /// A fetcher sharing this one's pool and limits that cuts bodies at `cap` bytes (marking the
    /// response `truncated`) instead of failing with `TooLarge`.
    pub fn truncating(&self, cap: u64) -> Fetcher {
        let mut cfg = (*self.cfg).clone();
        cfg.max_body_bytes = cap.min(cfg.max_body_bytes);
        Fetcher {
            client: self.client.clone(),
            cfg: Arc::new(cfg),
            global: self.global.clone(),
            hosts: self.hosts.clone(),
            truncate: true,
        }
    }

    pub fn config(&self) -> &HttpConfig {
        &self.cfg
    }

    async fn permits(&self, host: &str) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let sem = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.cfg.per_host_concurrency)))
                .clone()
        };
        // Host first, then global: a busy host never holds global slots while it waits.
        let h = sem.acquire_owned().await.expect("semaphore never closed");
        let g = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        (h, g)
    }

    /// Fetches a feed: `get`, with the status classified.
    pub async fn fetch_feed(&self, url: &str, validators: &Validators) -> FetchOutcome {
        FetchOutcome::classify(self.get(url, validators).await)
    }

    /// GETs `url` (http, https or file) with the validators; follows redirects; caps the body.
    pub async fn get(&self, url: &str, validators: &Validators) -> Result<Response, FetchError> {
        let parsed =
            url::Url::parse(url).map_err(|e| FetchError::BadUrl(url.into(), e.to_string()))?;
        match parsed.scheme() {
            "file" => return self.get_file(&parsed),
            "http" | "https" => {}
            s => {
                return Err(FetchError::BadUrl(
                    url.into(),
                    format!("scheme {s} is not supported"),
                ));
            }
        }
        let host = parsed.host_str().unwrap_or("").to_ascii_lowercase();
        let _permits = self.permits(&host).await;
        let deadline = self.cfg.timeout;
        match tokio::time::timeout(deadline, self.get_following(parsed, validators)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout(deadline)),
        }
    }

    async fn get_following(
        &self,
        start: url::Url,
        validators: &Validators,
    ) -> Result<Response, FetchError> {
        let mut url = start;
        let mut seen = vec![url.to_string()];
        let mut all_permanent = true;
        for _ in 0..=self.cfg.max_redirects {
            let mut req = self.client.get(url.clone());
            if let Some(e) = &validators.etag {
                req = req.header(header::IF_NONE_MATCH, e);
            }
            if let Some(lm) = &validators.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
            let resp = req.send().await.map_err(|e| self.map_err(e))?;
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let loc = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::BadRedirect)?;
                let next = url.join(loc).map_err(|_| FetchError::BadRedirect)?;
                if !matches!(status.as_u16(), 301 | 308) {
                    all_permanent = false;
                }
                let key = next.to_string();
                if seen.contains(&key) {
                    return Err(FetchError::RedirectLoop(key));
                }
                seen.push(key);
                url = next;
                continue;
            }
            let mut out = head_of(resp.headers());
            out.links = crate::websub::discover::link_headers(resp.headers(), &url);
            out.status = status.as_u16();
            out.final_url = url.to_string();
            if seen.len() > 1 && all_permanent {
                out.moved_to = Some(url.to_string());
            }
            if status.is_success() {
                (out.body, out.truncated) = self.read_capped(resp).await?;
            }
            return Ok(out);
        }
        Err(FetchError::TooManyRedirects(self.cfg.max_redirects))
    }

    async fn read_capped(
        &self,
        mut resp: reqwest::Response,
    ) -> Result<(Vec<u8>, bool), FetchError> {
        let cap = self.cfg.max_body_bytes;
        if let Some(len) = resp.content_length()
            && len > cap
            && !self.truncate
        {
            return Err(FetchError::TooLarge { cap, read: 0 });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.map_err(e))? {
            if body.len() as u64 + chunk.len() as u64 > cap {
                if self.truncate {
                    body.extend_from_slice(&chunk[..(cap as usize - body.len())]);
                    return Ok((body, true));
                }
                return Err(FetchError::TooLarge {
                    cap,
                    read: body.len() as u64 + chunk.len() as u64,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, false))
    }

    fn get_file(&self, url: &url::Url) -> Result<Response, FetchError> {
        let path = url
            .to_file_path()
            .map_err(|_| FetchError::BadUrl(url.to_string(), "not a local file path".into()))?;
        let body = read_file_capped(&path, self.cfg.max_body_bytes)?;
        Ok(Response {
            status: 200,
            final_url: url.to_string(),
            body,
            ..Default::default()
        })
    }

    fn map_err(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.cfg.timeout)
        } else if e.is_connect() {
            FetchError::Connect(root_cause(&e))
        } else {
            FetchError::Other(root_cause(&e))
        }
    }
}

/// Reads a local file, refusing one larger than `cap`.
pub fn read_file_capped(path: &std::path::Path, cap: u64) -> Result<Vec<u8>, FetchError> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| FetchError::File(path.display().to_string(), e.to_string()))?;
    // Sized from the file's length: without a hint `read_to_end` starts small and grows, about six
    // read calls per feed file instead of two.
    let len = f.metadata().map_or(0, |m| m.len());
    let mut body = Vec::with_capacity(len.min(cap) as usize + 1);
    f.take(cap + 1)
        .read_to_end(&mut body)
        .map_err(|e| FetchError::File(path.display().to_string(), e.to_string()))?;
    if body.len() as u64 > cap {
        return Err(FetchError::TooLarge {
            cap,
            read: body.len() as u64,
        });
    }
    Ok(body)
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !msg.contains(&m) {
            msg.push_str(": ");
            msg.push_str(&m);
        }
        cur = s.source();
    }
    msg
}

fn head_of(h: &HeaderMap) -> Response {
    let s = |v: Option<&HeaderValue>| {
        v.and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let content_type = s(h.get(header::CONTENT_TYPE));
    let charset = content_type.as_deref().and_then(|ct| {
        ct.split(';')
            .filter_map(|p| p.trim().strip_prefix("charset="))
            .next()
            .map(|c| c.trim_matches('"').to_string())
    });
    Response {
        etag: s(h.get(header::ETAG)),
        last_modified: s(h.get(header::LAST_MODIFIED)),
        retry_after: s(h.get(header::RETRY_AFTER)).and_then(|v| parse_retry_after(&v)),
        max_age: s(h.get(header::CACHE_CONTROL)).and_then(|v| parse_max_age(&v)),
        charset,
        content_type,
        ..Default::default()
    }
}

/// Retry-After: delay-seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

fn parse_max_age(v: &str) -> Option<Duration> {
    v.split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|n| n.trim_matches('"').parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert!(
            parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT").unwrap() > Duration::from_secs(1000)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn max_age() {
        assert_eq!(
            parse_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_max_age("no-cache"), None);
    }
}
