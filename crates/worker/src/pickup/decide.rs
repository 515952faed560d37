//! When the job poller calls PollForJobs (pure): data in, a pause out.
//!
//! Without action events the poller backs off from 100 ms to about a
//! second between empty polls (`job/poller.rs`): pickup within a second
//! costs ~54 PollForJobs a minute, idle. While CodePipeline's action start
//! events flow (`events/action.rs`), a start wakes the poller at once and
//! idle polls are only a safety net for an event lost on the way (delivery
//! is best effort: CodePipeline user guide, "Monitoring CodePipeline
//! events"), at least [`SAFETY_NET`] apart. The same rules as the
//! execution-end events (`nudge.rs`, `job/pacing.rs`): the slow pace holds
//! only while the queue answers and no job turned up that no event
//! announced lately; either failure brings the usual pace back at once.

use std::time::Duration;

/// The safety net's pause between idle polls while events flow: at most
/// six PollForJobs a minute...
pub const SAFETY_NET: Duration = Duration::from_secs(10);
/// ...plus up to this fraction at random, so workers started together do
/// not poll together.
pub const SAFETY_NET_JITTER: f64 = 0.2;
/// After a start event, polls that find nothing are tried again at these
/// pauses before the safety net takes over: CodePipeline documents no
/// order between the event and the job becoming pollable.
pub const FOLLOW_UPS: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(3),
];
/// A missing action type is asked about again this often: it takes a
/// person (`cpsf bootstrap`, `cpsf demo`) to create one.
pub const MISSING_TYPE_RETRY: Duration = Duration::from_secs(60);

/// The place of one action run in a pipeline: what a start event names and
/// a job's pipeline context carries, so a job can be matched to the event
/// that announced it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobKey {
    pub pipeline: String,
    pub execution_id: String,
    pub stage: String,
    pub action: String,
}

impl JobKey {
    /// What one kept key costs, for the bound on kept keys.
    pub fn bytes(&self) -> usize {
        self.pipeline.len() + self.execution_id.len() + self.stage.len() + self.action.len() + 96
    }
}

/// Where the poller stands after an empty poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Idle {
    /// The usual pause (the exponential back-off's next).
    pub backoff: Duration,
    /// Whether action events are taken to be flowing.
    pub flowing: bool,
    /// Empty polls since the last wake-up, if one came and its follow-ups
    /// are not all spent.
    pub empty_since_wake: Option<usize>,
    /// The busy pause, while jobs are in flight.
    pub busy: Option<Duration>,
    /// A number in 0..1 drawn at random.
    pub jitter: f64,
}

/// The pause after a PollForJobs that found nothing.
pub fn idle_pause(idle: Idle) -> Duration {
    if !idle.flowing {
        return idle
            .busy
            .map_or(idle.backoff, |busy| idle.backoff.min(busy));
    }
    // While events flow a busy worker is not likelier to get jobs than an
    // idle one: each job's start wakes the poller anyway.
    if let Some(pause) = idle.empty_since_wake.and_then(|n| FOLLOW_UPS.get(n)) {
        return *pause;
    }
    SAFETY_NET.mul_f64(1.0 + SAFETY_NET_JITTER * idle.jitter.clamp(0.0, 1.0))
}

/// Whether to poll again at once after a poll that returned `got` jobs of
/// the `asked` batch. Without events, yes (pipelines run in bursts); with
/// them, only when the batch came back full: every other job announces
/// itself.
pub fn poll_again_at_once(got: usize, asked: usize, flowing: bool) -> bool {
    got > 0 && (!flowing || got >= asked)
}

/// Whether a job picked up counts as unannounced, a sign that events do
/// not flow after all: events flow, it is no continuation (CodePipeline
/// starts no action for one: the action running asked for it), no start
/// event named its place, and the poll that found it was not one a start
/// woke (such a poll may find the jobs of starts whose events are still on
/// their way: in a burst, the first event's poll takes them all).
pub fn unannounced(flowing: bool, continuation: bool, announced: bool, after_wake: bool) -> bool {
    flowing && !continuation && !announced && !after_wake
}

/// What a failed PollForJobs means for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollFailure {
    /// The action type is not registered in this account and region.
    MissingActionType,
    /// Anything else: throttled, unreachable, denied.
    Other,
}

/// The pause after a failed poll, and whether to log it: a missing action
/// type is said once, in one line, and asked about again every `retry`
/// ([`MISSING_TYPE_RETRY`] by default); any other failure keeps the usual
/// back-off and is logged each time (`consecutive` counts this one).
pub fn after_failure(
    failure: PollFailure,
    consecutive: u32,
    backoff: Duration,
    retry: Duration,
) -> (Duration, bool) {
    match failure {
        PollFailure::MissingActionType => (retry, consecutive == 1),
        PollFailure::Other => (backoff, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(flowing: bool, empty_since_wake: Option<usize>) -> Idle {
        Idle {
            backoff: Duration::from_millis(800),
            flowing,
            empty_since_wake,
            busy: None,
            jitter: 0.5,
        }
    }

    #[test]
    fn without_events_the_usual_back_off_and_busy_pause_hold() {
        assert_eq!(idle_pause(idle(false, None)), Duration::from_millis(800));
        let busy = Idle {
            busy: Some(Duration::from_millis(250)),
            ..idle(false, Some(0))
        };
        assert_eq!(idle_pause(busy), Duration::from_millis(250));
    }

    /// The target: at most six idle PollForJobs a minute while events flow.
    #[test]
    fn while_events_flow_idle_polls_are_ten_seconds_apart_at_least() {
        for jitter in [0.0, 0.3, 1.0, 7.0] {
            let pause = idle_pause(Idle {
                jitter,
                busy: Some(Duration::from_millis(250)),
                ..idle(true, None)
            });
            assert!(
                pause >= SAFETY_NET && pause <= Duration::from_secs(12),
                "{pause:?}"
            );
        }
        let per_minute = 60.0 / SAFETY_NET.as_secs_f64();
        assert!(per_minute <= 6.0);
    }

    #[test]
    fn after_a_wake_up_empty_polls_follow_up_then_the_safety_net() {
        let pauses: Vec<Duration> = (0..5)
            .map(|n| {
                idle_pause(Idle {
                    jitter: 0.0,
                    ..idle(true, Some(n))
                })
            })
            .collect();
        assert_eq!(
            pauses,
            [
                FOLLOW_UPS[0],
                FOLLOW_UPS[1],
                FOLLOW_UPS[2],
                SAFETY_NET,
                SAFETY_NET
            ]
        );
    }

    #[test]
    fn a_poll_with_jobs_is_repeated_only_when_events_cannot_tell_more() {
        assert!(poll_again_at_once(1, 100, false));
        assert!(!poll_again_at_once(1, 100, true));
        assert!(
            poll_again_at_once(100, 100, true),
            "a full batch: more may wait"
        );
        assert!(!poll_again_at_once(0, 100, false));
    }

    #[test]
    fn a_job_the_safety_net_finds_unnamed_is_a_miss_unless_a_continuation() {
        assert!(unannounced(true, false, false, false));
        assert!(!unannounced(true, true, false, false));
        assert!(!unannounced(true, false, true, false));
        assert!(
            !unannounced(true, false, false, true),
            "a burst after one start"
        );
        assert!(!unannounced(false, false, false, false), "nothing to miss");
    }

    #[test]
    fn a_missing_action_type_is_said_once_and_asked_about_each_minute() {
        let backoff = Duration::from_millis(500);
        let said: Vec<(Duration, bool)> = (1..=3)
            .map(|n| {
                after_failure(
                    PollFailure::MissingActionType,
                    n,
                    backoff,
                    MISSING_TYPE_RETRY,
                )
            })
            .collect();
        assert_eq!(
            said,
            [
                (MISSING_TYPE_RETRY, true),
                (MISSING_TYPE_RETRY, false),
                (MISSING_TYPE_RETRY, false)
            ]
        );
        assert_eq!(
            after_failure(PollFailure::Other, 5, backoff, MISSING_TYPE_RETRY),
            (backoff, true)
        );
    }
}
