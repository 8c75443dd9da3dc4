//! Reports over the archive: counts of articles and matches in a time window, grouped by day, feed,
//! topic or language, the series of matches per day per topic, and the top stories of each topic
//! (ranked by how many sources carried them). `build` queries, `render` formats (table, Markdown,
//! CSV, JSON, or a self-contained HTML page with an inline SVG chart).
//!
//! Invariants: read-only; an article's time is `coalesce(published_at, fetched_at)` (the expression
//! migration 0003 indexes), and a match counts on the day of its article, so re-matching an old
//! archive does not pile matches onto today; days are calendar days in the report's time zone (a
//! fixed offset, stated in every output); the window is `[since, until)`; feed content in HTML is
//! escaped, in tables made terminal-safe, and never trusted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use clap::ValueEnum;
use serde::Serialize;

use crate::store::{CountBy, GroupKey, Read, ReportHit};
use crate::util::count_noun;
use crate::web::html::{escape, marks_to_html};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportBy {
    Day,
    Feed,
    Topic,
    Lang,
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportParams {
    pub since_ms: i64,
    pub until_ms: i64,
    pub topic: Option<String>,
    pub by: ReportBy,
    pub tz: FixedOffset,
    /// Top stories listed per topic.
    pub top_n: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Articles in the window (with a topic filter: articles that matched it).
    pub articles: i64,
    /// Matches of articles in the window (of the topic, with a filter).
    pub matches: i64,
}

/// One row of the grouped counts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupRow {
    /// The day (YYYY-MM-DD in the report's zone), feed name, topic id or language.
    pub key: String,
    pub articles: i64,
    pub matches: i64,
}

/// Matches of one topic on one day (the chart's data).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayTopic {
    pub day: String,
    pub topic: String,
    pub matches: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Story {
    pub id: i64,
    pub title: String,
    pub link: Option<String>,
    pub feed: Option<String>,
    /// Distinct feeds that carried the story.
    pub sources: i64,
    /// In the report's zone.
    pub time: String,
    /// Matched words marked `[[like this]]`.
    pub snippet: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopicTop {
    pub topic: String,
    pub matches: i64,
    pub stories: Vec<Story>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    /// The zone all times and days are in, e.g. `UTC` or `+02:00`.
    pub timezone: String,
    pub since: String,
    pub until: String,
    pub topic: Option<String>,
    pub by: String,
    pub totals: Totals,
    pub groups: Vec<GroupRow>,
    pub daily: Vec<DayTopic>,
    pub top: Vec<TopicTop>,
}

/// Parses a report time zone: `UTC`/`Z`, or a fixed offset such as `+02:00`, `-0530`, `+2`,
/// optionally prefixed with `UTC`/`GMT` (`UTC+02:00`).
pub fn parse_tz(s: &str) -> Result<FixedOffset, String> {
    let t = s.trim();
    let bad = || format!("invalid time zone {s:?}: use UTC or a fixed offset such as +02:00");
    let rest = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("utc"))
        .or_else(|| t.strip_prefix("GMT"))
        .unwrap_or(t);
    if rest.is_empty() || rest == "Z" || rest == "z" {
        return Ok(FixedOffset::east_opt(0).unwrap());
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = if let Some((h, m)) = digits.split_once(':') {
        (h, m)
    } else if digits.len() == 4 {
        digits.split_at(2)
    } else {
        (digits, "0")
    };
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

/// The name of a zone as reports state it: `UTC` or `+hh:mm`.
pub fn tz_name(tz: &FixedOffset) -> String {
    if tz.local_minus_utc() == 0 {
        "UTC".into()
    } else {
        tz.to_string()
    }
}

fn fmt_time(ms: i64, tz: &FixedOffset) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(d) => {
            let d: DateTime<FixedOffset> = d.with_timezone(tz);
            if tz.local_minus_utc() == 0 {
                d.format("%Y-%m-%d %H:%M UTC").to_string()
            } else {
                d.format("%Y-%m-%d %H:%M %:z").to_string()
            }
        }
        None => String::new(),
    }
}

fn day_of(ms: i64, tz: &FixedOffset) -> NaiveDate {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .with_timezone(tz)
        .date_naive()
}

/// Runs the report's queries through the store. Cost: one scan of the window on the time index,
/// probing each article's matches, plus a grouped count of the window's articles; no scan of the
/// whole archive.
pub fn build(store: &dyn Read, p: &ReportParams) -> anyhow::Result<Report> {
    let tz = &p.tz;
    let hits = store.report_hits(p.since_ms, p.until_ms, p.topic.as_deref())?;
    let (groups, totals) = group_rows(store, p, &hits)?;
    Ok(Report {
        generated_at: fmt_time(crate::util::now_ms(), tz),
        timezone: tz_name(tz),
        since: fmt_time(p.since_ms, tz),
        until: fmt_time(p.until_ms, tz),
        topic: p.topic.clone(),
        by: by_name(p.by).to_string(),
        totals,
        groups,
        daily: daily_series(&hits, tz),
        top: top_stories(store, p, &hits)?,
    })
}

/// The rows of `--by`: matches (and, with a topic filter or by topic, matched articles) per group
/// from the hits; otherwise articles per group from all articles of the window, matched or not.
/// By day, every day of the window has a row, empty ones too (a chart with gaps would lie).
fn group_rows(
    store: &dyn Read,
    p: &ReportParams,
    hits: &[ReportHit],
) -> anyhow::Result<(Vec<GroupRow>, Totals)> {
    let keys = Keys {
        feed_names: store.feed_names()?,
    };
    let mut rows: BTreeMap<String, GroupRow> = BTreeMap::new();
    let mut ids: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for h in hits {
        let key = match p.by {
            ReportBy::Day => day_of(h.time, &p.tz).to_string(),
            ReportBy::Feed => keys.feed(h.feed_id),
            ReportBy::Topic => h.topic.clone(),
            ReportBy::Lang => keys.lang(&h.lang),
        };
        ids.entry(key.clone()).or_default().insert(h.article_id);
        row(&mut rows, key).matches += 1;
    }
    let articles = if p.topic.is_none() && p.by != ReportBy::Topic {
        count_articles(store, p, &keys, &mut rows)?
    } else {
        for (k, set) in &ids {
            if let Some(r) = rows.get_mut(k) {
                r.articles = set.len() as i64;
            }
        }
        let distinct: BTreeSet<i64> = hits.iter().map(|h| h.article_id).collect();
        distinct.len() as i64
    };
    if p.by == ReportBy::Day {
        for d in window_days(p) {
            row(&mut rows, d);
        }
    }
    let mut groups: Vec<GroupRow> = rows.into_values().collect();
    if p.by != ReportBy::Day {
        groups.sort_by(|a, b| {
            b.matches
                .cmp(&a.matches)
                .then(b.articles.cmp(&a.articles))
                .then(a.key.cmp(&b.key))
        });
    }
    let matches = hits.len() as i64;
    Ok((groups, Totals { articles, matches }))
}

/// The group names of feeds and languages.
struct Keys {
    feed_names: HashMap<i64, String>,
}

impl Keys {
    fn feed(&self, id: Option<i64>) -> String {
        match id {
            Some(id) => self
                .feed_names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("feed {id}")),
            None => "(removed feed)".to_string(),
        }
    }

    fn lang(&self, l: &Option<String>) -> String {
        l.clone().unwrap_or_else(|| "unknown".into())
    }
}

/// Adds every article of the window, matched or not, to its group (`--by` day, feed or
/// language); returns how many there are.
fn count_articles(
    store: &dyn Read,
    p: &ReportParams,
    keys: &Keys,
    rows: &mut BTreeMap<String, GroupRow>,
) -> anyhow::Result<i64> {
    let by = match p.by {
        ReportBy::Day => CountBy::Day {
            offset_ms: p.tz.local_minus_utc() as i64 * 1000,
        },
        ReportBy::Feed => CountBy::Feed,
        ReportBy::Lang => CountBy::Lang,
        ReportBy::Topic => unreachable!("by topic counts matched articles"),
    };
    let mut all = 0;
    for (k, n) in store.report_counts(p.since_ms, p.until_ms, by)? {
        all += n;
        let key = match k {
            GroupKey::Day(d) => {
                (NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + Duration::days(d)).to_string()
            }
            GroupKey::Feed(f) => keys.feed(f),
            GroupKey::Lang(l) => keys.lang(&l),
        };
        row(rows, key).articles += n;
    }
    Ok(all)
}

/// The row of `key`, created empty.
fn row(rows: &mut BTreeMap<String, GroupRow>, key: String) -> &mut GroupRow {
    rows.entry(key.clone()).or_insert(GroupRow {
        key,
        articles: 0,
        matches: 0,
    })
}

/// Matches per day per topic.
fn daily_series(hits: &[ReportHit], tz: &FixedOffset) -> Vec<DayTopic> {
    let mut series: BTreeMap<(String, String), i64> = BTreeMap::new();
    for h in hits {
        *series
            .entry((day_of(h.time, tz).to_string(), h.topic.clone()))
            .or_default() += 1;
    }
    series
        .into_iter()
        .map(|((day, topic), matches)| DayTopic {
            day,
            topic,
            matches,
        })
        .collect()
}

/// Top stories per topic: most sources first, then newest; topics with most matches first.
fn top_stories(
    store: &dyn Read,
    p: &ReportParams,
    hits: &[ReportHit],
) -> anyhow::Result<Vec<TopicTop>> {
    let mut per_topic: BTreeMap<&str, Vec<&ReportHit>> = BTreeMap::new();
    for h in hits {
        per_topic.entry(&h.topic).or_default().push(h);
    }
    let mut top = Vec::new();
    for (topic, mut hs) in per_topic {
        let n = hs.len() as i64;
        hs.sort_by(|a, b| {
            b.sources
                .cmp(&a.sources)
                .then(b.time.cmp(&a.time))
                .then(b.article_id.cmp(&a.article_id))
        });
        let mut stories = Vec::new();
        for h in hs.into_iter().take(p.top_n) {
            let Some((title, link, feed, snippet)) = store.report_story(h.article_id, topic)?
            else {
                continue;
            };
            stories.push(Story {
                id: h.article_id,
                title,
                link,
                feed,
                sources: h.sources,
                time: fmt_time(h.time, &p.tz),
                snippet,
            });
        }
        top.push(TopicTop {
            topic: topic.to_string(),
            matches: n,
            stories,
        });
    }
    top.sort_by(|a, b| b.matches.cmp(&a.matches).then(a.topic.cmp(&b.topic)));
    Ok(top)
}

fn by_name(b: ReportBy) -> &'static str {
    match b {
        ReportBy::Day => "day",
        ReportBy::Feed => "feed",
        ReportBy::Topic => "topic",
        ReportBy::Lang => "lang",
    }
}

/// All calendar days the window touches, in the report's zone (at most ~20 years' worth).
fn window_days(p: &ReportParams) -> Vec<String> {
    let first = day_of(p.since_ms, &p.tz);
    let last = day_of((p.until_ms - 1).max(p.since_ms), &p.tz);
    let mut out = Vec::new();
    let mut d = first;
    while d <= last && out.len() < 7400 {
        out.push(d.to_string());
        d += Duration::days(1);
    }
    out
}

/// The report as JSON: pretty, or on one line.
pub fn render_json(r: &Report, pretty: bool) -> anyhow::Result<String> {
    Ok(if pretty {
        serde_json::to_string_pretty(r)?
    } else {
        serde_json::to_string(r)?
    } + "\n")
}

fn group_header(r: &Report) -> &str {
    match r.by.as_str() {
        "day" => "day",
        "feed" => "feed",
        "topic" => "topic",
        _ => "lang",
    }
}

/// CSV: the grouped counts, one row per group (`<by>,articles,matches`), then nothing else, so it
/// loads straight into a spreadsheet. The zone is in the header of the day column.
pub fn render_csv(r: &Report) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let head = if r.by == "day" {
        format!("day ({})", r.timezone)
    } else {
        group_header(r).to_string()
    };
    w.write_record([head.as_str(), "articles", "matches"])?;
    for g in &r.groups {
        w.write_record([
            g.key.as_str(),
            &g.articles.to_string(),
            &g.matches.to_string(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn title_line(r: &Report) -> String {
    format!(
        "newswatch report{}: {} to {} (times in {}), by {}",
        r.topic
            .as_deref()
            .map(|t| format!(" for topic {t}"))
            .unwrap_or_default(),
        r.since,
        r.until,
        r.timezone,
        r.by
    )
}

fn plain(s: &str) -> String {
    crate::commands::terminal_safe(s)
}

pub fn render_table(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", plain(&title_line(r)));
    let _ = writeln!(
        o,
        "articles: {}  matches: {}\n",
        r.totals.articles, r.totals.matches
    );
    let w = r
        .groups
        .iter()
        .map(|g| g.key.chars().count().min(60))
        .max()
        .unwrap_or(0)
        .max(group_header(r).len());
    let _ = writeln!(
        o,
        "{:<w$}  {:>8}  {:>8}",
        group_header(r).to_uppercase(),
        "ARTICLES",
        "MATCHES"
    );
    for g in &r.groups {
        let k: String = plain(&g.key).chars().take(60).collect();
        let _ = writeln!(o, "{k:<w$}  {:>8}  {:>8}", g.articles, g.matches);
    }
    write_top(&mut o, r, ("\ntop stories: ", "", ""), plain, |o, s| {
        let title: String = plain(&s.title).chars().take(90).collect();
        let _ = writeln!(o, "  {:>3} src  {}  {title}", s.sources, s.time);
        if let Some(l) = &s.link {
            let _ = writeln!(o, "           {}", plain(l));
        }
    });
    o
}

/// Markdown-safe text: pipes, brackets and other inline syntax escaped, newlines folded.
fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '(' | ')' => {
                o.push('\\');
                o.push(c);
            }
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn md_url(s: &str) -> String {
    s.chars()
        .filter(|c| {
            !c.is_whitespace()
                && !c.is_control()
                && *c != '('
                && *c != ')'
                && *c != '<'
                && *c != '>'
        })
        .collect()
}

pub fn render_md(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", md(&title_line(r)));
    let (generated, t) = (md(&r.generated_at), &r.totals);
    let (articles, matches) = (t.articles, t.matches);
    let _ = writeln!(
        o,
        "Generated {generated} · **{articles}** articles · **{matches}** matches\n"
    );
    let _ = writeln!(
        o,
        "| {} | articles | matches |\n|---|---:|---:|",
        group_header(r)
    );
    for g in &r.groups {
        let _ = writeln!(o, "| {} | {} | {} |", md(&g.key), g.articles, g.matches);
    }
    write_top(&mut o, r, ("\n## Top stories: ", "\n", ""), md, |o, s| {
        let title = match web_link(s) {
            Some(l) => format!("[{}]({})", md(&s.title), md_url(l)),
            None => md(&s.title),
        };
        let _ = writeln!(
            o,
            "- {title} — {}, {}",
            count_noun(s.sources, "source"),
            md(&s.time)
        );
    });
    o
}

/// Writes each topic's top stories, for every renderer: a heading line
/// `{before}{topic} ({n} matches){after}` (the topic through the renderer's `esc`), `story` for
/// each story, then `end`.
fn write_top(
    o: &mut String,
    r: &Report,
    (before, after, end): (&str, &str, &str),
    esc: fn(&str) -> String,
    mut story: impl FnMut(&mut String, &Story),
) {
    for t in &r.top {
        let _ = writeln!(
            o,
            "{before}{} ({} matches){after}",
            esc(&t.topic),
            t.matches
        );
        for s in &t.stories {
            story(o, s);
        }
        o.push_str(end);
    }
}

/// A story's link when a reader can follow it (http or https), for the Markdown and HTML
/// renderers.
fn web_link(s: &Story) -> Option<&str> {
    s.link
        .as_deref()
        .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
}

const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// The chart: matches per day, one line per topic, hand-written SVG (no scripts, no external refs).
// Long (about 110 lines) for a reason: one SVG document written top to bottom (frame, y grid, day
// labels, a series and a legend entry per topic), every part placed with the same plot geometry.
pub fn svg_chart(r: &Report) -> String {
    let days: Vec<String> = {
        let mut d: BTreeSet<String> = r.daily.iter().map(|x| x.day.clone()).collect();
        if r.by == "day" {
            d.extend(r.groups.iter().map(|g| g.key.clone()));
        }
        d.into_iter().collect()
    };
    let topics: Vec<String> = {
        let t: BTreeSet<String> = r.daily.iter().map(|x| x.topic.clone()).collect();
        t.into_iter().collect()
    };
    let (w, h, left, right, top, bottom) = (860.0f64, 320.0f64, 50.0, 170.0, 20.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let max = r.daily.iter().map(|x| x.matches).max().unwrap_or(0).max(1) as f64;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="matches per day per topic" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        o,
        r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>"##
    );
    // Axes and gridlines.
    for i in 0..=4 {
        let v = max * i as f64 / 4.0;
        let y = top + ph - ph * i as f64 / 4.0;
        let _ = write!(
            o,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 6.0,
            y + 4.0,
            v.round()
        );
    }
    let n = days.len().max(1);
    let x_of = |i: usize| {
        if n == 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let step = n.div_ceil(8).max(1);
    for (i, d) in days.iter().enumerate() {
        if i % step == 0 || i == n - 1 {
            let _ = write!(
                o,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                x_of(i),
                top + ph + 18.0,
                escape(d.get(5..).unwrap_or(d))
            );
        }
    }
    let _ = write!(
        o,
        r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle">day ({})</text>"##,
        top + ph,
        left + pw,
        top + ph,
        left + pw / 2.0,
        h - 8.0,
        escape(&r.timezone)
    );
    let counts: HashMap<(&str, &str), i64> = r
        .daily
        .iter()
        .map(|x| ((x.day.as_str(), x.topic.as_str()), x.matches))
        .collect();
    for (ti, t) in topics.iter().enumerate() {
        let color = PALETTE[ti % PALETTE.len()];
        let pts: Vec<String> = days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let v = counts.get(&(d.as_str(), t.as_str())).copied().unwrap_or(0) as f64;
                format!("{:.1},{:.1}", x_of(i), top + ph - ph * v / max)
            })
            .collect();
        let _ = write!(
            o,
            r#"<polyline class="series" data-topic="{}" fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            escape(t),
            pts.join(" ")
        );
        let ly = top + 14.0 * ti as f64 + 6.0;
        let _ = write!(
            o,
            r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            left + pw + 12.0,
            ly - 8.0,
            left + pw + 26.0,
            ly + 1.0,
            escape(&t.chars().take(22).collect::<String>())
        );
    }
    if topics.is_empty() {
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">no matches in this window</text>"#,
            left + pw / 2.0,
            top + ph / 2.0
        );
    }
    o.push_str("</svg>");
    o
}

pub fn render_html(r: &Report) -> String {
    let mut o = String::new();
    let title = escape(&title_line(r));
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:\">\
<style>body{{font-family:sans-serif;max-width:980px;margin:1.5em auto;padding:0 1em;color:#222}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em}}td.n{{text-align:right}}\
mark{{background:#ffe58a}}.meta{{color:#666;font-size:.9em}}</style></head><body>\n<h1>{title}</h1>\n"
    );
    let (generated, zone) = (escape(&r.generated_at), escape(&r.timezone));
    let (articles, matches) = (r.totals.articles, r.totals.matches);
    let _ = writeln!(
        o,
        "<p class=\"meta\">Generated {generated} · times in <b>{zone}</b> · <b>{articles}</b> articles · <b>{matches}</b> matches</p>"
    );
    let _ = writeln!(
        o,
        "<h2>Matches per day per topic</h2>\n<figure>{}</figure>",
        svg_chart(r)
    );
    let _ = writeln!(
        o,
        "<h2>By {}</h2>\n<table><thead><tr><th>{}</th><th>articles</th><th>matches</th></tr></thead><tbody>",
        escape(&r.by),
        escape(group_header(r))
    );
    for g in &r.groups {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&g.key),
            g.articles,
            g.matches
        );
    }
    o.push_str("</tbody></table>\n");
    let heading = ("<h2>Top stories: ", "</h2>\n<ol>", "</ol>\n");
    write_top(&mut o, r, heading, escape, |o, s| {
        let title = match web_link(s) {
            Some(l) => format!(
                "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
                escape(l),
                escape(&s.title)
            ),
            None => escape(&s.title),
        };
        let _ = writeln!(
            o,
            "<li>{title} <span class=\"meta\">— {} · {} · {}</span><br><small>{}</small></li>",
            count_noun(s.sources, "source"),
            escape(&s.time),
            escape(s.feed.as_deref().unwrap_or("")),
            marks_to_html(&s.snippet)
        );
    });
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones() {
        assert_eq!(parse_tz("UTC").unwrap().local_minus_utc(), 0);
        assert_eq!(parse_tz("Z").unwrap().local_minus_utc(), 0);
        assert_eq!(parse_tz("+02:00").unwrap().local_minus_utc(), 7200);
        assert_eq!(
            parse_tz("-0530").unwrap().local_minus_utc(),
            -(5 * 3600 + 30 * 60)
        );
        assert_eq!(parse_tz("UTC+3").unwrap().local_minus_utc(), 3 * 3600);
        assert!(parse_tz("Europe/Berlin").is_err());
        assert!(parse_tz("+25:00").is_err());
        assert_eq!(tz_name(&parse_tz("+02:00").unwrap()), "+02:00");
        assert_eq!(tz_name(&parse_tz("UTC").unwrap()), "UTC");
    }

    #[test]
    fn days_follow_the_zone() {
        // 2026-01-01 23:30 UTC is already 2 January at +02:00.
        let ms = Utc
            .with_ymd_and_hms(2026, 1, 1, 23, 30, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            day_of(ms, &parse_tz("UTC").unwrap()).to_string(),
            "2026-01-01"
        );
        assert_eq!(
            day_of(ms, &parse_tz("+02:00").unwrap()).to_string(),
            "2026-01-02"
        );
    }

    #[test]
    fn markdown_escapes_syntax() {
        assert_eq!(
            md("a|b [x](y) <script>"),
            "a\\|b \\[x\\]\\(y\\) \\<script\\>"
        );
    }
}
