//! Slots: how many tasks of one activity a worker handles at once, and what
//! it says when they are all busy.
//!
//! A slot is taken before GetActivityTask, so a worker never accepts a task
//! it has no room for: the task waits in Step Functions, scheduled but not
//! started, for this or another worker. Nothing in the execution says why it
//! waits, so the worker does: busy slots as a gauge, the time all were busy
//! as a counter, and a warning naming the activity, at most once a minute.
//!
//! wait-stack has a limit of its own, much larger (`--wait-concurrency`,
//! see [`RunnerSettings::slots_for`](super::runner::RunnerSettings::slots_for)).

use crate::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// The shortest time between two warnings about one activity's slots.
pub const WARN_EVERY: Duration = Duration::from_secs(60);

/// How often the time all slots are busy is added up while they stay so,
/// so that a scrape during a long stall sees it grow.
const TICK: Duration = Duration::from_secs(1);

/// Whether to warn again, `last` being the previous warning.
pub fn warn_now(last: Option<Instant>, now: Instant) -> bool {
    last.is_none_or(|last| now.saturating_duration_since(last) >= WARN_EVERY)
}

/// One activity's slots.
pub struct Slots {
    semaphore: Arc<Semaphore>,
    limit: usize,
    activity: String,
    handler: &'static str,
    busy: Gauge,
    full: Counter<f64, AtomicU64>,
    last_warned: Option<Instant>,
}

impl Slots {
    pub fn new(limit: usize, activity: &str, handler: &'static str, metrics: &Metrics) -> Self {
        metrics
            .task_slots(handler)
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
        Self {
            semaphore: Arc::new(Semaphore::new(limit)),
            limit,
            activity: activity.to_string(),
            handler,
            busy: metrics.task_slots_busy(handler),
            full: metrics.task_slots_full(handler),
            last_warned: None,
        }
    }

    /// A free slot, after waiting for one while all are busy; `None` when
    /// `shutdown` comes first.
    pub async fn take(&mut self, shutdown: &CancellationToken) -> Option<Slot> {
        let permit = match self.semaphore.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self.wait(shutdown).await?,
        };
        Some(Slot {
            _permit: permit,
            busy: self.busy.clone(),
            occupied: false,
        })
    }

    async fn wait(&mut self, shutdown: &CancellationToken) -> Option<OwnedSemaphorePermit> {
        let full_since = Instant::now();
        let mut counted = full_since;
        loop {
            let now = Instant::now();
            if warn_now(self.last_warned, now) {
                self.last_warned = Some(now);
                tracing::warn!(
                    activity = %self.activity,
                    slots = self.limit,
                    full_for_seconds = now.duration_since(full_since).as_secs(),
                    "all slots of this activity are busy: its next tasks wait in Step Functions \
                     until one frees; raise {} if this lasts",
                    if self.handler == "wait-stack" { "--wait-concurrency" } else { "--task-concurrency" }
                );
            }
            let acquired = tokio::select! {
                permit = self.semaphore.clone().acquire_owned() => Some(Some(permit.expect("the semaphore is never closed"))),
                () = tokio::time::sleep(TICK) => None,
                () = shutdown.cancelled() => Some(None),
            };
            let now = Instant::now();
            self.full.inc_by(now.duration_since(counted).as_secs_f64());
            counted = now;
            if let Some(permit) = acquired {
                return permit;
            }
        }
    }
}

/// A slot taken: free again when dropped.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    busy: Gauge,
    occupied: bool,
}

impl Slot {
    /// The slot holds a task now (not just a poll for one): counted busy
    /// until dropped.
    pub fn occupy(mut self) -> Self {
        self.busy.inc();
        self.occupied = true;
        self
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.occupied {
            self.busy.dec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_comes_at_most_once_a_minute() {
        let t0 = Instant::now();
        assert!(warn_now(None, t0));
        assert!(!warn_now(Some(t0), t0 + Duration::from_secs(59)));
        assert!(warn_now(Some(t0), t0 + WARN_EVERY));
    }

    #[tokio::test]
    async fn busy_slots_and_the_time_all_are_busy_show_in_the_metrics() {
        let metrics = Metrics::default();
        let mut slots = Slots::new(1, "cpsf-check-stack", "check-stack", &metrics);
        let shutdown = CancellationToken::new();
        let held = slots.take(&shutdown).await.unwrap().occupy();
        let text = metrics.encode();
        assert!(
            text.contains("cpsf_task_slots{handler=\"check-stack\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("cpsf_task_slots_busy{handler=\"check-stack\"} 1"),
            "{text}"
        );

        let waiting = tokio::spawn(async move {
            let slot = slots.take(&shutdown).await;
            (slot.is_some(), slots)
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a second task got the only slot");
        drop(held);
        let (taken, _slots) = waiting.await.unwrap();
        assert!(taken);
        let full = metrics.task_slots_full("check-stack").get();
        assert!(full > 0.0, "no time with all slots busy was counted");
        assert!(
            metrics
                .encode()
                .contains("cpsf_task_slots_busy{handler=\"check-stack\"} 0")
        );
    }

    #[tokio::test]
    async fn shutdown_ends_the_wait_for_a_slot() {
        let metrics = Metrics::default();
        let mut slots = Slots::new(1, "cpsf-wait-stack", "wait-stack", &metrics);
        let shutdown = CancellationToken::new();
        let _held = slots.take(&shutdown).await.unwrap().occupy();
        shutdown.cancel();
        assert!(slots.take(&shutdown).await.is_none());
    }
}
