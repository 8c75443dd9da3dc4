//! systemd's notify protocol (`Type=notify`), through the sd-notify crate: `READY=1`, `STATUS=`,
//! `WATCHDOG=1`, `STOPPING=1`. Every call is a no-op when `NOTIFY_SOCKET` is unset (not started by
//! systemd), and a failed send is logged at DEBUG and otherwise ignored: notification never stops
//! the daemon.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

fn send(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::debug!(error = %e, "systemd notify failed");
    }
}

/// The store is open and the scheduler runs.
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// A one-line status shown by `systemctl status`.
pub fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// Shutdown has begun.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// Sends `WATCHDOG=1` from the scheduler loop, at most twice per `WATCHDOG_USEC` period; inert
/// when the watchdog is off. The loop calls `ping` each time it makes progress, so a stuck
/// scheduler stops sending and systemd restarts the service.
pub struct Watchdog {
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Watchdog {
    pub fn from_env() -> Watchdog {
        // `watchdog_enabled` also checks WATCHDOG_PID against our pid when it is set.
        let every = sd_notify::watchdog_enabled().map(|d| (d / 2).max(Duration::from_millis(10)));
        Watchdog { every, last: None }
    }

    pub fn ping(&mut self) {
        let Some(every) = self.every else { return };
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        send(&[NotifyState::Watchdog]);
    }
}
