//! The dashboard pages, rendered on the server (no scripts): latest alerts (each with its mark
//! form) and matches per topic with highlighted snippets, one article (a mark form per alerted
//! match), feed health. All feed content is escaped (`escape`,
//! `marks_to_html`) or sanitized (`sanitize` for stored article HTML).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Html;

use super::feedback::mark_form;
use super::html::{escape, marks_to_html, page, safe_url, sanitize};
use super::{AppState, WebError};
use crate::store::{AlertFilter, MatchFilter, Paging};
use crate::util::count_noun;

/// Matches shown per topic on the dashboard.
const PER_TOPIC: i64 = 10;

pub async fn dashboard(State(st): State<Arc<AppState>>) -> Result<Html<String>, WebError> {
    let topics = super::api::topic_rows(&st).await?;
    let ids: Vec<String> = topics.iter().map(|t| t.id.clone()).collect();
    let (alerts, per_topic, marks) = st
        .read(move |c| {
            let alerts = c
                .list_alerts(&AlertFilter::default(), Paging::first(20))?
                .items;
            let mut per = Vec::new();
            for id in ids {
                let f = MatchFilter {
                    topic: Some(id),
                    since_ms: None,
                };
                per.push(c.list_matches(&f, Paging::first(PER_TOPIC))?.items);
            }
            let alert_ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
            let marks = c.alert_labels(&alert_ids)?;
            Ok((alerts, per, marks))
        })
        .await?;
    let mut b = String::from("<h1>newswatch</h1>\n<h2>Latest alerts</h2>\n");
    if alerts.is_empty() {
        b.push_str("<p class=\"meta\">No alerts yet.</p>\n");
    } else {
        b.push_str("<table class=\"alerts\"><thead><tr><th>created</th><th>topic</th><th>sink</th><th>status</th><th>article</th><th>mark</th></tr></thead><tbody>\n");
        for a in &alerts {
            let cls = if a.status == "failed" {
                "bad"
            } else if a.status == "delivered" {
                "ok"
            } else {
                ""
            };
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{cls}\">{}</td><td><a class=\"alert-link\" href=\"/articles/{}\">{}</a><div class=\"snippet\">{}</div></td><td>{}</td></tr>",
                escape(&a.created_at),
                escape(&a.topic),
                escape(&a.sink),
                escape(&a.status),
                a.article_id,
                escape(&a.title),
                marks_to_html(&a.snippet),
                mark_form(&st, a.id, marks.get(&a.id).copied(), "/")
            );
        }
        b.push_str("</tbody></table>\n");
    }
    for (t, matches) in topics.iter().zip(per_topic) {
        let _ = writeln!(
            b,
            "<section class=\"topic\"><h2>{} <small class=\"meta\">{} matches · {} pending · {} failed · <a href=\"/topics/{}.atom\">Atom</a></small></h2>",
            escape(&t.id),
            t.stats.matches,
            t.stats.alerts_pending,
            t.stats.alerts_failed,
            escape(&urlencode(&t.id))
        );
        if matches.is_empty() {
            b.push_str("<p class=\"meta\">No matches yet.</p>\n");
        }
        for m in matches {
            let _ = writeln!(
                b,
                "<div class=\"match\"><a href=\"/articles/{}\">{}</a> <span class=\"meta\">{} · {} · {}</span><div class=\"snippet\">{}</div></div>",
                m.article_id,
                escape(&m.title),
                escape(&m.matched_at),
                count_noun(m.sources, "source"),
                escape(m.feed.as_deref().unwrap_or("")),
                marks_to_html(&m.snippet)
            );
        }
        b.push_str("</section>\n");
    }
    Ok(Html(page("dashboard", &b)))
}

/// Percent-encodes a path segment.
pub(super) fn urlencode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

pub async fn article(
    State(st): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Result<Html<String>, WebError> {
    let (a, alerts) = st
        .read(move |c| {
            let a = c
                .article(id)?
                .ok_or_else(|| WebError::not_found(format!("no article {id}")))?;
            Ok((a, c.article_alert_marks(id)?))
        })
        .await?;
    let r = &a.row;
    let mut b = String::new();
    let _ = writeln!(b, "<h1 class=\"title\">{}</h1>", escape(&r.title));
    let _ = write!(
        b,
        "<p class=\"meta\">{} · published {} · fetched {} · language {} · carried by {}",
        escape(r.feed.as_deref().unwrap_or("(removed feed)")),
        escape(r.published_at.as_deref().unwrap_or("unknown")),
        escape(&r.fetched_at),
        escape(r.lang.as_deref().unwrap_or("unknown")),
        count_noun(r.sources, "source")
    );
    if let Some(u) = r.link.as_deref().and_then(safe_url) {
        let _ = write!(
            b,
            " · <a href=\"{u}\" rel=\"noopener noreferrer nofollow\">original</a>"
        );
    }
    b.push_str("</p>\n");
    if !a.matches.is_empty() {
        b.push_str("<h2>Matches</h2>\n");
        for m in &a.matches {
            let _ = writeln!(
                b,
                "<div class=\"match\"><b>{}</b> <span class=\"meta\">{} · terms: {}</span><div class=\"snippet\">{}</div>{}</div>",
                escape(&m.topic),
                escape(&m.matched_at),
                escape(&m.terms.join(", ")),
                marks_to_html(&m.snippet),
                alerts
                    .get(&m.id)
                    .map(|&(alert, label)| mark_form(&st, alert, label, &format!("/articles/{id}")))
                    .unwrap_or_default()
            );
        }
    }
    b.push_str("<h2>Text</h2>\n<article>");
    if a.html.trim().is_empty() {
        for para in a.text.split("\n\n") {
            let _ = write!(b, "<p>{}</p>", escape(para));
        }
    } else {
        b.push_str(&sanitize(&a.html));
    }
    b.push_str("</article>\n");
    if !a.sightings.is_empty() {
        b.push_str("<h2>Also seen</h2>\n<ul>");
        for s in &a.sightings {
            let link = match s.link.as_deref().and_then(safe_url) {
                Some(u) => format!(
                    "<a href=\"{u}\" rel=\"noopener noreferrer nofollow\">{}</a>",
                    escape(s.title.as_deref().unwrap_or(&u))
                ),
                None => escape(s.title.as_deref().unwrap_or("")),
            };
            let _ = write!(
                b,
                "<li>{link} <span class=\"meta\">{} · {} · {}</span></li>",
                escape(s.feed.as_deref().unwrap_or("")),
                escape(&s.kind),
                escape(&s.seen_at)
            );
        }
        b.push_str("</ul>\n");
    }
    Ok(Html(page(&r.title, &b)))
}

pub async fn feeds(State(st): State<Arc<AppState>>) -> Result<Html<String>, WebError> {
    let rows = st.read(|c| Ok(super::api::feed_rows(c)?)).await?;
    let mut b = String::from(
        "<h1>Feeds</h1>\n<table><thead><tr><th>feed</th><th>health</th><th>articles</th><th>last success</th><th>next poll</th></tr></thead><tbody>\n",
    );
    for f in &rows {
        let name = f.name.as_deref().or(f.title.as_deref()).unwrap_or(&f.url);
        let _ = writeln!(
            b,
            "<tr><td>{}<div class=\"meta\">{}</div></td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            escape(&f.url),
            f.health_class,
            escape(&f.health),
            f.articles,
            escape(f.last_success_at.as_deref().unwrap_or("never")),
            escape(f.next_poll_at.as_deref().unwrap_or("")),
        );
    }
    b.push_str("</tbody></table>\n");
    Ok(Html(page("feeds", &b)))
}
