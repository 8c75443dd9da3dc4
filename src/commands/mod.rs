//! One file per command. Each takes the loaded `Ctx` and its arguments, prints to stdout (data) and
//! stderr (progress, errors), and returns a `CliResult`.

pub mod alerts;
pub mod extract;
pub mod feedback;
pub mod feeds;
pub mod ingest;
pub mod matching;
pub mod poll;
pub mod report;
pub mod run;
pub mod search;
pub mod topics;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;

use crate::config::{Config, LogFormat};
use crate::error::{CliError, CliResult};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Jsonl,
    Md,
    Csv,
    Html,
}

/// What every command starts from: the validated config and the database path.
pub struct Ctx {
    pub config: Arc<Config>,
    pub config_path: PathBuf,
    pub db: PathBuf,
}

impl Ctx {
    /// The config at `config_path`, validated; `db` (`--db`) overrides its store path.
    pub fn load(config_path: &Path, db: Option<PathBuf>) -> CliResult<Ctx> {
        let config = Config::load(config_path).map_err(|e| CliError::usage(e.to_string()))?;
        init_logging(&config);
        let db = db.unwrap_or_else(|| config.db_path());
        Ok(Ctx {
            config: Arc::new(config),
            config_path: config_path.to_path_buf(),
            db,
        })
    }

    /// The write side of the store, migrated, with config feeds registered.
    pub fn store(&self) -> CliResult<crate::store::Store> {
        Ok(crate::daemon::open_store(&self.config, &self.db)?)
    }

    /// The read side of the store: read-only, never migrates.
    pub fn reader(&self) -> CliResult<crate::store::Reader> {
        Ok(crate::store::Reader::open(&self.db)?)
    }

    pub fn runtime(&self) -> CliResult<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?)
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// Prints rows as an aligned text table. Cells are made terminal-safe (control characters out).
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    print_table_by(headers, rows.len(), |i| rows[i].clone());
}

/// Like `print_table`, with row `i` made by `row(i)` when it is needed (twice: once for the
/// column widths, once to print it), so that a long table never holds all its cells at once.
pub fn print_table_by(headers: &[&str], n: usize, row: impl Fn(usize) -> Vec<String>) {
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let _ = write_table(&mut out, headers, n, row).and_then(|()| out.flush());
}

fn write_table(
    out: &mut impl Write,
    headers: &[&str],
    n: usize,
    row: impl Fn(usize) -> Vec<String>,
) -> std::io::Result<()> {
    let safe = |i: usize| -> Vec<String> { row(i).iter().map(|c| terminal_safe(c)).collect() };
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in (0..n).map(safe) {
        for (w, c) in widths.iter_mut().zip(&r) {
            *w = (*w).max(c.chars().count().min(80));
        }
    }
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c: String = c.chars().take(80).collect();
                format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0))
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(
        out,
        "{}",
        line(headers.iter().map(|s| s.to_string()).collect())
    )?;
    for r in (0..n).map(safe) {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

/// Feed content is untrusted: strip control characters (escape sequences) before a terminal sees it.
pub fn terminal_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Prints one JSON value per line.
pub fn print_jsonl<T: serde::Serialize>(items: impl IntoIterator<Item = T>) -> CliResult {
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for it in items {
        serde_json::to_writer(&mut out, &it).map_err(anyhow::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

pub fn print_json<T: serde::Serialize>(v: &T) -> CliResult {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(anyhow::Error::from)?
    );
    Ok(())
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn a_table_made_row_by_row_is_aligned_and_terminal_safe() {
        let rows = [
            vec!["1".to_string(), "\u{1b}[31mred".to_string()],
            vec!["12345".to_string(), "x".to_string()],
        ];
        let mut out = Vec::new();
        write_table(&mut out, &["ID", "NAME"], rows.len(), |i| rows[i].clone()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID     NAME\n1       [31mred\n12345  x\n"
        );
    }
}
