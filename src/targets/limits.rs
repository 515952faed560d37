//! How much one Deploy action can roll out, and why: the AWS limits a
//! rollout meets, with the arithmetic. Compile-time assertions keep the
//! numbers consistent, and a unit test recomputes a target's events from
//! statemachines/deploy.asl.json, so a state added to a target's path
//! that breaks the budget fails a test rather than a long rollout.

use crate::job::limits::{MAX_FAILURE_MESSAGE, MAX_OUTPUT_VARIABLES_CHARS};
use crate::tasks::definition::DEFAULT_TIMEOUT_SECONDS;

/// The most targets one Deploy action deploys. Two limits meet here; the
/// tighter one is Step Functions' execution history.
///
/// 1. **Execution history.** An execution keeps at most 25,000 events (Step
///    Functions developer guide, "Quotas", "Quotas related to state machine
///    executions"), and an Inline Map state's iterations add their events
///    to it ("Using Map state in Inline mode"). A target's path costs at
///    most [`EVENTS_PER_TARGET`], a wave at most [`EVENTS_PER_WAVE`] more,
///    the execution's own states [`EVENTS_PER_EXECUTION`]. With every
///    target in its own wave (the worst case), 100 targets need
///    100 × (200 + 30) + 100 = 23,100 events, 1,900 (8 %) below the
///    quota; 110 would need 25,400.
/// 2. **Output variables.** Each target adds `<name>_StackId` and
///    `<name>_Status`, at most [`VARIABLE_CHARS_PER_TARGET`] = 360
///    characters, so 100 targets take 36,000 of the action's 122,880
///    (CodePipeline user guide, "Quotas"; `job/limits.rs`), leaving 86,880
///    for `ExecutionArn`, `StateMachineArn` and the first target's stack
///    outputs as today (`job/outputs.rs` leaves out what does not fit).
///
/// More targets than this are refused before any deploy starts: split them
/// over several Deploy actions (one per stage, or per account group).
pub const MAX_TARGETS: usize = 100;

/// The longest target name. The output variable keys would allow 120
/// (keys ≤ 128, `job/outputs.rs`, minus `_StackId`), but a wave may hold
/// every target and a failure must name each failed one within
/// CodePipeline's 5,000-character message: 100 × (40 + 2 separator) =
/// 4,200, leaving 800 for the message's first line and what failed.
pub const MAX_NAME: usize = 40;

/// Step Functions' execution history quota (developer guide, "Quotas").
pub const HISTORY_EVENTS: usize = 25_000;

/// The events one target's path may add. Today's longest path (the
/// recreate one: CheckStack, ChooseOperation, DeleteFailedStack,
/// CreateStack, WaitForStack, StackStable, Deployed) costs 26 events when
/// nothing is retried (an activity Task 5: TaskStateEntered,
/// ActivityScheduled, ActivityStarted, ActivitySucceeded, TaskStateExited;
/// a Choice or Pass 2), 108 more when each of its four tasks uses all 9
/// retries its retriers allow (3 events each), and 2 for the Map iteration
/// (MapIterationStarted, MapIterationSucceeded): 136. Issue 17 adds a few
/// states to that path (change set and execute as two tasks: 32 with
/// retries; a Pass that hands the target its input and one a failed target
/// ends in, so that its wave can tolerate it: 4), and each further hour
/// WaitForStack waits adds 7 (3 hours: 21): 193, rounded up to 200. The
/// test below recomputes the 136 from the definition.
pub const EVENTS_PER_TARGET: usize = 200;

/// A wave's own events: its Map state (4: MapStateEntered, MapStateStarted,
/// MapStateSucceeded, MapStateExited), the bake's heartbeat task with its
/// retries (14), two Choices on its verdict and the wave's outcome (4) and
/// a Pass for the progress (2): 24, rounded up to 30.
pub const EVENTS_PER_WAVE: usize = 30;

/// The execution's own: ExecutionStarted and its end (2), a task reading
/// and staging the templates with its retries (32), and a few Pass and
/// Choice states around the waves (under 20): about 50, rounded up to 100.
pub const EVENTS_PER_EXECUTION: usize = 100;

/// The longest `StackId` value: `arn:aws-us-gov:cloudformation:` (30),
/// a region and `:` (15), an account and `:` (13), `stack/` (6), a stack
/// name (≤ 128, CloudFormation API reference, CreateStack), `/` and a
/// UUID (37): 229, rounded up.
pub const MAX_STACK_ID: usize = 256;

/// The suffixes of each target's output variables.
pub const STACK_ID_SUFFIX: &str = "_StackId";
pub const STATUS_SUFFIX: &str = "_Status";

/// `<name>_StackId` and `<name>_Status`, keys and values, at their longest
/// (the status is `Succeeded` or `Failed`, `plan::output_variables`).
pub const VARIABLE_CHARS_PER_TARGET: usize = (MAX_NAME + STACK_ID_SUFFIX.len())
    + MAX_STACK_ID
    + (MAX_NAME + STATUS_SUFFIX.len())
    + "Succeeded".len();

/// DescribeAlarms takes at most 100 `AlarmNames`, each 1..255 characters,
/// and an `AlarmNamePrefix` of 1..255 (CloudWatch API reference,
/// DescribeAlarms).
pub const MAX_ALARM_NAMES: usize = 100;
pub const MAX_ALARM_NAME: usize = 255;

/// All bakes of a rollout together (one after each wave but the last) may
/// take half of the execution's default 24 h (the deploy state machine's
/// top-level TimeoutSeconds, bootstrap/cpsf.yaml `DeployTimeoutSeconds`,
/// and the 24 h CodePipeline gives a custom action): the other half is
/// left to the waves' deploys, which a single stack waiting on a 12-hour
/// WaitCondition may need. A longer bake is a sign the rollout belongs in
/// several pipeline stages.
pub const MAX_TOTAL_BAKE_SECONDS: u32 = DEFAULT_TIMEOUT_SECONDS / 2;

const _: () = assert!(
    MAX_TARGETS * (EVENTS_PER_TARGET + EVENTS_PER_WAVE) + EVENTS_PER_EXECUTION <= HISTORY_EVENTS
);
const _: () = assert!(MAX_TARGETS * VARIABLE_CHARS_PER_TARGET <= MAX_OUTPUT_VARIABLES_CHARS / 3);
const _: () = assert!(MAX_TARGETS * (MAX_NAME + 2) + 800 <= MAX_FAILURE_MESSAGE);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::definition::{DEPLOY_ASL, with_timeout};
    use serde_json::Value;

    /// The events of the costliest path from `state` to an end, each loop
    /// taken once, every retry used: a Task 5 plus 3 a retry, anything
    /// else 2.
    fn costliest(states: &Value, state: &str, seen: &mut Vec<String>) -> usize {
        if seen.iter().any(|s| s == state) {
            return 0;
        }
        let s = &states[state];
        let own = match s["Type"].as_str() {
            Some("Task") => {
                let retries: u64 = s["Retry"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| r["MaxAttempts"].as_u64().unwrap_or(3))
                    .sum();
                5 + 3 * retries as usize
            }
            _ => 2,
        };
        let mut next: Vec<&str> = s["Next"].as_str().into_iter().collect();
        next.extend(s["Default"].as_str());
        for list in ["Choices", "Catch"] {
            next.extend(
                s[list]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["Next"].as_str()),
            );
        }
        seen.push(state.to_string());
        let rest = next
            .into_iter()
            .map(|n| costliest(states, n, seen))
            .max()
            .unwrap_or(0);
        seen.pop();
        own + rest
    }

    #[test]
    fn a_targets_path_fits_its_event_budget() {
        let definition: Value =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, DEFAULT_TIMEOUT_SECONDS)).unwrap();
        let start = definition["StartAt"].as_str().unwrap();
        let path = costliest(&definition["States"], start, &mut Vec::new());
        // The recreate path with every retry, as the constant's comment says.
        assert_eq!(path, 134);
        let iteration = 2;
        let added_by_issue_17 = 32 + 4;
        let three_more_hours = 3 * 7;
        assert!(path + iteration + added_by_issue_17 + three_more_hours <= EVENTS_PER_TARGET);
    }

    #[test]
    fn the_numbers_in_the_comments_hold() {
        assert_eq!(
            MAX_TARGETS * (EVENTS_PER_TARGET + EVENTS_PER_WAVE) + EVENTS_PER_EXECUTION,
            23_100
        );
        assert_eq!(VARIABLE_CHARS_PER_TARGET, 360);
        assert_eq!(MAX_TARGETS * VARIABLE_CHARS_PER_TARGET, 36_000);
        let longest_stack_id = format!(
            "arn:aws-us-gov:cloudformation:ap-southeast-4:123456789012:stack/{}/{}",
            "s".repeat(128),
            "0".repeat(36)
        );
        assert_eq!(longest_stack_id.len(), 229);
        assert_eq!(MAX_TOTAL_BAKE_SECONDS, 43_200);
    }
}
