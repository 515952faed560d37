//! In-process notices that an execution has moved on. A job follows its
//! execution by checking it, ever less often as it ages (`job/pacing.rs`),
//! so a long execution's end is noticed late. When the same worker serves
//! the deploy state machine's tasks, it knows better: answering a task
//! (the last one is the stack wait) is what moves the execution on. The task
//! runner nudges the execution; the job following it in this process checks
//! it at once instead of at its next paced check.
//!
//! A worker serving only jobs or only tasks nudges nobody: the job keeps
//! its pace, as it would for any other state machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The executions followed in this process. Cheap to clone.
#[derive(Clone, Default)]
pub struct Nudges {
    followed: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
}

impl Nudges {
    /// Listens for nudges of `execution_arn` while the returned watch lives.
    pub fn watch(&self, execution_arn: &str) -> Watch {
        let notify = Arc::new(Notify::new());
        self.lock()
            .insert(execution_arn.to_string(), notify.clone());
        Watch {
            nudges: self.clone(),
            execution_arn: execution_arn.to_string(),
            notify,
        }
    }

    /// Tells the job following `execution_arn`, if any, to check it now.
    pub fn nudge(&self, execution_arn: &str) {
        if let Some(notify) = self.lock().get(execution_arn) {
            // Stores a permit if the job is busy checking: its next wait
            // ends at once, so a nudge between two waits is not lost.
            notify.notify_one();
        }
    }

    /// Whether a job of this process follows `execution_arn` now.
    pub fn is_followed(&self, execution_arn: &str) -> bool {
        self.lock().contains_key(execution_arn)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        // A panic elsewhere cannot leave the map half-written: use it anyway.
        self.followed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One job's interest in one execution; dropping it stops listening.
pub struct Watch {
    nudges: Nudges,
    execution_arn: String,
    notify: Arc<Notify>,
}

impl Watch {
    /// Completes when the execution is nudged.
    pub async fn nudged(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut followed = self.nudges.lock();
        // Only our own entry: a later watch of the same execution replaced it.
        if followed
            .get(&self.execution_arn)
            .is_some_and(|n| Arc::ptr_eq(n, &self.notify))
        {
            followed.remove(&self.execution_arn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn ends_soon(watch: &Watch) -> bool {
        tokio::time::timeout(Duration::from_millis(50), watch.nudged())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_nudge_reaches_the_watch_of_its_execution_only() {
        let nudges = Nudges::default();
        let a = nudges.watch("arn:a");
        let b = nudges.watch("arn:b");
        nudges.nudge("arn:a");
        assert!(ends_soon(&a).await);
        assert!(!ends_soon(&b).await);
        assert!(!ends_soon(&a).await, "one nudge, one wake-up");
    }

    #[tokio::test]
    async fn a_nudge_while_the_job_is_busy_wakes_its_next_wait() {
        let nudges = Nudges::default();
        let watch = nudges.watch("arn:a");
        nudges.nudge("arn:a"); // nobody waiting yet
        assert!(ends_soon(&watch).await);
    }

    #[tokio::test]
    async fn a_dropped_watch_stops_listening_without_removing_a_newer_one() {
        let nudges = Nudges::default();
        let old = nudges.watch("arn:a");
        let new = nudges.watch("arn:a");
        drop(old);
        nudges.nudge("arn:a");
        assert!(ends_soon(&new).await);
        drop(new);
        assert!(nudges.lock().is_empty());
        nudges.nudge("arn:a"); // nobody listens: nothing happens
    }
}
