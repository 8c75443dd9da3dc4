//! Clean: a parsed `Entry` → an `Article` ready to dedup, match and store. Pure: no I/O, not async.
//!
//! - `html`: body → sanitized HTML (ammonia, strict allowlist) + text blocks; plain text skips the
//!   HTML parser.
//! - `boilerplate`: footer / share / "read more" lines dropped (built-in list in several languages,
//!   plus config.toml patterns, global and per feed).
//! - `url`: canonical links (tracking parameters, fragment, default port dropped; query sorted).
//! - `lang`: ISO 639-1 language, declared-and-validated or detected on a prefix.
//!
//! Invariants of the `Article` produced: `text` is paragraphs separated by one blank line, lines
//! whitespace-folded, entities decoded, NFC; `title` is one line, NFC; `html` is sanitized (never
//! the feed's raw HTML); `link` is the feed's link, `canonical_link` its canonical form. The full
//! content is preferred over the summary when both exist. No input panics this stage.

pub mod boilerplate;
pub mod html;
pub mod lang;
pub mod url;

use unicode_normalization::{UnicodeNormalization, is_nfc_quick};

use crate::config::{CleanConfig, FeedConfig};
use crate::model::{Article, Entry};
use boilerplate::Boilerplate;

/// The cleaning rules for one feed: the built-in lists plus what config.toml adds globally and for
/// the feed. Built once per feed and reused for every entry.
#[derive(Debug, Clone)]
pub struct CleanRules {
    pub boilerplate: Boilerplate,
    pub strip_params: Vec<String>,
}

impl Default for CleanRules {
    fn default() -> Self {
        CleanRules::new(&CleanConfig::default(), None)
    }
}

impl CleanRules {
    pub fn new(global: &CleanConfig, feed: Option<&FeedConfig>) -> CleanRules {
        let feed_patterns = feed.map(|f| f.boilerplate.as_slice()).unwrap_or_default();
        CleanRules {
            boilerplate: Boilerplate::new(
                global
                    .boilerplate
                    .iter()
                    .chain(feed_patterns)
                    .map(String::as_str),
            ),
            strip_params: global.strip_params.clone(),
        }
    }
}

/// Cleans the entries of one feed. `feed_lang` is the language the feed declares; a feed that
/// declares none gets one inferred from all its items (`lang::feed_language`) as a hint.
pub fn clean_feed(entries: &[Entry], feed_lang: Option<&str>, rules: &CleanRules) -> Vec<Article> {
    let mut articles: Vec<Article> = entries.iter().map(|e| clean_body(e, rules)).collect();
    let hint = match feed_lang.and_then(lang::normalize_declared) {
        Some(_) => None,
        None => lang::feed_language(
            articles
                .iter()
                .zip(entries)
                .filter(|(_, e)| e.language.is_none())
                .map(|(a, _)| (a.title.as_str(), a.text.as_str())),
        ),
    };
    for (a, e) in articles.iter_mut().zip(entries) {
        a.lang = lang::language(&a.title, &a.text, e.language.as_deref().or(feed_lang), hint);
    }
    articles
}

/// Cleans one entry on its own. `feed_lang` is the language the feed declares.
pub fn clean_entry(entry: &Entry, feed_lang: Option<&str>, rules: &CleanRules) -> Article {
    let mut a = clean_body(entry, rules);
    a.lang = lang::language(
        &a.title,
        &a.text,
        entry.language.as_deref().or(feed_lang),
        None,
    );
    a
}

/// Cleans one entry, all but its language.
fn clean_body(entry: &Entry, rules: &CleanRules) -> Article {
    let body = [entry.content.as_deref(), entry.summary.as_deref()]
        .into_iter()
        .flatten()
        .find(|b| !b.trim().is_empty())
        .unwrap_or("");
    let cleaned = if html::looks_like_html(body) {
        html::clean_html(body)
    } else {
        html::clean_plain(body)
    };
    let blocks = rules.boilerplate.filter(cleaned.blocks);
    let text = nfc(blocks.join("\n\n"));
    let title = nfc(html::inline_text(&entry.title));
    Article {
        guid: entry.guid.clone(),
        link: entry.link.clone(),
        canonical_link: entry
            .link
            .as_deref()
            .map(|l| url::canonical_link(l, &rules.strip_params)),
        title,
        text,
        html: nfc(cleaned.html),
        lang: None,
        published_at: entry.published_at,
        content_hash: String::new(),
        fingerprint: Default::default(),
    }
}

fn nfc(s: String) -> String {
    if is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        s
    } else {
        s.nfc().collect()
    }
}
