//! Clean: a parsed `Entry` → an `Article` ready to dedup, match and store. Pure: no I/O, not async.
//! (Issue 3 builds the full stage: boilerplate, canonical links, sanitized HTML, language. This
//! first version converts HTML to text and keeps the interface the pipeline uses.)

use crate::config::{CleanConfig, FeedConfig};
use crate::model::{Article, Entry};

/// The cleaning rules for one feed: the built-in lists plus what config.toml adds globally and for
/// the feed. Built once per feed and reused for every entry.
#[derive(Debug, Clone, Default)]
pub struct CleanRules {
    pub extra_boilerplate: Vec<String>,
    pub strip_params: Vec<String>,
}

impl CleanRules {
    pub fn new(global: &CleanConfig, feed: Option<&FeedConfig>) -> CleanRules {
        let mut extra_boilerplate = global.boilerplate.clone();
        if let Some(f) = feed {
            extra_boilerplate.extend(f.boilerplate.iter().cloned());
        }
        CleanRules {
            extra_boilerplate,
            strip_params: global.strip_params.clone(),
        }
    }
}

/// Cleans one entry. `feed_lang` is the language the feed declares.
pub fn clean_entry(entry: &Entry, feed_lang: Option<&str>, _rules: &CleanRules) -> Article {
    let body = entry
        .content
        .as_deref()
        .or(entry.summary.as_deref())
        .unwrap_or("");
    let text = html_to_text(body);
    let title = html_to_text(&entry.title).replace('\n', " ");
    Article {
        guid: entry.guid.clone(),
        link: entry.link.clone(),
        canonical_link: entry.link.clone(),
        title,
        text,
        html: ammonia::clean(body),
        lang: entry
            .language
            .clone()
            .or(feed_lang.map(str::to_string))
            .map(|l| l.chars().take(2).collect()),
        published_at: entry.published_at,
        content_hash: String::new(),
        simhash: 0,
    }
}

fn html_to_text(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return html.trim().to_string();
    }
    html2text::config::plain_no_decorate()
        .string_from_read(html.as_bytes(), 100_000)
        .unwrap_or_else(|_| html.to_string())
        .trim()
        .to_string()
}
