//! `newswatch extract [--format jsonl] URL|FILE...`: the main text of article pages, as full-text
//! fetching would store it.
//!
//! URLs (http, https) are fetched with the daemon's `Fetcher` (same timeouts, body cap, User-Agent);
//! anything else is a file, gzip-decompressed when it ends in `.gz` (decompressed size capped at
//! `http.max_body_bytes`). Inputs are extracted in parallel on all cores; output keeps input order.
//! A failed input prints an `error` line (jsonl) or a message on stderr and the rest go on; the
//! exit code is 1 when any input failed.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::Serialize;

use crate::cli::Format;
use crate::commands::Ctx;
use crate::error::{CliError, CliResult};
use crate::extract::extract;
use crate::fetch::Fetcher;

#[derive(Debug, Serialize)]
struct Line {
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    title: Option<String>,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A loaded input: bytes, the URL to resolve against, the HTTP charset.
type Loaded = Result<(Vec<u8>, Option<String>, Option<String>), String>;

fn is_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

pub fn run(ctx: &Ctx, format: Format, inputs: &[String]) -> CliResult {
    let cap = ctx.config.http.max_body_bytes;
    // Fetch the URLs first, concurrently within the fetcher's limits.
    let mut fetched: BTreeMap<usize, Loaded> = BTreeMap::new();
    let urls: Vec<(usize, String)> = inputs
        .iter()
        .enumerate()
        .filter(|(_, s)| is_url(s))
        .map(|(i, s)| (i, s.clone()))
        .collect();
    if !urls.is_empty() {
        let fetcher = Fetcher::new(&ctx.config.http)?;
        let rt = ctx.runtime()?;
        let results = rt.block_on(futures_util::future::join_all(urls.into_iter().map(
            |(i, u)| {
                let f = fetcher.clone();
                async move { (i, fetch_page(&f, &u).await) }
            },
        )));
        fetched.extend(results);
    }

    let n = inputs.len();
    let fetched = std::sync::Mutex::new(fetched);
    let work = |i: usize| {
        let input = &inputs[i];
        let loaded = match fetched.lock().unwrap_or_else(|p| p.into_inner()).remove(&i) {
            Some(l) => l,
            None => read_input(input, cap).map(|b| (b, None, None)),
        };
        one(input, loaded)
    };
    let mut failed = 0usize;
    let mut all: Vec<Line> = Vec::new();
    let order: Vec<usize> = (0..n).collect();
    crate::workers::ordered(&order, crate::workers::threads(n), 256, work, |lines| {
        // Print in input order as results arrive.
        let out = std::io::stdout();
        let mut out = std::io::BufWriter::new(out.lock());
        for (_, line) in lines {
            if let Some(e) = &line.error {
                failed += 1;
                if format != Format::Jsonl {
                    eprintln!(
                        "newswatch: {}: {e}",
                        line.url.as_deref().or(line.file.as_deref()).unwrap_or("")
                    );
                }
            }
            match format {
                Format::Jsonl => {
                    let _ = serde_json::to_writer(&mut out, &line);
                    let _ = out.write_all(b"\n");
                }
                Format::Json => all.push(line),
                _ if line.error.is_none() => {
                    let name = line.url.as_deref().or(line.file.as_deref()).unwrap_or("");
                    let _ = writeln!(
                        out,
                        "== {}\n{}\n\n{}\n",
                        crate::commands::terminal_safe(name),
                        crate::commands::terminal_safe(line.title.as_deref().unwrap_or("")),
                        line.text
                    );
                }
                _ => {}
            }
        }
        let _ = out.flush();
    });
    if format == Format::Json {
        crate::commands::print_json(&all)?;
    }
    if failed > 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{failed} of {n} inputs failed"
        )));
    }
    Ok(())
}

fn one(input: &str, loaded: Loaded) -> Line {
    let (file, url) = if is_url(input) {
        (None, Some(input.to_string()))
    } else {
        (Some(input.to_string()), None)
    };
    let mut line = Line {
        file,
        url,
        title: None,
        text: String::new(),
        error: None,
    };
    match loaded {
        Err(e) => line.error = Some(e),
        Ok((bytes, base, charset)) => match extract(&bytes, base.as_deref(), charset.as_deref()) {
            Ok(x) => {
                line.title = x.title;
                line.text = x.text;
            }
            Err(e) => line.error = Some(e.to_string()),
        },
    }
    line
}

async fn fetch_page(f: &Fetcher, url: &str) -> Loaded {
    let resp = f
        .get(url, &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&resp.status) {
        return Err(format!("HTTP {}", resp.status));
    }
    Ok((resp.body, Some(resp.final_url), resp.charset))
}

/// Reads a file (gunzipping `.gz`), refusing more than `cap` bytes of content.
fn read_input(path: &str, cap: u64) -> Result<Vec<u8>, String> {
    let p = std::path::Path::new(path);
    if path.ends_with(".gz") {
        let f = std::fs::File::open(p).map_err(|e| format!("cannot read {path}: {e}"))?;
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(f)
            .take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("cannot decompress {path}: {e}"))?;
        if out.len() as u64 > cap {
            return Err(format!(
                "{path}: decompressed page larger than the cap of {cap} bytes"
            ));
        }
        Ok(out)
    } else {
        crate::fetch::read_file_capped(p, cap).map_err(|e| e.to_string())
    }
}
