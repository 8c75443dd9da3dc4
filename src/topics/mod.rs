//! Watch topics: the query language, normalisation, and one compiled matcher for all topics.
//!
//! - [`normalize`]: folding and tokenisation shared by documents and terms (byte offsets kept).
//! - [`query`]: the query language of DESIGN section 5, parsed with positions for errors.
//! - [`matcher`]: all topics' terms indexed together (tries and an automaton), candidates,
//!   verification, snippets.
//!
//! This file holds the interface the rest of the crate uses: `TopicConfig` (a `[[topic]]` section),
//! `Doc`, `TopicMatch`, `TopicError` and `Matcher`. Matching is pure: no I/O, not async.
//! Invariant: a `Matcher` exists only for topic sets whose every query, exclude and group entry
//! parses (disabled topics are checked too but never match).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub mod matcher;
pub mod model;
pub mod normalize;
pub mod query;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, Default, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The name users write in config.toml and read in alerts (the serde names, see the test).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A `[[topic]]` section of config.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub query: String,
    #[serde(default)]
    pub exclude: Option<String>,
    #[serde(default)]
    pub severity: Severity,
    /// Names of `[[sink]]` sections this topic alerts.
    #[serde(default)]
    pub sinks: Vec<String>,
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// At most this many alerts per window, e.g. `"10/1h"`; the rest wait for the next window.
    #[serde(default)]
    pub rate_limit: Option<String>,
    /// Send one digest per interval (e.g. `"30m"`) instead of one alert per match.
    #[serde(default)]
    pub digest: Option<String>,
    /// A learned model file (`model::Model`), relative to the config file (else to the working
    /// directory); `Config::load` reads it into `learned`.
    #[serde(default)]
    pub model: Option<String>,
    /// The model read from `model`; without it the topic is its query alone.
    #[serde(skip)]
    pub learned: Option<Arc<model::Model>>,
}

fn yes() -> bool {
    true
}

/// A document as the matcher sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Doc<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub lang: Option<&'a str>,
    /// Host of the article's link, for `site:`.
    pub site: Option<&'a str>,
}

/// One topic that matched one document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TopicMatch {
    pub topic: String,
    /// The terms of the query that fired, as written in the query; for a topic with a model,
    /// then `score 0.93` (and, when the model alone matched, the words that weighed most).
    pub terms: Vec<String>,
    /// A passage of the document with the matched words marked `[[like this]]`.
    pub snippet: String,
}

/// A query that does not parse: where and why.
///
/// `field` is `query`, `exclude` or `groups.NAME[i]` (the i-th entry, from 0); `position` is the
/// 1-based character column in that field's text, which `source` holds. Display prints one line,
/// then the offending line of the source with a caret under the position.
#[derive(Debug, Clone)]
pub struct TopicError {
    pub topic: String,
    pub field: String,
    pub position: usize,
    pub message: String,
    /// The text of the field (for the caret line); may be empty.
    pub source: String,
}

impl TopicError {
    /// The source line holding the position and a caret line under it, or `None`.
    pub fn caret(&self) -> Option<(String, String)> {
        if self.source.is_empty() || self.position == 0 {
            return None;
        }
        let mut col = self.position - 1;
        for line in self.source.split('\n') {
            let n = line.chars().count();
            if col <= n {
                let shown: String = line
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                return Some((shown, format!("{}^", " ".repeat(col))));
            }
            col -= n + 1;
        }
        None
    }
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "topic {:?}: {}: at position {}: {}",
            self.topic, self.field, self.position, self.message
        )?;
        if let Some((line, caret)) = self.caret() {
            write!(f, "\n    {line}\n    {caret}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TopicError {}

/// All enabled topics compiled together (see [`matcher`]).
#[derive(Debug, Default)]
pub struct Matcher {
    engine: matcher::Engine,
}

impl Matcher {
    /// Parses and compiles every topic; the first broken query, exclude or group entry is an error.
    pub fn compile(topics: &[TopicConfig]) -> Result<Matcher, TopicError> {
        Ok(Matcher {
            engine: matcher::Engine::compile(topics)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.engine.is_empty()
    }

    /// Number of enabled topics.
    pub fn len(&self) -> usize {
        self.engine.len()
    }

    /// Ids of the enabled topics, in config order.
    pub fn topic_ids(&self) -> impl Iterator<Item = &str> {
        self.engine.topic_ids()
    }

    /// Distinct folded term cores.
    pub fn pattern_count(&self) -> usize {
        self.engine.pattern_count()
    }

    /// The topics `doc` matches, in config order, each with its terms and a marked snippet.
    pub fn match_doc(&self, doc: &Doc) -> Vec<TopicMatch> {
        self.engine.match_doc(doc)
    }

    /// The same topics compiled without their models: what the queries alone match.
    pub fn compile_without_models(topics: &[TopicConfig]) -> Result<Matcher, TopicError> {
        let bare: Vec<TopicConfig> = topics
            .iter()
            .map(|t| TopicConfig {
                learned: None,
                ..t.clone()
            })
            .collect();
        Matcher::compile(&bare)
    }
}

#[cfg(test)]
mod tests {
    use super::Severity;

    #[test]
    fn severity_names_are_the_config_names() {
        for s in [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
    }
}
