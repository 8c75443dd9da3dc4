//! Watch topics: the query language, normalisation, and one compiled matcher for all topics.
//! (Issue 4 builds the engine; this file fixes the interface the rest of the crate uses.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, Default, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
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
    /// The terms of the query that fired, as written in the query.
    pub terms: Vec<String>,
    /// A passage of the document with the matched words marked `[[like this]]`.
    pub snippet: String,
}

/// A query that does not parse: where and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("topic {topic:?}: {field}: at position {position}: {message}")]
pub struct TopicError {
    pub topic: String,
    pub field: String,
    pub position: usize,
    pub message: String,
}

/// All enabled topics compiled together.
#[derive(Debug, Default)]
pub struct Matcher {
    topics: Vec<TopicConfig>,
}

impl Matcher {
    pub fn compile(topics: &[TopicConfig]) -> Result<Matcher, TopicError> {
        Ok(Matcher {
            topics: topics.iter().filter(|t| t.enabled).cloned().collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    pub fn match_doc(&self, _doc: &Doc) -> Vec<TopicMatch> {
        Vec::new()
    }
}
