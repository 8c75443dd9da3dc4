//! The command line (DESIGN section 6): argument parsing and dispatch. Each command lives in
//! `commands/`; this file only knows their arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::alerts::AlertsCmd;
use crate::commands::feeds::FeedsCmd;
use crate::commands::matching::MatchArgs;
use crate::commands::report::ReportArgs;
use crate::commands::search::SearchArgs;
use crate::commands::topics::TopicsCmd;
use crate::commands::{self, Format};
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
    let ctx = commands::Ctx::load(&cli.config, cli.db.clone())?;
    match cli.command {
        Command::Run => commands::run::run(&ctx),
        Command::Poll { once, feed, format } => commands::poll::poll(&ctx, once, feed, format),
        Command::Ingest { format, files } => commands::ingest::ingest(&ctx, format, &files),
        Command::Match(a) => commands::matching::run(&ctx, &a),
        Command::Feeds { cmd } => commands::feeds::run(&ctx, cmd),
        Command::Topics { cmd } => commands::topics::run(&ctx, cmd),
        Command::CheckConfig => {
            for w in &ctx.config.warnings {
                eprintln!("warning: {}: {w}", cli.config.display());
            }
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
