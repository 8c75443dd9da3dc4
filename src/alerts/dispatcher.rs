//! The dispatcher: one task that drains the alert outbox until shutdown.
//!
//! Each pass (every `[alerts] tick`, when a delivery finishes, or when the next postponed row
//! comes due) it reads the due pending rows of the sinks that can take work, groups digest
//! topics' rows into digests, holds back what a topic's rate limit does not allow yet (by moving
//! the rows' `next_attempt_at` to when a slot frees), and starts deliveries. A delivery sends
//! one `Message` and then records the attempt through the store `Writer`.
//!
//! Invariants:
//! - A row is marked delivered only after its sink accepted it; a crash in between means one
//!   redelivery with the same uid (at-least-once), never a loss.
//! - At most one delivery per alert (or digest) is in flight; at most `[alerts] concurrency` per
//!   sink, and only one while the sink is failing: a failing sink is probed with one message per
//!   backoff interval (doubling up to `max_backoff`) instead of being hammered, and the rows that
//!   wait behind the probe spend no attempts.
//! - Shutdown stops starting deliveries, then waits for those in flight (each bounded by its
//!   sink's timeout) and their records.
//!
//! Logs: one INFO "alerts delivered" summary per `[log] summary` period (and at shutdown), each
//! delivery at DEBUG, a failed attempt at WARN and a given-up alert at ERROR, naming the sink and
//! the `alert_uid`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use std::path::Path;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{AlertsConfig, Digest, Message, Sink, SinkConfig, TopicPolicy, topic_policies};
use crate::store::{Attempt, DigestStep, DigestWindow, DueRow, Store, Writer};
use crate::topics::{Severity, TopicConfig};
use crate::util::{Burst, now_ms};

/// Deliveries in flight at once, over all sinks.
const MAX_IN_FLIGHT: usize = 32;
/// Rows read per pass.
const BATCH: usize = 256;

/// Drains the outbox. Built at daemon start (sinks and their secrets resolved then).
pub struct Dispatcher {
    writer: Writer,
    sinks: HashMap<String, Arc<Sink>>,
    policies: Arc<HashMap<String, TopicPolicy>>,
    cfg: AlertsConfig,
    /// One INFO summary line per this period (`[log] summary`).
    summary_every: Duration,
}

/// One delivery: a single alert, or a digest's members.
#[derive(Debug, Clone)]
struct Delivery {
    /// The alert uid or the digest uid.
    key: String,
    topic: String,
    sink: String,
    rows: Vec<DueRow>,
    digest: bool,
}

struct Done {
    key: String,
    sink: String,
    ok: bool,
    /// Alerts in the message (a digest holds several).
    alerts: usize,
    /// The attempt was the last one: the alerts are marked failed.
    given_up: bool,
    retry_after: Option<Duration>,
}

/// What the dispatcher did since its last summary line.
#[derive(Default)]
struct Tally {
    messages: u64,
    alerts: u64,
    failed_attempts: u64,
    given_up: u64,
}

impl Tally {
    fn count(&mut self, d: &Done) {
        if d.ok {
            self.messages += 1;
            self.alerts += d.alerts as u64;
        } else {
            self.failed_attempts += 1;
            self.given_up += d.given_up as u64 * d.alerts as u64;
        }
    }

    /// Logs the period's summary, if anything was attempted, and starts again from zero.
    fn log(&mut self, period: Duration) {
        if self.messages + self.failed_attempts == 0 {
            return;
        }
        let Tally {
            messages,
            alerts,
            failed_attempts,
            given_up,
        } = std::mem::take(self);
        let period_s = period.as_secs();
        tracing::info!(
            alerts,
            messages,
            failed_attempts,
            given_up,
            period_s,
            "alerts delivered"
        );
    }
}

#[derive(Default)]
struct Health {
    failures: u32,
    blocked_until: i64,
}

#[derive(Default)]
struct State {
    /// key → (topic, sink) of deliveries in flight.
    in_flight: HashMap<String, (String, String)>,
    health: HashMap<String, Health>,
    tally: Tally,
}

impl State {
    fn per_sink(&self, sink: &str) -> usize {
        self.in_flight.values().filter(|(_, s)| s == sink).count()
    }

    fn per_pair(&self, topic: &str, sink: &str) -> usize {
        self.in_flight
            .values()
            .filter(|(t, s)| t == topic && s == sink)
            .count()
    }

    fn can_take(&self, sink: &str, now: i64, concurrency: usize) -> bool {
        let h = self.health.get(sink);
        if h.is_some_and(|h| h.blocked_until > now) {
            return false;
        }
        let cap = if h.is_some_and(|h| h.failures > 0) {
            1
        } else {
            concurrency
        };
        self.per_sink(sink) < cap
    }
}

impl Dispatcher {
    /// Builds every sink (resolving secrets) and reads each topic's severity, rate limit and
    /// digest interval. Errors name the sink or topic.
    pub fn new(
        cfg: &AlertsConfig,
        sinks: &[SinkConfig],
        topics: &[TopicConfig],
        base_dir: &Path,
        writer: Writer,
    ) -> anyhow::Result<Dispatcher> {
        cfg.validate().map_err(|e| anyhow::anyhow!("alerts.{e}"))?;
        let cfg = cfg.clone();
        let sinks = super::sinks::build_all(sinks, base_dir)?;
        let policies = topic_policies(topics).map_err(anyhow::Error::msg)?;
        Ok(Dispatcher {
            writer,
            sinks,
            policies: Arc::new(policies),
            cfg,
            summary_every: Duration::from_secs(60),
        })
    }

    /// The period of the "alerts delivered" summary line (default one minute).
    pub fn with_summary(mut self, every: Duration) -> Dispatcher {
        self.summary_every = every;
        self
    }

    fn policy(&self, topic: &str) -> Option<&TopicPolicy> {
        self.policies.get(topic)
    }

    /// Runs until `shutdown`, then lets in-flight deliveries finish.
    pub async fn run(self, shutdown: CancellationToken) {
        self.warn_orphaned().await;
        if self.sinks.is_empty() {
            shutdown.cancelled().await;
            return;
        }
        tracing::info!(sinks = self.sinks.len(), "alert dispatcher running");
        let tasks = TaskTracker::new();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        let mut st = State::default();
        let mut burst = Burst::new(self.summary_every);
        loop {
            let wake = match self.pass(&mut st, &tasks, &done_tx).await {
                Ok(w) => w,
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "alert dispatch pass failed");
                    now_ms() + self.cfg.tick.as_millis() as i64
                }
            };
            let delay = Duration::from_millis(
                (wake - now_ms()).clamp(1, self.cfg.tick.as_millis() as i64) as u64,
            );
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(d) = done_rx.recv() => self.finish(&mut st, d),
                _ = tokio::time::sleep(delay) => {}
            }
            while let Ok(d) = done_rx.try_recv() {
                self.finish(&mut st, d);
            }
            if let Some(period) = burst.due() {
                st.tally.log(period);
            }
        }
        tasks.close();
        if !tasks.is_empty() {
            tracing::info!(
                in_flight = tasks.len(),
                "waiting for alert deliveries in flight"
            );
        }
        tasks.wait().await;
        while let Ok(d) = done_rx.try_recv() {
            self.finish(&mut st, d);
        }
        st.tally.log(burst.end());
        tracing::info!("alert dispatcher stopped");
    }

    /// Warns about pending alerts of sinks no longer configured (they wait, never dropped).
    async fn warn_orphaned(&self) {
        let names: Vec<String> = self.sinks.keys().cloned().collect();
        match self.writer.call(move |s| s.orphaned_alerts(&names)).await {
            Ok(o) => {
                for (sink, n) in o {
                    tracing::warn!(sink = %sink, pending = n, "pending alerts for a sink that is not configured; they wait until it is");
                }
            }
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "cannot read the alert outbox")
            }
        }
    }

    fn finish(&self, st: &mut State, d: Done) {
        st.in_flight.remove(&d.key);
        st.tally.count(&d);
        let h = st.health.entry(d.sink).or_default();
        if d.ok {
            *h = Health::default();
        } else {
            h.failures += 1;
            let wait = backoff_ms(&self.cfg, h.failures, d.retry_after, false);
            h.blocked_until = now_ms() + wait;
        }
    }

    /// One scheduling pass: collect the due deliveries, hold back what the rate limits do not
    /// allow yet, start the rest. Returns when the next pass is due (ms).
    async fn pass(
        &self,
        st: &mut State,
        tasks: &TaskTracker,
        done_tx: &mpsc::UnboundedSender<Done>,
    ) -> anyhow::Result<i64> {
        let now = now_ms();
        let mut wake = now + self.cfg.tick.as_millis() as i64;
        for h in st.health.values() {
            if h.blocked_until > now {
                wake = wake.min(h.blocked_until);
            }
        }
        let available: Vec<String> = self
            .sinks
            .keys()
            .filter(|s| st.can_take(s, now, self.cfg.concurrency))
            .cloned()
            .collect();
        if available.is_empty() || st.in_flight.len() >= MAX_IN_FLIGHT {
            return Ok(wake);
        }
        let deliveries = self.collect(st, available, now, &mut wake).await?;
        let starting = self.rate_limit(st, deliveries, now, &mut wake).await?;
        self.deliver(st, starting, tasks, done_tx).await?;
        Ok(wake)
    }

    /// The deliveries due now on the `available` sinks: single alerts, and digests (formed here
    /// when a digest topic's window is over).
    async fn collect(
        &self,
        st: &State,
        available: Vec<String>,
        now: i64,
        wake: &mut i64,
    ) -> anyhow::Result<Vec<Delivery>> {
        let (rows, next) = self
            .writer
            .call(move |s| {
                Ok((
                    s.due_alerts(now, &available, BATCH)?,
                    s.next_alert_after(now, &available)?,
                ))
            })
            .await?;
        if let Some(n) = next {
            *wake = (*wake).min(n);
        }
        let (mut deliveries, mut digests, windows) = self.sort_rows(st, rows);
        for (topic, sink) in windows {
            let interval = self
                .policy(&topic)
                .and_then(|p| p.digest)
                .unwrap_or_default()
                .as_millis() as i64;
            let (t, s) = (topic.clone(), sink.clone());
            let form = move |st: &mut Store| {
                let w = DigestWindow {
                    topic: &t,
                    sink: &s,
                    interval_ms: interval,
                };
                st.form_digest(&w, now)
            };
            match self.writer.call(form).await? {
                DigestStep::Formed(uid) => {
                    tracing::debug!(topic = %topic, sink = %sink, digest_uid = %uid, "digest formed");
                    digests.push(uid);
                }
                DigestStep::Wait(at) => *wake = (*wake).min(at),
                DigestStep::Nothing => {}
            }
        }
        for uid in digests {
            let u = uid.clone();
            let rows = self.writer.call(move |s| s.digest_members(&u)).await?;
            let Some(first) = rows.first() else { continue };
            deliveries.push(Delivery {
                key: uid,
                topic: first.topic.clone(),
                sink: first.sink.clone(),
                rows,
                digest: true,
            });
        }
        Ok(deliveries)
    }

    /// Sorts due rows into single alerts, formed digests (their uids), and the (topic, sink)
    /// windows of digest topics' waiting rows. Rows already in flight are left out.
    fn sort_rows(
        &self,
        st: &State,
        rows: Vec<DueRow>,
    ) -> (Vec<Delivery>, Vec<String>, BTreeSet<(String, String)>) {
        let mut deliveries: Vec<Delivery> = Vec::new();
        let mut digests: Vec<String> = Vec::new();
        let mut windows: BTreeSet<(String, String)> = BTreeSet::new();
        for r in rows {
            if let Some(d) = &r.digest_uid {
                if !st.in_flight.contains_key(d) && !digests.contains(d) {
                    digests.push(d.clone());
                }
            } else if self.policy(&r.topic).is_some_and(|p| p.digest.is_some()) {
                windows.insert((r.topic.clone(), r.sink.clone()));
            } else if !st.in_flight.contains_key(&r.uid) {
                deliveries.push(Delivery {
                    key: r.uid.clone(),
                    topic: r.topic.clone(),
                    sink: r.sink.clone(),
                    rows: vec![r],
                    digest: false,
                });
            }
        }
        (deliveries, digests, windows)
    }

    /// The deliveries that may start now (marked in flight): within the sinks' capacity and the
    /// topics' rate limits. Those a rate limit holds back are postponed to when a slot frees.
    async fn rate_limit(
        &self,
        st: &mut State,
        deliveries: Vec<Delivery>,
        now: i64,
        wake: &mut i64,
    ) -> anyhow::Result<Vec<Delivery>> {
        let mut starting: Vec<Delivery> = Vec::new();
        let mut postpone: Vec<(String, i64)> = Vec::new();
        let mut recent: HashMap<(String, String), Vec<i64>> = HashMap::new();
        for d in deliveries {
            if st.in_flight.len() >= MAX_IN_FLIGHT {
                break;
            }
            if !self.sinks.contains_key(&d.sink) || !st.can_take(&d.sink, now, self.cfg.concurrency)
            {
                continue;
            }
            if let Some(rl) = self.policy(&d.topic).and_then(|p| p.rate_limit) {
                let window = rl.window.as_millis() as i64;
                let pair = (d.topic.clone(), d.sink.clone());
                if !recent.contains_key(&pair) {
                    let (t, s) = pair.clone();
                    let v = self
                        .writer
                        .call(move |st| st.recent_deliveries(&t, &s, now - window))
                        .await?;
                    recent.insert(pair.clone(), v);
                }
                let times = &recent[&pair];
                let used = times.len() + st.per_pair(&d.topic, &d.sink);
                if used >= rl.count as usize {
                    if times.len() >= rl.count as usize {
                        // The window frees a slot when the delivery `count` back leaves it.
                        let at = times[times.len() - rl.count as usize] + window;
                        *wake = (*wake).min(at);
                        postpone.push((d.key.clone(), at));
                    }
                    continue;
                }
            }
            st.in_flight
                .insert(d.key.clone(), (d.topic.clone(), d.sink.clone()));
            starting.push(d);
        }
        if !postpone.is_empty() {
            tracing::debug!(
                deliveries = postpone.len(),
                "rate limit reached; alerts wait for the next window"
            );
            self.writer
                .call(move |s| {
                    for (k, at) in &postpone {
                        s.postpone_alerts(k, *at)?;
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(starting)
    }

    /// Loads the payloads of the starting deliveries in one go and starts each as a task.
    async fn deliver(
        &self,
        st: &mut State,
        starting: Vec<Delivery>,
        tasks: &TaskTracker,
        done_tx: &mpsc::UnboundedSender<Done>,
    ) -> anyhow::Result<()> {
        if starting.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = starting
            .iter()
            .flat_map(|d| d.rows.iter().map(|r| r.id))
            .collect();
        let policies = self.policies.clone();
        let loaded = self
            .writer
            .call(move |s| {
                let sev = |t: &str| policies.get(t).map(|p| p.severity).unwrap_or_default();
                s.load_alerts(&ids, &sev)
            })
            .await?;
        let mut by_id: HashMap<i64, super::Alert> =
            loaded.into_iter().map(|r| (r.id, r.alert)).collect();
        for d in starting {
            let alerts: Vec<super::Alert> =
                d.rows.iter().filter_map(|r| by_id.remove(&r.id)).collect();
            if alerts.is_empty() {
                // The article is gone (pruned); nothing to send.
                st.in_flight.remove(&d.key);
                continue;
            }
            let msg = if d.digest {
                Message::Digest(Digest {
                    uid: d.key.clone(),
                    topic: d.topic.clone(),
                    severity: self
                        .policy(&d.topic)
                        .map(|p| p.severity)
                        .unwrap_or(Severity::Medium),
                    count: alerts.len(),
                    alerts,
                })
            } else {
                Message::Alert(alerts.into_iter().next().expect("one alert"))
            };
            let sink = self.sinks[&d.sink].clone();
            let writer = self.writer.clone();
            let cfg = self.cfg.clone();
            tasks.spawn(send(d, msg, sink, writer, cfg, done_tx.clone()));
        }
        Ok(())
    }
}

/// Sends one message and records the attempt.
async fn send(
    d: Delivery,
    msg: Message,
    sink: Arc<Sink>,
    writer: Writer,
    cfg: AlertsConfig,
    done_tx: mpsc::UnboundedSender<Done>,
) {
    let limit = sink.timeout() + Duration::from_secs(2);
    let result = match tokio::time::timeout(limit, sink.send(&msg)).await {
        Ok(r) => r,
        Err(_) => Err(super::SinkError::new(format!(
            "delivery timed out after {limit:?}"
        ))),
    };
    let at = now_ms();
    let attempt = d.rows.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
    let (error, retry_after) = match &result {
        Ok(()) => (None, None),
        Err(e) => (Some(e.message.clone()), e.retry_after),
    };
    let retry_at = at + backoff_ms(&cfg, attempt, retry_after, true);
    let ids: Vec<i64> = d.rows.iter().map(|r| r.id).collect();
    let err = error.clone();
    let max_attempts = cfg.max_attempts;
    let recorded = writer
        .call(move |s| {
            s.record_attempt(&Attempt {
                ids: &ids,
                at,
                error: err.as_deref(),
                retry_at,
                max_attempts,
            })
        })
        .await;
    let mut given_up = false;
    match (&error, recorded) {
        (_, Err(e)) => {
            tracing::error!(sink = %d.sink, alert_uid = %d.key, error = %format!("{e:#}"), "cannot record an alert delivery; it will be sent again")
        }
        (None, Ok(_)) => {
            tracing::debug!(sink = %d.sink, alert_uid = %d.key, topic = %d.topic, alerts = d.rows.len(), "alert delivered")
        }
        (Some(e), Ok(failed)) if failed > 0 => {
            given_up = true;
            tracing::error!(sink = %d.sink, alert_uid = %d.key, attempt, error = %e, "alert delivery failed for the last time; marked failed (see `alerts retry`)")
        }
        (Some(e), Ok(_)) => {
            tracing::warn!(sink = %d.sink, alert_uid = %d.key, attempt, error = %e, "alert delivery failed; will retry")
        }
    }
    let _ = done_tx.send(Done {
        key: d.key,
        sink: d.sink,
        ok: error.is_none(),
        alerts: d.rows.len(),
        given_up,
        retry_after,
    });
}

/// `backoff · 2^(n-1)`, at most `max_backoff`, at least what the receiver asked for
/// (Retry-After, also capped), with ±10% jitter when `jitter`.
fn backoff_ms(cfg: &AlertsConfig, n: u32, retry_after: Option<Duration>, jitter: bool) -> i64 {
    let base = cfg.backoff.as_millis() as f64;
    let max = cfg.max_backoff.as_millis().max(1) as f64;
    let mut d = (base * 2f64.powi(n.saturating_sub(1).min(40) as i32)).min(max);
    if jitter {
        d *= 0.9 + fastrand::f64() * 0.2;
    }
    if let Some(r) = retry_after {
        d = d.max((r.as_millis() as f64).min(max));
    }
    d.max(1.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let cfg = AlertsConfig {
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            ..AlertsConfig::default()
        };
        assert_eq!(backoff_ms(&cfg, 1, None, false), 10_000);
        assert_eq!(backoff_ms(&cfg, 2, None, false), 20_000);
        assert_eq!(backoff_ms(&cfg, 3, None, false), 40_000);
        assert_eq!(backoff_ms(&cfg, 4, None, false), 60_000);
        assert_eq!(backoff_ms(&cfg, 100, None, false), 60_000);
        assert_eq!(
            backoff_ms(&cfg, 1, Some(Duration::from_secs(30)), false),
            30_000
        );
        assert_eq!(
            backoff_ms(&cfg, 1, Some(Duration::from_secs(3000)), false),
            60_000
        );
        let j = backoff_ms(&cfg, 1, None, true);
        assert!((9_000..=11_000).contains(&j), "{j}");
    }
}
