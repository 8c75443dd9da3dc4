//! JSON API handlers, `/healthz` and `/metrics`. Listings are pages: `{"items", "limit", "offset",
//! "next_offset"}` (`next_offset` null on the last page); `limit` defaults to 50, at most 500.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::{AppState, WebError, feed_id, parse_since};
use crate::store::Health;
use crate::store::Reader;
use crate::store::query::{
    self, AlertFilter, ArticleFilter, MatchFilter, Page, Paging, SearchFilter, page_bounds,
};

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub topic: Option<String>,
    /// Feed id or URL.
    pub feed: Option<String>,
    pub lang: Option<String>,
    /// `7d` or an RFC 3339 time.
    pub since: Option<String>,
    pub until: Option<String>,
    pub status: Option<String>,
    /// Full-text query (`/api/search`).
    pub q: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub async fn articles(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, WebError> {
    let at = page_bounds(q.limit, q.offset);
    let since = nonempty(&q.since).map(|s| parse_since(&s)).transpose()?;
    let until = nonempty(&q.until).map(|s| parse_since(&s)).transpose()?;
    let page = st
        .read(move |c| {
            let f = ArticleFilter {
                topic: nonempty(&q.topic),
                feed_id: nonempty(&q.feed).map(|k| feed_id(c, &k)).transpose()?,
                lang: nonempty(&q.lang),
                since_ms: since,
                until_ms: until,
            };
            Ok(c.list_articles(&f, at)?)
        })
        .await?;
    Ok(Json(page))
}

pub async fn article(
    State(st): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, WebError> {
    let a = st
        .read(move |c| {
            c.article(id)?
                .ok_or_else(|| WebError::not_found(format!("no article {id}")))
        })
        .await?;
    Ok(Json(a))
}

pub async fn matches(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, WebError> {
    let at = page_bounds(q.limit, q.offset);
    let f = MatchFilter {
        topic: nonempty(&q.topic),
        since_ms: nonempty(&q.since).map(|s| parse_since(&s)).transpose()?,
    };
    let page = st.read(move |c| Ok(c.list_matches(&f, at)?)).await?;
    Ok(Json(page))
}

pub async fn alerts(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, WebError> {
    let at = page_bounds(q.limit, q.offset);
    let status = nonempty(&q.status);
    if let Some(s) = &status
        && !matches!(s.as_str(), "pending" | "delivered" | "failed")
    {
        {
            return Err(WebError::bad_request(format!(
                "status {s:?}: use pending, delivered or failed"
            )));
        }
    }
    let f = AlertFilter {
        status,
        topic: nonempty(&q.topic),
    };
    let page = st.read(move |c| Ok(c.list_alerts(&f, at)?)).await?;
    Ok(Json(page))
}

/// A feed with its health, as the API lists it.
#[derive(Debug, Serialize)]
pub struct FeedRow {
    pub id: i64,
    pub url: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub error_count: i64,
    pub last_error: Option<String>,
    pub last_polled_at: Option<String>,
    pub last_success_at: Option<String>,
    pub next_poll_at: Option<String>,
    pub articles: i64,
    /// The words `feeds status` shows: "ok", "never polled", "2 errors: …", "disabled: …".
    pub health: String,
    #[serde(skip)]
    pub health_class: &'static str,
}

pub(super) fn feed_rows(c: &Reader) -> anyhow::Result<Vec<FeedRow>> {
    let counts = c.article_counts()?;
    let ts = |v: Option<i64>| v.map(query::ms_to_rfc3339);
    Ok(c.feeds()?
        .into_iter()
        .map(|f| FeedRow {
            articles: counts.get(&f.id).copied().unwrap_or(0),
            health: f.health_text(),
            health_class: match f.health() {
                Health::Ok => "ok",
                Health::Failing => "bad",
                Health::NeverPolled | Health::Disabled => "meta",
            },
            id: f.id,
            url: f.url,
            name: f.name,
            title: f.title,
            enabled: f.enabled,
            disabled_reason: f.disabled_reason,
            error_count: f.error_count,
            last_error: f.last_error,
            last_polled_at: ts(f.last_polled_at),
            last_success_at: ts(f.last_success_at),
            next_poll_at: (f.enabled && f.next_poll_at < i64::MAX)
                .then(|| query::ms_to_rfc3339(f.next_poll_at)),
        })
        .collect())
}

pub async fn feeds(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, WebError> {
    let Paging { limit, offset } = page_bounds(q.limit, q.offset);
    let rows = st.read(|c| Ok(feed_rows(c)?)).await?;
    let total = rows.len() as i64;
    let items: Vec<FeedRow> = rows
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(Json(Page {
        items,
        limit,
        offset,
        next_offset: (offset + limit < total).then_some(offset + limit),
    }))
}

#[derive(Debug, Serialize)]
pub struct TopicRow {
    pub id: String,
    pub description: Option<String>,
    pub severity: Option<crate::topics::Severity>,
    pub sinks: Vec<String>,
    /// Whether config.toml defines it (a topic removed from config keeps its stored matches).
    pub configured: bool,
    pub atom: String,
    #[serde(flatten)]
    pub stats: query::TopicStats,
}

/// Configured topics first (in config order), then topics known only from stored matches.
pub(super) async fn topic_rows(st: &Arc<AppState>) -> Result<Vec<TopicRow>, WebError> {
    let stats = st.read(|c| Ok(c.topic_stats()?)).await?;
    let mut by_id: std::collections::BTreeMap<String, query::TopicStats> =
        stats.into_iter().map(|s| (s.id.clone(), s)).collect();
    let mut out = Vec::new();
    for t in &st.topics {
        let stats = by_id.remove(&t.id).unwrap_or_else(|| query::TopicStats {
            id: t.id.clone(),
            ..Default::default()
        });
        out.push(TopicRow {
            id: t.id.clone(),
            description: t.description.clone(),
            severity: Some(t.severity),
            sinks: t.sinks.clone(),
            configured: true,
            atom: format!("/topics/{}.atom", t.id),
            stats,
        });
    }
    for (id, stats) in by_id {
        out.push(TopicRow {
            atom: format!("/topics/{id}.atom"),
            id,
            description: None,
            severity: None,
            sinks: Vec::new(),
            configured: false,
            stats,
        });
    }
    Ok(out)
}

pub async fn topics(State(st): State<Arc<AppState>>) -> Result<impl IntoResponse, WebError> {
    let rows = topic_rows(&st).await?;
    let n = rows.len() as i64;
    Ok(Json(Page {
        items: rows,
        limit: n,
        offset: 0,
        next_offset: None,
    }))
}

pub async fn search(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, WebError> {
    let Some(text) = nonempty(&q.q) else {
        return Err(WebError::bad_request("q is required"));
    };
    let limit = page_bounds(q.limit, None).limit;
    let since = nonempty(&q.since).map(|s| parse_since(&s)).transpose()?;
    let hits = st
        .read(move |c| {
            let f = SearchFilter {
                since_ms: since,
                until_ms: None,
                topic: nonempty(&q.topic),
                feed_id: nonempty(&q.feed).map(|k| feed_id(c, &k)).transpose()?,
                lang: nonempty(&q.lang),
                limit,
            };
            Ok(c.search(&text, &f)?)
        })
        .await?;
    Ok(Json(serde_json::json!({ "items": hits })))
}

pub async fn healthz(State(st): State<Arc<AppState>>) -> Result<impl IntoResponse, WebError> {
    st.read(|c| Ok(c.ping()?)).await?;
    Ok("ok\n")
}

pub async fn metrics(State(st): State<Arc<AppState>>) -> Result<impl IntoResponse, WebError> {
    let m = st.read(|c| Ok(c.metrics(crate::util::now_ms())?)).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render_metrics(&m),
    ))
}

/// The metrics `/metrics` exposes, "name type help", in the order of `render_metrics`' values.
const METRICS: [&str; 9] = [
    "newswatch_fetches_total counter Feed polls recorded in the fetch log.",
    "newswatch_fetch_errors_total counter Feed polls that failed.",
    "newswatch_websub_pushes_total counter WebSub pushes stored (a refused push stores nothing).",
    "newswatch_new_articles_total counter New articles stored by polls and pushes.",
    "newswatch_articles gauge Articles in the store.",
    "newswatch_matches_total counter Topic matches stored.",
    "newswatch_alerts gauge Alerts in the outbox by status.",
    "newswatch_feeds gauge Feeds by state (failing: enabled with errors since the last success).",
    "newswatch_poll_lag_seconds gauge How far behind schedule the most overdue enabled feed is.",
];

/// Prometheus text exposition of the store's counters.
pub fn render_metrics(m: &query::StoreMetrics) -> String {
    let one = |v: i64| vec![("", v.to_string())];
    let values: [Vec<(&str, String)>; 9] = [
        one(m.fetches),
        one(m.fetch_errors),
        one(m.pushes),
        one(m.new_articles),
        one(m.articles),
        one(m.matches),
        vec![
            ("{status=\"pending\"}", m.alerts_pending.to_string()),
            ("{status=\"failed\"}", m.alerts_failed.to_string()),
            ("{status=\"delivered\"}", m.alerts_delivered.to_string()),
        ],
        vec![
            ("{state=\"enabled\"}", m.feeds_enabled.to_string()),
            ("{state=\"disabled\"}", m.feeds_disabled.to_string()),
            ("{state=\"failing\"}", m.feeds_failing.to_string()),
        ],
        vec![("", format!("{:.3}", m.poll_lag_seconds))],
    ];
    let mut o = String::new();
    for (metric, samples) in METRICS.into_iter().zip(values) {
        let (name, rest) = metric.split_once(' ').expect("name type help");
        let (kind, help) = rest.split_once(' ').expect("type help");
        o.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in samples {
            o.push_str(&format!("{name}{labels} {v}\n"));
        }
    }
    o
}
