//! The integration tests: one binary, one module per area, one shared harness.
//!
//! Harness (`harness/`): `Server` (an axum server on 127.0.0.1, `start` / `start_with`),
//! `receiver::http_receiver` (a webhook receiver logging every request), `Env` (the real binary
//! with a config and database in a temp dir), `wait_for` / `wait_for_async` (poll a condition with
//! a deadline; never sleep a fixed time), `signal` (SIGTERM/SIGKILL to a child), `free_port`, `fill` (a store
//! filled through the real write path) and `feeds` (fixture feeds for `ingest`).
//!
//! Adding tests: put them in `tests/it/<area>.rs`, add `mod <area>;` below, and `use
//! crate::harness::...` for what you need (add a piece to the harness rather than a second copy in
//! a module). A new file directly under `tests/` would build as a separate binary: don't.

mod harness;

mod alerts;
mod browser;
mod clean;
mod crash;
mod daemon;
mod dedup;
mod durability;
mod extract;
mod feedback;
mod fulltext;
mod fuzz_regressions;
mod poll_pass;
mod polling;
mod postgres;
mod report;
mod sinks;
mod topics;
mod web;
mod websub;
