//! The values that flow between pipeline stages. Plain data, no behaviour beyond construction.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A feed as parsed, before cleaning.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub site_url: Option<String>,
    /// The language the feed declares (`<language>`, `xml:lang`), lowercased, e.g. `de` or `en-us`.
    pub language: Option<String>,
    /// The feed's own minimum refresh interval (RSS `<ttl>`), in seconds.
    pub ttl_secs: Option<u64>,
    /// WebSub hubs the feed advertises (`<atom:link rel="hub">`), absolute.
    pub hubs: Vec<String>,
    /// The feed's own URL as it names it (`<atom:link rel="self">`): the WebSub topic.
    pub self_url: Option<String>,
    pub entries: Vec<Entry>,
}

/// One item of a feed, as parsed: text fields may still hold HTML.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The feed's own id for the item (guid / atom:id / json id), if it gave one.
    pub guid: Option<String>,
    /// The item's link, absolute (resolved against the feed URL).
    pub link: Option<String>,
    /// Title, possibly HTML.
    pub title: String,
    /// Full content (content:encoded, atom:content, content_html), HTML.
    pub content: Option<String>,
    /// Summary / description, HTML.
    pub summary: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The item's own declared language, if any.
    pub language: Option<String>,
    pub authors: Vec<String>,
}

/// An entry after cleaning: what is stored and matched.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Article {
    pub guid: Option<String>,
    /// The link as the feed gave it (absolute), for display.
    pub link: Option<String>,
    /// The link canonicalised for dedup (tracking parameters removed, ...).
    pub canonical_link: Option<String>,
    pub title: String,
    /// Clean text, paragraphs separated by a blank line, NFC.
    pub text: String,
    /// Sanitized HTML for display (never the raw feed HTML).
    pub html: String,
    /// ISO 639-1 code, e.g. `en`, `de`, `ru`, `fr`.
    pub lang: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// Hash of the normalised title + text (exact-duplicate key of last resort).
    pub content_hash: String,
    /// The near-duplicate fingerprint (`dedup::fingerprint` sets it).
    #[serde(skip)]
    pub fingerprint: crate::dedup::Fingerprint,
}
