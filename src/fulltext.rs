//! Full-text fetching: the daemon worker that fetches the pages of new articles of `full_text`
//! feeds, extracts their main text ([`crate::extract`], on the blocking pool) and stores it with
//! the matches it newly makes (`Store::page_done`, one transaction).
//!
//! Invariants:
//! - A page fetch never blocks a feed and never loses an article: the article is already stored
//!   with the feed text when its page is pending; a failure leaves it as it is.
//! - A failed page is retried with exponential backoff (`[fulltext] backoff`, doubling, capped at
//!   `max_backoff`) up to `max_attempts` attempts; then `page_status = 'failed'` with `page_error`.
//!   Permanent failures (404, 410, other 4xx, robots.txt says no, no text on the page) fail at once.
//! - Page fetches go through the shared `Fetcher` (timeouts, User-Agent, global and per-host
//!   permits), cut at `max_page_bytes`; between the starts of two fetches from one host lies at
//!   least `per_host_delay`.
//! - robots.txt is fetched once per host and cached for `robots_ttl`; a missing one (4xx) allows
//!   everything, an unreachable one (5xx, network error) postpones the page (RFC 9309 §2.3.1.4).
//!
//! Logs: one INFO "pages extracted" summary per `[log] summary` period, each page at DEBUG, a
//! failed page at WARN with its `article_id`, link and reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::config::FulltextConfig;
use crate::fetch::{FetchError, Fetcher};
use crate::poller::PollCtx;
use crate::store::{PageText, PendingPage};
use crate::util::now_ms;

/// Shared state of the page worker: the robots cache and the per-host schedule.
#[derive(Clone)]
pub struct PageFetcher {
    fetcher: Fetcher,
    cfg: Arc<FulltextConfig>,
    /// Per host: the cached robots.txt outcome behind an async lock, so that concurrent pages of
    /// one host wait for a single robots.txt fetch instead of each fetching it.
    robots: Arc<Mutex<HashMap<String, RobotsSlot>>>,
    host_next: Arc<Mutex<HashMap<String, Instant>>>,
}

type RobotsSlot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<RobotsOutcome>)>>>;

#[derive(Debug)]
enum RobotsOutcome {
    Rules(Robots),
    /// No usable robots.txt (4xx): everything allowed.
    AllowAll,
    /// 5xx or network error: nothing may be fetched for now.
    Unreachable(String),
}

/// What happened to one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageResult {
    Done {
        chars: usize,
        topics: Vec<String>,
    },
    Retry {
        error: String,
        at: i64,
    },
    Failed {
        error: String,
    },
    /// The article was no longer pending when the result arrived.
    Gone,
}

impl PageFetcher {
    pub fn new(fetcher: &Fetcher, cfg: &FulltextConfig) -> PageFetcher {
        let cap = if cfg.max_page_bytes == 0 {
            u64::MAX
        } else {
            cfg.max_page_bytes
        };
        PageFetcher {
            fetcher: fetcher.truncating(cap),
            cfg: Arc::new(cfg.clone()),
            robots: Arc::default(),
            host_next: Arc::default(),
        }
    }

    /// Waits for this host's next fetch slot and reserves it.
    async fn host_slot(&self, host: &str) {
        let delay = self.cfg.per_host_delay;
        if delay.is_zero() {
            return;
        }
        let at = {
            let mut m = self.host_next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = m.get(host).copied().filter(|t| *t > now).unwrap_or(now);
            m.insert(host.to_string(), slot + delay);
            slot
        };
        tokio::time::sleep_until(at.into()).await;
    }

    async fn robots_for(&self, url: &url::Url) -> Arc<RobotsOutcome> {
        let key = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""))
            + &url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let slot = self
            .robots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        if let Some((at, r)) = &*cached {
            let ttl = match **r {
                RobotsOutcome::Unreachable(_) => self.cfg.backoff.min(self.cfg.robots_ttl),
                _ => self.cfg.robots_ttl,
            };
            if at.elapsed() < ttl {
                return r.clone();
            }
        }
        let robots_url = format!("{key}/robots.txt");
        self.host_slot(&key).await;
        // robots.txt is small; a huge one is cut (RFC 9309 asks parsers to read at least 500 KiB).
        let outcome = match self.fetcher.get(&robots_url, &Default::default()).await {
            Ok(r) if (200..300).contains(&r.status) => RobotsOutcome::Rules(Robots::parse(
                &String::from_utf8_lossy(&r.body),
                &self.product_token(),
            )),
            Ok(r) if (400..500).contains(&r.status) => RobotsOutcome::AllowAll,
            Ok(r) => RobotsOutcome::Unreachable(format!("robots.txt: HTTP {}", r.status)),
            Err(e) => RobotsOutcome::Unreachable(format!("robots.txt: {e}")),
        };
        let outcome = Arc::new(outcome);
        *cached = Some((Instant::now(), outcome.clone()));
        outcome
    }

    /// Our robots.txt name: the User-Agent's product token ("newswatch").
    fn product_token(&self) -> String {
        let ua = &self.fetcher.config().user_agent;
        ua.split(['/', ' '])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    fn retry_or_fail(&self, attempts_before: u32, error: String) -> PageResult {
        let attempts = attempts_before + 1;
        if attempts >= self.cfg.max_attempts {
            return PageResult::Failed {
                error: format!("{error} (gave up after {attempts} attempts)"),
            };
        }
        let factor = 2u32.saturating_pow(attempts - 1);
        let delay = self
            .cfg
            .backoff
            .saturating_mul(factor)
            .min(self.cfg.max_backoff);
        PageResult::Retry {
            error,
            at: now_ms() + delay.as_millis() as i64,
        }
    }

    /// Fetches and extracts one page: robots.txt, host delay, fetch, extraction. Stores nothing.
    async fn fetch_extract(
        &self,
        page: &PendingPage,
    ) -> Result<crate::extract::Extracted, PageResult> {
        let url = match url::Url::parse(&page.link) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => u,
            _ => {
                return Err(PageResult::Failed {
                    error: format!("not an http(s) link: {}", page.link),
                });
            }
        };
        if self.cfg.respect_robots {
            match &*self.robots_for(&url).await {
                RobotsOutcome::Rules(r) if !r.allowed(&path_and_query(&url)) => {
                    return Err(PageResult::Failed {
                        error: "disallowed by robots.txt".into(),
                    });
                }
                RobotsOutcome::Unreachable(e) => {
                    return Err(self.retry_or_fail(page.attempts, e.clone()));
                }
                _ => {}
            }
        }
        self.host_slot(&format!(
            "{}://{}",
            url.scheme(),
            url.host_str().unwrap_or("")
        ))
        .await;
        let resp = match self.fetcher.get(url.as_str(), &Default::default()).await {
            Ok(r) => r,
            Err(
                e @ (FetchError::BadUrl(..)
                | FetchError::TooManyRedirects(_)
                | FetchError::RedirectLoop(_)),
            ) => {
                return Err(PageResult::Failed {
                    error: e.to_string(),
                });
            }
            Err(e) => return Err(self.retry_or_fail(page.attempts, e.to_string())),
        };
        match resp.status {
            200..=299 => {}
            s @ (408 | 425 | 429 | 500..=599) => {
                return Err(self.retry_or_fail(page.attempts, format!("HTTP {s}")));
            }
            s => {
                return Err(PageResult::Failed {
                    error: format!("HTTP {s}"),
                });
            }
        }
        if resp.truncated {
            tracing::debug!(url = %page.link, bytes = resp.body.len(), "page cut at max_page_bytes");
        }
        let final_url = resp.final_url.clone();
        let charset = resp.charset.clone();
        let body = resp.body;
        let res = tokio::task::spawn_blocking(move || {
            crate::extract::extract(&body, Some(&final_url), charset.as_deref())
        })
        .await;
        match res {
            Ok(Ok(x)) => Ok(x),
            Ok(Err(e)) => Err(PageResult::Failed {
                error: e.to_string(),
            }),
            Err(e) => Err(PageResult::Failed {
                error: format!("extraction crashed: {e}"),
            }),
        }
    }
}

fn path_and_query(u: &url::Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// Fetches one page and commits the result through the writer.
pub async fn process(ctx: &PollCtx, pf: &PageFetcher, page: PendingPage) -> PageResult {
    let id = page.id;
    let result = pf.fetch_extract(&page).await;
    let committed: anyhow::Result<PageResult> = match result {
        Ok(x) => {
            let pipeline = ctx.pipeline.clone();
            let chars = x.text.chars().count();
            ctx.writer
                .call(move |s| {
                    let out = pipeline.with_policy(false, |policy| {
                        let title = x.title.as_deref();
                        s.page_done(
                            &PageText {
                                id,
                                title,
                                text: &x.text,
                            },
                            policy,
                        )
                    })?;
                    Ok(if out.stored {
                        PageResult::Done {
                            chars,
                            topics: out.topics,
                        }
                    } else {
                        PageResult::Gone
                    })
                })
                .await
        }
        Err(r) => {
            let (error, at) = match &r {
                PageResult::Retry { error, at } => (error.clone(), Some(*at)),
                PageResult::Failed { error } => (error.clone(), None),
                _ => unreachable!("fetch_extract fails only with Retry or Failed"),
            };
            ctx.writer
                .call(move |s| {
                    Ok(if s.page_failed(id, &error, at)? {
                        r
                    } else {
                        PageResult::Gone
                    })
                })
                .await
        }
    };
    let res = committed.unwrap_or_else(|e| PageResult::Retry {
        error: format!("store: {e:#}"),
        at: now_ms(),
    });
    match &res {
        PageResult::Done { chars, topics } => {
            tracing::debug!(article_id = id, url = %page.link, chars, topics = ?topics, "page extracted")
        }
        PageResult::Retry { error, .. } => {
            tracing::warn!(article_id = id, url = %page.link, error = %error, "page fetch failed; will retry")
        }
        PageResult::Failed { error } => {
            tracing::warn!(article_id = id, url = %page.link, error = %error, "page fetch failed for good")
        }
        PageResult::Gone => {}
    }
    res
}

/// What the page worker did: pages picked and what became of them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageTally {
    pub picked: u64,
    pub extracted: u64,
    pub retried: u64,
    pub failed: u64,
}

impl PageTally {
    fn count(&mut self, r: &PageResult) {
        match r {
            PageResult::Done { .. } => self.extracted += 1,
            PageResult::Retry { .. } => self.retried += 1,
            PageResult::Failed { .. } => self.failed += 1,
            PageResult::Gone => {}
        }
    }

    fn add(&mut self, o: PageTally) {
        self.picked += o.picked;
        self.extracted += o.extracted;
        self.retried += o.retried;
        self.failed += o.failed;
    }

    /// Logs the period's summary, if any page was picked, and starts again from zero.
    fn log(&mut self, period: Duration) {
        let t = std::mem::take(self);
        if t.picked > 0 {
            tracing::info!(
                picked = t.picked,
                extracted = t.extracted,
                retried = t.retried,
                failed = t.failed,
                period_s = period.as_secs(),
                "pages extracted"
            );
        }
    }
}

/// One round: picks the due pages and processes them concurrently.
pub async fn run_once(ctx: &PollCtx, pf: &PageFetcher) -> anyhow::Result<PageTally> {
    let cfg = pf.cfg.clone();
    let limit = cfg.concurrency.max(1) * 4;
    // A page stays leased for longer than a fetch can take, so no other round picks it meanwhile.
    let lease =
        (ctx.fetcher.config().timeout * 3 + cfg.per_host_delay * limit as u32).as_millis() as i64;
    let due = ctx
        .writer
        .call(move |s| s.claim_due_pages(now_ms(), limit, lease))
        .await?;
    let tally = PageTally {
        picked: due.len() as u64,
        ..Default::default()
    };
    let tally = futures_util::stream::iter(due)
        .map(|p| process(ctx, pf, p))
        .buffer_unordered(cfg.concurrency.max(1))
        .fold(tally, |mut t, r| async move {
            t.count(&r);
            t
        })
        .await;
    Ok(tally)
}

/// The page worker of the daemon: runs rounds until `shutdown`. A round cut short by shutdown
/// commits nothing more; its leased pages are picked again after the lease.
pub async fn run(ctx: PollCtx, shutdown: CancellationToken) {
    let cfg = ctx.pipeline.config.fulltext.clone();
    let pf = PageFetcher::new(&ctx.fetcher, &cfg);
    let mut burst = crate::util::Burst::new(ctx.pipeline.config.log.summary);
    let mut tally = PageTally::default();
    loop {
        let round = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = run_once(&ctx, &pf) => r,
        };
        let wait = match round {
            Ok(t) if t.picked > 0 => {
                tally.add(t);
                Duration::ZERO
            }
            Ok(_) => cfg.tick,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot read due pages");
                cfg.tick
            }
        };
        if let Some(period) = burst.due() {
            tally.log(period);
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tally.log(burst.end());
}

/// The rules of one robots.txt for one user agent.
///
/// Hand-rolled (RFC 9309 is ~60 lines of logic) rather than a crate: the candidates on crates.io
/// are unmaintained or pull their own HTTP stack, and we need only group selection, Allow/Disallow
/// with `*` and `$`, and longest-match precedence.
#[derive(Debug, Clone, Default)]
pub struct Robots {
    /// (allow, pattern) of the selected group(s).
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// Parses robots.txt for `agent` (a product token, lowercase): the groups naming it (matched
    /// case-insensitively as the RFC's product token), else the `*` groups. Groups for the same agent merge.
    pub fn parse(text: &str, agent: &str) -> Robots {
        let agent = agent.to_ascii_lowercase();
        let mut specific = Vec::new();
        let mut star = Vec::new();
        let mut found_specific = false;
        // Current group: its agents, and whether rules have started (a user-agent line after rules opens a new group).
        let mut agents: Vec<String> = Vec::new();
        let mut in_rules = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim();
            match k.as_str() {
                "user-agent" => {
                    if in_rules {
                        agents.clear();
                        in_rules = false;
                    }
                    agents.push(v.to_ascii_lowercase());
                }
                "allow" | "disallow" => {
                    in_rules = true;
                    let names_us = agents.contains(&agent);
                    found_specific |= names_us;
                    if v.is_empty() {
                        continue; // "Disallow:" with no path allows everything: no rule
                    }
                    let rule = (k == "allow", v.to_string());
                    if names_us {
                        specific.push(rule.clone());
                    }
                    if agents.iter().any(|a| a == "*") {
                        star.push(rule);
                    }
                }
                _ => {}
            }
        }
        Robots {
            rules: if found_specific { specific } else { star },
        }
    }

    /// Whether `path` (path plus query) may be fetched: the longest matching rule decides; on a
    /// tie Allow wins; no matching rule allows. `/robots.txt` is always allowed.
    pub fn allowed(&self, path: &str) -> bool {
        if path == "/robots.txt" {
            return true;
        }
        let mut best: Option<(usize, bool)> = None;
        for (allow, pat) in &self.rules {
            if pattern_matches(pat, path) {
                let len = pat.len();
                best = match best {
                    Some((bl, ba)) if bl > len || (bl == len && ba) => Some((bl, ba)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// robots.txt path patterns: a prefix match where `*` is any run of characters and a trailing
/// `$` anchors the end. Percent-encoding is compared as written.
fn pattern_matches(pat: &str, path: &str) -> bool {
    let (pat, anchored) = match pat.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pat, false),
    };
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return if anchored {
            path == pat
        } else {
            path.starts_with(pat)
        };
    }
    let Some(mut rest) = path.strip_prefix(parts[0]) else {
        return false;
    };
    let last = parts.len() - 1;
    for (i, part) in parts.iter().enumerate().skip(1) {
        if i == last && anchored {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(p) => rest = &rest[p + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_groups_and_longest_match() {
        let txt = "User-agent: *\nDisallow: /private/\nAllow: /private/ok\n\nUser-agent: otherbot\nDisallow: /\n";
        let r = Robots::parse(txt, "newswatch");
        assert!(!r.allowed("/private/x"));
        assert!(r.allowed("/private/ok.html"));
        assert!(r.allowed("/news/1"));
        let o = Robots::parse(txt, "otherbot");
        assert!(!o.allowed("/news/1"));
    }

    #[test]
    fn robots_specific_group_wins_over_star() {
        let txt = "User-agent: *\nDisallow: /\n\nUser-agent: NewsWatch\nUser-agent: x\nDisallow: /admin\n";
        let r = Robots::parse(txt, "newswatch");
        assert!(r.allowed("/news/1"));
        assert!(!r.allowed("/admin/a"));
        let empty = Robots::parse(
            "User-agent: newswatch\nDisallow:\n\nUser-agent: *\nDisallow: /\n",
            "newswatch",
        );
        assert!(empty.allowed("/a"));
    }

    #[test]
    fn robots_wildcards() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /*.pdf$\nDisallow: /search*q=\nAllow: /$\n",
            "newswatch",
        );
        assert!(!r.allowed("/files/a.pdf"));
        assert!(r.allowed("/files/a.pdf?x=1"));
        assert!(!r.allowed("/search?x=1&q=2"));
        assert!(r.allowed("/"));
        // Tie: Allow wins.
        let t = Robots::parse("User-agent: *\nDisallow: /a\nAllow: /a\n", "newswatch");
        assert!(t.allowed("/a"));
    }
}
