//! The pure pipeline between fetch and store: parse → clean → fingerprint, and the matcher with
//! its routing. No I/O, not async; `poller` and `ingest` drive it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::clean::{self, CleanRules};
use crate::config::Config;
use crate::dedup;
use crate::model::{Article, ParsedFeed};
use crate::parse::{self, ParseError};
use crate::store::feeds_log::FetchLog;
use crate::store::{FeedState, FetchCommit, MatchPolicy};
use crate::topics::{Doc, Matcher, TopicMatch};

/// Compiled, immutable pipeline state shared by all feeds. Rebuilt when the config changes.
pub struct Pipeline {
    pub config: Arc<Config>,
    pub matcher: Arc<Matcher>,
    routes: HashMap<String, Vec<String>>,
    /// The cleaning rules of every feed without boilerplate patterns of its own (built once: the
    /// built-in lists take ~0.1 ms to compile).
    rules: CleanRules,
}

/// A parsed and cleaned feed, ready to commit.
pub struct Prepared {
    pub feed: ParsedFeed,
    pub articles: Vec<Article>,
    /// Topic matches of each article, computed with the other pure stages (in parallel, off the
    /// writer) and used by the commit for the articles that turn out new or updated.
    pub matches: Precomputed,
}

impl Prepared {
    /// The commit of a body that is not a poll's (a local file, a push): the articles, the feed's
    /// title, link and language, the next poll time given, and the log row. The matches stay
    /// behind: take them first (`std::mem::take(&mut p.matches)`).
    pub fn into_commit(self, feed_id: i64, next_poll_at: i64, log: FetchLog) -> FetchCommit {
        FetchCommit {
            feed_id,
            articles: self.articles,
            state: FeedState {
                title: self.feed.title,
                site_url: self.feed.site_url,
                lang: self.feed.language,
                next_poll_at,
                ..Default::default()
            },
            log,
        }
    }
}

/// Matches computed ahead of the commit, keyed by what the matcher sees of an article.
#[derive(Default)]
pub struct Precomputed(HashMap<(String, Option<String>, Option<String>), Vec<TopicMatch>>);

impl Precomputed {
    fn key(a: &Article) -> (String, Option<String>, Option<String>) {
        (a.content_hash.clone(), a.link.clone(), a.lang.clone())
    }

    pub fn extend(&mut self, other: Precomputed) {
        self.0.extend(other.0);
    }
}

impl Pipeline {
    pub fn new(config: Arc<Config>) -> anyhow::Result<Pipeline> {
        let matcher = Matcher::compile(&config.topics)?;
        let routes = config
            .topics
            .iter()
            .map(|t| {
                let sinks = if t.sinks.is_empty() {
                    config.alerts.default_sinks.clone()
                } else {
                    t.sinks.clone()
                };
                (t.id.clone(), sinks)
            })
            .collect();
        Ok(Pipeline {
            rules: CleanRules::new(&config.clean, None),
            config,
            matcher: Arc::new(matcher),
            routes,
        })
    }

    /// Parse, clean and fingerprint one fetched body. `url` is the feed's URL (resolves relative
    /// links and selects per-feed cleaning rules).
    pub fn prepare(
        &self,
        bytes: &[u8],
        url: &str,
        http_charset: Option<&str>,
    ) -> Result<Prepared, ParseError> {
        let feed = parse::parse_feed(bytes, Some(url), http_charset)?;
        let own_rules;
        let rules = match self.config.feed_config(url) {
            Some(f) if !f.boilerplate.is_empty() => {
                own_rules = CleanRules::new(&self.config.clean, Some(f));
                &own_rules
            }
            _ => &self.rules,
        };
        let mut articles = clean::clean_feed(&feed.entries, feed.language.as_deref(), rules);
        dedup::fingerprint_feed(&mut articles);
        let matches = if self.matcher.is_empty() {
            Precomputed::default()
        } else {
            Precomputed(
                articles
                    .iter()
                    .map(|a| (Precomputed::key(a), self.match_article(a)))
                    .collect(),
            )
        };
        Ok(Prepared {
            feed,
            articles,
            matches,
        })
    }

    pub fn match_article(&self, a: &Article) -> Vec<TopicMatch> {
        if self.matcher.is_empty() {
            return Vec::new();
        }
        let site = a.link.as_deref().and_then(clean::url::host);
        self.matcher.match_doc(&Doc {
            title: &a.title,
            text: &a.text,
            lang: a.lang.as_deref(),
            site: site.as_deref(),
        })
    }

    pub fn sinks_for(&self, topic: &str) -> Vec<String> {
        self.routes.get(topic).cloned().unwrap_or_default()
    }

    /// Whether new articles of this feed get their page fetched (per feed, else the global default).
    pub fn full_text_for(&self, url: &str, stored: Option<bool>) -> bool {
        stored
            .or_else(|| self.config.feed_config(url).and_then(|f| f.full_text))
            .unwrap_or(self.config.clean.full_text)
    }

    /// Like `with_policy`, with matches computed ahead by `prepare`; an article not found there
    /// is matched now.
    pub fn with_precomputed<T>(
        &self,
        full_text: bool,
        pre: &Precomputed,
        f: impl FnOnce(&MatchPolicy) -> T,
    ) -> T {
        let matcher = |a: &Article| match pre.0.get(&Precomputed::key(a)) {
            Some(m) => m.clone(),
            None => self.match_article(a),
        };
        let sinks = |t: &str| self.sinks_for(t);
        let policy = MatchPolicy {
            matcher: &matcher,
            sinks_for: &sinks,
            window_ms: self.config.dedup.window.as_millis() as i64,
            full_text,
        };
        f(&policy)
    }

    /// Runs `f` with the match policy for a feed.
    pub fn with_policy<T>(&self, full_text: bool, f: impl FnOnce(&MatchPolicy) -> T) -> T {
        self.with_precomputed(full_text, &Precomputed::default(), f)
    }
}
