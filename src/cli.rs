//! The command line (DESIGN section 6): argument parsing and dispatch. Each command lives in
//! `commands/`; this file only knows their arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::error::{CliError, CliResult};

#[derive(Parser, Debug)]
#[command(
    name = "newswatch",
    version,
    about = "Streaming news-feed monitor: poll feeds, dedup, match watch topics, alert"
)]
pub struct Cli {
    /// Config file.
    #[arg(
        long,
        global = true,
        default_value = "config.toml",
        env = "NEWSWATCH_CONFIG"
    )]
    pub config: PathBuf,
    /// Database file (default: store.path from the config, beside the config file).
    #[arg(long, global = true, env = "NEWSWATCH_DB")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

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

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: poll, match, alert, serve HTTP if enabled, until SIGINT/SIGTERM.
    Run,
    /// One polling pass over due feeds (all enabled feeds with --once), then exit.
    Poll {
        #[arg(long)]
        once: bool,
        /// Poll only this feed (URL or id), due or not.
        #[arg(long)]
        feed: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Run local feed files through the whole pipeline, in the order given.
    Ingest {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Match JSON lines {"id","title","text","lang"?,"link"?} against the topics; stores nothing.
    Match(MatchArgs),
    /// Manage feeds.
    Feeds {
        #[command(subcommand)]
        cmd: FeedsCmd,
    },
    /// Inspect and test watch topics.
    Topics {
        #[command(subcommand)]
        cmd: TopicsCmd,
    },
    /// Validate config.toml (topics, sinks, feeds) without running.
    CheckConfig,
    /// Full-text search over stored articles.
    Search(SearchArgs),
    /// Extract the main text of article pages (URLs or files).
    Extract {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// Reports over the archive.
    Report(ReportArgs),
    /// The alert outbox.
    Alerts {
        #[command(subcommand)]
        cmd: AlertsCmd,
    },
}

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Input file of JSON lines (default: stdin).
    #[arg(long)]
    pub input: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    pub query: String,
    /// Only articles published (or fetched) within this long ago, e.g. 7d.
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
    #[arg(long)]
    pub topic: Option<String>,
    /// Feed id or URL.
    #[arg(long)]
    pub feed: Option<String>,
    #[arg(long)]
    pub lang: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[arg(long)]
    pub topic: Option<String>,
    #[arg(long, default_value = "7d")]
    pub since: String,
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, value_enum, default_value = "day")]
    pub by: ReportBy,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportBy {
    Day,
    Feed,
    Topic,
    Lang,
}

#[derive(Subcommand, Debug)]
pub enum FeedsCmd {
    /// Add a feed.
    Add {
        url: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List feeds.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove a feed (its articles stay in the archive).
    Remove { feed: String },
    /// Health of each feed: last fetch, errors, next poll.
    Status {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Import feeds from an OPML file.
    Import { file: PathBuf },
    /// Export feeds as OPML to stdout.
    Export,
}

#[derive(Subcommand, Debug)]
pub enum TopicsCmd {
    /// List configured topics.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Check that every topic query parses; print errors with positions.
    Check,
    /// Run a topic over the stored archive: what it would have flagged.
    Test {
        id: String,
        /// Articles (with --feedback: marks) this recent; default 30d (with --feedback: all).
        #[arg(long)]
        since: Option<String>,
        /// Report precision over the alerts readers marked, and list the irrelevant ones.
        #[arg(long)]
        feedback: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Write readers' marks as labelled JSON lines (the format of the topic eval sets).
    ExportLabels {
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AlertsCmd {
    /// List alerts in the outbox.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Put a failed alert back to pending.
    Retry { id: String },
    /// Mark an alert (id or uid) relevant or irrelevant: the mark judges its story for its topic.
    Mark { id: String, label: MarkLabel },
    /// Print alerts as they are delivered.
    Tail {
        #[arg(long)]
        topic: Option<String>,
    },
}

/// A reader's mark on an alert.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum MarkLabel {
    Relevant,
    Irrelevant,
}

/// Runs a parsed command line. Returns the process exit code.
pub fn main_with(cli: Cli) -> i32 {
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("newswatch: {e}");
            e.exit_code()
        }
    }
}

fn dispatch(cli: Cli) -> CliResult {
    let ctx = commands::Ctx::load(&cli)?;
    match cli.command {
        Command::Run => commands::run::run(&ctx),
        Command::Poll { once, feed, format } => commands::poll::poll(&ctx, once, feed, format),
        Command::Ingest { format, files } => commands::ingest::ingest(&ctx, format, &files),
        Command::Match(a) => commands::matching::run(&ctx, &a),
        Command::Feeds { cmd } => commands::feeds::run(&ctx, cmd),
        Command::Topics { cmd } => commands::topics::run(&ctx, cmd),
        Command::CheckConfig => {
            println!("config {} is valid", cli.config.display());
            Ok(())
        }
        Command::Search(a) => commands::search::run(&ctx, &a),
        Command::Extract { format, inputs } => commands::extract::run(&ctx, format, &inputs),
        Command::Report(a) => commands::report::run(&ctx, &a),
        Command::Alerts { cmd } => commands::alerts::run(&ctx, cmd),
    }
    .map_err(|e| match e {
        CliError::Usage(m) => CliError::Usage(m),
        other => other,
    })
}
