//! newswatch: a streaming news-feed monitor.
//!
//! # Layout
//! The pipeline, in the order data flows (ARCHITECTURE.md has the invariants of each):
//! - [`schedule`]: when each feed is due (pure).
//! - [`fetch`]: HTTP(S) and `file://` with caps, timeouts, redirects, conditional GET.
//! - [`parse`]: feed bytes → entries; charsets; feed-rs (pure).
//! - [`clean`]: entries → articles: text, sanitized HTML, canonical links, language (pure).
//! - [`dedup`]: identity keys, MinHash fingerprints and the near-duplicate verdict (pure; the store answers lookups).
//! - [`topics`]: the watch-topic language and the one compiled matcher (pure).
//! - [`store`]: SQLite; one transaction per fetch; the alert outbox; read-side queries.
//! - [`alerts`]: sinks and the outbox dispatcher.
//!
//! Around it: [`pipeline`] (the pure stages glued), [`poller`] (one feed, fetch to commit),
//! [`daemon`] (the loop), [`cli`] and [`commands`] (the command line), [`config`].
//! Read side: [`report`] (reports over the archive), [`web`] (the HTTP API, Atom feeds and
//! dashboard), [`progress`] (progress lines on a terminal). Push: [`websub`] (hub subscriptions
//! and pushes through the same pipeline and commit as a poll).

pub mod alerts;
pub mod clean;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dedup;
pub mod error;
pub mod extract;
pub mod fetch;
pub mod fulltext;
pub mod model;
pub mod notify;
pub mod opml;
pub mod parse;
pub mod pipeline;
pub mod poller;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod store;
pub mod topics;
pub mod util;
pub mod web;
pub mod websub;
pub mod workers;
