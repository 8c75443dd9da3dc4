//! When to poll a feed next. Pure: the daemon feeds it the outcome of a fetch and a random number.
//!
//! Invariants: the interval stays within [min, max] of `[poll]`, is never below the feed's own TTL
//! or Cache-Control max-age, and never below a server's Retry-After; errors back off exponentially
//! up to `max_backoff` but never stop polling (only 410 Gone disables a feed).

use std::time::Duration;

use crate::config::PollConfig;

/// What the last fetch of a feed told us.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observation {
    /// The previous adaptive interval (None: never polled).
    pub interval: Option<Duration>,
    /// The configured fixed interval of this feed, if any.
    pub fixed: Option<Duration>,
    /// The feed's own floor: RSS TTL or Cache-Control max-age.
    pub floor: Option<Duration>,
    pub new_items: u32,
    /// Consecutive errors including this one (0 on success).
    pub errors: u32,
    pub retry_after: Option<Duration>,
}

/// The interval to remember and the delay until the next poll (with jitter and backoff applied).
pub fn next_poll(cfg: &PollConfig, o: &Observation, rand01: f64) -> (Duration, Duration) {
    let lo = cfg.min_interval.max(o.floor.unwrap_or_default());
    let hi = cfg.max_interval.max(lo);
    let base = o.interval.unwrap_or(cfg.default_interval);
    let interval = if let Some(f) = o.fixed {
        f.max(o.floor.unwrap_or_default())
    } else if o.errors > 0 {
        base.clamp(lo, hi)
    } else if o.new_items > 0 {
        // Busier feeds are polled more often...
        base.mul_f64(0.66).clamp(lo, hi)
    } else {
        // ...quiet ones less.
        base.mul_f64(1.25).clamp(lo, hi)
    };
    let mut delay = if o.errors > 0 {
        let exp = 2u32.saturating_pow(o.errors.min(20));
        cfg.min_interval
            .saturating_mul(exp)
            .min(cfg.max_backoff)
            .max(Duration::from_secs(1))
    } else {
        interval
    };
    // ±10% jitter so feeds of one host do not synchronise.
    delay = delay.mul_f64(0.9 + 0.2 * rand01.clamp(0.0, 1.0));
    if let Some(ra) = o.retry_after {
        delay = delay.max(ra);
    }
    (interval, delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PollConfig {
        PollConfig {
            default_interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(300),
            max_interval: Duration::from_secs(6 * 3600),
            max_backoff: Duration::from_secs(24 * 3600),
            tick: Duration::from_secs(1),
        }
    }

    #[test]
    fn busy_feeds_speed_up_quiet_ones_slow_down() {
        let c = cfg();
        let busy = next_poll(
            &c,
            &Observation {
                new_items: 5,
                ..Default::default()
            },
            0.5,
        )
        .0;
        let quiet = next_poll(&c, &Observation::default(), 0.5).0;
        assert!(busy < c.default_interval && quiet > c.default_interval);
    }

    #[test]
    fn clamped_and_floor() {
        let c = cfg();
        let o = Observation {
            interval: Some(Duration::from_secs(10)),
            new_items: 3,
            floor: Some(Duration::from_secs(3600)),
            ..Default::default()
        };
        assert_eq!(next_poll(&c, &o, 0.5).0, Duration::from_secs(3600));
        let o = Observation {
            interval: Some(Duration::from_secs(100_000)),
            ..Default::default()
        };
        assert_eq!(next_poll(&c, &o, 0.5).0, c.max_interval);
    }

    #[test]
    fn errors_back_off_exponentially_and_retry_after_wins() {
        let c = cfg();
        let d1 = next_poll(
            &c,
            &Observation {
                errors: 1,
                ..Default::default()
            },
            0.5,
        )
        .1;
        let d3 = next_poll(
            &c,
            &Observation {
                errors: 3,
                ..Default::default()
            },
            0.5,
        )
        .1;
        assert!(d3 >= d1 * 3);
        let d50 = next_poll(
            &c,
            &Observation {
                errors: 50,
                ..Default::default()
            },
            1.0,
        )
        .1;
        assert!(d50 <= c.max_backoff.mul_f64(1.1));
        let ra = next_poll(
            &c,
            &Observation {
                errors: 1,
                retry_after: Some(Duration::from_secs(7200)),
                ..Default::default()
            },
            0.5,
        )
        .1;
        assert!(ra >= Duration::from_secs(7200));
    }
}
