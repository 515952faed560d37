//! The relay's memory of activity tasks handed to pollers that had gone
//! (see [`OrphanedTasks`]), and how it reads GetActivityTask calls.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Activity tasks whose GetActivityTask caller had gone when the emulator
/// answered, by activity ARN.
///
/// On AWS such a task is lost to the caller that left and comes back when
/// its HeartbeatSeconds pass: the state's Retry hands it out again (Step
/// Functions developer guide, "Activities"). MiniStack 1.5.33 enforces no
/// activity timeout, so every worker that stops with its long polls open
/// (each one does) would strand the next task of each activity, and its
/// execution, for good. The playground in front of MiniStack keeps such a
/// task and hands it, with its token, to the next poll: the task reaches
/// a live worker, as it would on AWS, only sooner.
pub struct OrphanedTasks<T>(Mutex<Kept<T>>);

struct Kept<T> {
    tasks: HashMap<String, VecDeque<T>>,
    /// Polls waiting on the emulator now, by activity: a kept task goes to
    /// one of them at once rather than to the next poll, up to a minute
    /// later.
    waiting: HashMap<String, Vec<oneshot::Sender<T>>>,
}

impl<T> Default for OrphanedTasks<T> {
    fn default() -> Self {
        Self(Mutex::new(Kept {
            tasks: HashMap::new(),
            waiting: HashMap::new(),
        }))
    }
}

impl<T> OrphanedTasks<T> {
    /// Hands the task to a waiting poll of its activity, or keeps it.
    pub fn keep(&self, activity: String, mut answer: T) {
        let mut kept = self.0.lock().expect("orphaned tasks poisoned");
        if let Some(waiting) = kept.waiting.get_mut(&activity) {
            while let Some(poll) = waiting.pop() {
                match poll.send(answer) {
                    Ok(()) => return,
                    Err(returned) => answer = returned,
                }
            }
        }
        kept.tasks.entry(activity).or_default().push_back(answer);
    }

    /// A kept task of `activity`, or a channel on which one may come while
    /// this poll waits.
    pub fn take_or_wait(&self, activity: &str) -> Result<T, oneshot::Receiver<T>> {
        let mut kept = self.0.lock().expect("orphaned tasks poisoned");
        if let Some(task) = kept.tasks.get_mut(activity).and_then(VecDeque::pop_front) {
            return Ok(task);
        }
        let (send, receive) = oneshot::channel();
        let waiting = kept.waiting.entry(activity.to_string()).or_default();
        waiting.retain(|poll| !poll.is_closed());
        waiting.push(send);
        Err(receive)
    }
}

/// The activity a GetActivityTask request polls.
pub fn polled_activity(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["activityArn"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Whether a GetActivityTask answer hands out a task (an empty poll has
/// no token).
pub fn hands_out_a_task(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["taskToken"].as_str().map(|t| !t.is_empty()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orphaned_task_goes_to_a_waiting_poll_of_its_activity_or_is_kept() {
        let orphans = OrphanedTasks::<&str>::default();
        // A poll of another activity, and one that has gone, get nothing.
        let mut other = orphans.take_or_wait("arn:other").unwrap_err();
        let gone = orphans.take_or_wait("arn:a").unwrap_err();
        drop(gone);
        let mut waiting = orphans.take_or_wait("arn:a").unwrap_err();
        orphans.keep("arn:a".into(), "t1");
        assert_eq!(waiting.try_recv().unwrap(), "t1");
        assert!(other.try_recv().is_err());
        // With nobody waiting, the next poll of the activity takes it.
        orphans.keep("arn:a".into(), "t2");
        assert_eq!(orphans.take_or_wait("arn:a").ok(), Some("t2"));
        assert!(orphans.take_or_wait("arn:a").is_err(), "handed out once");
    }

    #[test]
    fn only_answers_that_carry_a_task_are_orphans() {
        assert!(hands_out_a_task(br#"{"taskToken":"t","input":"{}"}"#));
        assert!(!hands_out_a_task(b"{}"));
        assert!(!hands_out_a_task(br#"{"taskToken":""}"#));
        assert_eq!(
            polled_activity(br#"{"activityArn":"arn:a","workerName":"w"}"#),
            "arn:a"
        );
    }
}
