//! `config.toml`: what the daemon polls, how it fetches, where it stores, which topics it watches and
//! where alerts go.
//!
//! Invariants: unknown keys are errors (every struct is `deny_unknown_fields`), and every error names
//! the key and the line (toml's span errors, plus our own checks that re-locate the key). A `Config`
//! that `load` returned has passed `validate`: topic queries compile, sink names resolve.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::alerts::{AlertsConfig, SinkConfig};
use crate::topics::TopicConfig;
use crate::util::serde_duration;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub poll: PollConfig,
    #[serde(default)]
    pub clean: CleanConfig,
    #[serde(default)]
    pub dedup: DedupConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub report: ReportConfig,
    #[serde(default)]
    pub fulltext: FulltextConfig,
    #[serde(default)]
    pub websub: crate::websub::WebSubConfig,
    #[serde(default, rename = "feed")]
    pub feeds: Vec<FeedConfig>,
    #[serde(default, rename = "topic")]
    pub topics: Vec<TopicConfig>,
    #[serde(default, rename = "sink")]
    pub sinks: Vec<SinkConfig>,
    /// Directory of the config file; relative paths in it resolve against this.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Settings that are accepted but no longer do anything, each naming its key and line
    /// (`check-config` prints them).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite file; relative to the config file's directory.
    #[serde(default = "default_db_path")]
    pub path: PathBuf,
    /// A PostgreSQL database (`postgres://user@host/db`) instead of the SQLite file.
    #[serde(default)]
    pub url: Option<String>,
    /// Prune articles older than this many days (0 = keep forever). Articles that matched a topic
    /// are kept unless `prune_matched` is set.
    #[serde(default)]
    pub retention_days: u32,
    #[serde(default)]
    pub prune_matched: bool,
}

fn default_db_path() -> PathBuf {
    PathBuf::from("newswatch.db")
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: default_db_path(),
            url: None,
            retention_days: 0,
            prune_matched: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `newswatch=debug,warn`. `RUST_LOG` overrides it.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// How often the daemon logs its one-line INFO summary (feeds polled, new articles, errors,
    /// lag); per-feed lines are DEBUG.
    #[serde(default = "d1m", with = "serde_duration")]
    pub summary: Duration,
}

fn default_log_level() -> String {
    "info".into()
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: default_log_level(),
            summary: d1m(),
        }
    }
}

/// Checks a feed URL: http, https or file, parseable.
pub fn validate_feed_url(u: &str) -> Result<(), String> {
    let url = url::Url::parse(u).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" | "file" => Ok(()),
        s => Err(format!(
            "unsupported scheme {s:?} (use http, https or file)"
        )),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    #[serde(default = "d10s", with = "serde_duration")]
    pub connect_timeout: Duration,
    /// Deadline for a whole fetch, headers and body.
    #[serde(default = "d30s", with = "serde_duration")]
    pub timeout: Duration,
    /// Idle time allowed between two reads.
    #[serde(default = "d15s", with = "serde_duration")]
    pub read_timeout: Duration,
    /// Cap on the decompressed body, counted while streaming.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
    /// Fetches in flight at once, over all hosts.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Fetches in flight at once to one host.
    #[serde(default = "default_per_host")]
    pub per_host_concurrency: usize,
}

fn default_user_agent() -> String {
    format!("newswatch/{} (feed monitor)", env!("CARGO_PKG_VERSION"))
}
fn d10s() -> Duration {
    Duration::from_secs(10)
}
fn d15s() -> Duration {
    Duration::from_secs(15)
}
fn d30s() -> Duration {
    Duration::from_secs(30)
}
fn default_max_body() -> u64 {
    15 * 1024 * 1024
}
fn default_max_redirects() -> usize {
    10
}
fn default_concurrency() -> usize {
    16
}
fn default_per_host() -> usize {
    2
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            user_agent: default_user_agent(),
            connect_timeout: d10s(),
            timeout: d30s(),
            read_timeout: d15s(),
            max_body_bytes: default_max_body(),
            max_redirects: default_max_redirects(),
            concurrency: default_concurrency(),
            per_host_concurrency: default_per_host(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    /// Interval of a feed we know nothing about yet.
    #[serde(default = "d30m", with = "serde_duration")]
    pub default_interval: Duration,
    #[serde(default = "d5m", with = "serde_duration")]
    pub min_interval: Duration,
    #[serde(default = "d6h", with = "serde_duration")]
    pub max_interval: Duration,
    /// Ceiling of the error backoff.
    #[serde(default = "d24h", with = "serde_duration")]
    pub max_backoff: Duration,
    /// How often the scheduler looks for due feeds.
    #[serde(default = "d1s", with = "serde_duration")]
    pub tick: Duration,
}

fn d1s() -> Duration {
    Duration::from_secs(1)
}
fn d5m() -> Duration {
    Duration::from_secs(300)
}
fn d30m() -> Duration {
    Duration::from_secs(1800)
}
pub(crate) fn d6h() -> Duration {
    Duration::from_secs(6 * 3600)
}
fn d24h() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            default_interval: d30m(),
            min_interval: d5m(),
            max_interval: d6h(),
            max_backoff: d24h(),
            tick: d1s(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CleanConfig {
    /// Extra boilerplate lines, added to the built-in list. A line of an article is dropped when it
    /// is exactly one of these (case-insensitive, trimmed); `*` matches any run of characters.
    #[serde(default)]
    pub boilerplate: Vec<String>,
    /// Extra query parameters to strip from links (besides utm_*, fbclid, ...): a name, or a
    /// prefix ending in `*`; case-insensitive.
    #[serde(default)]
    pub strip_params: Vec<String>,
    /// Default for feeds that do not say: fetch each new article's page and extract its text.
    #[serde(default)]
    pub full_text: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupConfig {
    /// Near-duplicates are looked for among articles fetched within this window.
    #[serde(default = "d7d", with = "serde_duration")]
    pub window: Duration,
    /// Deprecated and ignored: near-duplicates are decided by `dedup::Verdict` (MinHash
    /// candidates and a similarity check), which has no distance to set. Accepted so that older
    /// configs still load; `check-config` warns.
    #[serde(default)]
    pub max_distance: Option<u32>,
}

pub(crate) fn d7d() -> Duration {
    Duration::from_secs(7 * 86400)
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            window: d7d(),
            max_distance: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Required when `bind` is not a loopback address. May be `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub token: Option<String>,
    /// The server's address as seen from outside (`https://news.example.org`): the base of the
    /// WebSub callback URLs that hubs call.
    #[serde(default)]
    pub public_url: Option<String>,
}

fn default_bind() -> String {
    "127.0.0.1:8080".into()
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            enabled: false,
            bind: default_bind(),
            token: None,
            public_url: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// IANA-style fixed offset for report times, e.g. `UTC` or `+02:00`.
    #[serde(default = "default_tz")]
    pub timezone: String,
}

fn default_tz() -> String {
    "UTC".into()
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            timezone: default_tz(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub url: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Fixed poll interval for this feed (otherwise adaptive).
    #[serde(default, with = "serde_duration::option")]
    pub interval: Option<Duration>,
    #[serde(default)]
    pub full_text: Option<bool>,
    /// Extra boilerplate lines for this feed only.
    #[serde(default)]
    pub boilerplate: Vec<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

/// A configuration problem: the message names the key and, where known, the line.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            message: format!("cannot read config: {e}"),
        })?;
        let mut cfg = Config::parse(&text).map_err(|message| ConfigError {
            path: path.display().to_string(),
            message,
        })?;
        cfg.base_dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from("."));
        for t in &mut cfg.topics {
            let Some(file) = &t.model else { continue };
            let full = model_path(&cfg.base_dir, file);
            let model = std::fs::read_to_string(&full)
                .map_err(|e| e.to_string())
                .and_then(|text| crate::topics::model::Model::parse(&text));
            t.learned = Some(std::sync::Arc::new(model.map_err(|e| ConfigError {
                path: path.display().to_string(),
                message: format!("topic {:?}: model {}: {e}", t.id, full.display()),
            })?));
        }
        Ok(cfg)
    }

    /// Parses and validates config text. Errors carry the key and the line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| one_line_toml_error(&e, text))?;
        cfg.validate(text)?;
        if cfg.dedup.max_distance.is_some() {
            let line = line_of(text, "max_distance")
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            cfg.warnings.push(format!(
                "{line}dedup.max_distance is deprecated and ignored: near-duplicates are decided by MinHash keys and a similarity check; remove the setting"
            ));
        }
        Ok(cfg)
    }

    fn validate(&self, text: &str) -> Result<(), String> {
        let at = |needle: &str| {
            line_of(text, needle)
                .map(|l| format!("line {l}: "))
                .unwrap_or_default()
        };
        self.validate_limits(&at)?;
        self.validate_feeds(&at)?;
        self.validate_sinks(&at)?;
        self.validate_topics(&at)?;
        self.validate_sink_settings(&at)?;
        self.validate_websub(text)
    }

    /// `[websub]` and the `[server] public_url` it needs; the error names the key in its own
    /// section (`enabled` is a key of several).
    fn validate_websub(&self, text: &str) -> Result<(), String> {
        self.websub.validate(&self.server).map_err(|e| {
            let key = e.split(':').next().unwrap_or("");
            let section = if key == "public_url" {
                "server"
            } else {
                "websub"
            };
            let line = text
                .find(&format!("[{section}]"))
                .and_then(|start| {
                    Some(text[..start].matches('\n').count() + line_of(&text[start..], key)?)
                })
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            format!("{line}{section}.{e}")
        })
    }

    /// The store URL and the numeric limits of `[http]` and `[poll]`. `at` names the line of a key.
    fn validate_limits(&self, at: &dyn Fn(&str) -> String) -> Result<(), String> {
        if let Some(url) = &self.store.url
            && crate::store::postgres_url(Path::new(url)).is_none()
        {
            return Err(format!(
                "{}store.url: {url:?} is not a postgres:// or postgresql:// URL (a SQLite file goes in store.path)",
                at("url")
            ));
        }
        if self.http.max_body_bytes == 0 {
            return Err(format!(
                "{}http.max_body_bytes: must be greater than 0",
                at("max_body_bytes")
            ));
        }
        if self.http.concurrency == 0 || self.http.per_host_concurrency == 0 {
            return Err(format!(
                "{}http.concurrency and http.per_host_concurrency must be at least 1",
                at("concurrency")
            ));
        }
        if self.poll.min_interval > self.poll.max_interval {
            return Err(format!(
                "{}poll.min_interval is larger than poll.max_interval",
                at("min_interval")
            ));
        }
        Ok(())
    }

    /// Feed URLs: valid, each listed once.
    fn validate_feeds(&self, at: &dyn Fn(&str) -> String) -> Result<(), String> {
        let mut seen = BTreeMap::new();
        for f in &self.feeds {
            if let Err(e) = validate_feed_url(&f.url) {
                return Err(format!("{}feed.url {:?}: {e}", at(&f.url), f.url));
            }
            if seen.insert(f.url.clone(), ()).is_some() {
                return Err(format!(
                    "{}feed.url {:?} is listed twice",
                    at(&f.url),
                    f.url
                ));
            }
        }
        Ok(())
    }

    /// Sinks: each name once, the default sinks defined.
    fn validate_sinks(&self, at: &dyn Fn(&str) -> String) -> Result<(), String> {
        let sink_names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        let mut seen_sinks = BTreeMap::new();
        for s in &sink_names {
            if seen_sinks.insert(*s, ()).is_some() {
                return Err(format!(
                    "{}sink {s:?} is defined twice",
                    at(&format!("\"{s}\""))
                ));
            }
        }
        for name in &self.alerts.default_sinks {
            if !sink_names.contains(&name.as_str()) {
                return Err(format!(
                    "{}alerts.default_sinks: no sink named {name:?}",
                    at("default_sinks")
                ));
            }
        }
        Ok(())
    }

    /// Topics: each id once, their sinks defined, their queries compiled, rate limits and digests.
    fn validate_topics(&self, at: &dyn Fn(&str) -> String) -> Result<(), String> {
        let sink_names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        let mut seen_topics = BTreeMap::new();
        for t in &self.topics {
            if seen_topics.insert(t.id.clone(), ()).is_some() {
                return Err(format!(
                    "{}topic {:?} is defined twice",
                    at(&format!("\"{}\"", t.id)),
                    t.id
                ));
            }
            for s in &t.sinks {
                if !sink_names.contains(&s.as_str()) {
                    return Err(format!(
                        "{}topic {:?}: sinks: no sink named {s:?}",
                        at(&format!("\"{s}\"")),
                        t.id
                    ));
                }
            }
        }
        crate::topics::Matcher::compile(&self.topics)
            .map_err(|e| format!("{}{e}", at(&format!("\"{}\"", e.topic))))?;
        // Rate limits and digests are checked here too, not first when the daemon starts.
        crate::alerts::topic_policies(&self.topics).map_err(|e| {
            let key = if e.contains("digest") {
                "digest"
            } else {
                "rate_limit"
            };
            format!("{}{e}", at(key))
        })?;
        Ok(())
    }

    /// `[alerts]` and every sink's own settings.
    fn validate_sink_settings(&self, at: &dyn Fn(&str) -> String) -> Result<(), String> {
        self.alerts
            .validate()
            .map_err(|e| format!("{}alerts.{e}", at(e.split(' ').next().unwrap_or(""))))?;
        for s in &self.sinks {
            s.validate().map_err(|e| {
                format!(
                    "{}sink {:?}: {e}",
                    at(&format!("\"{}\"", s.name())),
                    s.name()
                )
            })?;
        }
        Ok(())
    }

    /// The database: `--db` wins, else `store.url` (PostgreSQL), else `store.path` resolved against
    /// the config's directory.
    pub fn db_path(&self) -> PathBuf {
        if let Some(url) = &self.store.url {
            PathBuf::from(url)
        } else if self.store.path.is_absolute() {
            self.store.path.clone()
        } else {
            self.base_dir.join(&self.store.path)
        }
    }

    pub fn feed_config(&self, url: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.url == url)
    }
}

/// The 1-based line on which `needle` first occurs, to point at a key in our own validation errors.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    let pos = text.find(needle)?;
    Some(text[..pos].matches('\n').count() + 1)
}

fn one_line_toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let col = span.start
                - text[..span.start.min(text.len())]
                    .rfind('\n')
                    .map(|p| p + 1)
                    .unwrap_or(0)
                + 1;
            let key: String = text[span.clone()].chars().take(60).collect();
            format!("line {line}, column {col}: {msg} (at `{}`)", key.trim())
        }
        None => msg,
    }
}

/// `[fulltext]`: fetching article pages of `full_text` feeds (see `crate::fulltext`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulltextConfig {
    /// Fetch attempts per page before it is marked failed.
    #[serde(default = "default_page_attempts")]
    pub max_attempts: u32,
    /// Delay before the first retry; doubles per attempt up to `max_backoff`.
    #[serde(default = "d1m", with = "serde_duration")]
    pub backoff: Duration,
    #[serde(default = "d6h", with = "serde_duration")]
    pub max_backoff: Duration,
    /// Least time between the starts of two page fetches from one host.
    #[serde(default = "d1s", with = "serde_duration")]
    pub per_host_delay: Duration,
    /// Page fetches in flight at once (the `[http]` limits apply as well).
    #[serde(default = "default_page_concurrency")]
    pub concurrency: usize,
    /// Obey robots.txt for page fetches (feeds are fetched regardless: they are published to be polled).
    #[serde(default = "default_true")]
    pub respect_robots: bool,
    /// How long a host's robots.txt is cached.
    #[serde(default = "d24h", with = "serde_duration")]
    pub robots_ttl: Duration,
    /// Page bodies are cut at this many bytes (the rest is not read); 0 = `http.max_body_bytes`.
    #[serde(default = "default_page_bytes")]
    pub max_page_bytes: u64,
    /// How often the worker looks for due pages.
    #[serde(default = "d1s", with = "serde_duration")]
    pub tick: Duration,
}

fn default_page_attempts() -> u32 {
    5
}
fn d1m() -> Duration {
    Duration::from_secs(60)
}
fn default_page_concurrency() -> usize {
    4
}
fn default_page_bytes() -> u64 {
    4 * 1024 * 1024
}

impl Default for FulltextConfig {
    fn default() -> Self {
        FulltextConfig {
            max_attempts: default_page_attempts(),
            backoff: d1m(),
            max_backoff: d6h(),
            per_host_delay: d1s(),
            concurrency: default_page_concurrency(),
            respect_robots: true,
            robots_ttl: d24h(),
            max_page_bytes: default_page_bytes(),
            tick: d1s(),
        }
    }
}

/// Where a topic's model file is: relative to the config file's folder; when it is not there, a
/// relative name is also tried against the working directory (a copy of the shipped config.toml
/// run from the project's folder, as the crash and evaluation scripts do, still finds
/// `contrib/topics/`). An error names the config-relative path.
fn model_path(base_dir: &Path, file: &str) -> PathBuf {
    let beside = base_dir.join(file);
    let here = Path::new(file);
    if !beside.exists() && here.is_relative() && here.exists() {
        return here.to_path_buf();
    }
    beside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_has_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.http.max_body_bytes, 15 * 1024 * 1024);
        assert_eq!(c.store.path, PathBuf::from("newswatch.db"));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = Config::parse("[http]\ntimeout = \"5s\"\nbogus = 1\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn bad_value_names_line() {
        let e = Config::parse("[http]\n\ntimeout = \"5 parsecs\"\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn bad_rate_limit_is_a_config_error() {
        let e = Config::parse("[[topic]]\nid = \"t\"\nquery = \"x\"\nrate_limit = \"lots\"\n")
            .unwrap_err();
        assert!(e.contains("line 4") && e.contains("\"t\""), "{e}");
    }

    #[test]
    fn websub_needs_a_public_url() {
        let e =
            Config::parse("[server]\nenabled = true\n\n[websub]\nenabled = true\n").unwrap_err();
        assert!(
            e.contains("line 5") && e.contains("server.public_url"),
            "{e}"
        );
        let e = Config::parse("[server]\npublic_url = \"ftp://x\"\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("server.public_url"),
            "{e}"
        );
        let e = Config::parse("[websub]\nenabled = true\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("server.enabled"), "{e}");
        let c = Config::parse(
            "[server]\nenabled = true\npublic_url = \"https://n.example\"\n[websub]\nenabled = true\nlease = \"1d\"\n",
        )
        .unwrap();
        assert_eq!(c.websub.lease, Duration::from_secs(86400));
        assert_eq!(c.websub.fallback_interval, Duration::from_secs(6 * 3600));
    }

    #[test]
    fn feed_urls_validated() {
        let e = Config::parse("[[feed]]\nurl = \"gopher://x\"\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        Config::parse("[[feed]]\nurl = \"https://example.org/feed.xml\"\ninterval = \"10m\"\n")
            .unwrap();
    }

    #[test]
    fn max_distance_is_accepted_with_a_warning() {
        assert!(Config::parse("").unwrap().warnings.is_empty());
        let c = Config::parse("[dedup]\nwindow = \"3d\"\nmax_distance = 3\n").unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0].contains("line 3") && c.warnings[0].contains("dedup.max_distance"),
            "{:?}",
            c.warnings
        );
    }
}
