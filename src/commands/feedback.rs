//! Readers' marks on alerts: `alerts mark ID relevant|irrelevant`, `topics test TOPIC --feedback`
//! and `topics export-labels [--out FILE]`. The store keeps the marks (`store::feedback`).
//!
//! A mark judges the alert's match, "this story for this topic": the alerts of one match (one per
//! sink) share it, and marking any of them again replaces it.
//!
//! `export-labels` writes one JSON line per article that has at least one mark, in the format of
//! the topic eval sets (`{"id","lang","title","text","source"?,<topic>:0|1,…}`, a topic id's dashes
//! written as underscores: `arms-deals` → `arms_deals`), so `score-topics --data FILE` scores a
//! user's own marks. Each topic is a field of every line: 1 marked relevant, 0 marked irrelevant,
//! and 0 when the topic did not match the article (the reader judged the story from the alerts it
//! raised; a topic that raised none was not claimed for it). An article that a topic matched but
//! nobody marked for that topic is left out (counted on stderr): a label guessed there would count
//! the topic's own unjudged match as a hit or as a false positive.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use serde::Serialize;

use crate::commands::Format;
use crate::commands::topics::{link_host, topic_matcher};
use crate::commands::{Ctx, print_json, print_jsonl, print_table, terminal_safe};
use crate::error::{CliError, CliResult};
use crate::store::query::ms_to_rfc3339;
use crate::store::{Label, MarkedMatch, NewMark};
use crate::topics::Doc;
use crate::util::now_ms;

/// A reader's mark on an alert.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum MarkLabel {
    Relevant,
    Irrelevant,
}

impl From<MarkLabel> for Label {
    fn from(l: MarkLabel) -> Label {
        match l {
            MarkLabel::Relevant => Label::Relevant,
            MarkLabel::Irrelevant => Label::Irrelevant,
        }
    }
}

/// `alerts mark ID relevant|irrelevant`. An unknown alert is a runtime failure (exit 1), like
/// `alerts retry`.
pub fn mark(ctx: &Ctx, key: &str, label: MarkLabel) -> CliResult {
    let key = key.trim();
    if key.is_empty() {
        return Err(CliError::usage("alerts mark: give an alert id or uid"));
    }
    let mut store = ctx.store()?;
    let m = store
        .mark_alert(
            key,
            &NewMark {
                label: label.into(),
                via: "cli",
                at: now_ms(),
            },
        )?
        .ok_or_else(|| CliError::Runtime(anyhow::anyhow!("no alert with id or uid {key:?}")))?;
    let was = match m.previous {
        Some(p) if p == m.label => format!(" (already {})", p.as_str()),
        Some(p) => format!(" (was {})", p.as_str()),
        None => String::new(),
    };
    print_text(&format!(
        "alert {} ({}): article {} marked {} for topic {}{was}\n",
        m.alert_id,
        m.alert_uid,
        m.article_id,
        m.label.as_str(),
        terminal_safe(&m.topic)
    ));
    Ok(())
}

/// Marked, relevant, irrelevant, and the precision over them.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Counts {
    marked: usize,
    relevant: usize,
    irrelevant: usize,
    /// relevant / marked; `null` when nothing is marked.
    precision: Option<f64>,
}

impl Counts {
    fn add(&mut self, l: Label) {
        self.marked += 1;
        match l {
            Label::Relevant => self.relevant += 1,
            Label::Irrelevant => self.irrelevant += 1,
        }
        self.precision = Some(self.relevant as f64 / self.marked as f64);
    }

    fn line(&self) -> String {
        format!(
            "{} marked, {} relevant, {} irrelevant, precision {}",
            self.marked,
            self.relevant,
            self.irrelevant,
            precision(self.precision)
        )
    }
}

fn precision(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.3}")).unwrap_or_else(|| "n/a".into())
}

/// An alert marked irrelevant, with what fired it.
#[derive(Debug, Serialize)]
struct Irrelevant {
    /// The alert that was marked (`null` if that outbox row is gone).
    alert_id: Option<i64>,
    match_id: i64,
    article_id: i64,
    title: String,
    link: Option<String>,
    lang: Option<String>,
    /// The terms that fired the alert, and its snippet (matched words `[[marked]]`).
    terms: Vec<String>,
    snippet: String,
    marked_at: String,
    /// Whether the topic as configured now still matches the article, and with which terms.
    still_matches: bool,
    current_terms: Vec<String>,
}

/// The marked articles the topic as configured now matches.
#[derive(Debug, Serialize)]
struct Current {
    matched: usize,
    relevant: usize,
    irrelevant: usize,
    /// relevant / matched; `null` when it matches none.
    precision: Option<f64>,
}

impl From<Counts> for Current {
    fn from(c: Counts) -> Current {
        Current {
            matched: c.marked,
            relevant: c.relevant,
            irrelevant: c.irrelevant,
            precision: c.precision,
        }
    }
}

#[derive(Debug, Serialize)]
struct FeedbackReport<'a> {
    topic: &'a str,
    /// Over the marks, as the alerts were raised.
    #[serde(flatten)]
    marks: Counts,
    by_lang: BTreeMap<String, Counts>,
    /// The marked articles the topic as configured now matches: the precision an edit of the
    /// query would have had on them, and how many relevant ones it keeps.
    current: Current,
    irrelevant_alerts: Vec<Irrelevant>,
}

/// `topics test TOPIC --feedback [--since D]`: precision over the marked alerts of a topic (all
/// marks, or those made within `since`), and the irrelevant ones with the terms that fired them.
pub fn topic_report(ctx: &Ctx, id: &str, since: Option<&str>, format: Format) -> CliResult {
    let matcher = topic_matcher(ctx, id)?;
    let since_ms = since
        .map(|s| {
            crate::util::since_ms(s).map_err(|e| CliError::usage(format!("--since {s:?}: {e}")))
        })
        .transpose()?;
    if !matches!(format, Format::Table | Format::Json | Format::Jsonl) {
        return Err(CliError::usage(format!(
            "topics test --feedback: --format {format:?} is not supported (table, json, jsonl)"
        )));
    }
    let conn = ctx.reader()?;
    let marked = conn.marked_matches(id, since_ms)?;
    let mut report = FeedbackReport {
        topic: id,
        marks: Counts::default(),
        by_lang: BTreeMap::new(),
        current: Current::from(Counts::default()),
        irrelevant_alerts: Vec::new(),
    };
    let mut current = Counts::default();
    for m in marked {
        report.marks.add(m.label);
        let lang = m.lang.clone().unwrap_or_else(|| "und".into());
        report.by_lang.entry(lang).or_default().add(m.label);
        let now_terms = current_terms(&matcher, &m);
        if now_terms.is_some() {
            current.add(m.label);
        }
        if m.label == Label::Irrelevant {
            report.irrelevant_alerts.push(Irrelevant {
                alert_id: m.alert_id,
                match_id: m.match_id,
                article_id: m.article_id,
                title: m.title,
                link: m.link,
                lang: m.lang,
                terms: m.terms,
                snippet: m.snippet,
                marked_at: ms_to_rfc3339(m.marked_at),
                still_matches: now_terms.is_some(),
                current_terms: now_terms.unwrap_or_default(),
            });
        }
    }
    report.current = current.into();
    match format {
        Format::Json => print_json(&report),
        Format::Jsonl => print_jsonl(std::iter::once(&report)),
        _ => {
            print_report(&report);
            Ok(())
        }
    }
}

/// The terms the topic as configured now fires on the marked article (`None`: no match).
fn current_terms(matcher: &crate::topics::Matcher, m: &MarkedMatch) -> Option<Vec<String>> {
    let site = link_host(m.link.as_deref());
    let doc = Doc {
        title: &m.title,
        text: &m.text,
        lang: m.lang.as_deref(),
        site: site.as_deref(),
    };
    matcher.match_doc(&doc).into_iter().next().map(|t| t.terms)
}

/// Writes to stdout; a reader that went away (closed pipe) ends the output quietly.
fn print_text(s: &str) {
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

fn print_report(r: &FeedbackReport) {
    let id = terminal_safe(r.topic);
    if r.marks.marked == 0 {
        print_text(&format!(
            "topic {id}: no marked alerts (mark them with `newswatch alerts mark ID relevant|irrelevant`)\n"
        ));
        return;
    }
    let mut s = format!("topic {id}: {}\n", r.marks.line());
    for (lang, c) in &r.by_lang {
        s.push_str(&format!("  {}: {}\n", terminal_safe(lang), c.line()));
    }
    let c = &r.current;
    s.push_str(&format!(
        "the topic as configured now matches {} of the {} marked: {} relevant (of {}), {} irrelevant (of {}), precision {}\n",
        c.matched,
        r.marks.marked,
        c.relevant,
        r.marks.relevant,
        c.irrelevant,
        r.marks.irrelevant,
        precision(c.precision)
    ));
    if !r.irrelevant_alerts.is_empty() {
        s.push('\n');
    }
    print_text(&s);
    if r.irrelevant_alerts.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = r
        .irrelevant_alerts
        .iter()
        .map(|i| {
            vec![
                i.alert_id.map(|a| a.to_string()).unwrap_or_default(),
                i.article_id.to_string(),
                i.lang.clone().unwrap_or_default(),
                i.title.clone(),
                i.terms.join(", "),
                if i.still_matches {
                    "yes".into()
                } else {
                    "no".into()
                },
                i.snippet.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "ALERT",
            "ARTICLE",
            "LANG",
            "TITLE (IRRELEVANT)",
            "TERMS",
            "MATCHES NOW",
            "SNIPPET",
        ],
        &rows,
    );
}

/// One line of `export-labels`: the fields of the topic eval sets.
#[derive(Debug, Serialize)]
struct LabelLine<'a> {
    id: String,
    lang: &'a str,
    title: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(flatten)]
    labels: BTreeMap<String, u8>,
}

/// The label field of a topic id: dashes become underscores (`arms-deals` → `arms_deals`).
pub fn label_field(topic: &str) -> String {
    topic.replace('-', "_")
}

/// `topics export-labels [--out FILE]`: the marks as labelled JSON lines (see the module doc).
pub fn export_labels(ctx: &Ctx, out: Option<&Path>) -> CliResult {
    let conn = ctx.reader()?;
    // Every configured topic is a field, and so is a topic removed from the config that has marks.
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut by_field: HashMap<String, String> = HashMap::new();
    let ids = ctx
        .config
        .topics
        .iter()
        .map(|t| t.id.clone())
        .chain(conn.marked_topics()?);
    for topic in ids {
        let field = label_field(&topic);
        match by_field.get(&field) {
            Some(t) if *t == topic => continue,
            Some(t) => {
                return Err(CliError::usage(format!(
                    "topics {t:?} and {topic:?} would both be written as the label {field:?}"
                )));
            }
            None => {}
        }
        if matches!(field.as_str(), "id" | "lang" | "title" | "text" | "source") {
            return Err(CliError::usage(format!(
                "topic {topic:?}: its label {field:?} would overwrite a field of the line"
            )));
        }
        by_field.insert(field.clone(), topic.clone());
        fields.push((topic, field));
    }
    let articles = conn.labelled_articles()?;
    let mut w: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |e| CliError::Runtime(anyhow::anyhow!("cannot create {}: {e}", p.display())),
        )?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (mut written, mut left_out) = (0usize, 0usize);
    for a in &articles {
        if a.topics.iter().any(|(_, l)| l.is_none()) {
            left_out += 1;
            continue;
        }
        let marks: HashMap<&str, Label> = a
            .topics
            .iter()
            .filter_map(|(t, l)| l.map(|l| (t.as_str(), l)))
            .collect();
        let labels = fields
            .iter()
            .map(|(topic, field)| {
                let v = marks.get(topic.as_str()) == Some(&Label::Relevant);
                (field.clone(), u8::from(v))
            })
            .collect();
        let line = LabelLine {
            id: format!("article-{}", a.article_id),
            lang: a.lang.as_deref().unwrap_or("und"),
            title: &a.title,
            text: &a.text,
            source: a.feed.clone().or_else(|| link_host(a.link.as_deref())),
            labels,
        };
        serde_json::to_writer(&mut w, &line).map_err(anyhow::Error::from)?;
        w.write_all(b"\n")?;
        written += 1;
    }
    w.flush()?;
    let to = out
        .map(|p| format!(" to {}", p.display()))
        .unwrap_or_default();
    eprintln!("{written} labelled article(s) written{to}");
    if left_out > 0 {
        eprintln!(
            "{left_out} marked article(s) left out: a topic matched them and nobody marked that alert (mark it to export the article)"
        );
    }
    Ok(())
}
