//! Event-driven pickup (issue 31): CodePipeline's action start events,
//! read from the events queue (`events/`), wake the job poller the moment
//! an action of cpsf's type starts; while they flow, idle PollForJobs
//! calls are a safety net at least ten seconds apart.
//!
//! - `decide.rs` (pure): the poller's pauses, when a job counts as
//!   unannounced, what a failed poll means.
//! - this file: what the events queue, the poller and the jobs share in
//!   one process: the wake-up, the starts announced, whether events flow.
//!
//! Whether events flow follows the execution-end events' rule
//! ([`crate::nudge::events_flowing`]): the queue answers, and no job
//! turned up lately that no event announced (a disabled rule, a lost
//! event, a stack bootstrapped before the rule existed). Either failure
//! brings the usual pace back at once: the poller's pause is cut short.

pub mod decide;

pub use decide::JobKey;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// Starts announced are kept this long for the job they announce...
pub const KEEP_ANNOUNCED_FOR: Duration = Duration::from_secs(600);
/// ...within this many bytes ([`JobKey::bytes`]): the event's fields are
/// whatever the message says, so the bound is in bytes.
pub const KEEP_ANNOUNCED_BYTES: usize = 64 * 1024;

/// What one process's pickup shares. Cheap to clone.
#[derive(Clone)]
pub struct Pickup {
    inner: Arc<Inner>,
}

struct Inner {
    wake: Notify,
    announced: Mutex<Announced>,
    queue_answers: AtomicBool,
    missed_at: Mutex<Option<Instant>>,
    flowing: watch::Sender<bool>,
    /// Whether the poller has a free slot (a full worker leaves start
    /// events for the others).
    room: AtomicBool,
}

#[derive(Default)]
struct Announced {
    keys: VecDeque<(JobKey, Instant)>,
    bytes: usize,
}

impl Announced {
    fn keep(&mut self, key: JobKey, now: Instant) {
        let cost = key.bytes();
        if cost > KEEP_ANNOUNCED_BYTES {
            return;
        }
        while let Some((old, at)) = self.keys.front() {
            let stale = now.duration_since(*at) >= KEEP_ANNOUNCED_FOR;
            if !stale && self.bytes + cost <= KEEP_ANNOUNCED_BYTES {
                break;
            }
            self.bytes -= old.bytes();
            self.keys.pop_front();
        }
        self.bytes += cost;
        self.keys.push_back((key, now));
    }

    fn take(&mut self, key: &JobKey) -> bool {
        let Some(i) = self.keys.iter().position(|(k, _)| k == key) else {
            return false;
        };
        if let Some((key, _)) = self.keys.remove(i) {
            self.bytes -= key.bytes();
        }
        true
    }
}

impl Default for Pickup {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                wake: Notify::new(),
                announced: Mutex::default(),
                queue_answers: AtomicBool::new(false),
                missed_at: Mutex::default(),
                flowing: watch::Sender::new(false),
                room: AtomicBool::new(true),
            }),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these half-written: use them anyway.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a pause ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The pause ran out.
    Elapsed,
    /// A start event or a continuation: poll now.
    Job,
    /// Events stopped flowing: back to the usual pace.
    EventsStopped,
}

impl Pickup {
    /// A start event named `key`: poll now, and expect its job.
    pub fn announce(&self, key: JobKey) {
        lock(&self.inner.announced).keep(key, Instant::now());
        self.inner.wake.notify_one();
    }

    /// A job of this process asked for a continuation: its job is queued
    /// now, with no event (CodePipeline starts no action for it).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// The events queue answered a receive (`ok`) or failed.
    pub fn queue_answered(&self, ok: bool) {
        self.inner.queue_answers.store(ok, Ordering::Relaxed);
        self.update();
    }

    /// The poller picked up the job at `key` (by a poll a start event
    /// woke, or not: `after_wake`); says whether it counts as unannounced
    /// (`decide::unannounced`), and if so takes events for not flowing a
    /// while ([`crate::nudge::QUIET_AFTER_MISS`]).
    pub fn picked(&self, key: &JobKey, continuation: bool, after_wake: bool) -> bool {
        let announced = lock(&self.inner.announced).take(key);
        let missed = decide::unannounced(self.flowing(), continuation, announced, after_wake);
        if missed {
            *lock(&self.inner.missed_at) = Some(Instant::now());
            self.update();
        }
        missed
    }

    fn update(&self) {
        let since_miss = lock(&self.inner.missed_at).map(|at| at.elapsed());
        let ok = self.inner.queue_answers.load(Ordering::Relaxed);
        let flowing = crate::nudge::events_flowing(ok, since_miss);
        self.inner.flowing.send_if_modified(|now| {
            let changed = *now != flowing;
            *now = flowing;
            changed
        });
    }

    /// Whether action events are taken to be flowing.
    pub fn flowing(&self) -> bool {
        *self.inner.flowing.borrow()
    }

    pub fn set_room(&self, room: bool) {
        self.inner.room.store(room, Ordering::Relaxed);
    }

    pub fn room(&self) -> bool {
        self.inner.room.load(Ordering::Relaxed)
    }

    /// Waits `pause`, cut short by a start event, a continuation, or (when
    /// events flowed as it began) their stopping.
    pub async fn pause(&self, pause: Duration) -> Woken {
        let mut flowing = self.inner.flowing.subscribe();
        let was_flowing = *flowing.borrow_and_update();
        let stopped = async {
            if was_flowing {
                let _ = flowing.wait_for(|f| !f).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => Woken::Elapsed,
            () = self.inner.wake.notified() => Woken::Job,
            () = stopped => Woken::EventsStopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(action: &str) -> JobKey {
        JobKey {
            pipeline: "p".into(),
            execution_id: "e".into(),
            stage: "Deploy".into(),
            action: action.into(),
        }
    }

    #[tokio::test]
    async fn a_start_event_cuts_the_pause_short() {
        let pickup = Pickup::default();
        let waiting = tokio::spawn({
            let pickup = pickup.clone();
            async move { pickup.pause(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        pickup.announce(key("a"));
        let woken = tokio::time::timeout(Duration::from_secs(1), waiting).await;
        assert_eq!(woken.expect("woken").unwrap(), Woken::Job);
        // An announcement while nobody waits ends the next pause at once.
        pickup.wake();
        assert_eq!(pickup.pause(Duration::from_secs(30)).await, Woken::Job);
    }

    #[tokio::test]
    async fn a_failing_queue_ends_a_safety_net_pause() {
        let pickup = Pickup::default();
        pickup.queue_answered(true);
        assert!(pickup.flowing());
        let waiting = tokio::spawn({
            let pickup = pickup.clone();
            async move { pickup.pause(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        pickup.queue_answered(false);
        let woken = tokio::time::timeout(Duration::from_secs(1), waiting).await;
        assert_eq!(woken.expect("woken").unwrap(), Woken::EventsStopped);
    }

    #[test]
    fn an_unannounced_job_stops_the_flow_and_an_announced_one_does_not() {
        let pickup = Pickup::default();
        pickup.queue_answered(true);
        pickup.announce(key("a"));
        assert!(!pickup.picked(&key("a"), false, false));
        assert!(!pickup.picked(&key("b"), true, false), "a continuation");
        assert!(
            !pickup.picked(&key("c"), false, true),
            "a burst's second job"
        );
        assert!(pickup.flowing());
        assert!(pickup.picked(&key("a"), false, false), "one start, one job");
        assert!(!pickup.flowing());
        pickup.queue_answered(true);
        assert!(!pickup.flowing(), "quiet for a while after a miss");
    }

    #[test]
    fn the_starts_kept_are_bounded_in_bytes() {
        let mut announced = Announced::default();
        let now = Instant::now();
        for i in 0..10_000 {
            announced.keep(key(&format!("{i}{}", "x".repeat(100))), now);
        }
        assert!(announced.bytes <= KEEP_ANNOUNCED_BYTES);
        let sum: usize = announced.keys.iter().map(|(k, _)| k.bytes()).sum();
        assert_eq!(sum, announced.bytes);
        announced.keep(key(&"y".repeat(KEEP_ANNOUNCED_BYTES)), now);
        assert!(announced.keys.len() > 1, "a huge key pushes nothing out");
        announced.keep(key("late"), now + KEEP_ANNOUNCED_FOR);
        assert_eq!(announced.keys.len(), 1, "stale starts go");
    }
}
