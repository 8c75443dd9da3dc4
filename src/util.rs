//! Small helpers shared by several modules: durations in config syntax, clock.

use std::time::Duration;

/// Parses a duration written as in config.toml and on the command line: `30s`, `15m`, `2h`, `7d`,
/// `500ms`, or a combination such as `1h30m`. A bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "invalid duration {s:?}: expected a number at {rest:?}"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" | "sec" => Duration::from_secs(n),
            "m" | "min" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            "w" => Duration::from_secs(n * 7 * 86_400),
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {unit:?} (use ms, s, m, h, d, w)"
                ));
            }
        };
        total += d;
    }
    Ok(total)
}

/// Serde adapter for durations written as strings (`"15m"`).
pub mod serde_duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| super::super::parse_duration(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// Milliseconds since the Unix epoch: the one time representation in the store.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Makes ring the process's rustls crypto provider. reqwest is built without a provider of its own
/// (its default, aws-lc-rs, is a long C build beside lettre's), so every HTTP client is built after
/// this call. Idempotent and cheap.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first (an embedding program's): keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// "1 source", "2 sources": a count with its noun, for what users read.
pub fn count_noun(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The period of a summary log line: a busy loop counts what it does and logs one line per
/// period (`[log] summary`) instead of one per event. Used by the scheduler, the alert dispatcher
/// and the page worker.
#[derive(Debug)]
pub struct Burst {
    every: std::time::Duration,
    start: std::time::Instant,
}

impl Burst {
    pub fn new(every: std::time::Duration) -> Burst {
        Burst {
            every: every.max(std::time::Duration::from_millis(100)),
            start: std::time::Instant::now(),
        }
    }

    /// When the period is over: its length (and the next period starts).
    pub fn due(&mut self) -> Option<std::time::Duration> {
        (self.start.elapsed() >= self.every).then(|| self.end())
    }

    /// Ends the period now (the last summary, at shutdown): its length.
    pub fn end(&mut self) -> std::time::Duration {
        let period = self.start.elapsed();
        self.start = std::time::Instant::now();
        period
    }
}

/// `--since 30d` style: the timestamp (ms) that lies `d` before now.
pub fn since_ms(spec: &str) -> Result<i64, String> {
    let d = parse_duration(spec)?;
    Ok(now_ms() - d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(parse_duration("42").unwrap(), Duration::from_secs(42));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn burst_is_due_once_per_period() {
        let mut b = Burst::new(Duration::from_secs(3600));
        assert_eq!(b.due(), None);
        assert!(b.end() < Duration::from_secs(3600));
        // A period that started an hour ago (when the clock goes back that far).
        if let Some(start) = b.start.checked_sub(Duration::from_secs(3601)) {
            b.start = start;
            assert!(b.due().is_some_and(|p| p > Duration::from_secs(3600)));
            assert_eq!(b.due(), None, "a new period started");
        }
    }
}
