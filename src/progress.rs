//! A tiny progress line for long commands: drawn on stderr, and only when stderr is a terminal, so
//! piped or logged output stays clean. Redraws at most ten times a second.
//!
//! Invariants: never writes to stdout; writes nothing at all when stderr is not a terminal; the
//! line is cleared by `finish` (or on drop), so later output starts on a clean line.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// A counter with an optional total, e.g. `Progress::new("ingest", files.len() as u64)`.
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    start: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
    finished: bool,
}

impl Progress {
    /// `total` 0 means unknown (the line shows only the count and rate).
    pub fn new(label: impl Into<String>, total: u64) -> Progress {
        Progress::with_enabled(label, total, std::io::stderr().is_terminal())
    }

    /// A progress line that never draws (for callers that decide themselves).
    pub fn hidden() -> Progress {
        Progress::with_enabled("", 0, false)
    }

    fn with_enabled(label: impl Into<String>, total: u64, enabled: bool) -> Progress {
        Progress {
            label: label.into(),
            total,
            done: 0,
            start: Instant::now(),
            last_draw: None,
            enabled,
            finished: false,
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    pub fn inc(&mut self) {
        self.add(1);
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        self.maybe_draw();
    }

    pub fn set(&mut self, done: u64) {
        self.done = done;
        self.maybe_draw();
    }

    pub fn position(&self) -> u64 {
        self.done
    }

    /// Clears the line (the caller prints its own summary).
    pub fn finish(&mut self) {
        if self.enabled && !self.finished && self.last_draw.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
        self.finished = true;
    }

    fn maybe_draw(&mut self) {
        if !self.enabled || self.finished {
            return;
        }
        let now = Instant::now();
        let due = self
            .last_draw
            .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
        if !due && self.done != self.total {
            return;
        }
        self.last_draw = Some(now);
        let line = self.line(now.duration_since(self.start));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    /// The text of the progress line (no control characters).
    pub fn line(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs;
        if self.total > 0 {
            let pct = (self.done as f64 * 100.0 / self.total as f64).min(100.0);
            format!(
                "{}: {}/{} ({pct:.0}%) {rate:.0}/s",
                self.label, self.done, self.total
            )
        } else {
            format!("{}: {} {rate:.0}/s", self.label, self.done)
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_count_total_and_percent() {
        let mut p = Progress::with_enabled("ingest", 4, false);
        p.inc();
        p.inc();
        let l = p.line(Duration::from_secs(1));
        assert_eq!(l, "ingest: 2/4 (50%) 2/s");
        let u = Progress::with_enabled("scan", 0, false);
        assert_eq!(u.line(Duration::from_secs(2)), "scan: 0 0/s");
    }

    #[test]
    fn hidden_never_draws() {
        let mut p = Progress::hidden();
        p.add(10);
        assert!(p.last_draw.is_none());
        p.finish();
    }
}
