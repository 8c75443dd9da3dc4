//! `newswatch match`: run the configured topics over JSON lines and print one result line per
//! input line; stores nothing.
//!
//! Input lines are `{"id","title","text","lang"?,"link"?}`; output lines are
//! `{"id","topics":[{"id","terms":[…],"snippet":"…"}]}` in input order. A line that is not such an
//! object gets `{"id"?,"line":N,"error":"…"}` and the rest go on. Blank lines are skipped. When
//! `lang` is missing or contradicted by the text, the language is decided by `clean::lang::language`,
//! the one function ingest uses, so `lang:` means the same here as on stored articles.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clean::lang;
use crate::commands::Ctx;
use crate::commands::Format;
use crate::error::{CliError, CliResult};
use crate::topics::{Doc, Matcher};

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Input file of JSON lines (default: stdin).
    #[arg(long)]
    pub input: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Match with the topics' queries alone, leaving out their models (`model = ` files): what
    /// `benches/topic-models.py train` learns on top of.
    #[arg(long)]
    pub without_models: bool,
}

#[derive(Deserialize)]
struct Input {
    id: Value,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    link: Option<String>,
}

pub fn run(ctx: &Ctx, args: &MatchArgs) -> CliResult {
    if !matches!(args.format, Format::Jsonl | Format::Json) {
        return Err(CliError::usage(
            "match writes JSON lines: use --format jsonl",
        ));
    }
    let matcher = if args.without_models {
        Matcher::compile_without_models(&ctx.config.topics)
    } else {
        Matcher::compile(&ctx.config.topics)
    }
    .map_err(|e| CliError::usage(e.to_string()))?;
    let reader: Box<dyn BufRead> = match &args.input {
        Some(p) => Box::new(BufReader::new(std::fs::File::open(p).map_err(|e| {
            CliError::usage(format!("cannot open {}: {e}", p.display()))
        })?)),
        None => Box::new(BufReader::new(std::io::stdin().lock())),
    };
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        let line = String::from_utf8_lossy(&line);
        if line.trim().is_empty() {
            continue;
        }
        let v = match_line(&matcher, &line, n + 1);
        serde_json::to_writer(&mut out, &v).map_err(anyhow::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// The output object for one input line.
pub fn match_line(matcher: &Matcher, line: &str, line_no: usize) -> Value {
    let input: Input = match serde_json::from_str(line) {
        Ok(i) => i,
        Err(e) => {
            let id = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.get("id").cloned());
            let mut o = json!({"line": line_no, "error": format!("bad input line: {e}")});
            if let Some(id) = id {
                o["id"] = id;
            }
            return o;
        }
    };
    if !(input.id.is_string() || input.id.is_number()) {
        return json!({"id": input.id, "line": line_no, "error": "bad input line: \"id\" must be a string or a number"});
    }
    let title = input.title.unwrap_or_default();
    let text = input.text.unwrap_or_default();
    // The language exactly as ingest decides it for one item: the declared one, validated
    // against the text, else detected.
    let lang = lang::language(&title, &text, input.lang.as_deref(), None);
    let site = input
        .link
        .as_deref()
        .and_then(|l| url::Url::parse(l).ok())
        .and_then(|u| u.host_str().map(str::to_string));
    let matches = matcher.match_doc(&Doc {
        title: &title,
        text: &text,
        lang: lang.as_deref(),
        site: site.as_deref(),
    });
    let topics: Vec<Value> = matches
        .into_iter()
        .map(|m| json!({"id": m.topic, "terms": m.terms, "snippet": m.snippet}))
        .collect();
    json!({"id": input.id, "topics": topics})
}
