//! `/topics/{id}.atom`: the latest matches of a topic (with their alerts) as an Atom 1.0 feed, so
//! any feed reader can subscribe. Entry ids are stable across restarts and rebuilds of the store
//! (derived from the article's identity and the topic); text is XML-escaped, the snippet is sent
//! as escaped HTML with `<mark>` around the matched words.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

use super::html::{escape, marks_to_html};
use super::{AppState, WebError};
use crate::store::TopicEntry as Entry;
use crate::store::query::ms_to_rfc3339;

/// Entries per feed.
const ENTRIES: i64 = 50;

pub async fn topic_feed(
    State(st): State<Arc<AppState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, WebError> {
    let Some(topic) = file.strip_suffix(".atom").map(str::to_string) else {
        return Err(WebError::not_found("topic feeds are at /topics/{id}.atom"));
    };
    let configured = st.topics.iter().any(|t| t.id == topic);
    let t = topic.clone();
    let entries = st.read(move |c| Ok(c.topic_entries(&t, ENTRIES)?)).await?;
    if entries.is_empty() && !configured {
        return Err(WebError::not_found(format!("no topic {topic:?}")));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let base = format!("http://{host}");
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        render(&topic, &base, &entries),
    ))
}

fn uid(identity: &str, topic: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(format!("{identity}\u{0}{topic}").as_bytes());
    format!("urn:newswatch:match:{h:032x}")
}

fn render(topic: &str, base: &str, entries: &[Entry]) -> String {
    let updated = entries
        .iter()
        .map(|e| e.matched_at)
        .max()
        .map(ms_to_rfc3339)
        .unwrap_or_else(|| ms_to_rfc3339(0));
    let seg = super::pages::urlencode(topic);
    let mut o = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    let _ = writeln!(o, "  <id>urn:newswatch:topic:{}</id>", escape(&seg));
    let _ = writeln!(o, "  <title>newswatch: {}</title>", escape(topic));
    let _ = writeln!(o, "  <updated>{updated}</updated>");
    let _ = writeln!(o, "  <author><name>newswatch</name></author>");
    let _ = writeln!(o, "  <generator>newswatch</generator>");
    let _ = writeln!(
        o,
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}/topics/{}.atom\"/>",
        escape(base),
        escape(&seg)
    );
    let _ = writeln!(
        o,
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}/\"/>",
        escape(base)
    );
    for e in entries {
        let page = format!("{base}/articles/{}", e.article_id);
        let link = e
            .link
            .as_deref()
            .and_then(super::html::safe_url)
            .unwrap_or_else(|| escape(&page));
        let terms: Vec<String> = serde_json::from_str(&e.terms).unwrap_or_default();
        let mut content = format!("<p>{}</p>", marks_to_html(&e.snippet));
        let _ = write!(content, "<p>terms: {}", escape(&terms.join(", ")));
        if let Some(f) = &e.feed {
            let _ = write!(content, " · feed: {}", escape(f));
        }
        content.push_str("</p>");
        if !e.alerts.is_empty() {
            content.push_str("<ul>");
            for (uid, sink, status) in &e.alerts {
                let _ = write!(
                    content,
                    "<li>alert {} → {}: {}</li>",
                    escape(uid),
                    escape(sink),
                    escape(status)
                );
            }
            content.push_str("</ul>");
        }
        o.push_str("  <entry>\n");
        let _ = writeln!(o, "    <id>{}</id>", uid(&e.identity, topic));
        let _ = writeln!(o, "    <title type=\"text\">{}</title>", escape(&e.title));
        let _ = writeln!(o, "    <updated>{}</updated>", ms_to_rfc3339(e.matched_at));
        if let Some(p) = e.published_at {
            let _ = writeln!(o, "    <published>{}</published>", ms_to_rfc3339(p));
        }
        let _ = writeln!(o, "    <link rel=\"alternate\" href=\"{link}\"/>");
        let _ = writeln!(
            o,
            "    <link rel=\"related\" type=\"text/html\" href=\"{}\"/>",
            escape(&page)
        );
        let _ = writeln!(o, "    <category term=\"{}\"/>", escape(topic));
        // The content is HTML, sent escaped (type="html"): escape the already-escaped markup.
        let _ = writeln!(
            o,
            "    <content type=\"html\">{}</content>",
            escape(&content)
        );
        o.push_str("  </entry>\n");
    }
    o.push_str("</feed>\n");
    o
}
