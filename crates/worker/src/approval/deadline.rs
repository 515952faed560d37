//! How long an approval may wait (pure): it ends before the deploy
//! execution's own timeout, with time left for DiscardChangeSet.
//!
//! Step Functions runs a state's Catch for the state's own errors, "but
//! not for top-level state machine execution failures" (Step Functions
//! developer guide, "Handling errors in Step Functions workflows"): an
//! execution that times out while RequestApproval waits ends there, and
//! DiscardChangeSet never deletes the change set, nor the empty
//! REVIEW_IN_PROGRESS stack a new stack's change set made. So an approval
//! must time out first (its state's TimeoutSecondsPath, or the worker's
//! sweep), with DiscardChangeSet's time still ahead.
//!
//! The state machine hands the tasks that ask its own timeout
//! (`executionTimeoutSeconds`: bootstrap's DeployTimeoutSeconds, the same
//! placeholder as its top-level TimeoutSeconds) and start
//! (`executionStartTime`: `$$.Execution.StartTime`, the context object,
//! Step Functions developer guide); an input without them (an older
//! definition, a replayed task) is held to the default timeout.

use crate::base::limits::DEFAULT_TIMEOUT_SECONDS;
use serde::Deserialize;

/// What an approval leaves of the execution's timeout: an hour, for the
/// states before RequestApproval (CheckStack, a DeleteFailedStack, the
/// change set) and [`DISCARD_SECONDS`] after it.
pub const RESERVE_SECONDS: u32 = 3600;

/// What is left after an approval however late it was asked: at least
/// DiscardChangeSet's (or DiscardWave's) worst case, every attempt its
/// retrier allows timing out plus the pauses between (1,214 s; a test in
/// `definition.rs` recomputes it from the definition), and its Fail state.
pub const DISCARD_SECONDS: u32 = 1800;

/// The longest approval, and its default, in an execution that times out
/// after `execution_timeout_seconds`: 0 when that leaves no whole minute.
pub const fn max_timeout_minutes(execution_timeout_seconds: u32) -> u32 {
    execution_timeout_seconds.saturating_sub(RESERVE_SECONDS) / 60
}

/// The execution's clock, as the state machine hands it to a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionClock {
    /// ISO 8601, as Step Functions writes `$$.Execution.StartTime`
    /// ("2026-12-06T10:00:00.123Z").
    #[serde(default)]
    pub execution_start_time: Option<String>,
    #[serde(default)]
    pub execution_timeout_seconds: Option<u32>,
}

impl ExecutionClock {
    /// The execution's timeout, the default when the input does not say.
    pub fn timeout_seconds(&self) -> u32 {
        self.execution_timeout_seconds
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
    }

    /// How long an approval asked at `now` (epoch seconds) may wait so
    /// that [`DISCARD_SECONDS`] remain before the execution times out; at
    /// least 1 (TimeoutSecondsPath takes a positive whole number): an
    /// approval asked too late then times out at once and its change set
    /// is discarded. None without a start time.
    pub fn seconds_left(&self, now: f64) -> Option<u32> {
        let start = self.execution_start_time.as_deref()?;
        let started = humantime::parse_rfc3339_weak(start)
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        let end = started + f64::from(self.timeout_seconds()) - f64::from(DISCARD_SECONDS);
        Some((end - now).floor().clamp(1.0, f64::from(u32::MAX)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_approval_leaves_an_hour_of_the_executions_timeout() {
        assert_eq!(max_timeout_minutes(DEFAULT_TIMEOUT_SECONDS), 1380);
        assert_eq!(max_timeout_minutes(7200), 60);
        assert_eq!(max_timeout_minutes(3659), 0);
        assert_eq!(max_timeout_minutes(60), 0);
    }

    #[test]
    fn an_approval_ends_before_the_execution_with_time_to_discard() {
        let clock = ExecutionClock {
            execution_start_time: Some("2026-12-06T10:00:00.500Z".into()),
            execution_timeout_seconds: Some(7200),
        };
        // 10:00:00.5 UTC on 2026-12-06.
        let start = 1_796_551_200.5;
        assert_eq!(clock.seconds_left(start), Some(7200 - DISCARD_SECONDS));
        assert_eq!(
            clock.seconds_left(start + 600.0),
            Some(7200 - DISCARD_SECONDS - 600)
        );
        assert_eq!(clock.seconds_left(start + 7000.0), Some(1));
        let unknown = ExecutionClock {
            execution_start_time: None,
            ..clock.clone()
        };
        assert_eq!(unknown.seconds_left(start), None);
        assert_eq!(
            ExecutionClock::default().timeout_seconds(),
            DEFAULT_TIMEOUT_SECONDS
        );
    }
}
